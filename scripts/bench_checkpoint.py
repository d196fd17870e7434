"""Saving an improving epoch's end: best.pt and last.pt serialized apart (before stop 18) against
one serialization with best.pt a hard link (runs.RunWriter.checkpoint), side by side in one run.

    python scripts/bench_checkpoint.py [ROUNDS] [PRESET]     # defaults: 7 book

The payload is the preset's model state with SGD's (empty) optimizer state, as a run saves it.
Rounds alternate which way goes first; the medians and their ratio are printed as JSON.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lmcore.model import LanguageModel  # noqa: E402
from lmcore.presets import get_preset  # noqa: E402
from lmcore.runs import RunWriter  # noqa: E402


def payload(preset: str) -> dict:
    model = LanguageModel(10_000, get_preset(preset).config())
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "progress": {"step": 0}}


def timed(save) -> float:
    start = time.perf_counter()
    save()
    return time.perf_counter() - start


def main(rounds: int = 7, preset: str = "book") -> dict:
    state = payload(preset)
    with tempfile.TemporaryDirectory() as folder:
        writer = RunWriter(Path(folder))
        ways = {"apart": lambda: (writer.checkpoint("best", state), writer.checkpoint("last", state)),
                "once": lambda: writer.checkpoint(("last", "best"), state)}
        seconds = {name: [] for name in ways}
        for index in range(rounds):
            for name in (list(ways) if index % 2 == 0 else list(ways)[::-1]):
                seconds[name].append(timed(ways[name]))
        size = (Path(folder) / "checkpoints" / "last.pt").stat().st_size
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    return {"preset": preset, "megabytes": round(size / 1e6, 1), "rounds": rounds,
            "median_seconds": {k: round(v, 4) for k, v in medians.items()},
            "once_over_apart": round(medians["once"] / medians["apart"], 3),
            "seconds": {k: [round(x, 4) for x in v] for k, v in seconds.items()}}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7,
                          sys.argv[2] if len(sys.argv) > 2 else "book"), indent=1))
