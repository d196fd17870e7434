"""One training process over one run folder: start, resume, stop on a signal, mark failures.

`run(folder)` is what `python -m lmcore train` and `resume` execute, in the foreground or as
the app's background process. Whatever happens, status.json ends in a final state and the
metrics written so far stay.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import time
from pathlib import Path

import torch

from . import config as config_module
from . import locks
from .checkpoints import GONE, checkpoint_sources, config_drift, drift_text, load_checkpoint, saved_config
from .data import load_corpus
from .divergence import Diverged
from .epochs import checkpoint_place
from .errors import DataError, FolderGone, LmcoreError, RunError, no_space
from .fork import ALLOWED
from .graphs import describe_step
from .jsonl import json_count, json_number
from .presets import as_text
from .progress import ProgressBar, pause_line
from .runs import STOP_REQUEST, RunWriter, read_config, read_json, read_status, refuse_reference
from .summaries import last_train_line, summarize
from .text import text_digest
from .text_notes import text_report
from .threads import USED_KEY, WAIT_POLICY, available_cores, other_training_processes, thread_count, with_threads
from .timing import format_seconds
from .train import Callbacks, Trainer, prepare_device, resolve_device

SHARE_CHECK_SECONDS = 5.0  # a look through /proc costs a few ms
# What status.json says between evaluations (docs/design.md): the phase keys of the last one cleared.
TRAINING_PHASE = {"phase": "training", "phase_started_at": None, "phase_words": None, "phase_done": None,
                  "stopping": None}
# Until the trainer has restored its checkpoint: the step status.json holds may be a killed attempt's, past
# it (QA round 14: a resume read 'step 120 / 120' for 2 s before going back to 61).
STARTING_PHASE = {**TRAINING_PHASE, "phase": "starting"}
PHASES = {"valid": "validating", "test": "testing"}


class Recorder(Callbacks):
    """Writes what the trainer reports into the run folder (through runs.RunWriter)."""

    def __init__(self, writer: RunWriter, say=None):
        self.writer = writer
        self.stop = False
        self.say = say  # run's `say`: the log's notes

    def on_train_log(self, record):
        self.writer.metric(record)
        self.latest = {"train_ppl": record["ppl"], "tokens_per_s": record["tokens_per_s"], "lr": record["lr"]}

    def on_eval(self, record):
        self.writer.metric(record)
        if record["kind"] == "val":
            best = record["ppl"] if self.best is None else min(self.best, record["ppl"])
            self.best = best
            self.writer.status(best_val_ppl=best)

    def on_sample(self, record):
        self.writer.sample(record)

    def on_masks(self, arrays):
        self.writer.masks(arrays)

    def on_checkpoint(self, names, payload):
        self.writer.checkpoint(names, payload)

    def on_pause(self, pause):
        """A pause left out of the time (Trainer.leave_out) is said in the log, and the status has it at once."""
        if self.say:
            self.say(pause_line(pause))
        if self.trainer:
            self.writer.status(**position(self.trainer))

    def on_progress(self, trainer):
        self.share_cores(trainer)
        now = time.monotonic()
        if now - self.last_status >= 1.0 or trainer.done:
            self.last_status = now
            self.writer.status(**position(trainer), total_steps=trainer.total_steps,
                               step_kind=describe_step(trainer.step_function, trainer.model), **self.latest)

    def on_evaluation(self, progress):
        """The status says which split is being read, since when and how much of it: the Train page
        showed the last step with its ETA through a validation pass (QA round 14). Written as it starts
        and ends, between them at most once a second like the steps."""
        now = time.monotonic()
        where = position(self.trainer) if self.trainer else {}
        if progress["done"] >= 1:
            self.last_status = now
            self.writer.status(**TRAINING_PHASE, **where)
        elif progress["done"] == 0:
            self.last_status = now
            self.writer.status(phase=PHASES[progress["split"]], phase_started_at=time.time(),
                               phase_words=progress["words"], phase_done=0.0, stopping=self.stop_requested() or None,
                               **where)
        elif now - self.last_status >= 1.0:
            # A Stop waits for the pass to end (its measurement is kept): the page says so, not
            # nothing for the minutes a pass takes on a CPU (QA round 14).
            self.last_status = now
            self.writer.status(phase_done=progress["done"], stopping=self.stop_requested() or None)

    def last_word(self) -> dict:
        """What a failed run's final status carries, as a stopped or finished one does: the step and
        time trained so far and the latest train line's numbers. Progress is written once a second, so
        without it a run that diverged at 0.19 s kept 'elapsed 0.047 s, train_ppl 1969' beside its
        log's last line at ppl 1.0e304."""
        if self.trainer is None:
            return dict(self.latest)
        return {**self.latest, **position(self.trainer)}

    def share_cores(self, trainer) -> None:
        """Every SHARE_CHECK_SECONDS, a run on automatic threads takes its share of the cores again
        (lmcore/threads.py): a run that started alone kept both cores when a fork or a second run
        started beside it and, its idle threads spinning, ran at 500-3,000 tokens/s against 29,000
        alone while the newcomer made 16,000 (QA round 5); it gives the cores back when alone."""
        now = time.monotonic()
        if trainer.cfg.threads > 0 or now - self.last_share_check < SHARE_CHECK_SECONDS:
            return
        self.last_share_check = now
        wanted = thread_count(0, other_training_processes(), available_cores())
        if wanted != torch.get_num_threads():
            torch.set_num_threads(wanted)
            self.writer.status(**{USED_KEY: with_threads(self.writer.current, wanted)})  # it rounds differently

    def stop_requested(self):
        # A stop file works where a signal cannot reach (a trainer on another node, a Ray
        # worker); two stats a second keep it cheap on network storage.
        now = time.monotonic()
        if not self.stop and now - self.last_stop_check >= 1.0:
            self.last_stop_check = now
            self.stop = stop_asked(self.writer.folder)
            folder_gone(self.writer.folder)
        return self.stop

    best = None
    trainer: Trainer | None = None  # set once built: a failure before has no times to report
    last_status = 0.0
    last_stop_check = float("-inf")
    last_share_check = 0.0  # so the first step looks again: another run may have started meanwhile
    latest: dict = {}


