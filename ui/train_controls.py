"""The Train page's Set up controls (the left column): every config key as a widget, grouped
in expanders, and the upload of a text corpus. The widgets' state lives under train_state.WIDGET;
train_state turns it into a config and back.
"""

from __future__ import annotations

import typing
from pathlib import Path

import streamlit as st

from explorer.textview import md_escape, no_latex
from explorer.uploads import MAX_UPLOAD_BYTES, MAX_UPLOAD_MB, UPLOAD_BOX_MB, store_upload, text_stats, upload_name
from lmcore.config import PLACEMENT_HELP, PLACEMENTS, RULES, SCHEDULE_HELP, Config, allowed_text
from lmcore.errors import ConfigError, LmcoreError
from ui.train_state import REFUSED, TEXT_PATH, WIDGET, uploads_dir

TEXT_STATS = "train.text_stats"    # sha256 -> {"lines", "train_tokens", "distinct", "name"}
UPLOADED = "train.uploaded"        # uploader file id -> (stored path or None, problem or None)
UPLOADER = "train.uploader"

HINTS = typing.get_type_hints(Config)
DATASET_LABELS = {"ptb": "Penn Treebank", "synthetic": "Generated (known best perplexity)",
                  "text": "Your text file"}
UPLOAD_LABEL = (f"Upload a UTF-8 text file of at most {MAX_UPLOAD_MB} MB ({MAX_UPLOAD_BYTES:,} bytes): one "
                "sentence a line, words separated by spaces")


def controls() -> None:
    """Every control, in the order the config reads."""
    data_section()
    model_section()
    dropout_section()
    optimisation_section()
    schedule_section()
    advanced_section()


def number(where, key: str, label: str, disabled: bool = False, step=None) -> None:
    """A number widget bounded by the key's declared limits (an open end as its closed one:
    problems() names the end itself); max_steps' 0 stands for none (no cap)."""
    rule = RULES[key]
    floating = HINTS[key] is float or key == "dropout_recurrent"
    cast = float if floating else int
    low = 0 if key == "max_steps" else rule.low
    where.number_input(label, min_value=None if low is None else cast(low),
                       max_value=None if rule.high is None else cast(rule.high),
                       step=step or (None if floating else 1), format="%g" if floating else None,
                       key=WIDGET + key, help=help_for(key), disabled=disabled)


def numbers(columns, *fields) -> None:
    """Number widgets side by side, one a column: (key, label) or (key, label, step)."""
    for where, (key, label, *step) in zip(columns, fields):
        number(where, key, label, step=step[0] if step else None)


def choice(where, key: str, label: str, labels: dict | None = None, disabled: bool = False,
           options: tuple | None = None) -> None:
    where.selectbox(label, options or RULES[key].choices, key=WIDGET + key, help=help_for(key), disabled=disabled,
                    format_func=(lambda v: f"{v} — {labels[v]}") if labels else str)


def help_for(key: str) -> str:
    """The key's declared help, unit and limits, as the widget's tooltip."""
    rule = RULES[key]
    unit = f" ({rule.unit})" if rule.unit else ""
    allowed = allowed_text(key) if not rule.choices else ""
    return f"`{key}`{unit}: {rule.help}" + (f". Allowed: `{allowed}`" if allowed else "")


def device_options() -> tuple[str, ...]:
    """The devices this machine has (auto and cpu always), plus the chosen one if it is not here,
    so a config from a GPU machine still shows, and problems() says why it cannot start."""
    from lmcore.train import resolve_device  # imports torch: the page needs it for the check anyway

    here = []
    for name in RULES["device"].choices:
        try:
            resolve_device(name)
            here.append(name)
        except ConfigError:
            pass
    chosen = st.session_state.get(WIDGET + "device")
    return tuple(here) + ((chosen,) if chosen in RULES["device"].choices and chosen not in here else ())


def upload_box() -> None:
    """The uploader. A refused file never replaces the one in use: its reason goes to REFUSED (the
    Set up tab lists it as the dataset problem while no file is in use) or, with a file still in
    use, shows here as a warning that says so."""
    # The box's own "40MB per file" would contradict the label's limit (the one the page enforces):
    # hidden, so the page states one number.
    st.html('<style>[data-testid="stFileUploaderDropzoneInstructions"] {display: none;}</style>')
    file = st.file_uploader(UPLOAD_LABEL, type=["txt"], key=UPLOADER, max_upload_size=UPLOAD_BOX_MB)
    refused = None
    if file is not None:
        done = st.session_state.setdefault(UPLOADED, {})
        if file.file_id not in done:
            path, result = store_upload(file.getvalue(), uploads_dir(), file.name)
            done[file.file_id] = (path, None if path else result)
            if path:
                st.session_state[TEXT_PATH] = str(path)
                st.session_state.setdefault(TEXT_STATS, {})[path.stem] = {**result, "name": file.name}
        refused = done[file.file_id][1]
    st.session_state[REFUSED] = refused
    stats = stats_for(st.session_state.get(TEXT_PATH) or "")
    if refused and stats:
        st.warning(f"{no_latex(refused)}. Still using **{md_escape(stats.get('name', 'the earlier file'))}**.")
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
        # Two to a row: four to a row cut the labels short beside their help icons.
        columns = st.columns(2) + st.columns(2)
        number(columns[0], "vocab_size", "Vocabulary cap", disabled=synthetic)
        number(columns[1], "train_tokens", "Train tokens", disabled=not ptb)
        number(columns[2], "valid_tokens", "Validation tokens", disabled=not ptb)
        number(columns[3], "test_tokens", "Test tokens", disabled=not ptb)
        columns = st.columns(3)
        number(columns[0], "synthetic_tokens", "Generated tokens", disabled=not synthetic, step=10_000)
        number(columns[1], "synthetic_vocab", "Generated vocabulary", disabled=not synthetic)
        number(columns[2], "data_seed", "Data seed", disabled=not synthetic)


