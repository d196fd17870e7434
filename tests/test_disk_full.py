"""A disk that fills up while a run trains (QA round 17 B, S4): the run ends `failed` with the one disk-full
line in status.json, so every page and `lmcore runs` say it, its metrics stay, and Resume trains on once space
is back. It read 'running' with a dead process, then 'killed or crashed': PyTorch reports a full disk during a
save as 'RuntimeError: unexpected pos', and on a disk full to the last byte the final status did not fit.

The simulated tests run everywhere; the real one mounts a small tmpfs and is skipped where mounting is not
permitted (not root, or a container without the capability).
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SMALL
from lmcore import cli, runs
from lmcore.errors import LmcoreError
from lmcore.jsonl import read_metrics
from lmcore.runs import RESERVE, RunWriter, create_run, read_status
from lmcore.session import disk_full_message, run
from lmcore.summaries import summarize
from lmcore.train import Callbacks

SAVE_FAILURE = "[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"  # PyTorch 2.x's words


def no_space() -> OSError:
    return OSError(errno.ENOSPC, "No space left on device")


class FullDisk:
    """A disk that fills at one moment and then has no byte free, except what the trainer frees by deleting
    its space reserve: that is the only file it can give back, and only if it was there when the disk filled."""

    def __init__(self, folder: Path):
        self.reserve = folder / RESERVE
        self.full = self.had_reserve = False

    def fill(self) -> None:
        self.full, self.had_reserve = True, self.reserve.exists()

    def check(self) -> None:
        if self.full and not (self.had_reserve and not self.reserve.exists()):
            raise no_space()


def simulate(monkeypatch, folder: Path, fills_on: str) -> FullDisk:
    """Writes into the run folder that fail once the disk is full; it fills during the first checkpoint
    save ('save', as PyTorch reports it) or at the first metrics line past step 120 ('metrics')."""
    import torch

    disk, real_save = FullDisk(folder), torch.save
    real_status, real_append = runs.write_json_atomic, runs.append_jsonl

    def save(payload, into):
        if fills_on != "save":
            return real_save(payload, into)
        disk.fill()
        try:  # what PyTorch does when a write of its file fails: its own error, the OSError its context
            if hasattr(into, "write"):
                into.write(b"part of a checkpoint")
            else:  # given a path, as before QA round 17
                Path(into).write_bytes(b"part of a checkpoint")
            raise no_space()
        except OSError:
            raise RuntimeError(SAVE_FAILURE)  # noqa: B904 (PyTorch keeps the OSError as context only)

    def status(path, data):
        disk.check()
        real_status(path, data)

    def append(path, record):
        if fills_on == "metrics" and record.get("step", 0) > 120:
            disk.fill()
        disk.check()
        real_append(path, record)

    monkeypatch.setattr(torch, "save", save)
    monkeypatch.setattr(runs, "write_json_atomic", status)
    monkeypatch.setattr(runs, "append_jsonl", append)
    return disk


@pytest.mark.parametrize("fills_on", ["save", "metrics"])
def test_a_disk_that_fills_while_training_fails_the_run_with_the_disk_full_line(runs_root, monkeypatch, capsys,
                                                                               fills_on):
    folder = create_run(SMALL, runs_root)
    with monkeypatch.context() as patched:
        simulate(patched, folder, fills_on)
        assert cli.main(["resume", str(folder), "--no-progress-bar"]) == 2
    message = disk_full_message(folder)
    assert capsys.readouterr().err.splitlines()[-1] == f"error: {message}"
    status = read_status(folder)
    assert (status["state"], status["error"]) == ("failed", message)
    ended = summarize(folder)
    assert (ended.state, ended.problem) == ("failed", message)
    kept = read_metrics(folder / "metrics.jsonl")
    assert kept and kept[-1]["step"] >= 90  # the metrics written stay
    assert not list(folder.glob(".*")) and not list((folder / "checkpoints").glob(".*"))  # no temp, no reserve

    result = run(folder, show_progress=False)   # space is back: Resume trains on, each step logged once
    assert result["state"] == "finished"
    steps = [(r["kind"], r["step"]) for r in read_metrics(folder / "metrics.jsonl")]
    assert len(steps) == len(set(steps)) and read_status(folder)["error"] is None


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass  # lmcore"])
    process.wait()
    return process.pid


def test_a_dead_trainer_whose_log_says_the_disk_was_full_reads_failed_with_that_line(runs_root):
    """Where even the final status did not fit (no reserve could be made on a disk full at the start), the
    trainer's last line in log.txt says why; it read 'killed or crashed'. Any other last line keeps that."""
    folder = create_run(SMALL, runs_root)
    RunWriter(folder).status(state="running", pid=dead_pid())
    message = disk_full_message(folder)
    (folder / "log.txt").write_text(f"\n--- attempt started 2026-11-29 04:27:19 ---\nstarting it\nerror: {message}\n")
    assert (read_status(folder)["state"], read_status(folder)["error"]) == ("failed", message)
    assert summarize(folder).problem == message
    (folder / "log.txt").write_text("starting it\nTraceback (most recent call last):\nKeyError: 'x'\n")
    assert read_status(folder)["error"].endswith("ended without a final status: killed or crashed")


# ---------------------------------------------------------------- a real full disk


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs, unmounted afterwards; skipped where this process may not mount one."""
    place = tmp_path / "disk"
    place.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(place)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()[:120]}")
    try:
        yield place
    finally:
        subprocess.run(["umount", "-l", str(place)], capture_output=True)


class FillAt(Callbacks):
    """Fills the disk under `folder` at `step`, all but `leave` bytes, with one file (as `fallocate` does)."""

    def __init__(self, folder: Path, step: int, leave: int):
        self.filler, self.step, self.leave, self.done = folder.parent / "filler", step, leave, False

    def on_progress(self, trainer):
        if trainer.step >= self.step and not self.done:
            self.done = True
            free = os.statvfs(self.filler.parent).f_bavail * os.statvfs(self.filler.parent).f_frsize
            with open(self.filler, "wb") as handle:
                os.posix_fallocate(handle.fileno(), 0, max(1, free - self.leave))


@pytest.mark.parametrize("leave", [32 * 1024, 0], ids=["the-save-does-not-fit", "full-to-the-last-byte"])
def test_a_real_full_disk_fails_the_run_in_one_line_and_resume_trains_on_after(small_disk, leave):
    """32 KB left before the first checkpoint (about 170 KB): PyTorch's 'unexpected pos' while saving; 0 bytes
    left at step 50: the next metrics line. Both used to leave status.json 'running'."""
    folder = create_run(SMALL, small_disk)
    filling = FillAt(folder, 95 if leave else 50, leave)
    with pytest.raises(LmcoreError) as failure:
        run(folder, show_progress=False, observers=(filling,))
    message = disk_full_message(folder)
    assert str(failure.value) == message
    status = read_status(folder)
    assert (status["state"], status["error"]) == ("failed", message)
    assert read_metrics(folder / "metrics.jsonl")
    assert not list(folder.glob(".*")) and not list((folder / "checkpoints").glob(".*"))

    filling.filler.unlink()
    assert run(folder, show_progress=False)["state"] == "finished"
