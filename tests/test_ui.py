"""Shared UI helpers that need no page."""

import time

import ui


def test_eta_counts_training_time_not_the_stopped_spell():
    # resumed after a day: 100 s of training for a quarter of the steps leaves 300 s
    status = {"state": "running", "step": 250, "total_steps": 1000, "epoch": 1,
              "started_at": time.time() - 86_400, "elapsed": 100.0}
    fraction, text = ui.progress_text(status)
    assert fraction == 0.25 and text == "step 250 / 1,000 · epoch 1 · ETA 5:00"


def test_eta_without_elapsed_falls_back_to_the_wall_clock():
    status = {"state": "running", "step": 500, "total_steps": 1000, "started_at": time.time() - 60}
    assert ui.progress_text(status)[1].endswith("ETA 1:00")
    assert "ETA" not in ui.progress_text({**status, "state": "stopped"})[1]
