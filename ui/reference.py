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
from explorer.compare import recipe_differences
from explorer.metrics import split
from lmcore.presets import PRESETS
from lmcore.summaries import RunSummary

# What the tool is about: recipes that differ only in these compare cleanly.
LESSON_KEYS = {"layers", "dropout", "dropout_placement", "dropout_recurrent", "tie_weights"}
AXES = {"epoch": "epoch (passes over each run's own training text)",
        "share": "share of training (0 = start, 1 = its last step)"}


def recipe_runs(summaries: list[RunSummary]) -> list[RunSummary]:
    """The reference runs that trained a preset's own recipe to its end, one per preset, in the presets'
    order (the order a class meets them)."""
    finished = {}
    for summary in _complete(summaries):
        if is_recipe(summary):
            finished.setdefault(summary.config["preset"], summary)
    return [finished[name] for name in PRESETS if name in finished]


def recipe_variants(summaries: list[RunSummary]) -> list[RunSummary]:
    """The reference runs that trained a preset with some of its keys changed (book with horizontal
    dropout), to their end, in their presets' order."""
    return in_recipe_order([summary for summary in _complete(summaries) if not is_recipe(summary)])


def _complete(summaries: list[RunSummary]) -> list[RunSummary]:
    return [summary for summary in summaries if summary.is_reference and summary.state == "finished"
            and summary.reference.get("complete") is True and summary.config.get("preset") in PRESETS]


def is_recipe(summary: RunSummary) -> bool:
    """Whether a run trained its preset as the preset sets it: a run started from `book` with
    `dropout_placement=horizontal` keeps `preset: book` in its config but is another recipe."""
    preset = PRESETS.get(summary.config.get("preset"))
    return preset is not None and all(summary.config.get(key) == value for key, value in preset.changes.items())


def recipe_name(summary: RunSummary) -> str:
    """A recipe run by its preset, a variant by its own name (`book-horizontal`)."""
    return summary.config["preset"] if is_recipe(summary) else summary.config.get("name") or summary.id


def in_recipe_order(summaries: list[RunSummary]) -> list[RunSummary]:
    """Runs ordered as Start shows the recipes: the presets' own in the presets' order, then runs of a
    preset with a key changed (book with horizontal dropout), other runs last."""
    order = {name: i for i, name in enumerate(PRESETS)}
    return sorted(summaries, key=lambda s: (not is_recipe(s), order.get(s.config.get("preset"), len(order)), s.id))


def recipe_traits(config: dict) -> str:
    """'2x650, dropout 0.5 vertical, tied'; the placements with a recurrent mask add its ratio, the
    dropout's where dropout_recurrent is unset (QA round 29: book-horizontal's line did not say its
    recurrent path was masked at 0.5, variational-medium's said 0.25)."""
    dropout = config.get("dropout") or 0
    if dropout or config.get("dropout_recurrent"):
        where = f"dropout {dropout:g} {config.get('dropout_placement')}"
        recurrent = config.get("dropout_recurrent")
        if config.get("dropout_placement") in ("horizontal", "variational"):
            where += f" (recurrent {dropout if recurrent is None else recurrent:g})"
    else:
        where = "no dropout"
    tying = "tied" if config.get("tie_weights") else "untied"
    return f"{config.get('layers')}x{config.get('hidden_size')}, {where}, {tying}"


def recipe_line(summary: RunSummary) -> str:
    """'**book** (2x650, dropout 0.5 vertical, tied; 13.28M parameters): validation 79.9 / test 76.2
    after 40 epochs, 431 s on one NVIDIA H200 (eager steps, ...).' The time's conditions, from
    reference.json, because times measured eagerly and graphed, alone and sharing, sit side by side."""
    epochs = summary.status.get("epoch") or summary.config.get("epochs")
    params = f"; {ui.fmt_count(summary.params)} parameters" if summary.params else ""
    conditions = (summary.reference or {}).get("conditions")
    return (f"**{recipe_name(summary)}** ({recipe_traits(summary.config)}{params}): validation "
            f"{ui.fmt_ppl(summary.best_val)} / test {ui.fmt_ppl(summary.test)} after {epochs} epochs, "
            f"{summary.training_seconds:.0f} s on one {summary.device}{f' ({conditions})' if conditions else ''}.")


