"""A local stand-in of ClinicalTrials.gov API v2 over recorded v2 JSON, with fault injection.

It serves ``GET /api/v2/studies``, ``GET /api/v2/studies/{nctId}`` and ``GET /api/v2/version`` from a
folder of recorded bodies (``NCT########.json`` study files, ``/studies`` page bodies and website
"Download JSON" arrays, in any subfolder). Search semantics are simplified; ``docs/replay.md`` says
exactly how. Used by the integration tests, the reliability tests and the offline demo.

Entry points for the CLI: :func:`parse_fault`, :func:`make_server`, :func:`serve`; for tests:
:func:`running_replay`.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as _dt
import hashlib
import http.server
import logging
import re
import socket
import struct
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import orjson

from trialfinder.ctgov.params import API_VERSION, MAX_PAGE_SIZE, STUDIES_PARAMS, STUDY_PARAMS, VERSION_PARAMS
from trialfinder.errors import UsageError

log = logging.getLogger("trialfinder.replay")

API_PREFIX = "/api/v2"
DEFAULT_PAGE_SIZE = 10

#: statuses of the spec's ``Status`` enum (``filter.overallStatus`` values)
STATUSES = frozenset({
    "ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING", "RECRUITING",
    "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE", "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING", "WITHHELD", "UNKNOWN",
})

_PS = "protocolSection"
_ID = f"{_PS}.identificationModule"
_ST = f"{_PS}.statusModule"
_AI = f"{_PS}.armsInterventionsModule"
_LOC = f"{_PS}.contactsLocationsModule.locations"
_OUT = f"{_PS}.outcomesModule"

#: data-structure piece names → JSON paths (lists are walked through); used by search areas,
#: ``AREA[...]`` expressions, ``sort`` and ``fields``
PIECES: dict[str, str] = {
    "NCTId": f"{_ID}.nctId",
    "NCTIdAlias": f"{_ID}.nctIdAliases",
    "Acronym": f"{_ID}.acronym",
    "BriefTitle": f"{_ID}.briefTitle",
    "OfficialTitle": f"{_ID}.officialTitle",
    "OrgStudyId": f"{_ID}.orgStudyIdInfo.id",
    "SecondaryId": f"{_ID}.secondaryIdInfos.id",
    "OrgFullName": f"{_ID}.organization.fullName",
    "OverallStatus": f"{_ST}.overallStatus",
    "StartDate": f"{_ST}.startDateStruct.date",
    "PrimaryCompletionDate": f"{_ST}.primaryCompletionDateStruct.date",
    "CompletionDate": f"{_ST}.completionDateStruct.date",
    "StudyFirstPostDate": f"{_ST}.studyFirstPostDateStruct.date",
    "StudyFirstSubmitDate": f"{_ST}.studyFirstSubmitDate",
    "LastUpdatePostDate": f"{_ST}.lastUpdatePostDateStruct.date",
    "LastUpdateSubmitDate": f"{_ST}.lastUpdateSubmitDate",
    "ResultsFirstPostDate": f"{_ST}.resultsFirstPostDateStruct.date",
    "LeadSponsorName": f"{_PS}.sponsorCollaboratorsModule.leadSponsor.name",
    "CollaboratorName": f"{_PS}.sponsorCollaboratorsModule.collaborators.name",
    "BriefSummary": f"{_PS}.descriptionModule.briefSummary",
    "Condition": f"{_PS}.conditionsModule.conditions",
    "Keyword": f"{_PS}.conditionsModule.keywords",
    "StudyType": f"{_PS}.designModule.studyType",
    "Phase": f"{_PS}.designModule.phases",
    "EnrollmentCount": f"{_PS}.designModule.enrollmentInfo.count",
    "ArmGroupLabel": f"{_AI}.armGroups.label",
    "ArmGroupType": f"{_AI}.armGroups.type",
    "ArmGroupDescription": f"{_AI}.armGroups.description",
    "InterventionName": f"{_AI}.interventions.name",
    "InterventionType": f"{_AI}.interventions.type",
    "InterventionDescription": f"{_AI}.interventions.description",
    "InterventionOtherName": f"{_AI}.interventions.otherNames",
    "PrimaryOutcomeMeasure": f"{_OUT}.primaryOutcomes.measure",
    "PrimaryOutcomeDescription": f"{_OUT}.primaryOutcomes.description",
    "SecondaryOutcomeMeasure": f"{_OUT}.secondaryOutcomes.measure",
    "SecondaryOutcomeDescription": f"{_OUT}.secondaryOutcomes.description",
    "OtherOutcomeMeasure": f"{_OUT}.otherOutcomes.measure",
    "OtherOutcomeDescription": f"{_OUT}.otherOutcomes.description",
    "EligibilityCriteria": f"{_PS}.eligibilityModule.eligibilityCriteria",
    "MinimumAge": f"{_PS}.eligibilityModule.minimumAge",
    "MaximumAge": f"{_PS}.eligibilityModule.maximumAge",
    "StdAge": f"{_PS}.eligibilityModule.stdAges",
    "LocationFacility": f"{_LOC}.facility",
    "LocationCity": f"{_LOC}.city",
    "LocationState": f"{_LOC}.state",
    "LocationZip": f"{_LOC}.zip",
    "LocationCountry": f"{_LOC}.country",
    "LocationStatus": f"{_LOC}.status",
    "ConditionMeshTerm": "derivedSection.conditionBrowseModule.meshes.term",
    "ConditionAncestorTerm": "derivedSection.conditionBrowseModule.ancestors.term",
    "InterventionMeshTerm": "derivedSection.interventionBrowseModule.meshes.term",
    "InterventionAncestorTerm": "derivedSection.interventionBrowseModule.ancestors.term",
    "HasResults": "hasResults",
}
_PIECES_CI = {k.lower(): v for k, v in PIECES.items()}

#: search areas of the ``query.*`` parameters (pieces from ``GET /studies/search-areas``, 2025-05);
#: ``None`` = every text value of ``protocolSection`` and ``derivedSection``
AREAS: dict[str, tuple[str, ...] | None] = {
    "query.cond": ("Condition", "BriefTitle", "OfficialTitle", "ConditionMeshTerm", "ConditionAncestorTerm",
                   "Keyword", "NCTId"),
    "query.intr": ("InterventionName", "InterventionType", "ArmGroupType", "InterventionOtherName",
                   "BriefTitle", "OfficialTitle", "ArmGroupLabel", "InterventionMeshTerm", "Keyword",
                   "InterventionAncestorTerm", "InterventionDescription", "ArmGroupDescription"),
    "query.titles": ("Acronym", "BriefTitle", "OfficialTitle"),
    "query.locn": ("LocationCity", "LocationState", "LocationCountry", "LocationFacility", "LocationZip"),
    "query.outc": ("PrimaryOutcomeMeasure", "SecondaryOutcomeMeasure", "PrimaryOutcomeDescription",
                   "SecondaryOutcomeDescription", "OtherOutcomeMeasure", "OtherOutcomeDescription"),
    "query.spons": ("LeadSponsorName", "CollaboratorName", "OrgFullName"),
    "query.lead": ("LeadSponsorName",),
    "query.id": ("NCTId", "NCTIdAlias", "Acronym", "OrgStudyId", "SecondaryId"),
    "query.term": None,
    "query.patient": None,
}

#: accepted and validated but without effect (see docs/replay.md)
IGNORED_PARAMS = frozenset({"markupFormat", "filter.geo", "postFilter.geo", "filter.synonyms",
                            "postFilter.synonyms", "aggFilters", "geoDecay"})


class ReplayError(Exception):
    """An HTTP error answer of the replay server (status + plain-text message)."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


