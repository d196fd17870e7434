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


# ---------------------------------------------------------------- the settings in the address bar
# `?run=ID&checkpoint=last&prompt=the+market&temperature=0.5&words=50&top_k=40&seed=7`, each only when
# it differs from its default (the prompt from the run's own), so a reload or a shared link brings the
# settings back. A link is text from anyone: a value the page would not take is ignored with one note.

DEFAULTS = {"checkpoint": "best", "words": 30, "temperature": 1.0, "top_k": 0, "seed": 0}
LINK_KEYS = ("checkpoint", "prompt", *list(DEFAULTS)[1:])   # the query keys, in the order written
CHECKPOINTS = ("best", "last")
WORDS = (1, 200)                                  # the length slider's ends
TEMPERATURE = (0.1, 2.0, 0.05)                    # the temperature slider's ends and step
MAX_PROMPT = 500                                  # characters; a longer prompt stays out of the address
MAX_NUMBER_TEXT = 40                              # a top-k or seed longer than this is nobody's number


def read_link_value(key: str, text: str):
    """The value a link's `key=text` sets, or ValueError saying what the setting allows."""
    text = str(text)
    if key == "prompt":
        if len(text) > MAX_PROMPT:
            raise ValueError(f"longer than {MAX_PROMPT} characters")
        return text
    text = text.strip()
    if key == "checkpoint":
        if text not in CHECKPOINTS:
            raise ValueError("not best or last")
        return text
    if key == "temperature":
        return _temperature(text)
    number = whole_number(text) if len(text) <= MAX_NUMBER_TEXT else None
    if key == "words" and (number is None or not WORDS[0] <= number <= WORDS[1]):
        raise ValueError(f"not a whole number from {WORDS[0]} to {WORDS[1]}")
    if key == "seed" and (number is None or not 0 <= number <= SEED_MAX):
        raise ValueError(f"not a whole number from 0 to {SEED_MAX:,}")
    if key == "top_k" and (number is None or number < 0):
        raise ValueError("not 0 or a positive whole number")
    return number


def _temperature(text: str) -> float:
    low, high, step = TEMPERATURE
    try:
        value = float(text)
    except ValueError:
        raise ValueError("not a number") from None
    steps = (value - low) / step if low <= value <= high else None   # nan and ±inf fail this too
    if steps is None or abs(steps - round(steps)) > 1e-6:
        raise ValueError(f"not one of the slider's steps of {step:g} from {low:g} to {high:g}")
    return round(low + round(steps) * step, 2)


def _reading(key: str, text) -> tuple:
    """(the value, None) or (None, why it is refused) for a link's `key=text`."""
    try:
        return read_link_value(key, text), None
    except ValueError as why:
        return None, str(why)


def settings_from_link(query: dict[str, str]) -> tuple[dict, list[str]]:
    """(the settings a link sets: every key of DEFAULTS, the link's value where valid, else its
    default, and `prompt` only when the link has a valid one; one '`words=900` (not a whole number
    from 1 to 200)' per value ignored)."""
    read = {key: _reading(key, query[key]) for key in LINK_KEYS if key in query}
    ignored = [f"`{key}={shorten(str(query[key]))}` ({why})" for key, (_, why) in read.items() if why]
    return {**DEFAULTS, **{key: value for key, (value, why) in read.items() if not why}}, ignored


def settings_query(settings: dict, own_prompt: str) -> dict[str, str | None]:
    """The query keys for the settings as set: those that differ from their defaults (the prompt from
    `own_prompt`, the run's), as the link reader reads them back; None for a value the reader would
    refuse (a typed `ten`), so the address keeps the last good one."""
    written = {}
    for key in LINK_KEYS:
        value, why = _reading(key, settings.get(key))
        if why:
            written[key] = None
        elif value != (own_prompt if key == "prompt" else DEFAULTS[key]):
            written[key] = f"{value:g}" if key == "temperature" else str(value)
    return written


def link_note(ignored: list[str]) -> str | None:
    """'The link's setting `temperature=9` (not one of ...) is ignored; the default is used.'"""
    if len(ignored) == 1:
        return f"The link's setting {ignored[0]} is ignored; the default is used."
    return f"The link's settings {'; '.join(ignored)} are ignored; the defaults are used." if ignored else None
