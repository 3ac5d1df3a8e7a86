"""The eligibility text is stored once (schema version 2): ``criteria`` only, and every reader derives
inclusion/exclusion with ``normalize.split_criteria``. Snapshots of schema version 1 (which also hold
``inclusion``/``exclusion`` columns) still load and give the same facets and trial pages.

The schema-1 snapshot here is built from real recorded data: the classic XML records imported the way
users import them, then the eligibility table rewritten in the old layout (the two split columns
after ``criteria``, filled by the same split the schema-1 normalizer stored) and the manifest set to
schema version 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from trialfinder import sources, store
from trialfinder.config import get_settings
from trialfinder.facets import compute_facets
from trialfinder.facets.text import iter_trials
from trialfinder.normalize import SCHEMA_VERSION, TABLE_SCHEMAS, normalize, split_criteria
from trialfinder.refresh import import_into_store

ROOT = Path(__file__).resolve().parents[2]
CHECKMATE_743 = "NCT02899299"  # classic XML, "Inclusion Criteria:" and "Exclusion Criteria:" headings
MESO_CAR_T = "NCT02414269"  # classic XML, both headings; the detail page shows two tabs


def _to_schema_1(snapshot: Path) -> pd.DataFrame:
    """Rewrite ``snapshot`` in place into the schema-1 layout; returns the old eligibility table."""
    path = snapshot / "eligibility.parquet"
    elig = store.read_table(path)
    parts = [split_criteria(c) for c in elig["criteria"]]
    at = list(elig.columns).index("criteria") + 1
    for i, col in enumerate(("inclusion", "exclusion")):
        values = pd.Series([p[i] for p in parts], dtype=pd.ArrowDtype(pa.string()), index=elig.index)
        elig.insert(at + i, col, values)
    pq.write_table(pa.Table.from_pandas(elig, preserve_index=False), path, compression="zstd")
    manifest_path = snapshot / store.MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["schema_version"] = 1
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    return elig


@pytest.fixture
def schema_1_data_dir(shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("TRIALFINDER_DATA_DIR", str(data_dir))
    import_into_store([shared_dir / "classic-xml"], get_settings(data_dir=data_dir))
    snap = store.load_current(data_dir)
    assert snap.manifest["schema_version"] == SCHEMA_VERSION == 2
    _to_schema_1(snap.path)
    return data_dir


def test_normalize__eligibility_stores_the_criteria_text_once(shared_dir: Path) -> None:
    tables = normalize(sources.import_paths([shared_dir / "classic-xml"]).studies)
    elig = tables["eligibility"]
    assert list(elig.columns) == list(TABLE_SCHEMAS["eligibility"])
    assert "criteria" in elig.columns
    assert not {"inclusion", "exclusion"} & set(elig.columns)
    assert store.SCHEMA_VERSION == SCHEMA_VERSION == 2


def test_iter_trials__derives_inclusion_and_exclusion_from_criteria(shared_dir: Path) -> None:
    paths = [shared_dir / "classic-xml", shared_dir / "v2" / "studies"]
    tables = normalize(sources.import_paths(paths).studies)
    criteria = dict(zip(tables["eligibility"]["nct_id"], tables["eligibility"]["criteria"], strict=True))
    both = 0
    for t in iter_trials(tables):
        text = criteria.get(t.nct_id)
        assert t.criteria == ("" if text is None or pd.isna(text) else text), t.nct_id
        assert (t.inclusion, t.exclusion) == split_criteria(text), t.nct_id
        both += bool(t.inclusion and t.exclusion)
    assert both > 1000  # the recorded trials mostly have both headings


def test_load_current__schema_1_snapshot_loads_and_gives_the_same_facets(schema_1_data_dir: Path) -> None:
    snap = store.load_current(schema_1_data_dir)
    assert snap.manifest["schema_version"] == 1
    elig = snap.tables["eligibility"]
    assert {"inclusion", "exclusion"} <= set(elig.columns)
    row = elig.set_index("nct_id").loc[CHECKMATE_743]
    assert row["inclusion"] and row["exclusion"]
    # the facets of the old layout equal those stored when the snapshot was written (schema 2)
    got = compute_facets(dict(snap.tables))
    for name in ("facets", "arm_classes"):
        pd.testing.assert_frame_equal(got[name], snap.tables[name])
    # the trial text readers see is the same as from the schema-2 table
    new_layout = dict(snap.tables, eligibility=elig.drop(columns=["inclusion", "exclusion"]))
    assert list(iter_trials(snap.tables)) == list(iter_trials(new_layout))


def test_iter_trials__schema_1_split_columns_are_not_read(schema_1_data_dir: Path) -> None:
    snap = store.load_current(schema_1_data_dir)
    elig = snap.tables["eligibility"].copy()
    # test-only variation: stale split columns (swapped) must not reach the facets
    elig["inclusion"], elig["exclusion"] = elig["exclusion"].copy(), elig["inclusion"].copy()
    tables = dict(snap.tables, eligibility=elig)
    t = next(t for t in iter_trials(tables) if t.nct_id == CHECKMATE_743)
    crit = str(elig.set_index("nct_id").loc[CHECKMATE_743, "criteria"])
    assert (t.inclusion, t.exclusion) == split_criteria(crit)
    assert t.inclusion.lower() != str(elig.set_index("nct_id").loc[CHECKMATE_743, "inclusion"]).lower()
    pd.testing.assert_frame_equal(compute_facets(tables)["facets"], snap.tables["facets"])


def test_import_into_store__over_a_schema_1_snapshot_writes_schema_2(
    schema_1_data_dir: Path, shared_dir: Path
) -> None:
    before = store.load_current(schema_1_data_dir)
    import_into_store([shared_dir / "v2" / "studies" / "NCT02628535.json"],
                      get_settings(data_dir=schema_1_data_dir))
    after = store.load_current(schema_1_data_dir)
    assert after.name != before.name and after.manifest["schema_version"] == 2
    assert list(after.tables["eligibility"].columns) == list(TABLE_SCHEMAS["eligibility"])
    ids = set(after.tables["eligibility"]["nct_id"])
    assert set(before.tables["eligibility"]["nct_id"]) | {"NCT02628535"} == ids


def test_import_into_store__nothing_newer_over_a_schema_1_snapshot_drops_the_split_columns(
    schema_1_data_dir: Path, shared_dir: Path
) -> None:
    # the same records again: every trial keeps its previous (schema-1) rows, yet the commit does
    # not write the legacy columns again
    before = store.load_current(schema_1_data_dir)
    import_into_store([shared_dir / "classic-xml"], get_settings(data_dir=schema_1_data_dir))
    after = store.load_current(schema_1_data_dir)
    assert after.name != before.name and after.manifest["schema_version"] == 2
    assert list(after.tables["eligibility"].columns) == list(TABLE_SCHEMAS["eligibility"])
    pd.testing.assert_frame_equal(after.tables["eligibility"],
                                  before.tables["eligibility"].drop(columns=list(store.LEGACY_COLUMNS["eligibility"])))


@pytest.mark.slow
def test_detail_page__schema_1_snapshot_shows_inclusion_and_exclusion(schema_1_data_dir: Path) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(str(ROOT / "trialfinder" / "ui" / "pages" / "trial_detail.py"))
    at.query_params["nct"] = MESO_CAR_T
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.label for t in at.tabs] == ["Who can join (inclusion)", "Who cannot join (exclusion)"]
    crit = str(store.load_current(schema_1_data_dir).tables["eligibility"].set_index("nct_id")
               .loc[MESO_CAR_T, "criteria"])
    inclusion, exclusion = split_criteria(crit)
    shown = [" ".join(m.value for m in tab.markdown).replace("\\", "") for tab in at.tabs]
    for part, text in zip((inclusion, exclusion), shown, strict=True):
        first = part.split("\n")[0].lstrip("-* ").split()[:4]
        assert " ".join(first) in " ".join(text.split()), (first, text[:200])
