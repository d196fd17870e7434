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
from pathlib import Path

import torch

from .jsonl import read_jsonl
from .reference import reference_info
from .runs import read_config, read_json, read_status
from .summaries import summarize
from .timing import time_split


def epoch_table(records: list[dict]) -> list[dict]:
    """Per epoch: train perplexity (mean loss of its train lines), validation, seconds taken."""
    rows, previous_time = [], 0.0
    last_val_of_epoch = {r["epoch"]: r for r in records if r["kind"] == "val"}  # eval_every adds more
    for epoch, val in sorted(last_val_of_epoch.items()):
        losses = [r["loss"] for r in records if r["kind"] == "train" and r["epoch"] == epoch
                  and r["step"] <= val["step"]]
        rows.append({"epoch": epoch, "step": val["step"],
                     "train_ppl": math.exp(sum(losses) / len(losses)) if losses else None,
                     "val_ppl": val["ppl"], "lr": val["lr"], "seconds": val["time"] - previous_time})
        previous_time = val["time"]
    return rows


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
    folder = Path(folder)
    records = read_jsonl(folder / "metrics.jsonl")
    status = read_status(folder)
    epochs = epoch_table(records)
    test = [r["ppl"] for r in records if r["kind"] == "test"]
    split = time_split(status.get("time_spent"), status.get("elapsed"))  # None for runs before it was recorded
    return {
        "run": folder.name, "state": status.get("state"), "config": read_config(folder),
        **machine(folder, status),
        "params": (read_json(folder / "params.json") or {}).get("total"),
        "best_val_ppl": min((e["val_ppl"] for e in epochs), default=None),
        "test_ppl": test[-1] if test else None,
        "seconds_per_epoch": sorted(e["seconds"] for e in epochs)[len(epochs) // 2] if epochs else None,
        "total_seconds": records[-1]["time"] if records else None,
        "tokens_per_s": summarize(folder).tokens_per_s,  # the one speed the pages show
        **({"time_split": split} if split else {}),  # seconds per phase (lmcore/timing.py)
        "epochs": epochs,
    }


def plot(result: dict, path: Path) -> bool:
    """Train and validation perplexity per epoch; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    epochs = result["epochs"]
    figure, axis = plt.subplots(figsize=(7, 4.2), dpi=120)
    axis.plot([e["epoch"] for e in epochs], [e["train_ppl"] for e in epochs], label="train", marker=".")
    axis.plot([e["epoch"] for e in epochs], [e["val_ppl"] for e in epochs], label="validation", marker="o")
    if result.get("test_ppl"):
        axis.axhline(result["test_ppl"], color="gray", linestyle="--", label=f"test {result['test_ppl']:.1f}")
    axis.set_yscale("log")
    axis.set_xlabel("epoch")
    axis.set_ylabel("perplexity")
    config = result.get("config") or {}
    unfinished = "" if result.get("state") == "finished" else f" ({result.get('state')}, not finished)"
    axis.set_title(f"{config.get('preset') or result['run']} on {result['device']}{unfinished}")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True


def write(folder: Path, json_path: Path, png_path: Path | None = None) -> dict:
    result = build(folder)
    Path(json_path).write_text(json.dumps(result, indent=1))
    if png_path is not None and not plot(result, png_path):
        print("matplotlib is not installed: no PNG written")
    return result
