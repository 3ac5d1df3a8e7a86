"""The real client over real HTTP against the replay server: paging, parameters, cache, version."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.integration.conftest import MakeClient, StartReplay
from trialfinder.ctgov import params as P
from trialfinder.ctgov.client import PageInfo
from trialfinder.ctgov.replay import ReplayServer
from trialfinder.errors import PagingError

MESO = {"NCT02628535", "NCT06790706"}


def _nct(study: dict[str, Any]) -> str:
    return str(study["protocolSection"]["identificationModule"]["nctId"])


def _query(path: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(path).query, keep_blank_values=True).items()}


@pytest.mark.parametrize("page_size", [100, 1000])
def test_iter_studies__every_recorded_study_exactly_once(
    page_size: int, clean_replay: ReplayServer, make_client: MakeClient, studies_dir: Path
) -> None:
    client = make_client(clean_replay)
    pages: list[PageInfo] = []
    studies = list(client.iter_studies({}, page_size=page_size, count_total=True, on_page=pages.append))
    files = sorted(studies_dir.glob("NCT*.json"))
    assert len(files) == 1192
    ids = [_nct(s) for s in studies]
    assert len(ids) == len(set(ids)) == 1192
    assert sorted(ids) == [f.stem for f in files]
    by_id = {_nct(s): s for s in studies}
    for f in files:
        recorded = json.loads(f.read_text(encoding="utf-8"))
        assert by_id[f.stem]["protocolSection"] == recorded["protocolSection"], f.stem
    expected_pages = math.ceil(1192 / page_size)
    assert client.requests_made == expected_pages
    assert [p.number for p in pages] == list(range(1, expected_pages + 1))
    assert pages[0].total_count == 1192
    assert all(p.total_count is None for p in pages[1:])
    assert pages[-1].next_page_token is None
    assert sum(p.studies for p in pages) == 1192


def test_iter_studies__later_pages_repeat_first_page_params(
    start_replay: StartReplay, make_client: MakeClient
) -> None:
    server = start_replay()
    client = make_client(server)
    got = list(
        client.iter_studies(
            {"query.cond": "cancer", "filter.overallStatus": ["COMPLETED"]},
            page_size=5,
            fields=["NCTId", "OverallStatus"],
            count_total=True,
        )
    )
    sent = [_query(path) for path, _ua in server.seen]
    first = {
        "query.cond": "cancer",
        "filter.overallStatus": "COMPLETED",
        "pageSize": "5",
        "fields": "NCTId,OverallStatus",
        "countTotal": "true",
    }
    assert sent[0] == first
    assert len(sent) == math.ceil(len(got) / 5) and len(sent) > 1
    for q in sent[1:]:
        token = q.pop("pageToken")
        assert token
        assert q == first
    assert all(set(s) == {"protocolSection"} for s in got)
    assert {s["protocolSection"]["statusModule"]["overallStatus"] for s in got} == {"COMPLETED"}
    assert all(ua == client.settings.user_agent for _path, ua in server.seen)


def test_iter_studies__query_cond_and_incremental_filter(
    clean_replay: ReplayServer, make_client: MakeClient, studies_dir: Path
) -> None:
    client = make_client(clean_replay)
    assert {_nct(s) for s in client.iter_studies({"query.cond": "mesothelioma"})} == MESO
    since = "2025-06-01"
    params = P.with_last_update_since({"query.cond": "asthma"}, since)
    got = {_nct(s) for s in client.iter_studies(params, page_size=50)}
    expected = set()
    for f in studies_dir.glob("NCT*.json"):
        rec = json.loads(f.read_text(encoding="utf-8"))
        conds = " ".join(rec["protocolSection"].get("conditionsModule", {}).get("conditions", [])).lower()
        date = rec["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
        if "asthma" in conds and date >= since:
            expected.add(f.stem)
    assert expected  # the recorded data has recent asthma studies
    assert expected <= got  # conditions are one of several fields of the condition area
    assert all(
        s["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] >= since
        for s in client.iter_studies(params)
    )


def test_count__total_of_a_query(clean_replay: ReplayServer, make_client: MakeClient) -> None:
    client = make_client(clean_replay)
    assert client.count({"query.cond": "mesothelioma"}) == 2
    assert client.count({}) == 1192
    assert client.requests_made == 2


def test_iter_studies__full_page_then_empty_page(start_replay: StartReplay, make_client: MakeClient) -> None:
    server = start_replay(["emptylast"])
    client = make_client(server)
    pages: list[PageInfo] = []
    ids = [_nct(s) for s in client.iter_studies({}, page_size=1000, on_page=pages.append)]
    assert len(ids) == len(set(ids)) == 1192
    assert [p.studies for p in pages] == [1000, 192, 0]
    assert client.requests_made == 3


def test_iter_studies__repeated_token_is_an_error(start_replay: StartReplay, make_client: MakeClient) -> None:
    server = start_replay(["repeat-token"])
    client = make_client(server)
    seen: list[str] = []
    with pytest.raises(PagingError, match="repeated page token"):
        for s in client.iter_studies({}, page_size=100):
            seen.append(_nct(s))
    assert len(seen) == 200  # two pages were delivered before the loop was caught
    assert client.requests_made == 2


def test_version__never_cached(clean_replay: ReplayServer, make_client: MakeClient) -> None:
    client = make_client(clean_replay, cache_expire_studies_s=3600, cache_expire_study_s=3600)
    first = client.version()
    assert first == {"apiVersion": "2.0.5", "dataTimestamp": clean_replay.store.data_timestamp}
    assert client.version() == first
    assert client.requests_made == 2


def test_iter_studies__pages_come_from_cache_when_fresh(
    clean_replay: ReplayServer, make_client: MakeClient
) -> None:
    client = make_client(clean_replay, cache_expire_studies_s=3600)
    pages: list[PageInfo] = []
    first = [_nct(s) for s in client.iter_studies({}, page_size=1000)]
    assert client.requests_made == 2
    again = [_nct(s) for s in client.iter_studies({}, page_size=1000, on_page=pages.append)]
    assert again == first
    assert client.requests_made == 2
    assert all(p.from_cache for p in pages)


def test_get_study__cached_per_endpoint(clean_replay: ReplayServer, make_client: MakeClient) -> None:
    client = make_client(clean_replay, cache_expire_study_s=3600)
    a = client.get_study("NCT02628535")
    b = client.get_study("nct02628535")
    assert a.data == b.data
    assert a.current_id == "NCT02628535" and not a.moved
    assert client.requests_made == 1


def test_get_study__fields(clean_replay: ReplayServer, make_client: MakeClient) -> None:
    client = make_client(clean_replay)
    got = client.get_study("NCT06790706", fields=["NCTId", "OverallStatus"])
    assert set(got.data["protocolSection"]) == {"identificationModule", "statusModule"}
    assert got.data["protocolSection"]["identificationModule"] == {"nctId": "NCT06790706"}


def test_cache__new_data_timestamp_invalidates_cached_pages(
    start_replay: StartReplay, make_client: MakeClient
) -> None:
    old = start_replay(data_timestamp="2026-03-13T00:00:00")
    port = old.server_address[1]
    client = make_client(old, cache_expire_studies_s=3600)
    assert client.version()["dataTimestamp"] == "2026-03-13T00:00:00"
    first = [_nct(s) for s in client.iter_studies({}, page_size=1000)]
    assert client.version()["dataTimestamp"] == "2026-03-13T00:00:00"
    assert [_nct(s) for s in client.iter_studies({}, page_size=1000)] == first
    assert client.requests_made == 4  # 2 x /version + 2 pages; the second paging came from the cache
    old.shutdown()
    old.server_close()
    new = start_replay(data_timestamp="2026-03-14T00:00:00", port=port)
    assert client.version()["dataTimestamp"] == "2026-03-14T00:00:00"
    assert [_nct(s) for s in client.iter_studies({}, page_size=1000)] == first
    assert client.requests_made == 7  # the registry moved on: the pages were fetched again
    assert new.requests_seen == 3
