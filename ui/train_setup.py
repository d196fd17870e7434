"""The Train page's Set up tab: the preset, the controls (train_controls.py), and beside them
every problem the engine finds, Start, the planned steps, the parameter count and the link
that shares the config.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlencode

import streamlit as st

import ui
from explorer import epochs
from explorer.estimate import time_note
from explorer.lesson import high_dropout_notes
from explorer.links import described_name, link_params
from explorer.textview import no_latex
from explorer.uploads import dataset_label, unknown_share
from lmcore import copies, data
from lmcore.ablation import inert_settings
from lmcore.config import Config, ConfigError, from_dict, problems
from lmcore.disk import Planned, megabytes, planned
from lmcore.errors import LmcoreError
from lmcore.params import formula_counts, parameter_table, tying_text
from lmcore.presets import PRESETS, preset_values
from lmcore.sizes import ptb_slice_vocab_size
from lmcore.summaries import list_runs
from lmcore.train import resolve_device
from ui import access, plots
from ui.train_controls import controls, help_for, stats_for
from ui.train_state import (
    COPY_OF,
    NOTICE,
    PRESET,
    REFUSED,
    TAB,
    VALUES,
    WATCH_TAB,
    WIDGET,
    attach,
    load_values,
    read_values,
)

START = "train.start"


def setup_tab() -> None:
    top = st.columns([3, 2, 4], vertical_alignment="bottom")
    choices = ["", *PRESETS]
    # The kept values as defaults too (ui.index_of says why): a fresh mount's first choice, "none", sent back
    # at the sidebar's next refresh would load the engine's defaults into every control.
    top[0].selectbox("Preset", choices, index=ui.index_of(choices, st.session_state[PRESET]), key=PRESET,
                     on_change=on_preset,
                     format_func=lambda n: n or "none: the engine's defaults",
                     help="Fills every control; change any of them afterwards. `?preset=NAME` in the URL picks one.")
    name_slot = top[1].empty()  # filled after the controls: its placeholder names the run they make
    preset = st.session_state[PRESET]
    top[2].caption(PRESETS[preset].summary if preset else "The engine's defaults: the book's recipe on PTB.")
    left, right = st.columns([5, 4], gap="medium")
    with left:
        cost = controls()
    values = read_values()
    st.session_state[VALUES] = values
    name_slot.text_input("Run name (optional)", value=st.session_state[WIDGET + "name"], key=WIDGET + "name",
                         placeholder=described_name(values) or preset,
                         help=help_for("name") + ". Left empty, the run is named for its preset and the keys it "
                         "changes")
    cfg, found = check(values)
    count = counted(cfg)  # once: a text file's vocabulary is counted from the file
    with cost:
        cost_line(count)
    with right:
        problems_box(cfg, found, values)
        start_box(cfg, found, count)
        parameter_box(count)
        share_box(values)


def on_preset() -> None:
    load_values(preset_values(st.session_state[PRESET]))


def set_keys(**changes) -> None:
    load_values({**read_values(), **changes})


BOUND_NOTE = " at most: a short slice may hold fewer distinct words, counted once PTB is downloaded"


def vocabulary(cfg: Config) -> tuple[int | None, str]:
    """(V, a note) for the parameter count; V is None while no text file is chosen. The note is
    BOUND_NOTE when V is only an upper bound (a short PTB slice, PTB not on disk to count it)."""
    if cfg.dataset == "ptb":
        size, exact = ptb_slice_vocab_size(cfg)
        return size, "" if exact else BOUND_NOTE
    known = data.vocab_size_for(cfg)
    if known is not None:
        return known, ""
    if stats_for(cfg.dataset) is None:
        return None, ""
    return unknown_share(Path(cfg.dataset), cfg.vocab_size)["vocab_size"], ""  # <unk> included where needed


def check(values: dict) -> tuple[Config | None, list[str]]:
    """The Config of the controls and every problem the engine finds in it."""
    try:
        cfg = from_dict(values)
    except ConfigError as error:
        return None, error.problems
    found = problems(cfg)
    if not found:  # a corpus that would fail at its first batch: the CLI refuses it with the same lines
        found = data.corpus_problems(cfg, counted_split)
    if values["dataset"] == "":
        # A refused upload's reason is the whole story; "upload a file first" would contradict it.
        refused = st.session_state.get(REFUSED)
        # QA round 25: a watching-only computer was asked to upload through a box it cannot use.
        missing = ("dataset: upload a text file first" if access.may_change() else
                   "dataset: no text file is chosen, and only the computer this app runs on can upload one")
        found = [p for p in found if not p.startswith("dataset:")] + [
            refused or f"{missing} (or choose Penn Treebank or the generated corpus)"]
    try:
        from lmcore.train import resolve_device

        resolve_device(cfg.device)
    except ConfigError as error:
        found.extend(error.problems)
    return cfg, found


def counted_split(path) -> dict:
    """A text file's split sizes for data.corpus_problems, from the Set up tab's cache of its
    text_stats; a file it cannot count is counted again, to raise the reason."""
    stats = stats_for(str(path))
    return stats["split"] if stats else data.count_splits(path)


def unread_settings(cfg: Config, values: dict) -> list[str]:
    """inert_settings of the keys this form changed from its preset: a preset's own token limits,
    unread with your text file, are not yours to fix. An upload is named as it came."""
    changed = set(link_params(values)) - {"preset"}
    dataset = values.get("dataset") or ""
    return [line.replace(dataset, dataset_label(dataset)) if dataset else line
            for line in inert_settings(cfg) if line.split("=", 1)[0] in changed]


def problems_box(cfg: Config | None, found: list[str], values: dict) -> None:
    if cfg is not None and not found and (unread := unread_settings(cfg, values)):
        # Not an error (it trains), but a class comparing placements at dropout 0 would learn nothing.
        st.warning("**Has no effect in this config:**\n" + "\n".join(f"- {no_latex(u)}" for u in unread), icon="💤")
    for note in high_dropout_notes(cfg) if cfg is not None else ():
        st.caption(note)  # allowed (p < 1), and it trains, but next to nothing gets through
    if not found:
        return
    st.error("**Fix before starting:**\n" + "\n".join(f"- {no_latex(p)}" for p in found), icon="🚫")
    if cfg is not None and cannot_tie(cfg):
        # One under the other: side by side in this column a 1024 px page cut both ('Embedding…').
        st.button(f"Set embedding size to {cfg.hidden_size}", on_click=set_keys,
                  kwargs={"embed_size": cfg.hidden_size}, key="train.fix_embed", width="stretch")
        st.button("Untie the weights", on_click=set_keys, kwargs={"tie_weights": False}, key="train.fix_untie",
                  width="stretch")


def cannot_tie(cfg: Config) -> bool:
    return cfg.tie_weights and cfg.embed_size != cfg.hidden_size


def on_start() -> None:
    """Start's callback. It runs before the next script run, so the new URL and the Watch tab arrive in
    one run (a query-param change followed by st.rerun() can be lost on the way to the browser)."""
    values = read_values()
    cfg, found = check(values)
    if found:
        return
    copy = st.session_state.get(COPY_OF)
    if copy and values["name"] == copy["name"]:   # Edit a copy's name, as `lmcore train --like` names the copy
        cfg = cfg.replace(name=copies.copy_name(copy["original"], cfg.to_dict()))
    if not cfg.name:
        cfg = cfg.replace(name=described_name(values))
    try:
        run_id = ui.start_run(cfg, counted_split)
    except (LmcoreError, OSError) as error:
        st.session_state[NOTICE] = ("error", f"Could not start the run: {error}")
        return
    attach(run_id)
    st.session_state[TAB] = WATCH_TAB
    st.session_state[NOTICE] = ("success", f"Started `{run_id}`. It trains in the background: leave, reload "
                                "or close the browser, it carries on.")


def start_box(cfg: Config | None, found: list[str], count: Count | str) -> None:
    # The button sits below every setting, some 60 Tab presses down (QA round 11): a shortcut reaches it.
    st.button("Start training", type="primary", icon="▶️", disabled=bool(found) or not access.may_change(), key=START,
              width="stretch", on_click=on_start, shortcut="Ctrl+Enter", wrap=True,
              help=access.help_or_refusal("Fix the problems above first" if found else
                                          "Trains in a background process (Ctrl+Enter)"))
    tokens = epochs.train_tokens(cfg, stats_for) if cfg and not found else None
    mine = list_runs(ui.runs_root())  # reference runs never train here
    if tokens:
        per_epoch, total = data.planned_steps(cfg, tokens)
        how_many = f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}"
        st.caption(f"About **{total:,}** training steps ({per_epoch:,} per epoch × {how_many}"
                   f"{f', capped at {cfg.max_steps:,}' if cfg.max_steps else ''}).")
        if note := time_note(cfg.to_dict(), total, mine, device_here(cfg.device)):
            getattr(st, note[0])(note[1], **({"icon": "⏳"} if note[0] == "warning" else {}))
        if per_epoch and not isinstance(count, str):
            st.caption(disk_note(planned(cfg, count.counts["total"], -(-total // per_epoch))))
    if note := sharing_note(mine):
        st.caption(note)


def disk_note(plan: Planned) -> str:
    """What the run's checkpoints will take by its end, said before it starts: a 30-epoch tiny run kept 236 MB
    of epoch checkpoints that nothing had mentioned (QA round 18)."""
    kept = (f"best and last, and one at each of its {plan.files - 2:,} epoch ends for a fork to start from "
            "(**Epoch checkpoints** under Advanced; Compare's Free deletes them once it is done)" if plan.epochs
            else "best and last (no epoch checkpoints: **Epoch checkpoints** under Advanced)")
    return (f"Checkpoints: up to **{megabytes(plan.each * plan.files)}** on disk by its end, "
            f"{megabytes(plan.each)} each: {kept}.")


def sharing_note(runs: list) -> str | None:
    """'2 runs are training (10 more queued); runs share the machine.' Queued runs counted as
    training read "12 runs are already training" beside the sidebar's 2 running (QA round 18)."""
    training = sum(1 for r in runs if r.state == "running")
    queued = sum(1 for r in runs if r.state == "queued")
    if not training and not queued:
        return None
    if not training:
        return f"{queued:,} run{'s are' if queued > 1 else ' is'} queued to train; runs share the machine."
    said = f"{training:,} run{'s are' if training > 1 else ' is'} already training"
    return said + (f" ({queued:,} more queued)" if queued else "") + "; runs share the machine."


