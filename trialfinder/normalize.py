"""Studies → pandas tables keyed by ``nct_id`` (pure; schema version 1, see docs/architecture.md).

:func:`normalize` streams over :class:`~trialfinder.sources.base.RawStudy` records (API v2 dicts),
appends plain Python values to per-column lists and builds each table once at the end through
Arrow, so every column has an Arrow-backed dtype (``pd.ArrowDtype``). It reads the raw dicts
directly (no per-row pydantic validation) because that is several times faster; the pydantic
models in :mod:`trialfinder.ctgov.models` document and test the same fields.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import pyarrow as pa

from trialfinder.sources.base import RawStudy

SCHEMA_VERSION = 1
STUDY_URL = "https://clinicaltrials.gov/study/{nct_id}"

_S = pa.string()
_L = pa.list_(pa.string())
_I = pa.int64()
_F = pa.float64()
_B = pa.bool_()

TABLE_SCHEMAS: dict[str, dict[str, pa.DataType]] = {
    "trials": {
        "nct_id": _S, "title": _S, "official_title": _S, "acronym": _S, "brief_summary": _S,
        "overall_status": _S, "why_stopped": _S, "phases": _L, "study_type": _S,
        "conditions": _L, "keywords": _L, "interventions": _L, "intervention_types": _L,
        "mesh_conditions": _L, "mesh_interventions": _L, "lead_sponsor": _S, "sponsor_class": _S,
        "enrollment": _I, "start_date": _S, "primary_completion_date": _S, "completion_date": _S,
        "first_posted": _S, "last_update_posted": _S, "has_results": _B, "url": _S,
        "source_format": _S, "source": _S, "record_date": _S, "partial": _B,
    },
    "conditions": {"nct_id": _S, "condition": _S, "kind": _S},
    "interventions": {
        "nct_id": _S, "idx": _I, "type": _S, "name": _S, "description": _S,
        "other_names": _L, "arm_labels": _L,
    },
    "arms": {"nct_id": _S, "label": _S, "type": _S, "description": _S, "intervention_names": _L},
    "locations": {
        "nct_id": _S, "idx": _I, "facility": _S, "city": _S, "state": _S, "zip": _S, "country": _S,
        "lat": _F, "lon": _F, "site_status": _S, "contact_name": _S, "contact_phone": _S,
        "contact_email": _S,
    },
    "eligibility": {
        "nct_id": _S, "criteria": _S, "inclusion": _S, "exclusion": _S, "min_age_years": _F,
        "max_age_years": _F, "sex": _S, "healthy_volunteers": _B, "std_ages": _L,
    },
}
"""Table name → column name → Arrow type, in column order (the contract of schema version 1)."""

TABLE_NAMES: tuple[str, ...] = tuple(TABLE_SCHEMAS)


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of one normalized table."""
    return pa.schema([pa.field(name, typ) for name, typ in TABLE_SCHEMAS[table].items()])


def _frame(table: str, columns: Mapping[str, list[Any]]) -> pd.DataFrame:
    arrow = pa.Table.from_pydict(dict(columns), schema=arrow_schema(table))
    return arrow.to_pandas(types_mapper=pd.ArrowDtype)


def empty_tables() -> dict[str, pd.DataFrame]:
    """Every normalized table with its columns and dtypes and no rows."""
    return {name: _frame(name, {c: [] for c in cols}) for name, cols in TABLE_SCHEMAS.items()}


# --- small pure helpers -------------------------------------------------------------------------

_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>~|&=^$])")

_AGE_UNITS: dict[str, float] = {
    "year": 1.0, "month": 1.0 / 12.0, "week": 7.0 / 365.25, "day": 1.0 / 365.25,
    "hour": 1.0 / (365.25 * 24), "minute": 1.0 / (365.25 * 24 * 60),
}
_AGE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+?)s?\s*$")


def unescape_markdown(text: str) -> str:
    r"""Undo the registry's markdown backslash escapes (``\>`` → ``>``, ``\[`` → ``[``)."""
    return _MD_ESCAPE.sub(r"\1", text) if "\\" in text else text


