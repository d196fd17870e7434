"""The one config object: every key declared once (default, limits, choices, help, unit), and
the validation of every value derived from those declarations.

Key names are part of the run-folder contract (docs/design.md); defaults live only here. The
links (explorer/links.py) and the Train page's widgets (ui/train_controls.py) read the same
declarations, so a key's rules cannot disagree between the engine, a link and a control.

Every number has an upper limit too, so an absurd value (a link asking for a million layers)
is one line of error instead of minutes of work for whoever reads it.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path

from .errors import ConfigError
from .synthetic import SyntheticSpec, least_vocab

SYNTHETIC_TOPICS = SyntheticSpec.topics  # fixed: no key sets them, so synthetic_vocab's minimum is one number

PLACEMENTS = ("none", "vertical", "horizontal", "variational")
PLACEMENT_HELP = {
    "none": "no dropout anywhere",
    "vertical": "between layers only (embedding -> LSTM -> ... -> decoder), new mask each time step",
    "horizontal": "vertical plus the recurrent path h(t-1) -> h(t), new mask each time step",
    "variational": "one mask per sequence (a training window of bptt words), reused at every step of it, on "
                   "inputs, outputs and the recurrent path",
}
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("plateau", "fixed", "constant")
SCHEDULE_HELP = {"plateau": "× decay after an epoch whose validation is no better than the best (the book)",
                 "fixed": "× decay every epoch after decay start (Zaremba)", "constant": "never changes"}
INITS = ("book", "uniform", "torch")
DEVICES = ("auto", "cpu", "cuda", "mps")
AMP_MODES = ("none", "bf16")
GRAPH_MODES = ("auto", "on", "off")
BUILTIN_DATASETS = ("ptb", "synthetic")

MAX_LAYERS = 16
MAX_UNITS = 8192                   # embedding and hidden size
MAX_TOKENS = 100_000_000           # a corpus slice; PTB train has 929,589
MAX_STEPS = 1_000_000_000          # steps, and every "every N steps" key
MAX_SEED = 2**31 - 1               # numpy's seeds stop at 2**32 - 1; torch's go further
SAMPLING_SEED_MAX = 2**32 - 1      # generating text: a CPU torch.Generator keeps a seed's low 32 bits only, so
                                   # seeds 2**32 apart drew the same text (manual_seed takes up to 2**64 - 1)
MAX_TEXT = 200                     # characters of a name, group or prompt
EPOCH_CHECKPOINTS_BELOW = 5_000_000  # parameters: keep_epoch_checkpoints=auto keeps them for smaller models


@dataclass(frozen=True)
class Rule:
    """What one key accepts and means. Ends are inclusive unless marked open; None is allowed
    only for keys whose `none` says what it means."""
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()
    unit: str = ""
    none: str = ""
    max_length: int | None = None


def declare(default, help: str, **rule):
    """A Config field with its Rule: the one declaration of a key."""
    return field(default=default, metadata={"rule": Rule(help, **rule)})


@dataclass
class Config:
    # data
    dataset: str = declare("ptb", "ptb, synthetic, or the path of a text file")
    vocab_size: int = declare(10000, "the most frequent words of train; the rest become `<unk>`",
                              low=3, high=1_000_000, unit="words")
    train_tokens: int = declare(0, "use only the first N tokens of PTB train (0 = all)",
                                low=0, high=MAX_TOKENS, unit="tokens")
    valid_tokens: int = declare(0, "first N tokens of PTB valid (0 = all)", low=0, high=MAX_TOKENS, unit="tokens")
    test_tokens: int = declare(0, "first N tokens of PTB test (0 = all)", low=0, high=MAX_TOKENS, unit="tokens")
    synthetic_tokens: int = declare(300_000, "train size of the generated corpus; valid and test get a tenth each",
                                    low=1000, high=10_000_000, unit="tokens")
    synthetic_vocab: int = declare(1000, f"words of the generated language (at least {least_vocab(SYNTHETIC_TOPICS)}: "
                                   f"`<eos>`, 3 topic markers for each of its {SYNTHETIC_TOPICS} topics and 100 "
                                   "for the word categories)",
                                   low=least_vocab(SYNTHETIC_TOPICS), high=20000, unit="words")
    data_seed: int = declare(0, "the generated corpus depends on this, not on `seed`", low=0, high=MAX_SEED)
    # model
    layers: int = declare(2, "LSTM layers stacked between the embedding and the decoder", low=1, high=MAX_LAYERS)
    embed_size: int = declare(650, "units of a word's embedding vector", low=1, high=MAX_UNITS, unit="units")
    hidden_size: int = declare(650, "units of each LSTM layer", low=1, high=MAX_UNITS, unit="units")
    dropout: float = declare(0.5, "the ratio p: each unit is zeroed with probability p", low=0, high=1, high_open=True)
    dropout_placement: str = declare("vertical", "where dropout goes", choices=PLACEMENTS)
    dropout_recurrent: typing.Optional[float] = declare(
        None, "ratio on h(t-1) -> h(t), horizontal and variational only", low=0, high=1, high_open=True,
        none="same as dropout")
    tie_weights: bool = declare(True, "the decoder reuses the embedding matrix (needs embed size = hidden size)")
    init: str = declare("book", "book: embedding N(0, .01²), other weights N(0, 1/fan_in) (fan_in: the inputs "
                        "of a unit), zero biases; "
                        "uniform: U(-r, r); torch: PyTorch's defaults", choices=INITS)
    init_range: float = declare(0.1, "r for init = uniform: U(-r, r) on every parameter", low=0, high=10, low_open=True)
    # optimisation
    batch_size: int = declare(20, "sequences trained side by side", low=1, high=4096, unit="sequences")
    bptt: int = declare(35, "words in one training window: the model reads them, then learns from its errors "
                        "on them (backpropagation through time, this many steps back); its memory carries on to "
                        "the next window", low=1, high=4096, unit="steps")
    epochs: int = declare(40, "passes over the training text", low=1, high=10_000)
    optimizer: str = declare("sgd", "sgd or adam", choices=OPTIMIZERS)
    lr: float = declare(20.0, "the learning rate", low=0, high=1000, low_open=True)
    lr_schedule: str = declare("plateau", "plateau: × lr_decay after an epoch whose validation is no better than "
                               "the best so far; fixed: after each epoch from decay_start on; constant: never",
                               choices=SCHEDULES)
    lr_decay: float = declare(0.25, "multiply the learning rate by this", low=0, high=1, low_open=True)
    decay_start: int = declare(0, "for the fixed schedule: the last epoch at the full rate; lr × lr_decay after each "
                             "epoch from this one on (0 or 1: after every epoch)", low=0, high=10_000, unit="epoch")
    clip: float = declare(0.25, "gradient clipping: a step whose gradient is longer than this (the L2 norm over "
                        "all weights) is scaled down to it, so one bad batch cannot throw the weights off (0 = off)",
                        low=0, high=1e6)
    weight_decay: float = declare(0.0, "L2 penalty the optimizer adds to every weight", low=0, high=1)
    max_steps: typing.Optional[int] = declare(None, "stop after this many steps", low=1, high=MAX_STEPS,
                                              unit="steps", none="no cap")
    # engine
    seed: int = declare(1, "model init, dropout masks and the text sampled during training depend on this (the "
                         "training text is read in order, not shuffled)", low=0, high=MAX_SEED)
    device: str = declare("auto", "auto picks cuda, then mps (Apple GPUs), then cpu; the Train page offers only "
                          "the devices its machine has", choices=DEVICES)
    threads: int = declare(0, "CPU threads for the run (0 = automatic: the cores shared equally among the "
                           "training runs alive, looked at again every few seconds; another count rounds "
                           "differently, so set the count a run used to train its numbers again bit for bit)",
                           low=0, high=1024)
    amp: str = declare("none", "bf16 autocast of the training steps, on CUDA only (evaluation stays float32): on a "
                       "CPU or MPS the run trains in float32 as with none",
                       choices=AMP_MODES)
    cuda_graphs: str = declare("auto", "capture each training step as one CUDA graph and replay it (auto: on CUDA "
                               "only); off a GPU, on runs the same step with its static buffers, eagerly",
                               choices=GRAPH_MODES)
    compiled_cell: str = declare("auto", "compile the gate math of the masked recurrence (horizontal, variational) "
                                 "with torch.compile; auto: only when CUDA graphs capture the step and compile is off",
                                 choices=GRAPH_MODES)
    layer_pipeline: int = declare(1, "train the LSTM layers over this many chunks of each window, layer i+1 on "
                                  "chunk c beside layer i on chunk c+1 on CUDA streams (1 = off); the same numbers; "
                                  "an experiment for CUDA graphs, not yet timed in a training run",
                                  low=1, high=64, unit="chunks")
    compile: bool = declare(False, "torch.compile the model, meant for GPUs; on a CPU it works but the compile "
                            "comes first (20 steps of a 2x16 model: 18-32 s compiled, 1 s plain, on 2 cores)")
    # bookkeeping
    eval_batch_size: int = declare(10, "sequences evaluated side by side", low=1, high=4096, unit="sequences")
    eval_every: int = declare(0, "also evaluate every N steps (0 = per epoch only)", low=0, high=MAX_STEPS,
                              unit="steps")
    checkpoint_every: int = declare(0, "also checkpoint every N steps (0 = per epoch only)", low=0, high=MAX_STEPS,
                                    unit="steps")
    log_every: int = declare(0, "a train metrics line every N steps (0 = 50 to 100 an epoch: every epoch's steps / 50, "
                             "at least 1)", low=0, high=MAX_STEPS,
                             unit="steps")
    sample_prompt: str = declare("the", "the words a sample starts from", max_length=MAX_TEXT)
    sample_words: int = declare(30, "words sampled at every validation (each epoch's end, and every eval_every steps)",
                                low=0, high=1000, unit="words")
    sample_temperature: float = declare(1.0, "below 1 sharper, above 1 more random", low=0, high=100, low_open=True)
    name: str = declare("", "a label; the run id stays generated", max_length=MAX_TEXT)
    preset: str = declare("", "the preset this config started from", max_length=MAX_TEXT)
    group: str = declare("", "ablation grid id, shared by the runs of one grid", max_length=MAX_TEXT)
    keep_epoch_checkpoints: typing.Optional[bool] = declare(
        None, "also keep checkpoints/epoch-N.pt at every epoch end, so a fork can start there",
        none=f"auto: on for models under {EPOCH_CHECKPOINTS_BELOW:,} parameters")
    parent: str = declare("", "the run this one was forked from (written by fork)", max_length=MAX_TEXT)
    fork_from: str = declare("", "the parent's checkpoint the fork started from: best, last or epoch:N",
                             max_length=MAX_TEXT)
    fork_step: typing.Optional[int] = declare(None, "the parent's step the fork started from", low=0,
                                              high=MAX_STEPS, unit="steps", none="not a fork")

    @property
    def recurrent_dropout(self) -> float:
        if self.dropout_placement not in ("horizontal", "variational"):
            return 0.0
        return self.dropout if self.dropout_recurrent is None else self.dropout_recurrent

    @property
    def layer_dropout(self) -> float:
        return 0.0 if self.dropout_placement == "none" else self.dropout

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)


KEYS = tuple(f.name for f in fields(Config))
RULES: dict[str, Rule] = {f.name: f.metadata["rule"] for f in fields(Config)}
_HINTS = typing.get_type_hints(Config)


# ---------------------------------------------------------------- checking values against the rules


def _number(value) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def allowed_text(key: str) -> str:
    """The key's limits as one inequality, e.g. `0 <= dropout < 1`, plus what none means."""
    rule = RULES[key]
    if rule.choices:
        return f"one of {', '.join(rule.choices)}"
    if rule.low is None and rule.high is None:
        return ""
    text = key
    if rule.low is not None:
        text = f"{_number(rule.low)} {'<' if rule.low_open else '<='} {text}"
    if rule.high is not None:
        text = f"{text} {'<' if rule.high_open else '<='} {_number(rule.high)}"
    return text + (f", or none ({rule.none})" if rule.none else "")


