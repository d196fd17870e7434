"""The pages at a classroom projector's width (1024x768, sidebar open) in chromium: no word of a
label, heading or button broken mid-word, no button label on two lines, no text, select value or
chart title cut short, no control over another. Screenshots land in test-artifacts/narrow-*.png
(look at them)."""

from __future__ import annotations

import pytest

from browser import browser_fixture, new_page, page_fixture, require_chromium, screenshot, settle, streamlit_server  # noqa: F401

pytestmark = pytest.mark.browser
require_chromium()

NARROW = {"width": 1024, "height": 768}

# What a reader would see as cut, measured on the page as drawn; one line of text per defect.
CUT_JS = r"""
(tables) => {
  const main = document.querySelector('[data-testid="stMain"]');
  const shown = el => el.getClientRects().length > 0 && !el.closest('[data-st-inactive], details:not([open])');
  const name = el => (el.innerText || el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 50);
  const out = [];
  // 1. A word broken across two lines ("Optim/izer", "inpu/t"); a hyphen or an arrow may end a line.
  for (const root of main.querySelectorAll('[data-testid="stWidgetLabel"], [data-testid="stMarkdownContainer"], '
                                           + '[data-testid="stMetricLabel"], [data-testid="stCaptionContainer"]')) {
    if (!shown(root)) continue;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      if (node.parentElement.closest('code')) continue;
      for (const m of node.textContent.matchAll(/[^\s\-\u2010-\u2015\u00b7\u2192(),/]+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.bottom)));
        if (lines.size > 1) out.push(`broken word "${m[0]}" in "${name(root)}"`);
      }
    }
  }
  // 2. A button's label on more than one line ("St/art/no/w").
  for (const label of main.querySelectorAll('button [data-testid="stMarkdownContainer"] p')) {
    if (!shown(label)) continue;
    const lines = label.getBoundingClientRect().height / parseFloat(getComputedStyle(label).lineHeight);
    if (lines > 1.5) out.push(`button label on ${Math.round(lines)} lines: "${name(label)}"`);
  }
  // 3. Text cut at its box's edge: an ellipsis ("Ne…"), a select showing "a" of "adam", an input's value
  //    (an emoji may stand 2 px over its box).
  for (const el of main.querySelectorAll('*')) {
    if (!shown(el) || el.closest('[data-testid="stDataFrame"], [data-testid="stCode"], svg')) continue;
    const own = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
    const text = el.tagName === 'INPUT' ? el.value
      : own || (getComputedStyle(el).textOverflow === 'ellipsis' && name(el));
    const over = el.scrollWidth - el.clientWidth;
    if (text && over > 3) out.push(`cut: "${text.slice(0, 50)}" (${over} px)`);
  }
  // 4. A control drawn over another (the x axis's "time" under the log-scale toggle).
  const controls = [...main.querySelectorAll('button, input, [data-baseweb="select"], [role="slider"], label')]
    .filter(shown).map(el => [el, el.getBoundingClientRect()]);
  for (const [i, [a, ra]] of controls.entries()) {
    for (const [b, rb] of controls.slice(i + 1)) {
      if (a.contains(b) || b.contains(a)) continue;
      const x = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const y = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (x > 2 && y > 2) out.push(`"${name(a)}" overlaps "${name(b)}"`);
    }
  }
  // 5. A chart title wider than its chart ("vertical · input · kept 4").
  for (const title of main.querySelectorAll('.gtitle')) {
    const chart = title.closest('svg.main-svg').getBoundingClientRect(), box = title.getBoundingClientRect();
    if (box.width && (box.left < chart.left - 1 || box.right > chart.right + 1)) {
      out.push(`title cut: "${name(title)}"`);
    }
  }
  // 6. A table wider than its box (the parameter formulas ran off beside the Set up controls).
  for (const grid of tables ? main.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller') : []) {
    if (shown(grid) && grid.scrollWidth > grid.clientWidth + 3) {
      out.push(`table cut: "${name(grid.closest('[data-testid="stDataFrame"]'))}"`);
    }
  }
  return out;
}
"""


