"""The Compare page (AppTest): the runs table over real runs, selections, config diff, filters,
broken folders, deleting, and queueing an ablation grid that really trains."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui
from lmcore import queue
from lmcore.runs import RunWriter, read_status

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def runs_here(trained_runs, monkeypatch):
    """The shared trained runs, read only."""
    root, folders = trained_runs
    monkeypatch.setenv("LMCORE_RUNS_DIR", str(root))
    return root, folders


@pytest.fixture
def runs_copy(trained_runs, tmp_path, monkeypatch):
    """A private copy of the trained runs, for tests that change or damage them."""
    root, folders = trained_runs
    copy = tmp_path / "runs"
    shutil.copytree(root, copy)
    monkeypatch.setenv("LMCORE_RUNS_DIR", str(copy))
    return copy, {name: copy / folder.name for name, folder in folders.items()}


def open_page(**state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/compare.py")
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def runs_table(at):
    return at.dataframe[0].value


def texts(at) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


def status_of(folder: Path) -> dict:
    return json.loads((folder / "status.json").read_text())


def test_table_lists_every_run_with_its_scores(runs_here):
    root, folders = runs_here
    at = open_page()
    table = runs_table(at)
    assert set(table["name"]) == {"plain", "variational", "synthetic"}
    for name, folder in folders.items():
        row = table[table["id"] == folder.name].iloc[0]
        status = status_of(folder)
        assert row["name"] == name and row["state"].endswith("finished")
        assert row["best_val_ppl"] == pytest.approx(status["best_val_ppl"])
        assert row["test_ppl"] == pytest.approx(status["test_ppl"])
    assert table.set_index("name").loc["variational", "dropout_placement"] == "variational"
    assert any("CSV" in b.label for b in at.get("download_button"))
    assert "3** runs" in texts(at)


def test_selected_runs_show_scores_curves_bars_and_only_the_differing_keys(runs_here):
    root, folders = runs_here
    chosen = [folders["plain"].name, folders["variational"].name]
    at = open_page(**{"compare.selected": chosen})
    shown = texts(at)
    for name in ("plain", "variational"):
        status = status_of(folders[name])
        assert f"**{name}**" in shown
        assert f"best val **{ui.fmt_ppl(status['best_val_ppl'])}**" in shown
        assert f"test **{ui.fmt_ppl(status['test_ppl'])}**" in shown
    assert len(at.get("plotly_chart")) == 2                       # curves and bars
    diff = at.dataframe[1].value
    assert list(diff.columns) == ["plain", "variational"]
    assert set(diff.index) == {"dropout", "dropout_placement"}    # nothing else differs, names aside
    assert diff.loc["dropout_placement"].tolist() == ["none", "variational"]
    assert at.session_state["compare.table"]["selection"]["rows"] == sorted(
        list(runs_table(at)["id"]).index(r) for r in chosen)     # the table shows the selection


def test_chart_controls_and_a_synthetic_run_with_its_floor(runs_here):
    root, folders = runs_here
    at = open_page(**{"compare.selected": [folders["synthetic"].name]})
    for axis in ("epoch", "time", "step"):
        at.segmented_control(key="compare.x_axis").set_value(axis).run()
        assert not at.exception
    at.toggle(key="compare.log_y").set_value(False).run()
    at.slider(key="compare.smoothing").set_value(0.9).run()
    assert not at.exception
    curves = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert any("entropy floor" in str(a.get("text")) for a in curves["layout"].get("annotations", []))
    assert "Select two or more runs" in texts(at)


def test_filters_narrow_the_table_and_keep_the_selection(runs_here):
    root, folders = runs_here
    at = open_page(**{"compare.selected": [folders["plain"].name, folders["variational"].name]})
    at.multiselect(key="compare.filter.placements").set_value(["variational"]).run()
    assert list(runs_table(at)["name"]) == ["variational"]
    assert at.session_state["compare.table"]["selection"]["rows"] == [0]   # the row moved: still ticked
    assert len(at.session_state["compare.selected"]) == 2 and "(1 hidden by the filters)" in texts(at)
    at.session_state["compare.selected"] = []
    at.multiselect(key="compare.filter.placements").set_value([]).run()
    at.text_input(key="compare.filter.text").set_value("SYNTH").run()
    assert list(runs_table(at)["name"]) == ["synthetic"]
    at.text_input(key="compare.filter.text").set_value("").run()
    at.multiselect(key="compare.filter.datasets").set_value(["ptb"]).run()
    assert set(runs_table(at)["name"]) == {"plain", "variational"}
    assert "2** shown" in texts(at)


def test_broken_folders_are_marked_broken_and_never_crash(runs_copy):
    root, folders = runs_copy
    (folders["plain"] / "config.json").write_text("{not json")
    (folders["variational"] / "status.json").write_text("")
    (root / "20990101-000000-empty-0000").mkdir()
    shutil.copytree(folders["synthetic"], root / "odd name, not a run id")   # made by hand
    at = open_page()
    table = runs_table(at).set_index("id")
    for folder in (folders["plain"], folders["variational"]):
        assert table.loc[folder.name, "state"].endswith("broken")
        assert table.loc[folder.name, "note"]
    assert table.loc["20990101-000000-empty-0000", "state"].endswith("broken")
    assert table.loc[folders["synthetic"].name, "state"].endswith("finished")
    at = open_page(**{"compare.selected": list(table.index)})      # select the broken ones too
    assert "broken" in texts(at)
    at.multiselect(key="compare.filter.states").set_value(["broken"]).run()
    assert not at.exception and len(runs_table(at)) == 3
    at.button[[b.label for b in at.button].index("Delete 5 runs…")].click().run()
    at.button[[b.label for b in at.button].index("Yes, delete")].click().run()
    assert not at.exception and not [p for p in root.iterdir() if not p.name.startswith(".")]


def test_delete_asks_then_deletes(runs_copy):
    root, folders = runs_copy
    at = open_page(**{"compare.selected": [folders["plain"].name]})
    at.button[[b.label for b in at.button].index("Delete 1 run…")].click().run()
    assert any("cannot be undone" in w.value for w in at.warning)
    at.button[[b.label for b in at.button].index("Cancel")].click().run()
    assert folders["plain"].exists() and not at.warning
    at.button[[b.label for b in at.button].index("Delete 1 run…")].click().run()
    at.button[[b.label for b in at.button].index("Yes, delete")].click().run()
    assert not at.exception and not folders["plain"].exists()
    assert any("Deleted 1 run" in s.value for s in at.success)
    assert "plain" not in set(runs_table(at)["name"]) and at.session_state["compare.selected"] == []


def test_a_running_run_is_not_deleted_and_the_reason_is_shown(runs_copy):
    root, folders = runs_copy
    # A live process whose command line names lmcore, standing in for a training process.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)  # lmcore train"])
    try:
        RunWriter(folders["variational"]).status(state="running", pid=sleeper.pid, finished_at=None)
        at = open_page(**{"compare.selected": [folders["variational"].name]})
        at.button[[b.label for b in at.button].index("Delete 1 run…")].click().run()
        at.button[[b.label for b in at.button].index("Yes, delete")].click().run()
        assert folders["variational"].exists()
        assert any("is running; stop it before deleting it" in w.value for w in at.warning)
    finally:
        sleeper.kill()
        sleeper.wait()


DIVERGED = 1.0142320540616806e304


def diverge(folder: Path) -> None:
    """Make a trained run look like one whose perplexity blew up (issue 13.2)."""
    status = status_of(folder)
    status.update(best_val_ppl=DIVERGED, final_val_ppl=DIVERGED)
    (folder / "status.json").write_text(json.dumps(status))
    with open(folder / "metrics.jsonl", "a") as handle:
        for step, ppl in ((41, 5e8), (42, DIVERGED)):
            handle.write(json.dumps({"kind": "val", "step": step, "epoch": 2, "ppl": ppl, "loss": 700.0}) + "\n")


def shown_cells(at, column: str) -> list[str]:
    """The text the browser shows in a column of the runs table (the styler's display values)."""
    import pyarrow

    display = pyarrow.ipc.open_stream(at.dataframe[0].proto.arrow_data.styler.display_values).read_all()
    return display.to_pandas()[column].tolist()


def test_a_diverged_run_reads_as_huge_and_the_charts_clip_it(runs_copy):
    root, folders = runs_copy
    diverge(folders["variational"])
    at = open_page(**{"compare.selected": [folders["plain"].name, folders["variational"].name]})
    shown = texts(at)
    assert "best val **1.0e304**" in shown and "final val **1.0e304**" in shown
    assert "Axis clipped at" in shown and "variational reaches 1.0e304." in shown
    curves, bars = (json.loads(chart.proto.spec) for chart in at.get("plotly_chart"))
    assert 10 ** curves["layout"]["yaxis"]["range"][1] < 1e6          # the others stay readable
    assert bars["layout"]["yaxis"]["range"][1] < 1e6
    table = runs_table(at)
    assert table.set_index("name").loc["variational", "best_val_ppl"] == DIVERGED   # raw underneath: sorts right
    row = list(table["name"]).index("variational")
    assert shown_cells(at, "best_val_ppl")[row] == shown_cells(at, "final_val_ppl")[row] == "1.0e304"


def test_runs_that_share_a_name_are_told_apart_everywhere(runs_copy):
    root, folders = runs_copy
    twin = root / (folders["plain"].name[:-4] + "zzzz")
    shutil.copytree(folders["plain"], twin)
    at = open_page(**{"compare.selected": [folders["plain"].name, twin.name]})
    labels = runs_table(at).set_index("id")["label"]
    assert labels[twin.name] == "plain · zzzz"
    assert labels[folders["plain"].name] == f"plain · {folders['plain'].name[-4:]}"
    assert "**plain · zzzz**" in texts(at)                                              # the run line
    legend = {trace["name"] for trace in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}
    assert "plain · zzzz validation" in legend


def test_the_table_has_final_validation_beside_best_and_the_planned_steps(runs_here):
    root, folders = runs_here
    table = runs_table(open_page()).set_index("id")
    for folder in folders.values():
        status = status_of(folder)
        row = table.loc[folder.name]
        assert row["final_val_ppl"] == pytest.approx(status["final_val_ppl"]) and row["best_epoch"] >= 1
        assert row["total_steps"] == status["total_steps"] and row["max_steps"] == row["total_steps"]


def grid_page(**state) -> AppTest:
    return open_page(**{"compare.tab": "Ablation grids", **state})


def test_grid_form_counts_runs_and_reports_bad_overrides(runs_here):
    at = grid_page()
    at.multiselect(key="compare.grid.toggle.layers").set_value([1, 2, 3]).run()
    at.multiselect(key="compare.grid.toggle.tie_weights").set_value([False, True]).run()
    assert "**6 runs** = 2 tie_weights × 3 layers" in texts(at)
    at.text_area(key="compare.grid.overrides").set_value("max_steps=many").run()
    assert any("max_steps" in e.value for e in at.error)
    queue_button = next(b for b in at.button if b.label.startswith("Queue"))
    assert queue_button.disabled
    assert "No grids yet" in texts(at)


def test_queue_a_grid_from_the_page_and_it_trains_one_at_a_time(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("LMCORE_RUNS_DIR", str(root))
    at = grid_page(**{"compare.grid.preset": "tiny"})
    at.text_area(key="compare.grid.overrides").set_value("max_steps=3\nthreads=1\nsample_words=3").run()
    at.multiselect(key="compare.grid.toggle.tie_weights").set_value([False, True]).run()
    assert "**2 runs** = 2 tie_weights" in texts(at)
    assert at.number_input(key="compare.grid.concurrency").value == 1
    next(b for b in at.button if b.label == "Queue 2 runs").click().run()
    assert not at.exception and any("Queued 2 runs" in s.value for s in at.success)

    folders = sorted(p for p in root.iterdir() if p.is_dir())
    configs = [json.loads((f / "config.json").read_text()) for f in folders]
    assert sorted(c["tie_weights"] for c in configs) == [False, True]
    assert all(c["max_steps"] == 3 and c["preset"] == "tiny" and c["threads"] == 1 for c in configs)
    assert len({c["group"] for c in configs}) == 1 and configs[0]["group"].startswith("grid-")

    queue.work(root, poll=0.2)  # does the work unless the page's worker already holds the queue
    deadline = time.monotonic() + 120
    while not all(read_status(f)["state"] in ("finished", "failed") for f in folders):
        assert time.monotonic() < deadline, [read_status(f) for f in folders]
        time.sleep(0.5)
    statuses = sorted((read_status(f) for f in folders), key=lambda s: s["started_at"])
    assert [s["state"] for s in statuses] == ["finished", "finished"], statuses
    assert statuses[0]["finished_at"] <= statuses[1]["started_at"]        # concurrency 1

    at = grid_page()
    assert any("2 / 2 finished" in p.proto.text for p in at.get("progress"))
    effect = next(d.value for d in at.dataframe if "mean best val" in d.value.columns)
    assert list(effect["tie_weights"]) == ["false", "true"] and list(effect["runs"]) == [1, 1]


def test_the_styled_table_keeps_its_identity_across_reruns(runs_here):
    """A Styler's random uuid made the browser drop a row ticked during the previous rerun."""
    at = open_page()
    first = at.dataframe[0].proto.arrow_data.styler.uuid
    at.run()
    assert first and at.dataframe[0].proto.arrow_data.styler.uuid == first
