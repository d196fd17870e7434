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


def train_run(root: Path, preset: str, name: str, **changes) -> Path:
    """Really train `preset` (with `changes`) into a run folder under `root`, in-process."""
    from lmcore.presets import resolve
    from lmcore.runs import create_run
    from lmcore.session import run

    cfg = resolve(preset, overrides={"name": name, "threads": 1, **changes})
    folder = create_run(cfg.to_dict(), root, label=name)
    run(folder, show_progress=False)
    return folder


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory):
    """Three real, finished runs for the app's tests: tiny without and with dropout, and the
    generated corpus (which has a floor). A few dozen steps each: seconds, not minutes."""
    root = tmp_path_factory.mktemp("trained") / "runs"
    folders = {
        "plain": train_run(root, "tiny", "plain", max_steps=40, eval_every=20),
        "variational": train_run(root, "tiny", "variational", max_steps=40, eval_every=20, dropout=0.5,
                                 dropout_placement="variational"),
        "synthetic": train_run(root, "synthetic", "synthetic", max_steps=30, eval_every=15, layers=1,
                               embed_size=32, hidden_size=32, synthetic_tokens=20_000),
    }
    return root, folders


def open_app(monkeypatch, root: Path, page: str | None = None, query: dict | None = None,
             state: dict | None = None):
    """app.py in AppTest over the runs under `root`, on `page` (e.g. "pages/train.py"), with
    URL query params and session state set before the first run."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("LMCORE_RUNS_DIR", str(root))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if page:
        at.switch_page(page)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    for key, value in (state or {}).items():
        at.session_state[key] = value
    return at.run()


def copy_run(folder: Path, tmp_path: Path) -> Path:
    """A copy of a trained run under tmp_path/runs, safe to damage."""
    import shutil

    target = tmp_path / "runs" / folder.name
    shutil.copytree(folder, target)
    return target
