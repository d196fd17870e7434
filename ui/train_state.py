"""The Train page's state: the config being edited, the controls that show it, and the URL that
holds it (explorer.links). The Set up and Watch tabs (train_setup.py, train_watch.py) and the page
(app_pages/train.py) share these keys and functions.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

import ui
from explorer.links import RESERVED_QUERY, clamp, link_params, parse_link
from lmcore.config import BUILTIN_DATASETS, KEYS
from lmcore.presets import PRESETS, preset_values
from ui import history

# Session state (all under the page's prefix).
TAB = "train.tab"                  # which tab is open (a stateful st.tabs)
URL_RUN = "train.url_run"          # the ?run= the page last saw or wrote: a change it did not make is navigation
VALUES = "train.values"            # the config being edited: the truth the widgets are seeded from
PRESET = "train.preset"            # the preset selector
TEXT_PATH = "train.text_path"      # the stored upload the "text" corpus uses
REFUSED = "train.upload_refused"   # why the upload box's current file was refused, or None
APPLIED = "train.applied_link"     # the config query last applied to or written into the URL
LINK_WARNINGS = "train.link_warnings"
NOTICE = "train.notice"            # (kind, message) to show once after a rerun
COPY_OF = "train.copy_of"          # Edit a copy's {"original": the run's recipe, "name": the name it loaded}
WIDGET = "train.w."                # + config key: one widget per key

SETUP_TAB, WATCH_TAB = "⚙️ Set up a run", "📈 Watch a run"
DEFAULT_PRESET = "tiny"
SPECIAL = ("dataset", "dropout_recurrent", "max_steps", "preset", "keep_epoch_checkpoints")  # not one plain widget each
PLAIN = tuple(k for k in KEYS if k not in SPECIAL)
# keep_epoch_checkpoints's None (auto) as a select box's choice: a select box reads None as nothing chosen.
EPOCH_CHECKPOINTS = {"auto": None, "on": True, "off": False}


def widget_values(values: dict) -> dict:
    """Session-state entries that make the widgets show `values`."""
    out = {WIDGET + k: clamp(k, values[k]) for k in PLAIN}
    dataset = values["dataset"]
    out[WIDGET + "dataset"] = dataset if dataset in BUILTIN_DATASETS else "text"
    out[WIDGET + "recurrent_same"] = values["dropout_recurrent"] is None
    recurrent = values["dropout"] if values["dropout_recurrent"] is None else values["dropout_recurrent"]
    out[WIDGET + "dropout_recurrent"] = clamp("dropout_recurrent", recurrent)
    out[WIDGET + "max_steps"] = values["max_steps"] or 0
    out[WIDGET + "keep_epoch_checkpoints"] = next((k for k, v in EPOCH_CHECKPOINTS.items()
                                                    if v is values.get("keep_epoch_checkpoints")), "auto")
    return out


def load_values(values: dict) -> None:
    """Put a whole config into the controls (call before they render, or from a callback)."""
    st.session_state.pop(COPY_OF, None)   # Edit a copy sets it again after loading its run
    st.session_state[VALUES] = dict(values)
    st.session_state.update(widget_values(values))
    st.session_state[PRESET] = values["preset"] if values["preset"] in PRESETS else ""
    if values["dataset"] not in BUILTIN_DATASETS:
        st.session_state[TEXT_PATH] = values["dataset"]


def read_values() -> dict:
    """The config the widgets show now."""
    state = st.session_state
    values = dict(state[VALUES])
    for key in PLAIN:
        values[key] = _cleaned(state[WIDGET + key], values.get(key))
    kind = state[WIDGET + "dataset"]
    values["dataset"] = (state.get(TEXT_PATH) or "") if kind == "text" else kind
    recurrent = _cleaned(state[WIDGET + "dropout_recurrent"], values.get("dropout_recurrent"))
    values["dropout_recurrent"] = None if state[WIDGET + "recurrent_same"] else recurrent
    values["max_steps"] = state[WIDGET + "max_steps"] or None
    values["keep_epoch_checkpoints"] = EPOCH_CHECKPOINTS[state[WIDGET + "keep_epoch_checkpoints"]]
    values["preset"] = state[PRESET]
    return values


def _cleaned(value, loaded):
    """A widget's float rounded to 10 decimals (a slider's 0.30000000000000004 is 0.3), unless it is
    the value the config was loaded with: zaremba-medium's clip 0.25/1.75 must stay that, not become
    0.1428571429, a change its copy would be named and linked by."""
    return round(value, 10) if isinstance(value, float) and value != loaded else value


def init_state() -> None:
    if VALUES not in st.session_state:
        load_values(preset_values(DEFAULT_PRESET))


def seed_widgets() -> None:
    """Widgets forget their state while unrendered (other tab, other page): restore it."""
    for key, value in widget_values(st.session_state[VALUES]).items():
        if key not in st.session_state:
            st.session_state[key] = value
    preset = st.session_state[VALUES]["preset"]
    st.session_state.setdefault(PRESET, preset if preset in PRESETS else "")


def follow_navigation(run_id: str | None) -> None:
    """Back, forward or an edited address changed ?run= behind the page's back: open the tab the
    address means (Watch for a run, Set up without one). Back from a started run used to leave the
    Watch tab open on "No run attached", so it took a second Back, which left the app."""
    if URL_RUN in st.session_state and st.session_state[URL_RUN] != run_id:
        st.session_state[TAB] = WATCH_TAB if run_id else SETUP_TAB
    st.session_state[URL_RUN] = run_id


def attach(run_id: str | None) -> None:
    """Put a run in the address bar (None takes it out), as the page's own change."""
    if run_id:
        st.query_params["run"] = run_id
    else:
        st.query_params.pop("run", None)
    st.session_state[URL_RUN] = run_id


def uploads_dir() -> Path:
    return ui.runs_root() / ".uploads"


def config_query() -> dict[str, str]:
    return {k: st.query_params[k] for k in st.query_params if k not in RESERVED_QUERY}


def apply_link() -> None:
    """A URL with config keys the page has not applied yet (a shared link, Start's 'Open in Train'),
    or Back onto an address without them (ui/history.py)."""
    query = config_query() or history.bare_address("train", st.session_state.get(APPLIED))
    if query is None or query == st.session_state.get(APPLIED) or history.lagging("train", query):
        return
    if query:
        values, warnings = parse_link(query, uploads_dir(), fallback=DEFAULT_PRESET)
    else:
        values, warnings = preset_values(DEFAULT_PRESET), []   # Back onto the defaults
    load_values(values)
    st.session_state[APPLIED] = query
    st.session_state[LINK_WARNINGS] = warnings


def sync_link(values: dict) -> None:
    """Keep the address bar equal to the config, so a reload or bookmark brings it back. The
    defaults need no words: a link to a run would otherwise name a preset the run never used. An
    address that already says this config in other words (Start's `?preset=tiny`) stays: each
    write is a history entry, and Back onto a rewritten one went nowhere."""
    wanted = {} if values == preset_values(DEFAULT_PRESET) else link_params(values)
    arrived = config_query()
    if arrived and arrived != wanted and parse_link(arrived, uploads_dir(), fallback=DEFAULT_PRESET) == (values, []):
        wanted = arrived
    if wanted != arrived:
        kept = {key: st.query_params.get_all(key) for key in st.query_params if key in RESERVED_QUERY}
        st.query_params.from_dict({**kept, **wanted})   # the run and the chart's keys stay: one change
    st.session_state[APPLIED] = wanted
    history.wrote("train", wanted)
