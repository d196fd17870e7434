"""Forking a run (issue 11 item 4): a new run from a parent's best, last or epoch-end checkpoint
with a few keys changed continues from the parent's exact state; refused forks create nothing."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys

import pytest
import torch

from charts import chart, values
from conftest import ROOT, SMALL, copy_run, open_app, wait_until
from lmcore import queue
from lmcore.checkpoints import checkpoint_sources, keeps_epoch_checkpoints
from lmcore.config import PLACEMENTS, Config, ConfigError, from_dict
from lmcore.errors import RunError
from lmcore.fork import fork_run, without_fork_keys
from lmcore.jsonl import read_jsonl
from lmcore.model import LanguageModel
from lmcore.params import formula_counts
from lmcore.presets import get_preset
from lmcore.runs import RunWriter, create_run, read_status
from lmcore.session import run
from lmcore.summaries import summarize
from runlogs import stable

EPOCH = 99                           # SMALL's steps in one epoch: 4,000 tokens in 4 rows, windows of 10


def _train(root, **changes):
    folder = create_run({**SMALL, "epochs": 3, "log_every": 1, **changes}, root)
    run(folder, show_progress=False)
    return folder


@pytest.fixture(scope="module")
def parents(tmp_path_factory, ptb_dir):
    """Two finished 3-epoch SMALL runs, logged every step: without dropout and with 0.3 vertical."""
    root = tmp_path_factory.mktemp("parents") / "runs"
    return {"plain": _train(root, dropout=0.0, dropout_placement="none"),
            "dropout": _train(root, dropout=0.3, dropout_placement="vertical")}


def _train_lines(folder):
    return {r["step"]: r for r in read_jsonl(folder / "metrics.jsonl") if r["kind"] == "train"}


def _weights(path):
    return torch.load(path, weights_only=True)["model"]


def _assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def _listing(root):
    return sorted(p.name for p in root.iterdir())


def test_a_run_keeps_a_checkpoint_per_epoch_when_small(parents):
    assert checkpoint_sources(parents["plain"]) == ["best", "last", "epoch:1", "epoch:2", "epoch:3"]
    epoch_one = torch.load(parents["plain"] / "checkpoints" / "epoch-1.pt", weights_only=True)["progress"]
    assert (epoch_one["step"], epoch_one["epoch"], epoch_one["window"]) == (EPOCH, 2, 0)  # right after epoch 1


def test_keep_epoch_checkpoints_is_on_for_models_under_5m_parameters_unless_set():
    tiny, book = get_preset("tiny").config(), get_preset("book").config()
    tiny_size, book_size = formula_counts(tiny, 2000)["total"], formula_counts(book, 10000)["total"]
    assert tiny_size == 1_552_336 and book_size == 13_280_400
    assert keeps_epoch_checkpoints(tiny, tiny_size) and not keeps_epoch_checkpoints(book, book_size)
    assert keeps_epoch_checkpoints(book.replace(keep_epoch_checkpoints=True), book_size)
    assert not keeps_epoch_checkpoints(tiny.replace(keep_epoch_checkpoints=False), tiny_size)
    assert keeps_epoch_checkpoints(Config(), 4_999_999) and not keeps_epoch_checkpoints(Config(), 5_000_000)
    assert from_dict({"keep_epoch_checkpoints": "false"}).keep_epoch_checkpoints is False


def test_a_run_told_not_to_keeps_no_epoch_checkpoints(runs_root, ptb_dir):
    folder = _train(runs_root, epochs=2, log_every=0, keep_epoch_checkpoints=False)
    assert checkpoint_sources(folder) == ["best", "last"]


def test_a_fork_with_nothing_changed_continues_exactly_as_its_parent(parents, tmp_path):
    """Dropout on, so the random state must come over too: every later line equals the parent's."""
    parent = parents["dropout"]
    child = fork_run(parent, "epoch:1", {"name": "same"}, tmp_path)
    _assert_same_weights(_weights(child / "checkpoints" / "last.pt"), _weights(parent / "checkpoints" / "epoch-1.pt"))
    config = json.loads((child / "config.json").read_text())
    assert (config["parent"], config["fork_from"], config["fork_step"]) == (parent.name, "epoch:1", EPOCH)
    assert not (child / "metrics.jsonl").exists()                        # its logs start empty
    run(child, show_progress=False)
    later = [r for r in read_jsonl(parent / "metrics.jsonl") if r["step"] > EPOCH]
    assert stable(read_jsonl(child / "metrics.jsonl")) == stable(later)
    _assert_same_weights(_weights(child / "checkpoints" / "last.pt"), _weights(parent / "checkpoints" / "last.pt"))


