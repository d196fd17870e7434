"""The queue on a real Ray cluster (lmcore.ray_backend, docs/ray.md): a head and a second node,
both processes on 127.0.0.1 with one CPU each, in a temporary folder, stopped at the end.

A 2x2 grid of a small config trains through it into run folders shaped like local ones, which
the Compare page renders; a node killed under a run: the run resumes on the other node from its
checkpoint, each metric line once. Stopping a Ray run keeps its checkpoint; an address where
nothing listens, or a run no node can hold, is a one-line error with the runs still queued.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT, SMALL, free_port, open_app, wait_until
from lmcore import queue
from lmcore.runs import STOP_REQUEST, create_run, read_status, stop_run

RAY = Path(sys.executable).parent / "ray"
pytestmark = [pytest.mark.slow, pytest.mark.ray]


def process_ids(marker: str) -> list[int]:
    """Processes whose command line holds `marker` (this cluster's temp folder or a node's port)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


class Cluster:
    """`ray start --block` processes: ending one ends its node's Ray processes."""

    def __init__(self, folder: Path):
        self.folder, self.nodes, self.node_ports = folder, [], []
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"

    def start_node(self, *args: str) -> None:
        node_port = free_port()
        log = open(self.folder / f"node-{len(self.nodes)}.log", "wb")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_health_check_period_ms": "500",
               "RAY_health_check_failure_threshold": "3"}  # a dead node is noticed in seconds
        self.nodes.append(subprocess.Popen(
            [str(RAY), "start", "--block", "--disable-usage-stats", "--num-cpus", "1", "--num-gpus", "0",
             "--object-store-memory", "80000000", "--node-ip-address", "127.0.0.1",
             "--node-manager-port", str(node_port), "--dashboard-agent-listen-port", str(free_port()),
             *args], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.folder, start_new_session=True))
        self.node_ports.append(node_port)

    def raylet(self, index: int) -> int:
        marker = f"--node_manager_port={self.node_ports[index]}"
        pids = [pid for pid in process_ids(marker) if b"raylet" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        return pids[0] if pids else 0

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not all(self.raylet(i) for i in range(len(self.nodes))):
            assert time.monotonic() < deadline, self.log(len(self.nodes) - 1)
            ended = [i for i, node in enumerate(self.nodes) if node.poll() is not None]
            assert not ended, f"ray start of node {ended[0]} ended: {self.log(ended[0])}"
            time.sleep(0.3)

    def log(self, index: int) -> str:
        return (self.folder / f"node-{index}.log").read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.terminate()
        for node in self.nodes:
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.kill()
        for pid in process_ids(str(self.folder)):  # anything --block left behind
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def cluster(request, ptb_dir):
    try:
        import ray  # noqa: F401
    except ImportError:
        pytest.fail('Ray is not installed: scripts/setup.sh --dev (or pip install "ray==2.60.0")', pytrace=False)
    for attempt in (1, 2):
        # A short folder: Ray's socket paths must fit in 107 characters, and a test worker's temp folder
        # (/tmp/pytest-of-root/pytest-422/popen-gw1/ray1) left plasma_store's at 108.
        folder = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
        request.addfinalizer(functools.partial(shutil.rmtree, folder, ignore_errors=True))
        found = Cluster(folder)
        try:
            found.start_node("--head", "--port", str(found.port), "--include-dashboard=false", "--temp-dir",
                             str(folder))
            found.wait_ready()
            found.start_node("--address", found.address)
            found.wait_ready()
        except AssertionError:
            found.stop()
            # Once more on fresh ports: a port free_port() chose can be taken before Ray binds it, by
            # another test's server starting at the same moment (seen with pytest -n 2).
            if attempt == 2:
                raise
            continue
        try:
            yield found
        finally:
            found.stop()
        return


def small(**changes) -> list[str]:
    return [item for key, value in {**SMALL, **changes}.items() for item in ("--set", f"{key}={value}")]


def shape(folder: Path) -> tuple[set, set]:
    files = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    return files, set(json.loads((folder / "status.json").read_text()))


def train_locally(config: dict, root: Path) -> Path:
    """The same config through today's local queue (a detached lmcore process)."""
    (folder,) = queue.enqueue([config], root)
    queue.work(root, poll=0.2)
    wait_until(lambda: read_status(folder)["state"] == "finished", 120, lambda: read_status(folder))
    return folder


def test_a_grid_trains_on_the_cluster_into_folders_like_local_ones(cluster, tmp_path, monkeypatch):
    root = tmp_path / "runs"
    command = [sys.executable, "-m", "lmcore", "grid", *small(max_steps=40), "--vary", "tie_weights=false,true",
               "--vary", "dropout_placement=none,variational", "--concurrency", "2", "--backend", "ray",
               "--address", cluster.address, "--runs-dir", str(root), "--wait"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    queued = json.loads(done.stdout.splitlines()[0])
    folders = [root / run_id for run_id in queued["runs"]]
    assert queue.backend(root) == ("ray", cluster.address)
    statuses = [read_status(folder) for folder in folders]
    assert [s["state"] for s in statuses] == ["finished"] * 4, statuses
    assert all(s["step"] == 40 and s["test_ppl"] for s in statuses)
    assert all(json.loads((f / "launcher.json").read_text())["backend"] == "ray" for f in folders)
    assert all("ray::lmcore_train" not in (f / "log.txt").read_text() for f in folders)

    config = json.loads((folders[0] / "config.json").read_text())
    local = train_locally({k: v for k, v in config.items() if k != "lmcore_version"}, tmp_path / "local")
    assert all(shape(folder) == shape(local) for folder in folders), (shape(folders[0]), shape(local))

    monkeypatch.setenv("LMCORE_REFERENCE_DIR", str(tmp_path / "no-reference-runs"))
    at = open_app(monkeypatch, root, "app_pages/compare.py", {"group": queued["group"]})
    assert not at.exception, [e.value for e in at.exception]
    assert any("4 / 4 finished" in p.proto.text for p in at.get("progress"))
    cells = next(d.value for d in at.table if "best val" in d.value.columns)   # the grid's cells table
    assert len(cells) == 4 and [text.replace("\u00a0", " ") for text in cells["finished"]] == ["1 / 1"] * 4


def metric_steps(folder: Path) -> list[tuple]:
    lines = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return [(line["kind"], line["step"]) for line in lines]


def test_stopping_a_ray_run_keeps_its_checkpoint(cluster, tmp_path):
    root = tmp_path / "runs"
    queue.set_backend(root, "ray", cluster.address)
    (folder,) = queue.enqueue([{**SMALL, "epochs": 200, "checkpoint_every": 100}], root)
    wait_until(lambda: read_status(folder).get("step", 0) >= 150, 120, lambda: read_status(folder))
    assert stop_run(folder) and (folder / STOP_REQUEST).exists()
    status = wait_until(lambda: (s := read_status(folder))["state"] == "stopped" and s, 60, lambda: read_status(folder))
    assert (folder / "checkpoints" / "last.pt").exists() and not (folder / STOP_REQUEST).exists()
    assert status["step"] < 200 * 99 and max(step for _, step in metric_steps(folder)) <= status["step"]
    wait_until(lambda: queue.worker_pid(root) is None, 30, lambda: "the driver did not end")


def lmcore(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lmcore", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_a_run_no_node_can_hold_is_one_line_and_stays_queued(cluster, tmp_path):
    root = tmp_path / "runs"
    folder = create_run({**SMALL, "threads": 4}, root)
    done = lmcore("queue", "--runs-dir", str(root), "--backend", "ray", "--address", cluster.address)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "asks for 4 CPU" in done.stderr and "largest node of the cluster has 1 CPU" in done.stderr
    assert queue.pending(root) == [folder] and read_status(folder)["state"] == "queued"
    assert "asks for 4 CPU" in queue.backend_problem(root)


def test_an_unreachable_address_is_one_line_and_the_grid_stays_queued(tmp_path):
    root, address = tmp_path / "runs", f"127.0.0.1:{free_port()}"   # nothing listens there
    done = lmcore("grid", *small(max_steps=5), "--vary", "tie_weights=false,true", "--backend", "ray",
                  "--address", address, "--runs-dir", str(root))
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"error: cannot reach the Ray cluster at {address}: ")
    assert "the 2 runs of grid grid-" in done.stderr and "stay queued" in done.stderr
    wait_until(lambda: queue.backend_problem(root), 60, lambda: "the worker recorded no problem")
    wait_until(lambda: queue.worker_pid(root) is None, 60, lambda: "the worker did not end")
    assert len(queue.pending(root)) == 2 and queue.backend_problem(root).startswith("cannot reach")
    started = time.monotonic()
    done = lmcore("queue", "--runs-dir", str(root))             # the kept backend, the same answer
    assert done.returncode == 2 and "cannot reach the Ray cluster" in done.stderr
    assert time.monotonic() - started < 30 and len(queue.pending(root)) == 2


def test_choosing_ray_without_it_installed_says_how_to_install_it(tmp_path, monkeypatch):
    from lmcore import ray_backend

    monkeypatch.setitem(sys.modules, "ray", None)   # import ray fails as if it were not installed
    with pytest.raises(ray_backend.BackendError, match=r'needs Ray.*pip install "ray==2\.60\.0"'):
        ray_backend.check("auto")


def test_a_run_asks_for_its_threads_and_a_gpu_where_it_may_use_one_half_of_it_when_eager():
    from lmcore.ray_backend import resources

    assert resources({"threads": 3, "device": "cpu"}, gpu_nodes=True) == {"num_cpus": 3, "num_gpus": 0}
    assert resources({"threads": 0, "device": "auto"}, gpu_nodes=False) == {"num_cpus": 1, "num_gpus": 0}
    # Graphed steps (the default, and configs written before the key) keep a GPU busy: a whole one.
    assert resources({"threads": 2, "device": "auto"}, gpu_nodes=True) == {"num_cpus": 2, "num_gpus": 1.0}
    assert resources({"threads": 1, "device": "cuda", "cuda_graphs": "auto"}, gpu_nodes=False) == {
        "num_cpus": 1, "num_gpus": 1.0}
    # Eager steps leave gaps another run fills: half.
    assert resources({"threads": 1, "device": "cuda", "cuda_graphs": "off"}, gpu_nodes=True) == {
        "num_cpus": 1, "num_gpus": 0.5}


def test_a_run_on_another_host_is_alive_while_its_status_is_fresh(tmp_path, monkeypatch):
    """Its pid means nothing here (another node's process table): the status's age decides."""
    from lmcore import runs

    folder = create_run(dict(SMALL), tmp_path)
    status = json.loads((folder / "status.json").read_text())
    dead_here = 2 ** 22 + 1                                     # above pid_max: no such process here
    (folder / "status.json").write_text(json.dumps({**status, "state": "running", "pid": dead_here,
                                                    "host": "node-7", "updated_at": time.time()}))
    assert read_status(folder)["state"] == "running"
    monkeypatch.setattr(runs.time, "time", lambda: status["updated_at"] + runs.REMOTE_STALE_SECONDS + 5)
    assert read_status(folder)["state"] == "failed"
    (folder / "status.json").write_text(json.dumps({**status, "state": "running", "pid": dead_here,
                                                    "host": socket.gethostname(), "updated_at": time.time()}))
    assert read_status(folder)["state"] == "failed"               # this host: the pid decides at once


def test_a_start_over_without_a_checkpoint_keeps_no_line_twice(tmp_path, ptb_dir):
    """A Ray retry of a run killed before its first checkpoint trains from scratch: the lines the
    dead attempt wrote are dropped, not kept under the new ones."""
    from lmcore.session import run

    folder = create_run({**SMALL, "max_steps": 20, "log_every": 5}, tmp_path)
    run(folder, show_progress=False)
    once = metric_steps(folder)
    for name in ("last.pt", "best.pt"):
        (folder / "checkpoints" / name).unlink()
    run(folder, show_progress=False)
    assert metric_steps(folder) == once


def test_a_run_on_a_killed_node_resumes_on_the_other_with_each_line_once(cluster, tmp_path):
    root = tmp_path / "runs"
    queue.set_backend(root, "ray", cluster.address)
    queue.set_concurrency(root, 2)
    config = {**SMALL, "epochs": 25, "checkpoint_every": 100}
    folders = queue.enqueue([config, config], root, ["twin-a", "twin-b"])

    def on_the_second_node():
        for folder in folders:
            status = read_status(folder)
            if status["state"] == "running" and status["step"] >= 300 and \
                    parent_pid(status["pid"]) == cluster.raylet(1):
                return folder, status["pid"]
        return None

    victim, trainer = wait_until(on_the_second_node, 120, lambda: [read_status(f) for f in folders])
    os.kill(cluster.raylet(1), signal.SIGKILL)   # the node dies, and its worker with it
    os.kill(trainer, signal.SIGKILL)
    seen = []  # the victim's states on the way: waiting for its retry it reads queued, never failed

    def ended():
        found = [read_status(f) for f in folders]
        seen.append(found[folders.index(victim)]["state"])
        return not any(s["state"] in ("queued", "running") for s in found) and found

    statuses = wait_until(ended, 180, lambda: [read_status(f) for f in folders])
    assert [s["state"] for s in statuses] == ["finished", "finished"], statuses
    assert "queued" in seen and "failed" not in seen, seen
    survivor = next(f for f in folders if f != victim)
    assert read_status(victim)["pid"] != trainer and cluster.raylet(1) == 0   # so it ended on the head
    steps = metric_steps(victim)
    assert len(steps) == len(set(steps))                         # no line doubled
    assert steps == metric_steps(survivor)                       # none lost: the twin's lines, exactly
    assert (victim / "log.txt").read_text().count("--- attempt started ") == 2


def grid_form(root: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("LMCORE_REFERENCE_DIR", str(root.parent / "no-reference-runs"))
    at = open_app(monkeypatch, root, "app_pages/compare.py", state={"compare.tab": "Ablation grids"})
    assert not at.exception, [e.value for e in at.exception]
    return at


def queue_two_from_the_page(at: AppTest) -> None:
    at.text_area(key="compare.grid.overrides").set_value("max_steps=3\nthreads=1\nsample_words=3").run()
    at.multiselect(key="compare.grid.toggle.tie_weights").set_value([False, True]).run()
    next(b for b in at.button if b.label == "Queue 2 runs").click().run()
    assert not at.exception and any("Queued 2 runs" in s.value for s in at.success)


def test_the_grid_form_queues_onto_the_cluster(cluster, tmp_path, monkeypatch):
    root = tmp_path / "runs"
    at = grid_form(root, monkeypatch)
    assert at.radio(key="compare.grid.backend").value == "local"          # the default
    at.radio(key="compare.grid.backend").set_value("ray").run()
    at.text_input(key="compare.grid.address").set_value(cluster.address).run()
    assert not at.error and queue.backend(root) == ("local", "auto")      # the queue moves only with runs
    queue_two_from_the_page(at)
    assert queue.backend(root) == ("ray", cluster.address)
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    wait_until(lambda: all(read_status(f)["state"] == "finished" for f in folders), 120,
               lambda: [read_status(f) for f in folders])
    assert all(json.loads((f / "launcher.json").read_text())["backend"] == "ray" for f in folders)
    assert grid_form(root, monkeypatch).radio(key="compare.grid.backend").value == "ray"   # kept


def test_the_grid_form_says_why_the_cluster_cannot_take_runs(tmp_path, monkeypatch):
    root, address = tmp_path / "runs", f"127.0.0.1:{free_port()}"
    at = grid_form(root, monkeypatch)
    at.radio(key="compare.grid.backend").set_value("ray").run()
    at.text_input(key="compare.grid.address").set_value(address).run()
    assert [e.value for e in at.error] == [f"cannot reach the Ray cluster at {address}: Connection refused"]
    queue_two_from_the_page(at)
    wait_until(lambda: queue.backend_problem(root), 60, lambda: "the worker recorded no problem")
    assert [e.value for e in grid_form(root, monkeypatch).error] == [   # a later visit: the worker's word
        f"The queue could not use the cluster: cannot reach the Ray cluster at {address}: Connection refused; "
        "its runs stay queued."]
    assert len(queue.pending(root)) == 2
    monkeypatch.setitem(sys.modules, "ray", None)
    assert [e.value for e in grid_form(root, monkeypatch).error] == [
        'Ray is not installed here: pip install "ray==2.60.0"']