def recipe_comparisons(measured: list[RunSummary]) -> list[str]:
    """What the recipes say side by side, each against the first (the seed's, in the presets'
    order): a clean comparison where they differ only in dropout and tying, otherwise the keys
    that also differ, so a spread is not read as the effect of one change."""
    if len(measured) < 2:
        return []
    base, lines = measured[0], []
    for other in measured[1:]:
        keys = recipe_differences(base.config, other.config)
        scores = f"test {ui.fmt_ppl(other.test)} against {ui.fmt_ppl(base.test)}"
        names = f"**{recipe_name(other)}** differs from **{recipe_name(base)}**"
        if not keys:
            lines.append(f"{names} in nothing that changes what it learns: {scores}.")
        elif set(keys) <= LESSON_KEYS:
            lines.append(f"{names} only in {_listed(keys)}: {scores}: a clean comparison of "
                         "recipes, but of one seed each, so part of the gap may be luck.")
        else:
            lines.append(f"{names} in {len(keys)} keys ({_listed(keys)}): {scores}, its own recipe's result, "
                         "not the effect of one change.")
    return lines


def _listed(keys: list[str], most: int = 5) -> str:
    """'`a`', '`a` and `b`', '`a`, `b` and `c`', '`a`, ..., `e` and 4 more'."""
    return ui.and_join([f"`{key}`" for key in keys[:most]] + ([f"{len(keys) - most} more"] if len(keys) > most else []))


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


def validation_figure(runs: list[tuple[RunSummary, pd.DataFrame]], height: int = 380) -> go.Figure:
    """The validation perplexity by epoch of a few runs, each in its colour on every page (the Start
    page's), zoomed to where they part, each line's last value written at its end (QA round 8: on a
    180 px plot with no tick under 80, 76.7 and 79.9 could not be read off)."""
    figure, lows, last_epoch = go.Figure(), [], 0
    for style, (summary, frame) in zip(ui.run_styles([summary.id for summary, _ in runs]), runs):
        val = split(frame, "val")
        name = recipe_name(summary) if summary.config.get("preset") in PRESETS else summary.name
        figure.add_trace(go.Scatter(x=val["epoch"], y=val["ppl"], mode="lines+markers", name=name,
                                    line=dict(color=style.colour, dash=style.dash),
                                    marker=dict(size=6, symbol=style.symbol),  # at 4 px shapes looked alike
                                    hovertemplate=f"{name}, epoch %{{x}}: validation %{{y:.1f}}<extra></extra>"))
        if len(val):
            lows.append(float(val["ppl"].min()))
            last_epoch = max(last_epoch, int(val["epoch"].iloc[-1]))
            figure.add_annotation(x=val["epoch"].iloc[-1], y=val["ppl"].iloc[-1], text=f"{val['ppl'].iloc[-1]:.1f}",
                                  showarrow=False, xanchor="left", xshift=6, font=dict(color=style.colour, size=12))
    figure.update_layout(height=height, margin=dict(l=10, r=45, t=10, b=10), xaxis_title="epoch",
                         yaxis_title="validation perplexity", showlegend=len(runs) > 1,
                         legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0))
    if lows:
        # Where the recipes part: their first epochs (200 and more) would squash the last ones together.
        # An axis this short reads better linear, a line every 10, than with a log axis's few labels.
        low = min(lows)
        figure.update_yaxes(range=[low * 0.93, low * 2], dtick=10)
        figure.update_xaxes(range=[0.5, last_epoch + 0.5])
        apart(figure.layout.annotations, (low * 2 - low * 0.93) / (height - PLOT_CHROME_PX))
    return figure


LABEL_GAP_PX = 15    # a 12 px label's height and a little air
PLOT_CHROME_PX = 70  # what of the figure's height the margins, ticks and axis title take


def apart(labels, per_px: float) -> None:
    """Moves the end labels down, in pixels, where one would sit on another (book with horizontal
    dropout ends at 77.6, variational-medium at 76.7: one label hid the other). `per_px`: perplexity
    a pixel of the axis spans."""
    wanted = [label.y for label in labels]
    for label, y in zip(labels, spread(wanted, LABEL_GAP_PX * per_px)):
        label.yshift = round((y - label.y) / per_px)


def spread(values: list[float], gap: float) -> list[float]:
    """Where labels at `values` go so that none is within `gap` of another: from the top down, each
    at its own value or just below the one above it."""
    placed, above = {}, None
    for i in sorted(range(len(values)), key=lambda i: -values[i]):
        placed[i] = above = values[i] if above is None else min(values[i], above - gap)
    return [placed[i] for i in range(len(values))]
