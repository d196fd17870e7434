"""The Train page in chromium at a classroom projector's size (1024x768), QA round 8: a stopped run
says the step of its checkpoint, a killed one which steps Resume trains again, and zaremba-medium's
clip box reads 0.142857 while the config keeps 5/35. Screenshots: test-artifacts/train-*.png."""

from __future__ import annotations

import json
import subprocess
import sys
from urllib.parse import parse_qs, urlparse

import pytest

from browser import browser_fixture, page_fixture, require_chromium, screenshot, settle, streamlit_server  # noqa: F401
from conftest import copy_run
from lmcore.runs import RunWriter

pytestmark = pytest.mark.browser
require_chromium()


@pytest.fixture(scope="module")
def app(trained_runs, tmp_path_factory):
    """A stopped run (status and last.pt at step 40) and a killed one (status at 60, last.pt at 40)."""
    tmp = tmp_path_factory.mktemp("browser-train")
    stopped = copy_run(trained_runs[1]["plain"], tmp)
    killed = copy_run(trained_runs[1]["variational"], tmp)
    RunWriter(stopped).status(state="stopped")
    gone = subprocess.Popen([sys.executable, "-c", "pass  # lmcore"])
    gone.wait()                                                       # kill -9 leaves `running` and a dead pid
    RunWriter(killed).status(state="running", pid=gone.pid, step=60, finished_at=None)
    with streamlit_server(stopped.parent, tmp / "streamlit.log") as url:
        yield url, stopped, killed


@pytest.fixture(autouse=True)
def projector(page):
    page.set_viewport_size({"width": 1024, "height": 768})


def watch(page, url: str, folder, text: str, picture: str) -> int:
    """Open `folder` on Train's Watch tab, wait for `text`, take its picture; the epochs its plan
    reaches: its max_steps (40 or 60) stop it in its first epoch of 149 steps, whatever its `epochs`."""
    page.goto(f"{url}/train?run={folder.name}")
    settle(page, text)
    screenshot(page, picture)
    config = json.loads((folder / "config.json").read_text())
    assert config["max_steps"] < 149 < config["epochs"] * 149
    return 1


def test_a_stopped_run_names_its_checkpoint_step(app, page):
    url, stopped, _ = app
    epochs = watch(page, url, stopped, "checkpoint saved at step 40", "train-stopped")
    assert page.get_by_text(f"Stopped at step 40 (epoch 1 of {epochs}): checkpoint saved at step 40; Resume "
                            "continues from there.").count() == 1
    label = page.get_by_role("button", name="Resume").locator("p")
    assert label.evaluate("p => p.scrollWidth <= p.clientWidth && p.innerText") == "Resume"   # not "Res…"


def test_a_killed_run_says_which_steps_resume_trains_again(app, page):
    url, _, killed = app
    epochs = watch(page, url, killed, "are trained again", "train-killed")
    assert page.get_by_text(f"Resume continues from the checkpoint at step 40 (epoch 1 of {epochs}); steps 41–60, "
                            "trained after it, are trained again.").count() == 1


def test_zaremba_mediums_clip_reads_six_digits_and_stays_exact(app, page):
    url, _, _ = app
    page.goto(f"{url}/train?preset=zaremba-medium")
    settle(page, "Optimisation")
    clip_reads(page, "0.142857")
    clip = page.get_by_role("spinbutton", name="Gradient clip", exact=True)
    epochs = page.get_by_role("spinbutton", name="Epochs", exact=True)
    if not epochs.is_visible():                                        # in the Schedule expander
        page.get_by_text("Schedule", exact=True).click()
    clip.click()                                                       # focus and leave it unedited
    epochs.fill("2")
    epochs.press("Enter")
    page.wait_for_function("() => location.search.includes('epochs=2')", timeout=30_000)
    settle(page, "Optimisation")
    clip_reads(page, "0.142857")
    assert "clip" not in parse_qs(urlparse(page.url).query)            # the value kept is still 5/35
    clip.scroll_into_view_if_needed()
    screenshot(page, "train-zaremba-clip")


def clip_reads(page, text: str) -> None:
    """Wait for the clip box to show `text`: a run draws the set-up boxes afresh (empty, then 0, then
    their value, with "%g" as well), so a box read the moment the app is idle may still read 0."""
    page.wait_for_function("text => document.querySelector('input[aria-label=\"Gradient clip\"]')?.value === text",
                           arg=text, timeout=10_000)
