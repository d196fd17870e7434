"""A banner in the browser when a live view stops getting updates from the app's server.

A view that refreshes on a timer while a run trains (Train's Watch, Compare, Inside's masks,
Generate's wait for a first checkpoint) calls heartbeat() inside its fragment. A stopped or stuck
server process keeps its websocket open, so Streamlit never says "Connecting" and the tab kept
showing the last perplexity and "running" as if current (QA). Each heartbeat is a hidden element
with a tiny script; the browser notes when the last one arrived and, once none has come for
max(3 x the refresh interval, LMCORE_STALE_SECONDS, 30 by default) seconds while the tab is
visible, shows a banner over the page; the next heartbeat hides it. The check is the browser's:
the server does nothing between its usual refreshes. The script and the banner's words are in
staleness.js, its look in app.css (#lm-stale-banner).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import streamlit as st

STALE_ENV = "LMCORE_STALE_SECONDS"
# Seconds: a slow rerun on a busy machine must not show it. At 15 it showed on a working server with nine
# tabs open on 2 busy cores (load 15-21), whose updates came up to 13.8 s apart (QA round 22).
STALE_FLOOR = 30.0
SCRIPT = "\n".join(line for line in (Path(__file__).with_name("staleness.js")).read_text().splitlines()
                   if not line.lstrip().startswith("//"))   # sent at every beat: its comments stay here


def floor_seconds() -> float:
    """The shortest silence that shows the banner: $LMCORE_STALE_SECONDS (the tests shorten it), else 15.
    A value that is not a positive number is ignored, not fatal: it only tunes a warning."""
    try:
        value = float(os.environ.get(STALE_ENV, ""))
    except ValueError:
        return STALE_FLOOR
    return value if value > 0 else STALE_FLOOR


def heartbeat(every: float | None) -> None:
    """Tell the browser this view refreshes every `every` seconds; None (nothing refreshes it: an
    ended run) sends nothing, so no banner can show. Call it inside the refreshing fragment, every run."""
    if not every:
        return
    # The server's clock makes each beat's body new: Streamlit runs an st.html script only when its body changes.
    st.html(f'<div data-lm-heartbeat data-every="{every:g}" data-at="{time.time():.3f}"></div>'
            f"<script>{SCRIPT}\nwindow.lmStaleness.beat({json.dumps(float(every))}, "
            f"{json.dumps(floor_seconds())});</script>", unsafe_allow_javascript=True)
