"""Which process owns what: exclusive file locks (flock) that the operating system releases when
their process ends, however it ends (kill -9 included), so a dead owner never blocks the next one.

- The queue worker holds runs/.queue.pid (lmcore.queue).
- A trainer holds its run folder's trainer.lock for as long as it trains: a second process on
  the same folder (two people pressing Resume, a CLI resume beside the app's) is refused before
  it writes anything, instead of writing every metric twice.
- A launcher holds the folder's launch.lock while it checks that nobody trains the run and starts
  a trainer, so two launches at once (two pages, or a page and the queue) start one trainer.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

from .errors import RunError

TRAINER_LOCK = "trainer.lock"
LAUNCH_LOCK = "launch.lock"


class AlreadyTraining(RunError):
    """The run has a live trainer, or one being started: nothing was written."""


def try_lock(path: Path, wait: float = 0.0, create: bool = True) -> int | None:
    """A file descriptor holding the lock on `path` (created if missing, unless `create` is False:
    then FileNotFoundError), or None if another process still holds it after `wait` seconds."""
    fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
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


def hold(path: Path, wait: float = 0.0) -> int | None:
    """try_lock, with this process's pid written into the file for holder() to report."""
    fd = try_lock(path, wait)
    if fd is not None:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
    return fd


def holder(path: Path) -> int | None:
    """The pid of the process holding the lock on `path` (0 if it has not written it yet), or None
    when nobody holds it. Probing takes the lock for microseconds."""
    try:  # a probe never creates the file: the folder may be going away (two deletes at once)
        fd = try_lock(Path(path), create=False)
    except FileNotFoundError:
        return None
    if fd is not None:  # free
        os.close(fd)
        return None
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return 0


def claim_training(folder: Path) -> int:
    """The trainer's lock on `folder`, held until the process ends; AlreadyTraining if another
    process holds it. A probe (holder()) holds it for microseconds: a short wait rides those out,
    where a trainer holds it for its lifetime."""
    fd = hold(Path(folder) / TRAINER_LOCK, wait=2.0)
    if fd is None:
        raise AlreadyTraining(f"{Path(folder).name} is already being trained by process "
                              f"{holder(Path(folder) / TRAINER_LOCK) or '(starting)'}; nothing was changed")
    return fd


@contextlib.contextmanager
def launching(folder: Path):
    """Held while one launcher checks and starts a trainer for `folder`; a second one waits for it.
    A launch takes milliseconds, so a lock still held after 10 s is a stuck process: say so."""
    fd = try_lock(Path(folder) / LAUNCH_LOCK, wait=10.0)
    if fd is None:
        raise RunError(f"{Path(folder).name}: another process has been starting it for 10 s; try again")
    try:
        yield
    finally:
        os.close(fd)
