"""What several pages share: where runs live, reading them cheaply, the charts, formatting.

Pages stay thin: they lay out widgets and call lmcore or these helpers. Nothing here trains
or loads training data. A page too big for one file keeps its parts here, next to this module
(train_setup.py, train_watch.py, ...): files in app_pages/ are pages, so they cannot hold them.
"""

from __future__ import annotations

import html
import math
import numbers
import re
import time
import zlib
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer.metrics import smooth, split, thin
from explorer.perplexity import Clip, ceiling_clip, find_clip, format_ppl
from explorer.textview import isolated_name, md_escape
from lmcore import checkpoints, queue, runs, summaries
from lmcore.epochs import epoch_position
from lmcore.jsonl import json_count, json_number
from lmcore.metrics_frame import MetricsFrame
from lmcore.reference import reference_folders
from lmcore.summaries import RunSummary, list_runs, reference_runs
from lmcore.text import and_join  # noqa: F401 (ui.and_join, for the pages)
from lmcore.timing import format_seconds
from ui import access, history

STATE_ICONS = {"queued": "⏳", "running": "▶️", "finished": "✅", "failed": "❌", "stopped": "⏸️",
               "broken": "⚠️"}
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22"]
# Grey reads as switched off beside the grey floor line, and olive fades on a projector's white (QA round 8).
RUN_PALETTE = [c for c in PALETTE if c not in ("#7f7f7f", "#bcbd22")]
# Palette colours a projector shows alike: red beside pink, orange or brown; blue beside cyan; purple
# beside pink.
_NEAR = [("#d62728", "#e377c2"), ("#d62728", "#ff7f0e"), ("#d62728", "#8c564b"), ("#ff7f0e", "#8c564b"),
         ("#1f77b4", "#17becf"), ("#9467bd", "#e377c2")]
NEAR_COLOURS = {c: {b for a, b in _NEAR if a == c} | {a for a, b in _NEAR if b == c} for pair in _NEAR for c in pair}
# Neutral marks on a chart (floor lines, a zero line, error bars), strong to faint, for the light and the
# dark theme: '#222' was 1.14:1 against a dark page (QA round 17).
INKS = {"light": ("#222", "#444", "#555"), "dark": ("#e6e6e6", "#c8c8c8", "#b0b0b0")}


def ink(level: int = 0) -> str:
    """The theme's neutral mark colour, 0 strongest: the page's theme as the browser reports it
    (Streamlit follows the system's, or the one chosen in its menu), light where unknown."""
    kind = getattr(st.context.theme, "type", None)
    return INKS["dark" if kind == "dark" else "light"][level]


UI_METRICS = "ui.metrics"  # session state: run folder -> MetricsFrame (incremental reader)
SIDEBAR_REFRESH_SECONDS = 5  # listing 300 ended runs takes about 13 ms of CPU (summaries.settled_summary)
LOG_TICKS = [m * 10 ** k for k in range(8) for m in (1, 2, 5)]  # 1 2 5 10 20 50 ... on a log axis
# Below this ratio of top to bottom, Plotly's padded log axis spans less than a power of ten and
# labels evenly spaced values in full (700, 800, 900, 1k); LOG_TICKS would leave it one label, or none.
LOG_TICKS_SPAN = 8


# ---------------------------------------------------------------- session state


def init_state(defaults: dict) -> None:
    """Give each key its default, unless the session already holds it. Pass a fresh dict each
    time: a list or dict default becomes the session's own object."""
    for key, value in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = value


# Why the pages' keyed widgets also take their kept value as value=, default= or index=: a widget the
# browser mounts afresh (under load, or after a part of the page was redrawn) starts from the default
# the page gave it, and the next rerun, a fragment's timed one included (the sidebar's counts refresh
# every few seconds on every page), sends that back as the user's change. Without one that was the
# widget's own (a slider's minimum, an empty box, the first option): Watch's chart went linear and raw
# by itself (QA round 22). Streamlit's warning about a default beside a Session State value is
# switched off in .streamlit/config.toml for this.


def index_of(options, value) -> int:
    """`value`'s place among `options` as a select box's or radio's index=, the first when it is not
    there (Streamlit then shows the first too)."""
    options = list(options)
    return options.index(value) if value in options else 0


# ---------------------------------------------------------------- runs


def runs_root() -> Path:
    return runs.runs_dir()


def all_runs() -> list[RunSummary]:
    """The user's runs, newest first, then the shipped reference runs (listed even with no PTB
    and an empty runs folder)."""
    return list_runs(runs_root()) + reference_runs()


def run_folder(run_id: str) -> Path | None:
    """The folder of a run id from a URL or a widget (a user's run, else a reference run), or
    None if it is not a run (any more)."""
    try:
        return runs.locate_run(run_id, runs_root())
    except runs.RunError:
        return None


