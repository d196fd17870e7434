"""Parameter counts from a config alone, by formula: instant, no model is built.

Per LSTM layer with input size I and hidden size H: four gates, each with an input weight
(H x I), a recurrent weight (H x H) and, as in nn.LSTM, two bias vectors (b_ih and b_hh),
so 4H(I + H) + 8H. (The textbook keeps one bias vector: 4H fewer per layer.)
"""

from __future__ import annotations

from .config import Config


def lstm_layer_count(input_size: int, hidden_size: int) -> int:
    return 4 * hidden_size * (input_size + hidden_size) + 8 * hidden_size


def formula_counts(cfg: Config, vocab_size: int) -> dict:
    """The params.json breakdown: total, per part, and what tying saves (or would save)."""
    V, E, H = vocab_size, cfg.embed_size, cfg.hidden_size
    parts = {"embedding": V * E}
    for i in range(1, cfg.layers + 1):
        parts[f"layer{i}"] = lstm_layer_count(E if i == 1 else H, H)
    parts["decoder_weight"] = 0 if cfg.tie_weights else H * V
    parts["decoder_bias"] = V
    tying_saves = V * E if cfg.embed_size == cfg.hidden_size else 0
    return {
        "total": sum(parts.values()),
        "parts": parts,
        "tied": cfg.tie_weights,
        "vocab_size": V,
        # With tying on: what it saves now. Off: what it would save if switched on.
        "tying_saves": tying_saves,
        "untied_total": sum(parts.values()) + (H * V if cfg.tie_weights else 0),
    }
