"""What a user's text file will do to a run, said before it trains: the one set of checks behind the
Train page's upload box (explorer.uploads) and `lmcore train --set dataset=FILE` (lmcore.session).

Each check reads count_splits(path, words=True)'s counts ("counted"), so a file is read once for all.
The notes are markdown (the page's); plain_text() makes a line for a terminal of one.
"""

from __future__ import annotations

import unicodedata

from .text import EOS, SPECIAL, special_note, unknown_shares

NO_LETTERS_WARN = 0.5  # past this share of words without a letter or digit, the text is mostly punctuation
UNKNOWN_WARN = 0.10  # a share of <unk> tokens the cap causes above this gets a warning: the perplexity then says little
UNSEEN_WARN = 0.5   # most held-out words never seen in training: whatever the cause, the perplexity says little
# Lines of one or two "words" this long on average: a text written without spaces between its words
# (Chinese, Japanese, Thai), each line one "word" to a model that reads whitespace-separated words.
LONG_WORDS = (2.0, 8.0)   # (words per line at most, characters per word at least)


def percent(share: float) -> str:
    return f"{share:.0%}" if share >= 0.1 or share == 0 else f"{share:.1%}"


def distinct_text(distinct: int) -> str:
    """A count of distinct training words, which includes `<eos>`, as the vocabulary size V counts it: the
    file itself holds one word fewer (QA round 18: "26 distinct words" of a file of 25)."""
    return f"{distinct:,} distinct training words ({distinct - 1:,} and `<eos>`)"


def file_stats(counted: dict) -> dict:
    """Lines, train tokens and distinct train words (`<eos>` among them, as in the vocabulary), each
    split's lines and tokens ("split"), and the share of training words with no letter or digit."""
    train = counted["words"]["train"]
    bare = sum(n for word, n in train.items() if word != EOS and not any(ch.isalnum() for ch in word))
    return {"lines": sum(counted["lines"].values()), "train_tokens": counted["tokens"]["train"],
            "distinct": len(train), "split": {"lines": counted["lines"], "tokens": counted["tokens"]},
            "no_letters": bare / max(1, sum(train.values()) - train[EOS])}


def shares_under(counted: dict, cap: int, whole: dict | None = None) -> dict:
    """lmcore.text.unknown_shares under vocab_size `cap`, with "keep_all" (the smallest cap that keeps
    every training word: one more than them when validation or test hold words training never saw, for
    <unk>'s own place), "unseen" (the shares <unk> under that cap, which no cap changes) and "special".
    `whole`, the shares with no cap, when already known."""
    words = counted["words"]
    whole = whole or unknown_shares(words, len(words["train"]) + 1)
    return {**unknown_shares(words, cap), "keep_all": whole["vocab_size"],
            "unseen": {name: whole[name] for name in ("train", "valid")}, "special": counted["special"]}


def split_text(split: dict) -> str:
    """The lines and tokens each split really gets (split_sizes keeps at least one line for each, so 3
    lines split 1/1/1, not 80/10/10)."""
    lines, tokens = split["lines"], split["tokens"]
    parts = [f"{label} {lines[name]:,} line{'s' if lines[name] != 1 else ''} ({tokens[name]:,} tokens)"
             for name, label in (("train", "training the first"), ("valid", "validation the next"),
                                 ("test", "test the last"))]
    return "Split by lines: " + ", ".join(parts) + "."


def letters_warning(stats: dict) -> str | None:
    """A text that is mostly punctuation trains, and teaches punctuation: said before it starts (QA
    round 11: a file of punctuation only trained without a word)."""
    share = stats.get("no_letters") or 0.0
    if share < NO_LETTERS_WARN:
        return None
    return (f"{percent(share)} of this file's training words hold no letter or digit (punctuation or symbols): "
            "the model will learn to write those.")


def unknown_note(shares: dict, cap: int) -> tuple[str, str]:
    """unknown_words' note, with lmcore.text.special_note after it when the text writes `<unk>` or
    `<eos>` itself."""
    kind, text = unknown_words(shares, cap)
    special = special_note(shares.get("special") or {})
    return kind, f"{text} {special}" if special else text


