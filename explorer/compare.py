"""Runs side by side: the runs table, filters, config diffs, CSV and grid summaries.

Pure functions over runs.list_runs() summaries (and metrics frames); the Compare page only
lays them out. Nothing here reads or writes a run folder.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pandas as pd

from lmcore.config import KEYS

# The config keys a comparison table shows, in the order a reader scans them.
TABLE_KEYS = ("preset", "dataset", "layers", "hidden_size", "dropout", "dropout_placement", "tie_weights",
              "optimizer", "lr", "epochs")
COLUMNS = ("id", "name", "state", "progress", *TABLE_KEYS, "best_val_ppl", "test_ppl", "params", "seconds",
           "tokens_per_s", "started_at", "group", "note")
WHOLE_NUMBERS = ("layers", "hidden_size", "epochs", "params")
# Keys a diff leaves out: the name is the column header already; the version is bookkeeping.
NOT_DIFFED = ("name", "lmcore_version")


# ---------------------------------------------------------------- naming


def display_name(summary: dict) -> str:
    config = summary.get("config") or {}
    return config.get("name") or config.get("preset") or summary["id"]


def unique_labels(summaries: list[dict]) -> list[str]:
    """One label per run for chart legends and diff columns; equal names get the id's tail."""
    names = [display_name(s) for s in summaries]
    return [f"{name} · {s['id'][-4:]}" if names.count(name) > 1 else name for name, s in zip(names, summaries)]


def state_of(summary: dict) -> str:
    return "broken" if summary.get("broken") else (summary.get("status") or {}).get("state") or "broken"


# ---------------------------------------------------------------- the runs table


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def duration(status: dict, now: float | None = None) -> float | None:
    """Seconds from the first start to the end (or to now / the last update while not ended)."""
    started = _number(status.get("started_at"))
    if started is None:
        return None
    end = _number(status.get("finished_at"))
    if end is None:
        end = (now or time.time()) if status.get("state") == "running" else _number(status.get("updated_at"))
    return max(end - started, 0.0) if end is not None else None


def _dataset_label(dataset) -> str | None:
    if not isinstance(dataset, str) or not dataset:
        return None
    return dataset if dataset in ("ptb", "synthetic") else Path(dataset).name


def run_row(summary: dict, now: float | None = None) -> dict:
    config, status = summary.get("config") or {}, summary.get("status") or {}
    state = state_of(summary)
    step, total = _number(status.get("step")), _number(status.get("total_steps"))
    progress = 1.0 if state == "finished" else (min(step / total, 1.0) if step is not None and total else 0.0)
    started = _number(status.get("started_at"))
    row = {"id": summary["id"], "name": display_name(summary), "state": state, "progress": progress}
    row.update({key: config.get(key) for key in TABLE_KEYS})
    row["dataset"] = _dataset_label(config.get("dataset"))
    row["preset"] = config.get("preset") or ("custom" if config else None)
    row.update(best_val_ppl=_number(status.get("best_val_ppl")), test_ppl=_number(status.get("test_ppl")),
               params=_number(summary.get("params")), seconds=duration(status, now),
               tokens_per_s=_number(status.get("tokens_per_s")),
               started_at=datetime.fromtimestamp(started) if started is not None else None,
               group=config.get("group") or None,
               note=summary.get("problem") or (status.get("error") if state in ("failed", "broken") else None))
    return row


def runs_table(summaries: list[dict], now: float | None = None) -> pd.DataFrame:
    """One row per run (in the order given), columns COLUMNS; damaged runs have state 'broken'."""
    frame = pd.DataFrame([run_row(s, now) for s in summaries], columns=list(COLUMNS))
    for key in WHOLE_NUMBERS:
        frame[key] = pd.to_numeric(frame[key], errors="coerce").round().astype("Int64")
    for key in ("dropout", "lr", "best_val_ppl", "test_ppl", "seconds", "tokens_per_s", "progress"):
        frame[key] = pd.to_numeric(frame[key], errors="coerce").astype(float)
    frame["tie_weights"] = frame["tie_weights"].astype("boolean")
    frame["started_at"] = pd.to_datetime(frame["started_at"])
    return frame


def filter_table(frame: pd.DataFrame, states=(), presets=(), datasets=(), placements=(),
                 text: str = "") -> pd.DataFrame:
    """Rows matching every filter given; an empty filter keeps everything. `text` matches the
    name, id or grid, ignoring case."""
    keep = pd.Series(True, index=frame.index)
    for column, chosen in (("state", states), ("preset", presets), ("dataset", datasets),
                           ("dropout_placement", placements)):
        if chosen:
            keep &= frame[column].isin(list(chosen))
    needle = (text or "").strip().lower()
    if needle:
        haystack = (frame["name"].fillna("") + " " + frame["id"] + " " + frame["group"].fillna("")).str.lower()
        keep &= haystack.str.contains(needle, regex=False)
    return frame[keep]


