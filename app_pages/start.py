"""Start: what the tool shows, one-click presets, getting PTB, and the runs in progress."""

from __future__ import annotations

import streamlit as st
import torch

import ui
from lmcore import queue
from lmcore.data import vocab_size_for
from lmcore.errors import LmcoreError
from lmcore.params import formula_counts
from lmcore.presets import PRESETS
from lmcore.summaries import list_runs, reference_runs
from ui import reference

START_PTB = "start.ptb_message"

# The presets a lesson starts from, in the order a class meets them.
FEATURED = ["tiny", "tiny-dropout", "synthetic", "book", "variational-medium"]
FULL_RECIPES = ("book", "variational-medium")  # the 40-epoch 650-unit recipes

st.title("LSTM LM Explorer")
st.markdown(
    "Train real word-level LSTM language models in your browser and see, with measured numbers, "
    "what makes them better: **more layers**, **dropout** (and *where* it goes), and **tying** the "
    "embedding to the output layer. "
    "Every run trains in the background on the Penn Treebank, a generated corpus with a known best "
    "perplexity, or your own text, while you watch its perplexity, parameters, dropout masks and "
    "sampled text. "
    "Runs stay on disk, so you can compare them side by side, queue ablation grids, and come back "
    "later.")

queue.ensure_worker(ui.runs_root())  # queued runs continue after an app restart


def ptb_available() -> bool:
    from lmcore.ptb import ptb_status

    return ptb_status()["available"]


def ptb_panel(available: bool) -> None:
    from lmcore.errors import DataError
    from lmcore.ptb import DOWNLOAD_SIZE, download_ptb

    if available:
        return
    with st.container(border=True):
        st.markdown(f"**Penn Treebank not downloaded yet** ({DOWNLOAD_SIZE}). The generated corpus works without it.")
        if st.button("Download PTB", icon="⬇️"):
            bar = st.progress(0.0, text="Connecting...")

            def report(name, done, total):
                if total:
                    bar.progress(min(done / total, 1.0), text=f"{name}: {done / 2**20:.1f} / {total / 2**20:.1f} MB")

            try:
                download_ptb(progress=report)
                st.session_state.pop("ui.ptb_status", None)
                st.session_state[START_PTB] = ("success", "PTB downloaded and verified.")
            except DataError as error:
                st.session_state[START_PTB] = ("error", str(error))
            st.rerun()
    kind, message = st.session_state.pop(START_PTB, (None, None))
    if kind:
        getattr(st, kind)(message)


def preset_card(name: str, ptb_here: bool) -> None:
    """A preset's card. A PTB preset while PTB is missing does not start (its run would fail at once
    wherever the download cannot reach the internet): it says what it needs instead."""
    preset = PRESETS[name]
    cfg = preset.config()
    vocab = vocab_size_for(cfg) or cfg.vocab_size
    params = formula_counts(cfg, vocab)["total"]
    blocked = cfg.dataset == "ptb" and not ptb_here
    with st.container(border=True, width=172):
        st.markdown(f"**{name}** · {ui.fmt_count(params)} parameters")
        st.caption(preset.summary)
        if blocked:
            st.caption("Needs PTB first: **Download PTB** above, or start **synthetic**.")
        elif name in FULL_RECIPES and not torch.cuda.is_available():  # QA round 5: a 6-hour click, unsaid
            st.caption("A GPU recipe: 40 epochs take hours on a CPU (see below).")
        if st.button("Start now", key=f"start.go.{name}", type="secondary" if blocked else "primary",
                     icon=":material/play_arrow:", width="stretch", disabled=blocked,
                     help="Download PTB above first" if blocked else None):
            try:
                run_id = ui.start_run(cfg)
            except (LmcoreError, OSError) as error:
                st.error(f"Could not start {name}: {error}")
            else:
                st.switch_page("app_pages/train.py", query_params={"run": run_id})
        if st.button("Open in Train", key=f"start.open.{name}", icon=":material/tune:", width="stretch"):
            st.switch_page("app_pages/train.py", query_params={"preset": name})


ptb_here = ptb_available()
ptb_panel(ptb_here)


@st.fragment(run_every=2)
def runs_in_progress() -> None:
    # The user's runs only: the shipped reference runs never train here (a 2 s refresh need not read them).
    active = [r for r in list_runs(ui.runs_root()) if r.is_active]
    if not active:
        return  # nothing to say above the presets; it appears here when a run starts, from any page
    # Above the presets: a teacher back for the second preset found it 1,500 px down (QA round 5).
    st.subheader("In progress")
    for summary in active:
        fraction, text = ui.progress_text(summary.status)
        left, right = st.columns([4, 1])
        left.progress(fraction, text=f"{ui.run_label(summary)} — {text}")
        right.page_link("app_pages/train.py", label="Watch", icon="📈", query_params={"run": summary.id})
        if reason := queue.waiting_reason(summary):
            left.caption(reason)


runs_in_progress()
st.subheader("Start from a preset")
# Cards of a fixed width in a row that wraps: five to a row at 1400 px, three then two on a 1024 px
# projector with the sidebar open, where five columns broke "Start now" letter by letter.
with st.container(horizontal=True, wrap=True):
    for name in FEATURED:
        preset_card(name, ptb_here)
st.caption("`book` and `variational-medium` are full 40-epoch GPU recipes: a `book` epoch took 5.2 s on an "
           "NVIDIA H200 with CUDA graphs (10.8 s without) and about 9 minutes on a 2-core CPU. `tiny` finishes in "
           "under a minute anywhere.")


def full_recipes() -> None:
    """What the full recipes reach, read from the reference runs this project measured on a GPU."""
    measured = reference.recipe_runs(reference_runs())
    if not measured:
        return
    st.subheader("What the full recipes reach")
    for summary in measured:
        st.markdown(reference.recipe_line(summary))
    for line in reference.recipe_comparisons(measured):
        st.caption(line)
    runs = [(summary, ui.metrics_frame(summary.path)) for summary in measured]
    st.plotly_chart(reference.validation_figure(runs), key="start.recipe",
                    config={"displaylogo": False, "displayModeBar": False})
    st.caption("Measured by this project. Open one on **Train**, or lay its curves beside your own runs "
               "there and on **Compare**:")
    # The links get a row of their own: beside the caption, the last one wrapped alone at 1400 px (QA round 8).
    links = st.container(horizontal=True, gap="medium", vertical_alignment="center")
    for summary in measured:
        links.page_link("app_pages/train.py", label=summary.config.get("preset"), icon="📈",
                        help="Open its curves on Train", query_params={"run": summary.id})


full_recipes()
