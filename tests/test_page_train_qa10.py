"""The Train page after QA round 10 (AppTest): the axis sentence names what its limit came from, the
entropy floor is its run's only, the reference overlay lives in the address bar, the first seconds of
a run say one thing, and a run without dropout is not offered its dropout masks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import ui
from charts import chart, values
from conftest import copy_run, open_app, texts
from lmcore import runs
from lmcore.runs import RunWriter, create_run, record_launch

BOOK = "20261127-085930-book-9182"
VARIATIONAL = "20261127-230959-variational-medium-3758"
OVERLAY_LABEL = "Add the full recipe on a GPU"


def open_watch(monkeypatch, folder, **query):
    at = open_app(monkeypatch, folder.parent, "app_pages/train.py", {"run": folder.name, **query})
    assert not at.exception, [e.value for e in at.exception]
    return at


def overlay_pills(at):
    return next(b for b in at.button_group if b.label == OVERLAY_LABEL)


def x_axis(at):
    return next(b for b in at.button_group if b.label == "x axis")


def query(at, key: str) -> str | None:
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


def captions(at) -> str:
    return " ".join(c.value for c in at.caption)


# ---------------------------------------------------------------- defect 4: the axis's sentence


def test_a_live_run_with_no_validation_yet_names_its_training_perplexity_as_the_axis_limit(trained_runs,
                                                                                          monkeypatch, tmp_path):
    """QA round 10: 'Axis stops at 273.0, twice the highest latest validation perplexity' on a run with
    no validation yet: 273.0 was twice its training perplexity 136.5."""
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    metrics = folder / "metrics.jsonl"
    train = [line for line in metrics.read_text().splitlines() if json.loads(line).get("kind") == "train"]
    metrics.write_text("\n".join(train[:2]) + "\n")   # its first training lines only: no validation yet
    latest = json.loads(train[1])["ppl"]
    at = open_watch(monkeypatch, folder)
    overlay_pills(at).set_value([BOOK]).run()
    text = captions(at)
    assert f"twice plain's latest training perplexity ({ui.fmt_ppl(latest)}; it has no validation yet)" in text
    assert "twice the highest latest validation perplexity" not in text
    # Compare draws the same chart with the same sentence
    compare = open_app(monkeypatch, folder.parent, "app_pages/compare.py",
                       state={"compare.selected": [folder.name, BOOK]})
    assert not compare.exception
    assert f"twice plain's latest training perplexity ({ui.fmt_ppl(latest)}; it has no validation yet)" in \
        captions(compare)


# ---------------------------------------------------------------- item 5: the entropy floor


def test_the_floor_is_drawn_over_its_own_run_named_in_the_legend(trained_runs, monkeypatch):
    folder = trained_runs[1]["synthetic"]
    floor = runs.read_status(folder)["floor_ppl"]
    at = open_watch(monkeypatch, folder)
    spec = chart(at)
    line = next(t for t in spec["data"] if t["name"].startswith("best possible"))
    assert line["name"] == f"best possible (entropy floor) {floor:.1f}"      # alone: its own floor
    assert values(line, "y") == [floor, floor] and not spec["layout"].get("annotations")  # no label to cover
    steps = [v for t in spec["data"] if t["name"] == "synthetic train" for v in values(t)]
    assert values(line) == [min(steps), max(steps)]
    assert spec["layout"]["yaxis"]["type"] == "log"


def test_beside_a_reference_run_the_floor_is_the_synthetic_runs_only(trained_runs, monkeypatch):
    """QA round 10: the label lay under variational-medium's training band, and the line across the
    whole chart had the PTB run go 'below the best possible'."""
    folder = trained_runs[1]["synthetic"]
    floor = runs.read_status(folder)["floor_ppl"]
    at = open_watch(monkeypatch, folder)
    overlay_pills(at).set_value([VARIATIONAL]).run()
    spec = chart(at)
    line = next(t for t in spec["data"] if t["name"].startswith("best possible"))
    assert line["name"] == f"best possible for synthetic (entropy floor) {floor:.1f}"
    assert line["line"]["color"] == ui.run_colours([folder.name, VARIATIONAL])[0]
    epochs = [v for t in spec["data"] if t["name"].startswith("synthetic") for v in values(t)]
    assert max(values(line)) == max(epochs) < 40                             # not across the reference's 40
    assert "drawn under its own runs only: the other runs' data has no known floor" in captions(at)


# ---------------------------------------------------------------- item 6: the overlay in the address bar


def test_the_overlay_and_its_axis_live_in_the_address_bar(trained_runs, monkeypatch):
    folder = trained_runs[1]["plain"]
    at = open_watch(monkeypatch, folder)
    assert query(at, "overlay") is None
    overlay_pills(at).set_value([BOOK, VARIATIONAL]).run()
    assert query(at, "overlay") == "book,variational-medium" and query(at, "overlay_x") is None  # epoch: default
    x_axis(at).set_value("share").run()
    assert query(at, "overlay_x") == "share"
    # a reload, or the link shared: the same runs on the same axis
    again = open_watch(monkeypatch, folder, overlay="book,variational-medium", overlay_x="share")
    assert overlay_pills(again).value == [BOOK, VARIATIONAL] and x_axis(again).value == "share"
    assert chart(again)["layout"]["xaxis"]["title"]["text"].startswith("share of training")
    assert not again.warning
    # the config's own rewrite of the address keeps them
    again.session_state["train.tab"] = "⚙️ Set up a run"
    again.run()
    again.number_input(key="train.w.layers").set_value(3).run()
    assert query(again, "layers") == "3" and query(again, "overlay") == "book,variational-medium"
    assert query(again, "overlay_x") == "share" and query(again, "run") == folder.name
    # none drawn: nothing in the address
    at.session_state["train.tab"] = "📈 Watch a run"
    overlay_pills(at).set_value([]).run()
    assert query(at, "overlay") is None and query(at, "overlay_x") is None


def test_the_charts_log_scale_and_smoothing_live_in_the_address_bar(trained_runs, monkeypatch):
    """QA round 13: a reload or a shared link of a run's chart came back on a log scale at smoothing 0.6
    whatever the teacher had set. They are written as Compare writes its own (`log=0`, `smooth=0.3`)."""
    folder = trained_runs[1]["plain"]
    at = open_watch(monkeypatch, folder)
    assert query(at, "log") is None and query(at, "smooth") is None              # the defaults: no words
    at.toggle(key="train.log_y.w").set_value(False).run()
    at.slider(key="train.smoothing.w").set_value(0.3).run()
    assert query(at, "log") == "0" and query(at, "smooth") == "0.3" and query(at, "run") == folder.name
    again = open_watch(monkeypatch, folder, log="0", smooth="0.3")               # a reload, or the link shared
    assert again.toggle(key="train.log_y.w").value is False and again.slider(key="train.smoothing.w").value == 0.3
    assert chart(again)["layout"]["yaxis"].get("type") != "log" and not again.warning
    bad = open_watch(monkeypatch, folder, log="banana", smooth="7")
    assert "From the link: ignored log='banana': not 1 or 0" in texts(bad.warning) and len(bad.warning) == 2
    assert bad.toggle(key="train.log_y.w").value is True and query(bad, "log") is None
    assert chart(bad)["layout"]["yaxis"].get("type") == "log"


def test_a_runs_set_up_tab_lives_in_the_address_bar(trained_runs, monkeypatch):
    """QA round 13: with a run attached, a reload of its Set up tab (Edit a copy) opened Watch."""
    folder = trained_runs[1]["plain"]
    at = open_watch(monkeypatch, folder)
    assert at.session_state["train.tab"] == "📈 Watch a run" and query(at, "tab") is None   # a run's own tab
    at.session_state["train.tab"] = "⚙️ Set up a run"
    at.run()
    assert query(at, "tab") == "setup" and query(at, "run") == folder.name
    again = open_watch(monkeypatch, folder, tab="setup")                          # a reload, or the link shared
    assert again.session_state["train.tab"] == "⚙️ Set up a run" and not again.warning
    assert again.number_input(key="train.w.layers")                               # Set up's controls drawn
    bad = open_watch(monkeypatch, folder, tab="sideways")
    assert "From the link: ignored tab='sideways': must be setup or watch" in texts(bad.warning)
    assert bad.session_state["train.tab"] == "📈 Watch a run" and query(bad, "tab") is None
    bare = open_app(monkeypatch, folder.parent, "app_pages/train.py", {"tab": "watch"})  # no run: Watch asked for
    assert bare.session_state["train.tab"] == "📈 Watch a run" and query(bare, "tab") == "watch"


def test_bad_overlay_values_in_a_link_are_ignored_with_one_line_each(trained_runs, monkeypatch):
    folder = trained_runs[1]["plain"]
    at = open_watch(monkeypatch, folder, overlay="book,banana," + "x" * 5000, overlay_x="sideways")
    warnings = texts(at.warning)
    assert "From the link: ignored overlay 'banana', 'xxxxxxxx" in warnings and "x" * 100 not in warnings
    assert ("…': no reference run of those names here (there are book, zaremba-medium, variational-medium, "
            "book-horizontal)") in warnings
    assert "From the link: ignored overlay_x='sideways': must be epoch or share" in warnings
    assert len(at.warning) == 2
    assert overlay_pills(at).value == [BOOK] and x_axis(at).value == "epoch"
    assert query(at, "overlay") == "book" and query(at, "overlay_x") is None    # the address says what is drawn


def test_the_chosen_recipes_are_pills_that_never_clip(trained_runs, monkeypatch):
    """QA round 10: at 1024 px a multiselect scrolled its chips out of its box ('edium × | variational-medium ×')."""
    at = open_watch(monkeypatch, trained_runs[1]["plain"])
    assert not [m for m in at.multiselect if m.label == OVERLAY_LABEL]
    assert overlay_pills(at).options == ["book", "zaremba-medium", "variational-medium",
                                          "book-horizontal"]
    assert overlay_pills(at).proto.wrap   # QA round 29: in their row the fourth left a 390 px screen


# ---------------------------------------------------------------- item 11: the first seconds of a run


def sleeping_lmcore() -> subprocess.Popen:
    """A live process that reads as lmcore's (runs.pid_alive checks the command line)."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)  # lmcore"])


