"""Generate (AppTest): text from a real run equals lmcore's, the top-10 chart, the sample
history, and clear messages for runs that cannot generate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from charts import values
from conftest import copy_run, open_app
from explorer import textview
from lmcore.checkpoints import load_model
from lmcore.jsonl import read_jsonl
from lmcore.sampling import generate, whole_text


def open_generate(monkeypatch, root: Path, run_id: str | None = None) -> AppTest:
    at = open_app(monkeypatch, root, "app_pages/generate.py", {"run": run_id} if run_id else None)
    assert not at.exception, at.exception
    return at


def click_generate(at: AppTest) -> AppTest:
    next(b for b in at.button if "Generate" in b.label).click().run()
    assert not at.exception, at.exception
    return at


def messages(at: AppTest, kind: str) -> str:
    return " ".join(e.value for e in getattr(at, kind))


def top_chart(at: AppTest) -> dict:
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return next(c for c in charts if c["layout"].get("xaxis", {}).get("title", {}).get("text") ==
                "probability of the next word")


def top_heading(at: AppTest) -> str:
    """The line above the chart: 'word 5: it picked “…” (3.2%)', unescaped and without the invisible
    marks that isolate the word's direction (top_heading_raw)."""
    return top_heading_raw(at).replace("\\", "").replace(textview.ISOLATE, "").replace(textview.POP_ISOLATE, "")


def top_heading_raw(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "it picked" in m.value)


def test_generated_text_matches_lmcore_and_top_words(trained_runs, monkeypatch):
    root, folders = trained_runs
    folder = folders["variational"]
    at = open_generate(monkeypatch, root, folder.name)
    assert at.selectbox(key="generate.run").value == folder.name
    at.text_input(key="generate.prompt").set_value("the company").run()
    at.slider(key="generate.num_words").set_value(12).run()
    at.text_input(key="generate.seed").set_value("7").run()
    at.text_input(key="generate.top_k").set_value("50").run()
    click_generate(at)

    model, words, _ = load_model(folder, "best")
    expected = generate(model, words, "the company", 12, 1.0, 50, 7)
    assert at.code[0].value == whole_text(expected)
    assert textview.to_markdown(expected["words"], expected["prompt"]) in [m.value for m in at.markdown]

    chart = top_chart(at)
    first = expected["steps"][0]
    assert "▶ " + first["word"] in chart["data"][0]["y"]
    assert f"picked “{first['word']}”" in top_heading(at)
    # The slider draws its labels as markdown: each word is escaped, or '**bold**' read 'bold'.
    assert at.select_slider(key="generate.position").options == [
        f"{i}: {textview.md_escape(step['word'])}" for i, step in enumerate(expected["steps"], 1)]
    at.select_slider(key="generate.position").set_value(5).run()
    assert not at.exception
    fifth = expected["steps"][4]
    chart = top_chart(at)
    assert f"picked “{fifth['word']}”" in top_heading(at)
    # isolated for the bidi algorithm: an Arabic word pulled the quote and its percentage into its run
    assert f"picked “{textview.isolate(textview.md_escape(fifth['word']))}” (" in top_heading_raw(at)
    top_word = fifth["top"][0][0]
    assert chart["data"][0]["y"][-1] in (top_word, "▶ " + top_word)  # the most likely word on top

    # Same settings, same seed: the same text again (the page keeps nothing hidden).
    click_generate(at)
    assert at.code[0].value == whole_text(expected)


def generate_button(at: AppTest):
    return next(b for b in at.button if "Generate" in b.label)


def test_top_k_beyond_the_vocabulary_is_clamped_and_said(trained_runs, monkeypatch):
    root, folders = trained_runs
    folder = folders["variational"]
    at = open_generate(monkeypatch, root, folder.name)
    at.text_input(key="generate.top_k").set_value("999999").run()
    model, words, _ = load_model(folder, "best")
    assert f"Top-k 999,999 is more than this vocabulary's {len(words):,} words" in messages(at, "info")
    assert not generate_button(at).disabled
    click_generate(at)
    assert at.code[0].value == whole_text(generate(model, words, "the", 30, 1.0, 0, 0))


