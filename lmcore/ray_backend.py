"""The queue on a Ray cluster (docs/ray.md): each queued run becomes one Ray task that trains
in its Ray worker process (lmcore.session.run), so the trainer dies with the worker and a
retried task can never meet a trainer that outlived its node.

The queue worker (`python -m lmcore queue`) is the Ray driver: it owns the tasks and stays
until they end. Run folders must sit on storage every node mounts at the same path (the
runs directory on NFS, say): the trainer writes them where it runs, the app reads them here.

A task that loses its worker or node (kill -9, a node gone) is retried by Ray (MAX_RETRIES);
the retry resumes from the run's last checkpoint and cuts the logs back to what that
checkpoint knew, so no metric line is lost or doubled. Ray is optional: only this module
imports it, and only when the `ray` backend is chosen.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

from . import locks
from .errors import LmcoreError
from .launch import attempt_line, refuse_if_training
from .runs import LAUNCHER, PROJECT_ROOT, STOP_REQUEST, read_config, read_json, record_launch, write_json_atomic

INSTALL = 'pip install "ray==2.60.0"'
# Two eager book runs sharing one H200 cost each other about 10% (issue 12, book +
# variational-medium): an eager step leaves the GPU idle between launches, and the other run fills
# the gaps, so an eager run asks for half a GPU. A CUDA-graphed step keeps it busy: four graphed
# runs sharing one made 166k tokens/s in all, one alone 201k (docs/performance.md), so a graphed
# run asks for a whole one.
GPU_SHARE = 0.5
GRAPHED_GPU_SHARE = 1.0
MAX_RETRIES = 3          # retries after a worker or node dies; each resumes from the checkpoint
CONNECT_SECONDS = 5.0    # ray.init waits minutes for an address where nothing listens: probe first


class BackendError(LmcoreError):
    """The cluster cannot take the queue's runs now (unreachable, not enough resources)."""


def require_ray():
    try:
        import ray
    except ImportError:
        raise BackendError(f"the ray backend needs Ray, which is not installed here: {INSTALL}") from None
    return ray


