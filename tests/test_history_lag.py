"""A rerun can carry an address the page itself wrote a moment ago: the browser's copy had not caught up
with the page's newer write. Read as a link, it undid the user's last change (CI: Generate's Temperature
slider, stepped from 1.00 to 0.50, came back to 0.90). Every page that reads its settings from the address
ignores such an address on a rerun of the same page (ui/history.py), and still applies it on Back and
Forward, and when a link from another page leads there with it."""

import pytest

from conftest import open_app, run_as_back

PARAMS_TAB, LESSON_TAB = "🧮 Parameters & tying", "🎭 Dropout placements"   # app_pages/inside.py


def address(at) -> dict:
    return {key: at.query_params[key] for key in at.query_params}


def send(at, query: dict, monkeypatch=None):
    """A rerun whose address is `query` (what the browser sends with it); with `monkeypatch`, as Back
    or Forward sends it."""
    at.query_params.clear()
    at.query_params.update(query)
    return run_as_back(at, monkeypatch) if monkeypatch else at.run()


def edit(widget: tuple[str, str], value):
    """Set a widget (its kind, its key) to `value`; a run's name ("plain") stands for its folder."""
    def change(at, folders):
        chosen = folders[value].name if widget[0] == "selectbox" else value
        getattr(at, widget[0])(key=widget[1]).set_value(chosen).run()
    return change


def pick(key: str, value):
    """What a click on a stateful widget without an AppTest handle (a tab) does."""
    def change(at, folders):
        at.session_state[key] = value
        at.run()
    return change


def state(key: str):
    return lambda at: at.session_state[key]


CASES = {
    "train config": ("app_pages/train.py", None, edit(("number_input", "train.w.layers"), 2),
                     edit(("number_input", "train.w.layers"), 3), state("train.w.layers")),
    "train chart": ("app_pages/train.py", "plain", edit(("toggle", "train.log_y.w"), False),
                    edit(("slider", "train.smoothing.w"), 0.3), state("train.smoothing.w")),
    "generate": ("app_pages/generate.py", "plain", edit(("slider", "generate.temperature"), 0.5),
                 edit(("slider", "generate.temperature"), 0.75), state("generate.temperature")),
    "generate run": ("app_pages/generate.py", "plain", edit(("selectbox", "generate.run"), "variational"),
                     edit(("selectbox", "generate.run"), "synthetic"), state("generate.run")),
    "compare": ("app_pages/compare.py", None, edit(("text_input", "compare.filter.text"), "tiny"),
                edit(("text_input", "compare.filter.text"), "plain"), state("compare.filter.text")),
    "inside tab": ("app_pages/inside.py", None, pick("inside.tab", PARAMS_TAB), pick("inside.tab", LESSON_TAB),
                   state("inside.tab")),
    "inside run": ("app_pages/inside.py", "plain", edit(("selectbox", "inside.run"), "variational"),
                   edit(("selectbox", "inside.run"), "synthetic"), state("inside.run")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_address_the_page_wrote_lately_is_no_link_on_its_own_rerun(case, trained_runs, monkeypatch):
    root, folders = trained_runs
    page, run, first_change, second_change, shown = CASES[case]
    at = open_app(monkeypatch, root, page, {"run": folders[run].name} if run else {})
    assert not at.exception, [e.value for e in at.exception]
    first_change(at, folders)
    first, first_value = address(at), shown(at)
    second_change(at, folders)
    second, second_value = address(at), shown(at)
    assert first != second and first_value != second_value
    send(at, first)                                            # the browser's lagging copy
    assert not at.exception, [e.value for e in at.exception]
    assert shown(at) == second_value and address(at) == second  # kept, and the address said again
    send(at, first, monkeypatch)                               # Back onto the first: the user asks for it
    assert shown(at) == first_value and address(at) == first
    at.switch_page("app_pages/start.py").run()                 # a link elsewhere that leads back with it
    at.switch_page(page)
    send(at, second)
    assert not at.exception, [e.value for e in at.exception]
    assert shown(at) == second_value and address(at) == second
