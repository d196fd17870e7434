"""In chromium at a 1024x768 projector: a one-seed grid of three placements x two dropouts, written
to disk by hand, fills in while the Compare page shows it. The cells table keeps widths its numbers
fit (QA: sized for "—", a finished cell read "111.2 (n=" until a reload), and the effects charts'
labels fit their charts (QA: "ntal vs vertical · best val" and "onal vs vertical · best val").
Screenshots land in test-artifacts/ (look at them).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_page_grids import DROPOUT_BEST, dropout_grid

from browser import chromium, require_chromium, screenshot, settle, streamlit_server, wait_app_idle
from lmcore.runs import read_json, write_json_atomic

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_chromium()

PROJECTOR = {"width": 1024, "height": 768}
PLACEMENTS = ("vertical", "horizontal", "variational")
# Each y tick label of each effects chart, with its left edge and its chart's left edge.
TICKS_JS = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')]
    .filter(plot => plot.querySelector('.ytick'))
    .map(plot => ({left: plot.getBoundingClientRect().left,
                   ticks: [...plot.querySelectorAll('.ytick text')].map(t => ({
                       text: t.textContent, left: t.getBoundingClientRect().left}))}))"""


def finish(folder, best: float) -> None:
    status = read_json(folder / "status.json")
    write_json_atomic(folder / "status.json", {**status, "state": "finished", "pid": None, "step": 30,
                                               "best_val_ppl": best, "final_val_ppl": best,
                                               "test_ppl": best - 4.0, "best_epoch": 1})


def test_a_one_seed_grid_filling_in_at_1024_px_reads_whole_numbers_and_labels(tmp_path):
    root = tmp_path / "runs"
    # The "running" runs' live trainer: runs.pid_alive takes a process whose command line names lmcore.
    trainer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "lmcore-stand-in"])
    try:
        folders = dropout_grid(root, PLACEMENTS, states={key: "running" for key in DROPOUT_BEST})
        for folder in folders.values():
            write_json_atomic(folder / "status.json", {**read_json(folder / "status.json"), "pid": trainer.pid})
        with streamlit_server(root) as url, chromium() as browser:
            page = browser.new_page(viewport=PROJECTOR)
            page.goto(f"{url}/compare?group=grid-drop")
            settle(page, "Each cell")
            screenshot(page, "grid-1024-filling-none-finished")
            for (placement, dropout, _), folder in folders.items():
                finish(folder, DROPOUT_BEST[(placement, dropout)])
                if (placement, dropout) == ("vertical", 0.2):
                    page.get_by_text("1 / 6 finished").first.wait_for(timeout=30_000)
                    wait_app_idle(page)
                    screenshot(page, "grid-1024-filling-one-finished")
            page.get_by_text("6 / 6 finished").first.wait_for(timeout=30_000)
            page.wait_for_timeout(2500)   # the fragment's last refresh draws the charts
            settle(page, "What each toggle did")
            assert page.get_by_text("seed-to-seed noise was not measured").count() == 1
            charts = page.evaluate(TICKS_JS)
            labels = [tick["text"] for chart in charts for tick in chart["ticks"]]
            assert "horizontalbest val" in labels and "variationalbest val" in labels   # <br> reads as nothing
            assert page.get_by_text("dropout_placement, each value vs vertical").count() == 1
            screenshot(page, "grid-1024-filled")
            cut = [(tick, chart["left"]) for chart in charts for tick in chart["ticks"] if tick["left"] < chart["left"]]
            assert cut == []
    finally:
        trainer.kill()
        trainer.wait()


def test_a_deleted_cell_reads_as_missing_at_1024_px(tmp_path):
    """The QA's 2x2 with dropout=0.2 placement=none deleted, two seeds a cell: the missing cell has
    its row and warning, and a mean ± sd reads whole in its column."""
    root = tmp_path / "runs"
    dropout_grid(root, drop=[("none", 0.2)], seeds=2)
    with streamlit_server(root) as url, chromium() as browser:
        page = browser.new_page(viewport=PROJECTOR)
        page.goto(f"{url}/compare?group=grid-drop")
        settle(page, "What each toggle did")
        page.wait_for_timeout(1500)
        missing = "No run of dropout=0.2 placement=none: deleted, unreadable or never queued."
        assert page.get_by_text(missing).count() == 1
        page.get_by_text("1 of 4 cells has no run").first.wait_for(timeout=15_000)  # a later element: wait for it
        assert page.get_by_text("1 of 4 cells has no run").count() == 1
        assert page.get_by_text("changed nothing").count() == 0
        screenshot(page, "grid-1024-deleted-cell")


# Each grid table (cells, effects): its width against its frame's, its header, and its right edge.
TABLES_JS = """() => [...document.querySelectorAll('[data-testid="stTable"]')].map(frame => ({
    scroll: frame.scrollWidth, client: frame.clientWidth,
    right: frame.querySelector('table').getBoundingClientRect().right,
    head: [...frame.querySelectorAll('th')].map(h => h.innerText.trim())}))"""


def test_the_cells_and_effects_tables_fit_a_1024_px_projector_and_a_1400_px_screen(tmp_path):
    """QA at 1024x768: the cells table's fixed 150 px columns scrolled sideways and the effects
    table's verdict column was off-screen. Three seeds a cell, so every number has its sd."""
    root = tmp_path / "runs"
    dropout_grid(root, placements=("none", "variational"), seeds=3)
    with streamlit_server(root) as url, chromium() as browser:
        for size in (PROJECTOR, {"width": 1400, "height": 900}):
            page = browser.new_page(viewport=size)
            page.goto(f"{url}/compare?group=grid-drop")
            settle(page, "What each toggle did")
            page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stTable\"] table').length >= 2")
            page.wait_for_timeout(1000)
            tables = page.evaluate(TABLES_JS)
            assert [t["head"][:3] for t in tables] == [["cell", "finished", "best val"],
                                                       ["contrast", "metric", "estimate"]]
            assert "verdict" in tables[1]["head"] and "test" in tables[0]["head"]
            assert [t["scroll"] for t in tables] == [t["client"] for t in tables], tables   # no sideways scroll
            assert all(t["right"] <= size["width"] for t in tables), tables
            screenshot(page, f"grid-tables-{size['width']}")
            page.close()
