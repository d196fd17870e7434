"""explorer.perplexity: a diverged run's perplexity reads as huge, and charts leave it out of
their axis range (saying so) instead of flattening every other run."""

import math

import numpy as np
import pandas as pd
import pytest

import ui
from explorer.perplexity import Clip, find_clip, format_ppl


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


def over_fitting():
    """(train, validation) of QA's `tiny` over 40 epochs: train falls to 11 by epoch 8 (as the preset
    says), then to 1.2; validation bottoms out at 135 and climbs back to 5,696.9, never diverging."""
    train = [round(v, 1) for v in [*np.geomspace(2135.7, 11.0, 80), *np.geomspace(10.0, 1.2, 80)]] + [1.2] * 160
    validation = [310.0, 150.0, 135.0, *(round(v, 1) for v in np.geomspace(160.0, 5164.9, 36)), 5696.9]
    return train, validation


def test_an_over_fitting_runs_rising_validation_is_not_an_outlier():
    train, validation = over_fitting()
    assert find_clip({"long1": train + validation}).peaks == {"long1": 5696.9}   # QA's clip: a median near 1
    assert find_clip({"long1": train + validation}, reference=validation) is None
    beside = find_clip({"long1": train + validation, "diverged": [900.0, 250.0, 1.0142320540616806e304]},
                       reference=[*validation, 900.0, 250.0, 1.0142320540616806e304])
    assert beside.high == 5696.9 and beside.note() == "Axis clipped at 5,696.9: diverged reaches 1.0e304."


def metrics(train, validation) -> pd.DataFrame:
    """A metrics frame as the pages read it: train lines, then validations (steps apart)."""
    kinds = ["train"] * len(train) + ["val"] * len(validation)
    return pd.DataFrame({"kind": kinds, "step": range(len(kinds)), "epoch": 1, "ppl": train + validation})


def test_train_and_compare_draw_an_over_fitting_runs_whole_validation_curve():
    """QA: Train cut it at 2,135.7; Compare captioned 'Axis clipped at 5,164.9: long1 reaches 5,696.9'."""
    long1 = {"label": "long1", "frame": metrics(*over_fitting())}
    assert ui.curve_clip([long1]) is None                                           # Train: one run
    dropout = {"label": "tiny-dropout", "frame": metrics([1990.0, 400.0, 150.0], [120.0, 82.0])}
    assert ui.curve_clip([long1, dropout]) is None                                  # Compare: beside another
    assert ui.ppl_figure([long1, dropout], log_y=True).layout.yaxis.range is None  # autorange: all in view


def test_a_caption_names_only_the_runs_that_go_past_the_axis_drawn():
    clip = Clip(low=1.2, high=5164.9, peaks={"long1": 5696.9, "diverged": 1e304})
    assert clip.beyond(10_000.0).note() == "Axis clipped at 5,164.9: diverged reaches 1.0e304."
    assert Clip(low=1.2, high=5164.9, peaks={"long1": 5696.9}).beyond(10_000.0) is None   # drawn, below the top


def test_the_grid_band_chart_names_only_the_cells_past_its_axis():
    from ui.grid_charts import band_figure

    def cell(label, highs):
        curve = pd.DataFrame({"step": range(len(highs)), "mean": highs, "low": highs, "high": highs, "n": 1})
        return {"label": label, "color": "#1f77b4", "curve": curve}

    cells = [cell("a", [100.0] * 3), cell("b", [99_000.0]), cell("c", [105_000.0])]   # c: past 1000 x the median
    figure, clip = band_figure(cells)
    assert figure.layout.yaxis.range[1] > 105_000 and clip is None                  # drawn under the axis's room
    figure, clip = band_figure([*cells, cell("diverged", [1.0142320540616806e304])])
    assert clip.note() == "Axis clipped at 105,000.0: diverged reaches 1.0e304."


@pytest.mark.parametrize("validations", [[210.0, 1e304], [1e304]])
def test_a_diverged_validation_never_sets_the_scale_even_as_one_of_two(validations):
    """Scaled by the validation median, a run diverged at its second (or only) validation set the
    scale itself (median of [210, 1e304] is 5e303) and went unclipped to 1e304."""
    train = [5000.0, 800.0, 400.0, 300.0, 250.0, 1e304]
    clip = find_clip({"a": train + validations}, reference=validations)
    assert clip is not None and clip.peaks == {"a": 1e304} and clip.high == 5000.0


def test_a_clip_names_the_three_highest_runs_it_leaves_out_and_counts_the_rest():
    """Forty runs left out made a twelve-line caption under Compare's chart (QA round 16)."""
    clip = Clip(low=50.0, high=500.0, peaks={f"run {i}": 600.0 + i for i in range(40)}, reason="twice the highest")
    assert clip.note() == ("Axis stops at 500.0, twice the highest: run 39 reaches 639.0; run 38 reaches 638.0; "
                           "run 37 reaches 637.0; and 37 more runs go past it.")