def test_a_fork_keeps_the_parents_validation_as_its_start_and_counts_its_best_from_its_own(parents, tmp_path):
    """Its first own validation is its best even when worse than where it started: the best and the
    test it reports are weights it trained (tests/test_fork_results.py trains such a fork)."""
    parent = parents["dropout"]
    child = fork_run(parent, "epoch:1", {"name": "worse"}, tmp_path)
    start = next(r for r in read_jsonl(parent / "metrics.jsonl") if r["kind"] == "val" and r["step"] == EPOCH)
    status = read_status(child)
    assert (status["start_val_ppl"], status["start_epoch"]) == (start["ppl"], 1) and "best_val_ppl" not in status
    assert checkpoint_sources(child) == ["last"]                          # no best.pt of the starting weights
    writer = RunWriter(child)  # its first own validation, worse than where it started
    writer.metric({"kind": "val", "step": EPOCH + 10, "epoch": 2, "ppl": start["ppl"] + 1.0})
    writer.status(best_val_ppl=start["ppl"] + 1.0)
    summary = summarize(child)
    assert (summary.best_val, summary.best_epoch, summary.final_val) == (start["ppl"] + 1.0, 2, start["ppl"] + 1.0)


def test_a_fork_with_a_new_lr_starts_from_the_parents_exact_loss_then_parts(parents, tmp_path):
    parent = parents["plain"]
    child = fork_run(parent, "epoch:1", {"lr": "0.03"}, tmp_path)
    payload = torch.load(child / "checkpoints" / "last.pt", weights_only=True)
    assert [g["lr"] for g in payload["optimizer"]["param_groups"]] == [0.03] and payload["schedule"]["lr"] == 0.03
    assert json.loads((child / "config.json").read_text())["lr"] == 0.03
    run(child, show_progress=False)
    mine, theirs = _train_lines(child), _train_lines(parent)
    first = min(mine)
    assert first == EPOCH + 1                                             # its steps continue from fork_step
    assert mine[first]["loss"] == theirs[first]["loss"]                   # the same weights saw the same batch
    assert mine[first]["lr"] == 0.03 and theirs[first]["lr"] == 0.01
    assert mine[first + 1]["loss"] != theirs[first + 1]["loss"]           # the new lr took effect


def test_a_fork_with_dropout_changed_starts_within_noise_of_its_parent(parents, tmp_path):
    parent = parents["dropout"]
    child = fork_run(parent, "epoch:2", {"dropout": "0.1", "dropout_placement": "variational"}, tmp_path)
    run(child, show_progress=False)
    start = 2 * EPOCH
    mine, theirs = _train_lines(child), _train_lines(parent)
    nearby = [theirs[s]["loss"] for s in range(start - 19, start + 1)]   # the parent's last 20 steps before the fork
    spread = statistics.stdev(nearby)
    assert abs(mine[start + 1]["loss"] - theirs[start + 1]["loss"]) < 3 * spread
    fresh = torch.log(torch.tensor(300.0)).item()                        # an untrained model's loss: ln(vocabulary)
    assert abs(fresh - theirs[start + 1]["loss"]) > 3 * spread           # so a fork from scratch would fail the check


def _trained_before_best_was_linked(monkeypatch, tmp_path):
    """A run as lmcore trained them before stop 18: an epoch's improving validation wrote best.pt
    at once, before the epoch's bookkeeping, and last.pt after it."""
    from lmcore.train import Trainer

    validate, save = Trainer.validate, Trainer.save
    monkeypatch.setattr(Trainer, "validate", lambda self, save_best=True: validate(self, True))
    monkeypatch.setattr(Trainer, "save", lambda self, *names: save(self, *[n for n in names if n != "best"])
                        if "last" in names else save(self, *names))
    folder = _train(tmp_path / "old", dropout=0.0, dropout_placement="none")
    monkeypatch.undo()
    assert not (folder / "checkpoints" / "best.pt").samefile(folder / "checkpoints" / "last.pt")
    return folder


