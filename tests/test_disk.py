"""What a run takes on disk, and freeing its epoch checkpoints (lmcore.disk): on the command line
and on Compare. A `tiny` run kept 150 MB of them and a classroom's runs filled a small disk (QA
round 17)."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT, SMALL
from lmcore import cli, locks
from lmcore.checkpoints import kept_epochs
from lmcore.disk import free_epoch_checkpoints, megabytes, usage
from lmcore.errors import RunError
from lmcore.fork import fork_run
from lmcore.reference import reference_folders
from lmcore.runs import create_run
from lmcore.session import run


def fake_run(root, sizes: dict[str, int], links: dict[str, str]):
    """A run folder whose checkpoints/ holds files of `sizes` bytes and hard `links` (name -> target)."""
    folder = create_run({**SMALL}, root, label="disk")
    checkpoints = folder / "checkpoints"
    checkpoints.mkdir(exist_ok=True)
    for name, size in sizes.items():
        (checkpoints / name).write_bytes(b"x" * size)
    for name, target in links.items():
        os.link(checkpoints / target, checkpoints / name)
    return folder


def test_a_file_with_several_names_counts_once_and_only_epoch_only_files_are_spare(tmp_path):
    """One save writes last.pt, best.pt and epoch-N.pt as links of one file (RunWriter.checkpoint)."""
    folder = fake_run(tmp_path, {"epoch-1.pt": 1000, "epoch-2.pt": 2000, "epoch-3.pt": 4000},
                      {"best.pt": "epoch-2.pt", "last.pt": "epoch-3.pt"})
    others = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    found = usage(folder)
    assert found.total == others + 7000                # not 13,000: best.pt and last.pt are the same files
    assert found.spare == 1000 and found.epochs == 3   # epoch-2 is best.pt, epoch-3 last.pt: freeing gives 1000
    assert found.shared == 2                           # so the 1000 are in 3 - 2 files, as the pages say
    before = free_epoch_checkpoints(folder)
    assert before == found and sorted(p.name for p in (folder / "checkpoints").iterdir()) == ["best.pt", "last.pt"]
    assert usage(folder) == (others + 6000, 0, 0, 0)


def test_a_training_run_and_a_reference_run_are_refused(tmp_path):
    folder = fake_run(tmp_path, {"epoch-1.pt": 10}, {})
    held = locks.claim_training(folder)                                # as a trainer holds it
    try:
        with pytest.raises(RunError, match="is training .* stop it before freeing its epoch checkpoints"):
            free_epoch_checkpoints(folder)
    finally:
        os.close(held)
    assert (folder / "checkpoints" / "epoch-1.pt").exists()
    with pytest.raises(RunError, match="reference run shipped with the project"):
        free_epoch_checkpoints(reference_folders()[0])


def test_sizes_read_as_a_person_reads_them():
    assert [megabytes(n) for n in (999, 18_700_000, 149_600_000, 1_234_000_000, 840_000)] == [
        "999 bytes", "18.7 MB", "150 MB", "1.2 GB", "840 KB"]


@pytest.fixture
def trained(tmp_path, ptb_dir):
    """A small real run of 2 epochs that keeps its epoch checkpoints."""
    folder = create_run({**SMALL, "epochs": 2, "keep_epoch_checkpoints": True}, tmp_path / "runs", label="kept")
    run(folder, show_progress=False)
    assert kept_epochs(folder) == [1, 2]
    return folder


def test_the_cli_frees_a_real_runs_epochs_and_it_still_forks_from_best_and_last(trained, tmp_path, capsys):
    spare = usage(trained).spare
    assert spare > 0
    assert cli.main(["free", str(trained)]) == 0
    out = capsys.readouterr().out
    assert out == f"{trained.name}: 2 epoch checkpoints deleted, {megabytes(spare)} freed (best.pt and last.pt kept)\n"
    assert kept_epochs(trained) == [] and usage(trained).spare == 0
    for source in ("best", "last"):
        fork = fork_run(trained, source, {"lr": 0.005, "epochs": 3}, tmp_path / "runs")
        assert json.loads((fork / "config.json").read_text())["fork_from"] == source
    # A second time frees 0, a run named twice is freed once, and a typo says so.
    assert cli.main(["free", str(trained), trained.name, str(tmp_path / "nothing")]) == 1
    out, err = capsys.readouterr()
    assert out.count("0 epoch checkpoints deleted, 0 bytes freed") == 1 and "0 bytes freed in all" in out
    assert err.startswith("error: ") and "nothing" in err


def test_compare_shows_each_runs_size_and_frees_the_selected_ones(trained_runs, tmp_path, monkeypatch):
    root, folders = trained_runs
    copy = tmp_path / "runs"
    shutil.copytree(root, copy)
    monkeypatch.setenv("LMCORE_RUNS_DIR", str(copy))
    plain = copy / folders["plain"].name
    shutil.copyfile(plain / "checkpoints" / "last.pt", plain / "checkpoints" / "epoch-1.pt")  # a copy: spare
    os.link(plain / "checkpoints" / "last.pt", plain / "checkpoints" / "epoch-2.pt")      # also last.pt: not
    spare = usage(plain).spare
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("app_pages/compare.py")
    at.query_params["runs"] = plain.name
    at.run()
    table = at.dataframe[0].value
    assert table.set_index("name").loc["plain", "disk_bytes"] == usage(plain).total
    label = f"Free {megabytes(spare)}"
    start_from = next(box for box in at.selectbox if box.label == "Start from")  # the fork form's
    assert "The end of the first epoch is picked first" in start_from.help
    button = at.button[[b.label for b in at.button].index(label)]
    assert (f"deletes the 2 epoch checkpoints (epoch-N.pt) of 1 selected run (1 of them is also best.pt or last.pt, "
            f"so the other 1 gives back the {megabytes(spare)}): best.pt and last.pt stay") in button.help
    button.click().run()
    assert not at.exception and not (plain / "checkpoints" / "epoch-1.pt").exists()
    assert (plain / "checkpoints" / "last.pt").exists()
    assert [s.value for s in at.success] == [
        f"Freed {megabytes(spare)}: the epoch checkpoints of 1 run; best.pt and last.pt kept."]
    assert label not in [b.label for b in at.button]            # nothing left to free
    start_from = next(box for box in at.selectbox if box.label == "Start from")
    assert "keeps no epoch checkpoints" in start_from.help and "picked first" not in start_from.help


@pytest.mark.parametrize("changes", [
    {},                                                                           # tiny: 1 layer, Adam
    {"layers": 3, "optimizer": "sgd", "lr": 1.0, "hidden_size": 96, "embed_size": 96, "batch_size": 7},
])
def test_set_ups_checkpoint_size_is_within_a_percent_of_a_real_one(tmp_path, changes):
    """Set up says what a run will keep on disk before it trains (QA round 18: 30 epoch checkpoints, 236 MB,
    said nowhere): one checkpoint's size by formula, against a real one."""
    from conftest import train_run
    from lmcore.config import from_dict
    from lmcore.disk import checkpoint_bytes

    folder = train_run(tmp_path, "tiny", "size", max_steps=1, valid_tokens=2000, test_tokens=2000, **changes)
    cfg = from_dict(json.loads((folder / "config.json").read_text()))
    parameters = json.loads((folder / "params.json").read_text())["total"]
    real = (folder / "checkpoints" / "last.pt").stat().st_size
    assert abs(checkpoint_bytes(cfg, parameters) - real) / real < 0.01, (checkpoint_bytes(cfg, parameters), real)


