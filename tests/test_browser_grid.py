"""End to end in chromium: a real 2x2 grid x 2 seeds of `tiny` (30 steps each), queued from the
Compare page, trains two runs at a time and finishes; the page then shows one banded curve per
cell and effects charts whose numbers equal `lmcore effects GROUP --json`; a ?group= link opens
the same view in a new tab, and a ?runs= link the Runs view with those runs selected.
Screenshots land in test-artifacts/ (look at them).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from browser import ARTIFACTS, ROOT, VIEWPORT, chromium, require_chromium, screenshot, settle, streamlit_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_chromium()

OVERRIDES = "max_steps=30\neval_every=15\ndropout=0.5"
CHARTS_JS = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')].map(plot => ({
    traces: plot.data.map(t => ({name: t.name, fill: t.fill, mode: t.mode, x: t.x, y: t.y,
                                 plus: t.error_x ? t.error_x.array : null,
                                 minus: t.error_x ? t.error_x.arrayminus : null})),
    labels: (plot.layout.annotations || []).map(a => a.text)}))"""


def choose(page, label: str, options: list[str]) -> None:
    """Pick options in the multiselect labelled `label`."""
    box = page.locator('[data-testid="stMultiSelect"]').filter(has_text=label)
    for option in options:
        box.click()
        page.get_by_role("option", name=option, exact=True).click()
        page.keyboard.press("Escape")
        page.wait_for_timeout(400)


def type_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_timeout(600)


def fill_grid_form(page) -> None:
    overrides = page.locator('[data-testid="stTextArea"] textarea')
    overrides.fill(OVERRIDES)
    overrides.press("Control+Enter")
    page.wait_for_timeout(600)
    choose(page, "dropout_placement", ["none", "variational"])
    choose(page, "tie_weights", ["false", "true"])
    type_number(page, "Seeds per cell", 2)
    type_number(page, "Runs at a time", 2)
    settle(page, "8 runs")


def wait_for_charts(page, count: int) -> None:
    """Plotly draws after the page has settled: wait until `count` charts hold their data."""
    page.wait_for_function(
        """n => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')]
                .filter(plot => plot.data && plot.data.length).length >= n""", arg=count, timeout=30_000)
    page.wait_for_timeout(500)


def cli_effects(root, group: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "lmcore", "effects", group, "--runs-dir", str(root), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_charts_match(charts: list[dict], report: dict) -> None:
    bands = [t for t in charts[0]["traces"] if t["fill"] == "toself"]
    lines = [t for t in charts[0]["traces"] if t["mode"] == "lines+markers"]
    assert len(bands) == len(lines) == 4 and all(len(t["x"]) == 2 for t in lines)    # steps 15 and 30
    assert {t["name"] for t in lines} == {cell["label"] for cell in report["cells"]}
    rows = report["effects"] + report["interactions"]
    drawn = [(x, x + plus, x - minus) for chart in charts[1:] for trace in chart["traces"]
             for x, plus, minus in zip(trace["x"], trace["plus"], trace["minus"])]
    assert drawn == [pytest.approx((row["estimate"], row["high"], row["low"]), rel=1e-9) for row in rows]
    assert [label for chart in charts[1:] for label in chart["labels"]] == [row["verdict"] for row in rows]


def runs_link(page, url: str, run_ids: list[str]) -> None:
    """?runs=a,b,unknown selects a and b in the Runs view, names the unknown id once and drops it
    from the address; clearing the selection clears the address."""
    page.goto(f"{url}/compare?runs={','.join(run_ids)},not-a-run")
    settle(page, "whose values differ")
    assert page.get_by_text("The link names 1 run that is not here (ignored)").count() == 1
    page.wait_for_url(re.compile("runs=" + "(,|%2C)".join(map(re.escape, run_ids)) + "$"), timeout=10_000)
    screenshot(page, "compare-runs-link")
    page.locator('[data-testid="stBaseButton-secondary"]').filter(has_text="Clear selection").click()
    page.wait_for_url(re.compile(r"/compare$"), timeout=10_000)


def test_a_seeded_grid_queued_from_the_page_finishes_with_bands_and_effects(tmp_path):
    root = tmp_path / "runs"
    with streamlit_server(root) as url, chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{url}/compare")
        settle(page, "Compare runs")
        page.get_by_role("tab", name="Ablation grids").click()
        settle(page, "Queue an ablation grid")
        fill_grid_form(page)
        assert page.get_by_text("= 2 dropout_placement × 2 tie_weights × 2 seeds").count() == 1
        screenshot(page, "grid-form-2x2x2")
        queued = time.monotonic()
        page.get_by_role("button", name="Queue 8 runs").click()
        settle(page, "Queued 8 runs as grid")
        page.wait_for_url(re.compile(r"[?&]group=grid-"), timeout=30_000)
        group = re.search(r"[?&]group=(grid-[0-9a-f]+)", page.url).group(1)
        page.get_by_text("finished · 0 running · 0 queued", exact=False).first.wait_for(timeout=300_000)
        trained = time.monotonic() - queued
        page.wait_for_timeout(2500)  # the fragment's last refresh draws the final charts
        settle(page, "What each toggle did")
        wait_for_charts(page, 4)
        report = cli_effects(root, group)
        assert report["finished"] == 8 and len(report["cells"]) == 4
        assert_charts_match(page.evaluate(CHARTS_JS), report)
        screenshot(page, "grid-finished-bands-and-effects")

        # The address bar is the link a teacher sends: a new tab opens the same grid.
        shared = browser.new_page(viewport=VIEWPORT)
        shared.goto(f"{url}/compare?group={group}")
        settle(shared, "What each toggle did")
        wait_for_charts(shared, 4)
        assert_charts_match(shared.evaluate(CHARTS_JS), report)
        screenshot(shared, "grid-shared-link")
        runs_link(shared, url, sorted(f.name for f in root.iterdir() if f.is_dir())[:2])
    configs = [json.loads(f.read_text()) for f in root.glob("*/config.json")]
    assert sorted(c["seed"] for c in configs) == sorted([1, 2] * 4) and {c["max_steps"] for c in configs} == {30}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "grid-timings.json").write_text(json.dumps({"queue_to_finished_s": round(trained, 1)}))
