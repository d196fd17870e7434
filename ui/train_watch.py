"""The Train page's Watch tab: pick a run, then its progress, numbers, curves and samples,
refreshed every 2 seconds by a fragment that reads only what the run added since."""

from __future__ import annotations

import math
import re
import traceback
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import ui
from explorer import compare, epochs, metrics
from explorer.compare import vocabulary_note
from explorer.compare_links import CHART_DEFAULTS, chart_from_link, chart_query
from explorer.lesson import has_dropout
from explorer.links import CHART_KEYS, TRAIN_TABS, VIEW_KEYS, overlay_from_link, overlay_query
from explorer.textview import SAMPLE_BOX, isolated_name, md_escape, sample_markdown
from lmcore import checkpoints, copies, jsonl, launch, queue, runs
from lmcore.config import ConfigError, coerce, from_dict, key_problem, stored_problems
from lmcore.disk import Usage, megabytes, usage
from lmcore.epochs import checkpoint_place
from lmcore.errors import LmcoreError
from lmcore.presets import preset_values
from lmcore.reference import is_reference
from lmcore.summaries import RunSummary, abreast_of_log, reference_runs, stop_unanswered, summary_of
from lmcore.text import shorten
from lmcore.timing import describe_split
from ui import access, address, compare_url, history, plots, reference, staleness
from ui.compare_runs import floor_caption, floor_curves
from ui.fork import fork_form, parent_curve, scores_note
from ui.grid_charts import axis_top
from ui.train_state import COPY_OF, LINK_WARNINGS, NOTICE, SETUP_TAB, TAB, WATCH_TAB, attach, load_values

WATCH = "train.watch"              # the run selector
LOG_Y, SMOOTHING = "train.log_y", "train.smoothing"   # chart preferences (their widgets add ".w")
CHART_PREFERENCES = {LOG_Y: "log", SMOOTHING: "smooth"}  # each preference's link key (explorer.links.CHART_KEYS)
TAB_LABELS = dict(zip(TRAIN_TABS, (SETUP_TAB, WATCH_TAB)))  # the address's `tab` -> the tab's label
SAMPLES = "train.samples"          # run folder -> MetricsTail of samples.jsonl
DRAWN = "train.drawn_state"        # (run id, state) when the whole page was last drawn
REDRAWN = "train.redrawn_for"      # (run id, state) a full redraw was already asked for
TOASTS = "train.toasts"            # (text, icon) the Stop and Resume callbacks left for the next draw
OVERLAY = "train.overlay"          # reference run ids drawn beside the watched run (none by default)
OVERLAY_AXIS = "train.overlay_axis"  # their shared x axis: a key of reference.AXES
VIEW_LINK = "train.view_link"  # the overlay and chart query last applied from or written into the URL
DEFAULT_AXIS = "epoch"
CHART_HEIGHT = 420  # ui.ppl_figure's
METRIC_WIDTH = 124  # px: the longest label ("Best validation" and its help icon) on one line, 7 to a row at 1400
TIME_SPLIT_HELP = ("Shares of the training time above. Evaluation is the validation perplexity, saving the "
                   "checkpoints and masks, sampling the text generated at each validation; training steps are the "
                   "rest: the forward and backward passes, the optimizer and the logging. A faster step speeds up "
                   "only its share.")

# A student met "device cpu (eager)" with no word on what eager is (QA round 11).
STEP_KIND_HELP = ("In brackets, how each training step ran. **eager**: PyTorch runs the step's operations one "
                  "by one as Python reaches them, the ordinary way. **CUDA graph**: on a GPU, the whole step is "
                  "recorded once and replayed as one unit, which saves launching each small operation (the book "
                  "recipe's steps ran 2.3x faster on an H200). **compiled cell**: the LSTM's gate arithmetic fused "
                  "into one kernel by torch.compile. They train to the same perplexities.")


def watch_tab(run_id: str | None) -> None:
    summaries = ui.all_runs()
    labels = {s.id: ui.run_label(s) for s in summaries}
    if not run_id and (current := st.session_state.get(ui.CURRENT_RUN)) in labels:
        # The sidebar's Train carries no run: its Watch tab said "No run attached" about the run the class
        # had watched a page ago (QA round 12). Opening the tab watches that run again.
        run_id = current
        attach(run_id)
    st.session_state[WATCH] = run_id if run_id in labels else None
    states = {s.id: s.state for s in summaries}
    st.session_state[DRAWN] = (run_id, states.get(run_id))
    row = st.container(horizontal=True, vertical_alignment="bottom")  # the button keeps its whole label
    # index= the run watched (ui.index_of says why): a fresh mount's first run, sent back by the next 2 s
    # refresh, would switch the run watched.
    watched = list(labels).index(run_id) if run_id in labels else None
    row.selectbox("Run", list(labels), index=watched, format_func=labels.get, key=WATCH, on_change=on_watch,
                  width="stretch",
                  placeholder="Pick a run to watch" if labels else "No runs yet: start one in Set up")
    config = next((s.config for s in summaries if s.id == run_id), None)
    row.button("Edit a copy", icon="📋", key="train.copy", disabled=not config,
               on_click=copy_run_config, args=(run_id,), width="content",
               help="Fill Set up with this run's config, to change a key and train again" if config or
               run_id not in labels else "Its config.json is missing or unreadable: there is no recipe to copy")
    if not run_id:
        st.info("No run attached. Pick one above, or set one up and press Start.")
    elif run_id not in labels and ui.run_folder(run_id) is None:
        st.warning(f"There is no run `{ui.safe_id(run_id)}` in `{ui.runs_root()}`: it was deleted, or the link "
                   "comes from another machine.")
        address.offer_named_run(run_id)
    else:
        ui.showing_run(run_id)
        follow_run(run_id)


