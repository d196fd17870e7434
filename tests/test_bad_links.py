"""The Train page against bad input (docs/bad-inputs.md): absurd links, non-finite numbers,
rejected uploads, and the engine options this machine cannot honour; and Compare's link filters.
AppTest, no trained runs."""

from __future__ import annotations

import hashlib
import time

import pytest
import torch

from conftest import open_app, texts
from explorer.uploads import MAX_UPLOAD_BYTES
from lmcore.presets import PRESETS
from ui.train_controls import UPLOADER
from ui.train_setup import START
from ui.train_state import WIDGET as W

LONG_LINK = dict(dropout="0.99", layers="1000000", hidden_size="1", bptt="1", batch_size="1", lr="1e30",
                 epochs="0")
GOOD_TEXT = "\n".join(f"the cat number {i} sat on the mat" for i in range(400)).encode()


def open_train(monkeypatch, tmp_path, **query):
    return open_app(monkeypatch, tmp_path / "runs", "app_pages/train.py", query)


def test_a_million_layers_is_one_line_and_the_page_stays_instant(monkeypatch, tmp_path):
    start = time.perf_counter()
    at = open_train(monkeypatch, tmp_path, preset="tiny", layers="1000000")
    assert time.perf_counter() - start < 20  # the whole app's first run; before the fix it never ended
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert warnings == ["From the link: ignored layers='1000000': must be at most 16 (got 1,000,000); "
                        "allowed: 1 <= layers <= 16"]
    assert at.number_input(key=W + "layers").value == PRESETS["tiny"].config().layers
    parts = next(m.value for m in at.markdown if m.value.startswith("| Part and formula")).splitlines()[2:]
    assert len(parts) == PRESETS["tiny"].config().layers + 3  # embedding, layers, decoder x2
    assert "layers" not in at.query_params  # the address bar drops what was ignored


def test_the_long_absurd_link_names_each_ignored_key(monkeypatch, tmp_path):
    at = open_train(monkeypatch, tmp_path, **LONG_LINK)
    assert not at.exception
    warnings = texts(at.warning)
    for fragment in ("ignored layers='1000000': must be at most 16", "ignored lr='1e30': must be at most 1,000",
                     "ignored epochs='0': must be at least 1"):
        assert fragment in warnings
    assert len(at.warning) == 3
    assert at.number_input(key=W + "dropout").value == 0.99 and at.number_input(key=W + "bptt").value == 1


@pytest.mark.parametrize("key,text,fragment", [
    ("lr", "1e400", "ignored lr='1e400': must be a finite number (got inf)"),
    ("lr", "nan", "ignored lr='nan': must be a finite number (got nan)"),
    ("max_steps", "0", "ignored max_steps='0': must be at least 1 (got 0)"),
])
def test_non_finite_numbers_and_a_zero_step_cap_are_refused(monkeypatch, tmp_path, key, text, fragment):
    at = open_train(monkeypatch, tmp_path, preset="tiny", **{key: text})
    assert not at.exception
    assert fragment in texts(at.warning)
    expected = PRESETS["tiny"].config()
    assert at.number_input(key=W + "lr").value == expected.lr and at.number_input(key=W + "max_steps").value == 0
    assert not at.button(key=START).disabled  # the preset's value stands and can start


def test_a_typed_value_out_of_its_limits_is_named_and_blocks_start(monkeypatch, tmp_path):
    """QA round 6: a bounded widget showed a typed 0 layers in red, said nothing, and Start trained
    the last value in range (2 layers). Each value reaches the config; problems() names it."""
    at = open_train(monkeypatch, tmp_path, preset="tiny-dropout")
    layers = at.number_input(key=W + "layers")
    assert (layers.min, layers.max) == (None, None) and "1 <= layers <= 16" in layers.help
    assert "0 <= dropout < 1" in at.number_input(key=W + "dropout").help
    layers.set_value(0)
    at.number_input(key=W + "dropout").set_value(-0.2).run()
    shown = texts(at.error)
    assert "- layers: must be at least 1 (got 0); allowed: 1 <= layers <= 16" in shown
    assert "- dropout: must be at least 0 (got -0.2); allowed: 0 <= dropout < 1" in shown
    assert at.button(key=START).disabled
    at.number_input(key=W + "dropout").set_value(1.0).run()        # an open end is named as such
    assert "- dropout: must be less than 1 (got 1); allowed: 0 <= dropout < 1" in texts(at.error)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks what a machine without CUDA offers")
def test_only_devices_this_machine_has_are_offered_and_bf16_says_it_does_nothing_here(monkeypatch, tmp_path):
    at = open_train(monkeypatch, tmp_path, preset="tiny")
    assert "cuda" not in at.selectbox(key=W + "device").options
    assert "Mixed precision acts on CUDA only" not in texts(at.caption)
    at.selectbox(key=W + "amp").set_value("bf16").run()
    assert "Mixed precision acts on CUDA only: on this machine's cpu the run trains in float32" in texts(at.caption)


