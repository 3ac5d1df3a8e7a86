"""Concurrency: two refreshes at once (real processes), and readers loading while refreshes swap the
pointer (old or new snapshot, never a mix)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import (
    FAST_ENV,
    Fingerprint,
    reliability_settings,
    snapshot_files,
    tmp_leftovers,
)
from trialfinder import store as store_mod
from trialfinder.ctgov.replay import ReplayServer
from trialfinder.errors import EX_TEMPFAIL, SnapshotError
from trialfinder.queries import SavedSearch
from trialfinder.refresh import LogProgress, refresh
from trialfinder.store import Snapshot, list_snapshots, load_current, load_snapshot

ROOT = Path(__file__).resolve().parents[2]
StartUrl = Callable[..., ReplayServer]


def _start_cli_refresh(
    data_dir: Path, server: ReplayServer, query: Path, pause: Path | None = None, **env: str
) -> subprocess.Popen[bytes]:
    """`trialfinder refresh` in a child process; with ``pause``, it stops before its commit, holding
    the refresh lock, until ``pause.go`` exists (see _crash_driver.py)."""
    full_env = {**os.environ, **FAST_ENV, "TRIALFINDER_API_URL": server.base_url, **env}
    args = ["--full", "--query", str(query), "--data-dir", str(data_dir)]
    if pause is None:
        cmd = [str(ROOT / ".venv" / "bin" / "trialfinder"), "refresh", *args]
    else:
        cmd = [sys.executable, "-m", "tests.reliability._crash_driver", "pause", str(pause), "--", *args]
    return subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    _out, err = proc.communicate(timeout=120)
    return proc.returncode, err.decode()


def _wait_paused(marker: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not marker.exists():  # the first refresh holds the lock and waits before its commit
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "the first refresh never reached its commit"
        time.sleep(0.01)


def _release(marker: Path) -> None:
    marker.with_name(marker.name + ".go").write_text("go", encoding="utf-8")


def assert_consistent(snap: Snapshot) -> None:
    """One snapshot, not a mix: its manifest's counts are its tables' rows, every table's trials are
    among its trials, and its manifest names its own folder."""
    assert snap.manifest["name"] == snap.path.name
    counts = {k: len(v) for k, v in snap.tables.items()}
    assert counts == snap.manifest["counts"]
    ids = set(snap.tables["trials"]["nct_id"])
    for name, df in snap.tables.items():
        if name not in ("trials", "changes"):
            assert set(df["nct_id"]) <= ids, name


def test_two_refreshes__second_times_out_exit_75_first_commits(
    replay_url: StartUrl, data_dir: Path, before: Fingerprint, all_query: Path, tmp_path: Path
) -> None:
    server = replay_url()
    marker = tmp_path / "paused"
    first = _start_cli_refresh(data_dir, server, all_query, pause=marker)
    _wait_paused(marker, first)
    second = _start_cli_refresh(data_dir, server, all_query, TRIALFINDER_LOCK_TIMEOUT_S="0.2")
    code2, err2 = _finish(second)
    _release(marker)
    code1, err1 = _finish(first)
    assert code1 == 0, err1[-2000:]
    assert code2 == EX_TEMPFAIL, err2[-2000:]
    lines = [ln for ln in err2.splitlines() if ln.startswith("Error: ")]
    assert len(lines) == 1 and "another refresh or import holds" in lines[0]
    assert "Traceback" not in err2
    assert server.requests_seen == 4  # only the first refresh talked to the registry
    snap = load_current(data_dir)
    assert snap.manifest["previous"] == before.current
    assert_consistent(snap)
    assert list_snapshots(data_dir) == sorted([before.current, snap.name])
    assert snapshot_files(data_dir / "snapshots" / before.current) == before.files
    assert tmp_leftovers(data_dir) == []


def test_two_refreshes__second_waits_then_succeeds_in_order(
    replay_url: StartUrl, data_dir: Path, before: Fingerprint, all_query: Path, tmp_path: Path
) -> None:
    server = replay_url()
    marker = tmp_path / "paused"
    first = _start_cli_refresh(data_dir, server, all_query, pause=marker)
    _wait_paused(marker, first)
    second = _start_cli_refresh(data_dir, server, all_query, TRIALFINDER_LOCK_TIMEOUT_S="60")
    time.sleep(0.5)  # let the second one reach the lock (the outcome is the same if it has not yet)
    _release(marker)
    code1, err1 = _finish(first)
    code2, err2 = _finish(second)
    assert (code1, code2) == (0, 0), (err1[-1000:], err2[-1000:])
    names = list_snapshots(data_dir)
    assert len(names) == 3 and names[0] == before.current
    s1, s2 = (
        load_snapshot(data_dir / "snapshots" / names[1]),
        load_snapshot(data_dir / "snapshots" / names[2]),
    )
    # one after the other, never interleaved: each new snapshot follows the one before it
    assert s1.manifest["previous"] == before.current and s2.manifest["previous"] == s1.name
    assert load_current(data_dir).name == s2.name
    for s in (s1, s2):
        assert_consistent(s)
    assert server.requests_seen == 8


def test_load_current__while_refreshes_swap_sees_old_or_new_never_a_mix(
    replay_url: StartUrl,
    small_dir: Path,
    data_dir: Path,
    before: Fingerprint,
    all_search: SavedSearch,
    tmp_path: Path,
) -> None:
    # two registries of different sizes (30 and 21 real studies) so that a mix would show in the counts
    keep = {p.stem for p in sorted(small_dir.glob("NCT*.json"))[:21]}
    smaller = tmp_path / "smaller"
    smaller.mkdir()
    for p in small_dir.glob("NCT*.json"):
        if p.stem in keep:
            (smaller / p.name).symlink_to(p.resolve())
    servers = [replay_url(), replay_url(data=smaller)]
    stop = threading.Event()
    seen: dict[str, int] = {}
    errors: list[BaseException] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                snap = load_current(data_dir)
                assert_consistent(snap)
                seen[snap.name] = len(snap.tables["trials"])
            except BaseException as exc:  # reported below
                errors.append(exc)
                return

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(6):
            server = servers[i % 2]
            settings = reliability_settings(server.base_url, data_dir)
            refresh(settings, [all_search], full=True, force=True, progress=LogProgress())
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors
    assert len(seen) >= 2  # the readers saw snapshots come and go (how many depends on scheduling)
    assert set(seen.values()) <= {30, 21}
    assert tmp_leftovers(data_dir) == []


# --- a reader that read CURRENT just before the old snapshot was pruned ------------------------


def _blocked_reader(data_dir: Path) -> tuple[threading.Thread, threading.Event, threading.Event, list[Any]]:
    """A reader thread that reads CURRENT, then waits (inside read_manifest) until released."""
    reached, release = threading.Event(), threading.Event()
    out: list[Any] = []
    original = store_mod.read_manifest

    def read_manifest(path: Path) -> dict[str, Any]:
        if threading.current_thread().name == "slow-reader" and not reached.is_set():
            reached.set()
            release.wait(30)
        return original(path)

    store_mod.read_manifest = read_manifest  # type: ignore[assignment]

    def run() -> None:
        try:
            out.append(load_current(data_dir))
        except BaseException as exc:
            out.append(exc)

    return threading.Thread(target=run, name="slow-reader"), reached, release, out


@pytest.fixture
def restore_read_manifest() -> Any:
    original = store_mod.read_manifest
    yield
    store_mod.read_manifest = original


def test_load_current__old_snapshot_pruned_mid_read_is_clean_error_never_a_mix(
    replay_url: StartUrl,
    data_dir: Path,
    before: Fingerprint,
    all_search: SavedSearch,
    restore_read_manifest: Any,
) -> None:
    thread, reached, release, out = _blocked_reader(data_dir)
    thread.start()
    assert reached.wait(30)
    server = replay_url()
    # keep_snapshots=1: the commit prunes the snapshot the reader is about to read
    refresh(reliability_settings(server.base_url, data_dir, keep_snapshots=1), [all_search], full=True,
            progress=LogProgress())  # fmt: skip
    assert not (data_dir / "snapshots" / before.current).exists()
    release.set()
    thread.join(30)
    result = out[0]
    # never a mix: either a whole snapshot or a clear SnapshotError
    if isinstance(result, Snapshot):
        assert_consistent(result)
    else:
        assert isinstance(result, SnapshotError), repr(result)


def test_load_current__old_snapshot_pruned_mid_read_rereads_pointer(
    replay_url: StartUrl,
    data_dir: Path,
    before: Fingerprint,
    all_search: SavedSearch,
    restore_read_manifest: Any,
) -> None:
    thread, reached, release, out = _blocked_reader(data_dir)
    thread.start()
    assert reached.wait(30)
    server = replay_url()
    refresh(reliability_settings(server.base_url, data_dir, keep_snapshots=1), [all_search], full=True,
            progress=LogProgress())  # fmt: skip
    release.set()
    thread.join(30)
    # regression: the reader got SnapshotError; now it re-reads CURRENT and loads the new snapshot
    assert isinstance(out[0], Snapshot), repr(out[0])
    assert_consistent(out[0])
    assert out[0].name != before.current


def test_load_current__table_listed_in_manifest_but_missing_is_an_error(
    data_dir: Path, before: Fingerprint
) -> None:
    (data_dir / "snapshots" / before.current / "facets.parquet").unlink()
    with pytest.raises(SnapshotError, match="facets"):
        load_current(data_dir)


def test_load_current__truncated_table_is_clean_snapshot_error(data_dir: Path, before: Fingerprint) -> None:
    p = data_dir / "snapshots" / before.current / "trials.parquet"
    p.write_bytes(p.read_bytes()[:100])
    with pytest.raises(SnapshotError, match="unreadable table trials"):
        load_current(data_dir)


# --- the dashboard across a swap ---------------------------------------------------------------------


def _app(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    monkeypatch.setenv("TRIALFINDER_DATA_DIR", str(data_dir))
    return AppTest.from_file(str(APP), default_timeout=120)


def _data_caption(at: Any) -> str:
    return " ".join(c.value for c in at.caption if "data as of" in c.value)


@pytest.mark.slow
def test_app__refresh_swaps_between_runs_next_run_shows_new_snapshot(
    replay_url: StartUrl, small_dir: Path, data_dir: Path, before: Fingerprint, all_search: SavedSearch,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:  # fmt: skip
    at = _app(data_dir, monkeypatch)
    at.run()
    assert not at.exception
    assert "13 March 2026" in _data_caption(at)
    # the registry moves on: 21 of the 30 studies, a later data date
    smaller = tmp_path / "smaller"
    smaller.mkdir()
    for p in sorted(small_dir.glob("NCT*.json"))[:21]:
        (smaller / p.name).symlink_to(p.resolve())
    server = replay_url(data=smaller)
    refresh(reliability_settings(server.base_url, data_dir), [all_search], full=True, force=True,
            progress=LogProgress())  # fmt: skip
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "14 March 2026" in _data_caption(at)


@pytest.mark.slow
def test_app__snapshot_pruned_while_app_loads_shows_new_snapshot(
    replay_url: StartUrl, data_dir: Path, before: Fingerprint, all_search: SavedSearch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    server = replay_url()
    original = store_mod.load_snapshot
    fired: list[str] = []

    def load_snapshot(path: Path, tables: Any = None) -> Snapshot:
        if not fired:  # a refresh swaps and prunes just after the app read CURRENT
            fired.append(path.name)
            refresh(reliability_settings(server.base_url, data_dir, keep_snapshots=1), [all_search],
                    full=True, progress=LogProgress())  # fmt: skip
        return original(path, tables)

    monkeypatch.setattr(store_mod, "load_snapshot", load_snapshot)
    at = _app(data_dir, monkeypatch)
    at.run()
    assert fired == [before.current]
    assert not at.exception
    assert "The trial data cannot be read" not in [t.value for t in at.title]
    assert "14 March 2026" in _data_caption(at)
