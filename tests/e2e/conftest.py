"""Real-browser fixtures: Debian's chromium driven by Playwright, against `streamlit run app.py`.

No browser is ever downloaded: Playwright launches ``/usr/bin/chromium`` (``executable_path``).
When it is missing the test FAILS with what to install, unless ``TRIALFINDER_SKIP_E2E=1``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.conftest import build_snapshot

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("TRIALFINDER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
STARTUP_TIMEOUT_S = 90


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if os.environ.get("TRIALFINDER_SKIP_E2E") == "1":
        pytest.skip("TRIALFINDER_SKIP_E2E=1: browser tests skipped on purpose")
    if not CHROMIUM.exists():
        pytest.fail(
            f"Debian's chromium is not installed at {CHROMIUM}: run `sudo apt-get install -y chromium` "
            "(scripts/bootstrap --test does it), or set TRIALFINDER_SKIP_E2E=1 to skip browser tests. "
            "Never use `playwright install`.",
            pytrace=False,
        )
    return CHROMIUM


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"streamlit did not become healthy in {STARTUP_TIMEOUT_S}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def e2e_data_dir(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("e2e-snapshot")
    mp = pytest.MonkeyPatch()
    mp.setenv("TRIALFINDER_DATA_DIR", str(base / "data"))
    try:
        return build_snapshot(shared_dir, base, mode="recorded-demo")
    finally:
        mp.undo()


def serve_app(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamlit run app.py` headless on a free port over ``data_dir``; yields its URL once healthy
    and stops it when the generator closes. Shared by the e2e and the hostile-content browser tests."""
    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit-log") / "streamlit.log"
    env = {
        **os.environ,
        "TRIALFINDER_DATA_DIR": str(data_dir),
        "TRIALFINDER_API_URL": "http://127.0.0.1:9/api/v2",
    }
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def app_url(e2e_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamlit run app.py` headless on a free port, healthy; stopped at the end of the session."""
    yield from serve_app(e2e_data_dir, tmp_path_factory)


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
