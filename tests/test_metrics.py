"""Incremental reading of metrics: only new complete lines, torn lines, rewrites, thinning."""

import json

import numpy as np

from lmcore.bench import reading
from explorer.metrics import MetricsFrame, smooth, thin_index
from lmcore.runs import MetricsTail, truncate_lines


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
    truncate_lines(path, 3)                                            # resume cuts back to step 3...
    with open(path, "a") as handle:
        handle.write("".join(_line("train", s) for s in range(4, 9)))  # ...and trains on past the old end
    assert frame.refresh()["step"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]


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


def test_reading_benchmark_runs_and_reports_ratios():
    rows = reading(sizes=(10, 1000), rounds=3)
    assert rows["10"]["vs_smallest"] == 1.0 and rows["1000"]["refresh_s"] > 0
