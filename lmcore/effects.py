"""What each toggle of an ablation grid did, with 95% intervals across seeds.

A grid's finished runs become observations (cell, seed, and the run summary's best and final
validation and test perplexity). A toggle's main effect on a metric is the mean change from its first value to
each other value (with three or more values, also between every two of the others), paired within (the other
toggles' values, seed) over the combinations both sides hold: a deleted or unfinished run leaves its
partners out, never pits one combination of the other toggles against another (stats.METHOD says it in
words). Any two toggles with two values each also get their interaction, the difference of differences. With
one seed per cell the pairs differ only in the other toggles' values, and noise_note says so.

A toggle with k >= 3 values has k(k-1)/2 comparisons per metric; their intervals are Bonferroni-adjusted
(stats.family_confidence) so that they hold together at 95%, and best_values reads the answer to "which
value is best" off them: the value clearly lower than every other, or no clear best.

A toggle the configs leave no way to act (ablation.inert_toggles: placement with dropout 0, say)
trains the same model in its cells: its contrasts read INERT, never "within noise", and the
report lists the findings under "inert".
"""

from __future__ import annotations

import itertools
import math

from . import stats
from .ablation import SHORT, cell_label, cell_of, cells, inert_toggles, levels, missing_cells, seeds, toggles

METRICS = ("best_val", "final_val", "test")
INERT = "no way to act"   # the verdict of a contrast between cells that train the same model
# A contrast with no run on one of its sides; only read (spread into each result), never mutated.
NO_RESULT = {"estimate": None, "low": None, "high": None, "n": 0, "df": None, "method": None, "over": None,
             "left_out": 0, "paired_by": None, "unpaired": []}


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


def _compare(sides: list[tuple[float, dict]], confidence: float = stats.CONFIDENCE) -> dict:
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
        found = stats.paired([math.fsum(sign * stats.mean(side[key]) for sign, side in sides) for key in keys],
                             confidence)
        used = sum(len(side[key]) for _, side in sides for key in keys)
        at = {key: key for _, side in sides for key in side}     # a partner is a run of the same key
    else:
        shared = set.intersection(*({where for where, _ in side} for _, side in sides))
        if not shared:
            return NO_RESULT
        kept = [(sign, {key: values for key, values in side.items() if key[0] in shared}) for sign, side in sides]
        found = stats.contrast([(sign, _flat(side)) for sign, side in kept], confidence=confidence)
        keys, used = [key for _, side in kept for key in side], sum(_runs(side) for _, side in kept)
        at = {key: key[0] for _, side in sides for key in side}  # a partner is any run of the same values
    return {**found, "over": _over(keys), "left_out": runs - used, "paired_by": "seed" if common else "values",
            "unpaired": _unpaired(sides, at)}


def _unpaired(sides: list[tuple[float, dict]], at: dict) -> list[dict]:
    """The runs left out, per side and key: {"side" (its index), "values" (the other toggles'), "seed",
    "runs", "lacking" (the sides with no finished run at its key, where a partner would be)}, for the
    reasons grid_status gives (a partner still training is not "no partner")."""
    held = [{at[key] for key in side} for _, side in sides]
    out = []
    for index, (_, side) in enumerate(sides):
        for key, values in side.items():
            lacking = [other for other, keys in enumerate(held) if at[key] not in keys]
            if lacking:
                out.append({"side": index, "values": list(key[0]), "seed": key[1], "runs": len(values),
                            "lacking": lacking})
    return out


def _flat(side: dict) -> list[float]:
    return [value for values in side.values() for value in values]


