"""explorer.grid_view and explorer.compare_links: a cell's mean curve and band, the cells table,
the per-run CSV, effects as chart rows, and reading a shared link; checked on hand-made numbers."""

import csv
import io
import math

import pandas as pd
import pytest

from explorer import compare, compare_links, grid_view
from lmcore import effects, stats
from lmcore.summaries import from_parts


def val_lines(*points):
    return pd.DataFrame([{"kind": "val", "step": step, "epoch": 1, "ppl": ppl} for step, ppl in points]
                        + [{"kind": "train", "step": 1, "epoch": 1, "ppl": 9999.0}])


def test_a_cells_curve_is_the_mean_with_a_min_max_or_one_sd_band():
    frames = [val_lines((10, 100.0), (20, 80.0)), val_lines((10, 110.0), (20, 90.0)),
              val_lines((10, 120.0), (20, 85.0))]
    curve = grid_view.cell_curve(frames, grid_view.MIN_MAX)
    assert curve["step"].tolist() == [10, 20]                       # train lines are not in it
    assert curve["mean"].tolist() == [110.0, 85.0] and curve["n"].tolist() == [3, 3]
    assert curve["low"].tolist() == [100.0, 80.0] and curve["high"].tolist() == [120.0, 90.0]
    sd = grid_view.cell_curve(frames, grid_view.ONE_SD)
    assert sd["low"].tolist() == pytest.approx([100.0, 85.0 - math.sqrt(25.0)])   # sd 10 and 5
    assert sd["high"].tolist() == pytest.approx([120.0, 90.0])


def test_a_cells_line_stops_at_the_step_every_seed_has_reached():
    """QA: the mean averaged 2 seeds where both had data and 1 beyond, so it jumped where a
    running seed's curve ended (the finished seed alone read as the cell's mean)."""
    frames = [val_lines((10, 100.0), (20, 80.0), (30, 70.0)), val_lines((10, 110.0))]
    curve = grid_view.cell_curve(frames)
    assert curve["step"].tolist() == [10] and curve["n"].tolist() == [2] and curve["mean"].tolist() == [105.0]
    assert grid_view.curve_note({"a": frames, "b": frames[:1]}) == (
        "A line stops where the slowest of its cell's seeds is, so its mean never drops a seed midway: "
        "a at step 10 (its seeds have reached steps 10 and 30).")
    # A seed with no validation yet (queued) is not waited for, and the note says it is left out.
    empty = pd.DataFrame(columns=["kind", "step", "epoch", "ppl"])
    assert grid_view.cell_curve([frames[0], empty])["step"].tolist() == [10, 20, 30]
    assert grid_view.curve_note({"a": [frames[0], empty]}) == (
        "Seeds with no validation yet are not in their cell's line: a (1 of 2).")
    assert grid_view.curve_note({"a": frames[:1]}) is None


def test_a_cells_curve_leaves_out_seeds_that_failed_or_stopped():
    runs = [summary("none", False, seed, 90.0, state=state)
            for seed, state in enumerate(("finished", "running", "queued", "failed", "stopped", "broken"))]
    assert [run.state for run in grid_view.curve_runs(runs)] == ["finished", "running", "queued"]


def test_one_run_has_no_band_and_no_runs_an_empty_curve():
    alone = grid_view.cell_curve([val_lines((10, 100.0))], grid_view.ONE_SD)
    assert alone[["mean", "low", "high", "n"]].values.tolist() == [[100.0, 100.0, 100.0, 1]]
    assert grid_view.cell_curve([pd.DataFrame(columns=["kind", "step", "epoch", "ppl"])]).empty
    assert grid_view.cell_curve([]).empty


def summary(placement, tied, seed, best, state="finished"):
    config = {"dropout_placement": placement, "tie_weights": tied, "seed": seed, "group": "g", "layers": 1,
              "name": f"placement={placement} tied={str(tied).lower()} seed={seed}"}
    status = {"state": state, "best_val_ppl": best, "test_ppl": best - 3.0, "final_val_ppl": best + 10.0,
              "best_epoch": 2 if seed == 1 else 3}
    return from_parts(f"2026-{placement}-{tied}-{seed}", "runs/x", config, status, None)


