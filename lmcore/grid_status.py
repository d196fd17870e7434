"""Where an ablation grid stands and why some of its runs are not in its numbers, in the words
Compare's Ablation grids view and `lmcore effects` both print: the grid's progress line ('This
grid: 4 / 12 finished · 2 running · 6 queued · 0 failed or stopped', or 'Ended: ...'), each
cell's unfinished runs with their states and reasons ('both runs failed: diverged at step 21'),
what partial or ended results rest on, and why an effect left a finished run out (its partner
still training, queued, failed, or gone).

Pure functions over run summaries (lmcore.summaries.RunSummary) and the effects report; one
source for the page (explorer.grid_view) and the command line (lmcore.grid_commands). QA round 19:
the command line said none of it, and called a partner still training "no partner".
"""

from __future__ import annotations

import re
from collections import Counter

from . import ablation, queue
from .text import and_join

REASON_CHARS = 60     # a run's error in a table cell: its first clause, cut to this
# How a run that has not finished reads in a cell's note, in this order.
UNFINISHED = ("failed", "broken", "stopped", "running", "queued")
STOPPED_HINT = "can be resumed on Train"
RESUME_HOW = "open it on Train, press Resume"           # the page's way to resume a stopped run
CLI_STOPPED_HINT = "can be resumed: lmcore resume RUN"  # the command line's
CLI_RESUME_HOW = "lmcore resume RUN"


# ---------------------------------------------------------------- the grid's progress


def entry(group: str, members: list) -> dict:
    """A grid's runs and counts (one compare.grids entry): totals by state, its toggles, seeds,
    cells and the combinations of its toggles' values with no run."""
    states = [s.state for s in members]
    configs = [s.config for s in members]
    return {"group": group, "runs": members, "total": len(members), "finished": states.count("finished"),
            "active": sum(s.is_active for s in members),
            "failed": sum(state in ("failed", "stopped", "broken") for state in states),
            "toggles": ablation.toggles(configs),
            "seeds": len({config.get("seed") for config in configs if config}),
            "missing": len(ablation.missing_cells(members)), "cells": len(ablation.cells(members)),
            "preset": configs[0].get("preset") or "custom", "created": min(s.id for s in members)}


def planned_runs(entry: dict) -> int:
    """The runs the grid queued (ablation.planned_runs): every cell with every seed."""
    return ablation.planned_runs(entry["runs"])


# ---------------------------------------------------------------- planned slots
# The progress line counts the grid's planned (cell, seed) slots, not its runs: a same-seed copy that
# joined the grid (`train --like RUN --set group=G`) is one seed, as the effects count it, and must not
# stand in for a deleted run of another cell (QA: a copy and a deleted seed read "6 / 6 finished", 0
# missing). A slot with several runs stands where its most advanced run does, in SLOT_ORDER: finished
# if any of them finished (its numbers rest on that), else running, else queued, else failed or stopped.

SLOT_ORDER = ("finished", "running", "queued", "failed_or_stopped")


def _standing(run) -> str:
    """Where one run stands, in SLOT_ORDER's words: queued and starting are `queued`, as the sidebar
    counts them (queue.stage); failed, stopped and broken are `failed_or_stopped`."""
    if run.state == "finished":
        return "finished"
    stage = queue.stage(run)
    return "failed_or_stopped" if stage is None else "running" if stage == "running" else "queued"


def slots(entry: dict) -> dict[tuple[str, str], list]:
    """{(cell label, seed as text): its runs} for the planned slots that hold a run."""
    out: dict[tuple[str, str], list] = {}
    for run in entry["runs"]:
        if run.config:
            out.setdefault(ablation.slot_of(run, entry["toggles"]), []).append(run)
    return out


def slot_counts(entry: dict) -> dict[str, int]:
    """The planned slots by where they stand (SLOT_ORDER), `missing` (planned, no run: deleted,
    unreadable or never queued) and `planned`; the first five add up to `planned`."""
    found = Counter(min((_standing(run) for run in runs), key=SLOT_ORDER.index) for runs in slots(entry).values())
    planned = planned_runs(entry)
    return {**{name: found[name] for name in SLOT_ORDER}, "missing": planned - sum(found.values()), "planned": planned}


def progress(entry: dict) -> dict:
    """The progress line's numbers, for --json: the grid's planned (cell, seed) slots finished, running,
    queued, failed or stopped (slot_counts: a seed run twice counts once, where its most advanced run
    stands), missing (planned but deleted, unreadable or never queued), planned, and whether the grid
    has ended (no run of it queued or running, and some slot not finished)."""
    counted = slot_counts(entry)
    return {**counted, "ended": not entry["active"] and counted["finished"] < counted["planned"]}


