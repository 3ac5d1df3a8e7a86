"""The snapshot store: atomic swap, retention, sanity checks, lock, crash leftovers, change tracking.

Tables are built from real recorded studies (``../shared/ctgov/v2/studies``). Where a test needs a
"next version" of the data, it modifies a copy of those real tables and says what it changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pytest

from trialfinder import store as st
from trialfinder.errors import LockTimeoutError, NoSnapshotError, SanityCheckError, SnapshotError
from trialfinder.normalize import normalize
from trialfinder.sources.base import RawStudy

N_STUDIES = 40


@pytest.fixture(scope="module")
def real_tables(shared_dir: Path) -> dict[str, pd.DataFrame]:
    """40 real studies: 10 with several sites that carry a site status, 30 others spread out."""
    files = sorted((shared_dir / "v2" / "studies").glob("NCT*.json"))
    recs = [RawStudy(json.loads(f.read_text(encoding="utf-8")), "v2-study", str(f), None) for f in files]
    tables = normalize(recs)
    loc = tables["locations"]
    counts = loc[loc["site_status"].notna()]["nct_id"].value_counts()
    with_sites = sorted(n for n in counts.index if counts[n] >= 2)[:10]
    others = [n for n in tables["trials"]["nct_id"] if n not in set(with_sites)][::30][: N_STUDIES - 10]
    keep = set(with_sites) | set(others)
    assert len(keep) == N_STUDIES
    return {k: v[v["nct_id"].isin(list(keep))].reset_index(drop=True) for k, v in tables.items()}


def copy_tables(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {k: v.copy() for k, v in tables.items()}


def drop_trials(tables: Mapping[str, pd.DataFrame], ids: set[str]) -> dict[str, pd.DataFrame]:
    return {k: v[~v["nct_id"].isin(list(ids))].reset_index(drop=True) for k, v in tables.items()}


def folder_digest(path: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file():
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def manifest(**kw: object) -> dict[str, object]:
    return {"data_timestamp": "2026-03-13T00:00:00", "mode": "import", **kw}


def test_commit__writes_snapshot_and_swaps_pointer(
    tmp_path: Path, real_tables: dict[str, pd.DataFrame]
) -> None:
    store = st.Store(tmp_path)
    res = store.commit(real_tables, manifest(searches=[{"name": "x", "params": {"query.cond": "y"}}]))
    assert (tmp_path / "snapshots" / "CURRENT").read_text().strip() == res.name
    snap = st.load_current(tmp_path)
    assert snap.name == res.name
    for name, df in real_tables.items():
        pd.testing.assert_frame_equal(snap.tables[name], df)
    m = snap.manifest
    assert m["schema_version"] == st.SCHEMA_VERSION
    assert m["mode"] == "import"
    assert m["data_timestamp"] == "2026-03-13T00:00:00"
    assert m["counts"]["trials"] == N_STUDIES
    assert m["previous"] is None
    assert m["searches"][0]["params"] == {"query.cond": "y"}
    assert snap.tables["changes"].empty  # the first snapshot has nothing to compare with
    assert list(snap.tables["changes"].columns) == list(st.CHANGES_COLUMNS)


def test_load_current__no_snapshot_raises(tmp_path: Path) -> None:
    with pytest.raises(NoSnapshotError, match="no snapshot yet"):
        st.load_current(tmp_path)


def test_load_current__pointer_to_garbage_is_snapshot_error(tmp_path: Path) -> None:
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "CURRENT").write_text("../../etc\n")
    with pytest.raises(SnapshotError, match="does not name a snapshot"):
        st.load_current(tmp_path)


def test_load_current__subset_of_tables(tmp_path: Path, real_tables: dict[str, pd.DataFrame]) -> None:
    st.Store(tmp_path).commit(real_tables, manifest())
    snap = st.load_current(tmp_path, tables=["trials"])
    assert set(snap.tables) == {"trials"}
    with pytest.raises(SnapshotError, match="no table 'nope'"):
        st.load_current(tmp_path, tables=["nope"])


def test_commit__duplicate_nct_ids_rejected_previous_untouched(
    tmp_path: Path, real_tables: dict[str, pd.DataFrame]
) -> None:
    store = st.Store(tmp_path)
    first = store.commit(real_tables, manifest())
    before = folder_digest(tmp_path / "snapshots")
    bad = copy_tables(real_tables)
    bad["trials"] = pd.concat([bad["trials"], bad["trials"].head(2)], ignore_index=True)
    with pytest.raises(SanityCheckError, match="duplicate NCT IDs"):
        store.commit(bad, manifest())
    assert st.current_name(tmp_path) == first.name
    assert folder_digest(tmp_path / "snapshots") == before
    assert st.list_snapshots(tmp_path) == [first.name]


def test_commit__too_few_trials_rejected_unless_force(
    tmp_path: Path, real_tables: dict[str, pd.DataFrame]
) -> None:
    store = st.Store(tmp_path)
    first = store.commit(real_tables, manifest())
    ids = list(real_tables["trials"]["nct_id"])
    smaller = drop_trials(real_tables, set(ids[:10]))  # 30 of 40 trials: below 90 %
    with pytest.raises(SanityCheckError, match="fewer than 90% of the previous 40"):
        store.commit(smaller, manifest(), min_count_ratio=0.9)
    assert st.current_name(tmp_path) == first.name
    forced = store.commit(smaller, manifest(), min_count_ratio=0.9, force=True)
    assert st.current_name(tmp_path) == forced.name
    assert forced.changes["removed_trial"] == 10


def test_commit__retention_keeps_last_n(tmp_path: Path, real_tables: dict[str, pd.DataFrame]) -> None:
    store = st.Store(tmp_path, keep=2)
    names = [store.commit(real_tables, manifest()).name for _ in range(4)]
    assert st.list_snapshots(tmp_path) == sorted(names[-2:])
    assert st.current_name(tmp_path) == names[-1]


def test_prune__never_deletes_current(tmp_path: Path, real_tables: dict[str, pd.DataFrame]) -> None:
    store = st.Store(tmp_path, keep=1)
    a = store.commit(real_tables, manifest()).name
    store.keep = 5
    b = store.commit(real_tables, manifest()).name
    # point CURRENT back at the older snapshot (as an operator rolling back would), then prune
    (tmp_path / "snapshots" / "CURRENT").write_text(a + "\n")
    store.keep = 1
    removed = store.prune()
    assert removed == []  # b is the newest, a is current: both stay
    assert set(st.list_snapshots(tmp_path)) == {a, b}


def test_commit__failure_mid_write_leaves_previous(
    tmp_path: Path, real_tables: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = st.Store(tmp_path)
    first = store.commit(real_tables, manifest())
    before = folder_digest(tmp_path / "snapshots")
    calls = {"n": 0}
    real_write = st.write_table

    def flaky(df: pd.DataFrame, path: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full (simulated)")
        real_write(df, path)

    monkeypatch.setattr(st, "write_table", flaky)
    with pytest.raises(st.StorageError, match=r"cannot write the new snapshot in .*: disk full") as info:
        store.commit(real_tables, manifest())
    assert isinstance(info.value, OSError) and isinstance(info.value, SnapshotError)
    assert st.current_name(tmp_path) == first.name
    assert folder_digest(tmp_path / "snapshots") == before
    assert [p.name for p in (tmp_path / "snapshots").iterdir() if p.name.startswith(".tmp-")] == []


def test_commit__crash_leftovers_never_current_and_cleaned(
    tmp_path: Path, real_tables: dict[str, pd.DataFrame]
) -> None:
    store = st.Store(tmp_path)
    first = store.commit(real_tables, manifest())
    snaps = tmp_path / "snapshots"
    # what a crashed writer leaves behind: a half-written temp folder and a stray pointer temp file
    leftover = snaps / ".tmp-20991231T000000Z-abcdef"
    leftover.mkdir()
    (leftover / "trials.parquet").write_bytes(b"PAR1 half written")
    (snaps / "CURRENT.deadbeef.tmp").write_text("20991231T000000Z-abcdef\n")
    assert st.load_current(tmp_path).name == first.name
    assert leftover.name not in st.list_snapshots(tmp_path)
    second = store.commit(real_tables, manifest())
    assert not leftover.exists()
    assert not (snaps / "CURRENT.deadbeef.tmp").exists()
    assert st.current_name(tmp_path) == second.name


_HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from trialfinder.store import Store
    s = Store(sys.argv[1], lock_timeout_s=5)
    with s.lock():
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def test_lock__second_process_waits_then_times_out(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(tmp_path), "30"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        second = st.Store(tmp_path, lock_timeout_s=0.3)
        with pytest.raises(LockTimeoutError, match=r"another refresh or import holds .*refresh.lock"):
            second.lock().__enter__()
    finally:
        proc.kill()
        proc.wait()
    # a killed holder releases the lock (flock dies with the process)
    with st.Store(tmp_path, lock_timeout_s=5).lock():
        pass


def test_lock__threads_never_interleave_commits(tmp_path: Path, real_tables: dict[str, pd.DataFrame]) -> None:
    store_a, store_b = st.Store(tmp_path, keep=10), st.Store(tmp_path, keep=10)
    errors: list[BaseException] = []

    def work(s: st.Store) -> None:
        try:
            for _ in range(3):
                s.commit(real_tables, manifest())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in (store_a, store_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    names = st.list_snapshots(tmp_path)
    assert len(names) == 6
    # each snapshot's "previous" is the snapshot committed just before it: a strict chain
    prevs = [st.read_manifest(tmp_path / "snapshots" / n)["previous"] for n in names]
    assert sorted(p for p in prevs if p) == names[:-1]


def test_load_current__concurrent_swaps_give_old_or_new_never_a_mix(
    tmp_path: Path, real_tables: dict[str, pd.DataFrame]
) -> None:
    ids = list(real_tables["trials"]["nct_id"])
    small = drop_trials(real_tables, set(ids[:3]))  # 37 trials
    store = st.Store(tmp_path, keep=100)
    store.commit(real_tables, manifest())
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set() and i < 12:
            store.commit(small if i % 2 == 0 else real_tables, manifest(), force=True)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    seen: set[int] = set()
    try:
        while t.is_alive():
            snap = st.load_current(tmp_path)
            n = len(snap.tables["trials"])
            assert n == snap.manifest["counts"]["trials"]
            assert len(snap.tables["eligibility"]) == snap.manifest["counts"]["eligibility"]
            seen.add(n)
    finally:
        stop.set()
        t.join()
    assert seen <= {N_STUDIES, N_STUDIES - 3}


_SLOW_COMMIT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import pandas as pd
    from trialfinder import store as st
    real_write = st.write_table
    def slow(df, path):
        real_write(df, path)
        print("wrote", path.name, flush=True)
        time.sleep(60)
    st.write_table = slow
    tables = {"trials": st.read_table(Path(sys.argv[2]))}
    st.Store(sys.argv[1]).commit(tables, {"mode": "import"}, force=True)
    """
)


