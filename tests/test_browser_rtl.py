"""End to end in chromium (QA round 18, D5): right-to-left text. Each line of a sample box takes its own
direction (an Arabic line right to left, its ↵ at its end), and the word Generate's heading names is
isolated, so "(7.18%)" stays after it. Screenshots: test-artifacts/rtl-*.png."""

from __future__ import annotations

import pytest

from browser import browser_fixture, page_fixture, require_chromium, screenshot, settle, streamlit_server  # noqa: F401
from conftest import train_run

pytestmark = pytest.mark.browser
require_chromium()

LINES = ["العربية المدرسة الطالب العربية الكتاب", "هذه في كان في كان الكتاب", "جميل في هذه من في جميل العربية"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser-rtl")
    text = base / "arabic.txt"
    text.write_text("\n".join(LINES[i % 3] for i in range(300)), encoding="utf-8")
    run = train_run(base / "runs", "tiny", "arabic", dataset=str(text), max_steps=20, eval_every=10,
                    sample_prompt="الطالب", batch_size=4, bptt=5)
    with streamlit_server(base / "runs") as url:
        yield url, run


def line_directions(page, key: str) -> list[str]:
    """The direction each paragraph of a sample box's text is laid out in, and how it is aligned."""
    return page.locator(f"[class*='st-key-sample-text-{key}'] [data-testid='stMarkdownContainer'] p").evaluate_all(
        "ps => ps.map(p => getComputedStyle(p).unicodeBidi + ' ' + getComputedStyle(p).textAlign)")


def test_sample_lines_read_right_to_left_and_the_picked_word_is_isolated(app, page):
    url, run = app
    page.goto(f"{url}/train?run={run.name}")
    settle(page, "Sampled text")
    assert set(line_directions(page, "watch-")) == {"plaintext start"}
    box = page.locator("[class*='st-key-sample-text-watch-0'] [data-testid='stMarkdownContainer'] p").last
    right = box.bounding_box()["x"] + box.bounding_box()["width"]
    text = box.locator("strong").first.bounding_box()   # the prompt, the line's first word: at its right end
    assert text["x"] + text["width"] > right - 40, (text, right)
    screenshot(page, "rtl-watch")
    page.goto(f"{url}/generate?run={run.name}")
    settle(page, "Generate")
    page.get_by_role("button", name="✍️ Generate").click()
    settle(page, "it picked")
    assert set(line_directions(page, "output")) == {"plaintext start"}
    heading = page.get_by_text("it picked").first.inner_text()
    assert "\u2068" in heading and "\u2069” (" in heading, heading
    screenshot(page, "rtl-generate")
