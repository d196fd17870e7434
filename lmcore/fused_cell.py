"""The element-wise gate math of one LSTM step, compiled into one kernel (issue 10.2).

LSTMRecurrence (lstm.py) spends each time step on one addmm and ~6 element-wise kernels
forward (sigmoid, tanh, f*c, addcmul, tanh, mul) and ~6 backward. On a GPU every kernel costs
a launch and a few microseconds whatever its size, so with 35 steps, 2 layers, forward and
backward, the element-wise part is most of a window. torch.compile of that math alone gives
one generated kernel per step forward and one backward; the loop, the matmuls and the tensors
saved for backward stay as in LSTMRecurrence (the unrolled loop is not compiled: that is known
to take minutes). LSTMRecurrence's plain kernels stay the reference the tests compare with.

Use it through LSTMLayer(path="compiled-cell"), which the trainer picks with the config key
compiled_cell. The first window of each batch size and dtype compiles (docs/performance.md
gives the time); later ones reuse the kernels. Where compiling fails (no C compiler, no
Triton), the layer says so once and runs the plain recurrence: a run never dies of it.
"""

from __future__ import annotations

import functools
import sys

import torch
from torch import nn

from .lstm import _step_mask, gate_partners, lstm_layer, recurrent_weight_grad


def cell_forward(gates, c_prev):
    """gates (B, 4H), pre-activations in nn.LSTM's order i, f, g, o; c_prev (B, H) ->
    activations (B, 4H), c (B, H), tanh(c) (B, H), h (B, H)."""
    i, f, g, o = gates.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c_prev + i * g
    tanh_c = torch.tanh(c)
    return torch.cat([i, f, g, o], dim=1), c, tanh_c, o * tanh_c


def cell_backward(dh, grad_output, dc, partners, through_tanh, f):
    """One step back. dh (B, H) from step t+1 and grad_output (B, H) from above both flow into
    h(t); dc (B, H) into c(t); partners (B, 4H), through_tanh and f (B, H) as gate_partners
    gives them -> d pre-activations (B, 4H) and dc flowing into c(t-1)."""
    dh = dh + grad_output
    dc = dc + dh * through_tanh
    # di = dc g i(1-i), df = dc c(t-1) f(1-f), dg = dc i (1-g^2), do = dh tanh(c) o(1-o)
    return torch.cat([dc, dc, dc, dh], dim=1) * partners, dc * f


@functools.cache
def compiled(function):
    """One compiled version per function for the whole process (fixed shapes: a new shape or
    dtype compiles once more)."""
    return torch.compile(function, dynamic=False, fullgraph=True)


ANSWERS: dict[tuple, bool] = {}  # (batch, hidden, dtype, device) -> whether the cell compiled for it


def compiles(batch: int, hidden: int, dtype: torch.dtype, device: torch.device) -> bool:
    """Compile both functions for this shape now, in the state the autograd Function calls them
    in (no grad, no autocast), so a compiler failure shows here and not in a backward pass."""
    key = (batch, hidden, dtype, device)
    if key not in ANSWERS:
        ANSWERS[key] = _try_compiling(*key)
    return ANSWERS[key]


def _try_compiling(batch: int, hidden: int, dtype: torch.dtype, device: torch.device) -> bool:
    try:
        with torch.no_grad(), torch.autocast(device.type, enabled=False):
            gates = torch.zeros(batch, 4 * hidden, dtype=dtype, device=device)
            cell = torch.zeros(batch, hidden, dtype=dtype, device=device)
            compiled(cell_forward)(gates, cell)
            compiled(cell_backward)(cell, cell, cell, gates, cell, cell)
        return True
    except Exception as error:  # the compiler's failures have no common type
        first_line = (str(error).strip().splitlines() or [""])[0]
        _say_once(f"lmcore: the compiled LSTM cell is off, the plain recurrence runs instead "
                  f"({type(error).__name__}: {first_line})")
        return False


def compiled_for(model: nn.Module) -> bool:
    """True when a layer of `model` runs the compiled cell: it asks for it and its compile succeeded."""
    return any(getattr(layer, "path", None) == "compiled-cell"
               and any(ok for (_, hidden, _, _), ok in ANSWERS.items() if hidden == layer.hidden_size)
               for layer in model.modules())


@functools.cache
def _say_once(message: str) -> None:
    print(message, file=sys.stderr)


class CompiledCellRecurrence(torch.autograd.Function):
    """LSTMRecurrence's function, with cell_forward and cell_backward compiled; same arguments."""

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda", cast_inputs=torch.float32)
    def forward(ctx, x_proj, w_hh, h0, c0, mask):
        # x_proj (T, B, 4H); w_hh (4H, H); h0, c0 (B, H); mask None, (B, H) or (T, B, H)
        step = compiled(cell_forward)
        w_hh_t = w_hh.t()
        h, c = h0, c0
        acts, cells, tanh_cells, recurrent_in, outputs = [], [c0], [], [], []
        for t in range(x_proj.shape[0]):
            m = _step_mask(mask, t)
            r = h if m is None else h * m
            a, c, tanh_c, h = step(torch.addmm(x_proj[t], r, w_hh_t), c)   # (B, 4H), then (B, H) each
            for saved, value in zip((recurrent_in, acts, cells, tanh_cells, outputs), (r, a, c, tanh_c, h)):
                saved.append(value)
        stacked = [torch.stack(saved) for saved in (acts, cells, tanh_cells, recurrent_in)]
        ctx.save_for_backward(*stacked, w_hh, mask)
        return torch.stack(outputs), h, c                                   # (T, B, H), (B, H), (B, H)

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, grad_outputs, grad_h_last, grad_c_last):
        acts, cells, tanh_cells, recurrent_in, w_hh, mask = ctx.saved_tensors
        steps = acts.shape[0]
        step = compiled(cell_backward)
        f = acts.chunk(4, dim=2)[1]                                          # (T, B, H) view
        partners, through_tanh = gate_partners(acts, cells, tanh_cells)
        grad_gates = [None] * steps
        dh, dc = grad_h_last, grad_c_last
        for t in reversed(range(steps)):
            grad_gates[t], dc = step(dh, grad_outputs[t], dc, partners[t], through_tanh[t], f[t])
            dh = grad_gates[t] @ w_hh                                        # (B, H) into the masked h(t-1)
            m = _step_mask(mask, t)
            if m is not None:
                dh = dh * m
        grad_gates = torch.stack(grad_gates)                                 # (T, B, 4H)
        return grad_gates, recurrent_weight_grad(grad_gates, recurrent_in), dh, dc, None


def lstm_layer_compiled_cell(x, lstm: nn.LSTM, state, recurrent_mask=None):
    """lstm.lstm_layer with the compiled cell: x (T, B, I) -> output (T, B, H), (h, c)."""
    # The Function computes in the weights' dtype (float32 under bf16 autocast too).
    if not compiles(state[0].shape[0], lstm.hidden_size, lstm.weight_hh_l0.dtype, x.device):
        return lstm_layer(x, lstm, state, recurrent_mask)
    return lstm_layer(x, lstm, state, recurrent_mask, recurrence=CompiledCellRecurrence)
