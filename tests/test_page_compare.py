"""The Compare page (AppTest): the runs table over real runs, selections, config diff, filters,
broken folders, deleting, and queueing an ablation grid that really trains."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui
from charts import chart, named, values
from conftest import run_as_back
from explorer import compare
from explorer.textview import md_escape
from lmcore import queue
from lmcore.runs import RunWriter, read_status
from lmcore.summaries import reference_runs

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
    at.switch_page("app_pages/compare.py")
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def runs_table(at):
    return at.dataframe[0].value


def ticked_rows(at) -> list[int]:
    """The rows the runs table shows ticked (its widget key changes with the rows shown)."""
    return at.session_state[at.session_state["compare.table"]]["selection"]["rows"]


def user_rows(table):
    """The table without the reference runs the project ships (listed after the user's runs)."""
    return table[~table["id"].isin({s.id for s in reference_runs()})]


def texts(at) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


def status_of(folder: Path) -> dict:
    return json.loads((folder / "status.json").read_text())


def config_diff(at):
    """The config differences as shown: a frame of the HTML table's cells (key -> one column per
    run, headed #1, #2 ...), with each header's pointer text in `attrs["names"]` and the line printed
    under its number in `attrs["under"]`; None if absent."""
    import html
    import re

    import pandas as pd

    table = next((m.value for m in at.markdown if "<table" in m.value), None)
    if table is None:
        return None
    def cells(row):
        return [html.unescape(text.replace("<wbr>", "")) for text in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
    head, *rows = re.findall(r"<tr>(.*?)</tr>", table)
    columns = [cell.split("<br>")[0] for cell in cells(head)]
    frame = pd.DataFrame([cells(row)[1:] for row in rows], index=[cells(row)[0] for row in rows], columns=columns[1:])
    frame.attrs["names"] = [html.unescape(t) for t in re.findall(r'title="([^"]*)"', head)]
    frame.attrs["under"] = [re.sub("<[^>]+>", "", cell.split("<br>")[1]) for cell in cells(head)[1:] if "<br>" in cell]
    return frame


def test_table_lists_every_run_with_its_scores(runs_here):
    root, folders = runs_here
    at = open_page()
    table = runs_table(at)
    assert set(user_rows(table)["name"]) == {"plain", "variational", "synthetic"}
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
    diff = config_diff(at)
    # Headed by number (QA: headed by full names, one column fitted), each number beside its run's line.
    assert list(diff.columns) == ["#1", "#2"] and diff.attrs["names"] == diff.attrs["under"] == ["plain", "variational"]
    assert "</span> #1 **plain** — " in shown and "</span> #2 **variational** — " in shown
    assert set(diff.index) == {"dropout", "dropout_placement"}    # nothing else differs, names aside
    assert diff.loc["dropout_placement"].tolist() == ["none", "variational"]
    assert ticked_rows(at) == sorted(
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
    curves = chart(at)
    floor = status_of(folders["synthetic"])["floor_ppl"]
    # Every run drawn is on the corpus: the floor is theirs without a name, and needs no caption.
    assert f"best possible (entropy floor) {floor:.1f}" in [t["name"] for t in curves["data"]]
    assert "Dashed: the entropy floor" not in texts(at)
    assert "Select two or more runs" in texts(at)


def test_filters_narrow_the_table_and_keep_the_selection(runs_here):
    root, folders = runs_here
    at = open_page(**{"compare.selected": [folders["plain"].name, folders["variational"].name]})
    unfiltered = at.session_state["compare.table"]
    at.multiselect(key="compare.filter.placements").set_value(["variational"]).run()
    assert list(user_rows(runs_table(at))["name"]) == ["variational"]
    assert ticked_rows(at) == [0]                                     # the row moved: still ticked
    # Other rows, another widget: a tick's row positions that arrive late, made on the unfiltered rows,
    # cannot pick the runs now at those places (QA round 14: Delete then named two runs never ticked).
    assert at.session_state["compare.table"] != unfiltered
    assert len(at.session_state["compare.selected"]) == 2 and "(1 hidden by the filters)" in texts(at)
    at.session_state["compare.selected"] = []
    at.multiselect(key="compare.filter.placements").set_value([]).run()
    at.text_input(key="compare.filter.text").set_value("SYNTH").run()
    assert list(runs_table(at)["name"]) == ["synthetic"]
    at.text_input(key="compare.filter.text").set_value("").run()
    at.multiselect(key="compare.filter.datasets").set_value(["ptb"]).run()
    assert set(user_rows(runs_table(at))["name"]) == {"plain", "variational"}


def test_broken_folders_are_marked_broken_and_never_crash(runs_copy):
    root, folders = runs_copy
    (folders["plain"] / "config.json").write_text("{not json")
    (folders["variational"] / "status.json").write_text("")
    (root / "20990101-000000-empty-0000").mkdir()
    shutil.copytree(folders["synthetic"], root / "odd name, not a run id")   # made by hand
    at = open_page()
    table = user_rows(runs_table(at)).set_index("id")
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
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("app_pages/compare.py")
    at.query_params["runs"] = folders["plain"].name
    at.run()
    at.button[[b.label for b in at.button].index("Delete 1 run…")].click().run()
    assert [w.value for w in at.warning] == [
        "Delete 1 run folder from disk (**plain**), with its checkpoints? This cannot be undone."]
    at.button[[b.label for b in at.button].index("Cancel")].click().run()
    assert folders["plain"].exists() and not at.warning
    at.button[[b.label for b in at.button].index("Delete 1 run…")].click().run()
    at.button[[b.label for b in at.button].index("Yes, delete")].click().run()
    assert not at.exception and not folders["plain"].exists()
    assert any("Deleted 1 run" in s.value for s in at.success)
    assert "plain" not in set(runs_table(at)["name"]) and at.session_state["compare.selected"] == []
    assert "runs" not in at.query_params                      # the link no longer names the deleted run


def delete_button(at):
    return next(b for b in at.button if b.label.startswith("Delete"))


def test_a_running_run_is_not_offered_for_deletion_and_the_confirmation_says_it_is_kept(runs_copy):
    root, folders = runs_copy
    running, plain = folders["variational"], folders["plain"]
    # A live process whose command line names lmcore, standing in for a training process.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)  # lmcore train"])
    try:
        RunWriter(running).status(state="running", pid=sleeper.pid, finished_at=None)
        at = open_page(**{"compare.selected": [running.name]})
        button = delete_button(at)
        assert button.label == "Delete…" and button.disabled and "stop it" in button.help
        assert "Nothing selected can be deleted: stop a running run on Train first." in [c.value for c in at.caption]
        at = open_page(**{"compare.selected": [running.name, plain.name]})
        delete_button(at).click().run()
        assert [w.value for w in at.warning] == [
            "Delete 1 run folder from disk (**plain**), with its checkpoints? This cannot be undone. **variational** "
            "(running) is kept."]
        at.button[[b.label for b in at.button].index("Yes, delete")].click().run()
        assert running.exists() and not plain.exists()
        assert at.session_state["compare.selected"] == [running.name]
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_run_that_starts_after_the_click_is_kept(runs_copy):
    root, folders = runs_copy
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)  # lmcore train"])
    try:
        at = open_page(**{"compare.selected": [folders["variational"].name, folders["plain"].name]})
        delete_button(at).click().run()
        assert "Delete 2 run folders from disk (**variational**, **plain**), with their checkpoints?" in \
            at.warning[0].value
        RunWriter(folders["variational"]).status(state="running", pid=sleeper.pid, finished_at=None)
        at.run()
        question = at.warning[0].value
        assert "Delete 1 run folder" in question and "**variational** (running) is kept" in question
        at.button[[b.label for b in at.button].index("Yes, delete")].click().run()
        assert folders["variational"].exists() and not folders["plain"].exists()
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
    assert bars["layout"]["yaxis"]["type"] == "log" and 10 ** bars["layout"]["yaxis"]["range"][1] < 1e6
    table = runs_table(at)
    # Underneath, a number the grid takes (it refuses whole numbers above 2**53) that sorts last.
    assert table.set_index("name").loc["variational", "best_val_ppl"] == table["best_val_ppl"].max() < DIVERGED
    row = list(table["name"]).index("variational")
    assert shown_cells(at, "best_val_ppl")[row] == shown_cells(at, "final_val_ppl")[row] == "1.0e304"


def write_metrics(folder: Path, train: list, validation: list) -> None:
    """Replace a run's metrics with these perplexities: train lines, then validations, a step apart."""
    lines = [{"kind": kind, "step": step, "epoch": 1, "ppl": ppl, "loss": math.log(ppl)}
             for step, (kind, ppl) in enumerate([("train", p) for p in train] + [("val", p) for p in validation])]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    RunWriter(folder).status(best_val_ppl=min(validation), final_val_ppl=validation[-1])


def test_an_over_fitting_run_is_drawn_whole_with_no_clip_caption(runs_copy):
    """QA: tiny over 40 epochs (validation up to 5,696.9) read 'Axis clipped at 5,164.9: long1 reaches
    5,696.9' while that point was drawn."""
    from test_perplexity import over_fitting

    root, folders = runs_copy
    rename(folders["plain"], "long1")
    write_metrics(folders["plain"], *over_fitting())
    at = open_page(**{"compare.selected": [folders["plain"].name, folders["variational"].name]})
    assert "final val **5,696.9**" in texts(at) and "Axis clipped" not in texts(at)
    assert chart(at, key="compare.curves")["layout"]["yaxis"].get("range") is None   # autorange: all of it


def test_a_clip_caption_names_only_the_runs_that_go_past_the_axis_drawn(runs_copy):
    """Beside each other, runs are cut at twice the highest latest validation (408.8); the axis has room
    above it, so a first step of 450 is drawn, and the caption no longer says it is cut."""
    root, folders = runs_copy
    write_metrics(folders["plain"], [5000.0, 300.0, 90.0], [204.4, 79.9])
    write_metrics(folders["variational"], [450.0, 400.0, 180.0], [150.0, 204.4])
    at = open_page(**{"compare.selected": [folders["plain"].name, folders["variational"].name]})
    assert "Axis stops at 408.8, " + ui.CEILING_REASON + ": plain reaches 5,000.0." in [c.value for c in at.caption]
    assert 450 < 10 ** chart(at, key="compare.curves")["layout"]["yaxis"]["range"][1] < 5000


def test_the_score_bars_have_a_log_scale_like_the_curves(runs_copy):
    """QA: one 5,696.9 bar flattened the others (80 to 135) on a linear axis."""
    root, folders = runs_copy
    write_metrics(folders["plain"], [2000.0, 20.0], [135.0, 5696.9])
    at = open_page(**{"compare.selected": [folders["plain"].name, folders["variational"].name]})
    bars = chart(at, key="compare.bars")
    axis, heights = bars["layout"]["yaxis"], [v for trace in bars["data"] for v in values(trace, "y")]
    assert axis["type"] == "log"                                                  # by default, as the curves
    assert 10 ** axis["range"][0] < min(heights) / 1.5 and 10 ** axis["range"][1] > max(heights) == 5696.9
    at.toggle(key="compare.bars.log_y").set_value(False).run()
    assert chart(at, key="compare.bars")["layout"]["yaxis"].get("type") is None   # linear
    assert chart(at, key="compare.curves")["layout"]["yaxis"]["type"] == "log"    # each chart its own toggle


def test_a_run_without_a_config_is_left_out_of_the_config_differences(runs_copy):
    """QA: a folder without config.json selected beside two runs made 42 keys differ, all '—' for it."""
    root, folders = runs_copy
    empty = root / "20990101-000000-empty-0000"
    empty.mkdir()
    at = open_page(**{"compare.selected": [folders["plain"].name, folders["variational"].name, empty.name]})
    diff = config_diff(at)
    assert list(diff.columns) == ["#1", "#2"] and set(diff.index) == {"dropout", "dropout_placement"}
    assert f"**{md_escape(empty.name)}** left out: no readable config.json." in texts(at)
    at = open_page(**{"compare.selected": [folders["plain"].name, empty.name]})
    assert "Fewer than two of the selected runs have a config to compare." in texts(at)


def test_a_config_json_edited_since_the_run_trained_is_warned(runs_copy):
    """QA round 17 (S6a): a no-dropout run's config.json edited to dropout 0.5 vertical read "dropout 0.5 |
    0.3" beside a run with identical curves. Its checkpoint holds the config it trained with."""
    root, folders = runs_copy
    plain = folders["plain"]
    config = json.loads((plain / "config.json").read_text())
    (plain / "config.json").write_text(json.dumps({**config, "name": "renamed", "max_steps": 80}))  # no training
    at = open_page(**{"compare.selected": [plain.name, folders["variational"].name]})
    assert "config.json edited since" not in " ".join(w.value for w in at.warning)
    (plain / "config.json").write_text(json.dumps({**config, "dropout_placement": "vertical"}))
    at = open_page(**{"compare.selected": [plain.name, folders["variational"].name]})
    edited = md_escape("dropout_placement vertical (its checkpoint: none)")
    assert ("config.json edited since the run trained, so the differences below show config.json, not what it "
            f"trained with:\n- **plain**: {edited}") in [w.value for w in at.warning]


def test_a_curve_whose_log_lost_its_start_is_named(runs_copy):
    """QA round 17 (S6c): a metrics.jsonl deleted while the run trained starts late, and the curve with it."""
    root, folders = runs_copy
    plain = folders["plain"]
    at = open_page(**{"compare.selected": [plain.name, folders["variational"].name]})
    assert "starts there" not in texts(at)
    lines = (plain / "metrics.jsonl").read_text().splitlines(keepends=True)
    (plain / "metrics.jsonl").write_text("".join(line for line in lines if json.loads(line)["step"] > 20))
    first = min(json.loads(line)["step"] for line in lines if json.loads(line)["step"] > 20)
    at = open_page(**{"compare.selected": [plain.name, folders["variational"].name]})
    assert (f"The log of **plain** at step {first:,} starts there: the steps before are missing from its "
            "metrics.jsonl (deleted or cut while it trained).") in texts(at)


def test_runs_that_share_a_name_are_told_apart_everywhere(runs_copy):
    root, folders = runs_copy
    twin = root / (folders["plain"].name[:-4] + "zzzz")
    shutil.copytree(folders["plain"], twin)
    at = open_page(**{"compare.selected": [folders["plain"].name, twin.name]})
    labels = runs_table(at).set_index("id")["label"]
    assert labels[twin.name] == "plain · zzzz"
    assert labels[folders["plain"].name] == f"plain · {folders['plain'].name[-4:]}"
    assert "**plain · zzzz**" in texts(at)                                              # the run line
    legend = {trace["name"] for trace in chart(at)["data"] if trace.get("showlegend") is not False}
    assert "plain · zzzz" in legend                                                     # the run alone


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
    cells = frame_with(at, "best val").set_index("cell")
    finished = [text.replace("\u00a0", " ") for text in cells["finished"]]   # kept on one line at 1024 px
    assert list(cells.index) == ["tied=false", "tied=true"] and finished == ["1 / 1", "1 / 1"]
    assert all(text.endswith("(n=1)") and "±" not in text for text in cells["best val"])   # one seed: no sd
    effects_table = frame_with(at, "estimate")
    assert effects_table["verdict"].tolist() == ["no interval"] * 3 and (effects_table["low"] == "—").all()
    assert "No interval where a side has one finished run" in texts(at)


def test_the_styled_table_keeps_its_identity_across_reruns(runs_here):
    """A Styler's random uuid made the browser drop a row ticked during the previous rerun."""
    at = open_page()
    first = at.dataframe[0].proto.arrow_data.styler.uuid
    at.run()
    assert first and at.dataframe[0].proto.arrow_data.styler.uuid == first


def test_perplexity_columns_sort_by_value_and_read_as_huge_or_missing(runs_copy):
    root, folders = runs_copy
    diverge(folders["variational"])
    status = status_of(folders["plain"])
    del status["test_ppl"]
    (folders["plain"] / "status.json").write_text(json.dumps(status))
    at = open_page()
    columns = json.loads(at.dataframe[0].proto.columns)
    for key in ("best_val_ppl", "final_val_ppl", "test_ppl"):
        # A number column sorts by value (a text column put '104.3' before '16.5'); with no format of
        # its own it shows the styler's text.
        assert columns[key]["type_config"] == {"type": "number"}, columns[key]
        assert runs_table(at)[key].dtype == float and runs_table(at)[key].max() < 2**53   # or the grid refuses it
    names = list(runs_table(at)["name"])
    assert shown_cells(at, "best_val_ppl")[names.index("variational")] == "1.0e304"
    assert shown_cells(at, "test_ppl")[names.index("plain")] == "—"


def rename(folder: Path, name: str) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "name": name}))


