"""The Generate page's top-k and seed, read from what was typed: each is used as typed,
clamped with a note that says so, or refused with a reason, never silently replaced by an
earlier value (a browser number box keeps an out-of-range number to itself).

Each reader returns (value, note): a value and no note when fine, a value and a note when
clamped, None and the reason when refused.
"""

from __future__ import annotations

from lmcore.config import SAMPLING_SEED_MAX as SEED_MAX
from lmcore.text import shorten

from .textview import md_escape


def whole_number(text: str) -> int | None:
    """`text` as a whole number ("1,000" and " 7 " read too), or None."""
    cleaned = str(text).strip().replace(",", "").replace("_", "")
    try:
        return int(cleaned)
    except ValueError:
        return None


def _quoted(text: str, limit: int = 40) -> str:
    """What was typed, shortened and shown literally in a markdown message."""
    return "“" + md_escape(shorten(str(text).strip(), limit)) + "”"


def read_top_k(text: str, vocabulary_size: int) -> tuple[int | None, str | None]:
    """Top-k for sampling: 0 means every word; above the vocabulary it is clamped to 0."""
    top_k = whole_number(text)
    if top_k is None or top_k < 0:
        return None, (f"Top-k must be 0 (every word) or a positive whole number, not {_quoted(text)}. "
                      "Nothing is generated until it is.")
    if top_k > vocabulary_size:
        return 0, (f"Top-k {top_k:,} is more than this vocabulary's {vocabulary_size:,} words, so it samples "
                   f"among all of them (the same as 0).")
    return top_k, None


def read_seed(text: str) -> tuple[int | None, str | None]:
    """The sampling seed: a whole number from 0 to SEED_MAX."""
    seed = whole_number(text)
    if seed is None or not 0 <= seed <= SEED_MAX:
        return None, (f"Seed must be a whole number from 0 to {SEED_MAX:,}, not {_quoted(text)}. "
                      "Nothing is generated until it is.")
    return seed, None