def device_here(name: str) -> str:
    """What `device` resolves to on this machine ("cpu", "cuda"), as a run's status records it."""
    try:
        return resolve_device(name).type
    except ConfigError:  # cuda asked for without one: the problems box says so
        return name


class Count(NamedTuple):
    cfg: Config      # as counted: untied where these sizes cannot be tied
    counts: dict     # lmcore.params.formula_counts
    vocab: int
    note: str        # BOUND_NOTE where V is only an upper bound
    untied: bool     # counted untied because a tied model of these sizes cannot be built


def counted(cfg: Config | None) -> Count | str:
    """The parameters of `cfg` by formula, or why they cannot be counted. A tied model of sizes that
    cannot be tied is counted untied, as "Untie the weights" would build it."""
    try:
        vocab, note = vocabulary(cfg) if cfg else (None, "")
    except ConfigError:  # a value past its rule (synthetic_vocab under 116, QA round 18): the problems box says it
        return "Fix the problems above to count the parameters."
    if vocab is None:
        return "Choose a corpus to count the parameters (the vocabulary size comes from it)."
    untied = cannot_tie(cfg)
    if untied:
        cfg = cfg.replace(tie_weights=False)
    try:
        return Count(cfg, formula_counts(cfg, vocab), vocab, note, untied)
    except ConfigError:  # sizes beyond their limits: the problems box names them
        return "Bring the layers and sizes within their limits to count the parameters."