def _range_problem(key: str, rule: Rule, value) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number (got {value})"
    if rule.low is not None and (value <= rule.low if rule.low_open else value < rule.low):
        words = f"more than {_number(rule.low)}" if rule.low_open else f"at least {_number(rule.low)}"
    elif rule.high is not None and (value >= rule.high if rule.high_open else value > rule.high):
        words = f"less than {_number(rule.high)}" if rule.high_open else f"at most {_number(rule.high)}"
    else:
        return None
    return f"must be {words} (got {_number(value)}); allowed: {allowed_text(key)}"


def key_problem(key: str, value) -> str | None:
    """Why `value` breaks `key`'s own rule (its limits, choices or length), or None. Rules that
    join keys (tying, the dataset file) are problems()'s."""
    rule = RULES[key]
    if value is None:
        return None if rule.none else "must not be empty"
    if rule.choices:
        return None if value in rule.choices else f"unknown value {value!r}; choose one of {', '.join(rule.choices)}"
    if rule.max_length is not None and isinstance(value, str) and len(value) > rule.max_length:
        return f"must be at most {rule.max_length} characters (got {len(value):,})"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _range_problem(key, rule, value)
    return None


def dataset_problem(dataset: str) -> str | None:
    """Why `dataset` cannot be used, or None. A path must be an existing, non-empty file."""
    if dataset in BUILTIN_DATASETS:
        return None
    if not dataset:
        return "dataset: empty; use ptb, synthetic or the path of a text file"
    path = Path(dataset).expanduser()
    if not path.exists():
        return f"dataset: file not found: {dataset} (use ptb, synthetic or the path of a text file)"
    if not path.is_file():
        return f"dataset: not a file: {dataset}"
    if path.stat().st_size == 0:
        return f"dataset: file is empty: {dataset}"
    return None


