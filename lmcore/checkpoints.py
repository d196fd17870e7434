"""Reading checkpoints back: plain dicts of tensors, loadable with weights_only=True.

A run keeps `last.pt` and `best.pt`, and with keep_epoch_checkpoints one `epoch-N.pt` per
finished epoch (the state right after epoch N's validation and schedule step), which a fork
can start from (lmcore/fork.py).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import torch

from .config import EPOCH_CHECKPOINTS_BELOW, Config, ConfigError, differences, from_dict
from .errors import RunError
from .model import LanguageModel
from .presets import as_text
from .runs import ACTIVE, read_config, read_json


def load_checkpoint(path: Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise RunError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a torn or foreign file: say which, do not guess
        raise RunError(f"cannot read checkpoint {path}: {unreadable_reason(error)}") from None


def unreadable_reason(error: Exception) -> str:
    """Why torch.load refused a file, in words that fit it, with PyTorch's first line. On random bytes
    PyTorch may advise loading again with weights_only=False, which 'can result in arbitrary code
    execution' and cannot repair a damaged file: that advice is left out (QA round 13)."""
    first = (str(error).splitlines() or [type(error).__name__])[0]
    detail = "" if "weights_only" in str(error) else f" (PyTorch: {first[:160]})"
    return "the file is damaged or is not a checkpoint this program wrote" + detail


def saved_progress(path: Path) -> tuple[int, int, int] | None:
    """(step, epoch, window) of a checkpoint, None for a missing, torn, foreign or older file. Its
    tensors are mapped, not read (mmap): a few ms for a book-sized file, not a 53 MB load, so a page
    can say where a killed run will resume (its status.json is past the checkpoint)."""
    try:
        progress = torch.load(path, map_location="cpu", weights_only=True, mmap=True)["progress"]
        return int(progress["step"]), int(progress["epoch"]), int(progress["window"])
    except Exception:  # say nothing rather than guess
        return None


# Keys a run's config.json may hold apart from the config its checkpoint trained with, since they do not
# change what trains: labels and lineage, how long it trains (a cap a resume trains on to), bookkeeping
# (validation and logging steps, samples, kept checkpoints), and the engine's ways of computing the same
# steps. Nothing in the project edits an existing run's config.json: a fork is a new run, and its
# checkpoint holds its own config. Another key edited by hand would train the rest of the run on
# another recipe under a config that claims it for every step (QA round 17).
UNTRAINED_KEYS = frozenset({
    "name", "preset", "group", "parent", "fork_from", "fork_step", "epochs", "max_steps", "eval_every",
    "checkpoint_every", "log_every", "keep_epoch_checkpoints", "sample_prompt", "sample_words",
    "sample_temperature", "device", "threads", "compile", "cuda_graphs", "compiled_cell", "layer_pipeline"})
BUILT_IN_DATA = ("ptb", "synthetic")


def saved_config(path: Path) -> dict | None:
    """The config a checkpoint trained with, mapped like saved_progress (a few ms); None for a missing,
    torn, foreign or older file."""
    try:
        config = torch.load(path, map_location="cpu", weights_only=True, mmap=True)["config"]
    except Exception:  # say nothing rather than guess: the resume's own load names what is wrong
        return None
    return config if isinstance(config, dict) else None


def config_drift(written: dict, trained: dict | None) -> dict:
    """{key: (config.json's value, the checkpoint's)} for each key that changes training and differs:
    a config.json edited by hand since the checkpoint. A text file's path may change (the folder moved
    to another machine): its SHA-256 decides (session.same_text). Empty when either does not read."""
    try:
        drift = differences(from_dict(written), from_dict(trained or {})) if trained else {}
    except ConfigError:
        return {}
    drift = {key: values for key, values in drift.items() if key not in UNTRAINED_KEYS}
    if "dataset" in drift and not set(drift["dataset"]) & set(BUILT_IN_DATA):
        del drift["dataset"]
    return drift


