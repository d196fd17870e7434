"""explorer.uploads: a user's text file kept under its hash and counted the way lmcore.data splits it."""

from __future__ import annotations

import hashlib

from explorer.uploads import MAX_UPLOAD_BYTES, MAX_UPLOAD_MB, dataset_label, store_upload, text_stats, upload_name
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
    assert text_stats(path) == {"lines": 20, "train_tokens": len(corpus.train), "distinct": corpus.vocab_size}


def test_the_limit_is_decimal_megabytes_as_the_upload_box_counts(tmp_path):
    """Streamlit's upload box refuses files over max_upload_size * 10**6 bytes (in Linux and macOS
    browsers); the app's check must count the same, so nothing falls between the two."""
    assert MAX_UPLOAD_BYTES == MAX_UPLOAD_MB * 10**6 == 20_000_000
    path, problem = store_upload(b"x" * (MAX_UPLOAD_BYTES + 1), tmp_path, "big.txt")
    assert path is None
    assert problem == "dataset: big.txt is 20.0 MB (20,000,001 bytes); the limit here is 20 MB (20,000,000 bytes)"
