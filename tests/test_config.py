"""Every bad config value gets one clear line naming the key; the CLI exits 2 without a traceback."""

import subprocess
import sys
import time

import pytest

from conftest import ROOT
from lmcore.config import KEYS, RULES, Config, coerce, from_dict, parse_assignments, problems, validate
from lmcore.errors import ConfigError
from lmcore.presets import PRESETS, resolve


def _problem(**changes):
    found = problems(Config(**changes))
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("changes,key,hint", [
    ({"dropout": 1.0}, "dropout", "must be less than 1 (got 1); allowed: 0 <= dropout < 1"),
    ({"dropout": -0.1}, "dropout", "must be at least 0 (got -0.1); allowed: 0 <= dropout < 1"),
    ({"dropout_recurrent": 1.5}, "dropout_recurrent", "0 <= dropout_recurrent < 1, or none (same as dropout)"),
    ({"layers": 0}, "layers", "must be at least 1 (got 0); allowed: 1 <= layers <= 16"),
    ({"layers": 1_000_000}, "layers", "must be at most 16 (got 1,000,000)"),
    ({"hidden_size": 0, "tie_weights": False}, "hidden_size", "at least 1"),
    ({"hidden_size": 10**6, "tie_weights": False}, "hidden_size", "at most 8,192"),
    ({"embed_size": 0, "tie_weights": False}, "embed_size", "at least 1"),
    ({"batch_size": 0}, "batch_size", "at least 1"),
    ({"batch_size": 10**9}, "batch_size", "at most 4,096"),
    ({"bptt": 0}, "bptt", "at least 1"),
    ({"bptt": 10**9}, "bptt", "at most 4,096"),
    ({"epochs": 0}, "epochs", "at least 1"),
    ({"vocab_size": 10**9}, "vocab_size", "at most 1,000,000"),
    ({"train_tokens": 10**12}, "train_tokens", "at most 100,000,000"),
    ({"seed": -1}, "seed", "at least 0"),
    ({"lr": 0.0}, "lr", "must be more than 0 (got 0)"),
    ({"lr": 1e30}, "lr", "must be at most 1,000"),
    ({"lr": float("inf")}, "lr", "must be a finite number (got inf)"),
    ({"lr": float("nan")}, "lr", "must be a finite number (got nan)"),
    ({"dropout": float("nan")}, "dropout", "must be a finite number"),
    ({"lr_decay": 1.5}, "lr_decay", "0 < lr_decay <= 1"),
    ({"lr_decay": 0.0}, "lr_decay", "must be more than 0"),
    ({"clip": -1.0}, "clip", "at least 0"),
    ({"max_steps": 0}, "max_steps", "at least 1 (got 0); allowed: 1 <= max_steps <= 1,000,000,000, or none"),
    ({"name": "x" * 201}, "name", "at most 200 characters"),
    ({"dropout_placement": "diagonal"}, "dropout_placement", "none, vertical, horizontal, variational"),
    ({"optimizer": "rmsprop"}, "optimizer", "sgd, adam"),
    ({"device": "tpu"}, "device", "auto, cpu, cuda"),
    ({"embed_size": 400, "hidden_size": 650, "tie_weights": True}, "tie_weights", "embed_size == hidden_size"),
])
def test_each_bad_value_names_its_key(changes, key, hint):
    message = _problem(**changes)
    assert message.startswith(f"{key}:"), message
    assert hint in message


def test_dataset_file_missing_or_empty(tmp_path):
    assert "file not found" in _problem(dataset=str(tmp_path / "nope.txt"))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert "file is empty" in _problem(dataset=str(empty))
    assert "not a file" in _problem(dataset=str(tmp_path))


def test_all_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        validate(Config(dropout=2.0, layers=0, optimizer="x"))
    assert [p.split(":")[0] for p in caught.value.problems] == ["layers", "dropout", "optimizer"]


def test_defaults_and_every_preset_are_valid():
    assert problems(Config()) == []
    for name, preset in PRESETS.items():
        assert problems(preset.config()) == [], name


