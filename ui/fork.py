"""Fork this run: a compact form on the Train page's watch tab and on Compare that starts a new run
from one of this run's checkpoints with dropout, placement, lr, epochs or max_steps changed
(lmcore.fork), launches it in the background and links to it. A fork also says where it
branched off, with a link that draws it beside its parent.

The classroom use: fork a run at the end of epoch 3 with dropout 0 and watch validation climb.
"""

from __future__ import annotations

import streamlit as st

import ui
from explorer.textview import no_latex
from lmcore import launch
from lmcore.checkpoints import checkpoint_sources
from lmcore.config import PLACEMENT_HELP, PLACEMENTS, RULES, from_dict
from lmcore.errors import ConfigError, LmcoreError
from lmcore.fork import fork_position, fork_run, fork_start, trainable_limits, unread_changes
from lmcore.runs import read_config
from lmcore.summaries import RunSummary
from ui import access
from ui.train_controls import help_for

CREATED = "fork.created"  # parent run id -> the id of the fork this session made from it
UNREAD = "fork.unread"    # fork id -> its changes that cannot act (lmcore.fork.unread_changes)
NOTES = "fork.notes"      # fork id -> fork_run's notes (a parent's config.json that its checkpoint disagrees with)
# "{place}.{run id}" -> {"asked": (source, values), "message": why not}: the watch area redraws every
# 2 s, and an error drawn only on the click's rerun vanished before it could be read (QA round 10).
REFUSED = "fork.refused"


def source_label(source) -> str:
    if isinstance(source, str) and source.startswith("epoch:"):
        return f"the end of epoch {source.removeprefix('epoch:')}"
    # A config edited by hand may name no known source: say less rather than fail the page.
    return {"best": "its best validation (best.pt)", "last": "its latest checkpoint (last.pt)"}.get(
        source, "a checkpoint")


def fork_point(summary: RunSummary) -> tuple[str, int] | None:
    """(parent id, fork step) for a fork, None for a run trained from scratch (or a config whose
    fork keys were edited into something else)."""
    parent, step = summary.config.get("parent"), summary.config.get("fork_step")
    return (parent, step) if parent and isinstance(parent, str) and isinstance(step, int) else None


def lineage(summary: RunSummary) -> None:
    """For a fork: where it branched off, and a link drawing both runs on one step axis."""
    point = fork_point(summary)
    if point is None:
        return
    parent, step = point
    row = st.container(horizontal=True, vertical_alignment="center")
    row.caption(f"Forked from `{parent}` at step {step:,} ({source_label(summary.config.get('fork_from'))}): "
                "its steps continue from there.")
    if ui.run_folder(parent):
        from ui import compare_url  # it imports ui.compare_runs, which imports this module

        row.page_link("app_pages/compare.py", label="Draw it beside its parent", icon=":material/call_split:",
                      query_params=compare_url.link_query([parent, summary.id]))
    if start := started_from(summary):
        # Forks made before start_val_ppl was kept counted their start as their best: no claim for them.
        own = "; its best, final and test are its own training's" if "start_val_ppl" in summary.status else ""
        st.caption(f"It {start_text(start)}{own}.")


def started_from(summary: RunSummary) -> dict | None:
    """{"ppl", "epoch"} of the validation a fork's starting weights had (lmcore.fork.fork_start), or
    None: no fork, or its parent did not validate at the fork step."""
    point = fork_point(summary)
    if point is None or summary.is_reference:
        return None
    return fork_start(summary.path, ui.run_folder(point[0]), summary.config, summary.status)


def start_text(start: dict) -> str:
    """'started from 80.4 (the parent's epoch 2)'."""
    where = f"the parent's epoch {start['epoch']}" if start.get("epoch") is not None else "the parent's validation"
    return f"started from {ui.fmt_ppl(start['ppl'])} ({where})"


def inherited_best(summary: RunSummary, start: dict | None) -> bool:
    """A fork made before forks kept their own best (its status has no start_val_ppl) whose best is
    still the validation it started from: its best.pt, and so its test, are its starting weights."""
    return (start is not None and "start_val_ppl" not in summary.status and summary.best_val is not None
            and abs(summary.best_val - start["ppl"]) <= 1e-9 * start["ppl"])


def scores_note(summary: RunSummary) -> str:
    """What a fork's finished line adds: where it started, and for an older fork whose best never
    moved past that start, that its best and test are the starting weights', not its training's."""
    start = started_from(summary)
    if start is None:
        return ""
    if inherited_best(summary, start):
        return (f"; it {start_text(start)} and no validation of its own beat that, so (forked before forks "
                "counted only their own training) its best and test are its starting weights'")
    return f"; it {start_text(start)}"