def test_on_a_gpu_mixed_precision_says_what_it_was_measured_to_buy_and_cost(monkeypatch, tmp_path):
    """The third H200 session measured bf16 (docs/performance.md): a GPU user is told, where the choice is."""
    from ui import train_controls

    monkeypatch.setattr(train_controls, "chosen_device", lambda: "cuda")
    at = open_train(monkeypatch, tmp_path, preset="tiny")
    caption = next(c for c in texts(at.caption).split("\n") if c.startswith("Mixed precision bf16"))
    assert "evaluation reads float32" in caption and "40 epochs in 139 s" in caption
    assert "compare placements in one precision" in caption and "acts on CUDA only" not in texts(at.caption)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks what a machine without CUDA says")
def test_cuda_graphs_and_the_compiled_cell_say_what_on_does_without_a_gpu(monkeypatch, tmp_path):
    at = open_train(monkeypatch, tmp_path, preset="tiny")
    assert at.selectbox(key=W + "cuda_graphs").value == "auto" and at.selectbox(key=W + "compiled_cell").value == "auto"
    assert "run eagerly" not in texts(at.caption)                  # auto: nothing runs differently
    assert "are for GPUs: on this machine's cpu their defaults leave training as it is" in texts(at.caption)
    at.selectbox(key=W + "compiled_cell").set_value("on").run()
    assert "On this machine's cpu, the compiled cell compiles for its first window, then trains slower" in texts(
        at.caption)
    at.selectbox(key=W + "cuda_graphs").set_value("on").run()
    assert "with CUDA graphs on, the graph step runs eagerly, to the same numbers; the compiled cell" in texts(
        at.caption)
    assert at.query_params.get("cuda_graphs") in ("on", ["on"])  # the link holds them like every key
    at.number_input(key=W + "layer_pipeline").set_value(5).run()
    assert "pipelined layers run their chunks one after another (no streams), to the same numbers" in texts(
        at.caption)
    assert at.query_params.get("layer_pipeline") in ("5", ["5"])
    at = open_train(monkeypatch, tmp_path, preset="tiny", device="cuda")  # a config from a GPU machine
    assert at.selectbox(key=W + "device").value == "cuda"
    assert "device: cuda requested but no CUDA GPU is available" in texts(at.error)
    assert at.button(key=START).disabled


def _choose_text(at):
    at.radio(key=W + "dataset").set_value("text").run()
    return at


