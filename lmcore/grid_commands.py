"""`lmcore grid` and `lmcore effects`: queue an ablation grid with seeds, wait for it, and
report what each toggle did (lmcore.effects) as JSON or as a text table."""

from __future__ import annotations

import sys
import time

from . import ablation, effects, grid_export, grid_status, listing, queue
from .ablation import CONFIRM_ABOVE
from .config import ConfigError, coerce
from .effects import (
    METRICS,
    confidence_text,
    epoch_text,
    failed_training_text,
    grid_effects,
    range_text,
    repeated_text,
    spread_text,
    verdict_text,
)
from .errors import LmcoreError
from .presets import resolve
from .runs import runs_dir
from .summaries import list_runs


def parse_vary(items: list[str]) -> tuple[dict[str, list], list[str]]:
    """`["tie_weights=false,true"]` -> ({"tie_weights": [False, True]}, problems), every problem
    found at once: no '=', no values, a key given twice, a key the grid sets itself (seed, group,
    name: ablation.SET_BY_GRID), an unknown key, a bad value."""
    toggles: dict[str, list] = {}
    found: list[str] = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        texts = [t.strip() for t in text.split(",") if t.strip()]
        if not sep or not texts:
            found.append(f"--vary {item!r}: expected KEY=VALUE,VALUE,...")
            continue
        if key in toggles:
            found.append(f"--vary {key}: given twice; list all its values in one --vary")
            continue
        if key in ablation.SET_BY_GRID:   # the grid's own keys: group and name crashed, seed read as one cell
            found.extend(f"--vary {problem}" for problem in ablation.set_by_grid([key]))
            continue
        values = []
        for value in texts:
            try:
                values.append(coerce(key, value))
            except ConfigError as error:
                found.extend(p for p in error.problems if p not in found)  # an unknown key once
        toggles[key] = values
    return toggles, found


def build(preset: str | None, assignments: list[str], vary: list[str], seeds: int, confirmed: bool,
          concurrency: int | None = None):
    """The grid's configs, or a ConfigError naming every problem with the whole command."""
    found: list[str] = []
    base = None
    try:
        base = resolve(preset, assignments)
    except ConfigError as error:
        found.extend(error.problems)
    toggles, vary_problems = parse_vary(vary)
    found.extend(vary_problems)
    if seeds < 1:
        found.append(f"--seeds: must be at least 1 (got {seeds})")
    if concurrency is not None and concurrency < 1:
        found.append(f"--concurrency: must be at least 1 (got {concurrency})")
    if not found:
        count = ablation.size(toggles, seeds)
        if count > CONFIRM_ABOVE and not confirmed:
            found.append(f"grid: {count} runs is more than {CONFIRM_ABOVE}; add --yes to queue them all")
    if found:
        raise ConfigError(found)
    return ablation.grid(base, toggles, seeds=seeds)


def queue_grid(configs: list, root, concurrency: int | None, backend: str | None = None,
               address: str | None = None) -> dict:
    """Queue the runs (a worker starts them) and say what was queued: group, run ids, cells.

    With the ray backend, a cluster that cannot be reached is a one-line error after queueing:
    the runs stay queued for a worker that can reach it (`lmcore queue`).
    """
    root = runs_dir(root)
    for line in warnings(configs):
        print(line, file=sys.stderr, flush=True)
    if concurrency:
        queue.set_concurrency(root, concurrency)
    if backend:
        queue.set_backend(root, backend, address)
    folders = queue.enqueue([c.to_dict() for c in configs], root, [c.name for c in configs])
    group = configs[0].group
    name, address = queue.backend(root)
    if name == "ray":
        from . import ray_backend

        try:
            ray_backend.check(address)
        except ray_backend.BackendError as error:
            raise LmcoreError(queue.stuck(str(error), f"the {len(folders)} runs of grid {group} stay queued")) from None
    members = group_runs(root, group)  # never empty: the runs were just queued
    return {"group": group, "runs": [folder.name for folder in folders], "concurrency": queue.concurrency(root),
            "cells": [{"label": entry["label"], "cell": entry["cell"], "runs": sorted(s.id for s in entry["runs"])}
                      for entry in ablation.cells(members)]}


def warnings(configs: list) -> list[str]:
    """What in the grid cannot act (ablation.inert_toggles, inert_everywhere), one line each, as
    the grid form shows it before queueing."""
    cells = [c.to_dict() for c in configs]
    return ([f"{'note' if f['kind'] == 'cells' else 'warning'}: {ablation.inert_text(f)}"
             for f in ablation.inert_toggles(cells)]
            + [f"warning: in every cell, {line}" for line in ablation.inert_everywhere(cells)])


