"""The grid, effects and eval --mc-samples commands, with a real 2x2 grid x 2 seeds trained
through the queue (two runs at a time), and the one-line errors of bad grids."""

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, SMALL
from lmcore import ablation, cli, locks, stats

# SMALL, cut to 40 steps with a validation every 20, so every run has two val lines.
BASE = [f"--set={key}={value}" for key, value in {**SMALL, "max_steps": 40, "eval_every": 20}.items()]


def lmcore(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "lmcore", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def finished_grid(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid") / "runs"
    done = lmcore("grid", *BASE, "--vary", "dropout_placement=none,variational", "--vary",
                  "tie_weights=false,true", "--set", "dropout=0.3", "--seeds", "2", "--concurrency", "2",
                  "--wait", "--runs-dir", str(root))
    assert done.returncode == 0, done.stderr
    queued, report = (json.loads(line) for line in done.stdout.strip().splitlines())
    return root, queued, report, done.stderr


@pytest.mark.slow  # the grid trains 8 runs: about 35 s on 2 cores
def test_grid_queues_every_cell_with_its_seeds_and_waits_for_them(finished_grid):
    root, queued, report, progress = finished_grid
    assert len(queued["runs"]) == 8 and queued["concurrency"] == 2
    assert [cell["label"] for cell in queued["cells"]] == [
        "placement=none tied=false", "placement=none tied=true",
        "placement=variational tied=false", "placement=variational tied=true"]
    assert all(len(cell["runs"]) == 2 for cell in queued["cells"])
    names = {json.loads((root / run / "config.json").read_text())["name"] for run in queued["runs"]}
    assert "placement=variational tied=true seed=2" in names and len(names) == 8
    assert f"{queued['group']}: 8 finished" in progress.splitlines()[-1]
    assert report["group"] == queued["group"] and report["finished"] == 8
    # Two at a time: some runs overlapped, never three.
    spans = [(status["started_at"], status["finished_at"]) for status in
             (json.loads((root / run / "status.json").read_text()) for run in queued["runs"])]
    overlaps = [sum(start <= moment < end for start, end in spans) for moment, _ in spans]
    assert max(overlaps) == 2


@pytest.mark.slow  # the grid trains 8 runs: about 35 s on 2 cores
def test_effects_json_has_paired_intervals_for_every_metric(finished_grid):
    root, queued, report, _ = finished_grid
    out = lmcore("effects", queued["group"], "--runs-dir", str(root), "--json", timeout=60)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert found == report                                        # --wait printed the same report
    assert len(found["effects"]) == 2 * 3 and len(found["interactions"]) == 3
    for row in found["effects"] + found["interactions"]:
        assert row["method"] == "paired" and row["n"] == (4 if "toggle" in row else 2)
        assert row["low"] < row["estimate"] < row["high"] or row["low"] == row["high"]
        assert row["verdict"] in ("within noise", "lower", "higher")
    cell = found["cells"][0]
    assert cell["best_val"]["n"] == 2 and cell["final_val"]["mean"] >= cell["best_val"]["mean"]
    assert cell["best_epoch"]["mean"] is not None


@pytest.mark.slow  # the grid trains 8 runs: about 35 s on 2 cores
def test_effects_text_table(finished_grid, capsys):
    root, queued, _, _ = finished_grid
    assert cli.main(["effects", queued["group"], "--runs-dir", str(root)]) == 0
    text = capsys.readouterr().out
    assert "placement=variational tied=true" in text and "tie_weights=true vs false, best_val" in text
    assert text.rstrip().endswith(stats.METHOD)  # the method closes it: two-valued toggles, no word of Bonferroni
    assert "Bonferroni" not in text and "95% interval):" in text


@pytest.mark.slow  # the grid trains 8 runs: about 35 s on 2 cores
def test_eval_reports_mc_dropout_beside_the_plain_perplexity(finished_grid, capsys):
    root, queued, _, _ = finished_grid
    run = next(r for r in queued["cells"] if r["label"] == "placement=variational tied=true")["runs"][0]
    arguments = ["eval", str(root / run), "--split", "test", "--mc-samples", "4", "--seed", "5"]
    assert cli.main(arguments) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["mc_samples"], first["mc_seed"]) == (4, 5) and first["mc_ppl"] != first["ppl"]
    assert cli.main(arguments) == 0
    assert json.loads(capsys.readouterr().out)["mc_ppl"] == first["mc_ppl"]
    assert cli.main(["eval", str(root / run), "--mc-samples", "-1"]) == 2


def test_effects_of_an_unknown_group_is_a_one_line_error(tmp_path, capsys):
    assert cli.main(["effects", "grid-nope", "--runs-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_bad_grids_report_every_problem_and_create_nothing(tmp_path, capsys):
    root = tmp_path / "runs"
    code = cli.main(["grid", "--preset", "tiny", "--vary", "dropot=0.1,0.2", "--vary", "layers=two",
                     "--vary", "tie_weights", "--set", "lr=-1", "--seeds", "0", "--runs-dir", str(root)])
    errors = capsys.readouterr().err.splitlines()
    assert code == 2 and len(errors) == 5
    assert any("did you mean dropout?" in line for line in errors)
    assert any("'two'" in line for line in errors) and any("--seeds" in line for line in errors)
    assert not root.exists()


@pytest.mark.parametrize("vary", ["group=a,b", "name=x,y", "seed=1,2"])
def test_a_key_the_grid_sets_itself_is_refused_in_one_line(tmp_path, capsys, vary):
    """QA: `--vary group=a,b` (and name) ended in a TypeError traceback with exit 1; `--vary seed=1,2` with
    --seeds left at 1 queued two runs that read as one cell with no toggle. One line each, exit 2."""
    root = tmp_path / "runs"
    assert cli.main(["grid", "--preset", "tiny", "--vary", vary, "--runs-dir", str(root)]) == 2
    key = vary.split("=")[0]
    err = capsys.readouterr().err
    assert err.splitlines() == [f"error: --vary {key}: {ablation.SET_BY_GRID[key]}"] and "Traceback" not in err
    assert not root.exists()


def test_a_grid_whose_splits_cannot_batch_is_refused_before_queueing(tmp_path, capsys):
    """The Train page's and `lmcore train`'s check (data.corpus_problems), for every config of the grid."""
    root = tmp_path / "runs"
    code = cli.main(["grid", "--preset", "tiny", "--set", "valid_tokens=100", "--vary", "eval_batch_size=10,60",
                     "--runs-dir", str(root)])
    assert code == 2 and not root.exists()
    assert capsys.readouterr().err.splitlines() == [
        "error: dataset: the validation split (valid_tokens=100, 100 tokens) is too small for eval_batch_size 60: "
        "evaluation needs 120 tokens (2 rows of 60); raise valid_tokens (0 = all) or lower eval_batch_size"]


def test_more_than_200_runs_needs_yes(tmp_path, capsys):
    root = tmp_path / "runs"
    many = ["grid", "--preset", "tiny", "--vary", "layers=1,2,3", "--seeds", "67", "--runs-dir", str(root)]
    assert cli.main(many) == 2
    assert "201 runs is more than 200; add --yes" in capsys.readouterr().err
    assert not root.exists()
    assert cli.main(many + ["--yes", "--set", "epochs=0"]) == 2     # past the size check, not past the values
    assert "epochs" in capsys.readouterr().err and not root.exists()


def test_grid_warns_on_stderr_about_a_toggle_that_cannot_act(tmp_path, capsys):
    from lmcore import queue

    root = tmp_path / "runs"
    root.mkdir()
    held = locks.try_lock(root / queue.LOCK)            # a worker "runs": nothing trains in this test
    try:
        code = cli.main(["grid", "--preset", "tiny", "--vary", "dropout_placement=none,variational", "--seeds", "2",
                         "--runs-dir", str(root)])
    finally:
        os.close(held)
    out, err = capsys.readouterr()
    assert code == 0 and len(json.loads(out)["runs"]) == 4     # queued all the same: a warning, not an error
    assert err.splitlines() == [
        "warning: dropout_placement cannot change anything in this grid: dropout_placement=variational does nothing "
        "while dropout is 0. Its cells train the same model whichever value they have, so its effect can only read 0. "
        "To make it count: set dropout > 0 in the overrides, or vary it too."]


def test_effects_text_reads_whole_epochs_and_says_which_toggle_had_no_way_to_act():
    from lmcore.effects import grid_effects
    from lmcore.grid_commands import format_report
    from lmcore.summaries import from_parts

    runs = [from_parts(placement, f"runs/{placement}", {"dropout": 0.0, "dropout_placement": placement, "group": "g"},
                       {"state": "finished", "best_val_ppl": 80.39, "final_val_ppl": 82.77, "best_epoch": 1}, None)
            for placement in ("none", "variational")]
    text = format_report(grid_effects(runs, "g"))
    assert "dropout_placement had no way to act in this grid" in text
    cells = [line for line in text.splitlines() if line.startswith("placement=")]
    assert len(cells) == 2 and all(line.endswith("  1 (n=1)") for line in cells)  # not 1.0
    assert "dropout_placement=variational vs none, best_val: +0.00 no interval n=1 paired  no way to act" in text


def test_effects_text_names_a_missing_cell_and_the_pairs_each_effect_used():
    """QA round 6 (after the page said so, the CLI too): a deleted run of a 2x2 leaves one pair per effect."""
    from lmcore.effects import grid_effects
    from lmcore.grid_commands import format_report
    from lmcore.summaries import from_parts

    scores = {("none", 0.5): 120.0, ("vertical", 0.2): 116.5, ("vertical", 0.5): 113.0}   # none at 0.2 deleted
    runs = [from_parts(f"{p}-{d}", f"runs/{p}-{d}", {"dropout": d, "dropout_placement": p, "group": "g", "seed": 1},
                       {"state": "finished", "best_val_ppl": v, "final_val_ppl": v, "best_epoch": 1}, None)
            for (p, d), v in scores.items()]
    text = format_report(grid_effects(runs, "g"))
    assert "\nno run (deleted or never queued): dropout=0.2 placement=none\n" in text
    effect = next(line for line in text.splitlines() if "dropout=0.5 vs 0.2, best_val" in line)
    assert effect == ("  dropout=0.5 vs 0.2, best_val: -3.50 n=1 paired  no interval  "
                      "(1 run left out: no partner)")


def test_effects_text_names_a_deleted_seed_and_counts_it_out_of_the_plan(monkeypatch):
    """QA round 10: a cell that lost one of its two seeds read as whole ('n=1', '7 of 7 runs finished')."""
    from lmcore import grid_commands
    from lmcore.summaries import from_parts

    runs = [from_parts(f"{p}-{d}-{seed}", "runs/x", {"dropout": d, "dropout_placement": p, "group": "g", "seed": seed},
                       {"state": "finished", "best_val_ppl": 100.0 + seed, "final_val_ppl": 100.0, "best_epoch": 1},
                       None)
            for p in ("vertical", "variational") for d in (0.2, 0.5) for seed in (1, 2)]
    kept = [run for run in runs if run.id != "variational-0.5-2"]
    monkeypatch.setattr(grid_commands, "group_runs", lambda root, group: kept)
    found = grid_commands.report(None, "g")
    assert found["planned_runs"] == 8 and [m["seeds"] for m in found["missing_seeds"]] == [["2"]]
    text = grid_commands.format_report(found)
    assert text.startswith("grid g: 7 of 8 planned runs finished (1 deleted or never queued);")
    assert "\nno run (deleted or never queued): dropout=0.5 placement=variational seed 2\n" in text
    short = next(line for line in text.splitlines() if line.startswith("dropout=0.5 placement=variational"))
    assert "101.0 (n=1 of 2)" in short                        # as the page writes it: no sd of one run
    table = text.split("\n\n")[1]                                   # the cells
    assert not re.search(r"\)\S", table)                          # QA round 11: 'n=2 of 3)103.9' ran together


def placement_runs(states: dict | None = None) -> list:
    """3 placements x seeds 1 and 2 of a grid 'g' as run summaries, finished unless `states` ({id: state})
    says otherwise; ids 'vertical-1' and the like."""
    from lmcore.summaries import from_parts

    states = states or {}
    return [from_parts(f"{p}-{seed}", "runs/x", {"dropout": 0.5, "dropout_placement": p, "group": "g", "seed": seed},
                       {"state": states.get(f"{p}-{seed}", "finished"), "best_val_ppl": 100.0 + seed,
                        "final_val_ppl": 100.0, "best_epoch": 1, "step": 10, "total_steps": 40}, None)
            for p in ("none", "vertical", "variational") for seed in (1, 2)]


def copy_of(run, state: str = "finished"):
    """A same-seed copy of `run` that joined its grid (`train --like RUN --set group=G`)."""
    from lmcore.summaries import from_parts

    return from_parts(f"{run.id}-copy", "runs/x", dict(run.config),
                      {**run.status, "state": state, "step": 10, "total_steps": 40}, None)


def test_a_same_seed_copy_does_not_hide_a_deleted_run_in_the_progress(monkeypatch):
    """QA: a copy of one run joined a 3 x 2 grid and another cell's seed-2 run was deleted: the grid read
    '6 / 6 finished ... 0 missing' (runs, not planned (cell, seed) runs), while missing_seeds named the seed."""
    from lmcore import grid_commands

    runs = placement_runs()
    kept = [run for run in runs if run.id != "variational-2"] + [copy_of(runs[2])]   # vertical-1's copy
    monkeypatch.setattr(grid_commands, "group_runs", lambda root, group: kept)
    found = grid_commands.report(None, "g")
    assert [m["seeds"] for m in found["missing_seeds"]] == [["2"]]
    assert found["progress"] == {"finished": 5, "running": 0, "queued": 0, "failed_or_stopped": 0, "missing": 1,
                                 "planned": 6, "ended": True}
    assert found["progress_text"] == "Ended: 5 / 6 finished · 0 failed or stopped · 1 missing"
    text = grid_commands.format_report(found)
    assert text.startswith("grid g: 5 of 6 planned runs finished (1 deleted or never queued; 6 runs: a seed run "
                           "twice counts once);")


def test_a_planned_run_stands_where_its_most_advanced_run_does(monkeypatch):
    """A seed run twice is one planned run: finished if either finished, else running, else queued, else
    failed or stopped; the counts add up to the plan."""
    from lmcore import grid_commands

    runs = placement_runs({"none-1": "failed", "none-2": "queued", "vertical-1": "stopped"})
    kept = runs + [copy_of(runs[0], "running"),      # none-1 failed, its copy trains: running
                   copy_of(runs[1], "finished"),     # none-2 queued, its copy finished: finished
                   copy_of(runs[4], "queued"),       # variational-1 finished, its copy waits: finished
                   copy_of(runs[2], "failed")]       # vertical-1 stopped, its copy failed: failed or stopped
    monkeypatch.setattr(grid_commands, "group_runs", lambda root, group: kept)
    found = grid_commands.report(None, "g")
    assert found["progress"] == {"finished": 4, "running": 1, "queued": 0, "failed_or_stopped": 1, "missing": 0,
                                 "planned": 6, "ended": False}
    assert found["progress_text"] == "This grid: 4 / 6 finished · 1 running · 0 queued · 1 failed or stopped"


def test_effects_text_gives_the_df_and_what_the_pairs_differ_in_to_two_decimals():
    """QA round 12: the text had no df and no 'over' (the method sentence pointed at an 'over' column),
    and an interaction of -0.047 read '-0.0' where the page reads -0.05."""
    from lmcore.grid_commands import _interval

    row = {"estimate": 21.5163, "low": 19.93, "high": 23.11, "n": 4, "method": "paired", "df": 3.0,
           "over": "seeds and other toggles' values"}
    assert _interval(row) == "+21.52 [+19.93, +23.11] n=4 paired, df 3 over seeds and other toggles' values"
    welch = {**row, "estimate": -0.047, "low": -0.3, "high": 0.21, "method": "welch", "df": 3.74, "over": "seeds"}
    assert _interval(welch) == "-0.05 [-0.30, +0.21] n=4 welch, df 3.7 over seeds"


# ---------------------------------------------------------------- a grid still filling in, or ended short
# QA round 19: `effects` said nothing of running, queued or failed runs, and called a partner still
# training "no partner". The run folders are written by the grid page's tests' helpers, no training.


def effects_of(root, group, *flags, capsys):
    assert cli.main(["effects", group, "--runs-dir", str(root), *flags]) == 0
    return capsys.readouterr().out


def test_effects_says_a_filling_grid_is_partial_with_its_running_and_queued_runs(tmp_path, monkeypatch, capsys):
    from test_page_grids import dropout_grid

    from lmcore import runs

    monkeypatch.setattr(runs, "trainer_alive", lambda status: True)   # the "running" runs' trainers
    root = tmp_path / "runs"
    dropout_grid(root, seeds=2, states={("vertical", 0.5): "running", ("none", 0.5): "queued"})
    text = effects_of(root, "grid-drop", capsys=capsys)
    lines = text.splitlines()
    assert lines[:3] == ["grid grid-drop: 4 of 8 planned runs finished; toggles: dropout, dropout_placement",
                         "This grid: 4 / 8 finished · 2 running · 2 queued · 0 failed or stopped",
                         "Partial results: until every queued or running run finishes, each effect pairs only the "
                         "runs finished on both of its sides (n counts the pairs)."]
    assert lines[4].split() == ["cell", "best_val", "final_val", "test", "best", "epoch", "unfinished", "runs"]
    assert next(line for line in lines if line.startswith("dropout=0.5 placement=none")).endswith("both runs queued")
    assert next(line for line in lines if line.startswith("dropout=0.5 placement=vertical")).endswith(
        "both runs running")

    found = json.loads(effects_of(root, "grid-drop", "--json", capsys=capsys))
    assert found["progress"] == {"finished": 4, "running": 2, "queued": 2, "failed_or_stopped": 0, "missing": 0,
                                 "planned": 8, "ended": False}
    assert found["progress_text"] == lines[1] and found["state_note"] == lines[2]
    cells = {cell["label"]: cell for cell in found["cells"]}
    assert [(run["state"], run["reason"]) for run in cells["dropout=0.5 placement=vertical"]["unfinished"]] == [
        ("running", None), ("running", None)]
    assert cells["dropout=0.2 placement=none"]["unfinished"] == [] and cells["dropout=0.2 placement=none"][
        "unfinished_note"] == ""


def test_effects_says_an_ended_grids_runs_failed_and_why(tmp_path, capsys):
    from test_page_grids import hand_made_grid

    root = tmp_path / "runs"
    hand_made_grid(root, {("0.004", 1): "finished", ("0.004", 2): "finished",
                          ("1000", 1): "failed", ("1000", 2): "failed"})
    lines = effects_of(root, "grid-hand", capsys=capsys).splitlines()
    assert lines[1] == "Ended: 2 / 4 finished · 2 failed or stopped"     # the page's progress bar's words
    assert lines[2].startswith("The grid has ended: nothing is queued or running, and 2 of its 4 planned runs did "
                               "not finish (2 failed).")
    failed = next(line for line in lines if line.startswith("lr=1000.0"))
    assert failed.split("  ")[0] == "lr=1000.0" and failed.endswith("  both runs failed: diverged at step 21")
    found = json.loads(effects_of(root, "grid-hand", "--json", capsys=capsys))
    assert found["progress"]["ended"] and found["progress"]["failed_or_stopped"] == 2
    cell = next(cell for cell in found["cells"] if cell["label"] == "lr=1000.0")
    assert cell["unfinished_note"] == "both runs failed: diverged at step 21"
    assert {(run["state"], run["reason"]) for run in cell["unfinished"]} == {("failed", "diverged at step 21")}


@pytest.mark.parametrize("state, why", [("running", "partner still training"), ("queued", "partner queued"),
                                        ("failed", "partner failed"), ("stopped", "partner stopped")])
def test_a_run_whose_partner_did_not_finish_is_left_out_for_that_reason(tmp_path, monkeypatch, capsys, state, why):
    """lr=1000 seed 2 not finished: lr=0.004 seed 2 has no pair, and says why, not 'no partner'."""
    from test_page_grids import hand_made_grid

    from lmcore import runs

    monkeypatch.setattr(runs, "trainer_alive", lambda status: True)
    root = tmp_path / "runs"
    hand_made_grid(root, {("0.004", 1): "finished", ("0.004", 2): "finished",
                          ("1000", 1): "finished", ("1000", 2): state})
    text = effects_of(root, "grid-hand", capsys=capsys)
    effect = next(line for line in text.splitlines() if "lr=1000.0 vs 0.004, best_val" in line)
    assert effect.endswith(f"(1 run left out: {why})") and "no partner" not in text
    found = json.loads(effects_of(root, "grid-hand", "--json", capsys=capsys))
    assert [row["left_out_reasons"] for row in found["effects"]] == [{why: 1}] * 3


def test_left_out_runs_of_an_interaction_name_each_reason_with_its_count():
    """A 2x2 with seeds 1 to 3: one corner's seed 1 still trains and another corner's seed 2 is
    deleted, so the interaction pairs seed 3 alone and the other corners' seeds 1 and 2 say why."""
    from lmcore import grid_status
    from lmcore.effects import grid_effects
    from lmcore.summaries import from_parts

    def run(p, tied, seed, state="finished"):
        config = {"dropout_placement": p, "tie_weights": tied, "seed": seed, "group": "g", "dropout": 0.5}
        status = {"state": state, **({"best_val_ppl": 100.0 + seed, "final_val_ppl": 101.0} if state == "finished"
                                     else {})}
        return from_parts(f"{p}-{tied}-{seed}", "runs/x", config, status, None)

    runs = [run(p, tied, seed, "running" if (p, tied, seed) == ("none", False, 1) else "finished")
            for p in ("none", "vertical") for tied in (False, True) for seed in (1, 2, 3)
            if (p, tied, seed) != ("vertical", True, 2)]
    report = grid_effects(runs, "g")
    row = next(r for r in report["interactions"] if r["metric"] == "best_val")
    reasons = grid_status.left_out_reasons(row, runs, report["toggles"])
    assert row["n"] == 1 and sum(reasons.values()) == row["left_out"] == 6
    assert reasons == {"partner still training": 3, "no partner": 3}   # seed 1's corners; seed 2's
    assert grid_status.left_out_text({**row, "left_out_reasons": reasons}) == (
        "6 runs left out: partner still training for 3, no partner for 3")


def test_cells_csv_has_each_cells_interval_seeds_and_unfinished_runs(tmp_path, monkeypatch, capsys):
    """QA round 19, P3: a cell's 95% interval was in --json alone; the CSV's numbers are the report's."""
    import csv
    import io

    from test_page_grids import DROPOUT_BEST, dropout_grid

    from lmcore import grid_commands, runs, stats

    monkeypatch.setattr(runs, "trainer_alive", lambda status: True)
    root = tmp_path / "runs"
    dropout_grid(root, seeds=3, states={("vertical", 0.5): "running"})
    rows = list(csv.DictReader(io.StringIO(effects_of(root, "grid-drop", "--cells-csv", capsys=capsys))))
    report = grid_commands.report(root, "grid-drop")
    assert [row["cell"] for row in rows] == [cell["label"] for cell in report["cells"]]
    for row, cell in zip(rows, report["cells"]):
        assert {key: row[key] for key in ("dropout", "dropout_placement")} == cell["cell"]
        for metric in ("best_val", "final_val", "test"):
            for stat in ("mean", "sd", "low", "high"):
                expected = cell[metric][stat]
                assert row[f"{metric}_{stat}"] == ("" if expected is None else repr(expected))   # unrounded
            assert int(row[f"{metric}_n"]) == cell[metric]["n"]
    first = rows[0]   # dropout=0.2 placement=none: seeds 1..3 at DROPOUT_BEST + 14.6 a seed
    best = stats.describe([DROPOUT_BEST[("none", 0.2)] + 14.6 * shift for shift in range(3)])
    assert float(first["best_val_low"]) == pytest.approx(best["low"]) and float(first["best_val_sd"]) == \
        pytest.approx(best["sd"])
    assert (first["seeds"], first["runs"], first["finished"], first["unfinished"]) == ("1 2 3", "3", "3", "0")
    training = next(row for row in rows if row["cell"] == "dropout=0.5 placement=vertical")
    assert (training["best_val_n"], training["best_val_mean"], training["seeds"], training["unfinished"]) == (
        "0", "", "", "3")


def test_cells_csv_and_json_are_one_choice(tmp_path, capsys):
    assert cli.main(["effects", "g", "--json", "--cells-csv", "--runs-dir", str(tmp_path)]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_effects_compares_two_values_other_than_the_first_and_says_which_is_best(tmp_path, capsys):
    """A 3-placement x 2-seed grid (test_page_grids.THREE): variational vs vertical gets its own paired
    interval at 98.3% (one of 3 comparisons), and the answer line leads the effects."""
    from test_page_grids import three_placements

    root = tmp_path / "runs"
    three_placements(root)
    lines = effects_of(root, "grid-three", capsys=capsys).splitlines()
    answer = lines.index("best value (lowest perplexity, from the comparisons below):")
    assert lines[answer + 1:answer + 4] == [
        "  Best placement by best validation perplexity: variational (lower than vertical by 4.9 [1.1, 8.7], than "
        "none by 14.8 [7.2, 22.4]; 98.3% intervals)",
        "  Best placement by final validation perplexity: variational (lower than vertical by 4.9 [1.1, 8.7], than "
        "none by 14.8 [7.2, 22.4]; 98.3% intervals)",
        "  Best placement by test perplexity: variational (lower than vertical by 4.9 [1.1, 8.7], than none by 14.8 "
        "[7.2, 22.4]; 98.3% intervals)"]
    # -5 and -4.8: mean -4.9, se 0.1, t 38.188 (1 - 0.05/6, df 1)
    assert ("  dropout_placement=variational vs vertical, best_val: -4.90 [-8.72, -1.08] 98.3% n=2 paired, df 1 "
            "over seeds  lower") in lines
    found = json.loads(effects_of(root, "grid-three", "--json", capsys=capsys))
    assert [(row["reference"], row["level"]) for row in found["effects"] if row["metric"] == "test"] == [
        ("none", "vertical"), ("none", "variational"), ("vertical", "variational")]
    assert found["best"][0] == {"toggle": "dropout_placement", "metric": "best_val", "best": "variational",
                                "candidates": ["variational"], "text": lines[answer + 1].strip()}
    assert {row["confidence"] for row in found["effects"]} == {1 - 0.05 / 3}
