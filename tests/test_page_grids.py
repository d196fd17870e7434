"""Compare → Ablation grids (AppTest): the queue's backend changes only when runs are queued, a
run the backend cannot take says why, toggles that cannot act are flagged before and after
training, and the results read whole epochs, whole steps and "—" where there is no interval."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from charts import chart, values
from conftest import SMALL, free_port, open_app, wait_until
from lmcore import locks, queue
from lmcore.summaries import list_runs


def grid_page(monkeypatch, root: Path, **state):
    monkeypatch.setenv("LMCORE_REFERENCE_DIR", str(root.parent / "no-reference-runs"))
    at = open_app(monkeypatch, root, "app_pages/compare.py", state={"compare.tab": "Ablation grids", **state})
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at) -> str:
    return "\n".join(e.value for e in [*at.markdown, *at.caption, *at.warning, *at.error])


def frame_with(at, column: str):
    """The table (or dataframe) on the page that has `column`."""
    return next(d for d in [*at.table, *at.dataframe] if column in d.value.columns)


def queue_button(at):
    return next(b for b in at.button if b.label.startswith("Queue"))


def test_choosing_ray_moves_no_run_until_runs_are_queued(tmp_path, monkeypatch):
    """QA: a click on "Ray cluster" switched the queue for every user at once, and the runs of the
    next grid waited forever, the reason shown only under the grid form."""
    root, address = tmp_path / "runs", f"127.0.0.1:{free_port()}"   # nothing listens there
    at = grid_page(monkeypatch, root, **{"compare.grid.preset": "tiny"})
    at.radio(key="compare.grid.backend").set_value("ray").run()
    at.text_input(key="compare.grid.address").set_value(address).run()
    assert queue.backend(root) == ("local", queue.DEFAULT_ADDRESS)     # nobody's runs moved
    assert "Applies when you queue: until then the queue trains every queued run on this machine." in texts(at)
    at.text_area(key="compare.grid.overrides").set_value("max_steps=3\nthreads=1").run()
    at.multiselect(key="compare.grid.toggle.tie_weights").set_value([False, True]).run()
    queue_button(at).click().run()
    assert queue.backend(root) == ("ray", address)                    # the Queue button applied it

    problem = wait_until(lambda: queue.backend_problem(root), 60, lambda: "the worker recorded no problem")
    wait_until(lambda: queue.worker_pid(root) is None, 60, lambda: "the worker did not end")
    reasons = [queue.waiting_reason(run) for run in list_runs(root)]
    assert len(reasons) == 2 and all(r and problem in r for r in reasons)   # what Train and Start show

    held = locks.try_lock(root / queue.LOCK)    # a worker "runs": moving the runs here starts no training in this test
    try:
        at = grid_page(monkeypatch, root)
        assert [e.value for e in at.error] == [f"The queue could not use the cluster: {problem}; its runs stay queued."]
        next(b for b in at.button if b.label == "Train the 2 waiting runs on this machine").click().run()
        assert queue.backend(root)[0] == "local" and not at.error
        assert at.radio(key="compare.grid.backend").value == "local"
        assert all(queue.waiting_reason(run) is None for run in list_runs(root))
    finally:
        os.close(held)


def test_queueing_onto_ray_is_refused_where_ray_is_missing(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)   # import ray fails as if it were not installed
    at = grid_page(monkeypatch, tmp_path / "runs")
    at.multiselect(key="compare.grid.toggle.tie_weights").set_value([False, True]).run()
    at.radio(key="compare.grid.backend").set_value("ray").run()
    assert queue_button(at).disabled and [e.value for e in at.error] == [
        'Ray is not installed here: pip install "ray==2.60.0"']
    at.radio(key="compare.grid.backend").set_value("local").run()
    assert not queue_button(at).disabled


def test_the_form_warns_about_a_toggle_that_cannot_act_before_queueing(tmp_path, monkeypatch):
    at = grid_page(monkeypatch, tmp_path / "runs", **{"compare.grid.preset": "tiny"})
    at.multiselect(key="compare.grid.toggle.dropout_placement").set_value(["none", "variational"]).run()
    at.number_input(key="compare.grid.seeds").set_value(2).run()
    warnings = [w.value for w in at.warning]
    assert warnings == [
        "dropout_placement cannot change anything in this grid: dropout_placement=variational does nothing while "
        "dropout is 0. Its cells train the same model whichever value they have, so its effect can only read 0. "
        "To make it count: set dropout > 0 in the overrides, or vary it too."]
    assert not queue_button(at).disabled                               # a warning, not a refusal
    at.multiselect(key="compare.grid.toggle.dropout").set_value([0.0, 0.5]).run()   # the fix: vary it too
    assert not at.warning
    assert ("dropout_placement changes nothing in the cells with dropout=0.0: dropout_placement=variational does "
            "nothing while dropout is 0.") in texts(at)
    for key in ("dropout_placement", "dropout"):
        at.multiselect(key=f"compare.grid.toggle.{key}").set_value([]).run()
    at.text_area(key="compare.grid.overrides").set_value("epochs=2\ndropout_placement=variational").run()
    assert "In every cell, dropout_placement=variational does nothing while dropout is 0." in texts(at)


# ---------------------------------------------------------------- the results of a grid that could not act


@pytest.fixture(scope="module")
def inert_grid(tmp_path_factory, ptb_dir):
    """Placement none vs variational with dropout 0, one seed, one validation each: two identical runs."""
    from lmcore import ablation
    from lmcore.config import from_dict, validate
    from lmcore.runs import create_run
    from lmcore.session import run

    root = tmp_path_factory.mktemp("inert") / "runs"
    base = validate(from_dict({**SMALL, "max_steps": 5, "dropout": 0.0}))
    for config in ablation.grid(base, {"dropout_placement": ["none", "variational"]}, group="grid-inert"):
        run(create_run(config.to_dict(), root, label=config.name), show_progress=False)
    return root


def test_an_inert_grids_results_say_so_and_read_whole_numbers(inert_grid, monkeypatch):
    at = grid_page(monkeypatch, inert_grid)
    assert any(w.value.startswith("dropout_placement had no way to act in this grid: dropout_placement=variational "
                                  "does nothing while dropout is 0. Its cells trained the same model")
               for w in at.warning)
    effects = frame_with(at, "estimate")
    assert effects.value["verdict"].tolist() == ["no way to act"] * 3
    # No interval with one seed: a dash, not the text "None" or "nan"; the method names no df.
    assert (effects.value[["low", "high"]] == "—").all().all() and set(effects.value["method"]) == {"paired"}
    cells = frame_with(at, "best epoch").value
    # Epochs trained at the best validation: 5 of SMALL's 99 steps an epoch, 0.05, to a tenth (not "1").
    assert cells["best epoch"].tolist() == ["0.1 (n=1)", "0.1 (n=1)"]
    curves = chart(at, key="compare.grid.curves")
    assert curves["layout"]["xaxis"]["tickvals"] == [5]       # one validation at step 5: no 4.5 or 5.5 ticks


# ---------------------------------------------------------------- a grid with failed or still running members


def hand_made_grid(root: Path, states: dict[tuple[str, int], str]) -> dict[tuple[str, int], Path]:
    """lr=0.004 vs 1000 x 2 seeds written straight to disk, no training: each run ends in the
    state `states` gives it ((lr text, seed) -> finished, failed (diverged), stopped or running;
    a test with running ones makes their trainers live). A finished run validated at steps 10,
    20 and 30, a running one at 10 only."""
    import json

    from lmcore import ablation
    from lmcore.config import from_dict, validate
    from lmcore.runs import create_run, write_json_atomic

    base = validate(from_dict({**SMALL, "max_steps": 30, "eval_every": 10}))
    folders = {}
    for config in ablation.grid(base, {"lr": [0.004, 1000.0]}, seeds=2, group="grid-hand"):
        key = (f"{config.lr:g}", config.seed)
        folder = folders[key] = create_run(config.to_dict(), root, label=config.name)
        state, seed_shift = states[key], config.seed
        steps = {"finished": [10, 20, 30], "running": [10], "stopped": [10, 20]}.get(state, [])
        lines = [{"kind": "val", "step": step, "epoch": 1, "loss": 5.0, "ppl": 200.0 - step + seed_shift}
                 for step in steps]
        (folder / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
        status = {"state": state, "pid": 1 if state == "running" else None, "step": steps[-1] if steps
                  else 21, "total_steps": 30, "epoch": 1, "error": None, "elapsed": 1.0}
        if state == "finished":
            status |= {"best_val_ppl": 170.0 + seed_shift, "final_val_ppl": 170.0 + seed_shift,
                       "test_ppl": 160.0 + seed_shift, "best_epoch": 3}
        if state == "failed":
            status["error"] = ("diverged at step 21: the training loss stayed above 12.6 since step 2 (ln 2000 + 5: "
                               "far worse than guessing uniformly); try a lower lr or a tighter clip")
        write_json_atomic(folder / "status.json", status)
    return folders


def test_a_grid_whose_cell_failed_says_it_ended_why_and_draws_no_empty_effects_chart(tmp_path, monkeypatch):
    """QA: '2 / 4 finished · 0 queued or running · 2 failed' still read 'Partial results: until
    every run finishes', the failed cell read only '—', and the lr chart was a bare zero line."""
    root = tmp_path / "runs"
    hand_made_grid(root, {("0.004", 1): "finished", ("0.004", 2): "finished",
                          ("1000", 1): "failed", ("1000", 2): "failed"})
    at = grid_page(monkeypatch, root)
    shown = texts(at)
    assert "Partial results" not in shown and "until every" not in shown
    assert at.get("progress")[0].proto.text == "Ended: 2 / 4 finished · 2 failed or stopped"
    assert ("The grid has ended: nothing is queued or running, and 2 of its 4 planned runs did not finish (2 failed). "
            "The numbers rest on the finished seeds of each cell") in shown
    cells = frame_with(at, "unfinished runs").value.set_index("cell")
    assert cells.loc["lr=1000.0", "unfinished runs"] == "both runs failed: diverged at step 21"
    assert cells.loc["lr=0.004", "unfinished runs"] == "" and cells.loc["lr=0.004", "best epoch"] == "3 (n=2)"
    assert [c.proto.id for c in at.get("plotly_chart") if "compare.effect." in c.proto.id] == []   # no empty chart
    assert ("No effect has an estimate: an effect needs a finished run on both sides of its toggle, and this cell "
            "has none: lr=1000.0 — both runs failed: diverged at step 21.") in shown
    assert not any("estimate" in d.value.columns for d in at.dataframe)   # no table of dashes either