ODD_NAME = "app-tiny <b>& *x* $5 <br>"


def test_a_run_name_reads_as_typed_in_the_run_line_captions_legends_and_bars(runs_copy):
    root, folders = runs_copy
    rename(folders["variational"], ODD_NAME)
    diverge(folders["variational"])                       # so the clip caption names it too
    at = open_page(**{"compare.selected": [folders["plain"].name, folders["variational"].name]})
    shown = texts(at)
    assert f"**{md_escape(ODD_NAME)}** — " in shown        # the run line, which allows HTML for its dot
    assert f"{md_escape(ODD_NAME)} reaches 1.0e304." in shown
    plotly_name = "app-tiny &lt;b&gt;&amp; *x* $5 &lt;br&gt;"   # Plotly shows entities as the characters
    assert ui.plotly_text(ODD_NAME) == plotly_name
    assert {f"{plotly_name} train", f"{plotly_name} validation"} <= set(named(chart(at)["data"]))
    assert plotly_name in {t["name"] for t in chart(at, key="compare.bars")["data"]}


def plain_text(markdown: str) -> str:
    return markdown.replace("\\", "")


def test_runs_on_other_data_or_vocabularies_are_said_not_comparable(runs_here):
    root, folders = runs_here
    book = next(s for s in reference_runs() if s.config.get("preset") == "book")
    at = open_page(**{"compare.selected": [folders["plain"].name, folders["synthetic"].name, book.id]})
    warning = plain_text(next(w.value for w in at.warning if "not comparable" in w.value))
    vocabularies = sorted(json.loads((folder / "params.json").read_text())["vocab_size"]
                          for folder in (folders["plain"], folders["synthetic"], book.path))
    assert "They train on different data: PTB and the generated corpus (data seed 0)." in warning
    assert f"Their vocabularies differ ({' vs '.join(f'{v:,}' for v in vocabularies)} words)" in warning
    at = open_page(**{"compare.selected": [folders["plain"].name, folders["variational"].name]})
    assert not [w for w in at.warning if "not comparable" in w.value]     # same data, same words


