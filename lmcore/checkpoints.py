"""Reading checkpoints back: plain dicts of tensors, loadable with weights_only=True."""

from __future__ import annotations

from pathlib import Path

import torch

from .config import from_dict
from .errors import RunError
from .model import LanguageModel
from .runs import read_json


def load_checkpoint(path: Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise RunError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a torn or foreign file: say which, do not guess
        raise RunError(f"cannot read checkpoint {path}: {str(error).splitlines()[0]}") from None


def checkpoint_path(folder: Path, which: str = "best") -> Path:
    """best.pt, falling back to last.pt when no validation has happened yet."""
    if which not in ("best", "last"):
        raise RunError(f"checkpoint: choose best or last (got {which!r})")
    folder = Path(folder) / "checkpoints"
    chosen = folder / f"{which}.pt"
    if not chosen.exists() and which == "best" and (folder / "last.pt").exists():
        return folder / "last.pt"
    return chosen


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
