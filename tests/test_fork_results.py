"""A fork's reported result is its own training's (browser QA: a fork from a finished run's best.pt
reported the parent's best 80.4 and test 86.3, because its best began at the starting validation
and nothing it trained beat it). Where it started is kept apart, and the plateau schedule still
compares with it, so a fork trains as before."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from test_train import CrashAt

from conftest import SMALL, open_app
from lmcore.errors import RunError
from lmcore.fork import fork_run, fork_start
from lmcore.jsonl import read_jsonl
from lmcore.runs import create_run, read_status
from lmcore.session import run
from lmcore.summaries import summarize
from runlogs import assert_same_logs, stable

EPOCH = 99                                            # SMALL's steps in one epoch
WORSE = {"lr": "0.5", "epochs": "5", "max_steps": str(4 * EPOCH + 5)}  # Adam at 0.5: worse than where it starts


@pytest.fixture(scope="module")
def parent(tmp_path_factory, ptb_dir):
    folder = create_run({**SMALL, "epochs": 3, "log_every": 1, "dropout": 0.3, "dropout_placement": "vertical"},
                        tmp_path_factory.mktemp("forks") / "runs")
    run(folder, show_progress=False)
    assert read_status(folder)["best_epoch"] == 3     # best.pt is the last epoch's end
    return folder


@pytest.fixture(scope="module")
def worse(parent):
    """A fork from the parent's best whose every validation is worse than where it started."""
    child = fork_run(parent, "best", {**WORSE, "name": "worse"}, parent.parent)
    created = read_status(child)
    made_best = (child / "checkpoints" / "best.pt").exists()
    result = run(child, show_progress=False)
    return {"folder": child, "created": created, "made_best": made_best, "result": result}


def _vals(folder):
    return [r for r in read_jsonl(folder / "metrics.jsonl") if r["kind"] == "val"]


def _test_line(folder):
    return next(r for r in read_jsonl(folder / "metrics.jsonl") if r["kind"] == "test")


def test_a_fork_is_created_with_where_it_started_and_no_best_of_its_own(parent, worse):
    start = read_status(parent)["best_val_ppl"]
    created = worse["created"]
    assert (created["start_val_ppl"], created["start_epoch"]) == (start, 3)
    assert "best_val_ppl" not in created and "best_epoch" not in created and not worse["made_best"]
    assert fork_start(worse["folder"]) == {"ppl": start, "epoch": 3}


def test_a_forks_best_validation_and_test_come_from_weights_it_trained(parent, worse):
    child, start = worse["folder"], read_status(parent)["best_val_ppl"]
    own = _vals(child)
    assert [r["step"] for r in own] == [4 * EPOCH, 4 * EPOCH + 5] and all(r["ppl"] > start for r in own)
    status, best = read_status(child), min(own, key=lambda r: r["ppl"])
    assert (status["best_val_ppl"], status["best_epoch"]) == (best["ppl"], best["epoch"])
    assert worse["result"]["best_val_ppl"] == best["ppl"]          # the command's summary line too
    assert status["test_ppl"] == _test_line(child)["ppl"] != read_status(parent)["test_ppl"]
    kept = torch.load(child / "checkpoints" / "best.pt", weights_only=True)["progress"]
    assert kept["step"] == best["step"] > EPOCH * 3                 # best.pt is weights it trained
    assert summarize(child).best_val == best["ppl"]


def test_the_plateau_schedule_still_compares_a_forks_first_epoch_with_where_it_started(worse):
    """Epoch 4 ends worse than the starting validation: the lr drops 0.5 -> 0.125 as forks' did
    before; against the fork's own best alone (none yet) it would have held."""
    lrs = {r["epoch"]: r["lr"] for r in read_jsonl(worse["folder"] / "metrics.jsonl") if r["kind"] == "train"}
    assert lrs == {4: 0.5, 5: 0.125}


def test_a_fork_killed_after_a_validation_resumes_to_the_same_numbers(parent, tmp_path):
    changes = {"lr": "0.5", "max_steps": str(EPOCH + 60), "eval_every": "20", "checkpoint_every": "25"}
    whole = fork_run(parent, "epoch:1", changes, tmp_path / "whole")
    run(whole, show_progress=False)
    parts = fork_run(parent, "epoch:1", changes, tmp_path / "parts")
    with pytest.raises(RuntimeError):                  # after the validation at 140, before the save at 150
        run(parts, show_progress=False, observers=(CrashAt(EPOCH + 46),))
    run(parts, show_progress=False)
    assert_same_logs(parts, whole)
    keys = ("best_val_ppl", "best_epoch", "test_ppl", "start_val_ppl", "start_epoch")
    assert {k: read_status(parts)[k] for k in keys} == pytest.approx({k: read_status(whole)[k] for k in keys})


def test_fork_from_best_of_a_fork_is_its_own_best_and_refused_before_it_has_one(parent, worse, tmp_path):
    waiting = fork_run(parent, "epoch:2", {"lr": "0.02"}, tmp_path / "runs")
    with pytest.raises(RunError) as caught:
        fork_run(waiting, "best", {"lr": "0.03"}, tmp_path / "other")
    assert str(caught.value) == (f"{waiting.name} has no best checkpoint yet: it is a fork that has not validated "
                                 f"since its fork step ({2 * EPOCH:,}), and its best counts only its own training; "
                                 "fork from last (where it stands now), or fork its parent")
    assert not (tmp_path / "other").exists()
    from_last = fork_run(waiting, "last", {"lr": "0.03"}, tmp_path / "runs")   # an unstarted fork's start
    assert fork_start(from_last) == fork_start(waiting) == {"ppl": _vals(parent)[1]["ppl"], "epoch": 2}
    grandchild = fork_run(worse["folder"], "best", {"lr": "0.01", "max_steps": "450"}, tmp_path / "runs")
    own_best = read_status(worse["folder"])
    assert fork_start(grandchild) == {"ppl": own_best["best_val_ppl"], "epoch": own_best["best_epoch"]}


