"""Properties (hypothesis) on generated study records: normalize, facets, the snapshot store and the
CSV export never crash, and export → read back (csv and pandas) gives the same data.

Records are generated from the pydantic models of ``trialfinder/ctgov/models.py`` (field names are
the API's camelCase aliases): every field may be missing or null, text is odd (markup, formulas,
control and bidi characters, emoji), enums take known and unknown values, dates and ages come in
odd shapes, numbers include NaN and infinities, and now and then a field has the wrong JSON type
(schema drift).
"""

from __future__ import annotations

import csv
import io
import tempfile
import types
import typing
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from trialfinder.ctgov.models import KnownValues, Study
from trialfinder.export import build_export_frame, neutralize_formula, to_csv_bytes
from trialfinder.facets import compute_facets
from trialfinder.normalize import normalize
from trialfinder.sources.base import RawStudy
from trialfinder.store import Store, load_current

# the strategy tree of the Study model is large; hypothesis warns when it builds its repr
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

ODD_TEXT = st.sampled_from([
    "", " ", "<script>alert(1)</script>", "=1+1", "+1", "-1", "@x", "\t=x", "\r\n=x", "[a](javascript:x)",
    "$x$", "\u202eevil", "a\u200bb", "\U0001f9ec", "nul\x00byte",
    "Inclusion Criteria:\n* a\nExclusion Criteria:\n* b",
    "stage IV mesothelioma", "prior anti-PD-1 therapy is not allowed", "nivolumab", "CAR-T cells", "\\*", "'",
])  # fmt: skip
TEXT = st.one_of(st.text(max_size=40), ODD_TEXT)
DATES = st.one_of(
    st.sampled_from(["2024", "2024-03", "2024-03-05", "2024-13-45", "March 2024", "", "0000-00-00"]),
    st.dates().map(str),
    TEXT,
)
AGES = st.one_of(
    st.sampled_from(["18 Years", "6 Months", "2 Weeks", "N/A", "100 Years", "-1 Years", "Years"]), TEXT
)
#: a scalar of the wrong JSON type, as a drifting registry might send (text for a number and so on)
WRONG_SCALAR = st.sampled_from([0, -1, 1.5, True, "", "12"])
#: a module or list of the wrong JSON type (see test_normalize__wrong_container_type_*)
WRONG_CONTAINER = [5, "text", ["x"], {"x": 1}]


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    metadata: list[Any] = []
    while typing.get_origin(annotation) is typing.Annotated:
        args = typing.get_args(annotation)
        annotation, metadata = args[0], [*metadata, *args[1:]]
    return annotation, metadata


def value_strategy(annotation: Any, name: str, metadata: list[Any]) -> st.SearchStrategy[Any]:
    annotation, more = _unwrap(annotation)
    if annotation in (str, int, float, bool):
        return st.one_of(_scalar(annotation, name, [*metadata, *more]), WRONG_SCALAR)
    return _container(annotation, name, [*metadata, *more])


def _container(annotation: Any, name: str, metadata: list[Any]) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return st.one_of(st.none(), *(value_strategy(a, name, metadata) for a in args))
    if origin is list:
        (item,) = typing.get_args(annotation)
        return st.lists(value_strategy(item, name, metadata), max_size=3)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_strategy(annotation)
    raise AssertionError(f"no strategy for {annotation!r} ({name})")


def _scalar(annotation: Any, name: str, metadata: list[Any]) -> st.SearchStrategy[Any]:
    known = [m for m in metadata if isinstance(m, KnownValues)]
    if annotation is str and known:
        return st.one_of(
            st.sampled_from(sorted(known[0].values)), st.sampled_from(["NEW_VALUE", "", "recruiting"])
        )
    if annotation is str:
        lname = name.lower()
        if "date" in lname:
            return DATES
        if lname.endswith("age"):
            return AGES
        return TEXT
    if annotation is int:
        return st.integers(min_value=-(2**40), max_value=2**40)
    if annotation is float:
        return st.floats(allow_nan=True, allow_infinity=True)
    if annotation is bool:
        return st.booleans()
    raise AssertionError(f"no strategy for {annotation!r} ({name})")


