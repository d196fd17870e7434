"""Words and text files without torch: the vocabulary's special words, how a file is read as
words, and the rules a user's text file must meet. The app's upload check and text views use
these without loading the engine's tensors (lmcore.data builds on them)."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

from .errors import DataError

EOS, UNK = "<eos>", "<unk>"
MAX_TEXT_BYTES = 200 * 1024 * 1024
# utf-8-sig drops the byte-order mark Notepad writes before "UTF-8 with BOM": read as UTF-8 it became part
# of the first word, an invisible duplicate of it in the vocabulary (QA round 13: "\ufeffcat" beside "cat").
TEXT_ENCODING = "utf-8-sig"
SPLITS = ("train", "valid", "test")


def and_join(items: list[str], word: str = "and") -> str:
    """'a', 'a and b', 'a, b and c' (or `word`: 'a, b or c')."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


def shorten(text: str, limit: int = 60) -> str:
    """What someone typed, cut to a line with '…' where it was cut: a message must not echo a page."""
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "…"


def known_spelling(word: str, known) -> str | None:
    """The spelling of `word` that `known` (a vocabulary's words) has: as typed, else in lower case (PTB
    is lower case: "The company" should not start as "<unk> company"), else capitalised (German nouns:
    "käse" for a text that writes "Käse", QA round 18); None when it has none of them."""
    return next((w for w in (word, word.lower(), word[:1].upper() + word[1:].lower()) if w in known), None)


def read_words(path: Path, limit: int = 0) -> list[str]:
    """Whitespace tokens with <eos> closing every line; stop after `limit` tokens if > 0."""
    words: list[str] = []
    with open(path, encoding=TEXT_ENCODING, errors="replace") as handle:
        for line in handle:
            words.extend(line.split() + [EOS])
            if limit and len(words) >= limit:
                return words[:limit]
    return words


def text_digest(path: Path) -> str:
    """The SHA-256 of a text file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def looks_utf16(head: bytes) -> bool:
    """A UTF-16 byte-order mark, or mostly-ASCII text with a NUL every other byte."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    sample = head[:4096]
    return len(sample) >= 16 and (sample[1::2].count(0) > 0.9 * len(sample[1::2])
                                  or sample[0::2].count(0) > 0.9 * len(sample[0::2]))


def text_problem(path: Path) -> str | None:
    """Why a user's file cannot be a corpus (too large, binary, not text, too few lines)."""
    size = path.stat().st_size
    if size == 0:
        return f"dataset: file is empty: {path.name}"
    if size > MAX_TEXT_BYTES:
        return f"dataset: file is {size / 2**20:.0f} MB; the limit is {MAX_TEXT_BYTES // 2**20} MB"
    with open(path, "rb") as handle:
        head = handle.read(65536)
    if looks_utf16(head):   # Windows' "Unicode": "binary" alone did not say what to do (QA round 13)
        return f"dataset: {path.name} looks like UTF-16 text; save it as UTF-8 and give that file"
    if b"\x00" in head:
        return f"dataset: {path.name} looks binary (it contains NUL bytes); give a plain text file"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not merely a character cut at the 64 KiB boundary
            return not_utf8(path)
    return None


def text_lines(path: Path):
    """A user's text file line by line, decoded strictly as it streams: text_problem reads only the first
    64 KiB, and a byte that is not UTF-8 past them (a Latin-1 é at 1 MB) was replaced silently. Such a
    file is refused as one in the head is (DataError, not_utf8), found by a pass its reader makes anyway."""
    with open(path, encoding=TEXT_ENCODING) as handle:
        try:
            yield from handle
        except UnicodeDecodeError:
            raise DataError(not_utf8(path)) from None