def unknown_words(shares: dict, cap: int) -> tuple[str, str]:
    """("warning" or "caption", text) about shares_under's shares under vocab_size `cap`. <unk> has two
    causes: a cap below the file's distinct words turns the rarer ones into <unk> (raising the cap
    fixes that), and validation words training never saw are <unk> under any cap. This note warns of the
    cap's share; unseen_warning of the other, and the cap that keeps every word counts <unk>'s own place."""
    distinct, unseen = shares["distinct"], shares["unseen"]["valid"]
    # "counting each line's <eos>": beside unseen_warning's share of words, which leaves <eos> aside (QA
    # round 18: "50% of validation tokens" read beside "100% of the validation and test words")
    never_seen = (f"{percent(unseen)} of validation tokens, counting each line's `<eos>`, are words training "
                  "never saw, read as `<unk>`: no cap changes that." if unseen else "")
    if not shares["capped"]:
        # QA round 25: "36 distinct training words" beside a parameter count of V = 37: the 37th is <unk>.
        unk = (f"; with `<unk>`, for the validation and test words training never saw, the vocabulary holds "
               f"{shares['vocab_size']:,} words" if shares.get("vocab_size", distinct) > distinct else "")
        return "caption", " ".join(filter(None, (
            f"The vocabulary cap ({cap:,}) keeps all {distinct_text(distinct)}{unk}.",
            never_seen)))
    cut = {name: max(0.0, shares[name] - shares["unseen"][name]) for name in ("train", "valid")}
    text = (f"The vocabulary cap ({cap:,}) keeps {cap - 1:,} of the {distinct_text(distinct)}: "
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


def unseen_share(counted: dict) -> float:
    """The share of held-out words (validation and test, `<eos>` aside) that training never has."""
    words = counted["words"]
    train = words["train"]
    held = [(w, n) for name in ("valid", "test") for w, n in words[name].items() if w != EOS]
    total = sum(n for _, n in held)
    return sum(n for w, n in held if w not in train or w in SPECIAL) / total if total else 0.0


def unseen_warning(counted: dict) -> str | None:
    """Most held-out words unseen in training, whatever the cause (a small or varied text, words not
    separated by spaces): they are all `<unk>`, and the perplexity measures little more than predicting
    it (QA round 18: a Chinese text scored validation perplexity 2.55 with train perplexity about 2,000)."""
    share = unseen_share(counted)
    if share <= UNSEEN_WARN:
        return None
    return (f"**{percent(share)}** of the validation and test words (`<eos>` aside) never occur in training, so "
            "they are read as `<unk>` whatever the vocabulary cap. Predicting `<unk>` is easy, so the perplexity "
            "will look far better than the model is; give more text, or text whose words repeat.")


def spaces_note(counted: dict) -> str | None:
    """Lines of one or two very long "words": a text without spaces between its words."""
    words = counted["words"]
    lines = sum(counted["lines"].values())
    tokens = [(w, n) for counter in words.values() for w, n in counter.items() if w != EOS]
    count = sum(n for _, n in tokens)
    if not count:
        return None
    per_line, length = count / lines, sum(len(w) * n for w, n in tokens) / count
    if per_line > LONG_WORDS[0] or length < LONG_WORDS[1]:
        return None
    return (f"Its lines hold {per_line:.1f} words on average, of {length:.0f} characters each: the model reads "
            "words separated by spaces, so a text written without spaces between its words (Chinese, Japanese, "
            "Thai) makes each line one word. Put a space between the words (a word segmenter does that).")


def unicode_note(counted: dict) -> str | None:
    """Words written in two Unicode forms (é as one character, or e and a combining accent) are two
    words: the text is read as it is, never normalised, so that a vocabulary stays the same on resume."""
    spellings: dict[str, set] = {}
    for counter in counted["words"].values():
        for word in counter:
            if not word.isascii():
                spellings.setdefault(unicodedata.normalize("NFC", word), set()).add(word)
    doubled = sorted(word for word, forms in spellings.items() if len(forms) > 1)
    if not doubled:
        return None
    example = next((f" (such as “{w}”)" for w in doubled if w.isalpha()), "")
    many = len(doubled) != 1
    return (f"{len(doubled):,} word{'s' if many else ''}{example} appear{'' if many else 's'} in two Unicode "
            "spellings (é as one character or e + accent) and count as different words; save the file "
            "NFC-normalised to merge them.")


def text_notes(counted: dict, cap: int | None, shares: dict | None = None) -> list[tuple[str, str]]:
    """Every note on a text file, ("warning" or "caption", markdown) each, in the order they matter:
    the `<unk>` the cap makes (none when `cap` is None: not a valid cap), the `<unk>` or `<eos>` the text
    writes itself, the held-out words training lacks, a text mostly of punctuation, without spaces, with
    words in two Unicode spellings.
    `shares`: shares_under(counted, cap), when already known."""
    notes = [unknown_words(shares or shares_under(counted, cap), cap)] if cap is not None else []
    if special := special_note(counted["special"]):
        notes.append(("caption", special))
    found = (unseen_warning(counted), letters_warning(file_stats(counted)), spaces_note(counted),
             unicode_note(counted))
    return notes + [("warning", text) for text in found if text]


def plain_text(markdown: str) -> str:
    """A note for a terminal: no bold marks (code quotes stay, as the command line writes `<unk>`)."""
    return markdown.replace("**", "")


def text_report(counted: dict, cap: int) -> list[str]:
    """The command line's lines for a text corpus: its size, split and vocabulary, then text_notes."""
    stats, shares = file_stats(counted), shares_under(counted, cap)
    lines = [f"text: {stats['lines']:,} lines, {stats['train_tokens']:,} training tokens, "
             f"{distinct_text(stats['distinct'])}; vocabulary {shares['vocab_size']:,} "
             f"words. {split_text(stats['split'])}"]
    return [plain_text(line) for line in lines] + [
        f"{'warning' if kind == 'warning' else 'note'}: {plain_text(text)}" for kind, text in
        text_notes(counted, cap, shares)]
