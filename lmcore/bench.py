"""`python -m lmcore bench`: training speed of every placement against a plain nn.LSTM model.

The reference is what one would write without this project: nn.Embedding + a multi-layer
nn.LSTM (dropout 0.5 between layers) + nn.Linear, tied. Every model trains on the same
random batches; timings are interleaved round by round so background load hits all models
alike, and the report is ratios to the reference measured in the same run.

With `--graphs` every placement also trains through lmcore.graphs.GraphedStep: captured and
replayed as a CUDA graph on a GPU, run eagerly elsewhere (the row's name says which), so the
graph step's own cost (copies into its static buffers) is measured beside the ordinary step.
"""

from __future__ import annotations

import json
import os
import statistics
import time

import torch
from torch import nn

from .config import Config
from .graphs import WARMUP_CALLS, GraphedStep, window_step
from .model import LanguageModel, detach_state
from .sampling import generate
from .train import autocast


class ReferenceModel(nn.Module):
    def __init__(self, vocab: int, size: int, layers: int, dropout: float = 0.5):
        super().__init__()
        self.embedding = nn.Embedding(vocab, size)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(size, size, layers, dropout=dropout)
        self.decoder = nn.Linear(size, vocab)
        self.decoder.weight = self.embedding.weight

    def init_state(self, batch):
        """One (h, c) pair, each (L, B, H): the state form GraphedStep's buffers take."""
        zeros = self.decoder.weight.new_zeros(self.lstm.num_layers, batch, self.lstm.hidden_size)
        return [(zeros, zeros.clone())]

    def forward(self, tokens, state):
        out, state = self.lstm(self.drop(self.embedding(tokens)), state[0])  # (T, B, H)
        return self.decoder(self.drop(out)), [state]


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


CLIP = 0.25  # the book's clipping, so clipping costs what it costs in training


class Runner:
    """One model, its optimizer and state, stepping through random batches of the bench's
    shape (`args.batch`, `args.bptt`, `args.vocab`, and `args.amp` when it has one)."""

    def __init__(self, name, model, device, args, graphed=False):
        batch, bptt, vocab, amp = args.batch, args.bptt, args.vocab, getattr(args, "amp", "none")
        self.name, self.model, self.device = name, model.to(device).train(), device
        self.optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        self.state = model.init_state(batch)
        self.autocast = lambda cache_enabled=True: autocast(amp, device, cache_enabled)
        self.graphed = GraphedStep(self.model, self.model, self.optimizer, CLIP, self.autocast,
                                   capture=device.type == "cuda") if graphed else None
        generator = torch.Generator().manual_seed(0)
        self.batches = [torch.randint(0, vocab, (bptt + 1, batch), generator=generator).to(device)
                        for _ in range(4)]
        self.times: list[float] = []
        self.index = 0

    def step(self):
        data = self.batches[self.index % len(self.batches)]
        self.index += 1
        inputs, targets = data[:-1], data[1:]                              # (T, B) each
        if self.graphed is not None:
            _, _, self.state = self.graphed(inputs, targets, self.state)
        else:
            _, _, self.state = window_step(self.model, self.model, self.optimizer, inputs, targets,
                                           detach_state(self.state), CLIP, self.autocast)

    def warm_up(self):
        """Untimed steps first: allocator, kernels, caches, and a graph step's capture (a row
        whose capture failed says so: it timed eager steps)."""
        self.timed(WARMUP_CALLS + 2)
        self.times.clear()
        if self.graphed is not None and self.graphed.failed:
            self.name += " (capture failed: eager)"

    def timed(self, steps):
        _sync(self.device)
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        _sync(self.device)
        self.times.append((time.perf_counter() - start) / steps)


def placement_config(size: int, layers: int, placement: str) -> Config:
    """The synthetic config every bench model of a placement is built from (tied, torch init)."""
    return Config(dataset="synthetic", layers=layers, embed_size=size, hidden_size=size,
                  dropout=0.0 if placement == "none" else 0.5, dropout_placement=placement,
                  tie_weights=True, init="torch")


