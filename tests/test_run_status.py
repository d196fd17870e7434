"""Who writes status.json (only the trainer, after create_run), what readers derive from the
launcher's and the queue's own files without writing, the run summary built from a folder,
and a log tail that shows the current attempt only."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SMALL, wait_until
from lmcore import jsonl, launch, runs
from lmcore.data import load_corpus
from lmcore.errors import FolderGone
from lmcore.summaries import list_runs, summarize
from lmcore.train import Callbacks
from runlogs import StopAt

# A process whose command line names lmcore, as a real training process's does.
SLEEPER = "import time; time.sleep(30)  # lmcore"


@pytest.fixture
def folder(tmp_path):
    return runs.create_run({"preset": "tiny", "name": "probe"}, tmp_path)


@pytest.fixture
def sleeper():
    process = subprocess.Popen([sys.executable, "-c", SLEEPER])
    yield process
    process.kill()
    process.wait()


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass  # lmcore"])
    process.wait()
    return process.pid


def test_a_reader_derives_failed_for_a_dead_process_without_writing(folder):
    runs.RunWriter(folder).status(state="running", pid=dead_pid())
    before = (folder / "status.json").read_bytes()
    status = runs.read_status(folder)
    assert status["state"] == "failed" and "killed or crashed" in status["error"]
    assert (folder / "status.json").read_bytes() == before


def test_a_launch_reads_queued_until_the_trainer_takes_over_and_failed_if_it_dies_first(folder, sleeper):
    before = (folder / "status.json").read_bytes()
    runs.record_launch(folder, sleeper.pid)
    status = runs.read_status(folder)
    assert (status["state"], status["pid"]) == ("queued", sleeper.pid)
    sleeper.kill()
    sleeper.wait()
    status = runs.read_status(folder)
    assert status["state"] == "failed" and "before it started training" in status["error"]
    assert (folder / "status.json").read_bytes() == before            # the launcher never wrote it
    runs.RunWriter(folder).status(state="stopped", pid=sleeper.pid)      # the trainer took over, then stopped
    assert runs.read_status(folder)["state"] == "stopped"


def test_launch_writes_its_own_file_and_a_log_marker_not_the_status(folder, monkeypatch):
    class Started:
        pid = 4242

    monkeypatch.setattr(launch, "spawn", lambda args, log: Started())
    before = (folder / "status.json").read_bytes()
    assert launch.launch(folder) == 4242
    assert (folder / "status.json").read_bytes() == before
    assert json.loads((folder / "launcher.json").read_text())["pid"] == 4242
    assert launch.ATTEMPT_MARKER in (folder / "log.txt").read_text()


def test_the_log_tail_is_the_current_attempts(folder):
    earlier = '{"state": "stopped", "steps": 822}\n'
    (folder / "log.txt").write_text(f"{launch.ATTEMPT_MARKER}2026-01-01 10:00:00 ---\nloading\n{earlier}"
                                    f"{launch.ATTEMPT_MARKER}2026-01-01 11:00:00 ---\nstep 1988\rstep 1990\n")
    assert launch.log_tail(folder) == "step 1988\nstep 1990"
    (folder / "log.txt").write_text(f"before any marker\n{launch.ATTEMPT_MARKER}2026-01-01 ---\n")
    assert launch.log_tail(folder) == ""


def test_the_writer_records_final_validation_and_the_best_epoch(folder):
    writer = runs.RunWriter(folder)
    for epoch, ppl in ((1, 120.0), (2, 95.0), (3, 99.5)):
        writer.metric({"kind": "val", "epoch": epoch, "step": epoch * 10, "ppl": ppl})
        writer.status(best_val_ppl=min(ppl, writer.current.get("best_val_ppl") or ppl))
    summary = summarize(folder)
    assert (summary.best_val, summary.final_val, summary.best_epoch) == (95.0, 99.5, 2)
    assert summary.status["best_step"] == 20                           # where in its epoch the best came


def test_runs_written_before_those_keys_read_them_from_the_log_tail(folder):
    runs.RunWriter(folder).status(state="finished", best_val_ppl=95.0, elapsed=12.5)
    with open(folder / "metrics.jsonl", "w") as handle:
        for epoch, ppl in ((1, 120.0), (2, 95.0), (3, 99.5)):
            handle.write(json.dumps({"kind": "train", "epoch": epoch, "ppl": ppl * 2}) + "\n")
            handle.write(json.dumps({"kind": "val", "epoch": epoch, "ppl": ppl}) + "\n")
        handle.write('{"kind": "val", "ppl": 1')                         # torn last line
    summary = summarize(folder)
    assert (summary.final_val, summary.best_epoch, summary.training_seconds) == (99.5, 2, 12.5)


def test_list_runs_gives_typed_summaries_and_marks_damage(tmp_path, folder):
    damaged = tmp_path / "20990101-000000-damaged"
    damaged.mkdir()
    (damaged / "status.json").write_text('{"state": "runn')
    listed = {s.id: s for s in list_runs(tmp_path)}
    assert listed[damaged.name].state == "broken" and listed[damaged.name].is_broken
    assert "config.json" in listed[damaged.name].problem
    probe = listed[folder.name]
    assert (probe.name, probe.state, probe.is_active, probe.label) == ("probe", "queued", True,
                                                                       f"probe · {folder.name[-4:]}")
    # One way to read a summary: its fields; the dict it once was is gone, so no page can index it.
    assert probe.path == folder and not probe.is_broken
    with pytest.raises(TypeError):
        probe["path"]
    assert not hasattr(probe, "get")


def test_pid_alive_refuses_dead_reused_and_bogus_pids(sleeper):
    assert runs.pid_alive(sleeper.pid)
    assert not runs.pid_alive(dead_pid())
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])  # not lmcore: a reused pid
    try:
        time.sleep(0.2)
        assert not runs.pid_alive(other.pid)
    finally:
        other.kill()
        other.wait()
    assert not runs.pid_alive(None) and not runs.pid_alive(True) and not runs.pid_alive(-1)


def test_a_stale_queue_failure_does_not_fail_a_newer_queued_status(folder):
    runs.record_queue_failure(folder, "the queue could not start it: no such file")
    assert runs.read_status(folder)["state"] == "failed"
    time.sleep(0.01)
    runs.RunWriter(Path(folder)).status(state="queued", pid=None)   # e.g. re-queued afterwards
    assert runs.read_status(folder)["state"] == "queued"


def test_a_run_capped_on_an_epoch_boundary_reads_its_last_epoch(small_config, tmp_path):
    """SMALL has 99 steps an epoch; max_steps=99 ends the run exactly there, with epochs=3 left
    uncapped. The trainer's counter has moved on to epoch 2, which never trains."""
    import ui
    from lmcore.session import run

    folder = runs.create_run(small_config.replace(max_steps=99, epochs=3, eval_every=0).to_dict(), tmp_path)
    run(folder, show_progress=False)
    summary = summarize(folder)
    assert (summary.state, summary.step, summary.total_steps) == ("finished", 99, 99)
    assert summary.status["epoch"] == 1
    assert ui.progress_text(summary.status)[1] == "step 99 / 99 · epoch 1"


