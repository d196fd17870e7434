"""A config as a shareable link and back: `?preset=NAME&key=value` for the keys that differ from
the preset. The Train page keeps its address bar equal to the config this way, so a reload, a
restart or a shared link comes back to the same controls.

Values that came from a link are checked against each key's one declaration (lmcore.config.RULES:
limits, choices, length), the same rule the engine validates with, so a link can never put a
control into a state the engine would refuse; a value outside it is ignored with one line.
"""

from __future__ import annotations

from pathlib import Path

from lmcore.config import (
    BUILTIN_DATASETS,
    KEYS,
    RULES,
    Config,
    ConfigError,
    coerce,
    key_problem,
    unknown_key_message,
)
from lmcore.presets import PRESETS

from .textview import shorten
from .uploads import dataset_label, is_upload

RESERVED_QUERY = {"run", "embed", "embed_options"}  # query keys that are not config keys


def preset_values(name: str) -> dict:
    """Every config key for a preset ('' = the engine's defaults)."""
    return (PRESETS[name].config() if name else Config()).to_dict()


def as_text(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def link_params(values: dict) -> dict[str, str]:
    """The URL query for a config: its preset plus every key that differs from that preset."""
    preset = values.get("preset") or ""
    base = preset_values(preset)
    out = {"preset": preset} if preset else {}
    out.update({k: as_text(values[k]) for k in KEYS if k != "preset" and values[k] != base[k]})
    return out


def described_name(values: dict, most: int = 3) -> str:
    """A name for a config started without one: its preset and the keys it changes, e.g. 'tiny ·
    dropout=0.3 · dropout_placement=variational', so legends and lists tell runs apart; '' when it
    changes nothing (the preset then names the run)."""
    changed = {k: v for k, v in link_params(values).items() if k not in ("preset", "name") and v != ""}  # no file yet
    if "dataset" in changed:
        changed["dataset"] = dataset_label(values["dataset"])  # an upload by the name it came with
    if not changed:
        return ""
    parts = [f"{key}={shorten(text, 24)}" for key, text in list(changed.items())[:most]]
    if len(changed) > most:
        parts.append(f"+{len(changed) - most} more")
    return " · ".join([values.get("preset") or "defaults", *parts])[:RULES["name"].max_length]


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


def parse_link(query: dict[str, str], uploads: Path) -> tuple[dict, list[str]]:
    """Config values from `?preset=NAME&key=value...`, and a warning per key that was ignored."""
    warnings = []
    preset = query.get("preset", "")
    if preset and preset not in PRESETS:
        warnings.append(f"unknown preset {shorten(preset)!r} (known: {', '.join(PRESETS)}); started from the defaults")
        preset = ""
    values = preset_values(preset)
    for key, text in query.items():
        if key == "preset" or key in RESERVED_QUERY:
            continue
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
