"""Classroom mode (LMCORE_CONTROL=local, ui/access.py): a student who opens the teacher's address on
another computer watches, compares and generates, but cannot start, stop, resume, fork or delete runs
(a link carried the teacher's Stop and Delete buttons to every student, QA round 12). The computer the
app runs on keeps every control; without the setting, everyone does."""

from __future__ import annotations

import json

import pytest

import ui
from conftest import copy_run, open_app, texts
from lmcore import runs
from ui import access

STUDENT = "192.0.2.7"   # another computer on the classroom's network


@pytest.fixture
def classroom(monkeypatch):
    """Classroom mode, with the visitor's address settable: None is the app's own computer."""
    monkeypatch.setenv(access.CONTROL_ENV, "local")
    visitor = {"address": STUDENT}
    monkeypatch.setattr(access, "client_address", lambda: visitor["address"])
    return visitor


def stopped_copy(trained_runs, tmp_path):
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    status = json.loads((folder / "status.json").read_text())
    (folder / "status.json").write_text(json.dumps({**status, "state": "stopped"}))
    return folder


def button(at, label):
    return next(b for b in at.button if b.label == label)


@pytest.mark.parametrize("value, mode, problem", [
    (None, "everyone", False), ("", "everyone", False), ("everyone", "everyone", False), (" LOCAL ", "local", False),
    ("teachers-only", "local", True)])
def test_the_mode_reads_from_the_environment_and_a_typo_refuses_more(monkeypatch, value, mode, problem):
    if value is None:
        monkeypatch.delenv(access.CONTROL_ENV, raising=False)
    else:
        monkeypatch.setenv(access.CONTROL_ENV, value)
    monkeypatch.setattr(access, "client_address", lambda: STUDENT)
    assert access.control_mode() == mode and access.may_change() == (mode == "everyone")
    assert (access.mode_problem() is not None) == problem


def test_a_student_cannot_start_a_run_even_around_the_button(classroom, tmp_path, monkeypatch):
    from lmcore.presets import resolve

    monkeypatch.setenv("LMCORE_RUNS_DIR", str(tmp_path / "runs"))
    with pytest.raises(PermissionError, match="classroom mode"):
        ui.start_run(resolve("tiny"))
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_a_student_watches_a_run_without_its_controls(classroom, trained_runs, monkeypatch, tmp_path):
    folder = stopped_copy(trained_runs, tmp_path)
    at = open_app(monkeypatch, folder.parent, "app_pages/train.py", {"run": folder.name})
    assert not at.exception
    resume = button(at, "Resume")
    assert resume.disabled and resume.help == access.REFUSAL
    assert any("Watching only" in c.value for c in at.sidebar.caption)
    assert {link.proto.label for link in at.get("page_link")} >= {"Compare", "Generate text"}   # still open to them

    classroom["address"] = None   # the teacher's own computer
    at.run()
    assert not button(at, "Resume").disabled
    assert any("Classroom mode" in c.value for c in at.sidebar.caption)
    classroom["address"] = STUDENT   # a click sent around the disabled button: refused, said, nothing launched
    button(at, "Resume").click().run()
    assert access.REFUSAL in texts(at.toast)
    assert runs.read_status(folder)["state"] == "stopped" and not (folder / "log.txt").exists()


def test_a_student_sets_up_a_run_to_see_its_cost_but_cannot_start_it(classroom, monkeypatch, tmp_path):
    from ui.train_setup import START

    at = open_app(monkeypatch, tmp_path / "runs", "app_pages/train.py", {"preset": "tiny"})
    start = at.button(key=START)
    assert start.disabled and start.help == access.REFUSAL
    assert any(m.label == "Total" for m in at.metric)   # its parameter count still shows


def test_a_student_choosing_a_text_file_is_not_asked_to_upload_one(classroom, monkeypatch, tmp_path):
    """QA round 25: on a student's computer the upload box is off, and the problem box still said
    "upload a text file first"."""
    at = open_app(monkeypatch, tmp_path / "runs", "app_pages/train.py", {"preset": "tiny"})
    at.radio(key="train.w.dataset").set_value("text").run()
    errors = texts(at.error)
    assert "only the computer this app runs on can upload one" in errors
    assert "upload a text file first" not in errors
    classroom["address"] = None                                   # the teacher's own computer
    at.run()
    assert "upload a text file first" in texts(at.error)


def test_a_student_cannot_delete_or_fork_on_compare(classroom, trained_runs, monkeypatch, tmp_path):
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    at = open_app(monkeypatch, folder.parent, "app_pages/compare.py", {"runs": folder.name})
    assert not at.exception
    delete = button(at, "Delete 1 run…")
    assert delete.disabled and delete.help == access.REFUSAL
    fork = next(b for b in at.get("form_submit_button") if b.proto.label == "Fork and train")
    assert fork.proto.disabled


def test_a_student_sees_the_presets_but_starts_none(classroom, monkeypatch, tmp_path):
    at = open_app(monkeypatch, tmp_path / "runs", "app_pages/start.py")
    assert not at.exception
    starts = [b for b in at.button if b.label == "Start now"]
    opens = [link for link in at.get("page_link") if link.proto.label == "Open in Train"]
    assert starts and all(b.disabled for b in starts) and opens and not any(link.proto.disabled for link in opens)


def test_without_the_setting_everyone_keeps_every_control(trained_runs, monkeypatch, tmp_path):
    monkeypatch.delenv(access.CONTROL_ENV, raising=False)
    monkeypatch.setattr(access, "client_address", lambda: STUDENT)
    folder = stopped_copy(trained_runs, tmp_path)
    at = open_app(monkeypatch, folder.parent, "app_pages/train.py", {"run": folder.name})
    assert not button(at, "Resume").disabled
    assert not any("Watching only" in c.value or "Classroom" in c.value for c in at.sidebar.caption)
