"""One way to put a Plotly figure on a page, so that every chart behaves alike on a touch screen."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st


def show(figure: go.Figure, key: str, toolbar: bool = False) -> None:
    """Draw `figure` across the page, its toolbar shown only where `toolbar` asks for it.

    A drag never zooms: on a touch screen a swipe that began on a chart zoomed the chart instead of
    scrolling the page, and Inside the model is half charts (QA round 15). Zoom and pan stay one
    click away on the toolbar, where one is shown; a point still gets its label by hover or tap.
    """
    figure.update_layout(dragmode=False)
    config = {"displaylogo": False} if toolbar else {"displayModeBar": False}
    st.plotly_chart(figure, key=key, config=config)
