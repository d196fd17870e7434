"""Classroom mode end to end: one server with LMCORE_CONTROL=local, opened by the teacher on its own
computer (the loopback address) and by a student over the network (this machine's other address).
The student's Resume is off and says why; the teacher's is on. Pictures land in
test-artifacts/classroom-*.png (look at them)."""

from __future__ import annotations

import json
import shutil
import socket

import pytest

from browser import browser_fixture, page_fixture, require_chromium, screenshot, settle, streamlit_server  # noqa: F401
from ui.access import CONTROL_ENV

pytestmark = pytest.mark.browser
require_chromium()


def network_address() -> str | None:
    """This machine's address on its network (no packet is sent), or None where it has only loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_a_student_over_the_network_watches_and_the_teacher_controls(trained_runs, tmp_path, monkeypatch, page):
    address = network_address()
    if address is None:
        pytest.skip("this machine has no address but loopback: a student's connection cannot be made")
    root = tmp_path / "runs"
    folder = root / trained_runs[1]["plain"].name
    shutil.copytree(trained_runs[1]["plain"], folder)
    status = json.loads((folder / "status.json").read_text())
    (folder / "status.json").write_text(json.dumps({**status, "state": "stopped"}))
    monkeypatch.setenv(CONTROL_ENV, "local")
    with streamlit_server(root, tmp_path / "streamlit.log", address="0.0.0.0") as url:
        port = url.rsplit(":", 1)[1]
        views = {"teacher": url, "student": f"http://{address}:{port}"}
        resume = page.get_by_role("button", name="Resume")
        for who, base in views.items():
            page.goto(f"{base}/train?run={folder.name}")
            settle(page, "Stopped at step")
            sidebar = page.locator('[data-testid="stSidebar"]')
            if who == "student":
                assert resume.is_disabled()
                assert "Watching only" in sidebar.inner_text()
            else:
                assert resume.is_enabled()
                assert "Classroom mode" in sidebar.inner_text()
            screenshot(page, f"classroom-{who}")
