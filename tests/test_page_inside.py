"""Inside the model (AppTest): the placement lesson, a run's real masks, and the parameter counts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import copy_run, open_app, run_as_back
from explorer.lesson import mask_rows
from lmcore.config import from_dict

LESSON_TAB, RUN_TAB, PARAMS_TAB = "🎭 Dropout placements", "🔎 A run's masks", "🧮 Parameters & tying"


def open_inside(monkeypatch, root: Path, run_id: str | None = None, tab: str | None = None) -> AppTest:
    """Inside over `root`, linked to a run's masks and/or a tab (its label) as a URL opens them."""
    slug = {LESSON_TAB: "lesson", RUN_TAB: "masks", PARAMS_TAB: "params"}.get(tab)
    query = {**({"run": run_id} if run_id else {}), **({"tab": slug} if slug else {})}
    at = open_app(monkeypatch, root, "app_pages/inside.py", query)
    assert not at.exception, at.exception
    return at


def open_tab(at: AppTest, tab: str) -> AppTest:
    at.session_state["inside.tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


def chart_titles(at: AppTest) -> list[list[str]]:
    """Each chart's title as its lines, without their markup."""
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]
    return [[re.sub("<[^>]+>", "", line) for line in title.split("<br>")] for title in titles]


def mask_names(at: AppTest) -> list[str]:
    """What each mask chart shows ('vertical · input', 'layer1.recurrent'): the line under its kept share
    (and under what that share counts, where it is of some units)."""
    masks = [lines for lines in chart_titles(at) if lines[0].startswith("kept ")]
    return [next(line for line in lines[1:] if not line.startswith("of ")) for lines in masks]


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label))


def test_lesson_grid_shows_every_placement_and_the_missing_sites(trained_runs, monkeypatch):
    root, _ = trained_runs
    at = open_inside(monkeypatch, root)
    # 3 placements x (input, recurrent, output) for the last layer, minus vertical's recurrent site.
    lesson_charts = [n for n in mask_names(at) if n.split(" · ")[0] in ("vertical", "horizontal", "variational")]
    assert len(lesson_charts) == 8
    body = texts(at)
    assert "No dropout here" in body and "leaves the recurrent path h(t-1) → h(t) untouched" in body
    assert metric(at, "one unit kept at all 20 fresh masks") == f"{0.5 ** 20:.2g}"
    # QA round 15B: the mask is on h(t-1) as the gates' input; the cell c is never masked
    assert "one unit of h reaches the gates" in body and "the cell c carries its values" in body

    at.segmented_control(key="inside.layer").set_value(1).run()
    assert not at.exception
    assert "Output dropout sits after the last layer" in texts(at)
    at.slider(key="inside.p_recurrent").set_value(0.2).run()
    assert metric(at, "one unit kept at all 20 fresh masks") == f"{0.8 ** 20:.2g}"
    seed = at.session_state["inside.seed"]
    next(b for b in at.button if "New masks" in b.label).click().run()
    assert not at.exception and at.session_state["inside.seed"] == seed + 1


def test_variational_run_masks_and_parameters(trained_runs, monkeypatch):
    root, folders = trained_runs
    folder = folders["variational"]
    at = open_inside(monkeypatch, root, folder.name)
    assert at.selectbox(key="inside.run").value == folder.name

    with np.load(folder / "masks.npz") as archive:
        arrays = {k: archive[k] for k in archive.files}
    cfg = from_dict(json.loads((folder / "config.json").read_text()))
    expected = mask_rows(arrays, cfg)
    shown = at.dataframe[0].value
    assert list(shown["site"]) == [r["site"] for r in expected] == ["layer1.input", "layer1.recurrent", "layer1.output"]
    assert list(shown["kept fraction"]) == [r["kept fraction"] for r in expected]
    assert list(shown["1 - p"]) == [0.5, 0.5, 0.5]
    assert all(shown["same mask every step"])  # variational: one mask per sequence

    params = json.loads((folder / "params.json").read_text())
    open_tab(at, PARAMS_TAB)
    assert not params["tied"]
    assert metric(at, "total, tying off (this run)") == f"{params['total']:,}"
    assert metric(at, "tying saves") == f"{params['tying_saves']:,}"
    assert f"{params['total']:,}" in texts(at)