def test_the_largest_seed_is_used_as_typed_and_one_more_is_refused(trained_runs, monkeypatch):
    """Seeds 2**32 apart drew the same text (torch's CPU generator keeps 32 bits), yet the box took
    every seed up to 2**64 - 1: 4294967296 wrote exactly seed 0's text."""
    root, folders = trained_runs
    folder = folders["variational"]
    at = open_generate(monkeypatch, root, folder.name)
    at.text_input(key="generate.seed").set_value("4294967295").run()
    assert not messages(at, "error")
    click_generate(at)
    model, words, _ = load_model(folder, "best")
    assert at.code[0].value == whole_text(generate(model, words, "the", 30, 1.0, 0, 2**32 - 1))
    at.text_input(key="generate.seed").set_value("4294967296").run()
    assert "Seed must be a whole number from 0 to 4,294,967,295" in messages(at, "error")
    assert generate_button(at).disabled


def test_bad_top_k_and_seed_are_refused_in_words_and_nothing_runs(trained_runs, monkeypatch):
    root, folders = trained_runs
    at = open_generate(monkeypatch, root, folders["variational"].name)
    click_generate(at)
    first = at.code[0].value
    for key, typed, reason in [("generate.top_k", "-5", "Top-k must be 0"),
                               ("generate.top_k", "ten", "Top-k must be 0"),
                               ("generate.seed", "-1", "Seed must be a whole number from 0 to"),
                               ("generate.seed", "1" + "0" * 30, "Seed must be a whole number from 0 to"),
                               ("generate.seed", "2.5", "Seed must be a whole number from 0 to")]:
        at.text_input(key=key).set_value(typed).run()
        assert not at.exception, at.exception
        shown = messages(at, "error").replace("\\", "")    # as read, without markdown escapes
        assert reason in shown and typed[:40] in shown, typed
        assert generate_button(at).disabled, typed          # nothing runs with an earlier value
        assert "settings (or the checkpoint) changed" in " ".join(c.value for c in at.caption)
        assert at.code[0].value == first                     # the earlier text stays, marked as stale
        at.text_input(key=key).set_value("0").run()
    assert not messages(at, "error") and not generate_button(at).disabled


def test_unknown_prompt_words_are_named(trained_runs, monkeypatch):
    root, folders = trained_runs
    at = open_generate(monkeypatch, root, folders["plain"].name)
    at.text_input(key="generate.prompt").set_value("the zzyzx qwxq").run()
    warning = messages(at, "warning")
    assert "`zzyzx`" in warning and "`qwxq`" in warning and "<unk>" in warning
    at.text_input(key="generate.prompt").set_value("The Company").run()  # PTB is lower case
    assert not messages(at, "warning")
    # QA round 6: "said," and '"hello!"' read as unknown with no word of why
    at.text_input(key="generate.prompt").set_value('the company said, "hello!"').run()
    assert "`said,`" in messages(at, "warning")
    assert ("The prompt splits at spaces only, and this text writes punctuation as words of its own or not at all: "
            "try `said` for `said,`.") in " ".join(c.value for c in at.caption)   # PTB has no commas


def test_spaced_suggestions_split_off_only_punctuation_the_vocabulary_knows():
    from explorer.textview import spaced_suggestions

    words = ["the", "said", ",", "u.s.", "'s", "company", ".", "hello"]
    assert spaced_suggestions(["said,", "zzz,", "said!", '"hello!"', "zzz"], words) == {
        "said,": "said ,", "said!": "said", '"hello!"': "hello"}
    assert spaced_suggestions(["Company."], words) == {"Company.": "Company ."}



def test_prompt_tips_split_clitics_write_numbers_as_n_and_leave_out_marks_the_text_lacks():
    """QA round 12: students type `it's`, `economy's`, `$5` and `,`; PTB writes `it 's`, `economy 's`,
    `$ N` and has no commas, and the page gave no tip for any of them."""
    from explorer.textview import prompt_tip, spaced_suggestions

    words = ["it", "'s", "economy", "$", "N", "do", "n't", "company", "new"]
    tips = spaced_suggestions(["it's", "economy's", "$5", "1,000", ",", "don't", "company,", "New."], words)
    assert tips == {"it's": "it 's", "economy's": "economy 's", "$5": "$ N", "1,000": "N", ",": "",
                    "don't": "do n't", "company,": "company", "New.": "New"}
    tip = prompt_tip(tips)
    assert "and every number as `N`: try `it 's` for `it's`" in tip and "leave out `,`" in tip
    assert "every number" not in prompt_tip({"New.": "New"})         # no number typed, none said


