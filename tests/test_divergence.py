"""Divergence: a run whose loss is not finite, or stays far worse than guessing, fails with its step."""

import json
import math
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, SMALL
from lmcore.divergence import MARGIN_NATS, PATIENCE_STEPS, Diverged, DivergenceWatch
from lmcore.errors import LmcoreError
from lmcore.jsonl import read_jsonl
from lmcore.presets import resolve
from lmcore.runs import create_run, read_status
from lmcore.session import run
from lmcore.train import Callbacks

VOCAB = 2000
LINE = math.log(VOCAB)
# Measured: tiny with tied weights, PyTorch's init and SGD lr 20 / clip 0.25, one train line
# a step, as loss - ln V. A healthy run with a large early spike that must not count.
HEALTHY_SPIKE = [2.5, 9.1, 5.8, 3.4, 2.6, 1.5, 1.2, 1.1, 0.7, 0.3, -0.2, -0.3, 0.2, -0.0, -0.5, -0.6]


def test_an_early_spike_is_not_divergence():
    watch = DivergenceWatch(VOCAB)
    for step, excess in enumerate(HEALTHY_SPIKE, start=1):
        watch.train(step, [LINE + excess])
        watch.validation(step, LINE + excess)
    watch.finish(len(HEALTHY_SPIKE))


def test_a_loss_parked_far_above_the_line_diverges_after_the_patience():
    watch = DivergenceWatch(VOCAB)
    watch.train(2, [LINE, LINE])
    with pytest.raises(Diverged, match=rf"diverged at step {2 + PATIENCE_STEPS}: .* since step 3"):
        for step in range(4, 100, 2):  # train lines every 2 steps, loss 1e8 as with lr 1e6
            watch.train(step, [1e8, 1e8])


def test_a_good_observation_restarts_the_stretch():
    watch = DivergenceWatch(VOCAB)
    for step in range(1, PATIENCE_STEPS):
        watch.train(step, [LINE + MARGIN_NATS + 1])
    watch.validation(PATIENCE_STEPS - 1, LINE)  # below the line: the model recovered
    for step in range(PATIENCE_STEPS, 2 * PATIENCE_STEPS - 1):
        watch.train(step, [LINE + MARGIN_NATS + 1])


def test_not_finite_names_the_first_bad_step():
    watch = DivergenceWatch(VOCAB)
    with pytest.raises(Diverged, match=r"diverged at step 9: the loss is not finite"):
        watch.train(10, [5.0, float("nan"), float("inf")])  # the losses of steps 8, 9, 10
    with pytest.raises(Diverged, match=r"diverged at step 4: the validation loss is not finite"):
        DivergenceWatch(VOCAB).validation(4, float("nan"))


def test_a_short_run_that_ends_far_above_the_line_fails():
    watch = DivergenceWatch(VOCAB)
    watch.train(4, [LINE, 1e8, 1e8, 1e8])
    watch.validation(4, 700.0)
    with pytest.raises(Diverged, match=r"diverged at step 4: the validation loss is still above"):
        watch.finish(4)


def test_the_watch_resumes_where_it_was():
    watch = DivergenceWatch(VOCAB)
    watch.train(1, [LINE])
    watch.train(10, [1e8])
    resumed = DivergenceWatch(VOCAB)
    resumed.load_state_dict(json.loads(json.dumps(watch.state_dict())))  # what a checkpoint holds
    with pytest.raises(Diverged, match=r"since step 2"):
        resumed.train(1 + PATIENCE_STEPS, [1e8])


# ---------------------------------------------------------------- in real runs


class PoisonAt(Callbacks):
    """Writes NaN into the decoder after `step`, so the next step's loss is NaN."""

    def __init__(self, step):
        self.step = step

    def on_progress(self, trainer):
        if trainer.step == self.step:
            with torch.no_grad():
                trainer.model.decoder.bias.fill_(float("nan"))


def test_a_nan_loss_fails_the_run_at_its_step(runs_root):
    folder = create_run({**SMALL, "log_every": 10}, runs_root)
    with pytest.raises(LmcoreError, match=r"diverged at step 24: the loss is not finite"):
        run(folder, show_progress=False, observers=(PoisonAt(23),))
    assert read_status(folder)["state"] == "failed"


def test_a_short_diverging_run_does_not_finish(runs_root):
    folder = create_run({**SMALL, "optimizer": "adam", "lr": 1000.0, "max_steps": 8}, runs_root)
    with pytest.raises(LmcoreError, match=r"diverged at step 8: the validation loss is still above"):
        run(folder, show_progress=False)
    assert read_status(folder)["state"] == "failed" and not read_status(folder).get("test_ppl")