def total_text(count: Count) -> str:
    # An upper bound says so on the number itself: in the caption alone it read as the count.
    return f"{'≤ ' if count.note == BOUND_NOTE else ''}{count.counts['total']:,}"


def cost_line(count: Count | str) -> None:
    """The total under the size controls, for a phone: there the Parameters box stacks two screens below
    them, and a size's cost took scrolling there and back (QA round 15)."""
    if isinstance(count, str):
        st.caption(count)
        return
    untied = " (untied: these sizes cannot be tied)" if count.untied else ""
    st.caption(f"**{total_text(count)}** parameters{untied}; each part under **Parameters**, below.")


def parameter_box(count: Count | str) -> None:
    st.markdown("##### Parameters")
    if isinstance(count, str):
        st.info(count)
        return
    cfg, counts, vocab, note, untied = count
    st.metric("Total, untied" if untied else "Total", total_text(count),
              help=f"{ui.fmt_count(counts['total'])}; vocabulary V = {vocab:,}{note}",
              border=True)
    table = parameter_table(cfg, counts)
    # The table's colour marks name the bar's parts: a legend under a bar this narrow scrolled.
    bar = ui.parameter_bar(table).update_layout(showlegend=False, height=50)
    plots.show(bar, "train.params_bar")
    if untied:
        st.caption("Counted **untied**: tying needs embed size = hidden size, so a tied model of these sizes "
                   "cannot be built.")
    st.markdown(parts_table(table), unsafe_allow_html=True)
    st.caption(f"V = vocabulary ({vocab:,}{note}), E = embedding size, H = hidden size, I = the layer's input "
               f"size; an LSTM layer has 4 gates with 2 biases each. {tying_text(cfg, counts)}")