def age_in_years(value: str | None) -> float | None:
    """``"18 Years"`` → 18.0, ``"6 Months"`` → 0.5; ``None``/``"N/A"``/unparseable → None."""
    if not value:
        return None
    m = _AGE_RE.match(value)
    if not m:
        return None
    factor = _AGE_UNITS.get(m.group(2).lower())
    if factor is None:
        return None
    return round(float(m.group(1)) * factor, 4)


def std_ages_for(min_years: float | None, max_years: float | None) -> list[str]:
    """The registry's standard age groups (CHILD < 18 ≤ ADULT < 65 ≤ OLDER_ADULT) a range overlaps."""
    lo = 0.0 if min_years is None else min_years
    hi = float("inf") if max_years is None else max_years
    groups = []
    if lo < 18:
        groups.append("CHILD")
    if lo < 65 and hi >= 18:
        groups.append("ADULT")
    if hi >= 65:
        groups.append("OLDER_ADULT")
    return groups


_HEADING = re.compile(
    r"""^[ \t]*(?P<bullet>[*\-•·][ \t]*)?(?:\*\*|__|\#{1,6}[ \t]*)?
        (?P<pre>[^\n]{0,50}?)
        (?P<kind>inclusion|exclusion)[ \t]+crit[a-z]*\b
        (?P<rest>[^\n]*)$""",
    re.IGNORECASE | re.MULTILINE | re.VERBOSE,
)
_KNOWN_PREFIX = re.compile(
    r"^(?:the[ \t]+)?(?:(?:key|main|major|general|additional|specific|secondary|principal|subject|patient"
    r"|participant|study)[ \t]+)?$",
    re.IGNORECASE,
)


def _heading_parts(match: re.Match[str]) -> tuple[str, str] | None:
    """(qualifier, inline content) of a heading line, or None if the line is a sentence.

    A heading starts with "Inclusion/Exclusion Criteria", optionally after a known word ("Key",
    "Main", "General", ...); any other short prefix counts only when the whole line is short and
    ends with a colon ("Part A and Part B Abbreviated Inclusion Criteria:").
    """
    pre = match.group("pre")
    rest = match.group("rest").replace("**", "").replace("__", "")
    if not _KNOWN_PREFIX.match(pre):
        line = (pre + rest).strip()
        if match.group("bullet") or len(line) > 80 or not line.endswith(":"):
            return None
    if ":" in rest:
        qualifier, content = rest.split(":", 1)
    elif match.group("bullet") or len(rest.strip()) > 60:
        return None
    else:
        qualifier, content = rest, ""
    qualifier = qualifier.strip(" \t.-–:")
    if not _KNOWN_PREFIX.match(pre):
        qualifier = (pre.strip() + " … " + qualifier).strip(" …") if qualifier else pre.strip()
    return qualifier, content.strip(" \t:")


def split_criteria(text: str | None) -> tuple[str, str]:
    """Split eligibility text at its "Inclusion Criteria"/"Exclusion Criteria" headings.

    Returns ``(inclusion, exclusion)``; several sections of one kind (e.g. per cohort) are joined
    with a blank line and keep their qualified heading ("Inclusion Criteria for Part B:"). Text
    before the first heading belongs to neither. Both are empty when there is no heading.
    """
    if not text:
        return "", ""
    heads: list[tuple[int, int, str, str, str]] = []
    for m in _HEADING.finditer(text):
        parts = _heading_parts(m)
        if parts is None:
            continue
        heads.append((m.start(), m.end(), m.group("kind").lower(), parts[0], parts[1]))
    if not heads:
        return "", ""
    sections: dict[str, list[str]] = {"inclusion": [], "exclusion": []}
    for i, (_start, end, kind, qualifier, inline) in enumerate(heads):
        stop = heads[i + 1][0] if i + 1 < len(heads) else len(text)
        body = "\n".join(p for p in (inline, text[end:stop].strip("\n")) if p)
        body = textwrap.dedent(body).strip()
        if qualifier:
            title = text[_start:end].strip()
            if inline:
                title = title[: len(title) - len(inline)].rstrip()
            body = f"{title}\n{body}" if body else title
        if body:
            sections[kind].append(body)
    return "\n\n".join(sections["inclusion"]), "\n\n".join(sections["exclusion"])