def test_a_healthy_run_with_an_early_spike_finishes(runs_root):
    # HEALTHY_SPIKE's run, for real: step 2 is ln V + 9, validated every 2 steps.
    cfg = resolve("tiny", overrides=dict(tie_weights=True, optimizer="sgd", lr=20.0, clip=0.25, log_every=1,
                                         max_steps=40, eval_every=2, valid_tokens=2000, threads=1))
    folder = create_run(cfg.to_dict(), runs_root)
    assert run(folder, show_progress=False)["state"] == "finished"
    train = [r for r in read_jsonl(folder / "metrics.jsonl") if r["kind"] == "train"]
    assert max(r["loss"] for r in train) > math.log(2000) + MARGIN_NATS  # the spike happened


def test_cli_divergence_exits_with_one_line_and_a_failed_status(runs_root):
    # The command (lr 1e6 is above the config's limit now; 1000 diverges the same way).
    out = subprocess.run([sys.executable, "-m", "lmcore", "train", "--runs-dir", str(runs_root), "--no-progress-bar",
                          "--preset", "tiny", "--set", "lr=1000", "--set", "max_steps=60", "--set", "threads=1"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    errors = [line for line in out.stderr.splitlines() if not line.startswith(("run folder:", "starting "))]
    assert len(errors) == 1 and errors[0].startswith("error: diverged at step "), out.stderr
    (folder,) = runs_root.iterdir()
    status = read_status(folder)
    assert status["state"] == "failed" and status["error"] == errors[0].removeprefix("error: ")
    step = int(status["error"].split()[3].rstrip(":"))
    assert 0 < step < 60 and max(r["step"] for r in read_jsonl(folder / "metrics.jsonl")) <= step


def test_a_failed_runs_status_carries_its_last_times_and_train_line(runs_root):
    """QA: a run that diverged at 0.185 s kept the status of its first progress write (elapsed 0.047 s,
    train_ppl 1969) beside a log ending at ppl 1.0e304, so Compare showed 00:00:00 and a wrong speed.
    Progress is written once a second: the failure itself must write the final numbers."""
    folder = create_run({**SMALL, "log_every": 5}, runs_root)
    with pytest.raises(LmcoreError, match=r"diverged at step 24"):
        run(folder, show_progress=False, observers=(PoisonAt(23),))
    status = read_status(folder)
    lines = read_jsonl(folder / "metrics.jsonl")
    train = [r for r in lines if r["kind"] == "train"]
    assert status["elapsed"] >= max(r["time"] for r in lines)
    assert status["step"] == 24 and status["time_spent"]
    latest = train[-1]
    assert status["tokens_per_s"] == latest["tokens_per_s"] and status["lr"] == latest["lr"]
    assert status["train_ppl"] == latest["ppl"] or math.isnan(status["train_ppl"]) and math.isnan(latest["ppl"])


@pytest.mark.parametrize("ppl, vocab, worse", [(24766.1, 2000, True), (2000.5, 2000, True), (2000.0, 2000, False),
                                               (135.2, 2000, False), (None, 2000, False), (5000.0, None, False),
                                               (float("nan"), 2000, False), (1e304, 2000, True)])
def test_worse_than_guessing_is_a_best_validation_above_the_vocabulary_size(ppl, vocab, worse):
    from lmcore.divergence import worse_than_guessing

    note = worse_than_guessing(ppl, vocab)
    assert (note is not None) == worse
    if worse:
        assert note.startswith("worse than guessing") and f"among its {vocab:,} words" in note


def test_a_run_that_ends_worse_than_guessing_says_so_on_the_command_line(runs_root):
    """QA round 13: tiny under Adam lr 0.2 finished at best validation 24,766 against V = 2,000 and read
    as a success; its training loss sat near the divergence line without staying above it."""
    out = subprocess.run([sys.executable, "-m", "lmcore", "train", "--runs-dir", str(runs_root), "--no-progress-bar",
                          "--preset", "tiny", "--set", "lr=0.2", "--set", "max_steps=60", "--set", "threads=1"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["state"] == "finished" and result["best_val_ppl"] > 2000
    assert result["warning"].startswith("worse than guessing") and "its 2,000 words" in result["warning"]
    assert f"warning: this run is {result['warning']}" in out.stderr
    listed = subprocess.run([sys.executable, "-m", "lmcore", "runs", "--runs-dir", str(runs_root), "--json"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    mine = next(r for r in json.loads(listed.stdout) if not r["reference"])
    assert mine["warning"] == result["warning"]
