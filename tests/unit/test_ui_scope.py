"""condition_scope (Find's "Which trials") on real recorded records from ../shared/ctgov.

Each record's conditions are quoted in a comment next to its NCT ID. Variations (a changed title or
condition list) are TEST-ONLY changes of a real record and say so.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from trialfinder.ui.filters import (
    SCOPE_ALL,
    SCOPE_MESOTHELIOMA,
    SCOPE_SOLID,
    FilterState,
    Options,
    filter_mask,
    from_query_params,
    prepare,
    to_query_params,
)
from trialfinder.ui.scope import MESOTHELIOMA, OTHER, SOLID_TUMOURS, condition_scope, scope_reason

EXPECTED = {
    # conditions: "Mesothelioma" (CheckMate 743)
    "NCT02899299": MESOTHELIOMA,
    # conditions: "Malignant Pleural Mesothelioma"; keywords include "MPM" and "Mesothelin"
    "NCT01675765": MESOTHELIOMA,
    # conditions: "Malignant Pleural Disease | Mesothelioma | Metastases | Lung Cancer | Breast Cancer"
    "NCT02414269": MESOTHELIOMA,
    # conditions: "Peritoneal Mesothelioma | Gestational Trophoblastic Tumor | Thymoma and Thymic
    # Carcinoma | …"
    "NCT06790706": MESOTHELIOMA,
    # conditions: "Advanced Solid Tumor"
    "NCT05007782": SOLID_TUMOURS,
    # conditions: "Advanced Solid Tumor | NSCLC" (a broad term beside a named cancer: a basket trial)
    "NCT05417321": SOLID_TUMOURS,
    # conditions: "Locally Advanced Cancer | Metastatic Cancer" (every condition generic)
    "NCT03119428": SOLID_TUMOURS,
    # conditions: "Liver Cancer | Lung Cancer | Breast Cancer | Colo-rectal Cancer | Brain Tumor |
    # Solid Tumor, Adult | PD1 | CTLA4"; keyword "Mesothelin" (a target, not mesothelioma)
    "NCT04842812": SOLID_TUMOURS,
    # conditions: "Advanced Cancer | Ovarian Cancer | Lung Cancer | Colon Cancer | Plasma Cell Neoplasm | …"
    # (a generic word beside named cancers is not enough)
    "NCT04354246": OTHER,
    # conditions: "Pancreas Cancer | Relapse | Resistant Cancer"
    "NCT06158139": OTHER,
    # conditions: "Insomnia | Cancer"
    "NCT05816460": OTHER,
    # conditions: "Lung Cancer | Cancer | Immunotherapy | CAR-T Cell"; title and keywords name Mesothelin
    "NCT03198052": OTHER,
    # conditions: "Asthma | Hypersensitivity"
    "NCT00001908": OTHER,
}


@pytest.fixture(scope="module")
def tables(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    from trialfinder.sources import import_tables

    d = tmp_path_factory.mktemp("scope-records")
    for nid in EXPECTED:
        xml = shared_dir / "classic-xml" / f"{nid}.xml"
        src = xml if xml.exists() else shared_dir / "v2" / "studies" / f"{nid}.json"
        shutil.copy(src, d / src.name)
    t, _ = import_tables([d])
    assert set(t["trials"]["nct_id"].astype(str)) == set(EXPECTED)
    return t


def _scopes(trials: pd.DataFrame, conditions: pd.DataFrame | None = None) -> dict[str, str]:
    s = condition_scope(trials, conditions)
    return dict(zip(trials["nct_id"].astype(str), s.astype(str), strict=True))


def _one(tables: dict[str, pd.DataFrame], nid: str) -> pd.DataFrame:
    t = tables["trials"]
    return t[t["nct_id"] == nid].reset_index(drop=True).copy()


def test_condition_scope__real_records(tables: dict[str, pd.DataFrame]) -> None:
    assert _scopes(tables["trials"], tables["conditions"]) == EXPECTED


def test_condition_scope__list_columns_agree_with_conditions_table(tables: dict[str, pd.DataFrame]) -> None:
    assert _scopes(tables["trials"]) == _scopes(tables["trials"], tables["conditions"])


def test_condition_scope__aligned_with_the_trials_index(tables: dict[str, pd.DataFrame]) -> None:
    trials = tables["trials"].iloc[::-1].set_axis(range(100, 100 + len(tables["trials"])))
    s = condition_scope(trials, tables["conditions"])
    assert list(s.index) == list(trials.index)
    assert dict(zip(trials["nct_id"].astype(str), s.astype(str), strict=True)) == EXPECTED


def test_condition_scope__malignant_pleural_disease_needs_mesothelin(tables: dict[str, pd.DataFrame]) -> None:
    # TEST-ONLY variation of NCT02414269: "Mesothelioma" taken out of its conditions and MeSH terms,
    # leaving "Malignant Pleural Disease | Metastases | Lung Cancer | Breast Cancer"; the title still says
    # "… to Target the Cancer-Cell Surface Antigen Mesothelin"
    t = _one(tables, "NCT02414269")
    conditions = ["Malignant Pleural Disease", "Metastases", "Lung Cancer", "Breast Cancer"]
    t["conditions"] = pd.Series([conditions], dtype=t["conditions"].dtype)
    t["mesh_conditions"] = pd.Series([["Pleural Diseases"]], dtype=t["mesh_conditions"].dtype)
    assert condition_scope(t).tolist() == [MESOTHELIOMA]
    # …and without the word mesothelin anywhere, malignant pleural disease alone is not enough
    for col in ("title", "official_title"):
        t.at[0, col] = str(t.at[0, col]).replace("Mesothelin", "an antigen")
    assert condition_scope(t).tolist() == [OTHER]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("HB0036 in MPM", MESOTHELIOMA),
        ("HB0036 in MPeM (peritoneal)", MESOTHELIOMA),
        ("HB0036 in MPMs", SOLID_TUMOURS),  # not a whole word
        ("HB0036 in mpm", SOLID_TUMOURS),  # the acronym only as written in capitals
        ("HB0036 in IMPM-1", SOLID_TUMOURS),
        ("HB0036 in pleural MESOTHELIOMAS", MESOTHELIOMA),  # the word itself in any case
    ],
)
def test_condition_scope__acronyms_only_as_whole_words(
    tables: dict[str, pd.DataFrame], title: str, expected: str
) -> None:
    # TEST-ONLY variation of NCT05417321 (conditions "Advanced Solid Tumor | NSCLC"): title replaced
    t = _one(tables, "NCT05417321")
    t.at[0, "title"] = title
    t.at[0, "official_title"] = None
    assert condition_scope(t).tolist() == [expected]


def test_condition_scope__no_conditions_is_other() -> None:
    t = pd.DataFrame({"nct_id": ["NCT02899299"], "title": [None], "conditions": [[]]})
    assert condition_scope(t).tolist() == [OTHER]
    assert condition_scope(t.iloc[0:0]).tolist() == []


def test_scope_reason__quotes_the_deciding_words(tables: dict[str, pd.DataFrame]) -> None:
    c = tables["conditions"]
    assert scope_reason(_one(tables, "NCT06790706"), c) == (
        MESOTHELIOMA,
        ["Peritoneal Mesothelioma", "Peritoneal mesothelioma"],
    )
    assert scope_reason(_one(tables, "NCT05417321"), c) == (SOLID_TUMOURS, ["Advanced Solid Tumor"])
    assert scope_reason(_one(tables, "NCT00001908"), c) == (OTHER, [])
    with pytest.raises(ValueError, match="exactly one"):
        scope_reason(tables["trials"], c)


def test_filter_mask__scope_choices(tables: dict[str, pd.DataFrame]) -> None:
    p = prepare(tables)
    got = {
        choice: set(p.trials["nct_id"][filter_mask(p, FilterState(statuses=(), scope=choice))].astype(str))
        for choice in (SCOPE_MESOTHELIOMA, SCOPE_SOLID, SCOPE_ALL)
    }
    meso = {n for n, s in EXPECTED.items() if s == MESOTHELIOMA}
    solid = {n for n, s in EXPECTED.items() if s == SOLID_TUMOURS}
    assert got[SCOPE_MESOTHELIOMA] == meso
    assert got[SCOPE_SOLID] == meso | solid
    assert got[SCOPE_ALL] == set(EXPECTED)
    assert FilterState().scope == SCOPE_SOLID  # the patient's view is the default
    other = len(EXPECTED) - len(meso) - len(solid)
    assert dict(p.options.scope_counts) == {MESOTHELIOMA: len(meso), SOLID_TUMOURS: len(solid), OTHER: other}
    assert p.trials.set_index("nct_id")["scope"].astype(str).to_dict() == EXPECTED


def test_prepare__class_counts_per_scope_choice(tables: dict[str, pd.DataFrame]) -> None:
    """The sidebar's "(N)" after each treatment type counts the trials of the chosen "Which trials"."""
    from trialfinder.facets import compute_facets

    p = prepare({**tables, **compute_facets(tables)})  # these records, with their facets
    by_scope = p.options.class_counts_by_scope
    assert set(by_scope) == {SCOPE_MESOTHELIOMA, SCOPE_SOLID, SCOPE_ALL}
    assert dict(by_scope[SCOPE_ALL]) == dict(p.options.class_counts)
    for choice in (SCOPE_MESOTHELIOMA, SCOPE_SOLID, SCOPE_ALL):
        in_scope = filter_mask(p, FilterState(statuses=(), scope=choice))
        for cls, members in p.members["classes"].items():
            assert by_scope[choice][cls] == int((members & in_scope).sum()), (choice, cls)
    some = {c for c, n in by_scope[SCOPE_ALL].items() if n}
    assert some and any(by_scope[SCOPE_MESOTHELIOMA][c] < by_scope[SCOPE_ALL][c] for c in some)


def test_query_params__scope_round_trips_and_bad_value_warns() -> None:
    assert "trials" not in to_query_params(FilterState())  # the default stays out of the link
    for choice in (SCOPE_MESOTHELIOMA, SCOPE_ALL):
        qp = to_query_params(FilterState(scope=choice))
        assert qp == {"trials": choice}
        assert from_query_params(qp, Options()) == (FilterState(scope=choice), [])
    state, warnings = from_query_params({"trials": "asthma"}, Options())
    assert state.scope == SCOPE_SOLID and len(warnings) == 1 and "`'asthma'`" in warnings[0]