def progress_text(entry: dict) -> str:
    """'This grid: 3 / 4 finished · 1 running · 0 queued · 0 failed or stopped' (a compare.grids
    entry), its queued and running runs split as the sidebar splits them (queue.counts); once
    nothing is queued or running and some run did not finish, 'Ended: ...', so a bar short of full
    does not read as still going (a stopped run keeps the share of its steps done until it is
    resumed); out of the runs the grid planned, so a deleted run leaves it short: ' · 1 missing',
    with ' (1 of 4 cells has no run)' where a whole combination of the toggles' values has none."""
    counted = progress(entry)
    counts = f"{counted['finished']} / {counted['planned']} finished"
    failed = f"{counted['failed_or_stopped']} failed or stopped"
    if counted["ended"]:
        text = f"Ended: {counts} · {failed}"
    else:
        text = f"This grid: {counts} · {counted['running']} running · {counted['queued']} queued · {failed}"
    return text + _missing_text(entry, counted["missing"])


def _missing_text(entry: dict, deleted: int) -> str:
    """' · 1 missing (1 of 4 cells has no run)': a deleted run must not leave the grid reading complete.
    Missing, not deleted: a run whose config.json no longer reads has left the grid too (QA round 16)."""
    if not deleted:
        return ""
    missing = entry.get("missing", 0)
    cells = f" ({missing} of {missing + entry['cells']} cells {'has' if missing == 1 else 'have'} no run)"
    return f" · {deleted} missing" + (cells if missing else "")


def state_note(entry: dict, resume_how: str = RESUME_HOW) -> str | None:
    """What the grid's numbers rest on while planned runs are missing (compare.grids entry): partial
    while some are queued or running; once none is, the grid has ended and the planned (cell, seed) runs
    that did not finish are left out for good (a stopped one can be resumed: `resume_how`). Counted as
    the progress line counts them (slot_counts), so the two agree. None when every planned run finished."""
    if entry["active"]:
        return ("Partial results: until every queued or running run finishes, each effect pairs only the runs "
                "finished on both of its sides (n counts the pairs).")
    counted = slot_counts(entry)
    unfinished = _unfinished_slots(entry) + Counter({"missing": counted["missing"]})
    if not unfinished:
        return None
    note = (f"The grid has ended: nothing is queued or running, and {sum(unfinished.values())} of its "
            f"{counted['planned']} planned runs did not finish ({_listed(unfinished)}). The numbers rest on the "
            "finished seeds of each cell (n in the cells table); a run whose partner did not finish is left out "
            "of the paired comparisons.")
    if unfinished["stopped"]:
        note += (f" A stopped run can be resumed from its last checkpoint ({resume_how}): "
                 "these numbers then update as it finishes.")
    return note


def _unfinished_slots(entry: dict) -> Counter:
    """The planned slots that hold runs but no finished one, by where the most hopeful of their runs
    stands: `stopped` (it can be resumed) before `broken` and `failed`."""
    found = Counter()
    for runs in slots(entry).values():
        if not any(run.state == "finished" for run in runs):
            found[min((run.state for run in runs), key=lambda state: (state != "stopped", state))] += 1
    return found


def _listed(counts: Counter) -> str:
    """'2 failed', '1 failed, 1 stopped and 1 missing', in UNFINISHED's order, missing last."""
    return and_join([f"{counts[state]} {state}" for state in (*UNFINISHED, "missing") if counts[state]])


# ---------------------------------------------------------------- a cell's unfinished runs


def short_reason(problem: str | None) -> str:
    """A run's error cut to its first clause, 'diverged at step 21', and to REASON_CHARS."""
    text = (problem or "").strip().split("\n")[0] or "no reason recorded"
    if text.endswith(": killed or crashed"):  # runs.read_status's verdict: its pid is noise here (QA round 11)
        return "killed or crashed"
    head = re.split(r"[:;] ", text, maxsplit=1)[0]
    text = head if len(head) >= 12 else text   # 'Error: ...' keeps what follows
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 1].rstrip() + "…"


def reason(run, stopped_hint: str = STOPPED_HINT) -> str | None:
    """Why a run that did not finish is where it is: a failed run's short_reason, a stopped run's
    hint, None for a run still queued or training."""
    if run.state in ("failed", "broken"):
        return short_reason(run.problem)
    return stopped_hint if run.state == "stopped" else None


