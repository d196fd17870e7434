"""Parameter counts by formula, weight tying, init, and placements agreeing at dropout 0."""

import math

import pytest
import torch
import torch.nn.functional as F

from lmcore.config import Config
from lmcore.model import LanguageModel, count_model_parameters
from lmcore.params import formula_counts, lstm_layer_count


@pytest.mark.parametrize("layers,embed,hidden,tied", [
    (1, 8, 8, True), (2, 8, 8, False), (3, 12, 20, False), (2, 650, 650, True), (2, 650, 650, False)])
def test_counts_equal_formula_and_built_model(layers, embed, hidden, tied):
    V = 1000
    cfg = Config(dataset="synthetic", layers=layers, embed_size=embed, hidden_size=hidden, tie_weights=tied)
    formula = formula_counts(cfg, V)
    built = count_model_parameters(LanguageModel(V, cfg))
    assert formula["parts"] == built["parts"]
    assert formula["total"] == built["total"]
    by_hand = V * embed + 4 * hidden * (embed + hidden) + 8 * hidden + (layers - 1) * (
        4 * hidden * 2 * hidden + 8 * hidden) + (0 if tied else hidden * V) + V
    assert formula["total"] == by_hand


def test_tying_saves_exactly_v_times_d():
    V = 10_000
    tied = formula_counts(Config(tie_weights=True), V)
    untied = formula_counts(Config(tie_weights=False), V)
    assert untied["total"] - tied["total"] == V * 650 == tied["tying_saves"]
    # the book preset (2x650, V = 10,000): 13,280,400 tied, 19,780,400 untied
    assert tied["total"] == 13_280_400 and untied["total"] == 19_780_400
    assert lstm_layer_count(650, 650) == 3_385_200


def test_tying_shares_one_tensor_and_both_uses_get_gradient():
    torch.manual_seed(0)
    V, D = 30, 8
    cfg = Config(dataset="synthetic", layers=1, embed_size=D, hidden_size=D, dropout=0.0,
                 dropout_placement="none", tie_weights=True, init="torch")
    model = LanguageModel(V, cfg)
    assert model.decoder.weight is model.embedding.weight
    assert model.decoder.weight.data_ptr() == model.embedding.weight.data_ptr()
    assert sum(1 for _ in model.parameters()) == 1 + 4 + 1  # shared weight once, LSTM 4, decoder bias

    tokens = torch.tensor([[1], [2], [3]])       # (T, B): only rows 1..3 are looked up
    targets = torch.tensor([4, 5, 6])
    logits, _ = model(tokens, model.init_state(1))
    F.cross_entropy(logits.view(-1, V), targets).backward()
    grad = model.embedding.weight.grad
    assert grad.shape == (V, D)
    # rows never looked up still learn through the decoder; the looked-up rows get both
    assert grad[10:].abs().sum() > 0
    # the shared gradient is the sum of what an untied copy's two tensors would receive
    untied_cfg = cfg.replace(tie_weights=False)
    twin = LanguageModel(V, untied_cfg)
    state = {k: v for k, v in model.state_dict().items()}
    twin.load_state_dict(state)
    logits, _ = twin(tokens, twin.init_state(1))
    F.cross_entropy(logits.view(-1, V), targets).backward()
    torch.testing.assert_close(grad, twin.embedding.weight.grad + twin.decoder.weight.grad)


def test_book_init():
    torch.manual_seed(0)
    cfg = Config(dataset="synthetic", layers=2, embed_size=400, hidden_size=200, tie_weights=False, init="book")
    model = LanguageModel(2000, cfg)
    assert abs(model.embedding.weight.std().item() - 0.01) < 0.001
    lstm1, lstm2 = model.lstms
    assert abs(lstm1.weight_ih_l0.std().item() - 1 / math.sqrt(400)) < 0.002
    assert abs(lstm1.weight_hh_l0.std().item() - 1 / math.sqrt(200)) < 0.003
    assert abs(lstm2.weight_ih_l0.std().item() - 1 / math.sqrt(200)) < 0.003
    for lstm in model.lstms:
        assert lstm.bias_ih_l0.abs().sum() == 0 and lstm.bias_hh_l0.abs().sum() == 0
    assert model.decoder.bias.abs().sum() == 0


def test_uniform_init_bounds_every_parameter():
    cfg = Config(dataset="synthetic", embed_size=20, hidden_size=20, init="uniform", init_range=0.05)
    model = LanguageModel(100, cfg)
    for parameter in model.parameters():
        assert parameter.abs().max() <= 0.05
        assert parameter.abs().max() > 0.04


def _curve(placement, path, steps=8):
    torch.manual_seed(7)
    cfg = Config(dataset="synthetic", layers=2, embed_size=16, hidden_size=16, dropout=0.0,
                 dropout_placement=placement, tie_weights=True, init="book")
    model = LanguageModel(40, cfg, path=path)  # p = 0 draws no mask, so `auto` would run fused
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    data = torch.randint(0, 40, (steps * 5 + 1, 4), generator=torch.Generator().manual_seed(0))
    state, losses = model.init_state(4), []
    for step in range(steps):
        x, y = data[step * 5:step * 5 + 5], data[step * 5 + 1:step * 5 + 6]
        state = [(h.detach(), c.detach()) for h, c in state]
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.view(-1, 40), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_every_placement_and_path_gives_the_same_curve_at_dropout_zero():
    reference = _curve("none", "fused")
    for placement in ("vertical", "horizontal", "variational"):
        for path in ("auto", "fused", "recurrence", "autograd"):
            assert _curve(placement, path) == pytest.approx(reference, rel=1e-5), (placement, path)


def _layer_calls(model, tokens):
    """The shape of the recurrent mask each LSTMLayer received in one forward pass (None: no mask)."""
    calls = []
    for layer in model.lstms:
        layer.register_forward_hook(lambda module, args, out: calls.append(
            None if args[2] is None else tuple(args[2].shape)))
    model(tokens, model.init_state(tokens.shape[1]))
    return calls


@pytest.mark.parametrize("placement,training,expected", [
    ("vertical", True, [None, None]), ("horizontal", True, [(5, 3, 8), (5, 3, 8)]),
    ("variational", True, [(3, 8), (3, 8)]), ("variational", False, [None, None])])
def test_the_model_hands_each_layer_its_mask_and_nothing_else(placement, training, expected):
    cfg = Config(dataset="synthetic", layers=2, embed_size=8, hidden_size=8, dropout=0.5,
                 dropout_placement=placement)
    model = LanguageModel(20, cfg).train(training)
    tokens = torch.randint(0, 20, (5, 3))
    assert _layer_calls(model, tokens) == expected
    assert all(layer.path == "auto" for layer in model.lstms)
