"""Compare: every run in one table, selected runs side by side, and ablation grids.

The table, the curves and the grid results live in one fragment that refreshes while runs
train; the controls that only change on a click (filters, the grid form) sit outside it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import ui
from lmcore import ablation, compare, queue, runs
from lmcore.config import PLACEMENTS, ConfigError, parse_assignments
from lmcore.presets import PRESETS, resolve

ui.ensure_app_navigation()

TAB = "compare.tab"
SELECTED = "compare.selected"            # run ids shown side by side (the source of truth)
TABLE = "compare.table"                  # the runs table's selection state (row positions)
SHOWN = "compare.shown"                  # run ids in table order at the last render
ACTIVE = "compare.active"                # (id, state) of queued/running runs at the last full run
FILTER_STATES = "compare.filter.states"
FILTER_PRESETS = "compare.filter.presets"
FILTER_DATASETS = "compare.filter.datasets"
FILTER_PLACEMENTS = "compare.filter.placements"
FILTER_TEXT = "compare.filter.text"
X_AXIS = "compare.x_axis"
LOG_Y = "compare.log_y"
SMOOTHING = "compare.smoothing"
CONFIRM_DELETE = "compare.confirm_delete"  # ids awaiting "yes, delete"
FLASH = "compare.flash"                  # (kind, message) shown once after a rerun
GRID_PRESET = "compare.grid.preset"
GRID_OVERRIDES = "compare.grid.overrides"
GRID_CONCURRENCY = "compare.grid.concurrency"
GRID_CHOSEN = "compare.grid.chosen"      # the grid whose results are shown
GRID_TOGGLE = "compare.grid.toggle."     # + config key: the values to vary

RUNS_VIEW, GRID_VIEW = "Runs", "Ablation grids"
X_AXES = {"step": "training step", "epoch": "epoch", "time": "seconds since start"}
# Toggle -> the values offered; an empty choice keeps the base preset's value.
TOGGLES = {"dropout_placement": list(PLACEMENTS), "tie_weights": [False, True], "layers": [1, 2, 3, 4],
           "dropout": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.65], "hidden_size": [64, 128, 200, 256, 650],
           "seed": [1, 2, 3, 4, 5]}
LOG_TICKS = [m * 10 ** e for e in range(0, 6) for m in (1, 2, 5)]  # 1, 2, 5, 10, 20, 50, ... on log axes
DEFAULTS = {TAB: RUNS_VIEW, SELECTED: [], SHOWN: [], CONFIRM_DELETE: [], FILTER_STATES: [], FILTER_PRESETS: [],
            FILTER_DATASETS: [], FILTER_PLACEMENTS: [], FILTER_TEXT: "", X_AXIS: "step", LOG_Y: True,
            SMOOTHING: 0.6, GRID_PRESET: "tiny", GRID_OVERRIDES: "epochs=2", GRID_CHOSEN: None,
            **{GRID_TOGGLE + key: [] for key in TOGGLES}}
for key, value in DEFAULTS.items():
    if key not in st.session_state:
        st.session_state[key] = value
if GRID_CONCURRENCY not in st.session_state:
    st.session_state[GRID_CONCURRENCY] = queue.concurrency(ui.runs_root())

queue.ensure_worker(ui.runs_root())  # queued runs continue after an app restart


def flash() -> None:
    kind, message = st.session_state.pop(FLASH, (None, None))
    if kind:
        getattr(st, kind)(message)


# ---------------------------------------------------------------- selecting runs


def on_table_select() -> None:
    """Table rows -> run ids; selected runs the filters hide stay selected."""
    shown = st.session_state[SHOWN]
    rows = st.session_state[TABLE]["selection"]["rows"]
    picked = [shown[i] for i in rows if i < len(shown)]
    kept = [r for r in st.session_state[SELECTED] if r not in shown or r in picked]
    st.session_state[SELECTED] = kept + [r for r in picked if r not in kept]


def sync_table_selection(ids: list[str]) -> None:
    """Make the table show SELECTED, whatever rows moved since the last render."""
    rows = sorted(ids.index(r) for r in st.session_state[SELECTED] if r in ids)
    current = st.session_state.get(TABLE)
    if current is None or sorted(current["selection"]["rows"]) != rows:
        st.session_state[TABLE] = {"selection": {"rows": rows}}
    st.session_state[SHOWN] = ids


def display_table(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame.copy()
    shown["state"] = [f"{ui.STATE_ICONS.get(s, '')} {s}" for s in shown["state"]]
    shown["seconds"] = pd.to_timedelta(shown["seconds"].round(), unit="s")
    shown["progress"] = shown["progress"] * 100
    return shown


TABLE_COLUMNS = {
    "name": st.column_config.TextColumn("run", width="medium"),
    "state": st.column_config.TextColumn("state"),
    "progress": st.column_config.ProgressColumn("progress", format="%.0f%%", min_value=0, max_value=100,
                                                 width="small"),
    "hidden_size": st.column_config.NumberColumn("hidden"),
    "dropout_placement": st.column_config.TextColumn("placement"),
    "tie_weights": st.column_config.CheckboxColumn("tied"),
    "lr": st.column_config.NumberColumn("lr", format="%g"),
    "best_val_ppl": st.column_config.NumberColumn("best val ppl", format="%.1f", help="lowest validation perplexity"),
    "test_ppl": st.column_config.NumberColumn("test ppl", format="%.1f", help="test perplexity of the best checkpoint"),
    "params": st.column_config.NumberColumn("params", format="compact"),
    "seconds": st.column_config.NumberColumn("time", format="compact", help="from the first start to the end"),
    "tokens_per_s": st.column_config.NumberColumn("tokens/s", format="%,.0f"),
    "started_at": st.column_config.DatetimeColumn("started", format="YYYY-MM-DD HH:mm"),
    "group": st.column_config.TextColumn("grid"),
    "note": st.column_config.TextColumn("note", width="large"),
    "id": st.column_config.TextColumn("id"),
}


def filters(frame: pd.DataFrame) -> None:
    columns = st.columns([1, 1, 1, 1, 1.4])
    for column, key, label, field in ((columns[0], FILTER_STATES, "State", "state"),
                                      (columns[1], FILTER_PRESETS, "Preset", "preset"),
                                      (columns[2], FILTER_DATASETS, "Dataset", "dataset"),
                                      (columns[3], FILTER_PLACEMENTS, "Dropout placement", "dropout_placement")):
        choices = sorted(set(compare.options(frame, field)) | set(st.session_state[key]), key=str)
        column.multiselect(label, choices, key=key, placeholder="all", persist_state="session")
    columns[4].text_input("Name contains", key=FILTER_TEXT, placeholder="name, id or grid",
                          persist_state="session")


def runs_view(summaries: list[dict]) -> None:
    table = compare.runs_table(summaries)
    view = compare.filter_table(table, st.session_state[FILTER_STATES], st.session_state[FILTER_PRESETS],
                                st.session_state[FILTER_DATASETS], st.session_state[FILTER_PLACEMENTS],
                                st.session_state[FILTER_TEXT]).reset_index(drop=True)
    known = set(table["id"])
    st.session_state[SELECTED] = [r for r in st.session_state[SELECTED] if r in known]
    selected = st.session_state[SELECTED]
    hidden = len([r for r in selected if r not in set(view["id"])])
    st.caption(f"**{len(table)}** runs · **{len(view)}** shown · **{len(selected)}** selected"
               + (f" ({hidden} hidden by the filters)" if hidden else "")
               + " · tick rows to compare them; click a header to sort")
    sync_table_selection(list(view["id"]))
    st.dataframe(display_table(view), key=TABLE, on_select=on_table_select, selection_mode="multi-row",
                 hide_index=True, placeholder="—", column_config=TABLE_COLUMNS,
                 height=38 + 35 * min(max(len(view), 1), 15),
                 column_order=["name", "state", "best_val_ppl", "test_ppl", "progress", *compare.TABLE_KEYS,
                               "params", "seconds", "tokens_per_s", "started_at", "group", "note", "id"])
    st.download_button(f"CSV of these {len(view)} runs", compare.table_csv(view), file_name="runs.csv",
                       mime="text/csv", icon=":material/download:", on_click="ignore",
                       help="the table as shown by the filters, with unrounded numbers")
    by_id = {s["id"]: s for s in summaries}
    chosen = [by_id[r] for r in selected]
    if not chosen:
        st.info("Tick runs in the table to overlay their curves, see how their configs differ, "
                "and compare their scores.", icon=":material/touch_app:")
        return
    selection_panel(chosen)


# ---------------------------------------------------------------- selected runs side by side


def selection_panel(chosen: list[dict]) -> None:
    labels = compare.unique_labels(chosen)
    colors = [ui.PALETTE[i % len(ui.PALETTE)] for i in range(len(chosen))]
    st.subheader("Selected runs")
    for summary, label, color in zip(chosen, labels, colors):
        st.markdown(f"<span style='color:{color}'>●</span> " + run_line(summary, label), unsafe_allow_html=True)
    actions(chosen)
    curves(chosen, labels, colors)
    bars_column, diff_column = st.columns([1, 1])
    with bars_column:
        st.markdown("**Final perplexity**")
        if any(isinstance(s["status"].get(k), (int, float)) for s in chosen for k in ("best_val_ppl", "test_ppl")):
            st.plotly_chart(score_bars(chosen, labels, colors), key="compare.bars", config={"displaylogo": False})
        else:
            st.caption("No scores yet: the first validation gives the first bar.")
    with diff_column:
        config_diff(chosen)


def run_line(summary: dict, label: str) -> str:
    """'**tiny** — ✅ finished · best val **88.2** · test **97.9** · 1.55M parameters'."""
    status, state = summary["status"], compare.state_of(summary)
    parts = [f"**{label}** — {ui.STATE_ICONS.get(state, '')} {state}",
             f"best val **{ui.fmt_ppl(status.get('best_val_ppl'))}**", f"test **{ui.fmt_ppl(status.get('test_ppl'))}**"]
    if summary.get("params"):
        parts.append(f"{ui.fmt_count(summary['params'])} parameters")
    problem = compare.run_row(summary)["note"]
    if problem:
        parts.append(f"*{problem}*")
    return " · ".join(parts)


def clear_selection() -> None:
    st.session_state[SELECTED] = []
    st.session_state[CONFIRM_DELETE] = []


def actions(chosen: list[dict]) -> None:
    row = st.container(horizontal=True)
    row.button("Clear selection", icon=":material/close:", on_click=clear_selection)
    if row.button(f"Delete {len(chosen)} run{'s' if len(chosen) > 1 else ''}…", icon=":material/delete:",
                  help="asks before deleting"):
        st.session_state[CONFIRM_DELETE] = [s["id"] for s in chosen]
    doomed = [s for s in chosen if s["id"] in st.session_state[CONFIRM_DELETE]]
    if doomed:
        confirm_delete(doomed)


def cancel_delete() -> None:
    st.session_state[CONFIRM_DELETE] = []


def confirm_delete(doomed: list[dict]) -> None:
    with st.container(border=True):
        st.warning(f"Delete {len(doomed)} run folder{'s' if len(doomed) > 1 else ''} from disk, "
                   "with their checkpoints? This cannot be undone.", icon=":material/warning:")
        row = st.container(horizontal=True)
        if row.button("Yes, delete", type="primary"):
            refused = []
            for summary in doomed:
                folder = Path(summary["path"])  # from the listing: odd folder names work too
                try:
                    runs.delete_run(folder)
                    st.session_state.get(ui.UI_METRICS, {}).pop(str(folder), None)
                except (runs.RunError, OSError) as error:
                    refused.append(str(error))
            deleted = len(doomed) - len(refused)
            st.session_state[SELECTED] = [r for r in st.session_state[SELECTED] if (ui.runs_root() / r).is_dir()]
            st.session_state[CONFIRM_DELETE] = []
            st.session_state[FLASH] = ("warning", f"Deleted {deleted}; not deleted: " + "; ".join(refused)) \
                if refused else ("success", f"Deleted {deleted} run{'s' if deleted != 1 else ''}.")
            st.rerun()
        row.button("Cancel", on_click=cancel_delete)


def curves(chosen: list[dict], labels: list[str], colors: list[str]) -> None:
    left, middle, right = st.columns([1.2, 1, 2], vertical_alignment="bottom")
    left.segmented_control("x axis", list(X_AXES), key=X_AXIS, required=True, persist_state="session")
    middle.toggle("log scale", key=LOG_Y, persist_state="session")
    right.slider("smoothing (training curve)", 0.0, 0.99, step=0.01, key=SMOOTHING, persist_state="session")
    x = st.session_state[X_AXIS]
    lines = []
    for summary, label, color in zip(chosen, labels, colors):
        frame = ui.metrics_frame(Path(summary["path"]))
        if x == "epoch":
            frame = compare.with_fractional_epochs(frame, compare.steps_per_epoch(summary, frame))
        lines.append({"label": label, "frame": frame, "color": color})
    figure = ui.ppl_figure(lines, log_y=st.session_state[LOG_Y], smoothing=st.session_state[SMOOTHING],
                           floor=compare.shared_floor(chosen), x=x)
    figure.update_layout(uirevision="compare.curves", xaxis_title=X_AXES[x])  # keep zoom across refreshes
    if st.session_state[LOG_Y]:
        figure.update_yaxes(tickvals=LOG_TICKS, ticktext=[f"{v:,}" for v in LOG_TICKS])
    st.plotly_chart(figure, key="compare.curves", config={"displaylogo": False})
    if not any(len(line["frame"]) for line in lines):
        st.caption("No metrics yet: queued runs start writing them once they train.")


def score_bars(chosen: list[dict], labels: list[str], colors: list[str]) -> go.Figure:
    figure = go.Figure()
    for summary, label, color in zip(chosen, labels, colors):
        status = summary["status"]
        values = [status.get("best_val_ppl"), status.get("test_ppl")]
        figure.add_trace(go.Bar(x=["best validation", "test"], y=values, name=label, marker_color=color,
                                text=[ui.fmt_ppl(v) for v in values], textposition="outside"))
    floor = compare.shared_floor(chosen)
    if floor:
        figure.add_hline(y=floor, line_dash="dash", line_color="#444", annotation_text=f"floor {floor:.1f}")
    figure.update_layout(barmode="group", height=340, margin=dict(l=10, r=10, t=10, b=10), yaxis_title="perplexity",
                         legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0), uirevision="compare.bars")
    return figure


def config_diff(chosen: list[dict]) -> None:
    st.markdown("**Config differences**")
    if len(chosen) < 2:
        st.caption("Select two or more runs to see which config keys differ.")
        return
    diff = compare.config_diff(chosen)
    if diff.empty:
        st.caption("The selected runs have the same config (apart from their names).")
        return
    st.dataframe(diff, key="compare.diff", width="stretch")
    st.caption(f"Only the {len(diff)} key{'s' if len(diff) != 1 else ''} whose values differ; "
               f"every other key is equal.")


# ---------------------------------------------------------------- ablation grids


def grid_form() -> None:
    """Pick a base, overrides and toggles; see the grid's size; queue it."""
    st.subheader("Queue an ablation grid")
    left, right = st.columns([1, 2])
    left.selectbox("Base preset", list(PRESETS), key=GRID_PRESET, persist_state="session")
    left.caption(PRESETS[st.session_state[GRID_PRESET]].summary)
    right.text_area("Overrides, one key=value a line (as --set), e.g. fewer epochs so a class can afford it",
                    key=GRID_OVERRIDES, height=120, placeholder="epochs=2\nmax_steps=300", persist_state="session")
    st.markdown("**Vary** (every combination of the values chosen becomes one run)")
    columns = st.columns(3)
    for i, (key, values) in enumerate(TOGGLES.items()):
        columns[i % 3].multiselect(key, values, key=GRID_TOGGLE + key, placeholder="base value",
                                   format_func=compare.show_value, persist_state="session")
    toggles = {key: st.session_state[GRID_TOGGLE + key] for key in TOGGLES}
    configs, problems = build_grid(toggles)
    count = ablation.size(toggles)
    varied = [f"{len(v)} {k}" for k, v in toggles.items() if v]
    st.markdown(f"**{count} run{'s' if count != 1 else ''}**" + (f" = {' × '.join(varied)}" if varied else
                " (choose values above to vary; an empty toggle keeps the base value)"))
    if "none" in toggles["dropout_placement"] and len(toggles["dropout"]) > 1:
        st.caption("Runs with placement none ignore dropout, so their dropout values repeat the same model.")
    for problem in problems[:3]:
        st.error(problem, icon=":material/error:")
    if len(problems) > 3:
        st.caption(f"… and {len(problems) - 3} more problems like these.")
    go_column, concurrency_column, _ = st.columns([1, 1, 2], vertical_alignment="bottom")
    concurrency_column.number_input("Runs at a time", 1, 8, key=GRID_CONCURRENCY, on_change=save_concurrency,
                                    help="how many queued runs train at once (all grids share the queue)")
    if go_column.button(f"Queue {count} run{'s' if count != 1 else ''}", type="primary", icon=":material/playlist_add:",
                        disabled=bool(problems) or not varied, width="stretch"):
        folders = queue.enqueue([c.to_dict() for c in configs], ui.runs_root(), [c.name for c in configs])
        st.session_state[GRID_CHOSEN] = configs[0].group
        st.session_state[FLASH] = ("success", f"Queued {len(folders)} runs as grid **{configs[0].group}**; "
                                              f"{queue.concurrency(ui.runs_root())} at a time.")
        st.rerun()
    if configs and varied:
        with st.expander(f"The {len(configs)} runs"):
            st.dataframe(pd.DataFrame({"run": [c.name for c in configs]}), hide_index=True)


