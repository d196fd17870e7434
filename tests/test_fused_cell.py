"""The compiled element-wise LSTM cell (lmcore/fused_cell.py, issue 10.2) computes what the plain
recurrence and the autograd reference compute, forward and backward, with every mask shape."""

from __future__ import annotations

import pytest
import torch

from lmcore import fused_cell
from lmcore.lstm import LSTMLayer, lstm_layer_reference

T, B, I, H = 6, 3, 5, 4
MASKS = [None, (B, H), (T, B, H)]


def inputs(mask_shape, seed=0):
    torch.manual_seed(seed)
    layer = LSTMLayer(I, H, "compiled-cell").double()
    x = torch.randn(T, B, I, dtype=torch.double, requires_grad=True)
    h0 = torch.randn(B, H, dtype=torch.double, requires_grad=True)
    c0 = torch.randn(B, H, dtype=torch.double, requires_grad=True)
    mask = None if mask_shape is None else (torch.rand(mask_shape, dtype=torch.double) > 0.3).double() / 0.7
    return layer, x, h0, c0, mask


def outputs_and_gradients(function, layer, x, h0, c0, mask):
    out, (h, c) = function(x, layer, (h0, c0), mask)
    # Every output reaches the loss, with different weights, so each gradient path is checked.
    loss = (out * torch.linspace(-1, 1, H, dtype=out.dtype)).sum() + (h ** 2).sum() + (c * 3).sum()
    tensors = [x, h0, c0, *layer.parameters()]
    return [out, h, c, *torch.autograd.grad(loss, tensors)]


def check_against_the_reference(mask_shape):
    layer, x, h0, c0, mask = inputs(mask_shape)
    compiled = outputs_and_gradients(fused_cell.lstm_layer_compiled_cell, layer, x, h0, c0, mask)
    reference = outputs_and_gradients(lstm_layer_reference, layer, x, h0, c0, mask)
    for got, expected in zip(compiled, reference):
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mask_shape", MASKS)
def test_the_cells_loop_equals_the_reference_with_the_cell_uncompiled(monkeypatch, mask_shape):
    monkeypatch.setattr(fused_cell, "compiled", lambda function: function)  # the loop, not the compiler
    check_against_the_reference(mask_shape)


@pytest.mark.slow  # torch.compile of two small functions: tens of seconds on 2 CPU cores
def test_the_compiled_cell_equals_the_reference_forward_and_backward():
    for mask_shape in MASKS:  # one compile serves all three: the cell never sees the mask
        check_against_the_reference(mask_shape)
    layer, x, h0, c0, mask = inputs((B, H))
    assert torch.autograd.gradcheck(
        lambda x, h0, c0: fused_cell.lstm_layer_compiled_cell(x, layer, (h0, c0), mask)[0], (x, h0, c0))


def test_bench_times_the_compiled_cell_alone_and_through_the_graph_step():
    from types import SimpleNamespace

    from lmcore.bench import build_runners

    args = SimpleNamespace(vocab=30, layers=2, batch=2, bptt=3, amp="none", autograd_loop=False,
                           placements="variational", graphs=True, compiled_cell=True)
    runners = {r.name: r for r in build_runners(8, args, torch.device("cpu"))}
    for name in ("variational, compiled cell", "variational, graph step eager, compiled cell"):
        assert [layer.path for layer in runners[name].model.lstms] == ["compiled-cell", "compiled-cell"]
    assert runners["variational, graph step eager, compiled cell"].graphed is not None
    assert runners["variational, compiled cell"].graphed is None
