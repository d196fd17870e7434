"""explorer.lesson and explorer.textview: the pure helpers behind Inside the model and Generate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer import lesson, textview
from lmcore.config import Config
from lmcore.dropout import lesson_masks
from lmcore.errors import RunError
from lmcore.presets import PRESETS

# ---------------------------------------------------------------- mask pictures


def test_lesson_grid_sites_per_placement():
    grid = lesson.lesson_grid(0.5, 0.25, steps=12, units=10, layer=2, layers=2, seed=3)
    assert grid["vertical"]["recurrent"] is None
    for placement in lesson.LESSON_PLACEMENTS:
        assert grid[placement]["input"].shape == (12, 10)
        assert grid[placement]["output"].shape == (12, 10)
    assert grid["horizontal"]["recurrent"].shape == (12, 10)
    # The grid is the engine's own draw, not a re-drawing.
    engine = lesson_masks("variational", 2, 12, 10, 0.5, 0.25, 3)
    np.testing.assert_array_equal(grid["variational"]["recurrent"], engine["layer2.recurrent"])


def test_lesson_grid_output_only_for_last_layer():
    grid = lesson.lesson_grid(0.5, 0.5, steps=5, units=4, layer=1, layers=2)
    assert all(grid[p]["output"] is None for p in lesson.LESSON_PLACEMENTS)
    assert "last layer" in lesson.why_no_mask("vertical", "output", 1, 2, 0.5, 0.5)
    assert "untouched" in lesson.why_no_mask("vertical", "recurrent", 1, 2, 0.5, 0.5)
    assert "0" in lesson.why_no_mask("horizontal", "recurrent", 1, 2, 0.5, 0.0)


def test_variational_reuses_one_mask_and_horizontal_does_not():
    grid = lesson.lesson_grid(0.5, 0.5, steps=30, units=64, layer=2, seed=0)
    assert lesson.same_every_step(grid["variational"]["recurrent"])
    assert not lesson.same_every_step(grid["horizontal"]["recurrent"])
    # Fresh masks: almost no unit survives 30 steps; one mask: about half survive all of them.
    assert lesson.path_survival(grid["horizontal"]["recurrent"])[-1] == 0.0
    assert lesson.path_survival(grid["variational"]["recurrent"])[-1] == pytest.approx(
        lesson.kept_fraction(grid["variational"]["recurrent"]))


def test_survival_curve_and_kept_fraction():
    np.testing.assert_allclose(lesson.survival_curve(0.5, 3), [1, 0.5, 0.25, 0.125])
    mask = np.array([[0, 2, 2, 0], [2, 2, 0, 0]], dtype=np.float32)
    assert lesson.kept_fraction(mask) == 0.5
    np.testing.assert_allclose(lesson.path_survival(mask), [0.5, 0.25])


def test_site_titles():
    assert lesson.site_title("input", 1, 2) == "embedding → layer 1"
    assert lesson.site_title("input", 2, 2) == "layer 1 → layer 2"
    assert lesson.site_title("output", 2, 2) == "layer 2 → decoder"
    assert sorted(["layer2.input", "layer1.output", "layer1.recurrent", "layer1.input"], key=lesson.site_order) == \
        ["layer1.input", "layer1.recurrent", "layer1.output", "layer2.input"]


# ---------------------------------------------------------------- masks.npz


def test_read_masks_round_trip_and_rows(tmp_path):
    cfg = Config(dropout=0.5, dropout_placement="variational", dropout_recurrent=0.25, layers=1)
    arrays = lesson_masks("variational", 1, 8, 6, 0.5, 0.25, seed=1)
    np.savez_compressed(tmp_path / "masks.npz", **arrays)
    read = lesson.read_masks(tmp_path / "masks.npz")
    assert list(read) == ["layer1.input", "layer1.recurrent", "layer1.output"]
    rows = {r["site"]: r for r in lesson.mask_rows(read, cfg)}
    assert rows["layer1.recurrent"]["1 - p"] == 0.75
    assert rows["layer1.input"]["1 - p"] == 0.5
    assert rows["layer1.input"]["kept fraction"] == lesson.kept_fraction(arrays["layer1.input"])
    assert all(r["same mask every step"] for r in rows.values())


def test_a_kept_fraction_is_rounded_once_so_table_and_heading_agree():
    """QA round 8: 133 of 256 kept (0.51953) was rounded to 0.5195 first, and read 0.519 beside 52.0%."""
    cfg = Config(dropout=0.5, dropout_placement="vertical", layers=1)
    mask = np.zeros((1, 256), dtype=np.float32)
    mask[0, :133] = 2.0
    row = lesson.mask_rows({"layer1.input": mask}, cfg)[0]
    assert f"{row['kept fraction']:.3f}" == "0.520" and f"{lesson.kept_fraction(mask):.1%}" == "52.0%"


def test_read_masks_missing_corrupt_and_foreign(tmp_path):
    assert lesson.read_masks(tmp_path / "masks.npz") is None
    (tmp_path / "masks.npz").write_bytes(b"not a zip at all")
    with pytest.raises(RunError, match="cannot read masks.npz"):
        lesson.read_masks(tmp_path / "masks.npz")
    np.savez(tmp_path / "foreign.npz", weights=np.zeros(3))
    with pytest.raises(RunError, match="unexpected entries weights"):
        lesson.read_masks(tmp_path / "foreign.npz")


def test_has_dropout():
    assert not lesson.has_dropout(Config(dropout_placement="none", dropout=0.5))
    assert not lesson.has_dropout(Config(dropout_placement="vertical", dropout=0.0))
    assert lesson.has_dropout(Config(dropout_placement="variational", dropout=0.0, dropout_recurrent=0.2))


# ---------------------------------------------------------------- parameters and tying


def test_tying_counts_book():
    counts = lesson.tying_counts(PRESETS["book"].config(), 10_000)
    assert counts["saves"] == 10_000 * 650
    assert counts["untied"]["total"] == 19_780_400
    assert counts["tied"]["total"] == 13_280_400
    rows = {r["part"]: r for r in lesson.part_rows(counts)}
    assert rows["decoder weight"] == {"part": "decoder weight", "untied": 6_500_000, "tied": 0}
    assert rows["LSTM layer 2"]["tied"] == rows["LSTM layer 2"]["untied"]


def test_tying_impossible_when_sizes_differ():
    counts = lesson.tying_counts(Config(embed_size=100, hidden_size=200, tie_weights=False), 1000)
    assert counts["tied"] is None and not counts["possible"] and counts["saves"] == 0
    assert all(r["tied"] is None for r in lesson.part_rows(counts))


# ---------------------------------------------------------------- text


def test_to_markdown_line_breaks_and_escapes():
    text = textview.to_markdown(["a", "<unk>", "<eos>", "$", "5", "*"], prompt=["the"])
    assert text == "**the** a \\<unk\\>" + textview.LINE_BREAK + "\\$ 5 \\*"
    assert textview.to_markdown(["<eos>"]) == "*(only line breaks)*"


def test_sample_markdown_marks_line_ends_and_escapes():
    text = textview.sample_markdown({"prompt": "the", "text": "cost $ 5 <unk> <eos> new * line <eos>"})
    assert text.startswith("**the** cost \\$ 5 \\<unk\\> ↵  \nnew \\* line ↵")


def test_context_and_fmt_prob():
    assert textview.context(["the"], ["cat", "<eos>", "sat"], 2) == "the cat ↵"
    assert textview.context(list("abcdefghij"), [], 0, width=3) == "… h i j"
    assert textview.fmt_prob(0.1434) == "14.3%"
    assert textview.fmt_prob(0.00043) == "0.043%"


def test_top_words_adds_a_chosen_word_outside_the_top():
    step = {"word": "rare", "prob": 0.001, "top": [["a", 0.5], ["b", 0.2]]}
    frame = textview.top_words(step)
    assert list(frame["word"]) == ["a", "b", "rare"]
    assert list(frame["chosen"]) == [False, False, True]
    step = {"word": "b", "prob": 0.2, "top": [["a", 0.5], ["b", 0.2]]}
    assert list(textview.top_words(step)["label"]) == ["a", "▶ b"]


def test_sample_history_joins_validation_perplexity():
    samples = [{"step": 20, "epoch": 1, "prompt": "the", "temperature": 1.0, "text": "b"},
               {"step": 10, "epoch": 1, "prompt": "the", "temperature": 1.0, "text": "a"},
               {"step": 30, "epoch": 2, "prompt": "the", "temperature": 1.0}]  # no text: skipped
    metrics = pd.DataFrame([{"kind": "train", "step": 10, "ppl": 500.0}, {"kind": "val", "step": 10, "ppl": 300.0},
                            {"kind": "val", "step": 20, "ppl": 250.0}])
    history = textview.sample_history(samples, metrics)
    assert [(h["step"], h["text"], h["val_ppl"]) for h in history] == [(10, "a", 300.0), (20, "b", 250.0)]
    assert textview.sample_history(samples[:1], pd.DataFrame(columns=["kind", "step", "ppl"]))[0]["val_ppl"] is None


@pytest.mark.parametrize("p,steps,words", [(0.0, 5, "nothing is dropped"),
                                           (0.05, 5, "most paths through one unit of h stay open"),
                                           (0.5, 5, "the noise compounds")])
def test_the_lessons_verdict_matches_its_own_number(p, steps, words):
    """QA round 3: at p = 0 the lesson read "1.00^5 = 1. Long-range memory is destroyed"."""
    assert words in lesson.survival_verdict(p, (1 - p) ** steps)


def test_the_verdict_quotes_what_the_shipped_runs_measured_of_the_recurrent_mask():
    """QA round 29: the lesson gave only the book's warning while the shipped book-horizontal run, this mask
    added to the book recipe, beat book. Its numbers are the reference runs' own."""
    from lmcore.summaries import reference_runs
    from ui.reference import recipe_name

    tests = {recipe_name(s): f"{s.test:.1f}" for s in reference_runs()}
    verdict = lesson.survival_verdict(0.5, 0.5 ** 35)
    assert "keeps dropout off the recurrent path" in verdict
    assert (f"test {tests['book-horizontal']} against book's {tests['book']}" in verdict
            and f"variational-medium's {tests['variational-medium']}" in verdict)


