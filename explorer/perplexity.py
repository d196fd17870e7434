"""Showing perplexities honestly: a diverged run reaches 1e304 (or inf), and that must read as
huge in text and must not flatten every other run on a chart.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from .textview import md_escape

# A value this many times the median of everything plotted is an outlier: three decades on a
# log axis. A normal curve starts near the vocabulary size and falls from there, so it stays
# well inside; a run that diverged jumps far beyond.
OUTLIER_FACTOR = 1000.0
PLAIN_BELOW = 1e6  # from here on, scientific notation: "1.0e304", never a truncatable digit string


def format_ppl(value) -> str:
    """'88.2', '12,345.6', '1.0e304', 'inf'; '—' when there is no number."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        return "—"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if abs(value) < PLAIN_BELOW:
        return f"{value:,.1f}"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


@dataclass(frozen=True)
class Clip:
    """An axis range that leaves the outliers out, and who was left out."""
    low: float                  # the smallest value kept
    high: float                 # the largest value kept
    peaks: dict                 # label -> the highest value of that series, above `high`

    def note(self) -> str:
        """Markdown, with the runs' names shown as typed (a name is the user's text)."""
        runs = "; ".join(f"{md_escape(label)} reaches {format_ppl(peak)}" for label, peak in self.peaks.items())
        return f"Axis clipped at {format_ppl(self.high)}: {runs}."


def find_clip(series: dict, factor: float = OUTLIER_FACTOR) -> Clip | None:
    """The range to show when some series (label -> values) have outliers, else None.

    The reference is the median of every finite value, which a few exploding points cannot
    move; infinity counts as an outlier, NaN as nothing.
    """
    values = {label: [float(v) for v in vs if isinstance(v, (int, float)) and not math.isnan(v)]
              for label, vs in series.items()}
    finite = [v for vs in values.values() for v in vs if math.isfinite(v)]
    if not finite:
        return None
    ceiling = abs(statistics.median(finite)) * factor
    kept = [v for v in finite if v <= ceiling]
    peaks = {label: max(vs) for label, vs in values.items() if vs and max(vs) > ceiling}
    if not peaks or not kept:
        return None
    return Clip(low=min(kept), high=max(kept), peaks=peaks)


def ceiling_clip(series: dict, high: float) -> Clip | None:
    """The range up to `high` when some series (label -> values) go above it, naming them; else None."""
    values = {label: [float(v) for v in vs if isinstance(v, (int, float)) and math.isfinite(v)]
              for label, vs in series.items()}
    peaks = {label: max(vs) for label, vs in values.items() if vs and max(vs) > high}
    kept = [v for vs in values.values() for v in vs if v <= high]
    return Clip(low=min(kept), high=high, peaks=peaks) if peaks and kept else None
