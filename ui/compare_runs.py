"""The Compare page's Runs view: every run in a filterable table, and the runs ticked in it side
by side (curves, final scores, the config keys that differ), with delete. Also the keys and the
table the Ablation grids view (compare_grids.py) shares.
"""

from __future__ import annotations

import functools
import html
import math
import re
import zlib

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import ui
from explorer import compare, epochs, metrics
from explorer.compare_links import CHART_DEFAULTS, MAX_SMOOTHING, X_AXES
from explorer.perplexity import find_clip
from explorer.textview import md_escape
from lmcore import checkpoints, runs
from lmcore.disk import free_epoch_checkpoints, megabytes, usage
from lmcore.summaries import RunSummary, runs_stamp
from ui import access, plots
from ui.fork import fork_selected, inherited_best, scores_note, started_from
from ui.grid_charts import axis_top

TAB = "compare.tab"
SELECTED = "compare.selected"            # run ids shown side by side (the source of truth)
GRID_CHOSEN = "compare.grid.chosen"      # the grid whose results the Ablation grids view shows
TABLE = "compare.table"                  # the runs table's widget key now (table_key), which holds its row positions
SHOWN = "compare.shown"                  # run ids in table order at the last render
SHOWN_DIGEST = "compare.shown_digest"    # a checksum of the table's contents at the last render
FILTER_STATES = "compare.filter.states"
FILTER_PRESETS = "compare.filter.presets"
FILTER_DATASETS = "compare.filter.datasets"
FILTER_PLACEMENTS = "compare.filter.placements"
FILTER_TEXT = "compare.filter.text"
X_AXIS = "compare.x_axis"
LOG_Y = "compare.log_y"
BARS_LOG_Y = "compare.bars.log_y"        # the score bars' own log scale, beside them
SMOOTHING = "compare.smoothing"
CONFIRM_DELETE = "compare.confirm_delete"  # ids awaiting "yes, delete"
FLASH = "compare.flash"                  # (kind, message) shown once after a rerun

RUNS_VIEW, GRID_VIEW = "Runs", "Ablation grids"
# The chart settings a link carries (ui/compare_url.py): query key -> session key.
CHART_SETTINGS = {"x": X_AXIS, "log": LOG_Y, "smooth": SMOOTHING, "barlog": BARS_LOG_Y}
# The filters a link carries (explorer.compare_links.FILTER_KEYS): query key -> session key.
FILTERS = {"state": FILTER_STATES, "preset": FILTER_PRESETS, "dataset": FILTER_DATASETS,
           "placement": FILTER_PLACEMENTS, "contains": FILTER_TEXT}


def init_state() -> None:
    ui.init_state({TAB: RUNS_VIEW, SELECTED: [], SHOWN: [], CONFIRM_DELETE: [], FILTER_STATES: [],
                   FILTER_PRESETS: [], FILTER_DATASETS: [], FILTER_PLACEMENTS: [], FILTER_TEXT: "",
                   **{CHART_SETTINGS[key]: value for key, value in CHART_DEFAULTS.items()}})


# ---------------------------------------------------------------- selecting runs


def rerun_on_change(stamp: tuple) -> None:
    """With no run training, the page's only timer: a stat of each run's files (summaries.runs_stamp,
    `stamp` the page's at its last full run), and a full rerun when a run was made, deleted, started
    or changed since. Redrawing the table and the selected runs' curves every 10 s instead sent them
    again though nothing had changed, and took 0.4 s of the server's CPU with 200 runs on disk
    (scripts/bench_compare.py)."""
    if runs_stamp(ui.runs_root()) != stamp:
        st.rerun()


def table_key(ids: list[str]) -> str:
    """The runs table's widget key, one per list of rows shown: the grid's selection is row positions.
    With runs training, a tick's positions could reach the page after the name filter had changed
    the rows, and the selection moved to the runs now at those places, Delete's too (QA round 14). A
    new list of rows is a new widget, and the old one's late positions are dropped with it."""
    return f"{TABLE}.{zlib.crc32(','.join(ids).encode()):08x}"


def on_table_select(key: str) -> None:
    """Table rows -> run ids; selected runs the filters hide stay selected."""
    shown = st.session_state[SHOWN]
    rows = st.session_state[key]["selection"]["rows"]
    picked = [shown[i] for i in rows if i < len(shown)]
    kept = [r for r in st.session_state[SELECTED] if r not in shown or r in picked]
    st.session_state[SELECTED] = kept + [r for r in picked if r not in kept]


def sync_table_selection(ids: list[str], contents: str) -> None:
    """Make the table show SELECTED, whatever rows moved since the last render. Sent when the server's
    copy differs and whenever the table's `contents` changed: at 800 px, with runs training, the
    browser's table once showed no tick beside '2 selected' while the server's copy held both rows, so
    it was never sent again, and the next tick replaced the two runs on screen (QA round 12). Not on
    every draw: each send drops the grid's keyboard cursor, so after one Shift+Space tick a second row
    could not be ticked without a mouse (QA round 13)."""
    rows = sorted(ids.index(r) for r in st.session_state[SELECTED] if r in ids)
    key = st.session_state[TABLE] = table_key(ids)
    current = (st.session_state.get(key) or {}).get("selection", {}).get("rows")
    digest = zlib.crc32(contents.encode())
    if current is None or sorted(current) != rows or digest != st.session_state.get(SHOWN_DIGEST):
        st.session_state[key] = {"selection": {"rows": rows}}
    st.session_state[SHOWN] = ids
    st.session_state[SHOWN_DIGEST] = digest


