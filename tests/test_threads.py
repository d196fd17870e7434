"""CPU threads: a lone run takes every core with OpenMP's default waiting; runs that share the
cores split them and wait passively. Timings live in docs/performance.md, not here."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from lmcore import threads


@pytest.mark.parametrize("others, cores, expected", [
    (0, 2, 2), (1, 2, 1), (3, 2, 1),      # this machine: alone all, else one each
    (0, 16, 16), (1, 16, 8), (3, 16, 4),  # a bigger one: equal shares
])
def test_threads_are_a_share_of_the_cores(others, cores, expected):
    assert threads.thread_count(0, others, cores) == expected


def test_an_explicit_thread_count_wins():
    assert threads.thread_count(3, others=5, cores=2) == 3


def test_wait_policy_is_passive_only_when_sharing():
    assert threads.wait_policy(0, busy=0.0) is None and threads.wait_policy(0, busy=0.5) is None
    assert threads.wait_policy(1, busy=0.0) == threads.wait_policy(3, busy=0.0) == "PASSIVE"
    assert threads.wait_policy(0, busy=1.0) == "PASSIVE"  # other work on the cores


def test_choose_wait_policy_sets_the_variable_only_when_sharing():
    alone, shared, busy = {}, {}, {}
    assert threads.choose_wait_policy("train", alone, others=0, busy=0.0) is None and "OMP_WAIT_POLICY" not in alone
    assert threads.choose_wait_policy("resume", shared, others=1) == "PASSIVE"
    assert shared["OMP_WAIT_POLICY"] == "PASSIVE"
    assert threads.choose_wait_policy("bench", busy, others=0, busy=2.0) == "PASSIVE" == busy["OMP_WAIT_POLICY"]


def test_busy_cores_are_the_runnable_tasks_other_than_this_one(tmp_path):
    (tmp_path / "loadavg").write_text("4.64 5.37 4.03 3/98 26773\n")
    assert threads.busy_cores(tmp_path, samples=3, interval=0) == 2.0
    (tmp_path / "loadavg").write_text("0.10 0.20 0.30 1/98 26773\n")  # only this process runs
    assert threads.busy_cores(tmp_path, samples=1) == 0.0
    assert threads.busy_cores(tmp_path / "no-proc") == 0.0


def test_a_burst_is_not_busy_but_steady_load_is(monkeypatch):
    looks = iter([1, 3, 1, 1, 1, 2, 2, 1, 3, 2])  # runnable tasks, this process included
    monkeypatch.setattr(threads, "runnable_tasks", lambda proc: next(looks))
    assert threads.busy_cores(samples=5, interval=0) == 0.0   # others 0, 2, 0, 0, 0: a burst
    assert threads.busy_cores(samples=5, interval=0) == 1.0   # others 1, 1, 0, 2, 1: steady


def test_the_users_policy_stays_and_commands_that_do_not_train_choose_none():
    users = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert threads.choose_wait_policy("train", users, others=3) == "ACTIVE" and users["OMP_WAIT_POLICY"] == "ACTIVE"
    for command in ("queue", "eval", "params", ""):  # the queue worker's runs inherit its environment
        environ = {}
        assert threads.choose_wait_policy(command, environ, others=3, busy=2.0) is None and environ == {}


@pytest.mark.parametrize("argv, training", [
    (["/venv/bin/python", "-m", "lmcore", "train", "--preset", "tiny"], True),
    (["python3.11", "-u", "-m", "lmcore", "resume", "runs/x"], True),
    (["python", "-m", "lmcore", "bench"], True),
    (["python", "-m", "lmcore", "fork", "runs/x", "--set", "lr=5"], True),   # trains the fork in the foreground
    (["python", "-m", "lmcore", "queue"], False),
    (["python", "-m", "lmcore", "eval", "runs/x"], False),
    (["timeout", "60", "python", "-m", "lmcore", "train"], False),  # the wrapper trains nothing
    (["python", "-m", "streamlit", "run", "app.py"], False),
    ([""], False),
    ([], False),
])
def test_training_command_lines(argv, training):
    assert threads.is_training_command(argv) is training


def _fake_proc(root, processes):
    for pid, argv in processes.items():
        (root / str(pid)).mkdir(parents=True)
        (root / str(pid) / "cmdline").write_bytes("\0".join(argv).encode() + b"\0")
    (root / "999").mkdir()  # a process that ended while we looked: no cmdline
    (root / "self").mkdir()
    return root


def test_other_training_processes_counts_others_not_itself(tmp_path):
    proc = _fake_proc(tmp_path / "proc", {
        10: ["python", "-m", "lmcore", "train"], 11: ["python", "-m", "lmcore", "resume", "runs/a"],
        12: ["python", "-m", "lmcore", "queue"], 13: ["bash"], 14: [""],  # 14: a zombie
        20: ["python", "-m", "lmcore", "resume", "runs/me"]})
    assert threads.other_training_processes(proc, own_pid=20) == 2
    assert threads.other_training_processes(tmp_path / "no-proc", own_pid=20) == 0


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_a_run_started_beside_another_takes_a_share_and_waits_passively():
    # A stand-in training process: its command line is what a run's is; it only sleeps.
    other = subprocess.Popen([sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)",
                              "-m", "lmcore", "train"], stdout=subprocess.PIPE, text=True)
    try:
        # Until the child has exec'd, its command line is pytest's: under load the bench once looked then.
        assert other.stdout.readline().strip() == "up"
        env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
        out = subprocess.run([sys.executable, "-m", "lmcore", "bench", "--sizes", "8", "--steps", "1", "--vocab",
                              "20", "--bptt", "3", "--batch", "2", "--placements", "none", "--json"],
                             capture_output=True, text=True, cwd=ROOT, env=env, check=True, timeout=120)
    finally:
        other.kill()
        other.wait()
    report = json.loads(out.stdout)
    assert report["omp_wait_policy"] == "PASSIVE"
    assert report["threads"] <= max(1, threads.available_cores() // 2)  # at least one other run: half or less


def test_a_training_run_takes_its_share_again_when_another_starts_and_all_cores_when_alone(monkeypatch):
    """A run that started alone kept both cores, its idle threads spinning, when a fork started beside
    it: it fell from 29,458 to 1,714 tokens/s while the fork made 16,407 (docs/performance.md). Each count
    it trains with joins its status's `threads_used`: another count rounds differently (QA round 26)."""
    import torch

    from lmcore import session

    class Run:
        class cfg:
            threads = 0

    others = {"n": 0}
    monkeypatch.setattr(session, "other_training_processes", lambda: others["n"])
    monkeypatch.setattr(session, "available_cores", lambda: 4)
    monkeypatch.setattr(session, "SHARE_CHECK_SECONDS", 0.0)
    before = torch.get_num_threads()
    try:
        class Writer:   # status.json as the trainer's RunWriter keeps it: the attempt's start recorded 4
            current = {"threads_used": [4]}

            def status(self, **fields):
                self.current.update(fields)

        recorder = session.Recorder(writer=Writer())
        torch.set_num_threads(4)
        others["n"] = 1                      # a fork starts
        recorder.share_cores(Run)
        assert torch.get_num_threads() == 2
        others["n"] = 3
        recorder.share_cores(Run)
        assert torch.get_num_threads() == 1 and recorder.writer.current["threads_used"] == [1, 2, 4]
        others["n"] = 0                      # alone again: every core
        recorder.share_cores(Run)
        assert torch.get_num_threads() == 4
        Run.cfg.threads = 3                  # an explicit choice is kept
        others["n"] = 3
        recorder.share_cores(Run)
        assert torch.get_num_threads() == 4
    finally:
        torch.set_num_threads(before)
