"""Website "Download CSV" files → partial API v2 study dicts.

The website's CSV flattens a study into one row (``NCT Number``, ``Study Title``, ``Study Status``,
``Conditions``, ``Interventions``, ...; several column layouts exist, only ``NCT Number`` is
required). Multi-valued cells are ``|``-separated; locations are ``Facility, City, State, Zip,
Country`` joined by ", " (facility names may contain commas, so they are split from the right,
which is approximate). Every record is partial: no eligibility text, no arms, no site status.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

from trialfinder.errors import ImportFormatError
from trialfinder.sources._text import parse_date_text

NCT_COLUMN = "NCT Number"
_NCT = re.compile(r"^NCT\d{8}$")
_ZIPLIKE = re.compile(r"^(?=.*\d)[A-Za-z0-9 \-]{3,10}$")


def looks_like_csv_download(head: bytes) -> bool:
    """True when the first line is a website CSV header (starts with the ``NCT Number`` column)."""
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0]
    return first.startswith(b"NCT Number,") or first.startswith(b'"NCT Number",')


def _split(cell: str | None, sep: str = "|") -> list[str]:
    if not cell:
        return []
    return [p.strip() for p in cell.split(sep) if p.strip()]


def _date(cell: str | None) -> dict[str, str] | None:
    iso = parse_date_text(cell)
    return {"date": iso} if iso else None


def _drop_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (None, [], {}, "")}


def _location(cell: str) -> dict[str, Any]:
    parts = [p.strip() for p in cell.split(", ")]
    loc: dict[str, Any] = {}
    if len(parts) >= 2:
        loc["country"] = parts.pop()
    if len(parts) >= 2 and _ZIPLIKE.match(parts[-1]):
        loc["zip"] = parts.pop()
    if len(parts) >= 3:
        loc["state"] = parts.pop()
    if len(parts) >= 2:
        loc["city"] = parts.pop()
    if parts:
        loc["facility"] = ", ".join(parts)
    return _drop_empty(loc)


def _intervention(cell: str) -> dict[str, Any]:
    kind, sep, name = cell.partition(": ")
    if sep and kind.replace("_", "").isalpha() and kind.isupper():
        return {"type": kind, "name": name.strip()}
    return {"name": cell.strip()}


def row_to_v2(row: dict[str, str]) -> dict[str, Any]:
    """One CSV row (``csv.DictReader``) → a partial API v2 study dict."""
    nct = (row.get(NCT_COLUMN) or "").strip()
    if not _NCT.match(nct):
        raise ImportFormatError(f"bad NCT Number {nct!r}")
    enrollment = (row.get("Enrollment") or "").strip()
    interventions = [_intervention(c) for c in _split(row.get("Interventions"))]
    ages = _split(row.get("Age"), ",")
    design = {}
    for item in _split(row.get("Study Design")):
        key, _, value = item.partition(": ")
        design[key.strip()] = value.strip()
    protocol = _drop_empty({
        "identificationModule": _drop_empty({
            "nctId": nct, "briefTitle": row.get("Study Title") or None, "acronym": row.get("Acronym") or None,
            "orgStudyIdInfo": _drop_empty({"id": next(iter(_split(row.get("Other IDs"))), None)}),
        }),
        "statusModule": _drop_empty({
            "overallStatus": row.get("Study Status") or None,
            "startDateStruct": _date(row.get("Start Date")),
            "primaryCompletionDateStruct": _date(row.get("Primary Completion Date")),
            "completionDateStruct": _date(row.get("Completion Date")),
            "studyFirstPostDateStruct": _date(row.get("First Posted")),
            "resultsFirstPostDateStruct": _date(row.get("Results First Posted")),
            "lastUpdatePostDateStruct": _date(row.get("Last Update Posted")),
        }),
        "sponsorCollaboratorsModule": _drop_empty({
            "leadSponsor": _drop_empty({"name": row.get("Sponsor") or None,
                                        "class": row.get("Funder Type") or None}),
            "collaborators": [{"name": c} for c in _split(row.get("Collaborators"))],
        }),
        "descriptionModule": _drop_empty({"briefSummary": row.get("Brief Summary") or None}),
        "conditionsModule": _drop_empty({"conditions": _split(row.get("Conditions"))}),
        "designModule": _drop_empty({
            "studyType": row.get("Study Type") or None,
            "phases": _split(row.get("Phases")),
            "enrollmentInfo": {"count": int(enrollment)} if enrollment.isdigit() else None,
            "designInfo": _drop_empty({
                "allocation": design.get("Allocation"),
                "interventionModel": design.get("Intervention Model"),
                "primaryPurpose": design.get("Primary Purpose"),
                "maskingInfo": _drop_empty({"masking": (design.get("Masking") or "").split(" ")[0] or None}),
            }),
        }),
        "armsInterventionsModule": _drop_empty({"interventions": interventions}),
        "eligibilityModule": _drop_empty({"sex": row.get("Sex") or None, "stdAges": ages}),
        "contactsLocationsModule": _drop_empty({
            "locations": [_location(c) for c in _split(row.get("Locations"))],
        }),
    })
    data: dict[str, Any] = {"protocolSection": protocol}
    results = (row.get("Study Results") or "").strip().upper()
    if results in {"YES", "NO"}:
        data["hasResults"] = results == "YES"
    return data


def iter_csv_rows(content: bytes) -> Iterator[dict[str, Any]]:
    """Partial v2 dicts of every row of a website CSV download."""
    text = content.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or NCT_COLUMN not in reader.fieldnames:
        raise ImportFormatError(f"CSV without a {NCT_COLUMN!r} column")
    for row in reader:
        yield row_to_v2(row)
