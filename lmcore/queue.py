"""A queue of runs on disk: queued run folders, started a few at a time by a worker process.

The queue is nothing but run folders in state `queued` that no process has claimed yet
(no pid), so it survives app restarts by construction. `python -m lmcore queue` starts them
oldest first, keeping at most `concurrency` (runs/.queue.json, default 1) running, and exits
when none is left. The app calls ensure_worker() after queueing and when it starts.

One worker at a time: it holds an exclusive lock (flock) on runs/.queue.pid, which the
operating system releases when the worker exits or dies, so a crashed worker never blocks
the next one and two workers started at once cannot both run.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Callable

from .errors import LmcoreError
from .runs import RunWriter, create_run, list_runs, pid_alive, read_json, runs_dir, write_json_atomic

SETTINGS = ".queue.json"
LOCK = ".queue.pid"


def concurrency(root: Path) -> int:
    value = (read_json(Path(root) / SETTINGS) or {}).get("concurrency", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 1


def set_concurrency(root: Path, value: int) -> None:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(root / SETTINGS, {"concurrency": max(1, int(value))})


def pending(root: Path) -> list[Path]:
    """Queued runs nobody has started, in the order they were queued."""
    runs = [r for r in list_runs(root) if r["status"].get("state") == "queued" and not r["status"].get("pid")
            and not r["broken"]]

    def queued_at(run):
        created = run["status"].get("created_at")
        return (created if isinstance(created, (int, float)) else float("inf"), run["id"])

    return [Path(r["path"]) for r in sorted(runs, key=queued_at)]


def active(root: Path) -> int:
    """Runs whose training process is alive (started by the queue or by hand)."""
    return len(_busy(root))


def _busy(root: Path) -> set[int]:
    return {r["status"]["pid"] for r in list_runs(root)
            if r["status"].get("state") in ("queued", "running") and pid_alive(r["status"].get("pid"))}


def _exists(pid: int) -> bool:
    """True while `pid` runs (a zombie does not); its command line is not looked at."""
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except (ProcessLookupError, PermissionError):
        return False
    except OSError:  # no /proc (macOS): the signal said it exists
        return True


# ---------------------------------------------------------------- the worker lock


def _lock(root: Path, wait: float = 0.0) -> int | None:
    """A file descriptor holding the worker lock, or None if another process holds it."""
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.05)


def worker_pid(root: Path) -> int | None:
    """The pid of the worker holding the lock (0 if it has not written it yet), or None."""
    root = Path(root)
    if not (root / LOCK).exists():
        return None
    fd = _lock(root)
    if fd is not None:  # free: no worker
        os.close(fd)
        return None
    try:
        return int((root / LOCK).read_text())
    except (OSError, ValueError):
        return 0


# ---------------------------------------------------------------- working through the queue


def _start(folder: Path, launcher: Callable[[Path], int]) -> int | None:
    try:
        return launcher(folder)
    except (OSError, LmcoreError) as error:  # e.g. the folder was deleted after it was listed
        if folder.is_dir():
            RunWriter(folder).status(state="failed", error=f"the queue could not start it: {error}",
                                     finished_at=time.time())
        return None


def _drain(root: Path, poll: float, launcher: Callable[[Path], int]) -> None:
    # The processes this worker started count while they exist, whatever their status says:
    # for a moment after exec a process's command line reads empty, so pid_alive() (and a
    # reader's read_status) can take a run that is just starting for a dead one.
    started: set[int] = set()
    while True:
        waiting = pending(root)
        if not waiting:
            return
        started = {pid for pid in started if _exists(pid)}
        if len(_busy(root) | started) < concurrency(root):
            pid = _start(waiting[0], launcher)
            if pid:
                started.add(pid)
            continue
        time.sleep(poll)


def work(root=None, limit: int | None = None, poll: float = 1.0,
         launcher: Callable[[Path], int] | None = None) -> bool:
    """Start queued runs, oldest first, until none is left; False when another worker runs.

    `launcher(folder)` starts one run in the background and records its pid in status.json
    (default: launch.launch); tests pass a fake one.
    """
    from .launch import launch

    root = runs_dir(root)
    root.mkdir(parents=True, exist_ok=True)
    if limit:
        set_concurrency(root, limit)
    while True:
        # A short wait: a page probing the lock (worker_pid) holds it for microseconds.
        fd = _lock(root, wait=0.5)
        if fd is None:
            return False
        try:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            _drain(root, poll, launcher or launch)
        finally:
            os.close(fd)  # releases the lock
        # Runs queued between the last look and the release would wait for the next
        # ensure_worker(); look once more and carry on if there are any.
        if not pending(root):
            return True


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
