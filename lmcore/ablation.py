"""Ablation grids: the cartesian product of a few toggles over a base config, and what each
toggle did to validation perplexity once the runs finish."""

from __future__ import annotations

import itertools
import math
import secrets
import statistics

from .config import Config, ConfigError, coerce, problems

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


def size(toggles: dict[str, list]) -> int:
    """How many runs grid() makes from these toggles (1 when nothing is varied)."""
    return math.prod(len(set(map(_short, values))) for values in toggles.values() if values)


def grid(base: Config, toggles: dict[str, list], group: str | None = None) -> list[Config]:
    """One validated config per combination, all sharing `group` and named by their toggles.

    Every invalid combination is reported at once, naming the combination, e.g. tying with
    embed_size != hidden_size."""
    group = group or f"grid-{secrets.token_hex(3)}"
    chosen = _values(toggles)
    keys = list(chosen)
    configs, found = [], []
    for values in itertools.product(*(chosen[k] for k in keys)):
        changes = dict(zip(keys, values))
        name = " ".join(f"{SHORT.get(k, k)}={_short(v)}" for k, v in changes.items())
        name = name or base.name or base.preset or "base"
        cfg = base.replace(**changes, group=group, name=name)
        wrong = problems(cfg)
        found.extend(f"{name}: {problem}" if changes else problem for problem in wrong)
        configs.append(cfg)
    if found:
        raise ConfigError(found)
    return configs


def _short(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _order(value):
    """Numbers in numeric order, then everything else by its text (False before True)."""
    if isinstance(value, (int, float)):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def effects(runs: list[dict], toggles: list[str]) -> dict:
    """For each toggle: mean best validation perplexity per value over finished runs.

    `runs` are runs.run_summary() dicts. Returns {toggle: {"values": {value: {"mean", "best",
    "runs"}}, "spread": best-to-worst difference of the means}}; values are keyed by their text
    ('true', '2', '0.5') in natural order. With a full grid every value is averaged over the
    same combinations of the other toggles (a main effect).
    """
    done = [r for r in runs if (r.get("status") or {}).get("state") == "finished"
            and isinstance(r["status"].get("best_val_ppl"), (int, float)) and not r.get("broken")]
    out = {}
    for key in toggles:
        by_value: dict = {}
        for run in done:
            value = (run.get("config") or {}).get(key)
            by_value.setdefault(_short(value), (value, []))[1].append(run["status"]["best_val_ppl"])
        ordered = sorted(by_value.items(), key=lambda item: _order(item[1][0]))
        values = {text: {"mean": statistics.fmean(ppls), "best": min(ppls), "runs": len(ppls)}
                  for text, (_, ppls) in ordered}
        means = [v["mean"] for v in values.values()]
        out[key] = {"values": values, "spread": max(means) - min(means) if len(means) > 1 else 0.0}
    return out
