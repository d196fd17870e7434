"""Where a run's steps fall in its epochs: steps per epoch and the fractional-epoch axis, one home
for the Compare page's epoch axis and the Train watch overlay.

A tiny CPU run and a 40-epoch GPU run share no step axis (the book takes 1,327 steps an epoch, a
capped tiny run may stop after 40), so charts that lay them side by side draw each run by its own
epochs (passes over its training text).
"""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from explorer.uploads import text_stats
from lmcore.config import Config, ConfigError, from_dict
from lmcore.data import planned_steps
from lmcore.epochs import epoch_steps_from_log
from lmcore.errors import LmcoreError
from lmcore.sizes import PTB_TOKENS
from lmcore.summaries import RunSummary


def train_tokens(cfg: Config, count=None) -> int | None:
    """Tokens in the config's training text as the trainer reads it: PTB train (or its first
    `train_tokens`), the generated corpus's size, or a text file's train lines. `count` gives a
    file's text_stats (the Set up tab passes its session cache); None when the file is unreadable."""
    if cfg.dataset == "ptb":
        return min(cfg.train_tokens or PTB_TOKENS["train"], PTB_TOKENS["train"])
    if cfg.dataset == "synthetic":
        return cfg.synthetic_tokens
    stats = (count or file_stats)(cfg.dataset)
    return stats["train_tokens"] if stats else None


def file_stats(path: str) -> dict | None:
    """text_stats of a text file, counted once per version of the file (a chart redraws every 2 s)."""
    try:
        info = Path(path).stat()
    except OSError:
        return None
    return _counted(path, info.st_size, info.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _counted(path: str, size: int, mtime_ns: int) -> dict | None:
    try:
        return text_stats(Path(path))
    except (LmcoreError, OSError):
        return None


def steps_per_epoch(summary: RunSummary, frame: pd.DataFrame) -> float | None:
    """Training steps in one of the run's epochs: exactly from its status (the trainer's count, or
    steps planned over epochs when no cap cut them), else from its log (the last step labelled epoch
    1, once epoch 2 began), else, for a run capped inside its first epoch, from its training text's
    size as the trainer counts it. None when none of these is known."""
    if summary.steps_per_epoch:
        return float(summary.steps_per_epoch)
    if not frame.empty and (logged := epoch_steps_from_log(frame[["kind", "step", "epoch"]].to_dict("records"))):
        return float(logged)
    return _from_text_size(summary.config)


def _from_text_size(config: dict) -> float | None:
    if not config:  # a damaged folder: the defaults would describe some other run
        return None
    try:
        cfg = from_dict(config)
    except ConfigError:
        return None
    tokens = train_tokens(cfg)
    per_epoch = planned_steps(cfg, tokens)[0] if tokens else 0
    return float(per_epoch) if per_epoch else None


def checkpoint_epoch(progress: dict) -> int | None:
    """The epoch of a checkpoint's last trained step. A checkpoint holds where training resumes, so
    right after an epoch's last step (window 0) its counter already names the next epoch, which a
    run capped there never trains."""
    epoch, window, step = progress.get("epoch"), progress.get("window"), progress.get("step")
    if not isinstance(epoch, int):
        return None
    return epoch - 1 if window == 0 and isinstance(step, int) and step > 0 and epoch > 1 else epoch


def with_fractional_epochs(frame: pd.DataFrame, per_epoch: float | None) -> pd.DataFrame:
    """A copy whose `epoch` column is step / steps-per-epoch (epoch 1.5 = half way through the
    second epoch), so training lines spread across an epoch instead of stacking on its number."""
    if not per_epoch or frame.empty:
        return frame
    out = frame.copy()
    out["epoch"] = out["step"].astype(float) / per_epoch
    return out
