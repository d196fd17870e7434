"""The Train page's Watch tab (AppTest) on runs in odd states: killed after an earlier stop (the
log shows this attempt only), diverged (perplexities read huge, the chart is clipped and says
so), capped by max_steps, and finished with its final validation beside the best."""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

import pytest

from charts import chart, named, values
from conftest import copy_run, metric, open_app, pause_process, texts
from lmcore import launch, runs
from lmcore.metrics_frame import MetricsFrame
from lmcore.runs import RunWriter

DIVERGED = 1.0142320540616806e304


def open_watch(monkeypatch, folder):
    at = open_app(monkeypatch, folder.parent, "app_pages/train.py", {"run": folder.name})
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_killed_run_shows_only_its_last_attempts_log(trained_runs, monkeypatch, tmp_path):
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    (folder / "log.txt").write_text(
        f"{launch.ATTEMPT_MARKER}2026-01-01 10:00:00 ---\n" + json.dumps({"state": "stopped", "steps": 822}) + "\n"
        f"{launch.ATTEMPT_MARKER}2026-01-01 11:00:00 ---\nloading PTB\nstep 1988\n")
    gone = subprocess.Popen([sys.executable, "-c", "pass  # lmcore"])
    gone.wait()                                                   # kill -9 leaves `running` and a dead pid
    RunWriter(folder).status(state="running", pid=gone.pid, finished_at=None)
    at = open_watch(monkeypatch, folder)
    assert "killed or crashed" in " ".join(e.value for e in at.error)
    logs = [c.value for c in at.code]
    assert logs == ["loading PTB\nstep 1988"]                      # not the earlier stop's summary
    assert at.code[0].proto.wrap_lines     # a long line wraps: at 390 px it ran past the box's edge (QA)
    assert json.loads((folder / "status.json").read_text())["state"] == "running"   # the page never wrote it


def test_a_diverged_run_reads_huge_and_its_chart_is_clipped(trained_runs, monkeypatch, tmp_path):
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    RunWriter(folder).status(best_val_ppl=DIVERGED, final_val_ppl=DIVERGED)
    with open(folder / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps({"kind": "val", "step": 41, "epoch": 2, "ppl": DIVERGED, "loss": 700.0}) + "\n")
    at = open_watch(monkeypatch, folder)
    assert metric(at, "Best validation") == "1.0e304" and metric(at, "Validation") == "1.0e304"
    assert any(c.value.startswith("Axis clipped at") and "reaches 1.0e304" in c.value for c in at.caption)
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert 10 ** chart["layout"]["yaxis"]["range"][1] < 1e6


def test_a_finished_capped_run_shows_final_validation_the_best_epoch_and_the_cap(trained_runs, monkeypatch):
    folder = trained_runs[1]["plain"]
    status = json.loads((folder / "status.json").read_text())
    at = open_watch(monkeypatch, folder)
    finished = " ".join(s.value for s in at.success)
    # Capped at 40 of tiny's 149 steps an epoch: the best came inside epoch 1, and says how far in.
    assert f"(epoch {status['best_epoch']}, {status['best_step']} of its 149 steps)" in finished
    assert "final " in finished
    captions = " ".join(c.value for c in at.caption)
    assert "capped at 40 steps (max_steps)" in captions and "training time" in captions
    from lmcore.threads import threads_text

    how = f"device cpu ({threads_text(tuple(status['threads_used']))}, eager)"   # its threads and how its steps ran
    assert how in captions
    header = next(c for c in at.caption if how in c.value)
    assert "**eager**: PyTorch runs the step's operations one by one" in header.help   # the word, explained


def test_the_header_says_a_gpu_run_replays_a_cuda_graph_or_fell_back(trained_runs, monkeypatch, tmp_path):
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    for kind in ("CUDA graph, compiled cell", "eager (CUDA graph capture failed)"):
        RunWriter(folder).status(device="cuda", step_kind=kind)
        captions = " ".join(c.value for c in open_watch(monkeypatch, folder).caption)
        assert f"device cuda ({kind})" in captions


def test_the_header_says_where_the_training_time_went(trained_runs, monkeypatch, tmp_path):
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    RunWriter(folder).status(elapsed=200.0, time_spent={"evaluation": 20.0, "sampling": 0.5, "saving": 9.5})
    captions = [c.value for c in open_watch(monkeypatch, folder).caption]
    assert ("Where the training time went: training steps 85% · evaluation 10% · saving 5% · sampling <1%"
            in captions)
    RunWriter(folder).status(time_spent=None)  # a run from before the split was recorded: no line
    assert not any("Where the training time went" in c.value for c in open_watch(monkeypatch, folder).caption)


def test_the_change_of_validation_reads_huge_when_it_is():
    from ui.train_watch import change

    assert change(90.0, 95.25) == "-5.2" and change(DIVERGED, 250.0) == "+1.0e304"
    assert change(float("inf"), float("inf")) is None and change(None, 3.0) is None
    assert change(79.87, 79.89) is None and change(79.87, 79.95) == "-0.1"       # QA round 6: no "-0.0" arrow


# ---------------------------------------------------------------- reference runs (issue 9)

BOOK = "20261127-085930-book-9182"
VARIATIONAL = "20261127-230959-variational-medium-3758"
OVERLAY_LABEL = "Add the full recipe on a GPU"


def overlay_pills(at):
    return next(b for b in at.button_group if b.label == OVERLAY_LABEL)


def progress(at) -> str:
    return at.get("progress")[0].proto.text


