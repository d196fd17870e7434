"""lmcore.text_notes: what a user's text will do to a run, said the same by the Train page's upload box
and `lmcore train --set dataset=FILE` (QA round 18: D2 text without spaces, D3 the command line said
nothing, D4 two Unicode spellings of one word, P1 distinct words counted <eos> without saying so)."""

from __future__ import annotations

import random
import unicodedata

from conftest import open_app, texts
from explorer import uploads
from lmcore import cli
from lmcore.text import count_splits
from lmcore.text_notes import text_notes, text_report

TINY = ["--set", "max_steps=2", "--set", "batch_size=4", "--set", "bptt=5", "--set", "eval_batch_size=2",
        "--set", "threads=1", "--no-progress-bar"]


def chinese(path):
    """Lines without spaces, as Chinese is written: each line is one "word" to a whitespace reader."""
    rng = random.Random(0)
    chars = "的有中国天气是在们好这语言我很学习生模型今个"
    path.write_text("\n".join("".join(rng.choice(chars) for _ in range(rng.randint(8, 20))) + "。"
                              for _ in range(300)), encoding="utf-8")
    return path


def french(path):
    """The same words, half of the lines in NFC (é one character) and half in NFD (e + accent)."""
    rng = random.Random(1)
    words = ["café", "élève", "été", "noël", "forêt", "garçon", "le", "la", "et", "un"]
    lines = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(200)]
    path.write_text("\n".join(unicodedata.normalize("NFD" if i % 2 else "NFC", line) for i, line in enumerate(lines)),
                    encoding="utf-8")
    return path


def notes_of(path, cap=2000):
    return text_notes(count_splits(path, words=True), cap)


def test_held_out_words_training_never_saw_and_a_text_without_spaces_are_warned(tmp_path):
    found = dict((text[:30], kind) for kind, text in notes_of(chinese(tmp_path / "zh.txt")))
    unseen = next(text for kind, text in notes_of(tmp_path / "zh.txt") if "never occur in training" in text)
    assert unseen.startswith("**100%** of the validation and test words (`<eos>` aside) never occur in training")
    assert "perplexity will look far better than the model is" in unseen
    spaces = next(text for kind, text in notes_of(tmp_path / "zh.txt") if "separated by spaces" in text)
    assert spaces.startswith("Its lines hold 1.0 words on average")
    assert set(found.values()) >= {"warning"}
    plain = tmp_path / "en.txt"
    plain.write_text("\n".join(f"the cat sat on the mat number {i % 7}" for i in range(100)))
    assert [kind for kind, _ in notes_of(plain)] == ["caption"]       # the cap keeps every word, nothing else


def test_words_in_two_unicode_spellings_are_counted_and_the_text_stays_as_it_is(tmp_path):
    notes = [text for _, text in notes_of(french(tmp_path / "fr.txt"))]
    assert ("6 words (such as “café”) appear in two Unicode spellings (é as one character or e + accent) and "
            "count as different words; save the file NFC-normalised to merge them.") in notes
    # read as is: the vocabulary keeps both spellings, as the runs trained before (a resume needs them)
    assert uploads.text_stats(tmp_path / "fr.txt")["distinct"] == 4 + 2 * 6 + 1


def test_the_upload_box_warns_of_a_text_without_spaces(runs_root, monkeypatch, tmp_path):
    path, stats = uploads.store_upload(chinese(tmp_path / "zh.txt").read_bytes(), runs_root / ".uploads", "zh.txt")
    at = open_app(monkeypatch, runs_root, "app_pages/train.py", {"preset": "tiny", "dataset": str(path)})
    warnings = texts(at.warning)
    assert "of the validation and test words (`<eos>` aside) never occur in training" in warnings
    assert "the model reads words separated by spaces" in warnings
    distinct = stats["distinct"]
    assert f"{distinct:,} distinct training words ({distinct - 1:,} and `<eos>`)" in texts(at.caption)


def test_the_command_line_prints_the_upload_boxs_notes_the_vocabulary_and_the_split(tmp_path, capsys):
    text = chinese(tmp_path / "zh.txt")
    assert cli.main(["train", "--preset", "tiny", "--set", f"dataset={text}", *TINY,
                     "--runs-dir", str(tmp_path / "runs")]) == 0
    err = capsys.readouterr().err
    for line in text_report(count_splits(text, words=True), 2000):     # tiny's cap
        assert line + "\n" in err
    assert "Split by lines: training the first 240 lines" in err and "vocabulary " in err
    assert "warning: 100% of the validation and test words (`<eos>` aside) never occur in training" in err
    assert "warning: Its lines hold 1.0 words on average" in err


def test_choosing_your_own_text_starts_the_prompt_empty_unless_one_was_typed(runs_root, monkeypatch):
    """QA round 18, P4: tiny's English "the" made a Chinese run's samples start from <unk>."""
    at = open_app(monkeypatch, runs_root, "app_pages/train.py", {"preset": "tiny"})
    prompt = at.text_input(key="train.w.sample_prompt")
    assert prompt.value == "the"
    at.radio(key="train.w.dataset").set_value("text").run()
    assert at.text_input(key="train.w.sample_prompt").value == ""
    at.radio(key="train.w.dataset").set_value("ptb").run()
    assert at.text_input(key="train.w.sample_prompt").value == "the"
    at.text_input(key="train.w.sample_prompt").set_value("der").run()
    at.radio(key="train.w.dataset").set_value("text").run()
    assert at.text_input(key="train.w.sample_prompt").value == "der"


def test_the_command_line_starts_a_text_runs_samples_without_the_presets_prompt(tmp_path, capsys):
    import json

    text = french(tmp_path / "fr.txt")
    for extra, expected in (([], ""), (["--set", "sample_prompt=café"], "café")):
        runs = tmp_path / f"runs{len(extra)}"
        assert cli.main(["train", "--preset", "tiny", "--set", f"dataset={text}", *TINY, *extra,
                         "--runs-dir", str(runs)]) == 0
        folder = next(runs.iterdir())
        assert json.loads((folder / "config.json").read_text())["sample_prompt"] == expected


def test_the_command_line_names_the_keys_it_was_given_that_the_data_does_not_read(tmp_path, capsys):
    """QA round 18: `--set train_tokens=5000` on a text file trained on the whole file without a word.
    Only the keys given are named: the preset's own PTB slices (tiny's valid_tokens) are not the user's."""
    text = french(tmp_path / "fr.txt")
    assert cli.main(["train", "--preset", "tiny", "--set", f"dataset={text}", *TINY, "--set", "train_tokens=5000",
                     "--set", "data_seed=3", "--runs-dir", str(tmp_path / "runs")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "does nothing here" in line]
    assert notes == [
        "note: data_seed=3 does nothing here: only the generated corpus reads it, and this run trains on a text file.",
        "note: train_tokens=5000 does nothing here: only the Penn Treebank reads it, and this run trains on a text "
        "file."]
    assert cli.main(["train", "--preset", "tiny", "--set", "dataset=synthetic", "--set", "synthetic_tokens=2000",
                     *TINY, "--set", "vocab_size=50", "--runs-dir", str(tmp_path / "runs")]) == 0
    assert [line for line in capsys.readouterr().err.splitlines() if "does nothing here" in line] == [
        "note: vocab_size=50 does nothing here: the generated corpus has its synthetic_vocab (1,000) words, and "
        "this run trains on the generated corpus."]
