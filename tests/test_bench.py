"""The benchmark runs every placement beside the plain nn.LSTM reference and reports ratios."""

import json
import subprocess
import sys

from conftest import ROOT


def test_bench_json_has_every_placement_and_ratios():
    out = subprocess.run([sys.executable, "-m", "lmcore", "bench", "--sizes", "16,24", "--steps", "2",
                          "--vocab", "50", "--bptt", "5", "--batch", "3", "--json", "--autograd-loop"],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    report = json.loads(out.stdout)
    assert report["device"].startswith("cpu") and report["threads"] >= 1
    for size in ("16", "24"):
        rows = report["sizes"][size]
        assert rows["reference"]["ratio"] == 1.0
        for name in ("none", "vertical", "horizontal", "variational", "variational, autograd loop"):
            assert rows[name]["tokens_per_s"] > 0 and rows[name]["ratio"] > 0
        assert rows["eval"]["tokens_per_s"] > 0 and rows["sampling"]["words_per_s"] > 0


def test_bench_text_output():
    out = subprocess.run([sys.executable, "-m", "lmcore", "bench", "--sizes", "16", "--steps", "1", "--vocab", "50",
                          "--bptt", "4", "--batch", "2", "--placements", "vertical"],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    assert "vs reference" in out.stdout and "vertical" in out.stdout and "reference" in out.stdout
