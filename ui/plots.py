"""One way to put a Plotly figure on a page, so that every chart behaves alike on a touch screen."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

TOOLBAR_WIDTH = 40  # px


def show(figure: go.Figure, key: str, toolbar: bool = False) -> None:
    """Draw `figure` across the page, its toolbar shown only where `toolbar` asks for it.

    A drag never zooms: on a touch screen a swipe that began on a chart zoomed the chart instead of
    scrolling the page, and Inside the model is half charts (QA round 15). Zoom and pan stay one
    click away on the toolbar, where one is shown; a point still gets its label by hover or tap. The
    toolbar gets a margin of its own: on a phone it covered the newest points (QA round 15).
    """
    figure.update_layout(dragmode=False)
    right = figure.layout.margin.r  # None: Plotly's 80 px
    if toolbar and right is not None and right < TOOLBAR_WIDTH:  # it stands down the chart's right edge,
        figure.update_layout(margin_r=TOOLBAR_WIDTH)              # always shown on a touch screen: off the data
    config = {"displaylogo": False} if toolbar else {"displayModeBar": False}
    st.plotly_chart(figure, key=key, config=config)


KEPT = "ui.plots.kept"  # session state: a chart's name -> (the key it was built for, what build() gave)


def kept(name: str, key, build):
    """What build() gives for `key`, built again only when the chart called `name` was last built
    for another key; one kept per name and session. While a run trains, Compare redraws every 5 s,
    and rebuilding its finished runs' curves each time took about 100 ms of the server's CPU for 4
    runs (scripts/bench_compare.py); `key` holds everything the figure is drawn from."""
    charts = st.session_state.setdefault(KEPT, {})
    entry = charts.get(name)  # read once: the dict may be replaced in between
    if entry is None or entry[0] != key:
        entry = charts[name] = (key, build())
    return entry[1]
