"""Classic ClinicalTrials.gov XML → the API v2 structure."""

from __future__ import annotations

from pathlib import Path

import pytest

from trialfinder.errors import ImportFormatError
from trialfinder.sources._text import dedent_block, enum_label, parse_date_text
from trialfinder.sources.classic_xml import parse_classic_xml, phases_enum, status_enum


def _read(shared_dir: Path, nct: str) -> bytes:
    return (shared_dir / "classic-xml" / f"{nct}.xml").read_bytes()


def test_parse_classic_xml__checkmate_743(shared_dir: Path) -> None:
    raw = _read(shared_dir, "NCT02899299")
    assert b"\r\n" in raw  # one of the CRLF files
    data, record_date = parse_classic_xml(raw)
    ps = data["protocolSection"]
    assert ps["identificationModule"]["nctId"] == "NCT02899299"
    assert ps["identificationModule"]["acronym"] == "CheckMate743"
    assert ps["statusModule"]["overallStatus"] == "ACTIVE_NOT_RECRUITING"
    assert ps["statusModule"]["startDateStruct"] == {"date": "2016-10-25", "type": "ACTUAL"}
    assert ps["statusModule"]["completionDateStruct"] == {"date": "2022-04-15", "type": "ESTIMATED"}
    assert ps["statusModule"]["lastUpdatePostDateStruct"] == {"date": "2020-07-24", "type": "ACTUAL"}
    assert record_date == "2020-07-24"
    assert ps["designModule"]["phases"] == ["PHASE3"]
    assert ps["designModule"]["studyType"] == "INTERVENTIONAL"
    assert ps["designModule"]["enrollmentInfo"] == {"count": 606, "type": "ACTUAL"}
    assert ps["designModule"]["designInfo"]["interventionModel"] == "PARALLEL"
    assert ps["designModule"]["designInfo"]["maskingInfo"] == {"masking": "NONE"}
    assert ps["sponsorCollaboratorsModule"]["leadSponsor"] == {"name": "Bristol-Myers Squibb",
                                                               "class": "INDUSTRY"}
    assert ps["conditionsModule"]["conditions"] == ["Mesothelioma"]
    nivo = ps["armsInterventionsModule"]["interventions"][0]
    assert nivo == {"type": "BIOLOGICAL", "name": "Nivolumab", "armGroupLabels": ["Nivolumab and Ipilimumab"],
                    "otherNames": ["BMS-936558", "Opdivo"]}
    arm = ps["armsInterventionsModule"]["armGroups"][0]
    assert arm["label"] == "Nivolumab and Ipilimumab" and arm["type"] == "EXPERIMENTAL"
    assert arm["interventionNames"] == ["Biological: Nivolumab", "Biological: Ipilimumab"]
    elig = ps["eligibilityModule"]
    assert elig["sex"] == "ALL" and elig["minimumAge"] == "18 Years" and "maximumAge" not in elig
    assert elig["healthyVolunteers"] is False
    crit = elig["eligibilityCriteria"]
    assert "\r" not in crit
    assert crit.startswith("For more information regarding Bristol-Myers Squibb Clinical Trial")
    assert "\nInclusion Criteria:\n" in crit  # dedented: the heading starts its line
    assert "\n  -  Males and Females at least 18 years of age\n" in crit  # bullets keep relative indent
    loc = ps["contactsLocationsModule"]["locations"][0]
    assert loc == {"facility": "Ucsf", "city": "San Francisco", "state": "California", "zip": "94143",
                   "country": "United States"}
    assert data["derivedSection"]["conditionBrowseModule"]["meshes"] == [{"term": "Mesothelioma"}]
    assert data["hasResults"] is False


def test_parse_classic_xml__crlf_and_lf_give_the_same_record(shared_dir: Path) -> None:
    raw = _read(shared_dir, "NCT02899299")
    assert parse_classic_xml(raw) == parse_classic_xml(raw.replace(b"\r\n", b"\n"))


