"""lmcore report: a run's results record says where the run was measured, not where it was read."""

import json
import shutil

import pytest
import torch

from conftest import ROOT
from lmcore import report

RUNS = ROOT / "docs" / "results" / "runs"
BOOK = RUNS / "20261127-085930-book-9182"


def test_a_reference_run_reports_the_machine_that_trained_it():
    result = report.build(BOOK)
    assert result["device"] == "NVIDIA H200" and result["torch"] == "2.11.0+cu130"
    assert result["reference"]["commit"] == "e6f2a26"
    assert round(result["best_val_ppl"], 2) == 79.87 and round(result["test_ppl"], 2) == 76.19
    assert [e["epoch"] for e in result["epochs"]] == list(range(1, 41))


def test_the_shipped_reports_are_what_report_makes_today():
    for name, folder in (("book", BOOK), ("variational-medium", RUNS / "20261127-230959-variational-medium-3758"),
                         ("zaremba-medium", RUNS / "20261127-231417-zaremba-medium-6fb2"),
                         ("book-horizontal", RUNS / "20261129-213332-book-horizontal-532c")):
        shipped = json.loads((ROOT / "docs" / "results" / f"{name}.json").read_text())
        assert shipped == json.loads(json.dumps(report.build(folder)))


GRAPHS = ROOT / "docs" / "results" / "h200-graphs-2026-11-27"


def test_the_shipped_graphed_solo_report_is_what_report_makes_today():
    shipped = json.loads((GRAPHS / "book-solo.json").read_text())
    assert shipped == json.loads(json.dumps(report.build(GRAPHS / "runs" / "20261127-125043-book-solo-cec9")))
    assert shipped["device"] == "NVIDIA H200" and shipped["config"]["cuda_graphs"] == "auto"


def test_graphed_book_runs_trained_to_the_eager_runs_perplexities_digit_for_digit():
    """docs/performance.md's "same numbers": both graphed book runs (one sharing the GPU, one
    alone) against the eager reference run, epoch by epoch, as far as each got."""
    eager = {e["epoch"]: e for e in report.build(BOOK)["epochs"]}
    for name, epochs in (("book.json", 24), ("book-solo.json", 18)):
        graphed = json.loads((GRAPHS / name).read_text())["epochs"]
        assert len(graphed) == epochs
        for row in graphed:
            assert (row["train_ppl"], row["val_ppl"]) == (eager[row["epoch"]]["train_ppl"],
                                                          eager[row["epoch"]]["val_ppl"]), (name, row["epoch"])


def test_a_run_without_reference_info_reports_this_machine(tmp_path, monkeypatch):
    copy = tmp_path / BOOK.name
    shutil.copytree(BOOK, copy)
    (copy / "reference.json").unlink()
    monkeypatch.setattr(report.torch.cuda, "is_available", lambda: False)
    result = report.build(copy)
    assert result["device"] == "cuda"  # status.json's device: this machine has no GPU to name
    assert result["torch"] == torch.__version__ and result["reference"] is None


def test_a_folder_that_holds_no_run_is_refused_not_reported_broken(tmp_path):
    from lmcore.errors import RunError

    with pytest.raises(RunError, match="not a run folder"):
        report.build(tmp_path)


def test_the_log_axis_is_labelled_in_plain_numbers():
    """A whole run spans a power of ten or so: 50, 60, 80 around the plateau, not 6×10¹."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = report.build(BOOK)["epochs"]
    figure, axis = plt.subplots()
    axis.plot([e["epoch"] for e in epochs], [e["train_ppl"] for e in epochs])
    axis.plot([e["epoch"] for e in epochs], [e["val_ppl"] for e in epochs])
    axis.set_yscale("log")
    report.plain_log_ticks(axis)
    figure.canvas.draw()
    labels = [label.get_text() for label in axis.get_yticklabels() if label.get_text()]
    plt.close(figure)
    assert labels == ["50", "60", "80", "100", "200", "300", "400"]
    assert not [label.get_text() for label in axis.get_yticklabels(minor=True) if label.get_text()]


@pytest.mark.parametrize("low,high,ticks", [
    (45, 400, [50, 60, 80, 100, 200, 300, 400]),      # a whole run: 1-2-3-4-5-6-8
    (60, 9000, [100, 200, 500, 1000, 2000, 5000]),    # wider than 40x: the app's 1-2-5
    (80, 95, []),                                      # too narrow: evenly spaced instead
    (2, 5e6, [10, 100, 1000, 10000, 100000, 1000000]),  # climbing: powers of ten, still plain
    (2, 1e12, []),                                     # a diverged run: powers of ten
])
def test_log_ticks(low, high, ticks):
    assert report.log_ticks(low, high) == ticks
    assert [report.tick_label(t) for t in (82.5, 200, 5000)] == ["82.5", "200", "5,000"]


def test_a_report_gives_the_scores_step_and_time_the_pages_show(tmp_path):
    """The report took its best validation from the epoch table's last validation of each epoch, so
    a best between epoch ends (eval_every) was missed, and it gave no step: a killed run's report
    could not say where it stopped. Its scores, step and time are now the run summary's."""
    from lmcore import runs
    from lmcore.summaries import summarize

    folder = runs.create_run({"preset": "tiny", "eval_every": 50, "name": "mid"}, tmp_path / "runs")
    writer = runs.RunWriter(folder)
    writer.status(state="running", pid=None, elapsed=1.0)
    lines = [("train", 50, 1, 300.0), ("val", 50, 1, 120.0), ("train", 100, 1, 250.0), ("val", 100, 1, 90.0),
             ("train", 149, 1, 200.0), ("val", 149, 1, 95.0), ("train", 175, 2, 150.0)]
    for kind, step, epoch, ppl in lines:
        writer.metric({"kind": kind, "step": step, "epoch": epoch, "ppl": ppl, "loss": 5.0, "lr": 0.004,
                       "time": step / 10, **({"tokens_per_s": 7_000.0} if kind == "train" else {})})
    writer.status(state="stopped", step=160, elapsed=17.5, best_val_ppl=90.0)   # as the trainer writes it
    result, summary = report.build(folder), summarize(folder)
    assert [row["val_ppl"] for row in result["epochs"]] == [95.0]       # the epoch's last validation
    assert result["best_val_ppl"] == summary.best_val == 90.0            # the best, at step 100
    assert result["final_val_ppl"] == summary.final_val == 95.0
    assert result["best_epoch"] == summary.best_epoch == 1
    assert result["step"] == summary.step == 160 and result["total_steps"] == summary.total_steps
    assert result["total_seconds"] == summary.training_seconds == 17.5


