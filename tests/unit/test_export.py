"""CSV export: contract columns, BOM, quoting, formula neutralisation, filters, round trips.

Input tables are normalized from real recorded studies. Where a test needs a hostile title or facet
values, it sets them on a copy of the real tables and says so (test-only values).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

from trialfinder import export as ex
from trialfinder.errors import UsageError
from trialfinder.normalize import normalize
from trialfinder.sources.base import RawStudy
from trialfinder.store import Snapshot

N = 25


@pytest.fixture(scope="module")
def tables(shared_dir: Path) -> dict[str, pd.DataFrame]:
    files = sorted((shared_dir / "v2" / "studies").glob("NCT*.json"))[::40][:N]
    for name in ("NCT02628535.json", "NCT06790706.json"):  # the two recorded mesothelioma studies
        files.append(shared_dir / "v2" / "studies" / name)
    recs = [RawStudy(json.loads(f.read_text(encoding="utf-8")), "v2-study", str(f), None) for f in files]
    return normalize(recs)


def with_test_facets(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Test-only facet values: trial i gets a class, advanced and prior-IO value by position."""
    ids = list(tables["trials"]["nct_id"])
    classes = [["checkpoint_inhibitor"], ["car_t", "chemotherapy"], [], ["vaccine"]]
    facets = pd.DataFrame(
        {
            "nct_id": ids,
            "intervention_classes": [classes[i % 4] for i in range(len(ids))],
            "advanced_disease": ["yes" if i % 2 == 0 else "unknown" for i in range(len(ids))],
            "advanced_disease_evidence": [
                "metastatic disease" if i % 2 == 0 else "" for i in range(len(ids))
            ],
            "prior_immunotherapy": ["excluded" if i % 3 == 0 else "unstated" for i in range(len(ids))],
            "prior_immunotherapy_evidence": [
                "no prior anti-PD-1" if i % 3 == 0 else "" for i in range(len(ids))
            ],
            "line_of_therapy": ["any"] * len(ids),
        }
    )
    return {**tables, "facets": facets}


def snapshot_of(tables: dict[str, pd.DataFrame], tmp_path: Path) -> Snapshot:
    return Snapshot(path=tmp_path, manifest={"data_timestamp": "2026-03-13T00:00:00"}, tables=tables)