READ_ONLY_HELP = ("a reference run shipped with the project is read-only: it cannot be deleted, resumed or "
                  "stopped (its checkpoints were not kept); Edit a copy trains its recipe as a new run")


CURRENT_RUN = "ui.current_run"   # the run a page last showed alone, in this session


def showing_run(run_id: str | None) -> None:
    """Note the run a page shows alone (Train's watched run, Inside's masks, Generate's), which another
    page opened without ?run= then shows first (QA round 12: the sidebar's Generate showed the newest
    run, not the one the class was watching)."""
    if run_id:
        st.session_state[CURRENT_RUN] = run_id


SHOWN_RUN_CHECK_SECONDS = 3


def shown_run_changed(summary: RunSummary) -> bool:
    """Whether a run a page shows was deleted, or changed state, since the page drew it. A damaged or
    reference run is left alone: its state cannot change under the page."""
    if summary.is_broken or summary.is_reference:
        return False
    return not (summary.path / "config.json").exists() or runs.read_status(summary.path).get("state") != summary.state


def follow_shown_run(summary: RunSummary) -> None:
    """Redraw the page when the run it shows is deleted or stopped elsewhere (QA round 13: Generate
    called a run stopped in another tab 'running', and showed a deleted one until a click). A stat and
    status.json every few seconds."""
    st.fragment(_rerun_when_changed, run_every=SHOWN_RUN_CHECK_SECONDS)(summary)


def _rerun_when_changed(summary: RunSummary) -> None:
    if shown_run_changed(summary):
        st.rerun()


def run_select(options: dict, key: str, url_key: str, label: str = "Run") -> str:
    """A select box over `options` (run id -> summary) that follows the URL's ?run=ID.

    A new link preselects its run once (`url_key` remembers the last one applied), so the
    user can pick another afterwards; picking a run puts it in the URL, so the page can be
    reloaded or shared. A URL that names no run shows the session's current run (showing_run),
    the one the user was looking at on another page. Returns the chosen id; `options` must not be
    empty.
    """
    wanted = st.query_params.get("run")
    if wanted != st.session_state.get(url_key):
        if history.lagging(url_key, wanted):
            st.query_params["run"] = st.session_state[url_key]   # the newer pick, said again (ui/history.py)
        else:
            st.session_state[url_key] = wanted
            if wanted in options:
                st.session_state[key] = wanted
    current = st.session_state.get(CURRENT_RUN)
    if wanted is None and current in options:
        st.session_state[key] = current
    if st.session_state.get(key) not in options:
        st.session_state[key] = next(iter(options))
    # Set again on every run, so the box shows its run's label as it is now: Streamlit keeps the label
    # it first drew while the value is unchanged (streamlit#13788), and a run stopped in another tab
    # still read 'running' here (QA round 13).
    st.session_state[key] = st.session_state[key]

    def follow_in_url():
        st.query_params["run"] = st.session_state[url_key] = st.session_state[key]
        history.wrote(url_key, st.session_state[key])

    chosen = st.selectbox(label, list(options), index=index_of(options, st.session_state[key]), key=key,
                          on_change=follow_in_url, persist_state="session",
                          format_func=lambda run_id: run_label(options[run_id]))
    showing_run(chosen)
    return chosen


def best_epoch_suffix(summary: RunSummary) -> str:
    """' (epoch 3)' after a best validation score, ' (epoch 2, 11 of its 149 steps)' when that epoch was not
    trained whole by then, '' when its epoch is not known."""
    if summary.best_epoch is None:
        return ""
    part = summary.best_epoch_steps
    return f" (epoch {summary.best_epoch}" + (f", {part[0]:,} of its {part[1]:,} steps)" if part else ")")


def run_label(summary: RunSummary) -> str:
    """'✅ tiny · ab12 · finished · best val 82.3 (epoch 3) · final 85.0' for select boxes. A select box
    is drawn once, not with the live view under it, so a run still training shows no scores there:
    they would go stale at its next validation and contradict the numbers below."""
    # The id's tail next to the name, which it tells apart from its namesakes: at the end, a 1024 px
    # Train page cut it to '· d75' (QA round 10); the scores after it are in the run's header too.
    parts = [f"{STATE_ICONS.get(summary.state, '')} {isolated_name(summary.name)}", summary.short_id,
             shown_state(summary)]
    if isinstance(group := summary.config.get("group"), str) and group:  # type a grid's name to find its runs
        parts.insert(2, group)                                             # (QA round 16: 300 runs, 19 grids)
    if summary.is_active:
        return " · ".join(parts)
    if summary.best_val is not None:
        parts.append(f"best val {fmt_ppl(summary.best_val)}{best_epoch_suffix(summary)}")
    if summary.final_val is not None:
        parts.append(f"final {fmt_ppl(summary.final_val)}")
    return " · ".join(parts)


