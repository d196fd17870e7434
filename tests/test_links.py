"""explorer.links: a config as the Train page's URL query and back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from explorer.links import clamp, link_params, parse_link, value_problem
from lmcore.config import RULES
from lmcore.presets import PRESETS


def test_link_round_trip(tmp_path):
    values = PRESETS["tiny"].config().replace(layers=3, dropout_placement="variational", dropout_recurrent=0.25,
                                              tie_weights=True, lr=1e-3, max_steps=None, name="a b&c").to_dict()
    params = link_params(values)
    assert params["preset"] == "tiny" and "vocab_size" not in params
    parsed, warnings = parse_link(params, tmp_path)
    assert parsed == values and warnings == []


def test_values_the_controls_would_refuse_are_named(tmp_path):
    assert clamp("dropout", 1.5) == RULES["dropout"].high and clamp("layers", 0) == 1 and clamp("name", "x") == "x"
    assert clamp("layers", 10**6) == RULES["layers"].high
    assert "at least 1" in value_problem("batch_size", 0, tmp_path)
    assert "choose one of" in value_problem("optimizer", "lbfgs", tmp_path)
    assert "uploaded to this app" in value_problem("dataset", "/etc/passwd", tmp_path)
    assert value_problem("dataset", str(tmp_path / ("a" * 64 + ".txt")), tmp_path) is None
    values, warnings = parse_link({"preset": "nope", "run": "x", "bogus": "1"}, tmp_path)
    assert values == parse_link({}, tmp_path)[0]
    assert "unknown preset 'nope'" in warnings[0] and "ignored bogus='1'" in warnings[1] and len(warnings) == 2
    values, warnings = parse_link({"preset": "nope"}, tmp_path, fallback="tiny")        # the Train page's
    assert values == parse_link({"preset": "tiny"}, tmp_path)[0]
    assert warnings[0].endswith("started from the tiny preset")


@pytest.mark.parametrize("key,text,fragment", [
    ("layers", "1000000", "ignored layers='1000000': must be at most 16 (got 1,000,000)"),
    ("hidden_size", "100000", "must be at most 8,192"),
    ("bptt", "1e9", "bptt='1e9': must be at most"),
    ("lr", "1e400", "lr='1e400': must be a finite number (got inf)"),
    ("lr", "nan", "lr='nan': must be a finite number (got nan)"),
    ("lr", "1e30", "lr='1e30': must be at most 1,000"),
    ("dropout", "1", "must be less than 1 (got 1); allowed: 0 <= dropout < 1"),
    ("lr_decay", "0", "must be more than 0"),
    ("max_steps", "0", "max_steps='0': must be at least 1 (got 0); allowed: 1 <= max_steps"),
    ("epochs", "0", "epochs='0': must be at least 1"),
    ("layers", "1e400", "layers='1e400': cannot read '1e400' as a whole number"),
    ("name", "x" * 5000, "must be at most 200 characters"),
    ("colour", "red", "unknown config key 'colour'; see `python -m lmcore presets`"),
])
def test_a_link_outside_a_key_s_declared_rule_is_ignored_with_one_line(tmp_path, key, text, fragment):
    values, warnings = parse_link({"preset": "tiny", key: text}, tmp_path)
    assert len(warnings) == 1 and fragment in warnings[0], warnings
    assert values == parse_link({"preset": "tiny"}, tmp_path)[0]  # the preset's value stays


def test_the_long_absurd_link_is_read_at_once(tmp_path):
    query = {"dropout": "0.99", "layers": "1000000", "hidden_size": "1", "bptt": "1", "batch_size": "1",
             "lr": "1e30", "epochs": "0"}
    start = time.perf_counter()
    values, warnings = parse_link(query, tmp_path)
    assert time.perf_counter() - start < 0.5
    assert [w.split("=")[0] for w in warnings] == ["ignored layers", "ignored lr", "ignored epochs"]
    assert values["dropout"] == 0.99 and values["hidden_size"] == 1 and values["layers"] == 2


def test_a_warning_does_not_echo_a_page_of_text(tmp_path):
    _, warnings = parse_link({"name": "x" * 5000, "y" * 500: "1", "preset": "z" * 300}, tmp_path)
    assert len(warnings) == 3 and all(len(w) < 400 for w in warnings), [len(w) for w in warnings]
    assert f"ignored name='{'x' * 60}…': must be at most" in warnings[1]


def test_a_run_without_a_name_is_named_for_what_it_changes():
    from explorer.links import described_name
    from lmcore.presets import preset_values

    tiny = preset_values("tiny")
    assert described_name(tiny) == ""                         # the preset names it
    changed = {**tiny, "dropout": 0.3, "dropout_placement": "variational"}
    assert described_name(changed) == "tiny · dropout=0.3 · dropout_placement=variational"
    many = {**changed, "layers": 2, "hidden_size": 128, "sample_prompt": "once upon a time " * 10}
    name = described_name(many)
    assert name.startswith("tiny · ") and name.endswith("+2 more") and len(name) <= 200
    assert described_name({**preset_values(""), "layers": 3}) == "defaults · layers=3"


def test_the_reference_overlay_goes_into_a_link_and_back():
    from explorer.links import RESERVED_QUERY, overlay_from_link, overlay_query

    known, axes = ["book", "zaremba-medium", "variational-medium"], ["epoch", "share"]
    assert overlay_query([], "share", "epoch") == {}                       # nothing drawn: no axis either
    assert overlay_query(["book"], "epoch", "epoch") == {"overlay": "book"}
    written = overlay_query(["variational-medium", "book"], "share", "epoch")
    assert written == {"overlay": "variational-medium,book", "overlay_x": "share"}
    assert overlay_from_link(written, known, axes) == (["variational-medium", "book"], "share", [])
    assert {"overlay", "overlay_x"} <= RESERVED_QUERY   # never read as config keys ("unknown key overlay")
    assert parse_link({"preset": "tiny", "overlay": "book"}, Path("/nowhere"))[1] == []


def test_a_links_unknown_overlay_names_and_axis_are_named_and_ignored():
    from explorer.links import overlay_from_link

    known, axes = ["book", "zaremba-medium"], ["epoch", "share"]
    link = {"overlay": " book ,banana,book,,", "overlay_x": "sideways"}
    chosen, axis, warnings = overlay_from_link(link, known, axes)
    assert chosen == ["book"] and axis == "epoch"
    assert warnings == ["ignored overlay 'banana': no reference run of that name here (there are book, zaremba-medium)",
                        "ignored overlay_x='sideways': must be epoch or share"]
    many = ",".join(f"r{i}" for i in range(1000))
    (warning,) = overlay_from_link({"overlay": many}, known, axes)[2]
    assert warning.startswith("ignored overlay 'r0', 'r1', 'r2' and 997 more: no reference run of those names")