# Each part's formula in symbols, as the caption under the table defines them.
SYMBOLS = {"Embedding": "V×E", "LSTM": "4·H·(I+H) + 8·H", "Decoder weight": "H×V", "Decoder bias": "V"}


def parts_table(table) -> str:
    """lmcore.params.parameter_table as two columns, the formula under the part's name: beside the
    controls of a 1024 px page a third column cut the LSTM formula off."""
    lines = ["| Part and formula | Count |", "| :-- | --: |"]
    for i, row in enumerate(table.itertuples()):
        symbols = SYMBOLS["LSTM" if row.part.startswith("LSTM") else row.part]
        formula = row.formula if row.formula == "tied" else f"{symbols} = {row.formula}"
        # The part's colour on ui.parameter_bar, which leaves out a part with no parameters.
        mark = (f"<span class='legend-swatch' style='color:{ui.PALETTE[i % len(ui.PALETTE)]}'>■</span> "
                if row.parameters else "")  # legend-swatch: kept on a high-contrast screen (ui/app.css)
        lines.append(f"| {mark}{row.part}<br><small>{formula}</small> | {row.parameters:,} |")
    return "\n".join(lines)


def share_box(values: dict) -> None:
    params = link_params(values)
    with st.expander("Share this config", icon="🔗"):
        base = re.sub(r"/train$", "", (st.context.url or "").rstrip("/"))  # the app's root, whatever the page
        st.code(f"{base}/train" + (f"?{urlencode(params)}" if params else ""), language=None, wrap_lines=True)
        st.caption("Opening the link fills these controls: the preset plus the keys that differ from it. "
                   "The address bar always holds it too. The same run from a terminal:")
        sets = " ".join(f"--set {shlex.quote(f'{k}={v}')}" for k, v in params.items() if k != "preset")
        preset = f" --preset {params['preset']}" if "preset" in params else ""
        st.code(f"python -m lmcore train{preset} {sets}".strip(), language="bash", wrap_lines=True)