def build_runners(size, args, device) -> list[Runner]:
    torch.manual_seed(0)
    graphs = getattr(args, "graphs", False)
    runners = [Runner("reference", ReferenceModel(args.vocab, size, args.layers), device, args)]
    if graphs and pipeline_chunks(args):
        # cuDNN's multi-layer call (its own dropout between the layers) graphed: what overlapping
        # the layers inside cuDNN gives, beside the pipelined rows. Not in the plain --graphs
        # bench, whose capture is known to work: cuDNN's dropout state is not known to capture.
        runners.append(Runner(graphed_name("reference", device), ReferenceModel(args.vocab, size, args.layers),
                              device, args, graphed=True))
    for placement in args.placements.split(","):
        cfg = placement_config(size, args.layers, placement)
        runners.append(Runner(placement, LanguageModel(args.vocab, cfg), device, args))
        if graphs:
            runners.append(Runner(graphed_name(placement, device), LanguageModel(args.vocab, cfg), device, args,
                                  graphed=True))
        for chunks in pipeline_chunks(args):
            name = (graphed_name(placement, device) if graphs else placement) + f", layers pipelined x{chunks}"
            runners.append(Runner(name, LanguageModel(args.vocab, cfg, pipeline=chunks), device, args, graphs))
    if getattr(args, "compiled_cell", False):
        runners += compiled_cell_runners(size, args, device)
    if args.autograd_loop:
        # The same model with its recurrence as a plain per-step autograd loop: what the
        # hand-written LSTMRecurrence replaces, kept to measure what it buys.
        cfg = placement_config(size, args.layers, "variational")
        runners.append(Runner("variational, autograd loop", LanguageModel(args.vocab, cfg, path="autograd"),
                              device, args))
    return runners


def compiled_cell_runners(size, args, device) -> list[Runner]:
    """The masked placements asked for (horizontal, variational; variational if neither) with
    their gate math compiled (lmcore/fused_cell.py), ordinary and, with --graphs, through the
    graph step, as compiled_cell=auto trains them on a GPU; the compile happens in the untimed
    warm-up."""
    masked = [p for p in args.placements.split(",") if p in ("horizontal", "variational")] or ["variational"]
    runners = []
    for placement in masked:
        cfg = placement_config(size, args.layers, placement)
        runners.append(Runner(f"{placement}, compiled cell", LanguageModel(args.vocab, cfg, path="compiled-cell"),
                              device, args))
        if getattr(args, "graphs", False):
            runners.append(Runner(graphed_name(placement, device) + ", compiled cell",
                                  LanguageModel(args.vocab, cfg, path="compiled-cell"), device, args, graphed=True))
    return runners


def pipeline_chunks(args) -> list[int]:
    """--pipeline's chunk counts (cli.chunk_counts) to time layers pipelined at (lmcore/pipeline.py)."""
    return getattr(args, "pipeline", None) or []


def graphed_name(placement: str, device) -> str:
    """A graph-step row's name says whether it replayed a CUDA graph or ran the same code eagerly."""
    return f"{placement}, graphed" if device.type == "cuda" else f"{placement}, graph step eager"


def speed_rows(runners, tokens: int) -> dict:
    """{name: tokens/s and speed as a multiple of the first runner's (the reference)}, each
    from the median seconds per step of its rounds."""
    seconds = {r.name: statistics.median(r.times) for r in runners}
    reference = seconds[runners[0].name]
    return {name: {"tokens_per_s": tokens / s, "ratio": reference / s} for name, s in seconds.items()}


@torch.no_grad()
def eval_speed(model, device, batch, bptt, vocab, steps) -> float:
    model.eval()
    state = model.init_state(batch)
    data = torch.randint(0, vocab, (bptt, batch), device=device)
    model(data, state)
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        _, state = model(data, state)
    _sync(device)
    model.train()
    return steps * batch * bptt / (time.perf_counter() - start)


def sample_speed(model, words=100) -> float:
    vocab = [f"w{i}" for i in range(model.vocab_size)]
    start = time.perf_counter()
    generate(model, vocab, "w1 w2", words, temperature=1.0, seed=0)
    return words / (time.perf_counter() - start)


