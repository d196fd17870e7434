"""A config as a shareable link and back: `?preset=NAME&key=value` for the keys that differ from
the preset. The Train page keeps its address bar equal to the config this way, so a reload, a
restart or a shared link comes back to the same controls.

Values that came from a link are checked against what the page's controls accept (CHOICES,
BOUNDS), so a link can never put a control into a state it would refuse; lmcore.config.problems
stays the judge of the config itself.
"""

from __future__ import annotations

import re
from pathlib import Path

from lmcore.config import (
    AMP_MODES,
    BUILTIN_DATASETS,
    DEVICES,
    INITS,
    KEYS,
    OPTIMIZERS,
    PLACEMENTS,
    SCHEDULES,
    Config,
    ConfigError,
    coerce,
    unknown_key_message,
)
from lmcore.presets import PRESETS

RESERVED_QUERY = {"run", "embed", "embed_options"}  # query keys that are not config keys
CHOICES = {"dropout_placement": PLACEMENTS, "optimizer": OPTIMIZERS, "lr_schedule": SCHEDULES,
           "init": INITS, "device": DEVICES, "amp": AMP_MODES}
# Widget bounds stop obviously wrong input; lmcore.config.problems stays the judge. Default (0, None).
BOUNDS = {"layers": (1, None), "embed_size": (1, None), "hidden_size": (1, None), "batch_size": (1, None),
          "bptt": (1, None), "epochs": (1, None), "eval_batch_size": (1, None), "vocab_size": (3, None),
          "synthetic_tokens": (1000, None), "synthetic_vocab": (50, 20000), "dropout": (0.0, 0.99),
          "dropout_recurrent": (0.0, 0.99), "lr_decay": (0.0, 1.0)}


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


def value_problem(key: str, value, uploads: Path) -> str | None:
    """Why a value from a link cannot go into the controls (they would refuse it), or None."""
    if key in CHOICES and value not in CHOICES[key]:
        return f"choose one of {', '.join(CHOICES[key])}"
    if key == "dataset" and value not in BUILTIN_DATASETS:
        path = Path(value)
        if path.parent != uploads or not re.fullmatch(r"[0-9a-f]{64}\.txt", path.name):
            return "a link can only name ptb, synthetic or a file uploaded to this app"
    if clamp(key, value) != value:
        low, high = BOUNDS.get(key, (0, None))
        return f"must be at least {low}" + (f" and at most {high}" if high is not None else "")
    return None


def clamp(key: str, value):
    """A number moved into the range its widget accepts (anything else unchanged)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return value
    low, high = BOUNDS.get(key, (0, None))
    return min(max(value, type(value)(low)), type(value)(high)) if high is not None else max(value, type(value)(low))


def parse_link(query: dict[str, str], uploads: Path) -> tuple[dict, list[str]]:
    """Config values from `?preset=NAME&key=value...`, and a warning per key that was ignored."""
    warnings = []
    preset = query.get("preset", "")
    if preset and preset not in PRESETS:
        warnings.append(f"unknown preset {preset!r} (known: {', '.join(PRESETS)}); started from the defaults")
        preset = ""
    values = preset_values(preset)
    for key, text in query.items():
        if key == "preset" or key in RESERVED_QUERY:
            continue
        try:
            value = coerce(key, text) if key in KEYS else None
            # The engine's message lists all 43 keys when nothing is close: too much for a banner.
            unknown = unknown_key_message(key).split("; known")[0]
            problem = value_problem(key, value, uploads) if key in KEYS else unknown
        except ConfigError as error:
            problem = "; ".join(error.problems)
        if problem:
            warnings.append(f"ignored {key}={text!r}: {problem}")
        else:
            values[key] = value
    return values, warnings