def test_a_capitalised_prompt_word_is_read_in_lower_case_when_only_that_is_known():
    from lmcore.sampling import read_prompt

    words = ["<eos>", "<unk>", "the", "company", "The"]
    assert read_prompt(words, "The Company NASA") == ([4, 3, 1], ["NASA"], True)  # an exact match comes first


def test_a_lower_case_prompt_word_is_read_capitalised_when_only_that_is_known():
    """QA round 18: "käse straße" on a German text that writes the nouns "Käse" and "Straße"."""
    from lmcore.sampling import read_prompt

    words = ["<eos>", "Käse", "Straße", "die"]
    assert read_prompt(words, "käse straße die STRASSE") == ([1, 2, 3], ["STRASSE"], False)


def test_sample_history_with_validation_perplexity(trained_runs, monkeypatch):
    root, folders = trained_runs
    folder = folders["plain"]
    at = open_generate(monkeypatch, root, folder.name)
    samples = read_jsonl(folder / "samples.jsonl")
    assert len(samples) >= 2
    shown = [m.value for m in at.markdown]
    for sample in samples:
        assert textview.to_markdown(sample["text"].split(), sample["prompt"].split()) in shown
    val = [r for r in read_jsonl(folder / "metrics.jsonl") if r["kind"] == "val"]
    assert any(f"**{val[0]['ppl']:,.1f}**" in m for m in shown)
    # Neutral: a run that over-fits writes worse text late on ("improved" was wrong for it).
    assert "How its text changed during training" in [h.value for h in at.subheader]


def test_a_run_without_checkpoints_yet_is_explained(monkeypatch, tmp_path):
    from lmcore.runs import create_run

    monkeypatch.setenv("LMCORE_REFERENCE_DIR", str(tmp_path / "no-reference"))
    monkeypatch.setattr("lmcore.queue.ensure_worker", lambda root=None: None)  # keep it queued
    folder = create_run({"preset": "tiny", "name": "waiting"}, tmp_path / "runs")
    at = open_generate(monkeypatch, tmp_path / "runs", folder.name)
    assert f"Run **waiting** (`{folder.name}`) has no checkpoint yet: it saves one at its first validation" \
        in messages(at, "info")
    assert "No run has a checkpoint yet" in messages(at, "info") and not messages(at, "warning")


def test_a_finished_run_whose_checkpoints_are_gone_shows_its_samples(trained_runs, monkeypatch, tmp_path):
    _, folders = trained_runs
    folder = copy_run(folders["plain"], tmp_path)
    shutil.rmtree(folder / "checkpoints")
    at = open_generate(monkeypatch, tmp_path / "runs", folder.name)
    assert "This run's weights were not kept (its checkpoints/ folder is gone)" in messages(at, "info")
    assert "no checkpoint yet" not in messages(at, "warning") + messages(at, "info")
    assert not any("Generate" in b.label for b in at.button)
    shown = [m.value for m in at.markdown]
    for sample in read_jsonl(folder / "samples.jsonl"):
        assert textview.to_markdown(sample["text"].split(), sample["prompt"].split()) in shown


def test_a_reference_run_shows_its_sample_history_and_says_its_weights_were_not_kept(monkeypatch, tmp_path):
    from lmcore.reference import reference_dir

    book = reference_dir() / "20261127-085930-book-9182"
    at = open_generate(monkeypatch, tmp_path / "runs", book.name)   # no runs of one's own: still there
    assert at.selectbox(key="generate.run").value == book.name
    assert messages(at, "info") == ("This run's weights were not kept (a reference run measured on one NVIDIA "
                                    "H200); its samples during training are below.")
    shown = [m.value for m in at.markdown]
    samples = read_jsonl(book / "samples.jsonl")
    assert len(samples) == 40
    for sample in samples:
        assert textview.to_markdown(sample["text"].split(), sample["prompt"].split()) in shown
    assert "**79.9**" in " ".join(shown)   # the best validation (epoch 40) beside its sample


