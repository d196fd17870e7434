"""A finished run as a results record (docs/results/*.json) and a PNG of its curves.

Used by scripts/gpu_check.sh on machines without the app's packages: needs only the run
folder, and matplotlib for the picture (skipped with a note when it is missing). A shipped
reference run is usually reported on another machine than the one that trained it, so its
device and torch version come from its reference.json, never from the reporting machine.
"""

from __future__ import annotations

import json
import math
import platform
import sys
from pathlib import Path

import torch

from .epochs import epoch_position, epoch_steps_from_log
from .errors import LmcoreError, RunError
from .fork import start_seconds
from .jsonl import json_number, read_metrics
from .reference import reference_info
from .runs import read_config, read_json
from .summaries import summarize
from .text import shorten
from .timing import time_split


def epoch_table(records: list[dict], per_epoch: int | None = None, start: float | None = 0.0) -> list[dict]:
    """Per epoch: train perplexity (mean loss of its train lines), validation, seconds taken, and the
    fraction of the epoch trained by its last validation: below 1 for an epoch that max_steps, a stop
    or a crash cut short (None where the steps per epoch are unknown). The first epoch's seconds count
    from `start`, the log's `time` where the run began: a fork's goes on from its parent's training time
    (fork.start_seconds; counted from 0 it held the parent's time, QA), None where that is not known."""
    rows, previous_time = [], start
    last_val_of_epoch = {r["epoch"]: r for r in records if r["kind"] == "val"}  # eval_every adds more
    for epoch, val in sorted(last_val_of_epoch.items()):
        losses = [r["loss"] for r in records if r["kind"] == "train" and r["epoch"] == epoch
                  and r["step"] <= val["step"] and json_number(r.get("loss")) is not None]
        position = epoch_position(val["step"], epoch, per_epoch)
        rows.append({"epoch": epoch, "step": val["step"],
                     "fraction": round(position[1] / per_epoch, 4) if position and position[0] == epoch else None,
                     "train_ppl": math.exp(sum(losses) / len(losses)) if losses else None,
                     "val_ppl": val["ppl"], "lr": json_number(val.get("lr")),
                     "seconds": _seconds(json_number(val.get("time"), previous_time), previous_time)})
        previous_time = json_number(val.get("time"), previous_time)
    return rows


def _seconds(now: float | None, before: float | None) -> float | None:
    return now - before if now is not None and before is not None else None