# The grid's number columns refuse a whole number above 2**53 (every float that large is one): they
# would show a diverged run's 1e304 as an error. Such a value goes to the grid as GRID_HUGE, which
# sorts after every real score, and its cell reads the real value ('1.0e304', 'inf').
GRID_MAX = 2**53 - 1
GRID_HUGE = GRID_MAX - 1
# The grid sorts an empty cell as if it held 0, before every score ascending. A missing score goes
# to it as GRID_MAX instead, its cell reading '—': ascending (best first) it comes last, after a
# diverged run, as docs/bad-inputs.md says; descending it comes first (the grid only flips the order).
GRID_MISSING = GRID_MAX
# Columns shown as the page's one formatter writes them (ui.fmt_*) over numbers, so a header sorts by value.
TEXT_OVER_NUMBERS = {"params": ui.fmt_count, "training_seconds": ui.fmt_duration, "tokens_per_s": ui.fmt_whole,
                     "step": ui.fmt_whole, "total_steps": ui.fmt_whole, "max_steps": ui.fmt_whole,
                     "disk_bytes": lambda size: megabytes(size) if pd.notna(size) else "—"}


def display_table(frame: pd.DataFrame):
    """The table as shown: icons, percentages, and numbers as text over numbers (ppl_column), so a
    click on a header sorts by value: perplexities that read huge when they are huge ('1.0e304'),
    missing ones last; durations, parameter counts and speeds as every page writes them (ui.fmt_*)."""
    shown = frame.copy()
    shown["state"] = [f"{ui.STATE_ICONS.get(s, '')} {s}" for s in shown["state"]]
    shown["label"] = [compare.table_label(label) for label in shown["label"]]
    shown["progress"] = shown["progress"] * 100
    perplexities = list(compare.PERPLEXITIES)
    shown[perplexities] = shown[perplexities].clip(upper=GRID_HUGE).fillna(GRID_MISSING)
    # A fixed uuid: a Styler's random one changes the element on every rerun, and the browser
    # then drops a row ticked while the previous tick's rerun was still running.
    styler = shown.style.format(ui.fmt_ppl, subset=perplexities).set_uuid("runs")
    for column, text in TEXT_OVER_NUMBERS.items():
        styler.format(text, subset=[column])
    for column in perplexities:  # the cells whose number stands in for another value
        for row in frame.index[(frame[column] > GRID_HUGE) | frame[column].isna()]:
            text = ui.fmt_ppl(frame.at[row, column])
            styler.format(lambda _, text=text: text, subset=pd.IndexSlice[[row], [column]])
    return styler


def ppl_column(label: str, help_text: str, width: int | None = None):
    """A perplexity column: a number column, so a click on its header sorts by value (a text column
    sorts '104.3' before '16.5'), with no format of its own, so the grid shows the styler's text
    (display_table) instead of its own digits."""
    return st.column_config.NumberColumn(label, help=help_text + "; sorted lowest first, a run without one comes last",
                                         width=width)


TABLE_COLUMNS = {
    # Pinned: it stays in view as the rest scrolls. 200 px, with short headers and the scores first,
    # leaves a 1024 px window with the sidebar open (a 564 px table) the scores, parameters and training
    # time in view; at 270 px only best and final validation were (QA round 10). Streamlit unpins
    # columns wider together than 60% of the table: at 220 px a 390 px phone's table scrolled the names
    # away (QA round 15); 200 stays pinned from a ~366 px screen up. It holds 'variational-medium ·
    # reference'; a longer label is cut in its middle (compare.table_label), so its end, which tells a
    # grid's runs and namesakes apart, shows. It reads whole under Selected runs once ticked.
    "label": st.column_config.TextColumn("run", width=200, pinned=True),
    "state": st.column_config.TextColumn("state"),
    "progress": st.column_config.ProgressColumn("progress", format="%.0f%%", min_value=0, max_value=100,
                                                 width="small"),
    "step": st.column_config.NumberColumn("step"),  # no formats: display_table's text, with separators
    "total_steps": st.column_config.NumberColumn("planned steps",
                                                 help="epochs × batches, or max_steps when that is smaller"),
    "max_steps": st.column_config.NumberColumn("max steps", help="the config's cap on steps, if any"),
    "hidden_size": st.column_config.NumberColumn("hidden"),
    "dropout": st.column_config.NumberColumn("dropout", format="%g"),  # the styler would print 0.500000
    "dropout_placement": st.column_config.TextColumn("placement"),
    "dropout_recurrent": st.column_config.NumberColumn("recurrent", format="%g",
                                                       help="dropout_recurrent: empty when it is the dropout"),
    "seed": st.column_config.NumberColumn("seed", format="%d"),
    "tie_weights": st.column_config.CheckboxColumn("tied"),
    "lr": st.column_config.NumberColumn("lr", format="%g"),
    "best_val_ppl": ppl_column("best val", "best validation perplexity: the lowest", width=64),
    "final_val_ppl": ppl_column("final val", "final validation perplexity: the last", width=66),
    "best_epoch": st.column_config.NumberColumn("best epoch", format="%d", help="the epoch of the best validation"),
    "test_ppl": ppl_column("test", "test perplexity of the best checkpoint", width=56),
    "params": st.column_config.NumberColumn("params", help="parameters", width=62),  # display_table's text
    "training_seconds": st.column_config.NumberColumn("time", help="training time: time spent training, across "
                                                      "resumes, stopped spells left out", width=56),
    "tokens_per_s": st.column_config.NumberColumn("tokens/s", help=ui.SPEED_HELP),
    "device": st.column_config.TextColumn("device", help="where it trained: a GPU's speed and time are not a "
                                          "CPU's (a reference run's conditions are in the CSV)"),
    "disk_bytes": st.column_config.NumberColumn("on disk", help="what the run folder takes on disk, checkpoints "
                                                "included; select runs to free their epoch checkpoints"),
    "started_at": st.column_config.DatetimeColumn("started", format="YYYY-MM-DD HH:mm"),
    "group": st.column_config.TextColumn("grid"),
    "note": st.column_config.TextColumn("note", width="large"),
    "id": st.column_config.TextColumn("id"),
}
# By importance: a run's scores, size and training time first, in view at 1024 px; then its state
# and progress, then its config and bookkeeping.
RUN_COLUMNS = ["label", "best_val_ppl", "final_val_ppl", "test_ppl", "params", "training_seconds", "state",
               "best_epoch", "progress", "step", "total_steps", *compare.TABLE_KEYS, "tokens_per_s", "device",
               "disk_bytes", "started_at",
               "group", "note", "id"]


