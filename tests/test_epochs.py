"""explorer.epochs: steps per epoch, the one count behind the Compare page's epoch axis and the Train
watch overlay, over summaries built from hand-made files (lmcore.summaries.from_parts)."""

from __future__ import annotations

import pandas as pd
import pytest

from charts import traces, values
from conftest import copy_run, open_app
from explorer import epochs
from lmcore.config import from_dict
from lmcore.presets import resolve
from lmcore.summaries import from_parts

TINY = resolve("tiny").to_dict()  # PTB's first 60,000 tokens, batch 20, bptt 20: 149 steps an epoch


def summary(config: dict, total_steps: int | None = None, **changes):
    config = {**config, **changes}
    return from_parts("20260101-000000-run", "/runs/run", config, {"state": "finished", "total_steps": total_steps},
                      {"total": 1000})


def metrics(rows):
    return pd.DataFrame(rows, columns=["kind", "step", "epoch", "ppl"])


def test_steps_per_epoch_from_status_then_log_then_training_text():
    assert epochs.steps_per_epoch(summary(TINY, 400, epochs=4), metrics([])) == 100
    capped = summary(TINY, 150, epochs=8, max_steps=150)
    lines = metrics([("train", 50, 1, 9.0), ("val", 60, 1, 8.0), ("train", 100, 2, 7.0)])
    assert epochs.steps_per_epoch(capped, lines) == 60      # the last line of epoch 1
    # Capped inside epoch 1: neither the status nor the log knows; the training text's size does.
    inside_first = summary(TINY, 40, max_steps=40)
    assert epochs.steps_per_epoch(inside_first, metrics([("train", 40, 1, 9.0)])) == 149
    assert epochs.steps_per_epoch(summary(TINY, 40, max_steps=40, batch_size=10, bptt=35), metrics([])) == 171
    assert epochs.steps_per_epoch(from_parts("x", "/runs/x", None, {"state": "queued"}, None), metrics([])) is None


def test_a_text_file_run_capped_inside_epoch_1_is_placed_by_its_train_lines(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(f"line {i} has five words\n" for i in range(1000)))  # 6 tokens a line with <eos>
    capped = summary(TINY, 5, dataset=str(corpus), max_steps=5, train_tokens=0)
    # The first 800 lines train: 4,800 tokens, 20 rows of 239 after batchify, 11 full windows of 20.
    assert epochs.train_tokens(from_dict(capped.config)) == 4800
    assert epochs.steps_per_epoch(capped, metrics([])) == 11
    corpus.unlink()
    assert epochs.steps_per_epoch(capped, metrics([])) is None


def test_a_checkpoint_after_an_epochs_last_step_names_that_epoch():
    assert epochs.checkpoint_epoch({"step": 149, "epoch": 2, "window": 0}) == 1     # last.pt after epoch 1
    assert epochs.checkpoint_epoch({"step": 149, "epoch": 1, "window": 149}) == 1   # best.pt, saved before
    assert epochs.checkpoint_epoch({"step": 40, "epoch": 1, "window": 40}) == 1
    assert epochs.checkpoint_epoch({"step": 0, "epoch": 1, "window": 0}) == 1
    assert epochs.checkpoint_epoch({}) is None


def test_fractional_epochs_spread_the_steps():
    lines = metrics([("train", 50, 1, 9.0), ("val", 60, 1, 8.0), ("train", 100, 2, 7.0)])
    spread = epochs.with_fractional_epochs(lines, 60)
    assert spread["epoch"].tolist() == pytest.approx([50 / 60, 1.0, 100 / 60])
    assert epochs.with_fractional_epochs(lines, None) is lines


def test_compare_places_a_run_capped_inside_epoch_1_by_its_steps(trained_runs, monkeypatch, tmp_path):
    """The trained `plain` run is tiny stopped by max_steps=40, inside its first 149-step epoch."""
    plain = copy_run(trained_runs[1]["plain"], tmp_path)
    at = open_app(monkeypatch, tmp_path / "runs", "app_pages/compare.py",
                  state={"compare.selected": [plain.name], "compare.x_axis": "epoch"})
    assert not at.exception, [e.value for e in at.exception]
    drawn = traces(at)
    assert values(drawn["plain validation"]) == pytest.approx([20 / 149, 40 / 149])
    assert max(values(drawn["plain train"])) == pytest.approx(40 / 149)
