"""A run's recipe trained again from step 0: `lmcore train --like RUN` (the Train page's Edit a copy
does the same for its form). The copy takes the run's config.json less what made it a fork, its grid
(a same-seed copy would count as one more seed of its cell, QA round 19) and a reference run's GPU,
with the user's changes on top, and says what it left out. Its name tells the truth about the
changes: a grid run's copy with another seed kept 'placement=variational seed=1' (QA round 21).

A run on automatic CPU threads (`threads=0`) trained with the share of the cores it found, and another
count rounds differently: the copy keeps `threads=0` and says which count the run used and how to pin it
(docs/design.md, Reproducing a run, says why it does not pin it itself).
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import KEYS, Config
from .fork import named_changes, without_fork_keys
from .presets import as_text, described_name
from .threads import recorded_threads, threads_text

DEFAULTS = Config().to_dict()
UNNAMED = ("name", "group")   # changes a copy's name does not spell out


@dataclass(frozen=True)
class LeftOut:
    """What a copy of a run does not take from its config.json, for each front end to say in its words."""

    parent: str | None = None    # the run it is a fork of: the copy trains from step 0
    group: str | None = None     # the grid it is in: the copy joins none
    device: str | None = None    # a reference run's GPU: the copy's device is auto
    newer: tuple[str, ...] = ()  # keys its config.json predates: the copy takes their defaults
    threads: tuple[int, ...] = ()  # the CPU thread counts it trained with on automatic threads: the copy takes
                                   # its own share, which may round differently (threads_words)


def start_from(raw: dict, reference: bool, changed: set[str] = frozenset(),
               status: dict | None = None) -> tuple[dict, LeftOut]:
    """(the copy's values before the user's changes, what they leave out) from a run's config.json
    `raw`; `changed`: the keys the user sets, which then need no word; `status`: the run's status.json,
    for the CPU threads it trained with. The CLI's `train --like` and the Train page's Edit a copy both
    start here."""
    values = without_fork_keys(raw)
    group = values.pop("group", None)
    device = None
    if reference and values.get("device") not in (None, "auto") and "device" not in changed:
        device, values["device"] = values["device"], "auto"
    newer = tuple(key for key in KEYS if key not in raw and key not in changed and DEFAULTS[key] not in (None, ""))
    return values, LeftOut(raw.get("parent") or None, group if "group" not in changed else None, device, newer,
                           automatic_threads(raw, status or {}, changed))


def automatic_threads(raw: dict, status: dict, changed) -> tuple[int, ...]:
    """The thread counts a CPU run on automatic threads trained with (status `threads_used`); () when its
    config pinned a count (the copy pins the same), it trained on a GPU, the user sets `threads`, or its
    status predates the record."""
    if raw.get("threads") not in (None, 0) or "threads" in changed or status.get("device") != "cpu":
        return ()
    return recorded_threads(status)


def threads_words(run: str, counts: tuple[int, ...], pin: str = "--set threads={n}") -> str:
    """What a copy of a run on automatic threads may train differently, in one sentence; `pin`: the front
    end's words for a thread count `n`. Measured (docs/design.md, Reproducing a run): 1 and 2 threads
    differed by relative 3e-7 at most in 298 steps' losses and gradient norms, the same count not at all."""
    if len(counts) > 1:
        return (f"{run} trained with {threads_text(counts)} (its automatic share of the cores changed as other "
                "training came and went), so no thread count trains the same numbers bit for bit: a copy's "
                "differ in float rounding (about 1e-7 relative)")
    return (f"{run} trained with {threads_text(counts)} (its automatic share of the cores); the copy takes its own "
            "share, and another count rounds differently (about 1e-7 relative): "
            f"{pin.format(n=counts[0])} trains the same numbers bit for bit")


def predates(run: str, keys) -> str:
    """The words for keys a run's config.json has none of: an older version wrote it."""
    return (f"{run}'s config.json predates {', '.join(keys)}, so the copy takes "
            f"{'their defaults' if len(keys) > 1 else 'its default'} "
            f"({', '.join(f'{key}={as_text(DEFAULTS[key])}' for key in keys)})")


def recipe(raw: dict, run: str, reference: bool, changed: set[str],
           status: dict | None = None) -> tuple[dict, list[str], str | None]:
    """(the copy's values before the changes, what it leaves out or takes anew, and what its thread count
    may change (threads_words) or None, in the CLI's words)."""
    values, left = start_from(raw, reference, changed, status)
    notes = [f"it trains from step 0: {run} is a fork of {left.parent}"] if left.parent else []
    if left.group:
        notes.append(f"it joins no grid ({run} is in {left.group}; --set group={left.group} adds it to that grid as "
                     "one more run of its cell)")
    if left.device:
        notes.append(f"its device is auto (the reference run trained on {left.device})")
    if left.newer:
        notes.append(predates(run, left.newer))
    return values, notes, threads_words(run, left.threads) if left.threads else None


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
