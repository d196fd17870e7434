"""Metrics tables shaped for charts: one kind of line, smoothed, thinned. The table itself is
lmcore.metrics_frame.MetricsFrame (a reader of the run-folder contract)."""

from __future__ import annotations

import math

import pandas as pd

from lmcore.fork import fork_start
from lmcore.jsonl import json_number
from lmcore.metrics_frame import thin_index
from lmcore.summaries import RunSummary


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


def with_fork_start(frame: pd.DataFrame, summary: RunSummary) -> pd.DataFrame:
    """For a chart: a fork's log with the validation it started from (its parent's, at its fork step) as
    its first validation point, so its validation line goes on from its parent's there as its steps do
    (QA round 26: on Compare a fork's first validation was a lone marker 149 steps past its parent's).
    Its time is the fork's clock at its start (status `start_seconds`: a fork's clock goes on from its
    parent's checkpoint); for a fork made before that was kept, a time axis starts its line at its own
    first validation. Any other run, a fork that has logged nothing yet, or one whose parent did not
    validate there: the frame as it is."""
    step = (summary.config or {}).get("fork_step")
    if frame.empty or not isinstance(step, int) or isinstance(step, bool):
        return frame
    start = fork_start(summary.path, config=summary.config, status=summary.status)
    logged = frame[(frame["kind"] == "val") & (frame["step"] == step)]
    if not start or not logged.empty or not isinstance(start.get("ppl"), (int, float)) or start["ppl"] <= 0:
        return frame
    row = {name: math.nan for name in frame.columns}
    started = json_number(summary.status.get("start_seconds"))
    row.update(kind="val", step=step, epoch=start.get("epoch") or math.nan, ppl=start["ppl"],
               loss=math.log(start["ppl"]), time=math.nan if started is None else started)
    return pd.concat([pd.DataFrame([row]).astype(frame.dtypes.to_dict(), errors="ignore"), frame],
                     ignore_index=True)
