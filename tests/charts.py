"""Reading the Plotly charts a page drew in AppTest: the figure's JSON and a trace's numbers."""

from __future__ import annotations

import base64
import json

import numpy as np


def chart(at, index: int = 0, key: str | None = None) -> dict:
    """The figure (data, layout) of the page's `index`-th Plotly chart or, given `key`, of the
    first chart whose element id holds that widget key (its place on the page may move)."""
    drawn = at.get("plotly_chart")
    element = next(c for c in drawn if key in c.proto.id) if key else drawn[index]
    return json.loads(element.proto.spec)


def curve_name(trace: dict) -> str | None:
    """What a perplexity curve draws, 'NAME train' or 'NAME validation', as its hover says: beside
    other runs the legend names a run's validation curve by the run alone."""
    hover = trace.get("hovertemplate") or ""
    return hover.removesuffix(": %{y:,.1f}<extra></extra>") if hover.endswith("<extra></extra>") else trace.get("name")


def named(data: list[dict]) -> dict:
    """A figure's traces by curve_name."""
    return {curve_name(trace): trace for trace in data}


def traces(at, index: int = 0) -> dict:
    """The chart's traces by curve_name."""
    return named(chart(at, index)["data"])


def values(trace: dict, axis: str = "x") -> list[float]:
    """A trace's x (or y) values; Plotly's JSON packs number arrays as base64 typed arrays."""
    data = trace[axis]
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)
