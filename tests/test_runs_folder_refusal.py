"""A runs folder that takes no new run (read-only, not writable by this user, full): one line naming the
folder, on the command line and on both pages that start runs. QA round 17 B (S4): Train's Start read "Could
not start the run: [Errno 30] Read-only file system: '/tmp/.../.new-20261129-042719-s4-ro-1cfa'", raw errno
text naming a hidden folder the user never made."""

from __future__ import annotations

import errno
import os
import pathlib

import pytest

from conftest import open_app
from lmcore import cli
from lmcore.errors import RunError
from lmcore.runs import create_run
from ui.train_setup import START

REFUSALS = {
    errno.EROFS: "the runs folder {root} is read-only: nothing can be started there",
    errno.EACCES: "the runs folder {root} cannot be written by this user (permission denied): nothing can be "
                  "started there",
    errno.ENOSPC: "no space left on the device of the runs folder {root}: free some space",
}


def refuse_new_folders(monkeypatch, code: int) -> None:
    """mkdir of a new run's hidden folder fails with `code`, as such a runs folder makes it fail (a chmod
    cannot make a folder refuse root, who runs these tests on the project's machines)."""
    real = pathlib.Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self.name.startswith(".new-"):
            raise OSError(code, os.strerror(code), str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)


@pytest.mark.parametrize("code", REFUSALS, ids=errno.errorcode.get)
def test_a_runs_folder_that_takes_no_run_is_named_in_one_line(runs_root, monkeypatch, capsys, code):
    runs_root.mkdir()
    refuse_new_folders(monkeypatch, code)
    expected = REFUSALS[code].format(root=runs_root)
    with pytest.raises(RunError) as refusal:
        create_run({"preset": "tiny"}, runs_root)
    assert str(refusal.value) == expected and not list(runs_root.iterdir())
    assert cli.main(["train", "--preset", "tiny", "--runs-dir", str(runs_root), "--no-progress-bar"]) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {expected}"]


def test_an_error_on_another_path_is_not_blamed_on_the_runs_folder(runs_root, monkeypatch):
    """A fork reading its parent's checkpoint: that file's own error, not 'the runs folder is read-only'."""
    def fill(folder):
        raise PermissionError(errno.EACCES, "Permission denied", str(runs_root / "parent" / "checkpoints" / "best.pt"))

    with pytest.raises(PermissionError):
        create_run({"preset": "tiny"}, runs_root, fill=fill)
    assert not list(runs_root.iterdir())


def test_both_pages_that_start_runs_name_the_read_only_runs_folder(runs_root, monkeypatch):
    runs_root.mkdir()
    expected = REFUSALS[errno.EROFS].format(root=runs_root)
    train = open_app(monkeypatch, runs_root, "app_pages/train.py", {"preset": "tiny"})
    start = open_app(monkeypatch, runs_root)
    refuse_new_folders(monkeypatch, errno.EROFS)
    train.button(key=START).click().run()
    assert [e.value for e in train.error] == [f"Could not start the run: {expected}"]
    start.button(key="start.go.tiny").click().run()
    assert [e.value for e in start.error] == [f"Could not start tiny: {expected}"]