def shown_state(summary: RunSummary) -> str:
    """The state a page names: 'starting' for a queued run whose training process is launched and
    loading (queue.stage), which no longer waits for the queue; else its state."""
    return "starting" if queue.stage(summary) == "starting" else summary.state


def metrics_frame(folder: Path) -> pd.DataFrame:
    """A run's metrics for showing: every val and test line, train lines thinned to at most
    2,000 evenly spaced rows (first and last kept). Only lines added since this session's last
    look are read, so a long run refreshes as fast as a short one."""
    return metrics_reader(folder).refresh()


def metrics_reader(folder: Path) -> MetricsFrame:
    """This session's reader of a run's metrics (metrics_frame's): its `version` says, after a refresh,
    whether a line came since, so a chart of an unchanged log can be kept (Compare's curves)."""
    readers = st.session_state.setdefault(UI_METRICS, {})
    key = str(folder)
    if key not in readers:
        readers[key] = MetricsFrame(Path(folder) / "metrics.jsonl")
    return readers[key]


def progress_text(status: dict) -> tuple[float, str]:
    """(fraction done, 'step 120 / 1,192 · epoch 2 / 8 · ETA 0:41') from status.json; while the run
    reads its validation or test set, what evaluation_progress says. A trainer that has written nothing
    for a while (summaries.silence_note: paused or stuck) shows its step and that, with no ETA: a frozen
    one read as live (QA round 17)."""
    silent = summaries.silence_note(status)
    if not silent and (evaluating := evaluation_progress(status)):
        return evaluating
    step, total = status.get("step") or 0, status.get("total_steps") or 0
    fraction = min(step / total, 1.0) if total else 0.0
    parts = [f"step {step:,} / {total:,}" if total else first_seconds(status)]
    if status.get("epoch"):
        parts.append(epoch_progress(status))
    starting = status.get("state") == "queued" or status.get("phase") == "starting"
    if total and starting:  # a resumed run, its process not training yet
        parts.append(first_seconds(status))
    # Seconds spent training across resumes (a stopped spell is not in it); runs written
    # before `elapsed` existed fall back to the wall clock since the first start.
    elapsed = status.get("elapsed")
    if not isinstance(elapsed, (int, float)) and status.get("started_at"):
        elapsed = time.time() - status["started_at"]
    if silent:
        parts.append(silent)
    elif status.get("state") == "running" and not starting and elapsed and 0 < fraction < 1:
        parts.append(f"ETA {fmt_duration(elapsed * (1 - fraction) / fraction)}")
    return fraction, " · ".join(parts)


def evaluation_progress(status: dict) -> tuple[float, str] | None:
    """(share of the split read, 'Validating epoch 3 on 73,760 words… 40% read, 0:12 so far · step
    1,327 / 10,616 · ETA paused while it validates') for a running trainer reading its validation or test
    set (status `phase`, docs/design.md); None otherwise, older runs included. On PTB a CPU validates
    for tens of seconds, which the page showed as the last step with its ETA (QA round 14). The ETA
    pauses: measured over the time so far, validations included, it holds again once steps go on. The
    bar is the pass's own: at the last step a step bar stood full through the final validation and
    the test, as if the run had ended. A Stop asked for during the pass waits for its end (`stopping`)."""
    phase = status.get("phase")
    if status.get("state") != "running" or phase not in ("validating", "testing"):
        return None
    words, done = json_count(status.get("phase_words")), json_number(status.get("phase_done"))
    done = None if done is None else min(max(done, 0.0), 1.0)
    lead = (f"Validating epoch {status.get('epoch') or '?'}" if phase == "validating"
            else "Measuring the test perplexity")
    lead += (f" on {words:,} words…" if words else "…")
    started = json_number(status.get("phase_started_at"))
    so_far = ([f"{100 * done:.0f}% read"] if done is not None else []) + \
        ([f"{fmt_duration(max(time.time() - started, 0.0))} so far"] if started else [])
    if so_far:
        lead += " " + ", ".join(so_far)
    parts = [lead]
    step, total = json_count(status.get("step")) or 0, json_count(status.get("total_steps")) or 0
    if total:
        parts.append(f"step {step:,} / {total:,}" + (" (then the test set)" if phase == "validating"
                                                       and step >= total else ""))
    if status.get("stopping"):
        parts.append("Stop asked: it stops when this pass ends, its measurement kept")
    elif total and step < total:
        parts.append("ETA paused while it validates")  # the test comes after the last step
    return done or 0.0, " · ".join(parts)


