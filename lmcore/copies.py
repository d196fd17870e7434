"""A run's recipe trained again from step 0: `lmcore train --like RUN` (the Train page's Edit a copy
does the same for its form). The copy takes the run's config.json less what made it a fork, its grid
(a same-seed copy would count as one more seed of its cell, QA round 19) and a reference run's GPU,
with the user's changes on top, and says what it left out. Its name tells the truth about the
changes: a grid run's copy with another seed kept 'placement=variational seed=1' (QA round 21).
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import KEYS, Config
from .fork import named_changes, without_fork_keys
from .presets import as_text, described_name

DEFAULTS = Config().to_dict()
UNNAMED = ("name", "group")   # changes a copy's name does not spell out


@dataclass(frozen=True)
class LeftOut:
    """What a copy of a run does not take from its config.json, for each front end to say in its words."""

    parent: str | None = None    # the run it is a fork of: the copy trains from step 0
    group: str | None = None     # the grid it is in: the copy joins none
    device: str | None = None    # a reference run's GPU: the copy's device is auto
    newer: tuple[str, ...] = ()  # keys its config.json predates: the copy takes their defaults


def start_from(raw: dict, reference: bool, changed: set[str] = frozenset()) -> tuple[dict, LeftOut]:
    """(the copy's values before the user's changes, what they leave out) from a run's config.json
    `raw`; `changed`: the keys the user sets, which then need no word. The CLI's `train --like` and the
    Train page's Edit a copy both start here."""
    values = without_fork_keys(raw)
    group = values.pop("group", None)
    device = None
    if reference and values.get("device") not in (None, "auto") and "device" not in changed:
        device, values["device"] = values["device"], "auto"
    newer = tuple(key for key in KEYS if key not in raw and key not in changed and DEFAULTS[key] not in (None, ""))
    return values, LeftOut(raw.get("parent") or None, group if "group" not in changed else None, device, newer)


def predates(run: str, keys) -> str:
    """The words for keys a run's config.json has none of: an older version wrote it."""
    return (f"{run}'s config.json predates {', '.join(keys)}, so the copy takes "
            f"{'their defaults' if len(keys) > 1 else 'its default'} "
            f"({', '.join(f'{key}={as_text(DEFAULTS[key])}' for key in keys)})")


def recipe(raw: dict, run: str, reference: bool, changed: set[str]) -> tuple[dict, list[str]]:
    """(the copy's values before the changes, what it leaves out or takes anew, in the CLI's words)."""
    values, left = start_from(raw, reference, changed)
    notes = [f"it trains from step 0: {run} is a fork of {left.parent}"] if left.parent else []
    if left.group:
        notes.append(f"it joins no grid ({run} is in {left.group}; --set group={left.group} adds it to that grid as "
                     "one more run of its cell)")
    if left.device:
        notes.append(f"its device is auto (the reference run trained on {left.device})")
    if left.newer:
        notes.append(predates(run, left.newer))
    return values, notes


def copy_name(original: dict, copy: dict) -> str:
    """The copy's name: '' where the run's name was made from its changes (the copy's own then name it,
    as a new run's do), else the run's name with its key=value tokens showing the copy's values and the
    other changes after it ('my run · seed=3'). `original`: recipe()'s values; `copy`: the final config."""
    name = original.get("name") or ""
    before = {**DEFAULTS, **original}
    if not name or name == described_name({**before, "name": ""}):
        return ""
    changed = {key: copy[key] for key in KEYS if key not in UNNAMED and copy.get(key) != before.get(key)}
    own, extras = named_changes(name, changed)
    return " · ".join([own, *extras])


def from_config_json(problem: str, run: str, changed: set[str]) -> str:
    """A config problem said with where its value came from: a run's config.json can hold a value an
    older version let through, or one edited by hand, and the line named no file."""
    key = problem.partition(":")[0]
    return problem if key in changed else f"{problem} (from {run}'s config.json)"
