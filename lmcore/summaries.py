"""One typed summary per run folder: the single place a run's name, state, duration and scores
are worked out. Pages, the queue and the tables read these fields instead of the raw dicts.

Cheap to list: config.json, status.json and params.json per run, and a run that has ended is
read once, then only stat-ed until one of its files changes (settled_summary). Final validation
and the epoch of the best one come from the status (the trainer's RunWriter records them with
every validation); only runs written before that read the tail of metrics.jsonl for them.
"""

from __future__ import annotations

import functools
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from .divergence import worse_than_guessing
from .epochs import epoch_position, epoch_steps_from_plan
from .jsonl import json_count, json_number, json_objects, read_jsonl
from .reference import is_reference, reference_folders, reference_info
from .runs import (
    ACTIVE,
    LAUNCHER,
    QUEUE_FAILURE,
    STOP_REQUEST,
    average_speed,
    read_config,
    read_json,
    read_status,
    runs_dir,
)
from .text_notes import UNSEEN_WARN
from .threads import recorded_threads, threads_text
from .timing import format_seconds, time_split

ENDED_UNCLEANLY = ("failed", "broken")  # states whose status.json may lag metrics.jsonl
TAIL_BYTES = 65536  # enough for the last validations of any run: train lines are a few hundred bytes
# A live trainer writes status.json at least once a second while it trains or evaluates
# (session.Recorder); one whose status is older than SILENT_SECONDS is paused or stuck (kill -STOP,
# Ctrl+Z, a hung network disk). Its longest silences, measured on a 2-core CPU (docs/design.md):
# loading PTB and building the vocabulary 0.1-0.8 s, a book-sized model's first step 4 s, the first
# step that compiles 14-16 s (72 s at a load of 5 with an empty inductor cache), a book checkpoint
# (53 MB) 0.1 s, its sample 2 s.
SILENT_SECONDS = 120.0
# A trainer asked to stop answers within a second (it writes `stopping`, or its status as it saves
# and stops); a Stop unanswered this long says so on Train.
STOP_ANSWER_SECONDS = 5.0