def test_stop_on_a_run_waiting_in_the_queue_takes_it_off_the_queue(tmp_path):
    """QA round 28: Stop on a run still waiting for the queue said "No training process is running" and
    the queue trained it to its end; Compare will not delete a queued run, so nothing could keep it from
    training. It is now stopped where it stands, the queue leaves it, and Resume trains it."""
    from lmcore import queue

    folder = runs.create_run({**SMALL, "max_steps": 3}, tmp_path)
    assert queue.pending(tmp_path) == [folder]
    assert runs.stop_run(folder)
    status = runs.read_status(folder)
    assert (status["state"], status.get("pid")) == ("stopped", None)
    assert queue.pending(tmp_path) == [] and not (folder / runs.STOP_REQUEST).exists()
    assert not runs.unqueue(folder) and not runs.stop_run(folder)          # nothing left to stop
    launch.launch(folder)                                                 # Resume
    wait_until(lambda: runs.read_status(folder)["state"] == "finished", 120, lambda: runs.read_status(folder))


def test_stop_pressed_while_a_run_starts_stops_it_instead_of_failing_it(tmp_path):
    """Stop right after Start: the process is still importing torch, where a SIGTERM would kill it
    and the run would read as failed. It gets the stop file, and stops before its first step."""
    folder = runs.create_run({**SMALL, "max_steps": 400}, tmp_path)
    launch.launch(folder)
    assert runs.read_status(folder)["state"] == "queued" and runs.stop_run(folder)
    wait_until(lambda: runs.read_status(folder)["state"] not in runs.ACTIVE, 120, lambda: runs.read_status(folder))
    status = runs.read_status(folder)
    assert (status["state"], status["step"], status["error"]) == ("stopped", 0, None)
    assert not (folder / runs.STOP_REQUEST).exists()   # served: Start over trains


def test_a_stale_stop_file_does_not_stop_the_next_launch(tmp_path):
    folder = runs.create_run({**SMALL, "max_steps": 30}, tmp_path)
    (folder / runs.STOP_REQUEST).write_text("{}")      # asked of a trainer that died before it looked
    launch.launch(folder)
    wait_until(lambda: runs.read_status(folder)["state"] not in runs.ACTIVE, 120, lambda: runs.read_status(folder))
    assert runs.read_status(folder)["state"] == "finished"


