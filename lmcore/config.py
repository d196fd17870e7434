"""The one config object: every key, its default, and the validation of every value.

Key names are part of the run-folder contract (docs/design.md); defaults live only here.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import dataclass, fields
from pathlib import Path

from .errors import ConfigError

PLACEMENTS = ("none", "vertical", "horizontal", "variational")
PLACEMENT_HELP = {
    "none": "no dropout anywhere",
    "vertical": "between layers only (embedding -> LSTM -> ... -> decoder), new mask each time step",
    "horizontal": "vertical plus the recurrent path h(t-1) -> h(t), new mask each time step",
    "variational": "one mask per sequence, reused at every step, on inputs, outputs and the recurrent path",
}
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("plateau", "fixed", "constant")
INITS = ("book", "uniform", "torch")
DEVICES = ("auto", "cpu", "cuda", "mps")
AMP_MODES = ("none", "bf16")
BUILTIN_DATASETS = ("ptb", "synthetic")


@dataclass
class Config:
    # data
    dataset: str = "ptb"
    vocab_size: int = 10000          # cap: the most frequent words of train, the rest <unk>
    train_tokens: int = 0            # use only the first N tokens of a split (0 = all)
    valid_tokens: int = 0
    test_tokens: int = 0
    synthetic_tokens: int = 300_000  # train size of the generated corpus; valid/test get 1/10 each
    synthetic_vocab: int = 1000
    data_seed: int = 0               # the generated corpus depends on this, not on `seed`
    # model
    layers: int = 2
    embed_size: int = 650
    hidden_size: int = 650
    dropout: float = 0.5
    dropout_placement: str = "vertical"
    dropout_recurrent: typing.Optional[float] = None  # ratio on h(t-1); None = same as dropout
    tie_weights: bool = True
    init: str = "book"               # book: N(0,.01^2) embedding, N(0,1/fan_in) weights, zero bias
    init_range: float = 0.1          # for init=uniform: U(-r, r) on every parameter
    # optimisation
    batch_size: int = 20
    bptt: int = 35
    epochs: int = 40
    optimizer: str = "sgd"
    lr: float = 20.0
    lr_schedule: str = "plateau"     # plateau: x lr_decay when val got worse; fixed: per epoch after decay_start
    lr_decay: float = 0.25
    decay_start: int = 0
    clip: float = 0.25               # max global gradient norm (0 = no clipping)
    weight_decay: float = 0.0
    max_steps: typing.Optional[int] = None
    # engine
    seed: int = 1
    device: str = "auto"
    threads: int = 0                 # CPU threads (0 = one per available core)
    amp: str = "none"                # bf16 autocast on CUDA
    compile: bool = False            # torch.compile the model (useful on GPUs)
    # bookkeeping
    eval_batch_size: int = 10
    eval_every: int = 0              # also evaluate validation every N steps (0 = per epoch only)
    checkpoint_every: int = 0        # also checkpoint every N steps (0 = per epoch only)
    log_every: int = 0               # a train metrics line every N steps (0 = about 50 per epoch)
    sample_prompt: str = "the"
    sample_words: int = 30
    sample_temperature: float = 1.0
    name: str = ""
    preset: str = ""
    group: str = ""                  # ablation grid id, shared by the runs of one grid

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
_HINTS = typing.get_type_hints(Config)


def _check_range(problems, key, value, low, high=None, low_open=False, high_open=False):
    too_low = value <= low if low_open else value < low
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        span = f"{left}{low}, {high}{right}" if high is not None else (f"> {low}" if low_open else f">= {low}")
        problems.append(f"{key}: must be {'in ' if high is not None else ''}{span} (got {value})")


def _check_choice(problems, key, value, choices):
    if value not in choices:
        problems.append(f"{key}: unknown value {value!r}; choose one of {', '.join(choices)}")


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
    out: list[str] = []
    for key in ("layers", "embed_size", "hidden_size", "batch_size", "bptt", "epochs", "eval_batch_size"):
        _check_range(out, key, getattr(cfg, key), 1)
    for key in ("train_tokens", "valid_tokens", "test_tokens", "eval_every", "checkpoint_every",
                "log_every", "threads", "sample_words", "decay_start"):
        _check_range(out, key, getattr(cfg, key), 0)
    _check_range(out, "vocab_size", cfg.vocab_size, 3)
    _check_range(out, "synthetic_tokens", cfg.synthetic_tokens, 1000)
    _check_range(out, "synthetic_vocab", cfg.synthetic_vocab, 50, 20000)
    _check_range(out, "dropout", cfg.dropout, 0, 1, high_open=True)
    if cfg.dropout_recurrent is not None:
        _check_range(out, "dropout_recurrent", cfg.dropout_recurrent, 0, 1, high_open=True)
    _check_range(out, "lr", cfg.lr, 0, low_open=True)
    _check_range(out, "lr_decay", cfg.lr_decay, 0, 1, low_open=True)
    _check_range(out, "clip", cfg.clip, 0)
    _check_range(out, "weight_decay", cfg.weight_decay, 0)
    _check_range(out, "init_range", cfg.init_range, 0, low_open=True)
    _check_range(out, "sample_temperature", cfg.sample_temperature, 0, low_open=True)
    if cfg.max_steps is not None:
        _check_range(out, "max_steps", cfg.max_steps, 1)
    _check_choice(out, "dropout_placement", cfg.dropout_placement, PLACEMENTS)
    _check_choice(out, "optimizer", cfg.optimizer, OPTIMIZERS)
    _check_choice(out, "lr_schedule", cfg.lr_schedule, SCHEDULES)
    _check_choice(out, "init", cfg.init, INITS)
    _check_choice(out, "device", cfg.device, DEVICES)
    _check_choice(out, "amp", cfg.amp, AMP_MODES)
    if cfg.tie_weights and cfg.embed_size != cfg.hidden_size:
        out.append(f"tie_weights: needs embed_size == hidden_size, because the decoder reads the last "
                   f"layer's {cfg.hidden_size} units and the embedding has {cfg.embed_size}; "
                   f"make them equal or set tie_weights=false")
    dataset = dataset_problem(cfg.dataset)
    if dataset:
        out.append(dataset)
    return out


def validate(cfg: Config) -> Config:
    found = problems(cfg)
    if found:
        raise ConfigError(found)
    return cfg


# ---------------------------------------------------------------- parsing values

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


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
    except ValueError:
        kind = {bool: "true or false", int: "a whole number", float: "a number"}[hint]
        raise ConfigError(f"{key}: cannot read {text!r} as {kind}") from None


def unknown_key_message(key: str) -> str:
    close = difflib.get_close_matches(key, KEYS, n=1)
    hint = f"; did you mean {close[0]}?" if close else f"; known keys: {', '.join(KEYS)}"
    return f"unknown config key {key!r}{hint}"


def coerce(key: str, value):
    """A value for `key` from text (the command line) or JSON (config files, the app)."""
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
    if plain is int and isinstance(value, float) and value == int(value):
        return int(value)
    if not isinstance(value, plain) or (plain is int and isinstance(value, bool)):
        raise ConfigError(f"{key}: expected {plain.__name__}, got {value!r}")
    return value


def parse_assignments(items: list[str]) -> dict:
    """`["dropout=0.3", "tie_weights=false"]` -> typed dict; every problem reported at once."""
    changes, found = {}, []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            found.append(f"--set {item!r}: expected key=value")
            continue
        try:
            changes[key] = coerce(key, text.strip())
        except ConfigError as error:
            found.extend(error.problems)
    if found:
        raise ConfigError(found)
    return changes


def from_dict(data: dict, base: Config | None = None) -> Config:
    """A config from a JSON-like dict; unknown keys are errors except bookkeeping ones."""
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
    if found:
        raise ConfigError(found)
    return base.replace(**changes)


def differences(a: Config, b: Config) -> dict:
    """Keys whose values differ: {key: (a_value, b_value)}."""
    return {k: (getattr(a, k), getattr(b, k)) for k in KEYS if getattr(a, k) != getattr(b, k)}


__all__ = ["Config", "KEYS", "PLACEMENTS", "PLACEMENT_HELP", "validate", "problems", "coerce",
           "parse_assignments", "from_dict", "differences", "dataset_problem"]
