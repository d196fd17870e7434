"""What each toggle of an ablation grid did, with 95% intervals across seeds.

A grid's finished runs become observations (cell, seed, and the run summary's best and final
validation and test perplexity). A toggle's main effect on a metric is the mean change from its first value to
each other value, paired within (the other toggles' values, seed) over the combinations both
sides hold: a deleted or unfinished run leaves its partners out, never pits one combination of
the other toggles against another (stats.METHOD says it in words). Any two toggles with two
values each also get their interaction, the difference of differences. With one seed per cell
the pairs differ only in the other toggles' values, and noise_note says so.

A toggle the configs leave no way to act (ablation.inert_toggles: placement with dropout 0, say)
trains the same model in its cells: its contrasts read INERT, never "within noise", and the
report lists the findings under "inert".
"""

from __future__ import annotations

import itertools
import math

from . import stats
from .ablation import cell_label, cell_of, cells, inert_toggles, levels, missing_cells, toggles

METRICS = ("best_val", "final_val", "test")
INERT = "no way to act"   # the verdict of a contrast between cells that train the same model
# A contrast with no run on one of its sides; only read (spread into each result), never mutated.
NO_RESULT = {"estimate": None, "low": None, "high": None, "n": 0, "df": None, "method": None, "over": None,
             "left_out": 0}


def observations(summaries: list, toggled: list[str]) -> list[dict]:
    """One dict per finished run (summaries.RunSummary): id, cell, seed and its results."""
    return [{"id": s.id, "cell": cell_of(s, toggled), "seed": s.config.get("seed"), "best_val": s.best_val,
             "final_val": s.final_val, "best_epoch": s.best_epochs_trained, "test": s.test}
            for s in summaries if s.state == "finished"]


def _by_key(observed: list[dict], metric: str, match: dict, keys: list[str]) -> dict:
    """{(values of `keys`, seed): [metric values]} of the observations whose cell has `match`."""
    out: dict = {}
    for item in observed:
        if item[metric] is None or any(item["cell"][k] != v for k, v in match.items()):
            continue
        out.setdefault((tuple(item["cell"][k] for k in keys), item["seed"]), []).append(item[metric])
    return out


def _runs(side: dict) -> int:
    return sum(len(values) for values in side.values())


def _over(keys: list[tuple]) -> str | None:
    """What the numbers behind an interval differ in, from their (other toggles' values, seed) keys:
    with one seed per cell the spread is the other toggles', not seed-to-seed noise."""
    if len(keys) < 2:
        return None
    parts = [name for name, count in (("seeds", len({seed for _, seed in keys})),
                                      ("other toggles' values", len({where for where, _ in keys}))) if count > 1]
    return " and ".join(parts) or "repeats of one seed"


def _compare(sides: list[tuple[float, dict]]) -> dict:
    """sum(sign * metric) over the sides, each {(other toggles' values, seed): [values]}.

    Paired over the keys every side holds (the mean where a key has more than one run): a key
    missing on one side, a deleted or unfinished run, leaves its partners out rather than pitting
    different combinations of the other toggles against each other. With no key in common (seeds
    that never match), Welch's contrast of the runs in the combinations every side holds; with none
    of those either, no estimate."""
    runs = sum(_runs(side) for _, side in sides)
    common = set.intersection(*(set(side) for _, side in sides))
    if common:
        keys = sorted(common, key=repr)
        found = stats.paired([math.fsum(sign * stats.mean(side[key]) for sign, side in sides) for key in keys])
        used = sum(len(side[key]) for _, side in sides for key in keys)
    else:
        shared = set.intersection(*({where for where, _ in side} for _, side in sides))
        if not shared:
            return NO_RESULT
        kept = [(sign, {key: values for key, values in side.items() if key[0] in shared}) for sign, side in sides]
        found = stats.contrast([(sign, _flat(side)) for sign, side in kept])
        keys, used = [key for _, side in kept for key in side], sum(_runs(side) for _, side in kept)
    return {**found, "over": _over(keys), "left_out": runs - used}


def _flat(side: dict) -> list[float]:
    return [value for values in side.values() for value in values]


def main_effect(observed: list[dict], toggled: list[str], toggle: str, reference: str, level: str,
                metric: str) -> dict:
    """Mean of metric(level) - metric(reference), paired over the combinations both sides hold."""
    others = [k for k in toggled if k != toggle]
    before, after = (_by_key(observed, metric, {toggle: value}, others) for value in (reference, level))
    found = _compare([(-1.0, before), (1.0, after)]) if before and after else NO_RESULT
    return {"toggle": toggle, "level": level, "reference": reference, "metric": metric, **found,
            "verdict": stats.verdict(found)}


def interaction(observed: list[dict], toggled: list[str], first: tuple, second: tuple, metric: str) -> dict:
    """(a1 b1 - a1 b0) - (a0 b1 - a0 b0) for two two-valued toggles, `first` = (key, [a0, a1])."""
    (key_a, (a0, a1)), (key_b, (b0, b1)) = first, second
    others = [k for k in toggled if k not in (key_a, key_b)]
    corners = [(sign, _by_key(observed, metric, {key_a: a, key_b: b}, others))
               for sign, a, b in ((1.0, a1, b1), (-1.0, a1, b0), (-1.0, a0, b1), (1.0, a0, b0))]
    found = _compare(corners) if all(side for _, side in corners) else NO_RESULT
    return {"toggles": [key_a, key_b], "levels": [[a0, a1], [b0, b1]], "metric": metric, **found,
            "verdict": stats.verdict(found)}


