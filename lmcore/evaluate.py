"""Perplexity on a whole split: in order, the state carried across windows; either without
dropout (the usual evaluation) or averaged over dropout samples (MC dropout)."""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F

from .data import get_batch
from .model import LanguageModel, detach_state


@torch.no_grad()
def mean_nll(model: LanguageModel, streams: torch.Tensor, bptt: int, autocast=None, progress=None) -> float:
    """Token-weighted mean negative log-likelihood (nats) over (N, B) streams. `progress(done, total)`,
    if given, hears after each window how many of the split's windows are read (no host sync)."""
    was_training = model.training
    model.eval()
    state = model.init_state(streams.shape[1])
    total, count = _zero(streams), 0
    starts = range(0, streams.shape[0] - 1, bptt)
    try:
        for done, start in enumerate(starts, 1):
            inputs, targets = get_batch(streams, start, bptt)
            with autocast() if autocast else contextlib.nullcontext():
                logits, state = model(inputs, state)
            total += F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.reshape(-1),
                                     reduction="sum").double()
            count += targets.numel()
            state = detach_state(state)
            if progress:
                progress(done, len(starts))
    finally:
        model.train(was_training)
    return float(total) / count  # the one host sync of the split


def _zero(streams: torch.Tensor) -> torch.Tensor:
    """A float64 sum on the streams' device: adding each window's float32 sum to it equals adding
    its .item() to a Python float, without stalling a GPU once per window."""
    return torch.zeros((), dtype=torch.float64, device=streams.device)


@torch.no_grad()
def mc_dropout_nll(model: LanguageModel, streams: torch.Tensor, bptt: int, samples: int, seed: int) -> float:
    """Mean NLL (nats) of the predictive distribution averaged over `samples` dropout masks.

    MC dropout (Gal & Ghahramani 2016): the model keeps its training-time dropout, and the
    probabilities of `samples` stochastic passes are averaged before the log, so the score
    is that of the ensemble of thinned networks, not an average of their scores. Each sample
    is one thinned network reading the split in order, so each carries its own state across
    windows, as mean_nll carries the one state of the deterministic model. The masks come
    from a generator seeded with `seed`: the same seed gives the same number.
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1 (got {samples})")
    was_training, generator = model.training, model.plan.generator
    device = model.decoder.weight.device
    model.plan.generator = torch.Generator(device=device).manual_seed(seed)
    model.train()  # dropout on; the model has no other train-mode behaviour (no batch norm)
    states = [model.init_state(streams.shape[1]) for _ in range(samples)]
    total, count = _zero(streams), 0
    try:
        for start in range(0, streams.shape[0] - 1, bptt):
            inputs, targets = get_batch(streams, start, bptt)              # (T, B) each
            mixture = None                                                 # log sum_k p_k, (T*B, V)
            for k in range(samples):
                logits, states[k] = model(inputs, states[k])               # (T, B, V)
                log_probs = F.log_softmax(logits.float().view(-1, logits.shape[-1]), dim=-1)
                mixture = log_probs if mixture is None else torch.logaddexp(mixture, log_probs)
                states[k] = detach_state(states[k])
            # log of the mean probability; with one sample this is log_softmax itself, bit for bit.
            mean_log_probs = mixture - math.log(samples) if samples > 1 else mixture
            total += F.nll_loss(mean_log_probs, targets.reshape(-1), reduction="sum").double()
            count += targets.numel()
    finally:
        model.plan.generator = generator
        model.train(was_training)
    return float(total) / count


def perplexity(nll: float) -> float:
    return math.exp(min(nll, 700.0))
