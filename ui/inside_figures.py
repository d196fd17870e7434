"""The pictures of the Inside the model page: dropout masks as heatmaps, how much of the
recurrent path survives, and the parameters per part with tying off and on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import ui
from explorer import lesson

DROPPED, KEPT = "#1e293b", "#fcd34d"  # dark slate vs bright amber: readable on a projector
CELL_HEIGHT = 250


def mask_title(headline: str, *details: str) -> str:
    """A mask chart's title: the headline (the kept share) on a line of its own, then what the mask is
    in smaller type, one line each: a column a third of a 1024 px page wide cut one long line short."""
    return "<br>".join([headline, *(f"<span style='font-size:12px'>{line}</span>" for line in details)])


def mask_figure(mask: np.ndarray, title: str, height: int = CELL_HEIGHT) -> go.Figure:
    """A (time, units) mask as a heatmap: time across, units down, dropped dark, kept bright.
    `title` comes from mask_title: the top margin grows with its lines."""
    kept = (np.asarray(mask) > 0).T.astype(int)             # (units, time)
    units, steps = kept.shape
    scale = float(np.max(mask)) if np.max(mask) > 0 else 1.0
    words = np.where(kept == 1, f"kept (×{scale:.2f})", "dropped (0)")
    gap = 1 if units <= 64 and steps <= 64 else 0
    figure = go.Figure(go.Heatmap(
        z=kept, x=np.arange(1, steps + 1), y=np.arange(1, units + 1), zmin=0, zmax=1, showscale=False,
        colorscale=[[0, DROPPED], [0.5, DROPPED], [0.5, KEPT], [1, KEPT]], xgap=gap, ygap=gap,
        customdata=words, hovertemplate="step %{x}, unit %{y}: %{customdata}<extra></extra>"))
    # Hung from the top, so the title's extra lines grow into the margin rather than over the cells.
    figure.update_layout(title=dict(text=title, font=dict(size=15), yref="container", y=1, yanchor="top",
                                    pad=dict(t=10)),
                         height=height, margin=dict(l=10, r=10, t=40 + 18 * title.count("<br>"), b=10),
                         plot_bgcolor="rgba(0,0,0,0)")  # the gaps between cells are the page's, light or dark
    figure.update_xaxes(title_text="time step →", showgrid=False, **whole_ticks(steps))
    figure.update_yaxes(title_text="unit", autorange="reversed", showgrid=False, **whole_ticks(units))
    return figure


def whole_ticks(count: int) -> dict:
    """Every step or unit labelled on a short axis: Plotly's own ticks read 0.5, 1, 1.5 on a bptt-1
    mask (QA round 5); a long axis keeps Plotly's, which are whole numbers there."""
    return dict(tickmode="linear", tick0=1, dtick=1) if count <= 12 else {}


def no_dropout_box(reason: str, height: int = CELL_HEIGHT) -> None:
    # Bold, not a heading: the card's height is fixed beside the pictures, and at 800 px a heading took
    # three lines and the reason's last line fell under the border (QA round 12).
    with st.container(border=True, height=height, vertical_alignment="center", horizontal_alignment="center"):
        st.markdown("**No dropout here**")
        st.caption(reason)


def legend() -> None:
    # class legend-swatch: a high-contrast screen keeps these colours (ui/app.css), as it does the heatmaps'
    swatch = "<span class='legend-swatch' style='background:{};padding:2px 10px;border:1px solid #999'>&nbsp;</span>"
    st.markdown(f"{swatch.format(KEPT)} kept "
                f"(scaled by 1/(1-p)) &nbsp;&nbsp; {swatch.format(DROPPED)} "
                f"dropped (0) &nbsp;·&nbsp; time runs left to right, one row per unit", unsafe_allow_html=True)


def survival_figure(p_recurrent: float, steps: int, grid: dict) -> go.Figure:
    """Units kept at every step so far: (1-p)^t for a fresh mask each step, 1-p for one mask per
    sequence, and both measured on the lesson's masks."""
    t = np.arange(steps + 1)
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=t, y=lesson.survival_curve(p_recurrent, steps), mode="lines",
                                name="fresh mask each step: (1-p)^t", line=dict(color="#d62728", width=3)))
    figure.add_trace(go.Scatter(x=t[1:], y=np.full(steps, 1 - p_recurrent), mode="lines",
                                name="one mask per window: 1-p", line=dict(color="#1f77b4", width=3, dash="dash")))
    for placement, color in (("horizontal", "#d62728"), ("variational", "#1f77b4")):
        mask = grid[placement]["recurrent"]
        if mask is not None:
            figure.add_trace(go.Scatter(x=t[1:], y=lesson.path_survival(mask), mode="markers",
                                        name=f"{placement}: measured on the masks above",
                                        marker=dict(color=color, size=8, symbol="circle-open", line=dict(width=2))))
    figure.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10), yaxis_range=[0, 1.02],
                         title="units kept at every step so far", xaxis_title="time step t",
                         yaxis_title="fraction of units", legend=dict(orientation="h", y=-0.3))
    return figure


def _bar_text(part: str, value, column: str) -> str:
    return "0: shared" if column == "tied" and part == "decoder weight" else ui.fmt_count(value)


PARAMS_TITLE = "Parameters per part, tying off and on (tied: the decoder reuses the embedding)"


def params_figure(rows: list[dict]) -> go.Figure:
    """Parameters per part (explorer.lesson.part_rows), tying off and on, one pair of bars a part.

    The bars lie down, the part names on the left, each number after its bar: upright grouped bars
    printed their numbers over each other on a phone, and Plotly cut a title it cannot wrap (QA round
    15). The page prints the title above the chart (PARAMS_TITLE).
    """
    frame = pd.DataFrame(rows)
    figure = go.Figure()
    for column, color in (("untied", "#9ca3af"), ("tied", "#2563eb")):
        if frame[column].notna().any():
            figure.add_trace(go.Bar(y=frame["part"], x=frame[column], name=column, marker_color=color,
                                    orientation="h", cliponaxis=False,
                                    text=[_bar_text(part, v, column) for part, v in zip(frame["part"], frame[column])],
                                    textposition="outside", constraintext="none"))
    widest = float(frame[["untied", "tied"]].max().max())
    figure.update_layout(barmode="group", height=90 + 56 * len(frame), margin=dict(l=10, r=10, t=30, b=10),
                         xaxis=dict(title="parameters", range=[0, widest * 1.3]),
                         yaxis=dict(autorange="reversed"), legend=dict(orientation="h", y=1.02, x=0, yanchor="bottom"))
    return figure