def filters(frame: pd.DataFrame) -> None:
    # Two rows: five boxes in one left a 1024 px page an empty pill for each value chosen, so a
    # shared link's filters could not be read (QA round 8). The chosen values wrap onto more lines
    # (wrap=True): in a column they stayed on one scrolling line, so a second preset was hidden even
    # at 1400 px and a third of a 1024 px page cut 'zaremba-medium' to 'zaremba…' (QA round 9); the
    # presets and datasets, the longest values, get half a row each.
    # On a phone Streamlit stacks columns one under another, and the five filled the first screen: two to a
    # row there (ui/app.css, for this container's class).
    with st.container(key="compare.filters"):
        columns = [*st.columns(2), *st.columns(3)]
    for column, key, label, field in ((columns[0], FILTER_PRESETS, "Preset", "preset"),
                                      (columns[1], FILTER_DATASETS, "Dataset", "dataset"),
                                      (columns[2], FILTER_STATES, "State", "state"),
                                      (columns[3], FILTER_PLACEMENTS, "Dropout placement", "dropout_placement")):
        choices = sorted(set(compare.options(frame, field)) | set(st.session_state[key]), key=str)
        column.multiselect(label, choices, key=key, placeholder="all", persist_state="session", wrap=True)
    columns[4].text_input("Name contains", key=FILTER_TEXT, placeholder="name, id or grid",
                          persist_state="session")


def runs_view(summaries: list[RunSummary]) -> None:
    table = with_fork_notes(compare.runs_table(summaries), summaries)
    view = compare.filter_table(table, st.session_state[FILTER_STATES], st.session_state[FILTER_PRESETS],
                                st.session_state[FILTER_DATASETS], st.session_state[FILTER_PLACEMENTS],
                                st.session_state[FILTER_TEXT]).reset_index(drop=True)
    known = set(table["id"])
    st.session_state[SELECTED] = [r for r in st.session_state[SELECTED] if r in known]
    selected = st.session_state[SELECTED]
    hidden = len([r for r in selected if r not in set(view["id"])])
    # The reference runs counted apart, as the sidebar counts them: "304 runs" there, "307" here (QA round 16).
    references = sum(s.is_reference for s in summaries)
    st.caption(f"**{len(table)}** runs" + (f" ({references} reference)" if references else "")
               + f" · **{len(view)}** shown · **{len(selected)}** selected"
               + (f" ({hidden} hidden by the filters)" if hidden else "")
               + " · tick rows to compare them, or the header's box for every run shown (keyboard: Shift+Space "
               "on a row); click or tap a header to sort")
    csv = compare.table_csv(view)
    sync_table_selection(list(view["id"]), csv)
    key = st.session_state[TABLE]
    st.dataframe(display_table(view), key=key, on_select=functools.partial(on_table_select, key),
                 selection_mode="multi-row", hide_index=True, placeholder="—", column_config=TABLE_COLUMNS,
                 height=38 + 35 * min(max(len(view), 1), 15), column_order=RUN_COLUMNS)
    csv_label = "CSV of this run" if len(view) == 1 else f"CSV of these {len(view)} runs"
    st.download_button(csv_label, csv,
                       file_name="runs.csv", mime="text/csv", icon=":material/download:", on_click="ignore",
                       disabled=view.empty, help="the table as shown by the filters, with unrounded numbers"
                       if len(view) else "no run matches the filters")
    by_id = {s.id: s for s in summaries}
    chosen = [by_id[r] for r in selected]
    if not chosen:
        st.info("Tick runs in the table to overlay their curves, see how their configs differ, "
                "and compare their scores.", icon=":material/touch_app:")
        return
    label_of = dict(zip(table["id"], table["label"]))  # the table's labels: the same run reads the same everywhere
    selection_panel(chosen, [label_of[s.id] for s in chosen])


# Train's words for a fork made before forks kept their own best (ui.fork.scores_note), short for a cell.
INHERITED_NOTE = ("its best and test are its starting weights' (forked before forks counted only their own "
                  "training)")


def with_fork_notes(table: pd.DataFrame, summaries: list[RunSummary]) -> pd.DataFrame:
    """The table (one row per summary, in order) with INHERITED_NOTE in the note of each older fork
    whose best is still where it started (ui.fork.inherited_best): its scores are its parent's."""
    for row, summary in zip(table.index, summaries):
        if inherited_best(summary, started_from(summary)):
            note = table.at[row, "note"]
            table.at[row, "note"] = f"{note}; {INHERITED_NOTE}" if isinstance(note, str) and note else INHERITED_NOTE
    return table


# ---------------------------------------------------------------- selected runs side by side


LISTED_RUNS = 8  # selected runs listed in full above the chart; the rest in an expander


def selection_panel(chosen: list[RunSummary], labels: list[str]) -> None:
    # By id, not by place in the selection: a run has the colour Start and Train give it.
    styles = ui.run_styles([s.id for s in chosen])
    st.subheader("Selected runs")
    lines = [f"{ui.run_mark(style)} {number} " + run_line(summary, label)
             for number, summary, label, style in zip(short_labels(chosen), chosen, labels, styles)]
    for line in lines[:LISTED_RUNS]:
        st.markdown(line, unsafe_allow_html=True)
    if len(lines) > LISTED_RUNS:  # forty runs' lines pushed the chart five screens down (QA round 16)
        with st.expander(f"{len(lines) - LISTED_RUNS} more selected runs (#{LISTED_RUNS + 1} to #{len(lines)})"):
            for line in lines[LISTED_RUNS:]:
                st.markdown(line, unsafe_allow_html=True)
    actions(chosen, labels)
    note = compare.comparability_note([s.config for s in chosen], [compare.vocabulary(s) for s in chosen])
    if note:
        st.warning(md_escape(note), icon=":material/compare_arrows:")
    curves(chosen, labels, styles)
    final_scores(chosen, labels, styles)
    # The page's full width, below the bars: beside them, half of a 1024 px page cut 2 runs' values
    # ('0.!', 've', a fork's parent id '20…').
    config_diff(chosen, labels)


