"""Studies → pandas tables keyed by ``nct_id`` (pure; schema version 2, see docs/architecture.md).

:func:`normalize` streams over :class:`~trialfinder.sources.base.RawStudy` records (API v2 dicts),
appends plain Python values to per-column lists and builds each table once at the end through
Arrow, so every column has an Arrow-backed dtype (``pd.ArrowDtype``). It reads the raw dicts
directly (no per-row pydantic validation) because that is several times faster; the pydantic
models in :mod:`trialfinder.ctgov.models` document and test the same fields.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from trialfinder.gcutil import gc_paused
from trialfinder.sources._text import age_in_years, std_ages_for
from trialfinder.sources.base import RawStudy, record_key

SCHEMA_VERSION = 2
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
        "nct_id": _S, "criteria": _S, "min_age_years": _F, "max_age_years": _F, "sex": _S,
        "healthy_volunteers": _B, "std_ages": _L,
    },
}
"""Table name → column name → Arrow type, in column order (the contract of schema version 2).

Schema version 2 stores the eligibility text once (``criteria``); readers derive the inclusion and
exclusion parts with :func:`split_criteria`. Version 1 snapshots also hold ``inclusion`` and
``exclusion`` columns in ``eligibility``: they still load, and readers ignore those two columns."""

TABLE_NAMES: tuple[str, ...] = tuple(TABLE_SCHEMAS)

__all__ = [
    "SCHEMA_VERSION", "STUDY_URL", "TABLE_NAMES", "TABLE_SCHEMAS", "age_in_years", "arrow_schema",
    "empty_tables", "normalize", "split_criteria", "std_ages_for", "unescape_markdown",
]


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

def unescape_markdown(text: str) -> str:
    r"""Undo the registry's markdown backslash escapes (``\>`` → ``>``, ``\[`` → ``[``)."""
    return _MD_ESCAPE.sub(r"\1", text) if "\\" in text else text


_LEADING_BLANK_LINES = re.compile(r"^(?:[ \t]*\n)+")
_KEYWORD = re.compile(r"(inclusion|exclusion)[ \t]+crit[a-z]*\b", re.IGNORECASE)
_KEYWORD_LOWER = re.compile(r"(inclusion|exclusion)[ \t]+crit[a-z]*\b")
_BULLET = re.compile(r"^[ \t]*([*\-•·][ \t]*)?(\*\*|__|#{1,6}[ \t]*)?")
_KNOWN_PREFIX = re.compile(
    r"^(?:the[ \t]+)?(?:(?:key|main|major|general|additional|specific|secondary|principal|subject|patient"
    r"|participant|study)[ \t]+)?$",
    re.IGNORECASE,
)


def _heading_parts(pre_line: str, rest: str) -> tuple[str, str] | None:
    """(qualifier, inline content) of a heading line, or None if the line is a sentence.

    ``pre_line`` is the line up to "Inclusion/Exclusion Criteria", ``rest`` the line after it.
    A heading starts with "Inclusion/Exclusion Criteria", optionally after a known word ("Key",
    "Main", "General", ...); any other short prefix counts only when the whole line is short and
    ends with a colon ("Part A and Part B Abbreviated Inclusion Criteria:"). A bulleted line
    ("* Exclusion criteria in the drug label") is a heading only with a colon.
    """
    m = _BULLET.match(pre_line)
    bullet = bool(m and m.group(1))
    pre = pre_line[m.end():] if m else pre_line
    rest = rest.replace("**", "").replace("__", "")
    known = _KNOWN_PREFIX.match(pre) is not None
    if not known:
        line = (pre + rest).strip()
        if bullet or len(line) > 80 or not line.endswith(":") or len(pre) > 50:
            return None
    if ":" in rest:
        qualifier, content = rest.split(":", 1)
    elif bullet or len(rest.strip()) > 60:
        return None
    else:
        qualifier, content = rest, ""
    qualifier = qualifier.strip(" \t.-–:")
    if not known:
        qualifier = f"{pre.strip()} … {qualifier}".strip(" …") if qualifier else pre.strip()
    content = content.strip(" \t:")
    return qualifier, content


