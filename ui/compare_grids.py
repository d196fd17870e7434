"""The Compare page's Ablation grids view: a base preset, overrides, the values to vary and the
seeds per cell become a grid of queued runs (lmcore.ablation, lmcore.queue); its results show
each cell as one curve with a band, each cell's mean ± sd, and what each toggle did with a 95%
interval (lmcore.effects.grid_effects, the numbers `lmcore effects GROUP --json` prints).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from explorer import compare, grid_view
from explorer.textview import md_escape
from lmcore import ablation, data, effects, queue, stats
from lmcore.config import PLACEMENTS, ConfigError, parse_assignments
from lmcore.effects import failed_training_text, grid_effects, repeated_text
from lmcore.grid_export import cells_csv
from lmcore.presets import PRESETS, resolve
from lmcore.summaries import RunSummary, list_runs
from ui import access, plots, queue_backend
from ui.compare_runs import FLASH, GRID_CHOSEN, RUNS_VIEW, SELECTED, TAB, TABLE_COLUMNS, display_table
from ui.grid_charts import band_figure, effects_figure
from ui.train_setup import device_here

GRID_PRESET = "compare.grid.preset"
GRID_OVERRIDES = "compare.grid.overrides"
GRID_CONCURRENCY = "compare.grid.concurrency"
GRID_SEEDS = "compare.grid.seeds"
GRID_CONFIRM = "compare.grid.confirm."   # + the run count: a tick confirms that many runs only
GRID_TOGGLE = "compare.grid.toggle."     # + config key: the values to vary
GRID_BAND = "compare.grid.band"

# Toggle -> the values offered; an empty choice keeps the base preset's value. Seeds are not a
# toggle: "Seeds per cell" repeats every cell, so a cell's runs are its replicates.
TOGGLES = {"dropout_placement": list(PLACEMENTS), "tie_weights": [False, True], "layers": [1, 2, 3, 4],
           "dropout": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.65], "hidden_size": [64, 128, 200, 256, 650]}
MAX_SEEDS = 10


def init_state() -> None:
    ui.init_state({GRID_PRESET: "tiny", GRID_OVERRIDES: "epochs=2", GRID_CHOSEN: None, GRID_SEEDS: 1,
                   GRID_BAND: grid_view.MIN_MAX, **{GRID_TOGGLE + key: [] for key in TOGGLES}})
    if GRID_CONCURRENCY not in st.session_state:
        st.session_state[GRID_CONCURRENCY] = queue.concurrency(ui.runs_root())


# ---------------------------------------------------------------- the form


def grid_form() -> None:
    """Pick a base, overrides, toggles and seeds; see the grid's size; queue it."""
    st.subheader("Queue an ablation grid")
    left, right = st.columns([1, 2])
    left.selectbox("Base preset", list(PRESETS), key=GRID_PRESET, persist_state="session")
    left.caption(PRESETS[st.session_state[GRID_PRESET]].summary)
    right.text_area("Overrides, one key=value a line (as --set), e.g. fewer epochs so a class can afford it",
                    key=GRID_OVERRIDES, height=120, placeholder="epochs=2\nmax_steps=300", persist_state="session")
    st.markdown("**Vary** (every combination of the values chosen is one cell)")
    columns = st.columns(3)
    for i, (key, values) in enumerate(TOGGLES.items()):
        columns[i % 3].multiselect(key, values, key=GRID_TOGGLE + key, placeholder="base value",
                                   format_func=compare.show_value, persist_state="session")
    columns[len(TOGGLES) % 3].number_input(
        "Seeds per cell", 1, MAX_SEEDS, key=GRID_SEEDS, persist_state="session",
        help="every cell runs this many times, with seeds seed, seed+1, ...: the spread tells an effect "
             "from the luck of one seed, and two or more give each effect a 95% interval")
    toggles = {key: st.session_state[GRID_TOGGLE + key] for key in TOGGLES}
    seeds = st.session_state[GRID_SEEDS]
    cells, problems = build_cells(toggles)
    count = ablation.size(toggles, seeds)
    st.markdown(size_line(toggles, seeds, count))
    inert_notes(cells)
    for problem in problems[:3]:
        st.error(problem, icon=":material/error:")
    if len(problems) > 3:
        st.caption(f"… and {len(problems) - 3} more problems like these.")
    ready = not problems and (any(toggles.values()) or seeds > 1)
    confirmed = count <= ablation.CONFIRM_ABOVE or confirm_box(count)
    if cells and ready:
        estimate_lines(cells, seeds)
    queue_backend.backend_row()
    queue_row(toggles, seeds, count, disabled=not ready or not confirmed or not queue_backend.ready())
    if cells and ready:
        with st.expander(f"The {len(cells)} cell{'s' if len(cells) != 1 else ''}"
                         + (f", {seeds} seeds each" if seeds > 1 else "")):
            st.dataframe(pd.DataFrame({"cell": [c.name for c in cells]}), hide_index=True)


