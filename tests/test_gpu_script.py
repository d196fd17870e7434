"""scripts/gpu_check.sh, dry-run on the CPU with a tiny config: it must work before it meets a GPU."""

import json
import os
import subprocess

from conftest import ROOT


def test_gpu_check_dry_run_on_cpu(tmp_path):
    env = {**os.environ, "GPU_CHECK_DEVICE": "cpu", "GPU_CHECK_PRESETS": "tiny",
           "GPU_CHECK_SET": "max_steps=24 eval_every=12 threads=1", "GPU_CHECK_SIZES": "16",
           "GPU_CHECK_SECONDS": "300", "PYTHON": str(ROOT / ".venv" / "bin" / "python")}
    if not os.path.exists(env["PYTHON"]):
        env["PYTHON"] = "python3"
    done = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    bench = json.loads((tmp_path / "bench.json").read_text())
    assert set(bench["sizes"]["16"]) >= {"reference", "none", "vertical", "horizontal", "variational"}
    for preset in ("tiny",):
        result = json.loads((tmp_path / f"{preset}.json").read_text())
        assert result["state"] == "finished" and result["config"]["preset"] == preset
        assert result["test_ppl"] > 1 and result["best_val_ppl"] > 1
        assert [e["epoch"] for e in result["epochs"]] == [1]  # 24 of 149 steps, evaluated twice
        assert (tmp_path / f"{preset}.png").stat().st_size > 1000
        summary = json.loads((tmp_path / f"{preset}.summary.json").read_text())
        assert summary["test_ppl"] == result["test_ppl"]
