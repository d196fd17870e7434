"""JSON Lines logs (metrics.jsonl, samples.jsonl): appended a flushed line at a time by the
trainer, read incrementally by pages, cut back by resume. Readers never raise on a torn or
garbage line: the writer may be mid-line, and a crash may leave half a line behind."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def json_count(value) -> int | None:
    """A JSON value as a whole count, None when it is not one (a bool is not)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def json_number(value, default: float | None = None) -> float | None:
    """A JSON value as a float, `default` when it is not a number (a bool is not): a hand-edited or
    older run file may hold a string or null where a number belongs."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


METRIC_KINDS = ("train", "val", "test")


def is_metric(record) -> bool:
    """Whether a metrics.jsonl record is one the trainer could have written: a known kind, a whole
    step and epoch, a numeric perplexity. A line edited by hand or by another tool, e.g.
    `{"kind": "val", "step": "abc"}`, is skipped by every reader: it showed Generate and Compare a
    traceback, and Train a retry that never succeeded (QA round 13)."""
    return (isinstance(record, dict) and record.get("kind") in METRIC_KINDS
            and json_count(record.get("step")) is not None and json_count(record.get("epoch")) is not None
            and json_number(record.get("ppl")) is not None)


def read_metrics(path: Path) -> list[dict]:
    """The metric records of a metrics.jsonl (is_metric), oldest first."""
    return [record for record in read_jsonl(path) if is_metric(record)]


def append_jsonl(path: Path, record: dict) -> None:
    with open(path, "a") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()


def rewind_to_step(path: Path, step: int) -> None:
    """Cut a JSONL log back to what a checkpoint at `step` knew, so a resume goes on from it with no
    step held twice and none going backwards: every record past `step` goes, and so does a test line
    (only a run's end writes one, after its last checkpoint: the resumed run writes it again). A record
    that a later one at a lower step supersedes goes too (an attempt killed after the log was cut
    short, followed by a resume's lines). A torn last line goes; other lines that are no record
    (readers skip them) stay where they are. The cut used to count lines, which a log deleted and
    recreated by the trainer no longer matched: the killed attempt's lines stayed, and the resume's
    went after them, 42 steps twice (QA round 17)."""
    if not path.exists():
        return
    data = path.read_bytes()
    lines = data.split(b"\n")[:-1]   # the last piece is empty, or a torn line
    kept = _rewound(lines, step)
    new = b"".join(line + b"\n" for line in kept)
    if new == data:
        return
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(new)
    os.replace(temp, path)


def _rewound(lines: list[bytes], step: int) -> list[bytes]:
    kept: list[tuple[bytes, tuple | None]] = []
    placed: list[int] = []   # where in `kept` the records with a step are, in order
    for line in lines:
        place = _place(line)
        if place is not None and (place[0] > step or place[1] == "test"):
            continue
        if place is not None:
            while placed and _supersedes(place, kept[placed[-1]][1]):
                kept[placed.pop()] = (b"", None)
            placed.append(len(kept))
        kept.append((line, place))
    return [line for line, _ in kept if line]


def _place(line: bytes) -> tuple | None:
    """(step, kind) of a record line (kind None in samples.jsonl), None for a line that is no record."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    step = json_count(record.get("step")) if isinstance(record, dict) else None
    return None if step is None else (step, record.get("kind"))


def _supersedes(later: tuple, earlier: tuple) -> bool:
    """Whether a later record makes an earlier one a killed attempt's: it goes back past it, or repeats
    its kind at its step."""
    return earlier[0] > later[0] or earlier == later


def read_jsonl(path: Path) -> list[dict]:
    """Every complete, parseable line; a torn last line or garbage line is skipped."""
    return MetricsTail(path).read_new()


class MetricsTail:
    """Reads a JSONL log incrementally: each call returns only lines added since the last.

    A trailing line without its newline is left for the next call (the writer may be
    mid-write). If the file was replaced or shrank (a resume cut it back), reading starts over.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset = 0
        self.records: list[dict] = []
        self.restarts = 0  # times the file was replaced or cut back under the reader
        self.inode = None

    def read_new(self) -> list[dict]:
        try:
            stat = self.path.stat()
        except OSError:
            return []
        size = stat.st_size
        # A resume rewrites the file through a rename: a new inode means start over.
        if size < self.offset or (self.inode is not None and stat.st_ino != self.inode):
            self.offset, self.records = 0, []
            self.restarts += 1
        self.inode = stat.st_ino
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read(size - self.offset)
        end = chunk.rfind(b"\n") + 1
        self.offset += end
        new = json_objects(chunk[:end].splitlines())
        self.records.extend(new)
        return new

    def read_all(self) -> list[dict]:
        self.read_new()
        return self.records


def json_objects(lines) -> list[dict]:
    """The lines that parse as JSON objects, in order; a torn or foreign line is skipped."""
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