class DeleteAt(Callbacks):
    """Deletes the run folder (or, with `only_config`, its config.json: what a half-finished
    deletion leaves) once the trainer reaches `step`."""

    def __init__(self, folder: Path, step: int, only_config: bool = False):
        self.folder, self.step, self.only_config, self.stopped_at = folder, step, only_config, None

    def on_progress(self, trainer):
        self.stopped_at = trainer.step
        if trainer.step == self.step:
            (self.folder / "config.json").unlink() if self.only_config else shutil.rmtree(self.folder)


@pytest.mark.parametrize("only_config", [False, True], ids=["folder deleted", "config deleted"])
def test_a_trainer_whose_folder_is_deleted_stops_with_a_clear_error_and_recreates_nothing(tmp_path, only_config):
    from lmcore.session import run

    folder = runs.create_run({**SMALL, "epochs": 30, "eval_every": 0}, tmp_path)
    deleter = DeleteAt(folder, 20, only_config)
    with pytest.raises(FolderGone, match="deleted or moved while it trained"):
        run(folder, show_progress=False, observers=(deleter,))
    assert deleter.stopped_at < 20 * 99   # 30 epochs of 99 steps: it stopped within a second, not at the end
    if only_config:
        assert runs.read_json(folder / "status.json")["state"] == "running"  # not rewritten as failed
    else:
        assert not folder.exists()


# ---------------------------------------------------------------- the one tokens/s


def train_line(step, speed):
    return {"kind": "train", "step": step, "epoch": 1, "ppl": 100.0, "lr": 1.0, "tokens_per_s": speed, "time": step}


def test_the_status_carries_the_median_speed_and_a_summary_shows_it_once_the_run_ended(folder, sleeper):
    """QA: Compare showed the last logged interval's speed (a killed run: 1,500 tokens/s) while Train
    showed the median of its train lines (83,718). One figure now: the latest while it trains, the
    median of the train lines once it has ended."""
    writer = runs.RunWriter(folder)
    for step, speed in enumerate((80_000.0, 90_000.0, 84_000.0, 1_500.0), start=1):
        writer.metric(train_line(step, speed))
        writer.status(state="running", pid=sleeper.pid, tokens_per_s=speed)
    assert writer.current["median_tokens_per_s"] == 82_000.0              # (80,000 + 84,000) / 2
    assert summarize(folder).tokens_per_s == 1_500.0                      # live while it trains
    sleeper.kill()
    sleeper.wait()
    assert summarize(folder).state == "failed"                            # killed: read as failed
    assert summarize(folder).tokens_per_s == 82_000.0


def test_runs_written_before_the_median_key_read_it_from_their_log(folder):
    runs.RunWriter(folder).status(state="finished", tokens_per_s=1_500.0)  # the last interval only
    with open(folder / "metrics.jsonl", "w") as handle:
        for step, speed in enumerate((80_000.0, 84_000.0, 90_000.0, 1_500.0, 85_000.0), start=1):
            handle.write(json.dumps(train_line(step, speed)) + "\n")
        handle.write(json.dumps({"kind": "val", "step": 5, "ppl": 90.0}) + "\n")
    assert summarize(folder).tokens_per_s == 84_000.0


def test_a_resume_keeps_the_median_of_the_lines_it_goes_on_from(folder):
    writer = runs.RunWriter(folder)
    for step, speed in enumerate((10.0, 20.0, 30.0, 40.0), start=1):
        writer.metric(train_line(step, speed))
    resumed = runs.RunWriter(folder)
    resumed.rewind_logs(3)                                                 # the checkpoint came at step 3
    assert resumed.current["median_tokens_per_s"] == 20.0
    resumed.metric(train_line(4, 50.0))
    assert resumed.current["median_tokens_per_s"] == 25.0


def test_the_status_records_the_average_speed_pages_show_once_the_run_ended(folder, sleeper):
    """QA round 10: a run stopped and resumed alone read 12,141 tokens/s, the median of its logged
    intervals (half beside another run at ~5.6k, half alone at ~14.4k), for 477k tokens in 66 s of
    steps: 7.2k. Speed x time in steps is now what it trained; the median stays for older readers."""
    writer = runs.RunWriter(folder)
    config = runs.read_config(folder)
    tokens = 1_192 * config["batch_size"] * config["bptt"]
    for step, speed in enumerate((5_600.0, 5_600.0, 14_400.0, 14_400.0, 14_400.0), start=1):
        writer.metric(train_line(step, speed))
    writer.status(state="running", pid=sleeper.pid, step=1_192, elapsed=67.0, tokens_per_s=14_400.0,
                  time_spent={"evaluation": 0.6, "sampling": 0.2, "saving": 0.2})
    assert writer.current["average_tokens_per_s"] == pytest.approx(tokens / 66.0)          # not 67: 1 s in phases
    assert writer.current["median_tokens_per_s"] == 14_400.0
    assert summarize(folder).tokens_per_s == 14_400.0                    # live while it trains
    writer.status(state="finished", pid=None)
    assert json.loads((folder / "status.json").read_text())["average_tokens_per_s"] == pytest.approx(tokens / 66.0)
    assert summarize(folder).tokens_per_s == pytest.approx(tokens / 66.0)


