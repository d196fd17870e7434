"""The hand-written recurrence computes nn.LSTM's function and the right gradients, and the
layer picks its path by itself."""

import pytest
import torch
from torch import nn

from lmcore import lstm as lstm_module
from lmcore.lstm import LSTMLayer, LSTMRecurrence, input_projection, lstm_layer, lstm_layer_reference

T, B, I, H = 6, 3, 5, 4


@pytest.fixture
def setup():
    torch.manual_seed(0)
    lstm = nn.LSTM(I, H).double()
    x = torch.randn(T, B, I, dtype=torch.double, requires_grad=True)
    h0 = torch.randn(B, H, dtype=torch.double, requires_grad=True)
    c0 = torch.randn(B, H, dtype=torch.double, requires_grad=True)
    return lstm, x, h0, c0


def _loss(out, h, c):
    # weights on h and c make the gradients through the final state count separately
    return out.pow(2).sum() + (1.3 * h).sum() + (0.7 * c).sum()


def _grads(fn, lstm, x, h0, c0, *rest):
    for t in (x, h0, c0, *lstm.parameters()):
        t.grad = None
    out, (h, c) = fn(x, lstm, (h0, c0), *rest)
    _loss(out, h, c).backward()
    return out.detach(), [t.grad.clone() for t in (x, h0, c0, *lstm.parameters())]


def _torch_lstm(x, lstm, state):
    out, (h, c) = lstm(x, (state[0].unsqueeze(0), state[1].unsqueeze(0)))
    return out, (h[0], c[0])


def test_no_mask_equals_nn_lstm_forward_and_gradients(setup):
    lstm, x, h0, c0 = setup
    ours, our_grads = _grads(lstm_layer, lstm, x, h0, c0)
    theirs, their_grads = _grads(_torch_lstm, lstm, x, h0, c0)
    torch.testing.assert_close(ours, theirs)
    for a, b in zip(our_grads, their_grads):
        torch.testing.assert_close(a, b)


def test_no_mask_equals_nn_lstm_in_float32():
    torch.manual_seed(1)
    lstm = nn.LSTM(32, 64)
    x = torch.randn(35, 20, 32, requires_grad=True)
    state = (torch.zeros(20, 64, requires_grad=True), torch.zeros(20, 64, requires_grad=True))
    ours, our_grads = _grads(lstm_layer, lstm, x, *state)
    theirs, their_grads = _grads(_torch_lstm, lstm, x, *state)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)
    for a, b in zip(our_grads, their_grads):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("mask_shape", [(B, H), (T, B, H)], ids=["per-sequence", "per-step"])
def test_masked_recurrence_matches_autograd_reference(setup, mask_shape):
    lstm, x, h0, c0 = setup
    mask = (torch.rand(mask_shape, dtype=torch.double) > 0.4).double() / 0.6
    ours, our_grads = _grads(lstm_layer, lstm, x, h0, c0, mask)
    ref, ref_grads = _grads(lstm_layer_reference, lstm, x, h0, c0, mask)
    torch.testing.assert_close(ours, ref)
    for a, b in zip(our_grads, ref_grads):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("mask_shape", [None, (B, H), (T, B, H)])
def test_gradcheck(setup, mask_shape):
    lstm, x, h0, c0 = setup
    mask = None if mask_shape is None else (torch.rand(mask_shape, dtype=torch.double) > 0.5).double() * 2
    w_hh = lstm.weight_hh_l0

    def fn(x, w_hh, h0, c0):
        out, h, c = LSTMRecurrence.apply(input_projection(x, lstm), w_hh, h0, c0, mask)
        return _loss(out, h, c)

    assert torch.autograd.gradcheck(fn, (x, w_hh, h0, c0))


def test_mask_of_ones_changes_nothing(setup):
    lstm, x, h0, c0 = setup
    ones = torch.ones(T, B, H, dtype=torch.double)
    with torch.no_grad():
        a, _ = lstm_layer(x, lstm, (h0, c0))
        b, _ = lstm_layer(x, lstm, (h0, c0), ones)
    torch.testing.assert_close(a, b)


def _layer(path="auto"):
    torch.manual_seed(0)
    return LSTMLayer(I, H, path).double()


def _counting(monkeypatch):
    """Count calls of the fused nn.LSTM and of the hand-written recurrence."""
    calls = {"fused": 0, "recurrence": 0}
    fused, recurrence = nn.LSTM.forward, LSTMRecurrence.apply

    def count_fused(*args, **kwargs):
        calls["fused"] += 1
        return fused(*args, **kwargs)

    def count_recurrence(*args):
        calls["recurrence"] += 1
        return recurrence(*args)

    monkeypatch.setattr(nn.LSTM, "forward", count_fused)
    monkeypatch.setattr(lstm_module.LSTMRecurrence, "apply", count_recurrence)
    return calls


@pytest.mark.parametrize("mask_shape,expected", [(None, "fused"), ((B, H), "recurrence"),
                                                 ((T, B, H), "recurrence")])
def test_auto_runs_fused_without_a_mask_and_the_recurrence_with_one(setup, monkeypatch, mask_shape, expected):
    _, x, h0, c0 = setup
    layer = _layer()
    mask = None if mask_shape is None else (torch.rand(mask_shape, dtype=torch.double) > 0.5).double() * 2
    calls = _counting(monkeypatch)
    out, (h, c) = layer(x, (h0, c0), mask)
    assert calls == {"fused": 0, "recurrence": 0, expected: 1}
    assert out.shape == (T, B, H) and h.shape == c.shape == (B, H)
    ref, (ref_h, ref_c) = lstm_layer_reference(x, layer, (h0, c0), mask)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close((h, c), (ref_h, ref_c))


@pytest.mark.parametrize("path", ["fused", "recurrence", "autograd"])
def test_every_forced_path_computes_the_same_function(setup, path):
    lstm, x, h0, c0 = setup
    layer = _layer(path)
    layer.load_state_dict(lstm.state_dict())
    ours, our_grads = _grads(lambda x, m, s: m(x, s), layer, x, h0, c0)
    theirs, their_grads = _grads(_torch_lstm, lstm, x, h0, c0)
    torch.testing.assert_close(ours, theirs)
    for a, b in zip(our_grads, their_grads):
        torch.testing.assert_close(a, b)


def test_fused_refuses_a_mask_and_unknown_paths_are_refused(setup):
    _, x, h0, c0 = setup
    with pytest.raises(ValueError, match="cannot drop h"):
        _layer("fused")(x, (h0, c0), torch.ones(B, H, dtype=torch.double))
    with pytest.raises(ValueError, match="path must be one of"):
        LSTMLayer(I, H, "cudnn")


def test_layer_keeps_nn_lstm_parameter_names_so_old_checkpoints_load():
    assert list(LSTMLayer(I, H).state_dict()) == list(nn.LSTM(I, H).state_dict())