@dataclass(frozen=True)
class RunSummary:
    id: str
    path: Path
    config: dict = field(default_factory=dict)
    status: dict = field(default_factory=dict)   # read_status(): derived, never stale about dead processes
    state: str = "broken"                        # a status state, or "broken" for a damaged folder
    name: str = ""                               # config name, else preset, else the id; marked on a reference run
    problem: str | None = None                   # why the folder is broken, or the run's error
    params: int | None = None
    vocab_size: int | None = None                # the words it predicts among (params.json), once training starts
    best_val: float | None = None
    final_val: float | None = None               # the last validation, which may be worse than the best
    best_epoch: int | None = None
    test: float | None = None
    training_seconds: float | None = None        # time spent training across resumes (status `elapsed`)
    tokens_per_s: float | None = None            # the one training speed pages show: see speed()
    step: int | None = None
    total_steps: int | None = None               # the steps planned: epochs x batches, or max_steps if smaller
    max_steps: int | None = None                 # the config's cap, if any
    reference: dict | None = None                # reference.json of a shipped, read-only run; None for the user's

    @property
    def is_reference(self) -> bool:
        return self.reference is not None

    @property
    def device(self) -> str | None:
        """Where it trained: the reference's hardware ("NVIDIA H200"), else the status ("cpu", "cuda")."""
        return (self.reference or {}).get("device") or self.status.get("device")

    @property
    def threads_used(self) -> tuple[int, ...]:
        """The CPU thread counts its trainer trained with (status `threads_used`, lmcore/threads.py), smallest
        first; () for runs from before the key. More than one: its share of the cores changed as it trained."""
        return recorded_threads(self.status)

    @property
    def device_label(self) -> str | None:
        """`device`, with the thread count on a CPU: 'cpu (2 threads)'. Another count rounds differently
        (docs/design.md, Reproducing a run), so two CPU runs of one config and seed that differ say why."""
        return self.device_text()

    def device_text(self, *details: str) -> str | None:
        """device_label with more of how it trained in the same bracket: 'cpu (2 threads, eager)'; '—' for
        a device not known yet beside details, else `device` as it is."""
        shown = [part for part in (threads_text(self.threads_used) if self.device == "cpu" else "", *details) if part]
        return f"{self.device or '—'} ({', '.join(shown)})" if shown else self.device

    @property
    def redone_seconds(self) -> float | None:
        """Seconds interrupted attempts trained past their checkpoint, trained again on resume and not in
        training_seconds (status `redone_seconds`, lmcore.session.count_redone); None when none was."""
        return json_number(self.status.get("redone_seconds"))

    @property
    def paused_seconds(self) -> float | None:
        """Seconds its trainer was paused or stuck and left out of training_seconds (status `paused_seconds`,
        lmcore.timing.PauseWatch); None for runs written before it."""
        return json_number(self.status.get("paused_seconds"))

    @property
    def guessing_note(self) -> str | None:
        """'worse than guessing: ...' for a run that ended (finished or stopped) with its best validation
        above its vocabulary size (divergence.worse_than_guessing); None for any other."""
        if self.state not in ("finished", "stopped"):
            return None
        return worse_than_guessing(self.best_val, self.vocab_size)

    @property
    def unknown_note(self) -> str | None:
        """'81% of its validation and test words are <unk>: ...' for a run whose held-out text is mostly
        words its vocabulary lacks (status `held_out_unk`, Corpus.held_out_unknown); None otherwise and
        for runs from before it."""
        share = json_number(self.status.get("held_out_unk"))
        if share is None or share <= UNSEEN_WARN:
            return None
        return (f"{share:.0%} of its validation and test words are <unk>, which is easy to predict: its "
                "perplexity looks far better than the model is")

    @property
    def best_epoch_steps(self) -> tuple[int, int] | None:
        """(steps of its epoch trained, steps an epoch) at the best validation when that epoch was not
        trained whole (a max_steps cap, a stop or eval_every); None when whole or unknown. A grid of
        capped runs read best epoch '2' for a validation 11 steps into epoch 2 (QA round 12)."""
        per_epoch = self.steps_per_epoch
        position = epoch_position(json_count(self.status.get("best_step")), self.best_epoch, per_epoch)
        if position is None or position[0] != self.best_epoch or position[1] >= per_epoch:
            return None
        return position[1], per_epoch

    @property
    def best_epochs_trained(self) -> float | None:
        """Epochs trained at the best validation: 2 at the end of epoch 2, 1.07 eleven steps into it."""
        part = self.best_epoch_steps
        if part is None or self.best_epoch is None:
            return self.best_epoch
        return self.best_epoch - 1 + part[0] / part[1]

    @property
    def speed_basis(self) -> str | None:
        """What tokens_per_s is (see speed()): 'latest' (a live run's latest train line), 'average' (over
        its training steps, once ended) or 'median' (of its logged intervals: runs written before their
        time in steps was counted, like the book reference run); None without a speed. The same column
        held both kinds with nothing saying so (QA round 12)."""
        if self.tokens_per_s is None:
            return None
        if self.is_active:
            return "latest"
        return "average" if average_speed(self.status, self.config) is not None else "median"

    @property
    def steps_per_epoch(self) -> int | None:
        """Training steps in one of its epochs: the trainer's count (status.json), else read back from
        its plan where max_steps did not cut it (runs from before the count was written)."""
        counted = json_count(self.status.get("steps_per_epoch"))
        return counted or epoch_steps_from_plan(self.total_steps, self.config.get("epochs"), self.max_steps)

    @property
    def time_split(self) -> dict | None:
        """Seconds of its training time per phase (lmcore.timing.time_split); None for older runs."""
        return time_split(self.status.get("time_spent"), self.status.get("elapsed"))

    @property
    def step_kind(self) -> str | None:
        """How its steps ran (lmcore.graphs.describe_step), e.g. "CUDA graph, compiled cell"."""
        return self.status.get("step_kind")

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE

    @property
    def silent_seconds(self) -> float | None:
        """Seconds since its live trainer last wrote, once over SILENT_SECONDS (silent_for)."""
        return silent_for(self.status) if self.state == "running" else None

    @property
    def silence_note(self) -> str | None:
        """silence_note(its status) for a running run; None otherwise."""
        return silence_note(self.status) if self.state == "running" else None

    @property
    def state_text(self) -> str:
        """Its state as a listing prints it: 'running', or 'running, no word from the trainer for 2:05
        (paused or stuck?)'."""
        return f"{self.state}, {self.silence_note}" if self.silence_note else self.state

    @property
    def is_broken(self) -> bool:
        return self.state == "broken"

    @property
    def short_id(self) -> str:
        return self.id[-4:]

    @property
    def label(self) -> str:
        """The name with the id's random tail: tells apart runs that share a name."""
        return self.label_of(self.name)

    def label_of(self, name: str) -> str:
        """label with `name` written as a page shows it (bidi-isolated, say)."""
        return f"{name} · {self.short_id}"

    @property
    def progress(self) -> float:
        if self.state == "finished":
            return 1.0
        return min(self.step / self.total_steps, 1.0) if self.step is not None and self.total_steps else 0.0


