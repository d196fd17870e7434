"""Generated text as people read it: `<eos>` as a line break, markdown-safe words, the
sample history of a run next to its validation perplexity, and one step's top words.

Pure functions of words, records and frames; the Generate and Train pages lay them out.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata

import pandas as pd

from lmcore.text import EOS, UNK, known_spelling

LINE_BREAK = "  \n"  # markdown: two spaces and a newline end a line inside a paragraph
_PUNCTUATION = set(string.punctuation)


def md_escape(text: str) -> str:
    """Text shown literally by st.markdown: every ASCII punctuation mark backslash-escaped, so
    `<unk>`, `$`, `*` or `--` (model output is full of them) show as themselves instead of as
    HTML, LaTeX or emphasis."""
    return "".join("\\" + ch if ch in _PUNCTUATION else ch for ch in text)


# Generated text may be right-to-left (Arabic, Hebrew). A sample box's key starts with this: ui/app.css
# gives its lines `unicode-bidi: plaintext`, the CSS of dir="auto" for each line, so an Arabic line reads
# right to left with its ↵ at its end, and the markdown (with md_escape's escaping) stays as it is.
SAMPLE_BOX = "sample-text-"
ISOLATE, POP_ISOLATE = "\u2068", "\u2069"   # FIRST STRONG ISOLATE ... POP DIRECTIONAL ISOLATE


def isolate(text: str) -> str:
    """`text` set apart from the sentence around it for the bidi algorithm: a right-to-left word in an
    English sentence keeps its quotes and the numbers after it where they were written."""
    return f"{ISOLATE}{text}{POP_ISOLATE}"


def isolated_name(name: str) -> str:
    """A run's name isolated when it holds right-to-left letters, as it is followed by the id's tail or a
    state: "تجربة · 8e23" drew the tail's digit inside the Arabic, "8 · تجربةe23" (QA round 18, D5).
    Other names stay as typed, so nothing changes where nothing could go wrong."""
    rtl = any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in name)
    return isolate(name) if rtl else name


def unisolated(text: str) -> str:
    """`text` without isolated_name's marks: for files a user takes away (a CSV)."""
    return text.replace(ISOLATE, "").replace(POP_ISOLATE, "")


def no_latex(text: str) -> str:
    """Markdown with its `$` signs kept as dollars instead of opening LaTeX (for messages that quote
    a user's value or file name); the rest of the markdown still works."""
    return text.replace("$", "\\$")


def to_markdown(words: list[str], prompt: list[str] | None = None, eos_mark: str = "") -> str:
    """The prompt (bold) and `words` as markdown, with a line break wherever `<eos>` was,
    after `eos_mark` (say ↵) when one is given."""
    tokens = [(w, True) for w in (prompt or [])] + [(w, False) for w in words]
    lines, line = [], []
    for word, is_prompt in tokens:
        if word == EOS:
            lines.append(line)
            line = []
            continue
        text = md_escape(word)
        line.append(f"**{text}**" if is_prompt else text)
    lines.append(line)
    end = f" {eos_mark}" if eos_mark else ""
    return (end + LINE_BREAK).join(" ".join(parts) for parts in lines).strip() or "*(only line breaks)*"


def sample_markdown(record: dict) -> str:
    """A record of samples.jsonl for st.markdown: prompt in bold, every <eos> a ↵ and a line break;
    '' for an empty sample (sample_words = 0 and no prompt)."""
    words, prompt = str(record.get("text", "")).split(), str(record.get("prompt") or "").split()
    if prompt == [EOS]:  # no prompt: the start of a sentence, not a line of its own (QA round 18: a lone ↵)
        prompt = []
    return to_markdown(words, prompt, eos_mark="↵") if words or prompt else ""


SMALLEST_PERCENT = 0.001  # below it a bar label reads "<0.001%": 3 digits of 6.76e-09% are noise to a reader


