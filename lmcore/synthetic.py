"""A generated word corpus whose entropy rate is known exactly.

Construction (all random choices are drawn from ``SyntheticSpec.seed``):

* Words fall into disjoint categories: ``<eos>``, topic markers (a few per topic) and
  seven grammatical categories (nouns, verbs, adjectives, adverbs, determiners,
  prepositions, conjunctions) with readable syllable pseudo-words.
* A sentence starts in the start state, which emits a topic marker; the marker fixes one of
  ``topics`` topics for the rest of the sentence.  A small random grammar over slots then
  runs: slot ``i`` emits one of two or three categories (and, in later slots, ``<eos>``),
  and the pair (slot, category) fixes the next slot.  The state is (topic, slot).
* Within a category the word is drawn from a Zipf law.  For content categories each topic
  ranks the SAME words in its own random order, so a single previous word says little about
  the topic while the marker far back says it all; function words share one ranking.

Because categories are disjoint, the next state is a function of (state, word) -- the
source is *unifilar*.  Sampling starts in the known start state, so S_t is a function of
W_<t and H(W_t | W_<t) = H(W_t | S_t).  By the chain rule and the ergodic theorem the
entropy rate (Cover & Thomas, ch. 4; Thm 4.2.4 is the Markov-chain case) is exactly

    H = sum_s pi(s) * H(W | S = s),    H(W | S = s) = -sum_w p(w|s) log p(w|s)   [nats],

with pi the stationary distribution of the state chain.  The chain is irreducible (every
slot has a forward move to the next slot, the last slots can end the sentence, every topic
has markers) and aperiodic (sentences can end in two consecutive slots, giving lengths L and
L+1), so pi is unique; it is solved by least squares on (P^T - I) pi = 0, sum(pi) = 1.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError
from .text import EOS

_CATEGORIES = ("noun", "verb", "adj", "adv", "det", "prep", "conj")
_SHARES = (0.36, 0.24, 0.17, 0.11, 0.03, 0.05, 0.04)
_TOPICAL = (True, True, True, True, False, False, False)
_SYLLABLES = {"noun": (2, 3), "verb": (2, 3), "adj": (2, 4), "adv": (3, 4),
              "det": (1, 2), "prep": (1, 2), "conj": (1, 2)}
_ONSETS = ("p", "t", "k", "b", "d", "g", "m", "n", "l", "r", "s", "v", "f", "z",
           "ch", "sh", "tr", "pl")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou")
_MARKERS_PER_TOPIC = 3
_SLOTS = 9
_ZIPF = 1.05
_LENGTH_RANGE = (11.0, 15.0)  # expected tokens per sentence
_MIN_CATEGORY_BUDGET = 100  # keeps every category at >= 3 words
_MAX_VOCAB = 20_000
_CHUNK = 1024  # first per-state buffer; later refills double, capped


@dataclass(frozen=True)
class SyntheticSpec:
    vocab_size: int = 1000  # approximate target; actual size reported by the source
    topics: int = 5
    seed: int = 0


def least_vocab(topics: int = SyntheticSpec.topics) -> int:
    """The smallest vocabulary the generator builds for `topics` topics: <eos>, each topic's markers
    and the word categories' budget (config's synthetic_vocab rule starts here)."""
    return 1 + topics * _MARKERS_PER_TOPIC + _MIN_CATEGORY_BUDGET


def _category_sizes(spec: SyntheticSpec) -> list[int]:
    if not isinstance(spec.topics, int) or not 1 <= spec.topics <= 20:
        raise ConfigError(f"synthetic topics: must be an integer 1..20, got {spec.topics!r}")
    if not isinstance(spec.seed, int) or spec.seed < 0:
        raise ConfigError(f"synthetic seed: must be an integer >= 0, got {spec.seed!r}")
    if isinstance(spec.vocab_size, int) and spec.vocab_size > _MAX_VOCAB:
        # the (state x word) tables are dense; far beyond a few thousand words they get big
        raise ConfigError(f"synthetic vocab_size: must be <= {_MAX_VOCAB}, got {spec.vocab_size}")
    budget = (spec.vocab_size if isinstance(spec.vocab_size, int) else 0) - 1 \
        - spec.topics * _MARKERS_PER_TOPIC
    if budget < _MIN_CATEGORY_BUDGET:  # the config's rule refuses it first; named by its config key
        raise ConfigError(f"synthetic_vocab: must be at least {least_vocab(spec.topics)} for "
                          f"{spec.topics} topics (got {spec.vocab_size!r})")
    raw = np.array(_SHARES) * budget
    sizes = np.floor(raw).astype(int)
    # largest remainders get the leftover words, so the total hits the target exactly
    sizes[np.argsort(sizes - raw)[: budget - sizes.sum()]] += 1
    return sizes.tolist()


def vocab_size_of(spec: SyntheticSpec) -> int:
    """Actual vocabulary size of ``SyntheticSource(spec)``, without building it."""
    return 1 + spec.topics * _MARKERS_PER_TOPIC + sum(_category_sizes(spec))


def _pseudo_words(rng, count: int, syllables: tuple[int, int], seen: set) -> list[str]:
    out = []
    while len(out) < count:
        k = int(rng.integers(syllables[0], syllables[1] + 1))
        ons, vow = rng.integers(len(_ONSETS), size=k), rng.integers(len(_VOWELS), size=k)
        word = "".join(_ONSETS[a] + _VOWELS[b] for a, b in zip(ons, vow))
        if word not in seen:
            seen.add(word)
            out.append(word)
    return out


def _draw_grammar(rng) -> list[tuple[list[int], np.ndarray, list[int], float]]:
    slots = []
    for i in range(_SLOTS):
        k = int(rng.integers(2, 4))
        cats = rng.choice(len(_CATEGORIES), size=k, replace=False).tolist()
        # the first category always moves forward: every slot is reachable and can end
        nexts = [min(i + 1, _SLOTS - 1)]
        nexts += [int(np.clip(i + rng.choice([-1, 0, 1, 2]), 0, _SLOTS - 1)) for _ in cats[1:]]
        end = 0.0 if i <= _SLOTS // 2 else (0.6 if i == _SLOTS - 1 else rng.uniform(0.1, 0.3))
        slots.append((cats, rng.dirichlet(np.full(k, 2.0)) * (1.0 - end), nexts, end))
    return slots


def _sentence_length(slots) -> float:
    """Expected tokens per sentence (marker and <eos> included) from the slot chain."""
    Q = np.zeros((_SLOTS, _SLOTS))  # slot-to-slot moves that do not end the sentence
    for i, (_, probs, nexts, _) in enumerate(slots):
        np.add.at(Q[i], nexts, probs)
    steps = np.linalg.solve(np.eye(_SLOTS) - Q, np.ones(_SLOTS))
    return 1.0 + float(steps[0])


def _grammar(rng) -> list[tuple[list[int], np.ndarray, list[int], float]]:
    """Per slot: categories, their probabilities, the slot each leads to, P(<eos>).

    Loops can make sentences very long, so grammars are redrawn until the expected length
    is moderate; the redraws come from the same generator, so this stays deterministic.
    """
    while True:
        slots = _draw_grammar(rng)
        if _LENGTH_RANGE[0] <= _sentence_length(slots) <= _LENGTH_RANGE[1]:
            return slots


class SyntheticSource:
    """Unifilar probabilistic automaton over words; see the module docstring."""

    def __init__(self, spec: SyntheticSpec):
        self.spec = spec
        sizes = _category_sizes(spec)
        rng = np.random.default_rng([spec.seed, 7919])
        seen: set = set()
        markers = _pseudo_words(rng, spec.topics * _MARKERS_PER_TOPIC, (2, 3), seen)
        groups = [_pseudo_words(rng, n, _SYLLABLES[c], seen) for c, n in zip(_CATEGORIES, sizes)]
        self.words: list[str] = [EOS] + markers + [w for g in groups for w in g]
        starts = np.cumsum([1 + len(markers)] + sizes)
        self._cat_ids = [np.arange(a, a + n) for a, n in zip(starts, sizes)]
        self.num_states = 1 + spec.topics * _SLOTS
        self._build(rng, sizes, len(markers))
        self._word_arr = np.array(self.words, dtype=object)

    def _topic_dists(self, rng, sizes) -> list[list[np.ndarray]]:
        dists = []
        for _ in range(self.spec.topics):
            per_cat = []
            for n, topical in zip(sizes, _TOPICAL):
                zipf = 1.0 / np.arange(1, n + 1) ** _ZIPF
                zipf /= zipf.sum()
                per_cat.append(zipf[rng.permutation(n)] if topical else zipf)
            dists.append(per_cat)
        return dists

    def _build(self, rng, sizes, n_markers: int) -> None:
        grammar, dists = _grammar(rng), self._topic_dists(rng, sizes)
        E = np.zeros((self.num_states, len(self.words)))
        T = np.full(E.shape, -1, dtype=np.int64)
        marker_ids = np.arange(1, 1 + n_markers)
        E[0, marker_ids] = 1.0 / n_markers
        T[0, marker_ids] = 1 + (marker_ids - 1) // _MARKERS_PER_TOPIC * _SLOTS
        for k in range(self.spec.topics):
            for i, (cats, probs, nexts, end) in enumerate(grammar):
                s = 1 + k * _SLOTS + i
                for c, q, j in zip(cats, probs, nexts):
                    E[s, self._cat_ids[c]] = q * dists[k][c]
                    T[s, self._cat_ids[c]] = 1 + k * _SLOTS + j
                E[s, 0], T[s, 0] = end, (0 if end > 0 else -1)
        self.emissions, self.transitions = E, T  # p(word | state); next state or -1
        self._support = [np.flatnonzero(row > 0) for row in E]
        self._cdf = [np.cumsum(E[s, sup]) for s, sup in enumerate(self._support)]
        with np.errstate(divide="ignore"):
            self._log_e = np.log(E)
        self._pi = self._solve_stationary()

    def state_matrix(self) -> np.ndarray:
        """P[s, s'] = probability that state s is followed by state s'."""
        rows, cols = np.nonzero(self.emissions > 0)
        P = np.zeros((self.num_states, self.num_states))
        np.add.at(P, (rows, self.transitions[rows, cols]), self.emissions[rows, cols])
        return P

    def _solve_stationary(self) -> np.ndarray:
        n = self.num_states
        A = np.vstack([self.state_matrix().T - np.eye(n), np.ones((1, n))])
        b = np.zeros(n + 1)
        b[-1] = 1.0
        return np.linalg.lstsq(A, b, rcond=None)[0]

    def stationary(self) -> np.ndarray:
        return self._pi.copy()

    def entropy_rate(self) -> float:
        """Exact entropy rate in nats per token: sum_s pi(s) H(W | S = s)."""
        E = self.emissions
        h = -np.sum(E * np.log(np.where(E > 0, E, 1.0)), axis=1)
        return float(self._pi @ h)

    def floor_ppl(self) -> float:
        return float(np.exp(self.entropy_rate()))

    def bigram_entropy(self) -> float:
        """Exact H(W_t | W_t-1) under the stationary chain: the floor of any bigram model."""
        rows, cols = np.nonzero(self.emissions > 0)
        after = np.zeros((len(self.words), self.num_states))  # p(previous word, state after it)
        np.add.at(after, (cols, self.transitions[rows, cols]),
                  self._pi[rows] * self.emissions[rows, cols])
        prev = after.sum(axis=1, keepdims=True)
        h = 0.0
        for a in range(0, len(self.words), 256):  # row blocks keep memory at O(V), not O(V^2)
            joint = after[a:a + 256] @ self.emissions
            cond = joint / np.where(prev[a:a + 256] > 0, prev[a:a + 256], 1.0)
            h -= float(np.sum(joint * np.log(np.where(cond > 0, cond, 1.0))))
        return h

    def mean_sentence_length(self) -> float:
        """Expected tokens per sentence, marker and <eos> included (= 1 / pi(start))."""
        return float(1.0 / self._pi[0])

    def _draw(self, rng, s: int, m: int) -> tuple[list[int], list[int]]:
        sup, cdf = self._support[s], self._cdf[s]
        idx = np.minimum(np.searchsorted(cdf, rng.random(m) * cdf[-1], side="right"), len(sup) - 1)
        ids = sup[idx]
        return ids.tolist(), self.transitions[s, ids].tolist()

    def sample_ids(self, num_tokens: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Word ids and the state each was emitted from, starting at the sentence start.

        Each state keeps a buffer of pre-drawn (word, next state) pairs, refilled in sizes
        that do not depend on ``num_tokens``, so a shorter sample is a prefix of a longer one.
        """
        if not isinstance(num_tokens, (int, np.integer)) or num_tokens < 0:
            raise ValueError(f"num_tokens must be a non-negative integer, got {num_tokens!r}")
        rng = np.random.default_rng(seed)
        bufs = [self._draw(rng, s, _CHUNK) for s in range(self.num_states)]
        pos = [0] * self.num_states
        words, states = [0] * num_tokens, [0] * num_tokens
        s = 0
        for t in range(num_tokens):
            p = pos[s]
            bw, bn = bufs[s]
            if p == len(bw):
                bw, bn = bufs[s] = self._draw(rng, s, min(2 * len(bw), 1 << 20))
                p = 0
            words[t], states[t] = bw[p], s
            pos[s] = p + 1
            s = bn[p]
        return np.array(words, dtype=np.int64), np.array(states, dtype=np.int64)

    def sample(self, num_tokens: int, seed: int) -> list[str]:
        return self._word_arr[self.sample_ids(num_tokens, seed)[0]].tolist()

    def sample_with_logprobs(self, num_tokens: int, seed: int) -> tuple[list[str], np.ndarray]:
        """Words and log p(word_t | state_t) in nats for each token."""
        ids, states = self.sample_ids(num_tokens, seed)
        return self._word_arr[ids].tolist(), self._log_e[states, ids]


BIGRAM_UP_TO = 5000  # words: the bigram floor costs 0.4 s at 5,000 words and 5 s at 20,000 (2 cores)


@functools.lru_cache(maxsize=32)
def floors(vocab_size: int, seed: int) -> tuple[float, float | None]:
    """(entropy floor, bigram floor) as perplexities of the corpus SyntheticSpec(vocab_size, seed) makes,
    for the Train page before a run exists: the floor is the trainer's (SyntheticSource.floor_ppl, the
    status's floor_ppl), the bigram one None above BIGRAM_UP_TO words, where it takes seconds."""
    source = SyntheticSource(SyntheticSpec(vocab_size=vocab_size, seed=seed))
    bigram = float(np.exp(source.bigram_entropy())) if vocab_size <= BIGRAM_UP_TO else None
    return source.floor_ppl(), bigram