def stop_asked(folder: Path) -> bool:
    """A stop file (runs.STOP_REQUEST) is there for this process: one naming another pid was left by a
    local Stop whose trainer then died, and a later `lmcore resume` must not stop on it."""
    if not (folder / STOP_REQUEST).exists():
        return False
    request = read_json(folder / STOP_REQUEST)
    pid = request.get("pid") if isinstance(request, dict) else None
    return pid is None or pid == os.getpid()


def position(trainer: Trainer) -> dict:
    """The trainer's step, epoch and time, as status.json holds them. Also the last word of a run that
    stops, finishes or fails: the stop's save and the test came after the last progress write, which
    may also be an epoch behind (QA round 11: 'step 325 · epoch 2' on a run stopped in epoch 3)."""
    return {"step": trainer.step, "epoch": min(trainer.epoch, trainer.cfg.epochs), "elapsed": trainer.now(),
            "time_spent": trainer.clock.state_dict(), "paused_seconds": trainer.paused}


def set_threads(count: int) -> int:
    """`count` threads if set, else this process's share of the cores (lmcore/threads.py)."""
    threads = thread_count(count, other_training_processes() if count <= 0 else 0, available_cores())
    torch.set_num_threads(threads)
    return threads


def threads_record(status: dict, threads: int) -> dict:
    """This attempt's CPU threads for status.json: the thread count joins `threads_used` (a resume may take
    another share of the cores than the attempt before it), and `omp_wait_policy` is this attempt's
    (null: OpenMP's default). The count changes float rounding, so it is what a copy must pin to train
    the same numbers bit for bit; the policy changes only the speed (docs/design.md, Reproducing a run)."""
    return {USED_KEY: with_threads(status, threads), "omp_wait_policy": os.environ.get(WAIT_POLICY)}


def _install_signals(recorder: Recorder) -> None:
    def request_stop(signum, frame):
        recorder.stop = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)


