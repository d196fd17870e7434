"""Showing perplexities honestly: a diverged run reaches 1e304 (or inf), and that must read as
huge in text and must not flatten every other run on a chart.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace

from .textview import md_escape

# A value this many times the median validation perplexity is an outlier: three decades on a log
# axis. A normal curve starts near the vocabulary size and falls from there, and an over-fitting
# one climbs back a decade or two (tiny: from 130 to 5,700), so both stay well inside; a run that
# diverged jumps far beyond (1e8, 1e304).
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


NAMED_PEAKS = 3  # the highest of the series an axis leaves out, named; the rest counted


@dataclass(frozen=True)
class Clip:
    """An axis range that leaves the outliers out, and who was left out."""
    low: float                  # the smallest value kept
    high: float                 # the largest value kept
    peaks: dict                 # label -> the highest value of that series, above `high`
    reason: str = ""            # why the axis stops where it does, when it is not an outlier's doing

    def note(self) -> str:
        """Markdown, with the runs' names shown as typed (a name is the user's text)."""
        named = list(self.peaks.items())
        if len(named) > NAMED_PEAKS:
            named = sorted(named, key=lambda item: -item[1])[:NAMED_PEAKS]
        runs = "; ".join(f"{md_escape(label)} reaches {format_ppl(peak)}" for label, peak in named)
        if len(self.peaks) > NAMED_PEAKS:  # forty names made a wall of text under the chart (QA round 16)
            runs += f"; and {len(self.peaks) - NAMED_PEAKS} more runs go past it"
        if self.reason:
            return f"Axis stops at {format_ppl(self.high)}, {self.reason}: {runs}."
        return f"Axis clipped at {format_ppl(self.high)}: {runs}."

    def beyond(self, top: float) -> Clip | None:
        """The clip as a chart whose axis reaches `top` shows it: naming only the series that go past
        `top` (the axis has room above `high`, and a peak drawn there is not clipped); None if none does."""
        peaks = {label: peak for label, peak in self.peaks.items() if peak > top}
        return replace(self, peaks=peaks) if peaks else None


def find_clip(series: dict, factor: float = OUTLIER_FACTOR, reference=()) -> Clip | None:
    """The range to show when some series (label -> values) have outliers, else None.

    The scale is the lower median of the `reference` values (a chart's validation perplexities)
    that are themselves no outlier of everything plotted, or of every finite value when none is
    left: a few exploding points cannot move it. Train values make a poor scale: an over-fitting
    run's fall to 1.2 while its validation climbs to 5,700, and a median pulled down by them cut
    off that climb, the chart's lesson. A diverged validation (1e304) must not set the scale either,
    even when it is one of two or the only one. Infinity counts as an outlier, NaN as nothing.
    """
    values = {label: [float(v) for v in vs if isinstance(v, (int, float)) and not math.isnan(v)]
              for label, vs in series.items()}
    finite = [v for vs in values.values() for v in vs if math.isfinite(v)]
    if not finite:
        return None
    overall = abs(statistics.median(finite)) * factor
    sane = [float(v) for v in reference if isinstance(v, (int, float)) and math.isfinite(v) and v <= overall]
    ceiling = abs(statistics.median_low(sane)) * factor if sane else overall
    kept = [v for v in finite if v <= ceiling]
    peaks = {label: max(vs) for label, vs in values.items() if vs and max(vs) > ceiling}
    if not peaks or not kept:
        return None
    return Clip(low=min(kept), high=max(kept), peaks=peaks)


def ceiling_clip(series: dict, high: float, reason: str = "") -> Clip | None:
    """The range up to `high` when some series (label -> values) go above it, naming them (and saying
    `reason`: a healthy run's first steps above it are no divergence); else None."""
    values = {label: [float(v) for v in vs if isinstance(v, (int, float)) and math.isfinite(v)]
              for label, vs in series.items()}
    peaks = {label: max(vs) for label, vs in values.items() if vs and max(vs) > high}
    kept = [v for vs in values.values() for v in vs if v <= high]
    return Clip(low=min(kept), high=high, peaks=peaks, reason=reason) if peaks and kept else None