def copy_run_config(run_id: str) -> None:
    folder = ui.run_folder(run_id)
    raw = runs.read_config(folder) if folder else None
    if raw is None:
        st.session_state[NOTICE] = ("warning", "That run's config.json is missing or unreadable.")
        return
    # what `lmcore train --like` starts from
    started, left = copies.start_from(raw, is_reference(folder), status=runs.read_status(folder))
    values, defaults, refused = preset_values(""), preset_values(""), []
    for key, value in started.items():
        try:
            values[key] = coerce(key, value)
        except ConfigError:
            continue
        if problem := key_problem(key, values[key]):  # an older version let it through; Set up's widget cannot show it
            refused.append(f"`{key}` {md_escape(problem)}, so it is back to its default, {defaults[key]}")
            values[key] = defaults[key]
    # The name `lmcore train --like` gives: the run's own with its key=value tokens kept true at Start
    # (train_setup.on_start), or none where Start made it from the changes.
    values["name"] = copies.copy_name(started, values)
    note = ""
    if left.device:  # where it was measured, not what a copy needs: this machine may have no GPU
        note = f" The device is back to `{values['device']}` (the reference trained on {md_escape(left.device)})."
    if left.group:  # QA round 19: a copy joined the grid unseen, a same-seed copy counted as one more seed
        note += (f" It joins no grid: Group (under Advanced) is cleared, where it was {md_escape(left.group)}; "
                 "set Group again to add it to that grid as one more run of its cell.")
    if left.parent:  # QA round 10: a copy of a fork kept its name and nothing said it starts afresh
        note += f" It trains from step 0: a copy of a fork is not a fork (its parent `{left.parent}` is not used)."
    if left.threads:  # a CPU run on automatic threads: another count rounds differently
        words = copies.threads_words(folder.name, left.threads, pin="CPU threads {n} (under Advanced)")
        note += f" {md_escape(words)}."
    if left.newer:  # a run from before a key existed: the form shows its default, said so
        note += f" {md_escape(copies.predates(folder.name, left.newer))}."
    if refused:
        note += " In that run " + "; ".join(refused) + "."
    load_values(values)
    st.session_state[COPY_OF] = {"original": started, "name": values["name"]}
    st.session_state[TAB] = SETUP_TAB
    st.session_state[NOTICE] = ("success", f"Loaded the config of `{folder.name}`: change what you like, then Start."
                                + note)


def new_samples(folder: Path) -> list[dict]:
    tails = st.session_state.setdefault(SAMPLES, {})
    if str(folder) not in tails:
        tails[str(folder)] = jsonl.MetricsTail(folder / "samples.jsonl")
    return tails[str(folder)].read_all()


def last(frame: pd.DataFrame, kind: str, column: str = "ppl", back: int = 1):
    rows = frame[frame["kind"] == kind]
    return rows[column].iloc[-back] if len(rows) >= back else None


def log_cut_at(frame: pd.DataFrame, summary: RunSummary) -> int | None:
    """The last step metrics.jsonl holds, where it stops short of a finished run's end: its status has
    a test score, written after the last lines, but the log has no test line (cut or damaged). The
    curve stopped there without a word, and its last validation contradicted the final one above it
    (QA round 16). None when the log is whole."""
    if summary.state != "finished" or summary.test is None or frame.empty or (frame["kind"] == "test").any():
        return None
    return int(frame["step"].max())


def run_header(summary: RunSummary) -> None:
    # The title and the links to the other pages share a row, which wraps on a narrow screen: on a
    # 1280x720 projector the live chart began at y 640, below the class's view (QA round 12).
    row = st.container(horizontal=True, gap="small", vertical_alignment="center")
    with row:
        st.markdown(f"#### {ui.STATE_ICONS.get(summary.state, '')} {md_escape(isolated_name(summary.name))} · "
                    f"{ui.shown_state(summary)}", width="content")
        run_links(summary)
    if summary.device is None and summary.is_active:  # not loaded yet: the progress line says what it does
        parts = [f"`{summary.id}`"]
    else:
        device = f"device {summary.device_text(summary.step_kind or '') or '—'}"
        parts = [f"`{summary.id}`", device, f"{ui.fmt_count(summary.params)} parameters",
                 f"training time {ui.fmt_duration(summary.training_seconds)}{ui.inherited_time(summary)}"
                 f"{ui.redone_time(summary)}"]
    if summary.max_steps:
        parts.append(f"capped at {summary.max_steps:,} steps (max_steps)")
    if summary.path and not summary.is_reference:  # a long run's epoch checkpoints grow here (QA round 19: 2.2 GB)
        parts.append(disk_text(usage(summary.path)))
    st.caption(" · ".join(parts), help=STEP_KIND_HELP if summary.step_kind and summary.device else None)
    if summary.is_reference:
        st.info(reference.provenance(summary), icon=":material/verified:")


def disk_text(held: Usage) -> str:
    """'on disk 37.4 MB'; 'on disk 236 MB (of it 198 MB in 11 epoch checkpoints: Compare's Free deletes them once
    it is done)'; 'on disk 150 MB (of it 112 MB in 6 epoch checkpoints: ...; 2 more are also best.pt or last.pt,
    which stay)'. The bytes and the count are of the same files: an epoch checkpoint that is also best.pt or last.pt
    frees nothing, and counting it read 112 MB in 8 checkpoints, 14 MB each beside Set up's 18.7 MB (QA)."""
    if not held.spare:
        return f"on disk {megabytes(held.total)}"
    own = held.epochs - held.shared
    also = (f"; {held.shared:,} more {'is' if held.shared == 1 else 'are'} also best.pt or last.pt, which "
            f"{'stays' if held.shared == 1 else 'stay'}") if held.shared else ""
    return (f"on disk {megabytes(held.total)} (of it {megabytes(held.spare)} in {own:,} epoch checkpoint"
            f"{'s' if own != 1 else ''}: Compare's Free deletes them once it is done{also})")


