"""What Compare costs with many runs on disk: a rerun builds the runs table's rows once, an unchanged
run's row and metrics are not read again, and with no run training the page's timer only stats the
runs folder (scripts/bench_compare.py measures it; docs/performance.md has the numbers)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from explorer import compare
from lmcore import metrics_frame, summaries
from lmcore.disk import free_epoch_checkpoints
from lmcore.runs import create_run, write_json_atomic

ROOT = Path(__file__).resolve().parent.parent
HOUR_AGO = 1_700_000_000


@pytest.fixture
def runs_copy(trained_runs, tmp_path, monkeypatch):
    """A private copy of the shared trained runs, dated an hour back (settled: summaries keep them)."""
    root, folders = trained_runs
    copy = tmp_path / "runs"
    shutil.copytree(root, copy)
    for path in [*copy.rglob("*")]:
        os.utime(path, (HOUR_AGO, HOUR_AGO), follow_symlinks=False)
    monkeypatch.setenv("LMCORE_RUNS_DIR", str(copy))
    return copy, {name: copy / folder.name for name, folder in folders.items()}


@pytest.fixture(autouse=True)
def no_kept_rows():
    """Each test counts the rows it builds: rows an earlier test of the worker kept (the reference runs',
    whose summaries stay the same objects for the whole session) would go uncounted (CI, stop 32)."""
    compare._rows.clear()
    compare._tables.clear()


def counted(monkeypatch, module, name: str) -> list:
    """Replace module.name by a wrapper that notes each call's first argument; returns the notes."""
    calls, real = [], getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(args[0] if args else None)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def timers(monkeypatch) -> dict:
    """st.fragment noting each fragment's run_every by function name, as the page registers them."""
    seen, real = {}, st.fragment

    def fragment(func=None, *, run_every=None):
        if func is None:
            return lambda func: fragment(func, run_every=run_every)
        seen[func.__name__] = run_every
        return real(func, run_every=run_every)

    monkeypatch.setattr(st, "fragment", fragment)
    return seen