def _date(struct: Any) -> str | None:
    if isinstance(struct, dict):
        d = struct.get("date")
        return d if isinstance(d, str) else None
    return None


def _strs(values: Any) -> list[str]:
    if not isinstance(values, list):
        return []
    return [v for v in values if isinstance(v, str)]


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _mesh_terms(module: Any) -> list[str]:
    if not isinstance(module, dict):
        return []
    meshes = module.get("meshes")
    if not isinstance(meshes, list):
        return []
    return _unique(m["term"] for m in meshes if isinstance(m, dict) and isinstance(m.get("term"), str))


def _pick_contact(contacts: Any) -> dict[str, Any]:
    if not isinstance(contacts, list):
        return {}
    cands = [c for c in contacts if isinstance(c, dict)]
    for c in cands:
        if c.get("role") == "CONTACT":
            return c
    for c in cands:
        if c.get("phone") or c.get("email"):
            return c
    return cands[0] if cands else {}


# --- the normalizer -----------------------------------------------------------------------------


class _Builder:
    """Column lists of every table, appended to study by study."""

    def __init__(self) -> None:
        self.cols: dict[str, dict[str, list[Any]]] = {
            t: {c: [] for c in cols} for t, cols in TABLE_SCHEMAS.items()
        }

    def add(self, study: RawStudy) -> None:
        data = study.data
        ps = data.get("protocolSection") or {}
        ident = ps.get("identificationModule") or {}
        nct = ident.get("nctId")
        if not isinstance(nct, str):
            return
        status = ps.get("statusModule") or {}
        sponsor = (ps.get("sponsorCollaboratorsModule") or {}).get("leadSponsor") or {}
        desc = ps.get("descriptionModule") or {}
        cond = ps.get("conditionsModule") or {}
        design = ps.get("designModule") or {}
        ai = ps.get("armsInterventionsModule") or {}
        elig = ps.get("eligibilityModule") or {}
        cl = ps.get("contactsLocationsModule") or {}
        derived = data.get("derivedSection") or {}

        conditions = _strs(cond.get("conditions"))
        keywords = _strs(cond.get("keywords"))
        mesh_c = _mesh_terms(derived.get("conditionBrowseModule"))
        mesh_i = _mesh_terms(derived.get("interventionBrowseModule"))
        interventions = [i for i in (ai.get("interventions") or []) if isinstance(i, dict)]
        arms = [a for a in (ai.get("armGroups") or []) if isinstance(a, dict)]
        enrollment = (design.get("enrollmentInfo") or {}) if isinstance(design, dict) else {}

        t = self.cols["trials"]
        t["nct_id"].append(nct)
        t["title"].append(_str(ident.get("briefTitle")))
        t["official_title"].append(_str(ident.get("officialTitle")))
        t["acronym"].append(_str(ident.get("acronym")))
        t["brief_summary"].append(_str(desc.get("briefSummary")))
        t["overall_status"].append(_str(status.get("overallStatus")))
        t["why_stopped"].append(_str(status.get("whyStopped")))
        t["phases"].append(_strs(design.get("phases")))
        t["study_type"].append(_str(design.get("studyType")))
        t["conditions"].append(conditions)
        t["keywords"].append(keywords)
        t["interventions"].append(_unique(_str(i.get("name")) or "" for i in interventions))
        t["intervention_types"].append(_unique(_str(i.get("type")) or "" for i in interventions))
        t["mesh_conditions"].append(mesh_c)
        t["mesh_interventions"].append(mesh_i)
        t["lead_sponsor"].append(_str(sponsor.get("name")))
        t["sponsor_class"].append(_str(sponsor.get("class")))
        t["enrollment"].append(_int(enrollment.get("count")) if isinstance(enrollment, dict) else None)
        t["start_date"].append(_date(status.get("startDateStruct")))
        t["primary_completion_date"].append(_date(status.get("primaryCompletionDateStruct")))
        t["completion_date"].append(_date(status.get("completionDateStruct")))
        t["first_posted"].append(_date(status.get("studyFirstPostDateStruct")))
        t["last_update_posted"].append(_date(status.get("lastUpdatePostDateStruct")))
        t["has_results"].append(_bool(data.get("hasResults")))
        t["url"].append(STUDY_URL.format(nct_id=nct))
        t["source_format"].append(study.source_format)
        t["source"].append(study.source)
        t["record_date"].append(study.record_date)
        t["partial"].append(bool(study.partial))

        c = self.cols["conditions"]
        for kind, values in (("condition", conditions), ("keyword", keywords), ("mesh", mesh_c)):
            for v in _unique(values):
                c["nct_id"].append(nct)
                c["condition"].append(v)
                c["kind"].append(kind)

        iv = self.cols["interventions"]
        for idx, i in enumerate(interventions):
            iv["nct_id"].append(nct)
            iv["idx"].append(idx)
            iv["type"].append(_str(i.get("type")))
            iv["name"].append(_str(i.get("name")))
            iv["description"].append(_str(i.get("description")))
            iv["other_names"].append(_strs(i.get("otherNames")))
            iv["arm_labels"].append(_strs(i.get("armGroupLabels")))

        ar = self.cols["arms"]
        for a in arms:
            ar["nct_id"].append(nct)
            ar["label"].append(_str(a.get("label")))
            ar["type"].append(_str(a.get("type")))
            ar["description"].append(_str(a.get("description")))
            ar["intervention_names"].append(_strs(a.get("interventionNames")))

        lo = self.cols["locations"]
        for idx, loc in enumerate(cl.get("locations") or []):
            if not isinstance(loc, dict):
                continue
            geo = loc.get("geoPoint") or {}
            contact = _pick_contact(loc.get("contacts"))
            lo["nct_id"].append(nct)
            lo["idx"].append(idx)
            lo["facility"].append(_str(loc.get("facility")))
            lo["city"].append(_str(loc.get("city")))
            lo["state"].append(_str(loc.get("state")))
            lo["zip"].append(_str(loc.get("zip")))
            lo["country"].append(_str(loc.get("country")))
            lo["lat"].append(_float(geo.get("lat")) if isinstance(geo, dict) else None)
            lo["lon"].append(_float(geo.get("lon")) if isinstance(geo, dict) else None)
            lo["site_status"].append(_str(loc.get("status")))
            lo["contact_name"].append(_str(contact.get("name")))
            lo["contact_phone"].append(_str(contact.get("phone")))
            lo["contact_email"].append(_str(contact.get("email")))

        if elig:
            raw = _str(elig.get("eligibilityCriteria"))
            criteria = unescape_markdown(raw) if raw is not None else None
            inclusion, exclusion = split_criteria(criteria)
            el = self.cols["eligibility"]
            el["nct_id"].append(nct)
            el["criteria"].append(criteria)
            el["inclusion"].append(inclusion)
            el["exclusion"].append(exclusion)
            el["min_age_years"].append(age_in_years(_str(elig.get("minimumAge"))))
            el["max_age_years"].append(age_in_years(_str(elig.get("maximumAge"))))
            el["sex"].append(_str(elig.get("sex")))
            el["healthy_volunteers"].append(_bool(elig.get("healthyVolunteers")))
            el["std_ages"].append(_strs(elig.get("stdAges")))

    def frames(self) -> dict[str, pd.DataFrame]:
        return {name: _frame(name, cols) for name, cols in self.cols.items()}


def normalize(studies: Iterable[RawStudy]) -> dict[str, pd.DataFrame]:
    """Turn study records into the normalized tables (``trials``, ``conditions``, ``interventions``,
    ``arms``, ``locations``, ``eligibility``), in input order. Records without an NCT ID are
    skipped. Callers deduplicate first (``sources.import_paths`` does); this function does not."""
    builder = _Builder()
    for study in studies:
        builder.add(study)
    return builder.frames()
