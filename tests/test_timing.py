"""Where a run's time goes (lmcore/timing.py): the phases a run records, across a stop and resume,
and how the split reads."""

from __future__ import annotations

import statistics
import time

import pytest
import torch

from conftest import SMALL
from lmcore.checkpoints import load_checkpoint
from lmcore.report import build
from lmcore.runs import create_run, read_status
from lmcore.session import run
from lmcore.summaries import summarize
from lmcore.timing import PHASES, STEPS, PhaseClock, describe_split, time_split
from lmcore.train import Callbacks
from runlogs import StopAt

SLOW_SAVE = 0.15


class SlowSaves(Callbacks):
    """Each checkpoint takes `seconds` (SLOW_SAVE) longer, as on a slow disk; counts the saves."""

    saves = 0

    def __init__(self, seconds: float = SLOW_SAVE):
        self.seconds = seconds

    def on_checkpoint(self, names, payload):
        self.saves += 1
        time.sleep(self.seconds)


def test_a_run_records_what_saving_evaluating_and_sampling_took(runs_root):
    folder = create_run({**SMALL, "eval_every": 40}, runs_root)
    slow = SlowSaves()
    run(folder, show_progress=False, observers=(slow,))
    status = read_status(folder)
    spent = status["time_spent"]
    assert set(spent) == set(PHASES) and all(spent[p] > 0 for p in PHASES)
    assert slow.saves >= 3 and spent["saving"] >= SLOW_SAVE * slow.saves
    split = summarize(folder).time_split
    assert split == time_split(spent, status["elapsed"]) == build(folder)["time_split"]
    assert sum(split.values()) == pytest.approx(status["elapsed"])
    assert split[STEPS] > 0 and split["saving"] < status["elapsed"]


def test_the_phases_add_up_across_a_stop_and_resume(runs_root):
    folder = create_run({**SMALL, "eval_every": 20}, runs_root)  # best.pt saved at steps 20 and 40
    run(folder, show_progress=False, observers=(StopAt(50), SlowSaves()))
    saved = load_checkpoint(folder / "checkpoints" / "last.pt")["progress"]["time_spent"]
    assert saved["saving"] >= SLOW_SAVE  # the saves before the stop's own
    run(folder, show_progress=False)
    after = read_status(folder)["time_spent"]
    assert all(after[p] > saved[p] for p in PHASES)  # continued, not counted from 0 (the resumed saves are fast)


def test_the_clock_counts_only_named_phases_and_restores_what_it_can():
    clock = PhaseClock(torch.device("cpu"))
    with clock.phase("evaluation"):
        time.sleep(0.02)
    assert clock.seconds["evaluation"] >= 0.02 and clock.seconds["saving"] == 0
    with pytest.raises(ValueError, match="phase must be one of evaluation, sampling, saving"):
        with clock.phase("training"):
            pass
    restored = PhaseClock(torch.device("cpu"))
    restored.load_state_dict({"evaluation": 3.0, "sampling": -1, "saving": float("nan")})
    assert restored.seconds == {"evaluation": 3.0, "sampling": 0.0, "saving": 0.0}
    restored.load_state_dict(None)  # a checkpoint written before the clock existed
    assert restored.seconds["evaluation"] == 3.0


def test_the_split_reads_largest_first_and_older_runs_have_none():
    split = time_split({"evaluation": 10.0, "sampling": 0.01, "saving": 5.0}, 100.0)
    assert split == {STEPS: pytest.approx(84.99), "evaluation": 10.0, "sampling": 0.01, "saving": 5.0}
    assert describe_split(split) == "training steps 85% · evaluation 10% · saving 5% · sampling <1%"
    # A status written up to a second apart from its phases: the steps' share is never negative.
    assert time_split({"evaluation": 12.0}, 10.0)[STEPS] == 0.0
    assert time_split(None, 10.0) is None and time_split({"evaluation": 1.0}, None) is None
    assert time_split({"evaluation": "1"}, 10.0) == {STEPS: 10.0, "evaluation": 0.0, "sampling": 0.0, "saving": 0.0}
    assert describe_split(None) == "" and describe_split({STEPS: 0.0}) == ""
    # Before the first validation or save: "training steps 100%" would tell nothing (QA round 3).
    assert describe_split(time_split({"evaluation": 0.0, "sampling": 0.0, "saving": 0.0}, 3.0)) == ""


def test_a_stopped_runs_split_counts_the_stops_own_save(runs_root):
    """The stop's checkpoint comes after the last progress write: the final status must count it."""
    folder = create_run({**SMALL, "eval_every": 0}, runs_root)       # no validation before the stop
    run(folder, show_progress=False, observers=(StopAt(5), SlowSaves()))
    status = read_status(folder)
    assert status["state"] == "stopped" and status["time_spent"]["saving"] >= SLOW_SAVE
    assert "saving" in describe_split(summarize(folder).time_split)


def test_a_train_lines_speed_leaves_out_the_evaluations_and_saves_in_its_interval(runs_root):
    """Each line's tokens/s is the steps' speed: a validation with a slow save inside an interval
    used to read as a collapse of the training speed, once per validation."""
    from lmcore.jsonl import read_jsonl

    folder = create_run({**SMALL, "eval_every": 40, "log_every": 10}, runs_root)
    run(folder, show_progress=False, observers=(SlowSaves(0.5),))
    lines = read_jsonl(folder / "metrics.jsonl")
    validated = [r["step"] for r in lines if r["kind"] == "val"]
    train = [r for r in lines if r["kind"] == "train"][1:]  # the first holds the warm-up of the first steps
    # A train line whose interval holds a validation and its slow save (one ended at the step it starts
    # from or within it) beside those whose interval holds none. Medians, each group alike exposed to a
    # busy machine: single slow intervals (another test worker training, or CI's 900 beside 7,500) are
    # noise, while a validation counted in would slow the whole first group some twentyfold (a 0.5 s
    # save in an interval of 10 steps, 25 ms here, 50 ms on a busy machine); a busy machine slowed the
    # intervals after a validation to 0.44 of the others, so the bound leaves room below that.
    steps = [r["step"] for r in lines if r["kind"] == "train"]
    holds = [any(before <= v < r["step"] for v in validated) for before, r in zip(steps, train)]
    with_eval = statistics.median(r["tokens_per_s"] for r, held in zip(train, holds) if held)
    without = statistics.median(r["tokens_per_s"] for r, held in zip(train, holds) if not held)
    assert sum(holds) >= 4 and with_eval > without / 5, (with_eval, without, sum(holds))


def test_the_shares_add_up_to_100_percent():
    """QA round 12: zaremba-medium's 89.9 / 6.5 / 2.8 / 0.8 read 90 + 7 + 3 + 1 = 101%."""
    from lmcore.timing import whole_percents

    assert whole_percents([0.899, 0.065, 0.028, 0.008]) == ["90%", "6%", "3%", "1%"]
    assert whole_percents([0.85, 0.10, 0.049, 0.001]) == ["85%", "10%", "5%", "<1%"]
    assert whole_percents([1 / 3] * 3) == ["34%", "33%", "33%"]
