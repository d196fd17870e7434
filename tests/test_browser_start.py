"""Start's preset cards in chromium at 1400x900 and at a projector's 1024x768, sidebar open: six cards
(the quick presets, then the three full GPU recipes zaremba-medium included) in two rows of three, with
no lonely card and no "Start now" broken over lines. Screenshots land in test-artifacts/start-cards-*.png
(look at them)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from playwright.sync_api import expect
from test_browser_narrow import CUT_JS

from browser import browser_fixture, page_fixture, require_chromium, screenshot, settle, streamlit_server  # noqa: F401
from lmcore.runs import RunWriter, create_run

pytestmark = pytest.mark.browser
require_chromium()

ROWS = [["tiny", "tiny-dropout", "synthetic"], ["book", "zaremba-medium", "variational-medium"]]

# Each preset card (its bordered box) with its name and the place of its box and "Start now" button.
CARDS_JS = r"""
() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stColumn"]')]
  .map(column => [column, [...column.querySelectorAll('button')].find(b => b.innerText.includes('Start now'))])
  .filter(([, button]) => button)
  .map(([column, button]) => {
    const box = column.getBoundingClientRect(), label = button.querySelector('p');
    return {name: column.querySelector('strong').innerText, left: Math.round(box.left), top: Math.round(box.top),
            width: Math.round(box.width),
            lines: label.getBoundingClientRect().height / parseFloat(getComputedStyle(label).lineHeight)};
  })
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """A Streamlit server over an empty runs folder: Start as a class first sees it."""
    with streamlit_server(tmp_path_factory.mktemp("browser-start") / "runs") as url:
        yield url


@pytest.mark.parametrize("width,height", [(1400, 900), (1024, 768)])
def test_six_preset_cards_sit_in_two_rows_of_three(app, page, width, height):
    page.set_viewport_size({"width": width, "height": height})
    page.goto(app)
    settle(page, "What the full recipes reach")
    page.wait_for_timeout(1500)
    # Polled: once in a full-suite run the cards were not drawn yet when read (none found).
    page.wait_for_function(f"({CARDS_JS})().length === 6")
    cards = page.evaluate(CARDS_JS)
    screenshot(page, f"start-cards-{width}")
    rows = {}
    for card in cards:
        rows.setdefault(card["top"], []).append(card)
    assert [[card["name"] for card in row] for _, row in sorted(rows.items())] == ROWS, cards
    assert len({card["left"] for card in cards}) == 3           # the rows' cards stand in the same three columns
    assert min(card["width"] for card in cards) >= 170, cards  # room for "Start now" on one line
    assert all(card["lines"] < 1.5 for card in cards), cards
    assert [d for d in page.evaluate(CUT_JS, True) if "Start from" in d or "Start now" in d or "·" in d] == []
    zaremba = page.locator('[data-testid="stColumn"]').filter(has_text="zaremba-medium").first.inner_text()
    assert "19.78M parameters" in zaremba and "untied" in zaremba and "205 s on one NVIDIA H200" in zaremba


def test_each_cards_buttons_name_their_preset_to_a_screen_reader(app, page):
    """QA round 14: a screen reader listed six "Start now" and six "Open in Train". Each is named for its
    preset ("Start now (tiny)"); the card still shows "Start now"."""
    page.goto(app)
    settle(page, "Start from a preset")
    for name in [name for row in ROWS for name in row]:
        for role, label in (("button", "Start now"), ("link", "Open in Train")):
            button = page.get_by_role(role, name=f"{label} ({name})", exact=True)
            expect(button).to_have_count(1)
            assert button.inner_text().strip().endswith(label)       # what the eye reads: the short label
    expect(page.get_by_role("button", name="Start now", exact=True)).to_have_count(0)


def test_each_runs_watch_link_names_its_run_to_a_screen_reader(page, tmp_path):
    """QA round 14: with two runs training, a screen reader's link list read "Watch, Watch". Each is named
    for its run; a name with quotes and markup is read as typed and cannot break the page's style."""
    root = tmp_path / "runs"
    odd = "it's </style><b>\\x"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)  # lmcore"])
    try:
        for name in ("first", odd):
            folder = create_run({"preset": "tiny", "name": name}, root)
            RunWriter(folder).status(state="running", pid=sleeper.pid, step=5, total_steps=100, epoch=1)
        with streamlit_server(root) as url:
            page.goto(url)
            settle(page, "In progress")
            for name in ("first", odd):
                link = page.get_by_role("link", name=f"Watch ({name})", exact=True)
                expect(link).to_have_count(1)
                assert link.inner_text().strip().endswith("Watch")          # the eye reads the short label
            assert page.locator('[data-testid="stMain"] b').count() == 0   # the name's markup drew nothing
    finally:
        sleeper.kill()
        sleeper.wait()
