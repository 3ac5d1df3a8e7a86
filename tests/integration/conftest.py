"""Fixtures for the integration tests: the real client over real HTTP against the replay server on
127.0.0.1 (the only host pytest-socket lets through)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from trialfinder.config import Settings
from trialfinder.ctgov.client import CtgovClient
from trialfinder.ctgov.replay import Fault, ReplayServer, StudyStore, load_store, running_server

StartReplay = Callable[..., ReplayServer]
MakeClient = Callable[..., CtgovClient]


@pytest.fixture(scope="session")
def studies_dir(shared_dir: Path) -> Path:
    return shared_dir / "v2" / "studies"


@functools.lru_cache(maxsize=4)
def shared_store(data_dir: Path) -> StudyStore:
    """The recorded studies of ``data_dir``, read once per process and shared by the servers over them."""
    return load_store(data_dir)


@pytest.fixture(scope="session")
def studies_store(studies_dir: Path) -> StudyStore:
    return shared_store(studies_dir)


@pytest.fixture(scope="session")
def clean_replay(studies_dir: Path, studies_store: StudyStore) -> Iterator[ReplayServer]:
    """One fault-free replay server over the 1,192 recorded studies, shared by the session."""
    with running_server(studies_dir, store=studies_store) as server:
        yield server


@pytest.fixture
def start_replay(studies_dir: Path) -> Iterator[StartReplay]:
    """Start a replay server (own faults, own data) for one test; stopped at teardown. Without
    ``data_dir`` it serves the shared, already loaded recorded studies."""
    with contextlib.ExitStack() as stack:

        def start(
            faults: Iterable[Fault | str] = (), data_dir: Path | None = None, **kw: Any
        ) -> ReplayServer:
            if data_dir is None:
                kw.setdefault("store", shared_store(studies_dir))
            return stack.enter_context(running_server(data_dir or studies_dir, faults, **kw))

        yield start


def fast_settings(api_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for tests: high rate limit, tiny backoff, short timeouts, no /studies caching."""
    values: dict[str, Any] = {
        "api_url": api_url,
        "data_dir": data_dir,
        "rate_limit_per_s": 1000.0,
        "backoff_factor_s": 0.01,
        "connect_timeout_s": 2.0,
        "read_timeout_s": 10.0,
        "max_retries": 3,
        "retry_after_cap_s": 5.0,
        "cache_expire_studies_s": 0,
        "cache_expire_study_s": 0,
        "cache_expire_version_s": 0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[MakeClient]:
    """Build a CtgovClient for a server with fast settings (overridable); closed at teardown."""
    clients: list[CtgovClient] = []

    def make(server: ReplayServer | str, **overrides: Any) -> CtgovClient:
        url = server if isinstance(server, str) else server.base_url
        client = CtgovClient(fast_settings(url, tmp_path / "tf-data", **overrides))
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()
