"""Plain-language labels for registry codes and facet values (pure)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from trialfinder.facets.base import EVIDENCE_SEP
from trialfinder.ui.safe import is_missing

#: intervention classes (facet vocabulary, docs/GUIDE) in display order
CLASS_LABELS: dict[str, str] = {
    "checkpoint_inhibitor": "Checkpoint inhibitor",
    "car_t": "CAR-T cells",
    "other_cell_therapy": "Other cell therapy",
    "vaccine": "Cancer vaccine",
    "immunomodulator": "Immunomodulator",
    "oncolytic_virus": "Oncolytic virus",
    "other_immunotherapy": "Other immunotherapy",
    "chemotherapy": "Chemotherapy",
    "targeted_therapy": "Targeted therapy",
    "radiotherapy": "Radiotherapy",
    "surgery": "Surgery",
    "other": "Other",
}
IMMUNOTHERAPY_CLASSES: tuple[str, ...] = (
    "checkpoint_inhibitor",
    "car_t",
    "other_cell_therapy",
    "vaccine",
    "immunomodulator",
    "oncolytic_virus",
    "other_immunotherapy",
)

#: ClinicalTrials.gov overall statuses, most useful first
STATUS_LABELS: dict[str, str] = {
    "RECRUITING": "Recruiting",
    "NOT_YET_RECRUITING": "Not yet recruiting",
    "ENROLLING_BY_INVITATION": "Enrolling by invitation",
    "ACTIVE_NOT_RECRUITING": "Active, not recruiting",
    "AVAILABLE": "Expanded access: available",
    "TEMPORARILY_NOT_AVAILABLE": "Expanded access: temporarily not available",
    "NO_LONGER_AVAILABLE": "Expanded access: no longer available",
    "APPROVED_FOR_MARKETING": "Approved for marketing",
    "SUSPENDED": "Suspended",
    "COMPLETED": "Completed",
    "TERMINATED": "Terminated",
    "WITHDRAWN": "Withdrawn",
    "WITHHELD": "Withheld",
    "UNKNOWN": "Unknown status",
}
DEFAULT_STATUSES: tuple[str, ...] = ("RECRUITING", "NOT_YET_RECRUITING")
OPEN_STATUSES = frozenset({"RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION"})

PHASE_LABELS: dict[str, str] = {
    "EARLY_PHASE1": "Early phase 1",
    "PHASE1": "Phase 1",
    "PHASE2": "Phase 2",
    "PHASE3": "Phase 3",
    "PHASE4": "Phase 4",
    "NA": "No phase (not a drug study)",
}

ADVANCED_LABELS = {"yes": "Open to advanced disease", "no": "Early disease only", "unknown": "Not stated"}
PRIOR_IO_LABELS = {
    "excluded": "Excludes people who had immunotherapy",
    "required": "Requires prior immunotherapy",
    "allowed": "Allows prior immunotherapy",
    "unstated": "Not stated",
}
LINE_LABELS = {
    "first_line": "First treatment for advanced disease",
    "previously_treated": "After earlier treatment",
    "any": "Any line of treatment",
    "unknown": "Not stated",
}
SEX_LABELS = {"ALL": "All", "FEMALE": "Female", "MALE": "Male"}

CHANGE_LABELS = {
    "new_trial": "New trial",
    "removed_trial": "No longer in the data",
    "status_changed": "Status changed",
    "eligibility_changed": "Eligibility changed",
    "site_added": "Site added",
    "site_removed": "Site removed",
    "site_status_changed": "Site status changed",
}


def label(mapping: dict[str, str], code: object) -> str:
    """The label of ``code``, or a tidied version of the code itself when it is not known."""
    if is_missing(code):
        return "—"
    s = str(code)
    return mapping.get(s, s.replace("_", " ").capitalize())


def vocab_label(code: object) -> str:
    """A label for an open vocabulary value such as ``pleural`` or ``sarcomatoid`` (capitalised)."""
    if is_missing(code):
        return "—"
    return str(code).replace("_", " ").capitalize()


def as_list(value: object) -> list[str]:
    """A list cell (list, tuple, numpy array, Arrow list or missing) as a list of strings."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if not is_missing(v)]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return [str(v) for v in tolist() if not is_missing(v)]
    if is_missing(value):
        return []
    return [str(value)]


def phases_text(phases: object) -> str:
    """``["PHASE1", "PHASE2"]`` → ``"Phase 1/2"``."""
    items = as_list(phases)
    if not items:
        return "—"
    if all(p.startswith("PHASE") for p in items) and len(items) > 1:
        return "Phase " + "/".join(p.removeprefix("PHASE") for p in items)
    return ", ".join(label(PHASE_LABELS, p) for p in items)


def evidence_list(value: object) -> list[str]:
    """The verbatim evidence passages of a facet (joined with ``EVIDENCE_SEP`` in the facets table)."""
    out: list[str] = []
    for item in as_list(value):
        out.extend(e.strip() for e in str(item).split(EVIDENCE_SEP) if e.strip())
    return list(dict.fromkeys(out))


def age_range_text(min_years: object, max_years: object) -> str:
    """An age range in words: ``18, None`` → ``"18 years and older"``; none: ``"no limits stated"``."""
    lo = None if is_missing(min_years) or str(min_years).strip() == "" else f"{float(str(min_years)):g}"
    hi = None if is_missing(max_years) or str(max_years).strip() == "" else f"{float(str(max_years)):g}"
    if lo and hi:
        return f"{lo} to {hi} years"
    if lo:
        return f"{lo} years and older"
    if hi:
        return f"up to {hi} years"
    return "no limits stated"


#: an open status in a record untouched this long before the data date may be out of date
STALE_RECORD_DAYS = 730


def stale_status_note(status: object, last_update: object, as_of: date | None) -> str | None:
    """A warning when a record says it is open but was last updated over two years before the data."""
    if as_of is None or is_missing(status) or str(status) not in OPEN_STATUSES or is_missing(last_update):
        return None
    updated = pd.to_datetime(str(last_update), errors="coerce")
    if pd.isna(updated) or (as_of - updated.date()).days <= STALE_RECORD_DAYS:
        return None
    return (
        f"The registry record has not been updated since {updated:%-d %B %Y}, so "
        f"“{label(STATUS_LABELS, status)}” may be out of date. Check on ClinicalTrials.gov or ask the "
        "trial team whether it is still open."
    )
