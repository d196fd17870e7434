"""A user's text file as a corpus the app can point a run at: kept under its content hash, and
counted (lines, train tokens, distinct train words) the way lmcore.data will split it.

The user's file name never becomes a path; what cannot be a corpus is refused and not kept.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

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
    return target, stats
