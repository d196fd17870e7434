"""`lmcore runs` at a few hundred runs: narrowing the listing (state, group, name, newest N), when a
run was created, and the grid groups there are (`runs --groups`, and `effects` of a group with no runs).
Reads run summaries only (lmcore.summaries); no torch."""

from __future__ import annotations

import time
from datetime import datetime

from . import ablation
from .jsonl import json_number

STATES = ("queued", "running", "finished", "stopped", "failed", "broken")  # what a summary's state can be
GROUPS_SHOWN = 10  # groups an error names: the newest; `runs --groups` lists them all


def created_at(summary) -> float | None:
    """When the run was created, in seconds since the epoch: its status's `created_at`, else the time
    in its id (YYYYMMDD-HHMMSS, local time, as runs.new_run_id writes it), else its `started_at`."""
    stamp = json_number(summary.status.get("created_at"))
    if stamp is not None:
        return stamp
    try:
        return time.mktime(time.strptime(summary.id[:15], "%Y%m%d-%H%M%S"))
    except ValueError:
        return json_number(summary.status.get("started_at"))


def created_text(summary) -> str | None:
    """created_at as local date and time to the second, "2026-06-01T14:12:23"; None when unknown."""
    stamp = created_at(summary)
    return datetime.fromtimestamp(stamp).isoformat(timespec="seconds") if stamp is not None else None


def matches(summary, states=(), group: str | None = None, text: str | None = None) -> bool:
    """Whether a run passes `runs`'s filters: one of `states` (any when none), in `group`, and `text`
    within its name, preset or id (case aside)."""
    if states and summary.state not in states:
        return False
    if group is not None and summary.config.get("group") != group:
        return False
    if text:
        fields = (summary.name, summary.config.get("name"), summary.config.get("preset"), summary.id)
        return any(text.lower() in str(field).lower() for field in fields if field)
    return True


def newest(summaries: list, limit: int | None) -> list:
    """The `limit` newest runs (by created_at) among `summaries`, kept in the order given."""
    if limit is None or limit >= len(summaries):
        return list(summaries)
    chosen = sorted(summaries, key=lambda s: created_at(s) or 0.0, reverse=True)[:limit]
    kept = {id(s) for s in chosen}
    return [s for s in summaries if id(s) in kept]


def grid_groups(summaries: list) -> list[dict]:
    """Each grid group among `summaries`, newest first (its newest run's creation): {"group",
    "preset", "toggles", "runs", "created"}; "preset" joins its runs' presets when they differ."""
    members: dict[str, list] = {}
    for summary in summaries:
        group = summary.config.get("group")
        if group and isinstance(group, str):
            members.setdefault(group, []).append(summary)
    found = []
    for group, runs in members.items():
        presets = sorted({str(s.config.get("preset") or "-") for s in runs})
        latest = max(runs, key=lambda s: created_at(s) or 0.0)
        found.append({"group": group, "preset": ", ".join(presets),
                      "toggles": ablation.toggles([s.config for s in runs]), "runs": len(runs),
                      "created": created_text(latest), "_at": created_at(latest) or 0.0})
    found.sort(key=lambda entry: entry.pop("_at"), reverse=True)
    return found


def group_lines(groups: list[dict]) -> list[str]:
    """`runs --groups`: a header, then one aligned line per group."""
    rows = [("group", "preset", "runs", "newest run", "toggles")]
    rows += [(g["group"], g["preset"], f"{g['runs']:,}", (g["created"] or "-").replace("T", " "),
              ", ".join(g["toggles"]) or "-") for g in groups]
    return aligned(rows, right={2})


def aligned(rows: list, right: set[int]) -> list[str]:
    """Rows of text cells in columns as wide as their widest cell, the `right` ones (numbers) aligned right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.rjust(width) if i in right else cell.ljust(width)
                      for i, (cell, width) in enumerate(zip(row, widths))).rstrip() for row in rows]


def groups_text(groups: list[dict]) -> str:
    """"grid-2b83f3 (16 runs), grid-c47071 (8 runs), and 17 more": the newest GROUPS_SHOWN groups."""
    shown = ", ".join(f"{g['group']} ({g['runs']:,} run{'s' if g['runs'] != 1 else ''})"
                      for g in groups[:GROUPS_SHOWN])
    more = f", and {len(groups) - GROUPS_SHOWN} more" if len(groups) > GROUPS_SHOWN else ""
    return shown + more
