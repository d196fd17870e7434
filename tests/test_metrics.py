"""Incremental reading of metrics: only new complete lines, torn lines, rewrites, thinning."""

import json

import numpy as np
import pytest

from explorer.metrics import latest_line, smooth
from lmcore.bench import reading
from lmcore.jsonl import MetricsTail, rewind_to_step
from lmcore.metrics_frame import MetricsFrame, thin_index
from lmcore.summaries import abreast_of_log


def _line(kind, step, ppl=100.0):
    return json.dumps({"kind": kind, "step": step, "epoch": 1, "loss": float(np.log(ppl)), "ppl": ppl,
                       "lr": 1.0, "time": step}) + "\n"


def test_tail_reads_only_new_complete_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(_line("train", 1) + _line("train", 2))
    tail = MetricsTail(path)
    assert [r["step"] for r in tail.read_new()] == [1, 2]
    assert tail.read_new() == []
    with open(path, "a") as handle:
        handle.write(_line("train", 3) + '{"kind": "train", "st')    # a writer caught mid-line
    assert [r["step"] for r in tail.read_new()] == [3]
    with open(path, "a") as handle:
        handle.write('ep": 4}\nnot json\n' + _line("val", 4))
    assert [(r["kind"], r["step"]) for r in tail.read_new()] == [("train", 4), ("val", 4)]


def test_tail_starts_over_when_a_resume_rewrites_the_file(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(_line("train", s) for s in range(1, 6)))
    frame = MetricsFrame(path)
    assert frame.refresh()["step"].tolist() == [1, 2, 3, 4, 5]
    rewind_to_step(path, 3)                                            # resume cuts back to step 3...
    with open(path, "a") as handle:
        handle.write("".join(_line("train", s) for s in range(4, 9)))  # ...and trains on past the old end
    assert frame.refresh()["step"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]


def test_a_resume_cuts_the_log_by_step_so_no_step_is_held_twice_or_goes_back(tmp_path):
    """QA round 17 (S6e): metrics.jsonl deleted after the checkpoint at step 149 (the trainer recreated it
    from step 212), the run killed at 294, then resumed: the cut by the checkpoint's line count (76) left
    the recreated 42 lines, and the resume appended 150-447 after them. The cut is by step now."""
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(_line("train", s) for s in range(212, 295, 2)))   # all of it past the checkpoint
    rewind_to_step(path, 149)
    assert path.read_text() == ""
    kept = _line("train", 148) + _line("val", 149) + "not json\n"
    # A log the old cut left doubled (a killed attempt's 150-154, then a resume's 150-152 and its end's
    # test line, the checkpoint at 155), more past the checkpoint, and a torn last line.
    path.write_text(kept + "".join(_line("train", s) for s in (150, 152, 154, 150, 152)) + _line("val", 152)
                    + _line("test", 152) + _line("train", 160) + '{"kind": "tr')
    rewind_to_step(path, 155)
    assert path.read_text() == kept + _line("train", 150) + _line("train", 152) + _line("val", 152)
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"step": s, "text": "a"}) + "\n" for s in (99, 149, 99, 149, 198)))
    rewind_to_step(samples, 149)
    assert [json.loads(line)["step"] for line in samples.read_text().splitlines()] == [99, 149]


def test_frame_keeps_every_validation_line_and_thins_train_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(_line("train", s) for s in range(1, 5001)) + _line("val", 5000, 80.0)
                    + _line("test", 5000, 75.0))
    frame = MetricsFrame(path, max_points=100).refresh()
    train = frame[frame["kind"] == "train"]
    assert len(train) == 100 and train["step"].iloc[0] == 1 and train["step"].iloc[-1] == 5000
    assert frame[frame["kind"] == "val"]["ppl"].tolist() == [80.0]
    assert frame[frame["kind"] == "test"]["ppl"].tolist() == [75.0]
    assert frame["step"].dtype == "int64"


def test_thin_index_and_smoothing():
    assert thin_index(5, 10).tolist() == [0, 1, 2, 3, 4]
    index = thin_index(1000, 7)
    assert index[0] == 0 and index[-1] == 999 and len(index) == 7
    import pandas as pd

    values = pd.Series([1.0, 3.0, 1.0, 3.0])
    assert smooth(values, 0).tolist() == values.tolist()
    assert smooth(values, 0.9).std() < values.std()


class _CountingJson:
    """json for lmcore.runs, counting the lines it parses."""

    def __init__(self):
        self.parsed = 0

    def loads(self, text):
        self.parsed += 1
        return json.loads(text)

    def __getattr__(self, name):
        return getattr(json, name)