def model_section() -> None:
    with st.expander("Model", expanded=True, icon="🧱"):
        numbers(st.columns(3), ("layers", "LSTM layers"), ("embed_size", "Embedding size", 50),
                ("hidden_size", "Hidden size", 50))
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
        numbers(columns[1:], ("lr", "Learning rate", 0.001), ("clip", "Gradient clip", 0.05),
                ("weight_decay", "Weight decay", 0.0001))
        numbers(st.columns(4), ("batch_size", "Batch size"), ("bptt", "BPTT length", 5))


def schedule_section() -> None:
    with st.expander("Schedule", expanded=False, icon="📅"):
        columns = st.columns(2)
        number(columns[0], "epochs", "Epochs")
        number(columns[1], "max_steps", "Max steps (0 = no cap)", step=50)
        schedule = st.session_state[WIDGET + "lr_schedule"]
        choice(st.container(), "lr_schedule", "Learning-rate schedule", labels=SCHEDULE_HELP)  # long labels
        columns = st.columns(2)
        number(columns[0], "lr_decay", "Decay factor", disabled=schedule == "constant", step=0.05)
        number(columns[1], "decay_start", "Decay start (epoch)", disabled=schedule != "fixed")


def advanced_section() -> None:
    with st.expander("Advanced", expanded=False, icon="🛠️"):
        columns = st.columns(4)
        number(columns[0], "seed", "Seed")
        choice(columns[1], "device", "Device", options=device_options())
        number(columns[2], "threads", "CPU threads")
        choice(columns[3], "amp", "Mixed precision")
        device = chosen_device()  # both notes need it; resolving it once per rerun is enough
        amp_note(device)
        numbers(st.columns(4), ("eval_batch_size", "Eval batch size"), ("eval_every", "Evaluate every N steps", 50),
                ("checkpoint_every", "Checkpoint every N steps", 50), ("log_every", "Log every N steps"))
        columns = st.columns(4)
        columns[0].text_input("Sample prompt", key=WIDGET + "sample_prompt", help=help_for("sample_prompt"))
        number(columns[1], "sample_words", "Sampled words")
        number(columns[2], "sample_temperature", "Sample temperature", step=0.1)
        columns[3].text_input("Group", key=WIDGET + "group", help=help_for("group"))
        columns = st.columns(3, vertical_alignment="bottom")
        choice(columns[0], "cuda_graphs", "CUDA graphs")
        choice(columns[1], "compiled_cell", "Compiled cell")
        number(columns[2], "layer_pipeline", "Layer pipeline")
        st.toggle("torch.compile", key=WIDGET + "compile", help=help_for("compile"))
        speed_note(device)


def chosen_device() -> str | None:
    """The device type the form's choice resolves to here, None when it is not on this machine."""
    from lmcore.train import resolve_device

    try:
        return resolve_device(st.session_state[WIDGET + "device"]).type
    except ConfigError:
        return None  # the problems box already says the device is not here


def amp_note(device: str | None) -> None:
    """The engine autocasts to bf16 on CUDA only; elsewhere amp=bf16 trains exactly as none does."""
    if st.session_state[WIDGET + "amp"] == "none":
        return
    if device not in (None, "cuda"):
        st.caption(f"Mixed precision acts on CUDA only: on this machine's {device} the run trains in float32, "
                   "exactly as with none.")


def speed_note(device: str | None) -> None:
    """What the GPU speed-ups do off a GPU, where they still change how a step runs.
    `device` is chosen_device()."""
    if device in (None, "cuda"):
        return
    said = {"cuda_graphs": "with CUDA graphs on, the graph step runs eagerly, to the same numbers",
            "compiled_cell": "the compiled cell compiles for its first window, then trains slower than the "
                             "plain recurrence (1.3x on a CPU, docs/performance.md)"}
    notes = [note for key, note in said.items() if st.session_state[WIDGET + key] == "on"]
    tail = " auto leaves both off here." if notes else ""
    if st.session_state[WIDGET + "layer_pipeline"] > 1:
        notes.append("pipelined layers run their chunks one after another (no streams), to the same numbers")
    if notes:
        st.caption(f"On this machine's {device}, {'; '.join(notes)}.{tail}")


def stats_for(dataset: str) -> dict | None:
    """text_stats of a stored upload, computed once per file hash."""
    path = Path(dataset)
    cache = st.session_state.setdefault(TEXT_STATS, {})
    if path.stem not in cache and path.is_file():
        try:
            name = upload_name(path)
            cache[path.stem] = {**text_stats(path), **({"name": name} if name else {})}
        except (LmcoreError, OSError):
            return None
    return cache.get(path.stem) if dataset else None
