"""CPU threads for a training process: all the cores when it runs alone, a share when it does not.

Why this rule (a 2-core CPU, docs/performance.md "CPU threads"):
- A lone run is fastest the way PyTorch runs by default: one thread per core, and OpenMP's
  idle threads spinning a moment before they sleep. Passive waiting (threads sleep at once)
  cost a lone 2x200 run about a third on an idle machine (7,960 against 11,750 tokens/s,
  the median of three rounds of scripts/bench_threads.py).
- Runs that share the cores (the queue with concurrency > 1, an ablation grid, two classroom
  presets started together) must not oversubscribe them: threads that spin while another
  process needs the core, or more threads than cores, make every run several times slower.
  So each run takes cores // (training processes alive when it starts), at least one, and
  its idle threads wait passively.
- Other work counts too: with the cores already busy (other people's tests, a browser), a
  lone run with spinning threads measured 1.2 to 9.4 times slower than with passive ones in
  six rounds, and two started together about 8 times slower each than with this rule. So
  a run also waits passively when other tasks kept a core busy for most of a fifth of a
  second at its start (`busy_cores`: runnable tasks from /proc/loadavg, not the 1-minute average,
  which would still count the run a sequential queue just finished).

OpenMP reads OMP_WAIT_POLICY once, when torch loads it, so `python -m lmcore` decides it
first (`choose_wait_policy`) and this module never imports torch. The count is made twice
(for the wait policy before torch loads, for the thread count when the run starts); either
count is right for the moment it is made, and a run that starts later is seen by its own; a
training run also takes its share again every few seconds (session.Recorder.share_cores), so a run
that started alone gives up cores when a fork or a second run starts beside it.
Processes are found in /proc (a Python `-m lmcore train|resume|fork|bench` command line, whichever
runs folder it uses); without /proc (macOS) a run counts as alone. A config's `threads` > 0
is an explicit choice and always wins; so does an OMP_WAIT_POLICY already in the environment.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from .text import and_join

TRAINING_COMMANDS = ("train", "resume", "fork", "bench")  # fork trains its run by default; bench to time
WAIT_POLICY = "OMP_WAIT_POLICY"


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, as a container or taskset sets it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def is_training_command(argv: list[str]) -> bool:
    """`python [options] -m lmcore <command> ...` with a command that trains.

    Only a Python interpreter's own command line counts: `timeout 60 python -m lmcore train`
    is also the command line of `timeout`, which trains nothing.
    """
    if not argv or not Path(argv[0]).name.startswith("python"):
        return False
    for index in range(1, len(argv) - 2):
        if argv[index] == "-m" and argv[index + 1] == "lmcore":
            return argv[index + 2] in TRAINING_COMMANDS
    return False


def other_training_processes(proc: Path = Path("/proc"), own_pid: int | None = None) -> int:
    """Live training processes on this machine other than this one (0 without /proc)."""
    own_pid = os.getpid() if own_pid is None else own_pid
    count = 0
    for entry in proc.glob("[0-9]*"):
        if entry.name == str(own_pid):
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:  # ended while we looked, or not ours to read
            continue
        count += is_training_command(argv)  # a zombie's command line is empty: not counted
    return count


def runnable_tasks(proc: Path = Path("/proc")) -> int | None:
    """Tasks runnable this instant, this process included (None without /proc)."""
    try:
        return int((proc / "loadavg").read_text().split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        return None


def busy_cores(proc: Path = Path("/proc"), samples: int = 20, interval: float = 0.01) -> float:
    """Cores other tasks keep busy: the median number of runnable tasks, less this process,
    in `samples` looks over a fifth of a second (0 without /proc). The median, so a burst that
    covers less than half the looks (a page redraw) is not load; a test suite or another job
    is. (The fewest instead missed a load average of 3 on 2 cores two times in five.)"""
    others = []
    for sample in range(samples):
        running = runnable_tasks(proc)
        if running is None:
            return 0.0
        others.append(max(0, running - 1))
        if sample + 1 < samples:
            time.sleep(interval)
    return float(statistics.median(others))


def thread_count(requested: int, others: int, cores: int) -> int:
    """`requested` when set (> 0); else an equal share of the cores, at least one."""
    if requested > 0:
        return requested
    return max(1, cores // (others + 1))


def wait_policy(others: int, busy: float) -> str | None:
    """PASSIVE when other training or other work shares the cores; None keeps OpenMP's default."""
    return "PASSIVE" if others > 0 or busy >= 1 else None


def choose_wait_policy(command: str, environ=os.environ, others: int | None = None,
                       busy: float | None = None) -> str | None:
    """Set OMP_WAIT_POLICY for `python -m lmcore <command>` before torch loads; the policy in
    effect (None: OpenMP's default). A value already in the environment is the user's and stays.

    Only training commands choose. The others are short or compute nothing, and the queue
    worker's runs inherit its environment, where a choice made for it would pass for the
    user's; none of them pays the fifth of a second `busy_cores` takes.
    """
    if WAIT_POLICY in environ:
        return environ[WAIT_POLICY]
    if command not in TRAINING_COMMANDS:
        return None
    others = other_training_processes() if others is None else others
    if busy is None:
        busy = 0.0 if others else busy_cores()  # sharing is known already: skip the look
    policy = wait_policy(others, busy)
    if policy:
        environ[WAIT_POLICY] = policy
    return policy


# What a run trained with, in its status.json (docs/design.md, status.json extra keys). The count changes
# float rounding (docs/design.md, Reproducing a run), so a run's numbers can only be trained again bit for
# bit with the count it used; the wait policy changes speed only.
USED_KEY = "threads_used"


def recorded_threads(status: dict) -> tuple[int, ...]:
    """The intra-op thread counts a run's trainer trained with (status `threads_used`), smallest first;
    () for a run from before the key, one not started yet, or a value that is not a list of counts."""
    value = status.get(USED_KEY) if isinstance(status, dict) else None
    if not isinstance(value, list):
        return ()
    return tuple(sorted({n for n in value if isinstance(n, int) and not isinstance(n, bool) and n > 0}))


def with_threads(status: dict, count: int) -> list[int]:
    """status `threads_used` once the trainer trains with `count` threads too."""
    return sorted({*recorded_threads(status), count})


def threads_text(counts: tuple[int, ...]) -> str:
    """'1 thread', '2 threads', '1 and 2 threads' (a share that changed while it trained); '' for none."""
    if not counts:
        return ""
    return f"{and_join([str(n) for n in counts])} thread{'' if counts == (1,) else 's'}"