def run_line(summary: RunSummary, label: str) -> str:
    """'**tiny** — ✅ finished · best val **88.2** (epoch 3) · final val **90.1** · test **97.9** ·
    1.55M parameters · trained 0:10 · 28,731 tokens/s', and for a fork where it started, in Train's
    words (ui.fork.scores_note). The name and the problem are the user's or a file's text: escaped,
    they read as typed, never as markup (this line allows HTML, for its coloured dot)."""
    parts = [f"**{md_escape(label)}** — {ui.STATE_ICONS.get(summary.state, '')} {summary.state_text}",
             f"best val **{ui.fmt_ppl(summary.best_val)}**{ui.best_epoch_suffix(summary)}",
             f"final val **{ui.fmt_ppl(summary.final_val)}**", f"test **{ui.fmt_ppl(summary.test)}**"]
    if start := scores_note(summary):  # a fork: where it started, and whether its scores are that start's
        parts.append(start.removeprefix("; "))  # numbers and set words only: nothing to escape
    if summary.params:
        parts.append(f"{ui.fmt_count(summary.params)} parameters")
    if summary.training_seconds is not None:
        parts.append(f"trained {ui.fmt_duration(summary.training_seconds)}{ui.inherited_time(summary)}"
                     f"{ui.redone_time(summary)}")
    if summary.tokens_per_s is not None:  # the figure Train, the table and the CLI show
        median = f" ({ui.MEDIAN_SPEED})" if summary.speed_basis == "median" else ""
        parts.append(f"{ui.fmt_whole(summary.tokens_per_s)} tokens/s{median}")
    if where := device_text(summary):
        parts[-1] += f" {where}"
    if summary.problem:
        parts.append(f"*{md_escape(summary.problem)}*")
    return " · ".join(parts)


def device_text(summary: RunSummary) -> str:
    """'on cpu (2 threads)', or for a reference run 'on one NVIDIA H200 (CUDA graphs, alone on the GPU)': a
    GPU run's time and speed beside a CPU run's, or beside a GPU run measured otherwise, say nothing
    without it (QA round 11; Start says the same of the reference runs). A CPU run's thread count is
    there because another count rounds differently: two runs of one seed that differ say why."""
    if not summary.device:
        return ""
    if not summary.is_reference:
        return f"on {md_escape(summary.device_label)}"
    conditions = summary.reference.get("conditions")
    return f"on one {md_escape(summary.device)}" + (f" ({md_escape(conditions)})" if conditions else "")


def clear_selection() -> None:
    st.session_state[SELECTED] = []
    st.session_state[CONFIRM_DELETE] = []


ACTIVE_HELP = "a queued or running run cannot be deleted: stop it on the Train page first"


def kept_reason(summary: RunSummary) -> str | None:
    """Why Delete leaves this run alone ('running', 'a reference run'), or None if it may go."""
    if summary.is_reference:
        return "a reference run"  # shipped with the project, read-only
    return summary.state if summary.is_active else None  # its trainer still writes the folder


def actions(chosen: list[RunSummary], labels: list[str]) -> None:
    row = st.container(horizontal=True)
    row.button("Clear selection", icon=":material/close:", on_click=clear_selection)
    deletable = [s for s in chosen if kept_reason(s) is None]
    why_not = " ".join(dict.fromkeys(ui.READ_ONLY_HELP if s.is_reference else ACTIVE_HELP for s in chosen))
    # Nothing deletable: no "Delete 0 runs…", and the reason beside the button, not only in its hover.
    label = f"Delete {len(deletable)} run{'s' if len(deletable) != 1 else ''}…" if deletable else "Delete…"
    if row.button(label, icon=":material/delete:", disabled=not deletable or not access.may_change(),
                  help=access.help_or_refusal("asks before deleting" if deletable else why_not)):
        st.session_state[CONFIRM_DELETE] = [s.id for s in deletable]
    free_button(chosen, row)
    if not deletable:
        row.caption("Nothing selected can be deleted: " + "; ".join(dict.fromkeys(
            "a reference run is read-only" if s.is_reference else "stop a running run on Train first"
            for s in chosen)) + ".")
    # Asked again at every rerun: a run that started since the click is kept, and said to be.
    doomed = [(s, label) for s, label in zip(chosen, labels)
              if kept_reason(s) is None and s.id in st.session_state[CONFIRM_DELETE]]
    if doomed:
        kept = [(label, kept_reason(s)) for s, label in zip(chosen, labels) if kept_reason(s)]
        confirm_delete([s for s, _ in doomed], [label for _, label in doomed], kept)
    fork_selected(chosen)


def free_button(chosen: list[RunSummary], row) -> None:
    """'Free 112 MB': delete the selected runs' epoch checkpoints (lmcore.disk), keeping best.pt and
    last.pt, so each run still resumes, samples and forks from best or last. A `tiny` run keeps 150 MB
    of them and a classroom's runs filled a small disk (QA round 17). Shown where there is some to give
    back; the runs stay, so it asks nothing, and says after what it did."""
    spare = [(s, usage(s.path)) for s in chosen if kept_reason(s) is None and s.path is not None]
    spare = [(s, found) for s, found in spare if found.spare]
    if not spare:
        return
    files, total = sum(found.epochs for _, found in spare), sum(found.spare for _, found in spare)
    shared = sum(found.shared for _, found in spare)
    several = len(spare) != 1
    # The button's size is what the other files hold: say so where some are also best.pt or last.pt, as Watch does.
    own = files - shared
    also = (f" ({shared} of them {'is' if shared == 1 else 'are'} also best.pt or last.pt, so the other {own} "
            f"give{'s' if own == 1 else ''} back the {megabytes(total)})") if shared else ""
    what = (f"deletes the {files} epoch checkpoint{'s' if files != 1 else ''} (epoch-N.pt) of {len(spare)} "
            f"selected run{'s' if several else ''}{also}: best.pt and last.pt stay, so "
            f"{'they still resume, sample and fork' if several else 'it still resumes, samples and forks'} from best "
            "or last; only a fork from an epoch goes")
    if row.button(f"Free {megabytes(total)}", icon=":material/cleaning_services:", disabled=not access.may_change(),
                  help=access.help_or_refusal(what)) and access.may_change():
        freed, refused = 0, []
        for summary, _ in spare:
            try:
                freed += free_epoch_checkpoints(summary.path).spare
            except (runs.RunError, OSError) as error:
                refused.append(md_escape(str(error)))
        said = f"Freed {megabytes(freed)}: the epoch checkpoints of {len(spare) - len(refused)} run" + \
            ("s" if len(spare) - len(refused) != 1 else "") + "; best.pt and last.pt kept."
        st.session_state[FLASH] = ("warning", said + " Not freed: " + "; ".join(refused)) if refused \
            else ("success", said)
        st.rerun()