# --- loading recorded data -------------------------------------------------------------------------


def _get(obj: Any, path: str) -> list[Any]:
    """All values at a dotted path, walking through lists."""
    values = [obj]
    for key in path.split("."):
        nxt: list[Any] = []
        for v in values:
            if isinstance(v, dict) and key in v:
                item = v[key]
                if isinstance(item, list):
                    nxt.extend(item)
                else:
                    nxt.append(item)
        values = nxt
    return [v for v in values if v is not None]


def _nct(study: Any) -> str | None:
    if not isinstance(study, dict):
        return None
    vals = _get(study, PIECES["NCTId"])
    return vals[0].upper() if vals and isinstance(vals[0], str) else None


def _file_rank(path: Path, body: Any) -> int:
    if isinstance(body, dict) and _PS in body:
        return 3 if "field-limited" in str(path) else 0
    if isinstance(body, list):
        return 1
    return 2


@dataclass
class StudyStore:
    """Recorded studies by NCT ID (first occurrence wins, full single-study files first) and aliases."""

    studies: dict[str, dict[str, Any]]
    aliases: dict[str, str]
    data_timestamp: str
    files_read: int = 0
    _texts: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def text(self, nct: str, area: str) -> str:
        """Lower-cased text of a search area (``query.*`` name) or a piece name, memoised."""
        key = (nct, area)
        cached = self._texts.get(key)
        if cached is not None:
            return cached
        study = self.studies[nct]
        if area in AREAS:
            pieces = AREAS[area]
            if pieces is None:
                parts = _strings({k: study.get(k) for k in (_PS, "derivedSection")})
            else:
                parts = [str(v) for p in pieces for v in _get(study, PIECES[p])]
        else:
            parts = [str(v) for v in _piece_values(study, area)]
        text = "\n".join(parts).lower()
        with self._lock:
            self._texts[key] = text
        return text


