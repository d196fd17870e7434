"""A run's metrics.jsonl as a table: read incrementally, kept in growing arrays, thinned to show.

The reading side of the run-folder contract that the app's charts use (and `lmcore bench
--reading` times). A refresh costs the lines added since the last one plus a bounded amount
of work for the picture (train lines thinned to at most `max_points`), so a run with 100k
metric lines refreshes about as fast as one with 100 (measured in docs/performance.md).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .jsonl import MetricsTail, is_metric, json_number

KINDS = ("train", "val", "test")
NUMERIC = ["step", "epoch", "loss", "ppl", "lr", "tokens_per_s", "grad_norm", "time"]
COLUMNS = ["kind"] + NUMERIC


class _Columns:
    """The numeric columns of one kind of line, in arrays that grow by doubling."""

    def __init__(self):
        self.size = 0
        self.data = {name: np.empty(64) for name in NUMERIC}

    def extend(self, records: list[dict]) -> None:
        end = self.size + len(records)
        capacity = len(self.data["step"])
        if end > capacity:
            capacity = max(end, 2 * capacity)
            for name, column in self.data.items():
                grown = np.empty(capacity)
                grown[: self.size] = column[: self.size]
                self.data[name] = grown
        for name, column in self.data.items():
            column[self.size:end] = [json_number(r.get(name), math.nan) for r in records]
        self.size = end

    def frame(self, kind: str, index: np.ndarray) -> pd.DataFrame:
        columns = {name: column[index] for name, column in self.data.items()}
        frame = pd.DataFrame({"kind": np.full(len(index), kind, dtype=object), **columns})
        return frame.astype({"step": "int64", "epoch": "int64"}) if len(index) else frame


class MetricsFrame:
    """A run's metrics.jsonl, read a few new lines at a time, shown as a small DataFrame."""

    def __init__(self, path: Path, max_points: int = 2000):
        self.tail = MetricsTail(path)
        self.max_points = max_points
        self.restarts = 0
        self.columns = {kind: _Columns() for kind in KINDS}
        self.shown: pd.DataFrame | None = None  # the last frame built, while no line came since

    def refresh(self) -> pd.DataFrame:
        """Every val and test line, and train lines thinned to at most `max_points` rows. A copy of the
        last frame when no line came since: building it took about 14 ms for an 8-epoch tiny run, for
        each selected run at every Compare refresh, though a finished run's log never changes."""
        new = self.tail.read_new()
        self.tail.records = []  # the arrays hold them now; keep one copy in memory
        if self.tail.restarts != self.restarts:  # the file was cut back (a resume): start over
            self.restarts = self.tail.restarts
            self.columns = {kind: _Columns() for kind in KINDS}
            self.shown = None
        new = [r for r in new if is_metric(r)]
        for kind in KINDS:
            batch = [r for r in new if r["kind"] == kind]
            if batch:
                self.columns[kind].extend(batch)
                self.shown = None
        if self.shown is None:
            self.shown = self.frame()
        return self.shown.copy()  # a caller may change its own

    def frame(self) -> pd.DataFrame:
        parts = []
        for kind in KINDS:
            columns = self.columns[kind]
            limit = self.max_points if kind == "train" else None
            parts.append(columns.frame(kind, thin_index(columns.size, limit)))
        return pd.concat(parts, ignore_index=True)

    def count(self, kind: str) -> int:
        return self.columns[kind].size

    @property
    def version(self) -> tuple[int, ...]:
        """What the last refresh's frame was built from: the times the file was cut back and the lines
        of each kind read since. Equal versions of one reader mean equal frames."""
        return (self.restarts, *(self.columns[kind].size for kind in KINDS))


def thin_index(size: int, max_points: int | None) -> np.ndarray:
    """At most `max_points` evenly spaced positions in range(size), first and last included."""
    if max_points is None or size <= max_points:
        return np.arange(size)
    return np.unique(np.linspace(0, size - 1, max_points).round().astype(int))
