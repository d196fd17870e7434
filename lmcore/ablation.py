"""Ablation grids: the cartesian product of a few toggles over a base config, each combination
(a cell) run with one or more seeds; and which cell a run belongs to (lmcore.effects has what
each toggle did, with intervals)."""

from __future__ import annotations

import itertools
import math
import secrets

from .config import INITS, KEYS, OPTIMIZERS, PLACEMENTS, SCHEDULES, Config, ConfigError, coerce, problems

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


def grid(base: Config, toggles: dict[str, list], group: str | None = None, seeds: int = 1) -> list[Config]:
    """One validated config per combination and seed, all sharing `group`, named by their toggles.

    With seeds = N every combination (a cell) runs N times with seeds base.seed, base.seed + 1,
    ...; nothing else marks the cell, since cell_of() reads it back from the toggled values.
    Every invalid combination is reported at once, naming the combination, e.g. tying with
    embed_size != hidden_size."""
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise ConfigError(f"seeds: must be a whole number >= 1 (got {seeds!r})")
    if seeds > 1 and toggles.get("seed"):
        raise ConfigError("seed: give the number of seeds (seeds=N) instead of varying seed as a toggle")
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


def levels(summaries: list, key: str) -> list[str]:
    """The distinct values of `key` among these runs, as text, first (reference) value first."""
    values = {}
    for summary in (s for s in summaries if s.config):
        value = summary.config.get(key)
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