def test_a_running_grid_says_partial_and_its_cell_line_stops_where_its_slowest_seed_is(tmp_path, monkeypatch):
    from lmcore import runs

    monkeypatch.setattr(runs, "trainer_alive", lambda status: True)   # the "running" runs' trainers
    root = tmp_path / "runs"
    hand_made_grid(root, {("0.004", 1): "finished", ("0.004", 2): "running",
                          ("1000", 1): "running", ("1000", 2): "stopped"})
    at = grid_page(monkeypatch, root)
    shown = texts(at)
    assert "The grid has ended" not in shown
    assert at.get("progress")[0].proto.text == "This grid: 1 / 4 finished · 2 running · 0 queued · 1 failed or stopped"
    assert ("No effect has an estimate yet: an effect needs a finished run on both sides of its toggle, and this "
            "cell has none yet: lr=1000.0 — 1 stopped (can be resumed on Train), 1 running.") in shown
    cells = frame_with(at, "unfinished runs").value.set_index("cell")
    assert cells.loc["lr=0.004", "unfinished runs"] == "1 running"
    # The lr=0.004 line averages both seeds and so stops at step 10, where the running one is; the
    # stopped seed of lr=1000 is left out of its line.
    lines = {t["name"]: t for t in chart(at, key="compare.grid.curves")["data"] if t.get("mode") == "lines+markers"}
    assert values(lines["lr=0.004"]) == [10] and values(lines["lr=1000.0"]) == [10]
    assert "lr=0.004 at step 10 (its seeds have reached steps 10 and 30)" in shown
    assert not [c for c in at.get("plotly_chart") if "compare.effect." in c.proto.id]


