"""The Train page: AppTest against real finished runs (conftest's trained_runs). Its pure helpers are
tested with their modules: test_links.py, test_uploads.py, test_lesson.py (textview)."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui
from charts import chart, values
from conftest import copy_run, metric, open_app, texts
from explorer import textview, uploads
from lmcore import data, jsonl, runs
from lmcore.config import from_dict
from lmcore.params import formula_counts
from lmcore.presets import PRESETS
from ui.train_setup import START
from ui.train_state import PRESET
from ui.train_state import WIDGET as W
from ui.train_watch import WATCH

ROOT = Path(__file__).resolve().parent.parent


def open_page(monkeypatch, root: Path, **query) -> AppTest:
    return open_app(monkeypatch, root, "app_pages/train.py", query)


# ---------------------------------------------------------------- watching runs


def test_finished_run_shows_its_numbers_and_samples(trained_runs, monkeypatch):
    root, folders = trained_runs
    folder = folders["plain"]
    at = open_page(monkeypatch, root, run=folder.name)
    assert not at.exception
    status = runs.read_status(folder)
    assert metric(at, "Best validation") == ui.fmt_ppl(status["best_val_ppl"])
    assert metric(at, "Test") == ui.fmt_ppl(status["test_ppl"])
    assert f"best validation perplexity {ui.fmt_ppl(status['best_val_ppl'])}" in texts(at.success)
    last_sample = jsonl.read_jsonl(folder / "samples.jsonl")[-1]
    assert textview.sample_markdown(last_sample) in [m.value for m in at.markdown]
    assert at.selectbox(key=WATCH).value == folder.name
    assert "run" in at.query_params and at.query_params["run"] == folder.name


def test_synthetic_run_draws_the_floor_on_a_log_axis(trained_runs, monkeypatch):
    root, folders = trained_runs
    at = open_page(monkeypatch, root, run=folders["synthetic"].name)
    assert not at.exception
    floor = runs.read_status(folders["synthetic"])["floor_ppl"]
    assert metric(at, "Best possible") == ui.fmt_ppl(floor)
    spec = chart(at)
    assert spec["layout"]["yaxis"]["type"] == "log"
    # A dashed line named in the legend (test_page_train_qa10.py: only over its run's own steps).
    line = next(t for t in spec["data"] if t["name"].startswith("best possible"))
    assert values(line, "y") == pytest.approx([floor, floor]) and line["line"]["dash"] == "dash"


def test_unknown_or_malformed_run_id_warns(trained_runs, monkeypatch):
    root, _ = trained_runs
    for run_id in ("20990101-000000-gone-0000", "../../etc", "<b>x</b>"):
        at = open_page(monkeypatch, root, run=run_id)
        assert not at.exception
        assert "There is no run" in texts(at.warning)


def test_run_deleted_while_shown_warns(trained_runs, monkeypatch, tmp_path):
    copy = copy_run(trained_runs[1]["plain"], tmp_path)
    at = open_page(monkeypatch, copy.parent, run=copy.name)
    assert not at.exception and at.metric
    shutil.rmtree(copy)
    at.run()
    assert not at.exception
    assert "There is no run" in texts(at.warning)


def test_broken_run_folder_renders_with_a_warning(trained_runs, monkeypatch, tmp_path):
    copy = copy_run(trained_runs[1]["variational"], tmp_path)
    (copy / "status.json").write_text('{"state": "runn')  # half-written
    (copy / "metrics.jsonl").unlink()
    with open(copy / "samples.jsonl", "a") as handle:
        handle.write('garbage\n{"step": 99, "text": "torn')
    at = open_page(monkeypatch, copy.parent, run=copy.name)
    assert not at.exception
    assert "damaged" in texts(at.warning)
    assert "No measurements can be read from its damaged folder." in texts(at.info)


def test_edit_a_copy_fills_set_up_with_the_run_config(trained_runs, monkeypatch):
    root, folders = trained_runs
    at = open_page(monkeypatch, root, run=folders["variational"].name)
    at.button(key="train.copy").click().run()
    assert not at.exception
    assert at.radio(key=W + "dropout_placement").value == "variational"
    assert at.text_input(key=W + "name").value == "variational"
    assert at.number_input(key=W + "max_steps").value == 40
    assert at.query_params["dropout_placement"] == "variational"


def test_edit_a_copy_of_a_fork_says_it_trains_from_step_0_under_its_recipe_name(trained_runs, monkeypatch, tmp_path):
    """QA round 10: a copy of a fork kept 'fork from best' in its name and nothing said it starts afresh."""
    import json

    copy = copy_run(trained_runs[1]["plain"], tmp_path)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "name": "tiny · fork from best · dropout=0.5",
                                                  "dropout": 0.5, "parent": "20990101-000000-tiny-abcd",
                                                  "fork_from": "best", "fork_step": 20}))
    at = open_page(monkeypatch, copy.parent, run=copy.name)
    at.button(key="train.copy").click().run()
    assert not at.exception
    assert at.text_input(key=W + "name").value == "tiny · dropout=0.5"
    assert ("It trains from step 0: a copy of a fork is not a fork (its parent `20990101-000000-tiny-abcd` is not "
            "used).") in texts(at.success)


def test_edit_a_copy_of_a_grid_run_joins_no_grid_and_says_so(trained_runs, monkeypatch, tmp_path):
    """QA round 19: a copy kept the grid's group and name, so a reproducibility check joined the grid as a third
    run of seed 1 (n=3), and a copy with one key changed made that key a new toggle of the grid."""
    import json

    copy = copy_run(trained_runs[1]["plain"], tmp_path)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "name": "placement=vertical tied=false seed=1",
                                                  "group": "grid-87a108"}))
    launched = []
    monkeypatch.setattr("lmcore.launch.launch_new", launched.append)
    at = open_page(monkeypatch, copy.parent, run=copy.name)
    at.button(key="train.copy").click().run()
    assert not at.exception
    # Its name stays, as `lmcore train --like` keeps it (QA round 26), with the copy's values at Start.
    assert at.text_input(key=W + "group").value == ""
    assert at.text_input(key=W + "name").value == "placement=vertical tied=false seed=1"
    assert "It joins no grid: Group (under Advanced) is cleared, where it was grid\\-87a108; " in texts(at.success)
    at.button(key=START).click().run()
    assert runs.read_config(launched[0])["group"] == ""


# ---------------------------------------------------------------- setting up a run


def test_preset_from_the_url_and_the_selector_fill_the_controls(trained_runs, monkeypatch):
    root, _ = trained_runs
    at = open_page(monkeypatch, root, preset="tiny-dropout")
    assert not at.exception
    expected = PRESETS["tiny-dropout"].config()
    assert at.selectbox(key=PRESET).value == "tiny-dropout"
    assert at.number_input(key=W + "dropout").value == expected.dropout == 0.5
    assert at.radio(key=W + "dropout_placement").value == "vertical"
    assert at.number_input(key=W + "vocab_size").value == expected.vocab_size
    at.selectbox(key=PRESET).set_value("synthetic").run()
    expected = PRESETS["synthetic"].config()
    assert at.radio(key=W + "dataset").value == "synthetic"
    assert at.number_input(key=W + "hidden_size").value == expected.hidden_size
    assert at.toggle(key=W + "tie_weights").value is True
    assert at.query_params["preset"] == "synthetic"


def test_a_preset_with_a_long_float_is_not_changed_by_the_form(trained_runs, monkeypatch):
    """QA round 6: zaremba-medium's clip 0.25/1.75 came back as 0.1428571429, so its copy linked,
    named and compared as a changed recipe."""
    at = open_page(monkeypatch, trained_runs[0], preset="zaremba-medium")
    assert not at.exception and "clip" not in at.query_params
    assert at.text_input(key=W + "name").placeholder == "zaremba-medium"
    at.number_input(key=W + "clip").set_value(0.3).run()               # a real change still rounds and shows
    assert at.query_params["clip"] in ("0.3", ["0.3"])


def test_the_set_up_controls_carry_the_config_as_their_defaults(trained_runs, monkeypatch):
    """QA round 22 (on Watch): a widget the browser mounts afresh starts from the default the page gives
    it, and the next timed rerun (the sidebar's counts refresh every 5 s on every page) sends that back as
    a change; without one a number box's was 0, a select's its first choice, a box's empty: the config
    would turn into sizes of 0 and the engine's defaults by itself. Every Set up control's default is
    the value it shows."""
    at = open_page(monkeypatch, trained_runs[0], preset="variational-medium")
    at.number_input(key=W + "hidden_size").set_value(300).run()
    at.selectbox(key=W + "optimizer").set_value("adam").run()
    at.text_input(key=W + "name").set_value("mine").run()
    at.toggle(key=W + "tie_weights").set_value(False).run()
    assert not at.exception
    settable = [w for w in [*at.number_input, *at.text_input, *at.toggle, *at.checkbox, *at.selectbox, *at.radio]
                if w.key and (w.key.startswith(W) or w.key == PRESET)]
    assert len(settable) > 40
    for widget in settable:
        shown = widget.index if hasattr(widget, "index") else widget.value
        assert widget.proto.default == shown, widget.key
    assert at.radio(key=W + "dropout_placement").proto.default == 3          # variational, not none
    assert at.checkbox(key=W + "recurrent_same").proto.default is False


def sprintf_js(format: str, value: float) -> str:
    """What the browser's number box prints: sprintf.js's %g is the number whole (String(parseFloat(x))),
    its %.Ng String(Number(x.toPrecision(N))). Python's %g would round to 6 digits either way."""
    match = re.fullmatch(r"%(?:\.(\d+))?g", format)
    assert match, format
    number = float(f"{value:.{match[1]}g}") if match[1] else value
    return repr(number).removesuffix(".0")


def test_a_long_float_shows_six_digits_and_starts_exact(runs_root, monkeypatch):
    """QA round 8: zaremba-medium's clip box read 0.14285714285714285 (sprintf.js prints "%g" whole).
    The box shows six significant digits; the run starts with the exact 5/35 unless it is edited."""
    launched = []
    monkeypatch.setattr("lmcore.launch.launch_new", launched.append)      # the config is what matters here
    at = open_page(monkeypatch, runs_root, preset="zaremba-medium")
    box = at.number_input(key=W + "clip")
    assert box.value == 5.0 / 35 and sprintf_js(box.proto.format, box.value) == "0.142857"
    assert sprintf_js(box.proto.format, 0.25) == "0.25" and sprintf_js(box.proto.format, 35.0) == "35"
    at.number_input(key=W + "epochs").set_value(2).run()                 # another edit leaves the box alone
    at.button(key=START).click().run()
    assert not at.exception and len(launched) == 1
    started = runs.read_config(launched[0])
    assert started["clip"] == 5.0 / 35 and started["epochs"] == 2        # exact, not 0.142857


def test_set_up_says_what_the_checkpoints_will_take_and_epoch_checkpoints_can_be_turned_off(runs_root, monkeypatch):
    """QA round 18: a 30-epoch tiny run kept 236 MB of epoch checkpoints, said nowhere before it trained.
    tiny (1,552,336 parameters, Adam: 12 bytes each) keeps 8 epoch ends besides best and last; off keeps
    those two, and the run starts with it; a link gives it back; the book (13M, plain SGD) keeps two."""
    launched = []
    monkeypatch.setattr("lmcore.launch.launch_new", launched.append)
    at = open_page(monkeypatch, runs_root, preset="tiny")
    disk = [c for c in texts(at.caption).split("\n") if c.startswith("Checkpoints:")]
    assert disk == ["Checkpoints: up to **187 MB** on disk by its end, 18.7 MB each: best and last, and one at "
                    "each of its 8 epoch ends for a fork to start from (**Epoch checkpoints** under Advanced; "
                    "Compare's Free deletes them once it is done)."]
    at.selectbox(key=W + "keep_epoch_checkpoints").set_value("off").run()
    assert "Checkpoints: up to **37.4 MB** on disk by its end, 18.7 MB each: best and last (no " in texts(at.caption)
    assert at.query_params["keep_epoch_checkpoints"] == "false"
    at.button(key=START).click().run()
    assert not at.exception and runs.read_config(launched[0])["keep_epoch_checkpoints"] is False
    at = open_page(monkeypatch, runs_root, preset="tiny", keep_epoch_checkpoints="false")
    assert at.selectbox(key=W + "keep_epoch_checkpoints").value == "off"
    at = open_page(monkeypatch, runs_root, preset="book")
    assert "up to **107 MB** on disk by its end, 53.3 MB each: best and last (no epoch checkpoints" in texts(at.caption)


def test_link_keys_fill_controls_and_bad_ones_are_ignored_with_a_warning(trained_runs, monkeypatch):
    root, _ = trained_runs
    at = open_page(monkeypatch, root, preset="tiny", layers="3", dropout_placement="variational",
                   dropout_recurrent="0.25", bogus="1", lr="abc", batch_size="0")
    assert not at.exception
    assert at.number_input(key=W + "layers").value == 3
    assert at.radio(key=W + "dropout_placement").value == "variational"
    assert at.checkbox(key=W + "recurrent_same").value is False
    assert at.number_input(key=W + "dropout_recurrent").value == 0.25
    warnings = texts(at.warning)
    assert "bogus" in warnings and "lr='abc'" in warnings and "batch_size='0'" in warnings
    assert "bogus" not in at.query_params and at.query_params["layers"] == "3"


def test_an_address_that_already_says_the_config_is_not_rewritten(trained_runs, monkeypatch):
    """Start's 'Open in Train' on tiny wrote ?preset=tiny and Train rewrote it as the bare defaults: one
    more history entry, where Back went nowhere. Words that differ but mean the config stay; a link
    with ignored keys is still cleaned."""
    root, _ = trained_runs
    at = open_page(monkeypatch, root, preset="tiny")
    assert not at.exception and at.query_params["preset"] == "tiny"
    at = open_page(monkeypatch, root, preset="tiny-dropout", lr=str(PRESETS["tiny-dropout"].config().lr))
    assert at.query_params["lr"] == str(PRESETS["tiny-dropout"].config().lr)
    at = open_page(monkeypatch, root, preset="tiny", bogus="1")
    assert "bogus" not in at.query_params and "preset" not in at.query_params
    at.number_input(key=W + "layers").set_value(3).run()                    # a change is written in full
    assert at.query_params["preset"] == "tiny" and at.query_params["layers"] == "3"


def test_tying_with_unequal_sizes_is_explained_and_blocks_start(trained_runs, monkeypatch):
    root, _ = trained_runs
    at = open_page(monkeypatch, root, preset="tiny")
    assert not at.button(key=START).disabled
    assert at.button(key=START).proto.shortcut == "ctrl+enter"   # some 60 Tab presses below the top
    at.toggle(key=W + "tie_weights").set_value(True)
    at.number_input(key=W + "embed_size").set_value(100)
    at.run()
    assert not at.exception
    assert "tie_weights: needs embed_size == hidden_size" in texts(at.error)
    assert at.button(key=START).disabled
    at.button(key="train.fix_untie").click().run()
    assert not at.error and not at.button(key=START).disabled
    assert at.toggle(key=W + "tie_weights").value is False



def test_tying_unequal_sizes_offers_readable_fixes_and_counts_the_untied_model(trained_runs, monkeypatch):
    """QA round 5: the fix buttons, side by side, read 'Embedding…' and 'Untie the w…' at 1024 px, and
    the Parameters box counted a tied model that cannot be built ('Decoder weight · tied · 0')."""
    root, _ = trained_runs
    at = open_page(monkeypatch, root, preset="tiny", embed_size="16", hidden_size="8", tie_weights="true")
    assert not at.exception and "tie_weights: needs embed_size == hidden_size" in texts(at.error)
    fixes = {"train.fix_embed": "Set embedding size to 8", "train.fix_untie": "Untie the weights"}
    assert {key: at.button(key=key).label for key in fixes} == fixes
    inside = [{b.key for b in c.button} & set(fixes) for c in at.columns]
    assert all(keys in (set(), set(fixes)) for keys in inside)                    # one under the other
    cfg = PRESETS["tiny"].config().replace(embed_size=16, hidden_size=8)          # untied
    counts = formula_counts(cfg, data.vocab_size_for(cfg))
    assert [(m.label, m.value) for m in at.metric if m.label.startswith("Total")] == [
        ("Total, untied", f"{counts['total']:,}")]
    assert parts_rows(at)[-2][1:] == [f"H×V = 8×{counts['vocab_size']:,}", f"{8 * counts['vocab_size']:,}"]
    assert "Counted **untied**" in texts(at.caption)
    at.button(key="train.fix_embed").click().run()
    assert not at.error and at.number_input(key=W + "embed_size").value == 8
    assert [m.label for m in at.metric if m.label.startswith("Total")] == ["Total"]

def parts_rows(at) -> list[list[str]]:
    """The Set up tab's table of parameters per part: [part, formula, count] a row, without markup."""
    table = next(m.value for m in at.markdown if m.value.startswith("| Part and formula"))
    cells = [re.split(r"<br>|\|", row)[1:-1] for row in table.splitlines()[2:]]
    return [[re.sub("<[^>]+>|■", "", cell).strip() for cell in row] for row in cells]


def test_parameter_breakdown_matches_formula_counts(trained_runs, monkeypatch):
    root, _ = trained_runs
    at = open_page(monkeypatch, root, preset="tiny")
    at.number_input(key=W + "layers").set_value(3)
    at.toggle(key=W + "tie_weights").set_value(True)
    at.run()
    cfg = PRESETS["tiny"].config().replace(layers=3, tie_weights=True)
    counts = formula_counts(cfg, data.vocab_size_for(cfg))
    rows = parts_rows(at)
    assert [row[-1] for row in rows] == [f"{n:,}" for n in counts["parts"].values()]
    assert [row[0] for row in rows] == ["Embedding", "LSTM 1", "LSTM 2", "LSTM 3", "Decoder weight", "Decoder bias"]
    # Each part's formula in symbols and numbers under its name (the decoder's tied: no colour on the bar).
    assert rows[2][1] == "4·H·(I+H) + 8·H = 4·256·(256+256) + 8·256" and rows[4][1] == "tied"
    assert metric(at, "Total") == f"{counts['total']:,}"
    assert f"Tying saves {counts['tying_saves']:,} parameters" in texts(at.caption)



def test_a_short_ptb_slice_counts_its_exact_vocabulary_or_marks_the_bound(trained_runs, monkeypatch):
    """QA round 5: train_tokens=5000 showed 'Total 34,576', a bound as a plain number; the run had 23,118."""
    root, _ = trained_runs
    query = {"preset": "tiny", "hidden_size": "8", "embed_size": "8", "train_tokens": "5000"}
    cfg = PRESETS["tiny"].config().replace(hidden_size=8, embed_size=8, train_tokens=5000)
    exact = formula_counts(cfg, data.load_corpus(cfg).vocab_size)["total"]
    assert metric(open_page(monkeypatch, root, **query), "Total") == f"{exact:,}"
    monkeypatch.setattr("lmcore.ptb.find_ptb", lambda: None)                  # PTB not downloaded yet
    bound = formula_counts(cfg, data.ptb_vocab_size(5000, cfg.vocab_size)[0])["total"]
    assert bound > exact and metric(open_page(monkeypatch, root, **query), "Total") == f"≤ {bound:,}"

def test_uploaded_text_counts_its_own_vocabulary(trained_runs, monkeypatch, tmp_path):
    root = tmp_path / "runs"
    lines = [f"w{i % 37} common w{i % 11} <unk>" for i in range(200)]  # enough for one window of tiny
    path, stats = uploads.store_upload("\n".join(lines).encode(), root / ".uploads", "corpus.txt")
    at = open_page(monkeypatch, root, preset="tiny", dataset=str(path), vocab_size="20")
    assert not at.exception and not at.error
    assert at.radio(key=W + "dataset").value == "text"
    cfg = from_dict({**PRESETS["tiny"].config().to_dict(), "dataset": str(path), "vocab_size": 20})
    counts = formula_counts(cfg, min(stats["distinct"], 20))
    assert metric(at, "Total") == f"{counts['total']:,}"


def test_a_text_whose_splits_cannot_batch_blocks_start_with_the_split_named(runs_root, monkeypatch):
    """QA round 4: a 3-line file said "no full window fits" beside an enabled Start, and a 300,000-word
    line plus 3 short lines said nothing; both runs failed at once in batchify."""
    monkeypatch.setattr("lmcore.launch.launch", lambda folder: None)
    three, _ = uploads.store_upload(b"the cat sat\non the mat\nthe dog ran\n", runs_root / ".uploads", "tiny3.txt")
    at = open_page(monkeypatch, runs_root, preset="tiny", dataset=str(three))
    assert not at.exception and at.button(key=START).disabled
    errors = texts(at.error)
    assert "Fix before starting" in errors and "the training split (the first 1 of 3 lines, 4 tokens)" in errors
    assert "Split by lines: training the first 1 line (4 tokens), validation the next 1 line" in texts(at.caption)
    long_line = " ".join(f"w{i % 500}" for i in range(300_000)) + "\nthe cat sat\non the mat\nthe dog ran\n"
    path, _ = uploads.store_upload(long_line.encode(), runs_root / ".uploads", "longline.txt")
    at = open_page(monkeypatch, runs_root, preset="tiny", dataset=str(path))
    assert at.button(key=START).disabled
    assert ("the validation split (the next 1 of 4 lines, 4 tokens) is too small for eval_batch_size 10"
            in texts(at.error))
    at.number_input(key=W + "eval_batch_size").set_value(2).run()    # what the message says to do
    assert not at.error and not at.button(key=START).disabled
    at.button(key=START).click().run()
    assert (runs_root / at.query_params["run"]).is_dir()


def test_a_ptb_slice_too_small_for_the_eval_batch_blocks_start(runs_root, monkeypatch):
    at = open_page(monkeypatch, runs_root, preset="tiny", valid_tokens="15")
    assert at.button(key=START).disabled
    assert "the validation split (valid_tokens=15, 15 tokens) is too small for eval_batch_size 10" in texts(at.error)


def test_a_vocabulary_cap_that_makes_most_of_a_text_unknown_is_warned(runs_root, monkeypatch):
    """QA round 4: 30,006 words under tiny's cap of 2,000 trained on 70% <unk> and read as perplexity 5.2."""
    lines = [" ".join(f"w{(i * 13 + j) % 3000}" for j in range(15)) for i in range(2000)]
    path, stats = uploads.store_upload("\n".join(lines).encode(), runs_root / ".uploads", "large.txt")
    at = open_page(monkeypatch, runs_root, preset="tiny", dataset=str(path))     # vocab_size 2,000
    shares = uploads.unknown_share(path, 2000)
    warning = texts(at.warning)
    assert f"keeps 1,999 of the {stats['distinct']:,} distinct training words" in warning
    assert f"**{uploads.percent(shares['train'])}** of training and **{uploads.percent(shares['valid'])}**" in warning
    assert shares["train"] > 0.1 and "Raise the vocabulary cap" in warning
    at.number_input(key=W + "vocab_size").set_value(5000).run()
    assert "Raise the vocabulary cap" not in texts(at.warning)
    assert f"keeps all {stats['distinct']:,} distinct training words" in texts(at.caption)


def test_a_text_that_writes_unk_and_eos_itself_says_so_under_the_vocabulary_cap(runs_root, monkeypatch):
    """They stay the special tokens, as in PTB, but an upload that writes them was read so silently."""
    lines = [f"the cat number {i} sat" for i in range(30)] + ["<unk> and <unk> <eos>"] * 3
    path, _ = uploads.store_upload("\n".join(lines).encode(), runs_root / ".uploads", "own.txt")
    at = open_page(monkeypatch, runs_root, preset="tiny", dataset=str(path))
    assert not at.exception
    assert "This text writes `<unk>` 6 times and `<eos>` 3 times: they stay lmcore's special tokens" in texts(
        at.caption)


# ---------------------------------------------------------------- starting a real run


def test_start_launches_a_background_run_that_finishes(monkeypatch, tmp_path):
    root = tmp_path / "runs"
    at = open_page(monkeypatch, root, preset="tiny", max_steps="5", threads="1", name="from-test")
    at.button(key=START).click().run()
    assert not at.exception
    run_id = at.query_params["run"]
    folder = root / run_id
    assert folder.is_dir() and runs.read_config(folder)["max_steps"] == 5
    deadline = time.time() + 90
    while runs.read_status(folder).get("state") in runs.ACTIVE and time.time() < deadline:
        time.sleep(1)
    assert runs.read_status(folder)["state"] == "finished", (runs.read_status(folder), (folder / "log.txt").read_text())
    at.run()
    assert not at.exception
    assert "Finished" in texts(at.success)


def test_the_planned_steps_read_right_for_one_epoch(runs_root, monkeypatch):
    at = open_page(monkeypatch, runs_root, preset="tiny", epochs="1")
    assert "(149 per epoch × 1 epoch)." in "\n".join(c.value for c in at.caption)


def test_a_setting_that_cannot_act_is_said_before_starting(runs_root, monkeypatch):
    at = open_page(monkeypatch, runs_root, preset="tiny", dropout_placement="variational")  # tiny has dropout 0
    warning = "\n".join(w.value for w in at.warning)
    assert "Has no effect in this config" in warning and "dropout_placement=variational does nothing" in warning
    assert not at.button(key="train.start").disabled                   # it trains; it only says so
    assert not open_page(monkeypatch, runs_root, preset="tiny-dropout").warning


def test_dropout_that_drops_almost_every_unit_gets_a_caption(runs_root, monkeypatch):
    """Dropout 0.999 is allowed (p < 1) and trains, with no word said; from 0.9 up a caption says what it does."""
    at = open_page(monkeypatch, runs_root, preset="tiny-dropout", dropout="0.999")
    assert not at.exception and not at.button(key=START).disabled           # it trains; it only says so
    assert ("Dropout 0.999 keeps 1 unit in 1,000 on average (each scaled by 1,000): almost every unit is dropped, "
            "so the model can barely learn.") in texts(at.caption)
    at.number_input(key=W + "dropout").set_value(0.5).run()
    assert "almost every unit is dropped" not in texts(at.caption)          # tiny-dropout's own 0.5: nothing
    at.radio(key=W + "dropout_placement").set_value("variational").run()
    at.checkbox(key=W + "recurrent_same").uncheck().run()
    at.number_input(key=W + "dropout_recurrent").set_value(0.95).run()
    assert "The recurrent ratio 0.95 keeps 1 unit of h(t-1) in 20 on average" in texts(at.caption)


def test_a_run_started_without_a_name_is_named_for_what_it_changes(runs_root, monkeypatch):
    monkeypatch.setattr("lmcore.launch.launch", lambda folder: None)  # the name is the point, not the training
    at = open_page(monkeypatch, runs_root, preset="tiny", dropout="0.3", dropout_placement="variational")
    assert at.text_input(key="train.w.name").placeholder == "tiny · dropout=0.3 · dropout_placement=variational"
    at.number_input(key="train.w.layers").set_value(2).run()          # the placeholder follows at once
    expected = "tiny · layers=2 · dropout=0.3 · dropout_placement=variational"
    assert at.text_input(key="train.w.name").placeholder == expected
    at.button(key=START).click().run()
    assert runs.read_config(runs_root / at.query_params["run"])["name"] == expected


def test_a_run_without_its_config_offers_no_copy_of_a_recipe_it_lacks(trained_runs, monkeypatch, tmp_path):
    """QA round 3: a folder left half-deleted (status and metrics, no config.json) offered Edit a copy,
    which then answered that config.json is missing."""
    copy = copy_run(trained_runs[1]["variational"], tmp_path)
    (copy / "config.json").unlink()
    at = open_page(monkeypatch, copy.parent, run=copy.name)
    assert not at.exception
    button = next(b for b in at.button if b.label == "Edit a copy")
    assert button.disabled and "config.json is missing" in button.help
    assert "Delete it on **Compare**" in texts(at.warning)


def test_a_gpu_sized_recipe_on_a_cpu_says_how_many_hours_before_start(runs_root, monkeypatch):
    """QA round 6: Edit a copy of a reference run on a CPU machine started a 6-hour run unwarned."""
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    at = open_page(monkeypatch, runs_root, preset="book")
    warning = " ".join(w.value for w in at.warning)
    assert "A GPU-sized model: no run of this shape has trained on this CPU yet" in warning
    assert "about **5 h 40 min**" in warning                          # 53,080 steps of 700 tokens at 1,800/s
    at = open_page(monkeypatch, runs_root, preset="tiny")
    assert not any("GPU-sized" in w.value for w in at.warning)


def test_the_greyed_recurrent_ratio_shows_the_dropout_it_will_use(trained_runs, monkeypatch):
    """QA round 6: with 'Same as dropout' ticked, the greyed field read 0 while the run used 0.4."""
    at = open_page(monkeypatch, trained_runs[0], preset="tiny")
    at.radio(key=W + "dropout_placement").set_value("variational").run()
    at.number_input(key=W + "dropout").set_value(0.4).run()
    recurrent = at.number_input(key=W + "dropout_recurrent")
    assert at.checkbox(key=W + "recurrent_same").value and recurrent.disabled and recurrent.value == 0.4
