"""Runs side by side: the runs table, filters, config diffs, CSV and grid summaries.

Pure functions over lmcore.summaries.RunSummary objects (and metrics frames); the Compare page
only lays them out. Nothing here reads or writes a run folder.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from explorer.textview import isolated_name, unisolated
from explorer.uploads import dataset_label, is_upload, shown_upload_name
from lmcore import grid_status
from lmcore.config import KEYS, PTB_ONLY, Config, build, unused_keys
from lmcore.disk import usage
from lmcore.errors import ConfigError
from lmcore.sizes import ptb_slice_vocab_size, vocab_size_for
from lmcore.summaries import RunSummary

# The config keys a comparison table shows, in the order a reader scans them.
TABLE_KEYS = ("preset", "dataset", "layers", "hidden_size", "dropout", "dropout_placement", "dropout_recurrent",
              "tie_weights", "optimizer", "lr", "epochs", "max_steps", "seed")
# The rest of a run's recipe a methods section needs, in the CSV only: the screen's tables choose their
# columns (ui.compare_runs.RUN_COLUMNS), so they stay as they were (QA round 19, P3). A key the run's data
# never reads (vocab_size on the generated corpus, train_tokens on a text file: config.unused_keys) is
# left empty; `vocabulary` is the words its model predicts among, once training starts (params.json).
RECIPE_KEYS = ("embed_size", "vocab_size", "batch_size", "bptt", "clip", "train_tokens", "parent", "fork_from")
# `label` is the name, with the id's tail when names repeat; `total_steps` is the steps planned
# (epochs x batches, or max_steps when that is smaller); `training_seconds` excludes stopped spells;
# `device` is where it trained ("cpu (2 threads)", "cuda", a reference run's "NVIDIA H200"; a CPU run's
# thread count, when its status recorded it, since another count rounds differently) and `conditions` how a
# reference run's time was measured: a CPU run's speed beside a GPU run's says nothing without them.
# `speed_basis` says what tokens_per_s is: "average" over the training steps, "median" of the logged
# intervals (runs from before the average), or "latest" while training.
COLUMNS = ("id", "name", "label", "state", "progress", "step", "total_steps", *TABLE_KEYS, *RECIPE_KEYS,
           "vocabulary", "best_val_ppl",
           "final_val_ppl", "best_epoch", "test_ppl", "params", "training_seconds", "tokens_per_s", "speed_basis",
           "device", "disk_bytes", "conditions", "started_at", "group", "note")
WHOLE_NUMBERS = ("layers", "hidden_size", "epochs", "max_steps", "seed", "params", "step", "total_steps",
                 "best_epoch", "disk_bytes", "embed_size", "vocab_size", "batch_size", "bptt", "train_tokens",
                 "vocabulary")
PERPLEXITIES = ("best_val_ppl", "final_val_ppl", "test_ppl")
# Keys a diff leaves out: the name is the column header already; the version is bookkeeping.
NOT_DIFFED = ("name", "lmcore_version")


# ---------------------------------------------------------------- naming


def unique_labels(summaries: list[RunSummary]) -> list[str]:
    """One label per run for the table, chart legends and diff columns: the name, or the name
    with the id's tail where several of these runs share it."""
    names = [s.name for s in summaries]
    return [s.label_of(isolated_name(s.name)) if names.count(s.name) > 1 else isolated_name(s.name) for s in summaries]


# Characters of a label the runs table's 200 px run column shows whole, '=' and capitals included
# (31 of 'dropout=0.5 tied=true seed=2 · 9…' showed; 'placement=varia…ed=true seed=1' lost its 1).
TABLE_LABEL_ROOM = 27


def table_label(label: str, room: int = TABLE_LABEL_ROOM) -> str:
    """The label cut in its middle to `room` characters: the column cut its end, and the end is what
    tells a grid's runs apart (its seed) and namesakes (the id's tail), so they read alike (QA round 16).
    A short tail after the last ' · ' stays whole. A label with a long one ('zaremba-medium ·
    reference (NVIDIA H200)') keeps its start: the end is a remark there. The full label shows under
    Selected runs."""
    name, sep, tail = label.rpartition(" · ") if " · " in label else (label, "", "")
    if len(label) <= room or len(tail) > room // 3:
        return label
    keep = room - len(sep) - len(tail) - 1
    head = (keep + 1) // 2
    return f"{name[:head].rstrip()}…{name[len(name) - (keep - head):].lstrip()}{sep}{tail}"


