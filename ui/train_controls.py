"""The Train page's Set up controls (the left column): every config key as a widget, grouped
in expanders, and the upload of a text corpus. The widgets' state lives under train_state.WIDGET;
train_state turns it into a config and back. Each widget also takes its kept value as value=, index=
or default= (ui.index_of says why): a number box mounted afresh by the browser would otherwise send back
0, and a select its first choice, at the sidebar's next timed refresh.
"""

from __future__ import annotations

import typing
from pathlib import Path

import streamlit as st

import ui
from explorer.textview import md_escape, no_latex
from explorer.uploads import (
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_MB,
    UPLOAD_BOX_MB,
    distinct_text,
    file_notes,
    shown_upload_name,
    split_text,
    store_upload,
    text_stats,
    upload_name,
)
from lmcore.config import PLACEMENT_HELP, PLACEMENTS, RULES, SCHEDULE_HELP, Config, allowed_text, key_problem
from lmcore.errors import ConfigError, LmcoreError
from lmcore.presets import preset_values, prompt_for
from lmcore.synthetic import floors
from ui import access
from ui.train_state import EPOCH_CHECKPOINTS, PRESET, REFUSED, TEXT_PATH, WIDGET, uploads_dir

TEXT_STATS = "train.text_stats"    # sha256 -> text_stats ("lines", "train_tokens", "distinct", "split") + "name"
UPLOADED = "train.uploaded"        # uploader file id -> (stored path or None, problem or None)
UPLOADER = "train.uploader"

HINTS = typing.get_type_hints(Config)
# A field's width in px: two to a row in the Set up column of a 1024 px page with the sidebar open
# (263 px inside an expander), three at 1400 px. Fixed columns of three or four there broke labels
# mid-word and cut the selects' values to a letter. At 120 px or less Streamlit leaves out a number's
# -/+ buttons, which would cut a six-digit value (the arrow keys still step it).
FIELD = 120
DATASET_LABELS = {"ptb": "Penn Treebank", "synthetic": "Generated (known best perplexity)",
                  "text": "Your text file"}
UPLOAD_LABEL = (f"Upload a UTF-8 text file of at most {MAX_UPLOAD_MB} MB ({MAX_UPLOAD_BYTES:,} bytes): one "
                "sentence a line, words separated by spaces")


def controls():
    """Every control, in the order the config reads; returns the Model section's slot for the cost
    of its sizes, which only a phone shows (ui/app.css)."""
    data_section()
    cost = model_section()
    dropout_section()
    optimisation_section()
    schedule_section()
    advanced_section()
    return cost


def fields():
    """A row of fields that wraps onto the next line where they do not fit; inputs line up at the
    bottom when one label takes two lines. Draw into it with `with fields():`."""
    return st.container(horizontal=True, vertical_alignment="bottom")


# Six significant digits, trailing zeros dropped (sprintf.js's %.6g: String(Number(x.toPrecision(6)))):
# zaremba-medium's clip 5/35 reads 0.142857, not 0.14285714285714285, which "%g" printed whole.
# Only the box's text: the value stays exact until the user edits it (train_state._cleaned).
FLOAT_FORMAT = "%.6g"


def number(key: str, label: str, disabled: bool = False, step=None) -> None:
    """A number widget without bounds: a bounded one showed a typed 0 layers in red while keeping
    (and starting) the last value in range (QA round 6). Whatever is typed reaches the config,
    and problems() names each value out of its key's limits and blocks Start. max_steps' 0 stands
    for none (no cap)."""
    floating = HINTS[key] is float or key == "dropout_recurrent"
    kept = st.session_state[WIDGET + key]
    if kept is not None:  # in the widget's own type: an int beside a float step makes Streamlit refuse the mix
        kept = float(kept) if floating else int(kept)
    st.number_input(label, value=kept, step=step or (None if floating else 1),
                    format=FLOAT_FORMAT if floating else None, key=WIDGET + key, help=help_for(key),
                    disabled=disabled, width=FIELD)


