"""Unit tests of trialfinder.ui.data.load: which snapshot the dashboard loads while refreshes swap and
prune snapshots (real recorded studies, stored with the real store)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trialfinder import store
from trialfinder.errors import NoSnapshotError, SnapshotError
from trialfinder.normalize import normalize
from trialfinder.sources import iter_records
from trialfinder.ui import data

IDS = ["NCT02628535", "NCT06790706", "NCT00001245"]  # real recorded studies


def _commit(data_dir: Path, shared_dir: Path, ids: list[str]) -> str:
    paths = [shared_dir / "v2" / "studies" / f"{nct}.json" for nct in ids]
    res = store.Store(data_dir, keep=1).commit(
        normalize(iter_records(paths)), {"mode": "import"}, check_count=False
    )
    name = store.current_name(data_dir)
    assert name is not None and res is not None
    return name


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    d = tmp_path / "data"
    monkeypatch.setenv("TRIALFINDER_DATA_DIR", str(d))
    data._load.clear()
    yield d
    data._load.clear()


def test_load__no_snapshot_yet(data_dir: Path) -> None:
    with pytest.raises(NoSnapshotError):
        data.load()


def test_load__snapshot_pruned_while_loading_loads_the_new_one(
    data_dir: Path, shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _commit(data_dir, shared_dir, IDS[:1])
    original = store.load_snapshot
    swapped: list[str] = []

    def load_snapshot(path: Path, tables: Any = None) -> store.Snapshot:
        if not swapped:  # a refresh swaps and prunes just after the dashboard read CURRENT
            swapped.append("")  # (the commit itself loads the previous snapshot: no recursion)
            swapped[0] = _commit(data_dir, shared_dir, IDS)
            assert not path.exists()
        return original(path, tables)

    monkeypatch.setattr(store, "load_snapshot", load_snapshot)
    loaded = data.load()
    assert swapped and swapped[0] != first
    assert loaded.snapshot.path.name == swapped[0]
    assert sorted(loaded.snapshot.tables["trials"]["nct_id"]) == sorted(IDS)


def test_load__broken_current_snapshot_raises(data_dir: Path, shared_dir: Path) -> None:
    name = _commit(data_dir, shared_dir, IDS[:1])
    (data_dir / "snapshots" / name / "trials.parquet").unlink()  # CURRENT does not move: really broken
    with pytest.raises(SnapshotError):
        data.load()


def test_load__gives_up_after_a_few_swaps(
    data_dir: Path, shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _commit(data_dir, shared_dir, IDS[:1])
    original = store.load_snapshot
    calls: list[str] = []
    committing: list[bool] = []

    def always_pruned(path: Path, tables: Any = None) -> store.Snapshot:
        if committing:  # the commit's own read of the previous snapshot
            return original(path, tables)
        calls.append(path.name)
        committing.append(True)
        _commit(data_dir, shared_dir, IDS[: 1 + len(calls) % 2])  # every load races a new refresh
        committing.clear()
        shutil.rmtree(path, ignore_errors=True)
        raise SnapshotError(f"snapshot {path.name} has no manifest.json")

    monkeypatch.setattr(store, "load_snapshot", always_pruned)
    with pytest.raises(SnapshotError):
        data.load()
    assert len(calls) == data.LOAD_ATTEMPTS and len(set(calls)) == data.LOAD_ATTEMPTS
