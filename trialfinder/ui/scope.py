"""Which cancer a trial is for: mesothelioma, many solid tumours, or something else (pure, vectorised).

:func:`condition_scope` sorts every trial of a snapshot into one of :data:`SCOPES` once per snapshot
(the Find filter "Which trials" then only compares an array). The rule is deliberately conservative;
it reads only the registry's condition list, keywords, MeSH condition terms and titles:

* ``mesothelioma`` — a condition, keyword, MeSH condition term, the brief title or the official
  title contains a word starting with "mesothelioma" (any case: "Malignant Pleural Mesothelioma",
  "Mesotheliomas Pleural", "Mesothelioma; Pleura", "Peritoneal mesothelioma"), or the acronyms
  ``MPM`` / ``MPeM`` written exactly so as whole words; or it names "malignant pleural disease" and
  the same fields also mention mesothelin. "Mesothelin" alone (a target found on many cancers) is
  not enough, nor is the summary or the eligibility text.
* ``solid_tumours`` — not a mesothelioma trial, and its *conditions* (not keywords: those are
  free-form) are generic: either one condition is a broad solid-tumour term (:data:`BROAD_RE`:
  "Advanced Solid Tumors", "Solid Tumor, Adult", "Advanced Malignancies", "Advanced Tumors", "Malignant
  Solid Neoplasm"), or every condition is a generic cancer term (:data:`GENERIC_RE`: "Cancer",
  "Neoplasms", "Metastatic Cancer", "Advanced Cancer"). So "Pancreas Cancer | Resistant Cancer" is
  not a solid-tumour trial (it names one cancer), while "Advanced Solid Tumor | NSCLC" is (a basket
  trial listing examples). Whether such a trial takes a person with mesothelioma is for its team.
* ``other`` — everything else (other cancers, asthma, allergy, …).
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa

MESOTHELIOMA: Final = "mesothelioma"
SOLID_TUMOURS: Final = "solid_tumours"
OTHER: Final = "other"
SCOPES: tuple[str, ...] = (MESOTHELIOMA, SOLID_TUMOURS, OTHER)
SCOPE_LABELS: dict[str, str] = {
    MESOTHELIOMA: "Mesothelioma",
    SOLID_TUMOURS: "Many solid tumours",
    OTHER: "Other conditions",
}

#: the words that make a mesothelioma trial (RE2/Python regex syntax, searched anywhere)
MESOTHELIOMA_RE: Final = r"(?i:\bmesothelioma)|\bMPM\b|\bMPeM\b"
PLEURAL_DISEASE_RE: Final = r"(?i)\bmalignant pleural disease\b"
MESOTHELIN_RE: Final = r"(?i)\bmesothelin\b"

_QUALIFIER = (
    r"(?:advanced|metastatic|metastasized|locally|refractory|relapsed|recurrent|unresectable|"
    r"resistant|malignant|adult|late|stage|iv|4|progressive|or|and|other)"
)
_BROAD = (
    r"(?:solid (?:tumou?rs?|neoplasms?|cancers?|malignanc(?:y|ies))(?: cancers?)?|malignanc(?:ies)|"
    r"tumou?rs|malignant tumou?rs?)"
)
_GENERIC = (
    r"(?:cancers?|neoplasms?|neoplasm malignant|malignant neoplasms?|malignancy|tumou?r|metastases|"
    r"neoplasm metastasis|metastatic disease)"
)
#: a condition (normalised: lower case, runs of space , / - ; as one space) that is a broad
#: solid-tumour term: it is enough on its own, even beside named cancers
BROAD_RE: Final = rf"^(?:{_QUALIFIER} )*{_BROAD}(?: adult| nos)?$"
#: a condition that is a generic cancer term: it counts only when every condition is generic
GENERIC_RE: Final = rf"^(?:{_QUALIFIER} )*(?:{_BROAD}|{_GENERIC})(?: adult| nos)?$"

_COND_COLUMNS = {"condition": "conditions", "keyword": "keywords", "mesh": "mesh_conditions"}


def _text(series: pd.Series) -> pd.Series:
    """Any text column as an Arrow string column with missing values as ""."""
    return series.astype(pd.ArrowDtype(pa.string())).fillna("")


def long_conditions(trials: pd.DataFrame, conditions: pd.DataFrame | None = None) -> pd.DataFrame:
    """``nct_id, condition, kind`` rows: the ``conditions`` table if given, else the trials' list
    columns (``conditions``, ``keywords``, ``mesh_conditions``) exploded."""
    if conditions is not None and {"nct_id", "condition", "kind"} <= set(conditions.columns):
        out = conditions[["nct_id", "condition", "kind"]]
        return pd.DataFrame(
            {"nct_id": _text(out["nct_id"]), "condition": _text(out["condition"]), "kind": _text(out["kind"])}
        )
    parts = []
    for kind, col in _COND_COLUMNS.items():
        if col not in trials.columns:
            continue
        ex = trials[["nct_id", col]].explode(col)
        ex = ex[ex[col].notna()]
        parts.append(pd.DataFrame({"nct_id": _text(ex["nct_id"]), "condition": _text(ex[col]), "kind": kind}))
    if not parts:
        empty = pd.Series([], dtype=pd.ArrowDtype(pa.string()))
        return pd.DataFrame({"nct_id": empty, "condition": empty, "kind": empty})
    return pd.concat(parts, ignore_index=True)


def _normalised(s: pd.Series) -> pd.Series:
    return s.str.lower().str.replace(r"[\s,/;\-]+", " ", regex=True).str.strip()


def _per_trial(pos: np.ndarray, hit: np.ndarray, n: int) -> np.ndarray:
    """Row-level booleans → "any row of the trial is true" (``pos`` = the row's trial position)."""
    if not len(pos):
        return np.zeros(n, dtype=bool)
    return np.bincount(pos, weights=hit.astype(float), minlength=n) > 0


def scope_masks(trials: pd.DataFrame, conditions: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """Boolean arrays over ``trials`` rows (positional) for each test of the rule: ``mesothelioma``,
    ``broad``, ``all_generic``, ``has_conditions`` (see the module docstring)."""
    n = len(trials)
    ids = _text(trials["nct_id"]).reset_index(drop=True)
    long = long_conditions(trials, conditions)
    pos_of = pd.Series(np.arange(n), index=ids.to_numpy())
    pos_s = long["nct_id"].map(pos_of)
    keep = pos_s.notna().to_numpy(dtype=bool)
    long = long[keep]
    pos = pos_s[keep].astype("int64").to_numpy()
    text = long["condition"]

    titles = [_text(trials[c]).reset_index(drop=True) for c in ("title", "official_title") if c in trials]

    def anywhere(pattern: str) -> np.ndarray:
        hit = _per_trial(pos, text.str.contains(pattern, regex=True).to_numpy(dtype=bool), n)
        for t in titles:
            hit |= t.str.contains(pattern, regex=True).to_numpy(dtype=bool)
        return hit

    meso = anywhere(MESOTHELIOMA_RE) | (anywhere(PLEURAL_DISEASE_RE) & anywhere(MESOTHELIN_RE))

    is_cond = (long["kind"] == "condition").to_numpy(dtype=bool)
    norm = _normalised(text[is_cond])
    cpos = pos[is_cond]
    broad_rows = norm.str.match(BROAD_RE).to_numpy(dtype=bool)
    generic_rows = norm.str.match(GENERIC_RE).to_numpy(dtype=bool)
    has_conditions = np.bincount(cpos, minlength=n) > 0 if len(cpos) else np.zeros(n, dtype=bool)
    specific = _per_trial(cpos, ~generic_rows & (norm != "").to_numpy(dtype=bool), n)
    return {
        "mesothelioma": meso,
        "broad": _per_trial(cpos, broad_rows, n),
        "all_generic": has_conditions & ~specific,
        "has_conditions": has_conditions,
    }


def condition_scope(trials: pd.DataFrame, conditions: pd.DataFrame | None = None) -> pd.Series:
    """Each trial's scope (:data:`SCOPES`), a string Series aligned with ``trials``' index.

    ``trials`` needs ``nct_id`` and may have ``title``, ``official_title`` and the list columns
    ``conditions``, ``keywords``, ``mesh_conditions``; ``conditions`` is the snapshot's long
    ``conditions`` table (``nct_id, condition, kind``), used instead of the list columns when given.
    Vectorised: a few Arrow regex passes and bincounts, no Python loop over trials.
    """
    m = scope_masks(trials, conditions)
    solid = ~m["mesothelioma"] & (m["broad"] | m["all_generic"])
    out = np.where(m["mesothelioma"], MESOTHELIOMA, np.where(solid, SOLID_TUMOURS, OTHER))
    return pd.Series(out, index=trials.index, dtype="string")


def scope_reason(trials: pd.DataFrame, conditions: pd.DataFrame | None = None) -> tuple[str, list[str]]:
    """For ONE trial (``trials`` holds its row; ``conditions`` may hold more trials' rows): its scope and
    the registry's words that decided it (for the detail page)."""
    if len(trials) != 1:
        raise ValueError("scope_reason takes exactly one trial")
    nid = str(trials["nct_id"].iloc[0])
    scope = str(condition_scope(trials, conditions).iloc[0])
    long = long_conditions(trials, conditions)
    long = long[long["nct_id"] == nid]
    words: list[str] = []
    if scope == MESOTHELIOMA:
        hits = long[long["condition"].str.contains(MESOTHELIOMA_RE, regex=True)]["condition"].tolist()
        for c in ("title", "official_title"):
            if c in trials and not hits:
                v = trials[c].iloc[0]
                if isinstance(v, str) and re.search(MESOTHELIOMA_RE, v):
                    hits.append(v)
        if not hits:
            hits = long[long["condition"].str.contains(PLEURAL_DISEASE_RE, regex=True)]["condition"].tolist()
        words = hits
    elif scope == SOLID_TUMOURS:
        conds = long[long["kind"] == "condition"]["condition"]
        norm = _normalised(conds)
        words = conds[norm.str.match(GENERIC_RE).to_numpy(dtype=bool)].tolist()
    return scope, list(dict.fromkeys(str(w) for w in words))[:5]