def build_grid(toggles: dict) -> tuple[list, list[str]]:
    lines = [line.strip() for line in st.session_state[GRID_OVERRIDES].splitlines() if line.strip()]
    try:
        base = resolve(st.session_state[GRID_PRESET], overrides=parse_assignments(lines))
        return ablation.grid(base, toggles), []
    except ConfigError as error:
        return [], error.problems


def save_concurrency() -> None:
    queue.set_concurrency(ui.runs_root(), st.session_state[GRID_CONCURRENCY])
    queue.ensure_worker(ui.runs_root())


def grid_results(summaries: list[dict]) -> None:
    st.subheader("Grid results")
    entries = compare.grids(summaries)
    waiting, running = len(queue.pending(ui.runs_root())), sum(s["status"].get("state") == "running" for s in summaries)
    st.caption(f"Queue: **{waiting}** waiting · **{running}** running · "
               f"{queue.concurrency(ui.runs_root())} at a time")
    if not entries:
        st.caption("No grids yet. Queue one above; its results appear here as its runs finish.")
        return
    by_group = {e["group"]: e for e in entries}
    if st.session_state[GRID_CHOSEN] not in by_group:
        st.session_state[GRID_CHOSEN] = entries[0]["group"]
    st.selectbox("Grid", list(by_group), key=GRID_CHOSEN, format_func=lambda g: compare.grid_label(by_group[g]))
    entry = by_group[st.session_state[GRID_CHOSEN]]
    st.progress(compare.grid_progress(entry), text=f"{entry['finished']} / {entry['total']} finished · "
                f"{entry['active']} queued or running · {entry['failed']} failed or stopped")
    table = compare.runs_table(entry["runs"])
    st.dataframe(display_table(table), hide_index=True, column_config=TABLE_COLUMNS, placeholder="—",
                 column_order=["name", "state", "progress", "best_val_ppl", "test_ppl", "seconds", "note"])
    if st.button("Compare these runs in the table", icon=":material/compare_arrows:", on_click=show_in_table,
                 args=([s["id"] for s in entry["runs"]],)):
        st.rerun()  # the tabs sit outside this fragment
    toggle_effects(entry)


