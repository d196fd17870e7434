"""lmcore.sizes: the vocabulary a config's PTB slices give, counted without torch, equals the one
training builds (QA round 5: a 5,000-token slice showed 34,576 parameters, the run had 23,118)."""

from __future__ import annotations

import pytest

from lmcore import data
from lmcore.presets import PRESETS
from lmcore.sizes import ptb_slice_vocab_size, ptb_vocab_size, vocab_size_for


@pytest.mark.parametrize("train, valid, test, cap", [
    (5000, 0, 0, 2000),          # the QA case: 1,326 words, <unk> for held-out words training lacks
    (15_000, 12_000, 12_000, 9000),
    (37, 50, 50, 10_000),        # so short that validation surely holds unseen words
    (120_000, 500, 500, 10_000),
])
def test_the_counted_vocabulary_is_the_one_training_builds(ptb_dir, train, valid, test, cap):
    cfg = PRESETS["tiny"].config().replace(train_tokens=train, valid_tokens=valid, test_tokens=test, vocab_size=cap)
    size, exact = ptb_slice_vocab_size(cfg)
    assert exact and size == vocab_size_for(cfg) == data.load_corpus(cfg).vocab_size
    assert size <= ptb_vocab_size(train, cap)[0]


def test_without_ptb_it_is_the_bound_and_says_so(monkeypatch):
    monkeypatch.setattr("lmcore.ptb.find_ptb", lambda: None)
    cfg = PRESETS["tiny"].config().replace(train_tokens=5000)
    assert ptb_slice_vocab_size(cfg) == (ptb_vocab_size(5000, 2000)[0], False)
    assert ptb_slice_vocab_size(cfg.replace(train_tokens=0)) == (2000, True)   # the cap binds: exact anyway