def edited_config(folder: Path) -> dict:
    """config_drift of a run folder's config.json against its last.pt: {} for a run whose config.json
    says what it trained with (or that has no readable checkpoint). Kept while both files are unchanged:
    Compare asks on every rerun for each run selected, and a mapped read costs a few ms."""
    paths = (Path(folder) / "config.json", Path(folder) / "checkpoints" / "last.pt")
    try:
        stamps = tuple((p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    except OSError:
        return {}
    return dict(_edited(str(folder), stamps))


@functools.lru_cache(maxsize=256)
def _edited(folder: str, stamps: tuple) -> tuple:
    written = read_config(Path(folder))
    return tuple(config_drift(written, saved_config(Path(folder) / "checkpoints" / "last.pt")).items()) if written \
        else ()


def drift_text(drift: dict) -> str:
    """'dropout 0.5 (its checkpoint: 0.0), dropout_placement vertical (its checkpoint: none)'."""
    return ", ".join(f"{key} {as_text(written)} (its checkpoint: {as_text(trained)})"
                     for key, (written, trained) in drift.items())


def checkpoint_path(folder: Path, which: str = "best") -> Path:
    """best.pt, falling back to last.pt when no validation has happened yet."""
    if which not in ("best", "last"):
        raise RunError(f"checkpoint: choose best or last (got {which!r})")
    folder = Path(folder) / "checkpoints"
    chosen = folder / f"{which}.pt"
    if not chosen.exists() and which == "best" and (folder / "last.pt").exists():
        return folder / "last.pt"
    return chosen


def keeps_epoch_checkpoints(cfg: Config, total_parameters: int) -> bool:
    """The config's choice, or for auto (None) whether the model is small enough: an epoch of
    a tiny model's checkpoint costs megabytes, of the book's hundreds."""
    if cfg.keep_epoch_checkpoints is not None:
        return cfg.keep_epoch_checkpoints
    return total_parameters < EPOCH_CHECKPOINTS_BELOW


def epoch_checkpoint_name(epoch: int) -> str:
    return f"epoch-{epoch}"


def kept_epochs(folder: Path) -> list[int]:
    """The epochs whose end-of-epoch checkpoint the run kept, in order."""
    found = (re.fullmatch(r"epoch-([0-9]+)\.pt", p.name) for p in (Path(folder) / "checkpoints").glob("epoch-*.pt"))
    return sorted(int(match.group(1)) for match in found if match)


def checkpoint_sources(folder: Path) -> list[str]:
    """What a fork can start from, as `best`, `last` and `epoch:N`, for the files that exist."""
    kept = Path(folder) / "checkpoints"
    named = [name for name in ("best", "last") if (kept / f"{name}.pt").exists()]
    return named + [f"epoch:{epoch}" for epoch in kept_epochs(folder)]


GONE = ("its checkpoints were deleted, so nothing can continue it: train its config again as a new run "
        "(Edit a copy on the Train page)")


def no_checkpoint_reason(folder: Path, status: dict) -> str:
    """Why a run has no checkpoint to continue from: it has none yet, it saved none, or they were
    deleted (it finished, validated or was forked, each of which saves one). A finished run whose
    checkpoints/ was deleted was told 'it has no checkpoint yet' by fork and 'fork it' by resume, each
    pointing to the other (QA round 17)."""
    saved = (status.get("state") == "finished" or status.get("best_val_ppl") is not None
             or (read_config(folder) or {}).get("fork_step") is not None)
    if saved:
        return GONE
    return "it has no checkpoint yet" if status.get("state") in ACTIVE else "it saved no checkpoint"


def source_path(folder: Path, source: str) -> Path:
    """The file of `best`, `last` or `epoch:N` (which need not exist); RunError for other text."""
    match = re.fullmatch(r"epoch:([0-9]+)", source or "")
    if source in ("best", "last"):
        return Path(folder) / "checkpoints" / f"{source}.pt"
    if match:
        return Path(folder) / "checkpoints" / f"{epoch_checkpoint_name(int(match.group(1)))}.pt"
    raise RunError(f"--from: choose best, last or epoch:N (got {source!r})")


def load_model(folder: Path, which: str = "best", device: str = "cpu"):
    """(model in eval mode, vocabulary, checkpoint payload) for a run folder."""
    payload = load_checkpoint(checkpoint_path(folder, which))
    if not isinstance(payload, dict) or not {"config", "model", "vocab_size"} <= set(payload):
        raise RunError(f"{Path(folder).name}: the checkpoint lacks its config, weights or vocabulary size")
    cfg = from_dict(payload["config"])
    words = read_json(Path(folder) / "vocab.json")
    if not isinstance(words, list) or len(words) != payload["vocab_size"]:
        raise RunError(f"{Path(folder).name}: vocab.json is missing or does not match the checkpoint")
    model = LanguageModel(payload["vocab_size"], cfg)
    try:
        model.load_state_dict(payload["model"])
    except (RuntimeError, KeyError) as error:  # shapes or names that do not fit the config
        raise RunError(f"{Path(folder).name}: the checkpoint does not fit its config: "
                       f"{str(error).splitlines()[0]}") from None
    return model.to(device).eval(), words, payload
