"""Ablation grids: the cartesian product of a few toggles over a base config, each combination
(a cell) run with one or more seeds; which cell a run belongs to (lmcore.effects has what each
toggle did, with intervals); and the settings and toggles that cannot act, by the rules the
engine follows (a placement without dropout, dropout without a placement, ...)."""

from __future__ import annotations

import itertools
import math
import secrets
from dataclasses import dataclass

from .config import (
    INITS,
    KEYS,
    NO_AUTOCAST,
    OPTIMIZERS,
    PLACEMENTS,
    SCHEDULES,
    Config,
    ConfigError,
    build,
    coerce,
    problems,
)

# A grid of more runs than this is more likely a slip than a plan: the page asks to confirm,
# the command line wants --yes.
CONFIRM_ABOVE = 200

# Shorter words for run names ("placement=variational tied=true"); configs keep the full keys.
SHORT = {"dropout_placement": "placement", "tie_weights": "tied", "hidden_size": "hidden", "embed_size": "embed"}


def _values(toggles: dict[str, list]) -> dict[str, list]:
    """Each toggle's distinct values, coerced to its key's type, in the order given; a toggle
    with no values is left out (the base config's value stays)."""
    out, found = {}, []
    for key, values in toggles.items():
        distinct = []
        for value in values:
            try:
                value = coerce(key, value)
            except ConfigError as error:
                found.extend(error.problems)
                continue
            if value not in distinct:
                distinct.append(value)
        if distinct:
            out[key] = distinct
    if found:
        raise ConfigError(found)
    return out


def size(toggles: dict[str, list], seeds: int = 1) -> int:
    """How many runs grid() makes from these toggles and seeds (seeds when nothing is varied)."""
    cells = math.prod(len(set(map(_short, values))) for values in toggles.values() if values)
    return cells * max(seeds, 1)


# The keys grid() sets on every run itself, each with why it cannot be a toggle: varying one crashed
# (group, name: Config.replace got the key twice) or queued runs that read as one cell (seed: QA).
SET_BY_GRID = {
    "seed": "the grid sets each run's seed itself: give every cell N seeds (seed, seed+1, ...) with --seeds N "
            "(Seeds per cell on Compare) instead",
    "group": "the grid sets it itself: its runs share one group, the grid's id; a grid cannot vary it",
    "name": "the grid sets it itself: each run is named for its cell and seed; a grid cannot vary it",
}


def set_by_grid(keys) -> list[str]:
    """'seed: the grid sets ...' for each of `keys` a grid sets itself (SET_BY_GRID), in its order."""
    return [f"{key}: {why}" for key, why in SET_BY_GRID.items() if key in keys]


def grid(base: Config, toggles: dict[str, list], group: str | None = None, seeds: int = 1) -> list[Config]:
    """One validated config per combination and seed, all sharing `group`, named by their toggles.

    With seeds = N every combination (a cell) runs N times with seeds base.seed, base.seed + 1,
    ...; nothing else marks the cell, since cell_of() reads it back from the toggled values.
    Every invalid combination is reported at once, naming the combination, e.g. tying with
    embed_size != hidden_size."""
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise ConfigError(f"seeds: must be a whole number >= 1 (got {seeds!r})")
    if owned := set_by_grid(toggles):
        raise ConfigError(owned)
    group = group or f"grid-{secrets.token_hex(3)}"
    chosen = _values(toggles)
    configs, found = [], []
    for values in itertools.product(*chosen.values()):
        changes = dict(zip(chosen, values))
        label = cell_label({key: _short(value) for key, value in changes.items()})
        label = label or base.name or base.preset or "base"
        wrong = problems(base.replace(**changes))
        found.extend(f"{label}: {problem}" if changes else problem for problem in wrong)
        for offset in range(seeds):
            seed = base.seed + offset
            name = f"{label} seed={seed}" if seeds > 1 else label
            configs.append(base.replace(**changes, group=group, name=name, **({"seed": seed} if seeds > 1 else {})))
    if found:
        raise ConfigError(found)
    return configs