@pytest.fixture(scope="module")
def app(trained_runs, tmp_path_factory):
    """A Streamlit server over the session's trained runs (one with dropout), which these tests only read."""
    root, folders = trained_runs
    with streamlit_server(root, tmp_path_factory.mktemp("browser-narrow") / "streamlit.log") as url:
        yield url, {name: folder.name for name, folder in folders.items()}


@pytest.fixture(autouse=True)
def narrow(page):
    page.set_viewport_size(NARROW)


def open_page(page, url: str, text: str) -> None:
    """Open `url` and wait until every element and chart is drawn."""
    page.goto(url)
    settle(page, text)
    drawn(page)


def drawn(page) -> None:
    page.wait_for_function("() => !document.querySelector('[data-testid^=\"stSkeleton\"]')", timeout=30_000)
    page.wait_for_timeout(1500)  # charts draw their titles after the page settles


def defects(page, picture: str, tables: bool = True) -> list[str]:
    """What is cut on the page as it is drawn now (`tables`: a table that scrolls sideways counts);
    its picture goes to test-artifacts/narrow-<picture>.png."""
    found = page.evaluate(CUT_JS, tables)
    screenshot(page, f"narrow-{picture}")
    return found


def test_start_presets_fit_on_a_projector(app, page):
    url, _ = app
    open_page(page, url, "Start from a preset")
    assert defects(page, "start") == []
    buttons = page.get_by_role("button", name="Start now")
    assert buttons.count() == 6 and len({round(b.bounding_box()["height"]) for b in buttons.all()}) == 1


def test_train_set_up_fits_on_a_projector(app, page):
    url, _ = app
    open_page(page, f"{url}/train?preset=tiny", "Optimisation")
    for section in ("Schedule", "Advanced"):  # closed at first: opened, so they are measured too
        page.locator('[data-testid="stExpander"] summary').filter(has_text=section).click()
    drawn(page)
    assert defects(page, "train-setup") == []


def test_inside_the_model_fits_on_a_projector(app, page):
    url, runs = app
    open_page(page, f"{url}/inside", "variational")
    assert defects(page, "inside-lesson") == []
    open_page(page, f"{url}/inside?run={runs['variational']}", "units shown")
    assert defects(page, "inside-masks") == []


def test_compare_chart_controls_fit_on_a_projector(app, page):
    url, runs = app
    open_page(page, f"{url}/compare?runs={runs['plain']},{runs['variational']}", "smoothing")
    # Its table of runs scrolls sideways at this width: a dozen columns, each one to sort by.
    assert defects(page, "compare", tables=False) == []


def test_compare_filters_leave_the_table_on_a_phones_first_screen(app, browser):
    """On a phone Streamlit stacks columns, and Compare's five filters filled the first screen, the table
    below it (QA round 15). They go two to a row there (ui/app.css)."""
    url, _ = app
    with new_page(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True) as page:
        open_page(page, f"{url}/compare", "Name contains")
        top = {label: round(page.locator('[data-testid="stWidgetLabel"]').filter(has_text=label).first
                            .bounding_box()["y"]) for label in ("Preset", "Dataset", "State", "Dropout placement")}
        assert top["Preset"] == top["Dataset"] and top["State"] == top["Dropout placement"] > top["Preset"], top
        table = page.locator('[data-testid="stDataFrame"]').first.bounding_box()
        screenshot(page, "narrow-compare-phone")
        assert table["y"] + 100 < 844, table                  # its first rows on the first screen
        # A touch screen shows the table's toolbar without hovering: it covered "click a header to sort".
        toolbar = page.locator('[data-testid="stElementToolbar"]').first.bounding_box()
        caption = page.locator('[data-testid="stCaptionContainer"] p').filter(has_text="tap a header").bounding_box()
        assert caption["y"] + caption["height"] <= toolbar["y"], (caption, toolbar)


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
TABLET = {"viewport": {"width": 768, "height": 1024}, "is_mobile": True, "has_touch": True}
MAIN_BOX = "() => document.querySelector('[data-testid=\"stMain\"]').getBoundingClientRect().toJSON()"


