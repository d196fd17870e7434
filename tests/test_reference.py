"""Reference runs shipped in docs/results/runs/: listed with their provenance, read-only."""

import json

import pytest

from lmcore import reference
from lmcore.runs import read_config, read_jsonl, read_status

BOOK = "20261127-085930-book-9182"
VARIATIONAL = "20261127-085930-variational-medium-a70f"


@pytest.fixture
def made_up(tmp_path, monkeypatch):
    """A reference folder of our own: a good run, one without reference.json, one with a
    broken one, a hidden folder and a stray file."""
    root = tmp_path / "reference"
    for name in ("b-good", "a-bare", "c-broken", ".hidden"):
        (root / name).mkdir(parents=True)
    (root / "b-good" / "reference.json").write_text(json.dumps({"device": "cpu", "source": "test"}))
    (root / "c-broken" / "reference.json").write_text("{not json")
    (root / "notes.txt").write_text("not a run")
    monkeypatch.setenv("LMCORE_REFERENCE_DIR", str(root))
    return root


def test_the_shipped_runs_are_listed_with_where_they_were_measured(monkeypatch):
    monkeypatch.delenv("LMCORE_REFERENCE_DIR", raising=False)
    runs = {run["id"]: run for run in reference.list_reference_runs()}
    assert set(runs) >= {BOOK, VARIATIONAL}
    for run in runs.values():
        info = run["reference"]
        assert info["device"] == "NVIDIA H200" and info["source"] == "measured by this project"
        assert info["command"].startswith("python -m lmcore train --preset ")
        assert read_config(run["path"])["preset"] in info["command"]
        assert reference.is_reference(run["path"])


def test_the_shipped_book_run_holds_the_numbers_the_readme_quotes(monkeypatch):
    monkeypatch.delenv("LMCORE_REFERENCE_DIR", raising=False)
    folder = reference.reference_dir() / BOOK
    status = read_status(folder)
    assert status["state"] == "finished" and round(status["elapsed"]) == 431
    assert round(status["best_val_ppl"], 2) == 79.87 and round(status["test_ppl"], 2) == 76.19
    assert reference.reference_info(folder)["complete"] is True
    cut = reference.reference_dir() / VARIATIONAL
    assert read_status(cut)["state"] == "stopped" and reference.reference_info(cut)["complete"] is False
    assert max(r["epoch"] for r in read_jsonl(cut / "metrics.jsonl") if r["kind"] == "val") == 16


def test_listing_keeps_folders_by_name_and_survives_bad_info(made_up):
    runs = reference.list_reference_runs()
    assert [run["id"] for run in runs] == ["a-bare", "b-good", "c-broken"]
    assert [run["reference"] for run in runs] == [{}, {"device": "cpu", "source": "test"}, {}]
    assert runs[1]["path"] == made_up / "b-good"


def test_a_missing_reference_folder_lists_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("LMCORE_REFERENCE_DIR", str(tmp_path / "gone"))
    assert reference.list_reference_runs() == []
    assert not reference.is_reference(tmp_path / "runs" / "x")


def test_anything_under_the_reference_folder_is_read_only(made_up, tmp_path, monkeypatch):
    assert reference.is_reference(made_up)
    assert reference.is_reference(made_up / "b-good")
    assert reference.is_reference(str(made_up / "b-good" / "metrics.jsonl"))
    monkeypatch.chdir(made_up / "b-good")
    assert reference.is_reference(".")
    assert not reference.is_reference("../..")  # ".." leaves it
    (tmp_path / "reference-other").mkdir()
    assert not reference.is_reference(tmp_path / "reference-other")  # a shared name prefix is not enough
    (tmp_path / "link").symlink_to(made_up / "b-good")
    assert reference.is_reference(tmp_path / "link")  # a link into it is still the reference run
    assert not reference.is_reference(tmp_path / "runs" / "b-good")