# A typed word's pieces as PTB writes them: clitics apart ("it 's", "do n't"), a number whole (PTB
# writes every number N), a word with its inner hyphens and dots ("u.s.", "fast-food"), a mark alone.
PIECES = re.compile(r"\w+(?=n't\b)|n't\b|'(?:s|re|ve|ll|d|m)\b|\d+(?:[.,]\d+)*|\w+(?:[-.]\w+)*|[^\w\s]",
                    re.IGNORECASE)
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def spaced_suggestions(unknown: list[str], words: list[str]) -> dict[str, str]:
    """{typed word: its pieces that the vocabulary knows (in another case too: known_spelling), spaced;
    '' where the typed word is punctuation the text never writes} for unknown prompt words. The prompt splits at spaces
    only, and a text writes punctuation and clitics as words of their own (`said ,`, PTB's `it 's`) or
    not at all, and PTB every number as `N` (QA round 12: `it's`, `economy's`, `$5` got no tip)."""
    known = set(words)
    out = {}
    for word in unknown:
        pieces = ["N" if NUMBER.fullmatch(piece) and "N" in known else piece for piece in PIECES.findall(word)]
        kept = [piece for piece in pieces if known_spelling(piece, known) is not None]
        fix = " ".join(kept)
        if any(re.match(r"\w", piece) for piece in kept) and fix != word:  # not "," alone for "zzz,"
            out[word] = fix
        elif pieces and not any(re.match(r"\w", piece) for piece in pieces):
            out[word] = ""   # punctuation only, none of it a word here
    return out


def prompt_tip(suggestions: dict[str, str]) -> str:
    """The caption under the unknown words' warning: what to type instead of each."""
    tips = [f"`{fix}` for `{typed}`" if fix else f"leave out `{typed}`" for typed, fix in suggestions.items()]
    return ("The prompt splits at spaces only, and this text writes punctuation as words of its own or not at "
            "all" + (", and every number as `N`" if any("N" in fix.split() for fix in suggestions.values()) else "")
            + ": " + ("try " if any(suggestions.values()) else "") + ", ".join(tips) + ".")


def fmt_prob(p: float) -> str:
    """A probability as a percentage with 3 significant digits: 14.3%, 0.43%, 0.00512%; "<0.001%"
    below that (a cold temperature leaves most words at 1e-9%, which .3g writes in e-notation)."""
    percent = p * 100
    return f"<{SMALLEST_PERCENT:g}%" if 0 < percent < SMALLEST_PERCENT else f"{percent:.3g}%"


def percent_tickformat(highest: float) -> str:
    """A plotly (d3) tick format for a probability axis from 0 to `highest`: as many decimals as ticks
    about a tenth of the range apart need to read apart, trailing zeros dropped (0%, 0.5%, 1%, 1.5%).
    A fixed ".0%" read "0% 0% 0% 1% 1%" when a hot temperature leaves every word under 2%."""
    if not highest > 0:
        return ".0%"
    decimals = max(0, -math.floor(math.log10(highest * 100 / 10)))
    return f".{decimals}~%"


def context(prompt: list[str], words: list[str], position: int, width: int = 8) -> str:
    """The last `width` words the model had read before choosing generated word `position`."""
    before = (list(prompt) + list(words[:position]))[-width:]
    text = " ".join("↵" if w == EOS else w for w in before)
    return ("… " if len(prompt) + position > width else "") + text


def top_words(step: dict) -> pd.DataFrame:
    """One step's top words with probabilities, plus the chosen word if it was not among them.

    Columns: word, probability, chosen (bool), label (the word, marked when chosen).
    """
    rows = [{"word": w, "probability": p} for w, p in step["top"]]
    if step["word"] not in {r["word"] for r in rows}:
        rows.append({"word": step["word"], "probability": step["prob"]})
    frame = pd.DataFrame(rows)
    frame["chosen"] = frame["word"] == step["word"]
    frame["label"] = [f"▶ {w}" if c else w for w, c in zip(frame["word"], frame["chosen"])]
    return frame


def sample_history(samples: list[dict], metrics: pd.DataFrame) -> list[dict]:
    """Each sample from samples.jsonl with the validation perplexity logged at its step (or None).

    Ordered by step; the trainer writes the validation line just before the sample it takes.
    """
    val = metrics[metrics["kind"] == "val"] if not metrics.empty else metrics
    ppl_at = {int(s): float(p) for s, p in zip(val.get("step", []), val.get("ppl", []))
              if isinstance(p, (int, float)) and math.isfinite(p)}
    out = []
    for sample in sorted(samples, key=lambda s: s.get("step") or 0):
        if not isinstance(sample.get("text"), str):
            continue
        step = sample.get("step")
        out.append({"step": step, "epoch": sample.get("epoch"), "prompt": sample.get("prompt", ""),
                    "temperature": sample.get("temperature"), "text": sample["text"],
                    "val_ppl": ppl_at.get(step) if isinstance(step, int) else None})
    return out


# ---------------------------------------------------------------- a checkpoint's validation