def test_a_trainer_counts_the_seconds_it_trained_beside_another_trainer(tmp_path, monkeypatch):
    """Two runs at once train at about half the pace each: the set-up estimate must know which runs did."""
    monkeypatch.setattr(runs, "SHARING_CHECK_SECONDS", 0.0)               # look at every write
    processes = {"n": 0}                                                  # training processes of other folders
    monkeypatch.setattr(runs.threads, "other_training_processes", lambda: processes["n"])
    root = tmp_path / "runs"
    mine, other, idle = (runs.create_run({"preset": "tiny"}, root, label=name) for name in ("mine", "other", "idle"))
    writer = runs.RunWriter(mine)
    writer.status(state="running", elapsed=1.0)                           # the other two only queued
    writer.status(elapsed=3.0)
    assert writer.current["shared_seconds"] == 0.0
    runs.RunWriter(other).status(state="running", host=socket.gethostname())
    writer.status(elapsed=4.5)
    writer.status(elapsed=6.0)
    assert writer.current["shared_seconds"] == 3.0
    runs.RunWriter(other).status(state="stopped")
    runs.RunWriter(idle).status(state="running", host=socket.gethostname())
    os.utime(idle / "status.json", (time.time() - 60, time.time() - 60))  # killed a minute ago: trains no more
    writer.status(elapsed=8.0)
    assert writer.current["shared_seconds"] == 3.0
    processes["n"] = 1                                                    # a run of another runs folder
    writer.status(elapsed=9.0)
    writer.status(elapsed=10.0)
    assert writer.current["shared_seconds"] == 5.0                       # 8 to 10 s beside it
    resumed = runs.RunWriter(mine)                                        # a start over turns the clock back
    resumed.status(state="running", elapsed=2.0)
    assert resumed.current["shared_seconds"] == 2.0


def test_the_command_lines_summary_gives_the_speed_pages_show(small_config, tmp_path):
    from lmcore.session import run

    folder = runs.create_run(small_config.to_dict(), tmp_path / "runs")
    result = run(folder, show_progress=False)
    status, config = runs.read_status(folder), small_config
    stepping = status["elapsed"] - sum(status["time_spent"].values())   # its time in training steps
    average = status["step"] * config.batch_size * config.bptt / stepping
    assert result["tokens_per_s"] == summarize(folder).tokens_per_s == pytest.approx(average)


def test_a_run_whose_status_json_is_torn_resumes_from_its_checkpoint_and_writes_a_new_one(small_config, tmp_path):
    """A damaged status.json loses nothing the checkpoint holds: the trainer continues from last.pt
    (the Train page offers Resume for it), keeping the best validation and the training time."""
    from lmcore.session import run

    folder = runs.create_run(small_config.replace(max_steps=150, epochs=2, eval_every=0).to_dict(), tmp_path)
    run(folder, show_progress=False, observers=(StopAt(60),))
    before = runs.read_status(folder)
    assert before["state"] == "stopped" and before["step"] == 60
    (folder / "status.json").write_text('{"state": "stop')
    damaged = summarize(folder)
    assert damaged.state == "broken" and damaged.config and damaged.step == 60   # its step, read from its log
    run(folder, show_progress=False)
    after = runs.read_status(folder)
    assert (after["state"], after["step"], after["total_steps"]) == ("finished", 150, 150)
    assert after["elapsed"] > before["elapsed"]                               # the first spell is kept
    steps = [r["step"] for r in jsonl.read_jsonl(folder / "metrics.jsonl") if r["kind"] == "train"]
    assert steps == sorted(set(steps)) and steps[-1] == 150                    # continued, not retrained


def test_a_killed_runs_summary_steps_to_its_last_logged_step_where_its_status_lags(folder):
    """QA round 8: status.json at 755, metrics at 782. Every page and `lmcore runs` read the run's
    summary, so they agree with the Train page's 'steps ... are trained again'."""
    for step, epoch in ((10, 1), (20, 1), (27, 2)):
        jsonl.append_jsonl(folder / "metrics.jsonl", {"kind": "train", "step": step, "epoch": epoch, "ppl": 50.0,
                                                      "time": step / 10})
    runs.RunWriter(folder).status(state="failed", step=20, epoch=1, elapsed=2.0, total_steps=100, error="killed")
    killed = summarize(folder)
    # QA round 11: its epoch and time stayed at the status's, so 'step 27 · epoch 1', and speed x time
    # was not what it trained
    assert (killed.step, killed.status["epoch"], killed.training_seconds) == (27, 2, 2.7)
    runs.RunWriter(folder).status(state="stopped", step=20)                    # a clean stop: its status is right
    assert summarize(folder).step == 20 and summarize(folder).training_seconds == 2.0