def test_the_book_reference_overlays_a_tiny_run_on_an_epoch_axis(trained_runs, monkeypatch):
    import ui

    folder = trained_runs[1]["plain"]
    at = open_watch(monkeypatch, folder)
    overlay = overlay_pills(at)
    assert overlay.value == [] and set(named(chart(at)["data"])) == {"plain train", "plain validation"}
    assert overlay.options == ["book", "zaremba-medium", "variational-medium",
                               "book-horizontal"]   # Start's order: the recipes, then a variant
    overlay.set_value([BOOK]).run()
    assert not at.exception, [e.value for e in at.exception]
    spec = chart(at)
    traces = named(spec["data"])
    book = "book · reference (NVIDIA H200)"
    assert set(traces) == {"plain train", "plain validation", f"{book} train", f"{book} validation"}
    assert spec["layout"]["xaxis"]["title"]["text"].startswith("epoch")
    assert values(traces[f"{book} validation"])[-1] == 40.0           # 40 epochs of 1,327 steps
    # 40 capped steps of a tiny epoch (60,000 PTB words in 20 rows of 2,999, windows of 20: 149 steps)
    assert round(values(traces["plain validation"])[-1], 3) == round(40 / 149, 3)
    caption = " ".join(c.value for c in at.caption)
    assert ui.RUN_LINES_NOTE in caption                                # what the faint bands are, as on Compare
    assert "plain takes 149 steps an epoch" in caption and "takes 1,327 steps an epoch" in caption
    assert "Their vocabularies differ (2,000 vs 10,000 words)" in caption    # tiny's cap and the book's
    # The first steps (thousands) and epochs would squash the rest of a log axis: it stops at twice the
    # highest latest validation (plain's 135.2) and the caption says who goes above.
    assert 270 < 10 ** spec["layout"]["yaxis"]["range"][1] < 350
    assert "Axis stops at 270.4, twice the highest latest validation" in caption
    assert "book · reference \\(NVIDIA H200\\) reaches" in caption
    overlay_pills(at).set_value([BOOK, VARIATIONAL]).run()           # one clause for runs of one epoch length
    caption = " ".join(c.value for c in at.caption)
    assert ("plain takes 149 steps an epoch, book · reference (NVIDIA H200) and variational-medium · reference "
            "(NVIDIA H200) take 1,327 steps an epoch.") in caption
    overlay_pills(at).set_value([BOOK]).run()
    next(s for s in at.button_group if s.label == "x axis").set_value("share").run()
    traces = named(chart(at)["data"])
    assert values(traces[f"{book} validation"])[-1] == 1.0 and values(traces["plain validation"])[-1] == 1.0


def test_a_reference_run_cannot_be_resumed_from_the_page(monkeypatch, tmp_path):
    from lmcore.reference import reference_dir

    at = open_watch(monkeypatch, tmp_path / "runs" / VARIATIONAL)  # an empty runs folder: still listed
    assert "variational-medium · reference (NVIDIA H200)" in at.selectbox[0].options[1]
    assert not [b for b in at.button if b.label in ("Resume", "Start over", "Stop")]  # finished: nothing to resume
    info = " ".join(i.value for i in at.info)
    assert "measured by this project on one NVIDIA H200" in info
    assert "Finished: best validation perplexity 76.7" in " ".join(s.value for s in at.success)
    assert not (reference_dir() / VARIATIONAL / "log.txt").exists()


def test_a_reference_run_cut_short_says_so_and_stays_read_only(monkeypatch, tmp_path):
    from lmcore.reference import reference_dir

    cut = tmp_path / "reference" / VARIATIONAL
    shutil.copytree(reference_dir() / VARIATIONAL, cut)
    for name, changes in (("status.json", {"state": "stopped", "step": 21_228, "test_ppl": None}),
                          ("reference.json", {"complete": False})):
        data = json.loads((cut / name).read_text())
        (cut / name).write_text(json.dumps({**data, **changes}))
    monkeypatch.setenv("LMCORE_REFERENCE_DIR", str(cut.parent))
    at = open_watch(monkeypatch, tmp_path / "runs" / VARIATIONAL)
    resume = next(b for b in at.button if b.label == "Resume")
    assert resume.disabled and "read-only" in resume.help
    assert "Cut short at step 21,228 of 53,080" in " ".join(i.value for i in at.info)


def test_edit_a_copy_of_a_reference_run_trains_its_recipe_on_this_machine(monkeypatch, tmp_path):
    at = open_watch(monkeypatch, tmp_path / "runs" / BOOK)
    next(b for b in at.button if b.label == "Edit a copy").click().run()
    assert not at.exception and not at.error    # cuda on a machine without a GPU would be refused
    assert next(s for s in at.selectbox if s.label == "Device").value == "auto"
    said = " ".join(s.value for s in at.success)
    assert "The device is back to `auto` (the reference trained on cuda)." in said
    assert next(s for s in at.selectbox if s.label == "Preset").value == "book"
    # As `lmcore train --like` says it (lmcore.copies): the form shows defaults its config.json never held.
    assert (f"{BOOK}'s config.json predates cuda_graphs, compiled_cell, layer_pipeline, so the copy takes their "
            "defaults (cuda_graphs=auto, compiled_cell=auto, layer_pipeline=1).") in said.replace("\\", "")


def test_a_fork_whose_config_was_edited_by_hand_still_shows(trained_runs, monkeypatch, tmp_path):
    parent = trained_runs[1]["plain"]
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    config = json.loads((folder / "config.json").read_text())
    for fork_from, fork_step, caption in (("nonsense", 20, f"Forked from `{parent.name}` at step 20 (a checkpoint)"),
                                          ("best", "twenty", None)):
        (folder / "config.json").write_text(json.dumps({**config, "parent": parent.name, "fork_from": fork_from,
                                                        "fork_step": fork_step}))
        captions = [c.value for c in open_watch(monkeypatch, folder).caption]   # no exception either way
        assert [c for c in captions if c.startswith("Forked from")] == ([caption + ": its steps continue from there."]
                                                                        if caption else [])
        # its clock goes on from the parent's checkpoint: the header says whose time it counts
        assert any("(the parent's up to step 20 included)" in c for c in captions) == (caption is not None)


def test_the_run_links_to_the_other_pages_opened_on_it(trained_runs, monkeypatch):
    folder = trained_runs[1]["variational"]
    links = {link.proto.page: link.proto.query_string for link in open_watch(monkeypatch, folder).get("page_link")}
    assert links == {"compare": f"runs={folder.name}", "inside": f"run={folder.name}",
                     "generate": f"run={folder.name}"}