def not_utf8(path: Path) -> str:
    """Why a file is not UTF-8 text, with the first line that is not and its byte; it reads the file again
    up to that line, only once it failed. A line ends at a newline byte, which no UTF-8 character holds."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                guess = legacy_word(raw, error.start)
                return (f"dataset: {path.name} is not UTF-8 text (byte 0x{raw[error.start]:02X} on line {number:,}"
                        + (f", “{guess}” if read as Windows-1252 or Latin-1, the likely encoding); save it as "
                           "UTF-8 (an editor's Save As, encoding UTF-8)" if guess else "); save it as UTF-8")
                        + " and give that file")
    return f"dataset: {path.name} is not UTF-8 text; save it as UTF-8 and give that file"


def legacy_word(raw: bytes, at: int) -> str | None:
    """The word around byte `at` of a line, read as Windows-1252 (Latin-1's superset, what Windows and older
    Macs' editors save), when that reads it as a letter or a typographic mark: "café" for b"caf\xe9" names
    the encoding a user has to convert from (QA round 18). One byte is one character there, so `at` is
    the character's place too."""
    line = raw.decode("cp1252", errors="replace").rstrip("\r\n")
    char = line[at] if at < len(line) else ""
    # A Western European text is mostly ASCII with an accent here and there; Chinese in GBK or Russian in
    # Windows-1251 is mostly bytes past 0x7F, which Windows-1252 reads as a string of accented letters.
    if not (char.isalpha() or char in "‘’“”–—…€") or sum(b > 0x7F for b in raw) > 0.3 * len(raw.strip()):
        return None
    start = max(line.rfind(" ", 0, at), line.rfind("\t", 0, at)) + 1
    ends = [i for i in (line.find(" ", at), line.find("\t", at)) if i >= 0]
    word = line[start:min(ends) if ends else len(line)]
    return word if len(word) <= 40 else char


def corpus_problem(path: Path) -> str | None:
    """text_problem, or too few lines to split: all that stops a text file from training, found
    before a run folder is made for it (one pass over its lines)."""
    problem = text_problem(path)
    if problem:
        return problem
    try:
        split_sizes(sum(1 for line in text_lines(path) if line.strip()))
    except DataError as error:
        return str(error)
    return None


def split_sizes(n_lines: int) -> tuple[int, int, int]:
    """(train, valid, test) line counts: first 80% train, next 10% valid, last 10% test (at least one each)."""
    if n_lines < 3:
        raise DataError(f"dataset: needs at least 3 non-empty lines to split into train, valid "
                        f"and test (got {n_lines})")
    n_valid = n_test = max(1, n_lines // 10)
    return n_lines - n_valid - n_test, n_valid, n_test


def count_splits(path: Path, words: bool = False) -> dict:
    """Lines and tokens of each split of a text corpus, cut as split_lines cuts it, streaming so a
    big file costs little memory: {"lines": {split: n}, "tokens": {split: n}}, plus with `words` the
    word counts of each split (Counters), from which unknown_shares reads the vocabulary."""
    n_lines = sum(1 for line in text_lines(path) if line.strip())  # refuses a byte that is not UTF-8
    return count_lines((line for line in text_lines(path) if line.strip()), n_lines, words)


def count_lines(lines, n_lines: int, words: bool = False) -> dict:
    """count_splits of `n_lines` non-empty lines, from any iterable of them (a file's, streamed, or
    the lines lmcore.data already holds)."""
    sizes = dict(zip(SPLITS, split_sizes(n_lines)))
    tokens = dict.fromkeys(SPLITS, 0)
    counts = {name: Counter() for name in SPLITS}
    split, left = iter(SPLITS), 0
    for line in lines:
        if left == 0:
            name = next(split)
            left = sizes[name]
        found = line.split()
        tokens[name] += len(found) + 1
        if words:
            counts[name].update(found)
        left -= 1
    result = {"lines": sizes, "tokens": tokens}
    if words:
        result["special"] = {word: sum(counter[word] for counter in counts.values()) for word in SPECIAL}
        for name, counter in counts.items():
            counter[EOS] += sizes[name]
        result["words"] = counts
    return result


SPECIAL = (UNK, EOS)  # the special words a text may also write itself, as Penn Treebank writes <unk>
MEANING = {UNK: "stands for a word outside the vocabulary, as in Penn Treebank", EOS: "ends a line"}


def special_counts(lines) -> dict:
    """How many times lines of a text write each special word as a word of their own. A line without
    either string is passed over at C speed: a big file without them costs next to nothing."""
    counts = dict.fromkeys(SPECIAL, 0)
    for line in lines:
        if UNK in line or EOS in line:
            for word in line.split():
                if word in counts:
                    counts[word] += 1
    return counts


def special_note(counts: dict) -> str | None:
    """The note for a text that writes `<unk>` or `<eos>` itself (special_counts): they stay the special
    tokens (Penn Treebank writes `<unk>` for its rare words, and must train as before), but a user's own
    text read them so with no word said. None when it writes neither."""
    found = [(word, n) for word in SPECIAL if (n := counts.get(word) or 0)]
    if not found:
        return None
    written = " and ".join(f"`{word}` {'once' if n == 1 else f'{n:,} times'}" for word, n in found)
    stay = ("they stay lmcore's special tokens, not words" if len(found) > 1
            else "it stays lmcore's special token, not a word")
    meaning = "; ".join(f"`{word}` {MEANING[word]}" for word, _ in found)
    return f"This text writes {written}: {stay} of the text ({meaning})."


def vocabulary_from_counts(counts: Counter, cap: int, unseen: bool = False) -> list[str]:
    """The vocabulary lmcore trains with: most frequent first, ties by word so the order is
    reproducible; beyond `cap` words the rest become <unk> (which then takes the last place). With
    `unseen` (validation or test hold words training lacks) <unk> is kept even under the cap: without
    it those words were read as word 0, the most frequent one."""
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    if len(ranked) <= cap and (UNK in ranked or not unseen):
        return ranked
    kept = [w for w in ranked if w != UNK][: cap - 1]
    return kept + [UNK]


def unknown_shares(words: dict, cap: int) -> dict:
    """What vocabulary_from_counts(train, cap) leaves out: the share of train and valid tokens read
    as <unk> (a literal <unk> in the text counts too), the distinct train words it had to keep, and
    the vocabulary's size."""
    train = words["train"]
    unseen = any(w not in train for name in ("valid", "test") for w in words.get(name, ()))
    vocabulary = vocabulary_from_counts(train, cap, unseen)
    known = set(vocabulary) - {UNK}
    shares = {}
    for name in ("train", "valid"):
        total = sum(words[name].values())
        unknown = sum(n for w, n in words[name].items() if w not in known)
        shares[name] = unknown / total if total else 0.0
    kept = set(vocabulary)
    capped = any(w not in kept for w in train)  # under the cap too, when <unk> took the last place
    return {**shares, "distinct": len(train), "capped": capped, "vocab_size": len(vocabulary)}


def split_lines(lines: list[str]) -> dict:
    """The lines split as split_sizes says, in order, as words with <eos> closing each line."""
    n_train, n_valid, _ = split_sizes(len(lines))
    parts = {"train": lines[:n_train], "valid": lines[n_train:n_train + n_valid],
             "test": lines[n_train + n_valid:]}
    return {name: [w for line in chunk for w in line.split() + [EOS]] for name, chunk in parts.items()}
