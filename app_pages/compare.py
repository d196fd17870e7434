"""Compare: every run in one table, selected runs side by side, and ablation grids.

The table, the curves and the grid results live in one fragment that refreshes while runs
train; the controls that only change on a click (filters, the grid form) sit outside it.
The two views live in ui/compare_runs.py and ui/compare_grids.py; the address bar holds the
view (?runs=a,b with the chart settings that differ from their defaults and the filters set, or
?group=G; ui/compare_url.py) so it can be shared as a link.
"""

from __future__ import annotations

import streamlit as st

import ui
from explorer import compare
from lmcore.summaries import RunSummary, runs_stamp
from ui import address, compare_grids, compare_runs, compare_url, staleness
from ui.compare_runs import FLASH, GRID_CHOSEN, GRID_VIEW, RUNS_VIEW, SELECTED, TAB

ACTIVITY = "compare.activity"            # (id, state) of queued/running runs at the last full run
LISTED = "compare.listed"                # the full run's listing, for its fragment (popped there)
WATCH_SECONDS = 10                       # how often, with no run training, the runs folder is looked at

compare_runs.init_state()
compare_grids.init_state()


def flash() -> None:
    kind, message = st.session_state.pop(FLASH, (None, None))
    if kind:
        getattr(st, kind)(message)


def activity(summaries: list[RunSummary]) -> list[tuple[str, str]]:
    """(id, state) of the queued and running runs: when it changes, the whole page reruns."""
    return sorted((s.id, s.state) for s in summaries if s.is_active)


def live(view: str) -> None:
    """Everything that changes while runs train: one fragment, re-read every few seconds while
    runs train. In a full run it takes the page's own listing (LISTED), so a rerun lists once."""
    staleness.heartbeat(refresh)  # this fragment's run_every (a global of the page's run): the browser's banner
    summaries = st.session_state.pop(LISTED, None) or ui.all_runs()
    active = activity(summaries)
    if active != st.session_state.get(ACTIVITY, active):
        st.rerun()  # a run was queued, started or ended: the sidebar counts and the refresh rate change too
    if view == RUNS_VIEW:
        compare_runs.runs_view(summaries)
        compare_url.follow_runs(st.session_state[SELECTED])
    else:
        compare_grids.grid_results(summaries)
        compare_url.follow_group(st.session_state[GRID_CHOSEN])


def listing() -> tuple[tuple | None, list[RunSummary]]:
    """(the runs folder's stamp, every run): the stamp (summaries.runs_stamp) only where the page's
    watch needs it, with no run training, and taken before the listing, so a change in between costs
    one more rerun, never a miss. While runs train the live fragment reruns every 5 s anyway, and a
    stamp each full rerun cost a stat of every run's files (8.5 ms at 200 runs). The last full run
    tells which is likely; a run that ended since costs one more listing, after its stamp."""
    stamp = runs_stamp(ui.runs_root()) if not st.session_state.get(ACTIVITY) else None
    everything = ui.all_runs()
    if stamp is None and not activity(everything):
        stamp = runs_stamp(ui.runs_root())
        everything = ui.all_runs()
    return stamp, everything


st.title("Compare runs")
st.caption("Every run on disk, side by side: scores, curves and the config keys that differ. "
           "Queue ablation grids and read off what each toggle did to validation perplexity.")
address.show()
flash()
stamp, everything = listing()
compare_url.apply_link(everything)  # ?runs=a,b or ?group=G: preselect and open that view
compare_url.show_note()
st.session_state[ACTIVITY] = activity(everything)
st.session_state[LISTED] = everything
# Every 5 s while runs train: each refresh sends the table and every selected run's curves again, and
# Compare is not the teacher's live view (Watch is, every 2 s). At 2 s a Compare tab of 10 runs cost
# chromium 12-15 CPU-s a minute and sent 3.7 MB on a 2-core machine that trains (QA round 19). With
# none training, nothing in the fragment changes unless the runs folder does: a stat of it every
# 10 s (compare_runs.rerun_on_change) reruns the page then.
training = bool(st.session_state[ACTIVITY])
refresh = 5 if training else None
runs_tab, grid_tab = st.tabs([RUNS_VIEW, GRID_VIEW], key=TAB, on_change="rerun")
if runs_tab.open:
    with runs_tab:
        compare_runs.filters(compare.runs_table(everything))
        st.fragment(live, run_every=refresh)(RUNS_VIEW)
if grid_tab.open:
    with grid_tab:
        compare_grids.grid_form()
        st.divider()
        st.fragment(live, run_every=refresh)(GRID_VIEW)
if not training:
    st.fragment(compare_runs.rerun_on_change, run_every=WATCH_SECONDS)(stamp)
