"""Top-k and seed from what was typed: used, clamped with a note, or refused with a reason; the
numbers the Generate page's chart shows."""

import pytest
import torch

from explorer.sampling_settings import SEED_MAX, read_seed, read_top_k
from explorer.textview import fmt_prob, percent_tickformat


@pytest.mark.parametrize("typed,expected", [("0", 0), ("1", 1), (" 50 ", 50), ("1,000", 1000), ("1000", 1000)])
def test_top_k_within_the_vocabulary_is_used_as_typed(typed, expected):
    assert read_top_k(typed, 1000) == (expected, None)


def test_top_k_above_the_vocabulary_means_every_word_and_says_so():
    value, note = read_top_k("1001", 1000)
    assert value == 0 and "1,001 is more than this vocabulary's 1,000 words" in note


@pytest.mark.parametrize("typed", ["-1", "2.5", "", "ten", "1e3", "9" * 5000])
def test_top_k_that_is_not_a_count_is_refused(typed):
    value, note = read_top_k(typed, 1000)
    assert value is None and note.startswith("Top-k must be 0")


@pytest.mark.parametrize("typed,expected", [("0", 0), ("99,999", 99_999), ("4294967295", SEED_MAX)])
def test_seeds_that_draw_apart_are_used_as_typed(typed, expected):
    assert read_seed(typed) == (expected, None)


@pytest.mark.parametrize("typed", ["-1", "4294967296", "99999999999", "2.5", "", "seed", "`x`*"])
def test_other_seeds_are_refused_with_what_was_typed(typed):
    value, note = read_seed(typed)
    assert value is None and note.startswith("Seed must be a whole number from 0 to 4,294,967,295")


def draws(seed: int) -> list[int]:
    return torch.randint(0, 2**31, (8,), generator=torch.Generator().manual_seed(seed)).tolist()


def test_the_seed_limit_is_where_torch_starts_repeating():
    """A CPU torch.Generator keeps a seed's low 32 bits: the box took up to 2**64 - 1, and seed
    4294967296 wrote seed 0's text. Every seed taken draws apart; the first refused one repeats."""
    assert SEED_MAX == 2**32 - 1
    assert draws(SEED_MAX + 1) == draws(0) and draws(SEED_MAX + 6) == draws(5)   # why it stops there
    assert draws(SEED_MAX) != draws(0) and draws(2**31) != draws(0)


def test_lmcore_refuses_a_seed_past_the_limit_on_the_command_line_and_in_generate():
    from lmcore.cli import build_parser
    from lmcore.sampling import generate

    assert build_parser().parse_args(["sample", "run", "--seed", str(SEED_MAX)]).seed == SEED_MAX
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sample", "run", "--seed", str(SEED_MAX + 1)])
    with pytest.raises(ValueError, match="seed must be a whole number from 0 to 4,294,967,295"):
        generate(None, [], seed=SEED_MAX + 1)


def test_tiny_probabilities_and_hot_axes_read_as_percentages():
    """Bar labels read '6.76e-09%' at temperature 0.1; the axis read '0% 0% 0% 1% 1%' at 2.0."""
    assert fmt_prob(6.76e-11) == "<0.001%" and fmt_prob(0.00043) == "0.043%" and fmt_prob(0.1434) == "14.3%"
    assert fmt_prob(0.0) == "0%" and fmt_prob(1.0) == "100%"
    for highest, step in [(0.015, 0.002), (0.007, 0.001), (0.00012, 0.00002), (0.9, 0.1)]:
        tickformat = percent_tickformat(highest)
        decimals = int(tickformat[1:].split("~")[0])
        ticks = [f"{i * step * 100:.{decimals}f}%" for i in range(int(highest / step) + 1)]  # d3's, untrimmed
        assert len(set(ticks)) == len(ticks), (highest, ticks)


def test_a_long_refused_value_is_shortened_in_the_message():
    _, note = read_seed("x" * 500)
    assert "x" * 40 + "…" in note and "x" * 41 not in note
