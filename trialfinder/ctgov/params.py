"""Pure builders and validators for ClinicalTrials.gov API v2 query parameters.

Nothing here does IO. :class:`~trialfinder.ctgov.client.CtgovClient` and the replay server both use
these names, so the client never sends (and the replay server never accepts) a parameter the official
spec (``openapi/ctg-oas-v2-2.0.5.yaml``) does not document. ``tests/unit/test_params.py`` checks the
lists below against the spec file itself.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Mapping

from trialfinder.errors import InvalidNctIdError, UsageError

API_VERSION = "2.0.5"
MAX_PAGE_SIZE = 1000

#: every query parameter the spec documents for ``GET /studies`` (spec 2.0.5, ``listStudies``)
STUDIES_PARAMS: frozenset[str] = frozenset(
    {
        "format",
        "markupFormat",
        "query.cond",
        "query.term",
        "query.locn",
        "query.titles",
        "query.intr",
        "query.outc",
        "query.spons",
        "query.lead",
        "query.id",
        "query.patient",
        "filter.overallStatus",
        "filter.geo",
        "filter.ids",
        "filter.advanced",
        "filter.synonyms",
        "postFilter.overallStatus",
        "postFilter.geo",
        "postFilter.ids",
        "postFilter.advanced",
        "postFilter.synonyms",
        "aggFilters",
        "geoDecay",
        "fields",
        "sort",
        "countTotal",
        "pageSize",
        "pageToken",
    }
)

#: every query parameter the spec documents for ``GET /studies/{nctId}`` (``fetchStudy``)
STUDY_PARAMS: frozenset[str] = frozenset({"format", "markupFormat", "fields"})

#: ``GET /version`` takes no parameters
VERSION_PARAMS: frozenset[str] = frozenset()

_NCT_RE = re.compile(r"NCT\d{8}")


def validate_nct_id(value: str) -> str:
    """Return the NCT ID in canonical form (upper case, no surrounding blanks).

    Raises :class:`InvalidNctIdError` unless it is ``NCT`` followed by exactly 8 digits.
    """
    if not isinstance(value, str):
        raise InvalidNctIdError(f"not an NCT ID: {value!r}", hint="expected NCT followed by 8 digits")
    candidate = value.strip().upper()
    if not _NCT_RE.fullmatch(candidate):
        raise InvalidNctIdError(f"not an NCT ID: {value!r}", hint="expected NCT followed by 8 digits")
    return candidate


def is_nct_id(value: str) -> bool:
    """True when ``value`` is a well-formed NCT ID (see :func:`validate_nct_id`)."""
    try:
        validate_nct_id(value)
    except InvalidNctIdError:
        return False
    return True


def unknown_params(names: Iterable[str], known: frozenset[str] = STUDIES_PARAMS) -> list[str]:
    """The names in ``names`` that the spec does not document, sorted."""
    return sorted(n for n in names if n not in known)


def _as_text(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Iterable) and not isinstance(value, bytes | Mapping):
        items = [str(v).strip() for v in value]
        if not all(items):
            raise UsageError(f"parameter {name!r} has an empty item: {value!r}")
        return ",".join(items)
    raise UsageError(f"parameter {name!r} has an unsupported value: {value!r}")


def _page_size(value: object) -> int:
    try:
        size = int(str(value))
    except ValueError:
        raise UsageError(f"pageSize must be an integer, got {value!r}") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise UsageError(f"pageSize must be between 1 and {MAX_PAGE_SIZE}, got {size}")
    return size


def build_studies_params(
    params: Mapping[str, object] | None = None,
    *,
    page_size: int | None = None,
    fields: Iterable[str] | str | None = None,
    count_total: bool | None = None,
    sort: Iterable[str] | str | None = None,
    page_token: str | None = None,
) -> dict[str, str]:
    """Build the exact query string parameters of ``GET /studies``.

    ``params`` holds the saved search (``query.*``, ``filter.*`` incl. ``filter.advanced``,
    ``postFilter.*``, ``sort``, ``fields``, ...); keyword arguments override it. Lists become
    comma-separated strings, booleans ``true``/``false``. Names the spec does not document raise
    :class:`UsageError` (the real API would answer 400). Empty values are dropped.
    """
    raw: dict[str, object] = dict(params or {})
    bad = unknown_params(raw)
    if bad:
        raise UsageError(
            f"unknown API parameter(s): {', '.join(bad)}",
            hint="see the parameters of GET /studies in the ClinicalTrials.gov API v2 spec",
        )
    if page_size is not None:
        raw["pageSize"] = page_size
    if fields is not None:
        raw["fields"] = fields
    if count_total is not None:
        raw["countTotal"] = count_total
    if sort is not None:
        raw["sort"] = sort
    if page_token is not None:
        raw["pageToken"] = page_token

    out: dict[str, str] = {}
    for name, value in raw.items():
        if value is None:
            continue
        if name == "pageSize":
            out[name] = str(_page_size(value))
            continue
        text = _as_text(name, value).strip()
        if text == "":
            continue
        if name == "filter.ids":
            ids = [i for i in re.split(r"[,|\s]+", text) if i]
            text = ",".join(validate_nct_id(i) for i in ids)
        out[name] = text
    return out


def build_study_params(fields: Iterable[str] | str | None = None) -> dict[str, str]:
    """Query parameters of ``GET /studies/{nctId}`` (only ``fields`` is used by trialfinder)."""
    if fields is None:
        return {}
    text = _as_text("fields", fields).strip()
    return {"fields": text} if text else {}


def _iso_date(value: _dt.date | str) -> str:
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    try:
        return _dt.date.fromisoformat(str(value).strip()[:10]).isoformat()
    except ValueError:
        raise UsageError(f"not an ISO date (YYYY-MM-DD): {value!r}") from None


def last_update_range(since: _dt.date | str, until: _dt.date | str | None = None) -> str:
    """``AREA[LastUpdatePostDate]RANGE[since,MAX]`` (or ``...,until]``), the incremental filter."""
    upper = "MAX" if until is None else _iso_date(until)
    return f"AREA[LastUpdatePostDate]RANGE[{_iso_date(since)},{upper}]"


def combine_advanced(existing: str | None, extra: str) -> str:
    """AND ``extra`` onto an existing ``filter.advanced`` expression (parenthesised when it has OR/NOT)."""
    base = (existing or "").strip()
    if not base:
        return extra
    if re.search(r"\b(OR|NOT)\b", base):
        base = f"({base})"
    return f"{base} AND {extra}"


def with_last_update_since(params: Mapping[str, object], since: _dt.date | str) -> dict[str, object]:
    """A copy of ``params`` restricted to studies updated on or after ``since``."""
    out = dict(params)
    existing = out.get("filter.advanced")
    out["filter.advanced"] = combine_advanced(
        None if existing is None else str(existing), last_update_range(since)
    )
    return out
