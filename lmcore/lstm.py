"""An LSTM layer whose recurrent path can be dropped, with a hand-written backward pass.

torch's fused nn.LSTM cannot put a mask on h(t-1) -> h(t), so the horizontal and
variational placements need their own recurrence. It reads the parameters of an ordinary
single-layer nn.LSTM (same names, gate order i, f, g, o, two bias vectors), so every
placement shares one parameter layout, one init and one checkpoint format, and with no
mask it computes the same function as nn.LSTM.

Speed comes from three choices:
- the input projection of all time steps is one matmul outside the loop;
- the loop runs without autograd (one Function for the whole window), so each step costs
  one addmm and a few element-wise kernels instead of a recorded graph;
- the backward pass accumulates dW_hh in one (4H, T*B) x (T*B, H) matmul at the end, not
  T small ones.

`LSTMLayer` is the module the model uses: an nn.LSTM (so the same parameter names and
checkpoints) whose forward takes the mask and picks the path itself, as haste's layers do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _step_mask(mask, t):
    if mask is None:
        return None
    return mask[t] if mask.dim() == 3 else mask


class LSTMRecurrence(torch.autograd.Function):
    """h, c over a window given precomputed input projections; optional mask on h(t-1)."""

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda", cast_inputs=torch.float32)
    def forward(ctx, x_proj, w_hh, h0, c0, mask):
        # x_proj (T, B, 4H) = x W_ih^T + b_ih + b_hh;  w_hh (4H, H);  h0, c0 (B, H)
        # mask None, (B, H) for one mask per window, or (T, B, H) for a fresh one per step
        steps, batch, gates_size = x_proj.shape
        hidden = gates_size // 4
        acts = x_proj.new_empty(steps, batch, gates_size)   # (T, B, 4H) gate activations
        cells = x_proj.new_empty(steps + 1, batch, hidden)  # (T+1, B, H) c(0..T)
        tanh_cells = x_proj.new_empty(steps, batch, hidden)
        recurrent_in = x_proj.new_empty(steps, batch, hidden)  # (T, B, H) masked h(t-1)
        outputs = x_proj.new_empty(steps, batch, hidden)
        cells[0] = c0
        h = h0
        w_hh_t = w_hh.t()
        g_slice = slice(2 * hidden, 3 * hidden)
        for t in range(steps):
            m = _step_mask(mask, t)
            r = h if m is None else h * m
            recurrent_in[t] = r
            gates = torch.addmm(x_proj[t], r, w_hh_t)      # (B, 4H)
            a = acts[t]
            torch.sigmoid(gates, out=a)
            torch.tanh(gates[:, g_slice], out=a[:, g_slice])
            i, f, g, o = a.chunk(4, dim=1)
            torch.addcmul(f * cells[t], i, g, out=cells[t + 1])
            torch.tanh(cells[t + 1], out=tanh_cells[t])
            h = torch.mul(o, tanh_cells[t], out=outputs[t])
        ctx.save_for_backward(acts, cells, tanh_cells, recurrent_in, w_hh, mask)
        return outputs, outputs[-1].clone(), cells[-1].clone()

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, grad_outputs, grad_h_last, grad_c_last):
        acts, cells, tanh_cells, recurrent_in, w_hh, mask = ctx.saved_tensors
        steps = acts.shape[0]
        f = acts.chunk(4, dim=2)[1]                         # (T, B, H) view
        partners, through_tanh = gate_partners(acts, cells, tanh_cells)
        grad_gates = torch.empty_like(acts)                 # (T, B, 4H) d loss / d pre-activations
        dh = grad_h_last.clone()
        dc = grad_c_last.clone()
        for t in reversed(range(steps)):
            dh += grad_outputs[t]
            dc.addcmul_(dh, through_tanh[t])
            # di = dc g i(1-i), df = dc c(t-1) f(1-f), dg = dc i (1-g^2), do = dh tanh(c) o(1-o)
            torch.mul(torch.cat([dc, dc, dc, dh], dim=1), partners[t], out=grad_gates[t])
            dc = dc * f[t]
            dh = grad_gates[t] @ w_hh                       # (B, H) into the masked h(t-1)
            m = _step_mask(mask, t)
            if m is not None:
                dh = dh * m
        return grad_gates, recurrent_weight_grad(grad_gates, recurrent_in), dh, dc, None


def gate_partners(acts, cells, tanh_cells):
    """What the backward pass multiplies the incoming gradient by, for all steps at once, so the
    sequential loop is left with ~6 small kernels per step: acts (T, B, 4H), cells (T+1, B, H),
    tanh_cells (T, B, H) -> partners (T, B, 4H) (d gate / d (dc or dh)) and through_tanh
    (T, B, H) (d h / d c)."""
    i, f, g, o = acts.chunk(4, dim=2)                   # (T, B, H) views
    slopes = torch.cat([i * (1 - i), f * (1 - f), 1 - g * g, o * (1 - o)], dim=2)
    partners = torch.cat([g, cells[:-1], i, tanh_cells], dim=2).mul_(slopes)
    return partners, o * (1 - tanh_cells * tanh_cells)


def recurrent_weight_grad(grad_gates, recurrent_in):
    """dW_hh (4H, H) of the whole window in one (4H, T*B) x (T*B, H) matmul, not T small ones:
    grad_gates (T, B, 4H) d loss / d pre-activations, recurrent_in (T, B, H) the masked h(t-1)."""
    steps, batch, gates_size = grad_gates.shape
    return grad_gates.view(steps * batch, gates_size).t() @ recurrent_in.view(steps * batch, -1)


def input_projection(x: torch.Tensor, lstm: nn.LSTM) -> torch.Tensor:
    """x W_ih^T + b_ih + b_hh for every time step at once: (T, B, I) -> (T, B, 4H)."""
    return F.linear(x, lstm.weight_ih_l0, lstm.bias_ih_l0 + lstm.bias_hh_l0)


def lstm_layer(x, lstm: nn.LSTM, state, recurrent_mask=None, recurrence=LSTMRecurrence):
    """Run one single-layer nn.LSTM's parameters over x (T, B, I) with an optional mask on h(t-1).

    Returns output (T, B, H) and the new (h, c), each (B, H). `recurrence` is the autograd
    Function that runs the loop (fused_cell.CompiledCellRecurrence takes the same arguments).
    """
    h0, c0 = state
    outputs, h, c = recurrence.apply(input_projection(x, lstm), lstm.weight_hh_l0, h0, c0, recurrent_mask)
    return outputs, (h, c)


def lstm_layer_reference(x, lstm: nn.LSTM, state, recurrent_mask=None):
    """The same function written step by step with autograd: slow, obviously right; for tests."""
    h, c = state
    outputs = []
    for t in range(x.shape[0]):
        m = _step_mask(recurrent_mask, t)
        r = h if m is None else h * m
        gates = F.linear(x[t], lstm.weight_ih_l0, lstm.bias_ih_l0) + F.linear(
            r, lstm.weight_hh_l0, lstm.bias_hh_l0)
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs), (h, c)


PATHS = ("auto", "fused", "recurrence", "compiled-cell", "autograd")


def trainer_path(compiled_cell: str, graphed: bool) -> str:
    """The LSTMLayer path for the config key compiled_cell. `auto` compiles the cell only for a
    step captured as a CUDA graph: on an H200 it made graphed variational 1.24x faster, but
    eager it was 0.76x (most likely each compiled call's own overhead outweighs the kernels it
    saves; a graph replays without it), and on a CPU 1.3x slower (docs/performance.md)."""
    return "compiled-cell" if compiled_cell == "on" or (compiled_cell == "auto" and graphed) else "auto"


class LSTMLayer(nn.LSTM):
    """One LSTM layer with nn.LSTM's parameters and an optional dropout mask on h(t-1).

    forward(x (T, B, I), (h, c) each (B, H), recurrent_mask) -> output (T, B, H), (h, c).
    `path` says how it computes: `auto` runs the fused nn.LSTM (cuDNN on a GPU) when there
    is no mask and LSTMRecurrence when there is one; `fused`, `recurrence` and `autograd`
    (the step-by-step reference) force one, for benchmarks and tests; `compiled-cell` is `auto`
    with the recurrence's element-wise gate math compiled (lmcore/fused_cell.py): masked windows
    run the compiled cell, unmasked ones (evaluation, sampling) cuDNN, which is faster there
    and needs no compile for their batch sizes.
    """

    def __init__(self, input_size: int, hidden_size: int, path: str = "auto"):
        super().__init__(input_size, hidden_size)
        if path not in PATHS:
            raise ValueError(f"path must be one of {', '.join(PATHS)} (got {path!r})")
        self.path = path

    def forward(self, x, state, recurrent_mask=None):
        path = self.path
        if path == "auto":
            path = "fused" if recurrent_mask is None else "recurrence"
        if path == "recurrence":
            return lstm_layer(x, self, state, recurrent_mask)
        if path == "autograd":
            return lstm_layer_reference(x, self, state, recurrent_mask)
        if path == "compiled-cell" and recurrent_mask is not None:  # unmasked windows run fused, below
            from .fused_cell import lstm_layer_compiled_cell  # torch.compile's import cost only when asked

            return lstm_layer_compiled_cell(x, self, state, recurrent_mask)
        if recurrent_mask is not None:
            raise ValueError("the fused nn.LSTM cannot drop h(t-1): use path 'auto' or 'recurrence'")
        h0, c0 = state
        out, (h, c) = super().forward(x, (h0.unsqueeze(0), c0.unsqueeze(0)))  # state (1, B, H)
        return out, (h[0], c[0])

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, path={self.path!r}"
