"""The Compare page's address bar: `?runs=a,b` holds the Runs view's selection, with its chart
settings where they differ from the defaults (`&x=epoch&log=0&smooth=0.3&barlog=0`) and the table's
filters that are set (`&state=finished&preset=tiny&preset=book&contains=drop`), `?group=G` the grid
the Ablation grids view shows (`?view=grids` before there is one), so a teacher can send a link to
either view as they see it.

A link is applied once per session (the value applied is remembered), so the user can change
the selection and the settings afterwards; every change is written back, and the URL names the
open view only. An address without any of these keys keeps the session's view when the sidebar led
here, and means the Runs view at its defaults on Back or Forward (ui/history.py).
"""

from __future__ import annotations

import streamlit as st

import ui
from explorer import compare
from explorer.compare_links import (
    chart_from_link,
    chart_note,
    chart_query,
    filters_from_link,
    filters_note,
    filters_query,
    ignored_note,
    runs_from_link,
    runs_value,
    several_note,
)
from lmcore.config import PLACEMENTS
from lmcore.summaries import RunSummary, runs_named
from lmcore.text import shorten
from ui import address, history
from ui.compare_runs import CHART_SETTINGS, FILTERS, GRID_CHOSEN, GRID_VIEW, RUNS_VIEW, SELECTED, TAB

LINK_KEYS = ("runs", "group", "view", *CHART_SETTINGS, *FILTERS)

LINK_RUNS = "compare.link.runs"     # the `runs` value last read from or written to the URL
LINK_CHART = "compare.link.chart"   # the same for the chart settings' keys ({key: value})
LINK_FILTERS = "compare.link.filters"  # the same for the filters' keys ({key: [values]})
LINK_GROUP = "compare.link.group"   # the same for `group`
LINK_NOTE = "compare.link.note"     # {"text", "view", "shown"}: what a link named that is not here


def apply_link(summaries: list[RunSummary]) -> None:
    """Preselect what a new link names and open its view; call before the tabs are drawn."""
    query = _link()
    if history.lagging("compare", query):
        return
    wanted = query["runs"][-1] if "runs" in query else None
    chart = {key: query[key][-1] for key in CHART_SETTINGS if key in query}
    filters = {key: query[key] for key in FILTERS if key in query}
    notes = []
    if wanted is not None and wanted != st.session_state.get(LINK_RUNS):
        named = lambda given: [s.id for s in runs_named(given, summaries)]  # noqa: E731 (the CLI's reading)
        found, ignored, several = runs_from_link(wanted, {s.id for s in summaries}, named)
        st.session_state[SELECTED] = found
        st.session_state[LINK_RUNS] = runs_value(found)
        st.session_state[TAB] = RUNS_VIEW
        notes += [ignored_note(ignored), several_note(several, named)]
    # A link is the view as its sender saw it: a setting it leaves out was at its default.
    if (wanted is not None or chart) and chart != st.session_state.get(LINK_CHART):
        settings, ignored = chart_from_link(chart)
        for key, value in settings.items():
            st.session_state[CHART_SETTINGS[key]] = value
        st.session_state[LINK_CHART] = chart_query(settings)
        notes.append(chart_note(ignored))
    # The same for the filters; a link from before links held them sets none, as its sender saw.
    if (wanted is not None or chart or filters) and filters != st.session_state.get(LINK_FILTERS):
        values, ignored = filters_from_link(filters, filter_choices(summaries))
        for key, value in values.items():
            st.session_state[FILTERS[key]] = value
        st.session_state[LINK_FILTERS] = filters_query(values)
        notes.append(filters_note(ignored))
    if (view := (query.get("view") or [None])[-1]) not in (None, "grids"):   # gone once the page writes its address
        notes.append(f"The link's `view={shorten(view)}` is no view (`view=grids` opens the Ablation grids); "
                     "the Runs view opened.")
    if any(notes):
        _note(" ".join(filter(None, notes)), RUNS_VIEW, _runs_view_shown())
    group = query["group"][-1] if "group" in query else "" if query.get("view") == ["grids"] else None
    if group is not None and group != st.session_state.get(LINK_GROUP):
        st.session_state[LINK_GROUP] = group
        st.session_state[TAB] = GRID_VIEW
        if group:  # "": the grids view with no grid chosen
            known = group in {s.config.get("group") for s in summaries}
            if known:
                st.session_state[GRID_CHOSEN] = group
            _note(None if known else ignored_note([group], what="grid"), GRID_VIEW, None)


def link_query(run_ids: list[str], keep_selection: bool = False) -> dict[str, str]:
    """The query of a link inside the app that opens Compare on `run_ids` (after the runs already
    chosen there that still exist, with `keep_selection`). It carries the chart settings and the
    filters as the user left them: a link that leaves one out means its default, which would reset them."""
    chosen = [run_id for run_id in st.session_state.get(SELECTED, []) if keep_selection and ui.run_folder(run_id)]
    chosen += [run_id for run_id in run_ids if run_id not in chosen]
    return {"runs": runs_value(chosen), **_chart_in_session(), **_filters_in_session()}


