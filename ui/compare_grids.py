"""The Compare page's Ablation grids view: a base preset, overrides and the values to vary become
a grid of queued runs (lmcore.ablation, lmcore.queue); its results show what each toggle did.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import ui
from explorer import compare
from lmcore import ablation, queue
from lmcore.config import PLACEMENTS, ConfigError, parse_assignments
from lmcore.presets import PRESETS, resolve
from lmcore.summaries import RunSummary
from ui.compare_runs import FLASH, RUNS_VIEW, SELECTED, TAB, TABLE_COLUMNS, display_table

GRID_PRESET = "compare.grid.preset"
GRID_OVERRIDES = "compare.grid.overrides"
GRID_CONCURRENCY = "compare.grid.concurrency"
GRID_CHOSEN = "compare.grid.chosen"      # the grid whose results are shown
GRID_TOGGLE = "compare.grid.toggle."     # + config key: the values to vary

# Toggle -> the values offered; an empty choice keeps the base preset's value.
TOGGLES = {"dropout_placement": list(PLACEMENTS), "tie_weights": [False, True], "layers": [1, 2, 3, 4],
           "dropout": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.65], "hidden_size": [64, 128, 200, 256, 650],
           "seed": [1, 2, 3, 4, 5]}


def init_state() -> None:
    ui.init_state({GRID_PRESET: "tiny", GRID_OVERRIDES: "epochs=2", GRID_CHOSEN: None,
                   **{GRID_TOGGLE + key: [] for key in TOGGLES}})
    if GRID_CONCURRENCY not in st.session_state:
        st.session_state[GRID_CONCURRENCY] = queue.concurrency(ui.runs_root())


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


def grid_results(summaries: list[RunSummary]) -> None:
    st.subheader("Grid results")
    entries = compare.grids(summaries)
    waiting, running = len(queue.pending(ui.runs_root())), sum(s.state == "running" for s in summaries)
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
                 column_order=["label", "state", "progress", "best_val_ppl", "final_val_ppl", "best_epoch", "test_ppl",
                               "step", "total_steps", "training_seconds", "note"])
    if st.button("Compare these runs in the table", icon=":material/compare_arrows:", on_click=show_in_table,
                 args=([s.id for s in entry["runs"]],)):
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
