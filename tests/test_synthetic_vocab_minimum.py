"""A generated vocabulary below the generator's minimum (QA round 18, D1): refused by the config's own
rule in one line, and a run folder an older version made with one never crashes a page."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT, open_app, texts
from lmcore.config import RULES, Config, allowed_text, problems
from lmcore.errors import ConfigError
from lmcore.runs import RunWriter, create_run
from lmcore.synthetic import SyntheticSpec, least_vocab, vocab_size_of

OLD_ERROR = "synthetic vocab_size: must be an integer >= 116 for 5 topics, got 60"


def test_the_rule_holds_the_generators_real_minimum():
    least = least_vocab(SyntheticSpec.topics)
    assert least == 116 and RULES["synthetic_vocab"].low == least
    assert vocab_size_of(SyntheticSpec(vocab_size=least)) == least
    with pytest.raises(ConfigError):
        vocab_size_of(SyntheticSpec(vocab_size=least - 1))
    assert "116 <= synthetic_vocab" in allowed_text("synthetic_vocab")
    assert "116" in RULES["synthetic_vocab"].help
    found = problems(Config(dataset="synthetic", synthetic_vocab=60))
    assert found == ["synthetic_vocab: must be at least 116 (got 60); allowed: 116 <= synthetic_vocab <= 20,000"]


def test_the_cli_refuses_it_in_one_line_and_makes_no_run_folder(tmp_path):
    runs = tmp_path / "runs"
    for command in (["train", "--preset", "synthetic", "--runs-dir", str(runs)], ["params", "--preset", "synthetic"]):
        done = subprocess.run([sys.executable, "-m", "lmcore", *command, "--set", "synthetic_vocab=60"],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "synthetic_vocab: must be at least 116 (got 60)" in done.stderr
    assert not runs.exists() or not any(runs.iterdir())


def old_bad_run(root):
    """A failed run folder as an older version left it: synthetic_vocab=60 in its config."""
    folder = create_run({"preset": "synthetic", "dataset": "synthetic", "name": "small vocabulary",
                         "max_steps": 5}, root)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "synthetic_vocab": 60}))
    RunWriter(folder).status(state="failed", error=OLD_ERROR)
    return folder


def no_traceback(at):
    assert not at.exception, [e.value for e in at.exception]


def open_on_bad_run(monkeypatch, tmp_path, page: str, link: str):
    """`page` linked (`link`=id) to old_bad_run's folder: no traceback, and its warnings as read."""
    folder = old_bad_run(tmp_path / "runs")
    at = open_app(monkeypatch, tmp_path / "runs", f"app_pages/{page}.py", {link: folder.name})
    no_traceback(at)
    return at, texts(at.warning).replace("\\", "")


def test_compare_with_an_old_bad_run_ticked_does_not_crash(monkeypatch, tmp_path):
    open_on_bad_run(monkeypatch, tmp_path, "compare", "runs")


def test_watch_and_edit_a_copy_of_an_old_bad_run_say_what_is_wrong(monkeypatch, tmp_path):
    at, said = open_on_bad_run(monkeypatch, tmp_path, "train", "run")
    assert "config breaks a rule: synthetic_vocab: must be at least 116 (got 60)" in said
    assert not [b for b in at.button if b.label in ("Resume", "Start over")]   # it would fail the same way
    next(b for b in at.button if b.label == "Edit a copy").click().run()
    no_traceback(at)
    said = texts(at.success).replace("\\", "")
    assert "`synthetic_vocab` must be at least 116 (got 60)" in said and "back to its default, 1000" in said
    assert next(n for n in at.number_input if n.label == "Generated vocabulary").value == 1000


def test_generate_names_what_is_wrong_with_an_old_bad_run(monkeypatch, tmp_path):
    _, said = open_on_bad_run(monkeypatch, tmp_path, "generate", "run")
    assert "its config breaks a rule: synthetic_vocab: must be at least 116 (got 60)" in said
    assert "Start over on the Train page trains it again" not in said.replace("**", "")



def test_set_up_with_a_generated_vocabulary_under_the_minimum_names_it_and_keeps_its_start_box(monkeypatch,
                                                                                                  tmp_path):
    """QA round 18: 115 typed on Set up still ended the tab in a traceback; the count reached the generator."""
    from ui.train_state import WIDGET

    at = open_app(monkeypatch, tmp_path / "runs", "app_pages/train.py", {"preset": "synthetic"})
    at.number_input(key=WIDGET + "synthetic_vocab").set_value(115).run()
    assert not at.exception
    assert "synthetic_vocab: must be at least 116 (got 115)" in " ".join(e.value for e in at.error)
    assert "Fix the problems above to count the parameters." in [i.value for i in at.info]
    assert any(b.label == "Start training" and b.disabled for b in at.button)
