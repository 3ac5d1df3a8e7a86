"""Trial facets that matter to a patient with advanced mesothelioma, each with verbatim evidence.

``compute_facets(tables)`` adds two tables to the normalized ones (schema: docs/architecture.md):

* ``facets`` — one row per trial: ``nct_id, intervention_classes (list), intervention_classes_evidence,
  advanced_disease, advanced_disease_evidence, prior_immunotherapy, prior_immunotherapy_evidence,
  line_of_therapy, line_of_therapy_evidence, histology_sites (list), histology_subtypes (list),
  histology_evidence, biomarkers (list), biomarkers_evidence``;
* ``arm_classes`` — ``nct_id, arm_label, intervention_classes (list)``.

Values follow the GUIDE's facet vocabulary (contract). Evidence pieces are joined with ``" | "``;
each piece occurs verbatim in the record. ``docs/facets.md`` describes every rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import lru_cache

import pandas as pd
import pyarrow as pa

from trialfinder.facets.base import EVIDENCE_SEP, Facet, Result
from trialfinder.facets.eligibility import (
    ADVANCED_DISEASE,
    BIOMARKERS,
    HISTOLOGY,
    LINE_OF_THERAPY,
    PRIOR_IMMUNOTHERAPY,
)
from trialfinder.facets.interventions import INTERVENTION_CLASSES, classify_trial
from trialfinder.facets.text import TrialText, iter_trials
from trialfinder.facets.vocabulary import CLASSES, lookup
from trialfinder.gcutil import gc_paused

__all__ = [
    "ARM_CLASSES_COLUMNS",
    "CLASSES",
    "EVIDENCE_SEP",
    "FACETS",
    "FACETS_COLUMNS",
    "Facet",
    "Result",
    "TrialText",
    "compute_facets",
    "facets_for_trial",
    "lookup",
]

FACETS: tuple[Facet, ...] = (INTERVENTION_CLASSES, ADVANCED_DISEASE, PRIOR_IMMUNOTHERAPY, LINE_OF_THERAPY,
                             HISTOLOGY, BIOMARKERS)
"""Every facet with the fields it reads (``Facet.reads``)."""

_S, _L = pa.string(), pa.list_(pa.string())
_FACET_SCHEMA: dict[str, pa.DataType] = {
    "nct_id": _S, "intervention_classes": _L, "intervention_classes_evidence": _S,
    "advanced_disease": _S, "advanced_disease_evidence": _S,
    "prior_immunotherapy": _S, "prior_immunotherapy_evidence": _S,
    "line_of_therapy": _S, "line_of_therapy_evidence": _S,
    "histology_sites": _L, "histology_subtypes": _L, "histology_evidence": _S,
    "biomarkers": _L, "biomarkers_evidence": _S,
}
_ARM_SCHEMA: dict[str, pa.DataType] = {"nct_id": _S, "arm_label": _S, "intervention_classes": _L}
FACETS_COLUMNS: tuple[str, ...] = tuple(_FACET_SCHEMA)
ARM_CLASSES_COLUMNS: tuple[str, ...] = tuple(_ARM_SCHEMA)


def facets_for_trial(trial: TrialText) -> tuple[dict[str, object], list[dict[str, object]]]:
    """The facets row and the arm_classes rows of one trial."""
    ic, arms = classify_trial(trial)
    adv = ADVANCED_DISEASE(trial)
    pio = PRIOR_IMMUNOTHERAPY(trial)
    lot = LINE_OF_THERAPY(trial)
    his = HISTOLOGY(trial)
    bio = BIOMARKERS(trial)
    sites, subtypes = his.value
    row: dict[str, object] = {
        "nct_id": trial.nct_id,
        "intervention_classes": list(ic.value), "intervention_classes_evidence": ic.evidence_text,
        "advanced_disease": adv.value, "advanced_disease_evidence": adv.evidence_text,
        "prior_immunotherapy": pio.value, "prior_immunotherapy_evidence": pio.evidence_text,
        "line_of_therapy": lot.value, "line_of_therapy_evidence": lot.evidence_text,
        "histology_sites": list(sites), "histology_subtypes": list(subtypes),
        "histology_evidence": his.evidence_text,
        "biomarkers": list(bio.value), "biomarkers_evidence": bio.evidence_text,
    }
    arm_rows: list[dict[str, object]] = [
        {"nct_id": trial.nct_id, "arm_label": label, "intervention_classes": list(r.value)}
        for label, r in arms.items()
    ]
    return row, arm_rows


_TRIAL_CACHE = 4096
"""Trials whose facets are kept, keyed on their text without the NCT ID: a study met again (a
newer version with the same text, another source, a scale-up copy) costs a lookup."""


@lru_cache(maxsize=_TRIAL_CACHE)
def _facets_by_content(trial: TrialText) -> tuple[dict[str, object], list[dict[str, object]]]:
    return facets_for_trial(trial)


def _cached_facets_for_trial(trial: TrialText) -> tuple[dict[str, object], list[dict[str, object]]]:
    """``facets_for_trial(trial)``; no facet reads the NCT ID, so trials that differ only in it share
    one computation."""
    row, arms = _facets_by_content(dataclasses.replace(trial, nct_id=""))
    nct = trial.nct_id
    return {**row, "nct_id": nct}, [{**a, "nct_id": nct} for a in arms]


def _frame(rows: list[dict[str, object]], schema: dict[str, pa.DataType]) -> pd.DataFrame:
    arrays = {c: pa.array([r[c] for r in rows], type=t) for c, t in schema.items()}
    return pa.table(arrays).to_pandas(types_mapper=pd.ArrowDtype)



def compute_facets(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``{"facets": ..., "arm_classes": ...}`` for every trial in ``tables["trials"]`` (pure)."""
    rows: list[dict[str, object]] = []
    arm_rows: list[dict[str, object]] = []
    with gc_paused():
        for trial in iter_trials(tables):
            row, arms = _cached_facets_for_trial(trial)
            rows.append(row)
            arm_rows += arms
        return {"facets": _frame(rows, _FACET_SCHEMA), "arm_classes": _frame(arm_rows, _ARM_SCHEMA)}
