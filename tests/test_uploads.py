"""explorer.uploads: a user's text file kept under its hash and counted the way lmcore.data splits it."""

from __future__ import annotations

import hashlib

import pytest

from explorer.compare import dataset_name
from explorer.uploads import (
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_MB,
    dataset_label,
    letters_warning,
    split_text,
    store_upload,
    text_stats,
    unknown_note,
    unknown_share,
    upload_name,
)
from lmcore import data
from lmcore.config import Config


def test_store_upload_refuses_what_cannot_be_a_corpus(tmp_path):
    uploads = tmp_path / ".uploads"
    for content, expected in ((b"", "empty"), (b"abc\x00def\n" * 10, "binary"),
                              (b"caf\xe9 au lait\n" * 10, "not UTF-8"), (b"one\ntwo\n", "at least 3"),
                              (b"x" * 2000, "limit")):
        path, problem = store_upload(content, uploads, "mine.txt", limit=1000)
        assert path is None and expected in problem, (content[:10], problem)
        assert ".incoming" not in problem
    assert list(uploads.iterdir()) == []  # nothing refused is kept


def test_store_upload_keeps_good_text_under_its_hash(tmp_path):
    lines = [f"the cat number {i} sat" for i in range(30)] + ["", "a dog"]
    content = "\n".join(lines).encode()
    path, stats = store_upload(content, tmp_path / ".uploads", "../../evil name.txt")
    assert path.parent == tmp_path / ".uploads" and path.read_bytes() == content
    assert path.name == f"{hashlib.sha256(content).hexdigest()}.txt"
    train = data.split_lines([line for line in lines if line.strip()])["train"]
    assert stats["distinct"] == len(data.build_vocabulary(train, 10**6))
    assert stats["train_tokens"] == len(train)
    again, _ = store_upload(content, tmp_path / ".uploads")
    assert again == path and sorted(p.name for p in path.parent.iterdir()) == [path.stem + ".name", path.name]


def test_an_upload_keeps_the_name_it_came_with_for_showing(tmp_path):
    content = "\n".join(f"line {i} of words" for i in range(10)).encode()
    path, _ = store_upload(content, tmp_path / ".uploads", "../../evil <b>name</b>.txt")
    # Only shown (escaped where it is), never a path: the file stays under its hash.
    assert upload_name(path) == dataset_label(str(path)) == "../../evil <b>name</b>.txt"
    store_upload(content, tmp_path / ".uploads", "renamed.txt")      # the same bytes again
    assert dataset_label(str(path)) == "renamed.txt"
    assert dataset_label("ptb") == "ptb" and dataset_label("synthetic") == "synthetic"
    assert dataset_label(str(tmp_path / "corpus.txt")) == "corpus.txt"  # a text file given by path (CLI)


def test_text_stats_counts_the_train_split_of_load_corpus(tmp_path):
    path = tmp_path / "story.txt"
    path.write_text("".join(f"line {i} word\n" for i in range(20)) + "\n\n")
    corpus = data.load_corpus(Config(dataset=str(path), vocab_size=10**6))
    # validation's "16" and "17" are not in training: <unk> joins the vocabulary for them
    assert text_stats(path) == {"lines": 20, "train_tokens": len(corpus.train), "distinct": corpus.vocab_size - 1,
                                "split": {"lines": {"train": 16, "valid": 2, "test": 2},
                                          "tokens": {"train": 64, "valid": 8, "test": 8}}, "no_letters": 0.0}
    assert unknown_share(path, 10**6)["vocab_size"] == corpus.vocab_size