@pytest.mark.parametrize("era", ["linked", "before"])
def test_a_fork_from_a_best_checkpoint_written_at_an_epoch_end_starts_the_next_epoch(parents, tmp_path, era,
                                                                                     monkeypatch):
    """best.pt of an improving epoch's end is last.pt; a run trained before that wrote it before the
    epoch's bookkeeping, and the fork does the bookkeeping. Either way best and last fork alike."""
    parent = parents["plain"] if era == "linked" else _trained_before_best_was_linked(monkeypatch, tmp_path)
    assert json.loads((parent / "status.json").read_text())["best_epoch"] == 3   # best.pt is the last epoch's end
    from_best = fork_run(parent, "best", {"epochs": "4", "max_steps": str(3 * EPOCH + 5)}, tmp_path)
    from_last = fork_run(parent, "last", {"epochs": "4", "max_steps": str(3 * EPOCH + 5)}, tmp_path)
    for child in (from_best, from_last):
        run(child, show_progress=False)
    assert min(_train_lines(from_best)) == 3 * EPOCH + 1 and _train_lines(from_best)[3 * EPOCH + 1]["epoch"] == 4
    assert stable(read_jsonl(from_best / "metrics.jsonl")) == stable(read_jsonl(from_last / "metrics.jsonl"))


def test_a_new_seed_draws_new_masks_from_the_fork_on(parents, tmp_path):
    parent = parents["dropout"]
    child = fork_run(parent, "epoch:1", {"seed": "7", "max_steps": str(EPOCH + 3)}, tmp_path)
    run(child, show_progress=False)
    assert _train_lines(child)[EPOCH + 1]["loss"] != _train_lines(parent)[EPOCH + 1]["loss"]


def test_model_parameters_do_not_depend_on_the_dropout_placement():
    shapes = set()
    for placement in PLACEMENTS:
        cfg = from_dict({**SMALL, "dropout": 0.5, "dropout_placement": placement, "dropout_recurrent": 0.25})
        shapes.add(tuple((k, tuple(v.shape)) for k, v in LanguageModel(300, cfg).state_dict().items()))
    assert len(shapes) == 1


@pytest.mark.parametrize("changes,expected", [
    ({"layers": "3"}, ["layers: a fork cannot change it: the weights' shapes come from the parent's checkpoint"]),
    ({"hidden_size": "32", "dropuot": "0"}, [
        "hidden_size: a fork cannot change it: the weights' shapes come from the parent's checkpoint",
        "unknown config key 'dropuot'; did you mean dropout?"]),
    ({"batch_size": "8"}, ["batch_size: a fork cannot change it: the position in the text and the carried LSTM "
                           "state are counted in the parent's batch rows and windows"]),
    ({"dataset": "synthetic"}, ["dataset: a fork cannot change it: the fork continues on the parent's text and "
                                "vocabulary, at the checkpoint's position in it"]),
    ({"dropout": "1.5"}, ["dropout: must be less than 1 (got 1.5); allowed: 0 <= dropout < 1"]),
    ({"epochs": "1"}, ["nothing left to train: the checkpoint is at step 198 (epoch 3, window 0) and the fork stops "
                       "at epochs=1, max_steps=None; raise epochs or max_steps"]),
    ({"dropout": "0.3"}, ["nothing it changes can act: dropout=0.3 does nothing while dropout_placement is none"]),
])
def test_a_refused_fork_says_why_in_one_line_per_key_and_creates_nothing(parents, tmp_path, changes, expected):
    with pytest.raises(ConfigError) as caught:
        fork_run(parents["plain"], "epoch:2", changes, tmp_path)
    assert caught.value.problems == expected
    assert _listing(tmp_path) == []


