"""Back and Forward onto an address that holds no settings.

A page writes its settings into the address bar, leaving out those at their defaults, so an address
without them was written for the defaults. The sidebar's links carry no query either, and arriving
by one must keep the settings the session has: the user set them, looked at another page and came
back. Both readings meet on Back. Reading every bare address as "keep the session's" ignored Back
onto the defaults, and the page wrote its settings over that history entry (QA round 13: Train's
Set up, Generate's first edit, Compare's first tick).

Streamlit marks the rerun that the browser's Back or Forward caused (`is_history_navigation`), and
writes the address as a replacement, not a new entry, during it. On Back or Forward a bare address
means the defaults, with one exception. Arriving by the sidebar with settings of its own, a page
writes them at once, so that bare entry is only a step on the way to the next one, which Back shows
again as it was: the first Back seemed to do nothing (QA round 24). The guard (history_guard.js) writes
the settings over the step where it sees the arrival, so there is none. Where it cannot, a page
remembers that step (the settings it wrote after it), and Back from that next entry onto it keeps the
session's settings, as before: the page writes them again over the step. Remembering what each
arrival stood for instead read an older bare entry (the defaults) as the newest arrival's settings
(QA round 14: four Backs through Train and Compare).

An address can also arrive late. A widget's rerun carries the address the browser had when it was sent,
and after a quick change that can be one the page itself wrote a run earlier. Read as a link, it undid
the change (CI: Generate's Temperature slider, stepped from 1.00 to 0.50, came back to 0.90). So each
page records what it writes, and an address it wrote lately is no link on a rerun of that same page.
Back and Forward, and an arrival from another page (whose link may well repeat an older address), still
apply it.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

PREFIX = "history.step."  # + a page's name: the query it wrote after its last sidebar arrival
WRITTEN = "history.written."  # + a page's name: the queries it wrote lately, newest last
PAGE = "history.page"  # the page the session's runs draw
ARRIVED = "history.arrived"  # whether this page was arrived at since it last wrote its address
KEPT = 8  # queries remembered per page: more than a burst of quick changes writes before the browser catches up
START_NOW = "start.go."  # + a preset's name: Start's "Start now" buttons' keys (app_pages/start.py)
SWITCHES = {START_NOW: "train"}  # the keys' start of buttons that call st.switch_page: the page each opens
GUARD_SCRIPT = "\n".join(line for line in Path(__file__).with_name("history_guard.js").read_text().splitlines()
                         if not line.lstrip().startswith("//"))


def history_navigation() -> bool:
    """Whether this rerun is the browser's Back or Forward."""
    ctx = get_script_run_ctx()
    return bool(getattr(ctx, "is_history_navigation", False))


def bare_address(page: str, shown: dict | None) -> dict | None:
    """What to apply for an address without the page's settings: None keeps the session's, a query
    (empty: the defaults) is applied. `shown`: the query the page last wrote, what the session shows.

    Arriving by the sidebar (or a first visit, or the page's own write of its defaults) keeps the
    session's; with settings of their own (`shown`), the page writes them next and this entry is a
    step. Back or Forward onto a bare address means the defaults, except the step, from the entry
    written after it."""
    key = PREFIX + page
    step = st.session_state.pop(key, None)
    if not history_navigation():
        if shown:
            st.session_state[key] = dict(shown)
        return None
    return None if step is not None and step == dict(shown or {}) else {}


def note_page(page: str) -> None:
    """Remember the page this run draws (app.py, before every page). An arrival from another page lasts
    until the page writes its address: a run cut short by the next one is still part of it.

    Back or Forward onto another page ends every other page's step: the step's entry, if the browser
    has one, lies just before the entry written after it, and the guard writes over it where it can
    (history_guard.js), so an older bare entry reached past another page is the defaults."""
    state = st.session_state
    if history_navigation():
        for key in [key for key in state if key.startswith(PREFIX) and _group_page(key) != page]:
            del state[key]
    if state.get(PAGE) != page:
        state[PAGE] = page
        state[ARRIVED] = True


def _group_page(key: str) -> str:
    """The page of a step's settings group: "train.view" -> "train"."""
    return key.removeprefix(PREFIX).split(".")[0]


def wrote(page: str, query) -> None:
    """Record that `page` (a settings group's name) wrote `query` into the address."""
    state = st.session_state
    key = WRITTEN + page
    state[key] = ([old for old in state.get(key, []) if old != query] + [query])[-KEPT:]
    state[ARRIVED] = False


def last_written(page: str):
    """The query `page` wrote last, or None before it wrote any."""
    return (st.session_state.get(WRITTEN + page) or [None])[-1]


def lagging(page: str, query) -> bool:
    """Whether `query` is an address this page wrote lately, come back with a rerun of the same page:
    the browser's copy had not caught up, so it is no link (see the module's text)."""
    state = st.session_state
    if history_navigation() or state.get(ARRIVED, True):
        return False
    return query in state.get(WRITTEN + page, [])


@functools.cache
def page_keys() -> dict[str, list[str]]:
    """Each page's name (its url path; Start's is "") -> the query keys it writes: the script moves a query
    only to a page that writes it. Imported here, not above: those modules import this one. Made once:
    every page's run reads it (ui/address.py); callers only read it."""
    from explorer import sampling_settings
    from explorer.links import RESERVED_QUERY
    from lmcore.config import KEYS
    from ui.compare_url import LINK_KEYS

    return {"": [], "train": sorted({"preset", *RESERVED_QUERY, *KEYS}), "compare": list(LINK_KEYS),
            "inside": ["run", "tab"],   # app_pages/inside.py's url_link (a page module: it draws when imported)
            "generate": ["run", *sampling_settings.LINK_KEYS]}


def guard() -> None:
    """Keep a page's first address off the page being left (app.py, every run; history_guard.js).

    Streamlit writes a query onto the address the browser shows, and the address of the page a link
    or st.switch_page opens only after the browser has drawn it: Train arriving by the sidebar with
    the session's settings wrote them onto /compare about one time in four (a Back then landed on
    Compare), and Start's "Start now" wrote ?run= onto Start, a second history entry. The script
    sends such a write to the page being opened. It runs once per tab: the same body is not run again.
    """
    st.html(_guard_html(), unsafe_allow_javascript=True)


@functools.cache
def _guard_html() -> str:
    """The guard's element, made once: app.py sends it on every full rerun."""
    # Streamlit marks a keyed element's container with the class st-key-<key>, its other characters as "-".
    switches = {re.sub(r"[^A-Za-z0-9_-]", "-", key): page for key, page in SWITCHES.items()}
    settings = json.dumps({"switches": switches, "keys": page_keys()})
    return (f"<div data-lm-history-guard></div><script>{GUARD_SCRIPT}\n"
            f"window.lmHistoryGuard.configure({settings});</script>")
