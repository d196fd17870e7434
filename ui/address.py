"""Keys in a page's address that the page does not read. A link typed by hand (`/compare?run=a` for
`?runs=a`) or meant for another page (`/compare?lr=0.04`) showed the page at its defaults and said
nothing: the page now says which keys it ignored, and which page reads them. Train names what it
ignores itself, with the reason (explorer/links.py), and Start reads no address.
"""

from __future__ import annotations

import difflib

import streamlit as st

import ui
from lmcore.summaries import list_runs, reference_runs, runs_named
from lmcore.text import and_join, shorten
from ui import history

STREAMLIT_KEYS = ("embed", "embed_options")  # Streamlit's own: how the app is embedded
MAX_NAMED = 3  # the keys a note spells out; the rest are counted
SAID_ELSEWHERE = ("", "train")  # pages that read no address, or name what they ignore themselves
NOTE = "address.strays"  # this run's note, or None


def stray_keys(keys, own: list[str]) -> list[str]:
    """The keys of an address, in its order without repeats, that are neither the page's nor Streamlit's."""
    return [key for key in dict.fromkeys(keys) if key not in own and key not in STREAMLIT_KEYS]


def stray_note(title: str, strays: list[str], own: list[str], readers: dict[str, list[str]]) -> str | None:
    """'Compare does not read `run` (did you mean `runs`?) or `lr` (Train reads it) in its address:
    ignored.' or None. `readers`: each other page's title -> the keys it reads."""
    if not strays:
        return None
    named = [_named(key, own, readers) for key in strays[:MAX_NAMED]]
    more = len(strays) - MAX_NAMED
    listed = f"{', '.join(named)} and {more} more" if more > 0 else and_join(named, "or")
    return f"{title} does not read {listed} in its address: ignored."


def _named(key: str, own: list[str], readers: dict[str, list[str]]) -> str:
    """The key, with the page's own key it is likely a slip for, else the pages that read it."""
    text = f"`{shorten(key, 30)}`"
    if close := difflib.get_close_matches(key, own, n=1, cutoff=0.75):
        return f"{text} (did you mean `{close[0]}`?)"
    pages = [title for title, keys in readers.items() if key in keys]
    return f"{text} ({and_join(pages)} {'reads' if len(pages) == 1 else 'read'} it)" if pages else text


def to_write(page: str, current: dict, wanted: dict) -> dict | None:
    """The query `page` (its url path) should write for `wanted`, or None to write nothing. Keys it does
    not read stay while nothing else changes, for the note above to name; a change of the user's writes
    the address without them, so a link copied then says only what the page shows (QA round 27: a
    stray `run=` beside the `runs=` a tick wrote named two runs). `current`: the address's keys."""
    own = history.page_keys().get(page, [])
    clean = {key: value for key, value in wanted.items() if key in own or key in STREAMLIT_KEYS}
    return None if clean == {key: value for key, value in current.items() if key in own or key in STREAMLIT_KEYS} \
        else clean


def note_strays(page, pages) -> None:
    """Work out the note on the keys the address holds that `page` does not read (app.py, before the
    page runs; `pages`: the app's st.Page objects, for the pages that read them). show() draws it."""
    note = None
    if page.url_path not in SAID_ELSEWHERE:
        keys = history.page_keys()
        own = keys.get(page.url_path, [])
        readers = {other.title: keys.get(other.url_path, []) for other in pages if other.url_path != page.url_path}
        note = stray_note(page.title, stray_keys(st.query_params.keys(), own), own, readers)
    st.session_state[NOTE] = note


def show() -> None:
    """The note, under the page's title and introduction (Compare, Generate, Inside)."""
    if note := st.session_state.get(NOTE):
        st.caption(note)


def named_run(wanted: str | None):
    """The one run, the user's or a shipped reference run, that a link's `?run=` names by its name or
    id tail where the page wants its id (Compare's `?runs=` and the CLI read names: QA round 29 met
    "There is no run `book-horizontal`" on Train for a run Compare opened by that name). None when
    it names none, or several."""
    if not wanted:
        return None
    found = runs_named(wanted, list_runs(ui.runs_root()) + reference_runs())
    return found[0] if len(found) == 1 else None


def offer_named_run(wanted: str | None) -> None:
    """Under a page's "There is no run" warning: a button that opens the run the given name names, by its
    id in the address (a page link to the page itself ran the run but left the name in the address bar)."""
    if run := named_run(wanted):
        st.button(f"`{shorten(wanted, 40)}` names {run.name} (`{run.id}`): open it", icon=":material/arrow_forward:",
                  key="address.named_run", on_click=_open, args=(run.id,))


def _open(run_id: str) -> None:
    st.query_params["run"] = run_id
