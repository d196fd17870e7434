"""`lmcore train --like RUN`: a run trained again from its config.json, from step 0. The same config and
seed give the same numbers on the same machine (docs/design.md, Reproducing a run); what the copy leaves
out (its fork, its grid, a reference run's GPU) is said on stderr."""

import json
import shutil

import pytest
from test_cli_runs import BOOK, one_error

from lmcore import cli


def lines(folder, kind=None) -> list[tuple]:
    """Each metrics line's numbers that training decides (not its clock or speed)."""
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return [(r["kind"], r["step"], r["loss"], r.get("grad_norm"), r.get("lr")) for r in rows
            if kind in (None, r["kind"])]


def only_run(root, but=()):
    (folder,) = [f for f in root.iterdir() if (f / "config.json").is_file() and f.name not in but]
    return folder


def test_a_run_trained_again_like_itself_gives_the_same_losses(trained_runs, tmp_path, capsys):
    _, folders = trained_runs
    original = folders["variational"]  # dropout masks drawn from the seed: the hardest case
    copies = tmp_path / "copies"
    assert cli.main(["train", "--like", str(original), "--runs-dir", str(copies), "--no-progress-bar"]) == 0
    assert f"like {original.name}: the same config." in capsys.readouterr().err
    copy = only_run(copies)
    ours, theirs = (json.loads((f / "config.json").read_text()) for f in (copy, original))
    assert {k: v for k, v in ours.items() if k != "lmcore_version"} == \
        {k: v for k, v in theirs.items() if k != "lmcore_version"}
    assert lines(copy) == lines(original) and len(lines(original, "val")) >= 2


def test_set_changes_a_key_of_the_copy_and_its_name_follows(trained_runs, tmp_path, capsys):
    _, folders = trained_runs
    copies = tmp_path / "copies"
    assert cli.main(["train", "--like", str(folders["plain"]), "--set", "seed=7", "--set", "max_steps=4",
                     "--runs-dir", str(copies), "--no-progress-bar"]) == 0
    config = json.loads((only_run(copies) / "config.json").read_text())
    original = json.loads((folders["plain"] / "config.json").read_text())
    assert (config["seed"], config["max_steps"], config["layers"]) == (7, 4, original["layers"])
    assert config["name"] == "plain · max_steps=4 · seed=7"   # its own name, with what the copy changed
    assert "like " + folders["plain"].name + ": its config with max_steps, seed set." in capsys.readouterr().err


def test_a_grid_runs_copy_with_another_seed_is_named_for_it_and_set_group_joins_without_a_contrary_note(
        trained_runs, tmp_path, capsys):
    """QA round 21: `--like <grid run> --set seed=3 --set dropout_placement=vertical` was named
    'placement=variational seed=1', and --set group=G still said 'it joins no grid'."""
    _, folders = trained_runs
    source = tmp_path / "grid-run"
    shutil.copytree(folders["plain"], source)
    config = json.loads((source / "config.json").read_text())
    (source / "config.json").write_text(json.dumps({**config, "group": "grid-abc123", "max_steps": 2,
                                                    "name": "placement=variational seed=1"}))
    copies = tmp_path / "copies"
    assert cli.main(["train", "--like", str(source), "--set", "seed=3", "--set", "dropout_placement=vertical",
                     "--set", "group=grid-abc123", "--runs-dir", str(copies), "--no-progress-bar"]) == 0
    copied = json.loads((only_run(copies) / "config.json").read_text())
    assert (copied["name"], copied["group"]) == ("placement=vertical seed=3", "grid-abc123")
    assert "joins no grid" not in capsys.readouterr().err


