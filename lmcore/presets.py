"""Named recipes: the seed's, Zaremba et al.'s, a variational one, and classroom demos.

Each preset is a description plus the keys it changes from the Config defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .config import (
    BUILTIN_DATASETS,
    KEYS,
    RULES,
    Config,
    ConfigError,
    build,
    from_dict,
    parse_assignments,
    problems,
)
from .text import shorten


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str          # one line for `lmcore presets` and the app's buttons
    description: str      # a paragraph: where the numbers come from
    changes: dict

    def config(self) -> Config:
        return from_dict({**self.changes, "preset": self.name})


_BOOK = dict(dataset="ptb", layers=2, embed_size=650, hidden_size=650, dropout=0.5,
             dropout_placement="vertical", tie_weights=True, optimizer="sgd", lr=20.0,
             lr_schedule="plateau", lr_decay=0.25, clip=0.25, batch_size=20, bptt=35,
             epochs=40, init="book")

# Zaremba et al. (2014) use lr 1 and clip 5 on the loss SUMMED over bptt steps; our loss is
# the per-token mean, so the same update needs lr * bptt and clip / bptt.
_ZAREMBA_SMALL = dict(dataset="ptb", layers=2, embed_size=200, hidden_size=200, dropout=0.0,
                      dropout_placement="none", tie_weights=False, optimizer="sgd",
                      lr=1.0 * 20, clip=5.0 / 20, lr_schedule="fixed", lr_decay=0.5,
                      decay_start=4, batch_size=20, bptt=20, epochs=13, init="uniform",
                      init_range=0.1)
_ZAREMBA_MEDIUM = dict(dataset="ptb", layers=2, embed_size=650, hidden_size=650, dropout=0.5,
                       dropout_placement="vertical", tie_weights=False, optimizer="sgd",
                       lr=1.0 * 35, clip=5.0 / 35, lr_schedule="fixed", lr_decay=0.8,
                       decay_start=6, batch_size=20, bptt=35, epochs=39, init="uniform",
                       init_range=0.05)

_TINY = dict(dataset="ptb", train_tokens=60_000, valid_tokens=12_000, test_tokens=12_000,
             vocab_size=2000, layers=1, embed_size=256, hidden_size=256, dropout=0.0,
             dropout_placement="none", tie_weights=False, optimizer="adam", lr=0.004,
             lr_schedule="constant", clip=1.0, batch_size=20, bptt=20, epochs=8,
             init="torch", sample_words=15)

PRESETS: dict[str, Preset] = {}


def _add(name, summary, description, changes):
    PRESETS[name] = Preset(name, summary, description, changes)


_add("book", "the seed's BetterRnnlm: 2x650 LSTM, dropout 0.5 vertical, tied, SGD 20, PTB (val ~79, test ~76)",
     "Exactly the textbook's better LSTM LM: 2 layers, embed = hidden = 650, dropout 0.5 between "
     "layers (a fresh mask every step), embedding tied to the decoder, SGD lr 20, gradient norm "
     "clipped at 0.25, batch 20, bptt 35, 40 epochs; after each epoch validation is evaluated, the best "
     "weights kept, and lr divided by 4 when validation perplexity got worse. Init as the book: "
     "embedding N(0, 0.01^2), LSTM weights N(0, 1/fan_in), zero biases.", _BOOK)
_add("zaremba-small", "Zaremba et al. 2014 small: 2x200, no dropout, bptt 20, 13 epochs (test ~114.5)",
     "The small non-regularised LSTM of Zaremba, Sutskever & Vinyals (2014): 2x200, untied, uniform "
     "init +-0.1, batch 20, bptt 20, 13 epochs, lr halved every epoch after epoch 4. Their lr 1 and "
     "clip 5 act on the loss summed over the 20 steps; with our per-token mean loss that is lr 20 and "
     "clip 0.25.", _ZAREMBA_SMALL)
_add("zaremba-medium", "Zaremba et al. 2014 medium: 2x650, dropout 0.5 vertical, 39 epochs (test ~82.7)",
     "The medium regularised LSTM of Zaremba et al. (2014): 2x650, dropout 0.5 on non-recurrent "
     "connections, untied, uniform init +-0.05, batch 20, bptt 35, 39 epochs, lr x0.8 after every epoch "
     "from epoch 6 on. That 0.8 is TensorFlow's ptb_word_lm value (the reference run used it); the paper "
     "divides the lr by 1.2 (x0.833), so its lr falls more slowly. Their lr 1 and clip 5 act on the loss "
     "summed over 35 steps: lr 35, clip 5/35 here.", _ZAREMBA_MEDIUM)
_add("variational-medium", "2x650, variational dropout (0.5 in/out, 0.25 recurrent), tied (Inan et al.: test 73.9)",
     "A medium LSTM with Gal & Ghahramani's (2016) variational dropout: one mask per sequence on "
     "each layer's input, the last layer's output (ratio 0.5) and the recurrent path (ratio 0.25, "
     "key dropout_recurrent), with the embedding tied to the decoder (Inan et al. 2017 report test "
     "73.9 for this combination). Schedule as the book: SGD lr 20, clip 0.25, lr / 4 on a worse "
     "validation epoch, 40 epochs.",
     {**_BOOK, "dropout_placement": "variational", "dropout_recurrent": 0.25})
_add("tiny", "classroom demo, no dropout: 1x256 on 60k PTB tokens, 2k words, 8 epochs in about a minute on "
     "2 free CPU cores; over-fits",
     "Made to over-fit in about a minute on a laptop (longer beside another run: started together with "
     "tiny-dropout on 2 cores, it took 1:23): the first 60,000 tokens of PTB train "
     "(12,000 of valid and test), the 1,999 most frequent words (the rest <unk>), one LSTM layer of "
     "256 units, embedding 256, untied, Adam lr 0.004, batch 20, bptt 20, 8 epochs. Train "
     "perplexity keeps falling (to about 11) while validation perplexity bottoms out after two "
     "epochs and climbs back over 130; run tiny-dropout beside it to see dropout hold validation "
     "near 82.", _TINY)
_add("tiny-dropout", "the classroom demo with dropout 0.5 (vertical): compare with tiny to see less over-fitting",
     "The tiny preset with dropout 0.5 between layers (a fresh mask each step). Everything else "
     "equal, so the difference in validation perplexity is dropout's doing.",
     {**_TINY, "dropout": 0.5, "dropout_placement": "vertical"})
_add("synthetic", "generated corpus with a known best perplexity (the floor line): 2x200 LSTM, ~3 min on 2 CPU cores",
     "A corpus generated from a seed by a source whose entropy rate is known exactly, so the chart "
     "can show the best perplexity any model can reach on average. Sentences begin with a topic word that "
     "changes the word distribution to the end of the sentence, which an n-gram cannot remember "
     "but an LSTM can.",
     dict(dataset="synthetic", synthetic_tokens=200_000, layers=2, embed_size=200, hidden_size=200,
          dropout=0.2, dropout_placement="vertical", tie_weights=True, optimizer="adam",
          lr=0.003, lr_schedule="plateau", lr_decay=0.25, clip=1.0, batch_size=32, bptt=35,
          epochs=6, init="torch", sample_prompt=""))


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(f"preset: unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def resolve(preset: str | None, assignments: list[str] | None = None,
            overrides: dict | None = None) -> Config:
    """The validated config for a preset (or the defaults) plus `--set` assignments and overrides.

    Every problem at once: a value that cannot be read (parse_assignments keeps it as
    Unreadable) and whatever is wrong with the config the readable ones make."""
    try:
        base, found = (get_preset(preset).config() if preset else Config()), []
    except ConfigError as error:
        base, found = Config(), error.problems
    cfg, unreadable = build({**parse_assignments(assignments or []), **(overrides or {})}, base)
    found = found + unreadable + problems(cfg)
    if found:
        raise ConfigError(found)
    return cfg


def prompt_for(dataset: str, prompt: str, preset: str) -> str:
    """The sample prompt for `dataset`: a text file starts from the start of a sentence ("") where the
    prompt is still the preset's own, an English word ("the") that a German, Arabic or Chinese text
    lacks (its samples then started from `<eos>`, or from `<unk>`; QA round 18). Typed ones stay."""
    own = (get_preset(preset).config() if preset in PRESETS else Config()).sample_prompt
    return "" if dataset not in BUILTIN_DATASETS and prompt == own else prompt


def preset_values(name: str) -> dict:
    """Every config key for a preset ('' = the engine's defaults)."""
    return (PRESETS[name].config() if name else Config()).to_dict()


def as_text(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def changed_keys(values: dict) -> dict[str, str]:
    """The keys of a full config that differ from its preset's, as text, in the config's key order."""
    base = preset_values(values.get("preset") or "")
    return {k: as_text(values[k]) for k in KEYS if k != "preset" and values[k] != base[k]}


def _file_name(dataset: str) -> str:
    return dataset if dataset in BUILTIN_DATASETS else Path(dataset).name


def described_name(values: dict, most: int = 3, dataset_label: Callable[[str], str] = _file_name) -> str:
    """A name for a config started without one: its preset and the keys it changes, e.g. 'tiny ·
    dropout=0.3 · dropout_placement=variational', so legends and lists tell runs apart; '' when it
    changes nothing (the preset then names the run). `dataset_label` shows a text file's path (the
    app passes one that knows the names uploads came with)."""
    changed = {k: v for k, v in changed_keys(values).items() if k != "name" and v != ""}  # "": no file yet
    if "dataset" in changed:
        changed["dataset"] = dataset_label(values["dataset"])
    if not changed:
        return ""
    parts = [f"{key}={shorten(text, 24)}" for key, text in list(changed.items())[:most]]
    if len(changed) > most:
        parts.append(f"+{len(changed) - most} more")
    return " · ".join([values.get("preset") or "defaults", *parts])[:RULES["name"].max_length]
