"""An ablation grid as the Compare page shows it: one mean validation curve with a band per
cell, a table of each cell's mean ± sd, the CSV of every run with its cell, and the effects of
lmcore.effects.grid_effects as rows of a dot-and-interval chart.

Pure functions over run summaries, metrics frames and the effects report; the numbers are the
report's own (the same function `lmcore effects GROUP --json` prints), never recomputed here.
"""

from __future__ import annotations

import re

import pandas as pd

from explorer import compare, epochs, estimate
from explorer.compare import runs_table, table_csv
from explorer.metrics import split
from explorer.perplexity import format_ppl
from lmcore import ablation, data, effects, grid_export, grid_status, queue
from lmcore.effects import confidence_text, epoch_text, range_text, verdict_text

# The grid's progress and its runs' states and reasons are lmcore.grid_status's, so `lmcore effects`
# says them alike; the names the page and its tests use from here stay.
from lmcore.grid_status import (  # noqa: F401
    REASON_CHARS,
    STOPPED_HINT,
    UNFINISHED,
    cell_note,
    planned_runs,
    progress_text,
    short_reason,
    slot_counts,
    state_note,
)
from lmcore.text import and_join

MIN_MAX, ONE_SD = "min–max", "mean ± 1 sd"
BANDS = (MIN_MAX, ONE_SD)
METRIC_NAMES = {"best_val": "best val", "final_val": "final val", "test": "test"}
CELL_COLUMNS = ("cell", "finished", "best val", "final val", "best epoch", "test", "unfinished runs")
NO_ESTIMATE = "no estimate"  # a contrast with no finished run on a side (the report's verdict says "no interval")
NO_RUN = "no run: deleted, unreadable or never queued"   # a combination of the toggles' values that no run holds
MISSING_SHOWN = 4   # the missing combinations a note names; the rest are counted


# ---------------------------------------------------------------- queue counts
# QA: while a grid filled in, the sidebar said "0 running · 3 queued", the queue line "2 waiting ·
# 0 running" and the grid's line "3 queued or running": a run being launched is `queued` to the
# sidebar, neither waiting nor running to the queue line. Every count here is queue.counts() of
# the one listing the page read, in the sidebar's words (running, queued), and says what it counts.


def queue_text(stages: queue.Counts, at_a_time: int) -> str:
    """'Every run: **1** running · **3** queued (1 starting, 2 waiting) · the queue trains 1 at a time'."""
    detail = [f"{count} {name}" for name, count in (("starting", stages.starting), ("waiting", stages.waiting))
              if count]
    queued = f"**{stages.queued}** queued" + (f" ({', '.join(detail)})" if stages.starting else "")
    return f"Every run: **{stages.running}** running · {queued} · the queue trains {at_a_time} at a time"


def grid_label(entry: dict) -> str:
    """The grid selector's line (compare.grid_label) with the planned runs it lost: '... · 7 of 8 runs:
    1 missing', counted by planned (cell, seed) as the progress line counts them (slot_counts), so a
    same-seed copy that joined the grid does not hide a deleted run."""
    counted = slot_counts(entry)
    if not counted["missing"]:
        return compare.grid_label(entry)
    held = f"{counted['planned'] - counted['missing']} of {counted['planned']}"   # '· 7 runs' reads '· 7 of 8 runs'
    return compare.grid_label({**entry, "total": held}) + f": {counted['missing']} missing"


# ---------------------------------------------------------------- curves


def curve_runs(runs: list) -> list:
    """The runs a cell's curve is drawn from: the finished ones and those still queued or
    training. A failed or stopped seed is left out, as it is from the cell's numbers: its curve
    ends early and would end the cell's line there for good."""
    return [run for run in runs if run.state == "finished" or run.is_active]