def problems(cfg: Config) -> list[str]:
    """Every invalid value of `cfg`, one line each naming the key and what is allowed."""
    out = [f"{key}: {found}" for key in KEYS if (found := key_problem(key, getattr(cfg, key)))]
    if cfg.tie_weights and cfg.embed_size != cfg.hidden_size:
        out.append(f"tie_weights: needs embed_size == hidden_size, because the decoder reads the last "
                   f"layer's {cfg.hidden_size} units and the embedding has {cfg.embed_size}; "
                   f"make them equal or set tie_weights=false")
    dataset = dataset_problem(cfg.dataset)
    if dataset:
        out.append(dataset)
    return out


def stored_problems(data: dict) -> list[str]:
    """The values of a stored config (a run's config.json) that break their key's rule as it stands now:
    an older version let some through (synthetic_vocab=60 before its minimum was the generator's), and
    such a run can neither start over nor be read as its recipe. Unreadable values are build()'s."""
    found = []
    for key, value in data.items():
        try:
            problem = key_problem(key, coerce(key, value)) if key in RULES else None
        except ConfigError:
            continue
        if problem:
            found.append(f"{key}: {problem}")
    return found


# The corpus keys only one kind of data reads (lmcore.data): elsewhere they do nothing, and a diff that
# listed them made PTB runs differ in synthetic_tokens (QA round 10).
SYNTHETIC_ONLY = ("synthetic_tokens", "synthetic_vocab", "data_seed")
PTB_ONLY = ("train_tokens", "valid_tokens", "test_tokens")


