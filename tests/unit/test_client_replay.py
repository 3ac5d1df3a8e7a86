"""Pure tests of the replay server's data loading, query evaluation, projection, tokens and faults
(no sockets: ``route`` is called directly). Over-HTTP tests are in tests/integration/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from trialfinder.ctgov import replay as R
from trialfinder.errors import UsageError

MESO = {"NCT02628535", "NCT06790706"}


@pytest.fixture(scope="module")
def store(shared_dir: Path) -> R.StudyStore:
    return R.load_store(shared_dir / "v2" / "studies")


def _get(store: R.StudyStore, path: str, **query: str) -> tuple[int, Any, R.Answer]:
    answer = R.route(store, R.FaultPlan([]), path, urlencode(query))
    body: Any = answer.body.decode()
    if answer.content_type.startswith("application/json"):
        body = json.loads(body)
    return answer.status, body, answer


def _nct(study: dict[str, Any]) -> str:
    return str(study["protocolSection"]["identificationModule"]["nctId"])


def test_load_store__every_recorded_study(store: R.StudyStore, shared_dir: Path) -> None:
    files = sorted(p.stem for p in (shared_dir / "v2" / "studies").glob("NCT*.json"))
    assert list(store.studies) == files
    first = files[0]
    on_disk = json.loads((shared_dir / "v2" / "studies" / f"{first}.json").read_text(encoding="utf-8"))
    assert store.studies[first] == on_disk


def test_load_store__aliases_from_records(store: R.StudyStore, shared_dir: Path) -> None:
    record = json.loads((shared_dir / "v2" / "studies" / "NCT00554515.json").read_text(encoding="utf-8"))
    alias = record["protocolSection"]["identificationModule"]["nctIdAliases"][0]
    assert store.aliases[alias] == "NCT00554515"


def test_load_store__data_timestamp_is_newest_last_update(store: R.StudyStore, shared_dir: Path) -> None:
    newest = max(
        s["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
        for s in store.studies.values()
    )
    assert store.data_timestamp == f"{newest}T00:00:00"
    override = R.load_store(shared_dir / "v2" / "studies", "2030-01-02T03:04:05")
    assert override.data_timestamp == "2030-01-02T03:04:05"


def test_load_store__pages_downloads_and_preference(tmp_path: Path, shared_dir: Path) -> None:
    # test-only variation: a page body holding a changed copy of a real record; the full study file wins
    real = json.loads((shared_dir / "v2" / "studies" / "NCT02628535.json").read_text(encoding="utf-8"))
    changed = json.loads(json.dumps(real))
    changed["protocolSection"]["identificationModule"]["briefTitle"] = "CHANGED COPY (test only)"
    (tmp_path / "v2" / "studies").mkdir(parents=True)
    (tmp_path / "v2" / "pages").mkdir()
    (tmp_path / "v2" / "pages" / "a.json").write_text(json.dumps({"studies": [changed]}), encoding="utf-8")
    (tmp_path / "v2" / "studies" / "NCT02628535.json").write_text(json.dumps(real), encoding="utf-8")
    download = shared_dir / "v2" / "downloads" / "ctg-studies-nsclc-50.json"
    (tmp_path / "dl.json").write_bytes(download.read_bytes())
    (tmp_path / "meta.json").write_text(json.dumps([{"name": "not a study"}]), encoding="utf-8")
    s = R.load_store(tmp_path)
    assert s.studies["NCT02628535"] == real
    downloaded = {_nct(x) for x in json.loads(download.read_text(encoding="utf-8"))}
    assert downloaded <= set(s.studies)
    assert set(s.studies) == downloaded | {"NCT02628535"}


def test_load_store__missing_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        R.load_store(tmp_path / "nope")


def test_route__unknown_parameter_is_plain_text_400(store: R.StudyStore) -> None:
    status, body, answer = _get(store, "/api/v2/studies", **{"filter.phase": "PHASE2"})
    assert (status, body) == (400, "`filter.phase` is unknown parameter")
    assert answer.content_type.startswith("text/plain")
    status, body, _ = _get(store, "/api/v2/version", foo="1")
    assert (status, body) == (400, "`foo` is unknown parameter")


def test_route__documented_but_ignored_parameters_are_accepted(store: R.StudyStore) -> None:
    status, body, _ = _get(
        store,
        "/api/v2/studies",
        **{
            "format": "json",
            "markupFormat": "legacy",
            "filter.geo": "distance(39.0,-77.1,50mi)",
            "aggFilters": "results:with",
            "geoDecay": "func:exp,scale:300mi,offset:0mi,decay:0.5",
            "filter.synonyms": "ConditionSearch:1651367",
            "query.cond": "mesothelioma",
        },
    )
    assert status == 200
    assert {_nct(s) for s in body["studies"]} == MESO


def test_route__empty_query_returns_every_study_with_total(store: R.StudyStore) -> None:
    status, body, _ = _get(store, "/api/v2/studies", countTotal="true")
    assert status == 200
    assert body["totalCount"] == len(store.studies)
    assert len(body["studies"]) == R.DEFAULT_PAGE_SIZE
    token = body["nextPageToken"]
    status, page2, _ = _get(store, "/api/v2/studies", countTotal="true", pageToken=token)
    assert "totalCount" not in page2
    assert [_nct(s) for s in page2["studies"]] == list(store.studies)[10:20]


def test_route__page_token_must_match_the_query(store: R.StudyStore) -> None:
    _, body, _ = _get(store, "/api/v2/studies", **{"query.cond": "asthma"})
    status, text, _ = _get(
        store, "/api/v2/studies", **{"query.cond": "cancer", "pageToken": body["nextPageToken"]}
    )
    assert status == 400 and "pageToken" in text
    status, text, _ = _get(store, "/api/v2/studies", pageToken="@@@")
    assert status == 400


def test_route__page_size_coerced_and_validated(store: R.StudyStore) -> None:
    _, body, _ = _get(store, "/api/v2/studies", pageSize="5000")
    assert len(body["studies"]) == 1000
    status, text, _ = _get(store, "/api/v2/studies", pageSize="ten")
    assert status == 400 and "pageSize" in text


def test_select_studies__query_cond_matches_condition_area(store: R.StudyStore) -> None:
    found = set(R.select_studies(store, {"query.cond": "Mesothelioma"}))
    assert found == MESO
    for nct in found:
        assert "mesothelioma" in store.text(nct, "query.cond")


def test_select_studies__all_words_or_and_not(store: R.StudyStore) -> None:
    both = set(R.select_studies(store, {"query.cond": "mesothelioma peritoneal"}))
    either = set(R.select_studies(store, {"query.cond": "mesothelioma OR asthma"}))
    asthma = set(R.select_studies(store, {"query.cond": "asthma"}))
    assert both == {"NCT06790706"}  # the only one whose conditions name peritoneal mesothelioma
    assert set(R.select_studies(store, {"query.cond": '"mesothelioma peritoneal"'})) == set()
    assert either == MESO | asthma
    not_asthma = set(R.select_studies(store, {"query.cond": "NOT asthma"}))
    assert not_asthma == set(store.studies) - asthma


def test_select_studies__query_intr_and_titles(store: R.StudyStore) -> None:
    pembro = R.select_studies(store, {"query.intr": "pembrolizumab"})
    assert pembro
    for nct in pembro:
        assert "pembrolizumab" in store.text(nct, "query.intr")
    titled = R.select_studies(store, {"query.titles": '"first-in-human"'})
    assert titled
    for nct in titled:
        ident = store.studies[nct]["protocolSection"]["identificationModule"]
        assert "first-in-human" in (ident.get("briefTitle", "") + ident.get("officialTitle", "")).lower()


def test_select_studies__filter_status_and_ids(store: R.StudyStore) -> None:
    recruiting = R.select_studies(store, {"filter.overallStatus": "RECRUITING|NOT_YET_RECRUITING"})
    expected = [
        n
        for n, s in store.studies.items()
        if s["protocolSection"]["statusModule"]["overallStatus"] in ("RECRUITING", "NOT_YET_RECRUITING")
    ]
    assert recruiting == expected
    assert R.select_studies(store, {"filter.ids": "NCT06790706,nct2628535,NCT00536757"}) == [
        "NCT00554515",
        "NCT02628535",
        "NCT06790706",
    ]
    with pytest.raises(R.ReplayError, match="unknown value"):
        R.select_studies(store, {"filter.overallStatus": "OPEN"})


def test_select_studies__last_update_range(store: R.StudyStore) -> None:
    found = set(R.select_studies(store, {"filter.advanced": "AREA[LastUpdatePostDate]RANGE[2025-06-01,MAX]"}))
    dates = {
        n: s["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
        for n, s in store.studies.items()
    }
    assert found == {n for n, d in dates.items() if d >= "2025-06-01"}
    assert 0 < len(found) < len(store.studies)
    window = set(
        R.select_studies(store, {"filter.advanced": "AREA[LastUpdatePostDate]RANGE[MIN,2020-12-31]"})
    )
    assert window == {n for n, d in dates.items() if d <= "2020-12-31"}


def test_select_studies__sort_by_date(store: R.StudyStore) -> None:
    ids = R.select_studies(store, {"sort": "LastUpdatePostDate"})
    dates = [
        store.studies[i]["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] for i in ids
    ]
    assert dates == sorted(dates, reverse=True)
    with pytest.raises(R.ReplayError, match="not supported"):
        R.select_studies(store, {"sort": "BriefTitle"})


def test_project__piece_module_and_dotted_names(store: R.StudyStore) -> None:
    study = store.studies["NCT02628535"]
    ident = study["protocolSection"]["identificationModule"]
    assert R.project(study, ["NCTId", "BriefTitle"]) == {
        "protocolSection": {
            "identificationModule": {"nctId": ident["nctId"], "briefTitle": ident["briefTitle"]}
        }
    }
    assert R.project(study, ["protocolSection.identificationModule"]) == {
        "protocolSection": {"identificationModule": ident}
    }
    assert R.project(study, ["ConditionsModule"]) == {
        "protocolSection": {"conditionsModule": study["protocolSection"]["conditionsModule"]}
    }
    names = R.project(study, ["InterventionName"])["protocolSection"]["armsInterventionsModule"][
        "interventions"
    ]
    assert [i["name"] for i in names] == [
        i["name"] for i in study["protocolSection"]["armsInterventionsModule"]["interventions"]
    ]


def test_route__single_study_alias_and_404(store: R.StudyStore) -> None:
    status, body, _ = _get(store, "/api/v2/studies/NCT02628535")
    assert status == 200 and body == store.studies["NCT02628535"]
    status, _, answer = _get(store, "/api/v2/studies/NCT00536757", fields="NCTId")
    assert status == 301
    assert answer.headers["Location"] == "/api/v2/studies/NCT00554515?fields=NCTId"
    status, text, _ = _get(store, "/api/v2/studies/NCT99999999")
    assert status == 404 and "NCT99999999" in text
    status, _, _ = _get(store, "/api/v2/studies/ABC")
    assert status == 400


def test_route__version(store: R.StudyStore) -> None:
    status, body, _ = _get(store, "/api/v2/version")
    assert body == {"apiVersion": "2.0.5", "dataTimestamp": store.data_timestamp}
    assert status == 200


@pytest.mark.parametrize(
    ("spec", "kind", "value"),
    [
        ("429:3", "429", 3),
        ("503:1", "503", 1),
        ("delay:0.5", "delay", 0.5),
        ("truncate:2", "truncate", 2),
        ("reset:1", "reset", 1),
        ("retry-after:3600", "retry-after", 3600),
        ("emptylast", "emptylast", 0),
        ("repeat-token", "repeat-token", 0),
        ("badjson:1", "badjson", 1),
        ("content-type:2", "content-type", 2),
        ("slowbody:1", "slowbody", 1),
        ("stallbody:2", "stallbody", 2),
        ("500:2", "500", 2),
        ("502:2", "502", 2),
    ],
)
def test_parse_fault__valid(spec: str, kind: str, value: float) -> None:
    fault = R.parse_fault(spec)
    assert (fault.kind, fault.value) == (kind, value)


@pytest.mark.parametrize("spec", ["418:1", "429", "429:x", "429:1.5", "delay:-1", "emptylast:3", ""])
def test_parse_fault__invalid(spec: str) -> None:
    with pytest.raises(UsageError):
        R.parse_fault(spec)


def test_fault_plan__counts_in_given_order() -> None:
    plan = R.FaultPlan(["429:2", "503:1"])
    kinds = [f.kind if f else None for f in (plan.take(["429", "503"]) for _ in range(4))]
    assert kinds == ["429", "429", "503", None]


def test_select_studies__partial_date_and_numeric_ranges(store: R.StudyStore) -> None:
    dates = {
        n: s["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
        for n, s in store.studies.items()
    }
    in_2024 = set(R.select_studies(store, {"filter.advanced": "AREA[LastUpdatePostDate]RANGE[2024,2024]"}))
    assert in_2024 == {n for n, d in dates.items() if d.startswith("2024")}
    assert in_2024
    big = set(R.select_studies(store, {"filter.advanced": "AREA[EnrollmentCount]RANGE[1000,MAX]"}))
    counts = {
        n: s["protocolSection"].get("designModule", {}).get("enrollmentInfo", {}).get("count")
        for n, s in store.studies.items()
    }
    assert big == {n for n, c in counts.items() if isinstance(c, int) and c >= 1000}
    assert big
    adults = set(R.select_studies(store, {"filter.advanced": "AREA[MinimumAge]RANGE[MIN, 17 years]"}))
    for n in adults:
        age = store.studies[n]["protocolSection"]["eligibilityModule"]["minimumAge"]
        assert float(age.split()[0]) <= 17


def test_select_studies__sort_takes_two_items_at_most(store: R.StudyStore) -> None:
    with pytest.raises(R.ReplayError, match="at most 2"):
        R.select_studies(store, {"sort": "StartDate,LastUpdatePostDate,EnrollmentCount"})
