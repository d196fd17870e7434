"""A run whose validation and test text is mostly `<unk>` says so after it trained, on Watch, Compare
and the command line, not only in the upload box (QA round 18: a Chinese text, one "word" a line,
scored validation perplexity 2.55 beside a train perplexity of 2,000 and read second best on Compare)."""

from __future__ import annotations

import json
import random

import pytest

from conftest import SMALL, open_app, texts, train_run
from lmcore import cli
from lmcore.runs import create_run, read_status
from lmcore.session import run
from lmcore.summaries import summarize


@pytest.fixture
def unspaced(tmp_path, ptb_dir):
    """A trained run on 300 lines of one long "word" each: every held-out word is unseen."""
    rng = random.Random(0)
    text = tmp_path / "unspaced.txt"
    text.write_text("\n".join("".join(rng.choice("abcdefghij") for _ in range(14)) for _ in range(300)) + "\n")
    root = tmp_path / "runs"
    folder = create_run({**SMALL, "dataset": str(text), "max_steps": 6, "eval_every": 3}, root, label="unspaced")
    run(folder, show_progress=False)
    plain = train_run(root, "tiny", "plain", max_steps=6, eval_every=3)  # 22% of its held-out words: no note
    return root, folder, plain


def test_its_status_records_the_share_and_every_view_says_what_it_means(unspaced, monkeypatch, capsys):
    root, folder, plain = unspaced
    assert read_status(folder)["held_out_unk"] == 1.0
    assert read_status(plain)["held_out_unk"] == pytest.approx(0.222, abs=0.001)
    note = summarize(folder).unknown_note
    assert note == ("100% of its validation and test words are <unk>, which is easy to predict: its perplexity "
                    "looks far better than the model is")
    assert summarize(plain).unknown_note is None

    at = open_app(monkeypatch, root, "app_pages/train.py", query={"run": folder.name})
    assert not at.exception
    assert "100% of its validation and test words are `<unk>`" in texts(at.warning)
    at = open_app(monkeypatch, root, "app_pages/train.py", query={"run": plain.name})
    assert "validation and test words are" not in texts(at.warning)

    at = open_app(monkeypatch, root, "app_pages/compare.py")
    notes = at.dataframe[0].value.set_index("id")["note"]
    assert notes[folder.name] == note and notes.isna()[plain.name]

    assert cli.main(["runs", "--runs-dir", str(root), "--json"]) == 0
    records = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert records[folder.name]["warning"] == note and records[plain.name]["warning"] is None
