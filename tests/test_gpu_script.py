"""scripts/gpu_check.sh, dry-run on the CPU with a tiny config: it must work before it meets a GPU."""

import json
import os
import subprocess
import tarfile

import pytest
import torch

from conftest import ROOT

RUNS = {"tiny": "none", "tiny-horizontal": "horizontal"}  # run name -> placement: two runs, one with changes


@pytest.mark.slow  # about 30 s: an inner pytest, the bench and two trainings
def test_gpu_check_dry_run_on_cpu(tmp_path):
    env = {**os.environ, "GPU_CHECK_DEVICE": "cpu",
           "GPU_CHECK_RUNS": "tiny tiny-horizontal:tiny:dropout=0.5,"
           "dropout_placement=horizontal", "GPU_CHECK_SET": "max_steps=24 eval_every=12 threads=1",
           "GPU_CHECK_SIZES": "16", "GPU_CHECK_SECONDS": "300", "PYTHON": str(ROOT / ".venv" / "bin" / "python")}
    if not os.path.exists(env["PYTHON"]):
        env["PYTHON"] = "python3"
    done = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr

    tests = json.loads((tmp_path / "graph_tests.json").read_text())
    names = {t["test"].split("[")[0] for t in tests["tests"]}
    assert len(names) == 7 and all(name.startswith("test_gpu_") for name in names)
    outcome = "passed" if torch.cuda.is_available() else "skipped"  # here: skipped, not failed
    assert tests["counts"][outcome] == len(tests["tests"]) == 16

    bench = json.loads((tmp_path / "bench.json").read_text())
    assert bench["graphs"] == "eager"
    placements = ("none", "vertical", "horizontal", "variational")
    assert set(bench["sizes"]["16"]) >= {"reference", *placements, *(f"{p}, graph step eager" for p in placements)}

    pipelined = json.loads((tmp_path / "bench_pipeline.json").read_text())["sizes"]["16"]
    for placement in ("none", "vertical", "variational"):
        assert {f"{placement}, graph step eager, layers pipelined x{chunks}" for chunks in (2, 5)} <= set(pipelined)

    profile = json.loads((tmp_path / "profile_step.json").read_text())
    for row in profile["models"].values():  # vertical and variational, with the operators that take the time
        assert row["device_ms"] > 0 and row["eager_wall_ms"] > 0 and row["graphed_wall_ms"] > 0
        assert 0 < sum(kernel["share"] for kernel in row["top"]) <= 1 + 1e-9
    assert set(profile["models"]) == {"vertical", "variational"}

    for name, placement in RUNS.items():
        result = json.loads((tmp_path / f"{name}.json").read_text())
        assert result["state"] == "finished" and result["config"]["preset"] == "tiny"
        assert result["config"]["dropout_placement"] == placement and result["config"]["cuda_graphs"] == "auto"
        assert result["test_ppl"] > 1 and result["best_val_ppl"] > 1
        assert [e["epoch"] for e in result["epochs"]] == [1]  # 24 of 149 steps, evaluated twice
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
        summary = json.loads((tmp_path / f"{name}.summary.json").read_text())
        assert summary["test_ppl"] == result["test_ppl"]
    log = (tmp_path / "gpu_check.log").read_text()
    # One after another: the second starts when the first has exited.
    assert log.count("training tiny") == 2 and log.index("tiny exited") < log.index("training tiny-horizontal")

    # Everything comes back in one file, without the checkpoints, named to sort first.
    assert sorted(p.name for p in tmp_path.iterdir())[0] == "00-packed.tgz"
    with tarfile.open(tmp_path / "00-packed.tgz") as archive:
        packed = archive.getnames()
    assert {f"{tmp_path.name}/{name}.json" for name in RUNS} <= set(packed)
    assert any(name.endswith("metrics.jsonl") for name in packed)
    assert not any("checkpoints" in name or name.endswith(".pt") for name in packed)