def test_parse_assignments_types():
    parsed = parse_assignments(["dropout=0.3", "tie_weights=false", "layers=3", "max_steps=none",
                                "dataset=synthetic", "dropout_recurrent=0.2", "epochs=1e1"])
    assert parsed == {"dropout": 0.3, "tie_weights": False, "layers": 3, "max_steps": None,
                      "dataset": "synthetic", "dropout_recurrent": 0.2, "epochs": 10}


@pytest.mark.parametrize("item,fragment", [
    ("dropuot=0.3", "unknown config key 'dropuot'; did you mean dropout?"),
    ("layers=two", "layers: cannot read 'two' as a whole number"),
    ("layers=2.5", "layers: cannot read '2.5' as a whole number"),
    ("tie_weights=maybe", "tie_weights: cannot read 'maybe' as true or false"),
    ("dropout", "expected key=value"),
])
def test_bad_assignments(item, fragment):
    with pytest.raises(ConfigError) as caught:
        resolve(None, [item])
    assert caught.value.problems == [fragment] or fragment in str(caught.value)


def test_every_number_has_an_upper_limit_and_every_float_must_be_finite():
    numbers = [k for k in KEYS if isinstance(getattr(Config(), k), (int, float)) or k in ("dropout_recurrent",
                                                                                        "max_steps")]
    numbers = [k for k in numbers if not isinstance(getattr(Config(), k), bool)]
    assert len(numbers) > 25 and all(RULES[k].high is not None for k in numbers), numbers
    floats = [k for k in numbers if isinstance(getattr(Config(), k), float) or k == "dropout_recurrent"]
    for key in floats:
        for bad in (float("nan"), float("inf"), float("-inf")):
            assert problems(Config(**{key: bad})) == [f"{key}: must be a finite number (got {bad})"]


def test_overrides_report_bad_values_and_the_invalid_result_at_once():
    """A grid's override lines (ui/compare_grids.py) go through parse_assignments and resolve."""
    with pytest.raises(ConfigError) as caught:
        resolve("tiny", overrides=parse_assignments(["layers=two", "dropuot=0.3", "zzzzqqq=1", "lr=nan",
                                                     "embed_size=100", "tie_weights=true", "max_steps=0"]))
    found = caught.value.problems
    assert found == ["layers: cannot read 'two' as a whole number",
                     "unknown config key 'dropuot'; did you mean dropout?",
                     "unknown config key 'zzzzqqq'; see `python -m lmcore presets` and docs/design.md for the keys",
                     "lr: must be a finite number (got nan)",
                     found[4], found[5]]
    assert found[4].startswith("max_steps: must be at least 1") and found[5].startswith("tie_weights: needs")
    assert not any("known keys" in p or "vocab_size" in p for p in found)  # never the list of every key


def test_from_dict_rejects_wrong_json_types():
    with pytest.raises(ConfigError, match="layers: expected int"):
        from_dict({"layers": "2"} | {"layers": True})
    assert from_dict({"lr": 1}).lr == 1.0 and isinstance(from_dict({"lr": 1}).lr, float)
    assert coerce("max_steps", None) is None


def test_unknown_preset():
    with pytest.raises(ConfigError, match="preset: unknown preset 'bok'; choose one of book"):
        resolve("bok")


def test_recurrent_ratio_defaults_to_dropout():
    assert Config(dropout=0.4, dropout_placement="variational").recurrent_dropout == 0.4
    assert Config(dropout=0.4, dropout_placement="variational", dropout_recurrent=0.1).recurrent_dropout == 0.1
    assert Config(dropout=0.4, dropout_placement="vertical", dropout_recurrent=0.1).recurrent_dropout == 0.0