def test_a_missing_checkpoint_or_a_reference_parent_is_one_line_and_creates_nothing(parents, tmp_path, monkeypatch):
    with pytest.raises(RunError) as caught:
        fork_run(parents["plain"], "epoch:9", {}, tmp_path)
    assert str(caught.value) == (f"{parents['plain'].name} has no epoch:9 checkpoint (checkpoints/epoch-9.pt); it has "
                                 "best, last, epoch:1, epoch:2, epoch:3")
    with pytest.raises(RunError, match="choose best, last or epoch:N"):
        fork_run(parents["plain"], "newest", {}, tmp_path)
    references = tmp_path / "reference"
    shutil.copytree(parents["plain"], references / "shipped")
    monkeypatch.setenv("LMCORE_REFERENCE_DIR", str(references))
    with pytest.raises(RunError) as caught:
        fork_run(references / "shipped", "best", {}, tmp_path / "runs")
    assert str(caught.value) == ("shipped is a reference run shipped with the project (read-only); it cannot be "
                                 "forked (its checkpoints were not kept)")
    assert _listing(tmp_path) == ["reference"]


def test_a_fork_starts_from_its_checkpoints_config_not_a_config_json_edited_since(parents, tmp_path):
    """QA round 17 (S6a): dropout edited in a finished no-dropout run's config.json, then a fork with
    nothing changed: named as the parent, it trained with the edited dropout. It trains as the checkpoint
    did now, and says that config.json disagreed."""
    parent = copy_run(parents["plain"], tmp_path)
    config = json.loads((parent / "config.json").read_text())
    (parent / "config.json").write_text(json.dumps({**config, "dropout": 0.5, "dropout_placement": "vertical"}))
    said = []
    child = fork_run(parent, "epoch:1", {}, tmp_path / "forks", say=said.append)
    assert said == [f"note: {parent.name}'s config.json differs from the config its checkpoint trained with: "
                    "dropout 0.5 (its checkpoint: 0.0), dropout_placement vertical (its checkpoint: none); the fork "
                    "starts from the checkpoint's, and changes only the keys you set"]
    forked = json.loads((child / "config.json").read_text())
    assert (forked["dropout"], forked["dropout_placement"]) == (0.0, "none")
    assert "dropout" not in forked["name"]
    run(child, show_progress=False)
    later = [r for r in read_jsonl(parents["plain"] / "metrics.jsonl") if r["step"] > EPOCH]
    assert stable(read_jsonl(child / "metrics.jsonl")) == stable(later)   # it trained as its parent went on


def test_a_finished_run_whose_checkpoints_were_deleted_is_not_sent_between_fork_and_resume(parents, tmp_path):
    """QA round 17 (S6b): resume said 'fork it to train on', fork said 'it has no checkpoint yet'."""
    parent = copy_run(parents["plain"], tmp_path)
    shutil.rmtree(parent / "checkpoints")
    gone = ("its checkpoints were deleted, so nothing can continue it: train its config again as a new run "
            "(Edit a copy on the Train page)")
    with pytest.raises(RunError) as caught:
        fork_run(parent, "best", {}, tmp_path / "forks")
    assert str(caught.value) == f"{parent.name} has no best checkpoint (checkpoints/best.pt); {gone}"
    assert run(parent, show_progress=False)["note"] == f"already finished: nothing to train; {gone}"
    whole = copy_run(parents["dropout"], tmp_path)
    assert run(whole, show_progress=False)["note"] == "already finished: nothing to train (fork it to train on)"


def test_a_copy_of_a_fork_trains_from_scratch_as_no_fork():
    config = {"dropout": 0.1, "parent": "a", "fork_from": "best", "fork_step": 3, "name": "x"}
    assert without_fork_keys(config) == {"dropout": 0.1, "name": "x"}