def parent_curve(summary: RunSummary) -> dict | None:
    """For a fork: its parent's curves up to the fork step, in grey, for the fork's own chart (the
    fork's steps continue from there, so the two read as one run that branched); else None."""
    point = fork_point(summary)
    folder = ui.run_folder(point[0]) if point else None
    if folder is None:
        return None
    frame = ui.metrics_frame(folder)
    if frame.empty:
        return None
    return {"label": "parent before the fork", "frame": frame[frame["step"] <= point[1]], "color": "#9a9a9a"}


def fork_form(summary: RunSummary, place: str) -> None:
    """The whole component: why not (a reference run, no checkpoint yet), or the form and its result."""
    lineage(summary)
    if summary.is_reference:
        st.caption("Fork: a reference run's checkpoints were not kept, so it cannot be forked; Edit a copy "
                   "trains its recipe from scratch.")
        return
    if why := unforkable_config(summary):
        st.caption(f"Fork: {why}, so there is no recipe to fork.")
        return
    sources = checkpoint_sources(summary.path)
    if not sources:
        st.caption("Fork: no checkpoint yet. The first is written at the end of epoch 1 (or every "
                   "checkpoint_every steps)." if summary.is_active else
                   "Fork: it saved no checkpoint to start from; Edit a copy trains its recipe from scratch.")
        return
    made = st.session_state.setdefault(CREATED, {})  # create() adds to this same dict
    st.session_state.setdefault(UNREAD, {})
    with st.expander("Fork this run", icon=":material/call_split:", expanded=summary.id in made):
        if summary.id not in made:  # the form again only on request: a second click would fork twice
            form(summary, sources, f"fork.{place}.{summary.id}")
        if summary.id in made:  # also right after the click that made it (the form goes at the next draw)
            forked(summary, made[summary.id], place)


def unforkable_config(summary: RunSummary) -> str | None:
    """Why the run's config cannot seed a form, or None: a missing config.json read as a KeyError that
    Train took for a half-written folder and retried every 2 s, for ever (QA round 13)."""
    if not summary.config:
        return "its config.json is missing or unreadable"
    try:
        from_dict(summary.config)
    except ConfigError as error:
        return "its config.json does not validate (" + "; ".join(error.problems)[:200] + ")"
    return None


def forked(summary: RunSummary, fork_id: str, place: str) -> None:
    st.success(f"Forked as `{fork_id}`, training in the background.")
    unread = st.session_state[UNREAD].get(fork_id)  # fork_form made the dict
    for note in st.session_state.get(NOTES, {}).get(fork_id, []):
        st.info(no_latex(note.removeprefix("note: ")), icon=":material/difference:")
    if unread:
        st.warning("**Has no effect in the fork:**\n" + "\n".join(f"- {no_latex(line)}" for line in unread), icon="💤")
    row = st.container(horizontal=True)
    if place == "train":  # a link to the page it is on would not move: set the run and redraw
        if row.button("Watch the fork", icon="📈", key=f"fork.watch.{summary.id}"):
            st.query_params["run"] = fork_id
            st.rerun()
    else:
        row.page_link("app_pages/train.py", label="Watch the fork", icon="📈", query_params={"run": fork_id})
    row.button("Fork it again", icon=":material/call_split:", key=f"fork.again.{summary.id}",
               on_click=lambda: st.session_state[CREATED].pop(summary.id, None))


def fork_selected(chosen: list[RunSummary]) -> None:
    """On Compare: the form when exactly one of the user's runs is selected."""
    if len(chosen) == 1 and not chosen[0].is_reference:
        fork_form(chosen[0], "compare")


def start_help(epochs_kept: bool) -> str:
    """The choice's help: the first epoch's end is picked first only where one is kept (QA round 18: after
    Free, or for a model too large to keep them, the help still said so)."""
    if epochs_kept:
        return ("The checkpoint the fork starts from. The end of the first epoch is picked first: from there a "
                "changed dropout or learning rate has the rest of the training to show what it does, where a "
                "finished run's best or last checkpoint often has little left to train.")
    return ("The checkpoint the fork starts from. This run keeps no epoch checkpoints (freed, or a model too "
            "large to keep one an epoch: `keep_epoch_checkpoints`), so only its best and last are offered; "
            "a finished run's often have little left to train: raise Epochs below to give the change room.")