def run(folder: Path, show_progress: bool = True, observers: tuple = (), handle_signals: bool = True,
        say=None) -> dict:
    """Train the run in `folder` from its last checkpoint (or from scratch); return a summary.

    `observers` are extra trainer callbacks (the tests use one to stop or crash at a chosen step).
    `handle_signals=False` leaves SIGTERM/SIGINT to the host process (a Ray worker); the stop
    file (runs.STOP_REQUEST) still stops the run. `say`, when given, gets the one-line notes of this
    start (where it starts from, the special words a text writes itself): the command line prints them
    on stderr, into log.txt for the app.
    """
    folder = Path(folder)
    refuse_reference(folder, "trained or resumed")  # before the lock: its file would be left in the shipped folder
    raw = read_config(folder)
    if raw is None:
        raise RunError(f"{folder}: config.json is missing or unreadable; not a run folder")
    claim = locks.claim_training(folder)  # before any write: a second trainer would write every line twice
    try:
        if read_status(folder).get("state") == "finished":
            return finished_already(folder)
        return _run_claimed(folder, raw, show_progress, observers, handle_signals, say)
    finally:
        os.close(claim)


def say_on_stderr(line: str) -> None:
    """run's `say` for a trainer with a terminal or a log: `lmcore train`/`resume`, a Ray worker."""
    print(line, file=sys.stderr, flush=True)


def finished_already(folder: Path) -> dict:
    """A finished run resumed: nothing to train, nothing written. Resume used to evaluate the test set
    again (adding to its time), and with a torn last.pt turned the finished run into a failed one that
    only offered Start over (QA round 13). A fork trains it on, if its checkpoints are still there."""
    hint = " (fork it to train on)" if checkpoint_sources(folder) else f"; {GONE}"
    return result_line(summarize(folder), note=f"already finished: nothing to train{hint}")


def _run_claimed(folder: Path, raw: dict, show_progress: bool, observers: tuple, handle_signals: bool,
                 say) -> dict:
    writer = RunWriter(folder)
    writer.remove_stale_temps()   # a killed attempt's half-written files: this trainer holds the lock
    writer.reserve_space()        # room for the final status, should the disk fill up
    try:
        return _train_and_record(folder, writer, raw, show_progress, observers, handle_signals, say)
    finally:
        writer.release_space()


def _train_and_record(folder: Path, writer: RunWriter, raw: dict, show_progress: bool, observers: tuple,
                      handle_signals: bool, say) -> dict:
    """Train, and whatever happens leave status.json in a final state (module docstring)."""
    recorder = Recorder(writer, say)
    if handle_signals:  # before the status says running: a Stop pressed from then on stops it cleanly
        _install_signals(recorder)
    first_start = writer.current.get("started_at")  # RunWriter read status.json
    writer.status(state="running", pid=os.getpid(), host=socket.gethostname(),
                  started_at=first_start or time.time(), error=None, finished_at=None,
                  **STARTING_PHASE)  # not the phase a killed attempt was in
    try:
        return _train(folder, writer, recorder, raw, show_progress, observers, say)
    except FolderGone:
        raise  # nothing to mark: a status written now would recreate what the user deleted
    except Diverged as error:
        writer.status(state="failed", error=str(error), finished_at=time.time(),
                      **{**recorder.last_word(), "step": error.step})
        raise LmcoreError(str(error)) from None
    except LmcoreError as error:
        writer.status(state="failed", error=str(error).splitlines()[0], finished_at=time.time(),
                      **recorder.last_word())
        raise
    except BaseException as error:  # the traceback still reaches stderr (the run's log.txt)
        folder_gone(folder, cause=error)
        if full_disk(error):
            message = disk_full_message(folder)
            writer.release_space()  # the failed save's temp file is gone already; this frees the rest
            try:
                writer.status(state="failed", error=message, finished_at=time.time(), **recorder.last_word())
            except OSError:
                pass  # the CLI's line in log.txt still says it (runs.full_disk_words)
            raise LmcoreError(message) from None
        message = f"{type(error).__name__}: {error}".splitlines()[0]
        writer.status(state="failed", error=message, finished_at=time.time(), **recorder.last_word())
        raise


