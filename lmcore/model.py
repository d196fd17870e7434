"""The language model: embedding -> L LSTM layers -> linear decoder, with dropout and tying.

Every layer is an lstm.LSTMLayer (a single-layer nn.LSTM), so parameters have one layout
whatever the placement. The model only decides which masks to draw (dropout.DropoutPlan);
each layer decides how to run with the mask it is given.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import Config
from .dropout import DropoutPlan
from .lstm import LSTMLayer
from .pipeline import LayerStreams, pipelined_layers

State = list  # one (h, c) pair per layer, each (B, H)


class LanguageModel(nn.Module):
    """`path` is passed to every LSTMLayer: leave it `auto` except to benchmark or test a path.
    `pipeline` > 1 trains the layers over that many chunks of each window, overlapped on CUDA
    streams (lmcore/pipeline.py; the config key layer_pipeline); the same function. Evaluation
    and sampling run the plain loop: they run eagerly, where more and smaller calls cost more."""

    def __init__(self, vocab_size: int, cfg: Config, path: str = "auto", pipeline: int = 1):
        super().__init__()
        self.pipeline, self._streams = pipeline, LayerStreams()
        self.vocab_size = vocab_size
        self.hidden_size = cfg.hidden_size
        self.embedding = nn.Embedding(vocab_size, cfg.embed_size)
        sizes = [cfg.embed_size] + [cfg.hidden_size] * cfg.layers
        self.lstms = nn.ModuleList(LSTMLayer(sizes[i], cfg.hidden_size, path) for i in range(cfg.layers))
        self.decoder = nn.Linear(cfg.hidden_size, vocab_size)
        if cfg.tie_weights:
            # One Parameter used twice, (V, H) as a lookup table and as the decoder's
            # (V, H) weight in x W^T: the gradient of both uses lands in one tensor.
            self.decoder.weight = self.embedding.weight
        self.plan = DropoutPlan(cfg)
        initialize(self, cfg)

    @property
    def tied(self) -> bool:
        return self.decoder.weight is self.embedding.weight

    def init_state(self, batch_size: int) -> State:
        weight = self.decoder.weight
        zeros = lambda: weight.new_zeros(batch_size, self.hidden_size)  # noqa: E731
        return [(zeros(), zeros()) for _ in self.lstms]

    def forward(self, tokens: torch.Tensor, state: State):
        """tokens (T, B) -> logits (T, B, V), new state."""
        x = self.embedding(tokens)                          # (T, B, E)
        if self.pipeline > 1 and self.training and len(self.lstms) > 1:
            x, new_state = pipelined_layers(self, x, state, self.pipeline, self._streams)
            return self.decoder(self._drop(x, f"layer{len(self.lstms)}.output")), new_state
        new_state = []
        for i, (layer, layer_state) in enumerate(zip(self.lstms, state), start=1):
            x = self._drop(x, f"layer{i}.input")
            mask = self.plan.recurrent_mask(i, x.shape[0], layer_state[0]) if self.training else None
            x, layer_state = layer(x, layer_state, mask)    # (T, B, H)
            new_state.append(layer_state)
        x = self._drop(x, f"layer{len(self.lstms)}.output")
        return self.decoder(x), new_state                   # (T, B, V)

    def _drop(self, x, site):
        return self.plan.apply(x, site) if self.training else x


def detach_state(state: State) -> State:
    """Cut the graph between bptt windows while carrying the values over."""
    return [(h.detach(), c.detach()) for h, c in state]


def initialize(model: LanguageModel, cfg: Config) -> None:
    """Init as the chosen recipe. `torch` keeps PyTorch's defaults."""
    if cfg.init == "book":
        # The seed: embedding N(0, 0.01^2), weights N(0, 1/fan_in), zero biases.
        with torch.no_grad():
            nn.init.normal_(model.embedding.weight, 0.0, 0.01)
            for lstm in model.lstms:
                nn.init.normal_(lstm.weight_ih_l0, 0.0, 1.0 / math.sqrt(lstm.input_size))
                nn.init.normal_(lstm.weight_hh_l0, 0.0, 1.0 / math.sqrt(lstm.hidden_size))
                lstm.bias_ih_l0.zero_()
                lstm.bias_hh_l0.zero_()
            if not model.tied:
                nn.init.normal_(model.decoder.weight, 0.0, 1.0 / math.sqrt(cfg.hidden_size))
            model.decoder.bias.zero_()
    elif cfg.init == "uniform":
        # Zaremba et al.: every parameter U(-r, r).
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.uniform_(-cfg.init_range, cfg.init_range)


def count_model_parameters(model: LanguageModel) -> dict:
    """Counts read off a built model (unique tensors), to check params.formula_counts."""
    parts = {"embedding": model.embedding.weight.numel()}
    for i, lstm in enumerate(model.lstms, start=1):
        parts[f"layer{i}"] = sum(p.numel() for p in lstm.parameters())
    parts["decoder_weight"] = 0 if model.tied else model.decoder.weight.numel()
    parts["decoder_bias"] = model.decoder.bias.numel()
    total = sum(p.numel() for p in model.parameters())  # parameters() yields shared ones once
    return {"parts": parts, "total": total}
