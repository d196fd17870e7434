"""Text from a trained model, and what it considered at every word.

Sampling draws from its own torch.Generator, so it never disturbs the training RNG (a run
that samples at every evaluation still resumes exactly).
"""

from __future__ import annotations

import torch

from .config import SAMPLING_SEED_MAX
from .model import LanguageModel
from .text import EOS, UNK, known_spelling


def read_prompt(words: list[str], prompt: str) -> tuple[list[int], list[str], bool]:
    """How the model reads a prompt: (ids, the words this vocabulary lacks, whether those are read as
    <unk>). Unknown words become <unk>, or are left out by a vocabulary without one (the generated
    corpus's). A word the vocabulary has in another case is read so (known_spelling). The one rule:
    generate(), and so the CLI and the trainer's samples, and the Generate page's warning read prompts by it."""
    index = {w: i for i, w in enumerate(words)}
    as_unk = UNK in index
    ids, unknown = [], []
    for word in prompt.split():
        if (spelling := known_spelling(word, index)) is not None:
            ids.append(index[spelling])
            continue
        unknown.append(word)
        if as_unk:
            ids.append(index[UNK])
    if not ids:
        ids = [index.get(EOS, 0)]  # an empty prompt starts a new sentence
    return ids, unknown, as_unk


def unknown_fate(as_unk: bool) -> str:
    """What became of a prompt's unknown words, in the words the CLI and the Generate page both use."""
    return "read as <unk>" if as_unk else "left out: this vocabulary has no <unk>"


def unknown_note(unknown: list[str], as_unk: bool) -> str:
    """The line `lmcore sample` prints to name a prompt's unknown words and their fate ('' when none)."""
    return f"not in the vocabulary ({unknown_fate(as_unk)}): {' '.join(unknown)}" if unknown else ""


def whole_text(result: dict) -> str:
    """generate()'s prompt as the model read it and its continuation, as one line of words (what
    `lmcore sample` prints and the Generate page gives to copy)."""
    return " ".join(result["prompt"] + result["words"])


def next_distribution(logits: torch.Tensor, temperature: float, top_k: int) -> torch.Tensor:
    """Probabilities actually sampled from: logits / T, then only the k most likely kept."""
    scaled = logits.float() / temperature
    if 0 < top_k < scaled.numel():
        cutoff = torch.topk(scaled, top_k).values[-1]
        scaled = scaled.masked_fill(scaled < cutoff, float("-inf"))
    return torch.softmax(scaled, dim=-1)


def shown_words(probs: torch.Tensor, top: int, top_k: int) -> int:
    """How many of the most likely words a step lists: `top`, but no more than top-k kept (the rest
    had probability 0 and could not be drawn: listing them at 0% read as if they could). Words tied at
    the cut are all kept; a cold temperature may leave a kept word at 0 in float32, still one of k."""
    kept = max(top_k, int((probs > 0).sum())) if 0 < top_k < probs.numel() else probs.numel()
    return min(top, kept)


@torch.no_grad()
def generate(model: LanguageModel, words: list[str], prompt: str = "", num_words: int = 30,
             temperature: float = 1.0, top_k: int = 0, seed: int = 0, top: int = 10) -> dict:
    """Sample `num_words` words after `prompt`.

    Returns the prompt as understood, the prompt's unknown words and whether they were read as
    <unk> (read_prompt), the generated words, the text (the generated words alone), and for each
    generated word the `top` most likely next words with probabilities, only the ones top-k kept.
    """
    if not 0 <= seed <= SAMPLING_SEED_MAX:  # a larger seed would repeat a smaller one's text (config.py)
        raise ValueError(f"seed must be a whole number from 0 to {SAMPLING_SEED_MAX:,} (got {seed})")
    was_training = model.training
    model.eval()
    device = model.decoder.weight.device
    generator = torch.Generator().manual_seed(seed)
    ids, unknown, as_unk = read_prompt(words, prompt)
    state = model.init_state(1)
    try:
        logits, state = model(torch.tensor(ids, device=device).view(-1, 1), state)
        steps = []
        for _ in range(num_words):
            probs = next_distribution(logits[-1, 0], temperature, top_k).cpu()
            choice = int(torch.multinomial(probs, 1, generator=generator))
            best = torch.topk(probs, shown_words(probs, top, top_k))
            steps.append({"word": words[choice], "prob": float(probs[choice]),
                          "top": [[words[i], float(p)] for p, i in zip(best.values, best.indices)]})
            logits, state = model(torch.tensor([[choice]], device=device), state)
    finally:
        model.train(was_training)
    generated = [s["word"] for s in steps]
    return {"prompt": [words[i] for i in ids], "unknown": unknown, "unknown_as_unk": as_unk, "words": generated,
            "text": " ".join(generated), "steps": steps}