def test_a_link_to_a_run_stays_a_link_to_that_run(trained_runs, monkeypatch):
    """The untouched set-up form adds nothing to the address: no preset the run never used."""
    folder = trained_runs[1]["variational"]
    at = open_watch(monkeypatch, folder)
    assert dict(at.query_params) in ({"run": folder.name}, {"run": [folder.name]})
    at.session_state["train.tab"] = "⚙️ Set up a run"
    at.run()
    at.number_input(key="train.w.layers").set_value(3).run()
    assert at.query_params["layers"] in ("3", ["3"]) and at.query_params["run"] in (folder.name, [folder.name])


def test_an_ended_run_reads_its_average_speed_not_its_last_short_interval(trained_runs, monkeypatch, tmp_path):
    """Once ended, speed x training time is what it trained (QA round 10: the median of its intervals read 12,141
    tokens/s for a run that averaged 7.2k, half of it beside another run)."""
    from lmcore.summaries import average_speed

    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    speeds = [json.loads(line)["tokens_per_s"] for line in (folder / "metrics.jsonl").read_text().splitlines()
              if json.loads(line)["kind"] == "train"]
    status = json.loads((folder / "status.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    stepping = status["elapsed"] - sum(status["time_spent"].values())
    average = status["step"] * config["batch_size"] * config["bptt"] / stepping
    assert average_speed(status, config) == pytest.approx(average)
    assert metric(open_watch(monkeypatch, folder), "Tokens / s") == f"{average:,.0f}"
    # A run written before time_spent and the median key: its log's median, the last short interval one line.
    with open(folder / "metrics.jsonl", "a") as handle:  # a stop's last, short interval
        handle.write(json.dumps({"kind": "train", "step": 41, "epoch": 2, "loss": 4.0, "ppl": 54.6, "lr": 0.01,
                                 "tokens_per_s": 12.0, "grad_norm": 1.0, "time": 99.0}) + "\n")
    del status["median_tokens_per_s"], status["time_spent"]
    (folder / "status.json").write_text(json.dumps({**status, "tokens_per_s": 12.0}))
    assert metric(open_watch(monkeypatch, folder), "Tokens / s") == f"{statistics.median(speeds + [12.0]):,.0f}"


def test_a_failed_run_without_a_checkpoint_offers_to_start_over_not_to_resume(trained_runs, monkeypatch, tmp_path):
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    RunWriter(folder).status(state="failed", error="diverged at step 3: loss nan")
    labels = [b.label for b in open_watch(monkeypatch, folder).button]
    assert "Resume" in labels and "Start over" not in labels
    for checkpoint in (folder / "checkpoints").glob("*.pt"):
        checkpoint.unlink()
    button = next(b for b in open_watch(monkeypatch, folder).button if b.label in ("Resume", "Start over"))
    assert button.label == "Start over" and "trains again from step 0" in button.help


def test_a_queued_run_the_cluster_cannot_take_says_why_where_it_is_watched(monkeypatch, tmp_path):
    import time as clock

    from lmcore import queue
    from lmcore.runs import create_run, write_json_atomic

    root = tmp_path / "runs"
    folder = create_run({"name": "waiting", "preset": "tiny"}, root, "waiting")
    at = open_watch(monkeypatch, folder)
    assert progress(at) == "waiting for the queue to start it"
    queue.set_backend(root, "ray")
    write_json_atomic(root / queue.PROBLEM, {"error": "cannot connect to the Ray cluster at auto: none.",
                                             "at": clock.time()})
    warnings = " ".join(w.value for w in open_watch(monkeypatch, folder).warning)
    assert "The queue cannot start it on the Ray cluster: cannot connect to the Ray cluster at auto: none;" in warnings
    start = open_app(monkeypatch, root)
    assert any("The queue cannot start it on the Ray cluster" in c.value for c in start.caption)


@pytest.mark.parametrize("chosen", [False, True])
def test_edit_a_copy_drops_a_name_made_from_the_changes_and_keeps_a_chosen_one(trained_runs, monkeypatch,
                                                                              tmp_path, chosen):
    from explorer.links import described_name

    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    config = {**json.loads((folder / "config.json").read_text()), "dropout": 0.3, "dropout_placement": "vertical"}
    name = "my baseline" if chosen else described_name({**config, "name": ""})
    assert "dropout=0.3" in name or chosen
    (folder / "config.json").write_text(json.dumps({**config, "name": name}))
    copied = name if chosen else ""
    at = open_watch(monkeypatch, folder)
    next(b for b in at.button if b.label == "Edit a copy").click().run()
    assert at.text_input(key="train.w.name").value == copied


def test_edit_a_copy_of_a_grid_run_is_named_as_train_like_names_it(trained_runs, monkeypatch, tmp_path):
    """QA round 26: Edit a copy named a grid run's copy afresh ('tiny · ... · +2 more') where `lmcore train
    --like` kept its name with the copy's values ('placement=variational seed=5 · max_steps=10'): one rule."""
    from lmcore import copies
    from ui.train_setup import START

    folder = copy_run(trained_runs[1]["variational"], tmp_path)
    config = {**json.loads((folder / "config.json").read_text()), "name": "placement=variational seed=5",
              "group": "grid-1", "seed": 5}
    (folder / "config.json").write_text(json.dumps(config))
    monkeypatch.setattr("lmcore.launch.launch", lambda folder: None)   # the name is the point, not the training
    at = open_watch(monkeypatch, folder)
    next(b for b in at.button if b.label == "Edit a copy").click().run()
    assert at.text_input(key="train.w.name").value == "placement=variational seed=5"
    at.number_input(key="train.w.seed").set_value(3).run()
    at.button(key=START).click().run()
    started = runs.read_config(folder.parent / at.query_params["run"])
    original = copies.recipe(config, folder.name, False, set())[0]
    assert started["name"] == copies.copy_name(original, started) == "placement=variational seed=3"
    assert started["group"] in (None, "")


def test_edit_a_copy_of_a_cpu_run_says_which_thread_count_trains_its_numbers_again(trained_runs, monkeypatch,
                                                                                    tmp_path):
    """QA round 26: a run's copy trained other numbers (float rounding) because its automatic thread share
    differed; Watch names the count the run used and Edit a copy says how to train its numbers again."""
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "threads": 0}))
    status = json.loads((folder / "status.json").read_text())
    (folder / "status.json").write_text(json.dumps({**status, "device": "cpu", "threads_used": [1]}))
    at = open_watch(monkeypatch, folder)
    assert "device cpu (1 thread, eager)" in texts(at.caption)
    next(b for b in at.button if b.label == "Edit a copy").click().run()
    said = " ".join(s.value for s in at.success).replace("\\", "")
    assert "CPU threads 1 (under Advanced) trains the same numbers bit for bit." in said
    assert f"{folder.name} trained with 1 thread (its automatic share of the cores)" in said


