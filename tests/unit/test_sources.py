"""Importers on every kind of file in the recorded folder, and on zips/JSONL built from real records."""

from __future__ import annotations

import copy
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest

from trialfinder.errors import ImportFormatError, NotFoundError
from trialfinder.sources import (
    RawStudy,
    detect_format,
    import_paths,
    import_tables,
    iter_records,
    record_from_v2,
)
from trialfinder.sources.base import record_key


def _collect(paths: list[Path]) -> tuple[list[RawStudy], list[tuple[str, Exception]], list[tuple[str, str]]]:
    errors: list[tuple[str, Exception]] = []
    skipped: list[tuple[str, str]] = []
    recs = list(iter_records(paths, on_error=lambda s, e: errors.append((s, e)),
                             on_skip=lambda s, r: skipped.append((s, r))))
    return recs, errors, skipped


def _study(shared_dir: Path, nct: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((shared_dir / "v2" / "studies" / f"{nct}.json").read_bytes())
    return data


# --- the recorded folder ------------------------------------------------------------------------


def test_import_paths__whole_shared_folder(shared_dir: Path) -> None:
    res = import_paths([shared_dir])
    assert res.errors == []
    ids = [s.nct_id for s in res.studies]
    assert len(ids) == len(set(ids))
    v2_ids = {p.stem for p in (shared_dir / "v2" / "studies").glob("NCT*.json")}
    xml_ids = {p.stem for p in (shared_dir / "classic-xml").glob("NCT*.xml")}
    assert len(v2_ids) == 1192 and len(xml_ids) == 24
    assert v2_ids | xml_ids <= set(ids)
    every_v2 = {r.nct_id for r in iter_records([shared_dir / "v2"])}  # pages, downloads, field-limited too
    assert len(every_v2) > 1192 and every_v2 <= set(ids)
    assert set(res.records_by_format) == {"v2-study", "v2-page", "v2-download", "classic-xml", "csv"}
    assert res.records_by_format["v2-download"] == 50
    assert res.records_by_format["classic-xml"] == 24
    assert res.records_by_format["csv"] == 44 + 682
    assert res.records_read == sum(res.records_by_format.values())
    assert res.duplicates == res.records_read - len(ids)
    skipped = {Path(s).relative_to(shared_dir).as_posix() for s, _r in res.not_study_data}
    assert {"README.md", "PROVENANCE.tsv", "openapi/ctg-oas-v2-2.0.5.yaml",
            "api/studies-metadata-2024-10.json",
            "derived/trec2022-topic-meso/trial_criteria_cache.json",
            "docs/third-party-api-reference-2026-03.md"} <= skipped
    assert all(r.startswith("not study data") for _s, r in res.not_study_data)


def test_import_tables__matches_import_paths(shared_dir: Path) -> None:
    tables, res = import_tables([shared_dir])
    ref = import_paths([shared_dir])
    assert sorted(tables["trials"]["nct_id"]) == [s.nct_id for s in ref.studies]
    assert res.records_by_format == ref.records_by_format
    assert res.duplicates == ref.duplicates
    by_id = dict(zip(tables["trials"]["nct_id"], tables["trials"]["source"], strict=True))
    assert all(by_id[s.nct_id] == s.source for s in ref.studies)


def test_iter_records__single_study_file(shared_dir: Path) -> None:
    path = shared_dir / "v2/studies/NCT02628535.json"
    (rec,) = list(iter_records([path]))
    assert rec.nct_id == "NCT02628535"
    assert rec.source_format == "v2-study"
    assert rec.source == str(path)
    assert rec.record_date == "2022-02-08"  # lastUpdatePostDateStruct
    assert rec.partial is False


def test_iter_records__field_limited_records_are_partial(shared_dir: Path) -> None:
    recs, errors, _ = _collect([shared_dir / "v2/studies-field-limited"])
    assert errors == []
    assert {r.nct_id for r in recs} == {"NCT02576665", "NCT06382129", "NCT06604689"}
    assert all(r.partial and r.source_format == "v2-study" for r in recs)


def test_iter_records__pages_and_download(shared_dir: Path) -> None:
    recs, errors, _ = _collect([shared_dir / "v2/pages"])
    assert errors == []
    pages = (shared_dir / "v2/pages").glob("*.json")
    expected = sum(len(orjson.loads(p.read_bytes())["studies"]) for p in pages)
    assert len(recs) == expected == 44
    assert {r.source_format for r in recs} == {"v2-page"}
    # the biomcp searches were fetched with fields=...: partial; full API pages are not
    by_file = {Path(r.source).name: r.partial for r in recs}
    assert by_file["genomoncology__biomcp__search_phelan_limit5_20260811.json"] is True
    assert by_file["ctti-clinicaltrials__aact__NCT03281889.json"] is False
    dl, errors, _ = _collect([shared_dir / "v2/downloads/ctg-studies-nsclc-50.json"])
    assert errors == [] and len(dl) == 50 and {r.source_format for r in dl} == {"v2-download"}


def test_iter_records__csv_downloads_are_partial(shared_dir: Path) -> None:
    recs, errors, _ = _collect([shared_dir / "csv"])
    assert errors == []
    assert len(recs) == 44 + 682
    assert all(r.partial and r.source_format == "csv" for r in recs)
    rec = next(r for r in recs if r.nct_id == "NCT04157088")
    ps = rec.data["protocolSection"]
    assert ps["statusModule"]["overallStatus"] == "TERMINATED"
    assert ps["statusModule"]["startDateStruct"] == {"date": "2019-12-17"}
    assert rec.record_date == "2023-08-04"
    assert ps["designModule"]["phases"] == ["PHASE2"]
    assert ps["armsInterventionsModule"]["interventions"][0] == {
        "type": "DRUG", "name": "Darolutamide (Nubeqa, BAY1841788)"}
    assert ps["eligibilityModule"] == {"sex": "MALE", "stdAges": ["ADULT", "OLDER_ADULT"]}
    loc = ps["contactsLocationsModule"]["locations"][1]
    assert loc == {"facility": "New Jersey Urology, LLC", "city": "Voorhees", "state": "New Jersey",
                   "zip": "08043", "country": "United States"}
    other = next(r for r in recs if r.nct_id == "NCT03658772")  # the short layout
    assert other.data["protocolSection"]["statusModule"]["completionDateStruct"] == {"date": "2022-06-01"}
    assert other.record_date is None


# --- formats built in tmp_path from real records -------------------------------------------------


def test_iter_records__jsonl_built_from_real_records(shared_dir: Path, tmp_path: Path) -> None:
    ids = ["NCT02628535", "NCT06790706"]
    path = tmp_path / "studies.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(_study(shared_dir, i)) for i in ids) + b"\n{broken\n")
    recs, errors, _ = _collect([path])
    assert [r.nct_id for r in recs] == ids
    assert {r.source_format for r in recs} == {"jsonl"}
    assert len(errors) == 1 and errors[0][0] == f"{path}:3"


def test_iter_records__zip_of_per_study_json(shared_dir: Path, tmp_path: Path) -> None:
    ids = ["NCT02628535", "NCT06790706"]
    archive = tmp_path / "ctg-studies.json.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in ids:
            zf.write(shared_dir / "v2" / "studies" / f"{i}.json", f"ctg-studies/{i}.json")
        zf.writestr("ctg-studies/README.txt", "not data")
    recs, errors, skipped = _collect([archive])
    assert errors == []
    assert [r.nct_id for r in recs] == ids
    assert {r.source_format for r in recs} == {"zip"}
    assert recs[0].source == f"{archive}!ctg-studies/{ids[0]}.json"
    assert [s for s, _ in skipped] == [f"{archive}!ctg-studies/README.txt"]


def test_iter_records__zip_of_classic_xml(shared_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "AllPublicXML.zip"
    files = sorted((shared_dir / "classic-xml").glob("*.xml"))
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            zf.write(f, f"NCT0000xxxx/{f.name}")
    recs, errors, _ = _collect([archive])
    assert errors == []
    assert [r.nct_id for r in recs] == [f.stem for f in files]
    assert {r.source_format for r in recs} == {"classic-xml"}
    assert all("!NCT0000xxxx/" in r.source for r in recs)


def test_iter_records__bad_files_are_reported_and_skipped(shared_dir: Path, tmp_path: Path) -> None:
    good = shared_dir / "v2/studies/NCT02628535.json"
    (tmp_path / "a_good.json").write_bytes(good.read_bytes())
    (tmp_path / "b_truncated.json").write_bytes(good.read_bytes()[:5000])
    (tmp_path / "c_bad.xml").write_bytes((shared_dir / "classic-xml/NCT02899299.xml").read_bytes()[:3000])
    (tmp_path / "d_bad.zip").write_bytes(b"PK\x03\x04 this is no zip")
    (tmp_path / "e_no_id.json").write_bytes(orjson.dumps({"protocolSection": {"statusModule": {}}}))
    (tmp_path / "f_good.xml").write_bytes((shared_dir / "classic-xml/NCT02899299.xml").read_bytes())
    (tmp_path / "notes.txt").write_text("hello")
    recs, errors, skipped = _collect([tmp_path])
    assert [r.nct_id for r in recs] == ["NCT02628535", "NCT02899299"]
    assert sorted(Path(s).name for s, _ in errors) == ["b_truncated.json", "c_bad.xml", "d_bad.zip",
                                                        "e_no_id.json"]
    assert all(isinstance(e, ImportFormatError) for _, e in errors)
    assert [Path(s).name for s, _ in skipped] == ["notes.txt"]


def test_iter_records__without_on_error_the_first_error_raises(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_bytes(b'{"protocolSection": ')
    with pytest.raises(ImportFormatError, match="invalid JSON"):
        list(iter_records([tmp_path]))


def test_iter_records__missing_path_is_reported(tmp_path: Path) -> None:
    recs, errors, _ = _collect([tmp_path / "nope"])
    assert recs == []
    assert len(errors) == 1 and isinstance(errors[0][1], NotFoundError)


def test_detect_format__by_content_not_name() -> None:
    assert detect_format("x.json", b"PK\x03\x04...") == "zip"
    assert detect_format("x.dat", b"  <clinical_study>") == "xml"
    assert detect_format("x", b'\xef\xbb\xbf{"a": 1}') == "json"
    assert detect_format("x.jsonl", b'{"a": 1}\n{"a": 2}') == "jsonl"
    assert detect_format("x.txt", b"NCT Number,Study Title\n") == "csv"
    assert detect_format("spec.yaml", b"openapi: 3.0.1\n") == "other"
    assert detect_format("broken.json", b"garbage") == "json"


# --- dedupe ------------------------------------------------------------------------------------------


def _variant(data: dict[str, Any], *, date: str, status: str) -> dict[str, Any]:
    """Test-only variation of a real record: another last-update date and status."""
    out = copy.deepcopy(data)
    out["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = date
    out["protocolSection"]["statusModule"]["overallStatus"] = status
    return out


def test_import_paths__dedupe_keeps_newest(shared_dir: Path, tmp_path: Path) -> None:
    real = _study(shared_dir, "NCT02628535")  # last update 2022-02-08, TERMINATED
    (tmp_path / "older").mkdir()
    (tmp_path / "newer").mkdir()
    (tmp_path / "older/NCT02628535.json").write_bytes(orjson.dumps(_variant(real, date="2019-01-01",
                                                                             status="RECRUITING")))
    (tmp_path / "newer/NCT02628535.json").write_bytes(orjson.dumps(_variant(real, date="2024-05-01",
                                                                             status="COMPLETED")))
    for order in ([tmp_path / "newer", shared_dir / "v2/studies/NCT02628535.json", tmp_path / "older"],
                  [tmp_path / "older", shared_dir / "v2/studies/NCT02628535.json", tmp_path / "newer"]):
        res = import_paths(order)
        (kept,) = res.studies
        assert kept.record_date == "2024-05-01"
        assert kept.data["protocolSection"]["statusModule"]["overallStatus"] == "COMPLETED"
        assert res.duplicates == 2


def test_import_paths__tie_prefers_full_over_partial(shared_dir: Path, tmp_path: Path) -> None:
    real = _study(shared_dir, "NCT02628535")
    partial = {"protocolSection": {k: real["protocolSection"][k] for k in ("identificationModule",
                                                                          "statusModule")}}
    (tmp_path / "a_partial.json").write_bytes(orjson.dumps(partial))
    (tmp_path / "b_full.json").write_bytes(orjson.dumps(real))
    (kept,) = import_paths([tmp_path]).studies
    assert kept.partial is False and Path(kept.source).name == "b_full.json"
    assert record_key(kept) > record_key(record_from_v2(partial, "v2-study", "x"))


def test_record_from_v2__rejects_records_without_nct_id() -> None:
    with pytest.raises(ImportFormatError, match="nctId"):
        record_from_v2({"protocolSection": {"identificationModule": {"nctId": "12345"}}}, "v2-study", "x")
    with pytest.raises(ImportFormatError):
        record_from_v2(["not", "a", "dict"], "v2-study", "x")


def test_iter_records__gzipped_jsonl_built_from_real_records(shared_dir: Path, tmp_path: Path) -> None:
    import gzip

    ids = ["NCT02628535", "NCT06790706"]
    path = tmp_path / "studies.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(orjson.dumps(_study(shared_dir, i)) for i in ids)))
    recs, errors, _ = _collect([path])
    assert errors == []
    assert [r.nct_id for r in recs] == ids
    assert {r.source for r in recs} == {str(path)}


def test_iter_records__truncated_pretty_json_is_invalid_json(shared_dir: Path, tmp_path: Path) -> None:
    body = (shared_dir / "v2/studies/NCT02628535.json").read_bytes()
    assert body.count(b"\n") > 10  # pretty-printed
    (tmp_path / "cut.json").write_bytes(body[: len(body) // 2])
    _recs, errors, _ = _collect([tmp_path])
    assert len(errors) == 1 and "invalid JSON:" in str(errors[0][1])


def test_iter_records__garbage_collector_is_restored(shared_dir: Path) -> None:
    import gc

    assert gc.isenabled()
    it = iter_records([shared_dir / "v2" / "studies"])
    next(it)
    assert not gc.isenabled()  # paused while the walk is in progress
    it.close()
    assert gc.isenabled()
    assert len(list(iter_records([shared_dir / "v2" / "studies-field-limited"]))) == 3
    assert gc.isenabled()


@pytest.mark.parametrize("wrong", [5, True, 1.5, "text", ["x"]])
def test_record_from_v2__status_module_of_wrong_type_is_partial_not_a_crash(
    shared_dir: Path, wrong: Any
) -> None:
    # test-only variation of a real record: statusModule replaced by a value of another JSON type
    data = copy.deepcopy(_study(shared_dir, "NCT02628535"))
    data["protocolSection"]["statusModule"] = wrong
    rec = record_from_v2(data, "v2-study", "x")
    assert rec.nct_id == "NCT02628535"
    assert rec.partial is True and rec.record_date is None


@pytest.mark.parametrize("wrong", [5, "text", ["x"]])
def test_raw_study_nct_id__protocol_section_of_wrong_type_is_none(wrong: Any) -> None:
    from trialfinder.sources.base import RawStudy

    rec = RawStudy(data={"protocolSection": wrong}, source_format="v2-study", source="x", record_date=None)
    assert rec.nct_id is None
