"""Metrics as tables for charts: read incrementally, smoothed, and thinned for plotting.

A page refresh costs the new lines plus a bounded amount of plotting, so a run with 100k
metric lines refreshes about as fast as one with 100 (docs/performance.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .runs import MetricsTail

COLUMNS = ["kind", "step", "epoch", "loss", "ppl", "lr", "tokens_per_s", "grad_norm", "time"]


class MetricsFrame:
    """A run's metrics.jsonl as a DataFrame that grows by the lines added since last time."""

    def __init__(self, path: Path):
        self.tail = MetricsTail(path)
        self.frame = pd.DataFrame(columns=COLUMNS)
        self.restarts = 0

    def refresh(self) -> pd.DataFrame:
        new = self.tail.read_new()
        if self.tail.restarts != self.restarts:  # the file was cut back (a resume): start over
            self.restarts = self.tail.restarts
            self.frame = pd.DataFrame(columns=COLUMNS)
        if new:
            rows = pd.DataFrame.from_records(new).reindex(columns=COLUMNS)
            self.frame = rows if self.frame.empty else pd.concat([self.frame, rows], ignore_index=True)
        self.tail.records = []  # the frame holds them now; keep memory to one copy
        return self.frame


def split(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    return frame[frame["kind"] == kind]


def smooth(values: pd.Series, weight: float) -> pd.Series:
    """TensorBoard-style exponential moving average (weight 0 = raw, 0.99 = very smooth)."""
    if weight <= 0 or values.empty:
        return values
    return values.ewm(alpha=1.0 - min(weight, 0.999), adjust=True).mean()


def thin(frame: pd.DataFrame, max_points: int = 2000) -> pd.DataFrame:
    """At most `max_points` evenly spaced rows, always keeping the last one."""
    if len(frame) <= max_points:
        return frame
    index = np.unique(np.linspace(0, len(frame) - 1, max_points).round().astype(int))
    return frame.iloc[index]