def filter_choices(summaries: list[RunSummary]) -> dict[str, set]:
    """The values a link may set each choice filter to: those of the runs here, and every state
    and placement there is (a link may ask for the running runs while none runs)."""
    table = compare.runs_table(summaries)
    return {"state": set(ui.STATE_ICONS) | set(table["state"]), "preset": set(compare.options(table, "preset")),
            "dataset": set(compare.options(table, "dataset")),
            "placement": set(PLACEMENTS) | set(compare.options(table, "dropout_placement"))}


def _address() -> dict[str, list[str]]:
    """The address's keys that Compare reads and writes, each with its values."""
    return {key: st.query_params.get_all(key) for key in LINK_KEYS if key in st.query_params}


def _link() -> dict[str, list[str]]:
    """The link to apply: the address's keys; on Back or Forward onto an address without any, an empty
    `runs` for the Runs view at its defaults, or nothing for the sidebar's step (ui/history.py)."""
    query = _address()
    meaning = None if query else history.bare_address("compare", history.last_written("compare"))
    return query if meaning is None else meaning or {"runs": [""]}


def _filters_in_session() -> dict[str, list[str]]:
    """The filters' query keys as the Runs view has them now (empty ones left out)."""
    return filters_query({key: st.session_state.get(name) for key, name in FILTERS.items()})


def _chart_in_session() -> dict[str, str]:
    """The chart settings' query keys as the Runs view shows them now (defaults left out)."""
    return chart_query({key: st.session_state.get(name) for key, name in CHART_SETTINGS.items()
                        if name in st.session_state})


def _runs_view_shown() -> tuple[str, dict[str, str], dict[str, list[str]]]:
    return runs_value(st.session_state.get(SELECTED, [])), _chart_in_session(), _filters_in_session()


def _note(text: str | None, view: str, shown) -> None:
    """Keep a link's note until the user changes what that view shows (`shown`: the selection,
    chart settings and filters the link led to, or the grid; None until the view has drawn it)."""
    st.session_state[LINK_NOTE] = {"text": text, "view": view, "shown": shown} if text else None


def show_note() -> None:
    """The link's note, while the view still shows what the link led to."""
    note = st.session_state.get(LINK_NOTE)
    if note and note["view"] == RUNS_VIEW and note["shown"] != _runs_view_shown():
        note = st.session_state[LINK_NOTE] = None
    if note and note["view"] == GRID_VIEW and note["shown"] not in (None, st.session_state.get(GRID_CHOSEN)):
        note = st.session_state[LINK_NOTE] = None
    if note:
        st.caption(note["text"])


def follow_runs(selected: list[str]) -> None:
    """Write the Runs view's selection, chart settings and filters into the URL (and drop a grid's `group`)."""
    value, chart, filters = runs_value(selected), _chart_in_session(), _filters_in_session()
    st.session_state[LINK_RUNS] = value  # written here, so not applied again as a new link
    st.session_state[LINK_CHART] = chart
    st.session_state[LINK_FILTERS] = filters
    st.session_state[LINK_GROUP] = None  # gone from the address: Back onto a grid's applies it again
    _set_query({"runs": value, **{key: chart.get(key, "") for key in CHART_SETTINGS},
                **{key: filters.get(key, []) for key in FILTERS}, "group": "", "view": ""})


def follow_group(group: str | None) -> None:
    """Write the grid shown into the URL (and drop the Runs view's `runs`, chart settings and filters)."""
    st.session_state[LINK_GROUP] = group or ""
    for key in (LINK_RUNS, LINK_CHART, LINK_FILTERS):  # gone from the address: Back onto the Runs view applies them
        st.session_state[key] = None
    note = st.session_state.get(LINK_NOTE)
    if note and note["view"] == GRID_VIEW and note["shown"] is None:
        note["shown"] = group  # the grid shown instead of the missing one; choosing another ends the note
    _set_query({"group": group or "", "view": "" if group else "grids", "runs": "",
                **dict.fromkeys(CHART_SETTINGS, ""), **dict.fromkeys(FILTERS, "")})


def _set_query(values: dict[str, str | list[str]]) -> None:
    """Set these keys (an empty value removes its key; a list repeats it) in one write, and only
    when the address changes: each write is a browser history entry, so a settings change costs
    one, not one a key."""
    current = {key: st.query_params.get_all(key) for key in st.query_params}
    wanted = {key: value for key, value in current.items() if key not in values}
    wanted.update((key, [value] if isinstance(value, str) else list(value)) for key, value in values.items() if value)
    if (query := address.to_write("compare", current, wanted)) is not None:
        st.query_params.from_dict(query)
    history.wrote("compare", _address())
