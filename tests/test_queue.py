"""lmcore.queue: order, the concurrency limit, one worker at a time, and surviving restarts.

Runs are started by a fake launcher: a small process (its command line names lmcore, as a
real training process's does) that marks its run running, sleeps, and marks it finished.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lmcore import locks, queue
from lmcore.runs import PROJECT_ROOT, RunWriter, create_run, read_status, record_launch

FAKE_RUN = """
import os, sys, time
from pathlib import Path
from lmcore.runs import RunWriter
time.sleep(float(sys.argv[3]))  # loading data: launched, but status.json not yet taken over
writer = RunWriter(Path(sys.argv[1]))
writer.status(state="running", pid=os.getpid(), started_at=time.time())
time.sleep(float(sys.argv[2]))
writer.status(state="finished", finished_at=time.time())
"""
ENV = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}


class FakeLauncher:
    def __init__(self, seconds=0.4, die_after=None, startup=0.0):
        self.seconds, self.die_after, self.startup, self.started = seconds, die_after, startup, []

    def __call__(self, folder: Path) -> int:
        if self.die_after is not None and len(self.started) >= self.die_after:
            raise KeyboardInterrupt("the worker is killed")
        process = subprocess.Popen([sys.executable, "-c", FAKE_RUN, str(folder), str(self.seconds),
                                    str(self.startup)], env=ENV)
        record_launch(folder, process.pid)  # as launch.launch does: the launcher's own file
        threading.Thread(target=process.wait, daemon=True).start()
        self.started.append(folder.name)
        return process.pid


def queue_runs(root, labels):
    return [create_run({"name": label, "preset": "tiny"}, root, label) for label in labels]


def wait_finished(folders, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(read_status(f).get("state") == "finished" for f in folders):
            return [read_status(f) for f in folders]
        time.sleep(0.05)
    raise AssertionError([read_status(f) for f in folders])


def most_at_once(statuses):
    edges = sorted([(s["started_at"], 1) for s in statuses] + [(s["finished_at"], -1) for s in statuses])
    running = peak = 0
    for _, change in edges:
        running += change
        peak = max(peak, running)
    return peak


def test_pending_is_queue_order_not_name_order(tmp_path):
    folders = queue_runs(tmp_path, ["charlie", "alpha", "bravo"])   # same second: ids sort by name
    assert queue.pending(tmp_path) == folders
    record_launch(folders[0], 12345)                                 # claimed by a launcher
    RunWriter(folders[1]).status(state="finished")
    assert queue.pending(tmp_path) == [folders[2]]


def test_runs_in_progress_read_in_the_order_the_queue_takes_them(tmp_path):
    """QA round 17: Start listed queued runs newest first, so the run at the top started last."""
    from lmcore.summaries import list_runs

    folders = queue_runs(tmp_path, ["first", "second", "third", "fourth"])
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)  # lmcore"])
    try:
        RunWriter(folders[3]).status(state="running", pid=sleeper.pid)   # the newest, already training
        record_launch(folders[2], sleeper.pid)                             # being started
        listed = [r for r in list_runs(tmp_path) if r.is_active]
        ordered = [r.path for r in queue.in_queue_order(listed)]
    finally:
        sleeper.kill()
        sleeper.wait()
    assert ordered[2:] == [folders[0], folders[1]] == queue.pending(tmp_path)   # waiting: as they will start
    assert set(ordered[:2]) == {folders[2], folders[3]}


def test_concurrency_setting(tmp_path):
    assert queue.concurrency(tmp_path) == 1
    queue.set_concurrency(tmp_path, 3)
    assert queue.concurrency(tmp_path) == 3
    queue.set_concurrency(tmp_path, 0)
    assert queue.concurrency(tmp_path) == 1


def test_one_at_a_time_in_queue_order(tmp_path):
    folders = queue_runs(tmp_path, ["c", "a", "b"])
    launcher = FakeLauncher()
    assert queue.work(tmp_path, poll=0.05, launcher=launcher)
    statuses = wait_finished(folders)
    assert launcher.started == [f.name for f in folders]
    assert most_at_once(statuses) == 1
    for earlier, later in zip(statuses, statuses[1:]):
        assert earlier["finished_at"] <= later["started_at"]


def test_concurrency_limit_is_respected(tmp_path):
    folders = queue_runs(tmp_path, ["a", "b", "c", "d", "e"])
    assert queue.work(tmp_path, limit=2, poll=0.05, launcher=FakeLauncher(seconds=0.8))
    statuses = wait_finished(folders)
    assert most_at_once(statuses) == 2          # the limit is used, never exceeded
    assert queue.concurrency(tmp_path) == 2


def test_a_second_worker_exits_and_ensure_worker_starts_none(tmp_path):
    folders = queue_runs(tmp_path, ["a"])
    held = locks.try_lock(tmp_path / queue.LOCK)                  # a worker is running
    os.write(held, str(os.getpid()).encode())
    try:
        launcher = FakeLauncher()
        started = time.monotonic()
        assert queue.work(tmp_path, poll=0.05, launcher=launcher) is False
        assert time.monotonic() - started < 5 and launcher.started == []
        assert queue.worker_pid(tmp_path) == os.getpid()
        assert queue.ensure_worker(tmp_path) == os.getpid()   # no second worker
        assert queue.enqueue([{"name": "b"}], tmp_path) and len(queue.pending(tmp_path)) == 2
    finally:
        os.close(held)
    assert queue.worker_pid(tmp_path) is None
    assert read_status(folders[0])["state"] == "queued"


def test_a_killed_workers_lock_is_free(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from lmcore import locks, queue; "
                               "from pathlib import Path; fd = locks.try_lock(Path(sys.argv[1]) / queue.LOCK); "
                               "print('locked', flush=True); time.sleep(60)", str(tmp_path)],
                              env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert queue.worker_pid(tmp_path) is not None
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert queue.worker_pid(tmp_path) is None


def test_a_new_worker_picks_up_what_a_dead_one_left(tmp_path):
    folders = queue_runs(tmp_path, ["a", "b", "c"])
    dying = FakeLauncher(die_after=1)
    with pytest.raises(KeyboardInterrupt):
        queue.work(tmp_path, poll=0.05, launcher=dying)
    assert dying.started == [folders[0].name]
    assert queue.pending(tmp_path) == folders[1:]            # still on disk, still queued
    fresh = FakeLauncher()
    assert queue.work(tmp_path, poll=0.05, launcher=fresh)   # "after the restart"
    wait_finished(folders)
    assert fresh.started == [f.name for f in folders[1:]]    # the started one is not started twice


def test_a_launched_run_counts_before_its_trainer_writes_the_status(tmp_path):
    """Between the launch and the trainer's first status (loading data takes seconds) the run
    is busy through launcher.json alone: the worker must neither start it twice nor start the
    next run beside it."""
    folders = queue_runs(tmp_path, ["a", "b"])
    launcher = FakeLauncher(seconds=0.3, startup=0.6)
    assert queue.work(tmp_path, poll=0.05, launcher=launcher)
    statuses = wait_finished(folders)
    assert launcher.started == [f.name for f in folders]
    assert most_at_once(statuses) == 1
    second_launch = json.loads((folders[1] / "launcher.json").read_text())["started_at"]
    assert second_launch >= statuses[0]["finished_at"]


def test_a_run_that_cannot_start_is_marked_failed_and_the_queue_goes_on(tmp_path):
    folders = queue_runs(tmp_path, ["a", "b"])
    good = FakeLauncher()

    def launcher(folder):
        if folder == folders[0]:
            raise OSError("no such file")
        return good(folder)

    assert queue.work(tmp_path, poll=0.05, launcher=launcher)
    wait_finished(folders[1:])
    status = read_status(folders[0])
    assert status["state"] == "failed" and "could not start" in status["error"]
    assert json.loads((folders[0] / "status.json").read_text())["state"] == "queued"   # the queue never wrote it


def test_ensure_worker_with_nothing_queued_starts_nothing(tmp_path):
    assert queue.ensure_worker(tmp_path) is None
    assert not (tmp_path / ".queue.log").exists()


RAY_MISSING = ("cannot connect to the Ray cluster at auto: Could not find any running Ray instance. Please specify "
               "the one to connect to by setting `--address` flag or `RAY_ADDRESS` environment variable.")


def record_problem(root, message=RAY_MISSING):
    from lmcore.runs import write_json_atomic

    write_json_atomic(root / queue.PROBLEM, {"error": message, "at": time.time()})


def test_a_run_waiting_on_a_backend_that_failed_says_why(tmp_path):
    from lmcore.summaries import summary_of

    waiting, claimed = queue_runs(tmp_path, ["waiting", "claimed"])
    record_launch(claimed, os.getpid())                       # a Ray driver holds it: it is not stuck
    assert queue.waiting_reason(summary_of(waiting)) is None    # no problem: it starts when its turn comes
    queue.set_backend(tmp_path, "ray")
    record_problem(tmp_path)
    reason = queue.waiting_reason(summary_of(waiting))
    assert reason.startswith("The queue cannot start it on the Ray cluster: cannot connect to the Ray cluster at "
                             "auto: Could not find any running Ray instance.")
    assert "`RAY_ADDRESS` environment variable; it stays queued until the cluster answers" in reason
    assert ".;" not in reason and reason.endswith("`lmcore queue --backend local`).")
    assert queue.waiting_reason(summary_of(claimed)) is None
    RunWriter(waiting).status(state="finished")
    assert queue.waiting_reason(summary_of(waiting)) is None


def test_a_problem_speaks_of_the_backend_it_was_about(tmp_path):
    folders = queue_runs(tmp_path, ["a"])
    queue.set_backend(tmp_path, "ray", "10.0.0.1:6379")
    record_problem(tmp_path)
    queue.set_backend(tmp_path, "ray", " 10.0.0.1:6379 ")       # the same setting: still true
    assert queue.backend_problem(tmp_path) == RAY_MISSING
    queue.set_backend(tmp_path, "local")                          # another backend: no longer about it
    assert queue.backend_problem(tmp_path) is None
    queue.set_backend(tmp_path, "ray", "10.0.0.1:6379")
    record_problem(tmp_path)
    with open(tmp_path / queue.SETTINGS, "w") as handle:           # switched behind its back (an older app)
        json.dump({"backend": "local"}, handle)
    assert queue.work(tmp_path, poll=0.05, launcher=FakeLauncher())
    wait_finished(folders)
    assert queue.backend_problem(tmp_path) is None                 # a worker that reached its backend


def test_stuck_drops_the_problems_own_full_stop():
    assert queue.stuck("no instance. Set RAY_ADDRESS.", "its runs stay queued.") == (
        "no instance. Set RAY_ADDRESS; its runs stay queued.")
    assert queue.stuck("Connection refused", "they wait") == "Connection refused; they wait"


def test_counts_split_the_queued_runs_as_the_sidebar_counts_them(tmp_path):
    """QA: while a grid filled in, a run being launched was `queued` to the sidebar and neither
    waiting nor running to the grid's queue line. One listing, one set of counts: a launched run
    whose trainer has not written its status yet is `starting`, and queued = waiting + starting."""
    from lmcore.runs import RunWriter
    from lmcore.summaries import list_runs

    waiting, starting, running, done = queue_runs(tmp_path, ["waiting", "starting", "running", "done"])
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "lmcore-stand-in"])
    try:
        record_launch(starting, sleeper.pid)                       # launched, trainer still importing
        RunWriter(running).status(state="running", pid=sleeper.pid)
        RunWriter(done).status(state="finished")
        listed = list_runs(tmp_path)
        counts = queue.counts(listed)
        assert counts == queue.Counts(waiting=1, starting=1, running=1) and counts.queued == 2
        assert counts.queued == sum(run.state == "queued" for run in listed)    # the sidebar's "queued"
        assert queue.waiting_in(listed) == [waiting]
        assert [queue.stage(run) for run in sorted(listed, key=lambda r: r.name)] == [
            None, "running", "starting", "waiting"]
    finally:
        sleeper.kill()
        sleeper.wait()
