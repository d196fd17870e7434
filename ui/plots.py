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