def test_run_without_dropout_says_so(trained_runs, monkeypatch):
    root, folders = trained_runs
    at = open_inside(monkeypatch, root, folders["plain"].name)
    assert any("without dropout" in i.value for i in at.info)
    assert len(at.dataframe) == 0


def test_parameters_of_a_preset(trained_runs, monkeypatch):
    root, _ = trained_runs
    at = open_inside(monkeypatch, root, tab=PARAMS_TAB)
    at.selectbox(key="inside.count_for").set_value("preset:book").run()
    assert not at.exception
    assert metric(at, "total, tying off") == "19,780,400"
    assert metric(at, "total, tying on") == "13,280,400"
    assert metric(at, "tying saves") == "6,500,000"
    assert "**6,500,000**" in texts(at)  # the tying lesson's own numbers for the book


def test_a_masks_kept_share_counts_the_cells_it_draws_and_names_the_whole_masks(trained_runs, monkeypatch, tmp_path):
    """QA: 'kept 49.3% · units 1–64 of 256' headed a picture of 64 units keeping 48.4%, so a teacher counting
    its cells never got the label's number. Here units 1–64 keep a quarter of their cells, the rest three quarters."""
    _, folders = trained_runs
    folder = copy_run(folders["variational"], tmp_path)
    with np.load(folder / "masks.npz") as archive:
        steps, units = archive["layer1.input"].shape
    mask = np.zeros((steps, units), dtype=np.float32)
    mask[: steps // 4, :64] = 2.0                                  # units 1-64: a quarter of their steps
    mask[: 3 * steps // 4, 64:] = 2.0                              # the others: three quarters
    np.savez(folder / "masks.npz", **{f"layer1.{site}": mask for site in ("input", "recurrent", "output")})
    whole = (64 * (steps // 4) + (units - 64) * (3 * steps // 4)) / (steps * units)
    at = open_inside(monkeypatch, tmp_path / "runs", folder.name)
    assert at.slider(key="inside.shown_units").value == 64 and units > 64
    [title, *_] = [lines for lines in chart_titles(at) if "layer1.input" in lines]
    assert title == [f"kept {(steps // 4) / steps:.1%}", "of units 1–64, drawn", f"of all {units} units: {whole:.1%}",
                     "layer1.input", "1-p = 50%"]
    assert f"{at.dataframe[0].value['kept fraction'][0]:.1%}" == f"{whole:.1%}"   # the table's, the whole mask's
    at.slider(key="inside.shown_units").set_value(units).run()     # every unit drawn: one share, said once
    [title, *_] = [lines for lines in chart_titles(at) if "layer1.input" in lines]
    assert title == [f"kept {whole:.1%}", "layer1.input", "1-p = 50%"]


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_broken_or_missing_masks_warn(trained_runs, monkeypatch, tmp_path, damage):
    _, folders = trained_runs
    folder = copy_run(folders["variational"], tmp_path)
    if damage == "corrupt":
        (folder / "masks.npz").write_bytes(b"PK\x03\x04 torn")
    else:
        (folder / "masks.npz").unlink()
    at = open_inside(monkeypatch, tmp_path / "runs", folder.name)
    warning = " ".join(w.value for w in at.warning)
    assert ("cannot read masks.npz" if damage == "corrupt" else "no masks.npz yet") in warning
    assert metric(open_tab(at, PARAMS_TAB), "total, tying off")  # the rest of the page still works


def test_no_runs_and_unknown_run(monkeypatch, tmp_path):
    monkeypatch.setenv("LMCORE_REFERENCE_DIR", str(tmp_path / "no-reference"))  # else the shipped runs are listed
    at = open_inside(monkeypatch, tmp_path / "empty", "no-such-run")
    assert any("No runs yet" in i.value for i in at.info)
    assert metric(open_tab(at, PARAMS_TAB), "total, tying off") == "19,780,400"  # falls back to the book preset


def test_only_the_open_tab_is_drawn_and_each_keeps_its_settings(trained_runs, monkeypatch):
    """A lesson slider redraws the lesson alone, not a run's mask charts; switching tabs keeps the
    lesson's sliders and the run picked for its masks, which the parameters tab then counts."""
    root, folders = trained_runs
    at = open_inside(monkeypatch, root)
    at.slider(key="inside.p_recurrent").set_value(0.2).run()
    names = mask_names(at)
    assert any(n.startswith("variational · ") for n in names)
    assert not any(n.startswith("layer") for n in names) and not at.get("dataframe")  # no run's masks

    run_tab = "🔎 A run's masks"
    open_tab(at, run_tab)
    assert not any(n.startswith("variational · ") for n in mask_names(at))
    picked = folders["variational"].name
    at.selectbox(key="inside.run").set_value(picked).run()
    assert "layer1.recurrent" in mask_names(at)

    open_tab(at, PARAMS_TAB)
    assert at.selectbox(key="inside.count_for").value == f"run:{picked}"
    params = json.loads((folders["variational"] / "params.json").read_text())
    assert metric(at, "total, tying off (this run)") == f"{params['total']:,}"

    open_tab(at, "🎭 Dropout placements")
    assert at.slider(key="inside.p_recurrent").value == 0.2
    open_tab(at, run_tab)
    assert at.selectbox(key="inside.run").value == picked


def test_a_link_to_a_run_opens_its_masks(trained_runs, monkeypatch):
    root, folders = trained_runs
    at = open_inside(monkeypatch, root, folders["variational"].name)
    assert at.session_state["inside.tab"] == "🔎 A run's masks"
    assert "layer1.input" in mask_names(at)



def record_fragments(monkeypatch) -> list:
    """(function, options) of each fragment the page makes with st.fragment(function, ...)."""
    import streamlit

    made, fragment = [], streamlit.fragment
    monkeypatch.setattr(streamlit, "fragment",
                        lambda func=None, **options: made.append((func, options)) or fragment(func, **options))
    return made


def test_a_training_runs_masks_refresh_until_it_ends(trained_runs, monkeypatch, tmp_path):
    """QA round 5: 'This run has no masks.npz yet' stayed after the engine wrote it, and later
    validations' masks never replaced the ones shown, until the browser was reloaded."""
    import subprocess
    import sys

    import streamlit

    from lmcore.runs import RunWriter

    made = record_fragments(monkeypatch)
    monkeypatch.setattr("lmcore.queue.ensure_worker", lambda root=None: None)
    folder = copy_run(trained_runs[1]["variational"], tmp_path)
    written = (folder / "masks.npz").read_bytes()
    (folder / "masks.npz").unlink()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)  # lmcore"])
    try:
        RunWriter(folder).status(state="running", pid=sleeper.pid, finished_at=None)
        at = open_inside(monkeypatch, tmp_path / "runs", folder.name)
        assert "no masks.npz yet" in " ".join(w.value for w in at.warning)
        [(live, options)] = [(func, o) for func, o in made if func and func.__name__ == "live_masks"]
        assert options["run_every"]                               # the masks look again on their own

        (folder / "masks.npz").write_bytes(written)               # the first validation
        at.run()
        assert not at.warning and at.dataframe[0].value["kept fraction"].max() < 1
        with np.load(folder / "masks.npz") as archive:            # a later validation's masks
            np.savez(folder / "masks.npz", **{k: np.ones_like(archive[k]) for k in archive.files})
        at.run()
        assert list(at.dataframe[0].value["kept fraction"]) == [1.0, 1.0, 1.0]
    finally:
        sleeper.kill()
        sleeper.wait()

    reruns = []
    monkeypatch.setattr(streamlit, "rerun", lambda *a, **k: reruns.append(k))
    RunWriter(folder).status(state="finished", pid=None)
    live(folder.name)                                             # its next look
    assert reruns == [{}]                                         # the whole page, which stops the refresh
    made.clear()
    at.run()
    assert not at.exception and not [func for func, _ in made if func and func.__name__ == "live_masks"]
    assert list(at.dataframe[0].value["kept fraction"]) == [1.0, 1.0, 1.0]


def test_a_short_mask_axis_labels_every_step_and_unit_in_whole_numbers():
    """A bptt-1 run's mask read time ticks 0.5, 1, 1.5 (QA round 5)."""
    from ui.inside_figures import mask_figure

    short = mask_figure(np.ones((1, 8)), "one step, eight units")
    assert (short.layout.xaxis.dtick, short.layout.xaxis.tick0) == (1, 1)
    assert (short.layout.yaxis.dtick, short.layout.yaxis.tick0) == (1, 1)
    long = mask_figure(np.ones((35, 650)), "a book window")
    assert long.layout.xaxis.dtick is None and long.layout.yaxis.dtick is None   # Plotly's own, whole there


def test_trains_link_for_a_run_without_dropout_opens_its_parameters(trained_runs, monkeypatch):
    """QA round 10: Train's "No dropout: see its parameters" opened the masks tab, which only says there are none."""
    from lmcore.summaries import summarize
    from ui.train_watch import inside_label, inside_query

    root, folders = trained_runs
    plain, dropped = summarize(folders["plain"]), summarize(folders["variational"])
    assert inside_label(plain)[0] == "Parameters" and "No dropout" in inside_label(plain)[1]
    assert inside_query(plain)["tab"] == "params"
    assert inside_query(dropped) == {"run": dropped.id}
    at = open_app(monkeypatch, root, "app_pages/inside.py", inside_query(plain))
    assert not at.exception and metric(at, "total, tying off")          # the parameters tab is the open one
    assert not any("without dropout" in i.value for i in at.info)          # not the masks tab's note


def test_a_link_to_a_missing_run_says_so_on_the_parameters_tab_too(trained_runs, monkeypatch):
    """QA round 11: /inside?run=nonexistent&tab=params counted another run without a word; only the
    masks tab said the run was not there."""
    root, _ = trained_runs
    at = open_app(monkeypatch, root, "app_pages/inside.py", {"run": "nonexistent", "tab": "params"})
    assert not at.exception and metric(at, "total, tying off")          # the parameters tab is open
    assert any("There is no run `nonexistent`" in w.value and "Pick what to count below" in w.value
               for w in at.warning), [w.value for w in at.warning]


def test_the_address_opens_the_tab_and_run_shown_and_follows_back(trained_runs, monkeypatch):
    """QA round 12: a tab picked on the projector was not in the address, so a copied link (or a
    reload) opened another tab; the masks tab showed a run the address did not name."""
    root, folders = trained_runs
    at = open_inside(monkeypatch, root)
    assert dict(at.query_params) == {}                                  # the lesson, as a bare address opens it
    open_tab(at, "🔎 A run's masks")
    shown = at.selectbox(key="inside.run").value
    assert dict(at.query_params) == {"run": shown}                      # opens these masks
    open_tab(at, PARAMS_TAB)
    assert dict(at.query_params) == {"run": shown, "tab": "params"}
    open_tab(at, "🎭 Dropout placements")
    assert dict(at.query_params) == {"run": shown, "tab": "lesson"}

    at.query_params.pop("tab")                                          # the browser's Back, to the masks
    run_as_back(at, monkeypatch)
    assert at.session_state["inside.tab"] == "🔎 A run's masks"
    assert at.selectbox(key="inside.run").value == shown
    fresh = open_inside(monkeypatch, root, shown, PARAMS_TAB)            # a student opens the copied link
    assert fresh.session_state["inside.tab"] == PARAMS_TAB and metric(fresh, "total, tying off")


def test_odds_and_the_recurrent_ratio_read_in_words(trained_runs, monkeypatch):
    """QA round 12: '0.50^20 = 9.5e-07' on a slide, and 'recurrent p = 0' for a run whose placement never
    drops on the recurrent path, which read as a setting."""
    root, folders = trained_runs
    at = open_inside(monkeypatch, root)
    at.slider(key="inside.p_recurrent").set_value(0.5).run()
    at.slider(key="inside.steps").set_value(20).run()
    assert any("= **9.5e-07** (about 1 in 1,000,000)" in m.value for m in at.markdown)
    masks = " ".join(m.value for m in open_inside(monkeypatch, root, folders["variational"].name).markdown)
    assert "(placement **variational**, p = 0.5, recurrent p = 0.5)" in masks


def test_a_vertical_runs_masks_say_it_never_drops_on_the_recurrent_path(trained_runs, monkeypatch, tmp_path):
    folder = copy_run(trained_runs[1]["variational"], tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "dropout_placement": "vertical"}))
    masks = " ".join(m.value for m in open_inside(monkeypatch, tmp_path / "runs", folder.name).markdown)
    assert "(placement **vertical**, p = 0.5, no recurrent dropout (vertical never drops there))" in masks


def test_back_from_another_page_reopens_the_tab_the_address_names(trained_runs, monkeypatch):
    """QA round 13: Inside on Parameters, the sidebar's Generate, then Back: the lesson opened and tab=lesson
    was written over the params entry (Streamlit had dropped the tabs' state on the other page)."""
    root, folders = trained_runs
    run = folders["plain"].name
    at = open_inside(monkeypatch, root, run, PARAMS_TAB)
    assert at.session_state["inside.tab"] == PARAMS_TAB
    query = dict(at.query_params)
    at.switch_page("app_pages/generate.py")
    at.query_params.clear()
    at.query_params["run"] = run
    at.run()
    at.switch_page("app_pages/inside.py")                               # Back: the params entry again
    at.query_params.clear()
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert at.session_state["inside.tab"] == PARAMS_TAB and dict(at.query_params) == query


@pytest.mark.parametrize("tab", [PARAMS_TAB, RUN_TAB])
def test_the_sidebars_inside_reopens_the_tab_and_run_left(trained_runs, monkeypatch, tab):
    """QA round 24: Inside on a run's masks (or Parameters), Compare by the sidebar, then Inside by the
    sidebar: the lesson opened and the address lost the run, where Train and Generate keep the session's."""
    root, folders = trained_runs
    run = folders["variational"].name
    at = open_inside(monkeypatch, root, run, tab)
    query = dict(at.query_params)
    at.query_params.clear()
    at.switch_page("app_pages/compare.py").run()
    at.query_params.clear()                                               # the sidebar's links carry no query
    at.switch_page("app_pages/inside.py").run()
    assert not at.exception
    assert at.session_state["inside.tab"] == tab and dict(at.query_params) == query


def test_back_onto_a_bare_inside_opens_the_lesson(trained_runs, monkeypatch):
    """The other reading of a bare address: Back onto one the page wrote for the lesson, its defaults."""
    root, folders = trained_runs
    at = open_inside(monkeypatch, root)
    assert at.session_state["inside.tab"] == LESSON_TAB and dict(at.query_params) == {}
    at.query_params["run"] = folders["plain"].name
    at.query_params["tab"] = "params"
    at.run()
    assert at.session_state["inside.tab"] == PARAMS_TAB
    at.query_params.clear()
    run_as_back(at, monkeypatch)
    assert at.session_state["inside.tab"] == LESSON_TAB and dict(at.query_params) == {}


def test_no_chart_takes_a_swipe_for_a_zoom(trained_runs, monkeypatch):
    """Inside is half charts: on a phone a swipe that began on one zoomed it and left the page still
    (QA round 15). None has a toolbar here, so none can zoom."""
    at = open_inside(monkeypatch, trained_runs[0])
    charts = at.get("plotly_chart")
    assert len(charts) >= 9
    for chart in charts:
        assert json.loads(chart.proto.spec)["layout"]["dragmode"] is False
        assert json.loads(chart.proto.config) == {"displayModeBar": False}


def test_the_controls_carry_their_kept_values_as_their_defaults(trained_runs, monkeypatch):
    """QA round 22 (on Watch): a widget the browser mounts afresh starts from the default the page gives
    it, and the next timed rerun (the masks' refresh, the sidebar's counts) sends that back as a change;
    without one that was the widget's own (p 0, 5 time steps, no layer, the first run). The defaults
    the page sends are the values kept."""
    root, folders = trained_runs
    at = open_inside(monkeypatch, root)
    at.slider(key="inside.p").set_value(0.3).run()
    at.slider(key="inside.p_recurrent").set_value(0.2).run()
    at.slider(key="inside.steps").set_value(35).run()
    at.slider(key="inside.units").set_value(24).run()
    at.segmented_control(key="inside.layer").set_value(1).run()
    at.number_input(key="inside.seed").set_value(7).run()
    assert list(at.slider(key="inside.p").proto.default) == [pytest.approx(0.3)]
    assert list(at.slider(key="inside.p_recurrent").proto.default) == [pytest.approx(0.2)]
    assert list(at.slider(key="inside.steps").proto.default) == [35]
    assert list(at.slider(key="inside.units").proto.default) == [24]
    assert list(at.segmented_control(key="inside.layer").proto.default) == [0]    # layer 1, not none
    assert at.number_input(key="inside.seed").proto.default == 7

    picked = folders["variational"].name
    open_tab(at, "🔎 A run's masks")
    at.selectbox(key="inside.run").set_value(picked).run()
    run_box = at.selectbox(key="inside.run")
    assert run_box.value == picked and run_box.index > 0 and run_box.proto.default == run_box.index  # not the first
    at.slider(key="inside.shown_units").set_value(40).run()
    assert list(at.slider(key="inside.shown_units").proto.default) == [40]

    open_tab(at, PARAMS_TAB)
    at.selectbox(key="inside.count_for").set_value("preset:book").run()
    count_box = at.selectbox(key="inside.count_for")
    assert count_box.value == "preset:book" and count_box.proto.default == count_box.index > 0


@pytest.mark.parametrize("page", ["app_pages/train.py", "app_pages/inside.py", "app_pages/generate.py"])
def test_a_link_that_names_a_run_instead_of_its_id_offers_that_run(trained_runs, monkeypatch, page):
    """QA round 29: `/train?run=book-horizontal` said "There is no run" for a run Compare's `?runs=` and the CLI
    open by that name. These pages read an id: they now offer the one run the name names, by its id."""
    from lmcore.summaries import reference_runs

    root, _ = trained_runs
    horizontal = next(s for s in reference_runs() if s.config.get("name") == "book-horizontal")
    at = open_app(monkeypatch, root, page, {"run": "book-horizontal"})
    assert not at.exception
    assert any("There is no run `book-horizontal`" in w.value for w in at.warning)
    offer = at.button(key="address.named_run")
    assert offer.label == f"`book-horizontal` names {horizontal.name} (`{horizontal.id}`): open it"
    offer.click().run()
    assert at.query_params["run"] in (horizontal.id, [horizontal.id])      # the id, in the address
    assert not at.exception and not any("There is no run" in w.value for w in at.warning)
    at = open_app(monkeypatch, root, page, {"run": "no-such-name"})
    assert not [b for b in at.button if b.key == "address.named_run"]     # nothing to offer
