"""Shared fixtures. Tests write runs only under temporary folders.

PTB is found the engine's way ($LMCORE_DATA_DIR, then the user cache), then in the copy that
sits beside a checkout on the project's machines (../shared/data), else downloaded once into
the user cache at the first test. Every test and every subprocess then reads that one copy
through an absolute $LMCORE_DATA_DIR. Without any copy (offline), each test that needs PTB
fails with the engine's one-line reason, repeated once at the end: skipping them would report
a green suite that never touched PTB.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import time
from pathlib import Path

import pytest

from lmcore import ptb
from lmcore.errors import DataError

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
PTB_FAILURE = re.compile(r"PTB |ptb\.(train|valid|test)\.txt")  # how the engine's data errors read


def _use(folder: Path) -> Path:
    os.environ["LMCORE_DATA_DIR"] = str(folder.parent)  # absolute: tests chdir, subprocesses inherit
    return folder


class PtbSource:
    """Where this session's PTB copy is, or why there is none. One attempt each, never more: a
    download either sets one of the two or raises, and its fixture is session-scoped."""
    folder: Path | None = None
    problem: str | None = None


try:
    if found := ptb.find_ptb_dir(extra_roots=[SHARED_DATA]):
        PtbSource.folder = _use(found)
except DataError as error:  # a corrupt copy: say so rather than download around it
    PtbSource.problem = str(error).splitlines()[0]


def _lmcore_processes_under(folder: Path) -> list[int]:
    """Pids of `python -m lmcore ...` processes whose command line names a path inside `folder`."""
    inside, found = f"{folder}{os.sep}".encode(), []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"lmcore" in cmdline and inside in cmdline.replace(b"\0", b" ") + b" ":
            found.append(int(entry.name))
    return found


def _kill_lmcore_under(folder: Path) -> list[int]:
    """SIGKILL every lmcore process naming a path in `folder`, again until none is left; the pids."""
    killed = []
    # Again until none is left: a queue worker killed just after it forked a trainer (in a session of
    # its own) leaves that trainer behind, not yet listed by the first look (seen under pytest -n 2).
    for _ in range(10):
        found = _lmcore_processes_under(folder)
        if not found:
            break
        for pid in found:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        killed += found
        time.sleep(0.2)
    return killed


@pytest.fixture(scope="session", autouse=True)
def no_stray_trainers_at_the_end(tmp_path_factory, pytestconfig):
    """The same sweep over the whole session's temporary folder: two `lmcore resume` trainers of
    test_page_train.py's tests outlived a run of the suite by minutes (stop 31), past the per-test
    sweep below. They are killed, and named where output is not captured (-s): the folder says which test's."""
    yield
    if Path("/proc").is_dir():
        base = tmp_path_factory.getbasetemp()
        stray = [(pid, _cmdline(pid)) for pid in _lmcore_processes_under(base)]
        _kill_lmcore_under(base)
        reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
        for pid, line in stray:
            (reporter.write_line if reporter else print)(f"killed a stray process the tests left, pid {pid}: {line}")


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


@pytest.fixture(autouse=True)
def no_stray_trainers(request):
    """After a test, no queue worker or trainer it started on its own tmp_path lives on: one did (an
    AppTest pressed Start with the launcher stubbed, and the page's sidebar started the queue's worker
    for the queued run), and trained zaremba-medium under the next 400 tests (stop 29)."""
    yield
    if "tmp_path" not in request.fixturenames or not Path("/proc").is_dir():
        return
    folder = request.node.funcargs.get("tmp_path")
    if folder:
        _kill_lmcore_under(folder)


@pytest.fixture(scope="session", autouse=True)
def ptb_download():
    """No copy anywhere: download one into the user cache before the first test, once."""
    if PtbSource.folder is None and PtbSource.problem is None:
        try:
            PtbSource.folder = _use(ptb.download_ptb(progress=ptb.stderr_progress()))
        except DataError as error:
            PtbSource.problem = str(error).splitlines()[0]