def test_held_out_words_training_never_saw_read_as_unk_not_as_the_most_frequent_word(tmp_path):
    """Under the cap the vocabulary had no <unk>, and encode read every unseen validation or test
    word as id 0, the most frequent training word: the model was scored on predicting 'the'."""
    path = tmp_path / "story.txt"
    path.write_text("the cat sat\n" * 16 + "the dog sat\nthe cat ran\n" + "the cat sat\nthe bird flew\n")
    corpus = data.load_corpus(Config(dataset=str(path), vocab_size=100))
    unk = corpus.words.index("<unk>")
    valid = [corpus.words[i] for i in corpus.valid]
    assert valid == ["the", "<unk>", "sat", "<eos>", "the", "cat", "<unk>", "<eos>"]   # 'dog' and 'ran' read 'the'
    assert [corpus.words[i] for i in corpus.test][4:] == ["the", "<unk>", "<unk>", "<eos>"]   # 'bird', 'flew'
    assert corpus.valid.tolist().count(unk) == 2 and unk == len(corpus.words) - 1
    seen = tmp_path / "seen.txt"                                    # nothing unseen: no <unk> to learn
    seen.write_text("the cat sat\n" * 20)
    assert "<unk>" not in data.load_corpus(Config(dataset=str(seen), vocab_size=100)).words
    assert unknown_share(seen, 100)["vocab_size"] == 4


def test_the_split_is_said_as_the_engine_cuts_it_for_a_small_file(tmp_path):
    """QA round 4: the caption always read "first 80% train, 10% validation, 10% test", while 3 lines
    split 1/1/1 and 4 lines 2/1/1 (split_sizes keeps a line for each)."""
    three, _ = store_upload(b"the cat sat\non the mat\nthe dog ran\n", tmp_path, "tiny3.txt")
    assert split_text(text_stats(three)["split"]) == (
        "Split by lines: training the first 1 line (4 tokens), validation the next 1 line (4 tokens), "
        "test the last 1 line (4 tokens).")
    four, stats = store_upload(("a b c " * 1000 + "\nthe cat sat\non the mat\nthe dog\n").encode(), tmp_path)
    assert split_text(stats["split"]) == (
        "Split by lines: training the first 2 lines (3,005 tokens), validation the next 1 line (4 tokens), "
        "test the last 1 line (3 tokens).")


def test_the_share_of_unknown_words_is_read_as_the_engine_builds_the_vocabulary(tmp_path):
    """QA round 4: a 30,006-word text under tiny's cap of 2,000 trained on 70% <unk> and scored 5.2,
    and nothing said so. The share comes from the vocabulary load_corpus builds, under each cap."""
    lines = [" ".join(f"w{(i * 7 + j) % 900}" for j in range(12)) + " common" for i in range(400)]
    path, _ = store_upload("\n".join(lines).encode(), tmp_path, "many.txt")
    for cap in (50, 400, 2000):
        corpus = data.load_corpus(Config(dataset=str(path), vocab_size=cap))
        unk = corpus.words.index(data.UNK) if data.UNK in corpus.words else None
        shares = unknown_share(path, cap)
        for name in ("train", "valid"):
            ids = getattr(corpus, name).tolist()
            assert shares[name] == pytest.approx(ids.count(unk) / len(ids) if unk is not None else 0.0)
        assert shares["capped"] == (unk is not None)
    kind, text = unknown_note(unknown_share(path, 50), 50)
    assert kind == "warning" and "keeps 49 of the 902 distinct training words" in text
    assert "Raise the vocabulary cap (`vocab_size`): 902 keeps every word" in text
    kind, text = unknown_note(unknown_share(path, 2000), 2000)
    assert kind == "caption" and text == ("The vocabulary cap (2,000) keeps all 902 distinct training words "
                                          "(901 and `<eos>`).")


