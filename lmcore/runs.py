"""Run folders: the only state the engine and the app share (docs/design.md).

This is the one module that writes them. Writers are atomic where a reader could see a
half-written file (temp file + rename) and append-only with a flush for the JSONL logs.
Readers never raise on a damaged folder: they report what is broken and keep going.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__, locks, threads
from .errors import NO_SPACE, RunError, no_space
from .jsonl import append_jsonl, json_count, json_number, read_metrics, rewind_to_step

ACTIVE = ("queued", "running")
LAUNCHER = "launcher.json"          # written by launch: the pid it started, and when
QUEUE_FAILURE = "queue_error.json"  # written by the queue: why it could not start the run
STOP_REQUEST = "stop"               # written by stop_run: the trainer polls it (any host, Ray)
# A trainer writes its status at least once a second while it trains or evaluates; one on another host
# whose status is older than this is read as gone (its pid means nothing here). A chosen bound, long
# enough for a checkpoint save or a sample of a big run between two writes.
REMOTE_STALE_SECONDS = 300.0
# A trainer looks this often for another trainer beside it (status `shared_seconds`): a listing of
# the runs folder, cheap beside a training second. Another run whose `running` status was written
# within TRAINING_NOW_SECONDS trains now (a trainer writes at least once a second, also while it
# validates).
SHARING_CHECK_SECONDS = 2.0
TRAINING_NOW_SECONDS = 30.0
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def runs_dir(explicit: str | os.PathLike | None = None) -> Path:
    """`explicit`, else $LMCORE_RUNS_DIR, else runs/ at the project root."""
    chosen = explicit or os.environ.get("LMCORE_RUNS_DIR") or PROJECT_ROOT / "runs"
    return Path(chosen).expanduser().resolve()


ID_LABEL_CHARS = 32  # characters of its label's slug a run id keeps


def id_slug(label: str) -> str:
    """A label as a run id writes it, before the cut to ID_LABEL_CHARS: [a-z0-9-] only."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def id_label_part(label: str) -> str:
    """The label's slug as a run id keeps it: at most ID_LABEL_CHARS, cut between words where a word
    boundary lies in its second half, so an id does not end in 'fork-of-pla'."""
    slug = id_slug(label)
    if len(slug) <= ID_LABEL_CHARS:
        return slug
    boundary = slug.rfind("-", 0, ID_LABEL_CHARS + 1)
    return slug[:boundary] if boundary >= ID_LABEL_CHARS // 2 else slug[:ID_LABEL_CHARS].rstrip("-")


def new_run_id(label: str = "") -> str:
    """Time-ordered and filesystem-safe; user text only ever contributes [a-z0-9-]."""
    slug = id_label_part(label)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return "-".join(part for part in (stamp, slug, secrets.token_hex(2)) if part)


def run_path(root: Path, run_id: str) -> Path:
    """The folder of `run_id` under `root`, refusing ids that would leave it."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", run_id or ""):
        raise RunError(f"not a run id: {run_id!r}")
    return root / run_id


def locate_run(run_id: str, root: str | os.PathLike | None = None) -> Path | None:
    """The folder of a run id among the user's runs (`root`, else runs_dir()), then the shipped
    reference runs; None where neither holds it. RunError for text no run id can be."""
    from .reference import reference_dir  # reference.py reads through this module: import late

    for place in (runs_dir(root), reference_dir()):
        folder = run_path(place, run_id)
        if folder.is_dir():
            return folder
    return None


# ---------------------------------------------------------------- low-level writers


def write_json_atomic(path: Path, data) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with removed_on_failure(temp):
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1)
        os.replace(temp, path)


@contextlib.contextmanager
def removed_on_failure(temp):
    """A temp file that must not outlive a failed write: on a full disk a half-written checkpoint
    kept the disk full (QA round 13)."""
    try:
        yield
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def read_json(path: Path):
    """The parsed file, or None when missing, empty or corrupt."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------- the writer

# The run folder's files only a trainer writes (through temp files, write_json_atomic and rewind_to_step).
TRAINER_FILES = ("status.json", "params.json", "vocab.json", "metrics.jsonl", "samples.jsonl")
# Space a trainer holds in its folder for its final status and its log's last line on a full disk
# (RunWriter.reserve_space): a status.json is a few KB, a file system block 4 KB.
RESERVE = ".space.reserve"
RESERVE_BYTES = 256 * 1024