def silent_for(status: dict, now: float | None = None) -> float | None:
    """Seconds since a running trainer last wrote its status (`updated_at`), when over SILENT_SECONDS;
    None otherwise. read_status reads a trainer whose process is gone as failed, so a `running` status
    here is a live one that has stopped writing: paused or stuck. A clock that jumps forward by more
    than that reads as such until the next write (a second later). QA round 17: a trainer stopped for
    92 s read 'running · ETA 2:35' on every page."""
    updated = json_number(status.get("updated_at"))
    if status.get("state") != "running" or updated is None:
        return None
    quiet = (time.time() if now is None else now) - updated
    return quiet if quiet > SILENT_SECONDS else None


def silence_note(status: dict, now: float | None = None) -> str | None:
    """'no word from the trainer for 2:05 (paused or stuck?)' for a silent trainer (silent_for); None otherwise."""
    quiet = silent_for(status, now)
    return None if quiet is None else f"no word from the trainer for {format_seconds(quiet)} (paused or stuck?)"


def stop_unanswered(summary: RunSummary, now: float | None = None) -> str | None:
    """'Stop asked 0:24 ago; the trainer has not answered: ...' for a running run whose stop request
    (runs.STOP_REQUEST) is older than STOP_ANSWER_SECONDS and newer than its last status write; None
    otherwise. A paused trainer's Stop changed nothing on the page for as long as it stood (QA round 17)."""
    if summary.state != "running":
        return None
    request = read_json(summary.path / STOP_REQUEST)
    asked = json_number(request.get("at")) if isinstance(request, dict) else None
    updated = json_number(summary.status.get("updated_at"))
    now = time.time() if now is None else now
    if asked is None or updated is None or updated > asked or now - asked < STOP_ANSWER_SECONDS:
        return None
    pid = summary.status.get("pid")
    process = f" (process {pid})" if pid else ""
    return (f"Stop asked {format_seconds(now - asked)} ago; the trainer{process} has not answered: it has written "
            f"nothing for {format_seconds(now - updated)} (paused or stuck?). It saves and stops as soon as it goes "
            "on; a process paused with Ctrl+Z or kill -STOP goes on with fg or kill -CONT.")