def numbers(*keys) -> None:
    """Number widgets one after another: (key, label) or (key, label, step)."""
    for key, label, *step in keys:
        number(key, label, step=step[0] if step else None)


def choice(key: str, label: str, labels: dict | None = None, disabled: bool = False,
           options: tuple | None = None) -> None:
    """A select box; one whose options carry labels (long) takes the whole row."""
    options = options or RULES[key].choices
    st.selectbox(label, options, index=ui.index_of(options, st.session_state[WIDGET + key]), key=WIDGET + key,
                 help=help_for(key), disabled=disabled,
                 format_func=(lambda v: f"{v} — {labels[v]}") if labels else str,
                 width="stretch" if labels else FIELD)


def text(key: str, label: str) -> None:
    st.text_input(label, value=st.session_state[WIDGET + key], key=WIDGET + key, help=help_for(key), width=FIELD)


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
    # Any name: the content decides (UTF-8 text, not binary), and a refusal is said in words. A type
    # filter refused a .csv with a red icon whose reason showed only on hover (QA round 11).
    file = st.file_uploader(UPLOAD_LABEL, key=UPLOADER, max_upload_size=UPLOAD_BOX_MB,
                            disabled=not access.may_change(), help=access.refusal())
    refused = None
    if file is not None and access.may_change():
        done = st.session_state.setdefault(UPLOADED, {})
        if file.file_id not in done:
            path, result = store_upload(file.getvalue(), uploads_dir(), file.name)
            done[file.file_id] = (path, None if path else result)
            if path:
                st.session_state[TEXT_PATH] = str(path)
                st.session_state.setdefault(TEXT_STATS, {})[path.stem] = {**result, "name": file.name}
        refused = done[file.file_id][1]
    st.session_state[REFUSED] = refused
    in_use = st.session_state.get(TEXT_PATH) or ""
    stats = stats_for(in_use)
    # As run names and Compare will call it: another upload of the same name adds the hash's digits.
    name = (shown_upload_name(in_use) if in_use else None) or (stats or {}).get("name")
    if refused and stats:
        st.warning(f"{no_latex(refused)}. Still using **{md_escape(name or 'the earlier file')}**.")
    if stats:
        st.caption(f"Using **{md_escape(name or 'an uploaded file')}**: {stats['lines']:,} lines, "
                   f"{stats['train_tokens']:,} training tokens, {distinct_text(stats['distinct'])}. "
                   + split_text(stats["split"]))


def vocabulary_note() -> None:
    """The notes on the text in use (explorer.uploads.file_notes, which `lmcore train` prints too): how
    much becomes <unk> under the cap, as the engine builds the vocabulary, and what else will mislead."""
    path, cap = st.session_state.get(TEXT_PATH), st.session_state.get(WIDGET + "vocab_size")
    if not path or not stats_for(path):
        return
    try:
        notes = file_notes(Path(path), cap if isinstance(cap, int) and not key_problem("vocab_size", cap) else None)
    except (LmcoreError, OSError):
        return  # the problems box says why the file cannot be read
    for kind, text in notes:
        if kind == "warning":
            st.warning(text, icon="🔤")
        else:
            st.caption(text)


def floor_note() -> None:
    """The generated corpus's best possible perplexity before training (QA round 18: only Watch showed it,
    once a run had started), as the trainer computes it, and the bigram floor an n-gram model stops at."""
    vocab, seed = (st.session_state.get(WIDGET + key) for key in ("synthetic_vocab", "data_seed"))
    if key_problem("synthetic_vocab", vocab) or key_problem("data_seed", seed):
        return
    floor, bigram = floors(vocab, seed)
    tail = (f"; the best any bigram model (the previous word only) can do: **{bigram:.1f}**" if bigram else "")
    st.caption(f"Best possible perplexity on this generated corpus (its entropy floor): **{floor:.1f}**{tail}. "
               "It changes with Generated vocabulary and Data seed.")