def show_in_table(run_ids: list[str]) -> None:
    st.session_state[SELECTED] = run_ids
    st.session_state[TAB] = RUNS_VIEW


def toggle_effects(entry: dict) -> None:
    toggles = entry["toggles"]
    found = ablation.effects(entry["runs"], toggles)
    if not entry["finished"] or not toggles:
        st.caption("Effects appear here once runs of this grid finish.")
        return
    if entry["finished"] < entry["total"]:
        st.caption("Partial results: until every run finishes, a value's mean covers different combinations "
                   "of the other toggles, so compare with care.")
    columns = st.columns(3)
    for i, key in enumerate(toggles):
        values = found[key]["values"]
        with columns[i % len(columns)]:
            st.markdown(f"**{key}** · spread {ui.fmt_ppl(found[key]['spread'])}")
            figure = go.Figure(go.Bar(x=list(values), y=[v["mean"] for v in values.values()],
                                      marker_color=ui.PALETTE[i % len(ui.PALETTE)],
                                      text=[ui.fmt_ppl(v["mean"]) for v in values.values()], textposition="outside"))
            figure.update_layout(height=220, margin=dict(l=10, r=10, t=10, b=10), xaxis_type="category",
                                 yaxis_title="mean best val ppl")
            st.plotly_chart(figure, key=f"compare.effect.{key}", config={"displayModeBar": False})
            st.dataframe(pd.DataFrame([{key: value, "mean best val": v["mean"], "best": v["best"], "runs": v["runs"]}
                                       for value, v in values.items()]), hide_index=True,
                         column_config={"mean best val": st.column_config.NumberColumn(format="%.1f"),
                                        "best": st.column_config.NumberColumn(format="%.1f")})


