"""Text from a trained model, and what it considered at every word.

Sampling draws from its own torch.Generator, so it never disturbs the training RNG (a run
that samples at every evaluation still resumes exactly).
"""

from __future__ import annotations

import torch

from .config import SAMPLING_SEED_MAX
from .model import LanguageModel
from .text import EOS, UNK


def prompt_ids(words: list[str], prompt: str) -> tuple[list[int], list[str]]:
    """Ids of the prompt's words (unknown ones become <unk>, or are dropped without it). A word the
    vocabulary lacks but has in lower case is read in lower case: PTB is lower case, and "The
    company" should not start as "<unk> company"."""
    index = {w: i for i, w in enumerate(words)}
    ids, unknown = [], []
    for word in prompt.split():
        if word in index or word.lower() in index:
            ids.append(index.get(word, index.get(word.lower())))
            continue
        unknown.append(word)
        if UNK in index:
            ids.append(index[UNK])
    if not ids:
        ids = [index.get(EOS, 0)]  # an empty prompt starts a new sentence
    return ids, unknown


def next_distribution(logits: torch.Tensor, temperature: float, top_k: int) -> torch.Tensor:
    """Probabilities actually sampled from: logits / T, then only the k most likely kept."""
    scaled = logits.float() / temperature
    if 0 < top_k < scaled.numel():
        cutoff = torch.topk(scaled, top_k).values[-1]
        scaled = scaled.masked_fill(scaled < cutoff, float("-inf"))
    return torch.softmax(scaled, dim=-1)


@torch.no_grad()
def generate(model: LanguageModel, words: list[str], prompt: str = "", num_words: int = 30,
             temperature: float = 1.0, top_k: int = 0, seed: int = 0, top: int = 10) -> dict:
    """Sample `num_words` words after `prompt`.

    Returns the prompt as understood, the prompt's unknown words, the generated words, the
    text, and for each generated word the `top` most likely next words with probabilities.
    """
    if not 0 <= seed <= SAMPLING_SEED_MAX:  # a larger seed would repeat a smaller one's text (config.py)
        raise ValueError(f"seed must be a whole number from 0 to {SAMPLING_SEED_MAX:,} (got {seed})")
    was_training = model.training
    model.eval()
    device = model.decoder.weight.device
    generator = torch.Generator().manual_seed(seed)
    ids, unknown = prompt_ids(words, prompt)
    state = model.init_state(1)
    try:
        logits, state = model(torch.tensor(ids, device=device).view(-1, 1), state)
        steps = []
        for _ in range(num_words):
            probs = next_distribution(logits[-1, 0], temperature, top_k).cpu()
            choice = int(torch.multinomial(probs, 1, generator=generator))
            best = torch.topk(probs, min(top, probs.numel()))
            steps.append({"word": words[choice], "prob": float(probs[choice]),
                          "top": [[words[i], float(p)] for p, i in zip(best.values, best.indices)]})
            logits, state = model(torch.tensor([[choice]], device=device), state)
    finally:
        model.train(was_training)
    generated = [s["word"] for s in steps]
    return {"prompt": [words[i] for i in ids], "unknown": unknown, "words": generated,
            "text": " ".join(generated), "steps": steps}
