"""The engine options the Train page offers beyond the model (issue 8.7): compile and amp on a CPU.

compile=True really trains on a CPU (slow: the compile comes first); amp=bf16 is a no-op off CUDA,
which the page says (tests/test_bad_links.py)."""

from __future__ import annotations

import pytest
import torch

from conftest import SMALL, train_run
from lmcore import jsonl, runs

STEPS = dict(SMALL, max_steps=12, epochs=1, eval_every=6)


def losses(folder) -> list[float]:
    return [line["loss"] for line in jsonl.read_jsonl(folder / "metrics.jsonl")]


@pytest.mark.skipif(torch.cuda.is_available(), reason="bf16 autocast is real on CUDA")
def test_bf16_on_a_cpu_trains_exactly_as_float32(tmp_path):
    plain = train_run(tmp_path, None, "plain", **STEPS, device="cpu")
    bf16 = train_run(tmp_path, None, "bf16", **STEPS, device="cpu", amp="bf16")
    assert runs.read_status(bf16)["state"] == "finished"
    assert losses(bf16) == losses(plain) and len(losses(plain)) > 2


@pytest.mark.slow
def test_compile_trains_on_a_cpu_to_the_same_losses(tmp_path):
    # Without dropout: a compiled graph draws its masks from its own generator, not torch's.
    steps = dict(STEPS, dropout_placement="none")
    plain = train_run(tmp_path, None, "plain", **steps, device="cpu")
    compiled = train_run(tmp_path, None, "compiled", **steps, device="cpu", compile=True)
    assert runs.read_status(compiled)["state"] == "finished"
    assert losses(compiled) == pytest.approx(losses(plain), rel=1e-4)