def test_a_grid_runs_copy_joins_no_grid_and_a_forks_copy_trains_from_step_0(trained_runs, tmp_path, capsys):
    _, folders = trained_runs
    source = tmp_path / "source"
    shutil.copytree(folders["plain"], source)
    config = json.loads((source / "config.json").read_text())
    (source / "config.json").write_text(json.dumps({**config, "group": "grid-abc123", "parent": "older-run",
                                                    "fork_from": "best", "max_steps": 4}))
    copies = tmp_path / "copies"
    assert cli.main(["train", "--like", str(source), "--runs-dir", str(copies), "--no-progress-bar"]) == 0
    err = capsys.readouterr().err
    assert ("like source: it trains from step 0: source is a fork of older-run; it joins no grid (source is in "
            "grid-abc123; --set group=grid-abc123 adds it to that grid as one more run of its cell).") in err
    copied = json.loads((only_run(copies) / "config.json").read_text())
    assert not {"group", "parent", "fork_from"} & {k for k, v in copied.items() if v}
    assert lines(only_run(copies))[0][1] <= 4   # trained from its first step, not the fork's


def test_like_a_reference_run_trains_on_this_machines_device(monkeypatch, tmp_path, capsys):
    import lmcore.cli as module

    monkeypatch.setattr(module, "_run_folder", lambda folder, bar: 0)  # the book recipe is not trained here
    copies = tmp_path / "copies"
    assert cli.main(["train", "--like", str(BOOK), "--runs-dir", str(copies)]) == 0
    book = json.loads((BOOK / "config.json").read_text())
    copied = json.loads((only_run(copies) / "config.json").read_text())
    assert copied["device"] == "auto" and copied["epochs"] == book["epochs"] == 40
    err = capsys.readouterr().err
    assert f"its device is auto (the reference run trained on {book['device']})" in err
    # the keys newer than the code that trained it are said, with the values the copy takes (QA round 21)
    assert f"{BOOK.name}'s config.json predates cuda_graphs, compiled_cell, layer_pipeline, so the copy takes " \
           "their defaults (cuda_graphs=auto, compiled_cell=auto, layer_pipeline=1)" in err
    assert copied["name"] == "book"   # its name was the preset's, so the copy is named as a new book run is


def test_a_copy_of_a_reference_run_with_changes_is_not_named_plain_book(monkeypatch, tmp_path):
    """QA round 21: `--like book --set max_steps=2 --set epochs=1` was named 'book', beside the reference."""
    import lmcore.cli as module

    monkeypatch.setattr(module, "_run_folder", lambda folder, bar: 0)
    copies = tmp_path / "copies"
    assert cli.main(["train", "--like", str(BOOK), "--set", "max_steps=2", "--set", "epochs=1",
                     "--runs-dir", str(copies)]) == 0
    assert json.loads((only_run(copies) / "config.json").read_text())["name"] == "book · epochs=1 · max_steps=2"


def test_a_bad_value_in_the_copied_config_json_says_it_came_from_there(trained_runs, tmp_path, capsys):
    _, folders = trained_runs
    source = tmp_path / "edited"
    shutil.copytree(folders["plain"], source)
    config = json.loads((source / "config.json").read_text())
    (source / "config.json").write_text(json.dumps({**config, "layers": "two"}))
    assert cli.main(["train", "--like", str(source), "--set", "dropout=2", "--runs-dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "error: layers: cannot read 'two' as a whole number (from edited's config.json)" in err
    assert any(line.startswith("error: dropout: must be less than 1") and "config.json" not in line for line in err)
    assert not any(line.startswith("like ") for line in err) and not (tmp_path / "c").exists()


@pytest.mark.parametrize("argv, words", [
    (["--like", "plain", "--preset", "tiny"], "error: --like plain and --preset tiny: give one"),
    (["--like", "no-such-run-anywhere"], "error: no run 'no-such-run-anywhere'"),
])
def test_like_refuses_a_preset_beside_it_and_a_run_that_is_not_there(trained_runs, monkeypatch, tmp_path, capsys,
                                                                      argv, words):
    monkeypatch.setenv("LMCORE_RUNS_DIR", str(trained_runs[0]))
    assert cli.main(["train", *argv, "--runs-dir", str(tmp_path / "copies")]) == 2
    assert one_error(capsys).startswith(words)
    assert not (tmp_path / "copies").exists()