def cancel_delete() -> None:
    st.session_state[CONFIRM_DELETE] = []


# The runs a delete question names; past these, it counts the rest.
NAMED_DOOMED = 4


def delete_question(doomed: list[str], kept: list[tuple[str, str]]) -> str:
    """'Delete 1 run folder from disk (**a**), with its checkpoints? This cannot be undone. **b**
    (running) is kept.' `doomed`: the labels of the runs it deletes (it named only those it kept,
    QA round 11); `kept`: (label, why) of the selected runs Delete leaves alone."""
    count, one = len(doomed), len(doomed) == 1
    names = ", ".join(f"**{md_escape(label)}**" for label in doomed[:NAMED_DOOMED])
    if count > NAMED_DOOMED:
        names += f" and {count - NAMED_DOOMED} more"
    text = (f"Delete {count} run folder{'' if one else 's'} from disk ({names}), with {'its' if one else 'their'} "
            "checkpoints? This cannot be undone.")
    if kept:
        text += " " + ", ".join(f"**{md_escape(label)}** ({why})" for label, why in kept) \
            + (" is" if len(kept) == 1 else " are") + " kept."
    return text


def confirm_delete(doomed: list[RunSummary], doomed_labels: list[str], kept: list[tuple[str, str]]) -> None:
    with st.container(border=True):
        st.warning(delete_question(doomed_labels, kept), icon=":material/warning:")
        row = st.container(horizontal=True)
        if row.button("Yes, delete", type="primary", disabled=not access.may_change(), help=access.refusal()) \
                and access.may_change():
            refused = []
            for summary in doomed:
                folder = summary.path  # from the listing: odd folder names work too
                try:
                    runs.delete_run(folder)
                    st.session_state.get(ui.UI_METRICS, {}).pop(str(folder), None)
                except (runs.RunError, OSError) as error:
                    refused.append(md_escape(str(error)))  # a folder's name, made by hand maybe
            deleted = len(doomed) - len(refused)
            st.session_state[SELECTED] = [r for r in st.session_state[SELECTED]
                                          if (ui.runs_root() / r).is_dir() or ui.run_folder(r)]  # a reference too
            st.session_state[CONFIRM_DELETE] = []
            st.session_state[FLASH] = ("warning", f"Deleted {deleted}; not deleted: " + "; ".join(refused)) \
                if refused else ("success", f"Deleted {deleted} run{'s' if deleted != 1 else ''}.")
            st.rerun()
        row.button("Cancel", on_click=cancel_delete)


def curves(chosen: list[RunSummary], labels: list[str], styles: list[ui.RunStyle]) -> None:
    # Each control at its own width, wrapping where they do not fit: in fixed columns the log-scale
    # toggle covered the x axis's third option on a 1024 px page.
    # Each also gets its value as its default: a widget the browser mounts afresh starts from its default,
    # which the next timed rerun sends back as a change (QA round 22: Watch's chart went linear and raw).
    state = st.session_state
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.segmented_control("x axis", list(X_AXES), default=state[X_AXIS], key=X_AXIS, required=True,
                             persist_state="session")
        st.toggle("log scale", value=state[LOG_Y], key=LOG_Y, persist_state="session")
        st.slider("smoothing (training curve)", 0.0, MAX_SMOOTHING, value=state[SMOOTHING], step=0.01,
                  key=SMOOTHING, persist_state="session", width=220)
    x, log_y, smoothing = state[X_AXIS], state[LOG_Y], state[SMOOTHING]
    lines, versions = [], []
    late = []   # runs whose log lost its start (metrics.log_starts_at)
    for summary, label, style in zip(chosen, labels, styles):
        reader = ui.metrics_reader(summary.path)
        frame = reader.refresh()
        if (first := metrics.log_starts_at(frame, summary.config)) is not None:
            late.append(f"**{md_escape(label)}** at step {first:,}")
        frame = metrics.with_fork_start(frame, summary)
        per_epoch = epochs.steps_per_epoch(summary, frame) if x == "epoch" else None
        if x == "epoch":
            frame = epochs.with_fractional_epochs(frame, per_epoch)
        lines.append(ui.run_curve(label, frame, style))
        versions.append((str(summary.path), reader.version, per_epoch, label, style))
    floors = compare.floors(chosen, labels)
    # Everything the chart is drawn from: while a run trains its version grows, so only then is it redrawn.
    key = (tuple(versions), x, log_y, smoothing, tuple((f, tuple(who)) for f, who in floors.items()),
           ui.ink(), ui.ink(1))
    figure, drawn = plots.kept("compare.curves", key,
                               lambda: curves_figure(lines, versions, floors, x, log_y, smoothing))
    plots.show(figure, "compare.curves", toolbar=True)
    if len(lines) > 1:
        st.caption(ui.RUN_LINES_NOTE)
    if note := floor_caption(floors, len(lines)):
        st.caption(note)
    if drawn:
        st.caption(drawn.note())
    if not any(len(line["frame"]) for line in lines):
        st.caption("No metrics yet: queued runs start writing them once they train.")
    if late:
        st.caption(f"The log of {', '.join(late)} starts there: the steps before are missing from its "
                   "metrics.jsonl (deleted or cut while it trained).")


