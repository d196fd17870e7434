"""How long a config would train here: its planned steps at the pace that runs of the same shape
trained at on this machine, so a teacher sees "about 6 h" before pressing Start, not after.

A run's pace is its tokens trained over its whole training time (status `elapsed`), evaluations,
samples and saves included: the estimate is of the time a run takes. The tokens/s pages show is
another figure, the training steps' own speed (runs.average_speed), which leaves those out.

Only measured runs are used (the user's own, never the shipped reference runs, which trained
elsewhere), and runs that trained alone before runs that shared the machine with another trainer
for a while (status `shared_seconds`): two tiny runs at once each trained at about half the pace
(QA round 10). Without any, a GPU-sized model on a CPU gets the one speed this project measured
for it (docs/performance.md), said as such.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from lmcore.jsonl import json_number
from lmcore.runs import tokens_trained
from lmcore.summaries import RunSummary

# What decides a step's cost: the sizes, the text's vocabulary, and whether the recurrence is masked
# (horizontal and variational run the hand-written recurrence, the others the fused LSTM).
SHAPE_KEYS = ("dataset", "vocab_size", "layers", "embed_size", "hidden_size", "batch_size", "bptt", "amp")
MASKED = ("horizontal", "variational")

# docs/performance.md, "Training speed against a plain nn.LSTM model (CPU)": the book's 2x650
# vertical model trained 1,816 tokens/s on this project's 2-core CPU.
BOOK_CPU_TOKENS_PER_S = 1_800
GPU_SIZED = 650  # hidden units from which a CPU run of PTB takes hours
SHARED = 0.1  # a run that trained beside another for more than this share of its time shared the machine


def same_shape(config: dict, other: dict) -> bool:
    return (all(config.get(key) == other.get(key) for key in SHAPE_KEYS)
            and (config.get("dropout_placement") in MASKED) == (other.get("dropout_placement") in MASKED))


@dataclass(frozen=True)
class Measured:
    """What the estimate of a shape rests on."""
    speed: float                   # the median pace of the runs used, tokens per second of training time
    runs: int                      # how many runs that is
    shared: tuple[float, ...] = ()  # the shares of their time the runs used trained beside another run, where
                                    # over SHARED: all of them, or none (measure)
    left_out: int = 0              # runs of the shape left out because they shared the machine


def pace(summary: RunSummary) -> tuple[float, float | None] | None:
    """(tokens trained per second of its whole training time, the share of that time it trained
    beside another run, None where the run predates `shared_seconds`), or None without a step and
    a time. Runs without `elapsed` give their tokens/s."""
    status = summary.status
    tokens, elapsed = tokens_trained(status, summary.config), json_number(status.get("elapsed"))
    shared = json_number(status.get("shared_seconds"))
    if tokens and elapsed:
        return tokens / elapsed, (min(shared / elapsed, 1.0) if shared is not None else None)
    return (summary.tokens_per_s, None) if summary.tokens_per_s else None


def measure(config: dict, summaries: list[RunSummary], device: str) -> Measured | None:
    """The median pace of the user's runs of this shape that trained on `device` ("cpu", "cuda"),
    of those that trained alone where any did, or None when none has a pace."""
    paces = [p for s in summaries if not s.is_reference and s.status.get("device") == device
             and same_shape(config, s.config) and (p := pace(s))]
    alone = [p for p in paces if not (p[1] or 0.0) > SHARED]
    used = alone or paces
    if not used:
        return None
    return Measured(statistics.median(speed for speed, _ in used), len(used),
                    tuple(share for _, share in used if (share or 0.0) > SHARED), len(paces) - len(used))


def measured_speed(config: dict, summaries: list[RunSummary], device: str) -> tuple[float, int] | None:
    """(median pace, how many runs) of measure(), for callers that want the number only."""
    measured = measure(config, summaries, device)
    return (measured.speed, measured.runs) if measured else None


def what_it_used(measured: Measured, device: str) -> str:
    """The sentence after the estimate's figure: which runs, over what time, and whether they
    shared the machine (then all of them did: measure() leaves those out where any ran alone)."""
    runs, plural = measured.runs, measured.runs > 1
    text = (f"the {'median ' if plural else ''}pace of {runs} earlier run{'s' if plural else ''} of this shape on "
            f"this machine's {device}, over {'their' if plural else 'its'} whole training time (evaluations and "
            f"saves included, so below the tokens/s {'they show' if plural else 'it shows'})")
    if measured.left_out:
        text += f"; {measured.left_out} that shared the machine with another run left out"
    text += "."
    if measured.shared:
        text += (f" {'They' if plural else 'It'} trained beside another run ({shared_text(measured.shared)}): "
                 f"alone, this may go faster.")
    return text


def shared_text(shares: list[float]) -> str:
    """'100% of the time' for one run, '100%, 100% and 100% of their time' for three, and for eight
    'from 40% to 100% of their time': three shares listed for eight runs read as three runs (QA round 18)."""
    if len(shares) == 1:
        return f"{shares[0]:.0%} of the time"
    if len(shares) <= 3:
        return ", ".join(f"{s:.0%}" for s in shares[:-1]) + f" and {shares[-1]:.0%} of their time"
    low, high = min(shares), max(shares)
    return f"{high:.0%} of each one's time" if f"{low:.0%}" == f"{high:.0%}" else \
        f"from {low:.0%} to {high:.0%} of their time"


def rough_duration(seconds: float) -> str:
    """'40 s', '12 min', '6 h 30 min': an estimate's precision, not a stopwatch's."""
    if seconds < 90:
        return f"{max(round(seconds), 1)} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(round(seconds / 600) * 10, 60)
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


def time_note(config: dict, steps: int, summaries: list[RunSummary], device: str) -> tuple[str, str] | None:
    """("caption" or "warning", text) about how long `steps` take here, or None when nothing is known."""
    tokens = steps * config["batch_size"] * config["bptt"]
    measured = measure(config, summaries, device)
    if measured:
        seconds = tokens / measured.speed
        kind = "warning" if seconds > 3600 else "caption"
        return kind, (f"About **{rough_duration(seconds)}** here, at {measured.speed:,.0f} tokens/s: "
                      + what_it_used(measured, device))
    if device == "cpu" and config["hidden_size"] >= GPU_SIZED:
        return "warning", (f"A GPU-sized model: no run of this shape has trained on this CPU yet to time it. The "
                           f"book's 2x650 model trained about {BOOK_CPU_TOKENS_PER_S:,} tokens/s on a 2-core CPU "
                           f"(docs/performance.md); at that speed this takes about "
                           f"**{rough_duration(tokens / BOOK_CPU_TOKENS_PER_S)}**.")
    return None