def test_commit__sigkill_mid_write_leaves_previous_current_and_readable(
    tmp_path: Path, real_tables: dict[str, pd.DataFrame]
) -> None:
    store = st.Store(tmp_path)
    first = store.commit(real_tables, manifest())
    trials_file = tmp_path / "trials-in.parquet"
    st.write_table(real_tables["trials"].head(5), trials_file)
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_COMMIT, str(tmp_path), str(trials_file)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("wrote ")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    leftovers = [p for p in (tmp_path / "snapshots").iterdir() if p.name.startswith(".tmp-")]
    assert len(leftovers) == 1  # the killed writer's temp folder
    snap = st.load_current(tmp_path)
    assert snap.name == first.name
    assert len(snap.tables["trials"]) == N_STUDIES
    # the next writer gets the lock (released by the kill) and cleans the leftover
    second = st.Store(tmp_path, lock_timeout_s=5).commit(real_tables, manifest())
    assert st.current_name(tmp_path) == second.name
    assert not leftovers[0].exists()


def test_compute_changes__first_snapshot_has_none(real_tables: dict[str, pd.DataFrame]) -> None:
    assert st.compute_changes(None, real_tables).empty


def test_compute_changes__reports_each_kind_on_modified_copy(real_tables: dict[str, pd.DataFrame]) -> None:
    old = real_tables
    with_status = old["locations"][old["locations"]["site_status"].notna()]
    with_sites = with_status["nct_id"].value_counts()
    site_trials = [n for n in with_sites.index if with_sites[n] >= 2][:3]
    others = [n for n in old["trials"]["nct_id"] if n not in site_trials]
    status_id, elig_id, new_id, removed_id = others[:4]
    added_site_id, removed_site_id, site_status_id = site_trials

    # test-only modifications of the real records:
    new = drop_trials(old, {removed_id})  # removed_id no longer in the search
    old = drop_trials(old, {new_id})  # new_id was not in the old snapshot
    t = new["trials"]
    prev_status = t.loc[t["nct_id"] == status_id, "overall_status"].iloc[0]
    t.loc[t["nct_id"] == status_id, "overall_status"] = (
        "ACTIVE_NOT_RECRUITING" if prev_status != "ACTIVE_NOT_RECRUITING" else "COMPLETED"
    )
    e = new["eligibility"]
    e.loc[e["nct_id"] == elig_id, "criteria"] = e.loc[e["nct_id"] == elig_id, "criteria"] + "\n* ECOG 0-1"
    loc = new["locations"]
    first_removed = loc.index[loc["nct_id"] == removed_site_id][0]
    removed_site = st._site_key(loc.loc[first_removed].to_dict())
    loc = loc.drop(index=first_removed)
    o_loc = old["locations"]
    first_added = o_loc.index[o_loc["nct_id"] == added_site_id][0]
    added_site = st._site_key(o_loc.loc[first_added].to_dict())
    old["locations"] = o_loc.drop(index=first_added)  # the site exists only in the new version
    idx = loc.index[(loc["nct_id"] == site_status_id) & loc["site_status"].notna()][0]
    old_site_status = loc.loc[idx, "site_status"]
    loc.loc[idx, "site_status"] = "COMPLETED" if old_site_status != "COMPLETED" else "RECRUITING"
    new["locations"] = loc

    ch = st.compute_changes(old, new)
    got = {(r.nct_id, r.change) for r in ch.itertuples()}
    assert got == {
        (new_id, "new_trial"),
        (removed_id, "removed_trial"),
        (status_id, "status_changed"),
        (elig_id, "eligibility_changed"),
        (added_site_id, "site_added"),
        (removed_site_id, "site_removed"),
        (site_status_id, "site_status_changed"),
    }
    row = ch[ch["change"] == "status_changed"].iloc[0]
    assert (row["field"], row["old"]) == ("overall_status", prev_status)
    assert ch[ch["change"] == "site_removed"].iloc[0]["old"] == removed_site
    assert ch[ch["change"] == "site_added"].iloc[0]["new"] == added_site
    assert st.summarize_changes(ch) == dict.fromkeys(st.CHANGE_KINDS, 1)