def test_a_run_stopped_in_an_epoch_says_that_epoch(small_config, tmp_path):
    """QA round 11: stopped at step 325 in epoch 3, status.json kept epoch 2 from an earlier write."""
    from lmcore.session import run

    folder = runs.create_run(small_config.replace(max_steps=150, epochs=3, eval_every=0).to_dict(), tmp_path)
    run(folder, show_progress=False, observers=(StopAt(120),))                 # 99 steps an epoch: in epoch 2
    status = runs.read_status(folder)
    assert (status["state"], status["step"], status["epoch"]) == ("stopped", 120, 2)


def test_the_progress_line_counts_the_epochs_a_cap_reaches(small_config, tmp_path):
    """SMALL has 99 steps an epoch: capped at 150 of 3 epochs, the run ends in epoch 2, not 'epoch 2/3'."""
    import io

    from lmcore.progress import ProgressBar
    from lmcore.session import run

    folder = runs.create_run(small_config.replace(max_steps=150, epochs=3, eval_every=0).to_dict(), tmp_path)
    stream = io.StringIO()
    run(folder, show_progress=False, observers=(ProgressBar(stream),))
    assert stream.getvalue().splitlines()[-1].startswith("epoch 2/2 [")


def test_a_trainer_removes_the_temp_files_a_killed_one_left(trained_runs, tmp_path):
    """QA round 13: kill -9 during a checkpoint save left checkpoints/.last.*.tmp (143 MB) for good.
    Names other processes write (the launcher's) are left alone."""
    from conftest import copy_run
    from lmcore.runs import RunWriter

    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    stale = [folder / "checkpoints" / ".last.x1y2.tmp", folder / "checkpoints" / ".best.ab12cd34.tmp",
             folder / ".status.json.q9.tmp", folder / ".masks.k3.npz", folder / ".metrics.jsonl.z.tmp"]
    others = [folder / ".launcher.json.w8.tmp", folder / "checkpoints" / "last.pt"]
    for path in stale + others[:1]:
        path.write_bytes(b"half")
    assert sorted(RunWriter(folder).remove_stale_temps()) == sorted(stale)
    assert not any(p.exists() for p in stale) and all(p.exists() for p in others)


def test_a_full_disk_fails_the_run_in_one_line_and_leaves_no_half_checkpoint(runs_root, monkeypatch, capsys):
    """QA round 13 (an 8 MB tmpfs): a traceback from the status write, the run read 'killed or crashed', and
    the partial checkpoint kept the disk full. Then `lmcore train` on the full disk: a 20-line traceback."""
    import errno

    import torch

    from conftest import SMALL
    from lmcore import cli
    from lmcore.errors import LmcoreError
    from lmcore.runs import create_run, read_status
    from lmcore.session import run

    def full(payload, handle):
        handle.write(b"part of a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device", handle.name)

    monkeypatch.setattr(torch, "save", full)
    folder = create_run(SMALL, runs_root)
    with pytest.raises(LmcoreError, match=r"^no space left on the device of .*: free some space, then Resume"):
        run(folder, show_progress=False)
    status = read_status(folder)
    assert status["state"] == "failed" and status["error"].startswith("no space left on the device")
    assert not list((folder / "checkpoints").glob(".*.tmp"))

    def no_room(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(runs_root / ".new-x" / "config.json"))

    monkeypatch.setattr("lmcore.runs.create_run", no_room)
    assert cli.main(["train", "--preset", "tiny", "--runs-dir", str(runs_root), "--no-progress-bar"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: no space left on the device of {runs_root / '.new-x' / 'config.json'}: free some space"]


def test_a_status_rebuilt_on_resume_keeps_the_best_and_final_validation(trained_runs, tmp_path):
    """QA round 13: after a torn status.json, Resume wrote a status without best_val_ppl, final_val_ppl and
    best_epoch, and Train read 'best validation perplexity —, final —'."""
    from conftest import copy_run
    from lmcore.session import run
    from lmcore.summaries import summarize

    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    before = json.loads((folder / "status.json").read_text())
    (folder / "status.json").write_text("{garbage")
    run(folder, show_progress=False)
    after = summarize(folder)
    assert after.state == "finished"
    assert after.best_val == pytest.approx(before["best_val_ppl"]) and after.final_val == before["final_val_ppl"]
    assert (after.best_epoch, after.status["best_step"]) == (before["best_epoch"], before["best_step"])


def test_resuming_a_finished_run_trains_and_writes_nothing_even_with_a_torn_last_checkpoint(trained_runs, tmp_path):
    """QA round 13: resume of a finished run evaluated the test set again (its time grew), and with a torn
    last.pt it turned the finished run into a failed one that offered only Start over."""
    from conftest import copy_run
    from lmcore.session import run

    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    last = folder / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 3])
    files = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    result = run(folder, show_progress=False)
    assert result["state"] == "finished" and result["note"].startswith("already finished")
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.name != "trainer.lock"} == \
        {p: data for p, data in files.items() if p.name != "trainer.lock"}


