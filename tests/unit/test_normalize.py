"""normalize: studies → Arrow-backed tables (schema version 2)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialfinder.normalize import (
    TABLE_SCHEMAS,
    age_in_years,
    empty_tables,
    normalize,
    split_criteria,
    std_ages_for,
    unescape_markdown,
)
from trialfinder.sources import iter_records, record_from_v2
from trialfinder.sources.base import RawStudy
from trialfinder.sources.classic_xml import parse_classic_xml


def _raw(shared_dir: Path, nct: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((shared_dir / "v2" / "studies" / f"{nct}.json").read_bytes())
    return data


def _criteria(shared_dir: Path, nct: str) -> str:
    text: str = _raw(shared_dir, nct)["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
    return unescape_markdown(text)


@pytest.fixture(scope="module")
def v2_tables(shared_dir: Path) -> dict[str, pd.DataFrame]:
    return normalize(iter_records([shared_dir / "v2" / "studies"]))


# --- schema -----------------------------------------------------------------------------------------


def _check_schema(tables: dict[str, pd.DataFrame]) -> None:
    assert list(tables) == list(TABLE_SCHEMAS)
    for name, cols in TABLE_SCHEMAS.items():
        df = tables[name]
        assert list(df.columns) == list(cols), name
        for col, typ in cols.items():
            assert df[col].dtype == pd.ArrowDtype(typ), (name, col, df[col].dtype)


def test_empty_tables__schema() -> None:
    tables = empty_tables()
    _check_schema(tables)
    assert all(len(df) == 0 for df in tables.values())
    assert TABLE_SCHEMAS["trials"]["phases"] == pa.list_(pa.string())


def test_normalize__no_studies_gives_empty_tables() -> None:
    out = normalize([])
    for name, df in empty_tables().items():
        pd.testing.assert_frame_equal(out[name], df)


def test_normalize__all_recorded_v2_studies(shared_dir: Path, v2_tables: dict[str, pd.DataFrame]) -> None:
    _check_schema(v2_tables)
    trials = v2_tables["trials"]
    assert len(trials) == 1192 and trials["nct_id"].is_unique
    assert set(trials["url"]) == {f"https://clinicaltrials.gov/study/{n}" for n in trials["nct_id"]}
    assert trials["has_results"].sum() == 153  # README: 153 have a results section
    assert not trials["partial"].any()
    assert set(v2_tables["eligibility"]["nct_id"]) <= set(trials["nct_id"])
    for name in ("conditions", "interventions", "arms", "locations"):
        assert set(v2_tables[name]["nct_id"]) <= set(trials["nct_id"]), name
    kinds = set(v2_tables["conditions"]["kind"])
    assert kinds == {"condition", "keyword", "mesh"}
    types = {t for ts in trials["intervention_types"] for t in ts}
    assert {"DRUG", "BIOLOGICAL", "OTHER", "RADIATION", "GENETIC"} <= types


def test_normalize__standard_headings_always_split(v2_tables: dict[str, pd.DataFrame]) -> None:
    elig = v2_tables["eligibility"]
    checked = 0
    for row in elig.itertuples():
        lines = {ln.strip() for ln in str(row.criteria).splitlines()}
        if "Inclusion Criteria:" in lines and "Exclusion Criteria:" in lines:
            checked += 1
            inclusion, exclusion = split_criteria(row.criteria)
            assert inclusion, row.nct_id
            assert "Exclusion Criteria:" not in inclusion, row.nct_id
            after = str(row.criteria).rsplit("Exclusion Criteria:", 1)[1]
            assert bool(exclusion) == bool(after.strip()), row.nct_id
    assert checked > 1000


def test_normalize__mesothelioma_trial_fields(shared_dir: Path, v2_tables: dict[str, pd.DataFrame]) -> None:
    t = v2_tables["trials"].set_index("nct_id").loc["NCT02628535"]
    assert t["overall_status"] == "TERMINATED"
    assert t["why_stopped"] == "Business decision (not for safety reasons)"
    assert list(t["phases"]) == ["PHASE1"]
    assert "Mesothelioma" in list(t["mesh_conditions"])
    assert t["start_date"] == "2015-09" and t["last_update_posted"] == "2022-02-08"
    assert t["record_date"] == "2022-02-08" and t["source_format"] == "v2-study"
    iv = v2_tables["interventions"].query("nct_id == 'NCT02628535'")
    assert list(iv["name"]) == ["MGD009"] and list(iv.iloc[0]["other_names"]) == ["orlotamab"]
    locs = v2_tables["locations"].query("nct_id == 'NCT02628535'")
    first = locs.iloc[0]
    assert (first["idx"], first["facility"], first["city"]) == (0, "UCLA", "Los Angeles")
    assert first["zip"] == "90095"
    assert first["lat"] == pytest.approx(34.05223) and first["lon"] == pytest.approx(-118.24368)
    el = v2_tables["eligibility"].set_index("nct_id").loc["NCT02628535"]
    inclusion, exclusion = split_criteria(el["criteria"])
    assert inclusion.startswith("* Histologically and/or cytologically proven unresectable")
    assert exclusion.startswith("* Patients with central nervous system (CNS) involvement")
    assert el["min_age_years"] == 18.0


def test_normalize__location_contact_prefers_the_contact_role(shared_dir: Path) -> None:
    for f in sorted((shared_dir / "v2" / "studies").glob("*.json")):
        data = orjson.loads(f.read_bytes())
        locs = data["protocolSection"].get("contactsLocationsModule", {}).get("locations", [])
        site = next((loc for loc in locs if {"CONTACT", "PRINCIPAL_INVESTIGATOR"}
                     <= {c.get("role") for c in loc.get("contacts", [])}), None)
        if site is not None:
            break
    else:
        raise AssertionError("no recorded site lists both a contact and an investigator")
    # test-only variation of a real record: the investigator listed before the contact
    site["contacts"].sort(key=lambda c: c.get("role") != "PRINCIPAL_INVESTIGATOR")
    contact = next(c for c in site["contacts"] if c.get("role") == "CONTACT")
    out = normalize([record_from_v2(data, "v2-study", "x")])["locations"]
    row = out.iloc[locs.index(site)]
    for col, key in (("contact_name", "name"), ("contact_phone", "phone"), ("contact_email", "email")):
        assert (None if pd.isna(row[col]) else row[col]) == contact.get(key), col


def test_normalize__classic_xml_record(shared_dir: Path) -> None:
    data, date = parse_classic_xml((shared_dir / "classic-xml" / "NCT03907852.xml").read_bytes())
    tables = normalize([RawStudy(data, "classic-xml", "x.xml", date)])
    t = tables["trials"].iloc[0]
    assert list(t["phases"]) == ["PHASE1", "PHASE2"]
    loc = tables["locations"].iloc[0]
    assert loc["site_status"] == "RECRUITING" and loc["contact_email"] == "Cathy.wagner@nih.gov"
    assert pd.isna(loc["lat"])
    el = tables["eligibility"].iloc[0]
    # this record has an inclusion heading only; the XML indentation is gone
    inclusion, exclusion = split_criteria(el["criteria"])
    assert inclusion.startswith("-  Patient is > 18 years of age")
    assert "\n-  Patient has a pathologically confirmed diagnosis" in inclusion
    assert exclusion == ""
    assert el["sex"] == "ALL" and el["min_age_years"] == 18.0


def test_normalize__dedupe_keeps_newest_version(shared_dir: Path) -> None:
    real = _raw(shared_dir, "NCT02628535")
    # test-only variations of a real record: older and newer versions with another status
    older, newer = copy.deepcopy(real), copy.deepcopy(real)
    older["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = "2010-01-01"
    older["protocolSection"]["statusModule"]["overallStatus"] = "RECRUITING"
    newer["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = "2025-01-01"
    newer["protocolSection"]["statusModule"]["overallStatus"] = "COMPLETED"
    other = _raw(shared_dir, "NCT06790706")
    recs = [record_from_v2(d, "v2-study", n) for d, n in
            [(older, "a"), (other, "b"), (newer, "c"), (real, "d")]]
    tables = normalize(recs, dedupe=True)
    assert list(tables["trials"]["nct_id"]) == ["NCT06790706", "NCT02628535"]
    assert tables["trials"].set_index("nct_id").loc["NCT02628535", "overall_status"] == "COMPLETED"
    assert set(tables["interventions"].query("nct_id == 'NCT02628535'")["name"]) == {"MGD009"}
    assert len(tables["interventions"].query("nct_id == 'NCT02628535'")) == 1  # rows of one version only
    assert len(tables["eligibility"]) == 2
    assert len(normalize(recs)["trials"]) == 4  # without dedupe every record is a row


def test_normalize__schema_drift_does_not_crash(shared_dir: Path) -> None:
    # test-only variation of a real record: wrong value types where text/numbers/lists are expected
    data = _raw(shared_dir, "NCT02628535")
    ps = data["protocolSection"]
    ps["identificationModule"]["briefTitle"] = 12345
    ps["designModule"]["phases"] = "PHASE1"
    ps["designModule"]["enrollmentInfo"]["count"] = "many"
    ps["contactsLocationsModule"]["locations"][0]["geoPoint"] = {"lat": "north", "lon": None}
    ps["conditionsModule"]["conditions"] = ["Mesothelioma", 7]
    ps["eligibilityModule"]["minimumAge"] = 18
    tables = normalize([record_from_v2(data, "v2-study", "x")])
    t = tables["trials"].iloc[0]
    assert pd.isna(t["title"]) and list(t["phases"]) == [] and pd.isna(t["enrollment"])
    assert list(t["conditions"]) == ["Mesothelioma"]
    assert pd.isna(tables["locations"].iloc[0]["lat"])
    assert pd.isna(tables["eligibility"].iloc[0]["min_age_years"])


@pytest.mark.parametrize(
    ("count", "expected"),
    [(-1e308, None), (2**63, None), (-(2**63) - 1, None), (1e19, None), (2**63 - 1, 2**63 - 1),
     (-(2**63), -(2**63)), (42.0, 42), ("17", 17)],
)
def test_normalize__enrollment_outside_int64_becomes_null(
    shared_dir: Path, count: Any, expected: int | None
) -> None:
    # test-only variation of a real record: an enrollment count Arrow's int64 cannot (or can) hold
    data = _raw(shared_dir, "NCT02628535")
    data["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = count
    locations = data["protocolSection"]["contactsLocationsModule"]["locations"]
    locations[0]["geoPoint"] = {"lat": 10**400, "lon": 1}  # beyond the float range
    tables = normalize([record_from_v2(data, "v2-study", "x")])
    got = tables["trials"].iloc[0]["enrollment"]
    assert (pd.isna(got) if expected is None else got == expected), got
    assert pd.isna(tables["locations"].iloc[0]["lat"]) and tables["locations"].iloc[0]["lon"] == 1.0


_WRONG_TYPES: list[Any] = [5, "text", ["x"], True, None, 1.5]


@pytest.mark.parametrize("wrong", _WRONG_TYPES, ids=["int", "str", "list", "bool", "null", "float"])
@pytest.mark.parametrize(
    "where",
    [("protocolSection", "statusModule"), ("protocolSection", "eligibilityModule"),
     ("protocolSection", "contactsLocationsModule"), ("protocolSection", "armsInterventionsModule"),
     ("protocolSection", "sponsorCollaboratorsModule"), ("protocolSection", "designModule"),
     ("protocolSection", "conditionsModule"), ("derivedSection",)],
)
def test_normalize__module_of_wrong_type_counts_as_missing(
    shared_dir: Path, where: tuple[str, ...], wrong: Any
) -> None:
    # test-only variation of a real record: one module replaced by another JSON type
    good = normalize([record_from_v2(_raw(shared_dir, "NCT02628535"), "v2-study", "x")])
    data = _raw(shared_dir, "NCT02628535")
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = wrong
    # RawStudy directly: this tests normalize alone (sources.record_from_v2 has its own checks)
    tables = normalize([RawStudy(data, "v2-study", "x", "2024-01-01")])
    assert list(tables["trials"]["nct_id"]) == ["NCT02628535"]
    assert tables["trials"].iloc[0]["title"] == good["trials"].iloc[0]["title"]  # the rest is kept
    if where[-1] == "contactsLocationsModule":
        assert tables["locations"].empty and not good["locations"].empty
        assert len(tables["eligibility"]) == 1
    if where[-1] == "eligibilityModule":
        assert tables["eligibility"].empty and len(tables["locations"]) == len(good["locations"])
    if where[-1] == "statusModule":
        assert pd.isna(tables["trials"].iloc[0]["overall_status"])


@pytest.mark.parametrize(
    ("module", "field", "table"),
    [("armsInterventionsModule", "armGroups", "arms"),
     ("armsInterventionsModule", "interventions", "interventions"),
     ("contactsLocationsModule", "locations", "locations")],
)
@pytest.mark.parametrize("wrong", [5, "text", {"a": 1}, True])
def test_normalize__list_field_of_wrong_type_counts_as_empty(
    shared_dir: Path, module: str, field: str, table: str, wrong: Any
) -> None:
    data = _raw(shared_dir, "NCT02628535")  # test-only variation of a real record
    data["protocolSection"][module][field] = wrong
    tables = normalize([record_from_v2(data, "v2-study", "x")])
    assert list(tables["trials"]["nct_id"]) == ["NCT02628535"]
    assert tables[table].empty and len(tables["eligibility"]) == 1


def test_normalize__intervention_name_of_wrong_type_is_dropped(shared_dir: Path) -> None:
    data = _raw(shared_dir, "NCT02628535")  # test-only variation of a real record
    first = data["protocolSection"]["armsInterventionsModule"]["interventions"][0]
    first["name"], first["type"] = {"x": 1}, ["DRUG"]
    tables = normalize([record_from_v2(data, "v2-study", "x")])
    names = list(tables["trials"].iloc[0]["interventions"])
    assert all(isinstance(n, str) for n in names)
    given = data["protocolSection"]["armsInterventionsModule"]["interventions"]
    assert len(tables["interventions"]) == len(given)


# --- eligibility helpers ------------------------------------------------------------------------------


def test_split_criteria__all_caps_headings_and_separate_cohorts(shared_dir: Path) -> None:
    inc, exc = split_criteria(_criteria(shared_dir, "NCT01637220"))
    assert inc.startswith("* Any patient of age 18 and over:")
    assert "* Hospitalized for a surgical intervention" in inc  # the controls' INCLUSION CRITERIA too
    assert exc.startswith("- pregnant women")  # "\-" unescaped
    assert exc.endswith("none")  # inline "EXCLUSION CRITERIA: none"


def test_split_criteria__key_headings(shared_dir: Path) -> None:
    inc, exc = split_criteria(_criteria(shared_dir, "NCT02210780"))
    assert inc.startswith("1. Male or female adults ages 18 to 64 years")
    assert exc.startswith("1. Prior treatment with dupilumab")
    assert "Patients needing >10 mg of daily prednisone" in exc  # markdown escape undone


def test_split_criteria__lower_case_headings_without_colon(shared_dir: Path) -> None:
    inc, exc = split_criteria(_criteria(shared_dir, "NCT01385800"))
    assert inc.startswith("* Male or female, aged 18-65 years.") and inc.endswith("symptom scores")
    assert exc.startswith("* History of asthma.")


def test_split_criteria__content_on_the_heading_line(shared_dir: Path) -> None:
    inc, _exc = split_criteria(_criteria(shared_dir, "NCT06027073"))
    assert inc.startswith("• >18 years old\n* A total IgE between 30-700 IU/mL")


def test_split_criteria__qualified_sections_keep_their_heading(shared_dir: Path) -> None:
    inc, exc = split_criteria(_criteria(shared_dir, "NCT04585815"))
    assert inc.startswith("Inclusion Criteria Umbrella Phase 1b & 2:\n* Histologically")
    assert "\n\nAdditional Inclusion Criteria for Sub-Study B Phase 2 only:\n* Previously untreated" in inc
    assert exc.startswith("Exclusion Criteria Umbrella Phase 1b &2:")
    assert "Additional Inclusion" not in exc


def test_split_criteria__bulleted_heading_and_sentence_mentions(shared_dir: Path) -> None:
    inc, exc = split_criteria(_criteria(shared_dir, "NCT00001245"))  # "* INCLUSION CRITERIA:"
    assert inc.startswith("Age of 5 to 80 years")
    # "Pregnancy is not a criterion for exclusion." is a sentence, not a heading
    assert exc == "Less than 5 years of age\n\nPregnancy is not a criterion for exclusion."


def test_split_criteria__no_headings_gives_empty_parts(shared_dir: Path) -> None:
    data, _ = parse_classic_xml((shared_dir / "classic-xml" / "NCT00002465.xml").read_bytes())
    text = data["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
    assert "DISEASE CHARACTERISTICS" in text
    assert split_criteria(text) == ("", "")
    assert split_criteria(None) == ("", "")
    assert split_criteria("") == ("", "")
    assert split_criteria(pd.NA) == ("", "")  # a missing cell of the criteria column


@pytest.mark.parametrize(("text", "years"), [
    ("18 Years", 18.0), ("1 Year", 1.0), ("6 Months", 0.5), ("2 Weeks", round(14 / 365.25, 4)),
    ("30 Days", round(30 / 365.25, 4)), ("N/A", None), ("", None), (None, None), ("eighteen", None),
])
def test_age_in_years__units(text: str | None, years: float | None) -> None:
    assert age_in_years(text) == years


def test_std_ages_for__registry_bands() -> None:
    assert std_ages_for(18, None) == ["ADULT", "OLDER_ADULT"]
    assert std_ages_for(None, 17) == ["CHILD"]
    assert std_ages_for(12, 85) == ["CHILD", "ADULT", "OLDER_ADULT"]
    assert std_ages_for(65, None) == ["OLDER_ADULT"]


def test_unescape_markdown__registry_escapes() -> None:
    assert unescape_markdown(r"FEV1 \<80% and \>= 2 \[ref\] \\ ok") == r"FEV1 <80% and >= 2 [ref] \ ok"
    assert unescape_markdown("plain") == "plain"


def test_normalize__restores_the_garbage_collector_on_error(shared_dir: Path) -> None:
    import gc

    def records() -> Any:
        yield record_from_v2(_raw(shared_dir, "NCT02628535"), "v2-study", "x")
        raise RuntimeError("reader failed")

    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="reader failed"):
        normalize(records())
    assert gc.isenabled()


def test_normalize__large_inputs_are_built_in_chunks(
    shared_dir: Path, v2_tables: dict[str, pd.DataFrame]
) -> None:
    # 1,192 studies > one 2,048-study chunk only when repeated: twice through gives two chunks
    twice = list(iter_records([shared_dir / "v2" / "studies"])) * 2
    both = normalize(twice)
    assert len(both["trials"]) == 2 * 1192
    deduped = normalize(twice, dedupe=True)
    for name, df in v2_tables.items():
        pd.testing.assert_frame_equal(deduped[name].reset_index(drop=True), df.reset_index(drop=True))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([
    "Inclusion Criteria:", "EXCLUSION CRITERIA", "* Key Exclusion Criteria:", "Inclusion criteria: age 18",
    "* Exclusion criteria in the label", "Other inclusion/exclusion criteria may apply.", "", "  - item",
    "İnclusion criteria:", "text", "\\> 18 years", "Part B Inclusion Criteria:",
]), max_size=12))
def test_split_criteria__never_fails_and_returns_parts_of_the_text(lines: list[str]) -> None:
    text = "\n".join(lines)
    inc, exc = split_criteria(text)
    assert isinstance(inc, str) and isinstance(exc, str)
    if "clusion" not in text.lower():
        assert (inc, exc) == ("", "")
    for part in (inc, exc):
        for line in part.splitlines():
            assert line.strip() in text