# ---------------------------------------------------------------- cells: what a run of a grid is a replicate of

# Keys that never tell two cells apart: seeds are the replicates of a cell, the rest is bookkeeping.
NOT_A_TOGGLE = ("seed", "name", "group", "lmcore_version")


def toggles(configs: list[dict]) -> list[str]:
    """The keys a grid varies: those whose values differ between its configs, seed excepted
    (an empty config, a broken run's, says nothing)."""
    configs = [config for config in configs if config]
    present = {key for config in configs for key in config}
    return [key for key in KEYS if key in present and key not in NOT_A_TOGGLE
            and len({repr(config.get(key)) for config in configs}) > 1]


def cell_of(summary, toggled: list[str]) -> dict:
    """The cell a run (a summaries.RunSummary) belongs to: {toggle: its value as text}, e.g.
    {"tie_weights": "true"}."""
    return {key: _short(summary.config.get(key)) for key in toggled}


def cell_label(cell: dict) -> str:
    """"placement=variational tied=true": the run name without its seed."""
    return " ".join(f"{SHORT.get(key, key)}={value}" for key, value in cell.items())


def cells(summaries: list) -> list[dict]:
    """The cells of one grid's runs, in the natural order of their values: {"cell", "label",
    "toggles", "runs"} with the run summaries of each cell (any state; a run without a
    readable config belongs to no cell)."""
    summaries = [s for s in summaries if s.config]
    toggled = toggles([s.config for s in summaries])
    by_label: dict[str, dict] = {}
    for summary in summaries:
        cell = cell_of(summary, toggled)
        entry = by_label.setdefault(cell_label(cell), {"cell": cell, "label": cell_label(cell),
                                                       "toggles": toggled, "runs": []})
        entry["runs"].append(summary)
    ranks = {key: levels(summaries, key) for key in toggled}
    return sorted(by_label.values(), key=lambda e: [ranks[k].index(v) for k, v in e["cell"].items()])


# Past this many combinations a group is no cross of a few toggles (runs gathered under one name):
# its missing combinations are not listed.
MAX_CROSS = 4096


def missing_cells(summaries: list) -> list[dict]:
    """The combinations of the grid's toggle values that no run holds, in any state (deleted, or
    never queued), as {"cell", "label"} in the natural order of their values; a grid queues the
    full cross, so each one leaves its toggles' comparisons a pair short. [] past MAX_CROSS."""
    summaries = [s for s in summaries if s.config]
    toggled = toggles([s.config for s in summaries])
    values = [levels(summaries, key) for key in toggled]
    if math.prod(len(v) for v in values) > MAX_CROSS:
        return []
    present = {cell_label(cell_of(s, toggled)) for s in summaries}
    combos = (dict(zip(toggled, combo)) for combo in itertools.product(*values))
    return [{"cell": cell, "label": cell_label(cell)} for cell in combos if cell_label(cell) not in present]


# ---------------------------------------------------------------- the plan: every cell with every seed
# A grid records no plan of its own: grid() queues the full cross of its toggles' values, each cell
# with the same seeds, so the cells and seeds its runs still hold say what it queued. (QA round 10: a
# deleted seed left its cell reading "1 / 1", and the grid "7 / 7 finished", as if complete.)


def seeds(summaries: list) -> list[str]:
    """The grid's seeds, as text, in numeric order: those of any of its runs (every cell runs all of them)."""
    found = {s.config.get("seed") for s in summaries if s.config}
    return [_short(seed) for seed in sorted(found, key=_order)]


def missing_seeds(summaries: list) -> list[dict]:
    """The cells that hold a run but lack some of the grid's seeds (deleted, or never queued), as
    {"cell", "label", "seeds"} in the order of cells(); a cell missing whole is missing_cells'."""
    planned = seeds(summaries)
    out = []
    for entry in cells(summaries):
        held = {_short(run.config.get("seed")) for run in entry["runs"]}
        lost = [seed for seed in planned if seed not in held]
        if lost:
            out.append({"cell": entry["cell"], "label": entry["label"], "seeds": lost})
    return out


