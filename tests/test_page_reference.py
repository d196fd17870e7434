"""The shipped reference runs on Compare (AppTest): listed through the run listing with their device,
even over an empty runs folder; overlaid by ticking them; never deleted from the page."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from charts import chart, named
from conftest import copy_run, open_app
from explorer.textview import md_escape
from lmcore.reference import reference_dir

BOOK = "20261127-085930-book-9182"
VARIATIONAL = "20261127-230959-variational-medium-3758"
BOOK_NAME = "book · reference (NVIDIA H200)"


def open_compare(monkeypatch, root, **state) -> AppTest:
    at = open_app(monkeypatch, root, "app_pages/compare.py", state=state)
    assert not at.exception, [e.value for e in at.exception]
    return at


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def reference_files() -> dict:
    return {p.relative_to(reference_dir()): p.stat().st_mtime_ns for p in reference_dir().rglob("*")}


def test_an_empty_runs_folder_still_lists_the_reference_runs_and_they_cannot_be_deleted(monkeypatch, tmp_path):
    before = reference_files()
    at = open_compare(monkeypatch, tmp_path / "runs", **{"compare.selected": [BOOK, VARIATIONAL]})
    table = at.dataframe[0].value.set_index("id")
    assert table.loc[BOOK, "label"] == BOOK_NAME and table.loc[BOOK, "state"].endswith("finished")
    assert table.loc[VARIATIONAL, "label"] == "variational-medium · reference (NVIDIA H200)"
    assert round(table.loc[BOOK, "best_val_ppl"], 2) == 79.87 and round(table.loc[BOOK, "test_ppl"], 2) == 76.19
    delete = button(at, "Delete…")
    assert "Nothing selected can be deleted: a reference run is read-only." in [c.value for c in at.caption]
    assert delete.disabled and "read-only" in delete.help
    assert reference_files() == before


def test_ticking_book_beside_a_tiny_run_overlays_it_and_deletes_only_the_tiny_run(trained_runs, monkeypatch,
                                                                                   tmp_path):
    tiny = copy_run(trained_runs[1]["plain"], tmp_path)
    before = reference_files()
    at = open_compare(monkeypatch, tmp_path / "runs", **{"compare.selected": [tiny.name, BOOK]})
    at.segmented_control(key="compare.x_axis").set_value("epoch").run()
    curves = chart(at)
    assert {"plain validation", f"{BOOK_NAME} validation", f"{BOOK_NAME} train"} <= set(named(curves["data"]))
    # Clipped as the Train watch overlay is: at twice the highest latest validation (the tiny run's
    # 135.2), not stretched to its untrained first train lines or the book's first epochs.
    assert 270 < 10 ** curves["layout"]["yaxis"]["range"][1] < 350
    captions = " ".join(c.value for c in at.caption)
    assert "Axis stops at 270.4, twice the highest latest validation" in captions
    assert f"{md_escape(BOOK_NAME)} reaches" in captions
    button(at, "Delete 1 run…").click().run()
    button(at, "Yes, delete").click().run()
    assert not at.exception and not tiny.exists()
    assert any("Deleted 1 run" in s.value for s in at.success)
    assert reference_files() == before and at.session_state["compare.selected"] == [BOOK]
