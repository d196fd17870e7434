"""Parameter counts from a config alone, by formula: instant, no model is built.

Per LSTM layer with input size I and hidden size H: four gates, each with an input weight
(H x I), a recurrent weight (H x H) and, as in nn.LSTM, two bias vectors (b_ih and b_hh),
so 4H(I + H) + 8H. (The textbook keeps one bias vector: 4H fewer per layer.)

The breakdown has one part per layer, so a count refuses sizes beyond their declared limits
(lmcore.config): a million layers would mean a million rows for whoever shows the table.
"""

from __future__ import annotations

import pandas as pd

from .config import Config, ConfigError, key_problem


def lstm_layer_count(input_size: int, hidden_size: int) -> int:
    return 4 * hidden_size * (input_size + hidden_size) + 8 * hidden_size


def formula_counts(cfg: Config, vocab_size: int) -> dict:
    """The params.json breakdown: total, per part, and what tying saves (or would save)."""
    found = [f"{key}: {problem}" for key in ("layers", "embed_size", "hidden_size")
             if (problem := key_problem(key, getattr(cfg, key)))]
    if found:
        raise ConfigError(found)
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


def parameter_table(cfg: Config, counts: dict) -> pd.DataFrame:
    """One row per part of the model: what it is, its formula with numbers, its count, its share."""
    V, E, H = counts["vocab_size"], cfg.embed_size, cfg.hidden_size
    rows = [("Embedding", f"{V:,}×{E:,}", counts["parts"]["embedding"])]
    for i in range(1, cfg.layers + 1):
        inputs = E if i == 1 else H
        rows.append((f"LSTM {i}", f"4·{H:,}·({inputs:,}+{H:,}) + 8·{H:,}", counts["parts"][f"layer{i}"]))
    tied = "tied" if cfg.tie_weights else f"{H:,}×{V:,}"
    rows.append(("Decoder weight", tied, counts["parts"]["decoder_weight"]))
    rows.append(("Decoder bias", f"{V:,}", counts["parts"]["decoder_bias"]))
    table = pd.DataFrame(rows, columns=["part", "formula", "parameters"])
    table["share"] = table["parameters"] / max(counts["total"], 1)
    return table


def tying_text(cfg: Config, counts: dict) -> str:
    """What tying saves (or would save, or why it cannot), in one sentence."""
    untied = counts["untied_total"]
    if cfg.embed_size != cfg.hidden_size:
        would = counts["vocab_size"] * cfg.hidden_size
        return (f"Tying needs embed size = hidden size; with both at {cfg.hidden_size:,} it would share "
                f"the {would:,} decoder weights with the embedding.")
    share = f"{counts['tying_saves']:,} parameters ({counts['tying_saves'] / untied:.0%} of the untied model)"
    return f"Tying saves {share}." if cfg.tie_weights else f"Tying would save {share}."