# ---------------------------------------------------------------- the runs table


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def run_row(summary: RunSummary, label: str | None = None, sized: bool = True) -> dict:
    """A run's table row; without `sized`, no disk_bytes (runs_table fills it in from a fresh stat)."""
    config, status = summary.config, summary.status
    started = _number(status.get("started_at"))
    row = {"id": summary.id, "name": summary.name, "label": label or summary.name, "state": summary.state,
           "progress": summary.progress, "step": summary.step, "total_steps": summary.total_steps}
    row.update({key: config.get(key) for key in TABLE_KEYS})
    unread = set(unused_keys(config)) if config else set()
    row.update({key: None if key in unread or config.get(key) == "" else config.get(key) for key in RECIPE_KEYS})
    row["vocabulary"] = summary.vocab_size
    dataset = config.get("dataset")
    row["dataset"] = dataset_label(dataset) if isinstance(dataset, str) and dataset else None  # an upload by its name
    row["preset"] = config.get("preset") or ("custom" if config else None)
    row.update(best_val_ppl=summary.best_val, final_val_ppl=summary.final_val, best_epoch=summary.best_epoch,
               test_ppl=summary.test, params=summary.params, training_seconds=summary.training_seconds,
               tokens_per_s=summary.tokens_per_s,  # Train's and the CLI's figure (RunSummary.tokens_per_s)
               speed_basis=summary.speed_basis,
               device=summary.device_label, disk_bytes=usage(summary.path).total if sized and summary.path else None,
               conditions=(summary.reference or {}).get("conditions"),
               started_at=datetime.fromtimestamp(started) if started is not None else None,
               group=config.get("group") or None, note=summary.problem or summary.guessing_note or summary.unknown_note)
    return row


# Rows and tables already built, by the summary objects they were built from. lmcore.summaries hands
# out the same object for a settled run until one of its files changes (settled_summary), and a new
# one for a live run at every listing, so an object's identity stands for its folder's state. Each
# entry keeps its summaries, so no id is reused while it is here. Compare lists every run on a 5 to
# 10 s timer and asked for the table up to three times a rerun: 200 rows took about 26 ms each time.
_rows: dict[tuple[int, str], tuple[RunSummary, dict]] = {}
_tables: dict[tuple, tuple[list[RunSummary], pd.DataFrame]] = {}
ROWS_KEPT, TABLES_KEPT = 4096, 8


def _kept_row(summary: RunSummary, label: str) -> dict:
    """run_row without its disk size, built once per summary object and label."""
    key = (id(summary), label)
    kept = _rows.get(key)  # read once: another session's thread may clear the dict in between
    if kept is None:
        if len(_rows) >= ROWS_KEPT:
            _rows.clear()
        kept = _rows[key] = (summary, run_row(summary, label, sized=False))
    return kept[1]


def runs_table(summaries: list[RunSummary]) -> pd.DataFrame:
    """One row per run (in the order given), columns COLUMNS; damaged runs have state 'broken'. A
    fresh frame each call (callers change theirs), built again only where a summary is new or a
    run's size on disk changed (lmcore.disk.usage stats the folder: Free or `lmcore free`)."""
    sizes = tuple(usage(s.path).total if s.path else None for s in summaries)
    key = (tuple(map(id, summaries)), sizes)
    kept = _tables.get(key)
    if kept is None:
        if len(_tables) >= TABLES_KEPT:
            _tables.clear()
        kept = _tables[key] = (list(summaries), _build_table(summaries, sizes))
    return kept[1].copy()


def _build_table(summaries: list[RunSummary], sizes: tuple) -> pd.DataFrame:
    rows = [{**_kept_row(s, label), "disk_bytes": size}
            for s, label, size in zip(summaries, unique_labels(summaries), sizes)]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for key in WHOLE_NUMBERS:
        frame[key] = pd.to_numeric(frame[key], errors="coerce").round().astype("Int64")
    for key in ("dropout", "dropout_recurrent", "lr", "clip", *PERPLEXITIES, "training_seconds", "tokens_per_s",
                "progress"):
        frame[key] = pd.to_numeric(frame[key], errors="coerce").astype(float)
    frame["tie_weights"] = frame["tie_weights"].astype("boolean")
    frame["started_at"] = pd.to_datetime(frame["started_at"])
    return frame