@pytest.mark.parametrize("name,content,reason", [
    ("empty.txt", b"", "file is empty"),
    ("binary.txt", b"abc\x00def\n" * 10, "looks binary"),
    ("latin1.txt", b"caf\xe9 au lait\n" * 10, "is not UTF-8"),
    ("late.txt", b"the cat sat\n" * 10_000 + b"caf\xe9\n" + b"a dog\n" * 3,   # past the 64 KiB head
     "late.txt is not UTF-8 text (byte 0xE9 on line 10,001, “café” if read as Windows-1252"),
    ("one.txt", b"just one line\n", "at least 3 non-empty lines"),
    ("big.txt", b"word " * (MAX_UPLOAD_BYTES // 5 + 1), f"the limit here is 20 MB ({MAX_UPLOAD_BYTES:,} bytes)"),
])
def test_a_refused_upload_shows_only_its_reason(monkeypatch, tmp_path, name, content, reason):
    at = _choose_text(open_train(monkeypatch, tmp_path, preset="tiny"))
    assert "upload a text file first" in texts(at.error)
    at.file_uploader(key=UPLOADER).set_value((name, content, "text/plain")).run()
    assert not at.exception
    errors = texts(at.error)
    assert reason in errors and "upload a text file first" not in errors
    assert at.button(key=START).disabled


def test_a_bad_upload_after_a_good_one_keeps_the_good_one(monkeypatch, tmp_path):
    at = _choose_text(open_train(monkeypatch, tmp_path, preset="tiny"))
    at.file_uploader(key=UPLOADER).set_value(("good.txt", GOOD_TEXT, "text/plain")).run()
    assert not at.error and "Using **good\\.txt**: 400 lines" in texts(at.caption)
    at.file_uploader(key=UPLOADER).set_value(("bad.txt", b"", "text/plain")).run()
    assert not at.exception and not at.error
    assert "file is empty: bad.txt" in texts(at.warning) and "Still using **good\\.txt**" in texts(at.warning)
    assert "Using **good\\.txt**: 400 lines" in texts(at.caption)
    assert not at.button(key=START).disabled
    assert at.query_params["dataset"].endswith(".txt")


def test_a_link_to_an_uploaded_file_shows_the_name_it_was_uploaded_under(monkeypatch, tmp_path):
    at = _choose_text(open_train(monkeypatch, tmp_path, preset="tiny"))
    at.file_uploader(key=UPLOADER).set_value(("good.txt", GOOD_TEXT, "text/plain")).run()
    link = at.query_params["dataset"]
    assert link == f"{hashlib.sha256(GOOD_TEXT).hexdigest()}.txt"          # the name, not the server's folders
    again = open_train(monkeypatch, tmp_path, preset="tiny", dataset=link)  # another session, from the link
    assert "Using **good\\.txt**: 400 lines" in texts(again.caption)
    path = str(tmp_path / "runs" / ".uploads" / link)                        # a link written before: its path
    assert "Using **good\\.txt**: 400 lines" in texts(open_train(monkeypatch, tmp_path, preset="tiny",
                                                                    dataset=path).caption)


def test_your_text_file_with_a_preset_warns_of_nothing_you_did_not_set(monkeypatch, tmp_path):
    """The preset's token limits go unread with a text file, but they are the preset's, not yours."""
    at = _choose_text(open_train(monkeypatch, tmp_path, preset="tiny"))
    assert at.text_input(key=W + "name").placeholder == "tiny"            # no file yet: no 'dataset='
    at.file_uploader(key=UPLOADER).set_value(("my corpus.txt", GOOD_TEXT, "text/plain")).run()
    assert not at.warning and "Has no effect" not in texts(at.warning)
    assert at.text_input(key=W + "name").placeholder == "tiny · dataset=my corpus.txt"
    link = at.query_params["dataset"]
    again = open_train(monkeypatch, tmp_path, preset="tiny", dataset=link, train_tokens="50000")  # set by a link
    warning = texts(again.warning)
    assert "train_tokens=50000" in warning and "my corpus.txt" in warning and ".uploads" not in warning


def test_a_compare_link_with_absurd_filters_opens_with_one_note(monkeypatch, tmp_path):
    """Compare's link holds the table's filters: a value no run here has, or a page of text, is
    named once and ignored; the page opens with no filter set."""
    query = {"runs": "nope", "state": ["running", "x" * 5000], "preset": "tiny", "dataset": "../../etc/passwd",
             "placement": "", "contains": "y" * 201}
    at = open_app(monkeypatch, tmp_path / "runs", "app_pages/compare.py", query)
    assert not at.exception
    notes = [c.value for c in at.caption if c.value.startswith("The link")]
    assert len(notes) == 1 and len(notes[0]) < 700, notes
    for fragment in (f"`state={'x' * 60}…` (no such state here)", "`preset=tiny` (no such preset here)",
                     "`dataset=../../etc/passwd` (no such dataset here)", "(longer than 200 characters)"):
        assert fragment in notes[0]
    assert at.multiselect(key="compare.filter.states").value == ["running"]   # a state there is, if none runs
    assert at.multiselect(key="compare.filter.presets").value == []
    assert at.text_input(key="compare.filter.text").value == ""
    assert dict(at.query_params) == {"state": "running"}


def test_a_compare_link_whose_name_filter_is_not_utf8_is_named_and_ignored(monkeypatch, tmp_path):
    """QA round 10b: `contains=%E9` (Latin-1 é) reached the name filter as the replacement character,
    matched no run ("0 shown") and said nothing, while every other bad link value is named."""
    from urllib.parse import parse_qs

    not_utf8 = parse_qs("contains=%E9&preset=caf%E9")            # as the server reads the address
    assert not_utf8 == {"contains": ["\ufffd"], "preset": ["caf\ufffd"]}
    query = {"runs": "", **{key: values[0] for key, values in not_utf8.items()}}
    at = open_app(monkeypatch, tmp_path / "runs", "app_pages/compare.py", query)
    assert not at.exception
    notes = [c.value for c in at.caption if c.value.startswith("The link")]
    assert notes == ["The link's filters `preset=caf\ufffd` (not UTF-8 text); `contains=\ufffd` (not UTF-8 text) "
                     "are ignored."]
    assert at.text_input(key="compare.filter.text").value == ""   # no filter that matches nothing
    assert "contains" not in at.query_params and "preset" not in at.query_params


def test_a_link_of_many_bad_keys_shows_a_few_warnings_and_counts_the_rest(monkeypatch, tmp_path):
    """QA round 11: a link with 200 unknown keys drew 200 warning boxes."""
    at = open_train(monkeypatch, tmp_path, preset="tiny", **{f"k{i}": "v" for i in range(200)})
    assert not at.exception
    warnings = [w.value for w in at.warning if w.value.startswith("From the link")]
    assert len(warnings) == 5 and warnings[0].startswith("From the link: ignored k0='v'")
    assert warnings[-1] == "From the link: and 196 more of its values were ignored as well"
