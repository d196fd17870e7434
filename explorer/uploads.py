"""A user's text file as a corpus the app can point a run at: kept under its content hash, and
counted (lines, train tokens, distinct train words) the way lmcore.data will split it.

The user's file name never becomes a path; what cannot be a corpus is refused and not kept.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from lmcore.config import BUILTIN_DATASETS
from lmcore.errors import LmcoreError
from lmcore.text import EOS, split_sizes, text_problem

# Stricter than the engine's 200 MB: the app counts the words itself. In decimal megabytes
# (10**6 bytes), the unit Streamlit's upload widget counts in on Linux and macOS browsers, so
# the widget's "20MB" and this limit are the same number of bytes.
MAX_UPLOAD_MB = 20
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 10**6
# The upload box lets somewhat larger files through, so the page can say in words why it refuses
# them: a file the box itself refuses gets only a red icon, its reason shown on hover.
UPLOAD_BOX_MB = 2 * MAX_UPLOAD_MB
NAME_LIMIT = 200  # characters of an uploaded file's name kept for showing


def text_stats(path: Path) -> dict:
    """Lines, train tokens and distinct train words of a text corpus, split as lmcore.data does
    (split_sizes of the non-empty lines), streaming so a big file costs little memory."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = sum(1 for line in handle if line.strip())
    n_train, _, _ = split_sizes(lines)
    words, tokens, seen = {EOS}, 0, 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            if seen == n_train:
                break
            split = line.split()
            words.update(split)
            tokens, seen = tokens + len(split) + 1, seen + 1
    return {"lines": lines, "train_tokens": tokens, "distinct": len(words)}


def store_upload(content: bytes, uploads: Path, shown_name: str = "the file",
                 limit: int = MAX_UPLOAD_BYTES) -> tuple[Path | None, dict | str]:
    """Keep uploaded bytes as uploads/<sha256>.txt if they can be a corpus.

    Returns (path, text_stats) or (None, why not).
    """
    if len(content) > limit:
        return None, (f"dataset: {shown_name} is {len(content) / 10**6:.1f} MB ({len(content):,} bytes); "
                      f"the limit here is {limit / 10**6:g} MB ({limit:,} bytes)")
    uploads.mkdir(parents=True, exist_ok=True)
    target = uploads / f"{hashlib.sha256(content).hexdigest()}.txt"
    fd, temp = tempfile.mkstemp(dir=uploads, prefix=".incoming-", suffix=".txt")
    temp = Path(temp)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        problem = text_problem(temp)
        stats = None if problem else text_stats(temp)
    except LmcoreError as error:
        problem = str(error)
    if problem:
        temp.unlink(missing_ok=True)
        return None, problem.replace(temp.name, shown_name)
    os.replace(temp, target)
    if shown_name != "the file":
        remember_name(target, shown_name)
    return target, stats


def is_upload(path) -> bool:
    """Whether `path` has the name store_upload gives a file (<sha256>.txt), wherever it lies."""
    return re.fullmatch(r"[0-9a-f]{64}\.txt", Path(path).name) is not None


def remember_name(path: Path, name: str) -> None:
    """Keep the name a file was uploaded under beside it (<sha256>.name), for showing it later: in
    another session, on Compare, in a run's config. The latest upload of the same bytes names it."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-", suffix=".name")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(name[:NAME_LIMIT])
    os.replace(temp, path.with_suffix(".name"))


def upload_name(path) -> str | None:
    """The name `path` (an upload, <sha256>.txt) was uploaded under, or None if none was kept."""
    try:
        return Path(path).with_suffix(".name").read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def dataset_label(dataset: str) -> str:
    """A config's dataset for people: ptb and synthetic as they are, an upload by the name it was
    uploaded under, another text file by its file name. Not a path: it is for showing."""
    if dataset in BUILTIN_DATASETS:
        return dataset
    return upload_name(dataset) or Path(dataset).name