def test_each_entropy_floor_is_drawn_beside_runs_on_other_data(runs_here):
    root, folders = runs_here
    floor = status_of(folders["synthetic"])["floor_ppl"]
    at = open_page(**{"compare.selected": [folders["plain"].name, folders["synthetic"].name]})
    name = f"best possible for synthetic (entropy floor) {floor:.1f}"
    for key in ("compare.curves", "compare.bars"):
        figure = chart(at, key=key)
        assert name in [t["name"] for t in figure["data"]], key       # named in the legend, for its run
        assert not figure["layout"].get("annotations"), key           # no label on the plot to cover or be covered
    assert f"(**synthetic** {floor:.1f}; a finite split can land about 1% either side), drawn under its own runs only" \
        in texts(at)


def test_the_csv_button_is_off_when_the_filters_match_nothing(runs_here):
    at = open_page()
    at.text_input(key="compare.filter.text").set_value("no run is called this").run()
    button = at.get("download_button")[0].proto
    assert button.label == "CSV of these 0 runs" and button.disabled


def frame_with(at, column: str):
    """The table or dataframe on the page that has `column`."""
    return next(d.value for d in [*at.table, *at.dataframe] if column in d.value.columns)


def test_seeds_per_cell_multiply_the_run_count(runs_here):
    at = grid_page()
    at.multiselect(key="compare.grid.toggle.dropout_placement").set_value(["none", "variational"]).run()
    at.multiselect(key="compare.grid.toggle.tie_weights").set_value([False, True]).run()
    at.number_input(key="compare.grid.seeds").set_value(3).run()
    assert "**12 runs** = 2 dropout_placement × 2 tie_weights × 3 seeds" in texts(at)
    assert not next(b for b in at.button if b.label.startswith("Queue")).disabled
    assert next(b for b in at.button if b.label.startswith("Queue")).label == "Queue 12 runs"
    assert any(e.label == "The 4 cells, 3 seeds each" for e in at.expander)
    # Seeds alone repeat the base config: one cell, still a grid worth queueing.
    for key in ("dropout_placement", "tie_weights"):
        at.multiselect(key=f"compare.grid.toggle.{key}").set_value([]).run()
    assert "**3 runs** = 3 seeds" in texts(at)
    assert not next(b for b in at.button if b.label.startswith("Queue")).disabled


def test_a_grid_of_more_than_200_runs_asks_to_confirm_before_queueing(runs_here):
    at = grid_page()
    at.multiselect(key="compare.grid.toggle.dropout_placement").set_value(
        ["none", "vertical", "horizontal", "variational"]).run()
    at.multiselect(key="compare.grid.toggle.layers").set_value([1, 2, 3, 4]).run()
    at.multiselect(key="compare.grid.toggle.tie_weights").set_value([False, True]).run()
    at.number_input(key="compare.grid.seeds").set_value(10).run()

    def queue_button():
        return next(b for b in at.button if b.label.startswith("Queue"))

    assert queue_button().label == "Queue 320 runs" and queue_button().disabled
    assert any("320 runs is more than 200" in w.value for w in at.warning)
    at.checkbox(key="compare.grid.confirm.320").check().run()
    assert not queue_button().disabled
    at.number_input(key="compare.grid.seeds").set_value(9).run()      # another size: confirm again
    assert queue_button().label == "Queue 288 runs" and queue_button().disabled


