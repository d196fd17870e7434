"""Train: every config key as a control, the parameter count and every problem before anything
starts, one click to train in the background, and the run watched live.

The page never trains: Start creates a run folder and launches `python -m lmcore resume` in its
own process (ui.start_run). The URL holds the attached run (`?run=ID`) and the config
(`?preset=NAME&key=value` for keys that differ from the preset), so a reload, a restart or a
shared link comes back to the same place.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
import time
import typing
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

import ui
from lmcore import data, launch, runs
from lmcore.config import (AMP_MODES, BUILTIN_DATASETS, DEVICES, INITS, KEYS, OPTIMIZERS, PLACEMENT_HELP,
                           PLACEMENTS, SCHEDULES, Config, ConfigError, coerce, from_dict, problems,
                           unknown_key_message)
from lmcore.errors import LmcoreError
from lmcore.params import formula_counts
from lmcore.presets import PRESETS

# Session state (all under the page's prefix).
TAB = "train.tab"                  # which tab is open (a stateful st.tabs)
SWITCH_TO = "train.switch_to"      # a tab to open on the next run (set before st.rerun)
VALUES = "train.values"            # the config being edited: the truth the widgets are seeded from
PRESET = "train.preset"            # the preset selector
TEXT_PATH = "train.text_path"      # the stored upload the "text" corpus uses
TEXT_STATS = "train.text_stats"    # sha256 -> {"lines", "train_tokens", "distinct", "name"}
UPLOADED = "train.uploaded"        # uploader file id -> (stored path or None, problem or None)
UPLOADER = "train.uploader"
PTB_WORDS = "train.ptb_words"      # train_tokens -> distinct words in that much of PTB train
APPLIED = "train.applied_link"     # the config query last applied to or written into the URL
LINK_WARNINGS = "train.link_warnings"
NOTICE = "train.notice"            # (kind, message) to show once after a rerun
WATCH = "train.watch"              # the run selector
LOG_Y, SMOOTHING = "train.log_y", "train.smoothing"
SAMPLES = "train.samples"          # run folder -> MetricsTail of samples.jsonl
RUN_FILES = "train.run_files"      # run folder -> {"config", "params"} once they exist
START = "train.start"
WIDGET = "train.w."                # + config key: one widget per key

SETUP_TAB, WATCH_TAB = "⚙️ Set up a run", "📈 Watch a run"
DEFAULT_PRESET = "tiny"
MAX_UPLOAD_MB = 20                 # stricter than the engine's 200 MB: the app counts the words itself
PTB_TRAIN_TOKENS = 929_589         # ptb.train.txt with one <eos> a line (DESIGN.md)
RESERVED_QUERY = {"run", "embed", "embed_options"}

HINTS = typing.get_type_hints(Config)
CHOICES = {"dropout_placement": PLACEMENTS, "optimizer": OPTIMIZERS, "lr_schedule": SCHEDULES,
           "init": INITS, "device": DEVICES, "amp": AMP_MODES}
# Widget bounds stop obviously wrong input; lmcore.config.problems stays the judge. Default (0, None).
BOUNDS = {"layers": (1, None), "embed_size": (1, None), "hidden_size": (1, None), "batch_size": (1, None),
          "bptt": (1, None), "epochs": (1, None), "eval_batch_size": (1, None), "vocab_size": (3, None),
          "synthetic_tokens": (1000, None), "synthetic_vocab": (50, 20000), "dropout": (0.0, 0.99),
          "dropout_recurrent": (0.0, 0.99), "lr_decay": (0.0, 1.0)}
SPECIAL = ("dataset", "dropout_recurrent", "max_steps", "preset")  # not one plain widget each
PLAIN = tuple(k for k in KEYS if k not in SPECIAL)
DATASET_LABELS = {"ptb": "Penn Treebank", "synthetic": "Generated (known best perplexity)",
                  "text": "Your text file"}
SCHEDULE_HELP = {"plateau": "× decay when validation got worse (the book)",
                 "fixed": "× decay every epoch after decay start (Zaremba)", "constant": "never changes"}
HELP = {
    "vocab_size": "the most frequent words of train; the rest become <unk>",
    "train_tokens": "use only the first N tokens of PTB train (0 = all 929,589)",
    "valid_tokens": "first N tokens of PTB valid (0 = all)", "test_tokens": "first N tokens of PTB test (0 = all)",
    "synthetic_tokens": "train size of the generated corpus; valid and test get a tenth each",
    "synthetic_vocab": "words of the generated language", "data_seed": "the generated corpus depends on this",
    "tie_weights": "the decoder reuses the embedding matrix (needs embed size = hidden size)",
    "init": "book: N(0, .01²) embedding, N(0, 1/fan_in) weights; uniform: U(-r, r); torch: PyTorch's defaults",
    "init_range": "r for init = uniform", "dropout": "the ratio p: each unit is zeroed with probability p",
    "dropout_recurrent": "ratio on h(t-1) -> h(t) (horizontal and variational only)",
    "clip": "max global gradient norm (0 = no clipping)", "max_steps": "stop after this many steps (0 = no cap)",
    "lr_decay": "multiply the learning rate by this", "decay_start": "for the fixed schedule: first epoch to decay",
    "threads": "CPU threads for the run (0 = one per core)", "amp": "bf16 autocast on CUDA",
    "compile": "torch.compile the model (useful on GPUs)", "eval_every": "also evaluate every N steps (0 = per epoch)",
    "checkpoint_every": "also checkpoint every N steps (0 = per epoch)",
    "log_every": "a train metrics line every N steps (0 = about 50 per epoch)",
    "group": "ablation grid id, shared by the runs of one grid", "name": "a label; the run id stays generated",
}


# ---------------------------------------------------------------- pure helpers (tested directly)


def preset_values(name: str) -> dict:
    """Every config key for a preset ('' = the engine's defaults)."""
    return (PRESETS[name].config() if name else Config()).to_dict()


def as_text(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def link_params(values: dict) -> dict[str, str]:
    """The URL query for a config: its preset plus every key that differs from that preset."""
    preset = values.get("preset") or ""
    base = preset_values(preset)
    out = {"preset": preset} if preset else {}
    out.update({k: as_text(values[k]) for k in KEYS if k != "preset" and values[k] != base[k]})
    return out


def value_problem(key: str, value, uploads: Path) -> str | None:
    """Why a value from a link cannot go into the controls (they would refuse it), or None."""
    if key in CHOICES and value not in CHOICES[key]:
        return f"choose one of {', '.join(CHOICES[key])}"
    if key == "dataset" and value not in BUILTIN_DATASETS:
        path = Path(value)
        if path.parent != uploads or not re.fullmatch(r"[0-9a-f]{64}\.txt", path.name):
            return "a link can only name ptb, synthetic or a file uploaded to this app"
    if clamp(key, value) != value:
        low, high = BOUNDS.get(key, (0, None))
        return f"must be at least {low}" + (f" and at most {high}" if high is not None else "")
    return None


def clamp(key: str, value):
    """A number moved into the range its widget accepts (anything else unchanged)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return value
    low, high = BOUNDS.get(key, (0, None))
    return min(max(value, type(value)(low)), type(value)(high)) if high is not None else max(value, type(value)(low))


def parse_link(query: dict[str, str], uploads: Path) -> tuple[dict, list[str]]:
    """Config values from `?preset=NAME&key=value...`, and a warning per key that was ignored."""
    warnings = []
    preset = query.get("preset", "")
    if preset and preset not in PRESETS:
        warnings.append(f"unknown preset {preset!r} (known: {', '.join(PRESETS)}); started from the defaults")
        preset = ""
    values = preset_values(preset)
    for key, text in query.items():
        if key == "preset" or key in RESERVED_QUERY:
            continue
        try:
            value = coerce(key, text) if key in KEYS else None
            problem = value_problem(key, value, uploads) if key in KEYS else unknown_key_message(key)
        except ConfigError as error:
            problem = "; ".join(error.problems)
        if problem:
            warnings.append(f"ignored {key}={text!r}: {problem}")
        else:
            values[key] = value
    return values, warnings


def text_stats(path: Path) -> dict:
    """Lines, train tokens and distinct train words of a text corpus, split as lmcore.data does
    (first 80% of the non-empty lines train), streaming so a big file costs little memory."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = sum(1 for line in handle if line.strip())
    if lines < 3:
        raise LmcoreError(f"dataset: needs at least 3 non-empty lines to split into train, valid and test "
                          f"(got {lines})")
    n_train = lines - 2 * max(1, lines // 10)
    words, tokens, seen = {data.EOS}, 0, 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            if seen == n_train:
                break
            split = line.split()
            words.update(split)
            tokens, seen = tokens + len(split) + 1, seen + 1
    return {"lines": lines, "train_tokens": tokens, "distinct": len(words)}


def store_upload(content: bytes, uploads: Path, shown_name: str = "the file",
                 limit: int = MAX_UPLOAD_MB * 2**20) -> tuple[Path | None, dict | str]:
    """Keep uploaded bytes as uploads/<sha256>.txt if they can be a corpus.

    Returns (path, text_stats) or (None, why not). The user's file name never becomes a path.
    """
    if len(content) > limit:
        return None, f"dataset: {shown_name} is {len(content) / 2**20:.1f} MB; the limit here is {limit / 2**20:.0f} MB"
    uploads.mkdir(parents=True, exist_ok=True)
    target = uploads / f"{hashlib.sha256(content).hexdigest()}.txt"
    fd, temp = tempfile.mkstemp(dir=uploads, prefix=".incoming-", suffix=".txt")
    temp = Path(temp)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        problem = data.text_problem(temp)
        stats = None if problem else text_stats(temp)
    except LmcoreError as error:
        problem = str(error)
    if problem:
        temp.unlink(missing_ok=True)
        return None, problem.replace(temp.name, shown_name)
    os.replace(temp, target)
    return target, stats


def planned_steps(cfg: Config, train_tokens: int) -> tuple[int, int]:
    """(steps per epoch, steps in all) as the trainer counts them (full bptt windows)."""
    per_epoch = max(train_tokens // cfg.batch_size - 1, 0) // cfg.bptt
    total = per_epoch * cfg.epochs
    return per_epoch, min(total, cfg.max_steps) if cfg.max_steps else total


def parameter_table(cfg: Config, counts: dict) -> pd.DataFrame:
    """One row per part of the model: what it is, its formula with numbers, its count."""
    V, E, H = counts["vocab_size"], cfg.embed_size, cfg.hidden_size
    rows = [("Embedding", f"{V:,}×{E:,}", counts["parts"]["embedding"])]
    for i in range(1, cfg.layers + 1):
        inputs = E if i == 1 else H
        rows.append((f"LSTM {i}", f"4·{H:,}·({inputs:,}+{H:,}) + 8·{H:,}", counts["parts"][f"layer{i}"]))
    tied = "tied" if cfg.tie_weights else f"{H:,}×{V:,}"
    rows.append(("Decoder weight", tied, counts["parts"]["decoder_weight"]))
    rows.append(("Decoder bias", f"{V:,}", counts["parts"]["decoder_bias"]))
    table = pd.DataFrame(rows, columns=["part", "formula", "parameters"])
    table["share"] = table["parameters"] / max(counts["total"], 1)
    return table


def tying_text(cfg: Config, counts: dict) -> str:
    untied = counts["untied_total"]
    if cfg.embed_size != cfg.hidden_size:
        would = counts["vocab_size"] * cfg.hidden_size
        return (f"Tying needs embed size = hidden size; with both at {cfg.hidden_size:,} it would share "
                f"the {would:,} decoder weights with the embedding.")
    share = f"{counts['tying_saves']:,} parameters ({counts['tying_saves'] / untied:.0%} of the untied model)"
    return f"Tying saves {share}." if cfg.tie_weights else f"Tying would save {share}."


def md_escape(text: str) -> str:
    """Text shown literally by st.markdown (model output is full of <unk>, $ and --)."""
    return re.sub(r"([\\`*_{}\[\]()<>#+\-.!|$~])", r"\\\1", text)


def no_latex(text: str) -> str:
    return text.replace("$", "\\$")


def sample_markdown(record: dict) -> str:
    """A sampled text for st.markdown: prompt in bold, every <eos> a ↵ and a line break."""
    def lines(text) -> str:
        return " ↵  \n".join(md_escape(part.strip()) for part in str(text).split(data.EOS)).strip()

    prompt = lines(record.get("prompt") or "")
    return (f"**{prompt}** " if prompt else "") + lines(record.get("text", ""))


# ---------------------------------------------------------------- controls <-> session state


def widget_values(values: dict) -> dict:
    """Session-state entries that make the widgets show `values`."""
    out = {WIDGET + k: clamp(k, values[k]) for k in PLAIN}
    dataset = values["dataset"]
    out[WIDGET + "dataset"] = dataset if dataset in BUILTIN_DATASETS else "text"
    out[WIDGET + "recurrent_same"] = values["dropout_recurrent"] is None
    recurrent = values["dropout"] if values["dropout_recurrent"] is None else values["dropout_recurrent"]
    out[WIDGET + "dropout_recurrent"] = clamp("dropout_recurrent", recurrent)
    out[WIDGET + "max_steps"] = values["max_steps"] or 0
    return out


def load_values(values: dict) -> None:
    """Put a whole config into the controls (call before they render, or from a callback)."""
    st.session_state[VALUES] = dict(values)
    st.session_state.update(widget_values(values))
    st.session_state[PRESET] = values["preset"] if values["preset"] in PRESETS else ""
    if values["dataset"] not in BUILTIN_DATASETS:
        st.session_state[TEXT_PATH] = values["dataset"]


def read_values() -> dict:
    """The config the widgets show now."""
    state = st.session_state
    values = dict(state[VALUES])
    for key in PLAIN:
        value = state[WIDGET + key]
        values[key] = round(value, 10) if isinstance(value, float) else value
    kind = state[WIDGET + "dataset"]
    values["dataset"] = (state.get(TEXT_PATH) or "") if kind == "text" else kind
    values["dropout_recurrent"] = None if state[WIDGET + "recurrent_same"] else round(state[WIDGET + "dropout_recurrent"], 10)
    values["max_steps"] = state[WIDGET + "max_steps"] or None
    values["preset"] = state[PRESET]
    return values


def init_state() -> None:
    if VALUES not in st.session_state:
        load_values(preset_values(DEFAULT_PRESET))
    for key, default in ((LOG_Y, True), (SMOOTHING, 0.6), (TEXT_STATS, {}), (UPLOADED, {}), (PTB_WORDS, {}),
                         (SAMPLES, {}), (RUN_FILES, {})):
        if key not in st.session_state:
            st.session_state[key] = default


def seed_widgets() -> None:
    """Widgets forget their state while unrendered (other tab, other page): restore it."""
    for key, value in widget_values(st.session_state[VALUES]).items():
        if key not in st.session_state:
            st.session_state[key] = value
    if PRESET not in st.session_state:
        st.session_state[PRESET] = st.session_state[VALUES]["preset"] if st.session_state[VALUES]["preset"] in PRESETS else ""


def uploads_dir() -> Path:
    return ui.runs_root() / ".uploads"


def config_query() -> dict[str, str]:
    return {k: st.query_params[k] for k in st.query_params if k not in RESERVED_QUERY}


def apply_link() -> None:
    """A URL with config keys the page has not applied yet (a shared link, Start's 'Open in Train')."""
    query = config_query()
    if not query or query == st.session_state.get(APPLIED):
        return
    values, warnings = parse_link(query, uploads_dir())
    load_values(values)
    st.session_state[APPLIED] = query
    st.session_state[LINK_WARNINGS] = warnings


def sync_link(values: dict) -> None:
    """Keep the address bar equal to the config, so a reload or bookmark brings it back."""
    wanted = link_params(values)
    if wanted != config_query():
        run_id = st.query_params.get("run")
        st.query_params.from_dict({**({"run": run_id} if run_id else {}), **wanted})
    st.session_state[APPLIED] = wanted


def on_preset() -> None:
    load_values(preset_values(st.session_state[PRESET]))


def set_keys(**changes) -> None:
    load_values({**read_values(), **changes})


def copy_run_config(run_id: str) -> None:
    folder = ui.run_folder(run_id)
    raw = runs.read_config(folder) if folder else None
    if raw is None:
        st.session_state[NOTICE] = ("warning", "That run's config.json is missing or unreadable.")
        return
    values = preset_values("")
    for key, value in raw.items():
        try:
            values[key] = coerce(key, value)
        except ConfigError:
            continue
    load_values(values)
    st.session_state[TAB] = SETUP_TAB
    st.session_state[NOTICE] = ("success", f"Loaded the config of `{folder.name}`: change what you like, then Start.")


# ---------------------------------------------------------------- the Set up tab


def number(where, key: str, label: str, disabled: bool = False, step=None) -> None:
    low, high = BOUNDS.get(key, (0, None))
    floating = HINTS[key] is float or key == "dropout_recurrent"
    cast = float if floating else int
    where.number_input(label, min_value=cast(low), max_value=None if high is None else cast(high),
                       step=step or (None if floating else 1), format="%g" if floating else None,
                       key=WIDGET + key, help=help_for(key), disabled=disabled)


def choice(where, key: str, label: str, labels: dict | None = None, disabled: bool = False) -> None:
    where.selectbox(label, CHOICES[key], key=WIDGET + key, help=help_for(key), disabled=disabled,
                    format_func=(lambda v: f"{v} — {labels[v]}") if labels else str)


def help_for(key: str) -> str:
    return f"`{key}`" + (f": {HELP[key]}" if key in HELP else "")


def upload_box() -> None:
    file = st.file_uploader("Upload a UTF-8 text file (one sentence a line, words separated by spaces)",
                            type=["txt"], key=UPLOADER, max_upload_size=MAX_UPLOAD_MB)
    if file is not None:
        done = st.session_state[UPLOADED]
        if file.file_id not in done:
            path, result = store_upload(file.getvalue(), uploads_dir(), file.name)
            done[file.file_id] = (path, None if path else result)
            st.session_state[TEXT_PATH] = str(path) if path else ""
            if path:
                st.session_state[TEXT_STATS][path.stem] = {**result, "name": file.name}
        problem = done[file.file_id][1]
        if problem:
            st.error(no_latex(problem))
    stats = stats_for(st.session_state.get(TEXT_PATH) or "")
    if stats:
        st.caption(f"Using **{md_escape(stats.get('name', 'an uploaded file'))}**: {stats['lines']:,} lines, "
                   f"{stats['train_tokens']:,} training tokens, {stats['distinct']:,} distinct words. "
                   "Split by lines: first 80% train, 10% validation, 10% test.")


def data_section() -> None:
    with st.expander("Data", expanded=True, icon="📚"):
        kind = st.radio("Corpus", list(DATASET_LABELS), format_func=DATASET_LABELS.get, horizontal=True,
                        key=WIDGET + "dataset", help="`dataset`: ptb, synthetic, or the path of a text file")
        if kind == "text":
            upload_box()
        ptb, synthetic = kind == "ptb", kind == "synthetic"
        columns = st.columns(4)
        number(columns[0], "vocab_size", "Vocabulary cap", disabled=synthetic)
        number(columns[1], "train_tokens", "Train tokens", disabled=not ptb)
        number(columns[2], "valid_tokens", "Validation tokens", disabled=not ptb)
        number(columns[3], "test_tokens", "Test tokens", disabled=not ptb)
        columns = st.columns(4)
        number(columns[0], "synthetic_tokens", "Generated tokens", disabled=not synthetic, step=10_000)
        number(columns[1], "synthetic_vocab", "Generated vocabulary", disabled=not synthetic)
        number(columns[2], "data_seed", "Data seed", disabled=not synthetic)


def model_section() -> None:
    with st.expander("Model", expanded=True, icon="🧱"):
        columns = st.columns(3)
        number(columns[0], "layers", "LSTM layers")
        number(columns[1], "embed_size", "Embedding size", step=50)
        number(columns[2], "hidden_size", "Hidden size", step=50)
        st.toggle("Tie the embedding and the decoder weights", key=WIDGET + "tie_weights", help=help_for("tie_weights"))
        columns = st.columns(3)
        choice(columns[0], "init", "Initialisation")
        number(columns[1], "init_range", "Uniform init range", step=0.01,
               disabled=st.session_state[WIDGET + "init"] != "uniform")


def dropout_section() -> None:
    with st.expander("Dropout", expanded=True, icon="🎲"):
        placement = st.radio("Where dropout goes", PLACEMENTS, key=WIDGET + "dropout_placement",
                             captions=[PLACEMENT_HELP[p] for p in PLACEMENTS], help=help_for("dropout_placement"))
        recurrent = placement in ("horizontal", "variational")
        columns = st.columns(3)
        number(columns[0], "dropout", "Dropout ratio", disabled=placement == "none", step=0.05)
        same = columns[1].checkbox("Same as dropout", key=WIDGET + "recurrent_same",
                                   disabled=not recurrent, help="`dropout_recurrent` = none")
        number(columns[2], "dropout_recurrent", "Recurrent ratio", disabled=not recurrent or same, step=0.05)
        if not recurrent:
            st.caption("The recurrent ratio only matters for horizontal and variational dropout.")


def optimisation_section() -> None:
    with st.expander("Optimisation", expanded=True, icon="🧮"):
        columns = st.columns(4)
        choice(columns[0], "optimizer", "Optimizer")
        number(columns[1], "lr", "Learning rate", step=0.001)
        number(columns[2], "clip", "Gradient clip", step=0.05)
        number(columns[3], "weight_decay", "Weight decay", step=0.0001)
        columns = st.columns(4)
        number(columns[0], "batch_size", "Batch size")
        number(columns[1], "bptt", "BPTT length", step=5)


def schedule_section() -> None:
    with st.expander("Schedule", expanded=False, icon="📅"):
        columns = st.columns(4)
        number(columns[0], "epochs", "Epochs")
        number(columns[1], "max_steps", "Max steps (0 = no cap)", step=50)
        schedule = st.session_state[WIDGET + "lr_schedule"]
        choice(columns[2], "lr_schedule", "Learning-rate schedule", labels=SCHEDULE_HELP)
        number(columns[3], "lr_decay", "Decay factor", disabled=schedule == "constant", step=0.05)
        number(st.columns(4)[0], "decay_start", "Decay start (epoch)", disabled=schedule != "fixed")


def advanced_section() -> None:
    with st.expander("Advanced", expanded=False, icon="🛠️"):
        columns = st.columns(4)
        number(columns[0], "seed", "Seed")
        choice(columns[1], "device", "Device")
        number(columns[2], "threads", "CPU threads")
        choice(columns[3], "amp", "Mixed precision")
        columns = st.columns(4)
        number(columns[0], "eval_batch_size", "Eval batch size")
        number(columns[1], "eval_every", "Evaluate every N steps", step=50)
        number(columns[2], "checkpoint_every", "Checkpoint every N steps", step=50)
        number(columns[3], "log_every", "Log every N steps")
        columns = st.columns(4)
        columns[0].text_input("Sample prompt", key=WIDGET + "sample_prompt", help=help_for("sample_prompt"))
        number(columns[1], "sample_words", "Sampled words")
        number(columns[2], "sample_temperature", "Sample temperature", step=0.1)
        columns[3].text_input("Group", key=WIDGET + "group", help=help_for("group"))
        st.toggle("torch.compile", key=WIDGET + "compile", help=help_for("compile"))


def stats_for(dataset: str) -> dict | None:
    """text_stats of a stored upload, computed once per file hash."""
    path = Path(dataset)
    cache = st.session_state[TEXT_STATS]
    if path.stem not in cache and path.is_file():
        try:
            cache[path.stem] = text_stats(path)
        except (LmcoreError, OSError):
            return None
    return cache.get(path.stem) if dataset else None


def ptb_words(train_tokens: int) -> int | None:
    """Distinct words in the first `train_tokens` of PTB train; None if PTB is not here."""
    cache = st.session_state[PTB_WORDS]
    if train_tokens not in cache:
        from lmcore.ptb import find_ptb, ptb_paths

        try:
            folder = find_ptb()
        except LmcoreError:
            folder = None
        if folder is None:
            return None
        cache[train_tokens] = len(set(data.read_words(ptb_paths(folder)["train"], train_tokens)))
    return cache[train_tokens]


def vocabulary(cfg: Config) -> tuple[int | None, str]:
    """(V, a note) for the parameter count; V is None while no text file is chosen."""
    known = data.vocab_size_for(cfg)
    if known is not None:
        return known, ""
    if cfg.dataset == "ptb":
        distinct = ptb_words(cfg.train_tokens)
        if distinct is None:
            return cfg.vocab_size, " (at most: PTB is not downloaded yet)"
        return min(distinct, cfg.vocab_size), ""
    stats = stats_for(cfg.dataset)
    return (min(stats["distinct"], cfg.vocab_size), "") if stats else (None, "")


def train_tokens(cfg: Config) -> int | None:
    if cfg.dataset == "ptb":
        return min(cfg.train_tokens or PTB_TRAIN_TOKENS, PTB_TRAIN_TOKENS)
    if cfg.dataset == "synthetic":
        return cfg.synthetic_tokens
    stats = stats_for(cfg.dataset)
    return stats["train_tokens"] if stats else None


def check(values: dict) -> tuple[Config | None, list[str]]:
    """The Config of the controls and every problem the engine finds in it."""
    try:
        cfg = from_dict(values)
    except ConfigError as error:
        return None, error.problems
    found = problems(cfg)
    if values["dataset"] == "":
        found = [p for p in found if not p.startswith("dataset:")] + [
            "dataset: upload a text file first (or choose Penn Treebank or the generated corpus)"]
    try:
        from lmcore.train import resolve_device

        resolve_device(cfg.device)
    except ConfigError as error:
        found.extend(error.problems)
    return cfg, found


def problems_box(cfg: Config | None, found: list[str]) -> None:
    if not found:
        return
    st.error("**Fix before starting:**\n" + "\n".join(f"- {no_latex(p)}" for p in found), icon="🚫")
    if cfg is not None and cfg.tie_weights and cfg.embed_size != cfg.hidden_size:
        left, right = st.columns(2)
        left.button(f"Embedding size = {cfg.hidden_size}", on_click=set_keys, kwargs={"embed_size": cfg.hidden_size},
                    key="train.fix_embed", width="stretch")
        right.button("Untie the weights", on_click=set_keys, kwargs={"tie_weights": False}, key="train.fix_untie",
                     width="stretch")


def start_box(cfg: Config | None, found: list[str]) -> None:
    if st.button("Start training", type="primary", icon="▶️", disabled=bool(found), key=START, width="stretch",
                 help="Fix the problems above first" if found else "Trains in a background process"):
        try:
            run_id = ui.start_run(cfg)
        except (LmcoreError, OSError) as error:
            st.error(f"Could not start the run: {error}")
            return
        st.query_params["run"] = run_id
        st.session_state[SWITCH_TO] = WATCH_TAB
        st.session_state[NOTICE] = ("success", f"Started `{run_id}`. It trains in the background: leave, "
                                    "reload or close the browser, it carries on.")
        st.rerun()
    tokens = train_tokens(cfg) if cfg and not found else None
    if tokens:
        per_epoch, total = planned_steps(cfg, tokens)
        st.caption(f"About **{total:,}** training steps ({per_epoch:,} per epoch × {cfg.epochs} epochs"
                   f"{f', capped at {cfg.max_steps:,}' if cfg.max_steps else ''}).")
        if total == 0:
            st.warning("The training text is too short for this batch size and BPTT length: no full window fits.")
    active = sum(1 for r in ui.all_runs() if r["status"].get("state") in runs.ACTIVE)
    if active:
        st.caption(f"{active} run{'s are' if active > 1 else ' is'} already training; runs share the machine.")


def parameter_box(cfg: Config | None) -> None:
    st.markdown("##### Parameters")
    vocab, note = vocabulary(cfg) if cfg else (None, "")
    if vocab is None:
        st.info("Choose a corpus to count the parameters (the vocabulary size comes from it).")
        return
    counts = formula_counts(cfg, vocab)
    st.metric("Total", f"{counts['total']:,}", help=f"{ui.fmt_count(counts['total'])}; vocabulary V = {vocab:,}{note}",
              border=True)
    st.dataframe(parameter_table(cfg, counts), hide_index=True, column_config={
        "part": st.column_config.TextColumn("Part", width=110),
        "formula": st.column_config.TextColumn("Formula", help="V×E, 4·H·(I+H) + 8·H per layer, H×V, V"),
        "parameters": st.column_config.NumberColumn("Count", format="localized", width=80),
        "share": st.column_config.ProgressColumn("Share", format="percent", min_value=0, max_value=1, width=70)})
    st.caption(f"V = vocabulary ({vocab:,}{note}), E = embedding size, H = hidden size, I = the layer's input "
               f"size; an LSTM layer has 4 gates with 2 biases each. {tying_text(cfg, counts)}")


def share_box(values: dict) -> None:
    params = link_params(values)
    with st.expander("Share this config", icon="🔗"):
        base = (st.context.url or "").rstrip("/")
        st.code(f"{base}/train" + (f"?{urlencode(params)}" if params else ""), language=None, wrap_lines=True)
        st.caption("Opening the link fills these controls: the preset plus the keys that differ from it. "
                   "The address bar always holds it too. The same run from a terminal:")
        sets = " ".join(f"--set {k}={v}" for k, v in params.items() if k != "preset")
        preset = f" --preset {params['preset']}" if "preset" in params else ""
        st.code(f"python -m lmcore train{preset} {sets}".strip(), language="bash", wrap_lines=True)


def setup_tab() -> None:
    top = st.columns([2, 1, 2], vertical_alignment="bottom")
    top[0].selectbox("Preset", [""] + list(PRESETS), key=PRESET, on_change=on_preset,
                     format_func=lambda n: n or "none: the engine's defaults",
                     help="Fills every control; change any of them afterwards. `?preset=NAME` in the URL picks one.")
    top[1].text_input("Run name (optional)", key=WIDGET + "name", help=help_for("name"))
    preset = st.session_state[PRESET]
    top[2].caption(PRESETS[preset].summary if preset else "The engine's defaults: the book's recipe on PTB.")
    left, right = st.columns([3, 2], gap="large")
    with left:
        data_section()
        model_section()
        dropout_section()
        optimisation_section()
        schedule_section()
        advanced_section()
    values = read_values()
    st.session_state[VALUES] = values
    cfg, found = check(values)
    with right:
        problems_box(cfg, found)
        start_box(cfg, found)
        parameter_box(cfg)
        share_box(values)


# ---------------------------------------------------------------- the Watch tab


def run_files(folder: Path) -> dict:
    """config.json and params.json, read until they exist, then never again."""
    files = st.session_state[RUN_FILES].setdefault(str(folder), {})
    for name, read in (("config", runs.read_config), ("params", lambda f: runs.read_json(f / "params.json"))):
        if files.get(name) is None:
            files[name] = read(folder)
    return files


def new_samples(folder: Path) -> list[dict]:
    tails = st.session_state[SAMPLES]
    if str(folder) not in tails:
        tails[str(folder)] = runs.MetricsTail(folder / "samples.jsonl")
    return tails[str(folder)].read_all()


def last(frame: pd.DataFrame, kind: str, column: str = "ppl", back: int = 1):
    rows = frame[frame["kind"] == kind]
    return rows[column].iloc[-back] if len(rows) >= back else None


def run_header(folder: Path, status: dict, files: dict) -> None:
    config, params = files.get("config") or {}, files.get("params") or {}
    state = status.get("state", "?")
    name = config.get("name") or config.get("preset") or folder.name
    started, ended = status.get("started_at"), status.get("finished_at")
    elapsed = ((ended if state not in runs.ACTIVE and ended else time.time()) - started) if started else None
    st.markdown(f"#### {ui.STATE_ICONS.get(state, '')} {md_escape(name)} · {state}")
    parts = [f"`{folder.name}`", f"device {status.get('device') or '—'}",
             f"{ui.fmt_count(params.get('total'))} parameters", f"time {ui.fmt_duration(elapsed)}"]
    st.caption(" · ".join(parts))


def run_controls(folder: Path, state: str) -> None:
    if state in runs.ACTIVE:
        if st.button("Stop", icon="⏹️", key=f"train.stop.{folder.name}", width="stretch",
                     help="Saves a checkpoint, then stops; Resume continues from it"):
            stopped = runs.stop_run(folder)
            st.toast("Stopping: the run saves a checkpoint first." if stopped else "No training process is running.")
    elif state in ("stopped", "failed"):
        if st.button("Resume", icon="▶️", key=f"train.resume.{folder.name}", width="stretch", type="primary",
                     help="Continue from the last checkpoint in a new background process"):
            launch.launch(folder)
            st.toast("Resuming from the last checkpoint...")
            st.rerun(scope="fragment")


def run_numbers(frame: pd.DataFrame, status: dict) -> None:
    val, previous = last(frame, "val"), last(frame, "val", back=2)
    test = status.get("test_ppl") if status.get("test_ppl") is not None else last(frame, "test")
    lr, speed = last(frame, "train", "lr"), last(frame, "train", "tokens_per_s")
    numbers = [("Train perplexity", ui.fmt_ppl(last(frame, "train")), None, "the latest logged training batches"),
               ("Validation", ui.fmt_ppl(val), None if previous is None or val is None else f"{val - previous:+.1f}",
                "the latest evaluation; the arrow compares it with the one before"),
               ("Best validation", ui.fmt_ppl(status.get("best_val_ppl")), None, "the checkpoint kept as best.pt"),
               ("Test", ui.fmt_ppl(test), None, "of the best checkpoint, once training has finished"),
               ("Learning rate", f"{lr:g}" if isinstance(lr, (int, float)) else "—", None, None),
               ("Tokens / s", f"{speed:,.0f}" if isinstance(speed, (int, float)) else "—", None, None)]
    if status.get("floor_ppl"):
        numbers.append(("Best possible", ui.fmt_ppl(status["floor_ppl"]), None,
                        "the entropy floor of the generated corpus: no model can beat it"))
    for column, (label, value, delta, help_text) in zip(st.columns(len(numbers)), numbers):
        column.metric(label, value, delta, delta_color="inverse", help=help_text)


def run_chart(folder: Path, frame: pd.DataFrame, status: dict, label: str) -> None:
    if frame.empty:
        st.info("No measurements yet: the first ones appear a few steps into training.")
        return
    left, right = st.columns([1, 3], vertical_alignment="center")
    log_y = left.toggle("Log scale", key=LOG_Y)
    smoothing = right.slider("Smoothing of the train curve", 0.0, 0.99, step=0.01, key=SMOOTHING)
    figure = ui.ppl_figure([{"label": label, "frame": frame}], log_y=log_y, smoothing=smoothing,
                           floor=status.get("floor_ppl"))
    figure.update_layout(uirevision=folder.name)  # keep zoom and hidden traces across refreshes
    if log_y:  # ui.ppl_figure places the floor's label at y=floor, but a log axis reads it as log10(y)
        figure.for_each_annotation(lambda a: a.update(y=math.log10(a.y)) if a.yref == "y" and a.y else None)
    st.plotly_chart(figure, key="train.chart", config={"displaylogo": False})


def run_samples(folder: Path) -> None:
    samples = new_samples(folder)
    if not samples:
        return
    st.markdown("##### Sampled text")
    for record in reversed(samples[-3:]):
        with st.container(border=True):
            st.caption(f"step {record.get('step', '?')} · epoch {record.get('epoch', '?')} · "
                       f"temperature {record.get('temperature', '?')}")
            st.markdown(sample_markdown(record))


def run_outcome(folder: Path, status: dict) -> None:
    state = status.get("state")
    if state == "broken":
        st.warning(f"This run folder is damaged ({status.get('error')}); showing what can still be read.")
    elif state == "failed":
        st.error(f"**Training failed:** {status.get('error') or 'no message'}")
        tail = launch.log_tail(folder, 30)
        if tail:
            with st.expander("The end of the run's log", expanded=True):
                st.code(tail, language=None)
    elif state == "stopped":
        st.info(f"Stopped at step {status.get('step', 0):,}. Resume continues from the last checkpoint.")
    elif state == "finished":
        st.success(f"Finished: best validation perplexity {ui.fmt_ppl(status.get('best_val_ppl'))}, "
                   f"test {ui.fmt_ppl(status.get('test_ppl'))}.")
    elif state == "queued":
        st.caption("Waiting for the training process to start (loading the data can take a few seconds).")


def show_run(folder: Path) -> None:
    status = runs.read_status(folder)
    state = status.get("state", "?")
    files = run_files(folder)
    config = files.get("config") or {}
    run_header(folder, status, files)
    fraction, text = ui.progress_text(status)
    bar, button = st.columns([5, 1], vertical_alignment="bottom")
    bar.progress(fraction, text=text)
    with button:
        run_controls(folder, state)
    run_outcome(folder, status)
    frame = ui.metrics_frame(folder)
    run_numbers(frame, status)
    run_chart(folder, frame, status, config.get("name") or config.get("preset") or "run")
    run_samples(folder)


@st.fragment(run_every=2)
def live_run(run_id: str) -> None:
    """Everything about one run; refreshes itself, reading only what was added since last time."""
    folder = ui.run_folder(run_id)
    if folder is None:
        st.warning(f"Run `{safe_id(run_id)}` is gone: its folder was deleted or moved. Pick another run above.")
        return
    try:
        show_run(folder)
    except Exception as error:  # a half-written or vanishing folder must not take the page down
        st.warning(f"Could not read `{folder.name}` just now ({type(error).__name__}: {error}). It may be "
                   "half-written or being deleted; trying again in 2 seconds.")


def safe_id(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "?", run_id)[:80]


def on_watch() -> None:
    chosen = st.session_state[WATCH]
    if chosen:
        st.query_params["run"] = chosen
    else:
        st.query_params.pop("run", None)


def watch_tab(run_id: str | None) -> None:
    labels = {s["id"]: ui.run_label(s) for s in ui.all_runs()}
    st.session_state[WATCH] = run_id if run_id in labels else None
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    left.selectbox("Run", list(labels), format_func=labels.get, key=WATCH, on_change=on_watch,
                   placeholder="Pick a run to watch" if labels else "No runs yet: start one in Set up")
    right.button("Edit a copy", icon="📋", key="train.copy", disabled=run_id not in labels,
                 on_click=copy_run_config, args=(run_id,), width="stretch",
                 help="Fill Set up with this run's config, to change a key and train again")
    if not run_id:
        st.info("No run attached. Pick one above, or set one up and press Start.")
    elif run_id not in labels and ui.run_folder(run_id) is None:
        st.warning(f"There is no run `{safe_id(run_id)}` in `{ui.runs_root()}`: it was deleted, or the link "
                   "comes from another machine.")
    else:
        live_run(run_id)


# ---------------------------------------------------------------- the page


def main() -> None:
    init_state()
    apply_link()
    seed_widgets()
    st.title("Train")
    st.caption("Set every knob, see what it costs in parameters, then train in the background and watch "
               "perplexity fall. The address bar holds the run and the config: reload or share it.")
    for warning in st.session_state.pop(LINK_WARNINGS, []):
        st.warning(f"From the link: {warning}", icon="🔗")
    kind, message = st.session_state.pop(NOTICE, (None, None))
    if kind:
        getattr(st, kind)(message)
    if SWITCH_TO in st.session_state:
        st.session_state[TAB] = st.session_state.pop(SWITCH_TO)
    run_id = st.query_params.get("run")
    default = None if TAB in st.session_state else (WATCH_TAB if run_id else SETUP_TAB)
    setup, watch = st.tabs([SETUP_TAB, WATCH_TAB], key=TAB, on_change="rerun", default=default)
    if setup.open:
        with setup:
            setup_tab()
    if watch.open:
        with watch:
            watch_tab(run_id)
    sync_link(st.session_state[VALUES])


if __name__ == "__main__":
    main()
