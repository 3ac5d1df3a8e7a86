"""Reading the app's output in AppTest, and expected values computed straight from the tables."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from streamlit.testing.v1 import AppTest

from trialfinder.ui.scope import OTHER, condition_scope

DEFAULT_STATUSES = {"RECRUITING", "NOT_YET_RECRUITING"}


def match_count(at: AppTest) -> int:
    for h in at.subheader:
        m = re.match(r"^([\d,]+) trials? match", h.value)
        if m:
            return int(m.group(1).replace(",", ""))
    raise AssertionError(f"no match count in {[h.value for h in at.subheader]}")


def result_ids(at: AppTest) -> list[str]:
    """The NCT IDs in the results table, in order (empty when there are no results)."""
    if match_count(at) == 0:
        return []
    df = at.dataframe[0].value
    return [str(x) for x in df["NCT ID"]]


def merged(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """trials + facets + eligibility, one row per trial, plain Python values; ``scope`` is each trial's
    :func:`condition_scope` (unit-tested on real records in tests/unit/test_ui_scope.py)."""
    t = tables["trials"][["nct_id", "title", "overall_status", "phases", "interventions"]].copy()
    t["scope"] = condition_scope(tables["trials"], tables.get("conditions")).astype(str).to_numpy()
    f = tables["facets"]
    e = tables["eligibility"][["nct_id", "min_age_years", "max_age_years", "sex"]]
    out = t.merge(f, on="nct_id", how="left").merge(e, on="nct_id", how="left")
    for col in ("phases", "interventions", "intervention_classes", "histology_sites", "histology_subtypes"):
        out[col] = [list(v) if v is not None and not (isinstance(v, float)) else [] for v in out[col]]
    out["nct_id"] = out["nct_id"].astype(str)
    return out


def ids(df: pd.DataFrame | pd.Series[Any]) -> set[str]:
    """The NCT IDs of a frame (pandas-stubs types a selection by callable, ``df[lambda d: ...]``, as a
    Series although it is a frame)."""
    assert isinstance(df, pd.DataFrame), type(df)
    return set(df["nct_id"].astype(str))


def open_any_scope(df: pd.DataFrame) -> pd.DataFrame:
    """The default statuses, every trial in the data ("All trials in the data")."""
    return df[df["overall_status"].isin(DEFAULT_STATUSES)]


def in_default_scope(df: pd.DataFrame) -> pd.DataFrame:
    """Trials for mesothelioma or for many solid tumours (Find's default "Which trials"), any status."""
    return df[df["scope"] != OTHER]


def open_default(df: pd.DataFrame) -> pd.DataFrame:
    """What Find shows by default: open trials for mesothelioma or for many solid tumours."""
    return in_default_scope(open_any_scope(df))


def shown(markdown: str) -> str:
    """What the user reads of escaped markdown (``safe_inline``): backslash escapes and the zero-width
    space after a colon removed."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u200b", "")