# The devices where `amp` does nothing: bf16 autocast is for CUDA only (train.autocast).
NO_AUTOCAST = ("cpu", "mps")


def unused_keys(config: dict, device: str | None = None) -> set[str]:
    """The keys a run leaves unread: of the corpus keys, those its data does not read (the generated
    language has synthetic_vocab words whatever vocab_size says, a cap on PTB and a text file; only PTB
    reads its slices' sizes); and `amp` where `device`, the one it trained on, has no autocast."""
    synthetic = config.get("dataset") == "synthetic"
    unused = {"vocab_size"} if synthetic else set(SYNTHETIC_ONLY)
    unused |= {"amp"} if device in NO_AUTOCAST else set()
    return unused if config.get("dataset") == "ptb" else unused | set(PTB_ONLY)


def unused_notes(cfg: Config, keys) -> list[str]:
    """A line for each of `keys` (those the user set) that this run's data does not read: `--set
    train_tokens=5000` on a text file trained on the whole file without a word (QA round 18)."""
    data = ("the Penn Treebank" if cfg.dataset == "ptb" else
            "the generated corpus" if cfg.dataset == "synthetic" else "a text file")
    readers = {**dict.fromkeys(PTB_ONLY, "only the Penn Treebank reads it"),
               **dict.fromkeys(SYNTHETIC_ONLY, "only the generated corpus reads it"),
               "vocab_size": f"the generated corpus has its synthetic_vocab ({cfg.synthetic_vocab:,}) words"}
    return [f"{key}={getattr(cfg, key)} does nothing here: {readers[key]}, and this run trains on {data}."
            for key in sorted(unused_keys(dataclasses.asdict(cfg)) & set(keys))]