@pytest.fixture
def grid():
    best = {("none", False): (100.0, 104.0), ("none", True): (95.0, 97.0),
            ("vertical", False): (90.0, 96.0), ("vertical", True): (84.0, None)}
    return [summary(p, t, seed, value) if value else summary(p, t, seed, 80.0, state="running")
            for (p, t), values in best.items() for seed, value in zip((1, 2), values)]


def test_the_cells_table_reads_mean_sd_and_n_from_the_report(grid):
    table = grid_view.cells_frame(effects.grid_effects(grid, "g")).set_index("cell")
    assert list(table.index) == ["placement=none tied=false", "placement=none tied=true",
                                 "placement=vertical tied=false", "placement=vertical tied=true"]
    # 100 and 104: mean 102, sd sqrt(8) = 2.83; final = best + 10; test = best - 3
    first = table.loc["placement=none tied=false"]
    assert (first["best val"], first["final val"], first["test"]) == (
        "102.0 ± 2.8 (n=2)", "112.0 ± 2.8 (n=2)", "99.0 ± 2.8 (n=2)")
    assert first["best epoch"] == "2–3 (n=2)" and first["finished"] == "2 / 2"   # whole epochs: their range
    last = table.loc["placement=vertical tied=true"]
    assert last["best val"] == "84.0 (n=1 of 2)" and last["finished"] == "1 / 2"   # one still running


def test_best_epochs_read_as_one_number_when_the_seeds_agree():
    """QA: 'best epoch 4 ± 0.0 (n=2)'; a ± on a whole epoch reads oddly."""
    assert grid_view.range_text(stats.describe([4, 4])) == "4 (n=2)"
    assert grid_view.range_text(stats.describe([3, 5, 4])) == "3–5 (n=3)"
    assert grid_view.range_text(stats.describe([2])) == "2 (n=1)"
    assert grid_view.range_text(stats.describe([])) == "—"


def test_a_cell_without_finished_runs_says_why():
    """QA: the diverged cell read only '—'; its reason was in a collapsed expander."""
    diverged = ("diverged at step 21: the training loss stayed above 12.6 since step 2 (ln 2000 + 5: far worse "
                "than guessing uniformly); try a lower lr or a tighter clip")

    def run(state, problem=None):
        return from_parts(f"r-{state}", "runs/x", {"seed": 1}, {"state": state, "error": problem}, None)

    assert grid_view.cell_note([run("failed", diverged), run("failed", diverged)]) == \
        "both runs failed: diverged at step 21"
    assert grid_view.cell_note([run("failed", diverged)] * 3) == "all 3 runs failed: diverged at step 21"
    assert grid_view.cell_note([run("running"), run("failed", diverged), run("finished")]) == \
        "1 failed (diverged at step 21), 1 running"
    assert grid_view.cell_note([run("stopped"), run("queued")]) == "1 stopped (can be resumed on Train), 1 queued"
    assert grid_view.cell_note([run("finished"), run("finished")]) == ""
    killed = "the training process (pid 7179) ended without a final status: killed or crashed"
    assert grid_view.short_reason(killed) == "killed or crashed"                     # its pid is noise here
    assert grid_view.short_reason("Error: " + "x" * 100).endswith("…")     # a short head keeps what follows
    assert len(grid_view.short_reason("y" * 100)) == grid_view.REASON_CHARS
    assert grid_view.short_reason(None) == "no reason recorded"


def test_spread_text_without_finished_runs():
    assert grid_view.spread_text({"mean": None, "sd": None, "n": 0}) == "—"
    assert grid_view.spread_text({"mean": 1.0142e304, "sd": None, "n": 1}) == "1.0e304 (n=1)"


def test_the_csv_has_one_row_per_run_with_its_cell(grid):
    rows = list(csv.DictReader(io.StringIO(grid_view.runs_csv(grid))))
    assert len(rows) == 8 and list(rows[0])[:2] == ["cell", "id"]
    assert list(rows[0])[1:] == list(compare.COLUMNS)                  # every column of the runs table
    by_id = {row["id"]: row for row in rows}
    assert by_id["2026-vertical-True-2"]["cell"] == "placement=vertical tied=true"
    assert by_id["2026-vertical-True-2"]["state"] == "running"
    assert float(by_id["2026-none-False-2"]["best_val_ppl"]) == 104.0


