"""Denormal numbers on the CPU, measured: the tiny preset trained with and without flushing floats
below 1.2e-38 to zero (what lmcore.train.prepare_device does on a CPU), at its own Adam lr and at
lr 0.2, where it diverges and its saturated gates make such numbers.

    .venv/bin/python scripts/bench_denormals.py [ROUNDS] [STEPS]

One process, one thread, the cases interleaved round by round so background load hits each
alike. Each case builds the same seeded trainer and times its steps after the first 10 (the
numbers appear once the weights have grown). Prints a JSON line per case and round, then the
median tokens/s per case, the ratio flushed / not, and whether the last loss was the same.
Results belong in docs/performance.md ("Denormal numbers").
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lmcore.data import load_corpus  # noqa: E402
from lmcore.presets import resolve  # noqa: E402
from lmcore.train import Trainer  # noqa: E402

WARMUP = 10
CASES = [(lr, flush) for lr in (0.004, 0.2) for flush in (False, True)]


def one_case(corpus, lr: float, flush: bool, steps: int) -> dict:
    torch.set_flush_denormal(flush)
    cfg = resolve("tiny", [f"lr={lr}", "threads=1"])
    trainer = Trainer(cfg, corpus, torch.device("cpu"), [])
    for _ in range(WARMUP):
        trainer.train_step()
    start = time.perf_counter()
    for _ in range(steps - WARMUP):
        trainer.train_step()
    seconds = time.perf_counter() - start
    tokens = (steps - WARMUP) * cfg.batch_size * cfg.bptt
    return {"lr": lr, "flush": flush, "tokens_per_s": tokens / seconds,
            "last_loss": float(trainer.interval["losses"][-1])}


def main(rounds: int = 3, steps: int = 60) -> None:
    torch.set_num_threads(1)
    corpus = load_corpus(resolve("tiny"))
    results = []
    for round_ in range(rounds):
        for lr, flush in CASES:
            row = {"round": round_, **one_case(corpus, lr, flush, steps)}
            print(json.dumps(row), flush=True)
            results.append(row)
    for lr in (0.004, 0.2):
        speed = {flush: statistics.median(r["tokens_per_s"] for r in results if r["lr"] == lr and r["flush"] == flush)
                 for flush in (False, True)}
        losses = {r["last_loss"] for r in results if r["lr"] == lr}
        print(f"lr {lr}: {speed[False]:,.0f} tokens/s as is, {speed[True]:,.0f} flushed "
              f"({speed[True] / speed[False]:.2f}x); last loss the same in every case: {len(losses) == 1}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