def _strings(obj: Any) -> list[str]:
    out: list[str] = []
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, dict):
            stack.extend(o.values())
        elif isinstance(o, list):
            stack.extend(o)
        elif isinstance(o, str):
            out.append(o)
    return out


def _piece_values(study: dict[str, Any], piece: str) -> list[Any]:
    path = _PIECES_CI.get(piece.lower())
    if path is not None:
        return _get(study, path)
    return [v for p in _find_key_paths(study, piece) for v in _get(study, p)]


def load_store(data_dir: Path | str, data_timestamp: str | None = None) -> StudyStore:
    """Read every recorded v2 body under ``data_dir``.

    Single-study files (``{"protocolSection": ...}``) come first, then download arrays, then page bodies
    (``{"studies": [...]}``), then field-limited single-study files; the first record of an NCT ID wins.
    Other JSON files (metadata, search areas) are skipped. ``aliases.json`` (``{"old": "new"}``) adds
    301 aliases to the ``nctIdAliases`` of the records.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise UsageError(f"replay data folder not found: {root}")
    bodies: list[tuple[int, str, Path, Any]] = []
    alias_file: Path | None = None
    for path in sorted(root.rglob("*.json")):
        if path.name == "aliases.json":
            alias_file = path
            continue
        try:
            body = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            log.warning("skipping %s: %s", path, exc)
            continue
        bodies.append((_file_rank(path, body), str(path), path, body))
    bodies.sort(key=lambda t: (t[0], t[1]))
    studies: dict[str, dict[str, Any]] = {}
    for _rank, _name, path, body in bodies:
        if isinstance(body, dict) and _PS in body:
            records: list[Any] = [body]
        elif isinstance(body, dict) and isinstance(body.get("studies"), list):
            records = body["studies"]
        elif isinstance(body, list):
            records = body
        else:
            log.debug("not a study body, skipped: %s", path)
            continue
        for rec in records:
            nct = _nct(rec)
            if nct is not None and nct not in studies:
                studies[nct] = rec
    aliases: dict[str, str] = {}
    for nct, study in studies.items():
        for alias in _get(study, PIECES["NCTIdAlias"]):
            if isinstance(alias, str) and alias.upper() not in studies:
                aliases[alias.upper()] = nct
    if alias_file is not None:
        extra = orjson.loads(alias_file.read_bytes())
        aliases.update({str(k).upper(): str(v).upper() for k, v in dict(extra).items()})
    if data_timestamp is None:
        lu_path = PIECES["LastUpdatePostDate"]
        dates = [d for s in studies.values() for d in _get(s, lu_path) if isinstance(d, str)]
        data_timestamp = (max(dates)[:10] + "T00:00:00") if dates else "1970-01-01T00:00:00"
    log.info("replay: %d studies, %d aliases from %d files under %s", len(studies), len(aliases),
             len(bodies), root)
    return StudyStore(studies=dict(sorted(studies.items())), aliases=aliases,
                      data_timestamp=data_timestamp, files_read=len(bodies))


# --- query evaluation (pure) -----------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r'AREA\[(?P<area>[^\]]+)\](?:RANGE\[(?P<range>[^\]]*)\]|"(?P<aphrase>[^"]*)"|(?P<aword>[^\s()]+))'
    r'|"(?P<phrase>[^"]*)"|(?P<paren>[()])|(?P<word>[^\s()"]+)'
)


@dataclass(frozen=True)
class Term:
    text: str = ""
    area: str | None = None  # piece name from AREA[...]
    low: str | None = None  # RANGE bounds (None = MIN/MAX)
    high: str | None = None
    is_range: bool = False
    negate: bool = False


def parse_expression(expr: str) -> list[list[Term]]:
    """Simplified Essie: OR of AND-groups of words, "phrases", ``AREA[Piece]value`` and
    ``AREA[Piece]RANGE[lo,hi]``; ``NOT``/``-`` negate the next term; parentheses are ignored."""
    groups: list[list[Term]] = [[]]
    negate = False
    for m in _TOKEN_RE.finditer(expr):
        if m.group("paren"):
            continue
        word = m.group("word")
        if word in ("AND",):
            continue
        if word == "OR":
            groups.append([])
            continue
        if word == "NOT":
            negate = True
            continue
        if m.group("area") is not None:
            area = m.group("area").strip()
            rng = m.group("range")
            if rng is not None:
                lo, _, hi = rng.partition(",")
                lo, hi = lo.strip(), hi.strip()
                term = Term(area=area, low=None if lo.upper() in ("", "MIN") else lo,
                            high=None if hi.upper() in ("", "MAX") else hi, is_range=True, negate=negate)
            else:
                term = Term(text=(m.group("aphrase") or m.group("aword") or "").lower(), area=area,
                            negate=negate)
        elif m.group("phrase") is not None:
            term = Term(text=" ".join(m.group("phrase").lower().split()), negate=negate)
        else:
            assert word is not None
            if word.startswith("-") and len(word) > 1:
                word, negate = word[1:], True
            term = Term(text=word.lower(), negate=negate)
        negate = False
        if term.is_range or term.text:
            groups[-1].append(term)
    return [g for g in groups if g]


def _contains(text: str, needle: str) -> bool:
    """A word/phrase matches where a word of ``text`` starts with it (case-insensitive)."""
    return re.search(r"(?<!\w)" + re.escape(needle), text) is not None


def _cmp_value(value: str) -> tuple[int, Any]:
    m = re.match(r"\s*(-?\d+(?:\.\d+)?)\s*(?:[a-zA-Z]|$)", value)
    if m and not re.match(r"\d{4}-\d{2}", value.strip()):
        return (0, float(m.group(1)))
    return (1, value.strip())


def _in_range(values: Iterable[Any], low: str | None, high: str | None) -> bool:
    """Dates (and other text) compare as strings, numbers numerically (units ignored)."""
    for v in values:
        if isinstance(v, bool):
            continue
        kind, key = _cmp_value(str(v))
        if kind == 1:  # text/date: a partial bound ("2024") covers the whole period
            if low is not None and str(key) < low.strip():
                continue
            if high is not None and str(key)[: len(high.strip())] > high.strip():
                continue
            return True
        lo = _cmp_value(low) if low is not None else None
        hi = _cmp_value(high) if high is not None else None
        if lo is not None and (lo[0] != 0 or key < lo[1]):
            continue
        if hi is not None and (hi[0] != 0 or key > hi[1]):
            continue
        return True
    return False


def _term_matches(store: StudyStore, nct: str, term: Term, area: str) -> bool:
    if term.is_range:
        assert term.area is not None
        ok = _in_range(_piece_values(store.studies[nct], term.area), term.low, term.high)
    else:
        text = store.text(nct, term.area if term.area else area)
        ok = _contains(text, term.text)
    return ok != term.negate


def expression_matches(store: StudyStore, nct: str, groups: list[list[Term]], area: str) -> bool:
    if not groups:
        return True
    return any(all(_term_matches(store, nct, t, area) for t in g) for g in groups)


# --- fields projection ------------------------------------------------------------------------------


def _find_key_paths(obj: Any, name: str) -> list[str]:
    """Dotted paths of every key equal to ``name`` (case-insensitive), walking through lists."""
    want = name.lower()
    found: list[str] = []
    stack: list[tuple[Any, str]] = [(obj, "")]
    while stack:
        o, prefix = stack.pop()
        items: Iterable[Any] = []
        if isinstance(o, dict):
            for k, v in o.items():
                p = f"{prefix}.{k}" if prefix else k
                if k.lower() == want:
                    found.append(p)
                else:
                    stack.append((v, p))
        elif isinstance(o, list):
            items = o
            for v in items:
                stack.append((v, prefix))
    return sorted(set(found))


def _copy_path(src: Any, dst: dict[str, Any], keys: Sequence[str]) -> None:
    key = keys[0]
    if not isinstance(src, dict) or key not in src:
        return
    value = src[key]
    if len(keys) == 1:
        dst[key] = value
        return
    if isinstance(value, dict):
        sub = dst.setdefault(key, {})
        if isinstance(sub, dict):
            _copy_path(value, sub, keys[1:])
    elif isinstance(value, list):
        target = dst.setdefault(key, [{} for _ in value])
        if isinstance(target, list):
            for s_item, d_item in zip(value, target, strict=False):
                if isinstance(d_item, dict):
                    _copy_path(s_item, d_item, keys[1:])


def _resolve_field(study: dict[str, Any], name: str) -> list[str]:
    if name.startswith("@"):
        return []
    piece = _PIECES_CI.get(name.lower())
    if piece is not None:
        return [piece]
    if "." in name:
        keys: list[str] = []
        node: Any = study
        for part in name.split("."):
            while isinstance(node, list):
                node = node[0] if node else {}
            if not isinstance(node, dict):
                return []
            match = next((k for k in node if k.lower() == part.lower()), None)
            if match is None:
                return []
            keys.append(match)
            node = node[match]
        return [".".join(keys)]
    return _find_key_paths(study, name)


def project(study: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """The parts of ``study`` named by ``fields`` (piece names, module/section names, dotted paths)."""
    out: dict[str, Any] = {}
    for name in fields:
        for path in _resolve_field(study, name):
            _copy_path(study, out, path.split("."))
    return out


def split_list(value: str) -> list[str]:
    return [v.strip() for v in re.split(r"[,|]", value) if v.strip()]


# --- paging tokens ----------------------------------------------------------------------------------


def _signature(query: Mapping[str, str]) -> str:
    stable = sorted((k, v) for k, v in query.items() if k not in ("pageToken", "pageSize", "countTotal"))
    return hashlib.sha1(repr(stable).encode(), usedforsecurity=False).hexdigest()[:10]


def make_token(offset: int, query: Mapping[str, str]) -> str:
    raw = f"{offset}:{_signature(query)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_token(token: str, query: Mapping[str, str]) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        offset_s, sig = raw.split(":", 1)
        offset = int(offset_s)
    except (ValueError, UnicodeDecodeError):
        raise ReplayError(400, f"invalid pageToken {token!r}") from None
    if sig != _signature(query):
        raise ReplayError(400, "pageToken does not belong to this query: later pages must repeat the "
                               "parameters of the first page")
    return offset


# --- faults -----------------------------------------------------------------------------------------

STALL_SECONDS = 3.0
"""How long a ``stallbody`` answer waits between its headers and its body (past any sane read timeout
in tests, short enough not to hold the server's threads for long)."""
FAULT_KINDS = {
    # kind: (argument meaning, description)
    "429": ("N", "first N requests get 429 with Retry-After: 1"),
    "500": ("N", "first N requests get 500"),
    "502": ("N", "first N requests get 502"),
    "503": ("N", "first N requests get 503"),
    "504": ("N", "first N requests get 504"),
    "retry-after": ("SECONDS", "every request gets 429 with Retry-After: SECONDS"),
    "delay": ("SECONDS", "every answer waits SECONDS before its headers"),
    "slowbody": ("SECONDS", "every answer sends headers, then waits SECONDS before the body"),
    "stallbody": ("N", f"first N 200 answers send headers, then stall {STALL_SECONDS:g} s before the body"),
    "truncate": ("N", "first N 200 bodies are cut in half (connection closed early)"),
    "reset": ("N", "first N requests get the connection dropped without an answer"),
    "badjson": ("N", "first N 200 bodies are not JSON (an HTML page labelled application/json)"),
    "content-type": ("N", "first N 200 answers are an HTML page with Content-Type text/html"),
    "emptylast": ("", "the last page of /studies carries a nextPageToken to an extra empty page"),
    "repeat-token": ("", "pages after the first repeat the pageToken they were given as nextPageToken"),
}
_COUNTED = {"429", "500", "502", "503", "504", "truncate", "reset", "badjson", "content-type", "stallbody"}
_SECONDS = {"retry-after", "delay", "slowbody"}


@dataclass
class Fault:
    kind: str
    value: float = 0.0  # N for counted faults, seconds for timed ones
    remaining: int = 0

    def __str__(self) -> str:
        return self.kind if self.kind not in _COUNTED | _SECONDS else f"{self.kind}:{self.value:g}"


def parse_fault(spec: str) -> Fault:
    """Parse ``KIND[:VALUE]`` (e.g. ``429:3``, ``delay:2.5``, ``emptylast``); see :data:`FAULT_KINDS`."""
    kind, _, arg = spec.strip().partition(":")
    kind = kind.lower()
    if kind not in FAULT_KINDS:
        raise UsageError(f"unknown fault {spec!r}", hint="one of: " + ", ".join(FAULT_KINDS))
    if kind in _COUNTED | _SECONDS:
        try:
            value = float(arg)
        except ValueError:
            raise UsageError(f"fault {spec!r} needs a number: {kind}:{FAULT_KINDS[kind][0]}") from None
        if value < 0 or (kind in _COUNTED and value != int(value)):
            raise UsageError(f"fault {spec!r}: {FAULT_KINDS[kind][0]} must be a non-negative "
                             + ("integer" if kind in _COUNTED else "number"))
        return Fault(kind, value, int(value) if kind in _COUNTED else 0)
    if arg:
        raise UsageError(f"fault {kind!r} takes no value")
    return Fault(kind)


class FaultPlan:
    """The faults of one server, with their thread-safe counters."""

    def __init__(self, faults: Iterable[Fault | str]) -> None:
        self.faults = [parse_fault(f) if isinstance(f, str) else f for f in faults]
        self._lock = threading.Lock()

    def has(self, kind: str) -> bool:
        return any(f.kind == kind for f in self.faults)

    def seconds(self, kind: str) -> float:
        return sum(f.value for f in self.faults if f.kind == kind)

    def take(self, kinds: Iterable[str]) -> Fault | None:
        """The first fault of ``kinds`` (in the order given on the command line) that still fires."""
        wanted = set(kinds)
        with self._lock:
            for f in self.faults:
                if f.kind not in wanted:
                    continue
                if f.kind in _COUNTED:
                    if f.remaining > 0:
                        f.remaining -= 1
                        return f
                else:
                    return f
        return None


# --- request handling (pure-ish: store + query → status, headers, body) -----------------------------


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def _text(status: int, message: str, headers: Mapping[str, str] | None = None) -> Answer:
    return Answer(status, message.encode(), "text/plain; charset=utf-8", dict(headers or {}))


def _check_names(query: Mapping[str, str], known: frozenset[str]) -> None:
    for name in query:
        if name not in known:
            raise ReplayError(400, f"`{name}` is unknown parameter")


def _check_format(query: Mapping[str, str]) -> None:
    fmt = query.get("format", "json")
    if fmt != "json":
        raise ReplayError(400, f"format `{fmt}` is not served by the replay server (only json)")


def _bool(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name, "false").lower()
    if value not in ("true", "false"):
        raise ReplayError(400, f"`{name}` must be true or false, got `{query[name]}`")
    return value == "true"


_SORTABLE = ("Date", "Count", "NumArmGroups")


def _sort_key_fn(store: StudyStore, item: str) -> tuple[str, bool]:
    name, _, direction = item.partition(":")
    name = name.strip()
    if name == "@relevance":
        return name, True
    if name.lower() not in _PIECES_CI or not name.endswith(_SORTABLE):
        raise ReplayError(400, f"sort field `{name}` is not supported (date and numeric fields only)")
    direction = direction.strip().lower() or ("desc" if name.endswith("Date") else "asc")
    if direction not in ("asc", "desc"):
        raise ReplayError(400, f"sort direction `{direction}` must be asc or desc")
    return name, direction == "desc"


def select_studies(store: StudyStore, query: Mapping[str, str]) -> list[str]:
    """NCT IDs matching the ``query.*``/``filter.*``/``postFilter.*`` parameters, in answer order."""
    ids = list(store.studies)
    for name, area in ((n, n) for n in AREAS if n in query):
        groups = parse_expression(query[name])
        ids = [i for i in ids if expression_matches(store, i, groups, area)]
    for prefix in ("filter.", "postFilter."):
        status = query.get(prefix + "overallStatus")
        if status:
            wanted = {s.upper() for s in split_list(status)}
            bad = sorted(wanted - STATUSES)
            if bad:
                raise ReplayError(400, f"`{prefix}overallStatus` has unknown value `{bad[0]}`")
            ids = [i for i in ids if (_get(store.studies[i], PIECES["OverallStatus"]) or [""])[0] in wanted]
        wanted_ids = query.get(prefix + "ids")
        if wanted_ids:
            want: set[str] = set()
            for raw in split_list(wanted_ids.replace(" ", ",")):
                m = re.fullmatch(r"[Nn][Cc][Tt]0*([1-9]\d{0,7})", raw)
                if m is None:
                    raise ReplayError(400, f"`{prefix}ids` has an invalid NCT ID `{raw}`")
                nct = "NCT" + m.group(1).zfill(8)
                want.add(store.aliases.get(nct, nct))
            ids = [i for i in ids if i in want]
        advanced = query.get(prefix + "advanced")
        if advanced:
            groups = parse_expression(advanced)
            ids = [i for i in ids if expression_matches(store, i, groups, "query.term")]
    sort = query.get("sort")
    if sort:
        if len(split_list(sort)) > 2:
            raise ReplayError(400, "`sort` takes at most 2 items")
        for name, desc in reversed([_sort_key_fn(store, s) for s in split_list(sort)]):
            if name == "@relevance":
                continue
            present = [i for i in ids if _piece_values(store.studies[i], name)]
            missing = [i for i in ids if not _piece_values(store.studies[i], name)]

            def key(i: str, name: str = name) -> tuple[int, Any]:
                return _cmp_value(str(_piece_values(store.studies[i], name)[0]))

            ids = sorted(present, key=key, reverse=desc) + missing
    return ids


def answer_studies(store: StudyStore, query: Mapping[str, str], plan: FaultPlan) -> Answer:
    _check_names(query, STUDIES_PARAMS)
    _check_format(query)
    try:
        size = int(query.get("pageSize", "0") or "0")
    except ValueError:
        raise ReplayError(400, f"`pageSize` must be an integer, got `{query['pageSize']}`") from None
    if size < 0:
        raise ReplayError(400, "`pageSize` must not be negative")
    size = DEFAULT_PAGE_SIZE if size == 0 else min(size, MAX_PAGE_SIZE)
    count_total = _bool(query, "countTotal")
    fields = split_list(query.get("fields", ""))
    token = query.get("pageToken")
    offset = read_token(token, query) if token else 0
    ids = select_studies(store, query)
    page_ids = ids[offset: offset + size]
    body: dict[str, Any] = {}
    if count_total and not token:
        body["totalCount"] = len(ids)
    body["studies"] = [project(store.studies[i], fields) if fields else store.studies[i] for i in page_ids]
    end = offset + size
    if end < len(ids):
        body["nextPageToken"] = make_token(end, query)
    elif page_ids and plan.has("emptylast"):
        body["nextPageToken"] = make_token(len(ids), query)
    if token and "nextPageToken" in body and plan.has("repeat-token"):
        body["nextPageToken"] = token
    return Answer(200, orjson.dumps(body))


def answer_study(store: StudyStore, raw_id: str, query: Mapping[str, str], raw_query: str) -> Answer:
    _check_names(query, STUDY_PARAMS)
    _check_format(query)
    m = re.fullmatch(r"[Nn][Cc][Tt]0*([1-9]\d{0,7})", raw_id)
    if m is None:
        raise ReplayError(400, f"`{raw_id}` is not a valid NCT number")
    nct = "NCT" + m.group(1).zfill(8)
    if nct not in store.studies:
        target = store.aliases.get(nct)
        if target is not None and target in store.studies:
            location = f"{API_PREFIX}/studies/{quote(target)}" + (f"?{raw_query}" if raw_query else "")
            return _text(301, f"{nct} is an alias of {target}", {"Location": location})
        raise ReplayError(404, f"Study with NCT number {nct} not found")
    study = store.studies[nct]
    fields = split_list(query.get("fields", ""))
    return Answer(200, orjson.dumps(project(study, fields) if fields else study))


def answer_version(store: StudyStore, query: Mapping[str, str]) -> Answer:
    _check_names(query, VERSION_PARAMS)
    return Answer(200, orjson.dumps({"apiVersion": API_VERSION, "dataTimestamp": store.data_timestamp}))


def route(store: StudyStore, plan: FaultPlan, path: str, raw_query: str) -> Answer:
    """Answer one GET (without faults applied); never raises."""
    try:
        pairs = parse_qsl(raw_query, keep_blank_values=True)
        query: dict[str, str] = {}
        for k, v in pairs:
            if k in query:
                raise ReplayError(400, f"`{k}` is given more than once")
            query[k] = v
        if not path.startswith(API_PREFIX + "/"):
            raise ReplayError(404, f"not found: {path} (the replay server serves {API_PREFIX}/...)")
        rest = path[len(API_PREFIX):].rstrip("/")
        if rest == "/studies":
            return answer_studies(store, query, plan)
        if rest == "/version":
            return answer_version(store, query)
        m = re.fullmatch(r"/studies/([^/]+)", rest)
        if m and m.group(1) not in ("metadata", "search-areas", "enums"):
            return answer_study(store, m.group(1), query, raw_query)
        raise ReplayError(404, f"{path} is not served by the replay server (only /studies, "
                               "/studies/{nctId} and /version)")
    except ReplayError as exc:
        return _text(exc.status, exc.message, exc.headers)


# --- the HTTP server --------------------------------------------------------------------------------

_HTML = b"<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body>maintenance</body></html>"


class ReplayServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], store: StudyStore, plan: FaultPlan) -> None:
        super().__init__(address, ReplayHandler)
        self.store = store
        self.plan = plan
        self.requests_seen = 0
        #: (path with query string, User-Agent) of every request, in arrival order (for tests)
        self.seen: list[tuple[str, str]] = []
        self._count_lock = threading.Lock()
        self._connections: set[socket.socket] = set()

    def track(self, conn: socket.socket, active: bool) -> None:
        with self._count_lock:
            if active:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def server_close(self) -> None:
        """Stop listening and cut open keep-alive connections (their threads would go on serving)."""
        super().server_close()
        with self._count_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def next_number(self, path: str = "", user_agent: str = "") -> int:
        with self._count_lock:
            self.requests_seen += 1
            self.seen.append((path, user_agent))
            return self.requests_seen

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        host_s = host.decode() if isinstance(host, bytes) else str(host)
        if ":" in host_s:
            host_s = f"[{host_s}]"
        return f"http://{host_s}:{port}{API_PREFIX}"


class ReplayHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "trialfinder-replay"
    server: ReplayServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """One line per request is written by :meth:`do_GET` itself."""

    def do_HEAD(self) -> None:
        self._reply(_text(405, "only GET is supported"), head=True)

    def do_POST(self) -> None:
        self._reply(_text(405, "only GET is supported"))

    def do_GET(self) -> None:
        started = time.monotonic()
        number = self.server.next_number(self.path, self.headers.get("User-Agent", ""))
        plan = self.server.plan
        parts = urlsplit(self.path)
        note = ""
        fault = plan.take(["reset"])
        if fault is not None:
            self._drop()
            log.info("#%d GET %s -> connection dropped (fault %s)", number, self.path, fault)
            return
        delay = plan.seconds("delay")
        if delay:
            time.sleep(delay)
        fault = plan.take(["429", "500", "502", "503", "504", "retry-after"])
        if fault is not None:
            if fault.kind in ("429", "retry-after"):
                wait = "1" if fault.kind == "429" else f"{fault.value:g}"
                answer = _text(429, "Too Many Requests", {"Retry-After": wait})
            else:
                answer = _text(int(fault.kind), f"HTTP {fault.kind} (injected fault)")
            note = f" (fault {fault})"
        else:
            answer = route(self.server.store, plan, parts.path, parts.query)
        cut = False
        if answer.status == 200:
            body_fault = plan.take(["truncate", "badjson", "content-type"])
            if body_fault is not None:
                note = f" (fault {body_fault})"
                if body_fault.kind == "truncate":
                    cut = True
                elif body_fault.kind == "badjson":
                    answer = Answer(200, _HTML, "application/json")
                else:
                    answer = Answer(200, _HTML, "text/html; charset=utf-8")
        slow = plan.seconds("slowbody")
        if answer.status == 200 and (stall := plan.take(["stallbody"])) is not None:
            slow, note = max(slow, STALL_SECONDS), f"{note} (fault {stall})"
        try:
            self._reply(answer, cut=cut, slow=slow)
        except (BrokenPipeError, ConnectionResetError):
            note += " (client went away)"
            self.close_connection = True
        log.info("#%d GET %s -> %d, %d bytes, %.0f ms%s", number, self.path, answer.status,
                 len(answer.body), (time.monotonic() - started) * 1000, note)

    def _reply(self, answer: Answer, *, cut: bool = False, slow: float = 0.0, head: bool = False) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for k, v in answer.headers.items():
            self.send_header(k, v)
        if cut:
            self.send_header("Connection", "close")
        self.end_headers()
        if head:
            return
        if slow:
            self.wfile.flush()
            time.sleep(slow)
        if cut:
            self.wfile.write(answer.body[: len(answer.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(answer.body)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


# --- entry points -----------------------------------------------------------------------------------


def make_server(data_dir: Path | str, host: str = "127.0.0.1", port: int = 0,
                faults: Iterable[Fault | str] = (), data_timestamp: str | None = None, *,
                store: StudyStore | None = None) -> ReplayServer:
    """Load the recorded data and bind a server (not yet serving). ``port=0`` picks a free port.

    ``store`` (from :func:`load_store`) skips reading ``data_dir`` again (tests start many servers).
    """
    if data_timestamp is not None:
        try:
            _dt.datetime.fromisoformat(data_timestamp)
        except ValueError:
            raise UsageError(f"--data-timestamp must look like 2026-03-13T00:00:00, got {data_timestamp!r}")\
                from None
    if store is None:
        store = load_store(data_dir, data_timestamp)
    elif data_timestamp is not None:
        store = dataclasses.replace(store, data_timestamp=data_timestamp)
    return ReplayServer((host, port), store, FaultPlan(faults))


def serve(data_dir: Path | str, host: str = "127.0.0.1", port: int = 8000,
          faults: Iterable[Fault | str] = (), data_timestamp: str | None = None) -> None:
    """Run the replay server until interrupted (Ctrl-C); for ``trialfinder replay``."""
    server = make_server(data_dir, host, port, faults, data_timestamp)
    log.info("replay server on %s with %d studies%s", server.base_url, len(server.store.studies),
             "; faults: " + ", ".join(map(str, server.plan.faults)) if server.plan.faults else "")
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        log.info("replay server stopped")
    finally:
        server.server_close()


@contextlib.contextmanager
def running_server(data_dir: Path | str, faults: Iterable[Fault | str] = (), port: int = 0,
                   host: str = "127.0.0.1", data_timestamp: str | None = None, *,
                   store: StudyStore | None = None) -> Iterator[ReplayServer]:
    """Run a replay server in a background thread; yields the server (``.base_url``, ``.store``)."""
    server = make_server(data_dir, host, port, faults, data_timestamp, store=store)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="replay-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def running_replay(data_dir: Path | str, faults: Iterable[Fault | str] = (), port: int = 0,
                   data_timestamp: str | None = None) -> Iterator[str]:
    """Like :func:`running_server` but yields the base URL (``http://127.0.0.1:PORT/api/v2``)."""
    with running_server(data_dir, faults, port, data_timestamp=data_timestamp) as server:
        yield server.base_url
