"""A user's text file as a corpus the app can point a run at: kept under its content hash, and
counted (lines, train tokens, distinct train words) the way lmcore.data will split it.

The user's file name never becomes a path; what cannot be a corpus is refused and not kept.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from lmcore.text import EOS, split_sizes, text_problem
from lmcore.errors import LmcoreError

MAX_UPLOAD_MB = 20  # stricter than the engine's 200 MB: the app counts the words itself


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
                 limit: int = MAX_UPLOAD_MB * 2**20) -> tuple[Path | None, dict | str]:
    """Keep uploaded bytes as uploads/<sha256>.txt if they can be a corpus.

    Returns (path, text_stats) or (None, why not).
    """
    if len(content) > limit:
        return None, f"dataset: {shown_name} is {len(content) / 2**20:.1f} MB; the limit here is {limit / 2**20:.0f} MB"
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
    return target, stats