def curves_figure(lines: list[dict], versions: list[tuple], floors: dict[float, list[str]], x: str, log_y: bool,
                  smoothing: float) -> tuple[go.Figure, object]:
    """(the curves' figure, the clip its caption names, or None): each run's lines from run_traces, the
    entropy floors, and the y axis fit to them all."""
    clip = ui.curve_clip(lines)
    traces = run_traces(lines, versions, smoothing, x)
    figure = ui.ppl_figure([{**line, "label": ui.plotly_text(line["label"])} for line in lines], log_y=log_y,
                           smoothing=smoothing, x=x, clip=clip, height=CURVES_HEIGHT, traces=traces)
    if floor_curves(figure, floors, lines, x) and len(lines) > 1:
        ui.legend_below(figure, CURVES_HEIGHT)  # again: the floors' entries are lines of the legend too
    ui.clip_axis(figure, clip, log_y, min(floors, default=None))  # the range again, down to the lowest floor
    if log_y:
        ui.log_ticks(figure, clipped=clip is not None)  # again: a floor below every curve widens the axis
    figure.update_layout(uirevision="compare.curves", xaxis_title=X_AXES[x])  # keep zoom across refreshes
    return figure, clip and clip.beyond(axis_top(figure, log_y))


TRACES = "compare.traces"  # session state: a selected run's lines (ui.curve_traces) by what they were drawn from


def run_traces(lines: list[dict], versions: list[tuple], smoothing: float, x: str) -> list[list[go.Scatter]]:
    """Each run's lines, made again only for a run whose log grew since the last chart (or its label or
    colour changed, or it is drawn alone now): a training run beside finished ones costs its own lines."""
    before, several = st.session_state.get(TRACES, {}), len(lines) > 1
    now = {}
    for place, (line, version) in enumerate(zip(lines, versions)):
        key = (version, several, smoothing, x)
        now[key] = before[key] if key in before else ui.curve_traces(
            {**line, "label": ui.plotly_text(line["label"])}, place, several, smoothing, x)
    st.session_state[TRACES] = now  # the selected runs' only
    return list(now.values())


CURVES_HEIGHT = 420
FLOOR_DASH = dict(dash="dash", width=2)


def floor_name(floor: float, labels: list[str], runs_drawn: int) -> str:
    """A floor's legend entry: 'best possible (entropy floor) 56.6' when every run drawn trains on its
    corpus, else 'best possible for synthetic (entropy floor) 56.6': a floor is its corpus's, and
    PTB beside it has none (QA round 10: a PTB curve read as going 'below the best possible')."""
    whose = "" if len(labels) == runs_drawn else " for " + ", ".join(labels)
    return ui.plotly_text(f"best possible{whose} (entropy floor) {floor:.1f}")


def floor_curves(figure: go.Figure, floors: dict[float, list[str]], lines: list[dict], x: str) -> bool:
    """A dashed line at each entropy floor (compare.floors), only over its runs' own x range and in
    their colour (grey when several runs share it), named in the legend rather than on the chart,
    where a run's training band covered its label (QA round 10). True if any was drawn."""
    by_label = {line["label"]: line for line in lines}
    drawn = False
    for floor, labels in sorted(floors.items()):
        xs = [v for label in labels for v in by_label[label]["frame"].get(x, pd.Series(dtype=float)).dropna()]
        if not xs:
            continue  # no metrics yet: nothing for the floor to lie under
        colour = by_label[labels[0]]["color"] if len(labels) == 1 else ui.ink(1)
        figure.add_trace(go.Scatter(x=[min(xs), max(xs)], y=[floor, floor], mode="lines", hoverinfo="skip",
                                    line=dict(color=colour, **FLOOR_DASH),
                                    name=floor_name(floor, labels, len(lines))))
        drawn = True
    return drawn


def floor_caption(floors: dict[float, list[str]], runs_drawn: int) -> str | None:
    """'Dashed: the entropy floor of the generated corpus ... (**synthetic** 56.6) ...' when runs on
    other data are drawn beside, for whom no floor is known; None otherwise."""
    if not floors or sum(map(len, floors.values())) == runs_drawn:
        return None
    whose = "; ".join(", ".join(f"**{md_escape(label)}**" for label in labels) + f" {floor:.1f}"
                      for floor, labels in sorted(floors.items()))
    return (f"Dashed: the entropy floor of the generated corpus, the best perplexity any model can reach, on "
            f"average, on its data ({whose}; a finite split can land about 1% either side), drawn under its own "
            f"runs only: the other runs' data has no known floor.")


BAR_GAP = 0.2  # Plotly's default gap between groups of bars, set so floor_ticks can find each bar


def floor_ticks(figure: go.Figure, floors: dict[float, list[str]], labels: list[str]) -> None:
    """A dashed tick across each bar of a run on the generated corpus, at its entropy floor, and the
    floor named in the legend: a line across the whole chart, labelled on it, ran over the other runs'
    test bars (QA round 10) and read as a floor for runs on PTB. On the category axis bar k of n in
    group i spans i - w/2 + k·b to i - w/2 + (k+1)·b, w = 1 - BAR_GAP and b = w/n."""
    width = 1 - BAR_GAP
    bar = width / max(len(labels), 1)
    for floor, whose in sorted(floors.items()):
        for k in (labels.index(label) for label in whose):
            for i in range(len(SCORES)):
                left = i - width / 2 + k * bar
                figure.add_shape(type="line", x0=left, x1=left + bar, y0=floor, y1=floor, xref="x", yref="y",
                                 line=dict(color=ui.ink(), **FLOOR_DASH))
        # The legend entry: a line with no points, since a shape has none of its own here.
        figure.add_trace(go.Scatter(x=[None], y=[None], mode="lines", hoverinfo="skip",
                                    line=dict(color=ui.ink(), **FLOOR_DASH),
                                    name=floor_name(floor, whose, len(labels))))


SCORES = ("best validation", "final validation", "test")
# Up to this many runs each bar carries its value; past it Plotly shrank the labels to a few pixels
# and ran neighbours together ('132.3130.6'), so the values are on hover only, which a caption says.
LABELLED_RUNS = 4
BARS_HEIGHT = 340
LABEL_MIN_SIZE = 10  # a label that would have to shrink below this many pixels is left out (hover shows it)