def test_a_run_whose_process_is_launching_says_one_thing(monkeypatch, tmp_path):
    """QA round 10: 'tiny · queued' stood with 'loading the data and building the model', 'starting'
    and 'Waiting for the training process to start' at once."""
    folder = create_run({"preset": "tiny", "name": "fresh"}, tmp_path / "runs")
    sleeper = sleeping_lmcore()
    try:
        record_launch(folder, sleeper.pid)           # launched; the trainer has not written its status yet
        at = open_watch(monkeypatch, folder)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert at.get("progress")[0].proto.text == "launching the training process (a few seconds)"
    assert "⏳ fresh · starting" in texts(at.markdown)
    said = captions(at) + texts(at.markdown) + texts(at.info)
    assert "loading the data" not in said and "Waiting for the training process" not in said
    assert "queued" not in texts(at.markdown)
    assert at.selectbox(key="train.watch").options[0] == f"⏳ fresh · {folder.name[-4:]} · starting"


def test_a_resumed_run_launching_says_so_after_its_step(trained_runs, monkeypatch, tmp_path):
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    RunWriter(folder).status(state="stopped")
    sleeper = sleeping_lmcore()
    try:
        record_launch(folder, sleeper.pid)
        at = open_watch(monkeypatch, folder)
    finally:
        sleeper.kill()
        sleeper.wait()
    text = at.get("progress")[0].proto.text
    assert text.startswith("step 40 / 40") and text.endswith("launching the training process (a few seconds)")


