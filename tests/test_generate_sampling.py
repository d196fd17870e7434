"""lmcore.sampling: which prompt words are unknown and what becomes of them (one rule for the CLI and
the Generate page), and with top-k only the words it could draw listed at each step."""

from __future__ import annotations

import torch

from lmcore.sampling import generate, read_prompt, shown_words, unknown_note, whole_text


def test_unknown_prompt_words_are_read_as_unk_or_left_out_and_the_note_says_which():
    """QA round 8: `lmcore sample` said 'read as <unk>' for a word a vocabulary without <unk> left out."""
    with_unk, without = ["<eos>", "<unk>", "the", "zebra"], ["<eos>", "a", "b"]
    assert read_prompt(with_unk, "the Zebra NASA") == ([2, 3, 1], ["NASA"], True)
    assert read_prompt(without, "a Zebra b") == ([1, 2], ["Zebra"], False)
    assert read_prompt(without, "Zebra") == ([0], ["Zebra"], False)   # nothing left: a sentence's start
    assert unknown_note(["NASA", "Zebra"], True) == "not in the vocabulary (read as <unk>): NASA Zebra"
    assert unknown_note(["Zebra"], False) == "not in the vocabulary (left out: this vocabulary has no <unk>): Zebra"
    assert unknown_note([], True) == ""


def test_top_k_lists_only_the_kept_words():
    probs = torch.tensor([0.5, 0.3, 0.2, 0.0, 0.0, 0.0])
    assert shown_words(probs, 10, 3) == 3 and shown_words(probs, 2, 3) == 2
    assert shown_words(probs, 10, 0) == 6                                 # no top-k: every word may be listed
    assert shown_words(torch.tensor([0.9, 0.1, 0.0, 0.0]), 10, 3) == 3    # a kept word at 0 (a cold temperature)
    assert shown_words(torch.tensor([0.4, 0.2, 0.2, 0.2, 0.0]), 10, 2) == 4   # ties at the cut are all kept


class Uniformish(torch.nn.Module):
    """A stand-in model: the same logits after every word, so every step weighs the same 20 words."""

    def __init__(self, vocab: int):
        super().__init__()
        self.decoder = torch.nn.Linear(1, vocab)
        self.logits = torch.linspace(2, 0, vocab)

    def init_state(self, batch):
        return None

    def forward(self, ids, state):
        return self.logits.expand(ids.shape[0], 1, -1), state


def test_generate_with_top_k_lists_k_words_each_with_a_chance_and_the_whole_text_has_the_prompt():
    words = ["<eos>", "<unk>"] + [f"w{i}" for i in range(18)]
    result = generate(Uniformish(len(words)), words, "w3 Zebra", num_words=6, top_k=5, seed=3)
    for step in result["steps"]:
        assert [w for w, _ in step["top"]] == words[:5] and all(p > 0 for _, p in step["top"])
        assert abs(sum(p for _, p in step["top"]) - 1) < 1e-6 and step["word"] in words[:5]
    assert result["unknown"] == ["Zebra"] and result["unknown_as_unk"] is True
    assert whole_text(result) == "w3 <unk> " + result["text"]
    assert len(generate(Uniformish(len(words)), words, "w3", num_words=2)["steps"][0]["top"]) == 10


def test_lmcore_sample_names_a_left_out_word_as_the_generate_page_does(monkeypatch, capsys, tmp_path):
    """QA round 8: the CLI said 'read as <unk>' for a word a vocabulary without <unk> left out."""
    from lmcore import cli

    words = ["<eos>", "a", "b"]
    monkeypatch.setattr(cli, "_checkpointed_run", lambda *args: tmp_path)
    monkeypatch.setattr("lmcore.checkpoints.load_model", lambda folder, which: (Uniformish(len(words)), words, {}))
    assert cli.main(["sample", str(tmp_path), "--prompt", "a Zebra", "--words", "3"]) == 0
    out, err = capsys.readouterr()
    assert err.strip() == "not in the vocabulary (left out: this vocabulary has no <unk>): Zebra"
    assert out.startswith("a ") and len(out.split()) == 4               # the prompt as read, then 3 words