def _keyword_matches(text: str) -> Iterator[re.Match[str]]:
    """Matches of "inclusion/exclusion crit…" in ``text``, any case.

    Fast path: ``str.find`` of "clusion" in the lower-cased text (memchr speed) and an anchored
    match only there, several times faster than an IGNORECASE scan. Offsets agree with ``text``
    unless lower-casing changed its length (rare non-ASCII letters): then the slow scan.
    """
    lower = text.lower()
    if len(lower) != len(text):
        yield from _KEYWORD.finditer(text)
        return
    pos = lower.find("clusion")
    while pos >= 0:
        if pos >= 2:
            m = _KEYWORD_LOWER.match(lower, pos - 2)
            if m is not None:
                yield m
        pos = lower.find("clusion", pos + 7)


def split_criteria(text: object) -> tuple[str, str]:
    """Split eligibility text at its "Inclusion Criteria"/"Exclusion Criteria" headings.

    Returns ``(inclusion, exclusion)``; several sections of one kind (e.g. per cohort) are joined
    with a blank line and keep their qualified heading line ("Inclusion Criteria for Part B:").
    Text before the first heading belongs to neither. Both are empty when there is no heading, and
    when ``text`` is not a string (missing: ``None``, ``pd.NA``, NaN).

    The ``eligibility`` table stores only ``criteria``; every reader that needs the two parts
    (facets, the trial page) derives them here, so there is one definition of the split.
    """
    if not isinstance(text, str) or not text:
        return "", ""
    # (line start, body start, kind, heading line kept or "", inline content)
    heads: list[tuple[int, int, str, str, str]] = []
    last_line = -1
    for m in _keyword_matches(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        if line_start == last_line:
            continue
        line_end = text.find("\n", m.end())
        if line_end < 0:
            line_end = len(text)
        parts = _heading_parts(text[line_start:m.start()], text[m.end():line_end])
        if parts is None:
            continue
        last_line = line_start
        qualifier, inline = parts
        title = ""
        if qualifier:
            title = text[line_start:line_end].strip()
            if inline:
                title = title[: title.rfind(inline)].rstrip() if inline in title else title
        kind = "exclusion" if m.group(1)[:2].lower() == "ex" else "inclusion"
        heads.append((line_start, line_end, kind, title, inline))
    if not heads:
        return "", ""
    sections: dict[str, list[str]] = {"inclusion": [], "exclusion": []}
    for i, (_start, end, kind, title, inline) in enumerate(heads):
        stop = heads[i + 1][0] if i + 1 < len(heads) else len(text)
        block = _LEADING_BLANK_LINES.sub("", text[end:stop]).rstrip()
        if block.startswith((" ", "\t")):  # classic XML text: drop the common indentation only
            block = textwrap.dedent(block)
        body = "\n".join(p for p in (title, inline, block) if p)
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


def _dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``{}``: a module of the wrong type counts as missing."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else ``[]``: a list field of the wrong type counts as missing."""
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:  # an integer beyond the float range
            return None
    return None


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _int(value: Any) -> int | None:
    """An integer that fits the int64 column, else None (a bool, a fraction, text, or a number
    outside int64 such as ``-1e308`` or a JSON integer above 2**63)."""
    if isinstance(value, bool) or value is None:
        return None
    out: int | None = None
    if isinstance(value, int):
        out = value
    elif isinstance(value, float) and value.is_integer():
        out = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        out = int(value.strip())
    if out is None or not _INT64_MIN <= out <= _INT64_MAX:
        return None
    return out


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


_SEQ = "__seq"
_CHUNK = 2048


def _seq_schema(table: str) -> pa.Schema:
    return arrow_schema(table).append(pa.field(_SEQ, pa.int64()))


def _clean(value: Any, typ: pa.DataType) -> Any:
    """A value of the wrong kind (schema drift: a number where text was expected...) → None/[]."""
    if pa.types.is_list(typ):
        return _strs(value)
    if pa.types.is_string(typ):
        return value if isinstance(value, str) else None
    if pa.types.is_boolean(typ):
        return _bool(value)
    if pa.types.is_floating(typ):
        return _float(value)
    return _int(value)


def _array(values: Sequence[Any], typ: pa.DataType) -> pa.Array:
    """Arrow array of one column; the fast path trusts the registry's types, the slow path cleans."""
    try:
        return pa.array(values, type=typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return pa.array([_clean(v, typ) for v in values], type=typ)


class _Builder:
    """Rows of every table (tuples in schema column order, plus the study's sequence number so
    superseded versions can be dropped at the end), turned into Arrow chunks every ``_CHUNK``
    studies so that few Python objects stay alive."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in TABLE_SCHEMAS}
        self.chunks: dict[str, list[pa.Table]] = {t: [] for t in TABLE_SCHEMAS}
        self.pending = 0

    def flush(self) -> None:
        for name, rows in self.rows.items():
            if rows:
                schema = _seq_schema(name)
                arrays = [_array(col, f.type) for col, f in zip(zip(*rows, strict=True), schema, strict=True)]
                self.chunks[name].append(pa.Table.from_arrays(arrays, schema=schema))
        self.rows = {t: [] for t in TABLE_SCHEMAS}
        self.pending = 0

    def tables(self) -> dict[str, pa.Table]:
        """Every table with its ``__seq`` column (the study's sequence number)."""
        self.flush()
        return {
            name: pa.concat_tables(chunks) if chunks else _seq_schema(name).empty_table()
            for name, chunks in self.chunks.items()
        }

    def add(self, study: RawStudy, seq: int) -> None:
        self.pending += 1
        data = study.data
        # every module / list of another JSON type than expected counts as missing (_dict, _list)
        ps = _dict(data.get("protocolSection"))
        ident = _dict(ps.get("identificationModule"))
        nct = ident.get("nctId")
        if not isinstance(nct, str):
            return
        status = _dict(ps.get("statusModule"))
        sponsor = _dict(_dict(ps.get("sponsorCollaboratorsModule")).get("leadSponsor"))
        desc = _dict(ps.get("descriptionModule"))
        cond = _dict(ps.get("conditionsModule"))
        design = _dict(ps.get("designModule"))
        ai = _dict(ps.get("armsInterventionsModule"))
        elig = _dict(ps.get("eligibilityModule"))
        cl = _dict(ps.get("contactsLocationsModule"))
        derived = _dict(data.get("derivedSection"))

        conditions = _strs(cond.get("conditions"))
        keywords = _strs(cond.get("keywords"))
        mesh_c = _mesh_terms(derived.get("conditionBrowseModule"))
        mesh_i = _mesh_terms(derived.get("interventionBrowseModule"))
        interventions = [i for i in _list(ai.get("interventions")) if isinstance(i, dict)]
        arms = [a for a in _list(ai.get("armGroups")) if isinstance(a, dict)]
        enrollment = _dict(design.get("enrollmentInfo"))

        self.rows["trials"].append((
            nct,
            ident.get("briefTitle"),
            ident.get("officialTitle"),
            ident.get("acronym"),
            desc.get("briefSummary"),
            status.get("overallStatus"),
            status.get("whyStopped"),
            _strs(design.get("phases")),
            design.get("studyType"),
            conditions,
            keywords,
            _unique(_str(i.get("name")) or "" for i in interventions),
            _unique(_str(i.get("type")) or "" for i in interventions),
            mesh_c,
            mesh_i,
            sponsor.get("name"),
            sponsor.get("class"),
            _int(enrollment.get("count")),
            _date(status.get("startDateStruct")),
            _date(status.get("primaryCompletionDateStruct")),
            _date(status.get("completionDateStruct")),
            _date(status.get("studyFirstPostDateStruct")),
            _date(status.get("lastUpdatePostDateStruct")),
            _bool(data.get("hasResults")),
            STUDY_URL.format(nct_id=nct),
            study.source_format,
            study.source,
            study.record_date,
            bool(study.partial),
            seq,
        ))

        crow = self.rows["conditions"]
        for kind, values in (("condition", conditions), ("keyword", keywords), ("mesh", mesh_c)):
            for v in _unique(values):
                crow.append((nct, v, kind, seq))

        irow = self.rows["interventions"]
        for idx, i in enumerate(interventions):
            irow.append((
                nct, idx, i.get("type"), i.get("name"), i.get("description"),
                _strs(i.get("otherNames")), _strs(i.get("armGroupLabels")), seq,
            ))

        arow = self.rows["arms"]
        for a in arms:
            arow.append((
                nct, a.get("label"), a.get("type"), a.get("description"),
                _strs(a.get("interventionNames")), seq,
            ))

        lrow = self.rows["locations"]
        for idx, loc in enumerate(_list(cl.get("locations"))):
            if not isinstance(loc, dict):
                continue
            geo = _dict(loc.get("geoPoint"))
            contact = _pick_contact(loc["contacts"]) if "contacts" in loc else {}
            lrow.append((
                nct, idx, loc.get("facility"), loc.get("city"), loc.get("state"),
                loc.get("zip"), loc.get("country"), _float(geo.get("lat")),
                _float(geo.get("lon")), loc.get("status"), contact.get("name"),
                contact.get("phone"), contact.get("email"), seq,
            ))

        if elig:
            raw = elig.get("eligibilityCriteria")
            criteria = unescape_markdown(raw) if isinstance(raw, str) else None
            self.rows["eligibility"].append((
                nct, criteria,
                age_in_years(_str(elig.get("minimumAge"))), age_in_years(_str(elig.get("maximumAge"))),
                elig.get("sex"), _bool(elig.get("healthyVolunteers")), _strs(elig.get("stdAges")), seq,
            ))


VersionKey = tuple[tuple[str, bool], int]  # (record_key, sequence number)


@dataclass
class PartialTables:
    """Normalized rows of one run of records, before the final cross-run dedupe (picklable: the
    parallel importer builds one per worker). ``best`` maps NCT ID → (record key, seq) of the
    version kept so far (``None`` without dedupe); ``seen`` is the number of records consumed."""

    tables: dict[str, pa.Table]
    best: dict[str, VersionKey] | None
    seen: int
    superseded: int


def build_partial(studies: Iterable[RawStudy], *, dedupe: bool = False) -> PartialTables:
    """Normalize ``studies`` into Arrow tables that still carry each row's study sequence number."""
    builder = _Builder()
    best: dict[str, VersionKey] = {}
    superseded = 0
    seen = 0
    with gc_paused():
        for seq, study in enumerate(studies):
            seen = seq + 1
            if dedupe:
                nct = study.nct_id
                if nct is None:
                    continue
                key = record_key(study)
                old = best.get(nct)
                if old is not None:
                    if not key > old[0]:
                        continue
                    superseded += 1
                best[nct] = (key, seq)
            builder.add(study, seq)
            if builder.pending >= _CHUNK:
                builder.flush()
        return PartialTables(builder.tables(), best if dedupe else None, seen, superseded)


def finish_partials(parts: Sequence[PartialTables]) -> dict[str, pd.DataFrame]:
    """Concatenate partial results in order into the final DataFrames; with dedupe, a study met in
    several parts keeps its newest version (on a tie the one read first)."""
    if not parts:
        return empty_tables()
    offsets = [0]
    for part in parts[:-1]:
        offsets.append(offsets[-1] + part.seen)
    dedupe = any(p.best is not None for p in parts)
    drop = sum(p.superseded for p in parts)
    best: dict[str, VersionKey] = {}
    if dedupe:
        for part, off in zip(parts, offsets, strict=True):
            for nct, (key, seq) in (part.best or {}).items():
                old = best.get(nct)
                if old is not None:
                    drop += 1
                    if not key > old[0]:
                        continue
                best[nct] = (key, seq + off)
    wanted: np.ndarray | None = None
    if drop:
        wanted = np.zeros(max(1, offsets[-1] + (parts[-1].seen if parts else 0)), dtype=bool)
        wanted[[s for _k, s in best.values()]] = True
    out: dict[str, pd.DataFrame] = {}
    with gc_paused():
        for name in TABLE_SCHEMAS:
            pieces = []
            for part, off in zip(parts, offsets, strict=True):
                table = part.tables[name]
                if wanted is not None and table.num_rows:
                    seqs = table[_SEQ].to_numpy() + off
                    table = table.filter(pa.array(wanted[seqs]))
                pieces.append(table.drop_columns([_SEQ]))
            table = pa.concat_tables(pieces) if pieces else arrow_schema(name).empty_table()
            out[name] = table.to_pandas(types_mapper=pd.ArrowDtype)
    return out


def normalize(studies: Iterable[RawStudy], *, dedupe: bool = False) -> dict[str, pd.DataFrame]:
    """Turn study records into the normalized tables (``trials``, ``conditions``, ``interventions``,
    ``arms``, ``locations``, ``eligibility``), rows in input order. Records without an NCT ID are
    skipped.

    With ``dedupe=True`` a study met several times keeps only its newest version (:func:`record_key`;
    on a tie the first one read), decided while streaming: raw records are never all held at once,
    so ``normalize(iter_records(paths), dedupe=True)`` imports any amount of data.
    """
    return finish_partials([build_partial(studies, dedupe=dedupe)])