def epoch_progress(status: dict) -> str:
    """'epoch 2', or for a run that ended inside its last epoch 'epoch 2 (11 of its 49 steps)': a run
    capped by max_steps at 1.2 epochs read 'epoch 2' as if it had trained two."""
    position = epoch_position(status.get("step"), status.get("epoch"), status.get("steps_per_epoch"))
    if position is None:
        return f"epoch {status['epoch']}"
    epoch, done = position
    per_epoch = status["steps_per_epoch"]
    if done < per_epoch and status.get("state") not in runs.ACTIVE:
        return f"epoch {epoch} ({done:,} of its {per_epoch:,} steps)"
    return f"epoch {epoch}"


def first_seconds(status: dict) -> str:
    """What a run that has not trained a step in this process yet is doing, in one phrase: waiting
    for the queue, its process launching, or the trainer loading the data (QA round 10: 'queued',
    'starting', 'loading the data' and 'Waiting for the training process' stood together); or that
    it ended before its first step."""
    state = status.get("state")
    if state in ("failed", "stopped", "finished", "broken"):
        return "ended before its first step"
    if state == "running":
        return "loading the data and building the model"
    if status.get("pid"):
        return "launching the training process (a few seconds)"
    return "waiting for the queue to start it"


# ---------------------------------------------------------------- models


@st.cache_resource(max_entries=4, show_spinner="Loading the checkpoint...")
def _load_model(folder: str, which: str, mtime: float):
    return checkpoints.load_model(Path(folder), which)


def model_for(folder: Path, which: str = "best"):
    """(model, vocabulary, payload), cached by checkpoint path and modification time."""
    path = checkpoints.checkpoint_path(folder, which)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        raise runs.RunError(f"{Path(folder).name} has no {which} checkpoint yet") from None
    return _load_model(str(folder), which, mtime)


# ---------------------------------------------------------------- charts


# QA round 4: "Axis clipped at 270.1: tiny reaches 1,802.7" read like a divergence on a healthy run.
CEILING_PURPOSE = "so the first steps do not squash where the runs part"
CEILING_REASON = f"twice the highest latest validation perplexity, {CEILING_PURPOSE}"


class Latest(NamedTuple):
    """A run's latest perplexity that counts toward a shared axis's top: its validation's, or its
    training one's before it has a validation."""
    ppl: float
    kind: str  # "val" or "train"


def curve_clip(curves: list[dict]) -> Clip | None:
    """The y range of a perplexity chart (ppl_figure's curves), or None to show everything; the
    caller captions clip.note(). A diverged run far above the others is left out. With several runs
    on one chart (Compare, the Train watch overlay) the axis also stops at twice the highest of their
    latest validations (latest_ppl): their untrained first steps, in the thousands, and first epochs
    (book's 204 against its 80 at the end) would squash every later point into the bottom of the log
    axis, where the runs differ. The latest, not the best: an over-fitting run's climb (130 back to
    5,700) is its lesson."""
    series = {curve["label"]: curve["frame"]["ppl"].tolist() if len(curve["frame"]) else [] for curve in curves}
    drawn = [curve for curve in curves if len(curve["frame"])]
    validations = [v for curve in drawn for v in split(curve["frame"], "val")["ppl"] if math.isfinite(v)]
    clip = find_clip(series, reference=validations)  # scaled by validation: over-fitting drives train to ~1
    if clip or len(drawn) < 2:
        return clip
    latest = {curve["label"]: latest_ppl(curve["frame"]) for curve in drawn}
    latest = {label: point for label, point in latest.items() if point and math.isfinite(point.ppl)}
    if not latest:
        return None
    label, top = max(latest.items(), key=lambda item: item[1].ppl)
    return ceiling_clip(series, 2 * top.ppl, ceiling_reason(label, top))


def latest_ppl(frame: pd.DataFrame) -> Latest | None:
    """A run's latest validation perplexity, or its latest training one before its first validation:
    a run just started, beside finished ones, must not be cut off above the axis (QA round 8: a tiny
    run's first epoch, 184 to 1,170, was a few pixels at the top of an axis stopping at 173)."""
    for kind in ("val", "train"):
        rows = split(frame, kind)
        if len(rows):
            return Latest(float(rows["ppl"].iloc[-1]), kind)
    return None


def ceiling_reason(label: str, top: Latest) -> str:
    """Why the axis stops where it does, from the value it was computed from: a run with no
    validation yet sets it by its training perplexity, which the sentence must name (QA round 10:
    'twice the highest latest validation' stood beside a live run with no validation, at twice its
    training 136.5)."""
    if top.kind == "val":
        return CEILING_REASON
    return (f"twice {md_escape(label)}'s latest training perplexity ({format_ppl(top.ppl)}; it has no validation "
            f"yet), {CEILING_PURPOSE}")


