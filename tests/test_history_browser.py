"""The browser's Back onto a page's untouched settings, in chromium (QA round 13). An address without
settings was read as "keep the session's" because the sidebar's links carry no query, so Back onto
the defaults was ignored and the page wrote its settings over that history entry: Train's Set up,
Generate's first edit and Compare's first tick. ui/history.py tells the two apart."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

import browser as helpers
from browser import (  # noqa: F401
    browser_fixture,
    page_fixture,
    require_chromium,
    runs_grid,
    settle,
    streamlit_server,
    wait_app_idle,
)

pytestmark = pytest.mark.browser
require_chromium()


@pytest.fixture(scope="module")
def app(trained_runs, tmp_path_factory):
    root, folders = trained_runs
    with streamlit_server(root, tmp_path_factory.mktemp("browser-history") / "streamlit.log") as url:
        yield url, folders["plain"].name


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def sidebar(page, title: str, shows: str) -> None:
    """Open the page `title` by its sidebar link, and wait for it to show `shows`."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()
    settle(page, shows)


def from_start(page, url: str, title: str, shows: str) -> None:
    """The app's first page, then the page `title` by the sidebar."""
    page.goto(f"{url}/")
    settle(page, "Start")
    sidebar(page, title, shows)


def field(page, label: str):
    return page.locator(f'input[aria-label="{label}"]')


def type_into(page, label: str, value: str) -> None:
    field(page, label).fill(value)
    field(page, label).press("Enter")
    page.wait_for_function(f"() => location.search.includes({value!r})", timeout=10_000)
    wait_app_idle(page)


def back(page, forward: bool = False) -> None:
    page.go_forward() if forward else page.go_back()
    page.wait_for_timeout(500)
    wait_app_idle(page)


def test_train_back_reaches_the_defaults_and_the_sidebar_keeps_the_session(app, page):
    url, _ = app
    helpers.record_history(page)
    from_start(page, url, "Train", "Learning rate")
    default_lr = field(page, "Learning rate").input_value()
    type_into(page, "Learning rate", "2")
    type_into(page, "Gradient clip", "3")
    back(page)
    expect(field(page, "Gradient clip")).to_have_value("1", timeout=5_000)
    assert query(page) == {"preset": ["tiny"], "lr": ["2.0"]}
    back(page)                                              # onto the address the defaults had
    expect(field(page, "Learning rate")).to_have_value(default_lr, timeout=5_000)
    page.wait_for_timeout(1_000)
    assert query(page) == {}                                # not written over with lr=2
    back(page, forward=True)
    expect(field(page, "Learning rate")).to_have_value("2", timeout=5_000)

    sidebar(page, "Compare", "Compare runs")                # away and back by the sidebar:
    sidebar(page, "Train", "Learning rate")
    expect(field(page, "Learning rate")).to_have_value("2", timeout=5_000)   # the session's settings stay
    page.wait_for_function("() => location.search.includes('lr=2')", timeout=10_000)
    wait_app_idle(page)
    # Streamlit wrote Train's first query onto /compare about 1 run in 4 (stop 32): ui/history.py guard()
    log = helpers.history_log(page)
    assert not [entry for entry in log if entry.startswith("pushState /compare?")], log
    # The arrival's bare entry is written over, not left as a step that one Back shows again (QA round 24).
    since_compare = log[len(log) - log[::-1].index("pushState /compare"):]
    assert since_compare in (["pushState /train", "replaceState /train?preset=tiny&lr=2.0"],  # in order
                             ["pushState /train?preset=tiny&lr=2.0"]), log               # moved by the guard
    back(page)                                              # one Back: the page before
    settle(page, "Compare runs")
    back(page)
    expect(field(page, "Learning rate")).to_have_value("2", timeout=10_000)
    back(page)                                              # the first entry: the defaults, not the newest step
    expect(field(page, "Learning rate")).to_have_value(default_lr, timeout=5_000)
    page.wait_for_timeout(1_000)
    assert query(page) == {}


def test_generate_back_from_the_first_edit_brings_the_default_temperature_back(app, page):
    url, _ = app
    from_start(page, url, "Generate", "How its text changed during training")
    page.wait_for_function("() => location.search.includes('run=')", timeout=10_000)
    slider = page.get_by_role("slider", name="Temperature")
    slider.focus()
    slider.press("ArrowLeft")
    page.wait_for_function("() => location.search.includes('temperature=0.95')", timeout=10_000)
    wait_app_idle(page)
    back(page)
    expect(slider).to_have_attribute("aria-valuetext", "1.00", timeout=5_000)
    page.wait_for_timeout(1_000)
    assert "temperature" not in query(page)


