"""Shared fixtures. Tests read PTB from $LMCORE_DATA_DIR (../shared/data by default) and
write runs only under temporary folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("LMCORE_DATA_DIR", str((ROOT / ".." / "shared" / "data").resolve()))


# A config small enough that a few hundred steps take seconds on 2 CPU cores.
SMALL = dict(dataset="ptb", train_tokens=4000, valid_tokens=1000, test_tokens=1000, vocab_size=300,
             layers=2, embed_size=16, hidden_size=16, batch_size=4, bptt=10, epochs=2,
             optimizer="adam", lr=0.01, lr_schedule="plateau", clip=1.0, init="torch",
             eval_batch_size=4, sample_words=5, threads=1)


@pytest.fixture
def small_config():
    from lmcore.config import from_dict, validate

    return validate(from_dict(SMALL))


@pytest.fixture
def runs_root(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("LMCORE_RUNS_DIR", str(root))
    return root
