"""explorer.links: a config as the Train page's URL query and back."""

from __future__ import annotations

from explorer.links import BOUNDS, clamp, link_params, parse_link, value_problem
from lmcore.presets import PRESETS


def test_link_round_trip(tmp_path):
    values = PRESETS["tiny"].config().replace(layers=3, dropout_placement="variational", dropout_recurrent=0.25,
                                              tie_weights=True, lr=1e-3, max_steps=None, name="a b&c").to_dict()
    params = link_params(values)
    assert params["preset"] == "tiny" and "vocab_size" not in params
    parsed, warnings = parse_link(params, tmp_path)
    assert parsed == values and warnings == []


def test_values_the_controls_would_refuse_are_named(tmp_path):
    assert clamp("dropout", 1.5) == BOUNDS["dropout"][1] and clamp("layers", 0) == 1 and clamp("name", "x") == "x"
    assert "at least 1" in value_problem("batch_size", 0, tmp_path)
    assert "choose one of" in value_problem("optimizer", "lbfgs", tmp_path)
    assert "uploaded to this app" in value_problem("dataset", "/etc/passwd", tmp_path)
    assert value_problem("dataset", str(tmp_path / ("a" * 64 + ".txt")), tmp_path) is None
    values, warnings = parse_link({"preset": "nope", "run": "x", "bogus": "1"}, tmp_path)
    assert values == parse_link({}, tmp_path)[0]
    assert "unknown preset 'nope'" in warnings[0] and "ignored bogus='1'" in warnings[1] and len(warnings) == 2