@pytest.fixture(scope="session")
def ptb_dir(ptb_download) -> Path:
    """The verified PTB folder; a test asking for it fails with the reason when there is none."""
    if PtbSource.folder is None:
        pytest.fail(f"PTB is unavailable: {PtbSource.problem}", pytrace=False)
    return PtbSource.folder


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Without PTB, a test that reached for it (in-process, in a CLI subprocess, in the app)
    reports the one reason instead of a traceback."""
    report = (yield).get_result()
    crash = getattr(report.longrepr, "reprcrash", None)  # the error line, not the test's source
    if PtbSource.problem and report.failed and PTB_FAILURE.search(crash.message if crash else report.longreprtext):
        report.longrepr = f"PTB is unavailable: {PtbSource.problem}"


def pytest_report_header():
    where = PtbSource.folder or PtbSource.problem
    return f"PTB: {where or 'not found yet, one download into the user cache at the first test'}"


def pytest_terminal_summary(terminalreporter):
    if PtbSource.problem:
        terminalreporter.section("PTB")
        terminalreporter.write_line(f"PTB is unavailable, so any test that needs it fails: {PtbSource.problem}")


# A config small enough that a few hundred steps take seconds on 2 CPU cores.
SMALL = dict(dataset="ptb", train_tokens=4000, valid_tokens=1000, test_tokens=1000, vocab_size=300,
             layers=2, embed_size=16, hidden_size=16, batch_size=4, bptt=10, epochs=2,
             optimizer="adam", lr=0.01, lr_schedule="plateau", clip=1.0, init="torch",
             eval_batch_size=4, sample_words=5, threads=1)


@pytest.fixture
def small_config(ptb_dir):
    from lmcore.config import from_dict, validate

    return validate(from_dict(SMALL))


@pytest.fixture
def runs_root(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("LMCORE_RUNS_DIR", str(root))
    return root


def train_run(root: Path, preset: str, name: str, **changes) -> Path:
    """Really train `preset` (with `changes`) into a run folder under `root`, in-process."""
    from lmcore.presets import resolve
    from lmcore.runs import create_run
    from lmcore.session import run

    cfg = resolve(preset, overrides={"name": name, "threads": 1, **changes})
    folder = create_run(cfg.to_dict(), root, label=name)
    run(folder, show_progress=False)
    return folder


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory, ptb_dir):
    """Three real, finished runs for the app's tests: tiny without and with dropout, and the
    generated corpus (which has a floor). A few dozen steps each: seconds, not minutes."""
    root = tmp_path_factory.mktemp("trained") / "runs"
    folders = {
        "plain": train_run(root, "tiny", "plain", max_steps=40, eval_every=20),
        "variational": train_run(root, "tiny", "variational", max_steps=40, eval_every=20, dropout=0.5,
                                 dropout_placement="variational"),
        "synthetic": train_run(root, "synthetic", "synthetic", max_steps=30, eval_every=15, layers=1,
                               embed_size=32, hidden_size=32, synthetic_tokens=20_000),
    }
    return root, folders


def open_app(monkeypatch, root: Path, page: str | None = None, query: dict | None = None,
             state: dict | None = None):
    """app.py in AppTest over the runs under `root`, on `page` (e.g. "app_pages/train.py"), with
    URL query params and session state set before the first run."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("LMCORE_RUNS_DIR", str(root))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if page:
        at.switch_page(page)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    for key, value in (state or {}).items():
        at.session_state[key] = value
    return at.run()


def run_as_back(at, monkeypatch):
    """Run `at` as the browser's Back or Forward would, marked as such (ui/history.py reads the mark)."""
    from ui import history

    with monkeypatch.context() as patch:
        patch.setattr(history, "history_navigation", lambda: True)
        return at.run()


def metric(at, label: str) -> str:
    """The value of the page's metric called `label`."""
    return next(m.value for m in at.metric if m.label == label)


def texts(elements) -> str:
    """The values of AppTest elements (at.error, at.markdown, ...), one a line."""
    return "\n".join(str(e.value) for e in elements)


def copy_run(folder: Path, tmp_path: Path) -> Path:
    """A copy of a trained run under tmp_path/runs, safe to damage."""
    import shutil

    target = tmp_path / "runs" / folder.name
    shutil.copytree(folder, target)
    return target


def free_port() -> int:
    """A local port nothing listens on right now: for a server to bind, or a URL that cannot connect."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, timeout: float, what):
    """Poll `predicate` until it returns something true, and return that; past `timeout` seconds,
    fail with `what()` (the state that was waited on)."""
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, what()
        time.sleep(0.2)
    return found


def pause_process(pid: int) -> None:
    """kill -STOP `pid`, and return once it stands stopped. A fatal signal sent while the SIGSTOP is still
    pending kills the process (Linux wakes it for that), where one sent to a stopped process waits: a test
    that sends SIGTERM next must not race the kernel (it did once in CI, on a loaded machine)."""
    os.kill(pid, signal.SIGSTOP)
    wait_until(lambda: _process_state(pid) in ("T", "t"), 10, lambda: f"process {pid} reads {_process_state(pid)!r}")


def _process_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "gone"


def pytest_xdist_auto_num_workers(config):
    """`-n auto`: one worker per core, at most 4. Past that the tests that train, each with its own
    threads, only slow each other down."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(4, cores))
