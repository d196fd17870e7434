"""One trainer per run folder: two launches at once (two pages pressing Resume, a page and the
queue), a CLI resume beside a running trainer, and the queue meeting a fork that is still being
written all end with the run trained once, every metric line written once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import SMALL, wait_until
from lmcore import launch, locks, queue
from lmcore.errors import RunError
from lmcore.jsonl import read_jsonl
from lmcore.runs import PROJECT_ROOT, create_run, delete_run, read_status
from lmcore.session import run
from lmcore.summaries import list_runs

ENV = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
HOLD = ("import sys, time; from pathlib import Path; from lmcore import locks; "
        "locks.claim_training(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)  # lmcore")


@pytest.fixture
def holder(tmp_path):
    """A process holding a run folder's trainer lock, as a training process does; killed with -9."""
    folder = create_run({**SMALL, "name": "held", "max_steps": 20}, tmp_path)
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], env=ENV, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    yield folder, process
    process.kill()
    process.wait()


def test_a_second_trainer_on_a_folder_is_refused_before_it_writes(holder):
    folder, process = holder
    before = {name: (folder / name).read_bytes() for name in ("status.json", "config.json")}
    with pytest.raises(locks.AlreadyTraining, match=f"already being trained by process {process.pid}"):
        run(folder, show_progress=False)
    with pytest.raises(locks.AlreadyTraining, match=f"already training \\(process {process.pid}\\)"):
        launch.launch(folder)
    with pytest.raises(RunError, match=f"is training \\(process {process.pid}\\); stop it before deleting it"):
        delete_run(folder)  # its status still reads queued: the lock is what says a trainer has it
    assert {name: (folder / name).read_bytes() for name in before} == before
    written = {p.name for p in folder.iterdir()} - {"checkpoints", "launch.lock", "trainer.lock"}
    assert written == {"config.json", "status.json"}  # no log.txt, launcher.json or metrics


def test_a_killed_trainers_lock_is_free(holder):
    folder, process = holder
    assert locks.holder(folder / locks.TRAINER_LOCK) == process.pid
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert locks.holder(folder / locks.TRAINER_LOCK) is None
    launch.refuse_if_training(folder)  # nothing to refuse: a resume may start


def test_two_launches_at_once_start_one_trainer(tmp_path):
    folder = create_run({**SMALL, "name": "twice", "max_steps": 120, "eval_every": 40}, tmp_path)
    ready, outcomes = threading.Barrier(2), []

    def press_resume():
        ready.wait()
        try:
            outcomes.append(launch.launch(folder))
        except locks.AlreadyTraining as error:
            outcomes.append(str(error))

    threads = [threading.Thread(target=press_resume) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pids = [o for o in outcomes if isinstance(o, int)]
    assert len(pids) == 1 and any("is already starting" in str(o) for o in outcomes), outcomes
    wait_until(lambda: read_status(folder)["state"] == "finished", 120, lambda: read_status(folder))
    steps = [(r["kind"], r["step"]) for r in read_jsonl(folder / "metrics.jsonl")]
    assert len(steps) == len(set(steps)) and ("test", 120) in steps, steps
    assert read_status(folder)["pid"] == pids[0]


def test_the_queue_skips_a_run_a_page_started_first(tmp_path):
    folder = create_run({"preset": "tiny", "name": "raced"}, tmp_path)

    def page_was_first(_folder):
        raise locks.AlreadyTraining(f"{folder.name} is already starting (process 1)")

    assert queue._start(folder, page_was_first) is None
    assert not (folder / "queue_error.json").exists()
    assert read_status(folder)["state"] == "queued"


def test_a_folder_appears_whole_and_a_failed_fill_leaves_nothing(tmp_path):
    seen = []

    def fill(staging):
        seen.append((list_runs(tmp_path), queue.pending(tmp_path)))
        (staging / "checkpoints").mkdir(exist_ok=True)
        (staging / "checkpoints" / "last.pt").write_bytes(b"state")

    folder = create_run({"preset": "tiny", "name": "fork"}, tmp_path, fill=fill)
    assert seen == [([], [])]  # the queue could not have started it half-made
    assert (folder / "checkpoints" / "last.pt").read_bytes() == b"state"
    assert json.loads((folder / "status.json").read_text())["state"] == "queued"

    def broken(staging):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        create_run({"preset": "tiny", "name": "lost"}, tmp_path, fill=broken)
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]


def test_a_pending_launch_is_refused_until_its_process_is_gone(tmp_path):
    folder = create_run({"preset": "tiny", "name": "pending"}, tmp_path)
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)  # lmcore"])
    try:
        (folder / "launcher.json").write_text(json.dumps({"pid": process.pid, "started_at": time.time()}))
        with pytest.raises(locks.AlreadyTraining, match=f"already starting \\(process {process.pid}\\)"):
            launch.refuse_if_training(folder)
    finally:
        process.kill()
        process.wait()
    launch.refuse_if_training(folder)  # the launch died: read as failed, and a resume may start


def test_two_deletes_of_one_run_at_once_both_succeed_and_probes_create_nothing(tmp_path):
    folder = create_run({"preset": "tiny", "name": "doomed"}, tmp_path)
    assert locks.holder(folder / locks.TRAINER_LOCK) is None
    assert not (folder / locks.TRAINER_LOCK).exists()   # a probe must not recreate files in a folder going away
    delete_run(folder)
    delete_run(folder)                                 # the second user's Delete: the run is gone, as asked
    assert not folder.exists()