def _probe(address: str) -> None:
    """A one-line BackendError unless something listens at HOST:PORT ('auto' is Ray's to find)."""
    if address == "auto":
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise BackendError(f"Ray address {address!r}: expected auto or HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as error:
        raise BackendError(f"cannot reach the Ray cluster at {address}: {error.strerror or error}") from None


def installed() -> bool:
    """Whether Ray can be imported here, without importing it (pages ask on every rerun)."""
    return importlib.util.find_spec("ray") is not None


def check(address: str) -> None:
    """Fail in one line, before any run is handed over, when Ray is missing or nothing listens."""
    if not installed():
        require_ray()  # its one-line message
    _probe(address)


def connect(address: str):
    """The ray module, connected to the cluster at `address`; a one-line BackendError if not."""
    ray = require_ray()
    if ray.is_initialized():
        return ray
    _probe(address)
    # Workers import lmcore from the project's folder (same path on every node, like the runs).
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    if os.environ.get("LMCORE_DATA_DIR"):
        env["LMCORE_DATA_DIR"] = os.environ["LMCORE_DATA_DIR"]
    try:
        ray.init(address=address, log_to_driver=False, logging_level="ERROR",
                 runtime_env={"env_vars": env})
    except (ConnectionError, RuntimeError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise BackendError(f"cannot connect to the Ray cluster at {address}: {reason}") from None
    return ray


def resources(config: dict, gpu_nodes: bool) -> dict:
    """What one run asks Ray for: CPUs = its threads (1 when it takes what it finds), and a GPU for
    a cuda run, or an auto run on a cluster with GPUs (a cuda run on a cluster without any then
    fails in one line: no node can hold it): a whole one when its steps are CUDA graphs
    (cuda_graphs auto or on, the default), half of one when they run eagerly."""
    device = config.get("device")
    on_gpu = device == "cuda" or (device == "auto" and gpu_nodes)
    share = GPU_SHARE if config.get("cuda_graphs") == "off" else GRAPHED_GPU_SHARE
    return {"num_cpus": config.get("threads") or 1, "num_gpus": share if on_gpu else 0}


def _largest_node(ray) -> dict:
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    return {"CPU": max((n.get("CPU", 0) for n in nodes), default=0),
            "GPU": max((n.get("GPU", 0) for n in nodes), default=0)}


def check_fits(ray, folder: Path, asked: dict) -> None:
    """A BackendError when no node of the cluster could ever hold the run (Ray would wait forever)."""
    largest = _largest_node(ray)
    if asked["num_cpus"] > largest["CPU"] or asked["num_gpus"] > largest["GPU"]:
        raise BackendError(f"{folder.name} asks for {asked['num_cpus']} CPU and {asked['num_gpus']} GPU; "
                           f"the largest node of the cluster has {largest['CPU']:g} CPU and "
                           f"{largest['GPU']:g} GPU (lower threads, or add nodes)")


def lmcore_train(folder: str) -> dict:
    """The Ray task. Its name makes the worker's title `ray::lmcore_train`, which runs.pid_alive
    recognises as a training process; Ray, not a signal handler, owns this worker's SIGTERM."""
    from .session import run, say_on_stderr

    with _output_into(Path(folder) / "log.txt"):
        return run(Path(folder), show_progress=False, handle_signals=False, say=say_on_stderr)


@contextmanager
def _output_into(log: Path):
    """The worker's stdout and stderr go to the run's log.txt while it trains, after an attempt
    line, as a local launch's do (pages show the current attempt's tail when a run fails)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "a") as handle:
        handle.write(attempt_line())
        handle.flush()
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        try:
            yield
        except BaseException:
            traceback.print_exc()
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in zip((1, 2), saved):
                os.dup2(copy, fd)
                os.close(copy)


def submit(ray, folder: Path, gpu_nodes: bool):
    """Start `folder`'s run as a Ray task (it stays queued until the cluster has room); its ref."""
    asked = resources(read_config(folder) or {}, gpu_nodes)
    check_fits(ray, folder, asked)
    # The driver's own pid, before the task can start: the run reads as queued while the driver
    # lives (runs.read_status), and a trainer's first status is always newer than this.
    with locks.launching(folder):  # a page may be starting this very run here (launch.launch)
        refuse_if_training(folder)
        (folder / STOP_REQUEST).unlink(missing_ok=True)  # stale: no trainer is alive to have been asked
        record_launch(folder, os.getpid(), backend="ray")
    task = ray.remote(lmcore_train).options(max_retries=MAX_RETRIES, retry_exceptions=False, **asked)
    return task.remote(str(folder))


def drain(ray, root: Path, pending, limit, report, poll: float = 1.0) -> None:
    """Start pending(root) runs on the cluster, at most limit(root) in flight, until none is left
    and every task has ended (the driver owns them: leaving early would end them).

    A run no node can hold is reported (report(message)) and stops further submissions; the
    runs in flight finish, then BackendError is raised with the rest still queued.
    """
    gpu_nodes = _largest_node(ray)["GPU"] > 0
    flying: dict = {}  # ObjectRef -> run folder
    problem = None
    while True:
        for ref in ray.wait(list(flying), num_returns=len(flying), timeout=0)[0] if flying else []:
            _settle(ray, ref, flying.pop(ref))
        started = set(flying.values())
        waiting = [] if problem else [folder for folder in pending(root) if folder not in started]
        if not waiting and not flying:
            if problem:
                raise problem
            return
        if waiting and len(flying) < limit(root):
            try:
                flying[submit(ray, waiting[0], gpu_nodes)] = waiting[0]
            except locks.AlreadyTraining:  # started elsewhere since pending() listed it
                pass
            except BackendError as error:
                problem = error
                report(str(error))
            continue
        if flying:
            ray.wait(list(flying), num_returns=1, timeout=poll)
        else:
            time.sleep(poll)


def _settle(ray, ref, folder: Path) -> None:
    """A task that ended: its outcome is in the run's status (the trainer wrote it). The driver
    notes the end in its launcher.json, so a trainer dead for good reads as failed, no longer
    as waiting for a retry (runs.read_status)."""
    try:
        ray.get(ref)
    except Exception:  # noqa: BLE001 - any task error: the run folder says what happened
        pass
    launched = read_json(folder / LAUNCHER)
    if isinstance(launched, dict):
        write_json_atomic(folder / LAUNCHER, {**launched, "ended_at": time.time()})