class RunWriter:
    """Everything a training process writes into its run folder.

    The training process is the only writer of status.json once it runs (create_run writes the
    first `queued` status, when no trainer exists yet). So the writer reads the status once,
    keeps it in memory and writes it whole: no read-modify-write that could lose an update.
    """

    def __init__(self, folder: Path):
        refuse_reference(folder, "trained or resumed (train a copy of its config instead)")
        self.folder = Path(folder)
        self.checkpoints = self.folder / "checkpoints"
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        current = read_json(self.folder / "status.json")
        self.current = current if isinstance(current, dict) else {}
        self.logged_epoch: tuple[int, int] | None = None  # (step, epoch) of the latest train or val line
        self.speeds: list[float] = []  # the train lines' tokens_per_s, sorted (see _note_speed)
        config = read_json(self.folder / "config.json")
        self.config = config if isinstance(config, dict) else {}  # its batch_size and bptt: tokens per step
        self.beside: tuple[float, bool] | None = None  # (monotonic time, another trainer then?) of the last look
        self.last_elapsed: float | None = None         # `elapsed` at the previous status write

    def status(self, **fields) -> dict:
        self.current.update(fields, updated_at=time.time())
        self._settle_epoch()
        if "elapsed" in fields:
            self._note_sharing(json_number(fields["elapsed"]))
        average = average_speed(self.current, self.config)
        if average is not None:
            self.current["average_tokens_per_s"] = average
        write_json_atomic(self.folder / "status.json", self.current)
        return dict(self.current)

    def _settle_epoch(self) -> None:
        """The status's epoch is the epoch of its step. The trainer's counter moves on right after an
        epoch's last step, so a run that max_steps ends on an epoch boundary would read 'step 149 /
        149 · epoch 2' for an epoch it never trains; that step's log lines name the epoch it is in."""
        if self.logged_epoch and self.current.get("step") == self.logged_epoch[0]:
            self.current["epoch"] = self.logged_epoch[1]

    def metric(self, record: dict) -> None:
        append_jsonl(self.folder / "metrics.jsonl", record)
        step, epoch = record.get("step"), record.get("epoch")
        if record.get("kind") in ("train", "val") and isinstance(step, int) and isinstance(epoch, int):
            self.logged_epoch = (step, epoch)
        if record.get("kind") == "val":
            self._note_validation(record)
        if record.get("kind") == "train":
            self._note_speed(record)

    def _note_speed(self, record: dict) -> None:
        """The median of the train lines' speeds so far goes into the status (`median_tokens_per_s`,
        written with the next status() call), for readers of runs written before
        `average_tokens_per_s`, the speed pages show now: after a stop and a resume alone, the median
        of a run's intervals read 12,141 tokens/s for an average of 7.2k (QA round 10)."""
        speed = record.get("tokens_per_s")
        if isinstance(speed, (int, float)) and not isinstance(speed, bool):
            bisect.insort(self.speeds, float(speed))  # kept sorted: statistics.median then only looks
            self.current["median_tokens_per_s"] = statistics.median(self.speeds)  # as summaries reads logs

    def _note_sharing(self, elapsed: float | None) -> None:
        """Adds the training seconds since the previous write to `shared_seconds` while another
        trainer trains on this host: a run of the same runs folder, or any other `lmcore` training
        process (another runs folder, a bench). A run's speed measured beside another is not its
        speed alone (QA round 10: two tiny runs at once trained about half as fast), and the set-up
        estimate says so. Other programs on the machine are not seen. Never above `elapsed`: a
        resume from an earlier checkpoint, or a start over, turns the clock back."""
        if elapsed is None:
            return
        now = time.monotonic()
        if self.beside is None or now - self.beside[0] >= SHARING_CHECK_SECONDS:
            self.beside = (now, others_training(self.folder) or threads.other_training_processes() > 0)
        shared = json_number(self.current.get("shared_seconds"), 0.0)
        if self.beside[1] and self.last_elapsed is not None and elapsed > self.last_elapsed:
            shared += elapsed - self.last_elapsed
        self.current["shared_seconds"] = min(shared, elapsed)
        self.last_elapsed = elapsed

    def _note_validation(self, record: dict) -> None:
        """Final validation and the epoch and step of the best one go into the status (written with the
        next status() call), so a run summary never has to read the whole metrics log."""
        ppl, best = record.get("ppl"), self.current.get("best_val_ppl")
        if not isinstance(ppl, (int, float)):
            return
        self.current["final_val_ppl"] = ppl
        if not isinstance(best, (int, float)) or ppl <= best:
            self.current["best_epoch"] = record.get("epoch")
            self.current["best_step"] = record.get("step")   # where in its epoch: a capped run's may be early

    def sample(self, record: dict) -> None:
        append_jsonl(self.folder / "samples.jsonl", record)

    def params(self, counts: dict) -> None:
        write_json_atomic(self.folder / "params.json", counts)

    def vocabulary(self, words: list[str]) -> None:
        write_json_atomic(self.folder / "vocab.json", words)

    def masks(self, arrays: dict) -> None:
        fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".masks.", suffix=".npz")
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        os.replace(temp, self.folder / "masks.npz")

    def reserve_space(self) -> None:
        """Set RESERVE_BYTES aside in the folder while the run trains (release_space gives them back): on
        a disk filled to the last byte the final status could not be written, and the run read 'running'
        with a dead process, then 'killed or crashed' (QA round 17). Random bytes, so a compressing file
        system stores them whole. Best effort: on a disk already full the run goes on without one."""
        path = self.folder / RESERVE
        try:
            path.write_bytes(os.urandom(RESERVE_BYTES))
        except OSError:
            path.unlink(missing_ok=True)

    def release_space(self) -> None:
        with contextlib.suppress(OSError):  # best effort, as its making: it never hides why training ended
            (self.folder / RESERVE).unlink(missing_ok=True)

    def remove_stale_temps(self) -> list[Path]:
        """Delete the temp files a killed trainer left behind (a kill -9 mid-save left a 143 MB
        checkpoints/.last.*.tmp for good, QA round 13). Only the trainer writes these names, and it
        holds the folder's lock: nothing else can be writing them. Returns what it deleted."""
        stale = [*self.checkpoints.glob(".*.tmp"), *self.folder.glob(".masks.*.npz"),
                 *(p for name in TRAINER_FILES for p in self.folder.glob(f".{name}.*.tmp"))]
        for path in stale:
            path.unlink(missing_ok=True)
        return stale

    def checkpoint(self, names: str | tuple[str, ...] | list[str], payload: dict) -> None:
        """`payload` as checkpoints/NAME.pt for each name, serialized once (a book-sized state is
        53 MB): the other names are hard links to the first file, or copies where the file system
        has no links. Each appears whole (temp file + rename), and a later save of one name
        replaces that name's file only."""
        import torch

        names = (names,) if isinstance(names, str) else tuple(names)
        first = self.checkpoints / f"{names[0]}.pt"
        fd, temp = tempfile.mkstemp(dir=self.checkpoints, prefix=f".{names[0]}.", suffix=".tmp")
        with removed_on_failure(temp):
            # Through a Python file, not a path: given a path, PyTorch's own writer turns a full disk into
            # 'RuntimeError: unexpected pos' with no errno, and its open file lives on in the traceback, so
            # the space stayed taken while the failure was recorded (QA round 17). A Python file is closed
            # on the way out, and its OSError (ENOSPC) is the RuntimeError's __context__.
            with os.fdopen(fd, "wb") as handle:
                torch.save(payload, handle)
            os.replace(temp, first)
        for name in names[1:]:
            temp = self.checkpoints / f".{name}.{secrets.token_hex(4)}.tmp"
            try:
                os.link(first, temp)
            except OSError:
                shutil.copyfile(first, temp)
            os.replace(temp, self.checkpoints / f"{name}.pt")

    def rewind_logs(self, step: int) -> None:
        """Cut the logs back to what a checkpoint at `step` knew (jsonl.rewind_to_step; 0: a start over
        keeps no line); the median speed starts over from the train lines kept (a resume goes on from
        them)."""
        rewind_to_step(self.folder / "metrics.jsonl", step)
        rewind_to_step(self.folder / "samples.jsonl", step)
        self.speeds = []
        self.current.pop("median_tokens_per_s", None)
        kept = read_metrics(self.folder / "metrics.jsonl")
        for record in kept:
            if record["kind"] == "train":
                self._note_speed(record)
        if json_number(self.current.get("best_val_ppl")) is None:
            self._recount_validations(kept)

    def _recount_validations(self, records: list[dict]) -> None:
        """The best and final validation and where the best came, from the log kept, for a status.json
        that lost them (torn, and rebuilt from the checkpoint): a resumed run read 'best validation
        perplexity —, final —' beside a log holding three validations (QA round 13)."""
        for record in records:
            if record["kind"] == "val":
                best = json_number(self.current.get("best_val_ppl"))
                self._note_validation(record)
                if best is None or record["ppl"] <= best:
                    self.current["best_val_ppl"] = record["ppl"]