def test_a_run_on_a_text_file_resumes_only_on_that_text(runs_root, tmp_path):
    """QA round 13: a text changed between a kill and a resume was used silently, and the run's best and
    test came from the new text. The text's SHA-256 is kept at the first start; a fork carries it."""
    import hashlib

    from lmcore.errors import DataError
    from lmcore.fork import fork_run
    from lmcore.runs import create_run, read_status
    from lmcore.session import run

    text = tmp_path / "story.txt"
    text.write_text("".join(f"the cat sat on mat number {i % 7} today\n" for i in range(400)))
    config = dict(dataset=str(text), vocab_size=50, layers=1, embed_size=16, hidden_size=16, batch_size=4,
                  bptt=5, eval_batch_size=4, epochs=2, max_steps=6, threads=1, optimizer="sgd", lr=1.0)
    folder = create_run(config, runs_root)
    run(folder, show_progress=False)
    assert read_status(folder)["text_sha256"] == hashlib.sha256(text.read_bytes()).hexdigest()
    fork = fork_run(folder, "last", {"max_steps": 12}, runs_root)
    assert read_status(fork)["text_sha256"] == read_status(folder)["text_sha256"]

    text.write_text(text.read_text().replace("cat", "dog"))
    with pytest.raises(DataError, match=r"story.txt changed since this run started training on it"):
        run(fork, show_progress=False)
    assert read_status(fork)["state"] == "failed"


def test_a_resume_refuses_a_config_json_edited_since_its_checkpoint(small_config, tmp_path):
    """QA round 17 (S6d): dropout edited in config.json of a stopped run, then Resume: it trained the rest
    with the new dropout, and the run claimed it for all its steps. Refused now in one line naming the keys
    and both values, before the log is cut; keys that change no training (the name, a cap) may differ."""
    from lmcore.errors import RunError
    from lmcore.session import run

    folder = runs.create_run(small_config.replace(dropout=0.0, dropout_placement="none", epochs=1).to_dict(),
                             tmp_path)
    run(folder, show_progress=False, observers=(StopAt(30),))
    config = runs.read_config(folder)
    log = (folder / "metrics.jsonl").read_bytes() + b'{"kind": "train", "step": 31, "epoch": 1, "ppl": 9.0}\n'
    (folder / "metrics.jsonl").write_bytes(log)   # a killed attempt's line past the checkpoint: not cut yet
    (folder / "config.json").write_text(json.dumps({**config, "dropout": 0.5, "dropout_placement": "vertical"}))
    with pytest.raises(RunError) as refused:
        run(folder, show_progress=False)
    assert str(refused.value) == (
        f"{folder.name}: config.json differs from the config its checkpoint trained with: dropout 0.5 (its "
        "checkpoint: 0.0), dropout_placement vertical (its checkpoint: none); put those values back to resume it, "
        f"or train with the change in a fork: lmcore fork {folder.name} --from last --set dropout=0.5 "
        "--set dropout_placement=vertical (or Fork on the Train page)")
    assert runs.read_status(folder)["error"] == str(refused.value)
    assert (folder / "metrics.jsonl").read_bytes() == log
    (folder / "config.json").write_text(json.dumps({**config, "layers": 3}))
    with pytest.raises(RunError, match=r"layers 3 \(its checkpoint: 2\); put those values back to resume it, "
                                       r"or train a new run with the change \(a fork cannot change layers\)$"):
        run(folder, show_progress=False)
    (folder / "config.json").write_text(json.dumps({**config, "name": "renamed", "max_steps": 60, "threads": 2}))
    assert run(folder, show_progress=False)["state"] == "finished"
    assert runs.read_status(folder)["step"] == 60


class StatusDuringEvaluation(Callbacks):
    """Reads status.json as each evaluation starts and, after a slow window (over the recorder's
    once-a-second bound), as it goes on: what the Train page reads meanwhile."""

    def __init__(self, folder):
        self.folder, self.seen, self.slowed = folder, [], False

    def on_evaluation(self, progress):
        if progress["done"] == 0 or (0 < progress["done"] < 1 and self.slowed):
            self.seen.append((progress, runs.read_status(self.folder)))
            self.slowed = False
        elif 0 < progress["done"] < 1 and not self.seen[-1][1].get("phase_done"):
            time.sleep(1.1)   # a slow window: the next one's share is written
            self.slowed = True