def clip_axis(figure: go.Figure, clip: Clip | None, log_y: bool, floor: float | None = None) -> None:
    """Limit the y axis to the clip's range (and the floor line), with a little room."""
    if clip is None:
        return
    low = min(clip.low, floor) if floor else clip.low
    if log_y:
        low, high = math.log10(max(low, 1e-9)), math.log10(clip.high)
        pad = max(high - low, 0.1) * 0.08
        figure.update_yaxes(range=[low - pad, high + pad])
    else:
        figure.update_yaxes(range=[0, clip.high * 1.1])


class RunStyle(NamedTuple):
    """How a chart draws a run: its colour, the same on every page, its shape (its markers' symbol,
    its mark in text and its bars' fill, one per colour) and a cycle that counts how often the
    colours went round (past len(RUN_PALETTE) runs drawn together; its dash)."""
    colour: str
    shape: int
    cycle: int = 0

    @property
    def symbol(self) -> str:
        return RUN_SYMBOLS[self.shape]

    @property
    def mark(self) -> str:
        return RUN_MARKS[self.shape]

    @property
    def pattern(self) -> str:
        return RUN_PATTERNS[self.shape]

    @property
    def dash(self) -> str:
        return RUN_DASHES[self.cycle]


# A run's shape goes with its colour (RUN_PALETTE's order), so it is as stable as the colour, and runs
# drawn together differ in shape as they do in colour: in a red-green colour-blind view five runs on
# Compare showed two or three colours (QA round 17). The colours that eye confuses (red, green, orange
# and brown; blue and purple; cyan and pink) get shapes and bar fills far apart (red's bars /, orange's
# -, pink's |: mirrored stripes were the closest pair, and red and pink, a pair a projector shows alike,
# had them until QA round 18). Marks are the markers' shapes in characters most fonts have and no emoji
# font takes over (✖ with U+FE0E, text style), so the mark before a run's name matches its markers.
# Blue, the first, has plain bars.
RUN_SYMBOLS = ("circle", "square", "triangle-up", "diamond", "star", "triangle-down", "x", "cross")
RUN_MARKS = ("●", "■", "▲", "◆", "★", "▼", "✖\ufe0e", "✚")
RUN_PATTERNS = ("", "/", ".", "x", "-", "\\", "+", "|")
# Dashes only once the colours went round: runs differ by shape first. Drawn dashed (screenshots of five
# runs), a run's thin, faint, noisy training line broke into specks, validation lines that overlap
# mottled into one, a dotted legend sample hid its triangle, and a dashed line reads as an entropy floor
# (Compare's floors are dashed lines in their run's colour).
RUN_DASHES = ("solid", "dash", "dot", "dashdot")


def run_styles(ids: list[str]) -> list[RunStyle]:
    """Each run's colour: its id's checksum picks it, so a run drawn beside the same runs has the
    same colour on every page, whatever their order. Runs drawn together never share one while
    colours last (QA round 8: a run's own colour whatever its company gave 8 runs 6 colours, two
    pairs told apart only by dashes): of two runs whose checksums pick one colour, the younger (the
    larger id) takes the next free one. Its shape goes with its colour. Past len(RUN_PALETTE) runs,
    colours repeat with the next cycle's dash and each colour's shape moves on one, so no two runs
    share both shape and dash before 32. The checksum is halved because then the three shipped
    recipes get three colours of their own."""
    styles, taken, cycle = {}, set(), 0
    for run_id in sorted(set(ids)):
        start = zlib.crc32(run_id.encode()) // 2 % len(RUN_PALETTE)
        free = [RUN_PALETTE[(start + k) % len(RUN_PALETTE)] for k in range(len(RUN_PALETTE))
                if RUN_PALETTE[(start + k) % len(RUN_PALETTE)] not in taken]
        # A free colour unlike every taken one first: a classroom pair drawn pink and red was hard to tell
        # apart on a projector where the lines cross (QA round 12).
        colour = next((c for c in free if not NEAR_COLOURS.get(c, set()) & taken), free[0])
        styles[run_id] = colour_style(colour, cycle)
        taken.add(colour)
        if len(taken) == len(RUN_PALETTE):
            taken, cycle = set(), cycle + 1
    return [styles[run_id] for run_id in ids]


def colour_style(colour: str, cycle: int = 0) -> RunStyle:
    """A colour's style in the `cycle`-th round of the colours: its shape moves on one a round, with the
    next dash."""
    return RunStyle(colour, (RUN_PALETTE.index(colour) + cycle) % len(RUN_SYMBOLS), cycle % len(RUN_DASHES))