def speed(state: str, status: dict, logged: float | None = None, config: dict | None = None) -> float | None:
    """Training tokens/s as every page shows it: the latest train line's while the run is queued
    or running; once it has ended, its average over its training steps (runs.average_speed, what
    the trainer records as `average_tokens_per_s`: read from the same keys, it serves runs written
    before it too), so that speed x training time is what it trained. The median of its logged
    intervals read 12,141 for a run that averaged 7.2k: half its intervals ran alone after a resume,
    half beside another run (QA round 10). Runs without `time_spent` (older) keep the median:
    status `median_tokens_per_s`, else `logged`, read from metrics.jsonl."""
    if state in ACTIVE:
        return json_number(status.get("tokens_per_s"))
    for value in (average_speed(status, config or {}), json_number(status.get("median_tokens_per_s"))):
        if value is not None:
            return value
    return logged


def from_parts(run_id: str, path, config: dict | None, status: dict, params: dict | None,
               validations: tuple = (None, None), reference: dict | None = None,
               logged_speed: float | None = None, logged: dict | None = None) -> RunSummary:
    """The summary of a run from what its files hold. `validations` is (final val, best epoch)
    from the metrics log, used only when the status lacks them; `reference` is the reference.json
    of a shipped run, whose name then says so: 'book · reference (NVIDIA H200)'; `logged_speed`
    the median speed of its train lines, used only when the status lacks it (speed()); `logged` its
    last train line, which a failed or damaged run's step, epoch and time follow (caught_up)."""
    config = config if isinstance(config, dict) else None
    status = status if isinstance(status, dict) else {"state": "broken", "error": "status.json is unreadable"}
    status = caught_up(status, logged)
    broken = config is None or status.get("state") == "broken"
    state = "broken" if broken else status.get("state") or "broken"
    if config is None:
        problem = "config.json is missing or unreadable"
    else:
        problem = status.get("error") if state in ("failed", "broken") else None
    final_val = json_number(status.get("final_val_ppl"))
    best_epoch = status.get("best_epoch") if isinstance(status.get("best_epoch"), int) else None
    if final_val is None and best_epoch is None:
        final_val, best_epoch = validations
    config = config or {}
    total = (params or {}).get("total")
    name = config.get("name") or config.get("preset") or run_id
    if reference is not None:
        name += f" · reference ({reference.get('device') or status.get('device') or 'device unknown'})"
    return RunSummary(
        id=run_id, path=Path(path), config=config, status=status, state=state, name=name, problem=problem,
        params=total if isinstance(total, int) else None, vocab_size=json_count((params or {}).get("vocab_size")),
        best_val=json_number(status.get("best_val_ppl")),
        final_val=final_val, best_epoch=best_epoch, test=json_number(status.get("test_ppl")),
        training_seconds=json_number(status.get("elapsed")), tokens_per_s=speed(state, status, logged_speed, config),
        step=json_count(status.get("step")),
        total_steps=status.get("total_steps") if isinstance(status.get("total_steps"), int) else None,
        max_steps=config.get("max_steps") if isinstance(config.get("max_steps"), int) else None,
        reference=reference)


def summarize(folder) -> RunSummary:
    folder = Path(folder)
    status = read_status(folder)
    validations = (None, None)
    if "final_val_ppl" not in status and json_number(status.get("best_val_ppl")) is not None:
        validations = validations_from_log(folder / "metrics.jsonl", json_number(status.get("best_val_ppl")))
    logged_speed = None
    if status.get("state") not in ACTIVE and "tokens_per_s" in status and \
            not any(key in status for key in ("time_spent", "median_tokens_per_s")):
        logged_speed = speed_from_log(folder / "metrics.jsonl")  # runs from before those keys; read once each
    logged = last_train_line(folder / "metrics.jsonl") if status.get("state") in ENDED_UNCLEANLY else None
    params = read_json(folder / "params.json")
    reference = reference_info(folder) if is_reference(folder) else None
    return from_parts(folder.name, folder, read_config(folder), status,
                      params if isinstance(params, dict) else None, validations, reference, logged_speed, logged)