def test_corrupt_checkpoint_and_missing_vocabulary(trained_runs, monkeypatch, tmp_path):
    _, folders = trained_runs
    torn = copy_run(folders["plain"], tmp_path)
    for name in ("best.pt", "last.pt"):
        (torn / "checkpoints" / name).write_bytes(b"torn file")
    at = open_generate(monkeypatch, tmp_path / "runs", torn.name)
    assert "cannot read checkpoint" in messages(at, "error")
    assert len(at.button) == 0  # nothing to generate with
    assert len(at.markdown) > 2  # the sample history still shows

    no_vocab = copy_run(folders["variational"], tmp_path)
    (no_vocab / "vocab.json").unlink()
    at.query_params["run"] = no_vocab.name
    at.run()
    assert not at.exception
    assert "vocab.json is missing" in messages(at, "error")


def open_with_a_failed_run(trained_runs, monkeypatch, tmp_path, **status) -> tuple[AppTest, Path, Path]:
    """A run that ended before its first checkpoint, linked, beside a run that has one."""
    from lmcore.runs import RunWriter, create_run

    monkeypatch.setenv("LMCORE_REFERENCE_DIR", str(tmp_path / "no-reference"))
    monkeypatch.setattr("lmcore.queue.ensure_worker", lambda root=None: None)
    other = copy_run(trained_runs[1]["plain"], tmp_path)
    failed = create_run({"preset": "tiny", "name": "crashed"}, tmp_path / "runs")
    (failed / "checkpoints").mkdir(exist_ok=True)
    RunWriter(failed).status(**status)
    return open_generate(monkeypatch, tmp_path / "runs", failed.name), failed, other


def test_a_run_that_ended_without_a_checkpoint_says_so_and_names_the_run_shown(trained_runs, monkeypatch, tmp_path):
    """A failed run read 'has no checkpoint yet: it saves one at its first validation' (it never will),
    while the page quietly showed another run's checkpoint."""
    at, failed, other = open_with_a_failed_run(trained_runs, monkeypatch, tmp_path, state="failed",
                                               error="CUDA out of memory\nTraceback (most recent call last):")
    warning = messages(at, "warning")
    assert (f"Run **crashed** (`{failed.name}`) ended without saving a checkpoint (failed: CUDA out of memory); "
            "**Start over** on the **Train** page") in warning
    assert "Traceback" not in warning and "no checkpoint yet" not in warning
    assert f"Showing **plain** (`{other.name}`) instead" in warning
    assert at.selectbox(key="generate.run").value == other.name


def test_a_run_stopped_before_its_first_checkpoint_can_start_over(trained_runs, monkeypatch, tmp_path):
    at, failed, _ = open_with_a_failed_run(trained_runs, monkeypatch, tmp_path, state="stopped")
    assert "ended without saving a checkpoint (stopped); **Start over**" in messages(at, "warning")
    assert "weights were not kept" not in messages(at, "info")   # its checkpoints/ folder is there


def test_a_run_that_diverged_before_its_first_checkpoint_points_to_edit_a_copy(trained_runs, monkeypatch, tmp_path):
    """Start over trains the same config, which diverges again at the same step."""
    error = "diverged at step 21: the loss is not finite (try a lower lr or a tighter clip)"
    at, _, _ = open_with_a_failed_run(trained_runs, monkeypatch, tmp_path, state="failed", error=error)
    warning = messages(at, "warning").replace("\\", "")    # as read, without markdown escapes
    assert f"(failed: {error}); **Edit a copy**" in warning
    assert "Start over would diverge the same way" in warning and "trains it again from step 0" not in warning


def test_a_broken_run_is_named_once(trained_runs, monkeypatch, tmp_path):
    """A broken run has no name but its id: it read 'Run **ID** (`ID`)'."""
    broken = copy_run(trained_runs[1]["plain"], tmp_path)
    (broken / "config.json").unlink()
    shutil.rmtree(broken / "checkpoints")
    at = open_generate(monkeypatch, tmp_path / "runs", broken.name)
    warning = messages(at, "warning").replace("\\", "")    # as read, without markdown escapes
    assert f"Run `{broken.name}` cannot be read (config.json is missing or unreadable)" in warning
    assert warning.count(broken.name) == 1