def validate(cfg: Config) -> Config:
    found = problems(cfg)
    if found:
        raise ConfigError(found)
    return cfg


# ---------------------------------------------------------------- parsing values

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class Unreadable:
    """An assignment that could not be read, kept in its place so that building the config
    reports it together with every other problem (parse_assignments, from_dict)."""
    problem: str


def _parse_as(key: str, text: str, hint):
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        if text.strip().lower() in ("none", "null", ""):
            return None
        hint = next(h for h in typing.get_args(hint) if h is not type(None))
    try:
        if hint is bool:
            lowered = text.strip().lower()
            if lowered in _TRUE | _FALSE:
                return lowered in _TRUE
            raise ValueError
        if hint is int:
            number = float(text)
            if number != int(number):
                raise ValueError
            return int(number)
        if hint is float:
            return float(text)
        return text
    except (ValueError, OverflowError):  # int(inf) overflows: "1e400" is no whole number either
        kind = {bool: "true or false", int: "a whole number", float: "a number"}[hint]
        raise ConfigError(f"{key}: cannot read {text!r} as {kind}") from None


def unknown_key_message(key: str) -> str:
    """The nearest key, never the whole list: dozens of keys would bury the one line that matters."""
    close = difflib.get_close_matches(key, KEYS, n=1)
    hint = f"did you mean {close[0]}?" if close else "see `python -m lmcore presets` and docs/design.md for the keys"
    return f"unknown config key {key!r}; {hint}"


def coerce(key: str, value):
    """A value for `key` from text (the command line) or JSON (config files, the app)."""
    if isinstance(value, Unreadable):
        raise ConfigError(value.problem)
    if key not in KEYS:
        raise ConfigError(unknown_key_message(key))
    hint = _HINTS[key]
    if isinstance(value, str) and hint is not str:
        return _parse_as(key, value, hint)
    plain = next((h for h in typing.get_args(hint) if h is not type(None)), hint)
    if value is None and typing.get_origin(hint) is typing.Union:
        return None
    if plain is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if plain is int and isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    if not isinstance(value, plain) or (plain is int and isinstance(value, bool)):
        raise ConfigError(f"{key}: expected {plain.__name__}, got {value!r}")
    return value


def parse_assignments(items: list[str]) -> dict:
    """`["dropout=0.3", "tie_weights=false"]` -> typed dict. What cannot be read stays in the dict
    as Unreadable, so from_dict/resolve report it with every other problem of the config."""
    changes = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            changes[item] = Unreadable(f"--set {item!r}: expected key=value")
            continue
        try:
            changes[key] = coerce(key, text.strip())
        except ConfigError as error:
            changes[key] = Unreadable("; ".join(error.problems))
    return changes


def build(data: dict, base: Config | None = None) -> tuple[Config, list[str]]:
    """The config `data` makes from `base` with every value that could be read, and a line for
    each one that could not; unknown keys are problems except bookkeeping ones."""
    base = base or Config()
    ignored = {"lmcore_version"}
    changes, found = {}, []
    for key, value in data.items():
        if key in ignored:
            continue
        try:
            changes[key] = coerce(key, value)
        except ConfigError as error:
            found.extend(error.problems)
    return base.replace(**changes), found


def from_dict(data: dict, base: Config | None = None) -> Config:
    """A config from a JSON-like dict (or parse_assignments' dict); every unreadable value at once."""
    cfg, found = build(data, base)
    if found:
        raise ConfigError(found)
    return cfg


def differences(a: Config, b: Config) -> dict:
    """Keys whose values differ: {key: (a_value, b_value)}."""
    return {k: (getattr(a, k), getattr(b, k)) for k in KEYS if getattr(a, k) != getattr(b, k)}


__all__ = ["Config", "KEYS", "RULES", "Rule", "PLACEMENTS", "PLACEMENT_HELP", "validate", "problems", "coerce",
           "key_problem", "allowed_text", "parse_assignments", "build", "from_dict", "differences",
           "dataset_problem", "unknown_key_message", "stored_problems"]
