"""Keys in a page's address that the page does not read (ui/address.py): a hand-typed `/compare?run=a`
or a Train link's `lr` on Compare showed the page at its defaults and said nothing."""

from __future__ import annotations

from conftest import open_app, texts
from ui.address import stray_keys, stray_note

READERS = {"Train": ["preset", "lr", "run"], "Inside the model": ["run", "tab"], "Generate": ["run", "temperature"]}
COMPARE = ["runs", "group", "view", "x", "log", "smooth", "barlog", "preset"]


def test_strays_are_the_keys_neither_the_page_nor_streamlit_reads():
    assert stray_keys(["runs", "lr", "embed", "embed_options", "lr", "foo"], COMPARE) == ["lr", "foo"]
    assert stray_keys(["runs", "x"], COMPARE) == []
    assert stray_note("Compare", [], COMPARE, READERS) is None


def test_the_note_names_a_likely_slip_and_the_pages_that_read_a_key():
    note = stray_note("Compare", ["run", "lr", "zzz"], COMPARE, READERS)
    assert note == ("Compare does not read `run` (did you mean `runs`?), `lr` (Train reads it) or `zzz` "
                    "in its address: ignored.")
    assert stray_note("Inside the model", ["temperature"], ["run", "tab"], READERS) == \
        "Inside the model does not read `temperature` (Generate reads it) in its address: ignored."
    many = stray_note("Compare", ["a", "b", "c", "d", "e"], COMPARE, READERS)
    assert many == "Compare does not read `a`, `b`, `c` and 2 more in its address: ignored."
    assert "…" in stray_note("Compare", ["k" * 500], COMPARE, READERS)       # a long key is cut, not echoed


def captions(at) -> str:
    return texts(at.caption)


def test_compare_generate_and_inside_say_what_their_address_holds_that_they_do_not_read(trained_runs, monkeypatch):
    root, folders = trained_runs
    run = folders["plain"].name
    at = open_app(monkeypatch, root, "app_pages/compare.py", {"run": run, "lr": "0.04"})
    assert "Compare does not read `run` (did you mean `runs`?) or `lr` (Train reads it)" in captions(at)
    at = open_app(monkeypatch, root, "app_pages/generate.py", {"run": run, "lr": "0.04", "temperature": "0.5"})
    assert "Generate does not read `lr` (Train reads it) in its address: ignored." in captions(at)
    at = open_app(monkeypatch, root, "app_pages/inside.py", {"run": run, "tab": "params", "runs": run, "x": "epoch"})
    assert ("Inside the model does not read `runs` (did you mean `run`?) or `x` (Compare reads it)"
            in captions(at))


def test_a_pages_own_keys_and_trains_link_warnings_are_left_alone(trained_runs, monkeypatch):
    root, folders = trained_runs
    run = folders["plain"].name
    at = open_app(monkeypatch, root, "app_pages/compare.py", {"runs": run, "x": "epoch", "embed": "true"})
    assert "does not read" not in captions(at)
    at = open_app(monkeypatch, root, "app_pages/train.py", {"preset": "tiny", "runs": run})
    assert "does not read" not in captions(at)                            # Train says it in its own words
    assert "ignored runs=" in texts(at.warning)


def test_strays_stay_until_the_user_changes_something_then_leave_with_the_note(trained_runs, monkeypatch):
    """QA round 27: `/compare?run=A&lr=0.04`, then a tick: the address read `run=A&lr=0.04&runs=B`, naming
    two runs, and the note never went. A page's first write of a change of the user's drops them."""
    root, folders = trained_runs
    plain, variational = folders["plain"].name, folders["variational"].name
    at = open_app(monkeypatch, root, "app_pages/compare.py", {"run": plain, "lr": "0.04"})
    at.run()                                                     # reruns write nothing new: the keys stay
    assert {"run", "lr"} <= set(at.query_params) and "does not read" in captions(at)
    at.session_state["compare.selected"] = [variational]         # as a tick does
    at.run()
    assert dict(at.query_params) == {"runs": variational}
    at.run()
    assert "does not read" not in captions(at)
    at = open_app(monkeypatch, root, "app_pages/generate.py", {"run": plain, "lr": "0.04"})
    assert "lr" in at.query_params
    at.slider(key="generate.temperature").set_value(0.5).run()
    assert "lr" not in at.query_params and at.query_params["temperature"] == "0.5"
