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
import statistics
import time
from collections import deque

PHASES = ("evaluation", "sampling", "saving")  # validation and test; the sample texts; checkpoints and masks
STEPS = "training steps"


class PhaseClock:
    """Seconds per phase, kept across resumes (state_dict in the checkpoint), like the run's elapsed time."""

    def __init__(self, device):
        self.device = device
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.cpu = 0.0         # this process's CPU seconds in phases (not kept): PauseWatch leaves them out
        self.left_out = 0.0    # seconds of a pause (PauseWatch) inside the phase now open, not counted in it

    @contextlib.contextmanager
    def phase(self, name: str):
        if name not in self.seconds:
            raise ValueError(f"phase must be one of {', '.join(PHASES)} (got {name!r})")
        _synchronize(self.device)
        start, cpu, self.left_out = time.perf_counter(), time.process_time(), 0.0
        try:
            yield
        finally:
            self.seconds[name] += max(time.perf_counter() - start - self.left_out, 0.0)
            self.cpu += time.process_time() - cpu
            self.left_out = 0.0

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


# A stretch of training (a step, or a window of an evaluation) is a pause, not training time, when it
# took over PAUSE_SECONDS, over PAUSE_FACTOR times the median of the recent ones and the process used
# the CPU for under PAUSE_CPU_SHARE of it. A stopped process (kill -STOP, Ctrl+Z) or one blocked on a
# stuck network disk uses none; a slow step computes (a busy machine's too, a GPU wait spins), and the
# median follows a machine that gets slower. The first PAUSE_WARMUP stretches are never judged: they
# compile, capture CUDA graphs and warm caches.
PAUSE_SECONDS = 10.0
PAUSE_FACTOR = 20.0
PAUSE_CPU_SHARE = 0.1
PAUSE_WARMUP = 10
PAUSE_RECENT = 50


class PauseWatch:
    """Splits the wall time between two laps into work and pause (the rule above). A paused stretch
    counts as the recent median; the rest is returned by lap() for the caller to leave out of its clocks
    (QA round 17: a 92 s kill -STOP read as training, 4,163 tokens/s for 6,987)."""

    def __init__(self, phases: PhaseClock | None = None):
        self.phases = phases  # a phase inside a stretch is timed by its own clock: left out here
        self.recent: deque[float] = deque(maxlen=PAUSE_RECENT)
        self.seen = 0
        self.usual = 0.0  # the median the last paused stretch counted as
        self.mark: tuple[float, float, float, float] | None = None

    def restart(self) -> None:
        """Laps start again from now (a new fit or evaluation: the time before is not a stretch)."""
        self.mark = self._now()

    def lap(self, left_out: float = 0.0) -> float:
        """The seconds of pause in the stretch since the last lap (0.0 for none); `left_out` is what was
        already left out inside it (a pause found in an evaluation within the stretch)."""
        now, mark = self._now(), self.mark
        self.mark = now
        if mark is None:
            return 0.0
        wall = now[0] - mark[0] - (now[2] - mark[2]) - left_out
        cpu = (now[1] - mark[1]) - (now[3] - mark[3])
        self.seen += 1
        # The median only for a long stretch: a step on a GPU takes a few ms, every one is lapped.
        usual = statistics.median(self.recent) if wall > PAUSE_SECONDS and self.recent else None
        paused = (usual is not None and self.seen > PAUSE_WARMUP and wall > PAUSE_FACTOR * usual
                  and cpu < PAUSE_CPU_SHARE * wall)
        self.recent.append(usual if paused else max(wall, 0.0))
        if not paused:
            return 0.0
        self.usual = usual
        return wall - usual

    def _now(self) -> tuple[float, float, float, float]:
        phases = self.phases
        return (time.perf_counter(), time.process_time(),
                phases.total() if phases else 0.0, phases.cpu if phases else 0.0)


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


def format_seconds(seconds: float) -> str:
    """'1:32', '1:02:03': whole seconds (here, not in progress.py: run summaries say it without torch)."""
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


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
