"""Pure tests of trialfinder.ctgov.params: exact outgoing parameters, NCT ID validation, and the
parameter lists checked against the official spec file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import yaml

from trialfinder.ctgov import params as P
from trialfinder.errors import InvalidNctIdError, UsageError


def _spec_params(shared_dir: Path, path: str) -> set[str]:
    spec = yaml.safe_load((shared_dir / "openapi" / "ctg-oas-v2-2.0.5.yaml").read_text(encoding="utf-8"))
    return {p["name"] for p in spec["paths"][path]["get"]["parameters"] if p["in"] == "query"}


def test_studies_params__equal_the_spec(shared_dir: Path) -> None:
    assert _spec_params(shared_dir, "/studies") == P.STUDIES_PARAMS


def test_study_params__equal_the_spec(shared_dir: Path) -> None:
    assert _spec_params(shared_dir, "/studies/{nctId}") == P.STUDY_PARAMS
    assert _spec_params(shared_dir, "/version") == P.VERSION_PARAMS


def test_api_version__equals_the_spec_version(shared_dir: Path) -> None:
    spec = yaml.safe_load((shared_dir / "openapi" / "ctg-oas-v2-2.0.5.yaml").read_text(encoding="utf-8"))
    assert spec["info"]["version"] == P.API_VERSION


@pytest.mark.parametrize("value", ["NCT02628535", "nct02628535", " NCT06790706 "])
def test_validate_nct_id__accepts_and_canonicalises(value: str) -> None:
    assert P.validate_nct_id(value) == value.strip().upper()


@pytest.mark.parametrize("value", ["NCT123", "NCT026285351", "NCT0262853X", "02628535", "", "NCT 02628535"])
def test_validate_nct_id__rejects_malformed(value: str) -> None:
    with pytest.raises(InvalidNctIdError, match="not an NCT ID"):
        P.validate_nct_id(value)
    assert not P.is_nct_id(value)


def test_build_studies_params__exact_query_string() -> None:
    built = P.build_studies_params(
        {
            "query.cond": "mesothelioma",
            "query.intr": "pembrolizumab",
            "filter.overallStatus": ["RECRUITING", "NOT_YET_RECRUITING"],
            "filter.advanced": "AREA[StartDate]RANGE[2020-01-01,MAX]",
            "sort": ["LastUpdatePostDate:desc"],
        },
        page_size=100,
        fields=["NCTId", "BriefTitle", "protocolSection.statusModule"],
        count_total=True,
    )
    url = "https://clinicaltrials.gov/api/v2/studies?" + urlencode(built)
    sent = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert sent == {
        "query.cond": "mesothelioma",
        "query.intr": "pembrolizumab",
        "filter.overallStatus": "RECRUITING,NOT_YET_RECRUITING",
        "filter.advanced": "AREA[StartDate]RANGE[2020-01-01,MAX]",
        "sort": "LastUpdatePostDate:desc",
        "pageSize": "100",
        "fields": "NCTId,BriefTitle,protocolSection.statusModule",
        "countTotal": "true",
    }


def test_build_studies_params__empty_means_every_study() -> None:
    assert P.build_studies_params({}) == {}
    assert P.build_studies_params(None, page_size=1000) == {"pageSize": "1000"}


def test_build_studies_params__drops_empty_values_and_formats_booleans() -> None:
    assert P.build_studies_params({"query.term": "", "query.cond": None, "countTotal": False}) == {
        "countTotal": "false"
    }


def test_build_studies_params__keywords_override_mapping() -> None:
    built = P.build_studies_params({"pageSize": 5, "fields": "NCTId"}, page_size=7, fields=["BriefTitle"])
    assert built == {"pageSize": "7", "fields": "BriefTitle"}


@pytest.mark.parametrize("name", ["filter.phase", "query.condition", "page_size", "pagesize"])
def test_build_studies_params__rejects_names_unknown_to_the_spec(name: str) -> None:
    with pytest.raises(UsageError, match=name.replace(".", r"\.")):
        P.build_studies_params({name: "x"})


@pytest.mark.parametrize("size", [0, 1001, -1, "ten"])
def test_build_studies_params__rejects_page_size_out_of_range(size: object) -> None:
    with pytest.raises(UsageError, match="pageSize"):
        P.build_studies_params({}, page_size=size)  # type: ignore[arg-type]


def test_build_studies_params__validates_filter_ids() -> None:
    assert P.build_studies_params({"filter.ids": ["nct02628535", "NCT06790706"]}) == {
        "filter.ids": "NCT02628535,NCT06790706"
    }
    with pytest.raises(InvalidNctIdError):
        P.build_studies_params({"filter.ids": "NCT1,NCT06790706"})


def test_build_study_params__fields_only() -> None:
    assert P.build_study_params() == {}
    assert P.build_study_params(["NCTId", "ConditionsModule"]) == {"fields": "NCTId,ConditionsModule"}


def test_last_update_range__iso_date_to_max() -> None:
    assert P.last_update_range(dt.date(2026, 3, 1)) == "AREA[LastUpdatePostDate]RANGE[2026-03-01,MAX]"
    assert P.last_update_range("2026-03-01T10:00:00") == "AREA[LastUpdatePostDate]RANGE[2026-03-01,MAX]"
    assert (
        P.last_update_range("2026-01-01", dt.date(2026, 2, 1))
        == "AREA[LastUpdatePostDate]RANGE[2026-01-01,2026-02-01]"
    )


def test_last_update_range__rejects_non_dates() -> None:
    with pytest.raises(UsageError, match="ISO date"):
        P.last_update_range("last week")


def test_combine_advanced__ands_onto_existing_filter() -> None:
    extra = "AREA[LastUpdatePostDate]RANGE[2026-03-01,MAX]"
    assert P.combine_advanced(None, extra) == extra
    assert P.combine_advanced("  ", extra) == extra
    assert P.combine_advanced("AREA[Phase]PHASE2", extra) == f"AREA[Phase]PHASE2 AND {extra}"
    assert (
        P.combine_advanced("AREA[Phase]PHASE2 OR AREA[Phase]PHASE3", extra)
        == f"(AREA[Phase]PHASE2 OR AREA[Phase]PHASE3) AND {extra}"
    )


def test_with_last_update_since__keeps_other_params_and_does_not_mutate() -> None:
    saved = {"query.cond": "mesothelioma", "filter.advanced": "AREA[StudyType]INTERVENTIONAL"}
    out = P.with_last_update_since(saved, "2026-03-10")
    assert out == {
        "query.cond": "mesothelioma",
        "filter.advanced": "AREA[StudyType]INTERVENTIONAL AND AREA[LastUpdatePostDate]RANGE[2026-03-10,MAX]",
    }
    assert saved["filter.advanced"] == "AREA[StudyType]INTERVENTIONAL"
    assert P.build_studies_params(out)["filter.advanced"] == out["filter.advanced"]
