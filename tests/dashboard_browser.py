"""Drive `curate dashboard` in a real browser: headless Chromium (Debian's ``chromium`` package) through
Playwright, which is never asked to download a browser of its own.

Shared by the browser tests (tests/test_dashboard_browser.py) and the dashboard benchmark (bench/dashboard.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import httpx

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-dev-shm-usage"]
VIEWPORT = {"width": 1400, "height": 1000}
ROOT = Path(__file__).resolve().parents[1]


def chromium() -> str | None:
    """The Chromium executable: ``CURATE_CHROMIUM``, else Debian's (or another distribution's) on the PATH."""
    configured = os.environ.get("CURATE_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def missing() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    if find_spec("playwright") is None:
        return "the Python package playwright is not installed (pip install 'curate[dev]')"
    if chromium() is None:
        return "no Chromium found (apt-get install chromium, or set CURATE_CHROMIUM)"
    return None


def fonts_config(folder: Path) -> Path:
    """A fontconfig file that adds the CJK fonts curate's figure packages ship (IPAexGothic, NanumGothic) to
    the system's: Hangul, kana and kanji then render in screenshots on a machine without CJK fonts."""
    dirs = []
    for pkg, sub in (("matplotlib_fontja", "fonts"), ("koreanize_matplotlib", "fonts")):
        spec = find_spec(pkg)
        if spec and spec.submodule_search_locations:
            d = Path(next(iter(spec.submodule_search_locations))) / sub
            if d.is_dir():
                dirs.append(f"<dir>{d}</dir>")
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "fonts.conf"
    conf.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                    '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>' + "".join(dirs)
                    + f"<cachedir>{folder / 'cache'}</cachedir></fontconfig>", encoding="utf-8")
    return conf


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_dashboard(db: Path, *args: str, timeout_s: float = 90.0, log: Path | None = None) -> Iterator[str]:
    """`curate dashboard --db DB` on a free loopback port until the block ends; yields its URL."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_ENDPOINT": "http://127.0.0.1:9"}
    env.pop("CURATE_DB", None)
    out = log.open("wb") if log else subprocess.DEVNULL
    child = subprocess.Popen([sys.executable, "-m", "curate", "dashboard", "--db", str(db), "--port", str(port), *args],
                             cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if child.poll() is not None:
                raise RuntimeError(f"curate dashboard exited with {child.returncode}" + (f"; see {log}" if log else ""))
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).text.strip() == "ok":
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"curate dashboard did not answer within {timeout_s:g} s")
            time.sleep(0.2)
        yield url
    finally:
        child.send_signal(signal.SIGTERM)  # curate passes it on to Streamlit
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=5)
        if log:
            out.close()  # type: ignore[union-attr]


@contextmanager
def browser(folder: Path) -> Iterator[Any]:
    """One headless Chromium page (Playwright), with curate's CJK fonts available."""
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "FONTCONFIG_FILE": str(fonts_config(folder / "fontconfig"))}
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS, env=env)
        try:
            page = b.new_page(viewport=VIEWPORT)
            page.set_default_timeout(60_000)
            yield page
        finally:
            b.close()


def settle(page: Any, timeout_s: float = 90.0, started_within_s: float = 2.0) -> None:
    """Wait until Streamlit has run the script (after a navigation or a click) and nothing on the page is stale."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with suppress(PlaywrightTimeout):  # a fast run can be over before we look: then it is already notRunning
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="running"]',
                               timeout=started_within_s * 1000)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_s * 1000)
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=timeout_s * 1000)


def charts_drawn(page: Any, timeout_s: float = 30.0) -> None:
    """Wait until every Vega chart on the page has drawn its marks."""
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=stVegaLiteChart] svg.marks').length >= "
        "document.querySelectorAll('[data-testid=stVegaLiteChart]').length", timeout=timeout_s * 1000)


def timed(action: Any, page: Any, charts: bool = True, ready: str | None = None) -> float:
    """Seconds from ``action()`` (a navigation, a click) until the page has settled, ``ready`` (a selector) is
    there, and its charts are drawn."""
    t0 = time.perf_counter()
    action()
    settle(page)
    if ready:
        page.locator(ready).first.wait_for()
        settle(page)
    if charts:
        charts_drawn(page)
    return time.perf_counter() - t0


def exceptions(page: Any) -> list[str]:
    """The text of every Streamlit exception box on the page."""
    boxes = page.locator('[data-testid="stException"]')
    return [boxes.nth(i).inner_text() for i in range(boxes.count())]


def screenshot(page: Any, path: Path) -> Path:
    """The whole view (Streamlit scrolls inside its main block, so the viewport is grown to it first)."""
    height = page.evaluate("() => document.querySelector('[data-testid=stMainBlockContainer]').scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(int(height) + 120, 8000)})
    try:
        charts_drawn(page)
        page.wait_for_timeout(300)
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(VIEWPORT)
    return path


def write_timings(path: Path, timings: dict[str, float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: round(v, 3) for k, v in timings.items()}, indent=2) + "\n", encoding="utf-8")
