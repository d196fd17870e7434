"""Set up shows the generated corpus's entropy floor and bigram floor before training (QA round 18, P5),
the numbers the trainer writes into status.json as floor_ppl."""

from __future__ import annotations

import math

from conftest import open_app, texts
from lmcore.config import Config
from lmcore.data import load_synthetic
from lmcore.synthetic import SyntheticSource, SyntheticSpec, floors


def test_the_floors_are_the_trainers():
    floor, bigram = floors(1000, 0)
    assert floor == load_synthetic(Config(dataset="synthetic", synthetic_tokens=1000)).floor_ppl
    assert bigram == math.exp(SyntheticSource(SyntheticSpec(vocab_size=1000)).bigram_entropy())
    assert floors(20_000, 0)[1] is None     # seconds of work: not on every rerun


def test_set_up_shows_the_floor_for_the_chosen_vocabulary_and_seed(runs_root, monkeypatch):
    at = open_app(monkeypatch, runs_root, "app_pages/train.py", {"preset": "synthetic"})
    floor, bigram = floors(1000, 0)
    assert f"(its entropy floor): **{floor:.1f}**; the best any bigram model" in texts(at.caption)
    assert f"**{bigram:.1f}**" in texts(at.caption)
    at.number_input(key="train.w.synthetic_vocab").set_value(116).run()
    assert f"(its entropy floor): **{floors(116, 0)[0]:.1f}**" in texts(at.caption)
    at.radio(key="train.w.dataset").set_value("ptb").run()
    assert "entropy floor" not in texts(at.caption)
