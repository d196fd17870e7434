"""Where a run's time goes: the seconds spent evaluating, sampling text and saving, beside the
whole training time. The training steps (with the logging around them) are the rest, and the
rest is what a faster step can win: a run whose evaluation takes a third of its time gains
little from a faster step (docs/performance.md, "Where a run's time goes").

On a GPU the steps run ahead of Python, so a phase starts by waiting for the work queued before
it: those steps count as training, not as the evaluation that would otherwise wait for them.
"""

from __future__ import annotations

import contextlib
import math
import time

PHASES = ("evaluation", "sampling", "saving")  # validation and test; the sample texts; checkpoints and masks
STEPS = "training steps"


class PhaseClock:
    """Seconds per phase, kept across resumes (state_dict in the checkpoint), like the run's elapsed time."""

    def __init__(self, device):
        self.device = device
        self.seconds = dict.fromkeys(PHASES, 0.0)

    @contextlib.contextmanager
    def phase(self, name: str):
        if name not in self.seconds:
            raise ValueError(f"phase must be one of {', '.join(PHASES)} (got {name!r})")
        _synchronize(self.device)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def total(self) -> float:
        return sum(self.seconds.values())

    def state_dict(self) -> dict:
        return dict(self.seconds)

    def load_state_dict(self, saved) -> None:
        """A checkpoint written before this clock existed has none: its phases start from 0."""
        for name in PHASES:
            value = (saved or {}).get(name)
            if isinstance(value, (int, float)) and math.isfinite(value) and value >= 0:
                self.seconds[name] = float(value)


def _synchronize(device) -> None:
    import torch  # here, not at the top: run summaries read time_split without loading torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def time_split(spent, elapsed) -> dict | None:
    """{"training steps": s, "evaluation": s, "sampling": s, "saving": s} summing to `elapsed`, from
    a status's time_spent and elapsed; None when either is missing or unreadable (older runs)."""
    if not isinstance(spent, dict) or not _seconds(elapsed):
        return None
    phases = {name: float(spent[name]) if _seconds(spent.get(name)) else 0.0 for name in PHASES}
    # A status is written at most once a second, so its phases may run past its elapsed by a little.
    return {STEPS: max(float(elapsed) - sum(phases.values()), 0.0), **phases}


def _seconds(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def describe_split(split: dict | None) -> str:
    """'training steps 88% · evaluation 7% · saving 4% · sampling 1%', largest first; '' for None,
    and before any phase but the steps took time ('training steps 100%' tells nothing yet)."""
    total = sum(split.values()) if split else 0.0
    if not total or not any(seconds for name, seconds in split.items() if name != STEPS):
        return ""
    ordered = sorted(split.items(), key=lambda item: -item[1])
    shares = whole_percents([seconds / total for _, seconds in ordered])
    return " · ".join(f"{name} {share}" for (name, _), share in zip(ordered, shares))


def whole_percents(shares: list[float]) -> list[str]:
    """Shares summing to 1 as whole percents that add up to 100 (the largest remainders round up):
    each rounded alone, zaremba-medium's 89.9 / 6.5 / 2.8 / 0.8 read 90 + 7 + 3 + 1 = 101% (QA round 12).
    A share that rounds to nothing reads '<1%'."""
    exact = [share * 100 for share in shares]
    whole = [math.floor(value) for value in exact]
    for i in sorted(range(len(exact)), key=lambda i: whole[i] - exact[i])[:max(100 - sum(whole), 0)]:
        whole[i] += 1
    return ["<1%" if share > 0 and percent == 0 else f"{percent}%" for share, percent in zip(shares, whole)]
