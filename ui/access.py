"""Who may change runs from this app: everyone (the default), or, in classroom mode, only the computer
the server runs on.

A teacher who projects the app and gives the class its address wants students to watch, compare,
generate text and set up runs to see what they cost, but not to stop, resume or delete the runs the
lesson is built on, nor to start runs on the teacher's machine (a link carried the teacher's Stop and
Delete buttons to every student). `LMCORE_CONTROL=local streamlit run app.py` turns this on.

It guards against slips and mischief in a classroom, not against an attacker: the address is the
connection's, so behind a proxy on the same computer every visitor counts as that computer: students
must reach the app directly.
"""

from __future__ import annotations

import os

import streamlit as st

CONTROL_ENV = "LMCORE_CONTROL"
MODES = ("everyone", "local")
REFUSAL = ("Watching only: in classroom mode only the computer this app runs on can start, stop, resume, "
           "fork or delete runs, queue grids, upload text or download PTB ({env}=local). You can still watch, "
           "compare, generate text and set up a run to see what it costs.").format(env=CONTROL_ENV)


def control_mode() -> str:
    """`everyone` or `local`, from $LMCORE_CONTROL; a value that is neither reads as `local`, the mode
    that refuses more (the sidebar says so: mode_problem)."""
    value = os.environ.get(CONTROL_ENV, "").strip().lower() or "everyone"
    return value if value in MODES else "local"


def mode_problem() -> str | None:
    """What is wrong with $LMCORE_CONTROL, or None."""
    value = os.environ.get(CONTROL_ENV, "").strip().lower()
    if value and value not in MODES:
        return (f"`{CONTROL_ENV}={os.environ[CONTROL_ENV][:40]}` is not a mode (use `everyone` or `local`): "
                "the app treats it as `local`.")
    return None


def client_address() -> str | None:
    """The visitor's address; None for the computer the server runs on (Streamlit's loopback rule)."""
    return st.context.ip_address


def may_change() -> bool:
    """Whether this visitor may change runs: always, unless classroom mode is on and the visitor is on
    another computer."""
    return control_mode() == "everyone" or client_address() is None


def refusal() -> str | None:
    """Why a control is off for this visitor (a button's help), or None when it is on."""
    return None if may_change() else REFUSAL


def require() -> None:
    """Refuse a change this visitor may not make (PermissionError, an OSError, which the places that
    start runs already report). The buttons are off for them too: this stops a click sent around them."""
    if not may_change():
        raise PermissionError(REFUSAL)


def help_or_refusal(help_text: str | None) -> str | None:
    """A control's own help, or, where this visitor may not use it, why not."""
    return refusal() or help_text


def sidebar_note() -> None:
    """One line in the sidebar saying which mode this is, where it is not the default."""
    if problem := mode_problem():
        st.warning(problem, icon=":material/warning:")
    if control_mode() == "everyone":
        return
    if may_change():
        st.caption(":material/school: Classroom mode: other computers can watch, not change runs.")
    else:
        st.caption(":material/visibility: Watching only: runs are started and stopped on the teacher's "
                   "computer.", help=REFUSAL)
