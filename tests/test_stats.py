"""lmcore.stats: the t quantile, a mean with its interval, paired and Welch contrasts."""

import math

import pytest

from lmcore import stats


@pytest.mark.parametrize("df, expected", [(1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (29, 2.045),
                                          (100, 1.984)])
def test_t_quantile_matches_the_tables_to_three_decimals(df, expected):
    assert round(stats.t_quantile(0.975, df), 3) == expected


def test_t_quantile_other_probabilities_and_fractional_df():
    assert round(stats.t_quantile(0.95, 10), 3) == 1.812           # one-sided 5% table, df 10
    assert round(stats.t_quantile(0.995, 5), 3) == 4.032
    # Welch gives fractional df: the quantile lies between its integer neighbours.
    assert stats.t_quantile(0.975, 3) < stats.t_quantile(0.975, 2.5) < stats.t_quantile(0.975, 2)
    assert stats.t_cdf(0.0, 7) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        stats.t_quantile(0.3, 4)


def test_describe_a_known_sample():
    # 1, 2, 3, 4: mean 2.5, sd sqrt(5/3) = 1.2910, se = sd/2, interval 2.5 +- 3.182 * 0.6455.
    found = stats.describe([1.0, 2.0, 3.0, 4.0])
    assert found["mean"] == 2.5 and found["n"] == 4 and (found["min"], found["max"]) == (1.0, 4.0)
    assert found["sd"] == pytest.approx(math.sqrt(5 / 3))
    half = 3.182446305 * math.sqrt(5 / 3) / 2
    assert found["low"] == pytest.approx(2.5 - half) and found["high"] == pytest.approx(2.5 + half)


def test_one_value_has_no_interval_and_none_has_no_mean():
    assert stats.describe([80.0]) == {"mean": 80.0, "sd": None, "n": 1, "low": None, "high": None,
                                      "min": 80.0, "max": 80.0}
    assert stats.describe([])["mean"] is None
    one = stats.paired([-2.0])
    assert one["estimate"] == -2.0 and one["low"] is None and stats.verdict(one) == "no interval"
    assert stats.welch([1.0], [2.0, 3.0])["low"] is None


def test_paired_differences():
    # Differences -3, -1, -2: mean -2, sd 1, se 1/sqrt(3), df 2 (t = 4.303).
    found = stats.paired([-3.0, -1.0, -2.0])
    half = 4.302652730 / math.sqrt(3)
    assert found["estimate"] == -2.0 and found["n"] == 3 and found["df"] == 2
    assert (found["low"], found["high"]) == pytest.approx((-2.0 - half, -2.0 + half))
    assert stats.verdict(found) == "within noise"                    # -4.48 .. 0.48 contains 0
    assert stats.verdict(stats.paired([-3.0, -3.1, -2.9])) == "lower"


def test_welch_by_hand():
    # 1,2,3 vs 4,6,8: difference 4, variances 1 and 4, se^2 = 1/3 + 4/3, df = 2.941.
    found = stats.welch([1.0, 2.0, 3.0], [4.0, 6.0, 8.0])
    assert found["estimate"] == 4.0 and found["method"] == "welch" and found["n"] == 6
    assert found["df"] == pytest.approx((5 / 3) ** 2 / ((1 / 3) ** 2 / 2 + (4 / 3) ** 2 / 2))
    # t(0.975, 2.941) = 3.2188, between the table's 3.182 (df 3) and 4.303 (df 2); x 1.2910.
    assert (found["low"], found["high"]) == pytest.approx((4.0 - 4.1554, 4.0 + 4.1554), abs=1e-3)
    assert stats.verdict(found) == "within noise"


def test_contrast_without_spread_is_a_point():
    found = stats.contrast([(1.0, [5.0, 5.0]), (-1.0, [3.0, 3.0])])
    assert found["estimate"] == 2.0 and found["low"] == found["high"] == 2.0
    assert stats.verdict(found) == "higher"


def test_a_bound_that_prints_as_zero_is_not_a_clear_difference():
    """QA: 'variational vs vertical · best val: lower' with a high bound that printed as -0.00."""
    assert stats.verdict({"low": -3.2, "high": -0.004}) == "within noise"
    assert stats.verdict({"low": -0.03, "high": 2.1}) == "within noise"
    assert stats.verdict({"low": 0.04, "high": 2.1}) == "within noise"
    assert stats.verdict({"low": -3.2, "high": -0.06}) == "lower"
    assert stats.verdict({"low": 0.06, "high": 2.1}) == "higher"
    assert "over those pairs" in stats.METHOD and "over seeds" not in stats.METHOD


def test_bonferroni_confidence_for_comparisons_that_must_hold_together():
    # Three comparisons: each at 1 - 0.05/3; with df 1 the t quantile is tan(pi (p - 1/2)) exactly.
    assert stats.family_confidence(3) == pytest.approx(1 - 0.05 / 3) and stats.family_confidence(1) == 0.95
    assert stats.critical_value(1, stats.family_confidence(3)) == pytest.approx(math.tan(math.pi * (0.5 - 0.05 / 6)))
    assert stats.paired([-5.0, -4.6], stats.family_confidence(3))["high"] == pytest.approx(-4.8 + 38.188 * 0.2,
                                                                                          abs=1e-3)
