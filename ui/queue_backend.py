"""Where queued runs train, chosen in the grid form: this machine or a Ray cluster at an address
(lmcore.queue's backend setting in runs/.queue.json, shared with `lmcore queue --backend`).

That setting is the whole queue's, every user's runs included, so the form keeps the choice in
the session and the Queue button applies it (apply()) as it queues: a click on the radio moves
nobody's runs. The page never imports Ray or connects: it checks that Ray is installed, probes
the address when it is changed, and shows why the last queue worker could not hand runs to the
cluster, with a button that trains the runs left waiting on this machine instead.
"""

from __future__ import annotations

import streamlit as st

import ui
from lmcore import queue, ray_backend
from ui import access

BACKEND = "compare.grid.backend"
ADDRESS = "compare.grid.address"
CHECKED = "compare.grid.address_problem"   # what probing the address said when it was changed
LABELS = {"local": "This machine", "ray": "Ray cluster"}


def init_state() -> None:
    if BACKEND not in st.session_state:
        st.session_state[BACKEND], st.session_state[ADDRESS] = queue.backend(ui.runs_root())
        st.session_state[CHECKED] = None


def chosen() -> tuple[str, str]:
    """(backend, address) as the form has them, the address as the queue would keep it."""
    return st.session_state[BACKEND], (st.session_state[ADDRESS] or "").strip() or queue.DEFAULT_ADDRESS


def backend_row() -> None:
    """The backend choice, the cluster's address, and any reason runs cannot go there."""
    init_state()
    left, right = st.columns([1, 2])
    left.radio("Runs train on", list(LABELS), key=BACKEND, format_func=LABELS.get, on_change=probe,
               horizontal=True, help="a Ray cluster trains each run as a Ray task; its nodes must see this "
                                     "runs folder at the same path (docs/ray.md). The choice applies to the "
                                     "whole queue when you queue runs")
    saved = queue.backend(ui.runs_root())
    if chosen() != saved:
        left.caption(f"Applies when you queue: until then the queue trains every queued run on "
                     f"{where(saved)}.")
    if st.session_state[BACKEND] == "ray":
        right.text_input("Ray address", key=ADDRESS, on_change=probe, placeholder="auto or HOST:PORT",
                         help="auto: $RAY_ADDRESS, else the cluster started on this machine")
    failed = queue.backend_problem(ui.runs_root())  # read once a rerun: the errors and the button both need it
    for problem in problems(failed):
        st.error(problem, icon=":material/error:")
    if failed and saved[0] == "ray" and (waiting := len(queue.pending(ui.runs_root()))):
        st.button(f"Train the {waiting} waiting run{'s' if waiting != 1 else ''} on this machine",
                  icon=":material/computer:", on_click=train_here, disabled=not access.may_change(),
                  help=access.help_or_refusal("switches the queue to this machine, for every user, and starts a "
                                              "worker"))


def where(setting: tuple[str, str]) -> str:
    name, address = setting
    return "this machine" if name == "local" else f"the Ray cluster at {address}"


def problems(waiting: str | None) -> list[str]:
    """What stops the chosen backend; `waiting`: queue.backend_problem, what the last worker said."""
    ray_chosen = st.session_state[BACKEND] == "ray"
    if ray_chosen and not ray_backend.installed():
        return [f"Ray is not installed here: {ray_backend.INSTALL}"]
    found = [st.session_state[CHECKED]] if ray_chosen and st.session_state.get(CHECKED) else []
    return found + ([f"The queue could not use the cluster: {queue.stuck(waiting, 'its runs stay queued.')}"]
                    if waiting and waiting not in found else [])


def ready() -> bool:
    """Whether runs may be queued with the chosen backend: never onto Ray where it is missing."""
    init_state()
    return st.session_state[BACKEND] != "ray" or ray_backend.installed()


def apply() -> None:
    """The form's choice becomes the queue's, for every run it starts from now on: called as runs
    are queued, never on a click of the radio."""
    queue.set_backend(ui.runs_root(), *chosen())


def probe() -> None:
    """Ask the chosen address whether anything listens, without changing the queue's setting."""
    st.session_state[CHECKED] = None
    name, address = chosen()
    if name == "ray" and ray_backend.installed():
        try:
            ray_backend.check(address)
        except ray_backend.BackendError as error:
            st.session_state[CHECKED] = str(error)


def train_here() -> None:
    if access.refusal():
        return
    queue.set_backend(ui.runs_root(), "local")
    st.session_state[BACKEND], st.session_state[CHECKED] = "local", None
    queue.ensure_worker(ui.runs_root())