# ---------------------------------------------------------------- the command line


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "lmcore", "fork", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_cli_fork_creates_then_trains_and_refuses_with_exit_2(parents, tmp_path):
    parent = parents["plain"]
    made = _cli(parent.name, "--from", "best", "--set", "lr=0.02", "--set", "epochs=4", "--no-start",
                "--runs-dir", str(parent.parent), "--no-progress-bar")
    assert made.returncode == 0, made.stderr
    line = json.loads(made.stdout)
    assert (line["parent"], line["fork_from"]) == (parent.name, "best") and line["fork_step"] > 0
    child = parent.parent / line["run"]
    assert json.loads((child / "status.json").read_text())["state"] == "stopped"  # it waits (test below)
    shutil.rmtree(child)                                                  # the module's runs stay as they were

    trained = _cli(str(parent), "--from", "epoch:2", "--set", "max_steps=205", "--runs-dir", str(tmp_path),
                   "--no-progress-bar")
    assert trained.returncode == 0, trained.stderr
    created, summary = (json.loads(text) for text in trained.stdout.splitlines())
    assert created["fork_step"] == 2 * EPOCH and summary["state"] == "finished" and summary["steps"] == 205

    before = _listing(tmp_path)
    for args, expected in [((parent.name, "--set", "layers=3"), "error: layers: a fork cannot change it"),
                           ((parent.name, "--from", "epoch:7"), "error: " + parent.name + " has no epoch:7"),
                           (("no-such-run",), "error: no run 'no-such-run'"),
                           ((parent.name, "--set", "lr"), "error: --set 'lr': expected key=value")]:
        refused = _cli(*args, "--runs-dir", str(parent.parent) if args[0] != "no-such-run" else str(tmp_path))
        assert refused.returncode == 2 and refused.stderr.startswith(expected), refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    assert _listing(tmp_path) == before and sorted(p.name for p in parent.parent.iterdir()) == sorted(
        [parents["plain"].name, parents["dropout"].name])


# ---------------------------------------------------------------- the pages (AppTest)


def _wait_until_done(folder, timeout=180):
    return wait_until(lambda: (status := read_status(folder)).get("state") not in ("queued", "running") and status,
                      timeout, lambda: read_status(folder))


