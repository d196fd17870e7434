"""Where a training step's device time goes: the question the H200 bench left open (issue 10).

On an H200 the graphed vertical step at 2x650 took 3.5 ms for 700 tokens, 2.3x the eager
reference where the target is 2.5x. A graph removes the launch gaps, so a replay costs about
the sum of its kernels' times. This profiles ordinary (eager) steps of the bench's models and
reports, per model, the kernel time per step against the graphed step's wall time, and the
kernels that take it, so the next GPU session knows what to make faster:

    python scripts/profile_step.py --device cuda --size 650 --json > profile.json

On a CPU it runs the same (the "kernels" are then CPU operators), which the tests use.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lmcore.bench import Runner, placement_config  # noqa: E402
from lmcore.model import LanguageModel  # noqa: E402
from lmcore.train import prepare_device  # noqa: E402


def runner(placement: str, args, device, graphed: bool) -> Runner:
    torch.manual_seed(0)
    cfg = placement_config(args.size, 2, placement)
    return Runner(placement, LanguageModel(args.vocab, cfg), device, args, graphed=graphed)


def wall_ms(model: Runner, steps: int) -> float:
    model.warm_up()
    model.timed(steps)
    return model.times[-1] * 1e3


def kernel_times(model: Runner, steps: int, device) -> tuple[float, list[dict]]:
    """Device time per step (ms) and the top kernels (CPU operators on a CPU)."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    model.warm_up()
    with profile(activities=activities) as prof:
        model.timed(steps)
    if device.type == "cuda":
        # The kernels themselves: an operator's own row would count its kernels' time again.
        events = [e for e in prof.key_averages() if e.device_type == DeviceType.CUDA]
        events = events or list(prof.key_averages())  # a torch that files kernels under their operators
        rows = [(e.key, e.self_device_time_total, e.count) for e in events]
    else:
        rows = [(e.key, e.self_cpu_time_total, e.count) for e in prof.key_averages()]
    rows = [row for row in rows if row[1] > 0]
    total = sum(time_us for _, time_us, _ in rows) or float("nan")  # nothing recorded: say so, don't divide by 0
    top = sorted(rows, key=lambda row: -row[1])[:12]
    return total / steps / 1e3, [{"kernel": name[:90], "ms_per_step": time_us / steps / 1e3,
                                  "share": time_us / total, "calls_per_step": count / steps}
                                 for name, time_us, count in top]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", type=int, default=650)
    parser.add_argument("--placements", default="vertical,variational")
    parser.add_argument("--vocab", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--bptt", type=int, default=35)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    prepare_device(device)  # as training does
    started = time.perf_counter()
    report = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "torch": torch.__version__, "size": args.size, "batch": args.batch, "bptt": args.bptt,
              "steps": args.steps, "models": {}}
    for placement in args.placements.split(","):
        eager = runner(placement, args, device, graphed=False)
        device_ms, top = kernel_times(eager, args.steps, device)
        report["models"][placement] = {
            "eager_wall_ms": wall_ms(eager, args.steps),
            "graphed_wall_ms": wall_ms(runner(placement, args, device, graphed=True), args.steps),
            "device_ms": device_ms, "top": top}
    report["seconds"] = time.perf_counter() - started
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    for placement, row in report["models"].items():
        print(f"{placement}: eager {row['eager_wall_ms']:.2f} ms, graphed {row['graphed_wall_ms']:.2f} ms, "
              f"device time {row['device_ms']:.2f} ms per step")
        for kernel in row["top"]:
            print(f"  {kernel['ms_per_step']:8.3f} ms {kernel['share']:6.1%} x{kernel['calls_per_step']:<6.0f} "
                  f"{kernel['kernel']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
