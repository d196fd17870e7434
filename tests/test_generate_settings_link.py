"""Generate's settings in the address bar and across pages (QA round 10: going to Inside and back
cleared the prompt and reset the temperature, marking the text as stale; a reload reset them all;
none was in the URL). `?run=ID&checkpoint=last&prompt=...&temperature=0.5&words=12&top_k=40&seed=7`."""

from __future__ import annotations

import pytest

from conftest import open_app
from explorer import sampling_settings
from lmcore.checkpoints import load_model
from lmcore.sampling import generate, whole_text

PAGE = "app_pages/generate.py"


def click_generate(at):
    next(b for b in at.button if "Generate" in b.label).click().run()
    assert not at.exception, at.exception
    return at


def captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def query(at) -> dict:
    return {key: at.query_params[key][0] if isinstance(at.query_params[key], list) else at.query_params[key]
            for key in at.query_params}


def test_changed_settings_are_written_to_the_url_and_defaults_left_out(trained_runs, monkeypatch):
    root, folders = trained_runs
    folder = folders["plain"]
    at = open_app(monkeypatch, root, PAGE, {"run": folder.name})
    assert query(at) == {"run": folder.name}                   # all defaults: the address names the run only
    at.text_input(key="generate.prompt").set_value("the market").run()
    at.slider(key="generate.temperature").set_value(0.5).run()
    at.segmented_control(key="generate.which").set_value("last").run()
    at.text_input(key="generate.seed").set_value("1,234").run()
    assert query(at) == {"run": folder.name, "checkpoint": "last", "prompt": "the market", "temperature": "0.5",
                         "seed": "1234"}
    at.text_input(key="generate.seed").set_value("ten").run()   # refused: the address keeps the last good one
    assert query(at)["seed"] == "1234"
    at.text_input(key="generate.seed").set_value("0").run()
    at.slider(key="generate.temperature").set_value(1.0).run()
    assert "temperature" not in query(at) and "seed" not in query(at)


def test_a_link_opens_with_its_settings_and_writes_the_same_text(trained_runs, monkeypatch):
    """A reload is a new session on the same address: everything the sender set comes back."""
    root, folders = trained_runs
    folder = folders["plain"]
    link = {"run": folder.name, "checkpoint": "last", "prompt": "the market", "temperature": "0.5",
            "words": "12", "top_k": "40", "seed": "7"}
    at = open_app(monkeypatch, root, PAGE, link)
    assert not at.exception, at.exception
    assert at.segmented_control(key="generate.which").value == "last"
    assert at.text_input(key="generate.prompt").value == "the market"
    assert at.slider(key="generate.temperature").value == 0.5
    assert at.slider(key="generate.num_words").value == 12
    assert at.text_input(key="generate.top_k").value == "40" and at.text_input(key="generate.seed").value == "7"
    assert query(at) == link                                    # read back as written
    click_generate(at)
    model, words, _ = load_model(folder, "last")
    assert at.code[0].value == whole_text(generate(model, words, "the market", 12, 0.5, 40, 7))
    # The user changes a setting after the link: it stays changed (the link is applied once).
    at.slider(key="generate.temperature").set_value(0.75).run()
    assert at.slider(key="generate.temperature").value == 0.75 and query(at)["temperature"] == "0.75"


def test_settings_survive_a_visit_to_another_page(trained_runs, monkeypatch):
    root, folders = trained_runs
    folder = folders["plain"]
    at = open_app(monkeypatch, root, PAGE, {"run": folder.name})
    at.text_input(key="generate.prompt").set_value("the market").run()
    at.slider(key="generate.temperature").set_value(0.5).run()
    at.text_input(key="generate.top_k").set_value("40").run()
    click_generate(at)
    text = at.code[0].value
    at.switch_page("app_pages/inside.py").run()
    assert not at.exception, at.exception
    at.query_params.clear()                                     # the sidebar's way back drops the query
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.text_input(key="generate.prompt").value == "the market"
    assert at.slider(key="generate.temperature").value == 0.5
    assert at.text_input(key="generate.top_k").value == "40"
    assert at.code[0].value == text and "changed since this text was generated" not in captions(at)
    assert query(at) == {"run": folder.name, "prompt": "the market", "temperature": "0.5", "top_k": "40"}


def test_a_link_without_a_prompt_gives_the_runs_own_and_with_one_keeps_it_across_runs(trained_runs, monkeypatch):
    root, folders = trained_runs
    at = open_app(monkeypatch, root, PAGE, {"run": folders["synthetic"].name, "temperature": "0.5"})
    assert at.text_input(key="generate.prompt").value == ""     # the synthetic run's own: none
    at = open_app(monkeypatch, root, PAGE, {"run": folders["synthetic"].name, "prompt": "the"})
    assert at.text_input(key="generate.prompt").value == "the"  # the link's, though the run knows no `the`
    at.selectbox(key="generate.run").set_value(folders["plain"].name).run()
    assert at.text_input(key="generate.prompt").value == "the"


def test_bad_settings_in_a_link_are_ignored_with_one_caption(trained_runs, monkeypatch):
    root, folders = trained_runs
    folder = folders["plain"]
    at = open_app(monkeypatch, root, PAGE, {"run": folder.name, "temperature": "9", "words": "many",
                                            "checkpoint": "worst", "seed": "-1", "top_k": "40"})
    assert not at.exception, at.exception
    assert ("The link's settings `checkpoint=worst` (not best or last); `words=many` (not a whole number from 1 "
            "to 200); `temperature=9` (not one of the slider's steps of 0.05 from 0.1 to 2); `seed=-1` (not a "
            "whole number from 0 to 4,294,967,295) are ignored; the defaults are used.") in captions(at)
    assert at.slider(key="generate.temperature").value == 1.0 and at.text_input(key="generate.top_k").value == "40"
    assert query(at) == {"run": folder.name, "top_k": "40"}     # the ignored ones leave the address
    at.text_input(key="generate.top_k").set_value("5").run()    # the user moves on: the note goes
    assert "The link's setting" not in captions(at)


@pytest.mark.parametrize("key, text", [("temperature", "nan"), ("temperature", "1e400"), ("temperature", "0.53"),
                                       ("words", "0"), ("words", "1" * 5000), ("top_k", "9" * 5000),
                                       ("seed", "4294967296"), ("prompt", "the " * 200), ("checkpoint", "")])
def test_a_bad_link_value_of_any_kind_is_ignored_never_raised(key, text):
    settings, ignored = sampling_settings.settings_from_link({key: text})
    assert len(ignored) == 1 and ignored[0].startswith(f"`{key}=") and len(ignored[0]) < 160
    assert settings == sampling_settings.DEFAULTS


def test_what_is_written_reads_back_the_same():
    chosen = {"checkpoint": "last", "prompt": " the  market ", "words": 12, "temperature": 0.6000000000000001,
              "top_k": "999999", "seed": "7"}
    written = sampling_settings.settings_query(chosen, own_prompt="the")
    assert written == {"checkpoint": "last", "prompt": " the  market ", "words": "12", "temperature": "0.6",
                       "top_k": "999999", "seed": "7"}   # a top-k past the vocabulary: the page's own note
    read, ignored = sampling_settings.settings_from_link(written)
    assert not ignored and read == {**chosen, "temperature": 0.6, "top_k": 999999, "seed": 7}
    assert sampling_settings.settings_query({**sampling_settings.DEFAULTS, "prompt": "the"}, "the") == {}
    assert sampling_settings.settings_query({**sampling_settings.DEFAULTS, "prompt": ""}, "the") == {"prompt": ""}