def test_a_text_that_writes_the_special_words_itself_is_told_how_they_are_read(tmp_path):
    """A literal <unk> or <eos> in a user's text stays the special token (PTB writes <unk> itself), but it
    was read so without a word: the vocabulary note counts them, as words only (`<unk>s` is a word)."""
    lines = [f"the cat number {i} sat" for i in range(27)] + ["a <unk> sat", "<unk> <eos> <unk>s x<eos>", "end"]
    path, _ = store_upload("\n".join(lines).encode(), tmp_path, "mine.txt")
    assert unknown_share(path, 2000)["special"] == {data.UNK: 2, data.EOS: 1}
    kind, text = unknown_note(unknown_share(path, 2000), 2000)
    assert kind == "caption" and text.endswith(
        " This text writes `<unk>` 2 times and `<eos>` once: they stay lmcore's special tokens, not words of the "
        "text (`<unk>` stands for a word outside the vocabulary, as in Penn Treebank; `<eos>` ends a line).")
    assert data.load_corpus(Config(dataset=str(path))).info["special"] == {data.UNK: 2, data.EOS: 1}
    plain, _ = store_upload("\n".join(lines[:27]).encode(), tmp_path, "plain.txt")
    assert "special" not in unknown_note(unknown_share(plain, 2000), 2000)[1]


def test_the_limit_is_decimal_megabytes_as_the_upload_box_counts(tmp_path):
    """Streamlit's upload box refuses files over max_upload_size * 10**6 bytes (in Linux and macOS
    browsers); the app's check must count the same, so nothing falls between the two."""
    assert MAX_UPLOAD_BYTES == MAX_UPLOAD_MB * 10**6 == 20_000_000
    path, problem = store_upload(b"x" * (MAX_UPLOAD_BYTES + 1), tmp_path, "big.txt")
    assert path is None
    assert problem == "dataset: big.txt is 20.0 MB (20,000,001 bytes); the limit here is 20 MB (20,000,000 bytes)"


def test_a_cap_exactly_the_training_words_with_unseen_held_out_words_says_one_became_unk(tmp_path):
    path = tmp_path / "story.txt"
    path.write_text("the cat sat\n" * 16 + "the dog sat\n" * 4)     # training: the cat sat <eos>
    shares = unknown_share(path, 4)
    assert shares["vocab_size"] == 4 and shares["capped"]            # <unk> took the rarest word's place
    assert data.load_corpus(Config(dataset=str(path), vocab_size=4)).vocab_size == 4
    assert data.load_corpus(Config(dataset=str(path), vocab_size=100)).vocab_size == 5   # what the note says V is
    kind, text = unknown_note(unknown_share(path, 100), 100)
    assert kind == "caption" and text == ("The vocabulary cap (100) keeps all 4 distinct training words "
                                          "(3 and `<eos>`); with `<unk>`, for the validation and test words "
                                          "training never saw, the vocabulary holds 5 words. 25% of "
                                          "validation tokens, counting each line's `<eos>`, are words training "
                                          "never saw, read as `<unk>`: no "
                                          "cap changes that.")


def test_two_different_uploads_with_one_name_read_apart(tmp_path):
    uploads = tmp_path / ".uploads"
    first, _ = store_upload(b"the cat sat on the mat\n" * 20, uploads, "notes.txt")
    assert dataset_label(str(first)) == "notes.txt"                  # alone with its name: no hash
    second, _ = store_upload(b"a dog ran in the park\n" * 20, uploads, "notes.txt")
    other, _ = store_upload(b"one two three four\n" * 20, uploads, "other.txt")
    labels = {dataset_label(str(path)) for path in (first, second)}
    assert labels == {f"notes.txt ({first.stem[:6]})", f"notes.txt ({second.stem[:6]})"}
    assert dataset_label(str(other)) == "other.txt"
    assert dataset_name({"dataset": str(second)}) == f"the uploaded notes.txt ({second.stem[:6]})"


def held_out_unseen_text(path):
    """84 distinct training words (the, cat, sat, <eos> and w0..w79 once each); validation's lines
    each hold one word training never saw: 20% of its tokens are <unk> under any cap."""
    train = [f"the cat w{i} sat" for i in range(80)]
    path.write_text("\n".join(train + [f"the cat new{i} sat" for i in range(10)] + ["the cat sat"] * 10) + "\n")
    return path


def training_words(path):
    return {word for line in path.read_text().splitlines()[:80] for word in line.split()} | {"<eos>"}