def scores(summary: RunSummary) -> list:
    return [summary.best_val, summary.final_val, summary.test]


def has_score(summary: RunSummary) -> bool:
    return any(value is not None for value in scores(summary))


def no_score_reason(summary: RunSummary) -> str:
    """Why a run has no bar: 'failed before its first validation', 'no validation yet', ..."""
    if summary.is_active:
        return "no validation yet"
    return {"failed": "failed before its first validation", "stopped": "stopped before its first validation",
            "broken": "its folder is damaged"}.get(summary.state, "no validation")


def unscored_note(chosen: list[RunSummary], labels: list[str]) -> str | None:
    """'No bars for **diverged** (failed before its first validation).' for the runs left out of
    the bars, which would otherwise leave an unexplained gap and a legend entry with nothing."""
    missing = [f"**{md_escape(label)}** ({no_score_reason(s)})" for s, label in zip(chosen, labels)
               if not has_score(s)]
    return f"No bars for {', '.join(missing)}." if missing else None


def final_scores(chosen: list[RunSummary], labels: list[str], styles: list[ui.RunStyle]) -> None:
    if not any(has_score(s) for s in chosen):
        st.markdown("**Final perplexity**")
        st.caption("No scores yet: the first validation gives the first bar.")
        return
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown("**Final perplexity**", width="content")
        # As the curves have: one run that over-fits to 5,000 flattens bars of 80 to 135 on a linear axis.
        st.toggle("log scale", value=st.session_state[BARS_LOG_Y], key=BARS_LOG_Y, persist_state="session")
    scored = [i for i, s in enumerate(chosen) if has_score(s)]  # each run keeps its colour from the curves
    runs = [(chosen[i], labels[i], styles[i]) for i in scored]
    log_y = st.session_state[BARS_LOG_Y]
    # What the bars are drawn from: a training run's scores change at its validations only.
    key = (tuple((label, style, *scores(s), s.status.get("floor_ppl"), s.config.get("dataset"))
                 for s, label, style in runs), log_y, ui.ink())
    figure, clip = plots.kept("compare.bars", key, lambda: score_bars(*map(list, zip(*runs)), log_y))
    plots.show(figure, "compare.bars", toolbar=True)
    notes = [clip.note() if clip else None, unscored_note(chosen, labels),
             "Point at a bar for its value (too many bars to label each)." if len(scored) > LABELLED_RUNS else None]
    for note in filter(None, notes):
        st.caption(note)


def score_bars(chosen: list[RunSummary], labels: list[str], styles: list[ui.RunStyle], log_y: bool = False):
    """(figure, clip): grouped bars of each run's scores, on a log axis if `log_y`. A diverged run's
    bars stop just above the others' range, labelled with their real value (the caller captions
    the clip, which names only the runs whose bars are cut). Past LABELLED_RUNS runs the values
    are on hover only."""
    clip = find_clip({label: scores(s) for s, label in zip(chosen, labels)})
    top = clip.high * 1.2 if clip else None
    labelled = len(chosen) <= LABELLED_RUNS
    figure = go.Figure()
    for summary, label, style in zip(chosen, labels, styles):
        values = scores(summary)
        cut = [top is not None and v is not None and v > top for v in values]
        drawn = [top if over else v for v, over in zip(values, cut)]
        text = [ui.fmt_ppl(v) + (" ↑" if over else "") for v, over in zip(values, cut)] if labelled else None
        figure.add_trace(go.Bar(x=list(SCORES), y=drawn, name=ui.plotly_text(label), marker_color=style.colour,
                                marker_pattern=dict(shape=style.pattern, fillmode="overlay"),
                                text=text, textposition=["inside" if over else "outside" for over in cut],
                                cliponaxis=False,  # a label above the tallest bar stays whole
                                customdata=[ui.fmt_ppl(v) for v in values],
                                hovertemplate="%{x}: %{customdata}"))  # the trace name shows beside it
    floors = compare.floors(chosen, labels)
    floor_ticks(figure, floors, labels)
    figure.update_layout(barmode="group", bargap=BAR_GAP, height=BARS_HEIGHT, margin=dict(l=10, r=10, t=24, b=10),
                         yaxis_title="perplexity",
                         legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
                         uniformtext=dict(minsize=LABEL_MIN_SIZE, mode="hide"),
                         uirevision=f"compare.bars.{log_y}")  # a kept linear zoom would be nonsense on log
    if len(chosen) > 1:
        ui.legend_below(figure, BARS_HEIGHT, axis_room=36)  # as the curves': 8 names above squashed the bars
    if log_y:
        log_range(figure, list(floors))
        ui.log_ticks(figure)
    elif clip:
        figure.update_yaxes(range=[0, top * 1.1])
    return figure, clip and clip.beyond(top)  # a bar up to `top` is drawn whole


def log_range(figure: go.Figure, floors: list[float]) -> None:
    """From half the lowest bar or floor, so the lowest bar still shows (a log axis has no zero for
    bars to rise from; Plotly's own range starts at the lowest top), to a little above the highest."""
    tops = [v for trace in figure.data for v in trace.y if v is not None and 0 < v < math.inf] + floors
    if tops:
        low, high = math.log10(min(tops) / 2), math.log10(max(tops))
        figure.update_yaxes(range=[low, high + max(high - low, 0.5) * 0.1])


def config_diff(chosen: list[RunSummary], labels: list[str]) -> None:
    st.markdown("**Config differences**")
    edited_configs(chosen, labels)
    if len(chosen) < 2:
        st.caption("Select two or more runs to see which config keys differ.")
        return
    missing = compare.without_config(chosen, labels)
    if missing:
        names = ", ".join(f"**{md_escape(label)}**" for label in missing)
        st.caption(f"{names} left out: no readable config.json.")
    if len(chosen) - len(missing) < 2:
        st.caption("Fewer than two of the selected runs have a config to compare.")
        return
    numbers = short_labels(chosen)
    diff = compare.config_diff(chosen, numbers)
    if diff.empty:
        st.caption("The selected runs have the same config (apart from their names).")
        return
    st.markdown(diff_html(diff, dict(zip(numbers, labels))), unsafe_allow_html=True)
    st.caption(diff_caption(diff))