# ---------------------------------------------------------------- the page


def activity(summaries: list[dict]) -> list[tuple[str, str]]:
    """(id, state) of the queued and running runs: when it changes, the whole page reruns."""
    return sorted((s["id"], s["status"]["state"]) for s in summaries if s["status"].get("state") in runs.ACTIVE)


def live(view: str) -> None:
    """Everything that changes while runs train: one fragment, re-read every few seconds."""
    summaries = ui.all_runs()
    active = activity(summaries)
    if active != st.session_state.get(ACTIVE, active):
        st.rerun()  # a run was queued, started or ended: the sidebar counts and the refresh rate change too
    if view == RUNS_VIEW:
        runs_view(summaries)
    else:
        grid_results(summaries)


st.title("Compare runs")
st.caption("Every run on disk, side by side: scores, curves and the config keys that differ. "
           "Queue ablation grids and read off what each toggle did to validation perplexity.")
flash()
everything = ui.all_runs()
st.session_state[ACTIVE] = activity(everything)
refresh = 2 if st.session_state[ACTIVE] else 10
runs_tab, grid_tab = st.tabs([RUNS_VIEW, GRID_VIEW], key=TAB, on_change="rerun")
if runs_tab.open:
    with runs_tab:
        filters(compare.runs_table(everything))
        st.fragment(live, run_every=refresh)(RUNS_VIEW)
if grid_tab.open:
    with grid_tab:
        grid_form()
        st.divider()
        st.fragment(live, run_every=refresh)(GRID_VIEW)