def place_style(place: int) -> RunStyle:
    """The style of the `place`-th of several things drawn together that are not runs (a grid's cells):
    run_styles' colours and shapes, in order."""
    return colour_style(RUN_PALETTE[place % len(RUN_PALETTE)], place // len(RUN_PALETTE))


def run_curve(label: str, frame: pd.DataFrame, style: RunStyle) -> dict:
    """A run's curve for ppl_figure, drawn in its run_styles style."""
    return {"label": label, "frame": frame, "color": style.colour, "style": style}


def run_mark(style: RunStyle) -> str:
    """A run's mark in its colour, before its name in text: the markers its curve is drawn with.
    Class legend-swatch: a high-contrast screen keeps its colour (ui/app.css)."""
    # 1.2em: at the text's size a triangle or a star was a speck beside a square (1024 px and a phone alike)
    return f"<span class='legend-swatch' style='color:{style.colour};font-size:1.2em'>{style.mark}</span>"


def inherited_time(summary) -> str:
    """A fork's clock goes on from its parent's checkpoint: say so beside its training time (Train,
    Compare), or 0:30 after 20 s of its own training reads wrong (QA round 5)."""
    step = (summary.config or {}).get("fork_step")
    return f" (the parent's up to step {step:,} included)" if isinstance(step, int) and step > 0 else ""


def redone_time(summary) -> str:
    """' (and 0:09 trained again after a kill, not counted)' beside a training time: a resumed run's clock
    goes on from its checkpoint's, and a killed run's time fell on Resume with nothing saying why. Then
    ' (and 1:32 paused, not counted)' for the pauses its trainer left out (lmcore.timing.PauseWatch)."""
    redone, paused = summary.redone_seconds, summary.paused_seconds
    return ((f" (and {fmt_duration(redone)} trained again after a kill, not counted)" if redone else "")
            + (f" (and {fmt_duration(paused)} paused, not counted)" if paused and paused >= 0.5 else ""))


def safe_id(run_id: str) -> str:
    """A run id from a link, fit to quote in a message: only the characters ids are made of."""
    return re.sub(r"[^A-Za-z0-9._-]", "?", run_id)[:80]


def run_colours(ids: list[str]) -> list[str]:
    """run_styles' colours: a run's own, the same on every page."""
    return [style.colour for style in run_styles(ids)]


# How to read several runs on ppl_figure, under the chart (Compare's words; the Train watch overlay
# showed its faint training bands without them, QA round 10).
RUN_LINES_NOTE = ("Each run's faint line is its training perplexity (smoothed), the line with markers its "
                  "validation; the legend names each run once, and a click on a name hides both.")


def curve_traces(curve: dict, place: int, several: bool, smoothing: float = 0.0, x: str = "step") -> list[go.Scatter]:
    """A curve's lines on ppl_figure: its training line (thin, smoothed) and its validation (markers), those
    it has. `place`: its place among the curves drawn, for a colour when it has none; `several`: drawn
    beside other runs."""
    traces = []
    color = curve.get("color") or PALETTE[place % len(PALETTE)]
    style = curve.get("style") or RunStyle(color, 0)
    dash, symbol = style.dash, style.symbol
    frame = curve["frame"]
    train, val = split(frame, "train"), split(frame, "val")
    label = curve["label"]
    if not train.empty:
        train = thin(train)
        traces.append(go.Scatter(x=train[x], y=smooth(train["ppl"].astype(float), smoothing), mode="lines",
                                 name=f"{label} train", line=dict(color=color, width=1.5, dash=dash),
                                 opacity=0.55, legendgroup=label, hovertemplate=_hover(f"{label} train"),
                                 # one legend entry per run beside others: a 1024 px chart with five
                                 # runs' ten entries had a 140 px plot left (QA round 8)
                                 showlegend=not several or val.empty))
    if not val.empty:
        # Beside other runs the legend names the run alone (RUN_LINES_NOTE says which line is which);
        # the hover still says validation.
        traces.append(go.Scatter(x=val[x], y=val["ppl"], mode="lines+markers",
                                 name=label if several else f"{label} validation", legendgroup=label,
                                 hovertemplate=_hover(f"{label} validation"),
                                 line=dict(color=color, width=2.5, dash=dash),
                                 # beside other runs larger: at 7 px a triangle or a cross read as
                                 # a dot, in the legend too
                                 marker=dict(size=10 if several else 7, symbol=symbol)))
    return traces


def ppl_figure(curves: list[dict], log_y: bool = True, smoothing: float = 0.0, x: str = "step", height: int = 420,
               clip: Clip | None = None, traces: list[list[go.Scatter]] | None = None) -> go.Figure:
    """Train (thin, smoothed) and validation (markers) perplexity of one or more runs.

    Each curve: {"label": str, "frame": metrics DataFrame, "color" and "style" (run_curve): optional}. With `clip`
    (curve_clip), the y axis leaves the outliers out; the caller says so in a caption. `traces`: each
    curve's curve_traces, made earlier for the same curves and settings (Compare keeps a finished run's).
    """
    figure = go.Figure()
    for i, curve in enumerate(curves):
        figure.add_traces(traces[i] if traces is not None else curve_traces(curve, i, len(curves) > 1, smoothing, x))
    # The toolbar stands down the right edge: across the top it covered the legend's last entries,
    # and falling curves leave a perplexity chart's top right empty (QA round 6).
    figure.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), hovermode="x unified",
                         legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0), modebar_orientation="v",
                         xaxis_title="training step" if x == "step" else x, yaxis_title="perplexity")
    if len(curves) > 1:
        legend_below(figure, height)
    clip_axis(figure, clip, log_y)
    if log_y:
        log_ticks(figure, clipped=clip is not None)
    return figure