def test_the_status_says_which_split_is_evaluated_and_how_far_and_training_after_it(small_config, tmp_path):
    """QA round 14: while the trainer read the validation set (tens of seconds on PTB on a CPU), the Train
    page showed the last training step and its ETA. The status now names the phase, the step and epoch
    it belongs to, the split's size and the share read; then training again, with no leftovers."""
    from lmcore.session import run

    folder = runs.create_run(small_config.replace(max_steps=60, epochs=1, eval_every=40).to_dict(), tmp_path)
    watch = StatusDuringEvaluation(folder)
    before = time.time()
    run(folder, show_progress=False, observers=(watch,))
    starts = [(p, s) for p, s in watch.seen if p["done"] == 0]
    assert [(p["split"], s["phase"], s["step"], s["epoch"], s["phase_words"]) for p, s in starts] == [
        ("valid", "validating", 40, 1, 1000), ("valid", "validating", 60, 1, 1000), ("test", "testing", 60, 1, 1000)]
    assert all(before <= s["phase_started_at"] <= time.time() and s["phase_done"] == 0 for _, s in starts)
    going = [(p, s) for p, s in watch.seen if p["done"] > 0]
    assert going and all(s["phase_done"] == p["done"] and 0 < p["done"] < 1 for p, s in going)
    final = runs.read_status(folder)
    assert final["state"] == "finished" and final["phase"] == "training"
    assert final["phase_started_at"] is final["phase_words"] is final["phase_done"] is None


def test_a_resumed_run_does_not_keep_the_phase_its_killed_trainer_was_in(small_config, tmp_path):
    from lmcore.session import run

    folder = runs.create_run(small_config.replace(max_steps=20, epochs=1).to_dict(), tmp_path)
    runs.RunWriter(folder).status(phase="validating", phase_started_at=1.0, phase_words=1000, phase_done=0.5)
    statuses = []

    class Look(Callbacks):
        def on_progress(self, trainer):
            if not statuses:
                statuses.append(runs.read_status(folder))

    run(folder, show_progress=False, observers=(Look(),))
    assert statuses[0]["phase"] == "training" and statuses[0]["phase_done"] is None


