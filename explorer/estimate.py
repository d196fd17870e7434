"""How long a config would train here: its planned steps at the speed that runs of the same shape
trained at on this machine, so a teacher sees "about 6 h" before pressing Start, not after.

Only measured speeds are used (the user's own runs, never the shipped reference runs, which
trained elsewhere). Without one, a GPU-sized model on a CPU gets the one speed this project
measured for it (docs/performance.md), said as such.
"""

from __future__ import annotations

import statistics

from lmcore.summaries import RunSummary

# What decides a step's cost: the sizes, the text's vocabulary, and whether the recurrence is masked
# (horizontal and variational run the hand-written recurrence, the others the fused LSTM).
SHAPE_KEYS = ("dataset", "vocab_size", "layers", "embed_size", "hidden_size", "batch_size", "bptt", "amp")
MASKED = ("horizontal", "variational")

# docs/performance.md, "Training speed against a plain nn.LSTM model (CPU)": the book's 2x650
# vertical model trained 1,816 tokens/s on this project's 2-core CPU.
BOOK_CPU_TOKENS_PER_S = 1_800
GPU_SIZED = 650  # hidden units from which a CPU run of PTB takes hours


def same_shape(config: dict, other: dict) -> bool:
    return (all(config.get(key) == other.get(key) for key in SHAPE_KEYS)
            and (config.get("dropout_placement") in MASKED) == (other.get("dropout_placement") in MASKED))


def measured_speed(config: dict, summaries: list[RunSummary], device: str) -> tuple[float, int] | None:
    """(median tokens/s, how many runs) of the user's runs of this shape that trained on `device`
    ("cpu", "cuda"), or None when none has a speed."""
    speeds = [s.tokens_per_s for s in summaries
              if not s.is_reference and s.status.get("device") == device and s.tokens_per_s
              and same_shape(config, s.config)]
    return (statistics.median(speeds), len(speeds)) if speeds else None


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
    measured = measured_speed(config, summaries, device)
    if measured:
        speed, runs = measured
        kind = "warning" if tokens / speed > 3600 else "caption"
        return kind, (f"About **{rough_duration(tokens / speed)}** here, at {speed:,.0f} tokens/s: the "
                      f"{'median ' if runs > 1 else ''}speed of {runs} earlier run{'s' if runs > 1 else ''} of "
                      f"this shape on this machine's {device}.")
    if device == "cpu" and config["hidden_size"] >= GPU_SIZED:
        return "warning", (f"A GPU-sized model: no run of this shape has trained on this CPU yet to time it. The "
                           f"book's 2x650 model trained about {BOOK_CPU_TOKENS_PER_S:,} tokens/s on a 2-core CPU "
                           f"(docs/performance.md); at that speed this takes about "
                           f"**{rough_duration(tokens / BOOK_CPU_TOKENS_PER_S)}**.")
    return None
