"""Corpora and batching: PTB's known sizes, user text files, the seed's batchify."""

import pytest
import torch

from conftest import SMALL
from lmcore.config import Config, from_dict
from lmcore.data import (
    EOS,
    PTB_TOKENS,
    UNK,
    batchify,
    build_vocabulary,
    corpus_problems,
    get_batch,
    load_corpus,
    planned_steps,
    read_words,
    split_lines,
    split_sizes,
    split_tokens,
    text_problem,
    train_windows,
    vocab_size_for,
)
from lmcore.errors import DataError
from lmcore.train import Trainer


def test_ptb_has_the_published_sizes():
    corpus = load_corpus(Config(dataset="ptb"))
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (929_589, 73_760, 82_430)
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == tuple(PTB_TOKENS.values())
    assert corpus.vocab_size == 10_000 == vocab_size_for(Config(dataset="ptb"))
    assert corpus.words[0] == "the" and EOS in corpus.words and UNK in corpus.words


def test_ptb_slice_with_a_vocabulary_cap():
    corpus = load_corpus(Config(dataset="ptb", train_tokens=5000, valid_tokens=700, test_tokens=800,
                                vocab_size=300))
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (5000, 700, 800)
    assert corpus.vocab_size == 300 and corpus.words[-1] == UNK
    assert int(corpus.train.max()) < 300


def test_vocabulary_is_most_frequent_first_and_reproducible():
    words = "b a c a b a d".split()
    assert build_vocabulary(words, 10) == ["a", "b", "c", "d"]
    assert build_vocabulary(words, 3) == ["a", "b", UNK]


def test_user_text_split_is_deterministic_and_in_order(tmp_path):
    path = tmp_path / "story.txt"
    path.write_text("".join(f"line {i} word\n" for i in range(20)) + "\n\n")
    cfg = Config(dataset=str(path), vocab_size=8)
    corpus = load_corpus(cfg)
    again = load_corpus(cfg)
    assert torch.equal(corpus.train, again.train)
    # 20 non-empty lines -> 16 train, 2 valid, 2 test; 4 tokens per line with <eos>
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (64, 8, 8)
    assert corpus.vocab_size == 8 and corpus.words[-1] == UNK
    # test lines 18 and 19 are unseen numbers: read as <unk>
    test_words = [corpus.words[i] for i in corpus.test]
    assert test_words == ["line", UNK, "word", EOS] * 2


def test_split_needs_three_lines():
    with pytest.raises(DataError, match="at least 3 non-empty lines"):
        split_lines(["one line"])
    with pytest.raises(DataError, match="at least 3 non-empty lines"):
        split_sizes(2)
    assert split_sizes(3) == (1, 1, 1) and split_sizes(20) == (16, 2, 2) and split_sizes(29) == (25, 2, 2)


def test_bad_text_files_are_explained(tmp_path):
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\x00\x00\x01" * 100)
    assert "looks binary" in text_problem(binary)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9 cr\xe8me\n".encode("latin-1") * 10)
    assert "not UTF-8" in text_problem(latin)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert "empty" in text_problem(empty)
    with pytest.raises(DataError, match="looks binary"):
        load_corpus(Config(dataset=str(binary)))
    for encoding in ("utf-16", "utf-16-le", "utf-16-be"):   # Windows' "Unicode" (QA round 13: "looks binary")
        wide = tmp_path / f"{encoding}.txt"
        wide.write_text("the cat sat on the mat\n" * 20, encoding=encoding)
        assert "looks like UTF-16 text; save it as UTF-8" in text_problem(wide)


def test_a_byte_that_is_not_utf8_past_the_first_64_kib_is_refused_as_one_in_them(tmp_path):
    """text_problem reads the first 64 KiB; a Latin-1 é at 1 MB was replaced silently by every reader.
    The pass each reader makes anyway decodes strictly: the file is refused, naming the line."""
    from lmcore.text import count_splits

    late = tmp_path / "late.txt"
    late.write_bytes(b"the cat sat on the mat\n" * 50_000 + "caf\xe9 au lait\n".encode("latin-1") + b"a dog\n" * 9)
    assert late.stat().st_size > 2**20 and text_problem(late) is None     # the head is fine
    said = ("dataset: late.txt is not UTF-8 text (byte 0xE9 on line 50,001, “café” if read as Windows-1252 or "
            "Latin-1, the likely encoding); save it as UTF-8 (an editor's Save As, encoding UTF-8) and give that file")
    with pytest.raises(DataError) as counted:
        count_splits(late)
    assert str(counted.value) == said
    assert corpus_problems(Config(dataset=str(late))) == [said]           # the Train page's and the CLI's check
    with pytest.raises(DataError, match="is not UTF-8 text"):
        load_corpus(Config(dataset=str(late)))                             # a run on it fails in one line
    head = tmp_path / "head.txt"
    head.write_bytes("caf\xe9 au lait\n".encode("latin-1") * 10)
    assert text_problem(head) == said.replace("late.txt", "head.txt").replace("50,001", "1")  # in the head, the same


