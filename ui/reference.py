"""Reference runs in the app: the full recipes this project measured on a GPU (docs/results/runs/),
as a one-line result, where they were measured, and curves to lay beside the user's own runs.

A tiny CPU run and a 40-epoch GPU run share no step axis, so overlays put every run on its own
epochs (explorer.epochs) or on its share of training (0 = start, 1 = end).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

import ui
from explorer import epochs
from explorer.metrics import split
from lmcore.summaries import RunSummary

AXES = {"epoch": "epoch (passes over each run's own training text)",
        "share": "share of training (0 = start, 1 = its last step)"}


def recipe_run(summaries: list[RunSummary], preset: str = "book") -> RunSummary | None:
    """The reference run that trained `preset` to its end, if one is shipped."""
    return next((s for s in summaries if s.is_reference and s.reference.get("complete") is True
                 and s.config.get("preset") == preset and s.state == "finished"), None)


def recipe_line(summary: RunSummary) -> str:
    """'The book recipe reaches validation 79.9 / test 76.2 after 40 epochs (431 s on one NVIDIA H200).'"""
    epochs = summary.status.get("epoch") or summary.config.get("epochs")
    return (f"The {summary.config.get('preset')} recipe reaches validation {ui.fmt_ppl(summary.best_val)} / "
            f"test {ui.fmt_ppl(summary.test)} after {epochs} epochs "
            f"({summary.training_seconds:.0f} s on one {summary.device}).")


def provenance(summary: RunSummary) -> str:
    """Where and how a reference run was measured, from its reference.json."""
    info = summary.reference or {}
    facts = ", ".join(str(info[key]) if key != "commit" else f"commit {info[key]}"
                      for key in ("date", "commit") if info.get(key))
    torch = f", torch {info['torch']}" if info.get("torch") else ""
    command = f" with `{info['command']}`" if info.get("command") else ""
    text = f"A reference run measured by this project on one {summary.device or 'unknown device'}" \
           f"{f' ({facts}{torch})' if facts else ''}{command}; read-only."
    return f"{text} {info['note']}" if info.get("note") else text


def on_axis(summary: RunSummary, frame: pd.DataFrame, axis: str) -> pd.DataFrame:
    """The run's metrics with an x column named `axis`: fractional epochs, or step / steps planned.
    Empty when the run cannot be placed there (its steps per epoch are unknown)."""
    if axis == "epoch":
        per_epoch = epochs.steps_per_epoch(summary, frame)
        return epochs.with_fractional_epochs(frame, per_epoch) if per_epoch else frame.iloc[0:0]
    total = summary.total_steps or (frame["step"].max() if len(frame) else None)
    if not total:
        return frame.iloc[0:0]
    placed = frame.copy()
    placed["share"] = placed["step"].astype(float) / float(total)
    return placed


def validation_figure(summary: RunSummary, frame: pd.DataFrame, height: int = 220) -> go.Figure:
    """A small chart of a run's validation perplexity by epoch (the Start page's)."""
    val = split(frame, "val")
    figure = go.Figure(go.Scatter(x=val["epoch"], y=val["ppl"], mode="lines+markers", line=dict(color=ui.PALETTE[0]),
                                  marker=dict(size=5), hovertemplate="epoch %{x}: validation %{y:.1f}<extra></extra>"))
    figure.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="epoch",
                         yaxis_title="validation perplexity", showlegend=False)
    return figure