# ---------------------------------------------------------------- a real grid with seeds


@pytest.fixture(scope="module")
def seeded_grid(tmp_path_factory, ptb_dir):
    """A real, finished 2x2 grid x 2 seeds of the small test config: a few seconds of training."""
    from conftest import SMALL
    from lmcore import ablation
    from lmcore.config import from_dict, validate
    from lmcore.runs import create_run
    from lmcore.session import run

    root = tmp_path_factory.mktemp("seeded") / "runs"
    base = validate(from_dict({**SMALL, "max_steps": 10, "eval_every": 5, "dropout": 0.3}))
    configs = ablation.grid(base, {"dropout_placement": ["none", "variational"], "tie_weights": [False, True]},
                            seeds=2)
    for config in configs:
        run(create_run(config.to_dict(), root, label=config.name), show_progress=False)
    return root, configs[0].group


def grid_link(monkeypatch, root, group, **state) -> AppTest:
    monkeypatch.setenv("LMCORE_RUNS_DIR", str(root))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("app_pages/compare.py")
    at.query_params["group"] = group
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_grids_effects_on_the_page_equal_the_cli_json(seeded_grid, monkeypatch):
    root, group = seeded_grid
    cli = subprocess.run([sys.executable, "-m", "lmcore", "effects", group, "--runs-dir", str(root), "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    report = json.loads(cli.stdout)
    at = grid_link(monkeypatch, root, group)
    assert at.session_state["compare.tab"] == "Ablation grids" and at.session_state["compare.grid.chosen"] == group
    rows = report["effects"] + report["interactions"]
    table = frame_with(at, "estimate")
    assert len(table) == len(rows) == 2 * 3 + 3
    for (_, shown), row in zip(table.iterrows(), rows):   # the page's text of the CLI's numbers
        assert [shown[k] for k in ("estimate", "low", "high", "verdict")] == [
            *(f"{row[k]:+.2f}" for k in ("estimate", "low", "high")), row["verdict"]]
        assert shown["n"] == str(row["n"]) and shown["method"].startswith(row["method"])
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")][1:]   # the first has the bands
    assert len(charts) == 3                                   # two toggles and their interaction
    drawn = [(x, x + plus, x - minus) for chart in charts for trace in chart["data"]
             for x, plus, minus in zip(trace["x"], trace["error_x"]["array"], trace["error_x"]["arrayminus"])]
    assert drawn == [pytest.approx((row["estimate"], row["high"], row["low"]), rel=1e-12) for row in rows]
    assert all(chart["layout"]["shapes"][0]["x0"] == 0 for chart in charts)       # the zero line
    labels = [a["text"] for chart in charts for a in chart["layout"]["annotations"]]
    assert labels == [row["verdict"] for row in rows]
    assert report["method"] in texts(at)
    cells = frame_with(at, "best val")
    assert cells["cell"].tolist() == [cell["label"] for cell in report["cells"]]
    assert [text.replace("\u00a0", " ") for text in cells["best val"]] == [
        f"{cell['best_val']['mean']:.1f} ± {cell['best_val']['sd']:.1f} (n=2)" for cell in report["cells"]]


def validations(folder: Path) -> dict:
    lines = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return {line["step"]: line["ppl"] for line in lines if line["kind"] == "val"}


def test_each_cell_is_one_mean_curve_with_a_band_of_its_seeds(seeded_grid, monkeypatch):
    root, group = seeded_grid
    at = grid_link(monkeypatch, root, group)
    spec = chart(at)
    bands = [t for t in spec["data"] if t.get("fill") == "toself"]
    lines = [t for t in spec["data"] if t.get("mode") == "lines+markers"]
    assert len(bands) == len(lines) == 4 and len({t["line"]["color"] for t in lines}) == 4
    line = next(t for t in lines if t["name"] == "placement=none tied=false")
    runs = [validations(f) for f in root.iterdir() if f.name.split("-seed")[0].endswith("none-tied-false")]
    assert len(runs) == 2 and line["x"] == sorted(runs[0])
    assert line["y"] == pytest.approx([(a + b) / 2 for a, b in zip(*(
        [r[step] for step in sorted(r)] for r in runs))])
    band = next(t for t in bands if t["legendgroup"] == line["name"])
    assert max(band["y"]) == pytest.approx(max(max(r.values()) for r in runs))   # min-max: the seeds' extremes
    at.segmented_control(key="compare.grid.band").set_value("mean ± 1 sd").run()
    sd_band = next(t for t in chart(at)["data"]
                   if t.get("fill") == "toself" and t["legendgroup"] == line["name"])
    # Two seeds a and b: the sd is |a - b| / sqrt(2), so the band's top is the mean plus that.
    tops = [(a + b) / 2 + abs(a - b) / math.sqrt(2) for a, b in zip(*([r[s] for s in sorted(r)] for r in runs))]
    assert sd_band["y"][:len(tops)] == pytest.approx(tops)


def test_a_grid_link_opens_its_grid_and_choosing_another_updates_the_url(seeded_grid, tmp_path, monkeypatch):
    root, group = seeded_grid
    copy = tmp_path / "runs"
    shutil.copytree(root, copy)
    other = next(copy.iterdir())
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "group": "grid-other"}))
    at = grid_link(monkeypatch, copy, "grid-other")
    assert at.session_state["compare.grid.chosen"] == "grid-other"
    at.selectbox(key="compare.grid.chosen").set_value(group).run()
    assert at.query_params.get("group") == group and "runs" not in at.query_params
    at = grid_link(monkeypatch, copy, "grid-nope")                     # a grid that is not here
    assert "The link names 1 grid that is not here (ignored): `grid-nope`." in texts(at)
    assert at.session_state["compare.grid.chosen"] in (group, "grid-other")


def test_a_runs_link_reads_names_and_id_tails_as_the_cli_does(runs_here, monkeypatch):
    """QA round 26: `?runs=9dd6,book` said "2 runs that are not here (ignored)" where `lmcore report 9dd6`
    and `report book` read both (an id tail, a reference run's name); a bad `view` said nothing."""
    root, folders = runs_here
    plain = folders["plain"].name
    tail = plain[-4:]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("app_pages/compare.py")
    at.query_params["runs"] = f"{tail},book,tiny"
    at.query_params["view"] = "banana"
    at.run()
    assert not at.exception
    book = next(s.id for s in reference_runs() if s.config.get("name") == "book" or s.config.get("preset") == "book")
    assert at.session_state["compare.selected"] == [plain, book]
    assert at.query_params["runs"] == f"{plain},{book}"            # written back with the full ids
    said = texts(at)
    variational = folders["variational"].name                       # plain and variational are tiny runs
    assert (f"The link's `tiny` names 2 runs here (ignored): `{plain}`, `{variational}`; give one's id, or its last 4 "
            "characters.") in said or (f"The link's `tiny` names 2 runs here (ignored): `{variational}`, `{plain}`; "
                                       "give one's id, or its last 4 characters.") in said
    assert "The link's `view=banana` is no view (`view=grids` opens the Ablation grids); the Runs view opened." in said
    assert "view" not in at.query_params