def test_compute_changes__identical_tables_no_changes(real_tables: dict[str, pd.DataFrame]) -> None:
    assert st.compute_changes(real_tables, copy_tables(real_tables)).empty


def test_changes_parquet__round_trip_through_store(
    tmp_path: Path, real_tables: dict[str, pd.DataFrame]
) -> None:
    store = st.Store(tmp_path)
    store.commit(real_tables, manifest())
    new = copy_tables(real_tables)
    nct = new["trials"]["nct_id"].iloc[0]
    new["trials"].loc[new["trials"]["nct_id"] == nct, "overall_status"] = "WITHDRAWN"  # test-only change
    res = store.commit(new, manifest())
    snap = st.load_current(tmp_path)
    ch = snap.tables["changes"]
    assert list(ch["nct_id"]) == [nct]
    assert list(ch["change"]) == ["status_changed"]
    assert snap.manifest["previous"] == res.previous
    assert snap.manifest["changes"]["status_changed"] == 1


def test_sanity_check__rows_without_nct_id(real_tables: dict[str, pd.DataFrame]) -> None:
    bad = copy_tables(real_tables)
    bad["trials"].loc[0, "nct_id"] = None
    with pytest.raises(SanityCheckError, match="without an NCT ID"):
        st.sanity_check(bad, None, min_count_ratio=0.9)


