"""Train: every config key as a control, the parameter count and every problem before anything
starts, one click to train in the background, and the run watched live.

The page never trains: Start creates a run folder and launches `python -m lmcore resume` in its
own process (ui.start_run). The URL holds the attached run (`?run=ID`), the config
(`?preset=NAME&key=value` for keys that differ from the preset), the reference runs drawn beside
the run (`&overlay=book&overlay_x=share`), the chart's log scale and smoothing (`&log=0&smooth=0.3`)
and `&tab=setup` while a run's Set up tab is open, so a reload, a restart or a shared link comes
back to the same place. The tabs live in ui/train_setup.py and ui/train_watch.py, the state they
share in ui/train_state.py.
"""

from __future__ import annotations

import streamlit as st

from explorer.links import shown_warnings
from ui import train_state as state
from ui.train_setup import setup_tab
from ui.train_watch import apply_view_link, view_in_url, watch_tab


def main() -> None:
    state.init_state()
    state.apply_link()
    run_id = st.query_params.get("run")
    state.follow_navigation(run_id)
    apply_view_link()   # after: a link's own `tab` wins over the one a new run opens
    state.seed_widgets()
    st.title("Train")
    st.caption("Set every knob, see what it costs in parameters, then train in the background and watch "
               "perplexity fall. The address bar holds the run and the config: reload or share it.")
    for warning in shown_warnings(st.session_state.pop(state.LINK_WARNINGS, [])):
        st.warning(f"From the link: {warning}", icon="🔗")
    kind, message = st.session_state.pop(state.NOTICE, (None, None))
    if kind:
        getattr(st, kind)(message)
    default = st.session_state.get(state.TAB) or (state.WATCH_TAB if run_id else state.SETUP_TAB)
    setup, watch = st.tabs([state.SETUP_TAB, state.WATCH_TAB], key=state.TAB, on_change="rerun", default=default)
    if setup.open:
        with setup:
            setup_tab()
    if watch.open:
        with watch:
            watch_tab(run_id)
    state.sync_link(st.session_state[state.VALUES])
    view_in_url()


main()
