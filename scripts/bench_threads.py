"""CPU threads, measured: one training process alone, and two started together, under three
choices of threads and OpenMP waiting. Prints one JSON line per case and round.

    .venv/bin/python scripts/bench_threads.py [ROUNDS] [SIZE]

Each process is `python -m lmcore bench` (2 layers, batch 20, bptt 35, vocabulary 10,000, the
vertical placement beside the nn.LSTM reference). The choices:
  auto     `python -m lmcore` as shipped: lmcore/threads.py decides threads and waiting
  old      the CLI before: every core, OMP_WAIT_POLICY=PASSIVE
  default  PyTorch's default: every core, OpenMP's default waiting (the CLI entry that
           would choose is bypassed)
Cases run round by round, so a change in background load hits every case alike. Results
belong in docs/performance.md ("CPU threads"), with the machine and its load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = [("lone", ["auto"]), ("lone", ["old"]), ("lone", ["default"]),
         ("two", ["auto", "auto"]), ("two", ["old", "old"]), ("two", ["default", "default"])]


def start(choice: str, size: str) -> subprocess.Popen:
    bench = ["bench", "--sizes", size, "--placements", "vertical", "--steps", "20", "--json"]
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    cores = str(os.cpu_count())
    if choice == "auto":
        args = ["-m", "lmcore", *bench]
    elif choice == "old":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
        args = ["-m", "lmcore", *bench, "--threads", cores]
    else:
        args = ["-c", "import sys; from lmcore.cli import main; sys.exit(main())", *bench, "--threads", cores]
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)


def result(process: subprocess.Popen, size: str) -> dict:
    report = json.loads(process.communicate()[0])
    row = report["sizes"][size]
    return {"threads": report["threads"], "policy": report["omp_wait_policy"],
            "vertical": round(row["vertical"]["tokens_per_s"]), "reference": round(row["reference"]["tokens_per_s"])}


def main(rounds: int, size: str) -> None:
    for round_index in range(rounds):
        for kind, choices in CASES:
            load = Path("/proc/loadavg").read_text().split() if Path("/proc/loadavg").exists() else ["?"] * 4
            processes = [start(choice, size) for choice in choices]  # started together
            results = [result(process, size) for process in processes]
            print(json.dumps({"round": round_index, "kind": kind, "choice": choices[0], "load1": load[0],
                              "running": load[3], "results": results}), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3, sys.argv[2] if len(sys.argv) > 2 else "200")
