"""Fixtures for the dashboard tests: a real snapshot built once per session from the recorded data.

The snapshot is made the way users make one (``trialfinder.refresh.import_into_store``) from
``../shared/ctgov`` (classic XML + API v2 studies). A second import of ONE real record whose status
was changed by the test (clearly a test-only variation) gives the "What's new" page a change to show.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
PAGES = ROOT / "trialfinder" / "ui" / "pages"
CHANGED_NCT = "NCT06790706"  # a real recorded mesothelioma trial; its status is changed in the 2nd import
HOSTILE_NCT = "NCT02414269"  # a real record whose title is replaced by a hostile string in one copy
HOSTILE_TITLE = (
    "<script>alert(1)</script> [x](javascript:alert(1)) ![i](http://evil.example/x.png) $x$ :red[y]"
)


@dataclass(frozen=True)
class SnapshotFixture:
    data_dir: Path
    tables: dict[str, pd.DataFrame]
    manifest: dict[str, object]


def build_snapshot(shared_dir: Path, base: Path, *, mode: str = "import") -> Path:
    """Import the recorded data into ``base / "data"`` (two imports, see the module docstring)."""
    from trialfinder.config import get_settings
    from trialfinder.refresh import import_into_store

    data_dir = base / "data"
    settings = get_settings(data_dir=data_dir)
    import_into_store([shared_dir / "classic-xml", shared_dir / "v2" / "studies"], settings, mode=mode)
    record = json.loads((shared_dir / "v2" / "studies" / f"{CHANGED_NCT}.json").read_text())
    assert record["protocolSection"]["statusModule"]["overallStatus"] == "RECRUITING"
    record["protocolSection"]["statusModule"]["overallStatus"] = "ACTIVE_NOT_RECRUITING"  # test-only
    changed = base / "changed"
    changed.mkdir()
    (changed / f"{CHANGED_NCT}.json").write_text(json.dumps(record))
    import_into_store([changed], settings, mode=mode)
    return data_dir


def load_fixture(data_dir: Path) -> SnapshotFixture:
    from trialfinder.store import load_current

    snap = load_current(data_dir)
    return SnapshotFixture(data_dir=data_dir, tables=dict(snap.tables), manifest=dict(snap.manifest))


@pytest.fixture(scope="session")
def recorded_snapshot(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> SnapshotFixture:
    base = tmp_path_factory.mktemp("app-snapshot")
    mp = pytest.MonkeyPatch()
    mp.setenv("TRIALFINDER_DATA_DIR", str(base / "data"))
    try:
        return load_fixture(build_snapshot(shared_dir, base))
    finally:
        mp.undo()


def _copy_snapshot(src: SnapshotFixture, dst: Path) -> Path:
    shutil.copytree(src.data_dir / "snapshots", dst / "snapshots")
    return dst


@pytest.fixture(scope="session")
def demo_snapshot(recorded_snapshot: SnapshotFixture, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy whose manifest says mode=recorded-demo (the offline demo)."""
    d = _copy_snapshot(recorded_snapshot, tmp_path_factory.mktemp("demo"))
    name = (d / "snapshots" / "CURRENT").read_text().strip()
    mpath = d / "snapshots" / name / "manifest.json"
    manifest = json.loads(mpath.read_text())
    manifest["mode"] = "recorded-demo"
    mpath.write_text(json.dumps(manifest))
    return d


@pytest.fixture(scope="session")
def hostile_snapshot(recorded_snapshot: SnapshotFixture, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy where one real trial's title is hostile markup (test-only variation of a real record)."""
    d = _copy_snapshot(recorded_snapshot, tmp_path_factory.mktemp("hostile"))
    name = (d / "snapshots" / "CURRENT").read_text().strip()
    tpath = d / "snapshots" / name / "trials.parquet"
    table = pq.read_table(tpath)
    trials = table.to_pandas(types_mapper=pd.ArrowDtype)
    assert (trials["nct_id"] == HOSTILE_NCT).sum() == 1
    trials.loc[trials["nct_id"] == HOSTILE_NCT, "title"] = HOSTILE_TITLE
    pq.write_table(pa.Table.from_pandas(trials, preserve_index=False), tpath)
    return d


@pytest.fixture
def use_data(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Point the app at a data folder for this test."""

    def _use(path: Path) -> None:
        monkeypatch.setenv("TRIALFINDER_DATA_DIR", str(path))

    return _use


@pytest.fixture
def app(recorded_snapshot: SnapshotFixture, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The dashboard on the recorded snapshot, not yet run."""
    monkeypatch.setenv("TRIALFINDER_DATA_DIR", str(recorded_snapshot.data_dir))
    return AppTest.from_file(str(APP), default_timeout=120)


def page(name: str) -> str:
    """Path of a page script for ``AppTest.switch_page``."""
    return str(PAGES / name)
