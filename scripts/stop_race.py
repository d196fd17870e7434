"""How often a Stop clicked as a run starts training is lost: the race of QA round 11.

    PYTHONPATH=. LMCORE_DATA_DIR=../shared/data .venv/bin/python scripts/stop_race.py RUNS_DIR 1600,1800,2000

For each delay (ms), it opens Train on `tiny` (2 epochs), presses Start, waits that long after
Stop appears, presses Stop, and reads status.json 6 s later: still `running` is a lost click (the
run is then stopped with SIGTERM). A slow start can also read `running` at step 0: look at the
run's log before counting it. Needs chromium and Playwright, as the browser tests do. Before Stop
acted in an on_click callback, 5 of 8 clicks at about 2 s were lost; after, 1 of 46.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser import chromium, settle, streamlit_server, wait_app_idle  # noqa: E402


def state(root: Path, run: str) -> tuple:
    status = json.loads((root / run / "status.json").read_text())
    return status["state"], status.get("step")


def one_try(page, url: str, root: Path, name: str, delay: int) -> bool:
    """Start, then Stop `delay` ms after Stop appears; whether the click was lost."""
    page.goto(f"{url}/train?preset=tiny&epochs=2&name={name}")
    settle(page, "Start training")
    wait_app_idle(page)
    page.wait_for_timeout(300)
    started = time.time()
    page.get_by_role("button", name="Start training").click()
    stop = page.get_by_role("button", name="Stop")
    stop.wait_for(timeout=20_000)
    page.wait_for_timeout(delay)
    run = page.url.split("run=")[1].split("&")[0]
    before = state(root, run)
    stop.click()
    clicked = round(time.time() - started, 2)
    page.wait_for_timeout(6000)
    after = state(root, run)
    print(f"{name}: click at {clicked} s {before} -> {after}", flush=True)
    if after[0] == "running":
        subprocess.run(["pkill", "-TERM", "-f", run], check=False)
        time.sleep(3)
    return after[0] == "running"


def main() -> None:
    root = Path(sys.argv[1])
    root.mkdir(parents=True, exist_ok=True)
    delays = [int(x) for x in sys.argv[2].split(",")]
    with streamlit_server(root) as url, chromium() as browser:
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        lost = sum(one_try(page, url, root, f"rs{k}", delay) for k, delay in enumerate(delays))
    print(f"lost {lost} of {len(delays)}")


if __name__ == "__main__":
    main()