def corpus_changed() -> None:
    """Your text file starts the samples from the start of a sentence, unless a prompt was typed
    (lmcore.presets.prompt_for, as `lmcore train` does); back on Penn Treebank the preset's prompt
    returns where the prompt was left empty."""
    state, key = st.session_state, WIDGET + "sample_prompt"
    preset = state.get(PRESET) or ""
    if state[WIDGET + "dataset"] == "text":
        state[key] = prompt_for("", state.get(key, ""), preset)
    elif state[WIDGET + "dataset"] == "ptb" and not state.get(key):
        state[key] = preset_values(preset)["sample_prompt"]


def data_section() -> None:
    with st.expander("Data", expanded=True, icon="📚"):
        kind = st.radio("Corpus", list(DATASET_LABELS), format_func=DATASET_LABELS.get, horizontal=True,
                        index=ui.index_of(DATASET_LABELS, st.session_state[WIDGET + "dataset"]), key=WIDGET + "dataset",
                        help="`dataset`: ptb, synthetic, or the path of a text file",
                        on_change=corpus_changed)
        if kind == "text":
            upload_box()
        ptb, synthetic = kind == "ptb", kind == "synthetic"
        with fields():
            number("vocab_size", "Vocabulary cap", disabled=synthetic)
            number("train_tokens", "Train tokens", disabled=not ptb)
        if kind == "text":
            vocabulary_note()
        with fields():
            number("valid_tokens", "Validation tokens", disabled=not ptb)
            number("test_tokens", "Test tokens", disabled=not ptb)
        with fields():
            number("synthetic_tokens", "Generated tokens", disabled=not synthetic, step=10_000)
            number("synthetic_vocab", "Generated vocabulary", disabled=not synthetic)
            number("data_seed", "Data seed", disabled=not synthetic)
        if synthetic:
            floor_note()


def model_section():
    with st.expander("Model", expanded=True, icon="🧱"):
        with fields():
            numbers(("layers", "LSTM layers"), ("embed_size", "Embedding size", 50), ("hidden_size", "Hidden size", 50))
        st.toggle("Tie the embedding and the decoder weights", value=st.session_state[WIDGET + "tie_weights"],
                  key=WIDGET + "tie_weights", help=help_for("tie_weights"))
        with fields():
            choice("init", "Initialisation")
            number("init_range", "Uniform init range", step=0.01,
                   disabled=st.session_state[WIDGET + "init"] != "uniform")
        return st.container(key="train.cost")


def dropout_section() -> None:
    with st.expander("Dropout", expanded=True, icon="🎲"):
        placement = st.radio("Where dropout goes", PLACEMENTS, key=WIDGET + "dropout_placement",
                             index=ui.index_of(PLACEMENTS, st.session_state[WIDGET + "dropout_placement"]),
                             captions=[PLACEMENT_HELP[p] for p in PLACEMENTS], help=help_for("dropout_placement"))
        recurrent = placement in ("horizontal", "variational")
        # The two ratios side by side, the box after them: between them it pushed one ratio to a row
        # of its own on a narrow page.
        with fields():
            number("dropout", "Dropout ratio", disabled=placement == "none", step=0.05)
            same = st.session_state[WIDGET + "recurrent_same"]
            if same:  # the greyed field shows the ratio the run will use, not a stale one (QA round 6: "0")
                st.session_state[WIDGET + "dropout_recurrent"] = float(st.session_state[WIDGET + "dropout"])
            number("dropout_recurrent", "Recurrent ratio", disabled=not recurrent or same, step=0.05)
            st.checkbox("Same as dropout", value=same, key=WIDGET + "recurrent_same", disabled=not recurrent,
                        help="The recurrent path h(t-1) → h(t) drops units at the Dropout ratio too "
                        "(`dropout_recurrent` left unset); untick to give it a ratio of its own")
        if not recurrent:
            st.caption("The recurrent ratio only matters for horizontal and variational dropout.")


def optimisation_section() -> None:
    with st.expander("Optimisation", expanded=True, icon="🧮"):
        with fields():
            choice("optimizer", "Optimizer")
            numbers(("lr", "Learning rate", 0.001), ("clip", "Gradient clip", 0.05),
                    ("weight_decay", "Weight decay", 0.0001), ("batch_size", "Batch size"), ("bptt", "BPTT length", 5))