def cell_note(runs: list, stopped_hint: str = STOPPED_HINT) -> str:
    """Why a cell's runs are not all in its numbers: 'both runs failed: diverged at step 21',
    '1 failed (diverged at step 21), 1 running', '' when every run finished."""
    counts = Counter((run.state, reason(run, stopped_hint)) for run in runs if run.state != "finished")
    if len(counts) == 1 and sum(counts.values()) == len(runs) > 1:
        (state, detail), = counts
        every = "both runs" if len(runs) == 2 else f"all {len(runs)} runs"
        return f"{every} {state}" + (f": {detail}" if detail else "")
    order = sorted(counts, key=lambda key: UNFINISHED.index(key[0]) if key[0] in UNFINISHED else len(UNFINISHED))
    return ", ".join(f"{counts[key]} {key[0]}" + (f" ({key[1]})" if key[1] else "") for key in order)


def unfinished(runs: list, stopped_hint: str = STOPPED_HINT) -> list[dict]:
    """The runs of a cell that did not finish, for --json: id, name, state and reason (None while
    queued or training)."""
    return [{"id": run.id, "name": run.name, "state": run.state, "reason": reason(run, stopped_hint)}
            for run in runs if run.state != "finished"]


# ---------------------------------------------------------------- runs an effect left out
# effects._compare pairs the finished runs over the (other toggles' values, seed) keys every side
# holds, or, with none in common, compares the combinations of the other toggles' values every side
# holds; a finished run outside those is left out (a row's `left_out`). Its partners are the runs of
# the other sides at its key, and their states say why: still training is not "no partner".

PARTNER = {"running": "partner still training", "queued": "partner queued", "failed": "partner failed",
           "broken": "partner broken", "stopped": "partner stopped"}
NO_PARTNER = "no partner"   # no run at its key on some side: deleted, unreadable or never queued
NO_METRIC = "partner has no such result"   # finished without this metric (no test, say)
# The reason a run's partners give, most hopeful first: one still training will pair it.
REASON_ORDER = (*PARTNER.values(), NO_METRIC, NO_PARTNER)


def _sides(row: dict) -> tuple[list[dict], list[str]]:
    """The cells' matches each side of a contrast takes, and the toggles it keeps fixed."""
    if "toggle" in row:
        return [{row["toggle"]: row["reference"]}, {row["toggle"]: row["level"]}], [row["toggle"]]
    (key_a, (a0, a1)), (key_b, (b0, b1)) = zip(row["toggles"], row["levels"])
    return [{key_a: a, key_b: b} for a, b in ((a1, b1), (a1, b0), (a0, b1), (a0, b0))], row["toggles"]


def left_out_reasons(row: dict, summaries: list, toggled: list[str]) -> dict[str, int]:
    """{reason: runs}: why each finished run a contrast (an effects report row) left out lacks its
    partner, from the states of the runs at its key on the sides that lack one (the row's `unpaired`,
    as effects._compare paired them; PARTNER, NO_PARTNER)."""
    if not row.get("left_out"):
        return {}
    matches, fixed = _sides(row)
    others = [key for key in toggled if key not in fixed]
    whole = row.get("paired_by") == "seed"   # else the values alone: its Welch fallback
    held: list[dict] = [{} for _ in matches]   # per side: key -> the states of its runs, any state
    for summary in summaries:
        cell = ablation.cell_of(summary, toggled)
        where = tuple(cell[k] for k in others)
        for side, match in zip(held, matches):
            if all(cell[k] == v for k, v in match.items()):
                side.setdefault((where, summary.config.get("seed")) if whole else where, []).append(summary.state)
    found: Counter = Counter()
    for item in row.get("unpaired", []):
        key = (tuple(item["values"]), item["seed"]) if whole else tuple(item["values"])
        why = [_partner_reason(held[other].get(key, [])) for other in item["lacking"]]
        found[min(why or [NO_PARTNER], key=REASON_ORDER.index)] += item["runs"]
    return dict(sorted(found.items(), key=lambda item: REASON_ORDER.index(item[0])))


def _partner_reason(states: list[str]) -> str:
    for state in PARTNER:
        if state in states:
            return PARTNER[state]
    return NO_METRIC if "finished" in states else NO_PARTNER


def left_out_text(row: dict) -> str:
    """'2 runs left out: partner still training', '3 runs left out: partner still training for 2,
    no partner for 1' (a row with `left_out_reasons`), '' when none was left out."""
    left = row.get("left_out")
    if not left:
        return ""
    reasons = row.get("left_out_reasons") or {NO_PARTNER: left}
    why = (next(iter(reasons)) if len(reasons) == 1 else
           ", ".join(f"{text} for {count}" for text, count in reasons.items()))
    return f"{left} run{'s' if left > 1 else ''} left out: {why}"