def edited_configs(chosen: list[RunSummary], labels: list[str]) -> None:
    """A run whose config.json was edited by hand since it trained (its checkpoint holds the config it
    trained with): two runs trained alike read 'dropout 0.5 | 0.3' for identical curves (QA round 17)."""
    edited = [f"- **{md_escape(label)}**: {md_escape(checkpoints.drift_text(drift))}"
              for summary, label in zip(chosen, labels)
              if not summary.is_reference and (drift := checkpoints.edited_config(summary.path))]
    if edited:   # one box, not one per run: forty runs selected are not forty warnings
        st.warning("config.json edited since the run trained, so the differences below show config.json, not "
                   "what it trained with:\n" + "\n".join(edited), icon=":material/edit_note:")


def diff_caption(diff: pd.DataFrame) -> str:
    """What the differences table leaves out and how to read it, with a word on its vocabulary row
    and its 'not used' cells where it has them."""
    count = len(diff)
    parts = [f"Only the {count} key{'s' if count != 1 else ''} whose values differ between the runs that use "
             f"{'them' if count != 1 else 'it'}; every other key is equal."]
    if compare.VOCABULARY in diff.index:
        parts.append(f"*{compare.VOCABULARY}*: the words each model predicts among, as the note above counts them.")
    if (diff == compare.NOT_USED).any().any():
        parts.append(f"*{compare.NOT_USED}*: the key does nothing on that run's data or device (point at it for why).")
    if (diff == compare.NOT_RECORDED).any().any():
        parts.append(f"*{compare.NOT_RECORDED}*: that run's config.json lacks the key, which is newer than the "
                     "code that trained it.")
    parts.append("Columns are the runs by number, as under Selected runs.")
    return " ".join(parts)


VOCABULARY_HELP = ("the words each model predicts among, as its params.json records them: the generated corpus "
                   "has synthetic_vocab words; PTB and a text file their most frequent words, up to vocab_size")
NOT_USED_HELP = ("that run's data or device leaves the key unread: the generated corpus has synthetic_vocab words "
                 "whatever vocab_size says, only it reads synthetic_tokens, synthetic_vocab and data_seed, only PTB "
                 "reads train_tokens, valid_tokens and test_tokens, and amp (bf16 autocast) acts on CUDA only")


# A value breaks at these first ('variational-|medium', 'dropout_|placement'), mid-word only if a part
# is still wider than its column.
BREAK_AFTER = re.compile(r"([-_./,=])")
RUN_COLUMN_EM = 6  # a run's column of the differences at its narrowest: 'variational-' or '0.142857' whole
DIFF_STYLE = ("width:100%;table-layout:fixed;border-collapse:collapse;font-size:0.8rem;line-height:1.3;"
              "overflow-wrap:anywhere")
NOT_USED_STYLE = ";color:rgba(128,128,128,0.9);font-style:italic"  # reads as no value, not as a difference
UNDER_STYLE = "font-weight:normal;font-size:0.7rem;color:rgba(128,128,128,0.95)"
CELL_STYLE = "padding:0.25rem 0.25rem;border:1px solid rgba(128,128,128,0.25);text-align:left;vertical-align:top"


def diff_cell(text: str, tag: str = "td", title: str | None = None, style: str = "", under: str | None = None) -> str:
    """One cell of diff_html: the text escaped (a name or an upload's name reads as typed, `$` and
    all), with a break opportunity after each BREAK_AFTER mark; `under`, a line in small grey type."""
    shown = wrappable(text) + (f"<br><span style='{UNDER_STYLE}'>{wrappable(under)}</span>" if under else "")
    tip = f' title="{as_html(title)}"' if title else ""
    return f"<{tag}{tip} style='{CELL_STYLE}{style}'>{shown}</{tag}>"


def wrappable(text: str) -> str:
    return BREAK_AFTER.sub(r"\1<wbr>", as_html(" ".join(str(text).split())))


def as_html(text: str) -> str:
    """Text escaped for HTML inside st.markdown, `$` included: it would open LaTeX."""
    return html.escape(text).replace("$", "&#36;")


def diff_html(diff: pd.DataFrame, names: dict[str, str]) -> str:
    """The config differences as one HTML table as wide as the page, whatever the number of runs:
    each run an equal column, a long value wrapped within its cell. A grid (st.dataframe) sized its
    columns to the longest value, and at 1024 px six runs' 'variational-medium' and upload names made
    it scroll sideways, hiding the last runs (QA round 8). `names`: column header -> the run's name,
    printed small under its number: a title shown on pointing never shows on a touch screen (QA round 15)."""
    head = diff_cell("key", "th", style=";width:7.5em") + "".join(
        diff_cell(number, "th", title=names.get(number), under=names.get(number)) for number in diff.columns)
    tips = {compare.VOCABULARY: VOCABULARY_HELP}
    rows = "".join("<tr>" + diff_cell(key, "th", title=tips.get(key), style=";font-weight:normal") + "".join(
        diff_cell(value, title=NOT_USED_HELP if value == compare.NOT_USED else None,
                  style=NOT_USED_STYLE if value == compare.NOT_USED else "")
        for value in diff.loc[key]) + "</tr>" for key in diff.index)
    # One line: a blank line would end Markdown's HTML block and show the rest as text.
    # Each run's column at least RUN_COLUMN_EM wide, the table scrolling sideways past that: forty runs
    # squeezed into the page broke every value letter by letter ("n/o/n/e", QA round 16).
    least = f"min-width:calc(7.5em + {len(diff.columns)} * {RUN_COLUMN_EM}em)"
    return (f"<div style='overflow-x:auto'><table style='{DIFF_STYLE};{least}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{rows}</tbody></table></div>")


def short_labels(chosen: list[RunSummary]) -> list[str]:
    """'#1', '#2', ...: the selected runs by their place in the list, for the config differences'
    columns, where 4 to 8 runs must fit side by side."""
    return [f"#{i}" for i in range(1, len(chosen) + 1)]
