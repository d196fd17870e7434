"""The Compare page's shareable views: `?runs=a,b` (the runs shown side by side, with the chart
settings that differ from their defaults: `&x=epoch&log=0&smooth=0.3&barlog=0`) and `?group=G`
(the ablation grid shown), read from a link and written back as the selection changes.

A link is text from anyone: ids are only ever looked up among the runs on disk, never used as
paths, and what is not found (or a setting out of its range) is named in one line and otherwise
ignored.
"""

from __future__ import annotations

from lmcore.text import shorten

MAX_NAMED = 3  # the ignored ids a note spells out; the rest are counted


def runs_value(run_ids: list[str]) -> str:
    """The `runs` query value for a selection: ids joined by commas, in selection order."""
    return ",".join(run_ids)


def runs_from_link(text: str | None, known: set[str], named=None) -> tuple[list[str], list[str], list[str]]:
    """(the runs' ids in the link's order without repeats, the parts that name no run here, the parts
    that name several). A part is a run's id or, as the CLI reads a run (`named`: a part -> the ids of
    the runs whose name or id tail, else preset, it is: lmcore.summaries.runs_named), `book` or `823d`."""
    found, ignored, several = [], [], []
    for part in (part.strip() for part in (text or "").split(",")):
        if not part or part in found or part in ignored or part in several:
            continue
        ids = [part] if part in known else list(dict.fromkeys(named(part))) if named else []
        if len(ids) == 1:
            found.extend(ids if ids[0] not in found else [])
        else:
            (several if ids else ignored).append(part)
    return found, ignored, several


def several_note(several: list[str], named=None) -> str | None:
    """'The link's `tiny` names several runs here (ignored): give a run's id, or its last 4 characters.'
    With `named` (runs_from_link's), one such name lists its runs, as the CLI does: 'names 2 runs here
    (ignored): `20261129-…-a7dd`, `…`; give one's id, or its last 4 characters.'"""
    if not several:
        return None
    if named and len(several) == 1:
        ids = list(dict.fromkeys(named(several[0])))
        listed = ", ".join(f"`{shorten(run_id)}`" for run_id in ids[:MAX_NAMED])
        more = f" and {len(ids) - MAX_NAMED} more" if len(ids) > MAX_NAMED else ""
        return (f"The link's `{shorten(several[0])}` names {len(ids)} runs here (ignored): {listed}{more}; give "
                "one's id, or its last 4 characters.")
    named_text = ", ".join(f"`{shorten(item)}`" for item in several[:MAX_NAMED])
    more = f" and {len(several) - MAX_NAMED} more" if len(several) > MAX_NAMED else ""
    which = "names" if len(several) == 1 else "each name"
    return (f"The link's {named_text}{more} {which} several runs here (ignored): give a run's id, or its last 4 "
            "characters.")


def ignored_note(ignored: list[str], what: str = "run") -> str | None:
    """'The link names 2 runs that are not here (ignored): abc, xyz.' or None."""
    if not ignored:
        return None
    named = ", ".join(f"`{shorten(item)}`" for item in ignored[:MAX_NAMED])
    more = f" and {len(ignored) - MAX_NAMED} more" if len(ignored) > MAX_NAMED else ""
    plural = "s that are" if len(ignored) > 1 else " that is"
    return f"The link names {len(ignored)} {what}{plural} not here (ignored): {named}{more}."


# ---------------------------------------------------------------- the Runs view's chart settings
# They travel beside `runs` (`x=epoch&log=0&smooth=0.3&barlog=0`), each only when it differs from
# its default, so a link made with the defaults stays `?runs=a,b`.

# value -> axis title; a run's "time" is its training clock (lmcore Trainer.now): a stopped spell is not in it.
X_AXES = {"step": "training step", "epoch": "epoch", "time": "seconds of training (time stopped left out)"}
MAX_SMOOTHING = 0.99  # the slider's top: at 1 the curve would never move from its first point
CHART_DEFAULTS = {"x": "step", "log": True, "smooth": 0.6, "barlog": True}  # x axis, curves' log scale,
# the training curve's smoothing, the score bars' log scale
SWITCHES = {"1": True, "0": False, "true": True, "false": False, "on": True, "off": False}


def chart_query(settings: dict) -> dict[str, str]:
    """The query keys for chart settings: only those that differ from their defaults."""
    written = {}
    for key, default in CHART_DEFAULTS.items():
        value = settings.get(key, default)
        if key == "smooth":
            value = round(float(value), 2)  # the slider's step: 0.6000000000000001 is the default
        if value != default:
            written[key] = value if key == "x" else f"{value:g}" if key == "smooth" else str(int(value))
    return written