def _hover(name: str) -> str:
    """A perplexity curve's line in the unified hover: its own words, whatever its legend says."""
    return f"{name}: %{{y:,.1f}}<extra></extra>"


# A legend under a chart: one line per entry, LEGEND_LINE px each, below AXIS_ROOM px for the x
# axis's tick labels and title.
LEGEND_LINE = 20
AXIS_ROOM = 60


def legend_entries(figure: go.Figure) -> int:
    """How many entries a figure's legend lists: its traces, less those kept out of it."""
    return sum(trace.showlegend is not False for trace in figure.data)


def legend_below(figure: go.Figure, height: int, axis_room: int = AXIS_ROOM) -> None:
    """Several runs' legend under the plot, one run a line, and the figure taller by its lines, so the
    plot keeps the height it has beside one run. Above it, in rows as wide as the page, 8 runs' names
    took 6 lines of a 1024 px page's 420 px chart and left the curves 140 px (QA round 9); a line each
    keeps every name whole, beside its colour, at any width. `axis_room`: the x axis's height (less
    with no title)."""
    lines = legend_entries(figure)
    # The top margin held the legend: a little is kept for a bar's value above the tallest bar.
    figure.update_layout(height=height + lines * LEGEND_LINE, margin=dict(t=16, b=axis_room + lines * LEGEND_LINE),
                         legend=dict(orientation="v", yref="container", y=0, yanchor="bottom", x=0,
                                     xanchor="left", tracegroupgap=0, maxheight=lines * LEGEND_LINE + LEGEND_LINE))


def log_ticks(figure: go.Figure, clipped: bool = False) -> None:
    """A log y axis with short labels (LOG_TICKS) where it spans a power of ten or so; on a narrower
    one (a new run between 700 and 1,100), Plotly's evenly spaced labels; past LOG_TICKS, unless the
    axis is clipped below (a diverged run drawn alone, at 1e304), Plotly's powers of ten. Call it
    after the axis's range is set, if it is."""
    if not clipped and highest(figure) > LOG_TICKS[-1]:
        figure.update_yaxes(type="log", exponentformat="power")
        return
    low, high = log_span(figure)
    if high >= LOG_TICKS_SPAN * low:
        figure.update_yaxes(type="log", tickvals=LOG_TICKS, ticktext=[tick_text(v) for v in LOG_TICKS])
    else:
        figure.update_yaxes(type="log")


def highest(figure: go.Figure) -> float:
    """The largest finite y of a figure's traces (0 when it has none)."""
    return max(positive_ys(figure), default=0.0)


def log_span(figure: go.Figure) -> tuple[float, float]:
    """(low, high) of a log y axis: its range where one is set (in log10 units, as Plotly takes a log
    axis's range), else the positive finite y values the traces hold."""
    if figure.layout.yaxis.range is not None:
        low, high = figure.layout.yaxis.range
        return 10 ** low, 10 ** high
    values = positive_ys(figure)
    return (min(values), max(values)) if values else (1.0, 1.0)


def positive_ys(figure: go.Figure) -> list[float]:
    values = [v for trace in figure.data for v in (trace.y if trace.y is not None else ())]
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v) and v > 0]