def test_the_effects_csv_has_every_effect_unrounded_with_its_df_and_what_it_spans(grid):
    """QA round 12: the effects could only be copied off the page, rounded, or taken from the CLI's JSON."""
    report = effects.grid_effects(grid, "g")
    every = report["effects"] + report["interactions"]
    rows = list(csv.DictReader(io.StringIO(grid_view.effects_csv(every))))
    assert list(rows[0]) == ["contrast", "metric", "estimate", "low", "high", "confidence", "n", "df", "method",
                             "over", "left out", "verdict", "note"]
    assert len(rows) == len(every)
    for row, effect in zip(rows, every):
        assert (float(row["estimate"]) if row["estimate"] else None) == effect["estimate"]   # not rounded
        assert row["note"] == (effect.get("note") or "")       # the change at each value of the other toggles
        assert (float(row["df"]) if row["df"] else None) == effect["df"]


def test_effect_rows_keep_the_reports_numbers_and_say_no_interval(grid):
    report = effects.grid_effects(grid, "g")   # one run still going: its partner is left out
    rows = grid_view.effect_rows(grid_view.effects_of(report, "tie_weights"))
    assert rows["contrast"].tolist() == ["tied=true vs false"] * 3
    assert rows["row"].tolist() == ["true · best val", "true · final val", "true · test"]   # the title says "vs false"
    assert grid_view.chart_title("tie_weights", "false") == "tie_weights, each value vs false"
    found = next(r for r in report["effects"] if r["toggle"] == "tie_weights" and r["metric"] == "best_val")
    assert rows.iloc[0][["estimate", "low", "high"]].tolist() == [found["estimate"], found["low"], found["high"]]
    assert found["method"] == "paired" and rows.iloc[0]["reads"].endswith(found["verdict"])
    assert rows.iloc[0][["n", "left out", "over"]].tolist() == [3, 1, "seeds and other toggles' values"]
    pair = grid_view.interactions_by_pair(report)[("dropout_placement", "tie_weights")]
    assert grid_view.effect_rows(pair)["contrast"].tolist() == ["placement × tied"] * 3
    assert grid_view.effect_rows(pair)["row"].tolist() == ["best val", "final val", "test"]
    # Seed 1 alone has all four corners: one difference of differences, no interval, said in words.
    assert pair[0]["low"] is None and grid_view.interval_text(pair[0]).endswith("· no interval")
    assert "No interval" in grid_view.no_interval_note(pair)
    assert grid_view.no_interval_note(grid_view.effects_of(report, "dropout_placement")) is None


def test_effect_rows_of_a_balanced_grid_are_paired_and_labelled(grid):
    finished = [s for s in grid if s.state == "finished"] + [summary("vertical", True, 2, 87.0)]
    report = effects.grid_effects(finished, "g")
    row = grid_view.effect_rows(grid_view.effects_of(report, "tie_weights")).iloc[0]
    # Pairs (placement, seed): -5, -7, -6, -9: mean -6.75, t(3) interval -6.75 +- 2.72: lower.
    assert row["method"] == "paired" and row["estimate"] == pytest.approx(-6.75)
    assert row["reads"] == "-6.8 [-9.5, -4.0] · lower"
    assert grid_view.interval_text({"estimate": None}) == "no finished runs"


def test_a_link_keeps_known_runs_in_order_and_names_the_rest():
    known = {"a", "b", "c"}
    assert compare_links.runs_from_link("c, a,zz,a,,../etc", known) == (["c", "a"], ["zz", "../etc"], [])
    assert compare_links.runs_from_link(None, known) == ([], [], [])
    # As the CLI reads a run: a name, preset or id tail that names one run is that run, several none.
    names = {"book": ["b"], "tiny": ["a", "c"], "a": ["a"]}
    read = compare_links.runs_from_link("book,tiny,zz,c,a", known, lambda given: names.get(given, []))
    assert read == (["b", "c", "a"], ["zz"], ["tiny"])
    assert compare_links.several_note(["tiny"]) == ("The link's `tiny` names several runs here (ignored): give a "
                                                    "run's id, or its last 4 characters.")
    assert compare_links.several_note(["tiny"], lambda given: names[given]) == (
        "The link's `tiny` names 2 runs here (ignored): `a`, `c`; give one's id, or its last 4 characters.")
    assert compare_links.runs_value(["c", "a"]) == "c,a"
    assert compare_links.ignored_note([]) is None
    assert compare_links.ignored_note(["zz"]) == "The link names 1 run that is not here (ignored): `zz`."
    assert f"`{'y' * 60}…`." in compare_links.ignored_note(["y" * 500])  # cut, and said to be
    many = compare_links.ignored_note([f"x{i}" for i in range(5)], what="run")
    assert many.startswith("The link names 5 runs that are not here") and many.endswith("and 2 more.")


