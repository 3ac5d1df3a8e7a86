"""Shared fixtures. The network is blocked for every test (pytest-socket, `--allow-hosts` in
pyproject.toml): only loopback connections, i.e. the local replay server, are allowed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _shared_dir() -> Path:
    env = os.environ.get("TRIALFINDER_RECORDED_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "ctgov"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The recorded ClinicalTrials.gov data (``../shared/ctgov``); never copied into the repo."""
    d = _shared_dir()
    if not (d / "v2" / "studies").is_dir():
        pytest.fail(f"recorded data not found at {d}: put the shared folder beside the checkout")
    return d


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may touch the user's real data directory or the public API."""
    monkeypatch.setenv("TRIALFINDER_DATA_DIR", str(tmp_path / "tf-data"))
    monkeypatch.setenv("TRIALFINDER_API_URL", "http://127.0.0.1:9/api/v2")