def test_the_fork_form_on_the_train_page_creates_and_trains_a_fork(parents, tmp_path, monkeypatch):
    parent = copy_run(parents["dropout"], tmp_path)
    at = open_app(monkeypatch, parent.parent, "app_pages/train.py", {"run": parent.name})
    assert not at.exception, [e.value for e in at.exception]
    key = f"fork.train.{parent.name}"
    assert at.selectbox(key=f"{key}.from").options == ["its best validation (best.pt)",
                                                       "its latest checkpoint (last.pt)", "the end of epoch 1",
                                                       "the end of epoch 2", "the end of epoch 3"]
    assert at.selectbox(key=f"{key}.from").value == "epoch:1"             # the first epoch end by default
    assert at.number_input(key=f"{key}.dropout").value == 0.3             # prefilled from the parent
    at.selectbox(key=f"{key}.from").set_value("last").run()              # a finished run's end
    assert at.number_input(key=f"{key}.last.epochs").value == 4           # the parent's 3 would train nothing
    assert ("This checkpoint is at step 297, where the parent stopped; its 3 epochs are done: Epochs starts at 4, "
            "one more epoch.") in [c.value for c in at.caption]
    at.number_input(key=f"{key}.last.epochs").set_value(3)
    next(b for b in at.button if b.label == "Fork and train").click().run()
    refused = ["Not forked: nothing left to train: the checkpoint is at step 297 (epoch 4, window 0) and the fork "
               "stops at epochs=3, max_steps=None; raise epochs or max_steps"]
    assert [e.value for e in at.error] == refused
    assert _listing(parent.parent) == [parent.name]                       # and nothing was created
    at.run()                                                              # the watch area's 2 s redraw
    assert [e.value for e in at.error] == refused                         # QA round 10: it vanished there
    at.selectbox(key=f"{key}.from").set_value("epoch:1").run()
    assert not at.error                                                   # it asks something else now
    at.number_input(key=f"{key}.dropout").set_value(0.0)
    at.number_input(key=f"{key}.epoch:1.max_steps").set_value(EPOCH + 20)
    next(b for b in at.button if b.label == "Fork and train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    forks = [p for p in parent.parent.iterdir() if p.name != parent.name]
    assert len(forks) == 1 and any(f"Forked as `{forks[0].name}`" in s.value for s in at.success)
    config = json.loads((forks[0] / "config.json").read_text())
    assert (config["parent"], config["fork_from"], config["fork_step"], config["dropout"]) == (
        parent.name, "epoch:1", EPOCH, 0.0)
    assert config["lr"] == 0.01 and config["epochs"] == 3                 # untouched keys stay the parent's
    assert _wait_until_done(forks[0])["state"] == "finished"              # launched in the background
    assert min(_train_lines(forks[0])) == EPOCH + 1
    at.run()
    assert not [b for b in at.button if b.label == "Fork and train"]       # no second fork by a second click
    next(b for b in at.button if b.label == "Fork it again").click().run()
    assert [b for b in at.button if b.label == "Fork and train"]           # until asked for
    next(b for b in at.button if b.label == "Fork and train").click().run()
    second = sorted(p.name for p in parent.parent.iterdir() if p.name not in (parent.name, forks[0].name))
    next(b for b in at.button if b.label == "Watch the fork").click().run()
    assert not at.exception and at.query_params["run"] in (second[0], [second[0]])
    assert f"`{second[0]}`" in " ".join(c.value for c in at.caption)       # the fork's own header
    assert _wait_until_done(parent.parent / second[0])["state"] == "finished"  # no trainer left behind


def test_a_fork_made_with_no_start_waits_until_resume_trains_it_from_its_fork_step(parents, tmp_path, monkeypatch):
    """QA round 5: a `--no-start` fork was written `queued`, and the queue worker the app starts
    when a page opens trained it 14 s later with no click."""
    parent = copy_run(parents["plain"], tmp_path)
    made = _cli(parent.name, "--from", "epoch:1", "--set", "lr=0.02", "--set", f"max_steps={EPOCH + 20}",
                "--no-start", "--runs-dir", str(parent.parent))
    assert made.returncode == 0, made.stderr
    fork = parent.parent / json.loads(made.stdout)["run"]
    status = read_status(fork)
    assert (status["state"], status["step"], status["epoch"], status["total_steps"]) == ("stopped", EPOCH, 2,
                                                                                         EPOCH + 20)
    at = open_app(monkeypatch, parent.parent, "app_pages/train.py", {"run": fork.name})  # the app calls ensure_worker
    assert not at.exception, [e.value for e in at.exception]
    assert queue.pending(parent.parent) == [] and queue.worker_pid(parent.parent) is None
    assert read_status(fork)["state"] == "stopped" and not (fork / "log.txt").exists()  # nothing started it
    assert any(i.value.startswith(f"Forked at step {EPOCH:,}, not started yet: Resume trains it") for i in at.info)
    next(b for b in at.button if b.label == "Resume").click().run()       # a person starts it
    assert not at.exception, [e.value for e in at.exception]
    assert _wait_until_done(fork)["state"] == "finished"
    lines = _train_lines(fork)
    assert (min(lines), max(lines)) == (EPOCH + 1, EPOCH + 20)            # from its fork step, not from 0
    assert lines[EPOCH + 1]["lr"] == 0.02


def test_the_form_is_hidden_with_a_reason_for_reference_runs_and_runs_without_checkpoints(tmp_path, monkeypatch,
                                                                                          ptb_dir):
    from lmcore.summaries import reference_runs

    shipped = reference_runs()[0]
    at = open_app(monkeypatch, tmp_path / "runs", "app_pages/train.py", {"run": shipped.id})
    assert any("a reference run's checkpoints were not kept" in c.value for c in at.caption)
    assert not [e for e in at.expander if e.label == "Fork this run"]
    queued = create_run(SMALL, tmp_path / "runs")
    at = open_app(monkeypatch, tmp_path / "runs", "app_pages/train.py", {"run": queued.name})
    assert any(c.value.startswith("Fork: no checkpoint yet") for c in at.caption)
    assert not [e for e in at.expander if e.label == "Fork this run"]


def test_compare_draws_a_fork_as_a_branch_off_its_parent(parents, tmp_path, monkeypatch):
    parent = copy_run(parents["plain"], tmp_path)
    child = fork_run(parent, "epoch:1", {"lr": "0.03", "name": "branch"}, parent.parent)
    run(child, show_progress=False)
    at = open_app(monkeypatch, parent.parent, "app_pages/train.py", {"run": child.name})
    assert any(f"Forked from `{parent.name}` at step {EPOCH}" in c.value for c in at.caption)
    link = next(p for p in at.get("page_link") if p.proto.label == "Draw it beside its parent")
    assert link.proto.query_string == f"runs={parent.name}%2C{child.name}"
    spec = chart(at, key="train.chart")
    own = {t["name"]: values(t) for t in spec["data"]}
    before = own["parent before the fork train"]                # the fork's own chart shows the branch too
    assert before[0] == 1 and before[-1] <= EPOCH and own["branch train"][0] == EPOCH + 1
    at = open_app(monkeypatch, parent.parent, "app_pages/compare.py", {"runs": f"{parent.name},{child.name}"})
    assert not at.exception, [e.value for e in at.exception]
    spec = chart(at, key="compare.curves")
    traces = {t["name"]: values(t) for t in spec["data"]}
    parent_train = next(x for name, x in traces.items() if name.endswith("train") and "branch" not in name)
    child_train = next(x for name, x in traces.items() if name.endswith("train") and "branch" in name)
    assert parent_train[0] == 1 and parent_train[-1] == 3 * EPOCH
    assert child_train[0] == EPOCH + 1 and child_train[-1] == 3 * EPOCH   # the branch leaves at the fork step
    assert not [e for e in at.expander if e.label == "Fork this run"]      # two runs selected: no form
    at = open_app(monkeypatch, parent.parent, "app_pages/compare.py", {"runs": child.name})
    assert [e.label for e in at.expander].count("Fork this run") == 1      # one of the user's runs: the form
    from lmcore.summaries import reference_runs

    at = open_app(monkeypatch, parent.parent, "app_pages/compare.py", {"runs": reference_runs()[0].id})
    assert not at.exception and not [e for e in at.expander if e.label == "Fork this run"]


def test_a_fork_is_named_for_what_it_changes(parents, tmp_path):
    child = fork_run(parents["plain"], "epoch:2", {"dropout": "0.3", "dropout_placement": "vertical", "lr": "0.005",
                                                   "max_steps": str(2 * EPOCH + 5)}, tmp_path)
    name = json.loads((child / "config.json").read_text())["name"]
    assert name == (f"{summarize(parents['plain']).name} · fork from epoch:2 · dropout=0.3 · "
                    "dropout_placement=vertical · lr=0.005 · +1 more")


def test_the_fork_form_says_which_of_its_changes_cannot_act(parents, tmp_path, monkeypatch):
    parent = copy_run(parents["plain"], tmp_path)                       # dropout 0, placement none
    at = open_app(monkeypatch, parent.parent, "app_pages/train.py", {"run": parent.name})
    key = f"fork.train.{parent.name}"
    at.number_input(key=f"{key}.dropout").set_value(0.3)                 # cannot act: placement none
    at.number_input(key=f"{key}.epoch:1.max_steps").set_value(EPOCH + 3)         # acts: it trains 3 more steps
    next(b for b in at.button if b.label == "Fork and train").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "dropout=0.3 does nothing while dropout_placement is none" in " ".join(w.value for w in at.warning)
    fork = next(p for p in parent.parent.iterdir() if p.name != parent.name)
    assert _wait_until_done(fork)["state"] == "finished"


def test_the_fork_form_says_when_the_parents_config_json_disagrees_with_its_checkpoint(parents, tmp_path,
                                                                                        monkeypatch):
    """QA round 17 (S6a): the form forked from config.json's hand-edited dropout without a word."""
    parent = copy_run(parents["plain"], tmp_path)                       # trained with dropout 0, placement none
    config = json.loads((parent / "config.json").read_text())
    (parent / "config.json").write_text(json.dumps({**config, "dropout": 0.5, "dropout_placement": "vertical"}))
    at = open_app(monkeypatch, parent.parent, "app_pages/train.py", {"run": parent.name})
    key = f"fork.train.{parent.name}"
    at.number_input(key=f"{key}.epoch:1.max_steps").set_value(EPOCH + 3)
    next(b for b in at.button if b.label == "Fork and train").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert (f"{parent.name}'s config.json differs from the config its checkpoint trained with: dropout 0.5 (its "
            "checkpoint: 0.0)") in " ".join(i.value for i in at.info)
    fork = next(p for p in parent.parent.iterdir() if p.name != parent.name)
    assert _wait_until_done(fork)["state"] == "finished"
    assert json.loads((fork / "config.json").read_text())["dropout_placement"] == "none"