def entry_of(runs: list) -> dict:
    return next(e for e in compare.grids(runs))


def test_the_grids_state_note_says_partial_while_runs_go_and_ended_once_none_does(grid):
    """QA: with nothing queued or running it still said 'until every run finishes'."""
    assert grid_view.state_note(entry_of(grid)).startswith("Partial results: until every queued or running run")
    ended = [s for s in grid if s.state == "finished"] + [summary("vertical", True, 2, 80.0, state="failed")]
    assert grid_view.state_note(entry_of(ended)) == (
        "The grid has ended: nothing is queued or running, and 1 of its 8 planned runs did not finish (1 failed). The "
        "numbers rest on the finished seeds of each cell (n in the cells table); a run whose partner did not "
        "finish is left out of the paired comparisons.")
    stopped = ended[:-1] + [summary("vertical", True, 2, 80.0, state="stopped"),
                            summary("vertical", True, 3, 80.0, state="failed")]
    note = grid_view.state_note(entry_of(stopped))
    # seed 3 in one cell plans it in all four: the other three are missing, as the progress line counts them
    assert "5 of its 12 planned runs did not finish (1 failed, 1 stopped and 3 missing)" in note
    assert note.endswith("A stopped run can be resumed from its last checkpoint (open it on Train, press Resume): "
                         "these numbers then update as it finishes.")
    assert grid_view.state_note(entry_of(ended[:-1] + [summary("vertical", True, 2, 87.0)])) is None


def test_the_state_note_counts_planned_runs_as_the_progress_line_does(grid):
    """h22a/QA round 26: the progress line counts planned (cell, seed) runs, and the note counted runs: a
    failed copy of a finished seed read "1 of 9 runs did not finish" beside "0 failed or stopped", and a
    deleted run with the rest finished said nothing at all."""
    done = [s for s in grid if s.state == "finished"] + [summary("vertical", True, 2, 87.0)]
    copy = from_parts("2026-copy", "runs/x", dict(done[0].config), {"state": "failed", "best_val_ppl": None}, None)
    assert grid_view.state_note(entry_of(done + [copy])) is None
    assert grid_view.progress_text(entry_of(done + [copy])).startswith("This grid: 8 / 8 finished")
    gone = entry_of(done[1:])
    assert grid_view.progress_text(gone) == "Ended: 7 / 8 finished · 0 failed or stopped · 1 missing"
    assert grid_view.state_note(gone).startswith("The grid has ended: nothing is queued or running, and 1 of its "
                                                 "8 planned runs did not finish (1 missing).")


def test_a_grid_whose_second_seeds_did_not_finish_is_told_to_finish_them_not_to_queue_more(grid):
    """QA round 28: a 2-seed grid with its seed-2 runs stopped or deleted was told "Run more seeds per cell"
    and "Queue the grid with 3 or more seeds per cell": the remedy is to finish the seeds it planned."""
    firsts = [s for s in grid if s.config["seed"] == 1 and not s.config["tie_weights"]]   # placement alone
    stopped = firsts + [summary("none", False, 2, 80.0, state="stopped")]   # vertical's seed 2: deleted
    report = effects.grid_effects(stopped, "g")
    assert "The grid has 2 seeds per cell: once a cell's runs of two of them finish, that measures it." in \
        report["noise"]
    assert "Queue the grid with 3 or more seeds" not in report["method"]
    note = grid_view.no_interval_note(report["effects"] + report["interactions"], stopped, report["toggles"])
    assert note.endswith("Finish the runs that failed or stopped (Resume or Start over on Train); train again the "
                         "planned runs that are missing (deleted, unreadable or never queued: there is nothing to "
                         "resume), or run more seeds per cell, for an interval.")
    alone = effects.grid_effects(firsts, "g")                                           # one seed planned
    assert alone["noise"].endswith("Queue the grid with 3 or more seeds per cell to measure it.")