def test_compare_back_from_the_first_tick_unticks_it(app, page):
    url, run = app
    grid = runs_grid(page, url)
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 17, box["y"] + 35 + 17)         # the first row's tick
    page.wait_for_function("() => location.search.includes('runs=')", timeout=10_000)
    wait_app_idle(page)
    ticked = grid.locator('[role="row"][aria-selected="true"]')
    expect(ticked).to_have_count(1)
    back(page)
    expect(ticked).to_have_count(0, timeout=5_000)
    page.wait_for_timeout(1_000)
    assert "runs" not in query(page)                            # not written over with the tick
    back(page, forward=True)
    expect(ticked).to_have_count(1, timeout=5_000)
    assert len(query(page)["runs"]) == 1


def guarded(page, url: str, path: str, shows: str) -> None:
    """The app's page at `path`, its history recorded, with the guard's script running."""
    helpers.record_history(page)
    page.goto(f"{url}{path}")
    settle(page, shows)
    page.wait_for_function("() => window.lmHistoryGuard !== undefined", timeout=10_000)


def click_then_push(page, href: str, address: str, arrive: bool = False, key: str | None = None) -> None:
    """A click on a link to `href` that Streamlit follows itself (its handler prevents the browser's);
    with `arrive`, that page's entry pushed as Streamlit's maybeUpdatePageUrl does; then, after the key
    `key` if any, a query pushed as its handlePageInfoChanged does (without `arrive`: before any arrival)."""
    page.evaluate("""([href, arrive]) => {
        const link = Object.assign(document.createElement('a'), {href, textContent: href});
        link.addEventListener('click', (event) => event.preventDefault());
        document.body.appendChild(link);
        link.click();
        if (arrive) history.pushState({}, '', href);
        link.remove();
    }""", [href, arrive])
    if key:
        page.keyboard.press(key)
    page.evaluate("(address) => history.pushState({}, '', address)", address)


def test_a_query_written_before_the_arrival_goes_to_the_page_being_opened(app, page):
    """The guard (ui/history.py guard()) in the real app, with Streamlit's two writes made in the order
    that failed: a click on a link to Train, then Train's query pushed onto the page still shown."""
    guarded(page, app[0], "/compare", "Compare runs")
    before = len(helpers.history_log(page))
    click_then_push(page, "/train", "/compare?preset=tiny&lr=2.0")
    assert helpers.history_log(page)[before:] == ["pushState /train?preset=tiny&lr=2.0"]   # no bare step before it
    assert page.evaluate("() => window.lmHistoryGuard.moved()") == ["/compare?preset=tiny&lr=2.0"]
    page.evaluate("() => history.pushState({}, '', '/train?preset=tiny&lr=3.0')")   # arrived: left alone
    assert helpers.history_log(page)[-1] == "pushState /train?preset=tiny&lr=3.0"


def test_a_bare_arrivals_first_query_goes_over_its_entry_but_a_users_change_does_not(app, page):
    """QA round 24: after a sidebar arrival the page writes the session's settings at once, and its bare
    entry was a step that the first Back showed again as it was. The guard writes over it; a query
    written after the user's own input is their change, an entry of its own."""
    guarded(page, app[0], "/compare", "Compare runs")
    before = len(helpers.history_log(page))
    click_then_push(page, "/train", "/train?preset=tiny&lr=2.0", arrive=True)
    assert helpers.history_log(page)[before:] == ["pushState /train", "replaceState /train?preset=tiny&lr=2.0"]
    assert page.evaluate("() => window.lmHistoryGuard.replaced()") == ["/train?preset=tiny&lr=2.0"]
    page.evaluate("() => history.pushState({}, '', '/train?preset=tiny&lr=3.0')")   # the next write: its own
    assert helpers.history_log(page)[-1] == "pushState /train?preset=tiny&lr=3.0"

    before = len(helpers.history_log(page))
    click_then_push(page, "/generate", "/generate?temperature=0.5", arrive=True, key="Shift")
    assert helpers.history_log(page)[before:] == ["pushState /generate", "pushState /generate?temperature=0.5"]
    assert page.evaluate("() => window.lmHistoryGuard.replaced()") == ["/train?preset=tiny&lr=2.0"]