def group_runs(root, group: str) -> list:
    """The runs of `group`; an error naming the groups there are when it has none (a group's name
    is in no listing but `runs --groups`: QA round 16 found 19 grids and a user grepping configs)."""
    found = list_runs(root)
    members = [s for s in found if s.config.get("group") == group]
    if not members:
        groups = listing.grid_groups(found)
        there = (f"; its groups, newest first: {listing.groups_text(groups)} (`runs --groups` lists them)"
                 if groups else "; it holds no grid's runs")
        raise LmcoreError(f"no runs in group {group!r} under {runs_dir(root)}{there}")
    return members


def wait(root, group: str, poll: float = 1.0) -> list:
    """Block until no run of `group` is queued or running; progress lines on stderr."""
    last, since = None, time.time()
    while True:
        problem = queue.backend_problem(runs_dir(root), since)
        if problem:  # a worker that cannot use its backend would be started again every poll
            raise LmcoreError(queue.stuck(problem, "the runs not started stay queued"))
        members = group_runs(root, group)
        states = [s.state for s in members]
        line = " · ".join(f"{states.count(state)} {state}" for state in dict.fromkeys(sorted(states)))
        if line != last:
            print(f"{group}: {line}", file=sys.stderr, flush=True)
            last = line
        if not any(s.is_active for s in members):
            return members
        queue.ensure_worker(root)  # a worker that died would leave the rest queued forever
        time.sleep(poll)


def report(root, group: str) -> dict:
    """grid_effects with the grid's plan: `planned_runs` (every cell with every seed) and
    `missing_seeds`, the cells that lost some of their seeds' runs (ablation.missing_seeds); where
    the grid stands, as Compare's Ablation grids view says it (lmcore.grid_status): `progress` (its
    counts), `progress_text` and `state_note` (partial, or ended with runs left out); each cell's
    `unfinished` runs with their states and reasons and its `unfinished_note`; and each contrast's
    `left_out_reasons`, why the runs it left out lack a partner (still training is not "no partner")."""
    members = group_runs(root, group)
    found = grid_effects(members, group)
    entry = grid_status.entry(group, members)
    by_id = {run.id: run for run in members}
    for cell in found["cells"]:
        runs = [by_id[run_id] for run_id in cell["runs"]]
        cell["unfinished"] = grid_status.unfinished(runs, grid_status.CLI_STOPPED_HINT)
        cell["unfinished_note"] = grid_status.cell_note(runs, grid_status.CLI_STOPPED_HINT)
    for row in found["effects"] + found["interactions"]:
        row["left_out_reasons"] = grid_status.left_out_reasons(row, members, found["toggles"])
    return {**found, "planned_runs": ablation.planned_runs(members), "missing_seeds": ablation.missing_seeds(members),
            "progress": grid_status.progress(entry), "progress_text": grid_status.progress_text(entry),
            "state_note": grid_status.state_note(entry, grid_status.CLI_RESUME_HOW)}


def cells_csv(root, group: str) -> str:
    """`effects GROUP --cells-csv`: the grid's cells as lmcore.grid_export writes them for the page too."""
    members = group_runs(root, group)
    return grid_export.cells_csv(grid_effects(members, group), members)


# ---------------------------------------------------------------- the text table


def _interval(row: dict) -> str:
    """'+21.52 [+19.93, +23.11] n=4 paired, df 3 over seeds and other toggles' values', as the page's
    table has it: to two decimals (an interaction of -0.047 read '-0.0'), with the degrees of freedom
    and what the numbers differ in, which a report of the interval needs (QA round 12)."""
    if row["estimate"] is None:
        return "no finished runs"
    # The verdict beside it says "no interval" itself: 'no interval n=1 paired  no interval' said it twice.
    bounds = ("" if row.get("verdict") == "no interval" else "no interval") if row["low"] is None else \
        f"[{row['low']:+.2f}, {row['high']:+.2f}]"
    if row["low"] is not None and confidence_text(row):   # one of a toggle's Bonferroni-adjusted comparisons
        bounds += f" {confidence_text(row)}"
    df = f", df {epoch_text(row['df'])}" if row.get("df") is not None else ""
    over = f" over {row['over']}" if row.get("over") else ""
    return f"{row['estimate']:+.2f} {bounds + ' ' if bounds else ''}n={row['n']} {row['method']}{df}{over}"


