"""A config as a shareable link and back: `?preset=NAME&key=value` for the keys that differ from
the preset. The Train page keeps its address bar equal to the config this way, so a reload, a
restart or a shared link comes back to the same controls.

Values that came from a link are checked against each key's one declaration (lmcore.config.RULES:
limits, choices, length), the same rule the engine validates with, so a link can never put a
control into a state the engine would refuse; a value outside it is ignored with one line.
"""

from __future__ import annotations

from pathlib import Path

from lmcore import presets
from lmcore.config import (
    BUILTIN_DATASETS,
    KEYS,
    RULES,
    ConfigError,
    coerce,
    key_problem,
    unknown_key_message,
)
from lmcore.presets import PRESETS, changed_keys, preset_values
from lmcore.text import shorten

from .uploads import dataset_label, is_upload

# The Watch tab's reference runs drawn beside the run (`overlay=book,variational-medium`) and their
# x axis (`overlay_x=share`, left out at its default).
OVERLAY_KEYS = ("overlay", "overlay_x")
CHART_KEYS = ("log", "smooth")  # Train's chart: its log scale and smoothing, written as Compare writes them
TRAIN_TABS = ("setup", "watch")  # Train's `tab`: written only where it is not the address's own (watch with a run)
VIEW_KEYS = (*OVERLAY_KEYS, *CHART_KEYS, "tab")  # what Train shows and how it draws the run, beside its config
RESERVED_QUERY = {"run", "embed", "embed_options", *VIEW_KEYS}  # query keys that are not config keys
MAX_NAMED = 3  # the unknown names a warning spells out; the rest are counted


def link_params(values: dict) -> dict[str, str]:
    """The URL query for a config: its preset plus every key that differs from that preset."""
    preset = values.get("preset") or ""
    changed = changed_keys(values)
    if is_upload(changed.get("dataset", "")):  # its name alone: the server's folders stay out of shared links
        changed["dataset"] = Path(changed["dataset"]).name
    return {**({"preset": preset} if preset else {}), **changed}


def described_name(values: dict, most: int = 3) -> str:
    """presets.described_name, with an upload shown by the name it came with."""
    return presets.described_name(values, most, dataset_label)


def value_problem(key: str, value, uploads: Path) -> str | None:
    """Why a value from a link cannot go into the controls, or None: the key's own rule, and a
    dataset path must be a file uploaded to this app (a link must not read the server's files)."""
    if key == "dataset" and value not in BUILTIN_DATASETS:
        path = Path(value)
        if path.parent != uploads or not is_upload(path):
            return "a link can only name ptb, synthetic or a file uploaded to this app"
    return key_problem(key, value)


def clamp(key: str, value):
    """A number moved into its key's limits (an open end counts as closed: the widget's bound),
    for a run's config the controls must show; anything else unchanged."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return value
    rule = RULES[key]
    if rule.low is not None:
        value = max(value, type(value)(rule.low))
    return min(value, type(value)(rule.high)) if rule.high is not None else value


def parse_link(query: dict[str, str], uploads: Path, fallback: str = "") -> tuple[dict, list[str]]:
    """Config values from `?preset=NAME&key=value...`, and a warning per key that was ignored. An
    unknown preset starts from `fallback` (a preset's name; "" the config's defaults): a garbled
    link landed a student on the book recipe, hours on a CPU (QA round 11)."""
    warnings = []
    preset = query.get("preset", "")
    if preset and preset not in PRESETS:
        start = f"the {fallback} preset" if fallback else "the defaults"
        warnings.append(f"unknown preset {shorten(preset)!r} (known: {', '.join(PRESETS)}); started from {start}")
        preset = fallback
    values = preset_values(preset)
    for key, text in query.items():
        if key == "preset" or key in RESERVED_QUERY:
            continue
        if key == "dataset" and is_upload(text) and Path(text).name == text:  # link_params' bare upload name
            text = str(uploads / text)
        try:
            value = coerce(key, text) if key in KEYS else None
            problem = value_problem(key, value, uploads) if key in KEYS else unknown_key_message(shorten(key))
        except ConfigError as error:
            problem = "; ".join(p.removeprefix(f"{key}: ") for p in error.problems)  # the key leads already
        if problem:
            warnings.append(f"ignored {shorten(key)}={shorten(text)!r}: {problem}")
        else:
            values[key] = value
    return values, warnings


# A link's warnings shown one by one; past these, one line counts the rest (QA round 11: a link of 200
# unknown keys drew 200 warning boxes).
WARNINGS_SHOWN = 4


def shown_warnings(warnings: list[str]) -> list[str]:
    """The first WARNINGS_SHOWN of a link's warnings and, past them, one line that counts the rest."""
    if len(warnings) <= WARNINGS_SHOWN + 1:
        return warnings
    return warnings[:WARNINGS_SHOWN] + [f"and {len(warnings) - WARNINGS_SHOWN:,} more of its values were ignored "
                                        "as well"]


def overlay_query(names: list[str], axis: str, default_axis: str) -> dict[str, str]:
    """The URL keys for the reference runs drawn beside a run, by name, and their axis where it is not
    the default; {} when none is drawn (the axis then means nothing)."""
    if not names:
        return {}
    return {"overlay": ",".join(names), **({"overlay_x": axis} if axis != default_axis else {})}


def overlay_from_link(query: dict[str, str], known: list[str], axes: list[str]) -> tuple[list[str], str, list[str]]:
    """(the names in `overlay` that are reference runs here, in the link's order without repeats; the
    axis `overlay_x` names, else the first of `axes`; a warning per key whose values were ignored).
    A link is text from anyone: names are only looked up among `known`."""
    chosen, unknown = [], []
    for name in (part.strip() for part in str(query.get("overlay", "")).split(",")):
        if name and name not in chosen and name not in unknown:
            (chosen if name in known else unknown).append(name)
    warnings = []
    if unknown:
        named = ", ".join(repr(shorten(name)) for name in unknown[:MAX_NAMED])
        more = f" and {len(unknown) - MAX_NAMED} more" if len(unknown) > MAX_NAMED else ""
        which = "that name" if len(unknown) == 1 else "those names"
        warnings.append(f"ignored overlay {named}{more}: no reference run of {which} here "
                        f"(there are {', '.join(known) or 'none'})")
    axis = str(query.get("overlay_x", axes[0])).strip()
    if axis not in axes:
        warnings.append(f"ignored overlay_x={shorten(axis)!r}: must be {' or '.join(axes)}")
        axis = axes[0]
    return chosen, axis, warnings