# ---------------------------------------------------------------- item 12: the Inside link


def test_a_run_without_dropout_is_not_offered_its_dropout_masks(trained_runs, monkeypatch):
    links = {name: {link.proto.label: link.proto.help
                    for link in open_watch(monkeypatch, trained_runs[1][name]).get("page_link")}
             for name in ("plain", "variational")}
    assert "Parameters" in links["plain"] and "Dropout masks" not in links["plain"]
    assert "No dropout" in links["plain"]["Parameters"]
    assert "Dropout masks" in links["variational"] and "Parameters" not in links["variational"]


def test_the_charts_settings_widgets_carry_the_preference_as_their_default(trained_runs, monkeypatch):
    """QA round 22: under load the chart went linear and raw by itself when the watched run finished, was
    stopped or started: `&log=0&smooth=0` appeared with nobody touching them. Off and 0 were the widgets'
    own defaults, which a widget the browser mounts afresh starts from, and the next timed rerun sent back
    as a change. The defaults the page gives them are the preferences, so a fresh mount keeps them."""
    folder = trained_runs[1]["plain"]
    at = open_watch(monkeypatch, folder)
    assert at.toggle(key="train.log_y.w").proto.default is True
    assert list(at.slider(key="train.smoothing.w").proto.default) == [pytest.approx(0.6)]
    at.slider(key="train.smoothing.w").set_value(0.3).run()
    at.toggle(key="train.log_y.w").set_value(False).run()
    assert at.toggle(key="train.log_y.w").proto.default is False   # the user's choice is what a remount keeps
    assert list(at.slider(key="train.smoothing.w").proto.default) == [pytest.approx(0.3)]