def test_a_file_not_in_utf8_names_the_word_as_windows_1252_reads_it_only_where_that_is_likely(tmp_path):
    """QA round 18: the refusal said "byte 0xE9" and left the user to guess which encoding to convert
    from. A Western text (a sparse accent, curly quotes) gets its word as Windows-1252 reads it; Chinese in
    GBK and Russian in Windows-1251, mostly bytes past 0x7F, and a byte no encoding reads as a letter get no
    guess that would be wrong."""
    files = {"fr": "l’école du café\n".encode("cp1252"), "zh": "今天天气很好 我们 学习\n".encode("gbk"),
             "ru": "сегодня хорошая погода\n".encode("cp1251"), "odd": b"abc \x81 def\n"}
    said = {}
    for name, line in files.items():
        (tmp_path / f"{name}.txt").write_bytes(line * 10)
        said[name] = text_problem(tmp_path / f"{name}.txt")
    assert "(byte 0x92 on line 1, “l’école” if read as Windows-1252 or Latin-1, the likely encoding)" in said["fr"]
    for name in ("zh", "ru", "odd"):
        assert "Windows-1252" not in said[name] and said[name].endswith("); save it as UTF-8 and give that file")


def test_batchify_makes_contiguous_columns():
    ids = torch.arange(26)
    streams = batchify(ids, 4)
    assert streams.shape == (6, 4)
    assert streams[:, 0].tolist() == [0, 1, 2, 3, 4, 5]
    assert streams[:, 1].tolist() == [6, 7, 8, 9, 10, 11]
    inputs, targets = get_batch(streams, 0, 4)
    assert torch.equal(targets, streams[1:5]) and torch.equal(inputs, streams[0:4])
    inputs, targets = get_batch(streams, 4, 4)   # the last window is shorter
    assert inputs.shape == (1, 4)
    assert train_windows(streams, 4) == 1


def test_synthetic_corpus_reports_its_floor():
    cfg = Config(dataset="synthetic", synthetic_tokens=5000)
    corpus = load_corpus(cfg)
    assert corpus.vocab_size == vocab_size_for(cfg)
    assert 10 < corpus.floor_ppl < 300
    assert len(corpus.train) == 5000 and len(corpus.valid) == len(corpus.test) == 1000


@pytest.mark.parametrize("changes", [{}, {"max_steps": 25}, {"batch_size": 7, "bptt": 13, "epochs": 3}])
def test_planned_steps_are_the_trainers(changes):
    cfg = from_dict({**SMALL, **changes})
    corpus = load_corpus(cfg)
    trainer = Trainer(cfg, corpus, torch.device("cpu"), [])
    assert planned_steps(cfg, len(corpus.train)) == (trainer.windows, trainer.total_steps)


def test_ptb_growth_table_matches_the_file():
    from lmcore.data import PTB_GROWTH, ptb_vocab_size
    from lmcore.ptb import ensure_ptb, ptb_paths

    words = read_words(ptb_paths(ensure_ptb(download=False))["train"])
    seen, counts = set(), []
    for index, word in enumerate(words, start=1):
        seen.add(word)
        if index % 10_000 == 0:
            counts.append(len(seen))
    assert tuple(counts) == PTB_GROWTH
    assert ptb_vocab_size(60_000, 2000) == (2000, True)       # the tiny preset: the cap binds
    assert ptb_vocab_size(0, 10_000) == (10_000, True)
    size, exact = ptb_vocab_size(15_000, 9000)                 # 3,318 distinct words in 20k tokens at most
    assert not exact and len(set(words[:15_000])) <= size == 3318
    assert load_corpus(Config(dataset="ptb", train_tokens=60_000, vocab_size=2000)).vocab_size == 2000


# ---------------------------------------------------------------- splits too small for their batch