def main_effect(observed: list[dict], toggled: list[str], toggle: str, reference: str, level: str,
                metric: str, confidence: float = stats.CONFIDENCE) -> dict:
    """Mean of metric(level) - metric(reference), paired over the combinations both sides hold; with
    `by`, the change at each combination of the other toggles' values (conditional_effects) and a
    verdict that reads them (conditional_verdict). Every interval is at `confidence` (the row says it)."""
    others = [k for k in toggled if k != toggle]
    before, after = (_by_key(observed, metric, {toggle: value}, others) for value in (reference, level))
    found = _compare([(-1.0, before), (1.0, after)], confidence) if before and after else NO_RESULT
    by = conditional_effects(before, after, others, confidence)
    pooled = stats.verdict(found)
    verdict = conditional_verdict(pooled, by)
    return {"toggle": toggle, "level": level, "reference": reference, "metric": metric, **found,
            "confidence": confidence, "verdict": verdict, "pooled_verdict": pooled, "by": by,
            "note": dependence_note(by, pooled, verdict)}


def conditional_effects(before: dict, after: dict, others: list[str],
                        confidence: float = stats.CONFIDENCE) -> list[dict]:
    """The change at each combination of the other toggles' values that both sides hold, paired over
    seeds alone; [] when the pairs hold one such combination (nothing to condition on). QA round 19: in
    a 3-placement x tying grid, vertical vs none was +11 untied and +40 tied with seeds agreeing within
    3, and the pooled interval over both, [-1.3, +52.5], read "within noise"."""
    wheres = sorted({where for where, _ in before} & {where for where, _ in after}, key=repr)
    if len(wheres) < 2:
        return []
    out = []
    for where in wheres:
        sides = [(sign, {key: values for key, values in side.items() if key[0] == where})
                 for sign, side in ((-1.0, before), (1.0, after))]
        found = _compare(sides, confidence)
        out.append({"where": dict(zip(others, where)), **found, "verdict": stats.verdict(found)})
    return out


def conditional_verdict(pooled: str, by: list[dict]) -> str:
    """The pooled verdict, unless it is "within noise" and the change is clearly one way at every
    combination of the other toggles' values: then that way. Each of those intervals excludes 0 at 95%,
    so "higher at every combination" holds at 95% too (an intersection-union test: the claim fails if
    any one of them fails), where the pooled interval also spans how the change differs between them."""
    ways = {row["verdict"] for row in by}
    if pooled == "within noise" and len(ways) == 1 and ways <= {"higher", "lower"}:
        return ways.pop()
    return pooled


def dependence_note(by: list[dict], pooled: str, verdict: str) -> str | None:
    """'higher at every value of the other toggles (each over seeds): +11.02 [+9.10, +12.94] higher at
    tied=false; +40.17 [+38.50, +41.84] higher at tied=true; the pooled interval spans the difference between
    them, not seed noise'; 'opposite ways at ...' where one is higher and another lower; 'at each value of
    ...' otherwise. None where the combinations say nothing more (no interval at any, or all within noise)."""
    if not by or not any(row["verdict"] in ("higher", "lower") for row in by):
        return None
    each = "; ".join(f"{_conditional_text(row)} at {cell_label(row['where'])}" for row in by)
    if verdict != pooled:
        return (f"{verdict} at every value of the other toggles (each over seeds): {each}; the pooled interval "
                "spans the difference between them, not seed noise")
    ways = {row["verdict"] for row in by}
    if len(ways) == 1:
        return f"{verdict} at every value of the other toggles (each over seeds): {each}"
    if {"higher", "lower"} <= ways:
        return f"opposite ways at different values of the other toggles (each over seeds): {each}"
    return f"at each value of the other toggles (each over seeds): {each}"


def verdict_text(row: dict) -> str:
    """The verdict, 'higher at each' where it comes from the change at each value of the other toggles and
    not from the pooled interval printed beside it, which reaches 0 (conditional_verdict)."""
    pooled = row.get("pooled_verdict")
    return f"{row['verdict']} at each" if pooled and pooled != row["verdict"] else row["verdict"]


def confidence_text(row: dict) -> str:
    """'98.3%' for an interval Bonferroni-adjusted as one of a toggle's comparisons; '' at the usual 95%."""
    level = row.get("confidence", stats.CONFIDENCE)
    return "" if level == stats.CONFIDENCE else f"{100 * level:.1f}%"