def test_with_no_estimate_the_page_says_what_the_first_needs(grid):
    """QA: the effects chart was drawn empty (a zero line on -0.05..0.05) when no contrast had a number."""
    waiting = [summary(p, t, seed, 90.0, state="finished" if p == "none" else "running")
               for p in ("none", "vertical") for t in (False, True) for seed in (1, 2)]
    report = effects.grid_effects(waiting, "g")
    assert not grid_view.has_estimate(grid_view.effects_of(report, "dropout_placement"))
    assert grid_view.has_estimate(grid_view.effects_of(report, "tie_weights"))
    assert grid_view.effect_rows(grid_view.effects_of(report, "dropout_placement"))["verdict"].tolist() == \
        ["no estimate"] * 3
    note = grid_view.first_estimate_note(report, waiting, ended=False)
    assert note == ("No effect has an estimate yet: an effect needs a finished run on both sides of its toggle "
                    "(an interaction: in all four of its cells), and these cells have none yet: "
                    "placement=vertical tied=false — both runs running; placement=vertical tied=true — both runs "
                    "running.")
    nothing = effects.grid_effects([s for s in waiting if s.state == "running"], "g")
    assert grid_view.first_estimate_note(nothing, waiting, ended=False).startswith(
        "Effects appear here once runs of this grid finish: an effect needs")
    assert grid_view.undrawn_note(["placement × tied (interaction)"]).startswith(
        "Not drawn, no estimate yet: placement × tied (interaction)")
    assert grid_view.undrawn_note([]) is None
    assert grid_view.undrawn_note(["placement × tied (interaction)"], ended=True).startswith(
        "Not drawn, no estimate: placement × tied")    # QA round 7: a deleted cell will not come "yet"


# The QA's 2x2 (dropout_placement none/vertical x dropout 0.2/0.5, one seed) after its run of
# dropout=0.2 placement=none was deleted from Compare.
DROPOUT = {("none", 0.2): 111.2, ("none", 0.5): 111.2, ("vertical", 0.2): 116.5, ("vertical", 0.5): 123.36}


def dropout_run(placement, dropout, best):
    config = {"dropout_placement": placement, "dropout": dropout, "seed": 1, "group": "g", "layers": 1,
              "name": f"dropout={dropout} placement={placement}"}
    status = {"state": "finished", "best_val_ppl": best}
    return from_parts(f"2026-{placement}-{dropout}", "runs/x", config, status, None)


@pytest.fixture
def deleted():
    return [dropout_run(p, d, best) for (p, d), best in DROPOUT.items() if (p, d) != ("none", 0.2)]


def test_a_deleted_cell_has_its_row_and_note_and_the_progress_says_so(deleted):
    """QA: '3 / 3 finished', no row for the deleted cell, and nothing said it was gone."""
    report = effects.grid_effects(deleted, "g")
    table = grid_view.cells_frame(report, deleted)
    assert table["cell"].tolist() == ["dropout=0.2 placement=none", "dropout=0.2 placement=vertical",
                                      "dropout=0.5 placement=none", "dropout=0.5 placement=vertical"]
    gone = table.iloc[0]
    assert (gone["finished"], gone["best val"], gone["unfinished runs"]) == (
        "0 / 1 (1 missing)", "—", "no run: deleted, unreadable or never queued")
    assert grid_view.missing_note(report) == (
        "No run of dropout=0.2 placement=none: deleted, unreadable or never queued. This grid has 3 of its 4 cells, "
        "so each "
        "effect compares only the combinations of the other toggles' values run on both of its sides (n counts "
        "the pairs), and an interaction needs all four of its cells.")
    assert grid_view.progress_text(entry_of(deleted)) == (
        "Ended: 3 / 4 finished · 0 failed or stopped · 1 missing (1 of 4 cells has no run)")
    assert grid_view.pairing_note(report) == (
        "Some runs lack a partner with the same seed and other toggles' values (missing, or not finished), so "
        "they are left out of the comparison: dropout=0.5 vs 0.2 on 1 pair (1 run left out); placement=vertical "
        "vs none on 1 pair (1 run left out).")
    whole = effects.grid_effects([dropout_run(p, d, best) for (p, d), best in DROPOUT.items()], "g")
    assert grid_view.missing_note(whole) is None and grid_view.pairing_note(whole) is None
    assert grid_view.progress_text(entry_of([dropout_run(p, d, b) for (p, d), b in DROPOUT.items()])).endswith(
        "0 failed or stopped")