def bench_size(size, args, device, rounds=5) -> dict:
    runners = build_runners(size, args, device)
    for runner in runners:
        runner.warm_up()
    for _ in range(rounds):
        for runner in runners:
            runner.timed(max(1, args.steps // rounds))
    rows = speed_rows(runners, args.batch * args.bptt)
    vertical = next((r.model for r in runners if r.name == "vertical"), runners[-1].model)
    rows["eval"] = {"tokens_per_s": eval_speed(vertical, device, 10, args.bptt, args.vocab, 10),
                    "reference_tokens_per_s": eval_speed(runners[0].model, device, 10, args.bptt, args.vocab, 10)}
    rows["sampling"] = {"words_per_s": sample_speed(vertical)}
    return rows


def main(args) -> int:
    from .session import set_threads
    from .train import prepare_device, resolve_device

    threads = set_threads(args.threads)
    if args.reading:
        rows = reading()
        print(json.dumps(rows, indent=1) if args.json else "\n".join(
            f"{size:>7} lines: refresh {row['refresh_s'] * 1000:.2f} ms ({row['vs_smallest']:.2f}x), "
            f"first read {row['first_read_s'] * 1000:.0f} ms" for size, row in rows.items()))
        return 0
    device = resolve_device(args.device)
    prepare_device(device)
    report = {"device": _device_name(device), "threads": threads, "torch": torch.__version__,
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY") or "default",
              "batch": args.batch, "bptt": args.bptt, "layers": args.layers, "vocab": args.vocab,
              "steps": args.steps, "amp": args.amp, "sizes": {},
              "graphs": ("captured" if device.type == "cuda" else "eager") if args.graphs else "off"}
    for size in (int(s) for s in args.sizes.split(",")):
        report["sizes"][str(size)] = bench_size(size, args, device)
        if not args.json:
            print_size(size, report["sizes"][str(size)], report)
    if args.json:
        print(json.dumps(report, indent=1))
    return 0


def _device_name(device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return f"cpu ({platform.processor() or platform.machine()})"


def print_size(size, rows, report) -> None:
    print(f"\n{report['layers']}x{size}, batch {report['batch']}, bptt {report['bptt']}, vocab {report['vocab']}, "
          f"{report['device']}, {report['threads']} threads (OMP_WAIT_POLICY {report['omp_wait_policy']}), "
          f"amp {report['amp']}")
    print(f"  {'model':<56} {'tokens/s':>10} {'vs reference':>13}")
    for name, row in rows.items():
        if "ratio" in row:
            print(f"  {name:<56} {row['tokens_per_s']:>10,.0f} {row['ratio']:>12.2f}x")
    print(f"  eval (vertical) {rows['eval']['tokens_per_s']:,.0f} tokens/s, reference "
          f"{rows['eval']['reference_tokens_per_s']:,.0f}; sampling {rows['sampling']['words_per_s']:,.0f} words/s")


# ---------------------------------------------------------------- the app's reading side


def _metric_line(step: int) -> str:
    return json.dumps({"kind": "train", "step": step, "epoch": 1, "loss": 4.5, "ppl": 90.0, "lr": 20.0,
                       "tokens_per_s": 1000.0, "grad_norm": 0.3, "time": step * 0.1}) + "\n"


def reading(sizes=(100, 100_000), new_lines: int = 10, rounds: int = 30) -> dict:
    """Seconds per page refresh (read the new lines, build the chart's table) for runs of
    different lengths, refreshed in turn so background load hits every size alike."""
    import tempfile
    from pathlib import Path

    from .metrics_frame import MetricsFrame  # what the app reads a run with

    folder = Path(tempfile.mkdtemp(prefix="lmcore-reading-"))
    readers, first, times = {}, {}, {size: [] for size in sizes}
    for size in sizes:
        path = folder / f"metrics-{size}.jsonl"
        path.write_text("".join(_metric_line(i) for i in range(size)))
        readers[size] = MetricsFrame(path)
        start = time.perf_counter()
        readers[size].refresh()
        first[size] = time.perf_counter() - start
    for round_index in range(rounds):
        for size in sizes:
            with open(readers[size].tail.path, "a") as handle:
                base = size + round_index * new_lines
                handle.write("".join(_metric_line(base + i) for i in range(new_lines)))
            start = time.perf_counter()
            frame = readers[size].refresh()
            times[size].append(time.perf_counter() - start)
            assert readers[size].count("train") == size + (round_index + 1) * new_lines and len(frame) <= 2000
    smallest = statistics.median(times[sizes[0]])
    return {str(size): {"first_read_s": first[size], "refresh_s": statistics.median(times[size]),
                        "vs_smallest": statistics.median(times[size]) / smallest} for size in sizes}