def test_only_a_ratio_that_drops_almost_every_unit_and_acts_gets_a_note():
    assert lesson.high_dropout_notes(Config(dropout=0.89)) == []
    assert lesson.high_dropout_notes(Config(dropout=1.0)) == []    # refused (the problems box), not divided by 0
    assert lesson.high_dropout_notes(Config(dropout=0.9)) == [
        "Dropout 0.9 keeps 1 unit in 10 on average (each scaled by 10): almost every unit is dropped, so the model "
        "can barely learn. The recipes use 0.5 at most."]
    assert lesson.high_dropout_notes(Config(dropout=0.99, dropout_placement="none")) == []   # 'has no effect'
    both = lesson.high_dropout_notes(Config(dropout=0.95, dropout_placement="variational", dropout_recurrent=0.99))
    assert [note.split(" keeps")[0] for note in both] == ["Dropout 0.95", "The recurrent ratio 0.99"]
    assert len(lesson.high_dropout_notes(Config(dropout=0.95, dropout_placement="horizontal"))) == 1  # one ratio


def test_a_sample_from_the_start_of_a_sentence_has_no_empty_first_line():
    """QA round 18: own text's and the generated corpus's samples (prompt <eos>) began with a lone ↵ line."""
    assert textview.sample_markdown({"prompt": "<eos>", "text": "a b <eos> c"}) == \
        textview.to_markdown(["a", "b", "<eos>", "c"], eos_mark="↵")
    assert not textview.sample_markdown({"prompt": "<eos>", "text": "a"}).startswith("↵")
    assert textview.sample_markdown({"prompt": "<eos>", "text": ""}) == ""
