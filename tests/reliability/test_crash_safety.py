"""Crash safety: SIGKILL during the fetch, during the write of a snapshot and just before the pointer
swap; a full disk while writing; a corrupted HTTP cache. Afterwards the previous snapshot is current,
byte for byte, exports the same CSV bytes, and the next refresh works (lock free, leftovers cleaned).

The refresh runs in a child process (``tests/reliability/_crash_driver.py``), which stops at the
chosen moment by wrapping a store function and touching a marker file; the test then SIGKILLs it.
"""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.reliability.conftest import (
    FAST_ENV,
    Fingerprint,
    assert_intact,
    assert_replaced_without_loss,
    reliability_settings,
    snapshot_files,
    tmp_leftovers,
)
from trialfinder import store as store_mod
from trialfinder.cli import cli
from trialfinder.ctgov.replay import ReplayServer
from trialfinder.errors import EX_DATAERR, EX_TEMPFAIL
from trialfinder.queries import SavedSearch
from trialfinder.refresh import LogProgress, refresh
from trialfinder.store import current_name, list_snapshots, load_current, read_last_refresh

ROOT = Path(__file__).resolve().parents[2]
StartUrl = Callable[..., ReplayServer]
WAIT_S = 60.0  # upper bound for the child to reach the moment (never reached in a healthy run)