def test_a_grid_whose_split_cannot_batch_is_refused_before_queueing(tmp_path, monkeypatch):
    """`lmcore grid` refused it; the form queued runs that failed at their first evaluation."""
    root = tmp_path / "runs"
    at = grid_page(monkeypatch, root, **{"compare.grid.preset": "tiny"})
    at.text_area(key="compare.grid.overrides").set_value("valid_tokens=5\nmax_steps=3").run()
    at.multiselect(key="compare.grid.toggle.tie_weights").set_value([False, True]).run()
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("dataset: the validation split") and "eval_batch_size" in errors[0]
    assert queue_button(at).disabled and not list_runs(root)


# ---------------------------------------------------------------- a grid with a deleted cell, one seed


# The QA's 2x2 (dropout_placement none/vertical x dropout 0.2/0.5, one seed); best validation per cell.
DROPOUT_BEST = {("none", 0.2): 111.2, ("none", 0.5): 111.2, ("vertical", 0.2): 116.5, ("vertical", 0.5): 123.36,
                ("horizontal", 0.2): 115.1, ("horizontal", 0.5): 121.0,
                ("variational", 0.2): 114.0, ("variational", 0.5): 118.1}


def dropout_grid(root: Path, placements=("none", "vertical"), drop=(), states=None, seeds=1) -> dict:
    """A grid of placements x dropout 0.2/0.5 written straight to disk, finished (or in `states`'
    state) with DROPOUT_BEST (each further seed 14.6 higher), minus the cells in `drop` (deleted
    from Compare); {(placement, dropout, seed): its folder}."""
    import json

    from lmcore import ablation
    from lmcore.config import from_dict, validate
    from lmcore.runs import create_run, write_json_atomic

    base = validate(from_dict({**SMALL, "max_steps": 30, "eval_every": 10}))
    folders = {}
    for config in ablation.grid(base, {"dropout_placement": list(placements), "dropout": [0.2, 0.5]},
                                group="grid-drop", seeds=seeds):
        key = (config.dropout_placement, config.dropout)
        if key in drop:
            continue
        folder = folders[(*key, config.seed)] = create_run(config.to_dict(), root, label=config.name)
        state, best = (states or {}).get(key, "finished"), DROPOUT_BEST[key] + 14.6 * (config.seed - base.seed)
        done = state == "finished"
        lines = [{"kind": "val", "step": step, "epoch": 1, "ppl": best + 30 - step}
                 for step in ((10, 20, 30) if done else (10,))]
        (folder / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
        status = {"state": state, "pid": 1 if state == "running" else None, "step": 30 if done else 10,
                  "total_steps": 30, "epoch": 1, "error": None, "elapsed": 1.0}
        if done:
            status |= {"best_val_ppl": best, "final_val_ppl": best, "test_ppl": best - 4.0, "best_epoch": 1}
        write_json_atomic(folder / "status.json", status)
    return folders


def test_a_grid_with_a_deleted_run_names_the_missing_cell_and_calls_no_toggle_inert(tmp_path, monkeypatch):
    """QA: with dropout=0.2 placement=none deleted the page read '3 / 3 finished', 'dropout_placement changed
    nothing in the cells with dropout=0.2' and an unpaired dropout effect of +0.8 (it was +3.4 paired)."""
    root = tmp_path / "runs"
    dropout_grid(root, drop=[("none", 0.2)])
    at = grid_page(monkeypatch, root)
    shown = texts(at)
    assert at.get("progress")[0].proto.text == (
        "Ended: 3 / 4 finished · 0 failed or stopped · 1 missing (1 of 4 cells has no run)")
    assert ("No run of dropout=0.2 placement=none: deleted, unreadable or never queued."
            in [w.value for w in at.warning][0])
    assert "changed nothing" not in shown and "no way to act" not in shown
    cells = frame_with(at, "unfinished runs").value.set_index("cell")
    assert cells.loc["dropout=0.2 placement=none", "unfinished runs"] == "no run: deleted, unreadable or never queued"
    effects = frame_with(at, "estimate").value.set_index(["contrast", "metric"])
    dropout = effects.loc[("dropout=0.5 vs 0.2", "best val")]
    assert (dropout["method"], dropout["n"]) == ("paired", "1 (1 left\u00a0out)")
    assert dropout["estimate"] == f"{123.36 - 116.5:+.2f}"       # vertical's pair only
    assert "dropout=0.5 vs 0.2 on 1 pair (1 run left out)" in shown
    assert "seed-to-seed noise was not measured" in shown


def test_one_seed_per_cell_is_said_and_the_effects_labels_tell_placements_apart(tmp_path, monkeypatch):
    """QA: 'Student-t interval over seeds' with one seed per cell; at 1024 px the labels were cut to
    'ntal vs vertical · best val' and 'onal vs vertical · best val'."""
    root = tmp_path / "runs"
    dropout_grid(root, placements=("vertical", "horizontal", "variational"))
    at = grid_page(monkeypatch, root)
    noise = next(w.value for w in at.warning if "seed" in w.value)
    assert noise.startswith("No cell has finished runs with more than one seed, so seed-to-seed noise was not "
                            "measured: a difference may be noise. Each interval is over the other toggles' values")
    assert "3 or more seeds per cell" in noise and "interval over seeds" not in texts(at)
    effects = frame_with(at, "estimate").value
    assert set(effects["over"].dropna()) == {"other toggles' values"}
    figure = chart(at, key="compare.effect.dropout_placement")
    assert figure["layout"]["yaxis"]["automargin"] is True
    assert values(figure["data"][0], "y")[:2] == ["horizontal<br>best val", "horizontal<br>final val"]
    assert "dropout_placement, each value vs vertical" in texts(at)
    assert any(button.label == "CSV of these effects" for button in at.get("download_button"))


def test_the_cells_table_drops_its_note_column_only_while_every_run_finished(tmp_path, monkeypatch):
    """The tables are HTML tables that wrap to a 1024 px projector (tests/test_browser_grid_fill.py
    measures them): an all-finished grid's empty note column goes; a mean and its sd stay whole."""
    from lmcore import runs

    monkeypatch.setattr(runs, "trainer_alive", lambda status: True)
    root = tmp_path / "runs"
    dropout_grid(root, seeds=2)
    cells = frame_with(grid_page(monkeypatch, root), "best val").value
    assert "unfinished runs" not in cells.columns and set(cells["finished"]) == {"2\u00a0/\u00a02"}
    assert cells["best val"].str.fullmatch(r"\d+\.\d ±\u00a0\d+\.\d \(n=2\)").all()
    dropout_grid(tmp_path / "filling", states={("vertical", 0.5): "running"})
    cells = frame_with(grid_page(monkeypatch, tmp_path / "filling"), "unfinished runs").value.set_index("cell")
    assert cells.loc["dropout=0.5 placement=vertical", "unfinished runs"] == "1 running"


def test_the_queue_line_and_the_grids_line_count_runs_as_the_sidebar_does(tmp_path, monkeypatch):
    """QA, a grid filling in one run at a time: the sidebar read "0 running · 3 queued", the queue
    line "2 waiting · 0 running", the grid's line "3 queued or running": a run being launched (its
    trainer still importing) was queued to one and nothing to the other."""
    from lmcore import runs
    from lmcore.runs import read_json, write_json_atomic

    monkeypatch.setattr(runs, "trainer_alive", lambda status: True)
    root = tmp_path / "runs"
    folders = dropout_grid(root, states={("none", 0.5): "running", ("vertical", 0.2): "queued",
                                         ("vertical", 0.5): "queued"})
    starting = folders[("vertical", 0.2, 1)]   # launched: queued, with its launcher's pid
    write_json_atomic(starting / "status.json", {**read_json(starting / "status.json"), "pid": os.getpid()})
    at = grid_page(monkeypatch, root)
    captions = [c.value for c in at.caption]
    assert "**4** runs · **1** running · **2** queued" in captions                     # the sidebar
    assert "Every run: **1** running · **2** queued (1 starting, 1 waiting) · the queue trains 1 at a time" in captions
    assert at.get("progress")[0].proto.text == "This grid: 1 / 4 finished · 1 running · 2 queued · 0 failed or stopped"


# ---------------------------------------------------------------- a grid that lost one seed's run (QA round 10)


def test_a_deleted_seed_leaves_its_cell_and_the_grid_short_of_the_plan(tmp_path, monkeypatch):
    """QA round 10: 'This grid: 7 / 7 finished', the cell '1 / 1' and '143.9 (n=1)', no note, the selector
    '× 2 seeds · 7 runs'; a whole deleted cell got 'No run of ...: deleted, unreadable or never queued'."""
    import shutil

    root = tmp_path / "runs"
    folders = dropout_grid(root, placements=("vertical", "variational"), seeds=2)
    shutil.rmtree(folders[("variational", 0.5, max(seed for *_, seed in folders))])
    at = grid_page(monkeypatch, root)
    assert at.get("progress")[0].proto.text == "Ended: 7 / 8 finished · 0 failed or stopped · 1 missing"
    chosen = at.selectbox(key="compare.grid.chosen")
    assert chosen.format_func(chosen.value).endswith("× 2 seeds · 7 of 8 runs: 1 missing")
    assert [w.value for w in at.warning if w.value.startswith("No run of")] == [
        "No run of dropout=0.5 placement=variational seed 2: deleted, unreadable or never queued. The numbers of "
        "that cell "
        "rest on the seeds left (n of the planned in the cells table), and a run whose partner of the same seed is "
        "gone is left out of the paired comparisons."]
    cells = frame_with(at, "unfinished runs").value.set_index("cell")
    short = cells.loc["dropout=0.5 placement=variational"]
    assert short["finished"] == "1\u00a0/\u00a02 (1\u00a0missing)" and short["best val"] == "118.1 (n=1\u00a0of\u00a02)"
    assert short["unfinished runs"] == "no run of seed 2: deleted, unreadable or never queued"
    assert "'of 2' where fewer than the 2 seeds planned finished" in texts(at)


# ---------------------------------------------------------------- the form's steps and time (QA round 10)


def test_the_form_says_the_runs_steps_and_time_as_train_counts_them(tmp_path, monkeypatch):
    """QA round 10: the grid form showed no step or time estimate, unlike Train's set-up."""
    from lmcore.presets import resolve
    from lmcore.runs import create_run, write_json_atomic

    root = tmp_path / "runs"
    at = grid_page(monkeypatch, root, **{"compare.grid.preset": "tiny"})
    at.text_area(key="compare.grid.overrides").set_value("max_steps=30\ndevice=cpu").run()
    at.multiselect(key="compare.grid.toggle.tie_weights").set_value([False, True]).run()
    at.number_input(key="compare.grid.seeds").set_value(2).run()
    assert ("Each of the 4 runs trains about **30** steps (as Train counts them: 149 per epoch × 8 epochs, "
            "capped at 30), **120** steps in all.") in texts(at)
    assert ("No time estimate for tied=false, tied=true: no run of their shape has trained on this machine's cpu "
            "yet.") in texts(at)
    # One earlier run of the grid's shape trained at 80 tokens/s: 120 steps of 20 x 20 tokens take 600 s.
    earlier = resolve("tiny", overrides={"max_steps": 30, "device": "cpu"})
    folder = create_run(earlier.to_dict(), root, label="earlier")
    write_json_atomic(folder / "status.json", {"state": "finished", "device": "cpu", "median_tokens_per_s": 80.0,
                                               "step": 30, "total_steps": 30})
    at.run()
    assert ("About **10 min** of training for all, one run after another: each cell's runs at the median pace of "
            "the earlier runs of its shape on this machine's cpu (1 run for each cell), over their whole training "
            "time (evaluations and saves included; runs that trained alone first). Runs at once share the "
            "machine, so more at a time rarely finishes sooner.") in texts(at)


# Best validation of placement x tying x 2 seeds: vertical's cost is +10.0/+10.4 untied and +39/+41 tied
# (tests/test_effects.py's case): clearly up at each value of tying, while the pooled interval reaches 0.
TYING_BEST = {("none", False, 1): 127.0, ("none", False, 2): 127.4, ("none", True, 1): 130.0, ("none", True, 2): 131.8,
              ("vertical", False, 1): 137.0, ("vertical", False, 2): 137.8,
              ("vertical", True, 1): 169.0, ("vertical", True, 2): 172.8}


def finished_grid(root: Path, toggles: dict, group: str, best_of) -> None:
    """A grid of `toggles` x 2 seeds (dropout 0.5) written straight to disk, every run finished with one
    validation: best_of(config, seed counted from 1) its best, final validation too; test 4 lower."""
    import json

    from lmcore import ablation
    from lmcore.config import from_dict, validate
    from lmcore.runs import create_run, write_json_atomic

    base = validate(from_dict({**SMALL, "max_steps": 30, "eval_every": 10, "dropout": 0.5}))
    for config in ablation.grid(base, toggles, group=group, seeds=2):
        folder = create_run(config.to_dict(), root, label=config.name)
        best = best_of(config, config.seed - base.seed + 1)
        (folder / "metrics.jsonl").write_text(json.dumps({"kind": "val", "step": 30, "epoch": 1, "ppl": best}) + "\n")
        write_json_atomic(folder / "status.json", {
            "state": "finished", "pid": None, "step": 30, "total_steps": 30, "epoch": 1, "error": None, "elapsed": 1.0,
            "best_val_ppl": best, "final_val_ppl": best, "test_ppl": best - 4.0, "best_epoch": 1})


def test_an_effect_clear_at_each_value_of_the_other_toggle_is_not_called_noise_and_the_interaction_is_explained(
        tmp_path, monkeypatch):
    """QA round 19: vertical vs none read "within noise" ([-1.3, +52.5]) where it was +11 untied and +40 tied,
    seeds agreeing; and the interaction chart read "lower is better" in green, as if a benefit."""
    import json

    root = tmp_path / "runs"
    finished_grid(root, {"dropout_placement": ["none", "vertical"], "tie_weights": [False, True]}, "grid-tie",
                  lambda config, seed: TYING_BEST[(config.dropout_placement, config.tie_weights, seed)])
    at = grid_page(monkeypatch, root)
    effects = frame_with(at, "estimate").value.set_index(["contrast", "metric"])
    vertical = effects.loc[("placement=vertical vs none", "best val")]
    assert float(vertical["low"]) < 0 and vertical["verdict"] == "higher at each"
    notes = [c.value for c in at.caption if c.value.startswith("**placement=vertical vs none** (best val)")]
    assert notes == ["**placement=vertical vs none** (best val): higher at every value of the other toggles (each "
                     "over seeds): +10.20 [+7.66, +12.74] higher at tied=false; +40.00 [+27.29, +52.71] higher at "
                     "tied=true; the pooled interval spans the difference between them, not seed noise"]
    assert ("tied's change (true vs false) at placement=vertical, minus that change at placement=none: negative "
            "where tied=true does better (or less badly) at placement=vertical" in texts(at))
    interaction = chart(at, key="compare.effect.interaction.dropout_placement.tie_weights")
    assert interaction["layout"]["xaxis"]["title"]["text"] == "difference of the changes in perplexity"
    assert "#2ca02c" not in json.dumps(interaction["data"])               # no "better" green on a difference


def test_the_cells_csv_beside_the_effects_csv_has_each_cells_interval(tmp_path, monkeypatch):
    """QA round 19, P3: the cells table shows mean ± sd; a paper's table needs the 95% interval, which
    was in `lmcore effects --json` alone. The button's file is lmcore.grid_export's, as --cells-csv prints it."""
    import csv
    import io

    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    from lmcore.effects import grid_effects
    from lmcore.grid_export import cells_csv

    saved, original = {}, MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):   # what each download button carries
        saved[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    root = tmp_path / "runs"
    dropout_grid(root, seeds=2)
    at = grid_page(monkeypatch, root)
    labels = [button.label for button in at.get("download_button")]
    assert labels.index("CSV of the 4 cells") == labels.index("CSV of these effects") + 1   # beside it
    runs = list_runs(root)
    assert saved["grid-drop-cells.csv"].decode() == cells_csv(grid_effects(runs, "grid-drop"), runs)
    rows = list(csv.DictReader(io.StringIO(saved["grid-drop-cells.csv"].decode())))
    assert len(rows) == 4 and all(float(r["best_val_low"]) < float(r["best_val_mean"]) < float(r["best_val_high"])
                                  for r in rows)
    assert {r["seeds"] for r in rows} == {"1 2"}


# 3 placements x 2 seeds (tests/test_effects.py's THREE): per seed, variational - vertical is -5 and -4.8,
# variational - none -15 and -14.6, vertical - none -10 and -9.8. Each of the 3 comparisons at 98.3%
# (t 38.188 for df 1; se half the gap between the two differences): variational is lower than both.
THREE = {("none", 1): 100.0, ("none", 2): 110.0, ("vertical", 1): 90.0, ("vertical", 2): 100.2,
         ("variational", 1): 85.0, ("variational", 2): 95.4}


def three_placements(root: Path) -> None:
    finished_grid(root, {"dropout_placement": ["none", "vertical", "variational"]}, "grid-three",
                  lambda config, seed: THREE[(config.dropout_placement, seed)])


def test_a_toggle_with_three_values_says_which_is_best_and_compares_the_two_not_first(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    three_placements(root)
    at = grid_page(monkeypatch, root)
    answer = [m.value.replace("\\", "") for m in at.markdown if "best validation perplexity" in m.value]
    assert answer == ["**Best placement by best validation perplexity: variational (lower than vertical by 4.9 "
                      "[1.1, 8.7], than none by 14.8 [7.2, 22.4]; 98.3% intervals)**"]
    effects = frame_with(at, "estimate").value.set_index(["contrast", "metric"])
    between = effects.loc[("placement=variational vs vertical", "best val")]
    assert [between[key] for key in ("estimate", "low", "high", "verdict")] == ["-4.90", "-8.72", "-1.08", "lower"]
    assert between["method"] == "paired, df\u00a01, 98.3%" and between["over"] == "seeds"
    # The chart, titled "each value vs none", keeps to those rows; the table has all three comparisons.
    figure = chart(at, key="compare.effect.dropout_placement")
    rows = [y for trace in figure["data"] for y in values(trace, "y")]
    assert len(rows) == 6 and rows[::3] == ["vertical<br>best val", "variational<br>best val"]
    shown = texts(at)
    assert "98.3% for three values" in shown and "dropout_placement, each value vs none (98.3% intervals)" in shown


def test_no_clear_best_says_why_and_a_two_valued_grid_keeps_its_words(tmp_path, monkeypatch):
    """QA round 21: 'No clear best placement' stood above means 15 apart with nothing on why (2 seeds, 98.3%
    intervals); and a grid of two-valued toggles gained the Bonferroni sentences and heading for nothing."""
    root = tmp_path / "runs"
    noisy = {**THREE, ("variational", 2): 95.6}   # variational - vertical: -5 and -4.6, [-12.4, +2.8] at 98.3%
    finished_grid(root, {"dropout_placement": ["none", "vertical", "variational"]}, "grid-noisy",
                  lambda config, seed: noisy[(config.dropout_placement, seed)])
    shown = texts(grid_page(monkeypatch, root))
    assert "No clear best placement by best validation perplexity" in shown
    assert ("The line reads the 98.3% intervals below: a toggle's comparisons hold together at 95% only if each is "
            "that wide, and over 2 pairs of runs they are wide.") in shown
    two = tmp_path / "two"
    finished_grid(two, {"tie_weights": [False, True]}, "grid-two", lambda config, seed: 100.0 + 5 * config.tie_weights
                  + seed)
    shown = texts(grid_page(monkeypatch, two))
    assert "the change in perplexity from the toggle's first value" in shown
    assert "three or more values" not in shown and "Bonferroni" not in shown and "The line reads" not in shown