def test_a_closed_sidebar_leaves_the_page_its_whole_width(app, browser, page):
    """Under 1100 px the app held an open sidebar to 240 px with a rule that outranked Streamlit's own
    width for a closed one: on a tablet every page began 240 px in, beside nothing, and closing the
    sidebar on a projector gained no room (QA round 15)."""
    url, _ = app
    with new_page(browser, **TABLET) as tablet:
        open_page(tablet, f"{url}/inside", "variational")
        assert tablet.evaluate(MAIN_BOX)["x"] == 0                          # it opens closed there
        tablet.get_by_test_id("stExpandSidebarButton").click()
        tablet.wait_for_timeout(800)
        assert tablet.get_by_test_id("stSidebar").bounding_box()["width"] <= 240
    open_page(page, f"{url}/inside", "variational")                         # 1024x768, open
    assert page.get_by_test_id("stSidebar").bounding_box()["width"] <= 240
    page.get_by_test_id("stSidebar").hover()
    page.get_by_test_id("stSidebarCollapseButton").locator("button").click()
    page.wait_for_function(f"() => ({MAIN_BOX})().x === 0 && ({MAIN_BOX})().width === 1024", timeout=5_000)


CHART_STATE = """(index) => {
  const plot = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')[index];
  return JSON.stringify([plot._fullLayout.xaxis.range, plot._fullLayout.yaxis.range]);
}"""


def swipe_up(page, x: float, y: float, distance: float = 250) -> None:
    """A finger put down at (x, y) and moved up `distance` px, as one scrolls a page: real touch events."""
    touch = page.context.new_cdp_session(page)
    touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for step in range(1, 11):
        touch.send("Input.dispatchTouchEvent",
                   {"type": "touchMove", "touchPoints": [{"x": x, "y": y - distance * step / 10}]})
        page.wait_for_timeout(20)
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.wait_for_timeout(900)


def test_a_swipe_that_starts_on_a_chart_scrolls_the_page(app, browser):
    """A Plotly chart took a swipe as a zoom: the page stood still and the chart's axis changed. Inside
    the model is half charts, so a phone could hardly scroll past them (QA round 15)."""
    url, _ = app
    with new_page(browser, **PHONE) as phone:
        open_page(phone, f"{url}/inside", "variational")
        index = 0                                                             # the first mask
        chart = phone.get_by_test_id("stPlotlyChart").nth(index)
        chart.scroll_into_view_if_needed()
        box = chart.bounding_box()
        ranges = phone.evaluate(CHART_STATE, index)
        scrolled = phone.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTop")
        swipe_up(phone, box["x"] + box["width"] / 2, box["y"] + min(box["height"] / 2, 120))
        moved = phone.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTop") - scrolled
        assert moved > 100, moved
        assert phone.evaluate(CHART_STATE, index) == ranges                   # not zoomed


BAR_TEXTS = """() => {
  const boxes = [...document.querySelectorAll('[data-testid="stPlotlyChart"] .bartext')]
    .map(t => t.getBoundingClientRect());
  const svg = document.querySelector('[data-testid="stPlotlyChart"] svg.main-svg').getBoundingClientRect();
  const out = [];
  boxes.forEach((a, i) => {
    if (a.right > svg.right + 1) out.push(`number ${i} runs off the chart`);
    boxes.slice(i + 1).forEach((b, j) => {
      const across = Math.min(a.right, b.right) > Math.max(a.left, b.left);
      const down = Math.min(a.bottom, b.bottom) > Math.max(a.top, b.top);
      if (across && down) out.push(`numbers ${i} and ${i + j + 1} overlap`);
    });
  });
  return [boxes.length, out];
}"""