def schedule_section() -> None:
    with st.expander("Schedule", expanded=False, icon="📅"):
        with fields():
            number("epochs", "Epochs")
            number("max_steps", "Max steps (0 = no cap)", step=50)
        schedule = st.session_state[WIDGET + "lr_schedule"]
        choice("lr_schedule", "Learning-rate schedule", labels=SCHEDULE_HELP)
        with fields():
            number("lr_decay", "Decay factor", disabled=schedule == "constant", step=0.05)
            number("decay_start", "Decay after epoch", disabled=schedule != "fixed")


def advanced_section() -> None:
    with st.expander("Advanced", expanded=False, icon="🛠️"):
        with fields():
            number("seed", "Seed")
            choice("device", "Device", options=device_options())
            number("threads", "CPU threads")
            choice("amp", "Mixed precision")
        device = chosen_device()  # both notes need it; resolving it once per rerun is enough
        amp_note(device)
        with fields():
            numbers(("eval_batch_size", "Eval batch size"), ("eval_every", "Evaluate every N steps", 50),
                    ("checkpoint_every", "Checkpoint every N steps", 50), ("log_every", "Log every N steps"))
            st.selectbox("Epoch checkpoints", tuple(EPOCH_CHECKPOINTS), key=WIDGET + "keep_epoch_checkpoints",
                         index=ui.index_of(EPOCH_CHECKPOINTS, st.session_state[WIDGET + "keep_epoch_checkpoints"]),
                         width=FIELD, help=epoch_checkpoints_help())
        with fields():
            text("sample_prompt", "Sample prompt")
            numbers(("sample_words", "Sampled words"), ("sample_temperature", "Sample temperature", 0.1))
            text("group", "Group")
        with fields():
            choice("cuda_graphs", "CUDA graphs")
            choice("compiled_cell", "Compiled cell")
            number("layer_pipeline", "Layer pipeline")
        st.toggle("torch.compile", value=st.session_state[WIDGET + "compile"], key=WIDGET + "compile",
                  help=help_for("compile"))
        speed_note(device)


def epoch_checkpoints_help() -> str:
    return (help_for("keep_epoch_checkpoints") + f". {RULES['keep_epoch_checkpoints'].none}; off: best and last "
            "only. Each is as big as a checkpoint (the caption under Start training says how big); Compare's Free "
            "deletes them once a run is done.")


def chosen_device() -> str | None:
    """The device type the form's choice resolves to here, None when it is not on this machine."""
    from lmcore.train import resolve_device

    try:
        return resolve_device(st.session_state[WIDGET + "device"]).type
    except ConfigError:
        return None  # the problems box already says the device is not here


# Measured on one NVIDIA H200 (docs/performance.md, the third H200 session).
AMP_ON_GPU = ("Mixed precision bf16 autocasts the training steps; evaluation reads float32. Measured on an NVIDIA "
              "H200, `book` trained 3.4 s an epoch where float32 takes 5.2 s (its 40 epochs in 139 s), to the same "
              "perplexities within 0.3 (one seed). Benched there, it sped up `vertical` (cuDNN, as `none`) 1.5x and "
              "`variational` (whose recurrence computes in float32) 1.04x: compare placements in one precision.")


def amp_note(device: str | None) -> None:
    """The engine autocasts to bf16 on CUDA only; elsewhere amp=bf16 trains exactly as none does. On a
    GPU, what bf16 buys and what it costs a comparison."""
    if device == "cuda":
        st.caption(AMP_ON_GPU)
    elif st.session_state[WIDGET + "amp"] != "none" and device is not None:
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
    else:  # QA round 5: offered on a CPU without a word, they read like speed-ups for it
        st.caption(f"CUDA graphs, the compiled cell, the layer pipeline and torch.compile are for GPUs: on this "
                   f"machine's {device} their defaults leave training as it is.")


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
