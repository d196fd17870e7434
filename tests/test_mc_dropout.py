"""MC-dropout evaluation (Gal & Ghahramani 2016): the probabilities of K dropout passes averaged."""

import pytest
import torch

from lmcore.evaluate import mc_dropout_nll, mean_nll
from lmcore.model import LanguageModel

VOCAB = 50


def model_with(small_config, **changes):
    torch.manual_seed(0)
    return LanguageModel(VOCAB, small_config.replace(**changes))


@pytest.fixture
def streams():
    return torch.randint(VOCAB, (41, 3), generator=torch.Generator().manual_seed(1))  # (N, B)


def test_one_sample_without_dropout_is_the_plain_evaluation_exactly(small_config, streams):
    model = model_with(small_config, dropout=0.0, dropout_placement="none").eval()
    assert mc_dropout_nll(model, streams, 10, samples=1, seed=3) == mean_nll(model, streams, 10)
    assert not model.training                                      # left as it was found


@pytest.mark.parametrize("placement", ["vertical", "variational"])
def test_dropout_samples_differ_from_plain_and_repeat_for_a_seed(small_config, streams, placement):
    model = model_with(small_config, dropout=0.5, dropout_placement=placement).train()
    plain = mean_nll(model, streams, 10)
    first = mc_dropout_nll(model, streams, 10, samples=20, seed=7)
    assert first != pytest.approx(plain, abs=1e-4)
    assert mc_dropout_nll(model, streams, 10, samples=20, seed=7) == first
    assert mc_dropout_nll(model, streams, 10, samples=20, seed=8) != first
    assert model.training and model.plan.generator is None           # state restored


def test_averaging_probabilities_beats_averaging_scores(small_config, streams):
    # log of a mean >= mean of logs (Jensen): the mixture's NLL is at most the mean NLL of
    # its members, which one-sample evaluations with different seeds estimate.
    model = model_with(small_config, dropout=0.5, dropout_placement="vertical")
    members = [mc_dropout_nll(model, streams, 10, samples=1, seed=seed) for seed in range(8)]
    mixture = mc_dropout_nll(model, streams, 10, samples=8, seed=0)
    assert mixture < sum(members) / len(members)


def test_samples_must_be_positive(small_config, streams):
    with pytest.raises(ValueError):
        mc_dropout_nll(model_with(small_config), streams, 10, samples=0, seed=0)
