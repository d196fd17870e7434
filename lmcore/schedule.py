"""Learning-rate schedules, applied after each epoch.

- plateau (the seed, PyTorch's word_language_model): multiply lr by `lr_decay` when the
  epoch's validation perplexity is no better than the best so far;
- fixed (Zaremba et al. 2014): multiply by `lr_decay` after every epoch past `decay_start`;
- constant: never change it.
"""

from __future__ import annotations

from .config import Config


class Schedule:
    def __init__(self, cfg: Config):
        self.kind = cfg.lr_schedule
        self.decay = cfg.lr_decay
        self.decay_start = cfg.decay_start
        self.lr = cfg.lr

    def after_epoch(self, epoch: int, val_ppl: float, best_before: float | None) -> float:
        """The lr for the next epoch, given the epoch just finished (counted from 1)."""
        if self.kind == "plateau" and best_before is not None and val_ppl >= best_before:
            self.lr *= self.decay
        elif self.kind == "fixed" and epoch >= self.decay_start:
            self.lr *= self.decay
        return self.lr

    def state_dict(self) -> dict:
        return {"lr": self.lr}

    def load_state_dict(self, state: dict) -> None:
        self.lr = float(state["lr"])