def _conditional_text(row: dict) -> str:
    if row["estimate"] is None:
        return "no finished pair"
    bounds = "no interval" if row["low"] is None else f"[{row['low']:+.2f}, {row['high']:+.2f}] {row['verdict']}"
    return f"{row['estimate']:+.2f} {bounds}"


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
    """Main effects of every toggle (each value vs the first, then each two of the other values: every
    pair of its values, at the confidence that makes them hold together) and the interaction of every
    pair of two-valued toggles, on every metric. `values` = {toggle: its values, reference first}."""
    main = [main_effect(observed, toggled, key, reference, level, metric, stats.family_confidence(len(pairs)))
            for key in toggled for pairs in [value_pairs(values[key])] for reference, level in pairs
            for metric in METRICS]
    two_valued = [(key, values[key]) for key in toggled if len(values[key]) == 2]
    pairs = [interaction(observed, toggled, first, second, metric)
             for first, second in itertools.combinations(two_valued, 2) for metric in METRICS]
    return {"effects": main, "interactions": pairs}


def many_valued(values: dict[str, list]) -> bool:
    """Whether a toggle has three or more values: its comparisons are Bonferroni-adjusted, and the
    method, headings and text say so only then (a two-valued grid's words stay as they were)."""
    return any(len(shown) >= 3 for shown in values.values())


def value_pairs(values: list[str]) -> list[tuple[str, str]]:
    """(reference, level) for every two of a toggle's values: each vs the first, as before, then each
    two of the others in their order ('vertical', 'variational'): variational vs vertical."""
    return [(values[0], level) for level in values[1:]] + list(itertools.combinations(values[1:], 2))


# ---------------------------------------------------------------- which value is best

METRIC_WORDS = {"best_val": "best validation perplexity", "final_val": "final validation perplexity",
                "test": "test perplexity"}


def best_values(rows: list[dict], values: dict[str, list[str]]) -> list[dict]:
    """The answer to "which value is best" for each toggle with three or more values, on each metric
    (best_value), in the report's order of toggles; those with an estimate only."""
    found = [best_value([row for row in rows if row["toggle"] == key and row["metric"] == metric], key, values[key],
                        metric)
             for key, shown in values.items() if len(shown) >= 3 for metric in METRICS]
    return [item for item in found if item]


def best_value(rows: list[dict], toggle: str, values: list[str], metric: str) -> dict | None:
    """{"toggle", "metric", "best" (the value clearly lower than every other, or None), "candidates" (the
    values no other is clearly lower than, lowest estimate first), "text"} from one toggle's rows on one
    metric (every pair of its values: value_pairs); None while no row has an estimate. Lower perplexity is
    better. A win needs the comparison's own verdict: the intervals hold together (stats.family_confidence),
    so no win is inferred through a third value, where the answer line would then print an interval with 0."""
    if not any(row["estimate"] is not None for row in rows):
        return None
    between = {frozenset((row["reference"], row["level"])): row for row in rows}

    def beats(value: str, other: str) -> bool:
        row = between[frozenset((value, other))]
        return row["verdict"] == ("lower" if row["level"] == value else "higher")

    best = next((v for v in values if all(beats(v, u) for u in values if u != v)), None)
    candidates = sorted((v for v in values if not any(beats(u, v) for u in values if u != v)),
                        key=lambda v: _relative(rows, values[0], v))
    name, words = SHORT.get(toggle, toggle), METRIC_WORDS[metric]
    if best is not None:
        margins = sorted((_margin(between[frozenset((best, u))], best) for u in values if u != best),
                         key=lambda margin: margin[0])
        level = confidence_text(between[frozenset((best, values[0] if best != values[0] else values[1]))])
        text = f"Best {name} by {words}: {best} (lower than " + ", than ".join(
            f"{margin[3]} by {_lower_text(margin)}" for margin in margins) + (f"; {level} intervals)" if level else ")")
    else:
        text = f"No clear best {name} by {words}: " + _undecided(between, values, candidates, beats)
    return {"toggle": toggle, "metric": metric, "best": best, "candidates": candidates, "text": text}