def options(frame: pd.DataFrame, column: str) -> list:
    """The distinct values of a column, for a filter's choices (missing values left out)."""
    return sorted(frame[column].dropna().unique().tolist(), key=str)


def table_csv(frame: pd.DataFrame) -> str:
    """The table as CSV text: raw numbers (not rounded), ISO times, empty cells for missing values."""
    out = frame.copy()
    out["started_at"] = out["started_at"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    return out.to_csv(index=False)


# ---------------------------------------------------------------- config diff


def varied_keys(configs: list[dict], ignore=NOT_DIFFED) -> list[str]:
    """Keys whose values are not all equal (a key missing from a config counts as None)."""
    present = {key for config in configs for key in config} - set(ignore)
    ordered = [k for k in KEYS if k in present] + sorted(present - set(KEYS))
    return [k for k in ordered if len({_hashable(config.get(k)) for config in configs}) > 1]


def _hashable(value):
    return repr(value) if isinstance(value, (list, dict)) else value


def show_value(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def config_diff(summaries: list[dict]) -> pd.DataFrame:
    """Only the config keys that differ between the runs: one row per key, one column per run."""
    configs = [s.get("config") or {} for s in summaries]
    keys = varied_keys(configs) if len(configs) > 1 else []
    labels = unique_labels(summaries)
    data = {label: [show_value(config.get(k)) for k in keys] for label, config in zip(labels, configs)}
    return pd.DataFrame(data, index=pd.Index(keys, name="key"))


# ---------------------------------------------------------------- curves


def shared_floor(summaries: list[dict]) -> float | None:
    """The entropy floor when every run is on the generated corpus with the same floor, else None."""
    floors = {(s.get("status") or {}).get("floor_ppl") for s in summaries}
    if not summaries or any((s.get("config") or {}).get("dataset") != "synthetic" for s in summaries):
        return None
    if len(floors) != 1:
        return None
    floor = floors.pop()
    return float(floor) if isinstance(floor, (int, float)) and floor > 0 else None


def steps_per_epoch(summary: dict, frame: pd.DataFrame) -> float | None:
    """Training steps in one epoch, when the run's status or its metrics tell it exactly."""
    config, status = summary.get("config") or {}, summary.get("status") or {}
    total, epochs, cap = status.get("total_steps"), config.get("epochs"), config.get("max_steps")
    if isinstance(total, int) and total > 0 and isinstance(epochs, int) and epochs > 0 and (not cap or total < cap):
        return total / epochs
    # Capped by max_steps: the validation at the end of epoch 1 is the last line labelled 1.
    if not frame.empty and (pd.to_numeric(frame["epoch"], errors="coerce") >= 2).any():
        first = frame[pd.to_numeric(frame["epoch"], errors="coerce") == 1]
        return float(first["step"].max()) if not first.empty else None
    return None


def with_fractional_epochs(frame: pd.DataFrame, per_epoch: float | None) -> pd.DataFrame:
    """A copy whose `epoch` column is step / steps-per-epoch (epoch 1.5 = half way through the
    second epoch), so training lines spread across an epoch instead of stacking on its number."""
    if not per_epoch or frame.empty:
        return frame
    out = frame.copy()
    out["epoch"] = out["step"].astype(float) / per_epoch
    return out


# ---------------------------------------------------------------- ablation grids


def grids(summaries: list[dict]) -> list[dict]:
    """One entry per ablation grid (config `group`), newest first: its runs, progress and the
    keys it varies."""
    by_group: dict[str, list[dict]] = {}
    for summary in summaries:
        group = (summary.get("config") or {}).get("group")
        if group:
            by_group.setdefault(group, []).append(summary)
    out = []
    for group, members in by_group.items():
        states = [state_of(s) for s in members]
        configs = [s["config"] for s in members]
        out.append({"group": group, "runs": members, "total": len(members),
                    "finished": states.count("finished"),
                    "active": sum(state in ("queued", "running") for state in states),
                    "failed": sum(state in ("failed", "stopped", "broken") for state in states),
                    "toggles": varied_keys(configs, ignore=NOT_DIFFED + ("group",)),
                    "preset": configs[0].get("preset") or "custom",
                    "created": min(s["id"] for s in members)})
    return sorted(out, key=lambda g: g["created"], reverse=True)


def grid_label(entry: dict) -> str:
    toggles = " × ".join(entry["toggles"]) or "no toggles"
    return f"{entry['group']} · {entry['preset']} · {toggles} · {entry['total']} runs"


def grid_progress(entry: dict) -> float:
    """The share of the grid that is settled: finished, failed and broken runs count 1, the
    others the share of their steps done."""
    rows = [run_row(s) for s in entry["runs"]]
    shares = [1.0 if row["state"] in ("finished", "failed", "broken") else row["progress"] for row in rows]
    return sum(shares) / len(shares) if shares else 0.0