def size_line(toggles: dict, seeds: int, count: int) -> str:
    """'**12 runs** = 2 dropout_placement × 2 tie_weights × 3 seeds'."""
    factors = [f"{len(v)} {k}" for k, v in toggles.items() if v] + ([f"{seeds} seeds"] if seeds > 1 else [])
    head = f"**{count} run{'s' if count != 1 else ''}**"
    return head + (f" = {' × '.join(factors)}" if factors else
                   " (choose values above to vary, or more seeds; an empty toggle keeps the base value)")


def estimate_lines(cells: list, seeds: int) -> None:
    """Steps and time before queueing, as Train's set-up says them for one run."""
    mine = list_runs(ui.runs_root())  # reference runs never train here
    for kind, text in grid_view.grid_estimate(cells, seeds, mine, device_here(cells[0].device)):
        getattr(st, kind)(text, **({"icon": "⏳"} if kind == "warning" else {}))


def inert_notes(cells: list) -> None:
    """What in the grid cannot act, before anyone spends the time on it."""
    configs = [cell.to_dict() for cell in cells]
    show_inert(ablation.inert_toggles(configs))
    for line in ablation.inert_everywhere(configs):
        st.caption(f"In every cell, {line}.")


def show_inert(findings: list[dict], trained: bool = False) -> None:
    """A toggle no cell lets act (a placement with dropout 0), or two of its values that train
    alike, is a warning with its fix; a toggle idle in some cells only, a caption."""
    for finding in findings:
        if finding["kind"] == "cells":
            st.caption(ablation.inert_text(finding, trained))
        else:
            st.warning(ablation.inert_text(finding, trained), icon=":material/block:")


def confirm_box(count: int) -> bool:
    st.warning(f"{count:,} runs is more than {ablation.CONFIRM_ABOVE}: at a few minutes each that is hours "
               "of training. Tick the box to queue them all.", icon=":material/warning:")
    return st.checkbox(f"Yes, queue all {count:,} runs", key=GRID_CONFIRM + str(count))


CONCURRENCY_HELP = ("how many queued runs train at once (all grids share the queue). On a CPU, runs at once share "
                    "the cores (two on 2 cores: each at about half its speed). On a GPU with CUDA graphs one at a "
                    "time is fastest: four book-sized runs together made 166k tokens/s on an H200, one alone 201k "
                    "(docs/performance.md)")


def queue_row(toggles: dict, seeds: int, count: int, disabled: bool) -> None:
    go_column, concurrency_column, _ = st.columns([1, 1, 2], vertical_alignment="bottom")
    concurrency_column.number_input("Runs at a time", 1, 8, key=GRID_CONCURRENCY, on_change=save_concurrency,
                                    disabled=not access.may_change(), help=access.help_or_refusal(CONCURRENCY_HELP))
    if go_column.button(f"Queue {count} run{'s' if count != 1 else ''}", type="primary", icon=":material/playlist_add:",
                        disabled=disabled or not access.may_change(), help=access.refusal(), width="stretch") \
            and access.may_change():
        configs = ablation.grid(base_config(), toggles, seeds=seeds)
        queue_backend.apply()  # the backend chosen above takes over the queue only now
        folders = queue.enqueue([c.to_dict() for c in configs], ui.runs_root(), [c.name for c in configs])
        st.session_state[GRID_CHOSEN] = configs[0].group
        st.session_state[FLASH] = ("success", f"Queued {len(folders)} runs as grid **{configs[0].group}**; "
                                              f"{queue.concurrency(ui.runs_root())} at a time.")
        st.rerun()


def base_config():
    lines = [line.strip() for line in st.session_state[GRID_OVERRIDES].splitlines() if line.strip()]
    return resolve(st.session_state[GRID_PRESET], overrides=parse_assignments(lines))


