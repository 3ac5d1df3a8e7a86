"""Trial facets that matter to a patient with advanced mesothelioma, each with verbatim evidence.

``compute_facets(tables)`` adds two tables to the normalized ones (schema: docs/architecture.md):

* ``facets`` — one row per trial: ``nct_id, intervention_classes (list), intervention_classes_evidence,
  advanced_disease, advanced_disease_evidence, prior_immunotherapy, prior_immunotherapy_evidence,
  line_of_therapy, line_of_therapy_evidence, histology_sites (list), histology_subtypes (list),
  histology_evidence, biomarkers (list), biomarkers_evidence``;
* ``arm_classes`` — ``nct_id, arm_label, intervention_classes (list)``.

Values follow the GUIDE's facet vocabulary (contract). Evidence pieces are joined with ``" | "``;
each piece occurs verbatim in the record. ``docs/facets.md`` describes every rule.

``compute_facets_parallel(tables, workers=...)`` gives the same two tables, computed on several CPUs
for large inputs (contiguous slices of trials in forked worker processes, concatenated in order).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import multiprocessing
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache

import numpy as np
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
    "PARALLEL_MIN_TRIALS",
    "Facet",
    "Result",
    "TrialText",
    "compute_facets",
    "compute_facets_parallel",
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


# --------------------------------------------------------------------------------- on all cores

PARALLEL_MIN_TRIALS = 10_000
"""Fewer trials than this are faceted in-process: forking workers (each compiles its rules once)
would save little. At 11,920 trials (the ×10 scale-up) two workers already took 2.0–2.1 s against
2.4–3.0 s in-process."""
_SLICE_MAX = 16_384
"""Trials per worker task at most: bounds what a worker holds at once (its rows of Python objects);
several tasks per worker also even out slices of unequal cost."""
_INPUTS = ("trials", "interventions", "arms", "eligibility")
"""The tables :func:`trialfinder.facets.text.iter_trials` reads; workers get only these."""
_SHARED: dict[str, Mapping[str, pd.DataFrame]] = {}
"""The tables being faceted, set only while a pool runs: forked workers inherit them (no pickling)."""


def _slices(n: int, workers: int) -> list[tuple[int, int]]:
    """``[start, stop)`` row ranges covering ``range(n)`` in order: a multiple of ``workers`` slices of
    at most about ``_SLICE_MAX`` trials, sizes differing by at most one."""
    per_worker = math.ceil(math.ceil(n / _SLICE_MAX) / workers)
    k = min(n, workers * max(1, per_worker))
    bounds = [n * i // k for i in range(k + 1)]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _slice_tables(tables: Mapping[str, pd.DataFrame], start: int, stop: int) -> dict[str, pd.DataFrame]:
    """Rows ``start:stop`` of ``trials`` and the rows of the other inputs with those NCT IDs (in table
    order, so each trial sees exactly its rows, as in the whole tables)."""
    trials = tables["trials"].iloc[start:stop]
    out = {"trials": trials}
    for name in _INPUTS[1:]:
        df = tables.get(name)
        if df is None or df.empty:
            continue
        rows = np.flatnonzero(df["nct_id"].isin(trials["nct_id"]).to_numpy(dtype=bool, na_value=False))
        if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
            out[name] = df.iloc[rows[0]:rows[-1] + 1]  # the usual case (child rows in trial order): a view
        else:
            out[name] = df.take(rows)  # a row selection copies its columns' data
    return out


def _facets_of_slice(bounds: tuple[int, int]) -> dict[str, pd.DataFrame]:
    """One worker task: the facets of the trials in rows ``bounds`` of the inherited tables."""
    tables = _SHARED["tables"]  # set by the parent before the fork
    return compute_facets(_slice_tables(tables, *bounds))


def compute_facets_parallel(tables: Mapping[str, pd.DataFrame], *, workers: int | None = None,
                            min_trials: int | None = None) -> dict[str, pd.DataFrame]:
    """:func:`compute_facets` on ``workers`` processes (default: ``sources.parallel.default_workers()``,
    one per CPU up to ``MAX_WORKERS``); the same result.

    With at least ``min_trials`` trials (default ``PARALLEL_MIN_TRIALS``), more than one worker and
    the ``fork`` start method, the trials are cut into contiguous slices, each slice is faceted in a
    forked worker (which inherits the tables), and the slices' tables are concatenated in trial
    order. Otherwise in-process."""
    trials = tables.get("trials")
    n = 0 if trials is None else len(trials)
    if workers is None:
        from trialfinder.sources.parallel import default_workers  # the import workers' rule, one place

        workers = default_workers()
    w = max(1, workers)
    least = PARALLEL_MIN_TRIALS if min_trials is None else min_trials
    if n < max(2, least) or w < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return compute_facets(tables)
    bounds = _slices(n, w)
    _SHARED["tables"] = {k: tables[k] for k in _INPUTS if k in tables}
    try:
        with ProcessPoolExecutor(max_workers=min(w, len(bounds)),
                                 mp_context=multiprocessing.get_context("fork")) as pool:
            parts = list(pool.map(_facets_of_slice, bounds))
    finally:
        _SHARED.clear()
    # ArrowDtype columns concatenate as chunked arrays: no copy of the slices' data
    return {name: pd.concat([p[name] for p in parts], ignore_index=True)
            for name in ("facets", "arm_classes")}
