"""Reference runs shipped in docs/results/runs/: listed with their provenance, read-only."""

import json

import pytest

from lmcore import reference
from lmcore.jsonl import read_jsonl
from lmcore.runs import read_config, read_status

BOOK = "20261127-085930-book-9182"
VARIATIONAL = "20261127-230959-variational-medium-3758"
ZAREMBA = "20261127-231417-zaremba-medium-6fb2"


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
    assert set(runs) >= {BOOK, VARIATIONAL, ZAREMBA}
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



@pytest.mark.parametrize("folder, epochs, best_val, test",
                         [(VARIATIONAL, 40, 76.66, 73.24), (ZAREMBA, 39, 86.66, 83.09)])
def test_the_shipped_medium_recipes_ran_to_their_end(monkeypatch, folder, epochs, best_val, test):
    """The README's placement table: variational-medium and zaremba-medium, each to its last epoch."""
    monkeypatch.delenv("LMCORE_REFERENCE_DIR", raising=False)
    run = reference.reference_dir() / folder
    status = read_status(run)
    assert status["state"] == "finished" and reference.reference_info(run)["complete"] is True
    assert round(status["best_val_ppl"], 2) == best_val and round(status["test_ppl"], 2) == test
    assert max(r["epoch"] for r in read_jsonl(run / "metrics.jsonl") if r["kind"] == "val") == epochs
    assert status["epoch"] == read_config(run)["epochs"] == epochs


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


# ---------------------------------------------------------------- read-only, listed, never queued


@pytest.fixture
def queued_reference(made_up):
    """b-good as a complete-looking run folder whose status says queued (the queue's bait)."""
    folder = made_up / "b-good"
    (folder / "config.json").write_text(json.dumps({"preset": "book", "name": "book"}))
    (folder / "status.json").write_text(json.dumps({"state": "queued", "pid": None, "created_at": 1.0}))
    return folder


def test_a_reference_run_cannot_be_deleted_stopped_resumed_or_trained(queued_reference):
    from lmcore import launch, session
    from lmcore.errors import RunError
    from lmcore.runs import RunWriter, delete_run, stop_run

    before = sorted(p.name for p in queued_reference.iterdir())
    # session.run took the trainer's lock first and left trainer.lock in the shipped folder (stop 21)
    for attempt, verb in ((delete_run, "deleted"), (stop_run, "stopped"), (launch.launch, "resumed"),
                          (RunWriter, "trained or resumed"), (session.run, "trained or resumed")):
        with pytest.raises(RunError) as refused:
            attempt(queued_reference)
        message = str(refused.value)
        assert "\n" not in message and "b-good is a reference run" in message and f"cannot be {verb}" in message
    assert sorted(p.name for p in queued_reference.iterdir()) == before  # no log.txt, checkpoints/, trainer.lock


def test_the_cli_resume_refuses_a_reference_run_without_writing(queued_reference):
    import subprocess
    import sys

    before = (queued_reference / "status.json").read_text()
    done = subprocess.run([sys.executable, "-m", "lmcore", "resume", str(queued_reference)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0 and "is a reference run" in done.stdout + done.stderr
    assert (queued_reference / "status.json").read_text() == before and not (queued_reference / "checkpoints").exists()


def test_reference_summaries_are_marked_with_their_device_and_kept_out_of_the_queue(queued_reference, tmp_path):
    from lmcore import queue
    from lmcore.summaries import list_runs, reference_runs, summarize

    listed = {s.id: s for s in reference_runs()}
    assert list(listed) == ["a-bare", "b-good", "c-broken"]
    good = listed["b-good"]
    assert good.is_reference and good.name == "book · reference (cpu)" and good.device == "cpu"
    assert listed["a-bare"].is_reference and listed["a-bare"].reference == {}
    assert summarize(queued_reference) == good
    (tmp_path / "runs").mkdir()
    assert list_runs(tmp_path / "runs") == [] and queue.pending(tmp_path / "runs") == []
    assert not any(s.is_reference for s in list_runs(queued_reference.parent.parent / "runs"))


def test_the_shipped_runs_summarise_as_the_readme_says(monkeypatch):
    from lmcore.summaries import reference_runs

    monkeypatch.delenv("LMCORE_REFERENCE_DIR", raising=False)
    book = next(s for s in reference_runs() if s.id == BOOK)
    assert book.name == "book · reference (NVIDIA H200)" and book.state == "finished"
    assert (round(book.best_val, 2), round(book.test, 2), book.best_epoch) == (79.87, 76.19, 40)


def test_a_watched_reference_runs_summary_is_read_once_until_one_of_its_files_changes(made_up, tmp_path):
    import os

    from lmcore.summaries import reference_runs, summary_of

    good = made_up / "b-good"
    first = summary_of(good)
    assert summary_of(good) is first and first in reference_runs()   # the list's summary, not read again
    status = good / "status.json"
    status.write_text(json.dumps({"state": "finished", "best_val_ppl": 80.0}))
    os.utime(status, ns=(1, 1))   # a new stamp whatever the clock's resolution
    assert summary_of(good) is not first and summary_of(good).best_val == 80.0
    (tmp_path / "mine").mkdir()
    assert summary_of(tmp_path / "mine") is not summary_of(tmp_path / "mine")   # a user's run: read each time
