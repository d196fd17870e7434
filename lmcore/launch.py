"""Starting training as separate background processes (the app never trains itself)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from .runs import PROJECT_ROOT, RunWriter, read_status


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
    """Train the run in `folder` in the background (output in folder/log.txt); its pid."""
    folder = Path(folder)
    process = spawn([command, str(folder), "--no-progress-bar"], folder / "log.txt")
    # The pid is recorded now so a process that dies before it writes `running` is still
    # seen as dead, not as queued forever.
    if read_status(folder).get("state") in ("queued", "stopped", "failed"):
        RunWriter(folder).status(state="queued", pid=process.pid, error=None)
    return process.pid


def log_tail(folder: Path, lines: int = 20) -> str:
    """The last lines of a background run's output, for error messages."""
    path = Path(folder) / "log.txt"
    if not path.exists():
        return ""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - 16384))
        text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])