def test_parse_classic_xml__phase_1_2_and_site_status_and_contacts(shared_dir: Path) -> None:
    data, _ = parse_classic_xml(_read(shared_dir, "NCT03907852"))
    ps = data["protocolSection"]
    assert ps["designModule"]["phases"] == ["PHASE1", "PHASE2"]
    assert ps["statusModule"]["overallStatus"] == "RECRUITING"
    locs = ps["contactsLocationsModule"]["locations"]
    nci = locs[0]
    assert nci["facility"] == "National Cancer Institute" and nci["status"] == "RECRUITING"
    assert nci["contacts"][0] == {"role": "CONTACT", "phone": "240-858-3159", "email": "Cathy.wagner@nih.gov"}
    assert locs[1]["contacts"][0]["name"] == "Roisin O'Cearbhail, MD"


def test_parse_classic_xml__older_lf_file_and_download_date(shared_dir: Path) -> None:
    raw = _read(shared_dir, "NCT00002465")
    assert b"\r\n" not in raw
    data, record_date = parse_classic_xml(raw)
    ps = data["protocolSection"]
    assert ps["statusModule"]["overallStatus"] == "UNKNOWN"  # "Unknown status"
    assert ps["designModule"]["phases"] == ["PHASE1", "PHASE2"]
    assert record_date == "2013-11-06"
    assert data["derivedSection"]["miscInfoModule"] == {"versionHolder": "2023-02-03"}


def test_parse_classic_xml__every_recorded_file_maps(shared_dir: Path) -> None:
    for f in sorted((shared_dir / "classic-xml").glob("*.xml")):
        data, record_date = parse_classic_xml(f.read_bytes())
        ps = data["protocolSection"]
        assert ps["identificationModule"]["nctId"] == f.stem
        assert record_date is not None and len(record_date) == 10
        assert ps["designModule"]["phases"]
        crit = ps["eligibilityModule"].get("eligibilityCriteria", "")
        assert "\r" not in crit and not crit.startswith(" ")


def test_parse_classic_xml__rejects_other_xml() -> None:
    with pytest.raises(ImportFormatError, match="not a classic"):
        parse_classic_xml(b"<rss><channel/></rss>")
    with pytest.raises(ImportFormatError, match="invalid XML"):
        parse_classic_xml(b"<clinical_study><id_info>")


@pytest.mark.parametrize(("text", "expected"), [
    ("Phase 2", ["PHASE2"]), ("Phase 1/Phase 2", ["PHASE1", "PHASE2"]),
    ("Phase 2/Phase 3", ["PHASE2", "PHASE3"]),
    ("Early Phase 1", ["EARLY_PHASE1"]), ("N/A", ["NA"]), ("", []), (None, []),
])
def test_phases_enum__classic_labels(text: str | None, expected: list[str]) -> None:
    assert phases_enum(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Active, not recruiting", "ACTIVE_NOT_RECRUITING"), ("Not yet recruiting", "NOT_YET_RECRUITING"),
    ("Unknown status", "UNKNOWN"), ("Enrolling by invitation", "ENROLLING_BY_INVITATION"),
    ("Completed", "COMPLETED"), (None, None),
])
def test_status_enum__classic_labels(text: str | None, expected: str | None) -> None:
    assert status_enum(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("October 25, 2016", "2016-10-25"), ("July 2020", "2020-07"), ("12/17/2019", "2019-12-17"),
    ("2019-12", "2019-12"), ("ClinicalTrials.gov processed this data on February 03, 2023", "2023-02-03"),
    ("Sept 2020", "2020-09"), ("February 30, 2020", None), ("soon", None), (None, None),
])
def test_parse_date_text__written_forms(text: str | None, expected: str | None) -> None:
    assert parse_date_text(text) == expected


def test_enum_label__and_dedent_block() -> None:
    assert enum_label("Dietary Supplement") == "DIETARY_SUPPLEMENT"
    assert dedent_block("\r\n      a\r\n        b\r\n    ") == "a\n  b"
    assert dedent_block("   ") is None
