"""What the Compare page costs per rerun with many finished runs on disk.

    .venv/bin/python scripts/bench_compare.py [--runs 200] [--selected 4] [--reruns 5] [--profile]

Makes N finished run folders in a temporary runs root from one real `tiny` run (trained here with
`python -m lmcore train --preset tiny --set epochs=1`, about 15 s on 2 cores, unless --seed-run names
one): each clone has its own id, name, seed, dropout and scores, its metrics.jsonl stretched to
--epochs epochs (a class's 8-epoch run logs about 600 lines), and hard links to the seed's
checkpoints (so sizes on disk are real without copying). Their files are dated an hour back, as
runs that ended earlier (a file written in the last 2 s is not trusted to stamp a settled run).

Then it opens Compare in streamlit.testing.v1.AppTest with --selected of them ticked, reruns it, and
prints, side by side in this one process:
  - the pure functions a rerun calls, cold (their caches cleared) against warm;
  - a whole rerun and the live fragment inside it, how many times a rerun asked for the runs table
    and built its rows, and what the page's timer runs while no run trains (each tick);
  - then, with one more run training (a queued clone whose metrics.jsonl and status.json grow by a
    log interval before each rerun, as a trainer's do), the live fragment's refresh (what the page's
    5 s timer runs) with only finished runs selected, and with the training run selected beside
    --selected - 1 finished ones: its time, the figures and run lines built, the stats of the runs folder.
Read the ratios: the machine is shared, so absolute times move with its load. Run it on two commits
for a before and after.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOUR_AGO = time.time() - 3600
PLACEMENTS = ("none", "vertical", "variational", "horizontal")
PAGE_FRAGMENTS = ("live", "rerun_on_change")  # the Compare page's fragments (the second is new)


def train_seed(where: Path) -> Path:
    """One real finished tiny run, one epoch, trained by the engine's own command."""
    subprocess.run([sys.executable, "-m", "lmcore", "train", "--preset", "tiny", "--set", "epochs=1",
                    "--set", "threads=1", "--runs-dir", str(where), "--no-progress-bar"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return next(p for p in where.iterdir() if p.is_dir())


def stretched_metrics(lines: list[dict], epochs: int, scale: float) -> str:
    """The seed's one epoch of lines repeated `epochs` times, steps and epochs shifted, perplexities
    scaled: a log as long as a class's run writes. The test line only once, at the end."""
    per_epoch = max(line["step"] for line in lines)
    body = [line for line in lines if line["kind"] != "test"]
    test = [line for line in lines if line["kind"] == "test"]
    out = []
    for epoch in range(epochs):
        for line in body:
            out.append({**line, "step": line["step"] + epoch * per_epoch, "epoch": line["epoch"] + epoch,
                        "ppl": line["ppl"] * scale, "time": line["time"] * (epoch + 1)})
    out += [{**line, "step": epochs * per_epoch, "epoch": epochs, "ppl": line["ppl"] * scale} for line in test]
    return "".join(json.dumps(line) + "\n" for line in out)


def clone(seed: Path, root: Path, index: int, epochs: int) -> Path:
    """A finished run like the seed, with its own id, name, recipe and scores."""
    run_id = f"20261101-{index // 3600:02d}{index // 60 % 60:02d}{index % 60:02d}-bench-{index:04x}"
    folder = root / run_id
    (folder / "checkpoints").mkdir(parents=True)
    config = json.loads((seed / "config.json").read_text())
    placement = PLACEMENTS[index % len(PLACEMENTS)]
    config.update(name=f"bench {index} · {placement}", seed=index, epochs=epochs,
                  dropout=0.0 if placement == "none" else 0.5, dropout_placement=placement,
                  group=f"grid-{index // 20:04x}" if index % 2 else "")
    scale = 1 + (index % 17) / 40
    status = json.loads((seed / "status.json").read_text())
    per_epoch = status["steps_per_epoch"]
    status.update({key: status[key] * scale for key in ("best_val_ppl", "final_val_ppl", "test_ppl")},
                  step=per_epoch * epochs, total_steps=per_epoch * epochs, epoch=epochs, best_epoch=epochs,
                  best_step=per_epoch * epochs, created_at=HOUR_AGO + index, started_at=HOUR_AGO + index)
    lines = [json.loads(line) for line in (seed / "metrics.jsonl").read_text().splitlines()]
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    (folder / "status.json").write_text(json.dumps(status, indent=1))
    (folder / "metrics.jsonl").write_text(stretched_metrics(lines, epochs, scale))
    for name in ("params.json", "samples.jsonl", "vocab.json", "masks.npz"):
        shutil.copy(seed / name, folder / name)
    for checkpoint in (seed / "checkpoints").iterdir():
        os.link(checkpoint, folder / "checkpoints" / checkpoint.name)
    for path in [*folder.rglob("*"), folder]:
        os.utime(path, (HOUR_AGO, HOUR_AGO), follow_symlinks=False)
    return folder


def make_runs(root: Path, seed: Path, count: int, epochs: int) -> list[str]:
    root.mkdir(parents=True, exist_ok=True)
    return [clone(seed, root, i, epochs).name for i in range(count)]


class Counter:
    """Stands in for a module's function: counts its calls and the seconds spent in them."""

    def __init__(self, module, name: str):
        self.module, self.name, self.real = module, name, getattr(module, name)
        self.calls, self.seconds = 0, 0.0
        setattr(module, name, self)

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.real(*args, **kwargs)
        finally:
            self.calls += 1
            self.seconds += time.perf_counter() - start

    def reset(self) -> None:
        self.calls, self.seconds = 0, 0.0

    def restore(self) -> None:
        setattr(self.module, self.name, self.real)


def fragment_timer(seconds: dict, timers: dict, profiler: cProfile.Profile | None = None):
    """(the real st.fragment, one that also times (and profiles, with `profiler`) each call of the
    page's fragments and notes each one's timer in `timers`, name -> run_every). Streamlit runs the
    script in a thread of its own, which a profiler must be enabled in."""
    import streamlit as st

    real = st.fragment

    def fragment(func=None, *, run_every=None):
        if func is None:  # used as @st.fragment(run_every=...)
            return lambda func: fragment(func, run_every=run_every)
        if func.__name__ not in PAGE_FRAGMENTS:
            return real(func, run_every=run_every)
        timers[func.__name__] = run_every

        def timed(*args, **kwargs):
            start = time.perf_counter()
            if profiler:
                profiler.enable()
            try:
                return func(*args, **kwargs)
            finally:
                if profiler:
                    profiler.disable()
                seconds.setdefault(func.__name__, []).append(time.perf_counter() - start)
        timed.__name__ = timed.__qualname__ = func.__qualname__  # the fragment's id comes from its name
        timed.__module__ = func.__module__
        return real(timed, run_every=run_every)

    return real, fragment


def best(times: list[float]) -> float:
    return min(times) if times else float("nan")


class Trainer:
    """Stands in for a trainer: a queued run (the page counts it as training) whose log and status grow by
    one log interval of the seed's lines at each step(), a validation line at each of its epochs' ends."""

    def __init__(self, root: Path, seed: Path, index: int):
        self.folder = clone(seed, root, index, 1)
        lines = [json.loads(line) for line in (self.folder / "metrics.jsonl").read_text().splitlines()]
        self.lines = [line for line in lines if line["kind"] != "test"]
        self.status = json.loads((self.folder / "status.json").read_text())
        self.per_epoch = self.status["steps_per_epoch"]
        self.written = 0
        (self.folder / "metrics.jsonl").write_text("")
        self.step()

    def step(self) -> None:
        """The next train line (and the val line after it, where the seed has one), a step past the last."""
        epoch, place = divmod(self.written, len(self.lines))
        batch = [self.lines[place]]
        if place + 1 < len(self.lines) and self.lines[place + 1]["kind"] == "val":
            batch.append(self.lines[place + 1])
        shift = epoch * self.per_epoch
        with open(self.folder / "metrics.jsonl", "a") as handle:
            for line in batch:
                handle.write(json.dumps({**line, "step": line["step"] + shift, "epoch": line["epoch"] + epoch}) + "\n")
        self.written += len(batch)
        status = {**self.status, "state": "queued", "pid": None, "step": batch[0]["step"] + shift,
                  "total_steps": 8 * self.per_epoch, "epoch": epoch + 1, "updated_at": time.time()}
        for key in ("best_val_ppl", "final_val_ppl", "test_ppl", "finished_at"):
            status.pop(key, None)
        (self.folder / "status.json").write_text(json.dumps(status, indent=1))


def page(ids: list[str], selected: int, reruns: int, profile: bool, root: Path, seed: Path) -> None:
    """Compare in AppTest: a first run, then `reruns` reruns with no run training, timed and counted; then
    `reruns` more with a run training (Trainer), first beside the selection, then in it."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from explorer import compare
    from lmcore import summaries

    counters = tables, rows, listings = (Counter(compare, "runs_table"), Counter(compare, "run_row"),
                                         Counter(summaries, "list_runs"))
    stamps = Counter(summaries, "runs_stamp")  # before ui is imported: compare_runs takes its own name for it
    from lmcore import queue
    # The Trainer's run is queued: the sidebar would start a queue worker, which trained it for real beside
    # the measurement (and then ended it). Here nothing trains but what Trainer writes.
    queue.ensure_worker = lambda root=None: None
    import ui
    from ui import compare_runs

    # The charts' work, where the code has it (ui.curve_traces is new).
    drawing = {name: Counter(module, name) for module, name in ((ui, "ppl_figure"), (ui, "curve_traces"),
               (compare_runs, "score_bars")) if hasattr(module, name)}
    everything = [*counters, *drawing.values(), stamps]
    inside: dict[str, list[float]] = {}
    timers: dict[str, float | None] = {}
    profiler = cProfile.Profile() if profile else None
    real, st.fragment = fragment_timer(inside, timers, profiler)

    def rerun(at: AppTest, times: int, before=None) -> list[float]:
        for counter in everything:
            counter.reset()
        inside.clear()
        whole = []
        for _ in range(times):
            if before:
                before()
            start = time.perf_counter()
            at.run()
            whole.append(time.perf_counter() - start)
            assert not at.exception, [e.value for e in at.exception]
        return whole

    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.switch_page("app_pages/compare.py")
        at.session_state["compare.selected"] = ids[:selected]
        start = time.perf_counter()
        at.run()
        first = time.perf_counter() - start
        assert not at.exception, [e.value for e in at.exception]
        if profiler:
            profiler.clear()  # the reruns only, not the first run's imports
        whole = rerun(at, reruns)
        print(f"Compare page, {len(ids)} finished runs, {selected} selected (AppTest, best of {reruns} reruns):")
        print(f"  first run {first:.2f} s; a rerun {best(whole):.3f} s, of which the live fragment "
              f"{best(inside.get('live', [])):.3f} s")
        print(f"  per rerun: runs_table called {tables.calls / reruns:g} times "
              f"({tables.seconds / reruns * 1000:.0f} ms), {rows.calls / reruns:g} table rows built; runs listed "
              f"{listings.calls / reruns:g} times ({listings.seconds / reruns * 1000:.0f} ms, the sidebar's count "
              "included)")
        ticking = {name: every for name, every in timers.items() if every}
        print("  what the page's timer runs, with no run training: " + (", ".join(
            f"{name}() every {every:g} s, {best(inside.get(name, [])) * 1000:.1f} ms"
            for name, every in ticking.items()) or "nothing"))
        print(f"  {chart_work(drawing, stamps, reruns)}")
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            profiler = None
        trainer = Trainer(root, seed, len(ids))
        timers.clear()
        for what, chosen in ((f"{selected} finished runs selected", ids[:selected]),
                             (f"the training run selected beside {selected - 1} finished ones",
                              [trainer.folder.name, *ids[:selected - 1]])):
            at.session_state["compare.selected"] = chosen
            rerun(at, 1, trainer.step)  # the selection's first draw: its lines are all new
            whole = rerun(at, reruns, trainer.step)
            print(f"One run training, {what}: a refresh of the live fragment (its 5 s timer: "
                  f"{timers.get('live')}) {best(inside.get('live', [])) * 1000:.0f} ms, best of {reruns}; "
                  f"the whole rerun {best(whole) * 1000:.0f} ms")
            print(f"  {chart_work(drawing, stamps, reruns)}")
    finally:
        st.fragment = real
        for counter in everything:
            counter.restore()


def chart_work(drawing: dict[str, Counter], stamps: Counter, reruns: int) -> str:
    """'per rerun: ppl_figure 1 (31.0 ms), ... built; runs_stamp 1 (9.0 ms)'."""
    parts = [f"{name} {counter.calls / reruns:g} ({counter.seconds / reruns * 1000:.1f} ms)"
             for name, counter in drawing.items()]
    return (f"per rerun: {', '.join(parts)} built; runs_stamp {stamps.calls / reruns:g} "
            f"({stamps.seconds / reruns * 1000:.1f} ms)")


def timed(func, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return best(times)


def pure(root: Path, ids: list[str], selected: int) -> None:
    """The functions a rerun calls, cold against warm."""
    from explorer import compare
    from lmcore import disk, summaries
    from lmcore.metrics_frame import MetricsFrame

    def cold_listing():
        summaries._settled.clear()
        disk._kept_usage.cache_clear()
        return summaries.list_runs(root)

    def cold_table():
        for kept in ("_rows", "_tables"):  # the caches this change added, where present
            getattr(compare, kept, {}).clear()
        return compare.runs_table(listed)

    listed = summaries.list_runs(root)
    readers = [MetricsFrame(root / run_id / "metrics.jsonl") for run_id in ids[:selected]]
    rows = [
        ("list the runs (summaries)", cold_listing, lambda: summaries.list_runs(root)),
        ("build the runs table", cold_table, lambda: compare.runs_table(listed)),
        (f"read {selected} selected runs' metrics (a new reader, against a refresh with no new line)",
         lambda: [MetricsFrame(reader.tail.path).refresh() for reader in readers],
         lambda: [reader.refresh() for reader in readers]),
    ]
    print("Pure functions, cold against warm (best of 5):")
    for what, cold, warm in rows:
        slow, fast = timed(cold), timed(warm)
        print(f"  {what}: {slow * 1000:.1f} ms cold, {fast * 1000:.1f} ms warm ({slow / max(fast, 1e-9):.1f}x)")
    if hasattr(summaries, "runs_stamp"):
        print(f"  stat the runs folder (summaries.runs_stamp, the idle page's tick): "
              f"{timed(lambda: summaries.runs_stamp(root)) * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--selected", type=int, default=4)
    parser.add_argument("--reruns", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=8, help="epochs each clone's metrics log is stretched to")
    parser.add_argument("--seed-run", type=Path, help="a finished run folder to clone (default: train one)")
    parser.add_argument("--profile", action="store_true", help="cProfile the fragments' calls, top 40 by cumulative")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        seed = args.seed_run or train_seed(Path(tmp) / "seed")
        root = Path(tmp) / "runs"
        start = time.perf_counter()
        ids = make_runs(root, seed, args.runs, args.epochs)
        print(f"{args.runs} runs made in {time.perf_counter() - start:.1f} s under {root}")
        os.environ["LMCORE_RUNS_DIR"] = str(root)
        pure(root, ids, args.selected)
        page(ids, args.selected, args.reruns, args.profile, root, seed)


if __name__ == "__main__":
    main()
