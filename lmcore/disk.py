"""What a run folder takes on disk, and giving back what it can spare: its epoch checkpoints.

A run keeps `last.pt` and `best.pt` (resume, Generate, a fork from best or last) and, for a model
under config.EPOCH_CHECKPOINTS_BELOW parameters (keep_epoch_checkpoints=auto), one `epoch-N.pt`
per finished epoch for a fork to start from. A `tiny` run's are 18.7 MB each with Adam's moments,
about 150 MB a run, and a classroom's runs filled a small disk (QA round 17). Freeing them keeps
everything but the forks from an epoch.

The names of one save are hard links to one file (RunWriter.checkpoint): a run's bytes count each
file once, and freeing an epoch checkpoint that is also `best.pt` gives nothing back.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import NamedTuple

from .errors import RunError
from .runs import busy_with, refuse_reference
from .summaries import SETTLED_AFTER_NS

EPOCH_PREFIX, SUFFIX = "epoch-", ".pt"


class Usage(NamedTuple):
    total: int          # bytes of the run folder, each file once
    spare: int          # bytes that freeing its epoch checkpoints would give back
    epochs: int         # epoch checkpoints it keeps
    shared: int         # of those, the ones that are also best.pt or last.pt (one file): freeing gives back
                        # nothing of them, so `spare` is what the other epochs - shared hold. Words that put
                        # `spare` beside `epochs` alone read 112 MB in 8 checkpoints of 18.7 MB (QA)


def usage(folder: Path) -> Usage:
    """The folder's bytes, and what its epoch checkpoints alone hold (free_epoch_checkpoints). Compare
    asks for every run at each rerun: a settled folder's walk is kept until the folder or its
    checkpoints/ changes (a save or a status write replaces a file there), as settled_summary keeps
    summaries, and a stamp of the last seconds is not trusted."""
    folder = Path(folder)
    stamp = (_modified(folder), _modified(folder / "checkpoints"))
    if None in stamp or time.time_ns() - max(stamp) < SETTLED_AFTER_NS:
        return _walk(folder)
    return _kept_usage(str(folder), stamp)


@functools.lru_cache(maxsize=4096)
def _kept_usage(folder: str, stamp: tuple) -> Usage:
    return _walk(Path(folder))


def _modified(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _walk(folder: Path) -> Usage:
    sizes, epoch_names, other_files = {}, [], set()
    for path, info in _files(Path(folder)):
        inode = (info.st_dev, info.st_ino)
        sizes[inode] = info.st_size
        if _is_epoch(path):
            epoch_names.append(inode)
        else:
            other_files.add(inode)
    spare = sum(sizes[inode] for inode in set(epoch_names) - other_files)
    shared = sum(inode in other_files for inode in epoch_names)
    return Usage(sum(sizes.values()), spare, len(epoch_names), shared)


def _files(folder: Path):
    """(path, stat) of every regular file under `folder`, links not followed; a file that went
    while it was listed is skipped."""
    for top, _, names in os.walk(folder):
        for name in names:
            path = Path(top) / name
            try:
                info = path.lstat()
            except OSError:
                continue
            if not path.is_symlink():
                yield path, info


def _is_epoch(path: Path) -> bool:
    return path.parent.name == "checkpoints" and path.name.startswith(EPOCH_PREFIX) and path.suffix == SUFFIX


def epoch_checkpoints(folder: Path) -> list[Path]:
    return sorted(p for p in (Path(folder) / "checkpoints").glob(f"{EPOCH_PREFIX}*{SUFFIX}") if _is_epoch(p))


def free_epoch_checkpoints(folder: Path) -> Usage:
    """Delete the run's epoch checkpoints; what it held before. Refused for a reference run and
    while a process trains or starts it (its trainer writes them)."""
    folder = Path(folder)
    refuse_reference(folder, "changed")
    doing = busy_with(folder)
    if doing:
        raise RunError(f"{folder.name} is {doing}; stop it before freeing its epoch checkpoints")
    before = _walk(folder)
    for path in epoch_checkpoints(folder):
        path.unlink(missing_ok=True)
    return before


def megabytes(size: int) -> str:
    """'150 MB', '1.2 GB', '840 KB': a disk size as a person reads it (decimal units, as df -H)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            value = size / scale
            return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{size} bytes"


# ---------------------------------------------------------------- before a run trains

# A checkpoint's bytes besides its tensors' data: the RNG state, config, progress and the zip records of its
# tensors, measured at 16-19 KB for one to four layers (torch 2.13); a margin over it, as the total rounds.
CHECKPOINT_REST = 20_000


class Planned(NamedTuple):
    each: int           # bytes of one checkpoint
    files: int          # checkpoint files kept by the run's end, at most
    epochs: bool        # whether it keeps one at each epoch's end


def checkpoint_bytes(cfg, parameters: int) -> int:
    """One checkpoint of `cfg`'s model: its float32 weights, the optimizer's state (Adam keeps two moments
    a weight, plain SGD none) and the carried (h, c) of a training batch (Trainer.checkpoint)."""
    per_weight = 4 * (3 if cfg.optimizer == "adam" else 1)
    carried = 4 * 2 * cfg.layers * cfg.batch_size * cfg.hidden_size
    return parameters * per_weight + carried + CHECKPOINT_REST


def planned(cfg, parameters: int, epochs_trained: int) -> Planned:
    """What a run of `cfg` keeps by its end, at most: best.pt and last.pt, and with epoch checkpoints one
    for each of the `epochs_trained` epochs it reaches (last is the final epoch's end, best one of them, when
    evaluated at epoch ends only: then they share its file)."""
    from .checkpoints import keeps_epoch_checkpoints

    keeps = keeps_epoch_checkpoints(cfg, parameters)
    return Planned(checkpoint_bytes(cfg, parameters), 2 + (epochs_trained if keeps else 0), keeps)
