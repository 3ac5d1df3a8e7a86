"""Measure the facets against a hand-labelled set (``bench/labels/dev.csv``).

``evaluate(labels_path, tables)`` computes the facets for the labelled trials found in ``tables`` and
returns a :class:`Report`: per facet accuracy, per-value precision/recall and a confusion table, for
intervention classes micro-F1 without ``other`` and per-class P/R, for histology exact-set accuracy,
and the share of evidence strings that occur verbatim in their record (over every trial in
``tables``). Figures are given for each split in the labels file (``dev``, ``heldout``) and all.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from trialfinder.errors import DataError, NotFoundError
from trialfinder.facets import EVIDENCE_SEP, facets_for_trial
from trialfinder.facets.text import TrialText, iter_trials
from trialfinder.facets.vocabulary import CLASSES
from trialfinder.sources.base import RawStudy

SINGLE_FACETS: tuple[str, ...] = ("advanced_disease", "prior_immunotherapy", "line_of_therapy")
EVIDENCE_COLUMNS: tuple[str, ...] = (
    "intervention_classes_evidence", "advanced_disease_evidence", "prior_immunotherapy_evidence",
    "line_of_therapy_evidence", "histology_evidence", "biomarkers_evidence",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("nct_id", "split", "intervention_classes", *SINGLE_FACETS)


@dataclass(frozen=True)
class Label:
    nct_id: str
    split: str
    intervention_classes: frozenset[str]
    values: dict[str, str]
    histology_sites: frozenset[str]
    histology_subtypes: frozenset[str]
    note: str = ""


def _set(cell: str | None) -> frozenset[str]:
    return frozenset(x.strip() for x in (cell or "").split(";") if x.strip())


def recorded_studies(records: Path) -> list[RawStudy]:
    """The recorded studies the labels were written from: ``v2/studies`` and ``classic-xml`` under
    ``records``, plus the trials recorded only in ``v2/pages`` or ``v2/downloads`` (a trial also in
    ``v2/studies`` keeps that record), plus the trials known only from the TREC-derived extract
    (:func:`trec_derived_studies`). A folder without that layout is read as it is."""
    from trialfinder import sources

    paths = [p for p in (records / "v2" / "studies", records / "classic-xml") if p.exists()]
    if not paths:
        return sources.import_paths([records]).studies
    studies = sources.import_paths(paths).studies
    extra = [p for p in (records / "v2" / "pages", records / "v2" / "downloads") if p.exists()]
    if extra:
        have = {s.nct_id for s in studies}
        studies += [s for s in sources.import_paths(extra).studies if s.nct_id not in have]
    if (records / TREC_DERIVED).exists():
        have = {s.nct_id for s in studies}
        studies += [s for s in trec_derived_studies(records / TREC_DERIVED) if s.nct_id not in have]
    return studies


TREC_DERIVED = Path("derived") / "trec2022-topic-meso" / "eligible_trial_metadata.json"
"""Fields a third party extracted from the trials judged for the TREC 2022 mesothelioma patient topic
(under ``../shared/ctgov``): title, conditions, keywords, intervention names, study type, phases, status."""


def trec_derived_studies(path: Path) -> list[RawStudy]:
    """The trials of a TREC-derived metadata file (``{"trials": {nct_id: fields}}``) in the API v2
    layout, for evaluation only (the ``heldout6`` labels, docs/labelling.md).

    These are not registry records: only the extracted fields are there (no eligibility text, no
    intervention types or descriptions), so each study is marked ``partial`` with source format
    ``trec-derived``. Nothing is added or changed: every text comes from the file. Raises
    :class:`DataError` when the file does not have that shape."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    trials = data.get("trials") if isinstance(data, dict) else None
    if not isinstance(trials, dict):
        raise DataError(f"{path}: expected an object with a 'trials' mapping")
    out: list[RawStudy] = []
    for nct, f in trials.items():
        if not isinstance(f, dict):
            raise DataError(f"{path}: {nct} is not an object")
        protocol: dict[str, object] = {
            "identificationModule": {"nctId": nct, "briefTitle": f.get("title") or ""},
            "statusModule": {"overallStatus": f.get("status")},
            "conditionsModule": {"conditions": list(f.get("conditions") or []),
                                 "keywords": list(f.get("keywords") or [])},
            "designModule": {"studyType": f.get("study_type"), "phases": list(f.get("phase") or [])},
            "armsInterventionsModule": {"interventions": [{"name": n} for n in f.get("interventions") or []]},
        }
        out.append(RawStudy({"protocolSection": protocol}, "trec-derived", f"{path}#{nct}", None,
                            partial=True))
    return out