def tokens_trained(status: dict, config: dict) -> int | None:
    """step x batch_size x bptt, exact (training takes full bptt windows only); None without them."""
    step = json_count(status.get("step"))
    batch, bptt = json_count(config.get("batch_size")), json_count(config.get("bptt"))
    return step * batch * bptt if step and batch and bptt else None


def average_speed(status: dict, config: dict) -> float | None:
    """Tokens trained over the seconds spent in training steps (`elapsed` less the evaluation,
    sampling and saving in `time_spent`): status `average_tokens_per_s`, so that speed x time in
    steps is what it trained. None where the status lacks one of these."""
    tokens, elapsed = tokens_trained(status, config), json_number(status.get("elapsed"))
    spent = status.get("time_spent")
    if not (tokens and elapsed and isinstance(spent, dict)):
        return None
    stepping = elapsed - sum(v for v in map(json_number, spent.values()) if v is not None)
    return tokens / stepping if stepping > 0 else None


def others_training(folder: Path) -> bool:
    """Whether another run of `folder`'s runs folder trains on this host now: its status.json,
    written within TRAINING_NOW_SECONDS, says `running` (a queued or ended run's is not rewritten)."""
    folder, host, now = Path(folder), socket.gethostname(), time.time()
    try:
        entries = [entry for entry in os.scandir(folder.parent)
                   if not entry.name.startswith(".") and entry.name != folder.name]
    except OSError:
        return False
    for entry in entries:
        path = Path(entry.path) / "status.json"
        try:
            if now - path.stat().st_mtime >= TRAINING_NOW_SECONDS:
                continue
        except OSError:
            continue
        status = read_json(path)
        if isinstance(status, dict) and status.get("state") == "running" and status.get("host", host) == host:
            return True
    return False


