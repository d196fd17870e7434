"""Start: what the tool shows, one-click presets, getting PTB, and the runs in progress."""

from __future__ import annotations

import re

import streamlit as st
import torch

import ui
from explorer.metrics import latest_line
from lmcore import queue
from lmcore.data import vocab_size_for
from lmcore.errors import LmcoreError
from lmcore.params import formula_counts
from lmcore.presets import PRESETS
from lmcore.summaries import RunSummary, abreast_of_log, list_runs, reference_runs
from ui import access, history, plots, reference, staleness

START_PTB = "start.ptb_message"

# The presets a lesson starts from, in the order a class meets them: a row of quick ones, then a row of
# the full 2x650 GPU recipes in the order "What the full recipes reach" shows them (the presets' order).
QUICK = ("tiny", "tiny-dropout", "synthetic")
FULL_RECIPES = ("book", "zaremba-medium", "variational-medium")

st.title("LSTM LM Explorer")
st.markdown(
    "Train real word-level LSTM language models in your browser and measure what each change does to "
    "them: **more layers**, **dropout** (and *where* it goes), and **tying** the embedding to the output "
    "layer. "
    "Every run trains in the background on the Penn Treebank, a generated corpus with a known best "
    "perplexity, or your own text, while you watch its perplexity, parameters, dropout masks and "
    "sampled text. Perplexity is exp of the average cross-entropy per word, in nats: lower is better, "
    "and a model that guesses uniformly among V words scores V. "
    "Runs stay on disk, so you can compare them side by side, queue ablation grids, and come back "
    "later.")


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
        if st.button("Download PTB", icon="⬇️", disabled=not access.may_change(), help=access.refusal()) \
                and access.may_change():
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


def measured_line(cfg, run: RunSummary | None) -> str:
    """'untied · measured: test 83.1 after 39 epochs, 205 s on one NVIDIA H200': what sets a full recipe
    apart beside its summary (zaremba-medium's untied decoder is its extra 6.5M parameters), timed by its
    reference run."""
    tying = "tied" if cfg.tie_weights else "**untied**"
    if run is None:  # an install without the reference runs
        return f"{tying} · {cfg.epochs} epochs"
    epochs = run.status.get("epoch") or cfg.epochs
    return (f"{tying} · measured: test {ui.fmt_ppl(run.test)} after {epochs} epochs, "
            f"{run.training_seconds:.0f} s on one {run.device}")


def preset_card(name: str, ptb_here: bool, run: RunSummary | None = None) -> None:
    """A preset's card; a full recipe's adds its measured reference `run`. A PTB preset while PTB is
    missing does not start (its run would fail at once wherever the download cannot reach the
    internet): it says what it needs instead."""
    preset = PRESETS[name]
    cfg = preset.config()
    vocab = vocab_size_for(cfg) or cfg.vocab_size
    params = formula_counts(cfg, vocab)["total"]
    blocked = cfg.dataset == "ptb" and not ptb_here
    with st.container(border=True):
        st.markdown(f"**{name}** · {ui.fmt_count(params)} parameters")
        st.caption(preset.summary)
        if name in FULL_RECIPES:
            st.caption(measured_line(cfg, run))
        if blocked:
            st.caption("Needs PTB first: **Download PTB** above, or start **synthetic**.")
        elif name in FULL_RECIPES and not torch.cuda.is_available():  # QA round 5: a 6-hour click, unsaid
            st.caption(f"A GPU recipe: {cfg.epochs} epochs take hours on a CPU (see below).")
        if st.button("Start now", key=f"{history.START_NOW}{name}", type="secondary" if blocked else "primary",
                     icon=":material/play_arrow:", width="stretch", disabled=blocked or not access.may_change(),
                     help=access.help_or_refusal("Download PTB above first" if blocked else None)):
            try:
                run_id = ui.start_run(cfg)
            except (LmcoreError, OSError) as error:
                st.error(f"Could not start {name}: {error}")
            else:
                st.switch_page("app_pages/train.py", query_params={"run": run_id})
        # A link, not a button: st.switch_page with a query wrote two history entries (the query on Start,
        # then Train), so Back seemed to do nothing once (QA round 14); a link also opens in a new tab.
        with st.container(key=f"start.open.{name}"):
            st.page_link("app_pages/train.py", label="Open in Train", icon=":material/tune:", width="stretch",
                         query_params={"preset": name})


# A visually hidden piece of text after a card button's label: a screen reader listed six "Start now" and six
# "Open in Train" (QA round 14). st.button takes no aria-label; CSS generated content counts in an accessible
# name (WAI-ARIA's accname), so each reads "Start now (tiny)" while the card shows "Start now", as before.
HIDDEN = "position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap"


def preset_button_names(names) -> None:
    """Each card's Start button and Open link has an accessible name that ends with its preset."""
    rules = [name_rule(f"start.{action}.{name}", tag, name) for name in names
             for action, tag in (("go", "button"), ("open", "a"))]
    st.html("<style>" + "".join(rules) + "</style>")


