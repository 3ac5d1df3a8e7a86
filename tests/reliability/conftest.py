"""Fixtures of the reliability tests: a small replay data folder, a baseline snapshot and a
fingerprint of "the current snapshot" (its files' hashes and its CSV export) to prove it intact.

The replay data is a temporary folder of symlinks to 30 real recorded studies (the two mesothelioma
studies and 28 others, in NCT order); tests that need odd records write test-only variations of real
records into their own copy (see :func:`variant_dir`). The replay server fixtures come from
``tests/integration/conftest.py`` (imported, not copied).
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.integration.conftest import (  # re-exported fixtures of the integration tests
    StartReplay,
    fast_settings,
    start_replay,
    studies_dir,
)
from tests.reliability.hostile import HOSTILE, write_hostile_records
from trialfinder.cli import cli
from trialfinder.config import Settings
from trialfinder.ctgov.replay import running_server
from trialfinder.export import build_export_frame, to_csv_bytes
from trialfinder.queries import SavedSearch, load_query
from trialfinder.refresh import LogProgress, refresh
from trialfinder.store import Snapshot, current_name, load_current

__all__ = ["StartReplay", "fast_settings", "start_replay", "studies_dir"]

MESO = ("NCT02628535", "NCT06790706")
N_STUDIES = 30
PAGE_SIZE = 10
T_BASE = "2026-03-13T00:00:00"  # dataTimestamp of the baseline snapshot
T_NEXT = "2026-03-14T00:00:00"  # what a later server says, so that refresh does not skip


@pytest.fixture(scope="session")
def small_dir(studies_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 real recorded studies (symlinks): both mesothelioma studies + the first 28 others."""
    d = tmp_path_factory.mktemp("replay-small")
    files = sorted(studies_dir.glob("NCT*.json"))
    pick = [f for f in files if f.stem in MESO]
    pick += [f for f in files if f.stem not in MESO][: N_STUDIES - len(pick)]
    for f in pick:
        (d / f.name).symlink_to(f)
    return d


def read_study(folder: Path, nct: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / f"{nct}.json").read_text(encoding="utf-8"))
    return data


def variant_dir(src: Path, dest: Path, edit: Callable[[str, dict[str, Any]], dict[str, Any] | None]) -> Path:
    """Copy ``src`` (symlinks) to ``dest``; ``edit(nct, study)`` may return a TEST-ONLY variation of a
    real record, written in place of the symlink (``None`` keeps the real record)."""
    dest.mkdir(parents=True)
    for f in sorted(src.glob("NCT*.json")):
        study = json.loads(f.read_text(encoding="utf-8"))
        changed = edit(f.stem, copy.deepcopy(study))
        if changed is None:
            (dest / f.name).symlink_to(f.resolve())
        else:
            (dest / f.name).write_text(json.dumps(changed), encoding="utf-8")
    return dest


