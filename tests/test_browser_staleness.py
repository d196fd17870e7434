"""A live view whose server stops answering says so (ui/staleness.py), in Debian's chromium.

QA stopped the Streamlit server (`kill -STOP`): its websocket stayed open, so Streamlit never said
"Connecting", and Train's Watch kept showing the last perplexity and "running" as if current. Here
the real server is paused and resumed while a real run trains. $LMCORE_STALE_SECONDS shortens the
banner's floor, so on Watch (refreshed every 2 s) it shows after 3 x 2 = 6 s of silence.
The banner's picture lands in test-artifacts/stale-banner.png.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from browser import (  # noqa: F401 (the fixtures `browser` and `page`)
    browser_fixture,
    page_fixture,
    require_chromium,
    screenshot,
    settle,
    streamlit_server,
)
from conftest import SMALL, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_chromium()

WATCH_SILENCE = 6          # seconds: max(3 x Watch's 2 s, the floor set below)
BANNER = "#lm-stale-banner"
WORDS = "No update from the app's server for"
# A hidden tab's timers are throttled; the test hides it by the same property the page reads.
SET_VISIBILITY = """state => { Object.defineProperty(document, 'visibilityState', {value: state, configurable: true});
                               document.dispatchEvent(new Event('visibilitychange')); }"""


@pytest.fixture(scope="module")
def app(trained_runs, tmp_path_factory):
    """A Streamlit server over a copy of the session's runs, its banner floor at 3 s; yields its URL,
    the runs folder and the server's pid (to pause it)."""
    source, _ = trained_runs
    root = tmp_path_factory.mktemp("staleness") / "runs"
    shutil.copytree(source, root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LMCORE_STALE_SECONDS", "3")
        with streamlit_server(root) as url:
            yield url, root, server_pid(url)


def server_pid(url: str) -> int:
    """The pid of the `streamlit run` listening on `url`'s port (streamlit_server keeps its process)."""
    port = url.rsplit(":", 1)[1].encode()
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(args) and b"--server.port" in args and port in args:
            return int(entry.name)
    raise AssertionError(f"no streamlit process on port {port.decode()}")


@contextlib.contextmanager
def paused(pid: int):
    """The server stopped as QA stopped it (its sockets stay open), and always resumed."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield time.monotonic()
    finally:
        os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def training(root: Path):
    """A real run that trains until it is stopped; yields its folder."""
    from lmcore import launch, runs

    folder = runs.create_run({**SMALL, "name": "stale-live", "epochs": 1000}, root)
    launch.launch(folder)
    try:
        yield folder
    finally:
        if runs.read_status(folder)["state"] in runs.ACTIVE:
            runs.stop_run(folder)
        wait_until(lambda: runs.read_status(folder)["state"] not in runs.ACTIVE, 60, lambda: runs.read_status(folder))


def test_a_paused_server_shows_a_banner_on_a_training_run_and_not_on_an_ended_one(app, page, trained_runs):
    from lmcore import runs

    url, root, pid = app
    _, finished = trained_runs
    banner = page.locator(BANNER)
    with training(root) as folder:
        page.goto(f"{url}/compare")                       # Compare refreshes every 5 s while a run trains
        settle(page, "Compare runs")
        expect(page.locator("[data-lm-heartbeat]")).to_have_attribute("data-every", "5", timeout=30_000)
        page.goto(f"{url}/train?run={folder.name}")
        settle(page, "stale-live")
        expect(page.locator("[data-lm-heartbeat]")).to_have_count(1, timeout=60_000)
        page.get_by_text("Train perplexity").first.wait_for()

        # A tab in the background is not judged: its timers, and Streamlit's, may be throttled.
        page.evaluate(SET_VISIBILITY, "hidden")
        with paused(pid):
            page.wait_for_timeout((WATCH_SILENCE + 2) * 1000)
            assert banner.count() == 0
            page.evaluate(SET_VISIBILITY, "visible")
            shown = time.monotonic()
            page.wait_for_timeout(2000)
            assert banner.count() == 0      # back in front: a full silence is waited for again
            banner.wait_for(timeout=(WATCH_SILENCE + 6) * 1000)
            assert time.monotonic() - shown >= WATCH_SILENCE - 1
            expect(banner).to_contain_text(WORDS)
            expect(banner).to_contain_text("Runs train on in their own processes")
            screenshot(page, "stale-banner")
        banner.wait_for(state="detached", timeout=20_000)  # the next refresh after the server resumes

        # The run ends while watched: the page redraws it as ended, with no refresh to expect.
        runs.stop_run(folder)
        settle(page, "stale-live · stopped", timeout=60_000)
        expect(page.locator("[data-lm-heartbeat]")).to_have_count(0)
        with paused(pid):
            page.wait_for_timeout((WATCH_SILENCE + 3) * 1000)
            assert banner.count() == 0
        assert page.evaluate("() => !!window.lmStaleness")  # the check was installed, and saw nothing due

    page.goto(f"{url}/train?run={finished['plain'].name}")
    settle(page, "Finished: best validation perplexity")
    expect(page.locator("[data-lm-heartbeat]")).to_have_count(0)
