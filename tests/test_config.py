"""Every bad config value gets one clear line naming the key; the CLI exits 2 without a traceback."""

import subprocess
import sys

import pytest

from conftest import ROOT
from lmcore.config import Config, coerce, from_dict, parse_assignments, problems, validate
from lmcore.errors import ConfigError
from lmcore.presets import PRESETS, resolve


def _problem(**changes):
    found = problems(Config(**changes))
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("changes,key,hint", [
    ({"dropout": 1.0}, "dropout", "[0, 1)"),
    ({"dropout": -0.1}, "dropout", "[0, 1)"),
    ({"dropout_recurrent": 1.5}, "dropout_recurrent", "[0, 1)"),
    ({"layers": 0}, "layers", ">= 1"),
    ({"hidden_size": 0, "tie_weights": False}, "hidden_size", ">= 1"),
    ({"embed_size": 0, "tie_weights": False}, "embed_size", ">= 1"),
    ({"batch_size": 0}, "batch_size", ">= 1"),
    ({"bptt": 0}, "bptt", ">= 1"),
    ({"epochs": 0}, "epochs", ">= 1"),
    ({"lr": 0.0}, "lr", "> 0"),
    ({"lr_decay": 1.5}, "lr_decay", "(0, 1]"),
    ({"clip": -1.0}, "clip", ">= 0"),
    ({"max_steps": 0}, "max_steps", ">= 1"),
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
        parse_assignments([item])
    assert fragment in str(caught.value)


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
    (["train", "--preset", "tiny", "--set", "dropout=1.0"], "error: dropout: must be in [0, 1) (got 1.0)"),
    (["train", "--preset", "tiny", "--set", "layers=0"], "error: layers: must be >= 1 (got 0)"),
    (["train", "--preset", "nope"], "error: preset: unknown preset 'nope'"),
    (["train", "--preset", "tiny", "--set", "colour=red"], "error: unknown config key 'colour'"),
    (["train", "--preset", "tiny", "--set", "bptt=abc"], "error: bptt: cannot read 'abc' as a whole number"),
    (["train", "--preset", "tiny", "--set", "dropout_placement=sideways"], "error: dropout_placement: unknown value"),
    (["train", "--preset", "tiny", "--set", "tie_weights=true", "--set", "embed_size=100"],
     "error: tie_weights: needs"),
    (["train", "--preset", "tiny", "--set", "dataset=/no/such/file.txt"], "error: dataset: file not found"),
    (["params", "--set", "embed_size=0"], "error: embed_size: must be >= 1"),
])
def test_cli_rejects_bad_config_with_exit_2_and_no_traceback(args, expected, tmp_path):
    result = subprocess.run([sys.executable, "-m", "lmcore", *args, "--runs-dir", str(tmp_path)]
                            if args[0] == "train" else [sys.executable, "-m", "lmcore", *args],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())  # nothing was created for a config that cannot run