def test_inside_parameters_read_on_a_phone(app, browser):
    """On a phone the parameters chart cut its title mid-word and printed its bar numbers over each other
    ("512.0k512.0k", QA round 15)."""
    url, runs = app
    with new_page(browser, **PHONE) as phone:
        open_page(phone, f"{url}/inside?run={runs['variational']}&tab=params", "tying saves")
        assert defects(phone, "inside-params-phone") == []
        count, clashes = phone.evaluate(BAR_TEXTS)
        assert count >= 8 and clashes == [], (count, clashes)


def test_touch_screens_hide_keyboard_shortcuts(app, browser, page):
    """"Start training Ctrl + Enter" on a phone named a key it does not have (QA round 15)."""
    url, _ = app
    with new_page(browser, **PHONE) as phone:
        open_page(phone, f"{url}/train", "Set every knob")
        assert phone.locator("kbd:visible").count() == 0
    open_page(page, f"{url}/train", "Set every knob")
    assert page.locator("kbd:visible").filter(has_text="Enter").count() == 1


def test_a_phone_shows_the_numbers_near_what_changes_them(app, browser, page):
    """On a phone Streamlit stacks Set up's columns: the parameter total stood two screens below the size
    controls, and Watch's numbers a screen and a half down, under the chart (QA round 15). A line each
    brings them up there; a wider screen, which shows the boxes beside or above, hides the lines."""
    url, runs = app
    cost, glance = "each part under Parameters", "tokens/s"
    with new_page(browser, **PHONE) as phone:
        open_page(phone, f"{url}/train", "Set every knob")
        hidden = phone.get_by_test_id("stWidgetLabel").filter(has_text="Hidden size").bounding_box()
        line = phone.get_by_text(cost).bounding_box()
        assert 0 < line["y"] - hidden["y"] < 400, (hidden, line)
        open_page(phone, f"{url}/train?run={runs['plain']}", "Best validation")
        line = phone.get_by_text(glance).bounding_box()
        assert line["y"] + line["height"] < PHONE["viewport"]["height"], line      # on the first screen
    open_page(page, f"{url}/train", "Set every knob")
    assert not page.get_by_text(cost).is_visible()
    open_page(page, f"{url}/train?run={runs['plain']}", "Best validation")
    assert not page.get_by_text(glance).is_visible()


@pytest.mark.parametrize("screen", [{"viewport": {"width": 700, "height": 450}, "device_scale_factor": 2},
                                    {"viewport": {"width": 667, "height": 375}, "is_mobile": True, "has_touch": True},
                                    {"viewport": {"width": 844, "height": 390}, "is_mobile": True, "has_touch": True},
                                    {"viewport": {"width": 1400, "height": 450}}],
                         ids=["zoom-200", "small-phone-sideways", "phone-sideways", "short-window"])
def test_the_title_stays_below_the_header_on_a_short_screen(app, browser, screen):
    """A 1400x900 window at 200% zoom, phones held sideways, a short wide window: the title sat under
    Streamlit's opaque 60 px header, so no page said which page it was (QA rounds 17 and 25)."""
    url, _ = app
    with new_page(browser, **screen) as small:
        open_page(small, f"{url}/train", "Set every knob")
        header = small.get_by_test_id("stHeader").bounding_box()
        title = small.locator("h1").first.bounding_box()
        assert title["y"] >= header["y"] + header["height"] - 1, (header, title)