def tick_text(value: float) -> str:
    """50, 2k, 5M: short labels for LOG_TICKS."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def plotly_text(text: str) -> str:
    """A user's text (a run's name) for a Plotly trace name, label or annotation: Plotly reads
    <b>, <i>, <br> and <a> in them as markup, so `&`, `<` and `>` go in as entities, which it shows
    as the characters typed."""
    return html.escape(str(text), quote=False)


def parameter_bar(table: pd.DataFrame) -> go.Figure:
    """One stacked bar of lmcore.params.parameter_table: how the parameters split between the parts
    (tying makes the decoder's vanish)."""
    figure = go.Figure()
    for i, row in enumerate(table.itertuples()):
        if row.parameters:
            figure.add_trace(go.Bar(x=[row.parameters], y=[""], orientation="h", name=row.part, text=f"{row.share:.0%}",
                                    textposition="inside", marker_color=PALETTE[i % len(PALETTE)],
                                    hovertemplate=f"{row.part}: %{{x:,}}<extra></extra>"))
    figure.update_layout(barmode="stack", height=130, margin=dict(l=0, r=0, t=0, b=0),
                         legend=dict(orientation="h", y=-0.15, yanchor="top", x=0, traceorder="normal"),
                         xaxis=dict(visible=False), yaxis=dict(visible=False))
    return figure


# ---------------------------------------------------------------- formatting


# What the one tokens/s figure (RunSummary.tokens_per_s) means, wherever a page shows it.
MEDIAN_SPEED = "the median of its logged intervals"   # what a run older than the average speed shows
SPEED_HELP = ("training tokens per second: the latest logged training batches while the run trains; once it has "
              "ended, its average over all its training steps (tokens trained / seconds spent in steps), time "
              "beside other runs included. Evaluations, samples and saves are left out. The Set-up time estimate uses "
              "another figure: tokens trained over the whole training time, evaluations and saves included, from "
              "runs of the same shape that trained alone where there are any. A run written before its time in "
              f"steps was counted (the book reference run) shows {MEDIAN_SPEED} instead")


def fmt_ppl(value) -> str:
    """'88.2', '1.0e304' (a diverged run reads as huge), 'inf', '—' (explorer.perplexity)."""
    return format_ppl(value)


def is_number(value) -> bool:
    """A finite number, numpy's too (a table cell's int64), not a bool and not a missing value."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def fmt_count(value) -> str:
    """'1.55M', '13.28M', '4.2k', '950': a parameter count, the same on every page (Compare's table
    too, whose own 'compact' format read 1.6M)."""
    if not is_number(value):
        return "—"
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:,.0f}"


def fmt_duration(seconds) -> str:
    """'0:10', '1:02:03': seconds rounded to the nearest one, on every page (Train cut 9.79 s to
    0:09 while Compare rounded it to 00:00:10)."""
    if not is_number(seconds):
        return "—"
    return format_seconds(round(seconds))


def fmt_whole(value) -> str:
    """'1,309': a step count or a speed in tokens/s, with thousands separators everywhere; '—' when
    not known."""
    if not is_number(value):
        return "—"
    return f"{value:,.0f}"


# ---------------------------------------------------------------- the shared sidebar


def sidebar() -> None:
    from lmcore.ptb import ptb_status

    with st.sidebar:
        access.sidebar_note()
        run_counts()
        st.caption(f"Runs folder: `{runs_root()}`")
        ptb = _ptb_status_cached(ptb_status)
        st.caption("PTB: ready" if ptb["available"] else "PTB: not downloaded yet (Start page)")


@st.fragment(run_every=SIDEBAR_REFRESH_SECONDS)
def run_counts() -> None:
    """The runs' counts, kept current on its own: a page whose fragments follow a run (Start's In
    progress) would otherwise show '0 running' beside a run it shows training."""
    summaries = list_runs(runs_root())
    counted = queue.counts(summaries)  # the grid panel's counts, by the same rule
    if counted.waiting:
        # From every page: queued runs continue after an app or machine restart, or a killed worker,
        # whichever tab is open (only Start and Compare did this, and a Train tab waited forever on a
        # queued run; QA round 17).
        queue.ensure_worker(runs_root())
    references = len(reference_folders())  # folders only, no file read: the sidebar draws on every page
    # The reference runs on a line of their own: with 10 runs or more, "· 3" and "reference" wrapped apart.
    st.caption(f"**{len(summaries)}** run{'' if len(summaries) == 1 else 's'} · **{counted.running}** running · "
               f"**{counted.queued}** queued"
               + (f"  \n**{references}** reference run{'' if references == 1 else 's'}" if references else ""))


def _ptb_status_cached(probe):
    cached = st.session_state.get("ui.ptb_status")
    if cached is None or time.time() - cached[0] > 30:
        cached = (time.time(), probe())
        st.session_state["ui.ptb_status"] = cached
    return cached[1]


# ---------------------------------------------------------------- starting runs


def start_run(cfg, count=None) -> str:
    """Create a run folder for a validated Config and train it in a background process; a corpus
    that cannot train raises ConfigError first, as `lmcore train` refuses it, so no page can make a
    run that fails at its first batch. `count`: a page's cache of a text file's split sizes
    (data.corpus_problems), so a file the page has counted is not read again."""
    from lmcore.data import corpus_problems, count_splits
    from lmcore.errors import ConfigError
    from lmcore.launch import launch_new

    access.require()
    found = corpus_problems(cfg, count or count_splits)
    if found:
        raise ConfigError(found)
    folder = runs.create_run(cfg.to_dict(), runs_root(), label=cfg.name or cfg.preset)
    launch_new(folder)
    return folder.name