def slot_of(summary, toggled: list[str]) -> tuple[str, str]:
    """(cell label, seed as text): the planned run a run of the grid is; two runs of one seed in one
    cell (a copy that joined the grid) are one planned run, as the effects count them."""
    return cell_label(cell_of(summary, toggled)), _short(summary.config.get("seed"))


def planned_runs(summaries: list) -> int:
    """How many runs the grid queued: every combination of its toggles' values (missing_cells
    counted in) times its seeds."""
    held = [s for s in summaries if s.config]
    return (len(cells(held)) + len(missing_cells(held))) * len(seeds(held)) if held else 0


def levels(summaries: list, key: str) -> list[str]:
    """The distinct values of `key` among these runs, as text, first (reference) value first."""
    return _levels([s.config for s in summaries], key)


def _levels(configs: list[dict], key: str) -> list[str]:
    values = {}
    for config in (c for c in configs if c):
        value = config.get(key)
        values.setdefault(_short(value), value)
    return sorted(values, key=lambda text: _order(values[text]))


def _short(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


# Choices in the order config.py declares them, so the first (reference) placement is none.
_CHOICE_ORDER = {choice: rank for rank, choice in enumerate(PLACEMENTS + OPTIMIZERS + SCHEDULES + INITS)}


def _order(value):
    """Numbers in numeric order, then known choices in their declared order, then everything
    else by its text (False before True)."""
    if isinstance(value, (int, float)):
        return (0, float(value), "")
    return (1, float(_CHOICE_ORDER.get(value, len(_CHOICE_ORDER))), str(value))



# ---------------------------------------------------------------- settings that cannot act

RECURRENT_PLACEMENTS = ("horizontal", "variational")   # the placements that drop h(t-1) -> h(t)
_DEFAULT = Config()


@dataclass(frozen=True)
class Unread:
    """A setting the rest of its config leaves without effect: the run trains as if `key` were
    `neutral`. `why` follows "key=value" in a sentence; `fix` says how to make the setting count."""
    key: str
    neutral: object
    why: str
    fix: str


def _unread(cfg: Config) -> list[Unread]:
    """The settings of `cfg` that cannot act. The dropout rules are the ratios dropout.DropoutPlan
    draws with (Config.layer_dropout, Config.recurrent_dropout): a site with ratio 0 draws no mask,
    and horizontal adds to vertical only the recurrent path. The rest: the keys only one
    schedule, initialisation, corpus or device reads."""
    placement, found = cfg.dropout_placement, []
    if placement == "none":
        found.append(Unread("dropout", 0.0, "does nothing while dropout_placement is none",
                            "choose a dropout_placement in the overrides, or vary it too"))
    elif cfg.layer_dropout == 0 and cfg.recurrent_dropout == 0:
        zero = "dropout and dropout_recurrent are" if cfg.dropout_recurrent == 0 else "dropout is"
        found.append(Unread("dropout_placement", "none", f"does nothing while {zero} 0",
                            "set dropout > 0 in the overrides, or vary it too"))
    elif placement == "horizontal" and cfg.recurrent_dropout == 0:
        found.append(Unread("dropout_placement", "vertical", "trains as vertical while dropout_recurrent is 0 "
                            "(the recurrent path is all it adds)", "set dropout_recurrent > 0 in the overrides, "
                            "or leave it empty (the same as dropout)"))
    if placement not in RECURRENT_PLACEMENTS:
        found.append(Unread("dropout_recurrent", None, f"does nothing while dropout_placement is {placement} "
                            "(only horizontal and variational drop the recurrent path)",
                            "choose horizontal or variational in the overrides, or vary dropout_placement too"))
    found += _only(cfg.init == "uniform", ["init_range"], f"init is {cfg.init}", "init=uniform")
    found += _only(cfg.lr_schedule == "fixed", ["decay_start"], f"lr_schedule is {cfg.lr_schedule}",
                   "lr_schedule=fixed")
    found += _only(cfg.lr_schedule != "constant", ["lr_decay"], "lr_schedule is constant",
                   "lr_schedule=plateau or fixed")
    found += _only(cfg.dataset == "synthetic", ["synthetic_tokens", "synthetic_vocab", "data_seed"],
                   f"dataset is {cfg.dataset}", "dataset=synthetic")
    found += _only(cfg.dataset == "ptb", ["train_tokens", "valid_tokens", "test_tokens"], f"dataset is {cfg.dataset}",
                   "dataset=ptb")
    if cfg.dataset == "synthetic":
        found.append(Unread("vocab_size", _DEFAULT.vocab_size, "does nothing while dataset is synthetic (the "
                            "generated language has synthetic_vocab words)", "set synthetic_vocab instead"))
    if cfg.device in NO_AUTOCAST:
        found.append(Unread("amp", "none", f"does nothing while device is {cfg.device} (bf16 autocast is for "
                            "CUDA only)", "set device=cuda, or auto on a machine with a GPU"))
    return [unread for unread in found if getattr(cfg, unread.key) != unread.neutral]


def _only(reads: bool, settings: list[str], now: str, needed: str) -> list[Unread]:
    """Unread for each of `settings` unless `reads`: settings that only `needed` (e.g. init=uniform)
    reads, at their defaults (a default that goes unread is no news)."""
    if reads:
        return []
    key = needed.split("=")[0]
    return [Unread(setting, getattr(_DEFAULT, setting), f"does nothing while {now} (only {needed} reads it)",
                   f"set {needed} in the overrides, or vary {key} too") for setting in settings]


def inert_settings(cfg: Config) -> list[str]:
    """What of `cfg` cannot act, one line each, e.g. 'dropout_placement=variational does nothing
    while dropout is 0'; [] when every setting counts (defaults that go unread are not listed)."""
    return [f"{unread.key}={_short(getattr(cfg, unread.key))} {unread.why}" for unread in _unread(cfg)]


def _trains(config: dict) -> tuple:
    """What a config trains, as the engine sees it: its settings that cannot act at their neutral
    values (until none is left: one set aside can leave another without effect), labels and seed
    left out (a cell's replicates train the same model)."""
    cfg = build(config)[0]
    for _ in KEYS:
        unread = _unread(cfg)
        if not unread:
            break
        cfg = cfg.replace(**{u.key: u.neutral for u in unread})
    return tuple(getattr(cfg, key) for key in KEYS if key not in NOT_A_TOGGLE)


def inert_toggles(configs: list[dict]) -> list[dict]:
    """The toggles of a grid (its configs: one per cell, or every run) that cannot change what
    trains. Each finding is {"toggle", "kind", "levels", "where", "reasons", "fix"}:
    - kind "everywhere": no cell trains differently for any of its values (levels: all of them);
    - kind "levels": levels[1] trains as levels[0] in every cell (horizontal as vertical, say);
    - kind "cells": it changes nothing in the cells of `where` (the other toggles' values).
    `reasons` are the inert_settings lines that explain it; `fix` says how to make it count."""
    configs = [config for config in configs if config]
    toggled = toggles(configs)
    trained = [(config, _trains(config)) for config in configs]
    found = []
    for key in toggled:
        others = [k for k in toggled if k != key]
        groups: dict[tuple, dict] = {}   # the other toggles' values -> {this toggle's value: (config, trains)}
        for config, trains in trained:
            where = tuple(_short(config.get(k)) for k in others)
            groups.setdefault(where, {}).setdefault(_short(config.get(key)), (config, trains))
        found += _inert(key, others, _levels(configs, key), groups)
    return found


def _inert(key: str, others: list[str], order: list[str], groups: dict) -> list[dict]:
    # Only a combination of the other toggles that holds two or more values of `key` compares them:
    # one whose partners were deleted (or never queued) holds one value, which says nothing about
    # whether the others would train alike.
    judged = {where: cells for where, cells in groups.items() if len(cells) > 1}
    # "Everywhere" only when every combination was judged: with one left unjudged (a deleted cell,
    # QA round 7), the toggle may act there, so the finding names the cells where it did not.
    whole, groups = len(judged) == len(groups), judged
    if not groups:
        return []

    still = [where for where, cells in groups.items() if len({trains for _, trains in cells.values()}) == 1]

    def alike(a, b) -> bool:
        # Twins somewhere the toggle acts: where it acts nowhere, the "cells" finding says so already.
        both = [where for where, cells in groups.items() if a in cells and b in cells]
        return (any(where not in still for where in both)
                and all(groups[where][a][1] == groups[where][b][1] for where in both))

    if len(still) == len(groups) and whole:
        return [_finding(key, "everywhere", order, [], [c for cells in groups.values() for c, _ in cells.values()])]
    found = []
    for i, level in enumerate(order):
        twin = next((first for first in order[:i] if alike(first, level)), None)
        if twin is not None:
            found.append(_finding(key, "levels", [twin, level], [], [
                cells[value][0] for cells in groups.values() for value in (twin, level) if value in cells]))
    if still:
        found.append(_finding(key, "cells", order, [cell_label(dict(zip(others, where))) for where in still],
                              [config for where in still for config, _ in groups[where].values()]))
    return found


def _finding(key: str, kind: str, levels: list[str], where: list[str], configs: list[dict]) -> dict:
    """A finding with the reasons its configs give for `key`: 'dropout=0.1 or 0.5 does nothing while
    ...'. For two levels that train alike, the rules that make the second train as the first."""
    values: dict[tuple, list[str]] = {}   # (why, fix) -> the values it holds for
    for config in configs:
        cfg = build(config)[0]
        for unread in _unread(cfg):
            shown = _short(getattr(cfg, unread.key))
            twins = kind != "levels" or (shown, _short(unread.neutral)) == (levels[1], levels[0])
            if unread.key == key and twins and shown not in values.setdefault((unread.why, unread.fix), []):
                values[(unread.why, unread.fix)].append(shown)
    reasons = [f"{key}={_either(shown)} {why}" for (why, _), shown in values.items() if shown]
    return {"toggle": key, "kind": kind, "levels": levels, "where": where, "reasons": reasons,
            "fix": next((fix for (_, fix), shown in values.items() if shown), None)}


def _either(values: list[str]) -> str:
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


def inert_text(finding: dict, trained: bool = False) -> str:
    """A finding of inert_toggles in words: before the runs train, or (`trained`) on their results."""
    key, kind, levels = finding["toggle"], finding["kind"], finding["levels"]
    why = "; ".join(finding["reasons"]) or "its values train the same model"
    if kind == "everywhere":
        head = f"{key} had no way to act in this grid" if trained else f"{key} cannot change anything in this grid"
        after = ("its cells trained the same model, so its effect is 0 by construction, not a finding" if trained
                 else "its cells train the same model whichever value they have, so its effect can only read 0")
    elif kind == "levels":
        verb = "trained" if trained else "trains"
        head = f"{key}={levels[1]} {verb} the same model as {key}={levels[0]} in every cell"
        after = f"that comparison {'read' if trained else 'can only read'} 0"
    else:
        head = f"{key} {'changed' if trained else 'changes'} nothing in the cells with {' or '.join(finding['where'])}"
        after = ""
    fix = finding["fix"] if kind != "cells" else None
    return (f"{head}: {why}." + (f" {after[0].upper()}{after[1:]}." if after else "")
            + (f" To make it count: {fix}." if fix else ""))


def inert_everywhere(configs: list[dict]) -> list[str]:
    """The inert_settings lines every one of these configs (a grid's cells) shares: settings no
    cell lets act, whatever the toggles."""
    lines = [set(inert_settings(build(config)[0])) for config in configs if config]
    common = set.intersection(*lines) if lines else set()
    return [line for line in inert_settings(build(configs[0])[0]) if line in common] if common else []