def validation_at(metrics: pd.DataFrame, step) -> dict | None:
    """The validation line logged at `step` as {"step", "epoch", "ppl"}, or None. A resume cuts the
    log back to its checkpoint, so a step has at most one (the last one wins if a log holds two)."""
    if metrics.empty or "kind" not in metrics or not isinstance(step, int):
        return None
    rows = metrics[(metrics["kind"] == "val") & (metrics["step"] == step)]
    if rows.empty:
        return None
    row = rows.iloc[-1]
    epoch = row.get("epoch")
    return {"step": step, "epoch": int(epoch) if pd.notna(epoch) else None, "ppl": float(row["ppl"])}


def last_validation_before(metrics: pd.DataFrame, step: int) -> dict | None:
    """The latest validation line logged before `step`, or None."""
    if metrics.empty or "kind" not in metrics:
        return None
    earlier = metrics[(metrics["kind"] == "val") & (metrics["step"] < step)]
    return validation_at(metrics, int(earlier["step"].iloc[-1])) if not earlier.empty else None


def checkpoint_validation(progress: dict, metrics: pd.DataFrame, is_best_file: bool,
                          best_step: int | None = None) -> str:
    """What a checkpoint's own weights scored on validation, for its caption: 'validation perplexity
    135.0 (best 80.4 at epoch 2, in best.pt)'. The number is the run's validation line at the
    checkpoint's step, and only when its payload says that step was validated (`last_eval_step`): the
    trainer validates before it saves, so that line scored these very weights. A last.pt saved between
    validations (a stop) says so instead of borrowing an earlier score. `best_step`: best.pt's step."""
    from explorer.perplexity import format_ppl  # here: explorer.perplexity imports this module

    step, best_val = progress.get("step"), progress.get("best_val")
    own = validation_at(metrics, step) if progress.get("last_eval_step", step) == step else None
    if is_best_file:
        # best.pt is saved when a validation improves on the best, so its best_val is its own score.
        score = own["ppl"] if own else best_val
        return f"validation perplexity {format_ppl(score)}, the lowest so far" if score is not None \
            else "no validation logged"
    if own and best_step == step:
        return f"validation perplexity {format_ppl(own['ppl'])}, the lowest so far (the same state as best.pt)"
    best = validation_at(metrics, best_step) if best_step is not None else None
    if best:
        at_epoch = f" at epoch {best['epoch']}" if best["epoch"] is not None else f" at step {best['step']:,}"
        best_part = f"best {format_ppl(best['ppl'])}{at_epoch}, in best.pt"
    else:
        best_part = f"best {format_ppl(best_val)} so far" if best_val is not None else ""
    if own:
        return f"validation perplexity {format_ppl(own['ppl'])}" + (f" ({best_part})" if best_part else "")
    earlier = last_validation_before(metrics, step) if isinstance(step, int) else None
    if earlier is None and best_val is None:
        return "no validation yet"
    said = [f"the last, {format_ppl(earlier['ppl'])}, was at step {earlier['step']:,}"] if earlier else []
    return "not validated at this step (" + "; ".join(said + ([best_part] if best_part else [])) + ")"


# ---------------------------------------------------------------- <unk> in generated text

def text_notes(words, vocabulary_size: int | None, dataset: str | None, temperature: float | None = None) -> list[str]:
    """What the special words a text shows stand for (`<unk>`, PTB's `N`), for the caption under it."""
    words = list(words)
    return [note for note in (unk_note(words, vocabulary_size, dataset, temperature), number_note(words, dataset))
            if note]


def number_note(words, dataset: str | None) -> str | None:
    """What PTB's `N` is, for text that shows it (QA round 12: students asked who N is); None otherwise."""
    return "`N` stands for any number: PTB writes every number so." if dataset == "ptb" and "N" in words else None


def unk_note(words, vocabulary_size: int | None, dataset: str | None, temperature: float | None = None) -> str | None:
    """What `<unk>` is, for text that shows it (QA round 10: at temperature 0.5 tiny wrote mostly
    `<unk>` and nothing said what it was), and why it repeats when it fills a fifth of a text
    sampled below temperature 1; None when none of `words` is `<unk>`."""
    words = list(words)
    if UNK not in words:
        return None
    size = f"{vocabulary_size:,}-word " if vocabulary_size else ""
    where = " (PTB's rarer words)" if dataset == "ptb" else ""
    note = (f"`<unk>` stands for every word outside the model's {size}vocabulary{where}; together they are "
            "common, so a small model often picks it.")
    if temperature is not None and temperature < 1 and words.count(UNK) >= len(words) / 5:
        note += (f" Below temperature 1 (here {temperature:g}) the likeliest words are drawn more often still, and "
                 "for a small model `<unk>` is often the likeliest, so it fills the text: a higher temperature "
                 "gives more variety.")
    return note