def caught_up(status: dict, logged: dict | None) -> dict:
    """The status of a killed (failed) or damaged run brought up to its last logged train line where
    that is later: its step, epoch and training time. A killed trainer's status.json lags its
    metrics, as it is written less often (QA round 8: 755 against 782 logged); what Resume trains
    again is counted from what was trained. The epoch and time follow the step, or a page read 'step
    325 · epoch 2' beside 'epoch 3 of 30', and speed x time was not what the run trained (round 11)."""
    if status.get("state") not in ENDED_UNCLEANLY:
        return status
    return _later_of(status, logged)


def abreast_of_log(status: dict, logged: dict | None) -> dict:
    """The status of a running trainer brought up to its latest metrics line where that is later: its
    step, epoch and training time. The trainer writes status.json once a second and a train line every
    `log_every` steps, so a progress line read from the status alone said 'step 1' beside a curve at step
    25 (a run's first second). Left alone: a trainer still starting (its log may hold a killed attempt's
    lines past the checkpoint it resumes from, until it cuts them), and `updated_at`, which the silence
    note reads."""
    if status.get("state") != "running" or status.get("phase") == "starting":
        return status
    return _later_of(status, logged)


def _later_of(status: dict, logged: dict | None) -> dict:
    """`status` with the step, epoch and time ("elapsed") of the metrics line `logged` where its step
    is later; the time goes with the step, so an ETA measured from both stays right."""
    step, known = json_count((logged or {}).get("step")), json_count(status.get("step"))
    if step is None or (known is not None and step <= known):
        return status
    later = {"step": step, "epoch": json_count(logged.get("epoch")), "elapsed": json_number(logged.get("time"))}
    return {**status, **{key: value for key, value in later.items() if value is not None}}


def list_runs(root=None) -> list[RunSummary]:
    """One summary per run folder, newest first; damaged folders are summaries marked broken."""
    root = runs_dir(root)
    if not root.exists():
        return []
    folders = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True)
    return [settled_summary(folder) for folder in folders]


# What a settled run's summary is read from. Its state no longer follows a process (a queued or
# running one's does: it reads as failed once its trainer is gone), so while none of these files
# changes, neither does its summary.
RUN_STAMPED = ("config.json", "status.json", "metrics.jsonl", "params.json", LAUNCHER, QUEUE_FAILURE)
SETTLED = ("finished", "stopped", "failed", "broken")
SETTLED_KEPT = 4096  # summaries, a few KB each
SETTLED_AFTER_NS = 2_000_000_000
_settled: dict[str, tuple[tuple, RunSummary]] = {}


def settled_summary(folder: Path) -> RunSummary:
    """summarize(folder), kept for a settled run until one of its files changes. Pages list every
    run on a 2 to 10 s timer: with 300 runs on disk, reading them all took about 100 ms of CPU each
    time (QA round 16). A stat per file instead of a read."""
    key, stamp = str(folder), tuple(_file_stamp(folder / name) for name in RUN_STAMPED)
    kept = _settled.get(key)
    if kept is not None and kept[0] == stamp:
        return kept[1]
    summary = summarize(folder)
    # A file written in the last seconds is not trusted to stamp it: the clock that dates a write ticks
    # every few ms, so a second write of the same size in that tick could pass for the first.
    recent = time.time_ns() - SETTLED_AFTER_NS
    if summary.state in SETTLED and all(part is None or part[0] < recent for part in stamp):
        if len(_settled) >= SETTLED_KEPT:
            _settled.clear()
        _settled[key] = (stamp, summary)
    else:
        _settled.pop(key, None)
    return summary


def runs_stamp(root=None) -> tuple:
    """What a listing of `root` would read, as stats only: each run folder's name, its RUN_STAMPED
    files' stamps and its own and its checkpoints' modification times (what lmcore.disk.usage
    follows). Equal stamps mean an equal listing of the settled runs: a page with no run training
    can look at this every few seconds (about 8 stats a run) instead of listing and redrawing."""
    root = runs_dir(root)
    if not root.exists():
        return ()
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return tuple((folder.name, _file_stamp(folder), _file_stamp(folder / "checkpoints"),
                  *(_file_stamp(folder / name) for name in RUN_STAMPED)) for folder in folders)


