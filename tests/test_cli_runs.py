"""Commands that take a run take its folder or its id (cli.find_run), say so in one line when there is
no such run, and refuse a shipped reference run's missing checkpoints in resume's and fork's words;
`lmcore runs` lists them; `report` refuses what is no run and outputs it cannot write."""

import json
import shutil

import pytest

from conftest import ROOT, copy_run
from lmcore import cli

BOOK = ROOT / "docs" / "results" / "runs" / "20261127-085930-book-9182"


def one_error(capsys) -> str:
    """The one stderr line of a refused command (no traceback)."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.fixture
def user_runs(trained_runs, monkeypatch):
    """The session's trained runs as the user's runs folder ($LMCORE_RUNS_DIR)."""
    root, folders = trained_runs
    monkeypatch.setenv("LMCORE_RUNS_DIR", str(root))
    return root, folders


# ---------------------------------------------------------------- a run by id


def test_sample_and_eval_take_the_id_train_prints(user_runs, capsys, monkeypatch, tmp_path):
    root, folders = user_runs
    monkeypatch.chdir(tmp_path)  # the id is no folder here: it is found in $LMCORE_RUNS_DIR
    run_id = folders["plain"].name
    assert cli.main(["sample", run_id, "--words", "3"]) == 0
    assert len(capsys.readouterr().out.split()) == 4  # the prompt and 3 words
    assert cli.main(["eval", run_id]) == 0
    assert json.loads(capsys.readouterr().out)["run"] == run_id


def test_report_and_fork_take_an_id_too(trained_runs, capsys, monkeypatch, tmp_path):
    plain = copy_run(trained_runs[1]["plain"], tmp_path)  # the fork goes beside it: not in the shared folder
    monkeypatch.setenv("LMCORE_RUNS_DIR", str(plain.parent))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["report", plain.name, "--json", "plain.json"]) == 0
    reported = json.loads((tmp_path / "plain.json").read_text())  # not a "broken" run named after the text
    assert reported["run"] == plain.name and reported["state"] == "finished" and reported["best_val_ppl"]
    assert cli.main(["fork", plain.name, "--set", "max_steps=60", "--no-start"]) == 0
    fork = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert fork["parent"] == plain.name and fork["folder"].startswith(str(plain.parent))


def test_a_run_is_found_by_its_name_or_id_tail_where_one_run_has_it(user_runs, capsys, monkeypatch, tmp_path):
    """QA round 10: `lmcore report <run>` alone stopped at "the following arguments are required: --json", and
    only a full id named a run. The report now prints itself, and a unique name or id tail finds its run."""
    root, folders = user_runs
    monkeypatch.chdir(tmp_path)
    plain = folders["plain"].name
    assert cli.main(["report", plain[-4:]]) == 0                    # the id's tail, the report on stdout
    assert json.loads(capsys.readouterr().out)["run"] == plain
    # A reference run by its name: book-horizontal trained from the book preset too, but a name comes first.
    assert cli.main(["report", "book"]) == 0
    assert json.loads(capsys.readouterr().out)["run"].endswith("-book-9182")
    assert cli.main(["report", "book-horizontal"]) == 0
    assert json.loads(capsys.readouterr().out)["run"].endswith("-book-horizontal-532c")
    assert cli.main(["eval", "tiny"]) == 2                          # two of the user's runs are tiny
    error = one_error(capsys)
    assert "'tiny' names 2 runs" in error and plain in error and "give a run id" in error


def test_a_name_your_run_shares_with_a_reference_run_is_refused_not_guessed(trained_runs, capsys, monkeypatch,
                                                                            tmp_path):
    """QA round 15B: once the user had trained a `book` run, `report book` reported it in place of the shipped
    reference run, without a word. A name is now looked up among both at once: several matches are refused,
    the reference run marked, and the id or its unique tail picks one."""
    mine = tmp_path / "runs" / "20991231-000000-book-60a9"
    shutil.copytree(trained_runs[1]["plain"], mine)
    config = json.loads((mine / "config.json").read_text())
    (mine / "config.json").write_text(json.dumps({**config, "name": "book", "preset": "book"}))
    monkeypatch.setenv("LMCORE_RUNS_DIR", str(mine.parent))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["report", "book"]) == 2
    assert one_error(capsys) == (f"error: 'book' names 2 runs: {mine.name} (book), "
                                 f"{BOOK.name} (book · reference (NVIDIA H200)); give a run id "
                                 "(or its last 4 characters, such as 60a9, where only one run has them)")
    for given, picked in (("9182", BOOK.name), ("60a9", mine.name), (BOOK.name, BOOK.name), (str(mine), mine.name)):
        assert cli.main(["report", given]) == 0
        assert json.loads(capsys.readouterr().out)["run"] == picked


def named_copies(source, root, names: dict) -> dict:
    """Copies of the run `source` under `root`, each with its id's config name: {id: name}."""
    for run_id, name in names.items():
        shutil.copytree(source, root / run_id)
        config = json.loads((root / run_id / "config.json").read_text())
        (root / run_id / "config.json").write_text(json.dumps({**config, "name": name}))
    return names


