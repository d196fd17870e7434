"""Perplexity on a whole split: in order, the state carried across windows, no dropout."""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F

from .data import get_batch
from .model import LanguageModel, detach_state


@torch.no_grad()
def mean_nll(model: LanguageModel, streams: torch.Tensor, bptt: int, autocast=None) -> float:
    """Token-weighted mean negative log-likelihood (nats) over (N, B) streams."""
    was_training = model.training
    model.eval()
    state = model.init_state(streams.shape[1])
    total, count = 0.0, 0
    try:
        for start in range(0, streams.shape[0] - 1, bptt):
            inputs, targets = get_batch(streams, start, bptt)
            with autocast() if autocast else contextlib.nullcontext():
                logits, state = model(inputs, state)
            total += F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.reshape(-1),
                                     reduction="sum").item()
            count += targets.numel()
            state = detach_state(state)
    finally:
        model.train(was_training)
    return total / count


def perplexity(nll: float) -> float:
    return math.exp(min(nll, 700.0))