def test_the_page_reruns_when_a_waiting_run_saves_its_first_checkpoint(trained_runs, monkeypatch, tmp_path):
    """The page said 'no checkpoint yet' and kept saying it after the run saved one, until reloaded."""
    import functools

    import streamlit

    from lmcore.runs import create_run

    watchers, reruns, fragment = [], [], streamlit.fragment

    def recording_fragment(func=None, *, run_every=None, **options):   # notes what each fragment is given
        def wrap(body):
            @functools.wraps(body)
            def watched(*args):
                watchers.append((body, run_every, args))
                return body(*args)
            return fragment(watched, run_every=run_every, **options)
        return wrap(func) if func else wrap

    monkeypatch.setattr(streamlit, "fragment", recording_fragment)
    monkeypatch.setenv("LMCORE_REFERENCE_DIR", str(tmp_path / "no-reference"))
    monkeypatch.setattr("lmcore.queue.ensure_worker", lambda root=None: None)   # keep it queued
    other = copy_run(trained_runs[1]["plain"], tmp_path)
    waiting = create_run({"preset": "tiny", "name": "waiting"}, tmp_path / "runs")
    at = open_generate(monkeypatch, tmp_path / "runs", waiting.name)
    assert "has no checkpoint yet" in messages(at, "info")
    [(body, every, args)] = [w for w in watchers if w[1] and w[0].__name__ == "reload_when_saved"]
    assert every and args == ((str(waiting),),)

    monkeypatch.setattr(streamlit, "rerun", lambda *a, **k: reruns.append(k))
    body(*args)                                   # what the fragment does every `every` seconds
    assert not reruns                             # still waiting: nothing to redraw
    shutil.copytree(other / "checkpoints", waiting / "checkpoints", dirs_exist_ok=True)
    body(*args)
    assert reruns == [{}]                         # the whole page, not just the fragment
    at.run()
    assert at.selectbox(key="generate.run").value == waiting.name   # the link is followed now
    assert "no checkpoint yet" not in messages(at, "info")


def test_the_chart_reads_at_a_hot_and_a_cold_temperature(trained_runs, monkeypatch):
    """At 2.0 the axis read '0% 0% 0% 1% 1%' (".0%" ticks); at 0.1 bar labels read '6.76e-09%'."""
    root, folders = trained_runs
    at = open_generate(monkeypatch, root, folders["plain"].name)
    at.slider(key="generate.temperature").set_value(2.0).run()
    click_generate(at)
    chart = top_chart(at)
    highest = max(values(chart["data"][0]))
    assert highest < 0.05                                      # every word under 5%: the case that read 0%
    assert chart["layout"]["xaxis"]["tickformat"] == textview.percent_tickformat(highest) != ".0%"
    at.slider(key="generate.temperature").set_value(0.1).run()
    click_generate(at)
    labels = top_chart(at)["data"][0]["text"]
    assert "<0.001%" in labels and not any("e-" in label for label in labels), labels


def test_a_synthetic_run_starts_from_its_own_prompt_without_a_warning(trained_runs, monkeypatch):
    """The box said `the`, which the generated language lacks: a warning first, then text from ↵."""
    root, folders = trained_runs
    at = open_generate(monkeypatch, root, folders["synthetic"].name)
    assert at.text_input(key="generate.prompt").value == ""     # the synthetic preset samples from none
    assert not messages(at, "warning")
    click_generate(at)
    assert "No prompt: it wrote from the start of a sentence." in " ".join(c.value for c in at.caption)
    assert "One sample per validation, always from the start of a sentence" in " ".join(c.value for c in at.caption)

    at.text_input(key="generate.prompt").set_value("zzyzx").run()   # what the user types stays theirs
    at.selectbox(key="generate.run").set_value(folders["plain"].name).run()
    assert at.text_input(key="generate.prompt").value == "zzyzx"


def test_the_prompt_follows_the_picked_run_until_the_user_types_one(trained_runs, monkeypatch):
    root, folders = trained_runs
    at = open_generate(monkeypatch, root, folders["plain"].name)
    assert at.text_input(key="generate.prompt").value == "the"
    at.selectbox(key="generate.run").set_value(folders["synthetic"].name).run()
    assert at.text_input(key="generate.prompt").value == "" and not messages(at, "warning")
    at.selectbox(key="generate.run").set_value(folders["plain"].name).run()
    assert at.text_input(key="generate.prompt").value == "the"