def effect_table(observed: list[dict], toggled: list[str], values: dict[str, list[str]]) -> dict:
    """Main effects of every toggle (each value vs the first) and the interaction of every
    pair of two-valued toggles, on every metric. `values` = {toggle: its values, reference first}."""
    main = [main_effect(observed, toggled, key, values[key][0], level, metric)
            for key in toggled for level in values[key][1:] for metric in METRICS]
    two_valued = [(key, values[key]) for key in toggled if len(values[key]) == 2]
    pairs = [interaction(observed, toggled, first, second, metric)
             for first, second in itertools.combinations(two_valued, 2) for metric in METRICS]
    return {"effects": main, "interactions": pairs}


def cell_table(observed: list[dict], grid_cells: list[dict]) -> list[dict]:
    """Per cell: its runs and, per metric (and the best epoch), mean, sd, n and interval."""
    rows = []
    for entry in grid_cells:
        mine = [item for item in observed if cell_label(item["cell"]) == entry["label"]]
        rows.append({"cell": entry["cell"], "label": entry["label"], "runs": [s.id for s in entry["runs"]],
                     "finished": [item["id"] for item in mine],
                     **{metric: stats.describe([item[metric] for item in mine if item[metric] is not None])
                        for metric in METRICS + ("best_epoch",)}})
    return rows


def grid_effects(summaries: list, group: str = "") -> dict:
    """The whole report for one grid's runs (summaries.RunSummary, any state; only finished
    runs are counted). `missing` lists the combinations of its toggles' values no run holds;
    `noise` says when no cell has finished with two seeds (seed-to-seed noise unmeasured), and
    `method` then ends with it."""
    grid_cells = cells(summaries)
    toggled = toggles([s.config for s in summaries])
    observed = observations(summaries, toggled)
    values = {key: levels(summaries, key) for key in toggled}
    inert = inert_toggles([s.config for s in summaries])
    table = effect_table(observed, toggled, values)
    for row in table["effects"] + table["interactions"]:
        if _cannot_act(row, inert):
            row["verdict"] = INERT
    noise = noise_note(observed, table["effects"] + table["interactions"])
    return {"group": group, "method": " ".join(filter(None, (stats.METHOD, noise))), "noise": noise,
            "confidence": stats.CONFIDENCE, "toggles": toggled, "values": values, "runs": len(summaries),
            "finished": len(observed), "cells": cell_table(observed, grid_cells), "missing": missing_cells(summaries),
            **table, "inert": inert}


def seeds_repeated(observed: list[dict]) -> bool:
    """Whether some cell finished with two or more seeds: only then do the intervals hold
    seed-to-seed noise."""
    seeds: dict[str, set] = {}
    for item in observed:
        seeds.setdefault(cell_label(item["cell"]), set()).add(item["seed"])
    return any(len(found) > 1 for found in seeds.values())


def noise_note(observed: list[dict], rows: list[dict]) -> str | None:
    """What the numbers cannot tell when no cell has two seeds, or None: with one seed per cell an
    interval spans the other toggles' values, and nothing measures how much a second seed would move
    a result."""
    if seeds_repeated(observed) or not any(row["estimate"] is not None for row in rows):
        return None
    spans = (" Each interval is over the other toggles' values (how much the effect changed with them), "
             "not over seeds.") if any(row["low"] is not None for row in rows) else ""
    return ("No cell has finished runs with more than one seed, so seed-to-seed noise was not measured: a "
            f"difference may be noise.{spans} Queue the grid with 3 or more seeds per cell to measure it.")


def epoch_text(value) -> str:
    """An epoch, or a mean of epochs over seeds: '3', '2.5', '—' (none): epochs are counted whole."""
    if value is None:
        return "—"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def spread_text(described: dict, number=lambda value: f"{value:.1f}", planned: int = 0) -> str:
    """'81.2 ± 0.9 (n=3)', '81.2 (n=1)' (no sd from one run), '—' (no finished run); '143.9 (n=1
    of 2)' where fewer than the `planned` runs of its cell are in it (deleted, or not finished).
    The grid page and `lmcore effects` write a cell alike."""
    if described["mean"] is None:
        return "—"
    sd = f" ± {described['sd']:.1f}" if described["sd"] is not None else ""
    return f"{number(described['mean'])}{sd} ({_n(described, planned)})"


def _n(described: dict, planned: int) -> str:
    return f"n={described['n']}" + (f" of {planned}" if planned > described["n"] else "")


def range_text(described: dict, planned: int = 0) -> str:
    """Best epochs (epochs trained at the best validation: whole at an epoch's end, 1.1 a tenth into
    epoch 2) as their range, not a mean ± sd: '4 (n=2)' when the seeds agree, '3–5 (n=3)' when they
    differ, '—' (no finished run); 'of 2' as spread_text has it."""
    if described["mean"] is None:
        return "—"
    low, high = (epoch_text(described[key]) for key in ("min", "max"))
    return f"{low if low == high else f'{low}–{high}'} ({_n(described, planned)})"


def _cannot_act(row: dict, inert: list[dict]) -> bool:
    """A main effect whose two values train alike in every cell, or an interaction with a toggle
    that acts nowhere."""
    if "toggle" in row:
        return any(f["toggle"] == row["toggle"] and (f["kind"] == "everywhere" or f["kind"] == "levels"
                                                     and f["levels"] == [row["reference"], row["level"]])
                   for f in inert)
    return any(f["toggle"] in row["toggles"] and f["kind"] == "everywhere" for f in inert)
