"""Compare → Ablation grids (AppTest): the queue's backend changes only when runs are queued, and
a run the backend cannot take says why."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import free_port, open_app, wait_until
from lmcore import queue
from lmcore.summaries import list_runs


def grid_page(monkeypatch, root: Path, **state):
    monkeypatch.setenv("LMCORE_REFERENCE_DIR", str(root.parent / "no-reference-runs"))
    at = open_app(monkeypatch, root, "app_pages/compare.py", state={"compare.tab": "Ablation grids", **state})
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at) -> str:
    return "\n".join(e.value for e in [*at.markdown, *at.caption, *at.warning, *at.error])


def queue_button(at):
    return next(b for b in at.button if b.label.startswith("Queue"))


def test_choosing_ray_moves_no_run_until_runs_are_queued(tmp_path, monkeypatch):
    """QA: a click on "Ray cluster" switched the queue for every user at once, and the runs of the
    next grid waited forever, the reason shown only under the grid form."""
    root, address = tmp_path / "runs", f"127.0.0.1:{free_port()}"   # nothing listens there
    at = grid_page(monkeypatch, root, **{"compare.grid.preset": "tiny"})
    at.radio(key="compare.grid.backend").set_value("ray").run()
    at.text_input(key="compare.grid.address").set_value(address).run()
    assert queue.backend(root) == ("local", queue.DEFAULT_ADDRESS)     # nobody's runs moved
    assert "Applies when you queue: until then the queue trains every queued run on this machine." in texts(at)
    at.text_area(key="compare.grid.overrides").set_value("max_steps=3\nthreads=1").run()
    at.multiselect(key="compare.grid.toggle.tie_weights").set_value([False, True]).run()
    queue_button(at).click().run()
    assert queue.backend(root) == ("ray", address)                    # the Queue button applied it

    problem = wait_until(lambda: queue.backend_problem(root), 60, lambda: "the worker recorded no problem")
    wait_until(lambda: queue.worker_pid(root) is None, 60, lambda: "the worker did not end")
    reasons = [queue.waiting_reason(run) for run in list_runs(root)]
    assert len(reasons) == 2 and all(r and problem in r for r in reasons)   # what Train and Start show

    held = queue._lock(root)    # a worker "runs": moving the runs here starts no training in this test
    try:
        at = grid_page(monkeypatch, root)
        assert [e.value for e in at.error] == [f"The queue could not use the cluster: {problem}; its runs stay queued."]
        next(b for b in at.button if b.label == "Train the 2 waiting runs on this machine").click().run()
        assert queue.backend(root)[0] == "local" and not at.error
        assert at.radio(key="compare.grid.backend").value == "local"
        assert all(queue.waiting_reason(run) is None for run in list_runs(root))
    finally:
        os.close(held)


def test_queueing_onto_ray_is_refused_where_ray_is_missing(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)   # import ray fails as if it were not installed
    at = grid_page(monkeypatch, tmp_path / "runs")
    at.multiselect(key="compare.grid.toggle.tie_weights").set_value([False, True]).run()
    at.radio(key="compare.grid.backend").set_value("ray").run()
    assert queue_button(at).disabled and [e.value for e in at.error] == [
        'Ray is not installed here: pip install "ray==2.60.0"']
    at.radio(key="compare.grid.backend").set_value("local").run()
    assert not queue_button(at).disabled
