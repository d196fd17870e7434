"""Forking a run: a new run that starts from one of its parent's checkpoints with a few keys changed.

The fork's folder gets the parent's weights, optimizer, schedule, random state, carried LSTM
state and position (step, epoch, window) from the chosen checkpoint, written as its own
`checkpoints/last.pt`, so `resume` (lmcore.session) continues from exactly there. Its logs start
empty and its steps continue from the parent's, so parent and fork drawn on one step axis show
the branch. Its config records `parent`, `fork_from` and `fork_step`.

A fork is written `stopped` at its fork step, not `queued`: the queue worker starts every queued
folder it sees, so a fork made to be started later (`lmcore fork --no-start`) would train as soon
as any page opened. Whoever forks starts it (the form launches it, the command trains it), else it
waits for a person: `resume`, or Resume on the Train page.

A fork's results are its own: its best validation, best.pt and test perplexity come from weights it
trained after the fork step. Where it started (the validation of its starting checkpoint) is kept
apart, as `start_val_ppl` and `start_epoch` in its status and `start_val` in its checkpoints, for
the pages and for the plateau schedule (lmcore.train.Trainer.plateau_reference).

Only keys that do not change what the checkpoint holds may change: dropout (it only decides
which masks are drawn; no parameter depends on it), the learning rate and its schedule, how
long to train, clipping, the seed, and bookkeeping. Everything is checked before anything is
written: a refused fork creates nothing.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import torch

from .ablation import SHORT, inert_settings
from .checkpoints import (
    checkpoint_sources,
    config_drift,
    drift_text,
    load_checkpoint,
    no_checkpoint_reason,
    source_path,
)
from .config import KEYS, MAX_TEXT, ConfigError, coerce, from_dict, unknown_key_message, validate
from .epochs import epoch_steps_from_plan
from .errors import RunError
from .jsonl import json_count, json_number, read_jsonl
from .model import LanguageModel
from .presets import as_text
from .runs import (
    ID_LABEL_CHARS,
    RunWriter,
    create_run,
    id_slug,
    read_config,
    read_json,
    read_status,
    refuse_reference,
    run_path,
)
from .schedule import Schedule
from .summaries import summarize

ALLOWED = ("dropout", "dropout_placement", "dropout_recurrent", "lr", "lr_schedule", "lr_decay", "decay_start",
           "epochs", "max_steps", "clip", "seed", "name", "threads", "eval_every", "checkpoint_every", "log_every",
           "sample_prompt", "sample_words", "sample_temperature", "keep_epoch_checkpoints")
# Why a key stays the parent's: one reason per kind of key.
_SHAPES = "the weights' shapes come from the parent's checkpoint"
_DATA = "the fork continues on the parent's text and vocabulary, at the checkpoint's position in it"
_REASONS = {
    **dict.fromkeys(("layers", "embed_size", "hidden_size", "tie_weights"), _SHAPES),
    **dict.fromkeys(("dataset", "vocab_size", "train_tokens", "valid_tokens", "test_tokens", "synthetic_tokens",
                     "synthetic_vocab", "data_seed"), _DATA),
    **dict.fromkeys(("batch_size", "bptt"), "the position in the text and the carried LSTM state are counted in "
                                            "the parent's batch rows and windows"),
    **dict.fromkeys(("init", "init_range"), "the weights come from the checkpoint, not from an initialisation"),
    **dict.fromkeys(("optimizer", "weight_decay"), "the optimizer and its state (moments, decay) come from the "
                                                   "checkpoint"),
    "eval_batch_size": "validation must be measured as the parent's was, to compare the branches",
    **dict.fromkeys(("device", "amp", "compile"), "the fork trains where and how its parent did"),
    "group": "an ablation grid's runs are made by `grid`; a fork joins no grid",
    "preset": "the recipe is the parent's",
    **dict.fromkeys(("parent", "fork_from", "fork_step"), "written by fork itself"),
}
# A copy of a fork's config that trains from scratch is not a fork (without_fork_keys).
FORK_KEYS = ("parent", "fork_from", "fork_step")
# Keys whose text in a name is not their value (a file's label, a shortened prompt): never rewritten.
_TEXT_KEYS = ("dataset", "name", "group", "preset", "sample_prompt", "device", *FORK_KEYS)
# A parent's name up to this long leaves the fork's changes after it still in view where a list cuts
# names (Compare's run column shows about 44 characters); a longer one gets them in front.
SHORT_NAME = 24
CONTINUED = {"model", "optimizer", "schedule", "rng", "progress", "hidden", "vocab_size"}  # what a checkpoint must hold


def refused(changes: dict) -> list[str]:
    """One line per key a fork may not change: unknown keys first get the nearest key."""
    lines = []
    for key in changes:
        if key not in KEYS:
            lines.append(unknown_key_message(key))
        elif key not in ALLOWED:
            reason = _REASONS.get(key, "it is not one of " + ", ".join(ALLOWED))
            lines.append(f"{key}: a fork cannot change it: {reason}")
    return lines


def read_changes(changes: dict) -> dict:
    """Typed values (from text or JSON) of the allowed keys; every problem at once."""
    found = refused(changes)
    typed = {}
    for key, value in changes.items():
        if key in ALLOWED:
            try:
                typed[key] = coerce(key, value)
            except ConfigError as error:
                found.extend(error.problems)
    if found:
        raise ConfigError(found)
    return typed


def without_fork_keys(config: dict) -> dict:
    """A run's config to train again from scratch: what made it a fork is left out, the
    "fork from <source>" of its name too (recipe_name)."""
    copy = {key: value for key, value in config.items() if key not in FORK_KEYS}
    if isinstance(copy.get("name"), str):
        copy["name"] = recipe_name(copy["name"], config)
    return copy


def with_values(name: str, values: dict) -> tuple[str, list[str]]:
    """`name` with each `key=value` token of a key in `values` (or its grid short word, "placement")
    showing that value, e.g. 'placement=vertical dropout=0.2 seed=1' with dropout 0.5 reads
    'placement=vertical dropout=0.5 seed=1'; and the keys of `values` the name holds no token of."""
    missing = []
    for key, value in values.items():
        words = "|".join(re.escape(word) for word in sorted({key, SHORT.get(key, key)}))
        text = as_text(value).replace("\\", "\\\\")  # a replacement template: its backslashes escaped
        name, count = re.subn(rf"(?<![\w=])({words})=[^\s·]+", rf"\1={text}", name)
        if not count:
            missing.append(key)
    return name, missing


def named_changes(name: str, changed: dict) -> tuple[str, list[str]]:
    """`name` showing the values of `changed` in its own key=value tokens (with_values), and the rest of
    the changes as 'key=value' words, three at most and '+N more'."""
    own, rest = with_values(name, changed)
    more = [f"+{len(rest) - 3} more"] if rest[3:] else []
    return own, [f"{key}={as_text(changed[key])}" for key in rest[:3]] + more


def fork_name(parent_name: str, source: str, changed: dict) -> str:
    """The name of a fork that changes `changed`: its parent's with the changed keys' tokens showing
    the fork's own values, and the changes its name holds no token of: after 'fork from <source>'
    for a short parent name ('tiny · fork from best · dropout=0.5'), in front of a long one, where a
    list that cuts names still shows them ('max_steps=80 · placement=vertical dropout=0.5 seed=1 ·
    fork from best'). A grid run's name once put its parent's dropout=0.2 first (QA round 10)."""
    own, extras = named_changes(parent_name, changed)
    mark = f"fork from {source}"
    if len(own) <= SHORT_NAME or not extras:
        return " · ".join([own, mark, *extras])
    return " · ".join([*extras, own, mark])


def recipe_name(name: str, config: dict) -> str:
    """A fork's name (fork_name) without its 'fork from <source>', for a run of its recipe trained
    from scratch: 'tiny · fork from best · dropout=0.5' is 'tiny · dropout=0.5'. Its tokens show the
    config's values (forks named before fork_name kept their parent's: 'dropout=0.2 · ... · dropout=0.5'
    keeps one dropout=0.5). A name without the mark of the config's fork_from is left as it is."""
    source = config.get("fork_from")
    mark = f" · fork from {source}"
    head, found, tail = name.partition(mark)
    if not isinstance(source, str) or not found or (tail and not tail.startswith(" · ")):
        return name
    values = {key: value for key, value in config.items() if key in KEYS and key not in _TEXT_KEYS}
    head, _ = with_values(head, values)
    held = set(re.findall(r"(?<![\w=])([a-z_]+)=", head))
    rest = [part for part in tail.split(" · ")[1:]
            if not re.fullmatch(r"([a-z_]+)=[^\s·]+", part) or part.split("=")[0] not in held]
    return " · ".join([head, *rest])


def starting_validation(parent, step: int) -> dict | None:
    """The validation of the parent's weights at `step` ({"ppl", "epoch"}), if known: its own
    validation line there, or, for a parent that is itself a fork and has not trained past its
    fork step, where that fork started."""
    log = Path(parent) / "metrics.jsonl"
    try:
        info = log.stat()
        found = _validation_at(str(log), step, info.st_mtime_ns, info.st_size)
    except OSError:
        found = None
    if found:
        return dict(found)
    config = read_config(Path(parent)) or {}
    return fork_start(parent) if config.get("fork_step") == step else None


@functools.lru_cache(maxsize=64)
def _validation_at(log: str, step: int, *modified) -> dict | None:
    """The last validation line at `step` of a log as {"ppl", "epoch"}; kept while the file is
    unchanged: the Train page asks every 2 s for an older fork, whose start is in its parent's log."""
    records = [r for r in read_jsonl(Path(log)) if r.get("kind") == "val"
               and r.get("step") == step and json_number(r.get("ppl")) is not None]
    return {"ppl": records[-1]["ppl"], "epoch": json_count(records[-1].get("epoch"))} if records else None


def fork_start(folder, parent=None, config: dict | None = None, status: dict | None = None) -> dict | None:
    """Where the fork in `folder` started: {"ppl", "epoch"} of its starting checkpoint's validation,
    or None (no fork, or the parent did not validate there). Its status holds it; forks made before
    it did are looked up in the parent's log (`parent`: its folder, else one beside the fork).
    A page passes the `config` and `status` its run summary already holds, so a rerun reads no file
    for a fork made since."""
    folder = Path(folder)
    config = (read_config(folder) or {}) if config is None else config
    status = (read_json(folder / "status.json") or {}) if status is None else status
    if not isinstance(config.get("fork_step"), int) or not isinstance(config.get("parent"), str):
        return None
    if "start_val_ppl" in status:  # null: the parent did not validate at the fork step
        known = json_number(status["start_val_ppl"]) is not None
        return {"ppl": status["start_val_ppl"], "epoch": json_count(status.get("start_epoch"))} if known else None
    try:
        parent = Path(parent) if parent is not None else run_path(folder.parent, config["parent"])
    except RunError:  # a parent id edited into a path
        return None
    return starting_validation(parent, config["fork_step"]) if parent.is_dir() else None


def start_seconds(folder, config: dict, status: dict) -> float | None:
    """The training time a fork's log starts from, the parent's at its checkpoint (its `time` and
    `elapsed` go on from there): 0.0 for a run that is no fork; its status's `start_seconds`; for a fork
    made before that was kept, the time of the parent's last log line at the fork step; None when
    neither is known (the parent gone or its log cut)."""
    if not isinstance(config.get("fork_step"), int) or not isinstance(config.get("parent"), str):
        return 0.0
    if json_number(status.get("start_seconds")) is not None:
        return status["start_seconds"]
    try:
        log = run_path(Path(folder).parent, config["parent"]) / "metrics.jsonl"
    except RunError:   # a parent id edited into a path
        return None
    lines = [r for r in read_jsonl(log) if r.get("step") == config["fork_step"]] if log.is_file() else []
    return json_number(lines[-1].get("time")) if lines else None


def _load_source(parent, source: str) -> dict:
    path = source_path(parent, source)
    fork_step = (read_config(parent) or {}).get("fork_step")
    if source == "best" and not path.exists() and isinstance(fork_step, int):
        # A fork's best.pt holds weights it trained; its starting weights are no best of its own.
        raise RunError(f"{parent.name} has no best checkpoint yet: it is a fork that has not validated since "
                       f"its fork step ({fork_step:,}), and its best counts only its own training; fork from "
                       "last (where it stands now), or fork its parent")
    if not path.exists():
        kept = checkpoint_sources(parent)
        choices = f"it has {', '.join(kept)}" if kept else no_checkpoint_reason(parent, read_status(parent))
        raise RunError(f"{parent.name} has no {source} checkpoint (checkpoints/{path.name}); {choices}")
    payload = load_checkpoint(path)
    if not isinstance(payload, dict) or not CONTINUED <= set(payload):
        raise RunError(f"{parent.name}: checkpoints/{path.name} lacks the state a fork continues from")
    return payload


def windows_per_epoch(parent: Path, payload: dict) -> int | None:
    """Training windows in one of the parent's epochs: from the checkpoint (written since forks
    exist), else from its status when max_steps did not cut the plan short."""
    known = payload["progress"].get("windows")
    if isinstance(known, int):
        return known
    status, config = read_json(parent / "status.json") or {}, payload.get("config") or {}
    return epoch_steps_from_plan(status.get("total_steps"), config.get("epochs"), config.get("max_steps"))


def finish_epoch(parent: Path, payload: dict) -> dict:
    """A best.pt that an epoch's final validation wrote before that epoch's bookkeeping (window =
    windows; runs trained before best.pt became a link of last.pt there): do the bookkeeping as the
    trainer would next (the schedule's step, the next epoch), so the fork starts where the parent's
    next step started. It was an improvement, so plateau holds."""
    progress = payload["progress"]
    if not ends_epoch(parent, payload):
        return payload
    schedule = Schedule(from_dict(payload["config"]))
    schedule.load_state_dict(payload["schedule"])
    schedule.after_epoch(progress["epoch"], progress["best_val"], None)
    payload["schedule"] = schedule.state_dict()
    payload["progress"] = {**progress, "epoch": progress["epoch"] + 1, "window": 0}
    return payload


def ends_epoch(parent: Path, payload: dict) -> bool:
    """Whether a best.pt was written after an epoch's last window, before its bookkeeping."""
    progress, windows = payload["progress"], windows_per_epoch(parent, payload)
    if progress["window"] == 0 or (windows is not None and progress["window"] < windows):
        return False
    if windows is None:
        raise RunError(f"{parent.name}: cannot tell whether its {progress['step']:,}-step checkpoint ends an epoch; "
                       "fork from last or epoch:N")
    return True


def fork_position(parent, source: str) -> dict | None:
    """Where a fork of `parent` from `source` starts: {"step", "epoch", "window"} as the trainer
    will continue (finish_epoch done), or None for a missing or unreadable checkpoint. Read mapped
    (a few ms) and kept while the file is unchanged: the Train page's form asks every 2 s."""
    try:
        path = source_path(Path(parent), source)
        info = path.stat()
    except (RunError, OSError):
        return None
    found = _position(str(parent), source, str(path), info.st_mtime_ns, info.st_size)
    return dict(found) if found else None


@functools.lru_cache(maxsize=64)
def _position(parent: str, source: str, path: str, *modified) -> dict | None:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        progress = {key: int(payload["progress"][key]) for key in ("step", "epoch", "window")}
        if source == "best" and ends_epoch(Path(parent), payload):
            progress.update(epoch=progress["epoch"] + 1, window=0)
    except Exception:  # a torn, foreign or older file: the form offers the parent's own limits
        return None
    return progress


def nothing_left(epochs: int, max_steps: int | None, progress: dict) -> bool:
    """Whether a fork from `progress` with these limits would stop before its first step."""
    return epochs < progress["epoch"] or (max_steps is not None and max_steps <= progress["step"])


def trainable_limits(epochs: int, max_steps: int | None, progress: dict) -> dict:
    """{"epochs", "max_steps"}: the parent's, raised where they leave a fork from `progress` nothing
    to train. A finished run's end gets one more epoch; a run stopped by its max_steps gets as many
    steps again (40 -> 80 from step 40), so the form's defaults always train (QA round 10)."""
    if epochs < progress["epoch"]:
        epochs = progress["epoch"]
    if max_steps is not None and max_steps <= progress["step"]:
        max_steps = progress["step"] + max_steps
    return {"epochs": epochs, "max_steps": max_steps}


def _fork_config(parent, raw: dict, payload: dict, source: str, changes: dict):
    """The fork's validated config: the parent's, the changes, the lr it starts with, the bookkeeping;
    and the label its folder id is made of (id_label)."""
    progress = payload["progress"]
    base = from_dict(raw)  # config.build skips the lmcore_version bookkeeping key
    changed = {k: v for k, v in changes.items() if k != "name" and v != getattr(base, k)}
    # Named for what it changes, so a list of forks tells them apart.
    name = changes.get("name") or fork_name(recipe_name(summarize(parent).name, raw), source, changed)
    cfg = base.replace(**{**changes, "name": name[:MAX_TEXT], "group": "", "parent": parent.name, "fork_from": source,
                          "fork_step": progress["step"]})
    # Without a new lr the fork starts at the parent's lr at that point (a schedule may have lowered it).
    cfg = cfg.replace(lr=changes.get("lr", float(payload["schedule"]["lr"])))
    validate(cfg)
    unread = unread_changes(cfg, changed)
    if changed and len(unread) == len(changed):  # it would train exactly as the parent goes on
        raise ConfigError([f"nothing it changes can act: {line}" for line in unread])
    if nothing_left(cfg.epochs, cfg.max_steps, progress):
        raise ConfigError(f"nothing left to train: the checkpoint is at step {progress['step']:,} (epoch "
                          f"{progress['epoch']}, window {progress['window']}) and the fork stops at epochs="
                          f"{cfg.epochs}, max_steps={cfg.max_steps}; raise epochs or max_steps")
    return cfg, id_label(cfg.name, changed)


def id_label(name: str, changed: dict) -> str:
    """What a fork's folder id is made of: its name, or where the id's 32 characters would not reach
    its changes, the changes first ('dropout=0.5 max_steps=80 fork of placement=...'): an id once
    read 'placement-vertical-dropout-0-2-s' for a fork with dropout 0.5 (QA round 10)."""
    changes = [f"{key}={as_text(value)}" for key, value in changed.items()]
    # A name that starts with the changes already shows them (QA round 19: 'dropout-0-3-fork-of-dropout-0-3').
    head = id_slug(name)[:ID_LABEL_CHARS]
    if not changed or len(id_slug(name)) <= ID_LABEL_CHARS or all(id_slug(change) in head for change in changes):
        return name
    return " ".join([*changes, "fork of", name])


def unread_changes(cfg, changed) -> list[str]:
    """The ablation.inert_settings lines of the keys in `changed`: a fork's changes that cannot act
    (dropout with placement none, say)."""
    return [line for line in inert_settings(cfg) if line.split("=", 1)[0] in changed]


def _fork_payload(payload: dict, cfg, start_val: float | None) -> dict:
    """The checkpoint the fork resumes from: the parent's, with the fork's lr, seed and config."""
    for group in payload["optimizer"]["param_groups"]:
        group["lr"] = cfg.lr              # load_state_dict restores the groups' lr: it must be the new one
    payload["schedule"] = {**payload["schedule"], "lr": cfg.lr}
    if cfg.seed != payload.get("config", {}).get("seed"):
        # A new seed draws new masks from the fork on; the CUDA stream is seeded by Trainer from cfg.seed.
        payload["rng"] = {"torch": torch.Generator().manual_seed(cfg.seed).get_state()}
    # The fork's best is its own: none until it validates, so best.pt and the test are weights it
    # trained. Where it started stays apart, for the plateau schedule (Trainer.plateau_reference).
    payload["progress"] = {**payload["progress"], "best_val": None, "start_val": start_val}
    payload["config"] = cfg.to_dict()
    return payload


def check_shapes(cfg, payload: dict) -> None:
    """The fork's model must hold exactly the checkpoint's tensors. Dropout is no module, so no
    placement changes them; this guards the rule should a placement ever own parameters."""
    with torch.device("meta"):  # shapes only: no memory, no initialisation work
        wanted = {k: tuple(v.shape) for k, v in LanguageModel(payload["vocab_size"], cfg).state_dict().items()}
    held = {k: tuple(v.shape) for k, v in payload["model"].items()}
    if wanted != held:
        differing = sorted(set(wanted.items()) ^ set(held.items()))
        raise ConfigError(f"dropout_placement: {cfg.dropout_placement} needs other parameters than the "
                          f"checkpoint holds ({differing[0][0]}, ...); a fork cannot change them")


def held_status(cfg, payload: dict, windows: int | None) -> dict:
    """The fork's status.json before anything trains it: `stopped` at the checkpoint's step, with the
    plan the trainer will count (when the parent's windows per epoch are known), so the queue leaves
    it alone and the pages show where Resume continues from."""
    progress = payload["progress"]
    planned = windows * cfg.epochs if windows else None
    total = min(planned, cfg.max_steps) if planned and cfg.max_steps else planned
    # Its log's `time` goes on from the parent's training time at the checkpoint (`elapsed`): kept, so
    # a report counts the fork's first epoch from there, not from 0 (lmcore.report, start_seconds).
    return {"state": "stopped", "step": progress["step"], "epoch": min(progress["epoch"], cfg.epochs),
            "total_steps": total, "start_seconds": json_number(progress.get("elapsed"))}


def trained_recipe(parent: Path, raw: dict, payload: dict, say=None) -> dict:
    """The parent's config as its checkpoint trained with it: config.json's, with each key that changes
    training and differs taken from the checkpoint (checkpoints.config_drift). A fork of a run whose
    config.json was edited by hand (dropout 0.5 on a run trained without) trained with the edited
    dropout, named as if nothing had changed (QA round 17)."""
    drift = config_drift(raw, payload.get("config"))
    if drift and say:
        say(f"note: {parent.name}'s config.json differs from the config its checkpoint trained with: "
            f"{drift_text(drift)}; the fork starts from the checkpoint's, and changes only the keys you set")
    return {**raw, **{key: trained for key, (_, trained) in drift.items()}}


def fork_run(parent_folder, source: str, changes: dict, root, say=None) -> Path:
    """Create the fork of `parent_folder` from its `source` checkpoint (best, last or epoch:N) with
    `changes` ({key: value or text}) under `root`; its folder, `stopped` at its fork step (the queue
    leaves it alone). Trains nothing: resume or launch it. `say`, when given, gets a one-line note
    when the parent's config.json disagrees with the checkpoint's config (trained_recipe).
    ConfigError/RunError with one line per problem, before anything is written."""
    parent = Path(parent_folder)
    refuse_reference(parent, "forked (its checkpoints were not kept)")
    raw = read_config(parent)
    if raw is None:
        raise RunError(f"{parent.name}: not a run folder (config.json is missing or unreadable)")
    typed = read_changes(changes)
    payload = _load_source(parent, source)
    if source == "best":  # only a best.pt can be written between an epoch's last step and its bookkeeping
        payload = finish_epoch(parent, payload)
    raw = trained_recipe(parent, raw, payload, say)
    cfg, label = _fork_config(parent, raw, payload, source, typed)
    check_shapes(cfg, payload)
    start = starting_validation(parent, payload["progress"]["step"]) or {"ppl": None, "epoch": None}
    held = held_status(cfg, payload, windows_per_epoch(parent, payload))
    if text := read_status(parent).get("text_sha256"):
        held["text_sha256"] = text   # the fork trains on its parent's text, or not at all (session.same_text)
    payload = _fork_payload(payload, cfg, start["ppl"])

    def fill(folder: Path) -> None:  # inside create_run: a fork without its checkpoint would train from scratch
        writer = RunWriter(folder)
        writer.checkpoint("last", payload)  # no best.pt: the starting weights are not the fork's result
        writer.status(**held, start_val_ppl=start["ppl"], start_epoch=start["epoch"])

    return create_run(cfg.to_dict(), root, label=label, fill=fill)