def test_a_run_name_reads_as_typed_in_the_chart_legend(trained_runs, monkeypatch, tmp_path):
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "name": "app-tiny <b>&"}))
    names = [trace.get("name") for trace in chart(open_watch(monkeypatch, folder), key="train.chart")["data"]]
    assert "app-tiny &lt;b&gt;&amp; validation" in names  # Plotly shows the entities as the characters typed


def test_a_run_that_failed_before_its_first_step_does_not_read_as_starting(monkeypatch, tmp_path):
    from lmcore.runs import create_run

    folder = create_run({"name": "bad", "preset": "tiny"}, tmp_path / "runs", "bad")
    RunWriter(folder).status(state="failed", error="dataset: looks binary", total_steps=None)
    at = open_watch(monkeypatch, folder)
    assert any("ended before its first step" in p.proto.text for p in at.get("progress"))
    assert "No measurements: it ended before its first log." in [i.value for i in at.info]
    assert any(c.value.startswith("Fork: it saved no checkpoint") for c in at.caption)


def test_resume_pressed_after_another_page_resumed_the_run_starts_no_second_trainer(trained_runs, monkeypatch,
                                                                                      tmp_path):
    """Two tabs show a stopped run; one resumes it, then the other, whose page has not refreshed yet."""
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    RunWriter(folder).status(state="stopped")
    at = open_watch(monkeypatch, folder)
    hold = ("import sys, time; from pathlib import Path; from lmcore import locks; "
            "locks.claim_training(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)  # lmcore")
    other = subprocess.Popen([sys.executable, "-c", hold, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "held"       # the other tab's trainer has the folder
        next(b for b in at.button if b.label == "Resume").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert f"is already training (process {other.pid})" in " ".join(t.value for t in at.toast)
        assert not (folder / "launcher.json").exists()           # nothing was launched
    finally:
        other.kill()
        other.wait()


def test_a_run_still_loading_says_so_instead_of_blank_device_and_parameters(monkeypatch, tmp_path):
    """QA round 3: right after Start the header read 'running', 'device —', '— parameters' and 'starting'."""
    folder = runs.create_run({"preset": "tiny", "name": "loading"}, tmp_path / "runs")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)  # lmcore"])
    try:
        RunWriter(folder).status(state="running", pid=sleeper.pid)   # the trainer took over; no device yet
        at = open_watch(monkeypatch, folder)
    finally:
        sleeper.kill()
        sleeper.wait()
    captions = " ".join(c.value for c in at.caption)
    assert progress(at) == "loading the data and building the model"
    assert "device —" not in captions and "— parameters" not in captions
    assert "▶️ loading · running" in texts(at.markdown)


def test_sample_cards_and_the_training_time_read_as_on_every_other_page(trained_runs, monkeypatch, tmp_path):
    """QA: sample cards said 'step 1274' beside 'step 1,309' elsewhere, and Train cut 9.79 s to 0:09
    where Compare rounded it to 0:10."""
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    status = json.loads((folder / "status.json").read_text())
    (folder / "status.json").write_text(json.dumps({**status, "elapsed": 9.79}))
    with open(folder / "samples.jsonl", "a") as handle:
        handle.write(json.dumps({"step": 1274, "epoch": 26, "prompt": "the", "temperature": 1.0,
                                 "text": "the cat"}) + "\n")
    captions = " ".join(c.value for c in open_watch(monkeypatch, folder).caption)
    assert "step 1,274 · epoch 26 · temperature 1.0" in captions
    assert "training time 0:10" in captions


def test_compare_it_with_other_runs_adds_the_run_and_keeps_the_chart_settings(trained_runs, monkeypatch):
    """A link inside the app is not a shared link: it must not reset what the user set on Compare
    (a shared link's missing setting means its default) nor drop the runs chosen there."""
    from urllib.parse import parse_qs

    root, folders = trained_runs
    plain, variational = folders["plain"].name, folders["variational"].name
    state = {"compare.selected": [variational, "deleted-since"], "compare.x_axis": "epoch", "compare.smoothing": 0.3}
    at = open_app(monkeypatch, root, "app_pages/train.py", {"run": plain}, state=state)
    link = next(l.proto for l in at.get("page_link") if l.proto.label == "Compare")
    assert parse_qs(link.query_string) == {"runs": [f"{variational},{plain}"], "x": ["epoch"], "smooth": ["0.3"]}


# ---------------------------------------------------------------- where a stop or a kill leaves a run


def test_stop_on_a_run_waiting_for_the_queue_takes_it_off_the_queue(monkeypatch, tmp_path):
    """QA round 28: Stop on a queued run said "No training process is running." and the queue trained it."""
    from conftest import SMALL

    folder = runs.create_run({**SMALL, "max_steps": 3}, tmp_path / "runs")   # queued; no worker takes it here
    monkeypatch.setattr("lmcore.queue.ensure_worker", lambda root=None: None)
    at = open_watch(monkeypatch, folder)
    next(b for b in at.button if b.label == "Stop").click().run()
    assert "Taken off the queue before it started: it waits, stopped at step 0, and Resume trains it." in \
        texts(at.toast)
    assert runs.read_status(folder)["state"] == "stopped"
    assert any(b.label in ("Resume", "Start over") for b in at.button)


def test_stop_names_the_step_it_saved_and_a_kill_names_the_steps_resume_trains_again(monkeypatch, tmp_path):
    """QA round 8: Stop said only 'saves a checkpoint first' and Resume 'from the last checkpoint'. A
    real run started, stopped and resumed from the page, then killed (kill -9) past its checkpoint."""
    import signal

    import torch

    from conftest import wait_until
    from ui.train_setup import START

    root = tmp_path / "runs"
    at = open_app(monkeypatch, root, "app_pages/train.py", {"preset": "tiny", "threads": "1", "epochs": "3"})
    at.button(key=START).click().run()
    folder = root / at.query_params["run"]
    log = lambda: (runs.read_status(folder), (folder / "log.txt").read_text())  # noqa: E731
    wait_until(lambda: (runs.read_status(folder).get("step") or 0) >= 5, 90, log)
    at.run()
    next(b for b in at.button if b.label == "Stop").click().run()
    assert "Stopping (it was at step" in texts(at.toast)
    wait_until(lambda: runs.read_status(folder)["state"] == "stopped", 60, log)
    at.run()
    step = runs.read_status(folder)["step"]
    last = folder / "checkpoints" / "last.pt"
    assert torch.load(last, weights_only=True)["progress"]["step"] == step   # status.json and last.pt agree
    assert (f"Stopped at step {step:,} (epoch 1 of 3): checkpoint saved at step {step:,}; Resume continues "
            "from there.") in texts(at.info)
    resume = next(b for b in at.button if b.label == "Resume")
    assert resume.help.endswith(f"from the checkpoint at step {step:,} (epoch 1 of 3)")

    resume.click().run()
    assert f"Resuming from step {step:,}..." in texts(at.toast)
    wait_until(lambda: runs.read_status(folder).get("state") == "running"
               and runs.read_status(folder).get("step", 0) >= step + 5, 60, log)
    os.kill(runs.read_status(folder)["pid"], signal.SIGKILL)           # no final status, no checkpoint
    wait_until(lambda: runs.read_status(folder)["state"] == "failed", 30, log)
    at.run()
    logged = [json.loads(line)["step"] for line in (folder / "metrics.jsonl").read_text().splitlines()
              if json.loads(line)["kind"] == "train"]
    killed = max(runs.read_status(folder)["step"], logged[-1])   # the status lags the log (QA round 8)
    assert torch.load(last, weights_only=True)["progress"]["step"] == step   # still the stop's checkpoint
    again = (f"the checkpoint at step {step:,} (epoch 1 of 3); steps {step + 1:,}–{killed:,}, trained after it, "
             "are trained again")
    assert f"Resume continues from {again}." in texts(at.caption)
    assert next(b for b in at.button if b.label == "Resume").help.endswith(again)


def test_a_killed_runs_steps_trained_again_count_from_its_log_where_its_status_lags(trained_runs, monkeypatch,
                                                                                    tmp_path):
    """QA round 8: killed with status.json at step 755 and the log at 782, the page said steps 751-755
    are trained again; Resume dropped and retrained 751-782."""
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    saved = torch_progress_step(folder)
    logged = saved + 10
    with open(folder / "metrics.jsonl", "a") as handle:   # trained past the checkpoint, then killed
        for step in range(saved + 1, logged + 1):
            handle.write(json.dumps({"kind": "train", "step": step, "epoch": 1, "loss": 4.0, "ppl": 54.6, "lr": 0.01,
                                     "tokens_per_s": 1000.0, "grad_norm": 1.0, "time": 99.0}) + "\n")
    status = json.loads((folder / "status.json").read_text())
    (folder / "status.json").write_text(json.dumps({**status, "state": "failed", "error": "killed",
                                                    "step": saved + 2}))
    at = open_watch(monkeypatch, folder)
    again = f"steps {saved + 1:,}–{logged:,}, trained after it, are trained again"
    assert any(again in c.value for c in at.caption) and any(b.help.endswith(again) for b in at.button if b.help)
    assert any(f"step {logged:,} / " in p.proto.text for p in at.get("progress"))


def torch_progress_step(folder) -> int:
    import torch

    return torch.load(folder / "checkpoints" / "last.pt", weights_only=True)["progress"]["step"]


def test_an_epoch_end_checkpoint_reads_as_that_epochs_end(trained_runs, tmp_path):
    """The trainer counts the next epoch once one ends: its checkpoint says epoch 2, window 0."""
    import torch

    from ui.train_watch import SavedPoint, saved_point

    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    last = folder / "checkpoints" / "last.pt"
    payload = torch.load(last, weights_only=True)
    assert saved_point(folder, 8) == SavedPoint(40, "epoch 1 of 8")
    payload["progress"] = {**payload["progress"], "step": 149, "epoch": 2, "window": 0}
    torch.save(payload, last)
    assert saved_point(folder, 8) == SavedPoint(149, "the end of epoch 1 of 8")
    assert saved_point(folder, None) == SavedPoint(149, "the end of epoch 1")
    last.write_bytes(b"torn")
    assert saved_point(folder, 8) is None


def test_a_capped_runs_place_counts_the_epochs_its_cap_reaches(trained_runs, monkeypatch, tmp_path):
    """A tiny run capped at 40 steps (149 an epoch) of a planned 8 epochs read 'epoch 1 of 8': it ends in epoch 1."""
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    status = json.loads((folder / "status.json").read_text())
    assert json.loads((folder / "config.json").read_text())["epochs"] == 8 and status["total_steps"] == 40
    (folder / "status.json").write_text(json.dumps({**status, "state": "stopped"}))
    at = open_watch(monkeypatch, folder)
    assert "Stopped at step 40 (epoch 1 of 1): checkpoint saved at step 40; Resume continues from there." \
        in texts(at.info)


def test_a_damaged_run_with_its_config_and_checkpoint_offers_resume(trained_runs, monkeypatch, tmp_path):
    """A torn status.json left a run with an intact config.json and last.pt showing only "Delete it"."""
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    (folder / "status.json").write_text('{"state": "runn')
    at = open_watch(monkeypatch, folder)
    resume = [b for b in at.button if b.label == "Resume"]
    assert resume and not resume[0].disabled and resume[0].help.endswith("from the checkpoint at step 40 (epoch 1)")
    assert ("Its config.json and checkpoint still read: Resume continues from the checkpoint at step 40 (epoch 1), "
            "and writes a new status.json.") in texts(at.warning)
    assert any("step 40, read from its log · its folder is damaged" in p.proto.text for p in at.get("progress"))

    (folder / "config.json").unlink()                                    # nothing left to train from
    at = open_watch(monkeypatch, folder)
    assert not [b for b in at.button if b.label in ("Resume", "Start over")]
    # A missing config.json beside a readable status: the step is the status's, and no file is misnamed
    # (QA round 16: "status.json is damaged" above "config.json is missing or unreadable").
    (folder / "status.json").write_text(json.dumps({**json.loads((trained_runs[1]["plain"] / "status.json")
                                                                 .read_text())}))
    at = open_watch(monkeypatch, folder)
    assert [p.proto.text for p in at.get("progress")] == ["step 40 · its folder is damaged"]
    assert "Delete it on **Compare** when you no longer need it." in texts(at.warning)


# ---------------------------------------------------------------- run colours (QA round 8)


def test_the_chart_colours_each_run_as_start_and_compare_do_and_the_parent_stays_grey(trained_runs, monkeypatch,
                                                                                        tmp_path):
    import ui

    parent = copy_run(trained_runs[1]["plain"], tmp_path)
    at = open_watch(monkeypatch, parent)
    overlay_pills(at).set_value([VARIATIONAL, BOOK]).run()
    colours = {name: t["line"]["color"] for name, t in named(chart(at)["data"]).items()}
    mine, variational, book = ui.run_colours([parent.name, VARIATIONAL, BOOK])
    assert colours["plain train"] == colours["plain validation"] == mine
    assert colours["book · reference (NVIDIA H200) validation"] == book                  # not by position
    assert colours["variational-medium · reference (NVIDIA H200) validation"] == variational
    fork = copy_run(trained_runs[1]["variational"], tmp_path)
    config = json.loads((fork / "config.json").read_text())
    (fork / "config.json").write_text(json.dumps({**config, "parent": parent.name, "fork_from": "last",
                                                  "fork_step": 20}))
    colours = {t["name"]: t["line"]["color"] for t in chart(open_watch(monkeypatch, fork))["data"]}
    assert colours["variational train"] == ui.run_colours([fork.name])[0]
    assert colours["parent before the fork train"] == "#9a9a9a"                    # its own look, as before


def test_the_learning_rate_shows_three_digits_and_the_exact_one_on_hover(monkeypatch):
    """QA round 8: zaremba-medium's decayed 0.0221839 read "0.022…", cut by the metric's width."""
    from lmcore.reference import reference_dir

    zaremba = next(reference_dir().glob("*-zaremba-medium-*"))
    at = open_watch(monkeypatch, zaremba)
    shown = next(m for m in at.metric if m.label == "Learning rate")
    assert shown.value == "0.0222" and shown.help.endswith(": 0.0221839")


@pytest.mark.parametrize("fault, blamed", [(FileNotFoundError("metrics.jsonl"), "run"), (NameError("shwo_run"), "app")])
def test_a_fault_of_the_page_is_not_blamed_on_the_run_folder(trained_runs, monkeypatch, tmp_path, fault, blamed):
    """A NameError during a hot edit read "Could not read <run> just now ... half-written or being deleted"."""
    import ui.train_watch

    folder = copy_run(trained_runs[1]["plain"], tmp_path)

    def fail(summary):
        raise fault

    monkeypatch.setattr(ui.train_watch, "run_links", fail)
    at = open_watch(monkeypatch, folder)
    if blamed == "run":
        assert f"Could not read `{folder.name}` just now (FileNotFoundError: metrics.jsonl)" in texts(at.warning)
        assert not at.error
    else:
        assert (f"This page failed to draw run `{folder.name}` (NameError: shwo_run). That is a fault of the app, "
                "not of the run") in texts(at.error)
        assert "Could not read" not in texts(at.warning)
        assert any("NameError: shwo_run" in c.value and c.proto.wrap_lines for c in at.code)   # wraps on a phone


def test_a_resumed_run_launching_shows_the_checkpoint_it_starts_from(trained_runs):
    """QA round 12: between Resume and the trainer's first write, the header read the killed trainer's
    lagging 'step 208', neither the 214 logged nor the checkpoint's 149 it trains again from."""
    from lmcore.checkpoints import saved_progress
    from lmcore.summaries import from_parts
    from ui.train_watch import progress_line

    folder = trained_runs[1]["plain"]
    step, _, _ = saved_progress(folder / "checkpoints" / "last.pt")
    status = {"state": "queued", "pid": 4242, "step": step + 7, "total_steps": 400, "epoch": 1}
    launching = from_parts(folder.name, folder, {"preset": "tiny", "epochs": 8}, status, None)
    logged = MetricsFrame(folder / "metrics.jsonl").refresh()    # a queued run's log is not read as its step
    assert progress_line(launching, logged)[1].startswith(f"step {step:,} / 400 · epoch 1 · launching")
    waiting = from_parts(folder.name, folder, {"preset": "tiny"}, {**status, "pid": None}, None)
    assert progress_line(waiting, logged)[1].startswith(f"step {step + 7:,} / 400")   # a queued run not launched yet


def test_the_progress_line_is_never_behind_the_curve(trained_runs, monkeypatch, tmp_path):
    """The progress line read status.json, which the trainer writes once a second, and the curve
    metrics.jsonl: at a run's start the line said 'step 1' beside a curve at step 25. It takes the step,
    epoch and time of the log's latest line when that is later; the silence note still reads the status."""
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    logged = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    last_train = [r for r in logged if r["kind"] == "train"][-1]
    kept = [r for r in logged if r["step"] <= last_train["step"] and r["kind"] != "test"]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)  # lmcore"])
    try:
        RunWriter(folder).status(state="running", pid=sleeper.pid, step=1, epoch=1, elapsed=0.05, total_steps=400,
                                 phase="training", finished_at=None)
        at = open_watch(monkeypatch, folder)
        assert progress(at).startswith(f"step {last_train['step']:,} / 400 · epoch {last_train['epoch']}")
        assert "ETA" in progress(at)
        status = json.loads((folder / "status.json").read_text())   # then the trainer goes quiet
        (folder / "status.json").write_text(json.dumps({**status, "updated_at": time.time() - 125}))
        at.run()
        assert progress(at).startswith(f"step {last_train['step']:,} / 400")
        assert "no word from the trainer for 2:0" in progress(at) and "ETA" not in progress(at)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_sidebars_train_watches_the_run_watched_before_again(trained_runs, monkeypatch):
    """QA round 12: Train (watching a run) → Compare → Train in the sidebar opened Set up, and its Watch
    tab said 'No run attached' about the run the class had just watched."""
    root, folders = trained_runs
    watched = folders["variational"].name
    at = open_app(monkeypatch, root, "app_pages/train.py", {"run": watched})
    at.query_params.clear()
    at.switch_page("app_pages/compare.py").run()
    at.query_params.clear()
    at.switch_page("app_pages/train.py").run()
    assert at.session_state["train.tab"] == "⚙️ Set up a run"             # a bare /train sets up a run
    at.session_state["train.tab"] = "📈 Watch a run"
    at.run()
    assert not at.exception and at.query_params["run"] == watched
    assert at.selectbox(key="train.watch").value == watched


