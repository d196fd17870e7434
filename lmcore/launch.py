"""Starting training as separate background processes (the app never trains itself)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import locks
from .runs import PROJECT_ROOT, STOP_REQUEST, busy_with, record_launch, refuse_reference

# Written into log.txt before every start; the log's tail begins after the last one.
ATTEMPT_MARKER = "--- attempt started "


def attempt_line() -> str:
    """The line a local launch and a Ray worker write into log.txt before each start."""
    return f"\n{ATTEMPT_MARKER}{time.strftime('%Y-%m-%d %H:%M:%S')} ---\n"


def spawn(args: list[str], log_path: Path) -> subprocess.Popen:
    """`python -m lmcore *args` detached, output appended to `log_path`.

    The process gets its own session, so it outlives the app (closing the browser or
    restarting Streamlit loses nothing); a thread reaps it when it ends, so no zombies.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    with open(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "lmcore", *args], stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=PROJECT_ROOT,
                                   env=env, start_new_session=True)
    threading.Thread(target=process.wait, daemon=True).start()
    return process


def launch(folder: Path, command: str = "resume") -> int:
    """Train the run in `folder` in the background (output in folder/log.txt); its pid.

    status.json belongs to the training process; the launcher writes only its own file
    (launcher.json), so a process that dies before it writes `running` is still seen as
    started and then dead, not as queued forever. A run with a live trainer, or one being
    started, is refused (locks.AlreadyTraining) before anything is written.
    """
    folder = Path(folder)
    refuse_reference(folder, "resumed")  # before log.txt: nothing is written into it
    with locks.launching(folder):
        refuse_if_training(folder)
        (folder / STOP_REQUEST).unlink(missing_ok=True)  # no trainer is alive to have been asked: a stale one
        log = folder / "log.txt"
        with open(log, "a") as handle:
            handle.write(attempt_line())
        process = spawn([command, str(folder), "--no-progress-bar"], log)
        record_launch(folder, process.pid)
    return process.pid


def launch_new(folder: Path) -> int | None:
    """launch() for a run folder just created: its pid, or None when the queue worker started it
    first (it starts any queued run it sees), which trains it just the same."""
    try:
        return launch(folder)
    except locks.AlreadyTraining:
        return None


def refuse_if_training(folder: Path) -> None:
    """AlreadyTraining when a process trains `folder` or is starting to (runs.busy_with)."""
    doing = busy_with(folder)
    if doing:
        raise locks.AlreadyTraining(f"{folder.name} is already {doing}")


def log_tail(folder: Path, lines: int = 20) -> str:
    """The last lines of the current attempt's output (after the last start marker), for error
    messages: what an earlier attempt printed (say, the summary of a stop) is left out."""
    path = Path(folder) / "log.txt"
    if not path.exists():
        return ""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - 16384))
        text = handle.read().decode("utf-8", errors="replace")
    text = text.replace("\r", "\n")
    marker = text.rfind(ATTEMPT_MARKER)
    if marker >= 0:
        text = text[marker:].split("\n", 1)[1] if "\n" in text[marker:] else ""
    return "\n".join(text.splitlines()[-lines:])
