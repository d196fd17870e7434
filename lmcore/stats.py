"""Statistics for ablation grids in plain Python (no scipy): a mean with its Student-t
interval, and contrasts between groups of runs, paired by seed or not (Welch).

Every interval is two-sided at CONFIDENCE, or at family_confidence for one of several comparisons
that must hold together (a toggle with three or more values). A result with too few runs for an interval keeps
its estimate and gives None for the bounds ("no interval"), never a made-up width.
"""

from __future__ import annotations

import math

CONFIDENCE = 0.95

# Perplexity is shown to one decimal: a bound within this of 0 prints as 0.0 (or -0.0) and so
# reads as reaching 0, whatever its sign in the last digits.
RESOLUTION = 0.05

METHOD = ("Each effect is the mean change in perplexity from one value of a toggle to another over pairs of runs that "
          "differ only in that toggle (the same seed and the same values of the other toggles; n counts the "
          "pairs, and a run whose partner is missing is left out), with a 95% Student-t interval over those "
          "pairs: they differ in seed, in the other toggles' values or both ('over' says which). "
          "Where no pair exists, Welch's interval compares the two sides' runs in the combinations of the other "
          "toggles both have. An interval that contains 0, or reaches it at one decimal, is within noise: these "
          "seeds cannot tell the effect from none, which is not evidence that there is none (more seeds narrow "
          "the interval). Two pairs that share a seed may not be independent, so with few seeds the interval "
          "may be narrower than the seeds justify. Where the pairs also differ in the other toggles' values, the "
          "change at each of those values is given too, its pairs differing in seed alone; where it is clearly one "
          "way at every one, the verdict says so ('higher at each'): the pooled interval also spans how the "
          "change differs between them, which more seeds do not narrow.")
# Said only for a grid with such a toggle: a two-valued grid's text stayed as it was (QA round 21).
FAMILY_METHOD = ("A toggle with three or more values is compared with its first value and also between every two "
                 "of its other values; with k values that is k(k-1)/2 comparisons, so each of their intervals is "
                 "Bonferroni-adjusted (98.3% for three values, 99.2% for four) so that all of one toggle's "
                 "comparisons on one metric hold together at 95%. A value is called best only where it is clearly "
                 "lower than every other value.")


def method(many_valued: bool) -> str:
    """METHOD, and FAMILY_METHOD where a toggle has three or more values."""
    return f"{METHOD} {FAMILY_METHOD}" if many_valued else METHOD


# ---------------------------------------------------------------- the t distribution


def _beta_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz's method)."""
    tiny, front = 1e-300, 1.0
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            front = c * d
            result *= front
        if abs(front - 1.0) < 1e-15:
            break
    return result


def incomplete_beta(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function I_x(a, b), for 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    # The fraction converges fast only on this side of the mean; use the symmetry otherwise.
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(x, a, b) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(1.0 - x, b, a) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom (df may be fractional: Welch)."""
    tail = 0.5 * incomplete_beta(df / (df + t * t), df / 2.0, 0.5)
    return 1.0 - tail if t >= 0 else tail


def t_quantile(probability: float, df: float) -> float:
    """The t with P(T <= t) = probability, by bisection on t_cdf (probability > 0.5)."""
    if not 0.5 < probability < 1.0 or df <= 0:
        raise ValueError(f"t_quantile needs 0.5 < probability < 1 and df > 0 (got {probability}, {df})")
    low, high = 0.0, 1.0
    while t_cdf(high, df) < probability:
        low, high = high, high * 2.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if t_cdf(middle, df) < probability:
            low = middle
        else:
            high = middle
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2.0


def critical_value(df: float, confidence: float = CONFIDENCE) -> float:
    """The two-sided multiplier of the standard error at `confidence`."""
    return t_quantile(1.0 - (1.0 - confidence) / 2.0, df)


def family_confidence(comparisons: int) -> float:
    """Bonferroni: the confidence of each of `comparisons` intervals such that all of them hold
    together at CONFIDENCE (0.95 for one, 0.98333 for three, 0.99167 for six)."""
    return 1.0 - (1.0 - CONFIDENCE) / max(comparisons, 1)


# ---------------------------------------------------------------- summaries and contrasts


def mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


def sample_sd(values: list[float]) -> float | None:
    """The sample standard deviation (n - 1 in the denominator); None below two values."""
    if len(values) < 2:
        return None
    center = mean(values)
    return math.sqrt(math.fsum((v - center) ** 2 for v in values) / (len(values) - 1))


def _bounds(estimate: float, standard_error: float | None, df: float | None, confidence: float) -> tuple:
    if standard_error is None or df is None or df <= 0:
        return None, None
    half = critical_value(df, confidence) * standard_error
    return estimate - half, estimate + half


def describe(values: list[float], confidence: float = CONFIDENCE) -> dict:
    """Mean, sample sd, n, the t-interval (95% unless `confidence` says) of the mean and the smallest and largest value;
    sd and bounds None for n < 2. (Whole numbers such as best epochs read better as their range
    than as a mean ± sd.)"""
    values = list(values)
    if not values:
        return {"mean": None, "sd": None, "n": 0, "low": None, "high": None, "min": None, "max": None}
    center, sd, n = mean(values), sample_sd(values), len(values)
    low, high = _bounds(center, sd / math.sqrt(n) if sd is not None else None, n - 1, confidence)
    return {"mean": center, "sd": sd, "n": n, "low": low, "high": high, "min": min(values), "max": max(values)}


def paired(differences: list[float], confidence: float = CONFIDENCE) -> dict:
    """The mean of within-pair differences and its t-interval (n - 1 degrees of freedom)."""
    found = describe(differences, confidence)
    return {"estimate": found["mean"], "low": found["low"], "high": found["high"], "n": found["n"],
            "df": found["n"] - 1 if found["n"] > 1 else None, "method": "paired"}


def contrast(groups: list[tuple[float, list[float]]], method: str = "welch",
             confidence: float = CONFIDENCE) -> dict:
    """sum(weight * mean) over independent groups, with a Satterthwaite interval.

    Two groups weighted -1 and +1 make Welch's interval for a difference of means; four
    groups weighted +-1 make an unpaired interaction. Needs two runs in every group for an
    interval (each group's own spread is estimated)."""
    estimate = math.fsum(weight * mean(values) for weight, values in groups)
    sizes = [len(values) for _, values in groups]
    if min(sizes) < 2:
        return {"estimate": estimate, "low": None, "high": None, "n": sum(sizes), "df": None, "method": method}
    parts = [weight * weight * sample_sd(values) ** 2 / len(values) for weight, values in groups]
    variance = math.fsum(parts)
    if variance == 0.0:
        df = float(sum(sizes) - len(groups))  # no spread anywhere: a zero-width interval
    else:
        df = variance ** 2 / math.fsum(part ** 2 / (n - 1) for part, n in zip(parts, sizes))
    low, high = _bounds(estimate, math.sqrt(variance), df, confidence)
    return {"estimate": estimate, "low": low, "high": high, "n": sum(sizes), "df": df, "method": method}


def welch(reference: list[float], other: list[float]) -> dict:
    """mean(other) - mean(reference) for two independent groups, Welch's t-interval."""
    return contrast([(-1.0, reference), (1.0, other)])


def verdict(result: dict) -> str:
    """'no interval', 'within noise' (the interval contains 0, or a bound prints as 0.0: see
    RESOLUTION), 'lower' or 'higher'."""
    if result.get("low") is None:
        return "no interval"
    if result["low"] < RESOLUTION and result["high"] > -RESOLUTION:
        return "within noise"
    return "lower" if result["high"] < 0.0 else "higher"
