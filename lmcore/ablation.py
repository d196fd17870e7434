"""Ablation grids: the cartesian product of a few toggles over a base config, and what each
toggle did to validation perplexity once the runs finish."""

from __future__ import annotations

import itertools
import secrets
import statistics

from .config import Config, coerce, validate


def grid(base: Config, toggles: dict[str, list], group: str | None = None) -> list[Config]:
    """One validated config per combination, all sharing `group` and named by their toggles."""
    group = group or f"grid-{secrets.token_hex(3)}"
    keys = list(toggles)
    configs = []
    for values in itertools.product(*(toggles[k] for k in keys)):
        changes = {k: coerce(k, v) for k, v in zip(keys, values)}
        name = " ".join(f"{k}={_short(v)}" for k, v in changes.items())
        configs.append(validate(base.replace(**changes, group=group, name=name)))
    return configs


def _short(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def effects(runs: list[dict], toggles: list[str]) -> dict:
    """For each toggle: mean best validation perplexity per value over finished runs.

    `runs` are runs.run_summary() dicts. Returns {toggle: {"values": {value: {"mean", "runs"}},
    "spread": best-to-worst difference of the means}}. With a full grid every value is
    averaged over the same combinations of the other toggles (a main effect).
    """
    done = [r for r in runs if r["status"].get("best_val_ppl") is not None
            and r["status"].get("state") == "finished"]
    out = {}
    for key in toggles:
        by_value: dict = {}
        for run in done:
            by_value.setdefault(_short(run["config"].get(key)), []).append(run["status"]["best_val_ppl"])
        values = {v: {"mean": statistics.fmean(ppls), "runs": len(ppls)} for v, ppls in sorted(by_value.items())}
        means = [v["mean"] for v in values.values()]
        out[key] = {"values": values, "spread": max(means) - min(means) if len(means) > 1 else 0.0}
    return out