def test_a_run_that_finished_worse_than_guessing_is_not_shown_as_a_success(trained_runs, monkeypatch, tmp_path):
    """QA round 13: best validation 24,766 against a 2,000-word vocabulary read 'Finished' in green."""
    from explorer.compare import runs_table
    from lmcore.summaries import summarize

    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    status = json.loads((folder / "status.json").read_text())
    (folder / "status.json").write_text(json.dumps({**status, "best_val_ppl": 24766.1, "final_val_ppl": 24766.1}))
    at = open_watch(monkeypatch, folder)
    assert not at.success
    warning = texts(at.warning)
    assert "Finished: best validation perplexity 24,766.1" in warning
    assert "**Worse than guessing: its best validation perplexity, 24,766, is above 2,000" in warning
    assert "after 40, its learning rate is most likely too high" in warning
    assert runs_table([summarize(folder)]).at[0, "note"].startswith("worse than guessing")   # Compare's note
    short = {**status, "best_val_ppl": 24766.1, "step": 5, "state": "stopped"}
    (folder / "status.json").write_text(json.dumps(short))
    at.run()
    assert "It trained only 5 steps" in texts(at.warning) and "Stopped at step 5" in texts(at.info)


@pytest.mark.parametrize("config", [None, '{"layers": ', '{"epochs": "ten"}'])
def test_a_run_without_a_readable_config_draws_whole_and_says_it_cannot_be_forked(trained_runs, monkeypatch,
                                                                                   tmp_path, config):
    """QA round 13: the fork form's KeyError read as a half-written folder: 'trying again in 2 seconds', for
    ever, and the sampled text below it never showed."""
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    if config is None:
        (folder / "config.json").unlink()
    else:
        (folder / "config.json").write_text(config)
    at = open_watch(monkeypatch, folder)
    assert "Could not read" not in texts(at.warning) and not at.error
    assert any(c.value.startswith("Fork: its config.json") for c in at.caption)
    assert any("Sampled text" in m.value for m in at.markdown)