def test_an_epoch_cut_short_is_marked_and_drawn_where_it_stopped(trained_runs, tmp_path):
    """A run capped by max_steps at 40 of tiny's 149 steps an epoch read 'epoch 1' in its report as if
    the epoch were whole. The trainer now writes its steps per epoch, and each row says how much of
    its epoch was trained; the curve puts the cut epoch where it stopped."""
    from lmcore.summaries import summarize

    folder = trained_runs[1]["plain"]                   # tiny, max_steps=40
    assert json.loads((folder / "status.json").read_text())["steps_per_epoch"] == 149
    assert summarize(folder).steps_per_epoch == 149
    result = report.build(folder)
    assert [(row["epoch"], row["step"], row["fraction"]) for row in result["epochs"]] == [(1, 40, round(40 / 149, 4))]
    assert report.epochs_trained(result["epochs"][0]) == pytest.approx(40 / 149, abs=1e-4)
    assert report.epochs_trained({"epoch": 3, "fraction": 1.0}) == 3 == report.epochs_trained({"epoch": 3})


def test_the_seconds_per_epoch_are_of_whole_epochs():
    rows = [{"seconds": 10.0, "fraction": 1.0}, {"seconds": 2.0, "fraction": 0.2}]
    assert report.median_epoch_seconds(rows) == 10.0     # the cut epoch's 2 s was the median of two
    assert report.median_epoch_seconds([{"seconds": 2.0, "fraction": 0.2}]) == 2.0
    assert report.median_epoch_seconds([]) is None


def test_the_plot_is_titled_with_the_runs_name():
    result = {"run": "20260101-000000-x-ab12", "device": "cpu", "state": "finished",
              "config": {"name": "placement=vertical seed=2", "preset": "tiny-dropout"}}
    assert report.plot_title(result) == "placement=vertical seed=2 on cpu"
    assert report.plot_title({**result, "config": {"preset": "tiny"}, "state": "stopped"}) == (
        "tiny on cpu (stopped, not finished)")


# ---------------------------------------------------------------- a fork's seconds are its own
# QA: a fork from epoch 1 reported its epoch 2 at 8.83 s, and seconds_per_epoch 8.83, where the epoch
# took 8.83 - 4.14: its log's `time` goes on from the parent's training time (4.14 at the fork), and
# the report counted the first epoch from 0.

SMALL_EPOCH = 99   # SMALL's steps an epoch


@pytest.fixture(scope="module")
def forked(tmp_path_factory, ptb_dir):
    """SMALL trained 3 epochs (its epoch checkpoints kept), forked from epoch 1 and trained to the end."""
    from conftest import SMALL
    from lmcore.fork import fork_run
    from lmcore.runs import create_run
    from lmcore.session import run

    root = tmp_path_factory.mktemp("report-fork") / "runs"
    parent = create_run({**SMALL, "epochs": 3, "dropout": 0.3, "dropout_placement": "vertical",
                         "keep_epoch_checkpoints": True}, root)
    run(parent, show_progress=False)
    child = fork_run(parent, "epoch:1", {"dropout": "0.2"}, root)
    run(child, show_progress=False)
    return parent, child


def _val_times(folder) -> dict[int, float]:
    from lmcore.jsonl import read_jsonl

    return {r["epoch"]: r["time"] for r in read_jsonl(folder / "metrics.jsonl") if r["kind"] == "val"}


