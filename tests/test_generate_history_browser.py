"""Generate's sample history in chromium at a projector's 1024x768 and at 1400x900: each sample's step,
epoch and validation perplexity read on one line (QA round 8: at 1024 px a label beside the text wrapped
to five lines, "step 149 · / epoch 1 / validation / perplexity / 88.7"). Pictures land in
test-artifacts/generate-history-*.png (look at them)."""

from __future__ import annotations

import pytest

from browser import ARTIFACTS, browser_fixture, page_fixture, require_chromium, settle, streamlit_server  # noqa: F401

pytestmark = pytest.mark.browser
require_chromium()

BOOK = "20261127-085930-book-9182"   # a shipped reference run: 40 samples, steps in the thousands

# Each history label's lines: its height over its line height.
LABEL_LINES_JS = r"""
() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stMarkdownContainer"] p')]
  .filter(p => /^step [\d,]+ · epoch \d+ · validation perplexity/.test(p.innerText.trim()))
  .map(p => [p.innerText.trim(), p.getBoundingClientRect().height / parseFloat(getComputedStyle(p).lineHeight)])
"""


@pytest.fixture(scope="module")
def app(trained_runs, tmp_path_factory):
    root, folders = trained_runs
    with streamlit_server(root, tmp_path_factory.mktemp("browser-generate") / "streamlit.log") as url:
        yield url, folders["plain"].name


@pytest.mark.parametrize("width,height", [(1024, 768), (1400, 900)])
@pytest.mark.parametrize("run", ["plain", "book"])
def test_each_sample_label_reads_on_one_line(app, page, run, width, height):
    url, plain = app
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{url}/generate?run={plain if run == 'plain' else BOOK}")
    settle(page, "How its text changed during training")
    count = 2 if run == "plain" else 40
    page.wait_for_function(f"() => ({LABEL_LINES_JS})().length == {count}", timeout=30_000)  # drawn after the heading
    page.wait_for_timeout(500)
    labels = page.evaluate(LABEL_LINES_JS)
    assert all(round(lines) == 1 for _, lines in labels), labels
    heading = page.get_by_text("How its text changed during training")
    heading.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"generate-history-{run}-{width}.png"))