def build_cells(toggles: dict) -> tuple[list, list[str]]:
    """One config per cell (seed aside: seeds change no rule) and what stops their corpora from
    training (as `lmcore grid` refuses them), or every config problem at once."""
    try:
        cells = ablation.grid(base_config(), toggles)
    except ConfigError as error:
        return [], error.problems
    return cells, data.corpora_problems(cells)


def save_concurrency() -> None:
    if access.refusal():
        return
    queue.set_concurrency(ui.runs_root(), st.session_state[GRID_CONCURRENCY])
    queue.ensure_worker(ui.runs_root())


# ---------------------------------------------------------------- the results


def grid_results(summaries: list[RunSummary]) -> None:
    st.subheader("Grid results")
    entries = compare.grids(summaries)
    # The page's one listing, read once this rerun: the queue line and the grid's line count it alike.
    st.caption(grid_view.queue_text(queue.counts(summaries), queue.concurrency(ui.runs_root())))
    if not entries:
        st.caption("No grids yet. Queue one above; its results appear here as its runs finish.")
        return
    by_group = {e["group"]: e for e in entries}
    if st.session_state[GRID_CHOSEN] not in by_group:
        st.session_state[GRID_CHOSEN] = entries[0]["group"]
    st.selectbox("Grid", list(by_group), key=GRID_CHOSEN, format_func=lambda g: grid_view.grid_label(by_group[g]))
    entry = by_group[st.session_state[GRID_CHOSEN]]
    st.progress(compare.grid_progress(entry), text=grid_view.progress_text(entry))
    report = grid_effects(entry["runs"], entry["group"])
    missing = grid_view.missing_note(report, entry["runs"])
    if missing:
        st.warning(missing, icon=":material/grid_off:")
    if repeated := repeated_text(report["repeated_seeds"]):
        st.warning(md_escape(repeated), icon=":material/content_copy:")
    if failed := failed_training_text(report["failed_training"]):
        st.warning(md_escape(failed), icon=":material/trending_up:")
    # Cells whose means nearly coincide, or whose colours a colour-blind eye confuses, still show apart by
    # their markers: the colours and shapes runs get (ui.place_style). Not PALETTE's by place: past 8 cells
    # its grey read as switched off (QA round 8) and its olive had the red cell's square, two colours a
    # red-green colour-blind eye sees close.
    looks = {cell["label"]: ui.place_style(i) for i, cell in enumerate(report["cells"])}
    cell_curves(entry, looks)
    cells_table(entry, report)
    toggle_effects(entry, report)
    cells_download(entry, report)


def cell_curves(entry: dict, looks: dict) -> None:
    st.markdown("**Validation perplexity per cell**: the line is the mean over the cell's finished and "
                "training seeds, up to the step all of them have reached")
    st.segmented_control("Band", list(grid_view.BANDS), key=GRID_BAND, required=True, persist_state="session")
    cells = ablation.cells(entry["runs"])
    frames = {cell["label"] or entry["group"]: [ui.metrics_frame(s.path) for s in grid_view.curve_runs(cell["runs"])]
              for cell in cells}
    curves = [{"label": label, "color": looks[cell["label"]].colour, "symbol": looks[cell["label"]].symbol,
               "curve": grid_view.cell_curve(frames[label], st.session_state[GRID_BAND])}
              for label, cell in zip(frames, cells)]
    if not any(len(c["curve"]) for c in curves):
        st.caption("No validation yet: each cell's curve appears with its runs' first validation.")
        return
    figure, clip = band_figure(curves, st.session_state[GRID_BAND])
    plots.show(figure, "compare.grid.curves", toolbar=True)
    for note in (grid_view.curve_note(frames), clip and clip.note()):
        if note:
            st.caption(note)


def cells_table(entry: dict, report: dict) -> None:
    st.markdown(grid_view.cells_heading(entry["runs"]))
    frame = grid_view.cells_frame(report, entry["runs"])
    st.table(grid_view.cells_table(frame), hide_index=True)
    table = compare.runs_table(entry["runs"])  # built once: the CSV and the expander's table
    row = st.container(horizontal=True)
    row.download_button(f"CSV of the {entry['total']} runs", grid_view.runs_csv(entry["runs"], table),
                        file_name=f"{entry['group']}.csv", mime="text/csv", icon=":material/download:",
                        on_click="ignore", help="one row per run with its cell, unrounded numbers")
    if row.button("Compare these runs in the table", icon=":material/compare_arrows:", on_click=show_in_table,
                  args=([s.id for s in entry["runs"]],)):
        st.rerun()  # the tabs sit outside this fragment
    with st.expander(f"Every run of the grid ({entry['total']})"):
        st.dataframe(display_table(table), hide_index=True, column_config=TABLE_COLUMNS,
                     placeholder="—", column_order=["label", "state", "progress", "best_val_ppl", "final_val_ppl",
                                                    "best_epoch", "test_ppl", "step", "total_steps",
                                                    "training_seconds", "note"])


