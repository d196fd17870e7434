"""What Compare costs with many runs on disk: a rerun builds the runs table's rows once, an unchanged
run's row and metrics are not read again, and with no run training the page's timer only stats the
runs folder (scripts/bench_compare.py measures it; docs/performance.md has the numbers)."""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from explorer import compare
from lmcore import metrics_frame, queue, summaries
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


@pytest.fixture
def no_queue_worker(monkeypatch):
    """The sidebar starts a worker for queued runs; training_run's must stay as the test writes it."""
    monkeypatch.setattr(queue, "ensure_worker", lambda root=None: None)


def training_run(root: Path, like: Path) -> Path:
    """A run the page counts as training (queued, with no_queue_worker: none starts it) whose log starts as
    `like`'s first lines."""
    folder = create_run({"name": "training"}, root, label="training")
    write_json_atomic(folder / "status.json", {"state": "queued", "pid": None, "step": 0, "total_steps": 400})
    lines = (like / "metrics.jsonl").read_text().splitlines()
    (folder / "metrics.jsonl").write_text("".join(line + "\n" for line in lines[:6] if '"train"' in line))
    return folder


def log_step(folder: Path, step: int) -> None:
    """A trainer's next training line, at `step`."""
    with open(folder / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps({"kind": "train", "step": step, "epoch": 1, "ppl": 321.0, "loss": 5.8, "lr": 1.0,
                                 "tokens_per_s": 1000.0, "grad_norm": 1.0, "time": 9.0}) + "\n")


def curve_lines(at: AppTest) -> dict:
    """The curves chart's lines as the browser gets them: trace name -> its x values."""
    chart = next(c for c in at.get("plotly_chart") if "training step" in c.proto.spec or "epoch" in c.proto.spec)
    return {trace["name"]: values(trace.get("x")) for trace in json.loads(chart.proto.spec)["data"]}


def values(encoded) -> list:
    """A trace's values from Plotly's JSON: a list, or a typed array ({"dtype", "bdata": base64})."""
    if isinstance(encoded, dict):
        return np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=encoded["dtype"]).tolist()
    return list(encoded or [])


def test_while_a_run_trains_a_refresh_redraws_only_the_lines_that_changed(runs_copy, monkeypatch, no_queue_worker):
    from ui import compare_runs

    root, folders = runs_copy
    ui_module = __import__("ui")
    lines = counted(monkeypatch, ui_module, "curve_traces")
    figures = counted(monkeypatch, ui_module, "ppl_figure")
    bars = counted(monkeypatch, compare_runs, "score_bars")
    live = training_run(root, folders["plain"])
    finished = [folders["plain"].name, folders["variational"].name]
    at = open_compare(finished)
    assert len(lines) == 2 and len(figures) == 1 and len(bars) == 1
    log_step(live, 50)
    for drawn in (lines, figures, bars):
        drawn.clear()
    at.run()                                                    # the 5 s refresh: only finished runs selected
    assert not at.exception and (lines, figures, bars) == ([], [], [])
    at.session_state["compare.selected"] = [*finished, live.name]
    at.run()
    assert [curve["label"] for curve in lines] == ["training"]  # a selected run's lines are kept, colour and all
    lines.clear()
    figures.clear()
    log_step(live, 60)
    at.run()                                                    # the refresh after the trainer's next line
    assert [curve["label"] for curve in lines] == ["training"] and len(figures) == 1 and bars == []
    assert max(curve_lines(at)["training train"]) == 60         # the chart follows the training run
    lines.clear()
    figures.clear()
    at.run()                                                    # no line came: nothing is drawn again
    assert (lines, figures) == ([], [])
    at.toggle(key="compare.log_y").set_value(not at.session_state["compare.log_y"]).run()
    assert len(figures) == 1 and lines == []                    # a setting redraws at once, from the kept lines
    chart = json.loads(next(c for c in at.get("plotly_chart") if "training step" in c.proto.spec).proto.spec)
    assert chart["layout"]["yaxis"].get("type") == ("log" if at.session_state["compare.log_y"] else None)
    at.slider(key="compare.smoothing").set_value(0.5).run()
    assert [curve["label"] for curve in lines] == ["plain", "variational", "training"]   # smoothing: new lines


def test_the_runs_stamp_is_taken_only_while_no_run_trains(runs_copy, monkeypatch, no_queue_worker):
    from ui import compare_runs

    root, folders = runs_copy
    stamps = counted(monkeypatch, summaries, "runs_stamp")     # the page's name for it, at each run
    monkeypatch.setattr(compare_runs, "runs_stamp", summaries.runs_stamp)   # the watch's
    live = training_run(root, folders["plain"])
    registered = timers(monkeypatch)
    at = open_compare([folders["plain"].name])
    assert registered == {"live": 5}
    stamps.clear()
    at.run()                                                    # a full rerun while the run trains
    assert not at.exception and stamps == []
    status = json.loads((live / "status.json").read_text())
    write_json_atomic(live / "status.json", {**status, "state": "stopped"})
    registered.clear()
    at.run()                                                    # it ended: the watch needs a stamp again
    assert not at.exception, [e.value for e in at.exception]
    assert registered == {"live": None, "rerun_on_change": 10}, registered
    assert len(stamps) == 2                                     # the page's, before its last listing, and the watch's
