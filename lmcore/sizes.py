"""What is known about a corpus's size without reading it (no torch, so `lmcore params` is
instant): PTB's published token counts, its vocabulary growth, and a config's vocabulary."""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

from .config import Config
from .errors import DataError

PTB_VOCAB_SIZE = 10_000
PTB_TOKENS = {"train": 929_589, "valid": 73_760, "test": 82_430}  # with one <eos> a line (DESIGN.md)

# Distinct words (<eos> included) in the first 10,000·k tokens of ptb.train.txt, k = 1..92.
# A fact of the MD5-verified file: it lets the app size a slice's vocabulary without reading PTB.
PTB_GROWTH = (
    2138, 3318, 4090, 4726, 5276, 5713, 6058, 6373, 6689, 6932, 7173, 7385, 7621, 7793, 7941, 8069,
    8178, 8317, 8427, 8527, 8615, 8689, 8776, 8876, 8931, 9006, 9044, 9091, 9126, 9170, 9217, 9269,
    9306, 9347, 9377, 9405, 9440, 9471, 9498, 9525, 9542, 9560, 9585, 9605, 9635, 9652, 9663, 9679,
    9696, 9707, 9721, 9736, 9750, 9765, 9770, 9782, 9786, 9796, 9803, 9819, 9830, 9851, 9855, 9864,
    9871, 9875, 9883, 9891, 9905, 9910, 9919, 9921, 9924, 9929, 9938, 9943, 9950, 9955, 9959, 9963,
    9964, 9967, 9969, 9971, 9973, 9977, 9984, 9986, 9990, 9991, 9995, 9997,
)


def ptb_vocab_size(train_tokens: int, cap: int) -> tuple[int, bool]:
    """(vocabulary size, exact?) of the first `train_tokens` of PTB train (0 = all) under `cap`.

    Exact whenever the cap binds or the whole file is used; otherwise an upper bound.
    """
    total = PTB_TOKENS["train"]
    if not train_tokens or train_tokens >= total:
        return min(PTB_VOCAB_SIZE, cap), True
    k = train_tokens // 10_000
    at_least = PTB_GROWTH[k - 1] if k else 1
    if at_least >= cap:
        return cap, True
    at_most = PTB_GROWTH[k] if k < len(PTB_GROWTH) else PTB_VOCAB_SIZE
    return min(at_most, cap, train_tokens), False


def ptb_slice_vocab_size(cfg: Config) -> tuple[int, bool]:
    """(vocabulary size, exact?) of cfg's PTB slices: exact when the bound is, or when PTB is on disk
    (counted as data.load_ptb builds it); else ptb_vocab_size's upper bound."""
    size, exact = ptb_vocab_size(cfg.train_tokens, cfg.vocab_size)
    if exact:
        return size, True
    from .ptb import find_ptb

    try:
        folder = find_ptb()
    except DataError:  # a corrupt copy: training names it; the count falls back to the bound
        folder = None
    if folder is None:
        return size, False
    return _counted_vocab_size(str(folder), cfg.train_tokens, cfg.valid_tokens, cfg.test_tokens, cfg.vocab_size), True


@functools.lru_cache(maxsize=64)
def _counted_vocab_size(folder: str, train: int, valid: int, test: int, cap: int) -> int:
    """len(data.build_vocabulary(...)) for these slices of the verified copy in `folder`, without
    torch: the train slice's distinct words under the cap, plus <unk> when validation or test hold
    a word it lacks (text.vocabulary_from_counts, the rule training uses)."""
    from .ptb import ptb_paths
    from .text import read_words, vocabulary_from_counts

    paths = ptb_paths(Path(folder))
    counts = Counter(read_words(paths["train"], train))
    unseen = any(w not in counts for split, n in (("valid", valid), ("test", test))
                 for w in read_words(paths[split], n))
    return len(vocabulary_from_counts(counts, cap, unseen=unseen))


def vocab_size_for(cfg: Config) -> int | None:
    """The vocabulary size without loading data (exact for PTB when it is on disk, else an upper
    bound for a small slice under a large cap); None for a text file."""
    if cfg.dataset == "ptb":
        return ptb_slice_vocab_size(cfg)[0]
    if cfg.dataset == "synthetic":
        from .synthetic import SyntheticSpec, vocab_size_of

        return vocab_size_of(SyntheticSpec(vocab_size=cfg.synthetic_vocab, seed=cfg.data_seed))
    return None