def test_a_runs_link_preselects_known_runs_and_the_selection_updates_the_url(runs_here, monkeypatch):
    root, folders = runs_here
    plain, variational = folders["plain"].name, folders["variational"].name
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("app_pages/compare.py")
    at.query_params["runs"] = f"{plain},not-a-run,{plain}"
    at.run()
    assert not at.exception
    assert at.session_state["compare.selected"] == [plain]
    assert "The link names 1 run that is not here (ignored): `not-a-run`." in texts(at)
    assert at.query_params["runs"] == plain                   # the unknown id is gone from the address
    assert "**plain**" in texts(at)                           # shown side by side
    at.session_state["compare.selected"] = [plain, variational]   # as ticking a second row does
    at.run()
    assert at.query_params["runs"] == f"{plain},{variational}"
    assert "not-a-run" not in texts(at)                      # the note went with the link's selection
    at.button[[b.label for b in at.button].index("Clear selection")].click().run()
    assert "runs" not in at.query_params
    at.session_state["compare.tab"] = "Ablation grids"        # the grids view does not keep ?runs=
    at.run()
    assert "runs" not in at.query_params


# ---------------------------------------------------------------- QA round 4: one number, one way


def made(run_id: str, best=None, state="finished", params=1_549_800, elapsed=9.79, **status):
    from lmcore.summaries import from_parts

    status = {"state": state, "best_val_ppl": best, "elapsed": elapsed, "median_tokens_per_s": 83_717.5, **status}
    return from_parts(run_id, f"/runs/{run_id}", {"preset": "tiny", "name": run_id}, status, {"total": params})


def test_a_cpu_runs_line_and_row_say_the_threads_it_trained_with():
    """Another thread count rounds differently (docs/design.md, Reproducing a run): two CPU runs of one seed
    that differ say why (QA round 26). Runs from before the record, and GPU runs, show the device alone."""
    from ui.compare_runs import run_line

    said = {}   # the line's end (Markdown-escaped: its parentheses read as typed), and the table's device
    for key, status in {"two": {"device": "cpu", "threads_used": [2]},
                        "shared": {"device": "cpu", "threads_used": [2, 1]}, "older": {"device": "cpu"},
                        "gpu": {"device": "cuda", "threads_used": [2]}}.items():
        run = made(key, 90.0, **status)
        said[key] = (run_line(run, key).replace("\\", "").rpartition(" intervals) ")[2],
                     compare.run_row(run)["device"])
    assert said == {"two": ("on cpu (2 threads)", "cpu (2 threads)"),
                    "shared": ("on cpu (1 and 2 threads)", "cpu (1 and 2 threads)"),
                    "older": ("on cpu", "cpu"), "gpu": ("on cuda", "cuda")}


def test_the_runs_table_sorts_missing_scores_last_and_writes_numbers_as_every_page():
    """QA: sorted ascending by a perplexity, runs without one came FIRST (the grid sorts an empty cell
    as 0), though docs/bad-inputs.md promises them last; the params column read 1.6M beside 1.55M
    elsewhere and training time 00:00:10 beside Train's 0:09 for 9.79 s."""
    from ui.compare_runs import GRID_HUGE, GRID_MISSING, display_table

    frame = compare.runs_table([made("none", state="failed"), made("good", 79.9), made("diverged", 1.0e304),
                                made("fair", 103.9)])
    styler = display_table(frame)
    best = styler.data.set_index("label")["best_val_ppl"]
    assert list(best.sort_values().index) == ["good", "fair", "diverged", "none"]  # the grid sorts these numbers
    assert best["diverged"] == GRID_HUGE < best["none"] == GRID_MISSING <= 2**53 - 1
    html = styler.to_html()
    for text in ("1.0e304", "79.9", "1.55M", "0:10", "83,718"):
        assert f">{text}</td>" in html, text
    assert "1.6M" not in html and "00:00:10" not in html
    assert html.count(">—</td>") >= 3                          # none's best, final and test read as missing
    assert ui.SPEED_HELP in str(compare_runs_column("tokens_per_s"))


def compare_runs_column(key):
    from ui.compare_runs import TABLE_COLUMNS

    return TABLE_COLUMNS[key]


def test_score_bars_label_values_only_while_they_fit_and_leave_out_runs_without_a_score():
    """QA: with 5+ runs Plotly shrank the bar labels to a few pixels ('132.3130.6'); a run that failed
    before its first validation left an unexplained gap and an empty legend entry."""
    from ui.compare_runs import LABELLED_RUNS, score_bars, unscored_note

    few = [made(f"r{i}", 100.0 + i) for i in range(3)]
    figure, _ = score_bars(few, [s.name for s in few], ui.run_styles([s.id for s in few]))
    assert all(trace.text is not None for trace in figure.data)
    assert figure.layout.uniformtext.mode == "hide"           # never shrunk to unreadable: hover has it
    many = [made(f"r{i}", 100.0 + i) for i in range(LABELLED_RUNS + 2)]
    figure, _ = score_bars(many, [s.name for s in many], ui.run_styles([s.id for s in many]))
    assert all(trace.text is None for trace in figure.data)
    assert [trace.customdata[0] for trace in figure.data] == [f"{100.0 + i:.1f}" for i in range(len(many))]
    chosen = [made("ok", 90.0), made("diverged", state="failed"), made("new", state="running")]
    assert unscored_note(chosen, ["ok", "diverged", "new"]) == (
        "No bars for **diverged** (failed before its first validation), **new** (no validation yet).")


def test_a_run_without_a_score_gets_no_bar_and_a_caption_saying_why(runs_copy):
    root, folders = runs_copy
    path = folders["variational"] / "status.json"
    status = json.loads(path.read_text())
    path.write_text(json.dumps({**status, "state": "failed", "error": "diverged at step 3", "best_val_ppl": None,
                                "final_val_ppl": None, "test_ppl": None}))
    at = open_page(**{"compare.selected": [folders["plain"].name, folders["variational"].name]})
    bars = chart(at, key="compare.bars")
    assert [trace["name"] for trace in bars["data"]] == ["plain"]
    assert bars["data"][0]["marker"]["color"] == ui.run_colours([folders["plain"].name, folders["variational"].name])[0]
    assert "No bars for **variational** (failed before its first validation)." in texts(at)


def test_the_table_and_train_show_one_speed(runs_here):
    from lmcore.summaries import average_speed

    root, folders = runs_here
    table = runs_table(open_page()).set_index("id")
    for folder in folders.values():   # Train's figure: the run's average over its training steps
        status, config = (json.loads((folder / name).read_text()) for name in ("status.json", "config.json"))
        assert table.at[folder.name, "tokens_per_s"] == pytest.approx(average_speed(status, config))
        assert average_speed(status, config) * (status["elapsed"] - sum(status["time_spent"].values())) == \
            pytest.approx(status["step"] * config["batch_size"] * config["bptt"])


