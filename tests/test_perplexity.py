"""explorer.perplexity: a diverged run's perplexity reads as huge, and charts leave it out of
their axis range (saying so) instead of flattening every other run."""

import math

import pytest

from explorer.perplexity import find_clip, format_ppl


@pytest.mark.parametrize("value,text", [
    (88.234, "88.2"), (12345.67, "12,345.7"), (999_999.9, "999,999.9"), (1_000_000.0, "1.0e6"),
    (1.0142320540616806e304, "1.0e304"), (float("inf"), "inf"), (float("nan"), "—"), (None, "—"),
    (True, "—"), ("88", "—"),
])
def test_format_ppl(value, text):
    assert format_ppl(value) == text


def test_a_diverged_run_is_clipped_and_named():
    clip = find_clip({"plain": [900.0, 300.0, 120.0, 95.0], "variational": [950.0, 280.0, 110.0],
                      "diverged": [900.0, 250.0, 4e9, 1.0142320540616806e304, float("inf")]})
    assert clip is not None and clip.high == 950.0 and clip.low == 95.0
    assert set(clip.peaks) == {"diverged"} and math.isinf(clip.peaks["diverged"])
    assert clip.note() == "Axis clipped at 950.0: diverged reaches inf."
    huge = find_clip({"a": [100.0, 90.0], "b": [1.0142320540616806e304, 95.0]})
    assert huge.note() == "Axis clipped at 100.0: b reaches 1.0e304."


def test_ordinary_curves_are_not_clipped():
    # A normal curve starts near the vocabulary size and falls two decades.
    assert find_clip({"a": [10_000.0, 800.0, 150.0, 90.0], "b": [9_000.0, 85.0]}) is None
    assert find_clip({"a": [], "b": [float("nan")]}) is None
    assert find_clip({}) is None
