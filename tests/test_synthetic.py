"""The synthetic source: determinism, exact entropy rate, unifilar structure, vocabulary."""
import math

import numpy as np
import pytest

from lmcore.errors import ConfigError
from lmcore.synthetic import SyntheticSource, SyntheticSpec, vocab_size_of

N_LONG = 1_000_000
BURN_IN = 1_000


@pytest.fixture(scope="module")
def source():
    return SyntheticSource(SyntheticSpec())


@pytest.fixture(scope="module")
def long_sample(source):
    ids, states = source.sample_ids(N_LONG, seed=123)
    return ids, states


def _plugin_conditional_entropy(context, target, vocab):
    """Empirical H(target | context) with raw counts on the same sample (optimistic)."""
    def entropy(counts):
        p = counts / counts.sum()
        return float(-(p * np.log(p)).sum())
    pair_counts = np.unique(context * vocab + target, return_counts=True)[1]
    return entropy(pair_counts) - entropy(np.unique(context, return_counts=True)[1])


def test_same_spec_gives_same_words_and_sample():
    a, b = SyntheticSource(SyntheticSpec()), SyntheticSource(SyntheticSpec())
    assert a.words == b.words
    assert a.sample(5_000, seed=1) == b.sample(5_000, seed=1)
    assert a.sample(5_000, seed=1) != a.sample(5_000, seed=2)
    other = SyntheticSource(SyntheticSpec(seed=1))
    assert other.words != a.words
    assert other.sample(5_000, seed=1) != a.sample(5_000, seed=1)


def test_shorter_sample_is_prefix_of_longer(source):
    assert source.sample(3_000, seed=5) == source.sample(50_000, seed=5)[:3_000]


def test_sample_with_logprobs_matches_sample(source):
    words, logp = source.sample_with_logprobs(2_000, seed=9)
    assert words == source.sample(2_000, seed=9)
    assert words[0] in source.words[1:] and logp.shape == (2_000,)
    assert np.all(np.isfinite(logp)) and np.all(logp <= 0)


@pytest.mark.parametrize("vocab, topics, seed", [(1000, 5, 0), (300, 4, 1), (3000, 6, 2)])
def test_vocabulary(vocab, topics, seed):
    spec = SyntheticSpec(vocab_size=vocab, topics=topics, seed=seed)
    src = SyntheticSource(spec)
    assert vocab_size_of(spec) == len(src.words)
    assert 0.9 * vocab <= len(src.words) <= 1.1 * vocab
    assert len(set(src.words)) == len(src.words)
    assert "<eos>" in src.words and "<unk>" not in src.words
    assert all(w and not any(c.isspace() for c in w) for w in src.words)
    assert all(w.isalpha() and w.islower() for w in src.words if w != "<eos>")


@pytest.mark.parametrize("spec", [SyntheticSpec(vocab_size=50), SyntheticSpec(topics=0),
                                  SyntheticSpec(vocab_size=120, topics=10),
                                  SyntheticSpec(vocab_size=10**6), SyntheticSpec(seed=-1)])
def test_invalid_spec_is_a_config_error(spec):
    with pytest.raises(ConfigError):
        SyntheticSource(spec)
    with pytest.raises(ConfigError):
        vocab_size_of(spec)


def test_next_state_is_a_function_of_state_and_word(source, long_sample):
    E, T = source.emissions, source.transitions
    assert E.shape == T.shape == (source.num_states, len(source.words))
    np.testing.assert_allclose(E.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(T[E > 0] >= 0) and np.all(T[E > 0] < source.num_states)
    eos = source.words.index("<eos>")
    assert np.all(T[E[:, eos] > 0, eos] == 0)  # <eos> returns to the sentence start
    ids, states = long_sample
    assert states[0] == 0
    np.testing.assert_array_equal(states[1:], T[states[:-1], ids[:-1]])
    # each observed (state, word) pair was followed by exactly one state
    key = states[:-1] * len(source.words) + ids[:-1]
    pair_next = np.unique(np.stack([key, states[1:]]), axis=1)
    assert len(np.unique(pair_next[0])) == pair_next.shape[1]


def test_state_chain_is_primitive_and_pi_is_stationary(source):
    P = source.state_matrix()
    pi = source.stationary()
    assert np.all(pi > 0) and math.isclose(pi.sum(), 1.0, rel_tol=1e-12)
    np.testing.assert_allclose(pi @ P, pi, atol=1e-12)
    reach = P > 0  # irreducible and aperiodic <=> some power of P is strictly positive
    for _ in range(13):  # 2**13 > (n-1)**2 + 1, Wielandt's bound
        reach = (reach.astype(np.int64) @ reach.astype(np.int64)) > 0
    assert reach.all()


def test_visit_frequencies_match_pi(source, long_sample):
    _, states = long_sample
    freq = np.bincount(states[BURN_IN:], minlength=source.num_states) / (N_LONG - BURN_IN)
    pi = source.stationary()
    assert np.all(np.abs(freq - pi) <= 0.03 * pi + 5e-4)


def test_exact_entropy_rate_matches_empirical(source):
    _, logp = source.sample_with_logprobs(N_LONG, seed=7)
    empirical = -logp[BURN_IN:].mean()
    h = source.entropy_rate()
    assert abs(empirical - h) / h < 0.01
    assert math.isclose(source.floor_ppl(), math.exp(h))


def test_floor_ppl_and_sentence_lengths_are_sensible(source, long_sample):
    assert 20 < source.floor_ppl() < 300
    ids, _ = long_sample
    lengths = np.diff(np.flatnonzero(ids == source.words.index("<eos>")))
    assert 8 <= np.median(lengths) <= 20
    assert np.mean((lengths >= 8) & (lengths <= 20)) > 0.6
    assert abs(lengths.mean() - source.mean_sentence_length()) < 0.02 * lengths.mean()


def test_bigram_model_cannot_reach_the_floor(source, long_sample):
    ids, _ = long_sample
    floor = source.entropy_rate()
    plugin = _plugin_conditional_entropy(ids[:-1], ids[1:], len(source.words))
    exact = source.bigram_entropy()
    assert plugin > floor + 0.3  # optimistic counts on the training sample still miss it
    assert plugin < exact  # the plug-in estimate is biased low, never above the truth
    assert exact > floor + 0.4


def test_topic_marker_informs_words_far_away(source, long_sample):
    """Words 5+ tokens after the sentence marker still carry information about its topic."""
    ids, states = long_sample
    topic_of_state = np.r_[-1, np.arange(source.num_states - 1) // ((source.num_states - 1)
                                                                    // source.spec.topics)]
    pos = np.arange(len(ids)) - np.maximum.accumulate(np.where(states == 0, np.arange(len(ids)), 0))
    far = (pos >= 5) & (states > 0)
    mi = (_plugin_conditional_entropy(np.zeros(far.sum(), dtype=np.int64), ids[far], 1)
          - _plugin_conditional_entropy(topic_of_state[states[far]], ids[far], len(source.words)))
    assert mi > 0.1  # nats; the plug-in bias here is only ~(K-1)(V-1)/2N
