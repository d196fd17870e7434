"""PTB lookup, download and verification, against a local HTTP server (never the internet)."""

import functools
import hashlib
import http.server
import io
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import ROOT, free_port
from lmcore import ptb
from lmcore.errors import DataError


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def copy_ptb(ptb_dir):
    """copy_ptb(dest): the session's verified PTB files copied into dest."""
    def copy(dest: Path) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        for name in ptb.PTB_MD5:
            shutil.copyfile(ptb_dir / name, dest / name)  # copyfile: writable, unlike the source
        return dest
    return copy


def corrupt(path: Path) -> None:
    """Same size, altered bytes: only the checksum can tell."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if not self.path.startswith("/cutoff/"):
            return super().do_GET()
        # Promise more bytes than are sent, then hang up: a dropped connection mid-file.
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"x" * 40000)
        self.close_connection = True


@pytest.fixture(scope="module")
def server(tmp_path_factory, copy_ptb):
    """Base URL of a server with good/, truncated/ and wrong/ copies of the three files."""
    root = tmp_path_factory.mktemp("www")
    copy_ptb(root / "good")
    truncated = copy_ptb(root / "truncated") / "ptb.train.txt"
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    corrupt(copy_ptb(root / "wrong") / "ptb.train.txt")
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """Every test gets its own empty cache, no data dir, and no way to the real URL."""
    for var in ("LMCORE_DATA_DIR", "LMCORE_PTB_URL", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LMCORE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(ptb, "DEFAULT_BASE_URL", "http://127.0.0.1:9/never-used/")


def test_download_verifies_and_reports_progress(server, tmp_path, ptb_dir):
    calls = []
    dest = ptb.download_ptb(server + "good", tmp_path / "dl", lambda *a: calls.append(a))
    assert dest == tmp_path / "dl"
    for name, expected in ptb.PTB_MD5.items():
        assert md5(dest / name) == expected
        seen = [(done, total) for n, done, total in calls if n == name]
        size = (ptb_dir / name).stat().st_size
        assert len(seen) > 2 and all(total == size for _, total in seen)
        dones = [done for done, _ in seen]
        assert dones == sorted(dones) and dones[0] == 0 and dones[-1] == size
    assert leftovers(dest) == []


@pytest.mark.parametrize("kind", ["truncated", "wrong"])
def test_bad_download_is_rejected_and_cleaned_up(server, tmp_path, kind):
    dest = tmp_path / "dl"
    with pytest.raises(DataError, match=r"ptb\.train\.txt.*(truncated or wrong)") as info:
        ptb.download_ptb(server + kind, dest)
    assert ptb.PTB_MD5["ptb.train.txt"] in str(info.value)
    assert not (dest / "ptb.train.txt").exists()
    assert leftovers(dest) == []


def test_connection_cut_mid_file_is_rejected(server, tmp_path):
    with pytest.raises(DataError, match=r"ptb\.train\.txt.*cut off after 40000 bytes"):
        ptb.download_ptb(server + "cutoff", tmp_path / "dl")
    assert list((tmp_path / "dl").iterdir()) == []


def test_unreachable_url_says_so(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/data/"
    with pytest.raises(DataError, match="could not reach") as info:
        ptb.download_ptb(url, tmp_path / "dl", timeout=5)
    assert "synthetic" in str(info.value) and url in str(info.value)
    assert leftovers(tmp_path / "dl") == []


def test_http_error_names_status(server, tmp_path):
    with pytest.raises(DataError, match="HTTP 404"):
        ptb.download_ptb(server + "missing", tmp_path / "dl")


def test_find_ptb_uses_a_relative_data_dir(monkeypatch, tmp_path, copy_ptb):
    shared = copy_ptb(tmp_path / "shared" / "data" / "ptb")
    (tmp_path / "main").mkdir()
    monkeypatch.chdir(tmp_path / "main")
    monkeypatch.setenv("LMCORE_DATA_DIR", "../shared/data")  # how CI sets it
    found = ptb.find_ptb()
    assert found == shared
    assert ptb.ptb_paths(found)["train"].name == "ptb.train.txt"
    assert ptb.ptb_status() == {"available": True, "path": str(found), "problem": None}


def test_corrupt_data_dir_is_named_and_never_used(monkeypatch, tmp_path, copy_ptb):
    corrupt(copy_ptb(tmp_path / "data" / "ptb") / "ptb.test.txt")
    copy_ptb(tmp_path / "cache" / "ptb")  # a good cache must not hide the bad data dir
    monkeypatch.setenv("LMCORE_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(DataError, match=r"corrupt or truncated.*ptb\.test\.txt"):
        ptb.find_ptb()
    with pytest.raises(DataError, match=r"ptb\.test\.txt"):
        ptb.ensure_ptb()
    status = ptb.ptb_status()
    assert status["available"] is False and "ptb.test.txt" in status["problem"]


def test_incomplete_data_dir_names_missing_file(monkeypatch, tmp_path, copy_ptb):
    (copy_ptb(tmp_path / "data" / "ptb") / "ptb.valid.txt").unlink()
    monkeypatch.setenv("LMCORE_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(DataError, match=r"incomplete.*ptb\.valid\.txt"):
        ptb.find_ptb()


def test_lookup_order_data_dir_before_cache(monkeypatch, tmp_path, copy_ptb):
    data, cache = copy_ptb(tmp_path / "data" / "ptb"), copy_ptb(tmp_path / "cache" / "ptb")
    assert ptb.find_ptb() == cache
    monkeypatch.setenv("LMCORE_DATA_DIR", str(tmp_path / "data"))
    assert ptb.data_dir_candidates() == [data, cache]
    assert ptb.find_ptb() == data == ptb.ensure_ptb(download=False)


def test_cache_dir_defaults_to_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("LMCORE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ptb.data_dir_candidates() == [tmp_path / "xdg" / "lmcore" / "ptb"]


def test_status_when_absent_never_raises():
    status = ptb.ptb_status()
    assert status["available"] is False and status["path"] is None
    assert "not found" in status["problem"]
    assert ptb.find_ptb() is None


def test_ensure_downloads_into_cache_then_reuses_it(monkeypatch, server, tmp_path):
    with pytest.raises(DataError, match="downloads are off"):
        ptb.ensure_ptb(download=False)
    monkeypatch.setenv("LMCORE_PTB_URL", server + "good")
    folder = ptb.ensure_ptb()
    assert folder == tmp_path / "cache" / "ptb"
    monkeypatch.setenv("LMCORE_PTB_URL", f"http://127.0.0.1:{free_port()}/")
    assert ptb.ensure_ptb() == folder  # found again: no network needed


def test_corrupt_cache_is_refetched_or_reported(monkeypatch, server, tmp_path, copy_ptb):
    cache = copy_ptb(tmp_path / "cache" / "ptb")
    corrupt(cache / "ptb.valid.txt")
    with pytest.raises(DataError, match=r"cache is corrupt.*ptb\.valid\.txt.*delete it"):
        ptb.ensure_ptb(download=False)
    assert "ptb.valid.txt" in ptb.ptb_status()["problem"]
    monkeypatch.setenv("LMCORE_PTB_URL", server + "good")
    assert ptb.ensure_ptb() == cache
    assert md5(cache / "ptb.valid.txt") == ptb.PTB_MD5["ptb.valid.txt"]


def test_bad_download_keeps_nothing_under_final_name_in_cache(monkeypatch, server, tmp_path):
    monkeypatch.setenv("LMCORE_PTB_URL", server + "wrong")
    with pytest.raises(DataError, match=r"ptb\.train\.txt"):
        ptb.ensure_ptb()
    cache = tmp_path / "cache" / "ptb"
    assert not (cache / "ptb.train.txt").exists() and leftovers(cache) == []
    assert ptb.find_ptb() is None


def test_md5_cache_follows_file_changes(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"abcd")
    first = ptb._md5(path)
    path.write_bytes(b"abce")
    os.utime(path, ns=(1, 1))  # force a different mtime even on coarse clocks
    assert ptb._md5(path) != first == hashlib.md5(b"abcd").hexdigest()


def test_stderr_progress_without_tty_prints_every_tenth(capsys):
    report = ptb.stderr_progress()
    for done in range(0, 5_100_001, 100_000):
        report("ptb.train.txt", done, 5_100_000)
    lines = capsys.readouterr().err.splitlines()
    assert 10 <= len(lines) <= 12
    assert lines[-1] == "ptb.train.txt  100% 5.1/5.1 MB"
    report("ptb.train.txt", 2_300_000, 5_100_000)  # already past 40%: stays quiet
    assert capsys.readouterr().err == ""
    fresh = ptb.stderr_progress()
    fresh("ptb.train.txt", 2_300_000, 5_100_000)
    assert capsys.readouterr().err == "ptb.train.txt  45% 2.3/5.1 MB\n"


def test_stderr_progress_on_tty_redraws_one_line(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", Tty())
    report = ptb.stderr_progress()
    for done in (0, 500_000, 1_000_000):
        report("ptb.valid.txt", done, 1_000_000)
    out = sys.stderr.getvalue()
    assert out == "\rptb.valid.txt  0% 0.0/1.0 MB\rptb.valid.txt  50% 0.5/1.0 MB" \
        "\rptb.valid.txt  100% 1.0/1.0 MB\n"


def test_find_ptb_dir_looks_in_data_dir_then_cache_then_extra_roots(monkeypatch, tmp_path, copy_ptb):
    data, cache = copy_ptb(tmp_path / "data" / "ptb"), copy_ptb(tmp_path / "cache" / "ptb")
    extra = copy_ptb(tmp_path / "shared" / "data" / "ptb")
    roots = [tmp_path / "empty", tmp_path / "shared" / "data"]  # a root without a copy is passed over
    monkeypatch.setenv("LMCORE_DATA_DIR", str(tmp_path / "data"))
    assert ptb.find_ptb_dir(roots) == data
    monkeypatch.delenv("LMCORE_DATA_DIR")
    assert ptb.find_ptb_dir(roots) == cache
    shutil.rmtree(cache)
    assert ptb.find_ptb_dir(roots) == extra
    assert ptb.find_ptb_dir() is None and ptb.find_ptb_dir([tmp_path / "empty"]) is None


def test_find_ptb_dir_names_a_corrupt_extra_copy(tmp_path, copy_ptb):
    corrupt(copy_ptb(tmp_path / "shared" / "data" / "ptb") / "ptb.valid.txt")
    with pytest.raises(DataError, match=r"corrupt or truncated.*ptb\.valid\.txt") as info:
        ptb.find_ptb_dir([tmp_path / "shared" / "data"])
    assert "LMCORE_DATA_DIR" not in str(info.value)  # unsetting it would not help


NEEDS_PTB = '''
from lmcore.ptb import ensure_ptb


def test_reads_ptb():
    assert ensure_ptb().name == "ptb"


def test_small_config(small_config):
    assert small_config.dataset == "ptb"


def test_needs_nothing():
    pass


def test_ptb_unrelated_bug():
    assert 1 + 1 == 3
'''


def run_fake_checkout(tmp_path: Path, url: str):
    """pytest with this project's conftest in a checkout that has no ../shared beside it."""
    tests = tmp_path / "checkout" / "tests"
    tests.mkdir(parents=True)
    (tmp_path / "checkout" / "pytest.ini").write_text("[pytest]\n")
    shutil.copyfile(ROOT / "tests" / "conftest.py", tests / "conftest.py")
    (tests / "test_needs_ptb.py").write_text(NEEDS_PTB)
    # CI=true makes pytest print its short summary untruncated: -rN leaves it out, so the lines
    # counted below are the tests' own and the conftest's, in CI as here.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LMCORE_", "XDG_"))}
    env.update(PYTHONPATH=str(ROOT), LMCORE_CACHE_DIR=str(tmp_path / "cache"), LMCORE_PTB_URL=url)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rN", "-p", "no:cacheprovider", str(tests)],
                          cwd=tmp_path / "checkout", env=env, capture_output=True, text=True, timeout=300)


def test_without_any_copy_the_ptb_tests_fail_with_one_clear_reason(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/data/"
    done = run_fake_checkout(tmp_path, url)
    out = done.stdout + done.stderr
    assert done.returncode == 1 and "2 failed, 1 passed, 1 error" in out, out  # the error: at setup
    reason = f"PTB is unavailable: could not reach {url}ptb.train.txt"
    assert out.count(reason) == 2 and out.count("could not reach") == 3  # each test, then the summary
    assert "Traceback" not in out and "DataError" not in out
    assert "assert (1 + 1) == 3" in out  # a failure of its own keeps its trace


def test_the_test_setup_downloads_ptb_once_into_the_cache(tmp_path, server):
    done = run_fake_checkout(tmp_path, server + "good")
    assert done.returncode == 1 and "1 failed, 3 passed" in done.stdout, done.stdout + done.stderr
    assert ptb.find_ptb_dir() == tmp_path / "cache" / "ptb"  # clean_env points the cache there too