def test_an_empty_or_unknown_prompt_says_where_the_text_starts(trained_runs, monkeypatch):
    """An empty prompt's caption still read '**Bold**: the prompt as the model read it', with nothing bold."""
    root, folders = trained_runs
    at = open_generate(monkeypatch, root, folders["plain"].name)
    at.text_input(key="generate.prompt").set_value("").run()
    click_generate(at)
    captions = " ".join(c.value for c in at.caption)
    assert "No prompt: it wrote from the start of a sentence." in captions and "**Bold**" not in captions
    at.selectbox(key="generate.run").set_value(folders["synthetic"].name).run()   # no <unk>: unknown words dropped
    at.text_input(key="generate.prompt").set_value("zzyzx").run()
    click_generate(at)
    assert "No word of the prompt is in the vocabulary" in " ".join(c.value for c in at.caption)


def test_the_copy_holds_the_prompt_and_the_continuation(trained_runs, monkeypatch):
    """QA round 8: the box read '**the** restrictions…' and the copy 'restrictions…'."""
    root, folders = trained_runs
    at = open_generate(monkeypatch, root, folders["plain"].name)
    at.text_input(key="generate.prompt").set_value("The company zzyzx").run()
    click_generate(at)
    model, words, _ = load_model(folders["plain"], "best")
    expected = generate(model, words, "The company zzyzx", 30, 1.0, 0, 0)
    assert at.code[0].value == "the company <unk> " + expected["text"]   # as the model read it, as the CLI prints


def test_with_top_k_the_chart_lists_only_the_words_it_could_draw(trained_runs, monkeypatch):
    """QA round 8: with top-k 5 the chart showed 10 bars, five of them at '0%' (cut off, never drawable)."""
    root, folders = trained_runs
    at = open_generate(monkeypatch, root, folders["plain"].name)
    at.text_input(key="generate.top_k").set_value("5").run()
    click_generate(at)
    for position in (1, 7):
        at.select_slider(key="generate.position").set_value(position).run()
        bars = top_chart(at)["data"][0]
        assert len(bars["y"]) == 5 and "0%" not in bars["text"], bars
        caption = " ".join(c.value for c in at.caption)
        assert f"The 5 words top-5 kept at word {position}, after temperature 1: the distribution it actually " \
               "sampled from; every other word was cut to 0% and could not be drawn." in caption
    at.text_input(key="generate.top_k").set_value("0").run()
    click_generate(at)
    assert len(top_chart(at)["data"][0]["y"]) >= 10                     # 11 when it drew a word outside them
    assert "The 10 most likely next words at word 1, after temperature 1: the distribution" in \
        " ".join(c.value for c in at.caption)


def test_each_sample_in_the_history_is_headed_by_one_line(trained_runs, monkeypatch):
    """QA round 8: a label in a sixth of the row wrapped to five lines at 1024 px; it is one line above its text."""
    root, folders = trained_runs
    folder = folders["plain"]
    at = open_generate(monkeypatch, root, folder.name)
    val = [r for r in read_jsonl(folder / "metrics.jsonl") if r["kind"] == "val"]
    first = read_jsonl(folder / "samples.jsonl")[0]
    label = (f":gray[**step {first['step']}** · epoch {first['epoch']} · validation perplexity "
             f"**{val[0]['ppl']:,.1f}**]")
    shown = [m.value for m in at.markdown]
    assert label in shown
    text = textview.to_markdown(first["text"].split(), first["prompt"].split())
    assert shown[shown.index(label) + 1] == text                       # right above its sample


def test_unknown_prompt_words_left_out_by_a_vocabulary_without_unk_are_said_so(trained_runs, monkeypatch):
    root, folders = trained_runs
    at = open_generate(monkeypatch, root, folders["synthetic"].name)
    at.text_input(key="generate.prompt").set_value("zzyzx").run()
    warning = messages(at, "warning")
    assert "Not in the vocabulary (left out: this vocabulary has no `<unk>`): `zzyzx`" in warning


