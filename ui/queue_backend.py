"""Where queued runs train, chosen in the grid form: this machine or a Ray cluster at an address
(lmcore.queue's backend setting in runs/.queue.json, shared with `lmcore queue --backend`).

The page never imports Ray or connects: it checks that Ray is installed, probes the address when
it is changed, and shows why the last queue worker could not hand runs to the cluster.
"""

from __future__ import annotations

import streamlit as st

import ui
from lmcore import queue, ray_backend

BACKEND = "compare.grid.backend"
ADDRESS = "compare.grid.address"
CHECKED = "compare.grid.address_problem"   # what probing the address said when it was changed
LABELS = {"local": "This machine", "ray": "Ray cluster"}


def init_state() -> None:
    if BACKEND not in st.session_state:
        st.session_state[BACKEND], st.session_state[ADDRESS] = queue.backend(ui.runs_root())
        st.session_state[CHECKED] = None


def backend_row() -> None:
    """The backend choice, the cluster's address, and any reason runs cannot go there."""
    init_state()
    left, right = st.columns([1, 2])
    left.radio("Runs train on", list(LABELS), key=BACKEND, format_func=LABELS.get, on_change=save,
               horizontal=True, help="a Ray cluster trains each run as a Ray task; its nodes must see this "
                                     "runs folder at the same path (docs/ray.md)")
    if st.session_state[BACKEND] != "ray":
        return
    right.text_input("Ray address", key=ADDRESS, on_change=save, placeholder="auto or HOST:PORT",
                     help="auto: $RAY_ADDRESS, else the cluster started on this machine")
    for problem in problems():
        st.error(problem, icon=":material/error:")


def problems() -> list[str]:
    if not ray_backend.installed():
        return [f"Ray is not installed here: {ray_backend.INSTALL}"]
    found = [st.session_state[CHECKED]] if st.session_state.get(CHECKED) else []
    waiting = queue.backend_problem(ui.runs_root())
    return found + ([f"The queue could not use the cluster: {waiting}; its runs stay queued."]
                    if waiting and waiting not in found else [])


def save() -> None:
    name, address = st.session_state[BACKEND], st.session_state[ADDRESS]
    queue.set_backend(ui.runs_root(), name, address)
    st.session_state[CHECKED] = None
    if name == "ray" and ray_backend.installed():
        try:
            ray_backend.check(address or queue.DEFAULT_ADDRESS)
        except ray_backend.BackendError as error:
            st.session_state[CHECKED] = str(error)
