"""An ablation grid as the Compare page shows it: one mean validation curve with a band per
cell, a table of each cell's mean ± sd, the CSV of every run with its cell, and the effects of
lmcore.effects.grid_effects as rows of a dot-and-interval chart.

Pure functions over run summaries, metrics frames and the effects report; the numbers are the
report's own (the same function `lmcore effects GROUP --json` prints), never recomputed here.
"""

from __future__ import annotations

import pandas as pd

from explorer.compare import runs_table, table_csv
from explorer.metrics import split
from explorer.perplexity import format_ppl
from lmcore import ablation
from lmcore.effects import epoch_text

MIN_MAX, ONE_SD = "min–max", "mean ± 1 sd"
BANDS = (MIN_MAX, ONE_SD)
METRIC_NAMES = {"best_val": "best val", "final_val": "final val", "test": "test"}
CELL_COLUMNS = ("cell", "finished", "best val", "final val", "best epoch", "test")


# ---------------------------------------------------------------- curves


def cell_curve(frames: list[pd.DataFrame], band: str = MIN_MAX) -> pd.DataFrame:
    """The validation curve of one cell's runs: per step the mean, the band's low and high
    (min-max, or mean ± 1 sd) and n, the runs that have reached that step.

    A step only some runs have reached (a run still training) has a smaller n; with n = 1 the
    band is the line itself."""
    columns = ["step", "mean", "low", "high", "n"]
    lines = [split(frame, "val")[["step", "ppl"]] for frame in frames if len(frame)]
    lines = [line for line in lines if len(line)]
    if not lines:
        return pd.DataFrame(columns=columns)
    by_step = pd.concat(lines).groupby("step")["ppl"]
    out = by_step.agg(["mean", "min", "max", "std", "count"]).reset_index()
    if band == ONE_SD:
        spread = out["std"].fillna(0.0)  # one run: no sd, no band
        out["low"], out["high"] = out["mean"] - spread, out["mean"] + spread
    else:
        out["low"], out["high"] = out["min"], out["max"]
    return out.rename(columns={"count": "n"})[columns]


# ---------------------------------------------------------------- the cells table


def spread_text(described: dict, number=format_ppl) -> str:
    """'81.2 ± 0.9 (n=3)', '81.2 (n=1)' (no sd from one run), '—' (no finished run); `number` writes
    the mean (epoch_text for epochs: '2 (n=1)', not '2.0')."""
    if described["mean"] is None:
        return "—"
    sd = f" ± {described['sd']:.1f}" if described["sd"] is not None else ""
    return f"{number(described['mean'])}{sd} (n={described['n']})"


def cells_frame(report: dict) -> pd.DataFrame:
    """One row per cell of the report: its label, finished of its runs ('2 / 3') and each
    metric's mean ± sd (n)."""
    rows = [{"cell": cell["label"] or "(one cell)", "finished": f"{len(cell['finished'])} / {len(cell['runs'])}",
             "best val": spread_text(cell["best_val"]), "final val": spread_text(cell["final_val"]),
             "best epoch": spread_text(cell["best_epoch"], epoch_text), "test": spread_text(cell["test"])}
            for cell in report["cells"]]
    return pd.DataFrame(rows, columns=list(CELL_COLUMNS))


def runs_csv(members: list, table: pd.DataFrame | None = None) -> str:
    """Every run of the grid, one row each, with the label of its cell first: the raw numbers.
    `table` is runs_table(members) when the caller already built it (it is left unchanged)."""
    table = runs_table(members) if table is None else table
    cell_by_id = {summary.id: entry["label"] for entry in ablation.cells(members) for summary in entry["runs"]}
    cells = [cell_by_id.get(run_id, "") for run_id in table["id"]]
    return table_csv(table.assign(cell=cells)[["cell", *table.columns]])


# ---------------------------------------------------------------- effects


def contrast_label(row: dict) -> str:
    """'tied=true vs false' for a main effect, 'placement × tied' for an interaction."""
    if "toggle" in row:
        return f"{ablation.SHORT.get(row['toggle'], row['toggle'])}={row['level']} vs {row['reference']}"
    return " × ".join(ablation.SHORT.get(key, key) for key in row["toggles"])


def interval_text(row: dict) -> str:
    """'-3.1 [-4.0, -2.2] · lower', '+0.4 · no interval', 'no finished runs'."""
    if row["estimate"] is None:
        return "no finished runs"
    if row["low"] is None:
        return f"{row['estimate']:+.1f} · no interval"
    return f"{row['estimate']:+.1f} [{row['low']:+.1f}, {row['high']:+.1f}] · {row['verdict']}"


def chart_row(row: dict) -> str:
    """A chart row's label under a title that names the toggle(s): 'true vs false · best val', or
    just the metric for an interaction."""
    metric = METRIC_NAMES[row["metric"]]
    return f"{row['level']} vs {row['reference']} · {metric}" if "toggle" in row else metric


def effect_rows(rows: list[dict]) -> pd.DataFrame:
    """The report's effects (or interactions) as a table: one row per contrast and metric, in
    the report's order, with the numbers untouched and a label for the chart's axis."""
    out = [{"contrast": contrast_label(row), "metric": METRIC_NAMES[row["metric"]], "row": chart_row(row),
            "estimate": row["estimate"],
            "low": row["low"], "high": row["high"], "n": row["n"], "df": row["df"], "method": row["method"],
            "verdict": row["verdict"], "reads": interval_text(row)} for row in rows]
    return pd.DataFrame(out, columns=["contrast", "metric", "row", "estimate", "low", "high", "n", "df", "method",
                                      "verdict", "reads"])


def effects_of(report: dict, toggle: str) -> list[dict]:
    return [row for row in report["effects"] if row["toggle"] == toggle]


def interactions_by_pair(report: dict) -> dict[tuple, list[dict]]:
    """{(toggle a, toggle b): its interaction rows, one per metric}."""
    out: dict[tuple, list[dict]] = {}
    for row in report["interactions"]:
        out.setdefault(tuple(row["toggles"]), []).append(row)
    return out


def no_interval_note(rows: list[dict]) -> str | None:
    """Why some rows have no interval, in words, or None when they all have one."""
    lonely = [row for row in rows if row["estimate"] is not None and row["low"] is None]
    if not lonely:
        return None
    return ("No interval where a side has one finished run (one pair, or fewer than two runs on a "
            "side): the dot is that single difference. Run more seeds per cell for an interval.")

