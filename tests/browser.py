"""Helpers for the end-to-end tests: a real `streamlit run app.py` and Debian's chromium.

A browser test module calls require_chromium() at import and imports the `browser` and `page`
fixtures from here (browser_fixture, page_fixture); its own `app` fixture starts the server with
streamlit_server.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("LMCORE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
VIEWPORT = {"width": 1400, "height": 900}


@contextlib.contextmanager
def streamlit_server(runs_root: Path, log_path: Path | None = None, address: str = "127.0.0.1"):
    """`streamlit run app.py` on a free port, with runs under `runs_root`; yields its URL. The
    server's output goes to `log_path`, by default streamlit.log beside the runs folder. `address`:
    the one it listens on (0.0.0.0: every interface); the URL is always the loopback one."""
    log_path = log_path or runs_root.parent / "streamlit.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "LMCORE_RUNS_DIR": str(runs_root), "PYTHONUNBUFFERED": "1"}
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", address, "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log_path)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_healthy(url: str, process, log_path: Path, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"streamlit did not become healthy: {log_path.read_text()[-2000:]}")


def chromium_available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which("chromium") is not None


def require_chromium():
    """Playwright's sync API for a browser test module: the module is skipped without Playwright,
    and fails without chromium (a missing browser must not pass as a skip)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not chromium_available():
        pytest.fail("Debian's chromium is needed for the browser tests: scripts/setup.sh --dev installs it",
                    pytrace=False)
    return sync_api


@contextlib.contextmanager
def chromium():
    """Debian's chromium, headless, driven by Playwright."""
    with require_chromium().sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@contextlib.contextmanager
def new_page(instance, **context_options):
    """A page in a fresh browser context (its own cookies and session), closed afterwards;
    `context_options` as Playwright's new_context takes them (a phone's viewport and touch)."""
    context = instance.new_context(**{"viewport": VIEWPORT, **context_options})
    try:
        yield context.new_page()
    finally:
        context.close()


# Fixtures a test module imports (`from browser import browser_fixture, page_fixture`); named apart
# from the `browser` and `page` arguments that request them.
@pytest.fixture(scope="module", name="browser")
def browser_fixture():
    with chromium() as instance:
        yield instance


@pytest.fixture(name="page")
def page_fixture(browser):
    with new_page(browser) as fresh:
        yield fresh


def settle(page, text: str, timeout: float = 60_000) -> None:
    """Wait for `text` on the page and for Streamlit to stop running the script; no exception shown."""
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)
    wait_app_idle(page, timeout)
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()


# Every address the app writes into the tab's history, kept in sessionStorage so it outlives a reload.
_RECORD_HISTORY = """(() => { for (const name of ['pushState', 'replaceState']) {
  const original = history[name].bind(history);
  history[name] = (state, title, address) => {
    const log = JSON.parse(sessionStorage.getItem('lmcore.history') || '[]');
    log.push(`${name} ${address}`);
    sessionStorage.setItem('lmcore.history', JSON.stringify(log));
    return original(state, title, address); }; } })();"""


def record_history(page) -> None:
    """Log the app's history writes from the page's next load on (read them with `history_log`)."""
    page.add_init_script(_RECORD_HISTORY)


def history_log(page) -> list[str]:
    """'pushState /train?...' for each history write since `record_history`, oldest first; for a
    failure's message, where a Back that lands somewhere unexpected needs its entries named."""
    return json.loads(page.evaluate("() => sessionStorage.getItem('lmcore.history') || '[]'"))


def runs_grid(page, url: str):
    """Compare opened on its Runs view; the runs table (a canvas grid), drawn."""
    page.goto(f"{url}/compare")
    settle(page, "Compare runs")
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.wait_for()
    return grid


def wait_app_idle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished the current script run (no 'Running...' widget)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)


def screenshot(page, name: str) -> Path:
    """The whole page: Streamlit scrolls inside its main pane, so the viewport is stretched to
    the pane's height for the picture and put back afterwards."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate("() => (document.querySelector('[data-testid=\"stMain\"]') || document.body).scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), 8000)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path
