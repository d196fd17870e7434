"""One LSTM layer's window, forward and backward, with the compiled cell (lmcore/fused_cell.py)
against the plain recurrence, alternating, on this machine's default threads: the first call
(which compiles) and the min and median of the next 20. 2x200-sized layer: T 35, B 20, H 200,
one recurrent mask per window (variational).

    PYTHONPATH=. .venv/bin/python scripts/compiled_cell_timing.py
"""

import statistics
import time

import torch

from lmcore.lstm import LSTMLayer

STEPS, BATCH, HIDDEN, CALLS = 35, 20, 200, 21


def window_seconds(layer, x, state, mask) -> float:
    start = time.perf_counter()
    out, _ = layer(x, state, mask)          # (T, B, H)
    out.sum().backward()
    return time.perf_counter() - start


if __name__ == "__main__":
    torch.manual_seed(0)
    x = torch.randn(STEPS, BATCH, HIDDEN, requires_grad=True)
    state = (torch.zeros(BATCH, HIDDEN), torch.zeros(BATCH, HIDDEN))
    mask = (torch.rand(BATCH, HIDDEN) > 0.5).float() * 2
    layers = {path: LSTMLayer(HIDDEN, HIDDEN, path) for path in ("compiled-cell", "recurrence")}
    times = {path: [] for path in layers}
    for _ in range(CALLS):
        for path, layer in layers.items():
            times[path].append(window_seconds(layer, x, state, mask))
    for path, seconds in times.items():
        rest = seconds[1:]
        print(f"{path}: first {seconds[0]:.1f} s; then min {min(rest) * 1000:.1f} ms, "
              f"median {statistics.median(rest) * 1000:.1f} ms")