def create_run(config: dict, root: Path | None = None, label: str = "",
               fill: Callable[[Path], None] | None = None) -> Path:
    """A new run folder holding its full, validated config and a `queued` status; its path.

    `config` may name only some keys; config.json gets every key (the contract). `fill(folder)`
    adds more before the folder appears (a fork's checkpoint): it is built under a hidden name
    and moved into place whole, since the queue starts any queued run folder it sees. If `fill`
    raises, nothing is left behind.
    """
    from .config import from_dict, validate

    config = validate(from_dict(config)).to_dict()
    root = runs_dir(root)
    folder = run_path(root, new_run_id(label or config.get("name") or config.get("preset", "")))
    staging = root / f".new-{folder.name}"  # list_runs skips dot-named folders
    with runs_folder_refusal(root, staging):
        root.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        _fill_new_run(config, staging, fill)
        os.rename(staging, folder)
    return folder


def _fill_new_run(config: dict, staging: Path, fill: Callable[[Path], None] | None) -> None:
    """create_run's files, in its hidden folder; if anything fails, nothing is left behind."""
    try:
        write_json_atomic(staging / "config.json", {**config, "lmcore_version": __version__})
        RunWriter(staging).status(state="queued", pid=None, step=0, total_steps=None, epoch=0,
                                  created_at=time.time(), started_at=None, finished_at=None, error=None)
        if fill is not None:
            fill(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# Why a runs folder takes no new run, by errno: the folder, not the hidden `.new-` one inside it.
RUNS_FOLDER_REFUSALS = {
    errno.EROFS: "the runs folder {root} is read-only: nothing can be started there",
    errno.EACCES: "the runs folder {root} cannot be written by this user (permission denied): nothing can be "
                  "started there",
    errno.EPERM: "the runs folder {root} cannot be written by this user (operation not permitted): nothing can "
                 "be started there",
    errno.ENOSPC: no_space("the runs folder {root}"),
}


@contextlib.contextmanager
def runs_folder_refusal(root: Path, staging: Path):
    """A write into the runs folder that the folder itself refuses becomes one RunError naming it. Start
    read "[Errno 30] Read-only file system: '/x/.new-2026...'", a hidden folder the user never made (QA
    round 17). An error on another path (a fork reading its parent's checkpoint) passes as it is."""
    try:
        yield
    except OSError as error:
        where = Path(error.filename) if error.filename else None  # a failed write() names no file
        ours = where is None or where in (root, *root.parents) or staging in (where, *where.parents)
        if error.errno not in RUNS_FOLDER_REFUSALS or not ours:
            raise
        raise RunError(RUNS_FOLDER_REFUSALS[error.errno].format(root=root)) from None


def record_launch(folder: Path, pid: int, **extra) -> None:
    """The launcher's own file: which process it started for this run, and when (plus `extra`,
    e.g. backend="ray"). The trainer takes over status.json once it runs; until then a reader
    looks here (read_status)."""
    write_json_atomic(Path(folder) / LAUNCHER, {"pid": pid, "started_at": time.time(), **extra})


def record_queue_failure(folder: Path, message: str) -> None:
    """The queue's own file: it could not start this run (a reader shows the run failed)."""
    write_json_atomic(Path(folder) / QUEUE_FAILURE, {"error": message, "at": time.time()})


def refuse_reference(folder: str | os.PathLike, action: str) -> None:
    """Shipped reference runs (docs/results/runs/) are read-only: a RunError in one line."""
    from .reference import is_reference  # reference.py reads through this module: import late

    if is_reference(folder):
        raise RunError(f"{Path(folder).name} is a reference run shipped with the project (read-only); "
                       f"it cannot be {action}")


def delete_run(folder: Path) -> None:
    """Remove a run folder that no process trains; one already gone (another user's Delete a moment
    earlier) is no error: what was asked for holds."""
    refuse_reference(folder, "deleted")
    if not Path(folder).is_dir():
        return
    doing = busy_with(folder)
    if doing:
        raise RunError(f"{Path(folder).name} is {doing}; stop it before deleting it")
    shutil.rmtree(folder, onerror=_unless_gone)


def _unless_gone(function, path, exc_info) -> None:
    if not isinstance(exc_info[1], FileNotFoundError):  # a file another delete removed first is fine
        raise exc_info[1]


def busy_with(folder: Path) -> str | None:
    """'training (process N)' while a trainer holds the folder, 'starting (process N)' while a launch
    it has not taken over yet lives (or the same for a trainer on another host, by its status); None
    when no process has it."""
    holder = locks.holder(Path(folder) / locks.TRAINER_LOCK)
    if holder is not None:
        return f"training (process {holder or 'starting'})"
    status = read_status(folder)
    if status.get("state") in ACTIVE and status.get("pid"):  # read_status reads a dead one as failed
        return f"{'starting' if status['state'] == 'queued' else 'training'} (process {status['pid']})"
    return None


def stop_run(folder: Path) -> bool:
    """Ask a running training process to checkpoint and stop (SIGTERM); False if none runs.

    A run on a Ray cluster gets a stop file instead (STOP_REQUEST): a signal reaches neither
    another node nor, safely, a Ray worker (Ray would read its death as a crash and retry it).
    So does a run still starting: a signal during its imports would kill it, read as failed.
    """
    refuse_reference(folder, "stopped")
    status = read_status(folder)
    pid = status.get("pid")
    if status.get("state") not in ACTIVE:
        return False
    if status.get("state") == "queued" and not pid and unqueue(folder):
        return True
    status = read_status(folder)   # a launcher claimed it meanwhile: it is starting
    pid = status.get("pid")
    starting = status.get("state") == "queued" and pid  # launched (read_status: alive); may not take signals yet
    if starting or (read_json(Path(folder) / LAUNCHER) or {}).get("backend") == "ray":
        write_json_atomic(Path(folder) / STOP_REQUEST, {"at": time.time()})
        return True
    if not pid_alive(pid):
        return False
    # The file too, naming the process: a trainer paused or stuck does not answer the signal, and the
    # Train page says how long ago Stop was first asked (summaries.stop_unanswered). Another process's is stale.
    asked = read_json(Path(folder) / STOP_REQUEST)
    if not (isinstance(asked, dict) and asked.get("pid") == pid and json_number(asked.get("at")) is not None):
        write_json_atomic(Path(folder) / STOP_REQUEST, {"at": time.time(), "pid": pid})
    os.kill(pid, signal.SIGTERM)
    return True


def unqueue(folder: Path) -> bool:
    """Take a queued run that no process has claimed off the queue: `stopped` where it stands (step 0,
    or a fork's step), so the queue leaves it and Resume trains it (QA round 28: Stop on a waiting run
    said no process runs, and the queue trained it anyway). Under the launch lock, so the queue cannot
    start it meanwhile; False when it is not waiting (a launcher claimed it, or it is not queued)."""
    with locks.launching(Path(folder)):
        status = read_status(folder)
        if status.get("state") != "queued" or status.get("pid"):
            return False
        RunWriter(Path(folder)).status(state="stopped")
    return True


# ---------------------------------------------------------------- readers


def pid_alive(pid) -> bool:
    """True when `pid` is a live lmcore process (not a zombie, not a reused pid).

    Right after Popen returns, the child has exec'd but the kernel may not have set up its
    arguments yet, so /proc/<pid>/cmdline reads empty for a moment: that counts as alive (a
    zombie is caught by its state first). A process whose command line names something else
    is a reused pid: not ours.
    """
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    proc = Path(f"/proc/{pid}")
    if not proc.exists():
        return True  # no /proc (macOS): trust the signal check
    try:
        if (proc / "stat").read_text().split(")")[-1].split()[0] == "Z":
            return False
        cmdline = (proc / "cmdline").read_bytes()
        return not cmdline or b"lmcore" in cmdline
    except OSError:
        return False


def trainer_alive(status: dict) -> bool:
    """Whether the trainer that wrote `status` still runs: its pid here, or for a trainer on
    another host (a cluster node) a status written within REMOTE_STALE_SECONDS."""
    host = status.get("host")
    if isinstance(host, str) and host != socket.gethostname():
        return time.time() - json_number(status.get("updated_at"), 0.0) < REMOTE_STALE_SECONDS
    return pid_alive(status.get("pid"))


def read_status(folder: Path) -> dict:
    """status.json as the run stands now; never writes.

    Derived, not stored: a launch the trainer has not taken over yet (launcher.json) reads as
    `queued` with the launcher's pid, or as failed once that process is gone; an active run
    whose process is gone reads as failed; a queued run the queue could not start reads as
    failed with the queue's reason.
    """
    folder = Path(folder)
    status = read_json(folder / "status.json")
    if not isinstance(status, dict):
        return {"state": "broken", "error": "status.json is missing or unreadable"}
    launched = read_json(folder / LAUNCHER)
    if _launch_pending(status, launched):
        pid = launched["pid"]
        if pid_alive(pid):
            return {**status, "state": "queued", "pid": pid, "error": None}
        message = (full_disk_words(folder)
                   or f"the training process (pid {pid}) ended before it started training: see log.txt")
        return {**status, "state": "failed", "pid": pid, "finished_at": None, "error": message}
    pid = status.get("pid")
    if status.get("state") in ACTIVE and pid is not None and not trainer_alive(status):
        if _retry_pending(launched):  # Ray starts the task again, from the last checkpoint
            return {**status, "state": "queued", "error": None}
        message = (full_disk_words(folder)
                   or f"the training process (pid {pid}) ended without a final status: killed or crashed")
        return {**status, "state": "failed", "error": message}
    if status.get("state") != "queued" or pid:
        return status
    failure = read_json(folder / QUEUE_FAILURE)  # only a run the queue has not started can have one
    if isinstance(failure, dict) and json_number(failure.get("at"), 0.0) >= json_number(status.get("updated_at"), 0.0):
        return {**status, "state": "failed", "error": failure.get("error")}
    return status


def full_disk_words(folder: Path) -> str | None:
    """The disk-full line a dead trainer printed last into log.txt (without 'error: '), or None. Its final
    status needs a little space; where even that was lacking (its space reserve could not be made: the disk
    was full when it started), the run read 'killed or crashed' while its log said why (QA round 17)."""
    try:
        with open(Path(folder) / "log.txt", "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - 4096))
            lines = handle.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    last = next((line.strip() for line in reversed(lines) if line.strip()), "")
    return last.removeprefix("error: ") if last.startswith(f"error: {NO_SPACE}") else None


def _retry_pending(launched) -> bool:
    """A Ray task whose trainer died while its driver lives and has not seen the task end."""
    return (isinstance(launched, dict) and launched.get("backend") == "ray" and not launched.get("ended_at")
            and pid_alive(launched.get("pid")))


def _launch_pending(status: dict, launched) -> bool:
    """A launch newer than the status, whose process has not written the status yet."""
    return (isinstance(launched, dict) and isinstance(launched.get("pid"), int)
            and launched["pid"] != status.get("pid")
            and json_number(launched.get("started_at"), 0.0) >= json_number(status.get("updated_at"), 0.0))


def read_config(folder: Path) -> dict | None:
    config = read_json(Path(folder) / "config.json")
    return config if isinstance(config, dict) else None