def test_a_run_validating_says_so_and_pauses_its_eta(trained_runs, monkeypatch, tmp_path):
    """QA round 14: through a validation pass (tens of seconds on PTB on a CPU) the page showed the last
    training step with its ETA, as if training went on. It says what the trainer does and how far it is."""

    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    log = folder / "metrics.jsonl"   # as a trainer at step 20 has written it: the line would follow a later one
    log.write_text("".join(line + "\n" for line in log.read_text().splitlines() if json.loads(line)["step"] <= 20))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)  # lmcore"])
    try:
        training = dict(state="running", pid=sleeper.pid, step=20, epoch=1, total_steps=40, elapsed=10.0,
                        finished_at=None)
        RunWriter(folder).status(**training, phase="training", phase_started_at=None, phase_done=None)
        assert "ETA 0:10" in progress(open_watch(monkeypatch, folder))       # training: the ETA counts
        RunWriter(folder).status(**training, phase="validating", phase_started_at=time.time() - 12,
                                 phase_words=73_760, phase_done=0.4)
        at = open_watch(monkeypatch, folder)
        RunWriter(folder).status(phase="testing", step=40, phase_done=None)
        testing = progress(open_watch(monkeypatch, folder))
    finally:
        sleeper.kill()
        sleeper.wait()
    # The seconds so far are the page's clock against the status's start: a loaded machine read 0:13.
    assert re.fullmatch(r"Validating epoch 1 on 73,760 words… 40% read, 0:1[2-9] so far · step 20 / 40 · "
                        r"ETA paused while it validates", progress(at))
    assert at.get("progress")[0].proto.value == 40          # the pass's own bar, as its text says
    assert re.fullmatch(r"Measuring the test perplexity on 73,760 words… 0:1[2-9] so far · step 40 / 40", testing)