GRID_NAME = "dropout=0.5 tied=true seed=2"


@pytest.fixture
def named_runs(trained_runs, monkeypatch, tmp_path):
    """QA round 16's names: one run's "sanity check 58", and a grid's name three runs share."""
    root = tmp_path / "runs"
    named_copies(trained_runs[1]["plain"], root, {
        "20991231-000000-sanity-check-58-1a53": "sanity check 58",
        **{f"20991231-00000{i}-dropout-0-5-seed-2-aa0{i}": GRID_NAME for i in (1, 2, 3)}})
    monkeypatch.setenv("LMCORE_RUNS_DIR", str(root))
    monkeypatch.chdir(tmp_path)
    return root


def test_a_name_with_spaces_finds_its_run(named_runs, capsys):
    """QA round 16: `report "sanity check 58"`, a name one run has, said "not a run folder (no such folder)":
    text no run id can be ended the lookup before names were tried. The app's and grid's names all have
    spaces or '='."""
    assert cli.main(["report", "sanity check 58"]) == 0
    assert json.loads(capsys.readouterr().out)["run"] == "20991231-000000-sanity-check-58-1a53"
    assert cli.main(["sample", "sanity check 58", "--words", "2"]) == 0
    assert len(capsys.readouterr().out.split()) == 3
    assert cli.main(["report", "sanity check 99"]) == 2  # a name no run has: where it looked, in one line
    assert one_error(capsys).startswith(f"error: no run 'sanity check 99': no such folder here, nor a run id, "
                                        f"name or id tail in {named_runs}")


@pytest.mark.parametrize("command", [["report"], ["eval"], ["resume"], ["fork", "--no-start"]])
def test_a_grid_name_several_runs_share_is_refused_naming_them(command, named_runs, capsys):
    """QA round 16: a grid's run name 18 runs shared read "not a run folder" in place of the runs it names."""
    assert cli.main([command[0], GRID_NAME, *command[1:]]) == 2
    error = one_error(capsys)
    assert error.startswith(f"error: {GRID_NAME!r} names 3 runs: "), error
    assert "20991231-000003-dropout-0-5-seed-2-aa03" in error and "give a run id" in error


@pytest.mark.parametrize("command", [["sample"], ["eval"], ["resume"], ["report", "--json", "x.json"], ["fork"]])
def test_an_unknown_run_is_no_run_and_says_where_it_looked(command, runs_root, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert cli.main([command[0], "nosuchrun", *command[1:]]) == 2
    error = one_error(capsys)
    assert "no run 'nosuchrun'" in error and str(runs_root) in error and "docs/results/runs" in error
    assert "checkpoint" not in error and not (tmp_path / "x.json").exists()


def test_the_runs_folder_itself_is_no_run(user_runs, capsys, tmp_path):
    root, _ = user_runs
    assert cli.main(["report", str(root), "--json", str(tmp_path / "x.json")]) == 2
    assert f"{root}: not a run folder (no config.json); it holds 3 run folders" in one_error(capsys)
    assert not (tmp_path / "x.json").exists()


def test_a_missing_folder_is_no_run(capsys, tmp_path):
    assert cli.main(["report", str(tmp_path / "nonexist"), "--json", str(tmp_path / "x.json")]) == 2
    assert one_error(capsys) == f"error: {tmp_path / 'nonexist'}: not a run folder (no such folder)"
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("command,verb", [("sample", "sampled"), ("eval", "evaluated")])
def test_a_reference_run_has_no_checkpoint_to_sample_or_evaluate(command, verb, capsys):
    assert cli.main([command, BOOK.name]) == 2  # by id, and by folder
    assert one_error(capsys) == (f"error: {BOOK.name} is a reference run shipped with the project (read-only); "
                                 f"it cannot be {verb} (its checkpoints were not kept)")
    assert cli.main([command, str(BOOK)]) == 2 and "read-only" in one_error(capsys)


# ---------------------------------------------------------------- lmcore runs


def test_runs_lists_the_users_runs_then_the_reference_runs(user_runs, capsys):
    root, folders = user_runs
    assert cli.main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "state", "name", "best", "val", "test", "steps"]
    ids = [line.split()[0] for line in lines[1:]]
    assert ids[:3] == sorted((f.name for f in folders.values()), reverse=True) and BOOK.name in ids[3:]
    book = next(line for line in lines if line.startswith(BOOK.name))
    assert "finished" in book and "book · reference (NVIDIA H200)" in book and "79.87" in book
    assert "76.19" in book and "53,080/53,080" in book


