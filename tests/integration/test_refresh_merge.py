"""The pure pieces of a refresh: keeping the newest record, merging tables, incremental facets.

Records are real recorded studies; "newer versions" are test-only modified copies (said where made).
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from trialfinder import refresh as refresh_mod
from trialfinder.normalize import normalize
from trialfinder.refresh import (
    LogProgress,
    TqdmProgress,
    auto_progress,
    facet_tables,
    facets_fingerprint,
    incremental_since,
    keep_newest,
    merge_tables,
    newer_ids,
    update_facets,
)
from trialfinder.sources.base import RawStudy
from trialfinder.store import Snapshot


@pytest.fixture(scope="module")
def records(shared_dir: Path) -> list[RawStudy]:
    files = sorted((shared_dir / "v2" / "studies").glob("NCT*.json"))[::20]
    files.append(shared_dir / "v2" / "studies" / "NCT02628535.json")
    out = []
    for f in files:
        data = json.loads(f.read_text(encoding="utf-8"))
        date = data["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
        out.append(RawStudy(data, "v2-study", str(f), date))
    return out


def newer_copy(rec: RawStudy, **status: Any) -> RawStudy:
    """A test-only newer version of a real record (status fields replaced, date 2099-01-01)."""
    data = copy.deepcopy(rec.data)
    data["protocolSection"]["statusModule"].update(status)
    data["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {"date": "2099-01-01"}
    return RawStudy(data, "api", "test", "2099-01-01")


def sort(df: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in ("nct_id", "idx", "arm_label", "label") if c in df.columns]
    return df.sort_values(cols, kind="stable").reset_index(drop=True)


def test_keep_newest__newest_record_date_wins(records: list[RawStudy]) -> None:
    newer = newer_copy(records[0], overallStatus="WITHDRAWN")
    got = keep_newest([records[0], records[1], newer, records[0]])
    assert list(got) == [records[0].nct_id, records[1].nct_id]
    assert got[str(records[0].nct_id)] is newer


def test_merge_tables__replaces_rows_of_refetched_trials_only(records: list[RawStudy]) -> None:
    old = normalize(records)
    changed = newer_copy(records[3], overallStatus="TERMINATED")
    fetched = normalize([changed])
    merged = merge_tables(old, fetched, {str(changed.nct_id)})
    assert len(merged["trials"]) == len(old["trials"])
    t = merged["trials"].set_index("nct_id")
    assert t.loc[changed.nct_id, "overall_status"] == "TERMINATED"
    expected = normalize([*(r for r in records if r.nct_id != changed.nct_id), changed])
    for name in expected:
        pd.testing.assert_frame_equal(sort(merged[name]), sort(expected[name]))


def test_newer_ids__previous_newer_version_is_kept(records: list[RawStudy]) -> None:
    prev = normalize([newer_copy(records[0]), records[1]])["trials"]
    incoming = normalize([records[0], records[1], records[2]])["trials"]
    # records[0]: previous is newer → not taken; records[1]: same version → taken (tie); [2]: new
    assert newer_ids(prev, incoming) == {records[1].nct_id, records[2].nct_id}
    assert newer_ids(None, incoming) == {r.nct_id for r in records[:3]}


def test_incremental_since__overlap_days() -> None:
    assert incremental_since("2026-03-13T09:00:05", 3) == dt.date(2026, 3, 10)
    assert incremental_since("2026-03-02", 3) == dt.date(2026, 2, 27)


def test_update_facets__incremental_equals_full_recompute(
    records: list[RawStudy], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_tables = normalize(records)
    old_facets = facet_tables(old_tables)
    assert set(old_facets) == {"facets", "arm_classes"}
    previous = Snapshot(
        path=tmp_path,
        manifest={"facets_fingerprint": facets_fingerprint(), "mode": "api"},
        tables={**old_tables, **old_facets},
    )
    # test-only newer version of a real record: different eligibility text
    target = records[-1]
    data = copy.deepcopy(target.data)
    data["protocolSection"]["eligibilityModule"]["eligibilityCriteria"] = (
        "Inclusion Criteria:\n\n* Unresectable or metastatic disease\n\nExclusion Criteria:\n\n"
        "* Prior treatment with an anti-PD-1 antibody"
    )
    changed = RawStudy(data, "api", "test", "2099-01-01")
    tables = merge_tables(old_tables, normalize([changed]), {str(changed.nct_id)})
    seen: list[int] = []

    def counting(t: Any) -> dict[str, pd.DataFrame]:
        seen.append(len(t["trials"]))
        return facet_tables(t)

    monkeypatch.setattr(refresh_mod, "facet_tables", counting)
    incremental = update_facets(tables, previous, {str(changed.nct_id)})
    assert seen == [1]  # only the re-fetched trial was faceted
    full = facet_tables(tables)
    for name in ("facets", "arm_classes"):
        pd.testing.assert_frame_equal(sort(incremental[name]), sort(full[name]))
    # a different rule fingerprint forces a full recompute (same answer, computed from scratch)
    stale = Snapshot(path=tmp_path, manifest={"facets_fingerprint": "other"}, tables=previous.tables)
    again = update_facets(tables, stale, {str(changed.nct_id)})
    assert seen[-1] == len(tables["trials"])
    pd.testing.assert_frame_equal(sort(again["facets"]), sort(full["facets"]))


class _FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_progress__tqdm_on_terminal_log_lines_otherwise(caplog: pytest.LogCaptureFixture) -> None:
    tty = _FakeTty()
    bar = auto_progress(tty)
    assert isinstance(bar, TqdmProgress)
    bar.start("mesothelioma", 3)
    bar.advance(2)
    bar.advance(1)
    bar.finish()
    assert "mesothelioma" in tty.getvalue() and "3/3" in tty.getvalue()

    plain = auto_progress(io.StringIO())
    assert isinstance(plain, LogProgress)
    with caplog.at_level("INFO", logger="trialfinder.refresh"):
        plain.start("mesothelioma", 3)
        plain.advance(3)
        plain.finish()
    assert [r.getMessage() for r in caplog.records] == [
        "mesothelioma: started (3 expected)",
        "mesothelioma: 3/3 studies",
        "mesothelioma: done, 3 studies",
    ]