def _relative(rows: list[dict], reference: str, value: str) -> float:
    """A value's estimate from the first value (0 for it), for ordering; unknown ones last."""
    if value == reference:
        return 0.0
    row = next((r for r in rows if r["reference"] == reference and r["level"] == value), None)
    return math.inf if row is None or row["estimate"] is None else row["estimate"]


def _margin(row: dict, value: str) -> tuple:
    """(how much lower `value` is, low, high, the other value, whether only at each value of the other
    toggles): the row turned around where `value` is its reference."""
    sign = 1.0 if row["reference"] == value else -1.0
    low, high = sorted((sign * row["low"], sign * row["high"]))
    other = row["level"] if row["reference"] == value else row["reference"]
    return sign * row["estimate"], low, high, other, row.get("pooled_verdict") not in (None, row["verdict"])


def _lower_text(margin: tuple) -> str:
    """'3.2 [1.1, 5.3]', with 'at each value of the other toggles' where the pooled interval reaches 0."""
    amount, low, high, _, at_each = margin
    return f"{amount:.1f} [{low:.1f}, {high:.1f}]" + (" at each value of the other toggles" if at_each else "")


def _undecided(between: dict, values: list[str], candidates: list[str], beats) -> str:
    """Why no value is best: 'variational and vertical within noise of each other', 'variational is not
    clearly lower than none (no interval)'."""
    if not candidates:   # every value beaten by another: the comparisons rest on different runs
        return "each value is clearly beaten by another (the comparisons pair different runs)"
    if len(candidates) == 1:
        rest = [u for u in values if u != candidates[0] and not beats(candidates[0], u)]
        pairs, head = [(candidates[0], u) for u in rest], f"{candidates[0]} is not clearly lower than {_and(rest)}"
    else:
        pairs, head = list(itertools.combinations(candidates, 2)), _and(candidates)
    reasons = list(dict.fromkeys(_reason(between[frozenset(pair)]) for pair in pairs))
    if len(candidates) > 1 and reasons == ["within noise"]:
        return f"{head} within noise of each other"
    return f"{head} ({', '.join(reasons)})" if len(candidates) == 1 else f"{head} not told apart ({', '.join(reasons)})"


def _reason(row: dict) -> str:
    return "no estimate" if row["estimate"] is None else row["verdict"]


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def cell_table(observed: list[dict], grid_cells: list[dict]) -> list[dict]:
    """Per cell: its runs and, per metric (and the best epoch), mean, sd, n and interval over its seeds: runs
    of one seed count once, their mean, as the effects pair them (QA round 19: a copy of a seed-1 run joined
    the grid, and the cell read n=3 with two identical runs in it)."""
    rows = []
    for entry in grid_cells:
        mine = [item for item in observed if cell_label(item["cell"]) == entry["label"]]
        rows.append({"cell": entry["cell"], "label": entry["label"], "runs": [s.id for s in entry["runs"]],
                     "seeds": len({s.config.get("seed") for s in entry["runs"]}),
                     "finished": [item["id"] for item in mine],
                     **{metric: stats.describe(_per_seed(mine, metric)) for metric in METRICS + ("best_epoch",)}})
    return rows


def _per_seed(items: list[dict], metric: str) -> list[float]:
    by_seed: dict = {}
    for item in items:
        if item[metric] is not None:
            by_seed.setdefault(item["seed"], []).append(item[metric])
    return [stats.mean(values) for values in by_seed.values()]


def repeated_seeds(observed: list[dict]) -> list[dict]:
    """[{"label", "seed", "runs"}] for each cell and seed with more than one finished run: they are one seed,
    counted once, and likely a copy that joined the grid."""
    counts: dict = {}
    for item in observed:
        key = (cell_label(item["cell"]), item["seed"])
        counts[key] = counts.get(key, 0) + 1
    return [{"label": label, "seed": seed, "runs": n} for (label, seed), n in counts.items() if n > 1]