def test_runs_json_and_a_failed_runs_reason(user_runs, capsys, tmp_path):
    root, folders = user_runs
    failed = tmp_path / "runs" / "20991231-000000-failed-abcd"
    shutil.copytree(folders["plain"], failed)
    status = json.loads((failed / "status.json").read_text())
    (failed / "status.json").write_text(json.dumps({**status, "state": "failed", "error": "CUDA out of memory"}))
    assert cli.main(["runs", "--runs-dir", str(tmp_path / "runs")]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(failed.name))
    assert " failed " in line and line.endswith("(CUDA out of memory)")
    assert cli.main(["runs", "--runs-dir", str(tmp_path / "runs"), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["id"] == failed.name and listed[0]["problem"] == "CUDA out of memory"
    assert listed[-1]["reference"] and not listed[0]["reference"]
    assert listed[0]["threads_used"] == [1]   # the CPU threads it trained with (conftest pins 1)
    book = next(record for record in listed if record["id"] == BOOK.name)
    assert book["threads_used"] is None       # trained before they were recorded
    assert round(book["best_val_ppl"], 2) == 79.87 and round(book["test_ppl"], 2) == 76.19
    assert book["best_epoch"] == 40 and book["steps_per_epoch"] == 1327 and book["device"] == "NVIDIA H200"
    assert round(book["training_seconds"]) == 431 and book["params"] > 0 and book["tokens_per_s"] > 0


def test_a_queued_run_lists_no_step_yet(tmp_path, capsys, monkeypatch):
    from lmcore.runs import create_run

    monkeypatch.setenv("LMCORE_REFERENCE_DIR", str(tmp_path / "no-reference"))
    queued = create_run({"preset": "tiny", "name": "waiting"}, tmp_path / "runs")
    assert cli.main(["runs", "--runs-dir", str(tmp_path / "runs")]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(queued.name))
    assert line.split()[1:] == ["queued", "waiting", "-", "-", "-"]


# ---------------------------------------------------------------- report's outputs


def test_a_failed_runs_report_says_why_and_draws_nothing_without_a_validation(tmp_path, capsys):
    failed = tmp_path / "runs" / "20991231-000000-failed-abcd"
    failed.mkdir(parents=True)
    (failed / "config.json").write_text(json.dumps({"preset": "tiny"}))
    (failed / "status.json").write_text(json.dumps({"state": "failed", "error": "device: no CUDA GPU"}))
    png = tmp_path / "failed.png"
    assert cli.main(["report", str(failed), "--json", str(tmp_path / "failed.json"), "--png", str(png)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["error"] == "device: no CUDA GPU"
    assert json.loads((tmp_path / "failed.json").read_text())["error"] == "device: no CUDA GPU"
    assert not png.exists() and "no PNG written: 20991231-000000-failed-abcd has no validation yet" in err


@pytest.mark.parametrize("flag", ["--json", "--png"])
def test_an_output_that_cannot_be_written_is_one_line(flag, capsys, tmp_path):
    outputs = {"--json": str(tmp_path / "x.json"), "--png": str(tmp_path / "x.png"),
               flag: str(tmp_path / "nonexistdir" / "x.out")}
    assert cli.main(["report", str(BOOK), *(item for pair in outputs.items() for item in pair)]) == 2
    assert one_error(capsys) == (f"error: cannot write the {flag[2:].upper()} {tmp_path}/nonexistdir/x.out: "
                                 f"no folder {tmp_path}/nonexistdir")
    assert not (tmp_path / "x.json").exists()  # nothing is written when one output cannot be


def test_outputs_that_are_folders_or_no_image_are_one_line(capsys, tmp_path):
    assert cli.main(["report", str(BOOK), "--json", str(tmp_path)]) == 2
    assert one_error(capsys) == f"error: cannot write the JSON {tmp_path}: Is a directory"
    assert cli.main(["report", str(BOOK), "--json", str(tmp_path / "x.json"), "--png", str(tmp_path / "x.pgn")]) == 2
    assert one_error(capsys).startswith(f"error: cannot write the PNG {tmp_path}/x.pgn: Format 'pgn' is not supported")


def test_a_reader_that_closes_the_pipe_ends_the_listing_without_a_traceback(tmp_path):
    """QA round 11: `lmcore runs | head -6` ended in a BrokenPipeError traceback."""
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)                                        # `head` has read its lines and gone
    try:
        done = subprocess.run([sys.executable, "-m", "lmcore", "runs", "--runs-dir", str(tmp_path)], cwd=ROOT,
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert done.returncode == 141 and "Traceback" not in done.stderr, done.stderr


# ---------------------------------------------------------------- lmcore runs at a few hundred runs


def listed_run(source, root, run_id: str, state: str, created: float | None = None, **config) -> str:
    """A copy of `source` as run `run_id` in `state`, its config changed by `config`; created at
    `created` (seconds), or with no `created_at` at all (its id then dates it)."""
    folder = root / run_id
    shutil.copytree(source, folder)
    for name, changes in (("config.json", config), ("status.json", {"state": state, "created_at": created})):
        data = {**json.loads((folder / name).read_text()), **changes}
        (folder / name).write_text(json.dumps({k: v for k, v in data.items() if v is not None}))
    return run_id


@pytest.fixture
def many_runs(trained_runs, tmp_path, monkeypatch):
    """Two grids and two loose runs, created in the order a, b, c, d."""
    root = tmp_path / "runs"
    plain = trained_runs[1]["plain"]
    monkeypatch.setenv("LMCORE_RUNS_DIR", str(root))
    return root, {
        "a": listed_run(plain, root, "20990101-000000-dropout-0-seed-1-0001", "finished", 4070908800.0,
                        group="grid-aaaaaa", name="dropout=0 seed=1", dropout=0.0),
        "b": listed_run(plain, root, "20990102-000000-dropout-0-5-seed-1-0002", "failed", 4070995200.0,
                        group="grid-aaaaaa", name="dropout=0.5 seed=1", dropout=0.5),
        "c": listed_run(plain, root, "20990103-000000-tied-true-0003", "finished", None,
                        group="grid-bbbbbb", name="tied=true", preset="tiny-dropout"),
        "d": listed_run(plain, root, "20990104-000000-my-adam-try-0004", "stopped", 4071168000.0,
                        name="my Adam try"),
    }


def listed_ids(capsys) -> list[str]:
    return [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]


def test_runs_filters_by_state_group_name_and_newest(many_runs, capsys):
    """QA round 16: with 300 runs `lmcore runs` printed 308 lines and nothing could narrow it."""
    _, ids = many_runs
    for states in (["--state", "failed", "--state", "stopped"], ["--state", "failed,stopped"]):
        assert cli.main(["runs", *states]) == 0 and listed_ids(capsys) == [ids["d"], ids["b"]]
    assert cli.main(["runs", "--group", "grid-aaaaaa"]) == 0 and listed_ids(capsys) == [ids["b"], ids["a"]]
    for text, found in (("adam", "d"), ("tiny-dropout", "c"), ("0001", "a")):  # name, preset, id; case aside
        assert cli.main(["runs", "--name", text]) == 0 and listed_ids(capsys) == [ids[found]]
    assert cli.main(["runs", "--limit", "2"]) == 0 and listed_ids(capsys) == [ids["d"], ids["c"]]
    assert cli.main(["runs", "--state", "finished", "--limit", "1"]) == 0 and listed_ids(capsys) == [ids["c"]]
    assert cli.main(["runs", "--name", "nothing like it", "--state", "queued"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[1:] == [] and err.startswith("no run matches --state queued --name nothing like it in ")
    assert cli.main(["runs", "--state", "done"]) == 2
    assert "argument --state: not a state: done (states: queued, running, finished, stopped, failed, broken)" in \
        capsys.readouterr().err


def test_runs_json_has_each_runs_group_preset_and_creation_time(many_runs, capsys):
    """QA round 16: `runs --json` had no group, preset or date, and no listing showed a group's name."""
    from datetime import datetime

    _, ids = many_runs
    assert cli.main(["runs", "--json"]) == 0
    listed = {record["id"]: record for record in json.loads(capsys.readouterr().out)}
    assert {k: listed[ids["a"]][k] for k in ("group", "preset", "created")} == {
        "group": "grid-aaaaaa", "preset": "tiny", "created": datetime.fromtimestamp(4070908800.0).isoformat()}
    assert listed[ids["c"]]["created"] == "2099-01-03T00:00:00"  # no created_at: the id's time
    assert listed[ids["d"]]["group"] is None and listed[ids["c"]]["preset"] == "tiny-dropout"
    # the recipe, as config.json says it: a seed study pairs its runs without opening each folder
    for run in ("a", "b"):
        config = json.loads((many_runs[0] / ids[run] / "config.json").read_text())
        assert {k: listed[ids[run]][k] for k in cli.LISTED_KEYS} == {k: config.get(k) for k in cli.LISTED_KEYS}
    assert (listed[ids["a"]]["dropout"], listed[ids["b"]]["dropout"], listed[ids["a"]]["seed"]) == (0.0, 0.5, 1)
    status = json.loads((BOOK / "status.json").read_text())
    assert listed[BOOK.name]["created"] == datetime.fromtimestamp(status["created_at"]).isoformat(timespec="seconds")


def test_runs_groups_lists_each_grid_newest_first(many_runs, capsys):
    assert cli.main(["runs", "--groups"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["group", "preset", "runs", "newest", "run", "toggles"]
    assert [line.split()[:3] for line in lines[1:]] == [["grid-bbbbbb", "tiny-dropout", "1"],
                                                        ["grid-aaaaaa", "tiny", "2"]]
    assert lines[1].endswith("  -") and lines[2].endswith("  dropout")
    assert cli.main(["runs", "--groups", "--json", "--limit", "1"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"group": "grid-bbbbbb", "preset": "tiny-dropout", "toggles": [],
                                                    "runs": 1, "created": "2099-01-03T00:00:00"}]


def test_effects_of_a_group_with_no_runs_names_the_groups_there_are(many_runs, capsys):
    """QA round 16: `effects nosuch` said "no runs in group 'nosuch'", and nothing listed the 19 groups there were."""
    root, _ = many_runs
    assert cli.main(["effects", "grid-nope"]) == 2
    assert one_error(capsys) == (f"error: no runs in group 'grid-nope' under {root}; its groups, newest first: "
                                 "grid-bbbbbb (1 run), grid-aaaaaa (2 runs) (`runs --groups` lists them)")


def test_an_error_names_the_newest_ten_groups_and_counts_the_rest():
    from lmcore.listing import groups_text

    groups = [{"group": f"grid-{i:06d}", "runs": 8} for i in range(13)]
    assert groups_text(groups).endswith("grid-000009 (8 runs), and 3 more")


@pytest.mark.parametrize("argv, start", [
    (["sample", "some-run", "--temperature", "0"], "error: argument --temperature: must be more than 0 (got 0)"),
    (["eval", "some-run", "--mc-samples", "0"], "error: argument --mc-samples: a whole number of 1 or more"),
    (["no-such-command"], "error: argument command: invalid choice: 'no-such-command'"),
])
def test_a_bad_flag_is_one_line_naming_the_commands_help(argv, start, capsys):
    """QA round 20: a bad flag printed argparse's five-line usage block above the line that said what was wrong."""
    assert cli.main(argv) == 2
    line = one_error(capsys)
    assert line.startswith(start) and line.endswith("--help` lists what it takes)")


def test_runs_groups_without_a_grid_says_so_instead_of_a_bare_header(trained_runs, monkeypatch, capsys):
    monkeypatch.setenv("LMCORE_RUNS_DIR", str(trained_runs[0]))   # three runs, none in a grid
    assert cli.main(["runs", "--groups"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err.strip() == "no grid groups among these runs: `lmcore grid` queues one"
    assert cli.main(["runs", "--groups", "--json"]) == 0 and json.loads(capsys.readouterr().out) == []
