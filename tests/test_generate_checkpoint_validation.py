"""Generate's checkpoint caption: each checkpoint shows its own validation perplexity, from the run's
metrics.jsonl at that checkpoint's step (QA round 10: last.pt read 'best validation perplexity 80.4'
while its own was 135.0, hiding the over-fitting), steps with thousands separators, and a note on
what `<unk>` is wherever a text shows it."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import copy_run, open_app, train_run
from explorer import textview
from lmcore.checkpoints import load_checkpoint
from lmcore.jsonl import read_jsonl


@pytest.fixture(scope="module")
def overfit(tmp_path_factory, ptb_dir):
    """A real tiny run that over-fits in a second: best at one epoch, worse at its last."""
    root = tmp_path_factory.mktemp("overfit") / "runs"
    folder = train_run(root, "tiny", "overfit", train_tokens=3000, valid_tokens=2000, test_tokens=2000,
                       epochs=5, lr=0.01)
    val = [r for r in read_jsonl(folder / "metrics.jsonl") if r["kind"] == "val"]
    best = min(val, key=lambda r: r["ppl"])
    assert best["step"] != val[-1]["step"] and val[-1]["ppl"] > best["ppl"]   # the lesson this test needs
    return root, folder, best, val[-1]


def caption(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("`"))


def test_last_shows_its_own_validation_and_where_the_best_is(overfit, monkeypatch):
    root, folder, best, last = overfit
    at = open_app(monkeypatch, root, "app_pages/generate.py", {"run": folder.name})
    shown = caption(at)
    assert shown.startswith(f"`best.pt` · step {best['step']} · epoch {best['epoch']} · "
                            f"validation perplexity {best['ppl']:,.1f}, the lowest so far")
    at.segmented_control(key="generate.which").set_value("last").run()
    shown = caption(at)
    assert (f"`last.pt` · step {last['step']} · epoch {last['epoch']} · validation perplexity {last['ppl']:,.1f} "
            f"(best {best['ppl']:,.1f} at epoch {best['epoch']}, in best.pt) · vocabulary") in shown
    assert "best validation perplexity" not in shown


def test_a_step_reads_with_a_thousands_separator(overfit, monkeypatch, tmp_path):
    """QA round 10: 'best.pt · step 1192'."""
    import torch

    _, folder, best, _ = overfit
    copy = copy_run(folder, tmp_path)
    path = copy / "checkpoints" / "best.pt"
    payload = load_checkpoint(path)
    payload["progress"]["step"] = payload["progress"]["last_eval_step"] = 1192
    torch.save(payload, path)
    at = open_app(monkeypatch, tmp_path / "runs", "app_pages/generate.py", {"run": copy.name})
    assert caption(at).startswith("`best.pt` · step 1,192 · ")


def frame(*validations) -> pd.DataFrame:
    rows = [{"kind": "train", "step": 1, "epoch": 1, "ppl": 900.0}]
    rows += [{"kind": "val", "step": step, "epoch": epoch, "ppl": ppl} for step, epoch, ppl in validations]
    return pd.DataFrame(rows)


def test_a_checkpoint_saved_between_validations_borrows_no_score():
    """A stop saves last.pt mid-epoch: its weights were never validated, so no number is theirs."""
    metrics = frame((149, 1, 88.7), (298, 2, 80.4), (447, 3, 81.3))
    progress = {"step": 542, "epoch": 4, "window": 95, "best_val": 80.4, "last_eval_step": 447}
    assert textview.checkpoint_validation(progress, metrics, False, best_step=298) == (
        "not validated at this step (the last, 81.3, was at step 447; best 80.4 at epoch 2, in best.pt)")
    # A log whose line at the step is missing (cut, or never written) says so rather than guess.
    progress = {"step": 447, "epoch": 4, "window": 0, "best_val": 80.4, "last_eval_step": 447}
    assert textview.checkpoint_validation(progress, frame((298, 2, 80.4)), False, best_step=None) == (
        "not validated at this step (the last, 80.4, was at step 298; best 80.4 so far)")


def test_last_and_best_at_one_step_say_they_are_one_state():
    metrics = frame((149, 1, 88.7), (298, 2, 80.4))
    progress = {"step": 298, "epoch": 3, "window": 0, "best_val": 80.4, "last_eval_step": 298}
    assert textview.checkpoint_validation(progress, metrics, False, best_step=298) == (
        "validation perplexity 80.4, the lowest so far (the same state as best.pt)")
    assert textview.checkpoint_validation(progress, metrics, True) == "validation perplexity 80.4, the lowest so far"


def test_no_validation_yet_and_no_log():
    progress = {"step": 20, "epoch": 1, "window": 20, "best_val": None, "last_eval_step": -1}
    assert textview.checkpoint_validation(progress, frame(), False) == "no validation yet"
    # best.pt without a log still knows its own score: it was saved because that score was the best.
    progress = {"step": 298, "epoch": 3, "window": 0, "best_val": 80.4}
    assert textview.checkpoint_validation(progress, pd.DataFrame(), True) == \
        "validation perplexity 80.4, the lowest so far"


def test_ptbs_n_is_explained_where_it_shows():
    assert textview.number_note(["a", "N", "billion"], "ptb") == (
        "`N` stands for any number: PTB writes every number so.")
    assert textview.number_note(["a", "billion"], "ptb") is None
    assert textview.number_note(["N"], "/uploads/book.txt") is None        # a text's own N is a word


def test_the_unk_note_appears_only_with_unk():
    assert textview.unk_note(["the", "market", "<eos>"], 2000, "ptb") is None
    assert textview.unk_note(["the", "<unk>"], 2000, "ptb") == (
        "`<unk>` stands for every word outside the model's 2,000-word vocabulary (PTB's rarer words); "
        "together they are common, so a small model often picks it.")
    assert "(PTB" not in textview.unk_note(["<unk>"], None, "/uploads/book.txt")
    # Below temperature 1, a text a fifth <unk> is said to repeat it, and why.
    repeating = ["the", "<unk>", "<unk>", "of", "<unk>"]
    assert "Below temperature 1 (here 0.5) the likeliest words are drawn more often still" in textview.unk_note(
        repeating, 2000, "ptb", 0.5)
    assert "Below temperature" not in textview.unk_note(repeating, 2000, "ptb", 1.0)
    assert "Below temperature" not in textview.unk_note(["<unk>"] + ["the"] * 9, 2000, "ptb", 0.5)


def test_generated_text_with_unk_says_what_it_is(overfit, monkeypatch):
    root, folder, _, _ = overfit
    at = open_app(monkeypatch, root, "app_pages/generate.py", {"run": folder.name})
    at.slider(key="generate.temperature").set_value(0.5).run()
    next(b for b in at.button if "Generate" in b.label).click().run()
    assert not at.exception, at.exception
    text = at.code[0].value.split()
    note = "`<unk>` stands for every word outside the model's"
    under_text = next(c.value for c in at.caption if c.value.startswith("**Bold**"))
    assert "<unk>" in text and note in under_text      # a tiny model at 0.5 picks it (QA: 42%)
    at.text_input(key="generate.prompt").set_value("the").run()
    at.slider(key="generate.num_words").set_value(1).run()
    at.text_input(key="generate.seed").set_value(next(str(s) for s in range(50) if first_word(folder, s) != "<unk>"))
    next(b for b in at.button if "Generate" in b.label).click().run()
    under_text = next(c.value for c in at.caption if c.value.startswith("**Bold**"))
    assert "<unk>" not in at.code[0].value and note not in under_text


def first_word(folder, seed: int) -> str:
    from lmcore.checkpoints import load_model
    from lmcore.sampling import generate

    model, words, _ = load_model(folder, "best")
    return generate(model, words, "the", 1, 0.5, 0, seed)["words"][0]


def test_the_sample_history_says_what_unk_is_when_a_sample_shows_it(overfit, monkeypatch):
    root, folder, _, _ = overfit
    at = open_app(monkeypatch, root, "app_pages/generate.py", {"run": folder.name})
    samples = " ".join(s["prompt"] + " " + s["text"] for s in read_jsonl(folder / "samples.jsonl"))
    history = next(c.value for c in at.caption if c.value.startswith("One sample per validation"))
    assert ("<unk>" in samples.split()) == ("`<unk>` stands for" in history)


def test_a_damaged_checkpoint_is_named_damaged_without_pytorchs_unsafe_advice(tmp_path):
    """QA round 13: a garbage best.pt read 'Re-running torch.load with weights_only set to False will likely
    succeed, but it can result in arbitrary code execution': wrong advice for a damaged file."""
    import pickle

    import pytest

    from lmcore.checkpoints import load_checkpoint
    from lmcore.errors import RunError

    (tmp_path / "pickled.pt").write_bytes(pickle.dumps({"model": object()}))   # a foreign pickle
    (tmp_path / "torn.pt").write_bytes(b"PK\x03\x04" + bytes(500))
    for name in ("pickled.pt", "torn.pt"):
        with pytest.raises(RunError) as refused:
            load_checkpoint(tmp_path / name)
        message = str(refused.value)
        assert "is damaged or is not a checkpoint this program wrote" in message, message
        assert "weights_only" not in message and "arbitrary code" not in message and "\n" not in message
