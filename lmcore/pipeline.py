"""The LSTM layers pipelined over chunks of the window: layer i+1 reads chunk c while layer i
computes chunk c+1 (an experiment of issue 10, timed by `lmcore bench --pipeline`).

Why: a graphed 2x650 step on an H200 takes 3.5 ms for 700 tokens, far above its arithmetic.
The reading in docs/performance.md is that it is bound by the chain of dependent per-time-step
kernels: 35 steps of layer 1, then 35 of layer 2, forward and again backward. With the window
cut into k chunks and each layer on its own CUDA stream, layer 2's chunk c can run beside
layer 1's chunk c+1, so the chain is (k + L - 1) chunks long instead of k * L: 42 time steps
instead of 70 for 2 layers and 5 chunks. A CUDA graph keeps the streams' overlap as parallel
branches, and autograd runs each backward op on its forward op's stream, so the backward pass
overlaps the same way. cuDNN does this inside one multi-layer call, but only with its own
dropout between the layers, whose masks this tool could not record or show.

The function is the plain layer loop's, chunk by chunk: the masks are drawn first, in the
order LanguageModel.forward draws them (so the same seed gives the same masks), a per-step
mask is cut along with the window, a per-window one is used whole, and each layer carries its
(h, c) from one chunk to the next. Off CUDA it runs the chunks one after another.
"""

from __future__ import annotations

import contextlib

import torch


def chunk_bounds(steps: int, chunks: int) -> list[tuple[int, int]]:
    """[start, stop) of at most `chunks` near-equal, non-empty pieces of range(steps)."""
    edges = [round(i * steps / chunks) for i in range(chunks + 1)]
    return [(start, stop) for start, stop in zip(edges, edges[1:]) if stop > start]


def _piece(mask, start: int, stop: int):
    """A per-step mask's rows for [start, stop); a per-window mask (None, (B, H) or (1, B, F)) whole."""
    if mask is None or mask.dim() != 3 or mask.shape[0] == 1:
        return mask
    return mask[start:stop]


def _draw_masks(model, x, state) -> list[tuple]:
    """(input mask, recurrent mask) per layer, drawn in the plain forward's training order."""
    steps, batch, _ = x.shape
    masks = []
    for i, (h, _) in enumerate(state, start=1):
        features = x.shape[2] if i == 1 else model.hidden_size
        masks.append((model.plan.mask(f"layer{i}.input", (steps, batch, features), x),
                      model.plan.recurrent_mask(i, steps, h)))
    return masks


class LayerStreams:
    """The stream each layer runs on: the caller's for layer 1, one side stream per other layer
    on CUDA (made once per model and device); no streams off CUDA."""

    def __init__(self):
        self.side: dict[torch.device, list] = {}

    def for_layers(self, layers: int, device: torch.device) -> list:
        if device.type != "cuda":
            return [None] * layers
        side = self.side.setdefault(device, [])
        while len(side) < layers - 1:
            side.append(torch.cuda.Stream(device))
        return [torch.cuda.current_stream(device)] + side[: layers - 1]


def _on(stream):
    return torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext()


def _hand_over(tensors, made_on, read_on) -> None:
    """Tensors made on one stream and read on another: `read_on` waits for all work queued on
    `made_on` so far, and the caching allocator must not reuse their memory before `read_on`
    is done with them. Nothing to do off CUDA (no streams)."""
    if read_on is None or read_on is made_on:
        return
    read_on.wait_stream(made_on)
    for tensor in tensors:
        if tensor is not None:
            tensor.record_stream(read_on)


def pipelined_layers(model, x, state, chunks: int, streams: LayerStreams):
    """The layers of `model` over x (T, B, E), `chunks` pieces at a time -> output of the last
    layer (T, B, H) before its output dropout, new state (one (h, c) per layer)."""
    masks = _draw_masks(model, x, state)
    lanes = streams.for_layers(len(model.lstms), x.device)
    caller = lanes[0]
    for lane, layer_masks, layer_state in zip(lanes, masks, state):
        _hand_over([*layer_masks, *layer_state], caller, lane)
    states, outputs = list(state), []
    for start, stop in chunk_bounds(x.shape[0], chunks):
        piece = x[start:stop]
        for i, (layer, lane, (input_mask, recurrent_mask)) in enumerate(zip(model.lstms, lanes, masks)):
            if i > 0:
                _hand_over([piece], lanes[i - 1], lane)  # layer i's chunk needs layer i-1's same chunk
            with _on(lane):
                mask = _piece(input_mask, start, stop)
                piece = piece if mask is None else piece * mask
                piece, states[i] = layer(piece, states[i], _piece(recurrent_mask, start, stop))
        outputs.append(piece)
    for lane, layer_state in zip(lanes, states):
        _hand_over([*layer_state, *(outputs if lane is lanes[-1] else [])], lane, caller)
    return torch.cat(outputs), states
