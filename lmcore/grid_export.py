"""The cells of an ablation grid as a CSV a paper's table can use: one row per cell with its toggles'
values, and per metric n, mean, sd and the 95% interval of the mean, unrounded (lmcore.effects's
cell stats, never recomputed), the seeds its numbers rest on and the runs left out of them.

Compare's Ablation grids view offers it ("CSV of the cells") and `lmcore effects GROUP --cells-csv`
prints it: the page's table and the text report show mean ± sd only, and the interval was in
`effects --json` alone (QA round 19, P3). Also the effects CSV's answer rows (best_rows): which value of a
toggle with three or more values is best.
"""

from __future__ import annotations

import csv
import io

from . import ablation
from .effects import METRICS

STATS = ("n", "mean", "sd", "low", "high")   # lmcore.stats.describe's, low/high the 95% interval of the mean
# After the toggles' columns: the runs the cell holds, finished (its numbers' runs), unfinished (queued,
# running, failed, stopped, broken) and missing (planned but deleted, unreadable or never queued).
TAIL = ("best_epoch_min", "best_epoch_max", "seeds", "runs", "finished", "unfinished", "missing")


def columns(toggles: list[str]) -> list[str]:
    return ["cell", *toggles, *(f"{metric}_{stat}" for metric in METRICS for stat in STATS), *TAIL]


def cells_rows(report: dict, runs: list) -> list[dict]:
    """One dict per cell of `report` (lmcore.effects.grid_effects of `runs`), in its order, then one
    per combination of the toggles' values with no run at all (report["missing"])."""
    seed_of = {run.id: run.config.get("seed") for run in runs}
    lost = {entry["label"]: len(entry["seeds"]) for entry in ablation.missing_seeds(list(runs))}
    rows = []
    for cell in report["cells"]:
        # each seed once: two runs of one seed are one, their mean (effects.cell_table)
        seeds = sorted({seed_of.get(run_id) for run_id in cell["finished"]}, key=ablation._order)  # as seeds() sorts
        rows.append({"cell": cell["label"], **cell["cell"], **_stats(cell),
                     "best_epoch_min": cell["best_epoch"]["min"], "best_epoch_max": cell["best_epoch"]["max"],
                     "seeds": " ".join(ablation._short(seed) for seed in seeds if seed is not None),
                     "runs": len(cell["runs"]),
                     "finished": len(cell["finished"]), "unfinished": len(cell["runs"]) - len(cell["finished"]),
                     "missing": lost.get(cell["label"], 0)})
    per_cell = len(ablation.seeds(list(runs))) or 1
    rows += [{"cell": gone["label"], **gone["cell"], **{f"{metric}_n": 0 for metric in METRICS}, "runs": 0,
              "finished": 0, "unfinished": 0, "missing": per_cell} for gone in report.get("missing", [])]
    return rows


def _stats(cell: dict) -> dict:
    return {f"{metric}_{stat}": cell[metric][stat] for metric in METRICS for stat in STATS}


def best_rows(best: list[dict]) -> list[dict]:
    """The answers of a report's `best` (lmcore.effects.best_values) as rows of the effects CSV, after its
    contrasts: contrast 'best placement', the metric, the verdict (the best value, or 'no clear best') and
    the answer line as the note, which gives the margins and intervals it rests on."""
    return [{"contrast": f"best {ablation.SHORT.get(item['toggle'], item['toggle'])}", "metric": item["metric"],
             "verdict": item["best"] or "no clear best", "note": item["text"]} for item in best]


def cells_csv(report: dict, runs: list) -> str:
    """cells_rows as CSV text: unrounded numbers, an empty field where a cell has none (no finished
    run, or no sd and interval from one run)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns(report["toggles"]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(cells_rows(report, runs))
    return out.getvalue()
