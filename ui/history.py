"""Back and Forward onto an address that holds no settings.

A page writes its settings into the address bar, leaving out those at their defaults, so an address
without them was written for the defaults. The sidebar's links carry no query either, and arriving
by one must keep the settings the session has: the user set them, looked at another page and came
back. Both readings meet on Back. Reading every bare address as "keep the session's" ignored Back
onto the defaults, and the page wrote its settings over that history entry (QA round 13: Train's
Set up, Generate's first edit, Compare's first tick).

Streamlit marks the rerun that the browser's Back or Forward caused (`is_history_navigation`), and
writes the address as a replacement, not a new entry, during it. So a page remembers what its last
bare address stood for: the query the page had last written when it came to it (the defaults when
the page wrote that bare address itself; the session's settings when the sidebar led there, and the
page writes them at once, in the next entry). A Back onto a bare address brings that back.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

PREFIX = "history.bare." # + a page's name: the query its bare address stands for


def history_navigation() -> bool:
    """Whether this rerun is the browser's Back or Forward."""
    ctx = get_script_run_ctx()
    return bool(getattr(ctx, "is_history_navigation", False))


def bare_address(page: str, shown: dict | None) -> dict | None:
    """What to apply for an address without the page's settings. Arriving by the sidebar (or a first
    visit, or the page's own write of its defaults) keeps the session's: None, and the address now
    stands for `shown`, the query the page last wrote, which is what the session shows. Back or
    Forward onto such an address brings back what it stood for (an empty query: the defaults)."""
    key = PREFIX + page
    if history_navigation():
        return dict(st.session_state.get(key, {}))
    st.session_state[key] = dict(shown or {})
    return None
