"""The record envelope every importer (and the API client) hands on: :class:`RawStudy`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SOURCE_FORMATS: frozenset[str] = frozenset(
    {"api", "v2-study", "v2-page", "v2-download", "jsonl", "zip", "classic-xml", "csv"}
)


@dataclass(frozen=True)
class RawStudy:
    """One study record as read from some source, in the API v2 shape."""

    data: dict[str, Any]  # the API v2 study object ({"protocolSection": ..., "derivedSection": ..., ...})
    source_format: str  # "api" | "v2-study" | "v2-page" | "v2-download" | "jsonl" | "zip" | "classic-xml"
    source: str  # URL or file path (zip members as "archive.zip!member")
    record_date: str | None  # ISO date of the record version (lastUpdatePostDate, or XML download date)
    partial: bool = False  # field-limited: some modules absent on purpose

    @property
    def nct_id(self) -> str | None:
        """The study's NCT ID, or None when the record lacks one."""
        ps = self.data.get("protocolSection")
        ident = ps.get("identificationModule") if isinstance(ps, dict) else None
        nct = ident.get("nctId") if isinstance(ident, dict) else None
        return nct if isinstance(nct, str) else None


def record_key(study: RawStudy) -> tuple[str, bool]:
    """Order of the versions of one study: a later record date wins, then full beats partial.

    ISO dates of mixed precision compare as text ("2020-07" < "2020-07-14"); no date sorts first.
    """
    return (study.record_date or "", not study.partial)