CONTROL_STATES = """() => {
  const circle = option => getComputedStyle(option.querySelector(':scope > div > div')).backgroundColor;
  const options = [...document.querySelectorAll('[data-testid=stRadioOption]')].slice(0, 3);
  const adjust = sel => [...document.querySelectorAll(sel)].map(e => getComputedStyle(e).forcedColorAdjust);
  return {chosen: options.filter(o => o.dataset.selected === 'true').map(circle),
          others: options.filter(o => o.dataset.selected !== 'true').map(circle),
          kept: [...adjust('[role=progressbar]'), ...adjust('[data-testid=stSlider] [role=group]'),
                 ...adjust('label:has(> span > input[role=switch]) > div:first-of-type'),
                 ...adjust('.react-aria-SelectionIndicator')]};
}"""


def test_a_high_contrast_screen_still_shows_each_controls_state(app, browser):
    """Windows' contrast themes (forced colours) repaint backgrounds, and Streamlit draws a radio's choice,
    a toggle, a slider, a progress bar and the chosen tab with backgrounds alone: Set up's corpus read
    unset, and the others vanished (QA round 17)."""
    url, runs = app
    with new_page(browser, color_scheme="dark", forced_colors="active") as page:
        open_page(page, f"{url}/train", "Set every knob")
        states = page.evaluate(CONTROL_STATES)
        assert len(states["chosen"]) == 1 and len(states["others"]) == 2, states
        assert states["chosen"][0] not in states["others"], states      # the corpus chosen reads chosen
        open_page(page, f"{url}/train?run={runs['plain']}", "Best validation")
        kept = page.evaluate(CONTROL_STATES)["kept"]
        assert len(kept) >= 4 and set(kept) == {"none"}, kept


def test_a_dark_system_gets_a_dark_page_and_the_menu_offers_the_theme(app, browser):
    """One [theme] section made a light theme a dark system could not change, and the minimal toolbar hid
    Streamlit's menu, the only other way to choose (QA round 17)."""
    url, _ = app
    background = "() => getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor"
    brightness = lambda rgb: sum(int(v) for v in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3])  # noqa: E731
    with new_page(browser, color_scheme="dark") as page:
        open_page(page, f"{url}/train", "Set every knob")
        assert brightness(page.evaluate(background)) < 150
        page.get_by_test_id("stMainMenu").click()
        assert page.get_by_text("Settings").or_(page.get_by_text("Print")).first.is_visible()
    with new_page(browser, color_scheme="light") as page:
        open_page(page, f"{url}/train", "Set every knob")
        assert brightness(page.evaluate(background)) > 700


CODE_OVER = """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stCode"] pre')]
  .filter(el => el.getClientRects().length).map(el => el.scrollWidth - el.clientWidth)"""


def test_a_failed_runs_log_reads_on_a_phone_without_swiping_inside_it(trained_runs, browser, tmp_path):
    """At 390 px Watch's "The end of this attempt's log" cut 'starting 20261129-191904-tiny-dropout…' at its
    right edge, read only by swiping inside the box (QA). Its lines wrap now, there and on a wide screen."""
    from conftest import copy_run
    from lmcore.runs import RunWriter

    folder = copy_run(trained_runs[1]["plain"], tmp_path)
    line = (f"starting {folder.name} from step 0 of 1,480: no checkpoint yet; the 12 s an interrupted attempt "
            "trained is trained again, not counted in its time")
    (folder / "log.txt").write_text(f"--- attempt started 2026-11-29 19:19:04 ---\n{line}\nRuntimeError: boom\n")
    RunWriter(folder).status(state="failed", error="RuntimeError: boom", pid=None)
    with streamlit_server(folder.parent, tmp_path / "streamlit.log") as url:
        for name, screen in (("phone", PHONE), ("1280", {"viewport": {"width": 1280, "height": 800}})):
            with new_page(browser, **screen) as page:
                open_page(page, f"{url}/train?run={folder.name}", "The end of this attempt's log")
                screenshot(page, f"narrow-watch-log-{name}")
                assert page.evaluate(CODE_OVER) == [0], name            # one box, nothing past its edge
                assert folder.name in page.get_by_test_id("stCode").inner_text(), name