def _val_lines(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    lines = [split(frame, "val")[["step", "ppl"]] for frame in frames if len(frame)]
    return [line for line in lines if len(line)]


def cell_curve(frames: list[pd.DataFrame], band: str = MIN_MAX) -> pd.DataFrame:
    """The validation curve of one cell's runs: per step the mean, the band's low and high
    (min-max, or mean ± 1 sd) and n, the runs validated at that step.

    Only up to the last step every run with a validation has reached: past it the mean would
    average fewer seeds, and jump where a running seed's curve ends. With n = 1 the band is the
    line itself."""
    columns = ["step", "mean", "low", "high", "n"]
    lines = _val_lines(frames)
    if not lines:
        return pd.DataFrame(columns=columns)
    reached = min(line["step"].max() for line in lines)
    steps = pd.concat(lines)
    by_step = steps[steps["step"] <= reached].groupby("step")["ppl"]
    out = by_step.agg(["mean", "min", "max", "std", "count"]).reset_index()
    if band == ONE_SD:
        spread = out["std"].fillna(0.0)  # one run: no sd, no band
        out["low"], out["high"] = out["mean"] - spread, out["mean"] + spread
    else:
        out["low"], out["high"] = out["min"], out["max"]
    return out.rename(columns={"count": "n"})[columns]


def curve_note(cells: dict[str, list[pd.DataFrame]]) -> str | None:
    """Which cells' lines stop short of their fastest seed, and where, and which leave out seeds
    with no validation yet: {label: the frames of its curve_runs}."""
    cut, waiting = [], []
    for label, frames in cells.items():
        lines = _val_lines(frames)
        last = sorted({int(line["step"].max()) for line in lines})
        if len(last) > 1:
            cut.append(f"{label} at step {last[0]:,} (its seeds have reached steps "
                       f"{', '.join(f'{step:,}' for step in last[:-1])} and {last[-1]:,})")
        if lines and len(lines) < len(frames):
            waiting.append(f"{label} ({len(frames) - len(lines)} of {len(frames)})")
    notes = []
    if cut:
        notes.append(f"A line stops where the slowest of its cell's seeds is, so its mean never drops a seed "
                     f"midway: {'; '.join(cut)}.")
    if waiting:
        notes.append(f"Seeds with no validation yet are not in their cell's line: {', '.join(waiting)}.")
    return " ".join(notes) or None


# ---------------------------------------------------------------- the cells table


def spread_text(described: dict, number=format_ppl, planned: int = 0) -> str:
    """lmcore.effects.spread_text with perplexities as every page writes them."""
    return effects.spread_text(described, number, planned)


def cells_frame(report: dict, runs: list = ()) -> pd.DataFrame:
    """One row per cell of the report: its label, finished of the runs the grid planned for it
    ('1 / 2 (1 missing)'), each metric's mean ± sd (n, 'of 2' when short of the plan), the best
    epoch's range, and why the rest of its runs are not counted (`runs`, the grid's run summaries:
    'both runs failed: diverged at step 21', 'no run of seed 2: deleted, unreadable or never queued'). A
    combination of the toggles' values with no run at all (report["missing"]) gets its row too."""
    by_id = {run.id: run for run in runs}
    lost = {entry["label"]: entry["seeds"] for entry in ablation.missing_seeds(list(runs))}
    per_cell = len(ablation.seeds(list(runs)))
    rows = [(cell["cell"], _cell_row(cell, [by_id[i] for i in cell["runs"] if i in by_id], lost.get(cell["label"], [])))
            for cell in report["cells"]]
    rows += [(gone["cell"], {"cell": gone["label"], "finished": _finished_text(0, per_cell, per_cell), "best val": "—",
                             "final val": "—", "best epoch": "—", "test": "—", "unfinished runs": NO_RUN})
             for gone in report.get("missing", [])]
    order = report.get("values", {})
    rows.sort(key=lambda pair: [order[key].index(value) for key, value in pair[0].items() if key in order])
    return pd.DataFrame([row for _, row in rows], columns=list(CELL_COLUMNS))


def cells_heading(runs: list) -> str:
    """The cells table's heading, saying what n counts and, with seeds, what 'of 2' means."""
    planned = len(ablation.seeds(runs))
    of = (f"; 'of {planned}' where fewer than the {planned} seeds planned finished" if planned > 1 else "")
    inside = any(run.state == "finished" and run.best_epoch_steps for run in runs)   # a capped run's, say
    epochs = ("; best epoch: the epochs trained at the best validation, a fraction where that came inside an "
              "epoch (1.1: a tenth into epoch 2)") if inside else ""
    return f"**Each cell**: mean ± sd over its finished runs (n{of}){epochs}"


def _cell_row(cell: dict, runs: list, lost: list[str]) -> dict:
    """A cell's row: `lost`, the grid's seeds it has no run of, count in what it planned; its finished
    seeds, not runs, as the grid's progress line counts them (a seed run twice is one)."""
    planned = cell.get("seeds", len(cell["runs"])) + len(lost)   # a seed run twice is planned once
    spread = {key: spread_text(cell[key], planned=planned) for key in ("best_val", "final_val", "test")}
    gone = (f"no run of seed{'s' if len(lost) > 1 else ''} {', '.join(lost)}: deleted, unreadable or never queued"
            if lost else "")
    seeds = {run.config.get("seed") for run in runs if run.state == "finished"}
    finished = len(seeds) if runs else len(cell["finished"])   # without the grid's runs, the report's
    return {"cell": cell["label"] or "(one cell)", "finished": _finished_text(finished, planned, len(lost)),
            "best val": spread["best_val"], "final val": spread["final_val"],
            "best epoch": range_text(cell["best_epoch"], planned), "test": spread["test"],
            "unfinished runs": ", ".join(filter(None, (cell_note(runs), gone)))}


def _finished_text(finished: int, planned: int, missing: int) -> str:
    """'2 / 3' (seeds finished of those planned), or '1 / 2 (1 missing)' where `missing` seeds have no run."""
    return f"{finished} / {planned}" + (f" ({missing} missing)" if missing else "")


def missing_note(report: dict, runs: list = ()) -> str | None:
    """Which runs the grid planned have none (whole combinations of the toggles' values, and the
    seeds a cell lacks, from `runs`, the grid's run summaries), and what that does to the numbers;
    None for a full grid."""
    gone = [entry["label"] for entry in report.get("missing", [])]
    short = ablation.missing_seeds(list(runs))
    if not gone and not short:
        return None
    named = gone + [f"{entry['label']} seed{'s' if len(entry['seeds']) > 1 else ''} {', '.join(entry['seeds'])}"
                    for entry in short]
    listed = "; ".join(named[:MISSING_SHOWN]) + (f"; and {len(named) - MISSING_SHOWN} more"
                                                 if len(named) > MISSING_SHOWN else "")
    whole = len(gone) + len(report["cells"])
    cells = (f" This grid has {len(report['cells'])} of its {whole} cells, so each effect compares only the "
             "combinations of the other toggles' values run on both of its sides (n counts the pairs), and an "
             "interaction needs all four of its cells.") if gone else ""
    them = "that cell" if len(short) == 1 else "those cells"
    seeds = (f" The numbers of {them} rest on the seeds left (n of the planned in the cells table), and a run "
             "whose partner of the same seed is gone is left out of the paired comparisons.") if short else ""
    return f"No run of {listed}: deleted, unreadable or never queued.{cells}{seeds}"


def runs_csv(members: list, table: pd.DataFrame | None = None) -> str:
    """Every run of the grid, one row each, with the label of its cell first: the raw numbers.
    `table` is runs_table(members) when the caller already built it (it is left unchanged)."""
    table = runs_table(members) if table is None else table
    cell_by_id = {summary.id: entry["label"] for entry in ablation.cells(members) for summary in entry["runs"]}
    cells = [cell_by_id.get(run_id, "") for run_id in table["id"]]
    return table_csv(table.assign(cell=cells)[["cell", *table.columns]])


# ---------------------------------------------------------------- effects


def effects_csv(rows: list[dict], best: list[dict] = ()) -> str:
    """The effects and interactions with their unrounded estimate, interval (and its confidence), n, df,
    method, what the pairs differ in and the verdict, for a paper's appendix: the page's table rounds them,
    and a researcher had to copy them by hand or run `lmcore effects --json` (QA round 12). Then one row per
    answer of `best` (the report's: which value of a toggle is best, lmcore.grid_export.best_rows)."""
    table = effect_rows(rows).drop(columns=["row", "reads"])
    answers = pd.DataFrame([{**item, "metric": METRIC_NAMES[item["metric"]]} for item in grid_export.best_rows(best)],
                           columns=table.columns)
    if not len(answers):
        return table.to_csv(index=False)
    # The answer rows' blank counts made pandas write n=2.0, df=1.0 (QA round 21): counts stay whole numbers.
    joined = pd.concat([table.astype({"df": object}), answers], ignore_index=True)
    return joined.astype({"n": "Int64", "left out": "Int64"}).to_csv(index=False)


def best_lines(report: dict) -> list[str]:
    """The answer to "which value is best" for each toggle with three or more values, on best
    validation (the CSV and `lmcore effects` have every metric)."""
    return [item["text"] for item in report.get("best", []) if item["metric"] == "best_val"]


def best_note(report: dict) -> str | None:
    """Why "No clear best" can stand above means far apart (QA round 21: 89.1 against 104.1 with 2 seeds):
    the intervals behind the line are adjusted, and few seeds make them wide; the comparisons of one pair
    have none. None when every line names a best, or no comparison has an interval."""
    unsure = [item for item in report.get("best", []) if item["metric"] == "best_val" and item["best"] is None]
    rows = [row for item in unsure for row in report["effects"]
            if row["toggle"] == item["toggle"] and row["metric"] == "best_val" and row["estimate"] is not None]
    wide = [row for row in rows if row["low"] is not None]
    if not unsure or not wide:
        return None
    # Per comparison (QA: 'over 2 pairs' stood above variational's comparisons of 1 pair, with no interval).
    lonely = [contrast_label(row) for row in rows if row["low"] is None]
    alone = (f"; {and_join(lonely)} rest{'s' if len(lonely) == 1 else ''} on one pair of runs, which gives no "
             "interval") if lonely else ""
    return (f"The line reads the {confidence_text(wide[0])} intervals below: a toggle's comparisons hold together at "
            f"95% only if each is that wide, and over {_counted(wide)} they are wide{alone}. A value far lower in "
            "the mean is called best only when every one of its comparisons says so; more seeds narrow them.")


def _counted(rows: list[dict]) -> str:
    """'2 pairs of runs', '2 to 3 pairs of runs', '4 runs' (Welch's n counts runs): what the intervals rest on."""
    ns = sorted({row["n"] for row in rows})
    many = f"{ns[0]}" if len(ns) == 1 else f"{ns[0]} to {ns[-1]}"
    methods = {row["method"] for row in rows}
    if methods == {"paired"}:
        return f"{many} pair{'' if ns == [1] else 's'} of runs"
    return f"{many} runs" if methods == {"welch"} else f"{many} pairs or runs"


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
    return f"{row['estimate']:+.1f} [{row['low']:+.1f}, {row['high']:+.1f}] · {verdict_text(row)}"


def dependence_notes(report: dict) -> list[str]:
    """'**vertical vs none** (best val): higher at every value of the other toggles ...' for each main
    effect on best validation whose change at each value of the other toggles says more than its pooled
    interval (lmcore.effects.dependence_note); the CSV has them for every metric."""
    return [f"**{contrast_label(row)}** ({METRIC_NAMES[row['metric']]}): {row['note']}"
            for row in report["effects"] if row.get("note") and row["metric"] == "best_val"]


def interaction_meaning(row: dict) -> str:
    """What an interaction's number is, in its own values: 'tied's change (true vs false) at lr=0.3, minus
    that change at lr=0.004: negative where tying does better (or less badly) at lr=0.3'. QA round 19: it
    was drawn under "lower is better" in green, read as a benefit."""
    (first, second), ((a0, a1), (b0, b1)) = row["toggles"], row["levels"]
    a, b = (ablation.SHORT.get(key, key) for key in (first, second))
    return (f"{b}'s change ({b1} vs {b0}) at {a}={a1}, minus that change at {a}={a0}: negative where {b}={b1} "
            f"does better (or less badly) at {a}={a1}; 0 where {b}'s change is the same at both.")


def chart_row(row: dict) -> str:
    """A chart row's label under a title that names the toggle(s) and its first value (chart_title):
    'true · best val', or just the metric for an interaction. Short, so a half-width chart at
    1024 px keeps room for its dots: 'horizontal vs vertical · best val' was cut to 'ntal vs ...'."""
    metric = METRIC_NAMES[row["metric"]]
    return f"{row['level']} · {metric}" if "toggle" in row else metric


def chart_title(toggle: str, reference: str, rows: list[dict] = ()) -> str:
    """'dropout_placement, each value vs none': what a main effect chart's rows are measured from, and
    '(98.3% intervals)' where its `rows` are Bonferroni-adjusted (a toggle with three or more values)."""
    adjusted = next((confidence_text(row) for row in rows if confidence_text(row)), "")
    return f"{toggle}, each value vs {reference}" + (f" ({adjusted} intervals)" if adjusted else "")


def effect_rows(rows: list[dict]) -> pd.DataFrame:
    """The report's effects (or interactions) as a table: one row per contrast and metric, in
    the report's order, with the numbers untouched, what its interval spans, the runs it left
    without a partner, and a label for the chart's axis."""
    out = [{"contrast": contrast_label(row), "metric": METRIC_NAMES[row["metric"]], "row": chart_row(row),
            "estimate": row["estimate"],
            "low": row["low"], "high": row["high"], "confidence": row.get("confidence"), "n": row["n"],
            "df": row["df"], "method": row["method"],
            "over": row.get("over"), "left out": row.get("left_out", 0),
            "verdict": row["verdict"] if row["estimate"] is not None else NO_ESTIMATE,
            "reads": interval_text(row), "note": row.get("note")} for row in rows]
    return pd.DataFrame(out, columns=["contrast", "metric", "row", "estimate", "low", "high", "confidence", "n", "df",
                                      "method", "over", "left out", "verdict", "reads", "note"])


# '(n=1 of 2)' and '(1 missing)' wrap whole: QA-style screenshots had '1 (n=1 of' over '2)'.
KEEP_TOGETHER = re.compile(r"\(n=\d+ of \d+\)|\(\d+ missing\)")
EFFECT_COLUMNS = ("contrast", "metric", "estimate", "low", "high", "verdict", "n", "method", "over")
NBSP = "\u00a0"


def _text(value, form: str) -> str:
    return "—" if value is None or pd.isna(value) else format(value, form)


def effects_table(rows: list[dict]) -> pd.DataFrame:
    """effect_rows as the page's table shows them, narrow enough for a 1024 px projector beside
    the sidebar (QA: eleven columns scrolled the verdict off-screen): the verdict beside the
    numbers it reads, each number as text with its sign; a run left out joins n ('6 (1 left out)'),
    the degrees of freedom join the method ('paired, df 5', Welch's 'welch, df 3.7'), and so does an
    interval's confidence where it is not 95% ('paired, df 1, 98.3%': one of a toggle's comparisons)."""
    table = effect_rows(rows)
    signed = {name: table[name].map(lambda v: _text(v, "+.2f")) for name in ("estimate", "low", "high")}
    counts = [f"{n}" + (f" ({left} left{NBSP}out)" if left else "") for n, left in zip(table["n"], table["left out"])]
    methods = [_method_text(row) for row in rows]
    verdicts = [verdict_text(row) if row["estimate"] is not None else NO_ESTIMATE for row in rows]
    return table.assign(**signed, n=counts, method=methods, over=table["over"].fillna("—"),
                        verdict=verdicts)[list(EFFECT_COLUMNS)]


def _method_text(row: dict) -> str:
    """'paired, df 5', 'welch, df 3.7', 'paired, df 1, 98.3%' (an adjusted interval), '—' (no estimate)."""
    parts = [_text(row["method"], "")]
    if row["method"] and row["df"] is not None:
        parts.append(f"df{NBSP}{_df(row['df'])}")
    if row["low"] is not None and confidence_text(row):
        parts.append(confidence_text(row))
    return ", ".join(parts)


def _df(df: float) -> str:
    """Degrees of freedom: a pair count's whole (it read 'df 1.0', QA round 11), Welch's to a tenth,
    as epoch_text writes a mean of epochs."""
    return epoch_text(df)


def cells_table(frame: pd.DataFrame) -> pd.DataFrame:
    """cells_frame as the page's table shows it, narrow enough for a 1024 px projector: a mean and
    its sd wrap apart ('132.7' over '± 14.6'), never inside either (QA: '132.7 ±' over '14.6'), and
    the note column goes while every run finished, as it would be empty."""
    shown = frame.map(lambda text: KEEP_TOGETHER.sub(lambda m: m[0].replace(" ", NBSP),
                                                     text.replace(" ± ", f" ±{NBSP}").replace(" / ", f"{NBSP}/{NBSP}")))
    return shown if frame["unfinished runs"].astype(bool).any() else shown.drop(columns="unfinished runs")


def pairing_note(report: dict) -> str | None:
    """Which effects left runs out for want of a partner, with the pairs they used (best validation's
    rows: the other metrics pair the same runs); None when every finished run was paired."""
    short = [row for row in report["effects"] + report["interactions"]
             if row["metric"] == "best_val" and row["estimate"] is not None and row.get("left_out")]
    if not short:
        return None
    parts = [f"{contrast_label(row)} on {row['n']} {_unit(row)} ({row['left_out']} run"
             f"{'s' if row['left_out'] != 1 else ''} left out)" for row in short]
    return ("Some runs lack a partner with the same seed and other toggles' values (missing, or not finished), "
            f"so they are left out of the comparison: {'; '.join(parts)}.")


def _unit(row: dict) -> str:
    if row["method"] == "paired":
        return "pair" if row["n"] == 1 else "pairs"
    return "run" if row["n"] == 1 else "runs"


def effects_of(report: dict, toggle: str) -> list[dict]:
    """A toggle's effects from its first value (its chart's rows); the comparisons between two of its other
    values are in the table and the best line, not on a chart titled 'each value vs' the first."""
    return [row for row in report["effects"] if row["toggle"] == toggle and row["reference"] == report["values"][
        toggle][0]]


def interactions_by_pair(report: dict) -> dict[tuple, list[dict]]:
    """{(toggle a, toggle b): its interaction rows, one per metric}."""
    out: dict[tuple, list[dict]] = {}
    for row in report["interactions"]:
        out.setdefault(tuple(row["toggles"]), []).append(row)
    return out


# What to do for an interval about runs that did not finish, by where they stand; `{who}`: the partners a
# contrast left out, or the grid's planned runs. A deleted partner cannot be resumed, as the caption once
# told a user to (QA).
GOING, ENDED, MISSING = ("let the {who} still queued or training finish",
                         "finish the {who} that failed or stopped (Resume or Start over on Train)",
                         "train again the {who} that are missing (deleted, unreadable or never queued: there is "
                         "nothing to resume)")
# The same, by why a contrast's runs were left out (grid_status.left_out_reasons).
REMEDIES = (({"partner failed", "partner broken", "partner stopped"}, ENDED),
            ({"partner still training", "partner queued"}, GOING), ({grid_status.NO_PARTNER}, MISSING))


def unfinished_remedies(counted: dict) -> list[str]:
    """What to do about a grid's planned runs that have not finished (grid_status.slot_counts), by where
    they stand: their own remedies, before any advice to run more seeds."""
    return [remedy for count, remedy in ((counted["running"] + counted["queued"], GOING.format(who="runs")),
                                         (counted["failed_or_stopped"], ENDED.format(who="runs")),
                                         (counted["missing"], MISSING.format(who="planned runs"))) if count]


def no_interval_note(rows: list[dict], runs: list = (), toggled: list[str] = ()) -> str | None:
    """Why some rows have no interval, in words, or None when they all have one. Where runs were left out
    for want of a partner, what to do about it, by why (the rows' left_out_reasons, else worked out from
    `runs`, the grid's run summaries, and `toggled`, its toggles)."""
    lonely = [row for row in rows if row["estimate"] is not None and row["low"] is None]
    if not lonely:
        return None
    reasons: set[str] = set()
    for row in (row for row in lonely if row.get("left_out")):
        found = row.get("left_out_reasons") or (runs and grid_status.left_out_reasons(row, list(runs), list(toggled)))
        reasons.update(found or {""})   # "": why is not known here
    # A grid of 2 seeds with one failed run was told to run more seeds (QA round 11): its run to
    # finish was the remedy.
    steps = [remedy.format(who="partners") for states, remedy in REMEDIES if states & reasons]
    if "" in reasons and not steps:
        steps = ["finish or train again the partners left out"]
    if not steps and runs:   # no run left out, but planned ones unfinished: those first (QA round 28)
        steps = unfinished_remedies(grid_status.slot_counts(grid_status.entry("", list(runs))))
    remedy = (f"{'; '.join(steps)}, or run more seeds per cell," if steps else "run more seeds per cell")
    return ("No interval where a side has one finished run (one pair, or fewer than two runs on a "
            f"side): the dot is that single difference. {remedy[0].upper()}{remedy[1:]} for an interval.")


def has_estimate(rows: list[dict]) -> bool:
    """Whether any of these contrasts has a number to draw."""
    return any(row["estimate"] is not None for row in rows)


def first_estimate_note(report: dict, runs: list, ended: bool) -> str:
    """Why no effect has a number yet, and what the first one needs: the cells without a
    finished run, each with why (cell_note)."""
    need = "an effect needs a finished run on both sides of its toggle" + (
        " (an interaction: in all four of its cells)" if report["interactions"] else "")
    if not report["finished"]:
        return (f"No run of this grid finished, so there is no effect to estimate: {need}." if ended else
                f"Effects appear here once runs of this grid finish: {need}.")
    by_id = {run.id: run for run in runs}
    empty = [f"{cell['label']} — {cell_note([by_id[i] for i in cell['runs'] if i in by_id]) or 'no runs'}"
             for cell in report["cells"] if not cell["finished"]]
    if not empty:   # finished runs, but none with the numbers compared
        return f"No effect has an estimate{'' if ended else ' yet'}: {need}, with a validation."
    shown = "; ".join(empty[:3]) + (f"; and {len(empty) - 3} more" if len(empty) > 3 else "")
    return (f"No effect has an estimate{'' if ended else ' yet'}: {need}, and "
            f"{'these cells have' if len(empty) > 1 else 'this cell has'} none{'' if ended else ' yet'}: {shown}.")


def undrawn_note(titles: list[str], ended: bool = False) -> str | None:
    """The contrasts left out of the charts because they have no number (yet, while runs go on:
    an ended grid, or one whose cell was deleted, will not get one)."""
    if not titles:
        return None
    return (f"Not drawn, no estimate{'' if ended else ' yet'}: {', '.join(titles)} (no combination of the other "
            "toggles' values has a finished run on every side; the table below lists them).")


# ---------------------------------------------------------------- the form's estimate
# QA round 10: Train's set-up said how many steps and how long before Start; the grid form, which
# queues many runs at once, said neither. The steps and speeds are Train's (data.planned_steps,
# explorer.estimate), so the two pages agree on a run.


def grid_estimate(cells: list, seeds: int, summaries: list, device: str) -> list[tuple[str, str]]:
    """("caption" or "warning", text) lines: the runs, the steps each trains and in all, and about
    how long they take here one after another, from the measured speeds of earlier runs of each
    cell's shape on `device` (explorer.estimate); [] when a cell's corpus cannot be counted."""
    steps = [_steps(cell) for cell in cells]
    if not cells or None in steps:
        return []
    runs = len(cells) * seeds
    each = (f"{steps[0]:,}" if len(set(steps)) == 1 else f"{min(steps):,} to {max(steps):,}")
    lines = [("caption", f"{'Each of the ' + str(runs) + ' runs trains' if runs > 1 else 'The run trains'} about "
                         f"**{each}** steps (as Train counts them: {_per_epoch(cells[0])}), "
                         f"**{sum(steps) * seeds:,}** steps in all.")]
    return lines + _time_lines(cells, steps, seeds, summaries, device)


def _steps(cell) -> int | None:
    tokens = epochs.train_tokens(cell)
    return data.planned_steps(cell, tokens)[1] if tokens else None


def _per_epoch(cell) -> str:
    per_epoch = data.planned_steps(cell, epochs.train_tokens(cell))[0]
    cap = f", capped at {cell.max_steps:,}" if cell.max_steps else ""
    return f"{per_epoch:,} per epoch × {cell.epochs} epoch{'s' if cell.epochs != 1 else ''}{cap}"


def _time_lines(cells: list, steps: list[int], seeds: int, summaries: list, device: str) -> list[tuple[str, str]]:
    """The time of the cells whose shape has a measured speed here, and for the rest what Train's
    estimate says of their runs (a GPU-sized model on a CPU), or that nothing timed them."""
    seconds, timed, unmeasured = 0.0, [], []
    for cell, count in zip(cells, steps):
        config = cell.to_dict()
        measured = estimate.measured_speed(config, summaries, device)
        if measured:
            seconds += seeds * count * cell.batch_size * cell.bptt / measured[0]
            timed.append(measured[1])
        else:
            unmeasured.append((cell, count))
    lines = []
    if seconds:
        part = f"the {len(cells) - len(unmeasured)} of {len(cells)} cells timed" if unmeasured else "all"
        kind = "warning" if seconds > 3600 else "caption"
        lines.append((kind, f"About **{estimate.rough_duration(seconds)}** of training for {part}, one run after "
                            f"another: each cell's runs at the median pace of the earlier runs of its shape on this "
                            f"machine's {device} ({_runs_each(timed)}), over their whole training time (evaluations "
                            "and saves included; runs that trained alone first). Runs at once share the "
                            "machine, so more at a time rarely finishes sooner."))
    notes = [(cell, estimate.time_note(cell.to_dict(), count * seeds, summaries, device)) for cell, count in unmeasured]
    lines += [(note[0], f"{cell.name}, its {seeds} run{'s' if seeds != 1 else ''}: {note[1]}")
              for cell, note in notes[:2] if note]   # Train's own estimate where it has one (a GPU-sized model)
    silent = [cell.name for cell, note in notes if not note]
    if silent:
        names = ", ".join(silent[:3]) + (f" and {len(silent) - 3} more" if len(silent) > 3 else "")
        lines.append(("caption", f"No time estimate for {names}: no run of {'its' if len(silent) == 1 else 'their'} "
                                 f"shape has trained on this machine's {device} yet."))
    return lines


def _runs_each(counts: list[int]) -> str:
    """'1 run for each cell', '2 to 5 runs a cell': the runs each timed cell's speed is the median of
    (cells of one shape share their runs, so the counts are not added)."""
    low, high = min(counts), max(counts)
    return f"{low} run{'s' if low != 1 else ''} for each cell" if low == high else f"{low} to {high} runs a cell"
