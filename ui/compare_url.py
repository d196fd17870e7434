"""The Compare page's address bar: `?runs=a,b` holds the Runs view's selection, `?group=G` the
grid the Ablation grids view shows, so a teacher can send a link to either view.

A link is applied once per session (the value applied is remembered), so the user can change
the selection afterwards; every change is written back, and the URL names the open view only.
"""

from __future__ import annotations

import streamlit as st

from explorer.compare_links import ignored_note, runs_from_link, runs_value
from lmcore.summaries import RunSummary
from ui.compare_runs import GRID_CHOSEN, GRID_VIEW, RUNS_VIEW, SELECTED, TAB

LINK_RUNS = "compare.link.runs"     # the `runs` value last read from or written to the URL
LINK_GROUP = "compare.link.group"   # the same for `group`
LINK_NOTE = "compare.link.note"     # {"text", "view", "shown"}: what a link named that is not here


def apply_link(summaries: list[RunSummary]) -> None:
    """Preselect what a new link names and open its view; call before the tabs are drawn."""
    wanted = st.query_params.get("runs")
    if wanted is not None and wanted != st.session_state.get(LINK_RUNS):
        found, ignored = runs_from_link(wanted, {s.id for s in summaries})
        st.session_state[SELECTED] = found
        st.session_state[LINK_RUNS] = runs_value(found)
        st.session_state[TAB] = RUNS_VIEW
        _note(ignored_note(ignored), RUNS_VIEW, runs_value(found))
    group = st.query_params.get("group")
    if group is not None and group != st.session_state.get(LINK_GROUP):
        st.session_state[LINK_GROUP] = group
        st.session_state[TAB] = GRID_VIEW
        known = group in {s.config.get("group") for s in summaries}
        if known:
            st.session_state[GRID_CHOSEN] = group
        _note(None if known else ignored_note([group], what="grid"), GRID_VIEW, None)


def _note(text: str | None, view: str, shown: str | None) -> None:
    """Keep a link's note until the user changes what that view shows (`shown`: the selection
    the link led to; None until the view has drawn it)."""
    st.session_state[LINK_NOTE] = {"text": text, "view": view, "shown": shown} if text else None


def show_note() -> None:
    """The link's note, while the view still shows what the link led to."""
    note = st.session_state.get(LINK_NOTE)
    if note and note["view"] == RUNS_VIEW and note["shown"] != runs_value(st.session_state.get(SELECTED, [])):
        note = st.session_state[LINK_NOTE] = None
    if note and note["view"] == GRID_VIEW and note["shown"] not in (None, st.session_state.get(GRID_CHOSEN)):
        note = st.session_state[LINK_NOTE] = None
    if note:
        st.caption(note["text"])


def follow_runs(selected: list[str]) -> None:
    """Write the Runs view's selection into the URL (and drop a grid's `group`)."""
    value = runs_value(selected)
    st.session_state[LINK_RUNS] = value  # written here, so not applied again as a new link
    _set_query("runs", value)
    _set_query("group", "")


def follow_group(group: str | None) -> None:
    """Write the grid shown into the URL (and drop the Runs view's `runs`)."""
    st.session_state[LINK_GROUP] = group
    note = st.session_state.get(LINK_NOTE)
    if note and note["view"] == GRID_VIEW and note["shown"] is None:
        note["shown"] = group  # the grid shown instead of the missing one; choosing another ends the note
    _set_query("group", group or "")
    _set_query("runs", "")


def _set_query(key: str, value: str) -> None:
    """Change the address bar only when it differs: each write is a browser history entry."""
    if value and st.query_params.get(key) != value:
        st.query_params[key] = value
    elif not value and key in st.query_params:
        del st.query_params[key]
