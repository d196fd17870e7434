"""The Train page's Set up controls (the left column): every config key as a widget, grouped
in expanders, and the upload of a text corpus. The widgets' state lives under train_state.WIDGET;
train_state turns it into a config and back.
"""

from __future__ import annotations

import typing
from pathlib import Path

import streamlit as st

from lmcore.config import PLACEMENT_HELP, PLACEMENTS, Config
from lmcore.data import PTB_TOKENS
from lmcore.errors import LmcoreError
from explorer.links import BOUNDS, CHOICES
from explorer.textview import md_escape, no_latex
from explorer.uploads import MAX_UPLOAD_MB, store_upload, text_stats
from ui.train_state import TEXT_PATH, WIDGET, uploads_dir

TEXT_STATS = "train.text_stats"    # sha256 -> {"lines", "train_tokens", "distinct", "name"}
UPLOADED = "train.uploaded"        # uploader file id -> (stored path or None, problem or None)
UPLOADER = "train.uploader"

HINTS = typing.get_type_hints(Config)
DATASET_LABELS = {"ptb": "Penn Treebank", "synthetic": "Generated (known best perplexity)",
                  "text": "Your text file"}
SCHEDULE_HELP = {"plateau": "× decay when validation got worse (the book)",
                 "fixed": "× decay every epoch after decay start (Zaremba)", "constant": "never changes"}
HELP = {
    "vocab_size": "the most frequent words of train; the rest become `<unk>`",
    "train_tokens": f"use only the first N tokens of PTB train (0 = all {PTB_TOKENS['train']:,})",
    "valid_tokens": "first N tokens of PTB valid (0 = all)", "test_tokens": "first N tokens of PTB test (0 = all)",
    "synthetic_tokens": "train size of the generated corpus; valid and test get a tenth each",
    "synthetic_vocab": "words of the generated language", "data_seed": "the generated corpus depends on this",
    "tie_weights": "the decoder reuses the embedding matrix (needs embed size = hidden size)",
    "init": "book: N(0, .01²) embedding, N(0, 1/fan_in) weights; uniform: U(-r, r); torch: PyTorch's defaults",
    "init_range": "r for init = uniform", "dropout": "the ratio p: each unit is zeroed with probability p",
    "dropout_recurrent": "ratio on h(t-1) -> h(t), horizontal and variational only (none = same as dropout)",
    "clip": "max global gradient norm (0 = no clipping)", "max_steps": "stop after this many steps (0 = no cap)",
    "lr_decay": "multiply the learning rate by this", "decay_start": "for the fixed schedule: first epoch to decay",
    "threads": "CPU threads for the run (0 = one per core)", "amp": "bf16 autocast on CUDA",
    "compile": "torch.compile the model (useful on GPUs)", "eval_every": "also evaluate every N steps (0 = per epoch)",
    "checkpoint_every": "also checkpoint every N steps (0 = per epoch)",
    "log_every": "a train metrics line every N steps (0 = about 50 per epoch)",
    "group": "ablation grid id, shared by the runs of one grid", "name": "a label; the run id stays generated",
}


def controls() -> None:
    """Every control, in the order the config reads."""
    data_section()
    model_section()
    dropout_section()
    optimisation_section()
    schedule_section()
    advanced_section()


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
        done = st.session_state.setdefault(UPLOADED, {})
        if file.file_id not in done:
            path, result = store_upload(file.getvalue(), uploads_dir(), file.name)
            done[file.file_id] = (path, None if path else result)
            st.session_state[TEXT_PATH] = str(path) if path else ""
            if path:
                st.session_state.setdefault(TEXT_STATS, {})[path.stem] = {**result, "name": file.name}
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
        same = columns[1].checkbox("Same as dropout", key=WIDGET + "recurrent_same", disabled=not recurrent)
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
    cache = st.session_state.setdefault(TEXT_STATS, {})
    if path.stem not in cache and path.is_file():
        try:
            cache[path.stem] = text_stats(path)
        except (LmcoreError, OSError):
            return None
    return cache.get(path.stem) if dataset else None