def name_rule(key: str, tag: str, name: str) -> str:
    """The CSS rule that puts '(name)' after the label of the `tag` inside the widget or container keyed
    `key`, for a screen reader only, through the class Streamlit gives it (st-key-<key>, dots as dashes).
    Every character but letters, digits and spaces is a CSS escape, so a run's name cannot end the rule
    or the style element. A style-only st.html draws nothing."""
    selector = "st-key-" + re.sub(r"[^A-Za-z0-9_-]", "-", key)
    text = "".join(c if c.isascii() and (c.isalnum() or c == " ") else f"\\{ord(c):x} " for c in f"({name})")
    return f".{selector} {tag} p::after{{content:'{text}';{HIDDEN}}}"


def recipes_caption(measured: list[RunSummary]) -> str:
    """What the times on the full recipes' cards mean. Their conditions, read from the reference runs'
    reference.json, differ: book's 431 s ran eagerly on a shared GPU, the others graphed and alone."""
    names = ui.and_join([f"`{name}`" for name in FULL_RECIPES])
    epochs = ui.and_join([str(PRESETS[name].config().epochs) for name in FULL_RECIPES])
    text = f"The second row holds the full GPU recipes: {names} train on all of PTB for {epochs} epochs. "
    if measured:
        text += ("Their times were measured on one NVIDIA H200: `zaremba-medium` and `variational-medium` with "
                 "CUDA graphs, alone on the GPU; `book` with eager steps, sharing it. ")
    return text + ("A `book` epoch takes 5.2 s on an NVIDIA H200 with CUDA graphs, alone on the GPU (side by side, "
                   "graphed steps run 2.3 times as fast as eager ones; the eager run's 10.8 s shared the GPU), "
                   "3.4 s with Mixed precision `bf16` (Advanced; 40 epochs in 139 s, validation 79.8 / test 75.9) "
                   "and about 9 minutes on a 2-core CPU. `tiny` takes about a minute on 2 free CPU cores; runs started "
                   "together share the cores and each takes longer (`tiny` and `tiny-dropout` together: 1:23 "
                   "and 1:07).")


ptb_here = ptb_available()
ptb_panel(ptb_here)


IN_PROGRESS_SECONDS = 2


@st.fragment(run_every=IN_PROGRESS_SECONDS)
def runs_in_progress() -> None:
    # The user's runs only: the shipped reference runs never train here (a 2 s refresh need not read them).
    active = queue.in_queue_order([r for r in list_runs(ui.runs_root()) if r.is_active])
    if not active:
        return  # nothing to say above the presets; it appears here when a run starts, from any page
    staleness.heartbeat(IN_PROGRESS_SECONDS)  # progress bars frozen by a stuck server would read as current
    # Above the presets: a teacher back for the second preset found it 1,500 px down (QA round 5).
    st.subheader("In progress")
    for summary in active:
        # At the step the Watch tab's curve shows: status.json is written once a second, the log every few steps.
        fraction, text = ui.progress_text(abreast_of_log(summary.status, latest_line(ui.metrics_frame(summary.path))))
        left, right = st.columns([4, 1])
        left.progress(fraction, text=f"{ui.run_label(summary)} — {text}")
        with right.container(key=f"start.watch.{summary.id}"):
            st.page_link("app_pages/train.py", label="Watch", icon="📈", query_params={"run": summary.id})
        if reason := queue.waiting_reason(summary, active):
            left.caption(reason)
    # Each Watch link is named for its run: a screen reader listed 'Watch, Watch' (QA round 14).
    st.html("<style>" + "".join(name_rule(f"start.watch.{s.id}", "a", s.name) for s in active) + "</style>")


runs_in_progress()
st.subheader("Start from a preset")
shipped = reference_runs()
measured = reference.recipe_runs(shipped)
by_preset = {summary.config.get("preset"): summary for summary in measured}
# Two rows of three columns: the quick presets, then the full recipes. At 1400 px a wrapping row of
# fixed-width cards left the sixth alone on a second row; three columns hold at 1024 px with the
# sidebar open too (five broke "Start now" letter by letter there).
preset_button_names(QUICK + FULL_RECIPES)
for row in (QUICK, FULL_RECIPES):
    for column, name in zip(st.columns(len(row)), row):
        with column:
            preset_card(name, ptb_here, by_preset.get(name))
st.caption(recipes_caption(measured))


def full_recipes(measured: list[RunSummary]) -> None:
    """What the full recipes reach, read from the reference runs this project measured on a GPU: the
    presets' own, then those that changed one of their keys (book with horizontal dropout)."""
    if not measured:
        return
    st.subheader("What the full recipes reach")
    for summary in measured:
        st.markdown(reference.recipe_line(summary))
    for line in reference.recipe_comparisons(measured):
        st.caption(line)
    runs = [(summary, ui.metrics_frame(summary.path)) for summary in measured]
    plots.show(reference.validation_figure(runs), "start.recipe")
    st.caption("Measured by this project. Open one on **Train**, or lay its curves beside your own runs "
               "there and on **Compare**:")
    # The links get a row of their own: beside the caption, the last one wrapped alone at 1400 px (QA round 8).
    links = st.container(horizontal=True, gap="medium", vertical_alignment="center")
    for summary in measured:
        links.page_link("app_pages/train.py", label=reference.recipe_name(summary), icon="📈",
                        help="Open its curves on Train", query_params={"run": summary.id})


full_recipes(measured + reference.recipe_variants(shipped))