def test_the_cap_that_keeps_every_word_counts_the_place_unk_takes(tmp_path):
    """QA round 10b: with validation words training never saw, a cap of exactly the 1,721 distinct
    words kept 1,720 (<unk> took a place) and said "Raise the vocabulary cap: 1,721 keeps every word",
    the cap already set; only 1,722 keeps every word, as the engine builds the vocabulary."""
    path = held_out_unseen_text(tmp_path / "unseen.txt")
    shares = unknown_share(path, 84)
    assert shares["distinct"] == 84 and shares["capped"] and shares["keep_all"] == 85
    assert set(data.load_corpus(Config(dataset=str(path), vocab_size=85)).words) == {*training_words(path), "<unk>"}
    assert len(set(data.load_corpus(Config(dataset=str(path), vocab_size=84)).words) - {"<unk>"}) == 83
    for cap in range(2, 120):                      # never "raise the cap" to the cap already set, or past it
        kind, text = unknown_note(unknown_share(path, cap), cap)
        assert ("85 keeps every word (84 and `<unk>`, for the words training never saw)" in text) == (cap < 85), cap
        assert unknown_share(path, cap)["capped"] == (cap < 85)


def test_only_the_share_the_cap_causes_is_warned_words_training_never_saw_are_a_caption(tmp_path):
    """QA round 10b: at the cap that kept all but one word, the 20% of validation tokens that are words
    training never saw set off "Raise the vocabulary cap", which cannot change them; at a cap above
    the words, the same 20% was a caption. Now they are a caption at every cap, said plainly."""
    path = held_out_unseen_text(tmp_path / "unseen.txt")
    kind, text = unknown_note(unknown_share(path, 84), 84)
    assert kind == "caption", text
    assert text == ("The vocabulary cap (84) keeps 83 of the 84 distinct training words (83 and `<eos>`): "
                    "**0.2%** of training and "
                    "**20%** of validation tokens become `<unk>`. The cap causes 0.2% of training and 0% of "
                    "validation tokens; the other 20% of validation tokens, counting each line's `<eos>`, are words "
                    "training never saw, read as "
                    "`<unk>`: no cap changes that. 85 keeps every word (84 and `<unk>`, for the words training "
                    "never saw).")
    kind, text = unknown_note(unknown_share(path, 40), 40)      # 45 of the 80 once-seen words cut: 11%
    assert kind == "warning" and "**11%** of training and **20%** of validation tokens" in text
    assert "The cap causes 11% of training and 0% of validation tokens; the other 20%" in text
    assert text.endswith("Raise the vocabulary cap (`vocab_size`): 85 keeps every word (84 and `<unk>`, "
                         "for the words training never saw).")
    kind, text = unknown_note(unknown_share(path, 85), 85)
    assert kind == "caption" and text == ("The vocabulary cap (85) keeps all 84 distinct training words "
                                          "(83 and `<eos>`); with `<unk>`, for the validation and test words "
                                          "training never saw, the vocabulary holds 85 words. 20% of "
                                          "validation tokens, counting each line's `<eos>`, are words training "
                                          "never saw, read as `<unk>`: no "
                                          "cap changes that.")


def test_a_text_of_mostly_punctuation_is_said_to_teach_punctuation(tmp_path):
    """QA round 11: a file of punctuation only trained without a word of warning."""
    marks, prose = tmp_path / "marks.txt", tmp_path / "prose.txt"
    marks.write_text("".join(f"! ? ... -- ({i}) ;\n" for i in range(20)))       # 1 token in 6 has a digit
    prose.write_text("".join(f"the cat , said {i} .\n" for i in range(20)))      # 2 tokens in 6 have none
    assert text_stats(marks)["no_letters"] == pytest.approx(5 / 6)
    assert letters_warning(text_stats(marks)).startswith("83% of this file's training words hold no letter")
    assert text_stats(prose)["no_letters"] == pytest.approx(2 / 6) and letters_warning(text_stats(prose)) is None