def time_split(summary: RunSummary) -> None:
    """Under the numbers, not the header: a detail of the training time, not what a class watches."""
    if split := describe_split(summary.time_split):
        st.caption(f"Where the training time went: {split}", help=TIME_SPLIT_HELP)


def run_links(summary: RunSummary) -> None:
    """The other pages, each opened on this run; short labels, so they fit beside the run's title."""
    inside, inside_help = inside_label(summary)
    links = [("app_pages/compare.py", "Compare", ":material/compare_arrows:",
              compare_url.link_query([summary.id], keep_selection=True), "Compare it with other runs"),
             ("app_pages/inside.py", inside, ":material/biotech:", inside_query(summary), inside_help),
             ("app_pages/generate.py", "Generate text", ":material/edit_note:", {"run": summary.id},
              "Generate text with it, and see which words it weighed")]
    row = st.container(horizontal=True, gap="medium", width="content")
    for page, label, icon, query, help_text in links:
        row.page_link(page, label=label, icon=icon, query_params=query, help=help_text)


def inside_query(summary: RunSummary) -> dict:
    """Inside opened on this run: its masks, or for a run without dropout its parameters tab."""
    return {"run": summary.id} if used_dropout(summary) else {"run": summary.id, "tab": "params"}


def inside_label(summary: RunSummary) -> tuple[str, str]:
    """What Inside the model shows of this run (QA round 10: tiny was offered 'The dropout masks it
    used'), as a short label and its help."""
    if used_dropout(summary):
        return "Dropout masks", "Inside the model: the dropout masks it used"
    return "Parameters", "No dropout: Inside the model shows its parameters, layer by layer"


def used_dropout(summary: RunSummary) -> bool:
    """Whether the run's config drops units; a run without a readable config counts as one that does
    (Inside's masks tab says what is wrong with it)."""
    try:
        return not summary.config or has_dropout(from_dict(summary.config))
    except ConfigError:
        return True


def resumable(summary: RunSummary) -> bool:
    """Resume (or Start over) applies: a stopped or failed run of the user's, or a damaged one whose
    config.json still reads (the trainer rebuilds its status.json from the checkpoint)."""
    if summary.is_reference:
        return False
    if stored_problems(summary.config or {}):  # it would fail the same way (rule_breaks says so)
        return False
    return summary.state in ("stopped", "failed") or (summary.is_broken and bool(summary.config))


def progress_line(summary: RunSummary, frame: pd.DataFrame) -> tuple[float, str]:
    """ui.progress_text at the summary's step, which for a killed run is the last one logged (its
    status.json lags), and for a running one never behind the curve drawn from `frame`, its metrics
    (summaries.abreast_of_log); a damaged folder has no plan to measure the step against. Which file is
    damaged the page says below: a missing config.json was called a damaged status.json (QA round 16)."""
    if summary.is_broken:
        source = ", read from its log" if summary.status.get("state") == "broken" else ""
        step = f"step {summary.step:,}{source}" if summary.step is not None else "no step can be read"
        return 0.0, f"{step} · its folder is damaged"
    status = {**summary.status, "step": summary.step} if summary.step is not None else summary.status
    status = abreast_of_log(status, metrics.latest_line(frame))
    launching = summary.state == "queued" and summary.status.get("pid")
    if (launching or summary.status.get("phase") == "starting") and (start := resumes_at(summary.path)):
        status = {**status, **start}
    return ui.progress_text(status)


def resumes_at(folder: Path) -> dict | None:
    """{"step", "epoch"} of last.pt, where a resumed run that is launching starts again: its status.json
    still holds the killed trainer's lagging step (QA round 12: 'step 208' flashed between 'step 214'
    logged and the checkpoint's 149 it resumed from). None without a readable last.pt."""
    if (progress := last_progress(folder)) is None:
        return None
    step, epoch, window = progress
    return {"step": step, "epoch": epochs.checkpoint_epoch({"step": step, "epoch": epoch, "window": window})}


def run_controls(summary: RunSummary, saved: SavedPoint | None) -> None:
    """Stop, Resume or Start over. They act in on_click callbacks, which Streamlit runs before it
    looks for the fragment: a Stop clicked as the run went from queued to running, when the page
    redraws whole (follow_state), reached a fragment that no longer existed and was dropped, and
    the run trained to its end (QA round 11: 5 of 8 clicks at about 2 s)."""
    folder, state = summary.path, summary.state
    for toast, icon in st.session_state.pop(TOASTS, []):
        st.toast(toast, icon=icon)
    if summary.is_reference:
        st.button("Resume", icon="▶️", key=f"train.resume.{folder.name}", width="stretch", disabled=True,
                  help=ui.READ_ONLY_HELP)
    elif state in runs.ACTIVE:
        st.button("Stop", icon="⏹️", key=f"train.stop.{folder.name}", width="stretch", on_click=stop_clicked,
                  args=(folder, summary.step), disabled=not access.may_change(),
                  help=access.help_or_refusal("Saves a checkpoint at the step it has reached, then stops; "
                                              "Resume continues from it"))
    elif resumable(summary):
        label, help_text, toast = ((
            "Resume", f"Continue in a new background process from {resume_text(summary.step, saved)}",
            f"Resuming from step {saved.step:,}...") if saved else
            ("Start over", "It saved no checkpoint, so it trains again from step 0 with the same config (a run "
             "that diverged will diverge again: change its config with Edit a copy)", "Starting over from step 0..."))
        st.button(label, icon="▶️", key=f"train.resume.{folder.name}", width="stretch", type="primary",
                  help=access.help_or_refusal(help_text), on_click=resume_clicked, args=(folder, toast),
                  disabled=not access.may_change())


