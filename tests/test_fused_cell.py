"""The compiled element-wise LSTM cell (lmcore/fused_cell.py, issue 10.2) computes what the plain
recurrence and the autograd reference compute, forward and backward, with every mask shape."""

from __future__ import annotations

import json

import pytest
import torch

from lmcore import fused_cell
from lmcore.lstm import LSTMLayer, lstm_layer_reference
from runlogs import train_losses

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
    # Each masked placement asked for gets its rows; the unmasked ones have no cell to compile.
    args.placements = "vertical,horizontal,variational"
    names = [r.name for r in build_runners(8, args, torch.device("cpu")) if "compiled" in r.name]
    assert names == ["horizontal, compiled cell", "horizontal, graph step eager, compiled cell",
                     "variational, compiled cell", "variational, graph step eager, compiled cell"]


# ---------------------------------------------------------------- the trainer's use of it


def test_the_config_key_compiles_the_cell_only_for_a_captured_step_unless_asked():
    from lmcore.lstm import trainer_path

    assert trainer_path("auto", graphed=True) == "compiled-cell"
    assert trainer_path("auto", graphed=False) == "auto"   # eager it was slower on the GPU, and on a CPU
    assert trainer_path("on", graphed=False) == "compiled-cell"
    assert trainer_path("off", graphed=True) == "auto"


def test_without_a_mask_the_compiled_cell_path_runs_cudnn_and_compiles_nothing(monkeypatch):
    def no_compiling(*args):
        raise AssertionError("compiled without a mask")

    monkeypatch.setattr(fused_cell, "compiles", no_compiling)
    layer, x, h0, c0, _ = inputs(None)
    out, (h, c) = layer(x, (h0, c0))
    expected, (h_n, c_n) = torch.nn.LSTM.forward(layer, x, (h0[None], c0[None]))
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(h, h_n[0])


def _train_variational(runs_root, **changes):
    from conftest import SMALL
    from lmcore.runs import create_run
    from lmcore.session import run

    folder = create_run({**SMALL, "max_steps": 20, "log_every": 1, "dropout": 0.5,
                         "dropout_placement": "variational", **changes}, runs_root)
    summary = run(folder, show_progress=False)
    return summary, train_losses(folder), folder


def test_a_run_with_the_cell_on_trains_as_the_plain_recurrence(runs_root, monkeypatch):
    calls = []

    def counted(function):  # the trainer's wiring, not the compiler
        def call(*args):
            calls.append(function.__name__)
            return function(*args)
        return call

    monkeypatch.setattr(fused_cell, "compiled", counted)
    fused_cell.ANSWERS.clear()
    with_cell, losses, folder = _train_variational(runs_root, compiled_cell="on")
    # 20 windows of 10 steps in 2 layers, forward and backward, plus the compile check
    assert calls.count("cell_forward") == calls.count("cell_backward") == 20 * 10 * 2 + 1
    calls.clear()
    plain, plain_losses, _ = _train_variational(runs_root, compiled_cell="off")
    assert calls == []
    assert json.loads((folder / "config.json").read_text())["compiled_cell"] == "on"
    assert json.loads((folder / "status.json").read_text())["step_kind"] == "eager, compiled cell"
    assert len(losses) == 20 and losses == pytest.approx(plain_losses, rel=1e-5)
    assert with_cell["test_ppl"] == pytest.approx(plain["test_ppl"], rel=1e-5)
    fused_cell.ANSWERS.clear()  # its answers came from the stand-in, not the compiler


def test_a_cell_that_does_not_compile_leaves_the_run_on_the_plain_recurrence(runs_root, monkeypatch, capfd):
    def broken(function):
        def call(*args):
            raise RuntimeError("Compiler: cc not found\nmore detail")
        return call

    monkeypatch.setattr(fused_cell, "compiled", broken)
    fused_cell.ANSWERS.clear()
    fused_cell._say_once.cache_clear()
    with_cell, losses, folder = _train_variational(runs_root, compiled_cell="on")
    plain, plain_losses, _ = _train_variational(runs_root, compiled_cell="off")
    assert json.loads((folder / "status.json").read_text())["step_kind"] == "eager"  # not ", compiled cell"
    assert with_cell["state"] == "finished" and losses == plain_losses and with_cell["test_ppl"] == plain["test_ppl"]
    said = capfd.readouterr().err
    assert said.count("the compiled LSTM cell is off") == 1 and "RuntimeError: Compiler: cc not found" in said
    fused_cell.ANSWERS.clear()
