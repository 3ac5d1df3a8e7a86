"""refresh() and import over real HTTP against the replay server and the recorded data.

The data-change test works on a temporary copy of the recorded studies (symlinks, except for one
study that the test rewrites with a new overall status and a newer last-update date, so that the
replay server's dataTimestamp moves on, as the registry's does after its daily update).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from click.testing import CliRunner

from tests.integration.conftest import StartReplay, fast_settings
from trialfinder.cli import cli
from trialfinder.config import Settings
from trialfinder.ctgov.client import CtgovClient
from trialfinder.errors import LockTimeoutError, TemporaryError
from trialfinder.queries import SavedSearch, load_queries, load_query
from trialfinder.refresh import LogProgress, import_into_store, refresh
from trialfinder.store import Store, list_snapshots, load_current, read_last_refresh

MESO = {"NCT02628535", "NCT06790706"}


def report(what: str, numbers: dict[str, Any]) -> None:
    """Numbers for the engineering notes (visible with ``pytest -s``; never asserted on)."""
    print(f"\nnumbers {what}: {json.dumps(numbers)}")


def _settings(url: str, tmp_path: Path, **kw: Any) -> Settings:
    return fast_settings(url, tmp_path / "tf-data", **kw)


def _all_studies_query(tmp_path: Path) -> SavedSearch:
    p = tmp_path / "everything.toml"
    p.write_text('name = "everything"\ntitle = "Every recorded study"\n[params]\n')
    return load_query(p)


def _copy_with_change(studies_dir: Path, dest: Path, nct: str, **status: Any) -> dict[str, Any]:
    """Symlink every recorded study into ``dest``; write ``nct`` as a modified copy."""
    dest.mkdir()
    for f in studies_dir.glob("NCT*.json"):
        if f.stem != nct:
            (dest / f.name).symlink_to(f)
    study = json.loads((studies_dir / f"{nct}.json").read_text(encoding="utf-8"))
    sm = study["protocolSection"]["statusModule"]
    for k, v in status.items():
        if k == "last_update":
            sm["lastUpdatePostDateStruct"]["date"] = v
        else:
            sm[k] = v
    (dest / f"{nct}.json").write_text(json.dumps(study), encoding="utf-8")
    return study


def test_refresh__saved_searches_then_unchanged_makes_one_request(
    start_replay: StartReplay, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_replay()
    settings = _settings(server.base_url, tmp_path)
    queries = load_queries()
    t0 = time.perf_counter()
    first = refresh(settings, queries, progress=LogProgress())
    t1 = time.perf_counter()
    assert first.status == "ok" and first.full
    assert first.requests_made == 1 + len(queries)  # /version + one page per saved search
    assert server.requests_seen == first.requests_made
    snap = load_current(settings.data_dir)
    ids = set(snap.tables["trials"]["nct_id"])
    assert ids == MESO  # the two mesothelioma studies among the recorded ones
    assert len(snap.tables["trials"]) == len(ids)
    assert {s["name"] for s in snap.manifest["searches"]} == {q.name for q in queries}
    assert snap.manifest["data_timestamp"] == server.store.data_timestamp
    assert snap.manifest["mode"] == "api"

    before = server.requests_seen
    import trialfinder.store as store_mod

    tables_read: list[Path] = []
    real_read_table = store_mod.read_table
    monkeypatch.setattr(store_mod, "read_table", lambda p: tables_read.append(p) or real_read_table(p))
    t2 = time.perf_counter()
    second = refresh(settings, queries, progress=LogProgress())
    t3 = time.perf_counter()
    assert second.skipped
    assert server.requests_seen - before == 1
    assert second.requests_made == 1
    assert tables_read == []  # "nothing new" is decided from the manifest alone
    assert list_snapshots(settings.data_dir) == [snap.name]
    assert read_last_refresh(settings.data_dir)["status"] == "skipped"  # type: ignore[index]
    report("saved searches", {
        "first_requests": first.requests_made, "first_s": round(t1 - t0, 2),
        "second_requests": second.requests_made, "second_s": round(t3 - t2, 2),
    })  # fmt: skip


def test_refresh__all_recorded_studies_full_then_incremental_change(
    start_replay: StartReplay, studies_dir: Path, tmp_path: Path
) -> None:
    everything = _all_studies_query(tmp_path)
    server = start_replay()
    settings = _settings(server.base_url, tmp_path, page_size=1000)
    t0 = time.perf_counter()
    first = refresh(settings, [everything], progress=LogProgress())
    t1 = time.perf_counter()
    snap1 = load_current(settings.data_dir)
    files = {f.stem for f in studies_dir.glob("NCT*.json")}
    assert set(snap1.tables["trials"]["nct_id"]) == files
    assert len(snap1.tables["trials"]) == len(files) == 1192
    assert first.requests_made == 1 + 2  # /version + 2 pages of 1000
    rows = {k: len(v) for k, v in snap1.tables.items()}

    # the registry updates one study: new status, new last-update date (test-only change)
    nct = "NCT02628535"
    old_status = snap1.tables["trials"].set_index("nct_id").loc[nct, "overall_status"]
    new_status = "ACTIVE_NOT_RECRUITING" if old_status != "ACTIVE_NOT_RECRUITING" else "COMPLETED"
    changed_dir = tmp_path / "changed"
    _copy_with_change(studies_dir, changed_dir, nct, overallStatus=new_status, last_update="2026-03-20")
    server2 = start_replay(data_dir=changed_dir)
    assert server2.store.data_timestamp > server.store.data_timestamp
    settings2 = _settings(server2.base_url, tmp_path, page_size=1000)
    t2 = time.perf_counter()
    second = refresh(settings2, [everything], progress=LogProgress())
    t3 = time.perf_counter()
    assert second.status == "ok" and not second.full
    # incremental: RANGE[previous data date - 3 days, MAX]
    assert second.since == "2026-03-10"
    assert second.studies_fetched < 1192
    snap2 = load_current(settings.data_dir)
    ch = snap2.tables["changes"]
    assert [tuple(r) for r in ch[["nct_id", "change", "field", "old", "new"]].itertuples(index=False)] == [
        (nct, "status_changed", "overall_status", old_status, new_status)
    ]
    assert len(snap2.tables["trials"]) == 1192
    assert snap2.manifest["previous"] == snap1.name
    out = CliRunner().invoke(cli, ["changes", "--data-dir", str(settings.data_dir)])
    assert f"{nct}  status_changed" in out.output and f"{old_status} -> {new_status}" in out.output
    report("all recorded", {
        "full_requests": first.requests_made, "full_s": round(t1 - t0, 2), "rows": rows,
        "incremental_requests": second.requests_made, "incremental_studies": second.studies_fetched,
        "incremental_s": round(t3 - t2, 2),
    })  # fmt: skip


def test_refresh__incremental_request_carries_last_update_filter(
    start_replay: StartReplay, tmp_path: Path
) -> None:
    server = start_replay(data_timestamp="2026-03-13T00:00:00")
    settings = _settings(server.base_url, tmp_path)
    q = next(s for s in load_queries() if s.name == "mesothelioma")
    refresh(settings, [q], progress=LogProgress())
    server2 = start_replay(data_timestamp="2026-03-14T00:00:00")
    settings2 = _settings(server2.base_url, tmp_path)
    sent: list[str] = []

    def client_factory(s: Settings) -> CtgovClient:
        client = CtgovClient(s)
        client.session.hooks["response"].append(lambda r, *a, **k: sent.append(r.url))
        return client

    res = refresh(settings2, [q], progress=LogProgress(), client_factory=client_factory)
    assert res.since == "2026-03-10"
    urls = list(dict.fromkeys(sent))  # requests-cache runs response hooks twice
    assert res.requests_made == len(urls) == 2  # /version, then one page of the search
    assert urlsplit(urls[0]).path.endswith("/version")
    query = dict(parse_qsl(urlsplit(urls[1]).query))
    assert query == {
        "query.cond": "mesothelioma",
        "filter.advanced": "AREA[LastUpdatePostDate]RANGE[2026-03-10,MAX]",
        "pageSize": "1000",
        "countTotal": "true",
    }


def test_refresh__server_failure_keeps_previous_snapshot(start_replay: StartReplay, tmp_path: Path) -> None:
    server = start_replay()
    settings = _settings(server.base_url, tmp_path)
    queries = load_queries()
    refresh(settings, queries, progress=LogProgress())
    before = load_current(settings.data_dir)
    broken = start_replay(faults=["503:1000"], data_timestamp="2026-04-01T00:00:00")
    with pytest.raises(TemporaryError):
        refresh(_settings(broken.base_url, tmp_path, max_retries=1), queries, progress=LogProgress())
    after = load_current(settings.data_dir)
    assert after.name == before.name
    assert read_last_refresh(settings.data_dir)["exit_code"] == 75  # type: ignore[index]


def test_refresh__two_at_once_never_interleave(start_replay: StartReplay, tmp_path: Path) -> None:
    server = start_replay(faults=["delay:0.2"])
    settings = _settings(server.base_url, tmp_path, lock_timeout_s=60)
    queries = load_queries()
    results: list[Any] = []

    def run() -> None:
        try:
            results.append(refresh(settings, queries, progress=LogProgress()))
        except Exception as exc:  # pragma: no cover - reported by the assertion
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status for r in results)
    assert statuses == ["ok", "skipped"]  # the second waited for the lock, then found nothing new
    assert len(list_snapshots(settings.data_dir)) == 1


def test_refresh__lock_held_times_out_with_clear_message(start_replay: StartReplay, tmp_path: Path) -> None:
    server = start_replay()
    settings = _settings(server.base_url, tmp_path, lock_timeout_s=0.2)
    with Store.from_settings(settings).lock(), pytest.raises(LockTimeoutError, match="another refresh"):
        refresh(settings, load_queries(), progress=LogProgress())
    assert server.requests_seen == 0


def test_cli_refresh__against_replay_exit_codes(
    start_replay: StartReplay, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_replay()
    monkeypatch.setenv("TRIALFINDER_API_URL", server.base_url)
    monkeypatch.setenv("TRIALFINDER_RATE_LIMIT_PER_S", "1000")
    runner = CliRunner()
    res = runner.invoke(cli, ["refresh"])
    assert res.exit_code == 0, res.output
    assert "full refresh" in res.stdout
    res = runner.invoke(cli, ["refresh", "--json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout)["status"] == "skipped"


def test_import__shared_ctgov_every_nct_id_exactly_once(shared_dir: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "tf-data")
    t0 = time.perf_counter()
    result = import_into_store([shared_dir], settings, progress=LogProgress())
    elapsed = time.perf_counter() - t0
    snap = load_current(settings.data_dir)
    ids = list(snap.tables["trials"]["nct_id"])
    assert len(ids) == len(set(ids))

    expected: set[str] = {p.stem for p in (shared_dir / "classic-xml").glob("NCT*.xml")}
    for p in (shared_dir / "v2").rglob("*.json"):
        body = json.loads(p.read_text(encoding="utf-8"))
        records = body["studies"] if isinstance(body, dict) and "studies" in body else body
        for rec in records if isinstance(records, list) else [records]:
            expected.add(rec["protocolSection"]["identificationModule"]["nctId"])
    assert expected <= set(ids)
    assert len(expected) > 1200
    assert snap.manifest["mode"] == "import"
    for t in ("trials", "conditions", "interventions", "arms", "locations", "eligibility"):
        assert set(snap.tables[t]["nct_id"]) <= set(ids)
    report("import shared", {
        "trials": len(ids), "expected_v2_xml": len(expected), "s": round(elapsed, 2),
        "rows": {k: len(v) for k, v in snap.tables.items()}, "records_read": result.studies_fetched,
    })  # fmt: skip