def test_a_long_run_refreshes_with_the_same_work_as_a_short_one(tmp_path, monkeypatch):
    """Per refresh: the new lines are parsed and nothing else; the table stays bounded."""
    import lmcore.jsonl

    counter = _CountingJson()
    monkeypatch.setattr(lmcore.jsonl, "json", counter)
    work = {}
    for size in (100, 20_000):
        path = tmp_path / f"metrics-{size}.jsonl"
        path.write_text("".join(_line("train", s) for s in range(size)))
        frame = MetricsFrame(path, max_points=500)
        frame.refresh()
        for round_index in range(3):
            with open(path, "a") as handle:
                handle.write("".join(_line("train", size + round_index * 10 + i) for i in range(10)))
            before = counter.parsed
            rows = len(frame.refresh())
            work[size, round_index] = (counter.parsed - before, rows)
    for round_index in range(3):
        assert work[100, round_index][0] == work[20_000, round_index][0] == 10
        assert work[20_000, round_index][1] <= 500          # thinned, however long the run
    assert work[100, 2][1] == 130                           # a short run shows every line


def test_reading_benchmark_reports_each_size_against_the_smallest():
    rows = reading(sizes=(10, 1000), rounds=3)
    for size in ("10", "1000"):
        assert rows[size]["refresh_s"] > 0 and rows[size]["first_read_s"] > 0
        assert rows[size]["vs_smallest"] == pytest.approx(rows[size]["refresh_s"] / rows["10"]["refresh_s"])


GARBAGE = ['garbage line ###', '{"kind": "val", "step": "abc", "ppl": "NaN"}', '[1,2,3]', '{"kind": "val"}',
           '{"kind": "train", "step": 3, "epoch": null, "ppl": 5.0}', '{"kind": "test", "step": 3, "epoch": 1}']


def with_garbage(trained_runs, tmp_path):
    """A copy of a finished run with lines no trainer writes inserted in its metrics.jsonl (QA round 13)."""
    from conftest import copy_run

    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    (folder / "metrics.jsonl").write_text("\n".join(lines[:3] + GARBAGE + lines[3:]) + "\n")
    return folder, lines


def test_lines_no_trainer_writes_are_skipped_by_every_reader(trained_runs, tmp_path):
    from lmcore.jsonl import read_metrics
    from lmcore.report import build

    folder, lines = with_garbage(trained_runs, tmp_path)
    assert read_metrics(folder / "metrics.jsonl") == [json.loads(line) for line in lines]
    frame = MetricsFrame(folder / "metrics.jsonl").refresh()
    assert len(frame) == len(lines) and frame["step"].dtype == "int64"
    report = build(folder)
    assert report["epochs"] and report["best_val_ppl"] is not None


def test_pages_show_a_run_whose_log_holds_garbage_lines(trained_runs, tmp_path, monkeypatch):
    """Generate and Compare showed a traceback; Train retried every 2 s, for ever."""
    from conftest import open_app, texts

    folder, _ = with_garbage(trained_runs, tmp_path)
    for page, query in (("app_pages/train.py", {"run": folder.name}), ("app_pages/generate.py", {"run": folder.name}),
                        ("app_pages/compare.py", {"runs": folder.name})):
        at = open_app(monkeypatch, folder.parent, page, query)
        assert not at.exception, (page, [e.value for e in at.exception])
        assert "Could not read" not in texts(at.warning) and not at.error, (page, texts(at.warning), texts(at.error))


def test_a_running_trainers_status_is_brought_up_to_its_latest_metrics_line():
    """Watch's progress line read status.json (written once a second) and the curve metrics.jsonl: at a
    run's start the line said step 1 beside a curve at step 25. The step, epoch and time come from the
    log where it is later, the time with the step (the ETA is measured from both); `updated_at`, which the
    silence note reads, stays the status's."""
    status = {"state": "running", "phase": "training", "step": 1, "epoch": 1, "elapsed": 0.1, "updated_at": 5.0,
              "total_steps": 400}
    logged = {"step": 25, "epoch": 1, "time": 0.9}
    assert abreast_of_log(status, logged) == {**status, "step": 25, "elapsed": 0.9}
    assert abreast_of_log(status, {"step": 130, "epoch": 2, "time": None})["epoch"] == 2   # a missing time: kept
    assert abreast_of_log({**status, "step": 25}, logged) == {**status, "step": 25}       # not behind: as it is
    assert abreast_of_log({**status, "step": 30}, logged)["step"] == 30
    assert abreast_of_log(status, None) == status
    # A trainer still starting may find a killed attempt's lines past the checkpoint it resumes from, not
    # yet cut: the page shows that checkpoint's step (train_watch.resumes_at). Ended runs are caught_up's.
    for other in ({"phase": "starting"}, {"state": "queued"}, {"state": "finished"}, {"state": "stopped"}):
        assert abreast_of_log({**status, **other}, logged) == {**status, **other}


def test_the_latest_line_is_the_one_with_the_highest_step(tmp_path):
    path = tmp_path / "metrics.jsonl"
    assert latest_line(MetricsFrame(path).refresh()) is None
    path.write_text(_line("train", 20) + _line("train", 40) + _line("val", 45))
    assert latest_line(MetricsFrame(path).refresh()) == {"step": 45, "epoch": 1, "time": 45.0}
    path.write_text(_line("train", 20) + json.dumps({"kind": "train", "step": 50, "epoch": 2, "ppl": 9.0}) + "\n")
    latest = latest_line(MetricsFrame(path).refresh())
    assert latest == {"step": 50, "epoch": 2, "time": None} and type(latest["step"]) is int