def full_disk(error: BaseException | None) -> bool:
    """Whether `error`, or an error it was raised from or while handling, is a full disk: a checkpoint
    save reports one as PyTorch's 'RuntimeError: unexpected pos' over the OSError (QA round 17)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def disk_full_message(folder: Path) -> str:
    """One line for a run that filled its disk (QA round 13: a traceback, then 'killed or crashed')."""
    return no_space(folder) + ", then Resume continues from the last checkpoint"


def folder_gone(folder: Path, cause: BaseException | None = None) -> None:
    """Raise FolderGone once the run folder was deleted or moved under the trainer. Deleting a
    training folder from outside the app (the app refuses) used to end in a traceback from the
    next write, or, when the trainer wrote between the deleter's unlinks, in a half folder that
    it went on filling without a config."""
    if not (folder / "config.json").exists():
        raise FolderGone(f"{folder}: the run folder was deleted or moved while it trained; training "
                         "stopped and wrote nothing more") from cause


def _train(folder: Path, writer: RunWriter, recorder: Recorder, raw: dict, show_progress: bool,
           observers: tuple, say) -> dict:
    cfg = config_module.validate(config_module.from_dict(raw))
    threads = set_threads(cfg.threads)
    device = resolve_device(cfg.device)
    prepare_device(device)
    from .ptb import stderr_progress

    same_recipe(folder, raw)
    same_text(cfg, writer)
    corpus = load_corpus(cfg, progress=stderr_progress() if show_progress else None, vocabulary=trained_words(folder))
    if say and corpus.info.get("counted"):   # a text file: the Train page's notes under its vocabulary cap
        for line in text_report(corpus.info["counted"], cfg.vocab_size):
            say(line)
    callbacks = [recorder, *observers] + ([ProgressBar()] if show_progress else [])
    trainer = recorder.trainer = Trainer(cfg, corpus, device, callbacks)
    writer.vocabulary(corpus.words)
    writer.params(trainer.params())
    writer.status(total_steps=trainer.total_steps, steps_per_epoch=trainer.windows, device=str(device),
                  floor_ppl=corpus.floor_ppl, held_out_unk=round(corpus.held_out_unknown(), 4),
                  **threads_record(writer.current, threads))
    last = folder / "checkpoints" / "last.pt"
    resumed = last.exists()
    reached = last_train_line(folder / "metrics.jsonl")  # before the log is cut back to the checkpoint
    if resumed:
        payload = load_checkpoint(last)
        trainer.restore(payload)
        writer.rewind_logs(trainer.step)   # by step: a log deleted and recreated no longer has the lines it counted
        recorder.best = trainer.best_val
    else:  # a start over (a retry that died before its first checkpoint) keeps no line twice
        writer.rewind_logs(0)
    redone = count_redone(writer, reached, trainer)  # from step 0 too: all a killed first attempt trained
    writer.status(**TRAINING_PHASE, **position(trainer))   # the checkpoint's step, not a killed attempt's
    if say:
        say(start_line(folder.name, trainer, resumed, redone))
    # A stop asked for while it started (loading data, or through the stop file before this
    # process could take a signal) stops it before its first step: the checkpoint stands as it was.
    outcome = "stopped" if recorder.stop_requested() else trainer.fit()
    for callback in callbacks:
        getattr(callback, "close", lambda: None)()
    if outcome == "stopped":
        writer.status(state="stopped", finished_at=time.time(), **position(trainer))
        (folder / STOP_REQUEST).unlink(missing_ok=True)  # served: a later resume trains on
        return summary(folder, trainer, state="stopped")
    best = folder / "checkpoints" / "best.pt"
    test_ppl = trainer.test(load_checkpoint(best)["model"] if best.exists() else None)
    writer.status(state="finished", test_ppl=test_ppl, finished_at=time.time(), **position(trainer))
    return summary(folder, trainer, state="finished", test_ppl=test_ppl)


def same_text(cfg, writer: RunWriter) -> None:
    """A run on the user's own text file trains on that text only: its SHA-256 goes into the status at
    the first start, and a resume on a file that changed since is refused. A changed file was used
    silently, and the run's best and test scores came from another text than its first epochs
    (QA round 13). Uploads are stored under their hash; a path given to the CLI is not."""
    if cfg.dataset in ("ptb", "synthetic"):
        return
    path = Path(cfg.dataset).expanduser()
    if not path.is_file():
        return   # load_corpus says what is wrong with it
    digest, known = text_digest(path), writer.current.get("text_sha256")
    if known and known != digest:
        raise DataError(f"dataset: {path} changed since this run started training on it; restore that text, "
                        "or start a new run on the new one")
    if not known:
        writer.status(text_sha256=digest)


def same_recipe(folder: Path, raw: dict) -> None:
    """A resume trains on the config its checkpoint trained with: a config.json edited by hand since
    (dropout 0.5 on a run trained without) is refused in one line, before anything is read or cut.
    It was used silently, and the run then claimed dropout 0.5 for all its steps (QA round 17).
    Keys that do not change training may differ (checkpoints.UNTRAINED_KEYS: a cap, the name)."""
    last = folder / "checkpoints" / "last.pt"
    drift = config_drift(raw, saved_config(last)) if last.exists() else {}
    if drift:
        raise RunError(drift_refusal(folder.name, drift))


def drift_refusal(name: str, drift: dict) -> str:
    """Why a run with an edited config.json does not resume, and how to train with the change."""
    fixed = [key for key in drift if key not in ALLOWED]
    sets = " ".join(f"--set {key}={as_text(written)}" for key, (written, _) in drift.items())
    way = (f"train a new run with the change (a fork cannot change {', '.join(fixed)})" if fixed else
           f"train with the change in a fork: lmcore fork {name} --from last {sets} (or Fork on the Train page)")
    return (f"{name}: config.json differs from the config its checkpoint trained with: {drift_text(drift)}; "
            f"put those values back to resume it, or {way}")


def count_redone(writer: RunWriter, reached: dict | None, trainer: Trainer) -> float:
    """Add the seconds an interrupted attempt trained past its checkpoint to status `redone_seconds`,
    and return them (0 for none): resuming trains those steps again and `elapsed` goes on from the
    checkpoint's, so a killed run's time fell from 0:22 to 0:13 with nothing saying why (QA round 12).
    A run killed before its first checkpoint starts over from step 0 and 0 s, and all it trained counts."""
    step, seconds = json_count((reached or {}).get("step")), json_number((reached or {}).get("time"))
    if step is None or seconds is None or step <= trainer.step or seconds <= trainer.elapsed:
        return 0.0
    earlier = json_number(writer.current.get("redone_seconds")) or 0.0
    writer.status(redone_seconds=earlier + seconds - trainer.elapsed)
    return seconds - trainer.elapsed


def start_line(name: str, trainer: Trainer, resumed: bool, redone: float = 0.0) -> str:
    """Where this start trains from, in one line: 'resuming RUN from its checkpoint at step 1,234 of
    5,000 (epoch 3 of 40)', or 'starting RUN from step 0 of 5,000: no checkpoint yet', and the seconds
    an interrupted attempt trained that are trained again (count_redone). `lmcore resume` said nothing
    of it, so a resume that started over looked like one that went on."""
    if resumed:
        place = checkpoint_place(trainer.epoch, trainer.window, trainer.planned_epochs)
        line = f"resuming {name} from its checkpoint at step {trainer.step:,} of {trainer.total_steps:,} ({place})"
    else:
        line = f"starting {name} from step 0 of {trainer.total_steps:,}: no checkpoint yet"
    if redone:  # as the pages say it: rounded to the second, not in the run's time
        after = " after it" if resumed else ""
        line += (f"; the {format_seconds(round(redone))} an interrupted attempt trained{after} is trained again, "
                 "not counted in its time")
    return line


def trained_words(folder: Path) -> list[str] | None:
    """The vocabulary a run with a checkpoint trained with (vocab.json), for its resume: rebuilt, it
    could differ under a later rule (held-out words became <unk> in stop 19) and no longer fit the
    checkpoint. None for a run that starts from scratch."""
    if not (folder / "checkpoints" / "last.pt").exists():
        return None
    words = read_json(folder / "vocab.json")
    return words if isinstance(words, list) and words and all(isinstance(w, str) for w in words) else None


def summary(folder: Path, trainer: Trainer, state: str, test_ppl=None) -> dict:
    """The command line's summary of a run that ended, with the trainer's own figures."""
    return result_line(summarize(folder), state=state, best_val_ppl=trainer.best_val, test_ppl=test_ppl,
                       seconds=trainer.now(), steps=trainer.step)


def result_line(ended, **now) -> dict:
    """The JSON line `lmcore train`/`resume` prints for a run that ended: its summary, with `now` over
    it; its tokens/s is the one every page shows (RunSummary.tokens_per_s: its average over its
    training steps), and a run worse than guessing says so there too (QA round 13)."""
    line = {"run": ended.id, "state": ended.state, "best_val_ppl": ended.best_val, "test_ppl": ended.test,
            "params": ended.params, "tokens_per_s": ended.tokens_per_s, "seconds": ended.training_seconds,
            "steps": ended.step, **now}
    if ended.guessing_note:
        line["warning"] = ended.guessing_note
    return line