def test_a_stop_asked_for_during_a_pass_is_in_the_status_until_the_run_stops(small_config, tmp_path):
    """QA round 14: a Stop pressed while the trainer validated changed nothing in status.json for the 27 s
    the pass still took, so the page kept saying 'Validating…'. The pass ends (its measurement is kept),
    then the run stops; meanwhile the status says `stopping`."""
    from lmcore.session import run

    folder = runs.create_run(small_config.replace(max_steps=60, epochs=1, eval_every=40).to_dict(), tmp_path)
    seen = []

    class StopInThePass(Callbacks):
        def on_evaluation(self, progress):
            if 0 < progress["done"] < 1 and not seen:
                (folder / runs.STOP_REQUEST).write_text("{}")   # as stop_run asks a run it cannot signal
                time.sleep(1.1)                                 # the next window's write is due
                seen.append(None)
            elif seen and seen[-1] is None and 0 < progress["done"] < 1:
                seen[-1] = runs.read_status(folder)

    result = run(folder, show_progress=False, observers=(StopInThePass(),))
    assert seen[0]["phase"] == "validating" and seen[0]["stopping"] is True
    assert result["state"] == "stopped" and runs.read_status(folder)["step"] == 40
    vals = [r for r in map(json.loads, (folder / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "val"]
    assert [r["step"] for r in vals] == [40]                    # the pass it was in was measured whole
    final = runs.read_status(folder)
    assert final["stopping"] is None and final["phase"] == "training"


def test_a_resumed_trainer_says_the_checkpoints_step_not_the_killed_attempts(small_config, tmp_path, monkeypatch):
    """QA round 14: a resume's first 'running' status kept the killed attempt's step 120 for ~2 s, so the page
    read 'step 120 / 120' before going back to 61. Until the checkpoint is restored the phase is 'starting'
    (the page reads the checkpoint's step then), and the first status after it holds the checkpoint's step."""
    from lmcore.session import run

    folder = runs.create_run(small_config.replace(max_steps=20, epochs=1, checkpoint_every=10).to_dict(), tmp_path)
    run(folder, show_progress=False, observers=(StopAt(10),))
    runs.RunWriter(folder).status(state="running", step=17)       # a killed attempt's last progress, past it
    statuses = []

    class Look(Callbacks):
        def on_progress(self, trainer):
            if len(statuses) == 1:
                statuses.append(runs.read_status(folder))

    real_load = load_corpus

    def load_and_look(*args, **kwargs):
        statuses.append(runs.read_status(folder))                # while it loads the data
        return real_load(*args, **kwargs)

    monkeypatch.setattr("lmcore.session.load_corpus", load_and_look)
    run(folder, show_progress=False, observers=(Look(),))
    assert statuses[0]["phase"] == "starting" and statuses[1]["phase"] == "training"
    assert statuses[1]["step"] == 11                              # the first step after the checkpoint's 10


def test_the_command_lines_bar_says_when_it_validates(small_config, tmp_path):
    import io

    from lmcore.progress import ProgressBar
    from lmcore.session import run

    folder = runs.create_run(small_config.replace(max_steps=30, epochs=1, eval_every=0).to_dict(), tmp_path)
    stream = io.StringIO()
    run(folder, show_progress=False, observers=(ProgressBar(stream, every=0.0),))
    lines = stream.getvalue().splitlines()
    assert "validating epoch 1 on 1,000 words: 4%" in lines and "testing on 1,000 words: 96%" in lines
    assert any(line.startswith("epoch 1/1 [") for line in lines)


# ---------------------------------------------------------------- where a start trains from


def test_resume_says_in_one_line_where_it_starts(small_config, tmp_path, capsys):
    """`lmcore resume` said nothing of where it started, so a resume that started over from step 0
    read as one that went on; now one line on stderr, in the Train page's words for a checkpoint."""
    from lmcore import cli
    from lmcore.session import run

    fresh = runs.create_run(small_config.replace(max_steps=20, eval_every=0).to_dict(), tmp_path)
    assert cli.main(["resume", str(fresh), "--no-progress-bar"]) == 0
    assert f"starting {fresh.name} from step 0 of 20: no checkpoint yet\n" in capsys.readouterr().err

    folder = runs.create_run(small_config.replace(max_steps=250, epochs=3, eval_every=0).to_dict(), tmp_path)
    run(folder, show_progress=False, observers=(StopAt(150),))               # 99 steps an epoch: in epoch 2
    assert cli.main(["resume", str(folder), "--no-progress-bar"]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if folder.name in line]
    assert said == [f"resuming {folder.name} from its checkpoint at step 150 of 250 (epoch 2 of 3)"]


def test_a_checkpoint_saved_as_an_epoch_ended_is_said_to_be_its_end():
    from lmcore.epochs import checkpoint_place

    assert checkpoint_place(2, 0, 40) == "the end of epoch 1 of 40"  # the trainer counts the next epoch already
    assert checkpoint_place(2, 51, 40) == "epoch 2 of 40"
    assert checkpoint_place(1, 0, None) == "epoch 1"


def test_the_apps_resume_writes_where_it_starts_into_the_runs_log(small_config, tmp_path):
    """The app resumes with `python -m lmcore resume` in the background: the line goes to log.txt,
    after the attempt's marker, and the run trains on."""
    from lmcore.session import run

    folder = runs.create_run(small_config.replace(max_steps=120, eval_every=0).to_dict(), tmp_path)
    run(folder, show_progress=False, observers=(StopAt(60),))
    launch.launch(folder)
    wait_until(lambda: runs.read_status(folder)["state"] not in runs.ACTIVE, 120, lambda: runs.read_status(folder))
    assert runs.read_status(folder)["state"] == "finished"
    assert f"resuming {folder.name} from its checkpoint at step 60 of 120 (epoch 1 of 2)" in launch.log_tail(folder)


def age(folder: Path, seconds: float = 10) -> None:
    """Date every file of the run `seconds` back, as a run that ended a while ago."""
    then = time.time() - seconds
    for path in folder.iterdir():
        os.utime(path, (then, then))


def test_a_settled_run_is_summarized_once_until_one_of_its_files_changes(folder, sleeper, monkeypatch):
    """Pages list every run every few seconds: with 300 on disk that read 900 files each time, and an
    idle Start page took a quarter of a core (QA round 16). A settled run is stat-ed, not read."""
    from lmcore import summaries

    reads = []
    monkeypatch.setattr(summaries, "summarize", lambda f: reads.append(f) or summarize(f))
    runs.RunWriter(folder).status(state="finished", best_val_ppl=80.0)
    age(folder)
    assert [s.best_val for s in list_runs(folder.parent)] == [80.0]
    assert list_runs(folder.parent)[0].best_val == 80.0 and len(reads) == 1          # the second listing: no read
    runs.RunWriter(folder).status(best_val_ppl=79.0)                                 # a new status.json
    assert list_runs(folder.parent)[0].best_val == 79.0 and len(reads) == 2
    list_runs(folder.parent)                     # written just now: not trusted to stamp it, so read again
    assert len(reads) == 3
    (folder / "config.json").write_text(json.dumps({"preset": "tiny", "name": "renamed"}))
    age(folder)
    assert list_runs(folder.parent)[0].name == "renamed"                             # any of its files
    # A running run's state follows its process, which no file records: it is read at every listing.
    runs.RunWriter(folder).status(state="running", pid=sleeper.pid)
    age(folder)
    list_runs(folder.parent), list_runs(folder.parent)
    assert list_runs(folder.parent)[0].state == "running" and len(reads) == 7
    sleeper.kill()
    sleeper.wait()
    assert list_runs(folder.parent)[0].state == "failed"                             # its process is gone
