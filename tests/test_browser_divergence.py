"""End to end in chromium: a diverging run is a failure in words, never a success (issue 13.2).

The issue's link `/train?preset=tiny&lr=1000000.0&max_steps=60` once trained to `finished` with
best validation 1.01e304, and Compare printed that as "1.014232054…". Now the link's lr is
refused in one line; a run that diverges within the allowed lr is started from the page, ends
`failed: diverged at step N`, and Compare, with it selected beside a healthy run, writes its
perplexities as 1.0e304 and clips the chart's axis, saying so. Screenshots land in
test-artifacts/divergence-*.png (look at them).
"""

from __future__ import annotations

import json
import re

import pytest

from browser import browser_fixture, page_fixture, require_chromium, screenshot, settle, streamlit_server  # noqa: F401
from conftest import train_run

pytestmark = pytest.mark.browser
require_chromium()


@pytest.fixture(scope="module")
def app(ptb_dir, tmp_path_factory):
    """A Streamlit server over one healthy tiny run (60 steps)."""
    root = tmp_path_factory.mktemp("browser-divergence") / "runs"
    healthy = train_run(root, "tiny", "healthy", max_steps=60, eval_every=30)
    with streamlit_server(root) as url:
        yield url, root, healthy


def test_the_issue_link_is_refused_and_a_diverging_run_fails_in_words(app, page):
    url, root, healthy = app
    page.goto(f"{url}/train?preset=tiny&lr=1000000.0&max_steps=60")
    settle(page, "ignored lr")
    assert page.get_by_text("must be at most 1,000").count() == 1

    page.goto(f"{url}/train?preset=tiny&lr=1000.0&max_steps=60&log_every=5&name=diverging")
    settle(page, "Set up a run")
    page.get_by_role("button", name=re.compile("Start training")).click()
    page.wait_for_url(re.compile(r"[?&]run="), timeout=60_000)
    run_id = re.search(r"[?&]run=([^&]+)", page.url).group(1)
    page.get_by_text("diverged at step").first.wait_for(timeout=120_000)
    page.wait_for_timeout(1000)
    screenshot(page, "divergence-train")
    status = json.loads((root / run_id / "status.json").read_text())
    assert status["state"] == "failed" and status["error"].startswith("diverged at step"), status
    assert status["step"] == int(re.search(r"diverged at step (\d+)", status["error"]).group(1))  # not step 1
    assert page.get_by_text("Finished").count() == 0

    page.goto(f"{url}/compare?runs={healthy.name},{run_id}")
    settle(page, "Axis clipped")
    page.wait_for_timeout(1000)
    screenshot(page, "divergence-compare")
    text = page.locator("section.main, [data-testid='stMain']").first.inner_text()
    assert "1.0e304" in text, text[:2000]
    assert not re.search(r"1\.01423\d", text), "a huge perplexity printed as a small-looking number"