def test_the_final_validation_and_a_stop_during_a_pass_are_said():
    """QA round 14: at the last step the bar stood full through the final validation and the test, as if
    the run had ended; a Stop during a pass changed nothing on the page for the 27 s the pass still took."""
    from ui import evaluation_progress

    final = {"state": "running", "phase": "validating", "phase_done": 0.5, "phase_words": 1000, "step": 10,
             "total_steps": 10, "epoch": 2}
    assert evaluation_progress(final) == (0.5, "Validating epoch 2 on 1,000 words… 50% read · step 10 / 10 "
                                               "(then the test set)")
    stopping = evaluation_progress({**final, "step": 5, "stopping": True})[1]
    assert stopping.endswith("step 5 / 10 · Stop asked: it stops when this pass ends, its measurement kept")


def test_a_phase_left_by_a_killed_trainer_or_in_an_odd_status_reads_plainly():
    from ui import evaluation_progress

    validating = {"state": "running", "phase": "validating", "phase_started_at": time.time(), "phase_done": 0.25,
                  "phase_words": 1000, "step": 5, "total_steps": 10, "epoch": 2}
    assert evaluation_progress({**validating, "state": "failed"}) is None      # read_status: killed mid-pass
    assert evaluation_progress({**validating, "phase": "training"}) is None
    assert evaluation_progress({"state": "running", "step": 5, "total_steps": 10}) is None   # runs from before
    odd = evaluation_progress({**validating, "phase_done": "x", "phase_words": True, "phase_started_at": None})
    assert odd == (0.0, "Validating epoch 2… · step 5 / 10 · ETA paused while it validates")


