"""Comparing two runs' logs, for the tests that train a run in parts and the whole run at once.

Apart from conftest.py because StopAt needs lmcore.train, which imports torch: every session (and
test_ptb's fake checkout, which copies conftest.py) would pay for that at start-up.
"""

from __future__ import annotations

import pytest

from lmcore.jsonl import read_jsonl
from lmcore.train import Callbacks

VOLATILE = {"time", "tokens_per_s"}  # wall-clock numbers differ between any two runs


def stable(records):
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in records]


def train_losses(folder) -> list[float]:
    """The losses of a run's train lines, in order."""
    return [r["loss"] for r in read_jsonl(folder / "metrics.jsonl") if r["kind"] == "train"]


def assert_same_logs(a, b):
    ma, mb = stable(read_jsonl(a / "metrics.jsonl")), stable(read_jsonl(b / "metrics.jsonl"))
    assert [(r["kind"], r["step"]) for r in ma] == [(r["kind"], r["step"]) for r in mb]
    for x, y in zip(ma, mb):
        assert x.keys() == y.keys()
        for key in x:
            expected = y[key] if isinstance(y[key], str) else pytest.approx(y[key], rel=1e-4, abs=1e-6)
            assert x[key] == expected, (x, y, key)
    assert read_jsonl(a / "samples.jsonl") == read_jsonl(b / "samples.jsonl")


class StopAt(Callbacks):
    """Asks the trainer to stop once it has reached `step`."""

    def __init__(self, step):
        self.step, self.trainer = step, None

    def on_progress(self, trainer):
        self.trainer = trainer

    def stop_requested(self):
        return self.trainer is not None and self.trainer.step >= self.step
