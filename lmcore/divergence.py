"""When a run has diverged: a loss that is not finite, or one far worse than guessing.

Predicting every word with probability 1/V has loss ln V, and an untrained model starts near
it. A healthy run falls below that line within a few dozen steps and never stays far above
it; a diverged one can sit far above it with a finite loss forever (a lr of 1e6 parks the
loss around 1e8), which a check for NaN alone reports as a success.

The line is ln V + MARGIN_NATS: a model e^5 (about 150) times less likely than uniform
guessing on the words it sees. Early spikes are real in healthy runs: measured on tiny with
tied weights and PyTorch's init (an untrained loss of ln V + 2.5), the second step reaches
ln V + 9 to 10 under SGD lr 20 with clip 0.25 and under Adam lr 0.01, then falls below ln V
by step 10. So one observation above the line is not enough: the loss has to stay above it
for PATIENCE_STEPS steps in a row, or still be above it when the run ends (a short run must
not finish "successfully" with a perplexity of 1e304).

Observations are the train log's interval means (already read off the device there, so the
watch costs no GPU sync) and validation losses.
"""

from __future__ import annotations

import math

MARGIN_NATS = 5.0
PATIENCE_STEPS = 20


def worse_than_guessing(ppl: float | None, vocab_size: int | None) -> str | None:
    """Why a run that ended is no result though it never crossed the divergence line: its best
    validation perplexity is above V, what guessing uniformly among its V words scores. QA round 13:
    tiny under Adam lr 0.2 finished at 24,766 against V = 2,000, and read as a success; its training
    loss sat near the line (ln V + 5) without staying above it. None for any other run."""
    if ppl is None or not vocab_size or not ppl > vocab_size:
        return None
    shown = f"{ppl:,.0f}" if ppl < 1e7 else f"{ppl:.2e}"
    return (f"worse than guessing: its best validation perplexity, {shown}, is above {vocab_size:,}, what guessing "
            f"uniformly among its {vocab_size:,} words scores")


class Diverged(RuntimeError):
    """A run that is no longer learning; `step` is where it was seen (the run's status shows it)."""

    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step


class DivergenceWatch:
    def __init__(self, vocab_size: int):
        self.limit = math.log(vocab_size) + MARGIN_NATS
        self.vocab_size = vocab_size
        self.last_good_step = 0                # the latest step the model was not far above the line
        self.above = False                     # the latest observation was above the line

    def train(self, step: int, losses: list[float]) -> None:
        """The losses of the steps that end at `step` (a train log's interval)."""
        for offset, loss in enumerate(losses):
            if not math.isfinite(loss):
                at = step - len(losses) + offset + 1
                raise Diverged(f"diverged at step {at}: the loss is not finite (try a lower lr or a tighter clip)", at)
        self._observe(step, sum(losses) / len(losses), "training loss")

    def validation(self, step: int, loss: float) -> None:
        if not math.isfinite(loss):
            raise Diverged(f"diverged at step {step}: the validation loss is not finite "
                           f"(try a lower lr or a tighter clip)", step)
        self._observe(step, loss, "validation loss")

    def finish(self, step: int) -> None:
        """The run ends: a model still far above the line is no result, however short the run."""
        if self.above:
            raise Diverged(self._message(step, "validation loss", "at the end of training", "is still"), step)

    def _observe(self, step: int, loss: float, what: str) -> None:
        self.above = loss > self.limit
        if not self.above:
            self.last_good_step = step
        elif step - self.last_good_step >= PATIENCE_STEPS:
            raise Diverged(self._message(step, what, f"since step {self.last_good_step + 1}"), step)

    def state_dict(self) -> dict:
        return {"last_good_step": self.last_good_step, "above": self.above}

    def load_state_dict(self, state: dict) -> None:
        self.last_good_step, self.above = state["last_good_step"], state["above"]

    def _message(self, step: int, what: str, when: str, verb: str = "stayed") -> str:
        return (f"diverged at step {step}: the {what} {verb} above {self.limit:.1f} {when} "
                f"(ln {self.vocab_size} + {MARGIN_NATS:g}: far worse than guessing uniformly); "
                f"try a lower lr or a tighter clip")