def median_epoch_seconds(epochs: list[dict], begun_inside: int | None = None) -> float | None:
    """The median seconds of its whole epochs: an epoch cut short took less, and of a run's two
    epochs (one cut) the median was the cut one's. Every epoch's where none is known whole.
    `begun_inside`: the epoch a fork started inside of (from a checkpoint within it), whose seconds
    are only the part the fork trained."""
    known = [e for e in epochs if e["seconds"] is not None and (begun_inside is None or e["epoch"] != begun_inside)]
    whole = [e["seconds"] for e in known if e.get("fraction") in (None, 1)] or [e["seconds"] for e in known]
    return sorted(whole)[len(whole) // 2] if whole else None


def begun_inside(config: dict, per_epoch: int | None) -> int | None:
    """The epoch a fork started inside of, its checkpoint not at an epoch's end (fork `--from last` of a
    stopped run, say); None for a run that is no fork, one forked at an epoch's end, or an unknown plan."""
    step = config.get("fork_step")
    if not isinstance(step, int) or not per_epoch or step % per_epoch == 0:
        return None
    return step // per_epoch + 1


def epochs_trained(row: dict) -> float:
    """Where an epoch's row sits on an axis of epochs trained: 2 at the end of epoch 2, 2.22 for
    epoch 3 cut after 22% of it."""
    return row["epoch"] - 1 + row["fraction"] if row.get("fraction") is not None else row["epoch"]


def device_name(status: dict) -> str:
    """The GPU's name when the run used CUDA and this machine has one (gpu_check reports right
    after training), else what status.json says."""
    if str(status.get("device", "")).startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return status.get("device") or "unknown"


def machine(folder: Path, status: dict) -> dict:
    """Where the run was measured: its reference.json when it has one, else this machine."""
    if info := reference_info(folder):
        return {"device": info.get("device") or status.get("device") or "unknown",
                "torch": info.get("torch"), "python": info.get("python"), "reference": info}
    return {"device": device_name(status), "torch": torch.__version__,
            "python": platform.python_version(), "reference": None}


def build(folder: Path) -> dict:
    """The results record of a run folder; RunError for a folder that holds no run (it used to be
    reported as a 'broken' run named after the folder, on an 'unknown' device)."""
    folder = Path(folder)
    config = read_config(folder)
    if config is None:
        raise RunError(f"{folder}: not a run folder (config.json is missing or unreadable)")
    records = read_metrics(folder / "metrics.jsonl")
    summary = summarize(folder)
    status = summary.status  # read_status, read once
    epochs = epoch_table(records, summary.steps_per_epoch or epoch_steps_from_log(records),
                         start_seconds(folder, config, status))
    test = [r["ppl"] for r in records if r["kind"] == "test"]
    split = time_split(status.get("time_spent"), status.get("elapsed"))  # None for runs before it was recorded
    # The scores, step and time are the summary's, as every page and `lmcore runs` show them: a
    # minimum over the epoch table missed validations between epoch ends (eval_every), and a killed
    # run's step is its last logged one.
    return {
        "run": folder.name, "state": status.get("state"), "config": config,
        **({"error": summary.problem} if summary.problem else {}),  # why a failed run stopped
        **machine(folder, status),
        "params": (read_json(folder / "params.json") or {}).get("total"),
        "best_val_ppl": summary.best_val, "best_epoch": summary.best_epoch, "final_val_ppl": summary.final_val,
        "test_ppl": summary.test if summary.test is not None else (test[-1] if test else None),
        "step": summary.step, "total_steps": summary.total_steps,
        "seconds_per_epoch": median_epoch_seconds(epochs, begun_inside(config, summary.steps_per_epoch)),
        "total_seconds": summary.training_seconds if summary.training_seconds is not None
        else (json_number(records[-1].get("time")) if records else None),
        **({"redone_seconds": summary.redone_seconds} if summary.redone_seconds else {}),  # trained again
        "tokens_per_s": summary.tokens_per_s,  # the one speed the pages show
        **({"time_split": split} if split else {}),  # seconds per phase (lmcore/timing.py)
        "epochs": epochs,
    }


def plot_title(result: dict) -> str:
    """'book-solo on NVIDIA H200 (stopped, not finished)': the run's name, as the pages call it (a
    grid's four runs all read 'tiny-dropout on cpu', QA round 12), where it was measured, and how
    it ended unless it finished."""
    config = result.get("config") or {}
    unfinished = "" if result.get("state") == "finished" else f" ({result.get('state')}, not finished)"
    name = shorten(config.get("name") or config.get("preset") or result["run"], 60)
    return f"{name} on {result['device']}{unfinished}"


def plot(result: dict, path: Path) -> bool:
    """Train and validation perplexity per epoch; False when matplotlib is missing. A run with no
    validation yet is no plot (write says so): it drew an empty frame, epochs -0.04 to 0.04."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    epochs = result["epochs"]
    figure, axis = plt.subplots(figsize=(7, 4.2), dpi=120)
    trained = [epochs_trained(e) for e in epochs]
    axis.plot(trained, [e["train_ppl"] for e in epochs], label="train", marker=".")
    axis.plot(trained, [e["val_ppl"] for e in epochs], label="validation", marker="o")
    if result.get("test_ppl"):
        axis.axhline(result["test_ppl"], color="gray", linestyle="--", label=f"test {result['test_ppl']:.1f}")
    axis.set_yscale("log")
    plain_log_ticks(axis)
    partial = [e for e in epochs if e.get("fraction") is not None and e["fraction"] < 1]
    axis.set_xlabel("epochs trained" + "".join(f"; epoch {e['epoch']} cut at {e['fraction']:.0%}" for e in partial))
    axis.set_ylabel("perplexity")
    axis.set_title(plot_title(result))
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    try:
        figure.savefig(path)
    except (OSError, ValueError) as error:  # a missing or read-only folder, an unknown image suffix
        raise LmcoreError(f"cannot write the PNG {path}: {_reason(error)}") from None
    finally:
        plt.close(figure)
    return True


# Labelled perplexities on the log axis: 1-2-5 per power of ten, the app's charts' rule (ui.LOG_TICKS),
# and 3, 4, 6 and 8 besides where the axis spans a power of ten or so (a whole run's curves do), so
# the plateau of 80-odd sits between labels; only powers of ten where it spans more than four (1-2-5
# crowded a run climbing from 2 to 5 million); past 10 million (a diverged run) matplotlib's 10ⁿ.
DENSE, SPARSE, POWERS = (1, 2, 3, 4, 5, 6, 8), (1, 2, 5), (1,)
PLAIN_UP_TO = 1e7


def log_ticks(low: float, high: float) -> list[float]:
    """The labelled values between `low` and `high` (a log axis's limits); [] where fewer than three
    fit (an axis from 80 to 95) or past PLAIN_UP_TO: matplotlib's own ticks then."""
    if not 0 < low < high <= PLAIN_UP_TO:
        return []
    mantissas = DENSE if high <= 40 * low else SPARSE if high <= 1e4 * low else POWERS
    ticks = [m * 10 ** power for power in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
             for m in mantissas]
    ticks = [tick for tick in ticks if low <= tick <= high]
    return ticks if len(ticks) >= 3 else []


def tick_label(value: float, _position=None) -> str:
    """200, 1,000, 82.5: a plain number, never matplotlib's 2×10²."""
    return f"{value:,.0f}" if value >= 100 else f"{value:g}"


def plain_log_ticks(axis) -> None:
    """Plain-number labels on the log y axis: matplotlib's read '2×10², 6×10¹', hard on a class."""
    from matplotlib import ticker

    low, high = axis.get_ylim()
    if high > PLAIN_UP_TO:
        return
    ticks = log_ticks(low, high)
    # a narrow axis gets evenly spaced values, as the app's (Plotly's) charts do below a span of 8
    axis.yaxis.set_major_locator(ticker.FixedLocator(ticks) if ticks else ticker.MaxNLocator(5))
    axis.yaxis.set_major_formatter(ticker.FuncFormatter(tick_label))
    axis.yaxis.set_minor_formatter(ticker.NullFormatter())


def _reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error).splitlines()[0]


def _check_folder(path: Path, what: str) -> None:
    """Refuse an output whose folder is missing before anything is written, so a typo in --png
    does not leave a JSON written and a PNG missing."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise LmcoreError(f"cannot write the {what} {path}: no folder {folder}")


def write(folder: Path, json_path: Path | None, png_path: Path | None = None) -> dict:
    """build(folder) written as JSON to `json_path` (none: the caller prints it) and drawn to
    `png_path`; LmcoreError in one line for an output that cannot be written. A run with no
    validation yet gets no PNG, with a note."""
    result = build(folder)
    for path, kind in ((json_path, "JSON"), (png_path, "PNG")):
        if path is not None:
            _check_folder(path, kind)
    try:
        if json_path is not None:
            Path(json_path).write_text(json.dumps(result, indent=1))
    except OSError as error:  # a read-only folder, a folder of that name
        raise LmcoreError(f"cannot write the JSON {json_path}: {_reason(error)}") from None
    if png_path is None:
        return result
    if not result["epochs"]:
        print(f"no PNG written: {result['run']} has no validation yet, nothing to draw", file=sys.stderr)
    elif not plot(result, png_path):  # stderr: stdout is the command's JSON line
        print("matplotlib is not installed: no PNG written", file=sys.stderr)
    return result
