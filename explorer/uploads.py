"""A user's text file as a corpus the app can point a run at: kept under its content hash, and
counted (lines, train tokens, distinct train words) the way lmcore.data will split it.

The user's file name never becomes a path; what cannot be a corpus is refused and not kept.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from pathlib import Path

from lmcore.config import BUILTIN_DATASETS
from lmcore.errors import LmcoreError
from lmcore.text import count_splits, text_problem
from lmcore.text_notes import (  # noqa: F401  (the notes the page and its tests read from here too)
    distinct_text,
    file_stats,
    letters_warning,
    percent,
    shares_under,
    split_text,
    text_notes,
    unknown_note,
)

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
    """Lines, train tokens and distinct train words of a text corpus, and each split's lines and
    tokens ("split"), cut as lmcore.data cuts it (count_splits): lmcore.text_notes.file_stats."""
    return file_stats(_counted(Path(path)))


def unknown_share(path: Path, cap: int) -> dict:
    """lmcore.text_notes.shares_under of a text corpus under vocab_size `cap`. Its word counts are read
    once per file (text_stats reads them too), and each cap costs a sort of the distinct words."""
    key = (_identity(Path(path)), cap)
    if key not in _SHARES:
        _SHARES[key] = shares_under(_counted(Path(path)), cap)
        _trim(_SHARES, 32)
    return _SHARES[key]


def file_notes(path: Path, cap: int | None) -> list[tuple[str, str]]:
    """lmcore.text_notes.text_notes of a text corpus under `cap` (None: a cap not valid, so no note on it),
    the notes `lmcore train` prints for the same file."""
    return text_notes(_counted(Path(path)), cap, unknown_share(path, cap) if cap is not None else None)


# Word counts of the last files counted (a few MB each) and the shares read from them, keyed by the
# file's identity, not its name: store_upload counts its temp file and then renames it.
_COUNTS: dict = {}
_SHARES: dict = {}


def _identity(path: Path) -> tuple:
    info = path.stat()
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _counted(path: Path) -> dict:
    key = _identity(path)
    if key not in _COUNTS:
        _COUNTS[key] = count_splits(path, words=True)
        _trim(_COUNTS, 2)
    return _COUNTS[key]


def _trim(cache: dict, size: int) -> None:
    while len(cache) > size:
        cache.pop(next(iter(cache)), None)


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


def shown_upload_name(path) -> str | None:
    """upload_name, with the first hex digits of the file's hash after it when another upload in
    the same folder came with the same name: two different notes.txt must not read the same."""
    name = upload_name(path)
    if name and _names_in(Path(path).parent).get(name, 0) > 1:
        return f"{name} ({Path(path).stem[:6]})"
    return name


_NAMES: dict = {}  # an uploads folder -> (its mtime, {name: how many uploads came with it})


def _names_in(folder: Path) -> dict[str, int]:
    """How many uploads in `folder` came with each name, read again only when the folder changed
    (an upload or a new name replaces a file in it, which changes its mtime). A change in the last
    two seconds is read again each time: the clock behind mtimes ticks coarsely, so two uploads a
    few milliseconds apart can leave the same one (git's "racy clean" files)."""
    try:
        stamp = folder.stat().st_mtime_ns
    except OSError:
        return {}
    if _NAMES.get(folder, (None,))[0] != stamp or time.time_ns() - stamp < 2 * 10**9:
        counts: dict[str, int] = {}
        for kept in folder.glob("*.name"):
            if is_upload(kept.with_suffix(".txt")) and (name := upload_name(kept.with_suffix(".txt"))):
                counts[name] = counts.get(name, 0) + 1
        _NAMES[folder] = (stamp, counts)
        _trim(_NAMES, 8)
    return _NAMES[folder][1]


def dataset_label(dataset: str) -> str:
    """A config's dataset for people: ptb and synthetic as they are, an upload by the name it was
    uploaded under (shown_upload_name), another text file by its file name. Not a path: it is for
    showing."""
    if dataset in BUILTIN_DATASETS:
        return dataset
    return shown_upload_name(dataset) or Path(dataset).name