def test_last_refresh__round_trip(tmp_path: Path) -> None:
    assert st.read_last_refresh(tmp_path) is None
    st.write_last_refresh(tmp_path, {"status": "ok", "message": "fine"})
    assert st.read_last_refresh(tmp_path) == {"status": "ok", "message": "fine"}
    (tmp_path / "last_refresh.json").write_text("{broken")
    assert st.read_last_refresh(tmp_path)["status"] == "unknown"  # type: ignore[index]


def test_snapshot_created_at__parses_manifest(tmp_path: Path, real_tables: dict[str, pd.DataFrame]) -> None:
    st.Store(tmp_path).commit(real_tables, manifest())
    snap = st.load_current(tmp_path, tables=[])
    assert snap.created_at is not None
    assert st.iso_utc(snap.created_at) == snap.manifest["created_at"]
    assert snap.name.startswith(snap.created_at.strftime("%Y%m%dT%H%M%SZ"))


def test_load_current__table_listed_in_manifest_but_missing(
    tmp_path: Path, real_tables: dict[str, pd.DataFrame]
) -> None:
    res = st.Store(tmp_path).commit(real_tables, manifest())
    (res.path / "arms.parquet").unlink()
    with pytest.raises(SnapshotError, match="has no table 'arms'"):
        st.load_current(tmp_path)


