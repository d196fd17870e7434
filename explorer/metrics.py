"""Metrics tables shaped for charts: one kind of line, smoothed, thinned. The table itself is
lmcore.metrics_frame.MetricsFrame (a reader of the run-folder contract)."""

from __future__ import annotations

import pandas as pd

from lmcore.metrics_frame import thin_index


def split(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    return frame[frame["kind"] == kind]


def smooth(values: pd.Series, weight: float) -> pd.Series:
    """TensorBoard-style exponential moving average (weight 0 = raw, 0.99 = very smooth)."""
    if weight <= 0 or values.empty:
        return values
    return values.ewm(alpha=1.0 - min(weight, 0.999), adjust=True).mean()


def thin(frame: pd.DataFrame, max_points: int = 2000) -> pd.DataFrame:
    """At most `max_points` evenly spaced rows, always keeping the first and the last."""
    return frame.iloc[thin_index(len(frame), max_points)]
