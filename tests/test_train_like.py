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


def test_one_thread_count_trains_the_same_numbers_and_another_only_rounds_differently(ptb_dir, tmp_path):
    """The status records the threads a run trained with; the same count trains the same numbers, bit for
    bit, and another one rounds differently (docs/design.md, Reproducing a run). QA round 26: a grid run
    (1 thread beside the others) and its `--like` copy alone (2 threads) differed from step 6 on. At these
    sizes (tiny-dropout at 128 units) 1 and 2 threads differed here from step 5, by relative 1.7e-7 at most;
    another CPU's math library may round both alike, so only the size of a difference is asserted."""
    from conftest import train_run

    def trained(name, threads):
        return train_run(tmp_path / name, "tiny-dropout", name, threads=threads, embed_size=128, hidden_size=128,
                         max_steps=12, log_every=1, eval_every=6)

    one, again, two = trained("one", 1), trained("again", 1), trained("two", 2)
    statuses = [json.loads((folder / "status.json").read_text()) for folder in (one, again, two)]
    assert [status["threads_used"] for status in statuses] == [[1], [1], [2]]
    assert all("omp_wait_policy" in status for status in statuses)   # null: OpenMP's default
    assert lines(again) == lines(one) and len(lines(one, "train")) == 12
    for ours, theirs in zip(lines(two), lines(one), strict=True):   # the loss, gradient norm (train lines), lr
        assert ours[:2] == theirs[:2] and (ours[3] is None) == (theirs[3] is None)
        assert [n for n in ours[2:] if n is not None] == pytest.approx([n for n in theirs[2:] if n is not None],
                                                                       rel=1e-5, abs=0)


def automatic_source(folders, tmp_path, threads_used, **config_changes):
    """The plain run as if trained on automatic threads (config threads=0) with these counts recorded, as
    `auto` in a new folder under `tmp_path`."""
    source = tmp_path / f"{len(list(tmp_path.iterdir()))}" / "auto"
    shutil.copytree(folders["plain"], source)
    config = json.loads((source / "config.json").read_text())
    (source / "config.json").write_text(json.dumps({**config, "threads": 0, **config_changes}))
    status = json.loads((source / "status.json").read_text())
    (source / "status.json").write_text(json.dumps({**status, "device": "cpu", "threads_used": threads_used}))
    return source


def like_line(capsys) -> str:
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("like ")]
    return line


def test_like_a_run_on_automatic_threads_says_which_count_it_used_and_how_to_pin_it(trained_runs, monkeypatch,
                                                                                   tmp_path, capsys):
    """The copy keeps threads=0 (its own share: a pinned count oversubscribes the cores beside other runs and
    never gives them back) and says in its one line which count the run used and how to pin it."""
    import lmcore.cli as module

    monkeypatch.setattr(module, "_run_folder", lambda folder, bar: 0)   # what it says, not its training
    source = automatic_source(trained_runs[1], tmp_path, [1])
    assert cli.main(["train", "--like", str(source), "--runs-dir", str(tmp_path / "a")]) == 0
    assert like_line(capsys) == (
        "like auto: the same config; auto trained with 1 thread (its automatic share of the cores); the copy takes "
        "its own share, and another count rounds differently (about 1e-7 relative): --set threads=1 trains the "
        "same numbers bit for bit.")
    assert json.loads((only_run(tmp_path / "a") / "config.json").read_text())["threads"] == 0
    assert cli.main(["train", "--like", str(source), "--set", "threads=1", "--runs-dir", str(tmp_path / "b")]) == 0
    assert like_line(capsys) == "like auto: its config with threads set."
    assert json.loads((only_run(tmp_path / "b") / "config.json").read_text())["threads"] == 1


def test_like_a_run_whose_share_changed_says_no_count_trains_it_again_and_older_runs_say_nothing(
        trained_runs, tmp_path):
    from lmcore import copies

    def said(threads_used, **config_changes):
        source = automatic_source(trained_runs[1], tmp_path, threads_used, **config_changes)
        raw, status = (json.loads((source / name).read_text()) for name in ("config.json", "status.json"))
        return copies.recipe(raw, "auto", False, set(), status)[2]

    assert said([2, 1]) == ("auto trained with 1 and 2 threads (its automatic share of the cores changed as other "
                            "training came and went), so no thread count trains the same numbers bit for bit: a "
                            "copy's differ in float rounding (about 1e-7 relative)")
    assert said(None) is None                 # a run from before the record
    assert said([2], threads=2) is None       # its config pinned the count: the copy pins the same
    _, left = copies.start_from({"threads": 0}, False, set(), {"device": "cuda", "threads_used": [2]})
    assert left.threads == ()                 # a GPU run's numbers are not the CPU threads'
    _, left = copies.start_from({"threads": 0}, False)   # the app's call before it passes the status
    assert left.threads == ()
