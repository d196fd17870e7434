"""End to end in chromium (issue 9): the shipped reference runs on Compare beside a tiny run trained
here, `book` overlaid on it, the Train watch overlay and the Start page's line. Screenshots land in
test-artifacts/reference-*.png (look at them)."""

from __future__ import annotations

import pytest

from browser import browser_fixture, page_fixture, require_chromium, screenshot, settle, streamlit_server, wait_app_idle  # noqa: F401
from conftest import train_run, wait_until

pytestmark = pytest.mark.browser
require_chromium()

BOOK_NAME = "book · reference (NVIDIA H200)"


@pytest.fixture(scope="module")
def app(ptb_dir, tmp_path_factory):
    """A Streamlit server over one tiny run trained for one epoch (149 steps, a few seconds)."""
    root = tmp_path_factory.mktemp("browser-reference") / "runs"
    tiny = train_run(root, "tiny", "tiny-cpu", max_steps=149, eval_every=50)
    with streamlit_server(root) as url:
        yield url, tiny


def legend(page) -> set[str]:
    return set(page.locator('[data-testid="stPlotlyChart"]').first.locator(".legendtext").all_text_contents())


def test_compare_lists_the_reference_runs_and_overlays_book_on_a_tiny_run(app, page):
    url, _ = app
    page.goto(f"{url}/compare")
    settle(page, "Compare")
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.locator("[role=gridcell]").filter(has_text=BOOK_NAME).first.wait_for(state="attached")
    cells = grid.locator("[role=gridcell]").all_inner_texts()
    assert BOOK_NAME in cells and "variational-medium · reference (NVIDIA H200)" in cells, cells
    screenshot(page, "reference-compare-table")
    box = grid.bounding_box()
    for row in (0, 1):  # the user's tiny run first, then the references by name: book is row 1
        page.mouse.click(box["x"] + 18, box["y"] + 35 * (row + 1) + 17)
        page.wait_for_timeout(600)
    settle(page, "whose values differ")
    screenshot(page, "reference-compare-selected")
    page.locator('[data-testid="stButtonGroup"]').get_by_text("epoch", exact=True).click()
    settle(page, "whose values differ")
    page.wait_for_timeout(1000)
    screenshot(page, "reference-compare-overlay")
    # one legend entry per run beside others: book's training line is drawn, named by its validation entry
    assert {"tiny-cpu", BOOK_NAME} <= legend(page), legend(page)
    assert page.get_by_role("button", name="Delete 1 run…").is_enabled()   # the tiny run only


def test_train_watch_overlays_the_full_recipe_and_start_says_what_it_reaches(app, page):
    url, tiny = app
    page.goto(f"{url}/train?run={tiny.name}")
    settle(page, "Add the full recipe on a GPU")
    # The untouched set-up form writes nothing into the address bar (no rerun to close an open list).
    wait_app_idle(page)
    page.wait_for_timeout(1000)
    assert "preset=" not in page.url
    page.get_by_role("button", name="book", exact=True).click()
    settle(page, "steps an epoch")
    page.wait_for_timeout(1000)
    screenshot(page, "reference-train-watch-overlay")
    assert {"tiny-cpu", BOOK_NAME} <= legend(page), legend(page)
    assert "overlay=book" in page.url   # QA round 10: a reload dropped the overlay
    page.reload()
    settle(page, "steps an epoch")
    # The caption can come before the chart's legend is drawn (CI read it in between once).
    wait_until(lambda: {"tiny-cpu", BOOK_NAME} <= legend(page), 15, lambda: legend(page))
    page.goto(f"{url}/train?run=20261127-230959-variational-medium-3758")
    settle(page, "measured by this project on one NVIDIA H200")
    page.wait_for_timeout(1000)
    screenshot(page, "reference-train-watch-read-only")
    assert page.get_by_text("Finished: best validation perplexity 76.7").count() == 1
    assert page.get_by_role("button", name="Resume").count() == 0
    page.goto(url)
    settle(page, "What the full recipes reach")
    page.wait_for_timeout(1000)
    screenshot(page, "reference-start")
    assert page.get_by_text("validation 79.9 / test 76.2 after 40 epochs").count() == 1
    assert page.get_by_text("validation 76.7 / test 73.2 after 40 epochs").count() == 1


def test_generate_shows_the_book_runs_samples_and_says_its_weights_were_not_kept(app, page):
    url, _ = app
    page.goto(f"{url}/generate?run=20261127-085930-book-9182")
    settle(page, "weights were not kept")
    page.wait_for_timeout(1000)
    screenshot(page, "reference-generate")
    assert page.get_by_text("a reference run measured on one NVIDIA H200").count() == 1
    assert page.get_by_text("step 53,080").count() == 1     # the last of its 40 samples, at the end of training
    assert page.get_by_role("button", name="Generate").count() == 0


def test_at_1024_px_every_chosen_recipe_reads_whole_and_the_faint_bands_are_captioned(app, page):
    """QA round 10: with the sidebar open the chosen-runs box clipped ('edium × | variational-medium ×')
    and the faint training bands had no caption."""
    url, tiny = app
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"{url}/train?run={tiny.name}&overlay=book,zaremba-medium,variational-medium")
    settle(page, "steps an epoch")
    page.wait_for_timeout(1000)
    screenshot(page, "reference-train-watch-overlay-1024")
    main = page.locator('[data-testid="stMain"]').bounding_box()
    for name in ("book", "zaremba-medium", "variational-medium"):
        pill = page.get_by_role("button", name=name, exact=True).bounding_box()
        assert main["x"] <= pill["x"] and pill["x"] + pill["width"] <= main["x"] + main["width"], name
        assert page.get_by_role("button", name=name, exact=True).evaluate("b => b.scrollWidth <= b.clientWidth")
    assert page.get_by_text("Each run's faint line is its training perplexity", exact=False).count() == 1
