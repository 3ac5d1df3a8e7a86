"""compute_facets on real recorded studies, and the evaluation against bench/labels/dev.csv.

The targets (F1 ≥ 0.95, accuracy ≥ 0.90) are reported by ``bench/eval_facets.py``, not asserted
here; these tests assert that the metrics are computed and that every evidence string is verbatim.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd
import pytest

from trialfinder import normalize
from trialfinder.errors import DataError, NotFoundError
from trialfinder.facets import ARM_CLASSES_COLUMNS, FACETS, FACETS_COLUMNS, compute_facets
from trialfinder.facets.evaluate import evaluate, read_labels, recorded_studies

ROOT = Path(__file__).resolve().parents[2]
LABELS = ROOT / "bench" / "labels" / "dev.csv"


@pytest.fixture(scope="module")
def labelled_tables(shared_dir: Path) -> dict[str, pd.DataFrame]:
    """The labelled trials as bench/eval_facets.py reads them (``recorded_studies``)."""
    ids = {r["nct_id"] for r in csv.DictReader(LABELS.open(encoding="utf-8"))}
    studies = [s for s in recorded_studies(shared_dir) if s.nct_id in ids]
    return normalize.normalize(studies)


def test_compute_facets__contract_columns_and_arrow_types(labelled_tables: dict[str, pd.DataFrame]) -> None:
    out = compute_facets(labelled_tables)
    assert set(out) == {"facets", "arm_classes"}
    facets, arms = out["facets"], out["arm_classes"]
    assert tuple(facets.columns) == FACETS_COLUMNS
    assert tuple(arms.columns) == ARM_CLASSES_COLUMNS
    assert all(isinstance(dt, pd.ArrowDtype) for dt in facets.dtypes)
    assert len(facets) == len(labelled_tables["trials"]) and facets.nct_id.is_unique
    assert set(facets.advanced_disease) <= {"yes", "no", "unknown"}
    assert set(facets.prior_immunotherapy) <= {"excluded", "required", "allowed", "unstated"}
    assert set(facets.line_of_therapy) <= {"first_line", "previously_treated", "any", "unknown"}
    unknown = facets[facets.prior_immunotherapy == "unstated"]
    assert (unknown.prior_immunotherapy_evidence == "").all()


def test_compute_facets__checkmate_743(labelled_tables: dict[str, pd.DataFrame]) -> None:
    facets = compute_facets(labelled_tables)["facets"].set_index("nct_id")
    row = facets.loc["NCT02899299"]
    assert list(row.intervention_classes) == ["checkpoint_inhibitor", "chemotherapy"]
    assert row.advanced_disease == "yes"
    assert row.prior_immunotherapy == "excluded"
    assert "anti-CTLA-4 antibody" in row.prior_immunotherapy_evidence
    assert row.line_of_therapy == "first_line"
    assert list(row.histology_sites) == ["pleural"]


def test_compute_facets__arm_classes(labelled_tables: dict[str, pd.DataFrame]) -> None:
    arms = compute_facets(labelled_tables)["arm_classes"]
    cm743 = arms[arms.nct_id == "NCT02899299"].set_index("arm_label")
    assert list(cm743.loc["Nivolumab and Ipilimumab"].intervention_classes) == ["checkpoint_inhibitor"]
    assert list(cm743.loc["Pemetrexed and Cisplatin (or Carboplatin)"].intervention_classes) == [
        "chemotherapy"
    ]


def test_compute_facets__empty_tables() -> None:
    out = compute_facets({"trials": pd.DataFrame(columns=["nct_id"])})
    assert len(out["facets"]) == 0 and tuple(out["facets"].columns) == FACETS_COLUMNS


def test_facets__declare_fields_they_read() -> None:
    for facet in FACETS:
        assert facet.reads and all("." in f for f in facet.reads), facet.name


def test_evaluate__labelled_set(labelled_tables: dict[str, pd.DataFrame]) -> None:
    report = evaluate(LABELS, labelled_tables)
    labels = read_labels(LABELS)
    assert report.missing == []
    assert report.evidence_pieces > 100
    assert report.evidence_verbatim_share == 1.0, report.evidence_failures[:5]
    names = [s.name for s in report.splits]
    assert names == ["dev", "dev2", "heldout", "heldout2", "heldout3", "heldout4", "heldout5", "heldout6",
                     "heldout7", "all"]
    everything = report.split("all")
    assert everything.n == len(labels) >= 80
    p, r, f1 = everything.classes.micro()
    for x in (p, r, f1):
        assert 0.0 <= x <= 1.0
    for name, m in everything.singles.items():
        # heldout6 (records without eligibility text) labels only advanced_disease of these three
        assert m.n == sum(1 for lab in labels if lab.values[name]) and 0.0 <= m.accuracy <= 1.0
        assert sum(m.confusion.values()) == m.n
    text = report.format()
    assert "intervention_classes: micro" in text and "confusion" in text and "== split: heldout" in text


def test_evaluate__no_regression_on_the_labelled_set(labelled_tables: dict[str, pd.DataFrame]) -> None:
    """A regression guard, not a claim about new trials: every split has been used for tuning by now
    (the first-read figures of the held-out splits are in docs/facets.md). The floors sit a little under
    the figures of round 9 (all 423: F1 0.968, advanced 0.965; the 308 with eligibility labels: prior
    immunotherapy 0.951, line 0.864), so a rule change that breaks several labelled trials fails here."""
    report = evaluate(LABELS, labelled_tables)
    everything = report.split("all")
    _, _, f1 = everything.classes.micro()
    assert f1 >= 0.96
    assert everything.singles["advanced_disease"].accuracy >= 0.955
    assert everything.singles["prior_immunotherapy"].accuracy >= 0.94
    assert everything.singles["line_of_therapy"].accuracy >= 0.85
    assert report.evidence_verbatim_share == 1.0


def test_labels__file_meets_the_brief(shared_dir: Path) -> None:
    labels = read_labels(LABELS)
    ids = {lab.nct_id for lab in labels}
    xml = {p.stem for p in (shared_dir / "classic-xml").glob("*.xml")}
    assert xml <= ids  # all 23 mesothelioma trials + the breast-cancer one
    assert {"NCT02628535", "NCT06790706"} <= ids
    assert len([i for i in ids if i not in xml]) >= 40
    # the first split (dev/heldout by sha256) keeps its share; heldout2 is a later, separate set
    first = [lab for lab in labels if lab.split in ("dev", "heldout")]
    heldout = [lab for lab in first if lab.split == "heldout"]
    assert 0.15 <= len(heldout) / len(first) <= 0.35
    heldout2 = [lab for lab in labels if lab.split == "heldout2"]
    assert len(heldout2) >= 30 and {lab.nct_id for lab in heldout2}.isdisjoint({lab.nct_id for lab in first})
    heldout3 = [lab for lab in labels if lab.split == "heldout3"]
    earlier = {lab.nct_id for lab in labels if lab.split != "heldout3"}
    assert len(heldout3) >= 40 and {lab.nct_id for lab in heldout3}.isdisjoint(earlier)
    heldout4 = [lab for lab in labels if lab.split == "heldout4"]
    before4 = {lab.nct_id for lab in labels if lab.split != "heldout4"}
    assert len(heldout4) >= 40 and {lab.nct_id for lab in heldout4}.isdisjoint(before4)
    heldout5 = [lab for lab in labels if lab.split == "heldout5"]
    before5 = {lab.nct_id for lab in labels if lab.split != "heldout5"}
    assert len(heldout5) >= 30 and {lab.nct_id for lab in heldout5}.isdisjoint(before5)
    # heldout5 comes from the recorded API pages and downloads, not from v2/studies
    assert not any((shared_dir / "v2" / "studies" / f"{lab.nct_id}.json").exists() for lab in heldout5)
    heldout6 = [lab for lab in labels if lab.split == "heldout6"]
    before6 = {lab.nct_id for lab in labels if lab.split != "heldout6"}
    assert len(heldout6) >= 100 and {lab.nct_id for lab in heldout6}.isdisjoint(before6)
    # heldout6 comes from the TREC-derived extract (no eligibility text: prior immunotherapy and line of
    # therapy unlabelled), and none of its trials has a registry record in ../shared/ctgov
    assert all(not lab.values[f] for lab in heldout6 for f in ("prior_immunotherapy", "line_of_therapy"))
    assert not any((shared_dir / "v2" / "studies" / f"{lab.nct_id}.json").exists() for lab in heldout6)
    assert not any((shared_dir / "classic-xml" / f"{lab.nct_id}.xml").exists() for lab in heldout6)
    heldout7 = [lab for lab in labels if lab.split == "heldout7"]
    before7 = {lab.nct_id for lab in labels if lab.split != "heldout7"}
    assert len(heldout7) >= 50 and {lab.nct_id for lab in heldout7}.isdisjoint(before7)


def test_read_labels__errors(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        read_labels(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("nct_id,split\nNCT1,dev\n", encoding="utf-8")
    with pytest.raises(DataError):
        read_labels(bad)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text(
        "nct_id,split,intervention_classes,advanced_disease,prior_immunotherapy,line_of_therapy\n"
        "NCT02899299,dev,magic,yes,excluded,first_line\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError):
        read_labels(wrong)


def test_evaluate__metrics_on_a_tiny_label_file(
    tmp_path: Path, labelled_tables: dict[str, pd.DataFrame]
) -> None:
    f = tmp_path / "l.csv"
    f.write_text(
        "nct_id,split,intervention_classes,advanced_disease,prior_immunotherapy,line_of_therapy\n"
        "NCT02899299,dev,checkpoint_inhibitor;chemotherapy,yes,excluded,first_line\n"
        "NCT04334759,dev,checkpoint_inhibitor,no,excluded,first_line\n",
        encoding="utf-8",
    )
    report = evaluate(f, labelled_tables)
    s = report.split("dev")
    assert s.singles["advanced_disease"].accuracy == 0.5
    p, r, _f1 = s.classes.micro()
    assert r == 1.0 and math.isclose(p, 3 / 4)  # DREAM3R also has chemotherapy, labelled wrongly here
    assert "NCT04334759 advanced_disease: label no got yes" in report.format()


def test_trec_derived_studies__fields_as_in_the_file(shared_dir: Path) -> None:
    import json

    from trialfinder.facets.evaluate import TREC_DERIVED, trec_derived_studies

    path = shared_dir / TREC_DERIVED
    raw = json.loads(path.read_text(encoding="utf-8"))["trials"]
    studies = trec_derived_studies(path)
    assert [s.nct_id for s in studies] == list(raw)
    assert all(s.partial and s.source_format == "trec-derived" for s in studies)
    tables = normalize.normalize(studies)
    trials = tables["trials"].set_index("nct_id")
    one = "NCT01766739"
    assert trials.loc[one, "title"] == raw[one]["title"]
    assert list(trials.loc[one, "conditions"]) == raw[one]["conditions"]
    ivs = tables["interventions"]
    assert list(ivs[ivs.nct_id == one]["name"]) == raw[one]["interventions"]
    assert tables["eligibility"].empty  # the extract has no eligibility text


def test_trec_derived_studies__bad_file(tmp_path: Path) -> None:
    from trialfinder.facets.evaluate import trec_derived_studies

    bad = tmp_path / "x.json"
    bad.write_text('{"trials": [1, 2]}', encoding="utf-8")
    with pytest.raises(DataError, match="'trials' mapping"):
        trec_derived_studies(bad)
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="cannot read"):
        trec_derived_studies(bad)


def test_recorded_studies__registry_record_wins_over_the_extract(shared_dir: Path) -> None:
    studies = {s.nct_id: s for s in recorded_studies(shared_dir)}
    # NCT00005636 is both a classic-XML record and a trial of the TREC-derived extract
    assert studies["NCT00005636"].source_format == "classic-xml"
    assert sum(s.source_format == "trec-derived" for s in studies.values()) == 115