def test_load_current__snapshot_pruned_mid_read_rereads_pointer(
    tmp_path: Path, real_tables: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = st.Store(tmp_path, keep=1)
    first = store.commit(real_tables, manifest())
    smaller = drop_trials(real_tables, {real_tables["trials"]["nct_id"].iloc[0]})
    original = st.read_manifest
    swapped: list[str] = []
    busy: list[bool] = []

    def read_manifest(path: Path) -> dict[str, object]:
        if not busy:  # between reading CURRENT and reading the folder, a writer commits and prunes
            busy.append(True)
            swapped.append(store.commit(smaller, manifest()).name)
        return original(path)

    monkeypatch.setattr(st, "read_manifest", read_manifest)
    snap = st.load_current(tmp_path)
    assert not (tmp_path / "snapshots" / first.name).exists()
    assert snap.name == swapped[0]
    assert len(snap.tables["trials"]) == N_STUDIES - 1 == snap.manifest["counts"]["trials"]


@pytest.mark.parametrize("damage", ["garbage", "empty", "missing-folder", "bad-manifest"])
def test_store_current__damaged_pointer_falls_back_and_commit_repairs(
    damage: str, tmp_path: Path, real_tables: dict[str, pd.DataFrame], caplog: pytest.LogCaptureFixture
) -> None:
    store = st.Store(tmp_path)
    older = store.commit(real_tables, manifest())
    newest = store.commit(real_tables, manifest())
    pointer = tmp_path / "snapshots" / "CURRENT"
    expected: str | None = newest.name
    if damage == "garbage":
        pointer.write_bytes(b"\x00garbage\n")
    elif damage == "empty":
        pointer.write_bytes(b"")
    elif damage == "missing-folder":
        import shutil

        shutil.rmtree(newest.path)
        expected = older.name
    else:
        (newest.path / "manifest.json").write_text("{not json")
        expected = older.name
    with pytest.raises(SnapshotError):
        st.load_current(tmp_path)  # readers stay strict
    assert not store.pointer_ok()
    with caplog.at_level("WARNING", logger="trialfinder.store"):
        prev = store.current()
    assert prev is not None and prev.name == expected
    assert "building on the newest complete snapshot" in caplog.text
    repaired = store.commit(real_tables, manifest(), previous=prev)
    assert st.load_current(tmp_path).name == repaired.name
    assert repaired.previous == expected
    assert store.pointer_ok()