def open_compare(selected: list[str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("app_pages/compare.py")
    at.session_state["compare.selected"] = selected or []
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_rerun_builds_each_row_of_the_runs_table_once_and_an_unchanged_one_never_again(runs_copy, monkeypatch):
    root, folders = runs_copy
    rows = counted(monkeypatch, compare, "run_row")
    at = open_compare([folders["plain"].name])
    shown = at.dataframe[0].value
    built = [summary.id for summary in rows]
    # The page body's filters, the link's filter choices and the live fragment each asked for it: built once.
    assert sorted(built) == sorted(shown["id"]) and len(built) == len(set(built))
    rows.clear()
    at.run()
    assert not at.exception and rows == []                      # nothing changed on disk: no row built again
    assert at.dataframe[0].value.equals(shown)


def test_the_runs_table_builds_again_only_a_changed_run_and_follows_its_size_on_disk(runs_copy, monkeypatch):
    root, folders = runs_copy
    listed = summaries.list_runs(root)
    first = compare.runs_table(listed)
    first.loc[0, "note"] = "changed by a caller"               # a caller's frame is its own
    rows = counted(monkeypatch, compare, "run_row")
    again = compare.runs_table(summaries.list_runs(root))
    assert rows == [] and again.loc[0, "note"] != "changed by a caller"
    status = json.loads((folders["plain"] / "status.json").read_text())
    write_json_atomic(folders["plain"] / "status.json", {**status, "test_ppl": 12.5})
    changed = compare.runs_table(summaries.list_runs(root)).set_index("id")
    assert [summary.id for summary in rows] == [folders["plain"].name]   # that run's row only
    assert changed.at[folders["plain"].name, "test_ppl"] == 12.5
    rows.clear()
    before = changed.at[folders["variational"].name, "disk_bytes"]
    (folders["variational"] / "checkpoints" / "epoch-1.pt").write_bytes(b"0" * 1000)   # an epoch's save
    grown = compare.runs_table(summaries.list_runs(root)).set_index("id")
    assert grown.at[folders["variational"].name, "disk_bytes"] == before + 1000
    assert free_epoch_checkpoints(folders["variational"]).spare == 1000   # `lmcore free`: no summary file changes
    freed = compare.runs_table(summaries.list_runs(root)).set_index("id")
    assert freed.at[folders["variational"].name, "disk_bytes"] == before
    # The size is a fresh stat, not a new row (only the run written in the last 2 s is listed afresh:
    # summaries.settled_summary does not trust a stamp that new).
    assert {summary.id for summary in rows} <= {folders["plain"].name}


def test_a_changed_metrics_log_is_read_again_and_an_unchanged_one_is_not(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    lines = [{"kind": "train", "step": step, "epoch": 1, "ppl": 500.0 - step, "loss": 6.0, "lr": 1.0}
             for step in range(1, 41)] + [{"kind": "val", "step": 40, "epoch": 1, "ppl": 300.0, "loss": 5.7, "lr": 1.0}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    reader = metrics_frame.MetricsFrame(path)
    builds = counted(monkeypatch, metrics_frame.MetricsFrame, "frame")
    first = reader.refresh()
    assert len(builds) == 1 and len(first) == 41
    first.loc[0, "ppl"] = -1.0                                  # a caller's frame is its own
    second = reader.refresh()
    assert len(builds) == 1 and second.loc[0, "ppl"] == 499.0   # no line came: the frame is not built again
    with open(path, "a") as handle:
        handle.write(json.dumps({"kind": "test", "step": 40, "epoch": 1, "ppl": 310.0, "loss": 5.7, "lr": 1.0}) + "\n")
    third = reader.refresh()
    assert len(builds) == 2 and list(third["kind"]).count("test") == 1


def test_the_runs_stamp_changes_when_a_run_is_made_written_or_deleted(runs_copy):
    root, folders = runs_copy
    stamp = summaries.runs_stamp(root)
    assert summaries.runs_stamp(root) == stamp and len(stamp) == len(folders)
    status = json.loads((folders["plain"] / "status.json").read_text())
    write_json_atomic(folders["plain"] / "status.json", {**status, "note": "x"})
    written = summaries.runs_stamp(root)
    assert written != stamp
    with open(folders["synthetic"] / "metrics.jsonl", "a") as handle:   # an append changes no folder's time
        handle.write("\n")
    appended = summaries.runs_stamp(root)
    assert appended != written
    made = create_run({"name": "new"}, root, label="new")
    assert summaries.runs_stamp(root) != appended
    shutil.rmtree(made)
    assert summaries.runs_stamp(root) == appended


def test_with_no_run_training_the_page_ticks_only_a_stat_and_while_one_trains_the_live_view(runs_copy, monkeypatch):
    root, folders = runs_copy
    registered = timers(monkeypatch)
    open_compare([folders["plain"].name])
    # No run training: the table and curves are not redrawn on a timer, a stat of the runs folder is.
    assert registered["live"] is None and registered["rerun_on_change"] == 10
    folder = create_run({"name": "waiting"}, root, label="waiting")   # queued: the page lists it as active
    write_json_atomic(folder / "status.json", {"state": "queued", "pid": None, "step": 0, "total_steps": 30})
    registered.clear()
    at = open_compare([folders["plain"].name])
    assert folder.name in set(at.dataframe[0].value["id"])
    assert registered == {"live": 5}                            # it redraws every 5 s, as before


def test_the_stat_reruns_the_page_once_the_runs_folder_changed(runs_copy, monkeypatch):
    from ui import compare_runs

    root, folders = runs_copy
    reruns = []
    monkeypatch.setattr(st, "rerun", lambda *args, **kwargs: reruns.append(True))
    stamp = summaries.runs_stamp(root)
    compare_runs.rerun_on_change(stamp)
    assert reruns == []
    shutil.rmtree(folders["synthetic"])                         # deleted elsewhere (a shell, `lmcore` in a terminal)
    compare_runs.rerun_on_change(stamp)
    assert reruns == [True]