def stop_clicked(folder: Path, step: int | None) -> None:
    if refused := access.refusal():   # the button is off too: this is for a click sent around it
        say(refused, icon="🔒")
        return
    if runs.unqueue(folder):
        say(f"Taken off the queue before it started: it waits, stopped at step {step or 0:,}, and Resume trains it.")
        return
    stopped = runs.stop_run(folder)
    passing = runs.read_status(folder).get("phase") in ("validating", "testing")
    first = "it first ends the pass over the evaluation set it is in, then saves" if passing else "the run saves"
    say(f"Stopping (it was at step {step or 0:,}): {first} a checkpoint at the step it stops on, then the "
        "page says where Resume continues." if stopped else "No training process is running.")


def resume_clicked(folder: Path, toast: str) -> None:
    if refused := access.refusal():
        say(refused, icon="🔒")
        return
    try:
        launch.launch(folder)
        say(toast)
    except LmcoreError as error:  # e.g. another page resumed it a moment ago
        say(str(error).splitlines()[0], icon="⚠️")


def say(text: str, icon: str | None = None) -> None:
    """A toast for the next draw of the controls: a callback runs before the page draws."""
    st.session_state.setdefault(TOASTS, []).append((text, icon))


class SavedPoint(NamedTuple):
    """Where a run's last.pt stands: its step, and that step's place in the plan ('epoch 3 of 40')."""
    step: int
    place: str


def saved_point(folder: Path, planned: int | None) -> SavedPoint | None:
    """last.pt's step, which status.json cannot give after a kill -9 (its step is the latest
    progress, past the checkpoint); None without a readable last.pt. `planned`: the epochs its plan
    reaches (planned_epochs)."""
    if (progress := last_progress(folder)) is None:
        return None
    step, epoch, window = progress
    return SavedPoint(step, checkpoint_place(epoch, window, planned))


def last_progress(folder: Path) -> tuple[int, int, int] | None:
    """(step, epoch, window) of the run's last.pt; None without a readable one."""
    path = folder / "checkpoints" / "last.pt"
    try:
        stamp = path.stat()
    except OSError:
        return None
    return checkpoint_progress(str(path), stamp.st_mtime_ns, stamp.st_size)


@st.cache_data(max_entries=64, show_spinner=False)
def checkpoint_progress(path: str, mtime_ns: int, size: int) -> tuple[int, int, int] | None:
    """checkpoints.saved_progress, read once per save (the stamp keys the cache)."""
    return checkpoints.saved_progress(Path(path))


def planned_epochs(summary: RunSummary, frame: pd.DataFrame) -> int | None:
    """The epochs a run's plan reaches: its `epochs`, or fewer where max_steps cuts the plan short
    (a run capped at 60 steps of 149 an epoch read "epoch 1 of 8"); None when that is unknown."""
    planned = jsonl.json_count(summary.config.get("epochs"))
    if not summary.max_steps or not planned:
        return planned
    per_epoch = epochs.steps_per_epoch(summary, frame)
    return min(planned, math.ceil(summary.total_steps / per_epoch)) if per_epoch and summary.total_steps else None


def resume_text(step: int | None, saved: SavedPoint) -> str:
    """'the checkpoint at step 1,000 (epoch 2 of 40); steps 1,001-1,234, trained after it, are trained
    again': a killed run's status is past its checkpoint, and that work is lost."""
    text = f"the checkpoint at step {saved.step:,} ({saved.place})"
    if isinstance(step, int) and step > saved.step:
        again = f"step {step:,}" if step == saved.step + 1 else f"steps {saved.step + 1:,}–{step:,}"
        text += f"; {again}, trained after it, {'is' if step == saved.step + 1 else 'are'} trained again"
    return text


def stopped_text(step: int, saved: SavedPoint | None) -> str:
    """'Stopped at step 1,234 (epoch 3 of 40): checkpoint saved at step 1,234; Resume continues from there.'"""
    if saved is None:
        return f"Stopped at step {step:,} before its first checkpoint: Start over trains it again from step 0."
    if saved.step == step:
        return (f"Stopped at step {step:,} ({saved.place}): checkpoint saved at step {step:,}; "
                "Resume continues from there.")
    return f"Stopped at step {step:,}: Resume continues from {resume_text(step, saved)}."


def glance(numbers: list[tuple]) -> None:
    """The run's numbers (figures) in one line under its progress, for a phone (ui/app.css hides it
    elsewhere): there the row of numbers stands under the chart, a screen and a half down (QA round 15)."""
    shown = {label: value for label, value, _, _ in numbers if label in GLANCED and value not in ("—", None)}
    if shown:
        with st.container(key="train.glance"):
            st.caption(" · ".join(f"{GLANCED[label]} **{value}**" for label, value in shown.items()))


GLANCED = {"Train perplexity": "train", "Validation": "val", "Best validation": "best", "Test": "test",
           "Tokens / s": "tokens/s"}


def run_numbers(numbers: list[tuple]) -> None:
    row = st.container(horizontal=True, gap="small")  # wraps on a narrow screen instead of cutting labels
    for label, value, delta, help_text in numbers:
        row.metric(label, value, delta, delta_color="inverse", help=help_text, width=METRIC_WIDTH)