def test_a_selected_runs_line_gives_the_speed_and_time_the_table_and_train_give():
    from ui.compare_runs import run_line

    line = run_line(made("killed", 90.0, state="failed", tokens_per_s=1_500.0, device="cpu"), "killed")
    assert line.endswith("· 1.55M parameters · trained 0:10 · 83,718 tokens/s (the median of its logged intervals) "
                         "on cpu")
    fork = made("fork", 90.0, device="cpu")
    fork.config["fork_step"] = 149
    assert "trained 0:10 (the parent's up to step 149 included) · " in run_line(fork, "fork")   # as Train says
    # A reference run's time says how it was measured, as on Start (QA round 11: book's eager 7:11 on a
    # shared GPU read beside variational-medium's graphed 3:59 alone)
    from conftest import ROOT
    from lmcore.summaries import summarize

    book = summarize(ROOT / "docs" / "results" / "runs" / "20261127-085930-book-9182")
    assert run_line(book, "book").replace("\\", "").endswith(
        "trained 7:11 · 92,687 tokens/s (the median of its logged intervals) on one NVIDIA H200 (eager steps, "
        "from before CUDA graphs, sharing the GPU with another run for nearly all of it)")
    # QA round 12: that median sat beside the other reference runs' averages with nothing saying so.
    graphed = summarize(ROOT / "docs" / "results" / "runs" / "20261127-230959-variational-medium-3758")
    assert (book.speed_basis, graphed.speed_basis) == ("median", "average")
    assert "168,578 tokens/s on one NVIDIA H200" in run_line(graphed, "variational-medium").replace("\\", "")


# ---------------------------------------------------------------- QA round 4: a link carries the chart settings


def runs_link(monkeypatch, root, query: dict) -> AppTest:
    from conftest import open_app

    at = open_app(monkeypatch, root, "app_pages/compare.py", query)
    assert not at.exception, [e.value for e in at.exception]
    return at


CHART_KEYS = ("x", "log", "smooth", "barlog")


def chart_keys(at) -> dict:
    return {key: at.query_params[key] for key in CHART_KEYS if key in at.query_params}


def test_a_link_opens_with_its_chart_settings_and_each_change_is_written_back(runs_here, monkeypatch):
    """QA: a teacher set x=epoch and linear and sent the link; the students saw step and log."""
    root, folders = runs_here
    plain, variational = folders["plain"].name, folders["variational"].name
    at = runs_link(monkeypatch, root,
                   {"runs": f"{plain},{variational}", "x": "epoch", "log": "0", "smooth": "0.3", "barlog": "0"})
    assert at.segmented_control(key="compare.x_axis").value == "epoch"
    assert at.toggle(key="compare.log_y").value is False and at.toggle(key="compare.bars.log_y").value is False
    assert at.slider(key="compare.smoothing").value == 0.3
    curves = chart(at, key="compare.curves")["layout"]
    assert curves["xaxis"]["title"]["text"] == "epoch" and curves["yaxis"].get("type") is None   # linear
    assert chart(at, key="compare.bars")["layout"]["yaxis"].get("type") is None
    assert chart_keys(at) == {"x": "epoch", "log": "0", "smooth": "0.3", "barlog": "0"}
    # Applied once: the user changes them afterwards, and the address follows each change.
    at.segmented_control(key="compare.x_axis").set_value("time").run()
    assert at.query_params["x"] == "time"
    at.toggle(key="compare.log_y").set_value(True).run()
    at.slider(key="compare.smoothing").set_value(0.6).run()                  # back at the defaults: keys go
    assert chart_keys(at) == {"x": "time", "barlog": "0"} and at.query_params["runs"] == f"{plain},{variational}"
    at.run()
    assert at.segmented_control(key="compare.x_axis").value == "time"     # not applied again
    assert chart(at, key="compare.curves")["layout"]["yaxis"]["type"] == "log"
    at.session_state["compare.tab"] = "Ablation grids"                     # the grids view drops them with runs
    at.run()
    assert chart_keys(at) == {} and "runs" not in at.query_params


def test_a_link_made_with_the_default_settings_stays_plain(runs_here, monkeypatch):
    root, folders = runs_here
    plain = folders["plain"].name
    at = runs_link(monkeypatch, root, {"runs": plain})
    assert dict(at.query_params) == {"runs": plain}
    at.segmented_control(key="compare.x_axis").set_value("epoch").run()
    at.segmented_control(key="compare.x_axis").set_value("step").run()
    assert dict(at.query_params) == {"runs": plain}
    spelt_out = {"x": "step", "log": "1", "smooth": "0.60", "barlog": "true"}   # the defaults, written out
    at = runs_link(monkeypatch, root, {"runs": plain, **spelt_out})
    assert dict(at.query_params) == {"runs": plain}


def test_bad_chart_settings_in_a_link_are_ignored_with_one_caption(runs_here, monkeypatch):
    root, folders = runs_here
    plain = folders["plain"].name
    at = runs_link(monkeypatch, root,
                   {"runs": f"{plain},not-a-run", "x": "banana", "smooth": "7", "log": "maybe", "barlog": "0"})
    assert ("The link names 1 run that is not here (ignored): `not-a-run`. The link's chart settings "
            "`x=banana` (not step, epoch or time); `log=maybe` (not 1 or 0); `smooth=7` (not between 0 and 0.99) "
            "are ignored; the defaults are used.") in texts(at)
    assert at.segmented_control(key="compare.x_axis").value == "step" and at.toggle(key="compare.log_y").value
    assert at.slider(key="compare.smoothing").value == 0.6
    assert at.toggle(key="compare.bars.log_y").value is False             # the one good setting is applied
    assert dict(at.query_params) == {"runs": plain, "barlog": "0"}         # the address drops what was ignored
    at.segmented_control(key="compare.x_axis").set_value("epoch").run()
    at.run()
    assert "banana" not in texts(at)                                       # the note goes with the link's view


def test_a_bad_setting_value_of_any_kind_is_ignored_never_raised():
    from explorer.compare_links import CHART_DEFAULTS, chart_from_link, chart_query

    for key, text in (("smooth", "nan"), ("smooth", "1e400"), ("smooth", "-0.1"), ("smooth", "0.995"),
                      ("smooth", "x" * 5000), ("x", "Epoch"), ("x", ""), ("log", "2"), ("barlog", "")):
        settings, ignored = chart_from_link({key: text})
        assert settings == CHART_DEFAULTS and len(ignored) == 1 and ignored[0].startswith(f"`{key}=")
        assert len(ignored[0]) < 120                                       # quotes a line, not the whole value
    assert chart_from_link({"smooth": "0.99", "x": "time"})[0] == {**CHART_DEFAULTS, "smooth": 0.99, "x": "time"}
    assert chart_query({"smooth": 0.6000000000000001, "log": True}) == {}  # the slider's float is the default


def test_a_bad_filter_value_of_any_kind_is_ignored_never_raised():
    from explorer.compare_links import filters_from_link, filters_query

    allowed = {"state": {"finished"}, "preset": {"tiny"}, "dataset": {"ptb", "notes, v2.txt"},
               "placement": {"none"}}
    empty = {"state": [], "preset": [], "dataset": [], "placement": [], "contains": ""}
    for key, text in (("state", "Finished"), ("state", "nan"), ("preset", "tiny "), ("dataset", "notes"),
                      ("placement", "x" * 5000), ("contains", "z" * 201), ("state", None), ("preset", 7)):
        filters, ignored = filters_from_link({key: [text]}, allowed)
        if key == "preset" and text == "tiny ":                            # spaces round a value are no value
            assert filters["preset"] == ["tiny"] and not ignored
            continue
        assert filters == empty and len(ignored) == 1 and ignored[0].startswith(f"`{key}="), (key, text)
        assert len(ignored[0]) < 120
    filters, ignored = filters_from_link({"dataset": ["notes, v2.txt", "ptb", "ptb"], "contains": [" a ", "b"]},
                                         allowed)
    assert filters == {**empty, "dataset": ["notes, v2.txt", "ptb"], "contains": "b"} and ignored == []
    assert filters_query(filters) == {"dataset": ["notes, v2.txt", "ptb"], "contains": ["b"]}
    assert filters_query(empty) == {} and filters_query({"contains": "  "}) == {}