def _left_out(row: dict) -> str:
    """'  (2 runs left out: partner still training)' (grid_status.left_out_text), '' when none was."""
    text = grid_status.left_out_text(row)
    return f"  ({text})" if text else ""


def _cells_table(found: dict) -> list[str]:
    """The cells as the grid page writes them ('97.9 ± 0.1 (n=2 of 3)', best epochs '1–2 (n=3)'), in
    columns as wide as their widest entry: fixed widths ran 'n=2 of 3)103.9' together (QA round 11)."""
    lost = {m["label"]: len(m["seeds"]) for m in found.get("missing_seeds", [])}
    notes = [cell.get("unfinished_note", "") for cell in found["cells"]]
    unfinished = ["unfinished runs"] if any(notes) else []   # as the page: only while some run is out
    rows = [["cell", *METRICS, "best epoch", *unfinished]]
    for cell, note in zip(found["cells"], notes):
        planned = cell.get("seeds", len(cell["runs"])) + lost.get(cell["label"], 0)   # 'n=1 of 2': a seed's run is gone
        rows.append([cell["label"], *(spread_text(cell[m], planned=planned) for m in METRICS),
                     range_text(cell["best_epoch"], planned), *([note] if unfinished else [])])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    last = len(widths) - 1 if unfinished else None   # the note reads left to right, as the cell's label
    return ["  ".join(text.ljust(width) if i in (0, last) else text.rjust(width)
                      for i, (text, width) in enumerate(zip(row, widths))).rstrip() for row in rows]


def format_report(found: dict) -> str:
    """The effects report as plain text: cells, main effects, interactions, the method."""
    # Planned (cell, seed) runs with none, as the progress line counts them: a same-seed copy that joined
    # the grid must not hide a deleted run (grid_status.slot_counts).
    counted = found.get("progress") or {"planned": found["runs"], "missing": 0, "finished": found["finished"]}
    planned, lost = counted["planned"], counted["missing"]
    notes = [f"{lost} deleted or never queued"] if lost else []
    if found["runs"] > planned - lost:   # QA round 28: '6 of 6 runs finished' above 'Ended: 5 / 6 finished'
        notes.append(f"{found['runs']} runs: a seed run twice counts once")
    gone = f" ({'; '.join(notes)})" if notes else ""
    lines = [f"grid {found['group']}: {counted['finished']} of {planned} planned runs finished{gone}; "
             f"toggles: {', '.join(found['toggles']) or 'none'}"]
    # Where the grid stands, as Compare's grids view says it: partial while runs train (QA round 19).
    lines += [text for text in (found.get("progress_text"), found.get("state_note")) if text] + [""]
    lines += _cells_table(found)
    # A deleted or never-queued combination, or seed of one, leaves its toggles' comparisons short.
    missing = [m["label"] for m in found.get("missing", [])] + [
        f"{m['label']} seed{'s' if len(m['seeds']) > 1 else ''} {', '.join(m['seeds'])}"
        for m in found.get("missing_seeds", [])]
    if missing:
        lines += ["", "no run (deleted or never queued): " + "; ".join(missing)]
    for text in (repeated_text(found.get("repeated_seeds", [])),
                 failed_training_text(found.get("failed_training", []))):
        if text:
            lines += ["", text]
    if found["inert"]:  # before the effects they explain
        lines += [""] + [ablation.inert_text(finding, trained=True) for finding in found["inert"]]
    if found.get("best"):   # which value of a toggle with three or more values is best: the answer first
        lines += ["", "best value (lowest perplexity, from the comparisons below):"]
        lines += [f"  {item['text']}" for item in found["best"]]
    if found["effects"]:
        adjusted = effects.many_valued(found["values"])
        lines += ["", "effects (perplexity change, level minus reference; 95% interval" + (
            ", Bonferroni-adjusted where a toggle has 3 or more values, as the percentage says):"
            if adjusted else "):")]
        lines += [f"  {r['toggle']}={r['level']} vs {r['reference']}, {r['metric']}: {_interval(r)}  {verdict_text(r)}"
                  + _left_out(r) + (f"\n      {r['note']}" if r.get("note") else "") for r in found["effects"]]
    if found["interactions"]:
        lines += ["", "interactions (difference of differences, 95% interval):"]
        lines += [f"  {' x '.join(r['toggles'])}, {r['metric']}: {_interval(r)}  {r['verdict']}"
                  for r in found["interactions"]]
    return "\n".join(lines + ["", found["method"]])