def show_in_table(run_ids: list[str]) -> None:
    st.session_state[SELECTED] = run_ids
    st.session_state[TAB] = RUNS_VIEW


def toggle_effects(entry: dict, report: dict) -> None:
    many_valued = effects.many_valued(report["values"])
    st.markdown("**What each toggle did**: the change in perplexity from the toggle's first value"
                + (", and with three or more values between each two of them" if many_valued else ""))
    show_inert(report["inert"], trained=True)
    if not report["toggles"]:
        st.caption("This grid varies nothing but the seed, so there is no effect to estimate.")
        return
    note, ended = grid_view.state_note(entry), not entry["active"]
    pairs = grid_view.interactions_by_pair(report)
    charts = [(key, grid_view.chart_title(key, report["values"][key][0], rows), rows)
              for key in report["toggles"] for rows in [grid_view.effects_of(report, key)]]
    charts += [(f"interaction.{'.'.join(pair)}", f"{' × '.join(pair)} (interaction)", rows)
               for pair, rows in pairs.items()]
    drawn = [(key, title, rows) for key, title, rows in charts if grid_view.has_estimate(rows)]
    if not drawn:  # an empty chart (a zero line alone) would read as "no effect"
        for text in (note if ended else None, grid_view.first_estimate_note(report, entry["runs"], ended)):
            if text:
                st.caption(text)
        return
    for text in grid_view.best_lines(report):   # "which value is best": the answer before the numbers behind it
        st.markdown(f"**{md_escape(text)}**")
    if note_on_best := grid_view.best_note(report):
        st.caption(note_on_best)
    st.caption(stats.method(many_valued))
    if report["noise"]:
        st.warning(report["noise"], icon=":material/casino:")
    for text in (note, grid_view.pairing_note(report)):
        if text:
            st.caption(text)
    for start in range(0, len(drawn), 2):  # a row of two at a time, so they read left to right
        for column, (key, title, rows) in zip(st.columns(2), drawn[start:start + 2]):
            with column:
                st.markdown(f"**{title}**")
                interaction = key.startswith("interaction.")
                if interaction:
                    st.caption(grid_view.interaction_meaning(rows[0]))
                plots.show(effects_figure(rows, interaction=interaction), f"compare.effect.{key}")
    every = report["effects"] + report["interactions"]
    undrawn = [title for _, title, rows in charts if not grid_view.has_estimate(rows)]
    for text in (grid_view.undrawn_note(undrawn, ended=ended or bool(report.get("missing"))),
                 grid_view.no_interval_note(every, entry["runs"], report["toggles"])):
        if text:
            st.caption(text)
    st.table(grid_view.effects_table(every), hide_index=True)
    for text in grid_view.dependence_notes(report):
        st.caption(text)
    st.download_button("CSV of these effects", grid_view.effects_csv(every, report["best"]),
                       file_name=f"{entry['group']}-effects.csv",
                       mime="text/csv", icon=":material/download:", on_click="ignore",
                       help="each effect and interaction with its unrounded estimate, interval, n, df, method and "
                       "what its pairs differ in; then which value of a toggle with three or more values is best")


def cells_download(entry: dict, report: dict) -> None:
    """The cells as a paper's table needs them, under the effects' CSV: the table above shows mean ± sd
    only, and each cell's 95% interval was in `lmcore effects --json` alone (QA round 19, P3)."""
    st.download_button(f"CSV of the {len(report['cells']) + len(report['missing'])} cells",
                       cells_csv(report, entry["runs"]), file_name=f"{entry['group']}-cells.csv", mime="text/csv",
                       icon=":material/download:", on_click="ignore",
                       help="one row per cell: its toggles' values, and per metric n, mean, sd and the 95% interval "
                       "of the mean, unrounded; the seeds its numbers rest on, and its unfinished and missing runs "
                       "(`lmcore effects GROUP --cells-csv` writes the same)")