def read_labels(path: str | Path) -> list[Label]:
    """Parse the labels CSV; raises :class:`NotFoundError` / :class:`DataError`."""
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"labels file not found: {p}")
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"labels file {p} lacks columns: {', '.join(missing)}")
        labels = []
        for row in reader:
            classes = _set(row["intervention_classes"])
            unknown = classes - set(CLASSES)
            if unknown:
                raise DataError(f"{row['nct_id']}: unknown intervention class(es) {sorted(unknown)}")
            labels.append(Label(
                row["nct_id"].strip(), (row.get("split") or "dev").strip(), classes,
                {f: (row.get(f) or "").strip() for f in SINGLE_FACETS},
                _set(row.get("histology_sites")), _set(row.get("histology_subtypes")), row.get("note") or "",
            ))
    return labels


@dataclass
class SingleMetrics:
    facet: str
    n: int
    correct: int
    confusion: Counter[tuple[str, str]]  # (label, predicted) → count
    values: tuple[str, ...]

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else float("nan")

    def precision_recall(self, value: str) -> tuple[float, float]:
        tp = self.confusion[(value, value)]
        pred = sum(c for (_, p), c in self.confusion.items() if p == value)
        gold = sum(c for (g, _), c in self.confusion.items() if g == value)
        return (tp / pred if pred else float("nan"), tp / gold if gold else float("nan"))


@dataclass
class ClassMetrics:
    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    exact: int = 0
    n: int = 0

    def micro(self, exclude: Sequence[str] = ("other",)) -> tuple[float, float, float]:
        tp = sum(v for k, v in self.tp.items() if k not in exclude)
        fp = sum(v for k, v in self.fp.items() if k not in exclude)
        fn = sum(v for k, v in self.fn.items() if k not in exclude)
        p = tp / (tp + fp) if tp + fp else float("nan")
        r = tp / (tp + fn) if tp + fn else float("nan")
        f = 2 * p * r / (p + r) if tp and (p + r) else 0.0
        return p, r, f


@dataclass
class SplitReport:
    name: str
    n: int
    classes: ClassMetrics
    singles: dict[str, SingleMetrics]
    histology_n: int
    histology_sites_correct: int
    histology_subtypes_correct: int
    errors: list[str]


@dataclass
class Report:
    labels_path: str
    n_labels: int
    missing: list[str]
    splits: list[SplitReport]
    evidence_pieces: int
    evidence_verbatim: int
    evidence_failures: list[str]
    trials_checked: int

    @property
    def evidence_verbatim_share(self) -> float:
        return self.evidence_verbatim / self.evidence_pieces if self.evidence_pieces else 1.0

    def split(self, name: str) -> SplitReport:
        for s in self.splits:
            if s.name == name:
                return s
        raise KeyError(name)

    def format(self, *, show_errors: bool = True) -> str:
        out: list[str] = [f"Facet evaluation against {self.labels_path} ({self.n_labels} labelled trials)"]
        if self.missing:
            out.append(f"  not in the tables (skipped): {', '.join(self.missing)}")
        out.append(f"Evidence verbatim in record: {self.evidence_verbatim}/{self.evidence_pieces} pieces "
                   f"({self.evidence_verbatim_share:.1%}) over {self.trials_checked} trials")
        for f in self.evidence_failures[:10]:
            out.append(f"  NOT VERBATIM {f}")
        for s in self.splits:
            out.append("")
            out.append(f"== split: {s.name} (n={s.n})")
            p, r, f1 = s.classes.micro()
            out.append(f"intervention_classes: micro P={p:.3f} R={r:.3f} F1={f1:.3f} (without 'other'); "
                       f"exact set match {s.classes.exact}/{s.classes.n}")
            out.append(f"  {'class':<22}{'TP':>4}{'FP':>4}{'FN':>4}{'P':>8}{'R':>8}")
            for c in CLASSES:
                tp, fp, fn = s.classes.tp[c], s.classes.fp[c], s.classes.fn[c]
                if tp + fp + fn == 0:
                    continue
                pc = f"{tp / (tp + fp):.2f}" if tp + fp else "-"
                rc = f"{tp / (tp + fn):.2f}" if tp + fn else "-"
                out.append(f"  {c:<22}{tp:>4}{fp:>4}{fn:>4}{pc:>8}{rc:>8}")
            for name, m in s.singles.items():
                out.append(f"{name}: accuracy {m.correct}/{m.n} = {m.accuracy:.3f}")
                out.append("  " + "  ".join(
                    f"{v}: P={_fmt(m.precision_recall(v)[0])} R={_fmt(m.precision_recall(v)[1])}"
                    for v in m.values))
                out.append("  confusion (rows = label, columns = predicted):")
                out.append("  " + " " * 20 + "".join(f"{v[:12]:>13}" for v in m.values))
                for g in m.values:
                    out.append(f"  {g:<20}" + "".join(f"{m.confusion[(g, pv)]:>13}" for pv in m.values))
            if s.histology_n:
                out.append(f"histology (mesothelioma trials, exact set): sites {s.histology_sites_correct}/"
                           f"{s.histology_n}, subtypes {s.histology_subtypes_correct}/{s.histology_n}")
            if show_errors and s.errors:
                out.append("  disagreements:")
                out += [f"    {e}" for e in s.errors]
        return "\n".join(out)


