"""Golden tests: real recorded studies (v2 JSON, classic XML with CRLF, a field-limited record) →
the expected CSVs in tests/golden/expected (regenerate with tests/golden/regenerate.py, review by eye)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.golden.regenerate import EXPECTED, INPUTS, golden_tables, read_expected, write_expected
from trialfinder.normalize import TABLE_SCHEMAS


@pytest.fixture(scope="module")
def actual(shared_dir: Path) -> dict[str, pd.DataFrame]:
    return golden_tables(shared_dir)


@pytest.mark.parametrize("table", list(TABLE_SCHEMAS))
def test_normalize__golden_tables(actual: dict[str, pd.DataFrame], table: str) -> None:
    expected = read_expected()[table]
    assert len(expected) > 0
    pd.testing.assert_frame_equal(actual[table], expected)


def test_normalize__golden_inputs_cover_the_cases() -> None:
    trials = read_expected()["trials"]
    assert list(trials["nct_id"]) == [Path(p).stem for p in INPUTS]
    assert set(trials["source_format"]) == {"v2-study", "classic-xml"}
    assert list(trials["partial"]) == [False, False, False, True]
    assert (EXPECTED / "trials.csv").read_bytes().count(b"\r") == 0


def test_read_expected__round_trips_missing_values_and_lists(actual: dict[str, pd.DataFrame],
                                                            tmp_path: Path) -> None:
    # test-only variation of a real record: an empty criteria text (the golden records have no empty
    # string since the split inclusion/exclusion columns are no longer stored)
    elig_in = actual["eligibility"].copy()
    elig_in.loc[elig_in["nct_id"] == "NCT03907852", "criteria"] = ""
    tables = dict(actual, eligibility=elig_in)
    write_expected(tables, tmp_path)
    back = read_expected(tmp_path)
    for name in TABLE_SCHEMAS:
        pd.testing.assert_frame_equal(back[name], tables[name])
    elig = back["eligibility"].set_index("nct_id")
    assert elig.loc["NCT03907852", "criteria"] == ""  # empty string, not missing
    assert elig["max_age_years"].isna()["NCT02899299"]  # missing, not empty
