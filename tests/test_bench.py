"""The benchmark runs every placement beside the plain nn.LSTM reference and reports ratios."""

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from conftest import ROOT
from lmcore.bench import build_runners, speed_rows


def test_bench_json_has_every_placement_and_ratios():
    out = subprocess.run([sys.executable, "-m", "lmcore", "bench", "--sizes", "16,24", "--steps", "2",
                          "--vocab", "50", "--bptt", "5", "--batch", "3", "--json", "--autograd-loop"],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    report = json.loads(out.stdout)
    assert report["device"].startswith("cpu") and report["threads"] >= 1
    for size in ("16", "24"):
        rows = report["sizes"][size]
        reference = rows["reference"]["tokens_per_s"]
        for name in ("none", "vertical", "horizontal", "variational", "variational, autograd loop"):
            assert rows[name]["tokens_per_s"] > 0
            # the ratio is this model's speed over the reference's, from the same run
            assert rows[name]["ratio"] == pytest.approx(rows[name]["tokens_per_s"] / reference)
        assert rows["eval"]["tokens_per_s"] > 0 and rows["sampling"]["words_per_s"] > 0


def test_speed_rows_are_multiples_of_the_reference_speed():
    runners = [SimpleNamespace(name="reference", times=[0.10, 0.30, 0.20]),   # median 0.2 s a step
               SimpleNamespace(name="slower", times=[0.40, 0.50, 0.41]),      # median 0.41
               SimpleNamespace(name="faster", times=[0.1])]
    rows = speed_rows(runners, tokens=100)
    assert rows["reference"] == {"tokens_per_s": pytest.approx(500), "ratio": pytest.approx(1.0)}
    assert rows["slower"]["tokens_per_s"] == pytest.approx(100 / 0.41)
    assert rows["slower"]["ratio"] == pytest.approx(0.2 / 0.41)   # below 1: slower than the reference
    assert rows["faster"]["ratio"] == pytest.approx(2.0)


def test_each_runner_runs_the_path_its_name_says():
    args = SimpleNamespace(vocab=30, layers=2, batch=2, bptt=3, amp="none", autograd_loop=True,
                           placements="vertical,variational", pipeline=[3])
    runners = {r.name: r.model for r in build_runners(8, args, torch.device("cpu"))}
    assert list(runners) == ["reference", "vertical", "vertical, layers pipelined x3", "variational",
                             "variational, layers pipelined x3", "variational, autograd loop"]
    assert [layer.path for layer in runners["variational"].lstms] == ["auto", "auto"]
    assert runners["variational"].pipeline == 1 and runners["variational, layers pipelined x3"].pipeline == 3
    assert [layer.path for layer in runners["variational, autograd loop"].lstms] == ["autograd", "autograd"]
    assert runners["variational, autograd loop"].plan.per_sequence


@pytest.mark.parametrize("chunks", ["x", "0", "3,-1", ""])
def test_bench_refuses_chunk_counts_that_are_not_whole_numbers_from_one(chunks):
    out = subprocess.run([sys.executable, "-m", "lmcore", "bench", "--pipeline", chunks],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2 and "--pipeline: chunk counts of 1 or more, like 5 or 3,5,7" in out.stderr
    assert "Traceback" not in out.stderr


def test_bench_text_output():
    out = subprocess.run([sys.executable, "-m", "lmcore", "bench", "--sizes", "16", "--steps", "1", "--vocab", "50",
                          "--bptt", "4", "--batch", "2", "--placements", "vertical"],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    assert "vs reference" in out.stdout and "vertical" in out.stdout and "reference" in out.stdout


def test_the_checkpoint_bench_times_both_ways_and_leaves_one_file_under_both_names():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_checkpoint", ROOT / "scripts" / "bench_checkpoint.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.main(rounds=2, preset="tiny")
    assert set(result["seconds"]) == {"apart", "once"} and all(len(v) == 2 for v in result["seconds"].values())
    assert result["megabytes"] > 1 and result["once_over_apart"] > 0