# ---------------------------------------------------------------- a cell that lost one of its seeds


@pytest.fixture
def lost_seed():
    """A 2x2 with two seeds a cell, every run finished, seed 2 of placement=vertical tied=true deleted."""
    runs = [summary(p, t, seed, 90.0 + seed) for p in ("none", "vertical") for t in (False, True) for seed in (1, 2)]
    return [run for run in runs if run.id != "2026-vertical-True-2"]


def test_a_deleted_seed_leaves_its_cell_and_the_grid_short_of_their_plan(lost_seed):
    """QA round 10: the cell read '1 / 1' and '143.9 (n=1)', the grid '7 / 7 finished', nothing named the run."""
    report = effects.grid_effects(lost_seed, "g")
    table = grid_view.cells_frame(report, lost_seed).set_index("cell")
    short = table.loc["placement=vertical tied=true"]
    assert (short["finished"], short["best val"], short["best epoch"]) == ("1 / 2 (1 missing)", "91.0 (n=1 of 2)",
                                                                            "2 (n=1 of 2)")
    assert short["unfinished runs"] == "no run of seed 2: deleted, unreadable or never queued"
    whole = table.loc["placement=none tied=false"]
    assert (whole["finished"], whole["best val"], whole["unfinished runs"]) == ("2 / 2", "91.5 ± 0.7 (n=2)", "")
    assert grid_view.missing_note(report, lost_seed) == (
        "No run of placement=vertical tied=true seed 2: deleted, unreadable or never queued. The numbers of that "
        "cell rest on "
        "the seeds left (n of the planned in the cells table), and a run whose partner of the same seed is gone is "
        "left out of the paired comparisons.")
    assert grid_view.missing_note(report) is None   # without the runs nothing says what was planned
    entry = entry_of(lost_seed)
    assert grid_view.progress_text(entry) == "Ended: 7 / 8 finished · 0 failed or stopped · 1 missing"
    assert grid_view.grid_label(entry).endswith("× 2 seeds · 7 of 8 runs: 1 missing")
    assert grid_view.cells_heading(lost_seed) == ("**Each cell**: mean ± sd over its finished runs (n; 'of 2' where "
                                                  "fewer than the 2 seeds planned finished)")


def test_a_same_seed_copy_does_not_hide_a_deleted_seed_on_the_page(lost_seed):
    """QA: a copy of a seed-1 run joined the grid (`train --like RUN --set group=G`) and another cell's
    seed 2 was deleted: the progress line read '8 / 8 finished', the selector '8 runs', the copied cell
    '3 / 3', as if nothing were missing. Planned (cell, seed) runs are counted, a seed run twice once."""
    copy = from_parts("2026-none-False-1-copy", "runs/x", dict(lost_seed[0].config), dict(lost_seed[0].status), None)
    runs = lost_seed + [copy]
    entry = entry_of(runs)
    assert grid_view.progress_text(entry) == "Ended: 7 / 8 finished · 0 failed or stopped · 1 missing"
    assert grid_view.grid_label(entry).endswith("× 2 seeds · 7 of 8 runs: 1 missing")
    table = grid_view.cells_frame(effects.grid_effects(runs, "g"), runs).set_index("cell")
    assert table.loc["placement=none tied=false", "finished"] == "2 / 2"      # seeds 1 (twice) and 2
    assert table.loc["placement=vertical tied=true", "finished"] == "1 / 2 (1 missing)"
    assert compare.grid_progress(entry) == 1.0


