"""A progress bar on stderr with ETA and the current perplexity.

On a terminal it redraws one line; in a log file (the app's background runs) it writes a
line every few seconds, so logs stay readable.
"""

from __future__ import annotations

import sys
import time

from .timing import format_seconds
from .train import Callbacks


def pause_line(pause: dict) -> str:
    """'note: no progress for 1:32 at step 338 (paused or stuck?): left out of the training time'."""
    during = " while evaluating" if pause.get("during") == "evaluation" else ""
    return (f"note: no progress for {format_seconds(round(pause['seconds']))} at step {pause['step']:,}{during} "
            "(paused or stuck?): left out of the training time")


class ProgressBar(Callbacks):
    def __init__(self, stream=None, width: int = 24, every: float = 5.0):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.width = width
        self.every = 0.2 if self.tty else every
        self.last_draw = 0.0
        self.ppl = None
        self.val_ppl = None
        self.start = None
        self.start_step = 0
        self.drawn = 0  # the length of the line on a terminal, which a shorter one must cover

    def on_train_log(self, record):
        self.ppl = record["ppl"]

    def on_eval(self, record):
        if record["kind"] == "val":
            self.val_ppl = record["ppl"]

    def on_progress(self, trainer):
        now = time.monotonic()
        if self.start is None:
            self.start, self.start_step = trainer.now(), trainer.step - 1
        if now - self.last_draw < self.every and not trainer.done:
            return
        self.last_draw = now
        self.draw(self.line(trainer, trainer.now()))

    def on_evaluation(self, progress):
        """A validation pass on PTB takes tens of seconds on a CPU: the bar says so instead of standing
        still at the last step (the ETA's rate counts the time evaluations take, so it stays right)."""
        now = time.monotonic()
        if now - self.last_draw < self.every or progress["done"] >= 1:
            return
        self.last_draw = now
        what = f"validating epoch {progress['epoch']}" if progress["split"] == "valid" else "testing"
        self.draw(f"{what} on {progress['words']:,} words: {100 * progress['done']:.0f}%")

    def draw(self, line: str) -> None:
        if self.tty:
            self.stream.write("\r" + line.ljust(self.drawn))
            self.drawn = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def line(self, trainer, now: float) -> str:
        """The bar at training time `now` (trainer.now(): a pause is not in it, so neither is it in the ETA)."""
        done, total = trainer.step, trainer.total_steps
        fraction = done / total if total else 1.0
        filled = int(self.width * fraction)
        rate = (done - self.start_step) / max(now - self.start, 1e-9)
        eta = (total - done) / rate if rate > 0 else 0
        ppl = f" ppl {self.ppl:.1f}" if self.ppl else ""
        val = f" val {self.val_ppl:.1f}" if self.val_ppl else ""
        bar = "#" * filled + "." * (self.width - filled)
        planned = trainer.planned_epochs
        return (f"epoch {min(trainer.epoch, planned)}/{planned} [{bar}] "
                f"{100 * fraction:5.1f}% {done}/{total}{ppl}{val} ETA {format_seconds(eta)}")

    def close(self):
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
