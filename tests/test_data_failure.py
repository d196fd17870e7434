"""A train command that cannot get its data keeps its failed run, with the one-line data message."""

import os
import subprocess
import sys

from conftest import ROOT, SMALL, free_port
from lmcore.runs import read_status


def test_train_without_ptb_fails_with_the_data_message(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    url = f"http://127.0.0.1:{free_port()}/data/"
    env = {**os.environ, "LMCORE_DATA_DIR": str(empty), "LMCORE_CACHE_DIR": str(empty / "cache"),
           "LMCORE_PTB_URL": url}
    args = [sys.executable, "-m", "lmcore", "train", "--runs-dir", str(tmp_path / "runs"), "--no-progress-bar"]
    for key, value in SMALL.items():
        args += ["--set", f"{key}={value}"]
    out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)

    assert out.returncode == 2 and "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "could not reach" in errors[0] and url in errors[0], out.stderr
    # The app creates run folders before their process starts, so a failed one stays, saying why.
    (folder,) = (tmp_path / "runs").iterdir()
    status = read_status(folder)
    assert status["state"] == "failed" and status["error"] == errors[0].removeprefix("error: ")
    assert "\n" not in status["error"] and "synthetic" in status["error"]
    assert not (folder / "metrics.jsonl").exists()