def test_a_settings_change_is_one_address_change(runs_here, monkeypatch):
    """Each address change is a browser history entry: a change of setting adds one, a rerun none."""
    from streamlit.runtime.state.query_params import QueryParams

    root, folders = runs_here
    at = runs_link(monkeypatch, root, {"runs": folders["plain"].name})
    sent = []
    original = QueryParams._send_query_param_msg
    monkeypatch.setattr(QueryParams, "_send_query_param_msg", lambda self: sent.append(1) or original(self))
    at.run()
    assert sent == []
    at.toggle(key="compare.log_y").set_value(False).run()
    at.slider(key="compare.smoothing").set_value(0.2).run()
    assert len(sent) == 2 and chart_keys(at) == {"log": "0", "smooth": "0.2"}


def test_the_config_differences_take_the_full_width_below_the_bars(runs_here):
    """QA round 5: beside the score bars, half of a 1024 px page cut 2 runs' values ('0.!', 've')."""
    root, folders = runs_here
    at = open_page(**{"compare.selected": [folders["plain"].name, folders["variational"].name]})
    assert config_diff(at).loc["dropout_placement"].tolist() == ["none", "variational"]
    assert not [c for c in at.columns if any("<table" in m.value for m in c.markdown)]


# ---------------------------------------------------------------- QA round 8


def curve_and_bar_colours(at) -> dict:
    """Each run's colour on the page: {name: (its dot, its validation curve, its bars)}."""
    import re

    marks = "|".join(map(re.escape, ui.RUN_MARKS))
    dots = {name: colour for colour, name in re.findall(rf"color:(#\w+)[^']*'>(?:{marks})</span> #\d+ \*\*(\w+)\*\*",
                                                         texts(at))}
    curves = {name.removesuffix(" validation"): t["line"]["color"]
              for name, t in named(chart(at, key="compare.curves")["data"]).items() if name.endswith(" validation")}
    bars = {t["name"]: t["marker"]["color"] for t in chart(at, key="compare.bars")["data"] if t["type"] == "bar"}
    return {name: (dots[name], curves[name], bars[name]) for name in dots}


def test_a_run_has_its_own_colour_on_compare_whatever_its_place_in_the_selection(runs_here):
    """QA round 8: Compare coloured runs by their place, so a run was blue there and green on Start."""
    root, folders = runs_here
    ids = [folders[name].name for name in ("plain", "variational", "synthetic")]
    expected = dict(zip(("plain", "variational", "synthetic"), ui.run_colours(ids)))
    for order in (ids, ids[::-1], ids[1:] + ids[:1]):
        at = open_page(**{"compare.selected": order})
        assert curve_and_bar_colours(at) == {name: (colour,) * 3 for name, colour in expected.items()}, order
        # runs of one colour drawn together differ in mark, dash and bar fill
        looks = {(t["line"]["color"], t["line"]["dash"], t["marker"]["symbol"])
                 for name, t in named(chart(at, key="compare.curves")["data"]).items() if name.endswith(" validation")}
        fills = {(t["marker"]["color"], t["marker"]["pattern"]["shape"]) for t in chart(at, key="compare.bars")["data"]
                 if t["type"] == "bar"}
        assert len(looks) == len(fills) == 3


def test_five_runs_differ_in_marker_mark_and_bar_fill_without_colour(runs_copy):
    """QA round 17: in a red-green colour-blind view five runs on Compare showed two or three colours,
    and up to 8 runs differed by colour alone. Now each run's curve has its own marker, its line in
    the selection its mark (the same shape, kept in high contrast) and its bars their own fill."""
    import re

    root, folders = runs_copy
    chosen = [folders["plain"], folders["variational"]]
    for name in ("third", "fourth", "fifth"):
        chosen.append(root / (folders["plain"].name[:-4] + name[:4]))
        shutil.copytree(folders["plain"], chosen[-1])
        rename(chosen[-1], name)
    at = open_page(**{"compare.selected": [folder.name for folder in chosen]})
    curves = {name.removesuffix(" validation"): t["marker"]["symbol"]
              for name, t in named(chart(at, key="compare.curves")["data"]).items() if name.endswith(" validation")}
    symbols = dict(zip(ui.RUN_SYMBOLS, ui.RUN_MARKS))
    marks = "|".join(map(re.escape, ui.RUN_MARKS))
    lines = dict((name, mark) for mark, name in
                 re.findall(rf"<span class='legend-swatch' style='color:#\w+[^']*'>({marks})</span> #\d+ \*\*(\w+)\*\*",
                            texts(at)))
    fills = [t["marker"]["pattern"]["shape"] for t in chart(at, key="compare.bars")["data"] if t["type"] == "bar"]
    assert len(set(curves.values())) == len(set(fills)) == 5
    assert lines == {name: symbols[symbol] for name, symbol in curves.items()}


def old_fork(root: Path, parent: Path, made_before: bool) -> Path:
    """A fork of `parent` at its first validation (step 20) that trained to its end. Made before forks
    kept their own best (`made_before`), its status has no start and its best is that validation."""
    fork = root / (parent.name[:-4] + ("0old" if made_before else "0new"))
    shutil.copytree(parent, fork)
    config = json.loads((fork / "config.json").read_text())
    config.update(name="old fork" if made_before else "new fork", parent=parent.name, fork_from="best", fork_step=20)
    (fork / "config.json").write_text(json.dumps(config))
    start = next(json.loads(line) for line in (parent / "metrics.jsonl").read_text().splitlines()
                 if json.loads(line)["kind"] == "val")
    status = status_of(fork)
    if made_before:
        status.update(best_val_ppl=start["ppl"], best_epoch=start["epoch"])
    else:
        status.update(start_val_ppl=start["ppl"], start_epoch=start["epoch"])
    (fork / "status.json").write_text(json.dumps(status))
    return fork


def test_an_older_fork_says_its_best_and_test_are_its_parents_as_train_does(runs_copy):
    """QA round 8: an older fork showed its parent's best and test on Compare as its own; Train says so."""
    from ui.compare_runs import INHERITED_NOTE

    root, folders = runs_copy
    old, new = old_fork(root, folders["plain"], True), old_fork(root, folders["plain"], False)
    start = status_of(old)["best_val_ppl"]
    at = open_page(**{"compare.selected": [old.name, new.name]})
    lines = {line.split("**")[1]: line for line in texts(at).splitlines() if any(f"{mark}</span>" in line
                                                                                 for mark in ui.RUN_MARKS)}
    assert (f"· it started from {start:.1f} (the parent's epoch 1) and no validation of its own beat that, so "
            "(forked before forks counted only their own training) its best and test are its starting weights' ·"
            ) in lines["old fork"]
    assert f"· it started from {start:.1f} (the parent's epoch 1) ·" in lines["new fork"]
    notes = runs_table(at).set_index("id")["note"]
    assert notes[old.name] == INHERITED_NOTE and notes.drop(old.name).isna().all()