def test_unknown_prompt_words_read_as_unk_are_said_so_in_the_clis_words(trained_runs, monkeypatch):
    """QA round 8: one rule and one wording (lmcore.sampling.unknown_fate) for the page and `lmcore sample`."""
    from lmcore.sampling import unknown_fate

    root, folders = trained_runs
    at = open_generate(monkeypatch, root, folders["plain"].name)
    at.text_input(key="generate.prompt").set_value("the zzyzx Qwerty").run()
    assert "Not in the vocabulary (read as `<unk>`): `zzyzx`, `Qwerty`" in messages(at, "warning")
    assert unknown_fate(True) == "read as <unk>"


def test_a_click_for_a_run_deleted_in_another_tab_generates_nothing(trained_runs, monkeypatch, tmp_path):
    """The run shown was deleted in another tab, then Generate was pressed: the click's rerun can only
    show another run, and writing from it would pass its text off as the deleted run's."""
    monkeypatch.setenv("LMCORE_REFERENCE_DIR", str(tmp_path / "no-reference"))
    _, folders = trained_runs
    doomed, other = copy_run(folders["plain"], tmp_path), copy_run(folders["variational"], tmp_path)
    at = open_generate(monkeypatch, tmp_path / "runs", doomed.name)
    shutil.rmtree(doomed)
    click_generate(at)
    assert (f"Nothing was generated: the run you pressed **Generate** for (`{doomed.name}`) is no longer "
            f"there. **variational** (`{other.name}`) is shown instead") in messages(at, "warning")
    assert at.selectbox(key="generate.run").value == other.name
    assert not at.code and at.session_state["generate.result"] is None

    click_generate(at)  # now meant for the run shown
    assert "Nothing was generated" not in messages(at, "warning")
    assert at.code and at.session_state["generate.result"]["settings"][0].startswith(str(other))


def test_the_sidebars_generate_shows_the_run_watched_on_train(trained_runs, monkeypatch):
    """QA round 12: watching a run on Train, then Generate in the sidebar (no ?run=), showed the newest
    run, not the one the class was watching; Inside's masks did the same."""
    root, folders = trained_runs
    watched = folders["variational"].name
    assert sorted(f.name for f in folders.values())[-1] != watched      # not the newest, which it showed
    at = open_app(monkeypatch, root, "app_pages/train.py", {"run": watched})
    at.query_params.clear()                                             # the sidebar's links carry no query
    at.switch_page("app_pages/generate.py").run()
    assert not at.exception and at.selectbox(key="generate.run").value == watched
    assert at.query_params["run"] == watched                             # and its address names it
    at.query_params.clear()
    at.switch_page("app_pages/inside.py").run()
    at.session_state["inside.tab"] = "🔎 A run's masks"
    at.run()
    assert at.selectbox(key="inside.run").value == watched


def test_the_settings_carry_their_values_as_their_defaults(trained_runs, monkeypatch):
    """QA round 22 (on Watch): a widget the browser mounts afresh starts from the default the page gives
    it, and the next timed rerun (the shown run's watch every 3 s, the sidebar's counts) sends that back
    as a change; without one that was an empty prompt, 1 word at temperature 0.1, empty top-k and seed,
    the first run listed and no checkpoint. The defaults the page sends are the settings kept."""
    root, folders = trained_runs
    picked = folders["variational"].name
    at = open_generate(monkeypatch, root, picked)
    at.segmented_control(key="generate.which").set_value("last").run()
    at.text_input(key="generate.prompt").set_value("the company").run()
    at.slider(key="generate.num_words").set_value(12).run()
    at.slider(key="generate.temperature").set_value(0.5).run()
    at.text_input(key="generate.top_k").set_value("50").run()
    at.text_input(key="generate.seed").set_value("7").run()
    click_generate(at)
    at.select_slider(key="generate.position").set_value(5).run()
    run_box = at.selectbox(key="generate.run")
    assert run_box.value == picked and run_box.index > 0 and run_box.proto.default == run_box.index
    assert list(at.segmented_control(key="generate.which").proto.default) == [1]     # last
    assert at.text_input(key="generate.prompt").proto.default == "the company"
    assert list(at.slider(key="generate.num_words").proto.default) == [12]
    assert list(at.slider(key="generate.temperature").proto.default) == [pytest.approx(0.5)]
    assert at.text_input(key="generate.top_k").proto.default == "50"
    assert at.text_input(key="generate.seed").proto.default == "7"
    assert list(at.select_slider(key="generate.position").proto.default) == [4]      # word 5