def _fs(value: object) -> frozenset[str]:
    if value is None or isinstance(value, str):
        return frozenset([value] if value else [])
    return frozenset(str(v) for v in value)  # type: ignore[attr-defined]


def _fmt(x: float) -> str:
    return "-" if x != x else f"{x:.2f}"


def check_evidence(trial: TrialText, row: Mapping[str, object]) -> tuple[int, int, list[str]]:
    """(pieces, verbatim pieces, failures) for one facets row."""
    pieces = ok = 0
    fails: list[str] = []
    for col in EVIDENCE_COLUMNS:
        text = str(row.get(col) or "")
        for piece in (p for p in text.split(EVIDENCE_SEP) if p):
            pieces += 1
            if trial.contains(piece):
                ok += 1
            else:
                fails.append(f"{trial.nct_id} {col}: {piece[:80]!r}")
    return pieces, ok, fails


def evaluate(labels_path: str | Path, tables: Mapping[str, pd.DataFrame]) -> Report:
    """Compare the facets of ``tables`` with the labels; see the module docstring."""
    labels = read_labels(labels_path)
    rows: dict[str, dict[str, object]] = {}
    pieces = ok = 0
    fails: list[str] = []
    n_trials = 0
    for trial in iter_trials(tables):
        row, _ = facets_for_trial(trial)
        rows[trial.nct_id] = row
        n_trials += 1
        a, b, f = check_evidence(trial, row)
        pieces, ok = pieces + a, ok + b
        fails += f
    missing = [lab.nct_id for lab in labels if lab.nct_id not in rows]
    present = [lab for lab in labels if lab.nct_id in rows]
    split_names = sorted({lab.split for lab in present})
    splits = [_split_report(s, [lab for lab in present if lab.split == s], rows) for s in split_names]
    if len(split_names) > 1:
        splits.append(_split_report("all", present, rows))
    return Report(str(labels_path), len(labels), missing, splits, pieces, ok, fails, n_trials)


_VALUES: dict[str, tuple[str, ...]] = {
    "advanced_disease": ("yes", "no", "unknown"),
    "prior_immunotherapy": ("excluded", "required", "allowed", "unstated"),
    "line_of_therapy": ("first_line", "previously_treated", "any", "unknown"),
}


def _split_report(name: str, labels: list[Label], rows: Mapping[str, Mapping[str, object]]) -> SplitReport:
    cm = ClassMetrics()
    singles = {f: SingleMetrics(f, 0, 0, Counter(), _VALUES[f]) for f in SINGLE_FACETS}
    errors: list[str] = []
    h_n = h_sites = h_sub = 0
    for lab in labels:
        row = rows[lab.nct_id]
        pred = _fs(row["intervention_classes"])
        cm.n += 1
        cm.exact += pred == lab.intervention_classes
        for c in CLASSES:
            if c in pred and c in lab.intervention_classes:
                cm.tp[c] += 1
            elif c in pred:
                cm.fp[c] += 1
            elif c in lab.intervention_classes:
                cm.fn[c] += 1
        if pred - {"other"} != lab.intervention_classes - {"other"}:
            errors.append(f"{lab.nct_id} intervention_classes: label {sorted(lab.intervention_classes)} "
                          f"got {sorted(pred)}")
        for f in SINGLE_FACETS:
            gold, got = lab.values[f], str(row[f])
            if not gold:
                continue
            m = singles[f]
            m.n += 1
            m.correct += gold == got
            m.confusion[(gold, got)] += 1
            if gold != got:
                errors.append(f"{lab.nct_id} {f}: label {gold} got {got} "
                              f"[{str(row[f + '_evidence'])[:100]}]")
        got_sites, got_sub = _fs(row["histology_sites"]), _fs(row["histology_subtypes"])
        if lab.histology_sites or lab.histology_subtypes or got_sites or got_sub:
            h_n += 1
            h_sites += got_sites == lab.histology_sites
            h_sub += got_sub == lab.histology_subtypes
    return SplitReport(name, len(labels), cm, singles, h_n, h_sites, h_sub, errors)
