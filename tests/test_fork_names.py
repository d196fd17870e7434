"""QA round 10: a fork's name and folder id show its own values (a grid run's fork read
'placement=vertical dropout=0.2 seed=1 · fork ...' with dropout 0.5), a copy of a fork that trains
from scratch is not named 'fork from', and the fork form offers limits that train (a run capped by
max_steps could not be forked without a change, and the error said so for under a second)."""

from __future__ import annotations

import json

import pytest

from conftest import SMALL, copy_run, open_app, wait_until
from lmcore.fork import fork_name, fork_run, recipe_name, trainable_limits, without_fork_keys
from lmcore.runs import create_run, id_label_part, read_status
from lmcore.session import run

GRID = "placement=vertical dropout=0.2 seed=1"


@pytest.fixture(scope="module")
def capped(tmp_path_factory, ptb_dir):
    """A grid-named run of 1 epoch stopped by max_steps 40 (an epoch is 99 steps)."""
    root = tmp_path_factory.mktemp("capped") / "runs"
    folder = create_run({**SMALL, "epochs": 1, "max_steps": 40, "dropout": 0.2, "dropout_placement": "vertical",
                         "seed": 1, "name": GRID, "group": "grid-abc"}, root)
    run(folder, show_progress=False)
    return folder


@pytest.mark.parametrize("parent,changed,expected", [
    (GRID, {"dropout": 0.5}, "placement=vertical dropout=0.5 seed=1 · fork from best"),
    (GRID, {"dropout_placement": "variational", "seed": 2},
     "placement=variational dropout=0.2 seed=2 · fork from best"),
    (GRID, {"dropout": 0.5, "max_steps": 80}, "max_steps=80 · placement=vertical dropout=0.5 seed=1 · fork from best"),
    ("tiny", {"dropout": 0.5}, "tiny · fork from best · dropout=0.5"),
    ("tiny · dropout=0.3", {"dropout": 0.5, "lr": 0.1}, "tiny · dropout=0.5 · fork from best · lr=0.1"),
    ("tiny", {"lr": 0.1, "clip": 2.0, "seed": 3, "epochs": 9}, "tiny · fork from best · lr=0.1 · clip=2.0 · seed=3 · "
                                                               "+1 more"),
])
def test_a_fork_name_shows_its_own_values_where_a_cut_name_still_shows_them(parent, changed, expected):
    assert fork_name(parent, "best", changed) == expected


def test_a_copy_of_a_fork_is_named_for_its_recipe_without_fork_from():
    config = {"dropout": 0.5, "dropout_placement": "vertical", "seed": 1, "max_steps": 80, "fork_from": "best",
              "parent": "p", "fork_step": 40}
    for fork, copy in [("max_steps=80 · placement=vertical dropout=0.5 seed=1 · fork from best",
                        "max_steps=80 · placement=vertical dropout=0.5 seed=1"),
                       ("tiny · fork from best · dropout=0.5", "tiny · dropout=0.5"),
                       # named before forks showed their own values (QA round 10's run)
                       (f"{GRID} · fork from best · dropout=0.5 · max_steps=80",
                        "placement=vertical dropout=0.5 seed=1 · max_steps=80"),
                       ("my own name", "my own name"),                       # not recognised: left
                       ("x · fork from last · dropout=0.5", "x · fork from last · dropout=0.5"),  # not its source
                       ("x · fork from bestish", "x · fork from bestish")]:
        assert without_fork_keys({**config, "name": fork}) == {key: value for key, value in config.items()
                                                               if key not in ("fork_from", "parent", "fork_step")
                                                               } | {"name": copy}
    assert recipe_name("tiny · fork from best", {}) == "tiny · fork from best"  # no fork's config: left


def test_a_fork_of_a_fork_is_named_from_the_recipe_not_fork_from_twice():
    config = {"dropout": 0.5, "fork_from": "best"}
    first = recipe_name("tiny · fork from best · dropout=0.5", config)
    assert fork_name(first, "last", {"dropout": 0.3}) == "tiny · dropout=0.3 · fork from last"