def figures(frame: pd.DataFrame, summary: RunSummary) -> list[tuple]:
    """(label, value as shown, change, help) for each of the run's numbers."""
    val, previous = last(frame, "val"), last(frame, "val", back=2)
    test = summary.test if summary.test is not None else last(frame, "test")
    lr = last(frame, "train", "lr")
    best_help = "the checkpoint kept as best.pt" + (f", from epoch {summary.best_epoch}"
                                                    if summary.best_epoch is not None else "")
    numbers = [("Train perplexity", ui.fmt_ppl(last(frame, "train")), None,
                "the latest logged training batches, measured with dropout on and while the weights change: it "
                "can read above validation (evaluated without dropout)"),
               ("Validation", ui.fmt_ppl(val), change(val, previous),
                "the latest evaluation; the arrow compares it with the one before"),
               ("Best validation", ui.fmt_ppl(summary.best_val), None, best_help),
               ("Test", ui.fmt_ppl(test), None, "of the best checkpoint, once training has finished"),
               # Three digits fit the metric's width: zaremba-medium's 0.0221839 read "0.022…" (QA round 8).
               ("Learning rate", f"{lr:.3g}" if isinstance(lr, (int, float)) else "—", None,
                f"of the latest logged training step: {lr:.6g}" if isinstance(lr, (int, float)) else None),
               ("Tokens / s", ui.fmt_whole(summary.tokens_per_s), None,
                f"this run's figure is {ui.MEDIAN_SPEED}: it was written before its time in steps was counted"
                if summary.speed_basis == "median" else ui.SPEED_HELP)]
    if summary.status.get("floor_ppl"):
        numbers.append(("Best possible", ui.fmt_ppl(summary.status["floor_ppl"]), None,
                        "the entropy floor of the generated corpus (exp of the source's entropy rate): the best "
                        "any model can do on average; on a finite split even the source itself lands about 1% "
                        "either side"))
    return numbers


def change(value, before) -> str | None:
    """'+3.2', '-0.5', '+1.0e304' (a diverged jump reads as huge, as the value does)."""
    if not isinstance(value, (int, float)) or not isinstance(before, (int, float)):
        return None
    difference = value - before
    shown = ui.fmt_ppl(abs(difference))
    if difference != difference or shown == ui.fmt_ppl(0.0):  # inf - inf, or "-0.0": no change worth an arrow
        return None
    return ("-" if difference < 0 else "+") + shown


def unstarted_fork(summary: RunSummary) -> bool:
    """A fork created and not trained yet (`lmcore fork --no-start`): it waits, stopped at its fork step."""
    step = (summary.config or {}).get("fork_step")
    return isinstance(step, int) and summary.step == step and summary.state == "stopped"


def run_chart(summary: RunSummary, frame: pd.DataFrame) -> None:
    if frame.empty:
        st.info("No measurements yet: the first ones appear a few steps into training." if summary.is_active else
                "No measurements can be read from its damaged folder." if summary.is_broken else
                "No measurements of its own yet: Resume starts it." if unstarted_fork(summary) else
                "No measurements: it ended before its first log.")
        return
    state = st.session_state
    chart = st.container()  # filled below, once the controls under it are read
    left, right = st.columns([1, 3], vertical_alignment="center")
    for preference, key in CHART_PREFERENCES.items():  # widgets forget their state while unrendered
        state.setdefault(preference, CHART_DEFAULTS[key])
        if preference + ".w" not in state:
            state[preference + ".w"] = state[preference]
    # value= the preference: a widget the browser mounts afresh (the live view giving way to the ended
    # one, under load) starts from its default, and without one that was off and 0, which the next timed
    # rerun sent back as a change: the chart went linear and raw by itself (QA round 22).
    log_y = left.toggle("Log scale", value=state[LOG_Y], key=LOG_Y + ".w", on_change=remember, args=(LOG_Y,))
    smoothing = right.slider("Smoothing of the train curve", 0.0, 0.99, value=state[SMOOTHING],
                             step=0.01, key=SMOOTHING + ".w", on_change=remember, args=(SMOOTHING,),
                             help="Exponential moving average of the noisy per-batch perplexity (0 = raw)")
    overlays, axis = overlay_controls(summary)
    runs_drawn = [summary, *overlays]
    logged = [metrics.with_fork_start(frame, summary), *(ui.metrics_frame(s.path) for s in overlays)]
    # Steps mean nothing across runs this different: see ui/reference.py.
    frames = [reference.on_axis(s, f, axis) for s, f in zip(runs_drawn, logged)] if overlays else logged
    # Each run in the colour and shape it has on Start and Compare, whatever is drawn beside it.
    styles = ui.run_styles([s.id for s in runs_drawn])
    curves = [ui.run_curve(s.name, f, style) for s, f, style in zip(runs_drawn, frames, styles)]
    clip = ui.curve_clip(curves)  # a fork and its parent's start read as one run: no clip for the branch
    branch = None if overlays else parent_curve(summary)
    if branch:  # in its own grey, drawn last
        curves.append(branch)
    x = axis if overlays else "step"
    figure = ui.ppl_figure([{**c, "label": ui.plotly_text(c["label"])} for c in curves], log_y=log_y,
                           smoothing=smoothing, clip=clip, x=x)
    floor_note = floor_lines(figure, runs_drawn, curves, x, clip, log_y)
    # Keep zoom and hidden traces across refreshes, until the runs drawn or their axis change.
    figure.update_layout(uirevision=" ".join([s.id for s in runs_drawn] + [axis]))
    if overlays:
        figure.update_layout(xaxis_title=reference.AXES[axis])
    with chart:
        plots.show(figure, "train.chart", toolbar=True)
        if overlays:
            st.caption(overlay_caption(runs_drawn, logged, frames, axis))
        if floor_note:
            st.caption(floor_note)
        # Named only if past the axis drawn: ui.clip_axis leaves room above the clip, where a peak shows.
        if clip and (past := clip.beyond(axis_top(figure, log_y))):
            st.caption(past.note())


