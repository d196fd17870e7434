"""Top-k and seed from what was typed: used, clamped with a note, or refused with a reason."""

import pytest

from explorer.sampling_settings import SEED_MAX, read_seed, read_top_k


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


@pytest.mark.parametrize("typed,expected", [("0", 0), ("99999999999", 99_999_999_999), (str(SEED_MAX), SEED_MAX)])
def test_seeds_torch_takes_are_used_as_typed(typed, expected):
    assert read_seed(typed) == (expected, None)


@pytest.mark.parametrize("typed", ["-1", str(SEED_MAX + 1), "2.5", "", "seed", "`x`*"])
def test_other_seeds_are_refused_with_what_was_typed(typed):
    value, note = read_seed(typed)
    assert value is None and note.startswith("Seed must be a whole number from 0 to 18,446,744,073,709,551,615")


def test_a_long_refused_value_is_shortened_in_the_message():
    _, note = read_seed("x" * 500)
    assert "x" * 40 + "…" in note and "x" * 41 not in note