def test_the_live_chart_leaves_a_swipe_to_the_page_and_the_data_to_its_toolbar(trained_runs, monkeypatch):
    """On a touch screen a drag zoomed the chart instead of scrolling the page, and the toolbar, always shown
    there, stood over the newest points (QA round 15). Zooming stays on the toolbar."""
    at = open_watch(monkeypatch, trained_runs[1]["plain"])
    chart = at.get("plotly_chart")[0].proto
    layout = json.loads(chart.spec)["layout"]
    assert layout["dragmode"] is False and layout["margin"]["r"] >= 40
    assert json.loads(chart.config) == {"displaylogo": False}                 # the toolbar, with its zoom
    # The numbers in a line under the progress, which a phone shows a screen and a half above the row.
    line = next(c.value for c in at.caption if c.value.startswith("train **"))
    for label, shown in (("Train perplexity", "train"), ("Validation", "val"), ("Best validation", "best")):
        assert f"{shown} **{metric(at, label)}**" in line


def test_a_log_that_lost_its_start_is_named(trained_runs, monkeypatch, tmp_path):
    """QA round 17 (S6c): metrics.jsonl deleted while the run trained is recreated by the trainer from its next
    line, and the chart started at step 132 without a word."""
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    lines = (folder / "metrics.jsonl").read_text().splitlines(keepends=True)
    at = open_watch(monkeypatch, folder)
    assert "metrics.jsonl starts" not in texts(at.warning)                              # a whole log: no word
    (folder / "metrics.jsonl").write_text("".join(line for line in lines if json.loads(line)["step"] > 20))
    first = min(json.loads(line)["step"] for line in lines if json.loads(line)["step"] > 20)
    at = open_watch(monkeypatch, folder)
    assert (f"Its metrics.jsonl starts at step {first:,}: the log of the steps before it is missing (deleted or cut "
            "while the run trained), so the curve starts there.") in texts(at.warning)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "fork_step": 20, "parent": "p", "fork_from": "last"}))
    at = open_watch(monkeypatch, folder)
    assert "metrics.jsonl starts" not in texts(at.warning)                              # a fork's log starts late


def test_a_finished_runs_cut_log_is_named(trained_runs, monkeypatch, tmp_path):
    """A metrics.jsonl cut short (half of it, mid-line) ended the curve with no word, and its last validation
    contradicted the final one above it (QA round 16)."""
    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    whole = (folder / "metrics.jsonl").read_text()
    at = open_watch(monkeypatch, folder)
    assert "metrics.jsonl ends" not in texts(at.warning)                                # a whole log: no word
    (folder / "metrics.jsonl").write_text(whole[: len(whole) // 2 + 7])
    kept = [json.loads(line) for line in whole[: len(whole) // 2 + 7].splitlines()[:-1]]
    at = open_watch(monkeypatch, folder)
    status = json.loads((folder / "status.json").read_text())
    assert (f"Its metrics.jsonl ends at step {max(r['step'] for r in kept):,}, before the run's end at step "
            f"{status['step']:,}") in texts(at.warning)


def test_a_paused_trainer_reads_silent_and_a_stop_on_it_says_it_was_not_answered(monkeypatch, tmp_path):
    """QA round 17: a trainer stopped with kill -STOP read 'running · ETA 2:35' for as long as it stood,
    and Stop pressed on it changed nothing on the page."""

    from lmcore.summaries import SILENT_SECONDS

    folder = runs.create_run({"preset": "tiny", "name": "paused"}, tmp_path / "runs")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)  # lmcore"])
    try:
        pause_process(sleeper.pid)
        RunWriter(folder).status(state="running", pid=sleeper.pid, step=338, epoch=3, total_steps=2384,
                                 elapsed=26.0, phase="training", device="cpu")
        status = json.loads((folder / "status.json").read_text())
        quiet = SILENT_SECONDS + 10
        runs.write_json_atomic(folder / "status.json", {**status, "updated_at": time.time() - quiet})
        assert runs.stop_run(folder)   # the SIGTERM waits, as it does for a stopped process
        runs.write_json_atomic(folder / runs.STOP_REQUEST, {"at": time.time() - 24, "pid": sleeper.pid})
        at = open_watch(monkeypatch, folder)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert re.fullmatch(r"step 338 / 2,384 · epoch 3 · no word from the trainer for 2:1\d \(paused or stuck\?\)",
                        progress(at))
    warnings = " ".join(w.value for w in at.warning)
    assert re.search(r"Stop asked 0:2\d ago; the trainer \(process \d+\) has not answered: it has written nothing "
                     r"for 2:1\d \(paused or stuck\?\)", warnings)


def test_the_run_and_overlay_widgets_carry_their_values_as_their_defaults(trained_runs, monkeypatch):
    """QA round 22: a widget the browser mounts afresh starts from the default the page gives it, and the
    next 2 s refresh sends that back as a change; without one the Run box's was the first run listed (the
    page would switch runs by itself) and the overlays' none. The defaults are what they hold."""
    from ui.train_watch import OVERLAY, OVERLAY_AXIS, WATCH

    at = open_watch(monkeypatch, trained_runs[1]["plain"])
    overlay_pills(at).set_value([BOOK]).run()
    at.segmented_control(key=OVERLAY_AXIS).set_value("share").run()
    assert not at.exception, [e.value for e in at.exception]
    run_box = at.selectbox(key=WATCH)
    assert run_box.value == trained_runs[1]["plain"].name and run_box.index > 0
    assert run_box.proto.default == run_box.index
    pills = at.button_group(key=OVERLAY)
    assert [pills.options[i] for i in pills.proto.default] == ["book"]
    axis = at.segmented_control(key=OVERLAY_AXIS)
    assert [axis.options[i] for i in axis.proto.default] == ["share of training"]
