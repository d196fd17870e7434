"""A queue of runs on disk: queued run folders, started a few at a time by a worker process.

The queue is nothing but run folders in state `queued` that no process has claimed yet
(no pid, no launch under way), so it survives app restarts by construction. The queue never
writes status.json: a run it cannot start gets a note in its own file (runs.QUEUE_FAILURE).
`python -m lmcore queue` starts them oldest first, keeping at most `concurrency`
(runs/.queue.json, default 1) running, and exits when none is left. The app calls
ensure_worker() after queueing and when it starts.

One worker at a time: it holds an exclusive lock (flock) on runs/.queue.pid, which the
operating system releases when the worker exits or dies, so a crashed worker never blocks
the next one and two workers started at once cannot both run.

The backend (runs/.queue.json too) says where runs train: `local` (detached processes on this
machine) or `ray` at an address (lmcore.ray_backend, docs/ray.md). A worker the cluster cannot
serve leaves the runs queued and writes why in runs/.queue_error.json (backend_problem()); the
pages watching such a run say so (waiting_reason()). The file speaks of the backend in use: a
worker that reaches its backend, or a change of backend, removes it.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Callable, NamedTuple

from . import locks
from .errors import LmcoreError
from .runs import create_run, pid_alive, read_json, record_queue_failure, runs_dir, write_json_atomic
from .summaries import RunSummary, list_runs

SETTINGS = ".queue.json"
LOCK = ".queue.pid"
PROBLEM = ".queue_error.json"   # the worker's own file: why the backend could not take the runs
BACKENDS = ("local", "ray")
DEFAULT_ADDRESS = "auto"         # Ray's: $RAY_ADDRESS, else the cluster started on this machine


def _settings(root: Path) -> dict:
    found = read_json(Path(root) / SETTINGS)
    return found if isinstance(found, dict) else {}


def _save(root: Path, **changes) -> None:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(root / SETTINGS, {**_settings(root), **changes})


def concurrency(root: Path) -> int:
    value = _settings(root).get("concurrency", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 1


def set_concurrency(root: Path, value: int) -> None:
    _save(root, concurrency=max(1, int(value)))


def backend(root: Path) -> tuple[str, str]:
    """(backend, address): where the queue's runs train."""
    settings = _settings(root)
    name, address = settings.get("backend"), settings.get("address")
    return (name if name in BACKENDS else "local",
            address if isinstance(address, str) and address.strip() else DEFAULT_ADDRESS)


def set_backend(root: Path, name: str, address: str | None = None) -> None:
    if name not in BACKENDS:
        raise LmcoreError(f"backend {name!r}: choose one of {', '.join(BACKENDS)}")
    chosen = (name, (address or "").strip() or DEFAULT_ADDRESS)
    if chosen != backend(root):  # what the last worker said was about the backend it had
        (Path(root) / PROBLEM).unlink(missing_ok=True)
    _save(root, backend=chosen[0], address=chosen[1])


def backend_problem(root: Path, since: float = 0.0) -> str | None:
    """Why the last worker could not hand the runs to its backend (recorded at or after `since`);
    None once a worker reached it again."""
    found = read_json(Path(root) / PROBLEM)
    if not isinstance(found, dict) or not isinstance(found.get("at"), (int, float)) or found["at"] < since:
        return None
    return found.get("error")


def stuck(problem: str, outcome: str) -> str:
    """'PROBLEM; OUTCOME': the problem's own closing full stop dropped (Ray's messages end in one)."""
    return f"{problem.rstrip(' .')}; {outcome}"


def waiting_reason(run: RunSummary, active: list[RunSummary] | None = None) -> str | None:
    """Why a queued run that no process has claimed yet is still waiting, for the pages that watch
    it: the queue's backend could not take it (the last worker's words), or a run of its folder
    whose trainer has gone silent holds a place in the queue (`active`: the folder's queued and
    running runs, listed when not given); else None (it starts when the worker gets to it)."""
    if run.state != "queued" or run.status.get("pid"):
        return None
    problem = backend_problem(run.path.parent)
    if problem:
        return "The queue cannot start it on the Ray cluster: " + stuck(
            problem, "it stays queued until the cluster answers, or until the queue trains on this machine "
                     "(Compare → Ablation grids, or `lmcore queue --backend local`).")
    return held_by_silent(active if active is not None else list_runs(run.path.parent))


def held_by_silent(active: list[RunSummary]) -> str | None:
    """'It waits for a place in the queue: tiny · 3fa2 holds one and has written nothing for 2:05 (paused
    or stuck?)...' when a running run has gone silent (RunSummary.silence_note); None otherwise. A stopped
    process still lives, so it keeps its place (QA round 17)."""
    silent = [summary for summary in active if summary.silence_note]
    if not silent:
        return None
    held = "; ".join(f"{summary.label}: {summary.silence_note}" for summary in silent)
    return (f"It waits for a place in the queue, held by a run whose trainer is silent ({held}). A paused "
            "or stuck process keeps its place until it goes on and ends, or is stopped.")


def pending(root: Path) -> list[Path]:
    """Queued runs nobody has started, in the order they were queued."""
    return waiting_in(list_runs(root))