def short_file(tmp_path, lines):
    path = tmp_path / "short.txt"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_a_split_too_small_for_its_batch_is_named_before_training(tmp_path):
    """QA round 4: a 3-line file and a 300,000-word line plus 3 short lines passed every check, then
    failed in batchify ("a split of 4 tokens is too small for batch size 10", validation unnamed)."""
    tiny = from_dict({**SMALL, "batch_size": 20, "bptt": 35, "eval_batch_size": 10})
    three = tiny.replace(dataset=str(short_file(tmp_path, ["the cat sat", "on the mat", "the dog ran"])))
    found = corpus_problems(three)
    assert [line.split(" split")[0] for line in found] == ["dataset: the training", "dataset: the validation",
                                                          "dataset: the test"]
    assert found[0] == ("dataset: the training split (the first 1 of 3 lines, 4 tokens) is too small for batch_size 20 "
                        "and bptt 35: one training window needs 720 tokens (20 streams of 36); add lines to the file "
                        "or lower batch_size or bptt")
    long_line = short_file(tmp_path, [" ".join(f"w{i % 500}" for i in range(300_000)), "the cat sat", "on the mat",
                                      "the dog ran"])
    found = corpus_problems(tiny.replace(dataset=str(long_line)))
    assert found[0] == ("dataset: the validation split (the next 1 of 4 lines, 4 tokens) is too small for "
                        "eval_batch_size 10: evaluation needs 20 tokens (2 rows of 10); add lines to the file or "
                        "lower eval_batch_size")
    assert len(found) == 2 and "the test split (the last 1 of 4 lines, 4 tokens)" in found[1]
    # What the check lets through, batchify takes: at the limit exactly, and one token short it refuses.
    fits = tiny.replace(eval_batch_size=2)
    assert corpus_problems(fits.replace(dataset=str(long_line))) == []
    assert batchify(torch.arange(4), 2).shape == (2, 2)
    with pytest.raises(DataError):
        batchify(torch.arange(3), 2)


@pytest.mark.parametrize("changes,split,remedy", [
    ({"dataset": "ptb", "valid_tokens": 19}, "validation split (valid_tokens=19, 19 tokens)", "raise valid_tokens"),
    ({"dataset": "ptb", "test_tokens": 5}, "test split (test_tokens=5, 5 tokens)", "raise test_tokens"),
    ({"dataset": "ptb", "train_tokens": 700}, "training split (train_tokens=700, 700 tokens)", "raise train_tokens"),
    ({"dataset": "synthetic", "batch_size": 200}, "training split (5,000 tokens)", "raise synthetic_tokens"),
    ({"dataset": "synthetic", "eval_batch_size": 600}, "validation split (1,000 tokens)", "raise synthetic_tokens"),
])
def test_ptb_and_generated_splits_are_checked_the_same_way(changes, split, remedy):
    base = {**SMALL, "train_tokens": 5000, "batch_size": 20, "bptt": 35, "eval_batch_size": 10,
            "synthetic_tokens": 5000}
    cfg = from_dict({**base, **changes})
    found = corpus_problems(cfg)
    assert len(found) >= 1 and any(split in line and remedy in line for line in found), found
    corpus = load_corpus(cfg)  # the trainer would have failed on it: no window, or batchify refuses
    name = split.split(" split")[0]
    ids = {"training": corpus.train, "validation": corpus.valid, "test": corpus.test}[name]
    if name == "training":
        assert planned_steps(cfg, len(ids))[0] == 0
    else:
        with pytest.raises(DataError, match="too small"):
            batchify(ids, cfg.eval_batch_size)
    assert corpus_problems(from_dict({**base, "dataset": cfg.dataset})) == []


def test_split_tokens_are_the_sizes_load_corpus_builds(tmp_path):
    text = short_file(tmp_path, [f"line {i} word" for i in range(23)])
    for cfg in (Config(dataset="ptb", train_tokens=5000, valid_tokens=700, test_tokens=800),
                Config(dataset="synthetic", synthetic_tokens=5000), Config(dataset=str(text))):
        corpus = load_corpus(cfg)
        assert split_tokens(cfg)["tokens"] == {"train": len(corpus.train), "valid": len(corpus.valid),
                                               "test": len(corpus.test)}


def test_a_byte_order_mark_is_not_part_of_the_first_word(tmp_path):
    """QA round 13: Notepad's "UTF-8 with BOM" made '\\ufeffcat' a word beside 'cat'."""
    from lmcore.text import count_splits

    plain, marked = tmp_path / "plain.txt", tmp_path / "marked.txt"
    text = "".join("cat sat on the mat\n" for _ in range(12))
    plain.write_text(text, encoding="utf-8")
    marked.write_text(text, encoding="utf-8-sig")
    assert marked.read_bytes().startswith(b"\xef\xbb\xbf")
    corpora = [load_corpus(Config(dataset=str(path), vocab_size=50)) for path in (plain, marked)]
    assert corpora[0].words == corpora[1].words and "\ufeffcat" not in corpora[1].words
    assert count_splits(plain) == count_splits(marked)