def form(summary: RunSummary, sources: list[str], key: str) -> None:
    config = summary.config
    st.caption("A new run that starts from this run's weights, optimizer and position, with these keys "
               "changed; shapes and data stay the parent's.")
    # The first epoch's end when kept: a finished run's best or last often has nothing left to train.
    # Outside the form, so the limits below follow the checkpoint chosen.
    first = next((i for i, s in enumerate(sources) if s.startswith("epoch:")), 0)
    source = st.selectbox("Start from", sources, format_func=source_label, key=f"{key}.from", index=first,
                          help=start_help(any(s.startswith("epoch:") for s in sources)))
    position = fork_position(summary.path, source)
    parents = {"epochs": int(config["epochs"]), "max_steps": config.get("max_steps") or None}
    limits = trainable_limits(parents["epochs"], parents["max_steps"], position) if position else parents
    if limits != parents:
        st.caption(raised_note(position, parents, limits))
    with st.form(key, border=False, enter_to_submit=False):  # Enter in a box must not fork
        columns = st.columns(5)
        values = {
            "dropout": columns[0].number_input("Dropout", 0.0, float(RULES["dropout"].high), float(config["dropout"]),
                                               step=0.05, key=f"{key}.dropout", help=help_for("dropout")),
            "dropout_placement": columns[1].selectbox(
                "Placement", PLACEMENTS, index=PLACEMENTS.index(config["dropout_placement"]), key=f"{key}.placement",
                help=help_for("dropout_placement") + "".join(f"\n- {p}: {PLACEMENT_HELP[p]}" for p in PLACEMENTS)),
            "lr": columns[2].number_input("Learning rate", 0.0, float(RULES["lr"].high), float(config["lr"]),
                                          format="%g", key=f"{key}.lr", help=help_for("lr")),
            # Keyed by the checkpoint: each starts at limits that train from it.
            "epochs": columns[3].number_input("Epochs", 1, int(RULES["epochs"].high), limits["epochs"],
                                              key=f"{key}.{source}.epochs", help=help_for("epochs")),
            "max_steps": columns[4].number_input("Max steps (0 = no cap)", 0, int(RULES["max_steps"].high),
                                                 limits["max_steps"] or 0, key=f"{key}.{source}.max_steps",
                                                 help=help_for("max_steps")) or None,
        }
        # Only what the user changed: an untouched lr keeps the lr the parent had reached.
        changes = {k: v for k, v in values.items() if v != config.get(k)}
        if st.form_submit_button("Fork and train", icon=":material/call_split:", type="primary",
                                 disabled=not access.may_change(), help=access.refusal()):
            st.session_state.setdefault(REFUSED, {}).pop(key, None)
            create(summary, source, changes, key)
    refusal = st.session_state.get(REFUSED, {}).get(key)
    if refusal and refusal["asked"] == (source, changes):  # until the form asks something else
        st.error(refusal["message"])


def raised_note(position: dict, parents: dict, limits: dict) -> str:
    """Why Epochs or Max steps start above the parent's: 'This checkpoint is at step 40, where the
    parent stopped; its max_steps (40) is reached: Max steps starts at 80, up to 40 more steps ...'."""
    parts = []
    if limits["epochs"] != parents["epochs"]:
        parts.append(f"its {parents['epochs']} epochs are done: Epochs starts at {limits['epochs']}, one more epoch")
    if limits["max_steps"] != parents["max_steps"]:
        parts.append(f"its max_steps ({parents['max_steps']:,}) is reached: Max steps starts at "
                     f"{limits['max_steps']:,}, up to {limits['max_steps'] - position['step']:,} more steps "
                     "(Epochs may end it sooner)")
    return f"This checkpoint is at step {position['step']:,}, where the parent stopped; " + "; ".join(parts) + "."


def create(summary: RunSummary, source: str, changes: dict, key: str) -> None:
    if refused := access.refusal():
        refuse(key, source, changes, refused)
        return
    try:
        notes = []
        folder = fork_run(summary.path, source, changes, ui.runs_root(), say=notes.append)
        launch.launch_new(folder)
    except ConfigError as error:
        refuse(key, source, changes, "Not forked: " + "; ".join(error.problems))
        return
    except LmcoreError as error:
        refuse(key, source, changes, f"Not forked: {str(error).splitlines()[0]}")
        return
    st.session_state[CREATED][summary.id] = folder.name
    # Some of the changes act, some cannot: it trains, but the class should know which did nothing.
    st.session_state[UNREAD][folder.name] = unread_changes(from_dict(read_config(folder) or {}), changes)
    # The parent's config.json edited by hand since its checkpoint: the fork trains as the checkpoint did.
    st.session_state[NOTES] = {**st.session_state.get(NOTES, {}), folder.name: notes}


def refuse(key: str, source: str, changes: dict, message: str) -> None:
    """Keep why a fork was refused, for form() to show on every redraw until the next ask."""
    st.session_state.setdefault(REFUSED, {})[key] = {"asked": (source, changes), "message": message}