def test_a_pages_own_query_stays_on_it_when_a_click_away_is_abandoned(app, page):
    """QA round 23: a value typed on Train and a sidebar click at once: Streamlit reruns Train for the box
    the click left and drops the click, and the guard had moved Train's query, written then, onto
    /compare while Train stayed on screen. The query's keys say whose it is (ui/history.py page_keys)."""
    guarded(page, app[0], "/train", "Learning rate")
    click_then_push(page, "/compare", "/train?preset=tiny&lr=0.05")             # Train's rerun, not Compare's
    assert helpers.history_log(page)[-1] == "pushState /train?preset=tiny&lr=0.05"
    assert page.evaluate("() => window.lmHistoryGuard.moved()") == []


def test_a_query_written_with_no_page_being_opened_stays_where_it_is(app, page):
    guarded(page, app[0], "/compare", "Compare runs")
    page.get_by_text("Compare runs").first.click()           # a click on no link forgets nothing it needs
    page.evaluate("() => history.pushState({}, '', '/compare?runs=x')")
    assert helpers.history_log(page)[-1] == "pushState /compare?runs=x"
    assert page.evaluate("() => window.lmHistoryGuard.moved()") == []


def test_a_link_opened_in_another_tab_leaves_this_tabs_writes_alone(app, page):
    """Ctrl+click on a link the browser follows itself (no Streamlit handler) opens a new tab; this tab
    stays, and its next query is its own page's. (Streamlit follows a Ctrl+click on its sidebar links in
    the same tab, so those count as going.)"""
    guarded(page, app[0], "/compare", "Compare runs")
    page.evaluate("""() => document.body.appendChild(Object.assign(document.createElement('a'),
        {href: '/train?preset=tiny', id: 'plain-link', textContent: 'Train, tiny',
         style: 'position: fixed; right: 0; bottom: 0; z-index: 2147483647; background: white'}))""")
    with page.context.expect_page() as opened:
        page.locator("#plain-link").click(modifiers=["ControlOrMeta"])
    opened.value.close()
    assert urlparse(page.url).path == "/compare"
    # A query only Train writes: had the click counted as going there, it would have gone to /train.
    page.evaluate("() => history.pushState({}, '', '/compare?preset=tiny&lr=2.0')")
    assert helpers.history_log(page)[-1] == "pushState /compare?preset=tiny&lr=2.0"
    assert page.evaluate("() => window.lmHistoryGuard.moved()") == []


@pytest.fixture
def own_app(tmp_path):
    with streamlit_server(tmp_path / "runs") as url:
        yield url, tmp_path / "runs"


def test_start_now_leaves_one_history_entry_and_back_returns_to_start(own_app, page):
    """st.switch_page with a query wrote it onto Start first (`/?run=ID`), then Train's address: Back
    from the new run stayed on Start's cards' page once before it left (stop 31's defects)."""
    from lmcore.runs import stop_run

    url, root = own_app
    helpers.record_history(page)
    page.goto(f"{url}/")
    settle(page, "Start")
    # With settings of Train's in the session (QA round 27), Streamlit wrote twice onto Start before Train's
    # address: `?run=ID`, then `?run=ID&preset=tiny&lr=2.0`; the guard let the second through.
    sidebar(page, "Train", "Learning rate")
    type_into(page, "Learning rate", "2")
    sidebar(page, "Start", "Start")
    before = len(helpers.history_log(page))
    page.get_by_role("button", name="Start now (synthetic)").click()
    page.wait_for_url(lambda address: "/train?run=" in address, timeout=60_000)
    run_id = parse_qs(urlparse(page.url).query)["run"][0]
    try:
        settle(page, run_id)
        written = helpers.history_log(page)[before:]           # one entry: Train's arrival, its settings over it
        pushed = [w for w in written if w.startswith("pushState")]
        assert len(pushed) == 1 and pushed[0].startswith(f"pushState /train?run={run_id}"), written
        assert all(w.startswith(f"replaceState /train?run={run_id}") for w in written[1:]), written
        back(page)
        page.wait_for_url(lambda address: urlparse(address).path == "/" and "run" not in address, timeout=10_000)
        settle(page, "Start")
    finally:
        stop_run(root / run_id)
