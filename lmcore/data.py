"""Corpora as id tensors, and the seed's batching into contiguous streams.

Three sources: PTB (ptb.py finds and verifies it), the generated corpus (synthetic.py), and
a user's text file (whitespace tokens, `<eos>` per line, a deterministic 80/10/10 split of
the lines in order). The vocabulary is built from the train split: its `vocab_size` most
frequent words, the rest `<unk>`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .config import BUILTIN_DATASETS, Config
from .errors import DataError
from .sizes import PTB_GROWTH, PTB_TOKENS, PTB_VOCAB_SIZE, ptb_vocab_size, vocab_size_for  # noqa: F401
from .text import (  # noqa: F401
    EOS,
    SPLITS,
    TEXT_ENCODING,
    UNK,
    count_lines,
    count_splits,
    read_words,
    special_counts,
    split_lines,
    split_sizes,
    text_lines,
    text_problem,
    vocabulary_from_counts,
)


@dataclass
class Corpus:
    words: list[str]                         # id -> word
    train: torch.Tensor                      # (N,) int64 ids
    valid: torch.Tensor
    test: torch.Tensor
    floor_ppl: float | None = None           # best perplexity any model can reach, when known
    info: dict = field(default_factory=dict)

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def held_out_unknown(self) -> float:
        """The share of validation and test tokens (`<eos>` aside) read as `<unk>`: past a half, its
        perplexity measures little more than predicting `<unk>` (QA round 18: a text without spaces
        scored 2.55 beside a train perplexity of 2,000, and read second best on Compare)."""
        if UNK not in self.words:
            return 0.0
        unk, eos = self.words.index(UNK), self.words.index(EOS) if EOS in self.words else -1
        held = torch.cat([self.valid, self.test])
        held = held[held != eos]
        return float((held == unk).float().mean()) if held.numel() else 0.0


def build_vocabulary(train_words: list[str], cap: int, held_out: tuple = ()) -> list[str]:
    """Most frequent first, ties by word so the order is reproducible; <unk> only if needed: past
    the cap, or for words of `held_out` (validation and test) that training lacks."""
    counts = Counter(train_words)
    return vocabulary_from_counts(counts, cap, unseen=any(w not in counts for w in held_out))


def encode(words: list[str], vocabulary: list[str]) -> torch.Tensor:
    index = {w: i for i, w in enumerate(vocabulary)}
    unk = index.get(UNK, 0)
    return torch.tensor([index.get(w, unk) for w in words], dtype=torch.long)


def _corpus(splits: dict, cap: int, vocabulary: list[str] | None = None, **extra) -> Corpus:
    vocabulary = vocabulary or build_vocabulary(splits["train"], cap, held_out=(*splits["valid"], *splits["test"]))
    tensors = {name: encode(words, vocabulary) for name, words in splits.items()}
    return Corpus(vocabulary, tensors["train"], tensors["valid"], tensors["test"], **extra)


def load_ptb(cfg: Config, progress=None, vocabulary: list[str] | None = None) -> Corpus:
    from .ptb import ensure_ptb, ptb_paths

    paths = ptb_paths(ensure_ptb(download=True, progress=progress))
    limits = {"train": cfg.train_tokens, "valid": cfg.valid_tokens, "test": cfg.test_tokens}
    splits = {name: read_words(paths[name], limits[name]) for name in limits}
    return _corpus(splits, cfg.vocab_size, vocabulary, info={"source": "ptb"})


def load_synthetic(cfg: Config) -> Corpus:
    from .synthetic import SyntheticSource, SyntheticSpec

    source = SyntheticSource(SyntheticSpec(vocab_size=cfg.synthetic_vocab, seed=cfg.data_seed))
    sizes = synthetic_sizes(cfg)
    stream = source.sample(sum(sizes.values()), seed=cfg.data_seed)
    ends = {"train": sizes["train"], "valid": sizes["train"] + sizes["valid"], "test": len(stream)}
    splits = {"train": stream[: ends["train"]], "valid": stream[ends["train"]: ends["valid"]],
              "test": stream[ends["valid"]:]}
    # The source's own word list, not the words a small sample happens to contain, so the
    # vocabulary (and the parameter count) is known without generating anything.
    tensors = {name: encode(words, source.words) for name, words in splits.items()}
    return Corpus(list(source.words), tensors["train"], tensors["valid"], tensors["test"],
                  floor_ppl=source.floor_ppl(), info={"source": "synthetic", "entropy_rate": source.entropy_rate()})


def synthetic_sizes(cfg: Config) -> dict:
    """Tokens of each split of the generated corpus: valid and test a tenth of train, 1,000 at least."""
    held_out = max(cfg.synthetic_tokens // 10, 1000)
    return {"train": cfg.synthetic_tokens, "valid": held_out, "test": held_out}


def load_text(cfg: Config, vocabulary: list[str] | None = None) -> Corpus:
    path = Path(cfg.dataset).expanduser()
    problem = text_problem(path)
    if problem:
        raise DataError(problem)
    lines = [line for line in text_lines(path) if line.strip()]  # refuses a byte that is not UTF-8
    # "counted": what lmcore.text_notes reads for the notes the run's log starts with (the upload box's)
    counted = count_lines(lines, len(lines), words=True)
    info = {"source": "text", "file": path.name, "special": counted["special"], "counted": counted}
    return _corpus(split_lines(lines), cfg.vocab_size, vocabulary, info=info)


def load_corpus(cfg: Config, progress=None, vocabulary: list[str] | None = None) -> Corpus:
    """cfg's corpus. `vocabulary`, the words a run already trained with (its vocab.json), encodes it
    on a resume, so a later change in how vocabularies are built cannot change V under a checkpoint
    (the generated corpus has its source's words either way)."""
    if cfg.dataset == "ptb":
        return load_ptb(cfg, progress, vocabulary)
    if cfg.dataset == "synthetic":
        return load_synthetic(cfg)
    return load_text(cfg, vocabulary)


# ---------------------------------------------------------------- batching

MIN_ROWS = 2  # batchify's least: evaluation reads a window of inputs and its targets one row later


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a token stream into batch_size contiguous streams, one per column.

    With the alphabet as the stream and batch_size 4:
        a b c d e f g h i j k l m n o p q r s t u v w x y z
      ->  a g m s
          b h n t        each column is read top to bottom, and the hidden state of a column
          c i o u        carries from one bptt window to the next; the 2 tokens that do not
          d j p v        fill a row (y z) are dropped.
          e k q w
          f l r x
    Returns (N // batch_size, batch_size).
    """
    rows = ids.numel() // batch_size
    if rows < MIN_ROWS:
        raise DataError(f"a split of {ids.numel()} tokens is too small for batch size {batch_size}")
    return ids[: rows * batch_size].view(batch_size, rows).t().contiguous()


def get_batch(streams: torch.Tensor, start: int, bptt: int):
    """The window of inputs starting at row `start` and its targets, one token later."""
    length = min(bptt, streams.shape[0] - 1 - start)
    return streams[start:start + length], streams[start + 1:start + 1 + length]  # (T, B) each


def train_windows(streams: torch.Tensor, bptt: int) -> int:
    """Full bptt windows per epoch (training drops the last partial one, like the seed)."""
    return (streams.shape[0] - 1) // bptt


def planned_steps(cfg: Config, train_tokens: int) -> tuple[int, int]:
    """(steps per epoch, steps in all) as the trainer counts them, from the train split's size alone:
    batchify's rows, then full bptt windows (train_windows), capped by max_steps."""
    per_epoch = max(train_tokens // cfg.batch_size - 1, 0) // cfg.bptt
    total = per_epoch * cfg.epochs
    return per_epoch, min(total, cfg.max_steps) if cfg.max_steps else total


# ---------------------------------------------------------------- will the splits batch?


def split_tokens(cfg: Config, count=count_splits) -> dict:
    """{"tokens": {split: n}, "lines": {split: n} (text files only)} of the corpus load_corpus would
    build, without building it: PTB's known sizes cut by the *_tokens keys, the generated corpus's
    sizes, a text file's split as `count` (count_splits, or a cache of it) counts it."""
    if cfg.dataset == "ptb":
        limits = {"train": cfg.train_tokens, "valid": cfg.valid_tokens, "test": cfg.test_tokens}
        return {"tokens": {s: min(limits[s] or PTB_TOKENS[s], PTB_TOKENS[s]) for s in SPLITS}}
    if cfg.dataset == "synthetic":
        return {"tokens": synthetic_sizes(cfg)}
    return count(Path(cfg.dataset).expanduser())


SPLIT_NAMES = {"train": "training", "valid": "validation", "test": "test"}


def _where(cfg: Config, split: str, sizes: dict) -> str:
    """Which part of the corpus a split is, for the message: its lines of a text file, its *_tokens key."""
    if "lines" in sizes:
        lines, total = sizes["lines"][split], sum(sizes["lines"].values())
        side = {"train": "first", "valid": "next", "test": "last"}[split]
        return f"the {side} {lines:,} of {total:,} lines, "
    if cfg.dataset == "ptb" and getattr(cfg, f"{split}_tokens"):
        return f"{split}_tokens={getattr(cfg, f'{split}_tokens'):,}, "
    return ""


def _more_text(cfg: Config, split: str) -> str:
    if cfg.dataset == "ptb":
        return f"raise {split}_tokens (0 = all)"
    if cfg.dataset == "synthetic":
        return "raise synthetic_tokens"
    return "add lines to the file"


def split_problems(cfg: Config, sizes: dict) -> list[str]:
    """Each split too small for the batch it is cut into, one line naming the split, its size and
    what to do: training needs one full window (batch_size streams of bptt + 1 tokens: planned_steps
    would be 0), validation and test MIN_ROWS rows of eval_batch_size (batchify)."""
    out = []
    for split in SPLITS:
        tokens = sizes["tokens"][split]
        if split == "train":
            need, lower = cfg.batch_size * (cfg.bptt + 1), "lower batch_size or bptt"
            why = (f"batch_size {cfg.batch_size} and bptt {cfg.bptt}: one training window needs {need:,} tokens "
                   f"({cfg.batch_size:,} streams of {cfg.bptt + 1:,})")
        else:
            need, lower = MIN_ROWS * cfg.eval_batch_size, "lower eval_batch_size"
            why = (f"eval_batch_size {cfg.eval_batch_size}: evaluation needs {need:,} tokens "
                   f"({MIN_ROWS} rows of {cfg.eval_batch_size:,})")
        if tokens < need:
            out.append(f"dataset: the {SPLIT_NAMES[split]} split ({_where(cfg, split, sizes)}{tokens:,} tokens) "
                       f"is too small for {why}; {_more_text(cfg, split)} or {lower}")
    return out


def corpus_problems(cfg: Config, count=count_splits) -> list[str]:
    """All that stops cfg's corpus from training, found before a run folder is made for it: a text
    file that cannot be a corpus (text_problem, fewer than 3 lines), a split too small for its batch
    (split_problems). The one check of the Train page and the CLI; cfg's own values must be valid."""
    if cfg.dataset not in BUILTIN_DATASETS:
        try:
            if problem := text_problem(Path(cfg.dataset).expanduser()):
                return [problem]
        except OSError as error:
            return [f"dataset: cannot read {cfg.dataset}: {error.strerror or error}"]
    try:
        sizes = split_tokens(cfg, count)
    except DataError as error:
        return [str(error)]
    except OSError as error:
        return [f"dataset: cannot read {cfg.dataset}: {error.strerror or error}"]
    return split_problems(cfg, sizes)


def corpora_problems(configs) -> list[str]:
    """corpus_problems of several configs (a grid's), each problem once and each text file counted
    once: `lmcore grid` and the Compare page's grid form refuse with these before queueing anything."""
    counted: dict = {}

    def count(path):
        if path not in counted:
            counted[path] = count_splits(path)
        return counted[path]

    found: list[str] = []
    for cfg in configs:
        found.extend(p for p in corpus_problems(cfg, count) if p not in found)
    return found
