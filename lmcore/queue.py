"""A queue of runs on disk: queued run folders, started a few at a time by a worker process.

The queue is nothing but run folders in state `queued` that no process has claimed yet
(no pid), so it survives app restarts by construction. `python -m lmcore queue` starts them
oldest first, keeping at most `concurrency` (runs/.queue.json, default 1) running, and exits
when none is left. The app calls ensure_worker() after queueing and when it starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from .runs import PROJECT_ROOT, create_run, list_runs, pid_alive, read_json, runs_dir, write_json_atomic

SETTINGS = ".queue.json"
LOCK = ".queue.pid"


def concurrency(root: Path) -> int:
    value = (read_json(root / SETTINGS) or {}).get("concurrency", 1)
    return value if isinstance(value, int) and value >= 1 else 1


def set_concurrency(root: Path, value: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(root / SETTINGS, {"concurrency": max(1, int(value))})


def pending(root: Path) -> list[Path]:
    """Queued runs nobody has started, oldest first."""
    runs = [r for r in list_runs(root) if r["status"].get("state") == "queued" and not r["status"].get("pid")]
    return [Path(r["path"]) for r in sorted(runs, key=lambda r: r["id"])]


def active(root: Path) -> int:
    return sum(1 for r in list_runs(root)
               if r["status"].get("state") in ("queued", "running") and pid_alive(r["status"].get("pid")))


def worker_pid(root: Path) -> int | None:
    try:
        pid = int((root / LOCK).read_text())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def work(root=None, limit: int | None = None, poll: float = 1.0) -> None:
    """Start queued runs until none is left; a second worker exits at once."""
    from .launch import launch

    root = runs_dir(root)
    root.mkdir(parents=True, exist_ok=True)
    if worker_pid(root) not in (None, os.getpid()):
        return
    (root / LOCK).write_text(str(os.getpid()))
    if limit:
        set_concurrency(root, limit)
    try:
        while True:
            waiting = pending(root)
            if not waiting:
                return
            if active(root) < concurrency(root):
                launch(waiting[0])
                continue
            time.sleep(poll)
    finally:
        if worker_pid(root) in (None, os.getpid()):
            (root / LOCK).unlink(missing_ok=True)


def ensure_worker(root=None) -> int | None:
    """Start a detached worker if runs are waiting and none is running; its pid, or None."""
    root = runs_dir(root)
    current = worker_pid(root)
    if current or not pending(root):
        return current
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    log = open(root / ".queue.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "lmcore", "queue", "--runs-dir", str(root)],
                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               cwd=PROJECT_ROOT, env=env, start_new_session=True)
    log.close()
    import threading

    threading.Thread(target=process.wait, daemon=True).start()
    return process.pid


def enqueue(configs: list[dict], root=None, labels: list[str] | None = None) -> list[Path]:
    root = runs_dir(root)
    labels = labels or [c.get("name", "") for c in configs]
    folders = [create_run(config, root, label) for config, label in zip(configs, labels)]
    ensure_worker(root)
    return folders
