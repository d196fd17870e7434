"""The ablation grid's two charts: one mean validation curve with a band per cell, and a
dot-and-interval chart of effects (explorer.grid_view has the numbers; this only draws them)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

import ui
from explorer.grid_view import MIN_MAX, effect_rows
from explorer.perplexity import find_clip

VERDICT_COLORS = {"lower": "#2ca02c", "higher": "#d62728", "within noise": "#7f7f7f", "no interval": "#7f7f7f"}


def _rgba(color: str, alpha: float) -> str:
    red, green, blue = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def band_figure(curves: list[dict], band: str = MIN_MAX, height: int = 420):
    """(figure, clip): per cell {"label", "color", "curve", "symbol": optional} (grid_view.cell_curve), a filled
    band from low to high under a mean line. A diverged cell clips the axis (ui.clip_axis); the
    clip names the cells that go past the axis drawn."""
    figure = go.Figure()
    for i, entry in enumerate(curves):
        curve, color = entry["curve"], entry["color"]
        symbol = entry.get("symbol") or ui.place_style(i).symbol
        if curve.empty:
            continue
        # The band is one closed shape: along the high edge, then back along the low edge.
        figure.add_trace(go.Scatter(x=list(curve["step"]) + list(curve["step"])[::-1],
                                    y=list(curve["high"]) + list(curve["low"])[::-1], fill="toself", mode="lines",
                                    fillcolor=_rgba(color, 0.18), line=dict(width=0), hoverinfo="skip",
                                    showlegend=False, legendgroup=entry["label"]))
        figure.add_trace(go.Scatter(x=curve["step"].tolist(), y=curve["mean"].tolist(), mode="lines+markers",
                                    name=entry["label"], legendgroup=entry["label"], line=dict(color=color, width=2.5),
                                    marker=dict(size=8, symbol=symbol),
                                    customdata=curve[["low", "high", "n"]].values.tolist(),
                                    hovertemplate=f"{entry['label']}<br>step %{{x}}: mean %{{y:.1f}}, {band} "
                                                  "%{customdata[0]:.1f} to %{customdata[1]:.1f}, "
                                                  "n=%{customdata[2]}<extra></extra>"))
    clip = find_clip({entry["label"]: list(entry["curve"]["high"]) for entry in curves})
    figure.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), hovermode="closest",
                         legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
                         xaxis_title="training step", yaxis_title="validation perplexity",
                         uirevision="compare.grid.curves")
    ui.clip_axis(figure, clip, log_y=False)
    whole_ticks(figure, [step for entry in curves for step in entry["curve"]["step"]])
    return figure, clip and clip.beyond(axis_top(figure, log_y=False))


def axis_top(figure: go.Figure, log_y: bool) -> float:
    """The highest perplexity a figure's y axis shows, once ui.clip_axis set its range: it leaves
    room above the clip's top, where a peak is drawn, so a caption names only what goes past this."""
    top = figure.layout.yaxis.range[1]
    return 10 ** top if log_y else top


def whole_ticks(figure, steps: list) -> None:
    """Ticks on whole steps only: over a span of a few steps (one validation, say) Plotly's own
    would fall between them (148, 148.5, 149)."""
    if steps and max(steps) - min(steps) < 10:
        figure.update_xaxes(tickmode="array", tickvals=list(range(int(min(steps)), int(max(steps)) + 1)))


def axis_label(row: str) -> str:
    """A chart row's label on two lines, 'horizontal<br>best val': on one line, and naming the
    reference too, a half-width chart at 1024 px cut 'horizontal' and 'variational' alike to
    '…al vs vertical · best val'."""
    return row.replace(" · ", "<br>")


def effects_figure(rows: list[dict], height_per_row: int = 44, interaction: bool = False):
    """Dot = effect, bar = its 95% interval, a zero line; x is the perplexity change from the
    reference level. One row per contrast and metric, its verdict written at the right; the
    labels' margin grows to fit them (automargin). An `interaction`'s x is a difference of changes,
    neither better nor worse: one ink for every verdict, not green and red (QA round 19)."""
    table = effect_rows(rows)
    shown = table[table["estimate"].notna()].assign(row=lambda t: t["row"].map(axis_label))
    figure = go.Figure()
    figure.add_vline(x=0, line_color=ui.ink(1), line_width=1)
    colors = [(ui.ink(0) if verdict in ("higher", "lower") else "#7f7f7f") if interaction else
              VERDICT_COLORS.get(verdict, "#7f7f7f") for verdict in shown["verdict"]]
    plus = (shown["high"] - shown["estimate"]).fillna(0.0)
    minus = (shown["estimate"] - shown["low"]).fillna(0.0)
    figure.add_trace(go.Scatter(
        x=shown["estimate"].tolist(), y=shown["row"].tolist(), mode="markers", showlegend=False,
        marker=dict(size=11, color=colors, symbol=["circle-open" if low is None or pd.isna(low) else "circle"
                                                   for low in shown["low"]], line=dict(width=2, color=colors)),
        error_x=dict(type="data", symmetric=False, array=plus.tolist(), arrayminus=minus.tolist(), thickness=2.5,
                     width=6, color=ui.ink(2)),
        customdata=shown[["reads", "n", "method", "contrast", "metric"]].values.tolist(),
        hovertemplate="%{customdata[3]} · %{customdata[4]}: %{customdata[0]}<br>n=%{customdata[1]}, "
                      "%{customdata[2]}<extra></extra>"))
    for row, reads, color in zip(shown["row"], shown["reads"], colors):
        figure.add_annotation(x=1.0, xref="paper", xanchor="left", y=row, yref="y", text=reads.split(" · ")[-1],
                              showarrow=False, font=dict(color=color, size=13), xshift=8)
    # Zero is always in view with some room, so the zero line never sits on the axis's edge.
    reach = pd.concat([shown["low"].fillna(shown["estimate"]), shown["high"].fillna(shown["estimate"]),
                       pd.Series([0.0])]).astype(float)
    pad = max(reach.max() - reach.min(), 1.0) * 0.08
    figure.update_layout(height=60 + height_per_row * max(len(shown), 1), margin=dict(l=16, r=110, t=10, b=40),
                         xaxis=dict(title="difference of the changes in perplexity" if interaction else
                                    "perplexity change (lower is better)", zeroline=False,
                                    range=[reach.min() - pad, reach.max() + pad]),
                         yaxis=dict(autorange="reversed", type="category", automargin=True))
    return figure