class Counts(NamedTuple):
    """Runs by where they stand in the queue, from one listing, so every count a page shows
    agrees: the sidebar's "queued" is waiting + starting, as its state reads `queued` until the
    trainer takes over (a few seconds of imports on a CPU)."""
    waiting: int    # queued, claimed by no process yet
    starting: int   # queued with a launcher's pid: its trainer has not written its status yet
    running: int

    @property
    def queued(self) -> int:
        return self.waiting + self.starting


def stage(run: RunSummary) -> str | None:
    """'waiting', 'starting' or 'running' (Counts), or None for a run that is not in the queue."""
    if run.state == "running":
        return "running"
    if run.state == "queued":
        return "starting" if run.status.get("pid") else "waiting"
    return None


def counts(listed: list[RunSummary]) -> Counts:
    """The runs listed by stage(): pass the one listing a page read, never a fresh one per count."""
    stages = Counter(stage(run) for run in listed)
    return Counts(stages["waiting"], stages["starting"], stages["running"])


def _queued_at(run: RunSummary):
    created = run.status.get("created_at")
    return (created if isinstance(created, (int, float)) else float("inf"), run.id)


def waiting_in(listed: list[RunSummary]) -> list[Path]:
    """pending() of summaries already listed: a page that has them reads no folder again."""
    return [r.path for r in sorted((r for r in listed if stage(r) == "waiting"), key=_queued_at)]


def in_queue_order(active: list[RunSummary]) -> list[RunSummary]:
    """Runs in progress as the queue takes them: those training or starting as listed (newest first),
    then the waiting ones in the order they will start (QA round 17: Start listed them newest first,
    so the run at the top of the line started last)."""
    waiting = sorted((r for r in active if stage(r) == "waiting"), key=_queued_at)
    return [r for r in active if stage(r) != "waiting"] + waiting


def _busy(listed: list[RunSummary]) -> set[int]:
    # A launch the trainer has not taken over yet reads as active with the launcher's pid
    # (runs.read_status), so a run that is just starting counts from the moment it is launched.
    return {r.status["pid"] for r in listed if r.is_active and pid_alive(r.status.get("pid"))}


# ---------------------------------------------------------------- the worker lock


def worker_pid(root: Path) -> int | None:
    """The pid of the worker holding the lock (0 if it has not written it yet), or None."""
    return locks.holder(Path(root) / LOCK)


# ---------------------------------------------------------------- working through the queue


def _start(folder: Path, launcher: Callable[[Path], int]) -> int | None:
    try:
        return launcher(folder)
    except locks.AlreadyTraining:  # a page started it between the queue's look and its launch
        return None
    except (OSError, LmcoreError) as error:  # e.g. the folder was deleted after it was listed
        if folder.is_dir():
            record_queue_failure(folder, f"the queue could not start it: {error}")
        return None


def _drain(root: Path, poll: float, launcher: Callable[[Path], int]) -> None:
    while True:
        listed = list_runs(root)  # one listing per pass: it reads every run folder
        waiting = waiting_in(listed)
        if not waiting:
            return
        if len(_busy(listed)) < concurrency(root):
            _start(waiting[0], launcher)
            continue
        time.sleep(poll)


def work(root=None, limit: int | None = None, poll: float = 1.0,
         launcher: Callable[[Path], int] | None = None) -> bool:
    """Start queued runs, oldest first, until none is left; False when another worker runs.

    `launcher(folder)` starts one run in the background and records its pid in the run's
    launcher.json (runs.record_launch; default: launch.launch); tests pass a fake one.
    """
    root = runs_dir(root)
    root.mkdir(parents=True, exist_ok=True)
    if limit:
        set_concurrency(root, limit)
    while True:
        # A short wait: a page probing the lock (worker_pid) holds it for microseconds.
        fd = locks.hold(root / LOCK, wait=0.5)
        if fd is None:
            return False
        try:
            _work_backend(root, poll, launcher)
        finally:
            os.close(fd)  # releases the lock
        # Runs queued between the last look and the release would wait for the next
        # ensure_worker(); look once more and carry on if there are any.
        if not pending(root):
            return True


def _work_backend(root: Path, poll: float, launcher: Callable[[Path], int] | None) -> None:
    name, address = backend(root)
    if name == "local" or launcher is not None:
        from .launch import launch

        (root / PROBLEM).unlink(missing_ok=True)  # this backend is always there
        _drain(root, poll, launcher or launch)
        return
    from . import ray_backend

    def report(message: str) -> None:  # the runs stay queued for a later worker
        write_json_atomic(root / PROBLEM, {"error": message.splitlines()[0], "at": time.time()})

    try:
        ray = ray_backend.connect(address)
    except ray_backend.BackendError as error:
        report(str(error))
        raise
    (root / PROBLEM).unlink(missing_ok=True)
    ray_backend.drain(ray, root, pending, concurrency, report, poll)


def ensure_worker(root=None) -> int | None:
    """Start a detached worker if runs are waiting and none is running; its pid, or None."""
    root = runs_dir(root)
    current = worker_pid(root)
    if current is not None or not pending(root):
        return current
    from .launch import spawn

    return spawn(["queue", "--runs-dir", str(root)], root / ".queue.log").pid


def enqueue(configs: list[dict], root=None, labels: list[str] | None = None) -> list[Path]:
    """A queued run folder per config, in order, and a worker to start them."""
    root = runs_dir(root)
    labels = labels or [c.get("name", "") for c in configs]
    folders = [create_run(config, root, label) for config, label in zip(configs, labels)]
    ensure_worker(root)
    return folders