def _child(
    data_dir: Path, server: ReplayServer, query: Path, moment: str, marker: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **FAST_ENV,
        "TRIALFINDER_API_URL": server.base_url,
        "TRIALFINDER_DATA_DIR": str(data_dir),
    }
    cmd = [
        sys.executable,
        "-m",
        "tests.reliability._crash_driver",
        moment,
        str(marker),
        "--",
        "--full",
        "--query",
        str(query),
    ]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(cond: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not cond():
        if proc.poll() is not None:
            _out, err = proc.communicate()
            raise AssertionError(
                f"child ended (exit {proc.returncode}) before {what}: {err.decode()[-2000:]}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"child never reached {what}")
        time.sleep(0.02)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    if proc.stdout:
        proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()


def _next_refresh_works(
    data_dir: Path, server: ReplayServer, search: SavedSearch, before: Fingerprint
) -> None:
    """The lock is free, leftovers are cleaned, and a new snapshot follows the one that was current."""
    settings = reliability_settings(server.base_url, data_dir, lock_timeout_s=2.0)
    result = refresh(settings, [search], full=True, progress=LogProgress())
    assert result.status == "ok"
    assert result.previous == before.current
    assert tmp_leftovers(data_dir) == []
    assert_replaced_without_loss(data_dir, before)


def test_sigkill__during_fetch_previous_intact(
    replay_url: StartUrl,
    data_dir: Path,
    before: Fingerprint,
    all_query: Path,
    all_search: SavedSearch,
    tmp_path: Path,
) -> None:
    server = replay_url(("delay:0.3",))
    proc = _child(data_dir, server, all_query, "none", tmp_path / "marker")

    def second_page_asked() -> bool:
        return sum("pageToken=" in path for path, _ in server.seen) >= 1

    _wait_for(second_page_asked, proc, "the second page of /studies")
    _kill(proc)
    assert_intact(data_dir, before)
    assert tmp_leftovers(data_dir) == []  # nothing was written yet
    _next_refresh_works(data_dir, replay_url(), all_search, before)


def test_sigkill__during_snapshot_write_previous_intact(
    replay_url: StartUrl,
    data_dir: Path,
    before: Fingerprint,
    all_query: Path,
    all_search: SavedSearch,
    tmp_path: Path,
) -> None:
    server = replay_url()
    marker = tmp_path / "marker"
    proc = _child(data_dir, server, all_query, "write", marker)
    _wait_for(marker.exists, proc, "the write of the snapshot")
    tmp = [p for p in (data_dir / "snapshots").iterdir() if p.name.startswith(".tmp-")]
    assert len(tmp) == 1 and len(list(tmp[0].glob("*.parquet"))) == 3  # killed half-way through
    _kill(proc)
    assert_intact(data_dir, before)
    assert list_snapshots(data_dir) == [before.current]  # the half-written folder is never a snapshot
    # status and export still work from the previous snapshot
    res = CliRunner().invoke(cli, ["export", "-o", "-", "--data-dir", str(data_dir)])
    assert res.exit_code == 0 and res.stdout_bytes == before.export
    _next_refresh_works(data_dir, server, all_search, before)


def test_sigkill__just_before_pointer_swap_previous_intact(
    replay_url: StartUrl,
    data_dir: Path,
    before: Fingerprint,
    all_query: Path,
    all_search: SavedSearch,
    tmp_path: Path,
) -> None:
    server = replay_url()
    marker = tmp_path / "marker"
    proc = _child(data_dir, server, all_query, "swap", marker)
    _wait_for(marker.exists, proc, "the pointer swap")
    complete = [n for n in list_snapshots(data_dir) if n != before.current]
    assert len(complete) == 1  # the new folder is complete and renamed, but not current
    _kill(proc)
    assert_intact(data_dir, before)
    assert current_name(data_dir) == before.current != complete[0]
    _next_refresh_works(data_dir, server, all_search, before)


# --- a full disk ------------------------------------------------------------------------------------


def _enospc(*_: Any, **__: Any) -> Any:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _full_disk_at(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """Simulate a full disk at one point of the snapshot write."""
    if where.startswith("table-"):
        n_fail = int(where.split("-")[1])
        original = store_mod.write_table
        calls = {"n": 0}

        def write_table(df: Any, path: Path) -> None:
            calls["n"] += 1
            if calls["n"] == n_fail:
                path.write_bytes(b"PAR1 partial")  # a partly written file, as a full disk leaves it
                _enospc()
            original(df, path)

        monkeypatch.setattr(store_mod, "write_table", write_table)
    elif where == "manifest":
        original_wb = Path.write_bytes

        def write_bytes(self: Path, data: Any) -> int:
            if self.name == store_mod.MANIFEST:
                _enospc()
            return original_wb(self, data)

        monkeypatch.setattr(Path, "write_bytes", write_bytes)
    elif where == "pointer":
        real_open = open

        def fake_open(file: Any, *args: Any, **kw: Any) -> Any:
            if str(file).endswith(".tmp") and f"{store_mod.CURRENT}." in str(file):
                _enospc()
            return real_open(file, *args, **kw)

        monkeypatch.setattr(store_mod, "open", fake_open, raising=False)
    else:  # pragma: no cover
        raise AssertionError(where)


@pytest.mark.parametrize("where", ["table-1", "table-5", "manifest", "pointer"])
def test_full_disk__while_writing_previous_intact(
    where: str,
    replay_url: StartUrl,
    data_dir: Path,
    before: Fingerprint,
    all_search: SavedSearch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = replay_url()
    _full_disk_at(monkeypatch, where)
    with pytest.raises(OSError) as info:
        refresh(
            reliability_settings(server.base_url, data_dir), [all_search], full=True, progress=LogProgress()
        )
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert_intact(data_dir, before)
    assert tmp_leftovers(data_dir) == []
    assert list_snapshots(data_dir) == [before.current]  # no half snapshot left behind
    last = read_last_refresh(data_dir)
    assert last is not None and last["status"] == "failed" and "No space left" in last["message"]


def test_full_disk__cli_one_line_error_no_traceback(
    replay_url: StartUrl,
    data_dir: Path,
    before: Fingerprint,
    all_query: Path,
    fast_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = replay_url()
    _full_disk_at(monkeypatch, "table-2")
    res = CliRunner().invoke(
        cli,
        ["refresh", "--full", "--query", str(all_query), "--data-dir", str(data_dir)],
        env={"TRIALFINDER_API_URL": server.base_url},
    )
    monkeypatch.undo()
    assert res.exit_code != 0
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == 1 and "No space left on device" in errors[0]
    assert "Traceback" not in res.output
    # regression: this was "unexpected OSError ... run again with --debug", exit 1
    assert res.exit_code == EX_TEMPFAIL
    assert "unexpected" not in errors[0] and "--debug" not in errors[0]
    assert str(data_dir) in errors[0] or "disk" in errors[0].lower()
    assert_intact(data_dir, before)


# --- a corrupted HTTP cache --------------------------------------------------------------------------


def _garbage(p: Path) -> None:
    p.write_bytes(b"this is not a database\x00" * 200)


def _zeroed_middle(p: Path) -> None:
    data = bytearray(p.read_bytes())
    assert data[:16] == b"SQLite format 3\x00"
    start = len(data) // 4
    data[start : start + len(data) // 2] = b"\xff" * (len(data) // 2)
    p.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_garbage, _zeroed_middle], ids=["garbage", "damaged-pages"])
def test_corrupt_http_cache__rebuilt_with_warning(
    damage: Callable[[Path], None],
    replay_url: StartUrl,
    data_dir: Path,
    before: Fingerprint,
    all_query: Path,
) -> None:
    cache = data_dir / "http_cache.sqlite"
    assert cache.exists()
    damage(cache)
    damaged = cache.read_bytes()
    server = replay_url()
    env = {**os.environ, **FAST_ENV, "TRIALFINDER_API_URL": server.base_url}
    proc = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "trialfinder"),
            "refresh",
            "--full",
            "--query",
            str(all_query),
            "--data-dir",
            str(data_dir),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    err = proc.stderr.decode()
    assert proc.returncode == 0, err[-3000:]
    assert "WARNING" in err and "HTTP cache" in err and "unusable" in err
    assert "Traceback" not in err
    moved = list(data_dir.glob("http_cache.sqlite.corrupt-*"))
    assert len(moved) == 1 and moved[0].read_bytes() == damaged  # kept aside for a look, not deleted
    with sqlite3.connect(cache) as con:  # the new cache is a healthy database
        assert con.execute("PRAGMA quick_check").fetchone() == ("ok",)
    assert_replaced_without_loss(data_dir, before)
    assert load_current(data_dir).name != before.current


# --- damaged store files -----------------------------------------------------------------------------


def _damage_pointer(data_dir: Path, kind: str, current: str) -> None:
    if kind == "garbage-pointer":
        (data_dir / "snapshots" / "CURRENT").write_bytes(b"\x00garbage\n")
    elif kind == "empty-pointer":
        (data_dir / "snapshots" / "CURRENT").write_bytes(b"")
    elif kind == "missing-folder":
        import shutil

        shutil.rmtree(data_dir / "snapshots" / current)
    elif kind == "bad-manifest":
        (data_dir / "snapshots" / current / "manifest.json").write_text("{not json", encoding="utf-8")
    else:  # pragma: no cover
        raise AssertionError(kind)


DAMAGE = ["garbage-pointer", "empty-pointer", "missing-folder", "bad-manifest"]


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_store__status_export_one_line_exit_65(
    kind: str, data_dir: Path, before: Fingerprint
) -> None:
    _damage_pointer(data_dir, kind, before.current)
    for args in (["status"], ["export", "-o", "-"], ["changes"]):
        res = CliRunner().invoke(cli, [*args, "--data-dir", str(data_dir)])
        assert res.exit_code == EX_DATAERR, (args, res.output)
        lines = [ln for ln in res.stderr.splitlines() if ln.startswith("Error: ")]
        assert len(lines) == 1 and "Traceback" not in res.output, res.stderr


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["garbage-pointer", "bad-manifest"])
def test_damaged_store__app_shows_cannot_read_page(
    kind: str, data_dir: Path, before: Fingerprint, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    _damage_pointer(data_dir, kind, before.current)
    monkeypatch.setenv("TRIALFINDER_DATA_DIR", str(data_dir))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["The trial data cannot be read"]
    assert len(at.error) == 1


@pytest.mark.parametrize("kind", ["garbage-pointer", "empty-pointer", "missing-folder"])
def test_damaged_store__refresh_repairs_pointer(
    kind: str, replay_url: StartUrl, data_dir: Path, before: Fingerprint, all_query: Path,
    fast_env: dict[str, str],
) -> None:  # fmt: skip
    _damage_pointer(data_dir, kind, before.current)
    server = replay_url()
    args = ["refresh", "--full", "--query", str(all_query), "--data-dir", str(data_dir)]
    res = CliRunner().invoke(cli, args, env={"TRIALFINDER_API_URL": server.base_url})
    # regression: refresh failed with the same SnapshotError (exit 65) that the app told users to fix by
    # running refresh; now the writer falls back to the newest complete snapshot and repairs the pointer
    assert res.exit_code == 0, res.output
    snap = load_current(data_dir)
    assert len(snap.tables["trials"]) == before.counts["trials"]
    assert current_name(data_dir) == snap.name
    if kind != "missing-folder":
        assert snapshot_files(data_dir / "snapshots" / before.current) == before.files