def chart_from_link(query: dict[str, str]) -> tuple[dict, list[str]]:
    """(every chart setting: the link's value where it has a valid one, else the default; one
    '`x=banana` (not step, epoch or time)' per value ignored)."""
    settings, ignored = dict(CHART_DEFAULTS), []
    for key in CHART_DEFAULTS:
        if key in query:
            try:
                settings[key] = _read_setting(key, query[key])
            except ValueError as why:
                ignored.append(f"`{key}={shorten(query[key])}` ({why})")
    return settings, ignored


def _read_setting(key: str, text: str):
    text = str(text).strip()
    if key == "x":
        if text not in X_AXES:
            raise ValueError("not " + ", ".join(list(X_AXES)[:-1]) + " or " + list(X_AXES)[-1])
        return text
    if key == "smooth":
        try:
            value = float(text)
        except ValueError:
            raise ValueError("not a number") from None
        if not 0 <= value <= MAX_SMOOTHING:  # nan and ±inf fail this too
            raise ValueError(f"not between 0 and {MAX_SMOOTHING:g}")
        return abs(round(value, 2))  # '-0' reads 0
    if text.lower() not in SWITCHES:
        raise ValueError("not 1 or 0")
    return SWITCHES[text.lower()]


def chart_note(ignored: list[str]) -> str | None:
    """'The link's chart setting `x=banana` (not step, epoch or time) is ignored; the default is used.'"""
    if not ignored:
        return None
    one = len(ignored) == 1
    return (f"The link's chart setting{'' if one else 's'} {'; '.join(ignored)} "
            f"{'is' if one else 'are'} ignored; the default{'' if one else 's'} {'is' if one else 'are'} used.")


# ---------------------------------------------------------------- the Runs view's filters
# Beside the chart settings, each only when set: `state=running&preset=tiny&preset=book&contains=drop`
# (a filter of several values repeats its key, so a value may hold a comma, as an upload's name can).

FILTER_KEYS = {"state": "state", "preset": "preset", "dataset": "dataset", "placement": "dropout placement",
               "contains": "name filter"}  # query key -> what a note calls it
TEXT_FILTER = "contains"                   # the one filter that is text, not a choice of values
MAX_FILTER_TEXT = 200                      # longer is no name filter anyone typed
# What the address's parser makes of a byte that is not UTF-8 (`contains=%E9`, Latin-1 é): filtering
# names by it matched nothing and said nothing, so it is named as ignored like any bad value.
NOT_UTF8 = "\ufffd"


def filters_query(filters: dict) -> dict[str, list[str]]:
    """The query keys for the filters as set, each a list of values (the text filter's one text);
    an empty filter is left out."""
    written = {}
    for key in FILTER_KEYS:
        value = filters.get(key)
        values = [value.strip()] if key == TEXT_FILTER and isinstance(value, str) else list(value or [])
        if any(values):
            written[key] = [str(v) for v in values]
    return written


def filters_from_link(query: dict[str, list[str]], allowed: dict[str, set]) -> tuple[dict, list[str]]:
    """(every filter: the link's values that may be chosen here (`allowed`: query key -> values),
    any text up to MAX_FILTER_TEXT for `contains`, else empty; one '`preset=banana` (no such preset
    here)' per value ignored). `query`: query key -> every value the link has for it."""
    filters, ignored = {key: "" if key == TEXT_FILTER else [] for key in FILTER_KEYS}, []
    for key in FILTER_KEYS:
        for text in (str(text).strip() for text in query.get(key, [])):
            if NOT_UTF8 in text and text not in allowed.get(key, ()):
                ignored.append(f"`{key}={shorten(text)}` (not UTF-8 text)")
            elif key == TEXT_FILTER and len(text) <= MAX_FILTER_TEXT:
                filters[key] = text  # the last one, as the address bar reads a repeated key
            elif key == TEXT_FILTER:
                ignored.append(f"`{key}={shorten(text)}` (longer than {MAX_FILTER_TEXT} characters)")
            elif text in allowed.get(key, ()):
                filters[key] += [] if text in filters[key] else [text]
            elif text:  # `?state=` is no filter, as an empty box is none
                ignored.append(f"`{key}={shorten(text)}` (no such {FILTER_KEYS[key]} here)")
    return filters, ignored


def filters_note(ignored: list[str]) -> str | None:
    """'The link's filter `state=banana` (no such state here) is ignored.'"""
    if not ignored:
        return None
    one = len(ignored) == 1
    return f"The link's filter{'' if one else 's'} {'; '.join(ignored)} {'is' if one else 'are'} ignored."