def model_strategy(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict in the API's shape (camelCase keys) for ``model``; any field may be left out."""
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for fname, info in model.model_fields.items():
        key = info.alias or fname
        strat = value_strategy(info.annotation, fname, list(info.metadata))
        if fname == "nct_id":
            required[key] = st.integers(1, 99_999_999).map(lambda n: f"NCT{n:08d}")
        elif info.is_required():
            required[key] = strat
        else:
            optional[key] = strat
    return st.fixed_dictionaries(required, optional=optional)


STUDY = model_strategy(Study)
STUDIES = st.lists(
    STUDY, min_size=1, max_size=4, unique_by=lambda s: s["protocolSection"]["identificationModule"]["nctId"]
)

PROPS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def _raw(studies: list[dict[str, Any]]) -> list[RawStudy]:
    return [RawStudy(s, source_format="api", source="hypothesis", record_date=None) for s in studies]


def _ids(studies: list[dict[str, Any]]) -> set[str]:
    return {s["protocolSection"]["identificationModule"]["nctId"] for s in studies}


def _pipeline(studies: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    tables = normalize(_raw(studies))
    tables.update(compute_facets(tables))
    return tables


def _read_back(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@PROPS
@given(STUDIES)
def test_normalize_facets__never_crash_one_row_per_trial(studies: list[dict[str, Any]]) -> None:
    tables = _pipeline(studies)
    assert set(tables["trials"]["nct_id"]) == _ids(studies)
    assert len(tables["trials"]) == len(studies)
    assert list(tables["facets"]["nct_id"]) == list(tables["trials"]["nct_id"])
    for name, df in tables.items():
        assert set(df["nct_id"]) <= _ids(studies), name


@PROPS
@given(STUDIES)
def test_export__round_trips_through_csv_and_pandas(studies: list[dict[str, Any]]) -> None:
    frame = build_export_frame(_pipeline(studies))
    data = to_csv_bytes(frame)
    rows = _read_back(data)
    assert rows[0] == list(frame.columns)
    expected = [[neutralize_formula(str(v)) for v in row] for row in frame.itertuples(index=False)]
    assert rows[1:] == expected
    for row in rows[1:]:
        for cell in row:
            assert not cell.lstrip(" \u00a0").startswith(("=", "+", "-", "@", "\t", "\r", "\n"))
    df = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert df.to_numpy().tolist() == rows[1:]
    # the same data: removing the neutralising quote gives the frame's text back
    for got, want in zip(rows[1:], frame.itertuples(index=False), strict=True):
        for cell, value in zip(got, want, strict=True):
            assert (cell[1:] if cell != value else cell) == value


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(STUDIES)
def test_store__snapshot_round_trip_same_tables_same_export(studies: list[dict[str, Any]]) -> None:
    tables = _pipeline(studies)
    with tempfile.TemporaryDirectory() as tmp:
        Store(Path(tmp)).commit(tables, {"mode": "import"}, check_count=False)
        snap = load_current(tmp)
    for name, df in tables.items():
        got = snap.tables[name]
        assert list(got.columns) == list(df.columns), name
        pd.testing.assert_frame_equal(
            got.reset_index(drop=True), df.reset_index(drop=True), check_dtype=False
        )
    assert to_csv_bytes(build_export_frame(snap)) == to_csv_bytes(build_export_frame(tables))


def test_model_strategy__covers_every_model_field() -> None:
    """Guard: the generator knows every field of the models (a new field fails here, not silently)."""
    seen: set[str] = set()

    def walk(model: type[BaseModel]) -> None:
        for fname, info in model.model_fields.items():
            seen.add(f"{model.__name__}.{fname}")
            ann, _ = _unwrap(info.annotation)
            for arg in (*typing.get_args(ann), ann):
                inner, _ = _unwrap(arg)
                for a in (*typing.get_args(inner), inner):
                    if isinstance(a, type) and issubclass(a, BaseModel):
                        walk(a)
            value_strategy(info.annotation, fname, list(info.metadata))  # raises for an unknown type

    walk(Study)
    assert {"Location.geo_point", "EligibilityModule.std_ages", "Study.has_results"} <= seen


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        -1e308,
    ],
)
def test_normalize__odd_coordinates_and_counts_never_crash(value: float) -> None:
    locations = [{"city": "X", "geoPoint": {"lat": value, "lon": value}}]
    study = {
        "protocolSection": {
            "identificationModule": {"nctId": "NCT00000001"},
            "designModule": {"enrollmentInfo": {"count": value}},
            "contactsLocationsModule": {"locations": locations},
        }
    }
    tables = _pipeline([study])
    assert len(build_export_frame(tables)) == 1
    assert len(tables["locations"]) == 1


@pytest.fixture(scope="module")
def real_record(studies_dir: Path) -> dict[str, Any]:
    """A real recorded study (NCT02628535) to make TEST-ONLY wrong-type variations of."""
    import json

    data: dict[str, Any] = json.loads((studies_dir / "NCT02628535.json").read_text(encoding="utf-8"))
    return data


_LEAF_PATHS = [
    "protocolSection.conditionsModule.conditions", "protocolSection.designModule.phases",
    "protocolSection.contactsLocationsModule.locations", "protocolSection.identificationModule.briefTitle",
    "protocolSection.designModule.enrollmentInfo.count",
]  # fmt: skip
#: (path, wrong value) pairs that crashed normalize before the _dict/_list guards (regression cases)
_CRASHES = [
    ("protocolSection.statusModule", 5),
    ("protocolSection.eligibilityModule", "text"),
    ("protocolSection.contactsLocationsModule", ["x"]),
    ("protocolSection.armsInterventionsModule.armGroups", 5),
    ("protocolSection.contactsLocationsModule.locations", 5),
    ("derivedSection", 5),
    ("derivedSection", "text"),
    ("derivedSection", ["x"]),
]


@pytest.mark.parametrize("where", _LEAF_PATHS)
@pytest.mark.parametrize("wrong", WRONG_CONTAINER, ids=["int", "str", "list", "dict"])
def test_normalize__wrong_type_in_lists_and_leaves_never_crash(
    real_record: dict[str, Any], where: str, wrong: Any
) -> None:
    study = _with(real_record, where, wrong)
    tables = _pipeline([study])
    assert list(tables["trials"]["nct_id"]) == ["NCT02628535"]
    assert len(to_csv_bytes(build_export_frame(tables))) > 0


@pytest.mark.parametrize(("where", "wrong"), _CRASHES)
def test_normalize__wrong_type_module_never_crashes(
    real_record: dict[str, Any], where: str, wrong: Any
) -> None:
    study = _with(real_record, where, wrong)
    tables = _pipeline([study])
    assert list(tables["trials"]["nct_id"]) == ["NCT02628535"]


def _with(record: dict[str, Any], where: str, value: Any) -> dict[str, Any]:
    """A TEST-ONLY copy of a real record with ``value`` at the dotted path ``where``."""
    import copy

    study = copy.deepcopy(record)
    node = study
    *parents, last = where.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    return study