@pytest.fixture(scope="session")
def all_query(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved search with no parameters: every study the server has."""
    p = tmp_path_factory.mktemp("queries") / "everything.toml"
    p.write_text('name = "everything"\ntitle = "Every study of the server"\n[params]\n', encoding="utf-8")
    return p


@pytest.fixture(scope="session")
def all_search(all_query: Path) -> SavedSearch:
    return load_query(all_query)


def reliability_settings(api_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Fast settings: tiny backoff, short timeouts, 10 studies a page (so /studies has 3 pages)."""
    values: dict[str, Any] = {
        "page_size": PAGE_SIZE,
        "max_retries": 2,
        "read_timeout_s": 1.0,
        "connect_timeout_s": 1.0,
        "retry_after_cap_s": 2.0,
    }
    values.update(overrides)
    return fast_settings(api_url, data_dir, **values)


# the same settings as environment variables, for the CLI (in-process and subprocess)
FAST_ENV: dict[str, str] = {
    "TRIALFINDER_RATE_LIMIT_PER_S": "1000",
    "TRIALFINDER_BACKOFF_FACTOR_S": "0.01",
    "TRIALFINDER_CONNECT_TIMEOUT_S": "1",
    "TRIALFINDER_READ_TIMEOUT_S": "1",
    "TRIALFINDER_MAX_RETRIES": "2",
    "TRIALFINDER_RETRY_AFTER_CAP_S": "2",
    "TRIALFINDER_PAGE_SIZE": str(PAGE_SIZE),
    "TRIALFINDER_CACHE_EXPIRE_STUDIES_S": "0",
    "TRIALFINDER_CACHE_EXPIRE_STUDY_S": "0",
    "TRIALFINDER_CACHE_EXPIRE_VERSION_S": "0",
}


@pytest.fixture
def fast_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for k, v in FAST_ENV.items():
        monkeypatch.setenv(k, v)
    return dict(FAST_ENV)


@pytest.fixture(scope="session")
def baseline_data(small_dir: Path, all_search: SavedSearch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose current snapshot came from a refresh of the 30 studies (built once)."""
    data_dir = tmp_path_factory.mktemp("baseline") / "tf-data"
    with running_server(small_dir, data_timestamp=T_BASE) as server:
        refresh(reliability_settings(server.base_url, data_dir), [all_search], progress=LogProgress())
    return data_dir


@pytest.fixture
def data_dir(baseline_data: Path, tmp_path: Path) -> Path:
    """A private copy of the baseline data dir for one test."""
    d = tmp_path / "data"
    shutil.copytree(baseline_data, d, symlinks=True)
    return d


# --- fingerprints -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fingerprint:
    """What a user relies on: which snapshot is current, its files, its tables and its CSV export."""

    current: str
    files: Mapping[str, str]  # file name → sha256
    counts: Mapping[str, int]
    export: bytes


def _sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def snapshot_files(folder: Path) -> dict[str, str]:
    return {p.name: _sha256(p) for p in sorted(folder.iterdir()) if p.is_file()}


def fingerprint(data_dir: Path) -> Fingerprint:
    snap = load_current(data_dir)
    return Fingerprint(
        current=snap.name,
        files=snapshot_files(snap.path),
        counts={k: len(v) for k, v in snap.tables.items()},
        export=to_csv_bytes(build_export_frame(snap)),
    )


def assert_intact(data_dir: Path, before: Fingerprint) -> None:
    """The snapshot current before is still current, byte for byte, and exports the same bytes."""
    assert current_name(data_dir) == before.current
    after = fingerprint(data_dir)
    assert after.files == before.files
    assert after.counts == before.counts
    assert after.export == before.export
    assert after == before


def assert_replaced_without_loss(data_dir: Path, before: Fingerprint) -> None:
    """A new snapshot is current, holds the same trials and rows as before (same registry data),
    and the previous snapshot's folder is untouched."""
    snap = load_current(data_dir)
    assert snap.name != before.current
    assert snap.manifest["previous"] == before.current
    assert snapshot_files(data_dir / "snapshots" / before.current) == before.files
    counts = {k: len(v) for k, v in snap.tables.items()}
    assert {k: v for k, v in counts.items() if k != "changes"} == {
        k: v for k, v in before.counts.items() if k != "changes"
    }
    assert counts["changes"] == 0
    new = build_export_frame(snap).drop(columns=["data_as_of"])
    old = build_export_frame(load_snapshot_at(data_dir, before.current)).drop(columns=["data_as_of"])
    assert new.equals(old)


def load_snapshot_at(data_dir: Path, name: str) -> Any:
    from trialfinder.store import load_snapshot

    return load_snapshot(data_dir / "snapshots" / name)


def tmp_leftovers(data_dir: Path) -> list[str]:
    d = data_dir / "snapshots"
    return sorted(p.name for p in d.iterdir() if p.name.startswith(".tmp-") or p.name.startswith("CURRENT."))


@pytest.fixture
def before(data_dir: Path) -> Fingerprint:
    return fingerprint(data_dir)


@pytest.fixture
def replay_url(start_replay: StartReplay, small_dir: Path) -> Iterator[Callable[..., Any]]:
    """Start a replay server over the 30 studies with a newer dataTimestamp and some faults."""

    def start(faults: tuple[str, ...] = (), data: Path | None = None) -> Any:
        return start_replay(faults=list(faults), data_dir=data or small_dir, data_timestamp=T_NEXT)

    yield start


# --- hostile registry text (test-only variations of real records, see hostile.py) -----------------


def base_ids(studies_dir: Path, n: int) -> list[str]:
    """Real records with arms, interventions, eligibility criteria and (if any) sites that all carry a
    status (the mesothelioma study NCT06790706 first). See test_user_input.py for sites without one."""
    ids = ["NCT06790706"]
    for f in sorted(studies_dir.glob("NCT*.json")):
        if len(ids) >= n:
            break
        ps = json.loads(f.read_text(encoding="utf-8"))["protocolSection"]
        ai = ps.get("armsInterventionsModule") or {}
        crit = (ps.get("eligibilityModule") or {}).get("eligibilityCriteria")
        locs = (ps.get("contactsLocationsModule") or {}).get("locations") or []
        all_status = all("status" in loc for loc in locs)
        if f.stem not in ids and ai.get("armGroups") and ai.get("interventions") and crit and all_status:
            ids.append(f.stem)
    return ids


@pytest.fixture(scope="session")
def hostile_records(
    studies_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str]]:
    d = tmp_path_factory.mktemp("hostile-records")
    return d, write_hostile_records(studies_dir, d, base_ids(studies_dir, len(HOSTILE)))


@pytest.fixture(scope="session")
def hostile_data(
    hostile_records: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A data dir made by `trialfinder import` of the hostile records (and nothing else)."""
    data_dir = tmp_path_factory.mktemp("hostile-data") / "data"
    res = CliRunner().invoke(cli, ["import", str(hostile_records[0]), "--data-dir", str(data_dir)])
    assert res.exit_code == 0, (res.output, res.exception)
    return data_dir


@pytest.fixture(scope="session")
def hostile_snap(hostile_data: Path) -> Snapshot:
    return load_current(hostile_data)


@pytest.fixture(scope="session")
def exported(hostile_data: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("hostile-export") / "trials.csv"
    res = CliRunner().invoke(cli, ["export", "-o", str(out), "--data-dir", str(hostile_data)])
    assert res.exit_code == 0, (res.output, res.exception)
    return out.read_bytes()