def floor_lines(figure: go.Figure, runs_drawn: list[RunSummary], curves: list[dict], x: str, clip, log_y: bool
                ) -> str | None:
    """The entropy floor of a run on the generated corpus, as Compare draws it: over that run's own
    steps, in its colour, named in the legend (QA round 10: its label across the whole chart lay under
    a reference run's training band, and read as a floor for the PTB runs beside it). Returns the
    caption that says whose floor it is when other runs are drawn, else None."""
    floors = compare.floors(runs_drawn, [c["label"] for c in curves[:len(runs_drawn)]])
    if floor_curves(figure, floors, curves, x) and len(curves) > 1:
        ui.legend_below(figure, CHART_HEIGHT)  # again: the floor's entry is a line of the legend too
    ui.clip_axis(figure, clip, log_y, min(floors, default=None))  # the range again, down to the floor
    if log_y:
        ui.log_ticks(figure, clipped=clip is not None)  # again: a floor below every curve widens the axis
    return floor_caption(floors, len(runs_drawn))


def overlay_controls(summary: RunSummary) -> tuple[list[RunSummary], str]:
    """The reference runs ticked to draw beside this one (none by default), and their x axis."""
    recipes = reference.in_recipe_order(reference_runs())
    names = overlay_names(recipes)
    others = {s.id: s for s in recipes if s.id != summary.id}
    if not others:
        return [], "step"
    state = st.session_state
    state[OVERLAY] = [r for r in state.get(OVERLAY) or [] if r in others]  # not the run watched
    # One pill a recipe, each whole: a multiselect's chips scrolled out of its box at 1024 px
    # ("edium × | variational-medium ×", QA round 10). Both controls wrap as one row.
    row = st.container(horizontal=True, vertical_alignment="bottom")
    # wrap=True: in a horizontal row pills keep one line and scroll, and at 390 px the fourth recipe's pill
    # sat past the screen's edge (QA round 29).
    chosen = row.pills("Add the full recipe on a GPU", list(others), selection_mode="multi", default=state[OVERLAY],
                       format_func=names.get, key=OVERLAY, persist_state="session", on_change=view_in_url, wrap=True,
                       help="Runs this project trained to the end on a GPU (docs/results/runs/), drawn beside "
                            "this one; the address bar keeps them")
    if not chosen:
        return [], "step"
    state.setdefault(OVERLAY_AXIS, DEFAULT_AXIS)  # a link may have set it; the default= is what it holds
    axis = row.segmented_control("x axis", list(reference.AXES), default=state[OVERLAY_AXIS], key=OVERLAY_AXIS,
                                 required=True,
                                 persist_state="session", on_change=view_in_url,
                                 format_func=lambda a: "epoch" if a == "epoch" else "share of training")
    return [others[r] for r in chosen if r in others], axis or DEFAULT_AXIS


def overlay_names(recipes: list[RunSummary] | None = None) -> dict[str, str]:
    """Reference run id -> the name the page and its links call it by: its recipe (its preset, or its own
    name where it changed a preset's key: `book-horizontal`), or its id where another reference run has
    that name too. `recipes`: the reference runs in recipe order, when the caller has them."""
    names: dict[str, str] = {}
    for run in recipes if recipes is not None else reference.in_recipe_order(reference_runs()):
        name = reference.recipe_name(run)
        names[run.id] = run.id if name in names.values() else name
    return names


def apply_view_link() -> None:
    """Tick what a new link's `overlay` and `overlay_x` name and set the chart's `log` and `smooth`,
    once (the query applied is remembered), with one warning per value ignored. A URL without them
    keeps the session's when the sidebar led here, and means the defaults on Back or Forward
    (ui/history.py). Call before the page draws its warnings."""
    query = view_in_address() or history.bare_address("train.view", st.session_state.get(VIEW_LINK))
    if query is None or query == st.session_state.get(VIEW_LINK) or history.lagging("train.view", query):
        return
    names = overlay_names()
    ids = {name: run_id for run_id, name in names.items()}
    chosen, axis, warnings = overlay_from_link(query, list(ids), list(reference.AXES))
    st.session_state[OVERLAY] = [ids[name] for name in chosen]
    st.session_state[OVERLAY_AXIS] = axis
    chart, ignored = chart_from_link({key: query[key] for key in CHART_KEYS if key in query})
    for preference, key in CHART_PREFERENCES.items():
        st.session_state[preference] = st.session_state[preference + ".w"] = chart[key]
    tab = str(query.get("tab", "")).strip()
    if tab and tab not in TRAIN_TABS:
        warnings.append(f"ignored tab={shorten(tab)!r}: must be {' or '.join(TRAIN_TABS)}")
    st.session_state[TAB] = TAB_LABELS.get(tab) or default_tab()
    st.session_state[VIEW_LINK] = query
    warnings += [re.sub(r"^`(\w+)=(.*)` \((.*)\)$", r"ignored \1='\2': \3", item) for item in ignored]  # as overlay's
    st.session_state[LINK_WARNINGS] = st.session_state.get(LINK_WARNINGS, []) + warnings


def default_tab() -> str:
    """The tab an address opens when it names none: Watch for a run, Set up without one."""
    return WATCH_TAB if st.query_params.get("run") else SETUP_TAB


def view_in_address() -> dict[str, str]:
    return {key: st.query_params[key] for key in VIEW_KEYS if key in st.query_params}


def view_in_url() -> None:
    """Write the reference runs drawn, their axis and the chart's log scale and smoothing into the
    address bar where they differ from the defaults (the page promises a reload or a shared link
    keeps what it shows), in one change, leaving its other keys as they are."""
    state = st.session_state
    names = overlay_names()
    chosen = [names[run_id] for run_id in state.get(OVERLAY) or [] if run_id in names]
    wanted = {**overlay_query(chosen, state.get(OVERLAY_AXIS) or DEFAULT_AXIS, DEFAULT_AXIS),
              **chart_query({key: state[preference] for preference, key in CHART_PREFERENCES.items()
                             if preference in state})}
    if state.get(TAB, default_tab()) != default_tab():  # a run's Set up tab (Edit a copy): a reload keeps it
        wanted["tab"] = next(name for name, label in TAB_LABELS.items() if label == state[TAB])
    if wanted != view_in_address():
        others = {key: st.query_params.get_all(key) for key in st.query_params if key not in VIEW_KEYS}
        st.query_params.from_dict({**others, **wanted})
    state[VIEW_LINK] = wanted  # written here, so not applied again as a new link
    history.wrote("train.view", wanted)


