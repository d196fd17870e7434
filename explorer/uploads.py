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
from lmcore.text import EOS, count_splits, special_note, text_problem, unknown_shares

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
    tokens ("split"), cut as lmcore.data cuts it (count_splits)."""
    counted = _counted(Path(path))
    train = counted["words"]["train"]
    bare = sum(n for word, n in train.items() if word != EOS and not any(ch.isalnum() for ch in word))
    return {"lines": sum(counted["lines"].values()), "train_tokens": counted["tokens"]["train"],
            "distinct": len(train), "split": {"lines": counted["lines"], "tokens": counted["tokens"]},
            # training words with no letter or digit (punctuation, symbols), of the words (<eos> aside)
            "no_letters": bare / max(1, sum(train.values()) - train[EOS])}


def letters_warning(stats: dict) -> str | None:
    """A text that is mostly punctuation trains, and teaches punctuation: said before it starts (QA
    round 11: a file of punctuation only trained without a word)."""
    share = stats.get("no_letters") or 0.0
    if share < NO_LETTERS_WARN:
        return None
    return (f"{percent(share)} of this file's training words hold no letter or digit (punctuation or symbols): "
            "the model will learn to write those.")


def unknown_share(path: Path, cap: int) -> dict:
    """lmcore.text.unknown_shares of a text corpus under vocab_size `cap`: the share of train and
    valid tokens that become <unk>; with "keep_all", the smallest cap that keeps every training
    word (one more than the distinct words when validation or test hold words training never saw:
    <unk> then takes a place of its own), and "unseen", the shares that are <unk> under that cap,
    which no cap changes. Its word counts are read once per file (text_stats reads them too), and
    each cap costs one sort of the distinct words."""
    shares, whole = _shares(Path(path), cap), _shares(Path(path), None)
    return {**shares, "keep_all": whole["vocab_size"], "unseen": {name: whole[name] for name in ("train", "valid")},
            "special": _counted(Path(path))["special"]}


def _shares(path: Path, cap: int | None) -> dict:
    """unknown_shares under `cap`, or with no cap at all (None), remembered per file and cap."""
    key = (_identity(path), cap)
    if key not in _SHARES:
        words = _counted(path)["words"]
        _SHARES[key] = unknown_shares(words, cap if cap is not None else len(words["train"]) + 1)
        _trim(_SHARES, 32)
    return _SHARES[key]


def split_text(split: dict) -> str:
    """text_stats' "split" in words: the lines and tokens each split really gets (split_sizes keeps
    at least one line for each, so 3 lines split 1/1/1, not 80/10/10)."""
    lines, tokens = split["lines"], split["tokens"]
    parts = [f"{label} {lines[name]:,} line{'s' if lines[name] != 1 else ''} ({tokens[name]:,} tokens)"
             for name, label in (("train", "training the first"), ("valid", "validation the next"),
                                 ("test", "test the last"))]
    return "Split by lines: " + ", ".join(parts) + "."


NO_LETTERS_WARN = 0.5  # past this share of words without a letter or digit, the text is mostly punctuation
UNKNOWN_WARN = 0.10  # a share of <unk> tokens above this gets a warning: the perplexity then says little


def percent(share: float) -> str:
    return f"{share:.0%}" if share >= 0.1 or share == 0 else f"{share:.1%}"


def unknown_note(shares: dict, cap: int) -> tuple[str, str]:
    """unknown_words' note, with lmcore.text.special_note after it when the text writes `<unk>` or
    `<eos>` itself (the command line says the same when a run loads the text)."""
    kind, text = unknown_words(shares, cap)
    special = special_note(shares.get("special") or {})
    return kind, f"{text} {special}" if special else text


def unknown_words(shares: dict, cap: int) -> tuple[str, str]:
    """("warning" or "caption", text) about unknown_share under vocab_size `cap`. <unk> has two
    causes: a cap below the file's distinct words turns the rarer ones into <unk> (raising the cap
    fixes that), and validation words training never saw are <unk> under any cap. Only the cap's
    share is warned about, and the cap that keeps every word counts <unk>'s own place."""
    distinct, unseen = shares["distinct"], shares["unseen"]["valid"]
    never_seen = (f"{percent(unseen)} of validation tokens are words training never saw, read as `<unk>`: "
                  "no cap changes that." if unseen else "")
    if not shares["capped"]:
        return "caption", " ".join(filter(None, (
            f"The vocabulary cap ({cap:,}) keeps all {distinct:,} distinct training words.", never_seen)))
    cut = {name: max(0.0, shares[name] - shares["unseen"][name]) for name in ("train", "valid")}
    text = (f"The vocabulary cap ({cap:,}) keeps {cap - 1:,} of the {distinct:,} distinct training words: "
            f"**{percent(shares['train'])}** of training and **{percent(shares['valid'])}** of validation "
            "tokens become `<unk>`.")
    if unseen:
        caused = (f"{percent(cut['train'])} of training and {percent(cut['valid'])} of validation tokens"
                  if max(cut.values()) >= 0.0005 else "next to none of them")  # below that both read 0.0%
        text += f" The cap causes {caused}; the other {never_seen}"
    keep_all = f"{shares['keep_all']:,} keeps every word"
    if shares["keep_all"] > distinct:  # why the cap that keeps every word is one more than the words
        keep_all += f" ({distinct:,} and `<unk>`, for the words training never saw)"
    if max(cut.values()) <= UNKNOWN_WARN:
        return "caption", f"{text} {keep_all[0].upper()}{keep_all[1:]}."
    return "warning", (text + " Predicting `<unk>` is easy, so the perplexity will look far better than the "
                       f"model is. Raise the vocabulary cap (`vocab_size`): {keep_all}.")


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