def test_a_seed_run_twice_in_a_cell_is_one_share_of_the_progress_bar(lost_seed):
    """A copy still training beside its finished seed leaves that planned run settled; a failed seed whose
    copy trains is the copy's share, not settled."""
    whole = lost_seed + [summary("vertical", True, 2, 92.0)]
    first = whole[0]
    training = from_parts("copy", "runs/x", dict(first.config), {"state": "running", "step": 10, "total_steps": 40},
                          None)
    assert compare.grid_progress(entry_of(whole + [training])) == 1.0
    failed = [from_parts(first.id, "runs/x", dict(first.config), {"state": "failed"}, None)] + whole[1:]
    assert compare.grid_progress(entry_of(failed + [training])) == pytest.approx((7 + 0.25) / 8)


def test_a_grid_with_every_run_reads_as_before(lost_seed):
    full = lost_seed + [summary("vertical", True, 2, 92.0)]
    entry = entry_of(full)
    assert grid_view.progress_text(entry) == ("This grid: 8 / 8 finished · 0 running · 0 queued · "
                                              "0 failed or stopped")
    assert grid_view.grid_label(entry) == compare.grid_label(entry)
    assert grid_view.missing_note(effects.grid_effects(full, "g"), full) is None
    assert "deleted" not in grid_view.cells_frame(effects.grid_effects(full, "g"), full).to_string()


def test_a_single_difference_left_by_an_unfinished_partner_says_to_finish_it():
    """QA round 11: a grid of 2 seeds with one failed run was told 'Run more seeds per cell'."""
    lonely = {"estimate": -1.45, "low": None}
    assert grid_view.no_interval_note([{**lonely, "left_out": 1, "left_out_reasons": {"partner failed": 1}}]).endswith(
        "Finish the partners that failed or stopped (Resume or Start over on Train), or run more seeds per cell, "
        "for an interval.")
    assert grid_view.no_interval_note([{**lonely, "left_out": 1}]).endswith(   # why not known
        "Finish or train again the partners left out, or run more seeds per cell, for an interval.")
    assert grid_view.no_interval_note([{**lonely, "left_out": 0}]).endswith("Run more seeds per cell for an interval.")
    assert grid_view.no_interval_note([{"estimate": -1.45, "low": -3.0, "left_out": 1}]) is None


def test_a_killed_runs_reason_reads_whole_in_a_cell():
    """QA round 11: '1 failed (the training process (pid 20141) ended without a final stat…)'."""
    assert grid_view.short_reason("the training process (pid 20141) ended without a final status: killed or "
                                  "crashed") == "killed or crashed"
    assert grid_view.short_reason("diverged at step 21: loss is nan") == "diverged at step 21"


def test_degrees_of_freedom_read_whole_for_pairs_and_to_a_tenth_for_welch():
    """QA round 11: the method column read 'paired, df 1.0'."""
    assert [grid_view._df(df) for df in (1.0, 5.0, 3.74)] == ["1", "5", "3.7"]


def test_a_best_validation_inside_an_epoch_reads_as_the_epochs_trained(lost_seed):
    """QA round 12: a grid of runs capped 11 steps into epoch 2 read best epoch '2 (n=2)'."""
    from lmcore.summaries import from_parts

    capped = [from_parts(f"c{seed}", "/runs/c", {"preset": "tiny", "group": "g", "seed": seed, "dropout": 0.5,
                                                 "dropout_placement": "vertical", "epochs": 8, "max_steps": 160},
                         {"state": "finished", "best_val_ppl": 90.0, "final_val_ppl": 90.0, "best_epoch": 2,
                          "best_step": 160, "step": 160, "total_steps": 160, "steps_per_epoch": 149}, None)
              for seed in (1, 2)]
    assert capped[0].best_epoch_steps == (11, 149) and capped[0].best_epochs_trained == pytest.approx(1 + 11 / 149)
    cell = effects.grid_effects(capped, "g")["cells"][0]
    assert effects.range_text(cell["best_epoch"]) == "1.1 (n=2)"
    assert "a fraction where that came inside an epoch" in grid_view.cells_heading(capped)
    assert "a fraction" not in grid_view.cells_heading(lost_seed)          # whole epochs say nothing more