def overlay_caption(drawn: list[RunSummary], logged: list[pd.DataFrame], placed: list[pd.DataFrame],
                    axis: str) -> str:
    """How to read the lines (as Compare says it), why the x axis is not the step, and which run
    could not be placed on it."""
    lost = [s.name for s, f in zip(drawn, placed) if f.empty]
    text = ui.RUN_LINES_NOTE + " "
    if axis == "epoch":
        by_steps: dict[float, list[str]] = {}  # runs of one epoch length in one clause, not "takes 1,327" thrice
        for s, f, p in zip(drawn, logged, placed):
            if not p.empty:
                by_steps.setdefault(epochs.steps_per_epoch(s, f), []).append(s.name)
        text += ("Steps differ between these runs, so each is drawn by its own epochs: "
                + ", ".join(f"{ui.and_join(names)} {'take' if len(names) > 1 else 'takes'} {steps:,.0f} steps an epoch"
                            for steps, names in by_steps.items()) + ".")
    else:
        text += "Each run is drawn from its first step (0) to its last planned step (1)."
    if vocabularies := vocabulary_note([s.vocab_size for s in drawn]):
        text += " " + vocabularies
    if lost:
        text += f" Not drawn here ({'steps per epoch unknown' if axis == 'epoch' else 'no steps yet'}): " \
                + ", ".join(lost) + "."
    return text


def remember(preference: str) -> None:
    """Keep a chart preference when its widget is not on screen (other tab, other page), and put it in
    the address: the chart redraws in its fragment, without the page's own write at its end."""
    st.session_state[preference] = st.session_state[preference + ".w"]
    view_in_url()


def run_samples(folder: Path) -> None:
    samples = new_samples(folder)
    if not samples:
        return
    st.markdown("##### Sampled text, newest first")
    st.caption("The last three samples, one per validation, each drawn with the run's seed from the same prompt, so "
               "only the model changes between them (a model that has settled writes the same text again); Generate "
               "shows them all, oldest first, beside their perplexities.")
    for number, record in enumerate(reversed(samples[-3:])):
        with st.container(border=True, key=f"{SAMPLE_BOX}watch-{number}"):   # each line in its own direction
            st.caption(f"step {ui.fmt_whole(record.get('step'))} · epoch {ui.fmt_whole(record.get('epoch'))} · "
                       f"temperature {record.get('temperature', '?')}")
            st.markdown(sample_markdown(record))


def rule_breaks(found: list[str]) -> str:
    """Why a run whose config.json breaks a rule that holds now (an older version let it through) cannot
    start over: the same config fails the same way."""
    return (f"This run's config breaks a rule: {md_escape('; '.join(found))}. Starting it over would fail the same "
            "way: **Edit a copy** sets it within its rule.")


def broken_remedy(summary: RunSummary, saved: SavedPoint | None) -> str:
    """What a damaged run can still do: its config and checkpoint are enough to go on (lmcore.session
    rebuilds status.json), its config alone to start over; without a config only deleting is left."""
    if not resumable(summary):
        return "Delete it on **Compare** when you no longer need it."
    if saved is None:
        return ("Its config.json still reads but it has no checkpoint: Start over trains it again from step 0 "
                "and writes a new status.json.")
    return (f"Its config.json and checkpoint still read: Resume continues from {resume_text(summary.step, saved)}, "
            "and writes a new status.json.")


def run_outcome(folder: Path, summary: RunSummary, saved: SavedPoint | None) -> None:
    status, state = summary.status, summary.state
    if state == "broken":
        st.warning(f"This run folder is damaged ({summary.problem}); showing what can still be read. "
                   f"{broken_remedy(summary, saved)}")
    elif state == "failed":
        st.error(f"**Training failed:** {status.get('error') or 'no message'}")
        if broken_rules := stored_problems(summary.config):
            st.warning(rule_breaks(broken_rules))
        if saved:
            st.caption(f"Resume continues from {resume_text(summary.step, saved)}.")
        tail = launch.log_tail(folder, 30)
        if tail:
            with st.expander("The end of this attempt's log", expanded=True):
                # Wrapped: at 390 px 'starting 20261129-191904-tiny-dropout…' ran past the box's edge, read only
                # by swiping inside it (QA).
                st.code(tail, language=None, wrap_lines=True)
    elif state == "stopped" and summary.is_reference:
        st.info(f"Cut short at step {status.get('step', 0):,} of {summary.total_steps or 0:,}: {scores_text(summary)}.")
    elif state == "stopped" and unstarted_fork(summary):
        st.info(f"Forked at step {status.get('step', 0):,}, not started yet: Resume trains it from there.")
    elif state == "stopped":
        st.info(stopped_text(summary.step or 0, saved))
    elif state == "finished" and not summary.guessing_note:
        st.success(f"Finished: {scores_text(summary)}.")
    elif state == "finished":   # no green for a model worse than knowing nothing
        st.warning(f"Finished: {scores_text(summary)}. {guessing_text(summary)}", icon=":material/casino:")
    elif state == "queued" and (reason := queue.waiting_reason(summary)):
        st.warning(reason, icon="⏳")
    elif state == "running" and (unanswered := stop_unanswered(summary)):
        st.warning(unanswered, icon="⏹️")
    if state == "stopped" and summary.guessing_note:
        st.warning(guessing_text(summary), icon=":material/casino:")
    if summary.unknown_note:
        note = summary.unknown_note.replace("<unk>", "`<unk>`")
        st.warning(f"{note[0].upper()}{note[1:]}. Give more text, or text whose "
                   "words repeat (and, for a language written without spaces, words separated by spaces).",
                   icon=":material/help:")