FILTER_KEYS = ("state", "preset", "dataset", "placement", "contains")


def filter_keys(at) -> dict:
    return {key: at.query_params[key] for key in FILTER_KEYS if key in at.query_params}


def test_a_link_keeps_the_tables_filters_and_each_change_is_written_back(runs_here, monkeypatch):
    """QA round 8: a link kept the selection and the chart settings, not the table's filters."""
    root, folders = runs_here
    plain = folders["plain"].name
    at = runs_link(monkeypatch, root, {"runs": plain, "state": "finished", "placement": ["variational", "none"],
                                       "contains": "A"})
    assert at.multiselect(key="compare.filter.states").value == ["finished"]
    assert at.multiselect(key="compare.filter.placements").value == ["variational", "none"]
    assert at.text_input(key="compare.filter.text").value == "A"
    assert set(user_rows(runs_table(at))["name"]) == {"plain", "variational"}     # 'synthetic' has no 'a'
    assert filter_keys(at) == {"state": "finished", "placement": ["variational", "none"], "contains": "A"}
    assert not [c.value for c in at.caption if "The link" in c.value]
    # Applied once: the user changes them afterwards, and the address follows each change.
    at.multiselect(key="compare.filter.states").set_value([]).run()
    at.text_input(key="compare.filter.text").set_value("synth").run()
    assert filter_keys(at) == {"placement": ["variational", "none"], "contains": "synth"}
    at.run()
    assert at.text_input(key="compare.filter.text").value == "synth" and at.query_params["runs"] == plain
    at.session_state["compare.tab"] = "Ablation grids"
    assert not filter_keys(at.run()) and "runs" not in at.query_params      # the grids view drops them with runs


def test_bad_filters_in_a_link_are_ignored_with_one_caption_and_the_good_ones_kept(runs_here, monkeypatch):
    root, folders = runs_here
    plain = folders["plain"].name
    at = runs_link(monkeypatch, root, {"runs": plain, "state": ["finished", "banana", "finished"],
                                       "preset": "nope", "dataset": "ptb", "placement": "sideways",
                                       "contains": "x" * 5000})
    assert ("The link's filters `state=banana` (no such state here); `preset=nope` (no such preset here); "
            f"`placement=sideways` (no such dropout placement here); `contains={'x' * 60}…` (longer than 200 "
            "characters) are ignored.") in texts(at)
    assert at.multiselect(key="compare.filter.states").value == ["finished"]
    assert at.multiselect(key="compare.filter.datasets").value == ["ptb"]
    assert at.multiselect(key="compare.filter.presets").value == []
    assert at.text_input(key="compare.filter.text").value == ""
    assert dict(at.query_params) == {"runs": plain, "state": "finished", "dataset": "ptb"}   # what was ignored goes
    at.multiselect(key="compare.filter.datasets").set_value([]).run()
    assert "banana" not in texts(at)                                       # the note goes with the link's view


def test_an_in_app_link_to_compare_keeps_the_filters_set_there(trained_runs, monkeypatch):
    """Train's 'Compare it with other runs' must not clear the filters the user set on Compare."""
    from urllib.parse import parse_qs

    from conftest import open_app

    root, folders = trained_runs
    plain = folders["plain"].name
    state = {"compare.filter.presets": ["tiny"], "compare.filter.text": "pl"}
    at = open_app(monkeypatch, root, "app_pages/train.py", {"run": plain}, state=state)
    link = next(l.proto for l in at.get("page_link") if l.proto.label == "Compare")
    assert parse_qs(link.query_string) == {"runs": [plain], "preset": ["tiny"], "contains": ["pl"]}


def test_the_grids_view_comes_back_from_its_address_after_the_runs_view(seeded_grid, monkeypatch, tmp_path):
    """Back from the Runs view onto a grid's address (`?group=G`) stayed on the Runs view and wrote over
    that entry: the grid was remembered as applied already. The grids view with no grid chosen had no
    address of its own (QA round 13): it writes `?view=grids`."""
    root, group = seeded_grid
    at = grid_link(monkeypatch, root, group)
    assert at.session_state["compare.tab"] == "Ablation grids"
    at.session_state["compare.tab"] = "Runs"
    at.run()
    assert "group" not in at.query_params
    at.query_params.clear()
    at.query_params["group"] = group                           # Back onto the grid's entry
    run_as_back(at, monkeypatch)
    assert at.session_state["compare.tab"] == "Ablation grids" and at.query_params["group"] == group

    monkeypatch.setenv("LMCORE_RUNS_DIR", str(tmp_path / "runs"))   # no grid here yet
    empty = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    empty.switch_page("app_pages/compare.py")
    empty.session_state["compare.tab"] = "Ablation grids"
    empty.run()
    assert empty.query_params.get("view") == "grids" and "group" not in empty.query_params
    empty.session_state["compare.tab"] = "Runs"
    empty.run()
    assert "view" not in empty.query_params
    empty.query_params["view"] = "grids"                       # Back to the grids view
    run_as_back(empty, monkeypatch)
    assert empty.session_state["compare.tab"] == "Ablation grids"


def test_many_selected_runs_keep_the_chart_near_and_the_differences_readable(runs_copy):
    """Forty selected runs' lines pushed the chart five screens down, and their differences broke every value
    letter by letter (QA round 16): eight are listed, the rest fold away, and each run's column keeps a width."""
    root, folders = runs_copy
    copies = []
    for i in range(10):
        copy = root / f"20260101-0000{i:02d}-copy-{i:04x}"
        shutil.copytree(folders["plain"], copy)
        config = json.loads((copy / "config.json").read_text())
        (copy / "config.json").write_text(json.dumps({**config, "name": f"copy {i}", "seed": i + 100}))
        copies.append(copy.name)
    at = open_page(**{"compare.selected": copies})
    listed = [m.value for m in at.markdown if "</span> #" in m.value]
    assert len(listed) == 10 and [e.label for e in at.expander if "more selected runs" in e.label] == [
        "2 more selected runs (#9 to #10)"]
    assert sum("</span> #" in m.value for e in at.expander for m in e.markdown) == 2   # folded: #9 and #10
    table = next(m.value for m in at.markdown if "<table" in m.value)
    assert table.startswith("<div style='overflow-x:auto'>") and "min-width:calc(7.5em + 10 * 6em)" in table


def test_the_chart_settings_widgets_carry_their_values_as_defaults(runs_here):
    """QA round 22 (on Watch): a widget the browser mounts afresh starts from the default the page gives
    it, and the next timed rerun sends that back as a change; without one that was off and 0. Compare's
    curves and bars refresh on a timer too, so their settings' defaults are their values."""
    _, folders = runs_here
    at = open_page(**{"compare.selected": [folders["plain"].name, folders["variational"].name]})
    assert at.toggle(key="compare.log_y").proto.default is True and at.toggle(key="compare.bars.log_y").proto.default
    assert list(at.slider(key="compare.smoothing").proto.default) == [pytest.approx(0.6)]
    at.toggle(key="compare.log_y").set_value(False).run()
    at.slider(key="compare.smoothing").set_value(0.2).run()
    assert at.toggle(key="compare.log_y").proto.default is False
    assert list(at.slider(key="compare.smoothing").proto.default) == [pytest.approx(0.2)]
