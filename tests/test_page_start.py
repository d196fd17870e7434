"""Start (AppTest): presets with their parameter counts, runs in progress, and getting PTB on a
machine without internet."""

from __future__ import annotations

import socket
from pathlib import Path

from streamlit.testing.v1 import AppTest

from conftest import open_app
from lmcore.runs import create_run


def open_start(monkeypatch, runs_root: Path) -> AppTest:
    at = open_app(monkeypatch, runs_root)
    assert not at.exception, at.exception
    return at


def test_presets_show_their_parameter_counts(monkeypatch, tmp_path):
    at = open_start(monkeypatch, tmp_path / "runs")
    cards = " ".join(m.value for m in at.markdown)
    assert "**tiny** · 1.55M parameters" in cards and "**book** · 13.28M parameters" in cards
    assert [b.label for b in at.button].count("Start now") == 5
    assert any("Nothing is training right now" in c.value for c in at.caption)


def test_runs_in_progress_are_listed(monkeypatch, tmp_path):
    root = tmp_path / "runs"
    create_run({"preset": "tiny", "name": "waiting-in-line"}, root)
    monkeypatch.setattr("lmcore.queue.ensure_worker", lambda root=None: None)  # keep it queued
    at = open_start(monkeypatch, root)
    assert any("waiting-in-line" in p.proto.text and "queued" in p.proto.text for p in at.get("progress"))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_offline_ptb_download_says_so_and_the_generated_corpus_still_works(monkeypatch, tmp_path):
    monkeypatch.setenv("LMCORE_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("LMCORE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LMCORE_PTB_URL", f"http://127.0.0.1:{_closed_port()}/")
    at = open_start(monkeypatch, tmp_path / "runs")
    assert any("Penn Treebank not downloaded yet" in m.value for m in at.markdown)
    next(b for b in at.button if b.label == "Download PTB").click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "could not reach" in errors and "synthetic" in errors