def _as_made_before(fork):
    """A fork as forks were made before they kept their own best: the start as its best (status,
    best.pt, the checkpoint's best_val), no start_val_ppl."""
    status = json.loads((fork / "status.json").read_text())
    start, epoch = status.pop("start_val_ppl"), status.pop("start_epoch")
    (fork / "status.json").write_text(json.dumps({**status, "best_val_ppl": start, "best_epoch": epoch}))
    last = fork / "checkpoints" / "last.pt"
    payload = torch.load(last, weights_only=True)
    progress = payload["progress"]
    progress["best_val"] = progress.pop("start_val")
    torch.save(payload, last)
    shutil.copy(last, fork / "checkpoints" / "best.pt")


def test_an_older_fork_trains_as_before_and_says_its_best_and_test_are_its_start(parent, worse, monkeypatch):
    old = fork_run(parent, "best", {**WORSE, "name": "old"}, parent.parent)
    _as_made_before(old)
    run(old, show_progress=False)
    assert stable(read_jsonl(old / "metrics.jsonl"))[:-1] == stable(read_jsonl(worse["folder"] / "metrics.jsonl"))[:-1]
    start = read_status(parent)["best_val_ppl"]
    assert read_status(old)["best_val_ppl"] == start == fork_start(old)["ppl"]   # found in the parent's log
    at = open_app(monkeypatch, parent.parent, "app_pages/train.py", {"run": old.name})
    assert not at.exception, [e.value for e in at.exception]
    finished = " ".join(s.value for s in at.success)
    assert f"; it started from {start:.1f} (the parent's epoch 3) and no validation of its own beat that" in finished
    assert "its best and test are its starting weights'" in finished
    assert f"It started from {start:.1f} (the parent's epoch 3)." in [c.value for c in at.caption]  # no claim


def test_the_train_page_shows_a_forks_own_result_and_where_it_started(parent, worse, monkeypatch):
    child, start = worse["folder"], read_status(parent)["best_val_ppl"]
    status = read_status(child)
    at = open_app(monkeypatch, parent.parent, "app_pages/train.py", {"run": child.name})
    assert not at.exception, [e.value for e in at.exception]
    finished = " ".join(s.value for s in at.success)
    inside = status["best_step"] - 4 * status["steps_per_epoch"]   # the fork's cap ends inside epoch 5
    assert finished == (f"Finished: best validation perplexity {status['best_val_ppl']:.1f} (epoch 5, {inside} of "
                        f"its {status['steps_per_epoch']} steps), final "
                        f"{status['final_val_ppl']:.1f}, test {status['test_ppl']:.1f}; it started from "
                        f"{start:.1f} (the parent's epoch 3).")
    assert f"It started from {start:.1f} (the parent's epoch 3); its best, final and test are its own training's." \
        in [c.value for c in at.caption]                               # under the header naming the fork step


def _validation_traces(figure: dict) -> list[dict]:
    return [trace for trace in figure["data"] if trace.get("mode") == "lines+markers"]


def test_a_forks_validation_line_goes_on_from_where_it_started(parent, worse, monkeypatch):
    """QA round 26: on Compare a fork's first validation was a lone marker an epoch past its parent's,
    not joined to it; the fork's line now starts at its fork step with the validation it started from."""
    from charts import chart, values
    from explorer.metrics import split, with_fork_start
    from lmcore.metrics_frame import MetricsFrame

    child = worse["folder"]
    step, start = worse["created"]["step"], worse["created"]["start_val_ppl"]
    frame = with_fork_start(MetricsFrame(child / "metrics.jsonl").refresh(), summarize(child))
    first = split(frame, "val").iloc[0]
    assert (first["step"], first["ppl"]) == (step, start)
    assert first["time"] == worse["created"]["start_seconds"] > 0            # the fork's clock at its start
    assert len(split(frame, "val")) == len(_vals(child)) + 1 and len(split(frame, "train")) > 0
    parents_frame = MetricsFrame(parent / "metrics.jsonl").refresh()
    assert with_fork_start(parents_frame, summarize(parent)) is parents_frame      # not a fork: as it is

    at = open_app(monkeypatch, parent.parent, "app_pages/compare.py", {"runs": f"{parent.name},{child.name}"})
    lines = _validation_traces(chart(at, key="compare.curves"))
    ends = {(values(t)[0], values(t, "y")[0]) for t in lines} | {(values(t)[-1], values(t, "y")[-1]) for t in lines}
    # the parent's validation at the fork step is where the fork's line begins: the two meet there
    assert sum(1 for t in lines if (values(t)[0], values(t, "y")[0]) == (step, start)) == 1
    assert (step, start) in ends
    at = open_app(monkeypatch, parent.parent, "app_pages/train.py", {"run": child.name})
    own = _validation_traces(chart(at, key="train.chart"))[0]
    assert (values(own)[0], values(own, "y")[0]) == (step, start)