def test_a_forks_epoch_seconds_are_its_own_not_its_parents(forked):
    parent, child = forked
    status = json.loads((child / "status.json").read_text())
    start = status["start_seconds"]          # the parent's training time at its epoch-1 checkpoint
    assert start >= _val_times(parent)[1] > 0
    times, result = _val_times(child), report.build(child)
    assert [row["epoch"] for row in result["epochs"]] == [2, 3]
    assert [row["seconds"] for row in result["epochs"]] == [times[2] - start, times[3] - times[2]]
    assert result["epochs"][0]["seconds"] < times[2] - 0.9 * start     # not the parent's time with it
    assert result["seconds_per_epoch"] == max(times[2] - start, times[3] - times[2])   # the upper median of two
    # A parent's own report counts from 0, as before.
    assert report.build(parent)["epochs"][0]["seconds"] == _val_times(parent)[1]


def test_an_older_fork_counts_from_its_parents_log_or_leaves_the_first_epoch_out(forked, tmp_path):
    """Forks made before start_seconds was kept: the time of the parent's last line at the fork step; with
    the parent gone, the first epoch's seconds are unknown and out of the median."""
    parent, child = forked
    root = tmp_path / "runs"
    old = root / child.name
    shutil.copytree(child, old)
    status = json.loads((old / "status.json").read_text())
    del status["start_seconds"]
    (old / "status.json").write_text(json.dumps(status))
    times = _val_times(child)
    alone = report.build(old)
    assert alone["epochs"][0]["seconds"] is None
    assert alone["seconds_per_epoch"] == times[3] - times[2]
    shutil.copytree(parent, root / parent.name)
    assert report.build(old)["epochs"][0]["seconds"] == times[2] - _val_times(parent)[1]


def test_a_fork_begun_inside_an_epoch_leaves_that_epochs_part_out_of_the_median():
    config = {"fork_step": SMALL_EPOCH + 30, "parent": "p"}
    assert report.begun_inside(config, SMALL_EPOCH) == 2
    assert report.begun_inside({**config, "fork_step": SMALL_EPOCH}, SMALL_EPOCH) is None   # an epoch's end
    assert report.begun_inside({}, SMALL_EPOCH) is None and report.begun_inside(config, None) is None
    rows = [{"epoch": 2, "seconds": 1.0, "fraction": 1.0}, {"epoch": 3, "seconds": 4.0, "fraction": 1.0}]
    assert report.median_epoch_seconds(rows, begun_inside=2) == 4.0 and report.median_epoch_seconds(rows) == 4.0
    rows.append({"epoch": 4, "seconds": 5.0, "fraction": 1.0})
    assert report.median_epoch_seconds(rows, begun_inside=2) == 5.0 and report.median_epoch_seconds(rows) == 4.0


def test_the_reference_notes_give_the_seconds_per_epoch_report_gives():
    """QA: variational-medium's note said '6.0 s an epoch' (239 s over 40 epochs, the mean) where `report`
    gives 5.85, the median of its whole epochs; zaremba-medium's said 5.2, the median. Every note now
    gives the median, and says so."""
    import re

    def note(folder):
        return json.loads((folder / "reference.json").read_text())["note"]

    def median(folder, digits):
        return f"{report.build(folder)['seconds_per_epoch']:.{digits}f}"

    for name in ("20261127-230959-variational-medium-3758", "20261127-231417-zaremba-medium-6fb2"):
        said = re.search(r"a median (\d+\.\d+) s an epoch, `seconds_per_epoch` in `lmcore report`", note(RUNS / name))
        assert said and said[1] == median(RUNS / name, 2), name
    solo = GRAPHS / "runs" / "20261127-125043-book-solo-cec9"
    for text in (note(BOOK), note(solo)):
        said = re.search(r"(\d+\.\d) s (?:alone on the GPU|per epoch) against (?:this run's )?(\d+\.\d) s .*both the "
                         r"median epoch", text)
        assert said and (said[1], said[2]) == (median(solo, 1), median(BOOK, 1))


BF16 = ROOT / "docs" / "results" / "h200-bf16-horizontal-2026-11-29"


def test_book_in_bf16_trained_to_book_s_perplexities_within_a_few_tenths():
    """docs/performance.md's third H200 session: book with amp=bf16, evaluated in float32 (as every run
    now is) and, before that change, in bf16; each within 0.3 of the float32 run's validation and test,
    and every epoch's validation within 2%. The same seed: what differs is the arithmetic."""
    book = report.build(BOOK)
    for name in ("book-bf16.json", "book-bf16-bf16-eval.json"):
        bf16 = json.loads((BF16 / name).read_text())
        assert bf16["config"]["amp"] == "bf16" and bf16["state"] == "finished" and bf16["step"] == book["step"]
        assert abs(bf16["best_val_ppl"] - book["best_val_ppl"]) < 0.3 and abs(bf16["test_ppl"] - book["test_ppl"]) < 0.3
        assert all(abs(a["val_ppl"] / b["val_ppl"] - 1) < 0.02 for a, b in zip(bf16["epochs"], book["epochs"]))
    assert json.loads((BF16 / "book-bf16.json").read_text())["total_seconds"] < 150  # issue 10's target