def read_back(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")))


def test_build_export_frame__contract_columns_first_in_order(
    tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    df = ex.build_export_frame(snapshot_of(tables, tmp_path))
    assert list(df.columns[: len(ex.CONTRACT_COLUMNS)]) == [
        "nct_id", "title", "overall_status", "phases", "conditions", "interventions",
        "intervention_classes", "advanced_disease", "advanced_disease_evidence", "prior_immunotherapy",
        "prior_immunotherapy_evidence", "line_of_therapy", "url", "last_update_posted", "data_as_of",
    ]  # fmt: skip
    assert len(df) == len(tables["trials"])
    assert set(df["data_as_of"]) == {"2026-03-13T00:00:00"}
    assert (df["url"] == "https://clinicaltrials.gov/study/" + df["nct_id"]).all()


def test_build_export_frame__lists_joined_and_facets_empty_without_facets(
    tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    df = ex.build_export_frame(snapshot_of(tables, tmp_path))
    trials = tables["trials"].set_index("nct_id")
    for row in df.itertuples():
        assert row.conditions == "; ".join(trials.loc[row.nct_id, "conditions"])
        assert row.phases == "; ".join(trials.loc[row.nct_id, "phases"])
    assert set(df["intervention_classes"]) == {""}
    assert set(df["advanced_disease"]) == {""}


def test_build_export_frame__facets_merged(tables: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    df = ex.build_export_frame(snapshot_of(with_test_facets(tables), tmp_path))
    first = df.iloc[1]
    assert first["intervention_classes"] == "car_t; chemotherapy"
    assert first["advanced_disease"] == "unknown"


def test_build_export_frame__nct_ids_keep_given_order(tables: dict[str, pd.DataFrame]) -> None:
    ids = list(tables["trials"]["nct_id"])
    wanted = [ids[5], ids[0], "NCT99999999", ids[3].lower()]
    df = ex.build_export_frame(tables, nct_ids=wanted)
    assert list(df["nct_id"]) == [ids[5], ids[0], ids[3]]
    assert set(df["data_as_of"]) == {""}  # plain tables: no manifest, no data date


def test_apply_filters__each_filter(tables: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    snap = snapshot_of(with_test_facets(tables), tmp_path)
    ids = list(tables["trials"]["nct_id"])
    statuses = dict(zip(tables["trials"]["nct_id"], tables["trials"]["overall_status"], strict=True))

    df = ex.build_export_frame(snap, filters=ex.ExportFilters(statuses=("completed",)))
    assert set(df["nct_id"]) == {n for n, s in statuses.items() if s == "COMPLETED"}
    assert len(df) > 0

    df = ex.build_export_frame(snap, filters=ex.ExportFilters(classes=("car_t",)))
    assert list(df["nct_id"]) == [n for i, n in enumerate(ids) if i % 4 == 1]

    df = ex.build_export_frame(snap, filters=ex.ExportFilters(advanced=True))
    assert list(df["nct_id"]) == [n for i, n in enumerate(ids) if i % 2 == 0]

    df = ex.build_export_frame(snap, filters=ex.ExportFilters(prior_io_ok=True))
    assert list(df["nct_id"]) == [n for i, n in enumerate(ids) if i % 3 != 0]

    df = ex.build_export_frame(snap, filters=ex.ExportFilters(nct_ids=(ids[2], ids[7])))
    assert list(df["nct_id"]) == [ids[2], ids[7]]

    df = ex.build_export_frame(snap, filters=ex.ExportFilters(query_text="MESOTHELIOMA"))
    assert set(df["nct_id"]) == {"NCT02628535", "NCT06790706"}

    as_dict = ex.build_export_frame(snap, filters={"classes": ["car_t"], "advanced": True})
    assert list(as_dict["nct_id"]) == [n for i, n in enumerate(ids) if i % 4 == 1 and i % 2 == 0]

    both = ex.ExportFilters(advanced=True, prior_io_ok=True)
    df = ex.build_export_frame(snap, filters=both)
    assert list(df["nct_id"]) == [n for i, n in enumerate(ids) if i % 2 == 0 and i % 3 != 0]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\rcmd", "'\rcmd"),
        ("\ncmd", "'\ncmd"),
        ("  =1+1", "'  =1+1"),
        ("Phase 2 - randomized", "Phase 2 - randomized"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralize_formula__cases(cell: str, expected: str) -> None:
    assert ex.neutralize_formula(cell) == expected


def test_to_csv_bytes__bom_all_quoted_and_formulas_neutralised(tables: dict[str, pd.DataFrame]) -> None:
    t = {k: v.copy() for k, v in tables.items()}
    hostile = '=HYPERLINK("http://evil.example","click")'
    t["trials"].loc[0, "title"] = hostile  # test-only hostile title on a real record
    t["trials"].loc[1, "title"] = 'Étude "ÉCLAIR", phase 2; ünïcode ✓'  # test-only: quotes, commas, accents
    data = ex.to_csv_bytes(ex.build_export_frame(t))
    assert data.startswith(b'\xef\xbb\xbf"nct_id","title","overall_status"')
    text = data[3:].decode("utf-8")
    # the whole file is a sequence of quoted fields, each followed by a comma or CRLF
    assert re.fullmatch(r'(?:"(?:[^"]|"")*"(?:,|\r\n))+', text)
    rows = read_back(data)
    assert rows[1][1] == "'" + hostile
    assert rows[2][1] == 'Étude "ÉCLAIR", phase 2; ünïcode ✓'
    assert all(len(r) == len(rows[0]) for r in rows)


def test_to_csv_bytes__round_trip_through_pandas(tables: dict[str, pd.DataFrame]) -> None:
    df = ex.build_export_frame(tables)
    back = pd.read_csv(
        io.BytesIO(ex.to_csv_bytes(df)), encoding="utf-8-sig", dtype=str, keep_default_na=False
    )
    expected = df.map(ex.neutralize_formula)
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)


@settings(max_examples=200, deadline=None)
@given(
    hst.lists(
        hst.text(alphabet=hst.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
        min_size=1,
        max_size=5,
    )
)
def test_to_csv_bytes__any_text_round_trips(cells: list[str]) -> None:
    df = pd.DataFrame([cells], columns=[f"c{i}" for i in range(len(cells))])
    rows = read_back(ex.to_csv_bytes(df))
    assert rows[1] == [ex.neutralize_formula(c) for c in cells]
    for c, got in zip(cells, rows[1], strict=True):
        assert got == c or (got == "'" + c and ex._FORMULA_RE.match(c))


def test_write_csv__atomic_file_and_errors(tables: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    df = ex.build_export_frame(tables)
    out = ex.write_csv(df, tmp_path / "trials.csv")
    assert out.read_bytes() == ex.to_csv_bytes(df)
    assert [p.name for p in tmp_path.iterdir()] == ["trials.csv"]  # no temp file left
    with pytest.raises(UsageError, match="does not exist"):
        ex.write_csv(df, tmp_path / "missing" / "x.csv")
    with pytest.raises(UsageError, match="is a folder"):
        ex.write_csv(df, tmp_path)


def test_cell_text__values() -> None:
    assert ex.cell_text(None) == ""
    assert ex.cell_text(float("nan")) == ""
    assert ex.cell_text(["a", None, "b"]) == "a; b"
    assert ex.cell_text(True) == "true"
    assert ex.cell_text(120.0) == "120"
    assert ex.normalize_status("not yet recruiting") == "NOT_YET_RECRUITING"


def test_check_filters__unknown_status_or_class_is_usage_error(tables: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(UsageError, match=r"unknown status 'recruting' \(known: ACTIVE_NOT_RECRUITING, "):
        ex.build_export_frame(tables, filters=ex.ExportFilters(statuses=("recruting",)))
    with pytest.raises(
        UsageError, match=r"unknown intervention class 'car-t-cells' \(known: checkpoint_inhibitor, "
    ):
        ex.build_export_frame(tables, filters=ex.ExportFilters(classes=("car-t-cells",)))
    ok = ex.ExportFilters(statuses=("Not yet recruiting",), classes=("CAR_T",))
    assert ex.build_export_frame(tables, filters=ok).empty  # valid values, no facets: nothing matches


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize("length", [0, 10, ex.EXCEL_CELL_LIMIT])
def test_fit_cell__text_a_cell_holds_is_unchanged(length: int) -> None:
    text = "x" * length
    assert ex.fit_cell(text) == text


def test_fit_cell__longer_text_is_cut_visibly_at_the_limit() -> None:
    text = "a" * (ex.EXCEL_CELL_LIMIT + 1)
    got = ex.fit_cell(text)
    assert got.endswith(ex.CUT_MARKER) and len(got) == ex.EXCEL_CELL_LIMIT
    assert got.startswith("a" * 1000)


def test_fit_cell__emoji_count_as_two_units() -> None:
    # 20,000 emoji are 20,000 characters but 40,000 UTF-16 units: too long for a cell
    text = "\U0001f9ec" * 20_000
    got = ex.fit_cell(text)
    assert got.endswith(ex.CUT_MARKER) and _units(got) <= ex.EXCEL_CELL_LIMIT
    assert _units(got) >= ex.EXCEL_CELL_LIMIT - 1  # no surrogate pair is split, so at most one unit short


@given(hst.text(min_size=0, max_size=50), hst.integers(min_value=120, max_value=400))
@settings(max_examples=200, deadline=None)
def test_fit_cell__never_over_the_limit_and_prefix_kept(text: str, limit: int) -> None:
    long = text * (limit // max(1, len(text)) + 2) if text else "y" * (limit + 5)
    got = ex.fit_cell(long, limit)
    assert _units(got) <= limit
    if got != long:
        assert got.endswith(ex.CUT_MARKER) and long.startswith(got[: -len(ex.CUT_MARKER)])


def test_to_csv_bytes__cell_longer_than_a_spreadsheet_holds_is_cut(tables: dict[str, pd.DataFrame]) -> None:
    t = {k: v.copy() for k, v in tables.items()}
    title = str(t["trials"].loc[0, "title"])
    t["trials"].loc[0, "title"] = title * (ex.EXCEL_CELL_LIMIT // len(title) + 2)  # test-only: a huge title
    old = csv.field_size_limit()
    csv.field_size_limit(1 << 20)
    try:
        rows = read_back(ex.to_csv_bytes(ex.build_export_frame(t)))
    finally:
        csv.field_size_limit(old)
    assert len(rows[1][1]) == ex.EXCEL_CELL_LIMIT and rows[1][1].startswith(title)
    assert rows[1][1].endswith(ex.CUT_MARKER)
    assert rows[1][0] == t["trials"].loc[0, "nct_id"]  # the row still says which record to open
