"""Generate and Inside follow the run they show (QA round 13): stopped in another tab, Generate still
called it 'running'; deleted there, both kept showing it until a click."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from playwright.sync_api import expect

from browser import browser_fixture, page_fixture, require_chromium, settle, streamlit_server  # noqa: F401

pytestmark = pytest.mark.browser
require_chromium()


def test_generate_redraws_when_its_run_changes_state_or_is_deleted(trained_runs, tmp_path, page):
    root = tmp_path / "runs"
    folder = root / trained_runs[1]["plain"].name
    shutil.copytree(trained_runs[1]["plain"], folder)
    with streamlit_server(root, tmp_path / "streamlit.log") as url:
        page.goto(f"{url}/generate?run={folder.name}")
        settle(page, "How its text changed during training")
        picker = page.get_by_role("combobox", name="Run")
        expect(picker).to_have_value(re.compile("· finished ·"))
        status = json.loads((folder / "status.json").read_text())
        (folder / "status.json").write_text(json.dumps({**status, "state": "stopped"}))   # Stop, elsewhere
        expect(picker).to_have_value(re.compile("· stopped ·"), timeout=15_000)
        shutil.rmtree(folder)                                                            # Delete, elsewhere
        gone = page.locator('[data-testid="stAlert"]').filter(has_text="There is no run")
        expect(gone).to_contain_text(folder.name, timeout=15_000)