def test_a_three_valued_toggles_csv_ends_with_which_value_is_best_and_its_chart_keeps_to_the_first():
    three = {"none": (100.0, 110.0), "vertical": (90.0, 100.2), "variational": (85.0, 95.4)}   # test_effects.THREE
    report = effects.grid_effects([summary(p, True, seed, best) for p, bests in three.items()
                                   for seed, best in zip((1, 2), bests)], "g")
    assert [(r["reference"], r["level"]) for r in grid_view.effects_of(report, "dropout_placement")][::3] == [
        ("none", "vertical"), ("none", "variational")]                   # the chart's rows: each vs none
    assert grid_view.best_lines(report) == [
        "Best placement by best validation perplexity: variational (lower than vertical by 4.9 [1.1, 8.7], than "
        "none by 14.8 [7.2, 22.4]; 98.3% intervals)"]
    table = grid_view.effects_table(report["effects"]).set_index(["contrast", "metric"])
    assert table.loc[("placement=variational vs vertical", "best val"), "method"] == "paired, df\u00a01, 98.3%"
    rows = list(csv.DictReader(io.StringIO(grid_view.effects_csv(report["effects"], report["best"]))))
    assert len(rows) == 9 + 3 and rows[3]["contrast"] == "placement=variational vs none"
    assert float(rows[6]["confidence"]) == pytest.approx(1 - 0.05 / 3)   # variational vs vertical, best val
    assert [(r["contrast"], r["metric"], r["verdict"]) for r in rows[9:]] == [
        ("best placement", metric, "variational") for metric in ("best val", "final val", "test")]
    assert rows[9]["note"] == grid_view.best_lines(report)[0] and rows[9]["estimate"] == ""
    # whole numbers stay whole beside the answer rows' blanks (QA round 21: n=2.0, df=1.0, left out=0.0)
    assert (rows[0]["n"], rows[0]["df"], rows[0]["left out"]) == ("2", "1", "0") and rows[9]["n"] == ""


@pytest.mark.parametrize("state, remedy", [
    (None, "Train again the partners that are missing (deleted, unreadable or never queued: there is nothing to "
           "resume), or run more seeds per cell, for an interval."),
    ("failed", "Finish the partners that failed or stopped (Resume or Start over on Train), or run more seeds per "
               "cell, for an interval."),
    ("stopped", "Finish the partners that failed or stopped (Resume or Start over on Train), or run more seeds per "
                "cell, for an interval."),
    ("running", "Let the partners still queued or training finish, or run more seeds per cell, for an interval.")])
def test_the_remedy_for_a_missing_interval_is_worded_for_what_happened_to_the_partner(state, remedy):
    """QA: with a deleted partner run the caption said to finish the partners that failed or stopped
    (Resume or Start over on Train): a missing run cannot be resumed."""
    runs = [summary(p, False, seed, 90.0 + seed + 5 * (p == "vertical")) for p in ("none", "vertical")
            for seed in (1, 2)]
    runs = runs[:-1] + ([summary("vertical", False, 2, 97.0, state=state)] if state else [])   # vertical seed 2
    report = effects.grid_effects(runs, "g")
    note = grid_view.no_interval_note(report["effects"], runs, report["toggles"])
    assert note == ("No interval where a side has one finished run (one pair, or fewer than two runs on a side): "
                    f"the dot is that single difference. {remedy}")


def test_the_best_lines_note_counts_the_pairs_of_each_comparison():
    """QA: 'over 2 pairs of runs they are wide' stood above variational's comparisons, which rested on
    1 pair (its seed 2 deleted) and had no interval at all."""
    best = {"none": 100.0, "vertical": 95.0, "variational": 90.0}
    runs = [summary(p, False, seed, value + 4 * seed * (p == "vertical")) for p, value in best.items()
            for seed in (1, 2)]
    runs = [run for run in runs if run.id != "2026-variational-False-2"]
    report = effects.grid_effects(runs, "g")
    assert [item["best"] for item in report["best"] if item["metric"] == "best_val"] == [None]
    assert grid_view.best_note(report) == (
        "The line reads the 98.3% intervals below: a toggle's comparisons hold together at 95% only if each is that "
        "wide, and over 2 pairs of runs they are wide; placement=variational vs none and placement=variational vs "
        "vertical rest on one pair of runs, which gives no interval. A value far lower in the mean is called best "
        "only when every one of its comparisons says so; more seeds narrow them.")
