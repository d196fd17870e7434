"""Metrics tables shaped for charts: one kind of line, smoothed, thinned. The table itself is
lmcore.metrics_frame.MetricsFrame (a reader of the run-folder contract)."""

from __future__ import annotations

import math

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


def log_starts_at(frame: pd.DataFrame, config: dict) -> int | None:
    """The first step a run's log holds, where the log before it is missing: its first train line comes
    more than two of its log intervals (the median gap between its train lines) after the step the run
    started from (0, or a fork's `fork_step` in its `config`). A metrics.jsonl deleted while the run
    trained is recreated by the trainer from its next line, and the curve started at step 132 without a
    word (QA round 17). None when the log starts where it should, or holds too few train lines to tell."""
    steps = frame.loc[frame["kind"] == "train", "step"] if not frame.empty else pd.Series(dtype="int64")
    if len(steps) < 3:
        return None
    fork_step = (config or {}).get("fork_step")
    start = fork_step if isinstance(fork_step, int) and not isinstance(fork_step, bool) else 0
    first, interval = int(steps.iloc[0]), float(steps.diff().median())
    return first if first - start > 2 * interval else None


def latest_line(frame: pd.DataFrame) -> dict | None:
    """{"step", "epoch", "time"} of the log's line with the highest step (any kind: the curve ends there),
    a value the line lacks as None; None for an empty log. What lmcore.summaries.abreast_of_log reads."""
    if frame.empty:
        return None
    at = int(frame["step"].to_numpy().argmax())
    # The frame's columns may be floats (its kinds' tables joined): the step and epoch as whole numbers.
    read = {name: float(frame[name].to_numpy()[at]) for name in ("step", "epoch", "time")}
    return {name: None if math.isnan(value) else value if name == "time" else int(value)
            for name, value in read.items()}