def _file_stamp(path: Path) -> tuple | None:
    """When and how a file was last written: a rename over it (every status write) changes its inode."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


def reference_runs() -> list[RunSummary]:
    """The shipped reference runs (lmcore.reference), read-only, by name. Pages list them after the
    user's runs; the queue and grids never see them (they read list_runs).

    Every page rerun lists them, and their status predates final_val_ppl, so a summary reads
    the tail of a large metrics log: summaries are kept until one of their files changes."""
    return [_reference_summary(*_stamp(folder)) for folder in reference_folders()]


def summary_of(folder) -> RunSummary:
    """summarize(folder), kept for a reference run as reference_runs keeps it: the Train page
    watching one asks again every 2 s."""
    folder = Path(folder)
    return _reference_summary(*_stamp(folder)) if is_reference(folder) else summarize(folder)


REFERENCE_STAMPED = ("config.json", "status.json", "metrics.jsonl", "params.json", "reference.json")


def _stamp(folder: Path) -> tuple:
    return (str(folder), *(_modified(folder / name) for name in REFERENCE_STAMPED))


def _modified(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


@functools.lru_cache(maxsize=32)
def _reference_summary(folder: str, *modified) -> RunSummary:
    return summarize(folder)


def speed_from_log(path: Path) -> float | None:
    """The median tokens_per_s of a metrics log's train lines (what runs.RunWriter records as
    `median_tokens_per_s`), for runs whose status predates that key; None without any. An ended
    run's log no longer changes: it is read once, not on every refresh of a page's run list."""
    try:
        info = path.stat()
    except OSError:
        return None
    return _logged_speed(str(path), info.st_mtime_ns, info.st_size)


@functools.lru_cache(maxsize=512)
def _logged_speed(path: str, *modified) -> float | None:
    lines = [r for r in read_jsonl(Path(path)) if isinstance(r, dict) and r.get("kind") == "train"]
    speeds = [s for s in (json_number(r.get("tokens_per_s")) for r in lines) if s is not None]
    return statistics.median(speeds) if speeds else None


def validations_from_log(path: Path, best: float | None) -> tuple[float | None, int | None]:
    """(final validation, epoch of the best one) from the tail of a metrics log, for runs whose
    status predates those keys. The best epoch is None when its line is no longer in the tail."""
    final, best_epoch = None, None
    for record in tail_records(path):
        if record.get("kind") != "val" or json_number(record.get("ppl")) is None:
            continue
        final = json_number(record["ppl"])
        if best is not None and math.isclose(final, best, rel_tol=1e-12) and isinstance(record.get("epoch"), int):
            best_epoch = record["epoch"]
    return final, best_epoch


def last_train_line(path: Path) -> dict | None:
    """The last train line with a step in the tail of a metrics log; None without one."""
    lines = [r for r in tail_records(path) if r.get("kind") == "train" and json_count(r.get("step")) is not None]
    return lines[-1] if lines else None


def tail_records(path: Path) -> list[dict]:
    """The whole JSON objects in the last TAIL_BYTES of a metrics log, oldest first."""
    try:
        with open(path, "rb") as handle:
            start = max(0, path.stat().st_size - TAIL_BYTES)
            handle.seek(start)
            lines = handle.read().split(b"\n")[:-1]  # the last piece is unfinished (or empty)
    except OSError:
        return []
    return json_objects(lines[1:] if start else lines)  # the first piece was cut in the middle by the seek


def runs_named(given: str, summaries) -> list[RunSummary]:
    """The runs whose name or id tail (`tiny`, `book`, `823d`) is `given`, else those whose preset is:
    how a person names a run without its id. The CLI (cli.run_named) and Compare's links read a run
    this way. A name comes first: `book` is the run named so, not also `book-horizontal`, which
    trained from the book preset."""
    summaries = list(summaries)
    named = [s for s in summaries if given in (s.config.get("name"), s.short_id)]
    return named or [s for s in summaries if s.config.get("preset") == given]