def filter_table(frame: pd.DataFrame, states=(), presets=(), datasets=(), placements=(),
                 text: str = "") -> pd.DataFrame:
    """Rows matching every filter given; an empty filter keeps everything. `text` matches the
    label, id or grid, ignoring case."""
    keep = pd.Series(True, index=frame.index)
    for column, chosen in (("state", states), ("preset", presets), ("dataset", datasets),
                           ("dropout_placement", placements)):
        if chosen:
            keep &= frame[column].isin(list(chosen))
    needle = (text or "").strip().lower()
    if needle:
        haystack = (frame["label"].fillna("") + " " + frame["id"] + " " + frame["group"].fillna("")).str.lower()
        keep &= haystack.str.contains(needle, regex=False)
    return frame[keep]


def options(frame: pd.DataFrame, column: str) -> list:
    """The distinct values of a column, for a filter's choices (missing values left out)."""
    return sorted(frame[column].dropna().unique().tolist(), key=str)


def table_csv(frame: pd.DataFrame) -> str:
    """The table as CSV text: raw numbers (not rounded), ISO times, empty cells for missing values."""
    out = frame.copy()
    out["started_at"] = out["started_at"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    out["label"] = out["label"].map(unisolated)
    return out.to_csv(index=False)


# ---------------------------------------------------------------- config diff


def varied_keys(configs: list[dict]) -> list[str]:
    """Keys whose values are not all equal. A key missing from a config and an empty text both
    count as unset (None): a run from before a key existed, such as a shipped reference run
    without `parent`, differs from a new run's `parent: ""` in nothing a reader could see."""
    present = {key for config in configs for key in config} - set(NOT_DIFFED)
    ordered = [k for k in KEYS if k in present] + sorted(present - set(KEYS))
    return [k for k in ordered if len({_hashable(config.get(k)) for config in configs}) > 1]


# Keys that change how fast a run trains, where it runs or what it logs, not what it learns (CUDA
# graphs and the compiled cell train to the same numbers: docs/performance.md).
NOT_RECIPE = NOT_DIFFED + ("preset", "group", "parent", "fork_from", "fork_step", "device", "threads",
                           "cuda_graphs", "compiled_cell", "layer_pipeline", "compile", "log_every",
                           "checkpoint_every", "keep_epoch_checkpoints", "sample_prompt", "sample_words",
                           "sample_temperature")


def recipe_differences(first: dict, second: dict) -> list[str]:
    """The keys two configs differ in that change what a model learns (varied_keys less NOT_RECIPE)."""
    return [key for key in varied_keys([first, second]) if key not in NOT_RECIPE]


def _hashable(value):
    if value == "":
        return None
    return repr(value) if isinstance(value, (list, dict)) else value


def show_value(value, key: str | None = None) -> str:
    """A config value as a diff shows it; an uploaded `dataset` by the name it came with, not its
    hidden path (runs/.uploads/<sha256>.txt)."""
    if key == "dataset" and isinstance(value, str) and is_upload(value):
        return dataset_label(value)
    if key == VOCABULARY:  # as the vocabulary note above the diff writes it
        return f"{value:,}" if _number(value) is not None else "not known yet"
    if value is None or value == "":
        return "—"
    if key in PTB_ONLY and value == 0:  # the config's "0 = all": a bare 0 read as no tokens (QA round 11)
        return "0 (all)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


DEFAULTS = Config().to_dict()
NOT_USED = "not used"       # a diff cell of a key the run's data leaves unread
# A diff cell of a key the run's config.json lacks though it has a value by default: the code that trained
# the run had no such key. Shown as "—" before, which read as "none" (QA round 20: the book reference's
# cuda_graphs, where the default, auto, would claim graphs for a run that trained eagerly).
NOT_RECORDED = "not recorded"
VOCABULARY = "vocabulary"   # the diff's row of each run's real vocabulary (vocabulary()), under dataset


def vocabulary(summary: RunSummary) -> int | None:
    """The words a run's model predicts among: its params.json's, once training starts; before, what
    its config makes exactly (the generated language's size, a PTB slice's under its cap); None
    when not known yet (a text file not read, a config that does not build)."""
    if summary.vocab_size is not None or not summary.config:
        return summary.vocab_size
    cfg, problems = build({k: v for k, v in summary.config.items() if k in KEYS})
    if problems:
        return None
    if cfg.dataset == "ptb":
        size, exact = ptb_slice_vocab_size(cfg)
        return size if exact else None
    try:
        return vocab_size_for(cfg)
    except ConfigError:  # a generated vocabulary below the minimum, from a version that let it through
        return None


def compared_config(summary: RunSummary) -> dict:
    """A run's config as the diff compares it: NOT_USED for each key its data leaves unread, and for
    `amp` where it trained off CUDA (bf16 autocast acts on CUDA only: QA round 29 saw `amp bf16 / none`
    as the one difference of two CPU runs with the same numbers), and its real vocabulary under
    VOCABULARY (None when not known yet)."""
    # Every unread key, in the config or not: an older run's missing synthetic_tokens is unread too.
    unused = unused_keys(summary.config, summary.status.get("device"))
    return {**summary.config, **dict.fromkeys(unused, NOT_USED), VOCABULARY: vocabulary(summary)}


def differing_keys(configs: list[dict]) -> list[str]:
    """varied_keys over compared_config's configs, where a key differs only between the runs that use
    it (a key only one run's data reads is part of that data, which `dataset` already tells apart)
    and a vocabulary not known yet differs from none. VOCABULARY comes right after `dataset`."""
    def differs(key: str) -> bool:
        values = [config.get(key) for config in configs if config.get(key) != NOT_USED]
        known = [value for value in values if value is not None] if key == VOCABULARY else values
        return len({_hashable(value) for value in known}) > 1

    keys = [key for key in varied_keys(configs) if key != VOCABULARY and differs(key)]
    if differs(VOCABULARY):
        keys.insert(keys.index("dataset") + 1 if "dataset" in keys else 0, VOCABULARY)
    return keys


def config_diff(summaries: list[RunSummary], labels: list[str] | None = None) -> pd.DataFrame:
    """Only the config keys that differ between the runs that have a config and use the key: one row
    per key, one column per such run (headed by `labels`, default unique_labels), with NOT_USED where
    a run's data leaves the key unread, and a VOCABULARY row when the runs' vocabularies differ. A
    run without a config (a broken folder, see without_config) is left out: its blanks would make
    every key differ."""
    labels = labels or unique_labels(summaries)
    columns = {label: compared_config(s) for s, label in zip(summaries, labels) if s.config}
    keys = differing_keys(list(columns.values())) if len(columns) > 1 else []
    # A fork's parent among the runs shown reads as that run's column ("#1"), not its long id: cut
    # to "20…" in a narrow column at 1024 px (QA round 5).
    shown = {s.id: label for s, label in zip(summaries, labels)}
    data = {label: [shown.get(config.get(k)) if k == "parent" and config.get(k) in shown
                    else NOT_RECORDED if k not in config and DEFAULTS.get(k) not in (None, "")
                    else show_value(config.get(k), k) for k in keys]
            for label, config in columns.items()}
    return pd.DataFrame(data, index=pd.Index(keys, name="key"))


def without_config(summaries: list[RunSummary], labels: list[str] | None = None) -> list[str]:
    """The labels of the runs config_diff leaves out: no readable config.json."""
    labels = labels or unique_labels(summaries)
    return [label for s, label in zip(summaries, labels) if not s.config]


# ---------------------------------------------------------------- curves


def floors(summaries: list[RunSummary], labels: list[str]) -> dict[float, list[str]]:
    """The entropy floors of the runs on the generated corpus: floor -> the labels of its runs,
    in the order given. One line per floor on a chart: runs on other data have none."""
    out: dict[float, list[str]] = {}
    for summary, label in zip(summaries, labels):
        floor = summary.status.get("floor_ppl")
        if summary.config.get("dataset") == "synthetic" and _number(floor) is not None and floor > 0:
            out.setdefault(float(floor), []).append(label)
    return out


# ---------------------------------------------------------------- comparable or not


def dataset_key(config: dict):
    """What a run trains on, as far as its perplexity goes: the dataset, and for the generated
    corpus its data seed (another seed is another language, with another floor)."""
    dataset = config.get("dataset")
    return (dataset, config.get("data_seed", 0)) if dataset == "synthetic" else dataset


def dataset_name(config: dict) -> str:
    """'PTB', 'the generated corpus (data seed 0)', 'text file notes.txt', 'the uploaded notes.txt'
    (by the name it came with; 'an uploaded text 3f2a9c1e' when none was kept)."""
    dataset = config.get("dataset")
    if dataset == "ptb":
        return "PTB"
    if dataset == "synthetic":
        return f"the generated corpus (data seed {config.get('data_seed', 0)})"
    if not isinstance(dataset, str) or not dataset:
        return "unknown data"
    if is_upload(dataset):
        name = shown_upload_name(dataset)
        return f"the uploaded {name}" if name else f"an uploaded text {Path(dataset).stem[:8]}"
    return f"text file {Path(dataset).name}"


def vocabulary_note(sizes: list) -> str | None:
    """'Their vocabularies differ (2,000 vs 10,000 words): ...' when the known sizes differ, else None.
    A perplexity is how many words a model hesitates between, so it depends on how many there are."""
    known = sorted({size for size in sizes if _number(size) is not None})
    if len(known) < 2:
        return None
    return ("Their vocabularies differ (" + " vs ".join(f"{size:,}" for size in known) + " words): fewer words "
            "to choose from make prediction easier, so compare the curves' shapes more than their levels.")


def comparability_note(configs: list[dict], vocab_sizes: list) -> str | None:
    """Why these runs' perplexities cannot be compared as numbers (other data, other vocabularies),
    or None when nothing says so. `vocab_sizes`: each run's vocabulary, None where not known yet."""
    by_key = {dataset_key(config): dataset_name(config) for config in configs if config}
    datasets = list(by_key.values())
    parts = []
    if len(datasets) > 1:
        parts.append(f"They train on different data: {', '.join(datasets[:-1])} and {datasets[-1]}.")
    vocabulary = vocabulary_note(vocab_sizes)
    if vocabulary:
        parts.append(vocabulary)
    elif parts:
        parts.append("A perplexity measured on another text is another measure: compare the curves' shapes more "
                     "than their levels.")
    return " ".join(["Their perplexities are not comparable as numbers."] + parts) if parts else None


# ---------------------------------------------------------------- ablation grids


def grids(summaries: list[RunSummary]) -> list[dict]:
    """One entry per ablation grid (config `group`), newest first: its runs, progress and the
    keys it varies (ablation.toggles: a grid's seeds are replicates of a cell, not a toggle), as
    grid_status.entry counts them for `lmcore effects` too."""
    by_group: dict[str, list[RunSummary]] = {}
    for summary in summaries:
        group = summary.config.get("group")
        if group:
            by_group.setdefault(group, []).append(summary)
    out = [grid_status.entry(group, members) for group, members in by_group.items()]
    return sorted(out, key=lambda g: g["created"], reverse=True)


def grid_label(entry: dict) -> str:
    """'grid-2b83f3 · 2026-11-29 01:17 · tiny · dropout × tie_weights × 2 seeds · 8 runs': with a dozen
    grids of one recipe on disk, their lines read the same but for the group's hex (QA round 16), so
    the time its first run was created (from its id) comes second."""
    toggles = " × ".join(entry["toggles"]) or "no toggles"
    seeds = f" × {entry['seeds']} seeds" if entry.get("seeds", 1) > 1 else ""
    when = id_time(entry.get("created") or "")
    return (f"{entry['group']}{f' · {when}' if when else ''} · {entry['preset']} · {toggles}{seeds} · "
            f"{entry['total']} runs")


def id_time(run_id: str) -> str | None:
    """'2026-11-29 01:17' from a run id's YYYYMMDD-HHMMSS, or None where it has none."""
    try:
        return datetime.strptime(run_id[:15], "%Y%m%d-%H%M%S").strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return None


def grid_progress(entry: dict) -> float:
    """The share of the grid's planned runs it holds that is settled: finished, failed and broken runs
    count 1, the others the share of their steps done; a seed run twice in a cell (a copy that joined
    the grid) is one planned run, at its most advanced run's share, as the progress line counts it
    (grid_status.slots)."""
    shares = [_slot_share(runs) for runs in grid_status.slots(entry).values()]
    return sum(shares) / len(shares) if shares else 0.0


def _slot_share(runs: list) -> float:
    """One planned run's share settled, where it stands (grid_status.SLOT_ORDER): 1 once a run of it
    finished, else its queued or training runs' share (a failed one's copy still training is not
    settled), else 1 for failed or broken and a stopped run's share of its steps."""
    if any(run.state == "finished" for run in runs):
        return 1.0
    going = [run for run in runs if run.is_active] or runs
    return max(1.0 if run.state in ("failed", "broken") else run.progress for run in going)