@pytest.mark.parametrize("args,expected", [
    (["train", "--preset", "tiny", "--set", "dropout=1.0"], "error: dropout: must be less than 1 (got 1)"),
    (["train", "--preset", "tiny", "--set", "layers=0"], "error: layers: must be at least 1 (got 0)"),
    (["train", "--preset", "tiny", "--set", "lr=1e400"], "error: lr: must be a finite number (got inf)"),
    (["train", "--preset", "tiny", "--set", "max_steps=0"], "error: max_steps: must be at least 1"),
    (["params", "--set", "layers=1000000"], "error: layers: must be at most 16"),
    (["train", "--preset", "nope"], "error: preset: unknown preset 'nope'"),
    (["train", "--preset", "tiny", "--set", "colour=red"], "error: unknown config key 'colour'"),
    (["train", "--preset", "tiny", "--set", "bptt=abc"], "error: bptt: cannot read 'abc' as a whole number"),
    (["train", "--preset", "tiny", "--set", "dropout_placement=sideways"], "error: dropout_placement: unknown value"),
    (["train", "--preset", "tiny", "--set", "tie_weights=true", "--set", "embed_size=100"],
     "error: tie_weights: needs"),
    (["train", "--preset", "tiny", "--set", "dataset=/no/such/file.txt"], "error: dataset: file not found"),
    (["params", "--set", "embed_size=0"], "error: embed_size: must be at least 1"),
])
def test_cli_rejects_bad_config_with_exit_2_and_no_traceback(args, expected, tmp_path):
    result = subprocess.run([sys.executable, "-m", "lmcore", *args, "--runs-dir", str(tmp_path)]
                            if args[0] == "train" else [sys.executable, "-m", "lmcore", *args],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())  # nothing was created for a config that cannot run


def test_cli_refuses_a_corpus_whose_splits_cannot_batch_and_creates_no_run(tmp_path):
    """QA round 4: a text whose validation split is one 4-token line left a failed run folder
    ("a split of 4 tokens is too small for batch size 10"); docs/bad-inputs.md promises none."""
    text = tmp_path / "longline.txt"
    text.write_text(" ".join(f"w{i % 500}" for i in range(3000)) + "\nthe cat sat\non the mat\nthe dog ran\n")
    runs_dir = tmp_path / "runs"
    for sets, expected in ((["dataset=" + str(text)], [
            "error: dataset: the validation split (the next 1 of 4 lines, 4 tokens) is too small for eval_batch_size "
            "10: evaluation needs 20 tokens (2 rows of 10); add lines to the file or lower eval_batch_size",
            "error: dataset: the test split (the last 1 of 4 lines, 4 tokens) is too small for eval_batch_size 10: "
            "evaluation needs 20 tokens (2 rows of 10); add lines to the file or lower eval_batch_size"]),
            (["valid_tokens=7"], ["error: dataset: the validation split (valid_tokens=7, 7 tokens) is too small for "
                                  "eval_batch_size 10: evaluation needs 20 tokens (2 rows of 10); raise valid_tokens "
                                  "(0 = all) or lower eval_batch_size"])):
        args = [arg for item in sets for arg in ("--set", item)]
        result = subprocess.run([sys.executable, "-m", "lmcore", "train", "--preset", "tiny", *args,
                                 "--runs-dir", str(runs_dir)], capture_output=True, text=True, cwd=ROOT)
        assert result.returncode == 2 and result.stderr.strip().splitlines() == expected
        assert not runs_dir.exists()


def test_cli_refuses_a_million_layers_in_one_line_at_once(tmp_path):
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "lmcore", "train", "--preset", "tiny", "--set", "layers=1000000",
                             "--runs-dir", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2 and time.perf_counter() - start < 30
    assert result.stderr.strip().splitlines() == [
        "error: layers: must be at most 16 (got 1,000,000); allowed: 1 <= layers <= 16"]


def test_parameter_counts_refuse_sizes_beyond_their_limits():
    """The breakdown has a row per layer: an absurd count must never be looped over."""
    from lmcore.params import formula_counts

    start = time.perf_counter()
    with pytest.raises(ConfigError, match="layers: must be at most 16"):
        formula_counts(Config(layers=10**12), 10000)
    assert time.perf_counter() - start < 0.1
    assert len(formula_counts(Config(layers=16), 10000)["parts"]) == 16 + 3