def test_set_up_counts_best_last_and_an_epoch_checkpoint_for_each_epoch_it_reaches():
    from lmcore.config import Config
    from lmcore.disk import planned

    auto = Config(keep_epoch_checkpoints=None)
    assert planned(auto, 1_000_000, 30).files == 32 and planned(auto, 1_000_000, 30).epochs
    assert planned(auto, 20_000_000, 30).files == 2 and not planned(auto, 20_000_000, 30).epochs  # too big
    assert planned(Config(keep_epoch_checkpoints=False), 1_000_000, 30).files == 2
    assert planned(Config(keep_epoch_checkpoints=True), 20_000_000, 3).files == 5


def test_watch_says_what_a_run_holds_on_disk_and_what_its_epoch_checkpoints_take(trained_runs, tmp_path, monkeypatch):
    """QA round 19: a 400-epoch tiny run kept 125 epoch checkpoints, 2.2 GB, and its Watch page said nothing."""
    from conftest import copy_run, open_app, texts

    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    shutil.copyfile(folder / "checkpoints" / "last.pt", folder / "checkpoints" / "epoch-1.pt")
    held = usage(folder)
    at = open_app(monkeypatch, folder.parent, "app_pages/train.py", {"run": folder.name})
    assert not at.exception
    assert (f"on disk {megabytes(held.total)} (of it {megabytes(held.spare)} in 1 epoch checkpoint: Compare's Free "
            "deletes them once it is done)") in texts(at.caption)


def test_watch_counts_the_epoch_checkpoints_whose_bytes_it_gives_as_spare(trained_runs, tmp_path, monkeypatch):
    """QA: a finished tiny run read 'of it 112 MB in 8 epoch checkpoints', 14 MB each beside Set up's 18.7 MB:
    2 of the 8 were best.pt and last.pt, whose bytes stay. The count is of the files the size is."""
    from conftest import copy_run, open_app, texts

    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    checkpoints = folder / "checkpoints"
    for epoch in (1, 2):                                                 # two of their own
        shutil.copyfile(checkpoints / "last.pt", checkpoints / f"epoch-{epoch}.pt")
    os.link(checkpoints / "last.pt", checkpoints / "epoch-3.pt")         # the final epoch's save is also last.pt
    held = usage(folder)
    assert (held.epochs, held.shared, held.spare) == (3, 1, 2 * (checkpoints / "last.pt").stat().st_size)
    at = open_app(monkeypatch, folder.parent, "app_pages/train.py", {"run": folder.name})
    assert not at.exception
    assert (f"on disk {megabytes(held.total)} (of it {megabytes(held.spare)} in 2 epoch checkpoints: Compare's "
            "Free deletes them once it is done; 1 more is also best.pt or last.pt, which stays)") in texts(at.caption)