def failed_training(summaries: list) -> list[dict]:
    """[{"id", "name", "note"}] for each finished run that scored worse than guessing uniformly among its
    words (summaries.RunSummary.guessing_note): it is counted, as the toggle may be what made it fail, but
    a mean over it says little (QA round 19: 'tying lowers perplexity by 3,378.70' from one such run)."""
    return [{"id": s.id, "name": s.name, "note": s.guessing_note} for s in summaries
            if s.state == "finished" and s.guessing_note]


def failed_training_text(found: list[dict]) -> str | None:
    """'1 finished run did worse than guessing uniformly among its words (lr=0.2 tied=false: its best validation
    perplexity, 7,061, is above 2,000, ...). Training failed there; ...', or None."""
    if not found:
        return None
    which = "; ".join(f"{item['name']}: {item['note'].removeprefix('worse than guessing: ')}" for item in found)
    runs = f"{len(found)} finished run{'s' if len(found) > 1 else ''}"
    return (f"{runs} did worse than guessing uniformly among its words ({which}). Training failed there; the "
            "cells and effects count it, since the toggle may be what made it fail, but a mean over such a run "
            "is dominated by it: read those cells' runs, and consider a lower lr or a tighter clip.")


def repeated_text(found: list[dict]) -> str | None:
    """'seed 1 of placement=vertical tied=false has 2 finished runs: ...', or None."""
    if not found:
        return None
    parts = "; ".join(f"seed {item['seed']} of {item['label'] or 'the grid'} has {item['runs']} finished runs"
                      for item in found)
    return (f"{parts}. A seed counts once in its cell and its pairs (their mean): the same config and seed train "
            "the same numbers on one device and thread count (another count rounds differently, about 1e-7 "
            "relative, not the result), so a second run of one (a copy that joined the grid, say) is not a "
            "replicate.")


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
            row["verdict"], row["note"] = INERT, None
            row.pop("pooled_verdict", None)
    planned_seeds = len(seeds(summaries))
    noise = noise_note(observed, table["effects"] + table["interactions"], planned_seeds)
    return {"group": group, "method": " ".join(filter(None, (stats.method(many_valued(values)), noise))),
            "noise": noise,
            "confidence": stats.CONFIDENCE, "toggles": toggled, "values": values, "runs": len(summaries),
            "finished": len(observed), "cells": cell_table(observed, grid_cells), "missing": missing_cells(summaries),
            "repeated_seeds": repeated_seeds(observed), "failed_training": failed_training(summaries),
            **table, "best": best_values(table["effects"], values), "inert": inert}


def seeds_repeated(observed: list[dict]) -> bool:
    """Whether some cell finished with two or more seeds: only then do the intervals hold
    seed-to-seed noise."""
    seeds: dict[str, set] = {}
    for item in observed:
        seeds.setdefault(cell_label(item["cell"]), set()).add(item["seed"])
    return any(len(found) > 1 for found in seeds.values())


def noise_note(observed: list[dict], rows: list[dict], planned_seeds: int = 1) -> str | None:
    """What the numbers cannot tell when no cell has two seeds, or None: with one seed per cell an
    interval spans the other toggles' values, and nothing measures how much a second seed would move
    a result. `planned_seeds`: the seeds the grid's runs have, in any state; with two or more, its own
    runs finishing is the remedy, not another grid (QA round 28)."""
    if seeds_repeated(observed) or not any(row["estimate"] is not None for row in rows):
        return None
    spans = (" Each interval is over the other toggles' values (how much the effect changed with them), "
             "not over seeds.") if any(row["low"] is not None for row in rows) else ""
    remedy = (f"The grid has {planned_seeds} seeds per cell: once a cell's runs of two of them finish, that "
              "measures it." if planned_seeds > 1 else "Queue the grid with 3 or more seeds per cell to measure it.")
    return ("No cell has finished runs with more than one seed, so seed-to-seed noise was not measured: a "
            f"difference may be noise.{spans} {remedy}")


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