# Under this many steps a run may still be near its untrained loss, which starts above ln V: measured
# healthy runs were below the line by step 10 (lmcore/divergence.py).
SHORT_RUN_STEPS = 20


def guessing_text(summary: RunSummary) -> str:
    """The note of a run worse than uniform guessing, with what most likely made it so."""
    note, steps = summary.guessing_note or "", summary.step or 0
    why = (f"It trained only {steps:,} steps, and an untrained model starts at or above that line: train it longer."
           if steps < SHORT_RUN_STEPS else
           f"A healthy run is far below that line within a few dozen steps; after {steps:,}, its learning rate is "
           "most likely too high (or far too low). **Edit a copy** and change lr.")
    return f"**{note[0].upper()}{note[1:]}.** {why}"


def scores_text(summary: RunSummary) -> str:
    """'best validation perplexity 82.3 (epoch 3), final 85.0, test 80.1', and for a fork where it
    started ('; it started from 80.4 (the parent's epoch 2)')."""
    return (f"best validation perplexity {ui.fmt_ppl(summary.best_val)}{ui.best_epoch_suffix(summary)}, "
            f"final {ui.fmt_ppl(summary.final_val)}, test {ui.fmt_ppl(summary.test)}{scores_note(summary)}")


def follow_state(run_id: str, state: str) -> None:
    """The run changed state since the page was drawn: redraw everything once (the run list, the
    sidebar's counts), not just this fragment."""
    now = (run_id, state)
    if st.session_state.get(DRAWN, now) != now and st.session_state.get(REDRAWN) != now:
        st.session_state[REDRAWN] = now
        st.rerun()


def show_run(folder: Path) -> None:
    frame = ui.metrics_frame(folder)
    summary = summary_of(folder)
    state = summary.state
    follow_state(folder.name, state)
    run_header(summary)
    fraction, text = progress_line(summary, frame)
    saved = saved_point(folder, planned_epochs(summary, frame)) if resumable(summary) else None
    if state in runs.ACTIVE + ("stopped", "failed") or resumable(summary):
        # A quarter of the row: at 1024 px a sixth cut "Resume" to "Res…" (QA round 8).
        bar, button = st.columns([3, 1], vertical_alignment="bottom")
        bar.progress(fraction, text=text)
        with button:
            run_controls(summary, saved)
    else:
        st.progress(fraction, text=text)
    numbers = figures(frame, summary)
    glance(numbers)
    run_outcome(folder, summary, saved)
    if (cut := log_cut_at(frame, summary)) is not None:
        st.warning(f"Its metrics.jsonl ends at step {cut:,}, before the run's end at step {summary.step or 0:,}: "
                   "the log was cut or damaged. The curve and the numbers under it stop there; the scores above "
                   "are the status's.", icon=":material/content_cut:")
    if (first := metrics.log_starts_at(frame, summary.config)) is not None:
        st.warning(f"Its metrics.jsonl starts at step {first:,}: the log of the steps before it is missing (deleted "
                   "or cut while the run trained), so the curve starts there.",
                   icon=":material/content_cut:")
    # The curve first, its controls under it: on a 1024x768 projector it began 1,225 px down, under
    # the numbers, the controls and the fork form (QA round 5).
    run_chart(summary, frame)
    run_numbers(numbers)
    time_split(summary)
    fork_form(summary, "train")
    run_samples(folder)


# What reading a folder that is being written or deleted raises: files gone or torn (JSON and
# pandas parse errors are ValueErrors), keys missing from a half-written record, lmcore's own errors.
FOLDER_ERRORS = (OSError, ValueError, LookupError, EOFError, LmcoreError)


ENDED = ("finished", "stopped", "failed")
LIVE_SECONDS, ENDED_SECONDS = 2, 15


def follow_run(run_id: str) -> None:
    """A run that trains (or may yet be written: a damaged folder) redrawn every 2 s; an ended one every
    15 s, with a check for a change of state (a Resume from elsewhere) every few: redrawing a run that
    no longer changes every 2 s took a tenth of a core per open page (QA round 16)."""
    folder = ui.run_folder(run_id)
    summary = summary_of(folder) if folder is not None else None
    if summary is not None and summary.state in ENDED:
        st.fragment(draw_run, run_every=ENDED_SECONDS)(run_id, ENDED_SECONDS)
        ui.follow_shown_run(summary)
    else:
        st.fragment(draw_run, run_every=LIVE_SECONDS)(run_id, LIVE_SECONDS)


def draw_run(run_id: str, every: int) -> None:
    """Everything about one run, redrawn every `every` seconds, reading only what was added since last time."""
    # Only a run that trains is expected to change: an ended one's slow look shows no banner when it is late.
    staleness.heartbeat(every if every == LIVE_SECONDS else None)
    folder = ui.run_folder(run_id)
    if folder is None:
        st.warning(f"Run `{ui.safe_id(run_id)}` is gone: its folder was deleted or moved. Pick another run above.")
        return
    try:
        show_run(folder)
    except FOLDER_ERRORS as error:  # a half-written or vanishing folder must not take the page down
        st.warning(f"Could not read `{folder.name}` just now ({type(error).__name__}: {error}). It may be "
                   f"half-written or being deleted; trying again in {every} seconds.")
    except Exception as error:  # nor may a fault of the page's own, which is not the run folder's
        st.error(f"This page failed to draw run `{folder.name}` ({type(error).__name__}: {error}). "
                 "That is a fault of the app, not of the run: its files are untouched and its training goes on. "
                 f"Trying again in {every} seconds.")
        with st.expander("Details for a bug report"):
            st.code(traceback.format_exc(), language=None, wrap_lines=True)


def on_watch() -> None:
    attach(st.session_state[WATCH])
