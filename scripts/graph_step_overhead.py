"""What GraphedStep adds to a training step, measured apart from the step (CPU, 1 thread):
loading a window into its static buffers (GraphedStep._load, the carried state already there),
copying the new (h, c) back into the buffers at the step's end, and cloning its two outputs.
Batch 20, bptt 35, 2 layers; the median of 2,000 calls.

    PYTHONPATH=. .venv/bin/python scripts/graph_step_overhead.py
"""

import statistics
import time

import torch

from lmcore.config import Config
from lmcore.graphs import GraphedStep
from lmcore.model import LanguageModel
from lmcore.train import autocast

VOCAB, BATCH, BPTT = 10_000, 20, 35


def overhead_seconds(hidden: int, calls: int = 2000) -> float:
    cfg = Config(dataset="synthetic", embed_size=hidden, hidden_size=hidden, dropout_placement="variational")
    model = LanguageModel(VOCAB, cfg)
    step = GraphedStep(model, model, torch.optim.SGD(model.parameters(), lr=1.0), 0.25,
                       lambda cache_enabled=True: autocast("none", torch.device("cpu"), cache_enabled), capture=False)
    data = torch.randint(0, VOCAB, (BPTT + 1, BATCH))                   # (T + 1, B)
    inputs, targets = data[:-1], data[1:]
    step(inputs, targets, model.init_state(BATCH))                      # allocates the buffers
    new_state = [(h.clone(), c.clone()) for h, c in step.state]         # stands for the step's result
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        step._load(inputs, targets, step.state)
        for (h, c), (new_h, new_c) in zip(step.state, new_state):
            h.copy_(new_h)
            c.copy_(new_c)
        step.loss.clone(), step.norm.clone()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


if __name__ == "__main__":
    torch.set_num_threads(1)
    for hidden in (200, 650):
        print(f"2x{hidden}: {overhead_seconds(hidden) * 1e6:.1f} us per call")
