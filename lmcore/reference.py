"""Reference runs shipped with the project (docs/results/runs/), read-only.

Each one is an ordinary run folder (the contract in docs/design.md) plus `reference.json`:
where, with what and how it was measured (see docs/results/README.md). They are listed
beside the user's runs but never written to: no resume, delete, stop or new samples.
Plain paths and dicts only, so any run summary can be built on top of them.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from .runs import PROJECT_ROOT, read_json

REFERENCE_FILE = "reference.json"


def reference_dir() -> Path:
    """$LMCORE_REFERENCE_DIR (tests point it elsewhere), else docs/results/runs/ in the project."""
    return _resolved(os.environ.get("LMCORE_REFERENCE_DIR") or str(PROJECT_ROOT / "docs" / "results" / "runs"))


@functools.lru_cache(maxsize=8)
def _resolved(path: str) -> Path:
    """A path with its links resolved, once: is_reference asks for every folder a page lists, and
    resolving the same path again each time was a third of listing 300 runs (QA round 16)."""
    return Path(path).expanduser().resolve()


def reference_info(folder: Path) -> dict:
    """The folder's reference.json, or {} when it is missing or unreadable."""
    info = read_json(Path(folder) / REFERENCE_FILE)
    return info if isinstance(info, dict) else {}


def reference_folders() -> list[Path]:
    """The run folders under reference_dir(), by name; [] when the folder is missing (an
    installed copy without docs/)."""
    root = reference_dir()
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def list_reference_runs() -> list[dict]:
    """One {"id", "path", "reference"} per reference_folders() entry, by name."""
    return [{"id": folder.name, "path": folder, "reference": reference_info(folder)} for folder in reference_folders()]


def is_reference(folder: str | os.PathLike) -> bool:
    """True for the reference folder and anything under it (symlinks resolved), so a page
    can refuse to write there whatever path it was given."""
    return Path(folder).expanduser().resolve().is_relative_to(reference_dir())