def test_limits_that_leave_nothing_to_train_are_raised():
    assert trainable_limits(1, 40, {"step": 40, "epoch": 1, "window": 40}) == {"epochs": 1, "max_steps": 80}
    assert trainable_limits(3, None, {"step": 297, "epoch": 4, "window": 0}) == {"epochs": 4, "max_steps": None}
    assert trainable_limits(3, 500, {"step": 99, "epoch": 2, "window": 0}) == {"epochs": 3, "max_steps": 500}


def test_a_grid_runs_fork_has_its_own_values_in_its_name_and_folder_id(capped, tmp_path):
    child = fork_run(capped, "best", {"dropout": "0.5", "max_steps": "80"}, tmp_path)
    assert json.loads((child / "config.json").read_text())["name"] == ("max_steps=80 · placement=vertical "
                                                                       "dropout=0.5 seed=1 · fork from best")
    assert "-dropout-0-5-max-steps-80-fork-of-" in child.name     # QA round 10: '-placement-vertical-dropout-0-2-s-'
    short = fork_run(capped, "best", {"name": "tiny · fork from best · dropout=0.5", "max_steps": "80"}, tmp_path)
    assert "-tiny-fork-from-best-dropout-0-5-" in short.name                # a name that fits is the id's label
    first = fork_run(capped, "best", {"lr": "0.002", "max_steps": "80"}, tmp_path)
    assert json.loads((first / "config.json").read_text())["name"].startswith("lr=0.002 · max_steps=80 · placement")
    assert "-lr-0-002-max-steps-80-placement-" in first.name       # QA round 19: not 'lr-0-002-fork-of-lr-0-002'


@pytest.mark.parametrize("label, expected", [
    ("dropout=0.5 max_steps=80 fork of placement=vertical", "dropout-0-5-max-steps-80-fork-of"),
    ("dropout=0.25 max_steps=80 fork of placement=vertical", "dropout-0-25-max-steps-80-fork"),  # not 'fork-o'
    ("tiny · fork from best", "tiny-fork-from-best"),                                         # fits whole
    ("supercalifragilisticexpialidocious-x", "supercalifragilisticexpialidocio"),            # no word to cut at
])
def test_a_long_label_is_cut_between_words_in_the_run_id(label, expected):
    assert id_label_part(label) == expected and len(expected) <= 32


def _wait_until_done(folder, timeout=180):
    return wait_until(lambda: (status := read_status(folder)).get("state") not in ("queued", "running") and status,
                      timeout, lambda: read_status(folder))


def test_the_form_offers_a_capped_parent_more_steps_and_forks_it_as_it_stands(capped, tmp_path, monkeypatch):
    parent = copy_run(capped, tmp_path)
    at = open_app(monkeypatch, parent.parent, "app_pages/train.py", {"run": parent.name})
    assert not at.exception, [e.value for e in at.exception]
    key = f"fork.train.{parent.name}"
    assert at.selectbox(key=f"{key}.from").value == "best"
    assert at.number_input(key=f"{key}.best.max_steps").value == 80      # not the parent's 40: nothing left there
    assert ("This checkpoint is at step 40, where the parent stopped; its max_steps (40) is reached: Max steps "
            "starts at 80, up to 40 more steps (Epochs may end it sooner).") in [c.value for c in at.caption]
    at.number_input(key=f"{key}.dropout").set_value(0.5)
    next(b for b in at.button if b.label == "Fork and train").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    fork = next(p for p in parent.parent.iterdir() if p.name != parent.name)
    config = json.loads((fork / "config.json").read_text())
    assert (config["max_steps"], config["dropout"], config["name"]) == (
        80, 0.5, "max_steps=80 · placement=vertical dropout=0.5 seed=1 · fork from best")
    assert _wait_until_done(fork)["state"] == "finished" and read_status(fork)["step"] == 80
