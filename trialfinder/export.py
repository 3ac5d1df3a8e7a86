"""CSV export of trials: the shortlist a patient takes to their oncologist (contract in GUIDE.md).

Pure core (:func:`build_export_frame`, :func:`to_csv_bytes`) and one writer (:func:`write_csv`).
The CSV is UTF-8 with a BOM (so Excel reads accents), every field is quoted, lists are joined with
``"; "``, and cells that a spreadsheet would run as a formula get a leading ``'``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trialfinder.errors import UsageError
from trialfinder.fsutil import atomic_write_bytes

CONTRACT_COLUMNS: tuple[str, ...] = (
    "nct_id",
    "title",
    "overall_status",
    "phases",
    "conditions",
    "interventions",
    "intervention_classes",
    "advanced_disease",
    "advanced_disease_evidence",
    "prior_immunotherapy",
    "prior_immunotherapy_evidence",
    "line_of_therapy",
    "url",
    "last_update_posted",
    "data_as_of",
)
#: facet columns beyond the contract's, written right after the contract columns
_MORE_FACET_COLUMNS: tuple[str, ...] = (
    "line_of_therapy_evidence",
    "intervention_classes_evidence",
    "histology_sites",
    "histology_subtypes",
    "histology_evidence",
    "biomarkers",
    "biomarkers_evidence",
)
EXTRA_COLUMNS: tuple[str, ...] = (
    *_MORE_FACET_COLUMNS,
    "study_type",
    "lead_sponsor",
    "enrollment",
    "start_date",
    "primary_completion_date",
    "sites",
    "recruiting_sites",
    "countries",
)
LIST_SEPARATOR = "; "
EXCEL_CELL_LIMIT = 32_767
"""Excel holds at most 32,767 characters (UTF-16 code units) in a cell and cuts longer ones silently."""
CUT_MARKER = " … [cut: longer than a spreadsheet cell holds; the full text is in the registry record]"
_FORMULA_RE = re.compile(r"^[ \u00a0]*[=+\-@\t\r\n]")
FACET_COLUMNS = (
    "intervention_classes",
    "advanced_disease",
    "advanced_disease_evidence",
    "prior_immunotherapy",
    "prior_immunotherapy_evidence",
    "line_of_therapy",
    *_MORE_FACET_COLUMNS,
)
_TEXT_SEARCH_COLUMNS = (
    "nct_id", "title", "_official_title", "conditions", "interventions", "_keywords", "_summary",
)
_OPEN_SITE_STATUSES = {"RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION"}


@dataclass(frozen=True)
class ExportFilters:
    """Filters of ``trialfinder export`` (all optional; an empty filter keeps every trial)."""

    statuses: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    advanced: bool = False  # only trials that accept advanced (stage IV / unresectable) disease
    prior_io_ok: bool = False  # drop trials that exclude patients who already had immunotherapy
    nct_ids: tuple[str, ...] = ()
    query_text: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def normalize_status(value: str) -> str:
    """``"not yet recruiting"`` / ``not-yet-recruiting`` → ``NOT_YET_RECRUITING``."""
    return re.sub(r"[\s\-]+", "_", value.strip()).upper()


# --- cell formatting (pure) ------------------------------------------------------------------


def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return bool(isinstance(v, float) and np.isnan(v))


def cell_text(v: Any) -> str:
    """A table value as the text of one CSV cell (lists joined with ``"; "``; missing → empty)."""
    if _is_missing(v):
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, list | tuple | np.ndarray):
        return LIST_SEPARATOR.join(cell_text(x) for x in v if not _is_missing(x))
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def neutralize_formula(text: str) -> str:
    """Prefix ``'`` to cells a spreadsheet would treat as a formula (``= + - @``, tab, CR, LF first,
    also after leading spaces). Other text is returned unchanged."""
    return "'" + text if _FORMULA_RE.match(text) else text


def _utf16_units(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def fit_cell(text: str, limit: int = EXCEL_CELL_LIMIT) -> str:
    """``text`` unchanged if a spreadsheet cell can hold it, else cut so that it plus
    :data:`CUT_MARKER` is exactly within ``limit`` UTF-16 code units (emoji count two), so the cut
    is visible instead of silent."""
    if len(text) <= limit // 2 or _utf16_units(text) <= limit:
        return text
    room = limit - _utf16_units(CUT_MARKER)
    used = 0
    for i, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > room:
            return text[:i] + CUT_MARKER
    return text  # pragma: no cover - unreachable: the text is longer than the room


# --- building the frame (pure) ----------------------------------------------------------------


def _tables_and_manifest(snapshot_or_tables: Any) -> tuple[Mapping[str, pd.DataFrame], Mapping[str, Any]]:
    tables = getattr(snapshot_or_tables, "tables", None)
    if tables is not None:
        return tables, getattr(snapshot_or_tables, "manifest", {}) or {}
    if isinstance(snapshot_or_tables, Mapping):
        return snapshot_or_tables, {}
    raise TypeError("expected a Snapshot or a mapping of table name → DataFrame")


def _site_summary(locations: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["nct_id", "sites", "recruiting_sites", "countries"]
    if locations is None or locations.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for nct, g in locations.groupby("nct_id", sort=False):
        status = (
            g["site_status"].astype("string") if "site_status" in g.columns else pd.Series(dtype="string")
        )
        countries = (
            sorted({str(c) for c in g["country"] if not _is_missing(c)}) if "country" in g.columns else []
        )
        rows.append(
            {
                "nct_id": nct,
                "sites": len(g),
                "recruiting_sites": int(status.isin(list(_OPEN_SITE_STATUSES)).sum()),
                "countries": countries,
            }
        )
    return pd.DataFrame(rows, columns=cols)


def _contains(series: pd.Series, needle: str) -> pd.Series:
    return series.map(lambda v: needle in cell_text(v).lower()).astype(bool)


def _has_any(series: pd.Series, wanted: set[str]) -> pd.Series:
    def hit(v: Any) -> bool:
        if _is_missing(v):
            return False
        values = [v] if isinstance(v, str) else list(v)
        return any(str(x) in wanted for x in values)

    return series.map(hit).astype(bool)


def check_filters(filters: ExportFilters, seen_statuses: Iterable[str] = ()) -> None:
    """Raise :class:`UsageError` for a status or intervention class nobody knows (a typo would
    otherwise silently export nothing). Statuses: the API's ``Status`` enum plus any in the data."""
    from trialfinder.ctgov.models import ENUMS
    from trialfinder.facets.vocabulary import CLASSES

    statuses = set(ENUMS["Status"]) | {str(s) for s in seen_statuses}
    for s in filters.statuses:
        if normalize_status(s) not in statuses:
            known = ", ".join(sorted(statuses))
            raise UsageError(f"unknown status {s!r} (known: {known})")
    for c in filters.classes:
        if c.strip().lower() not in CLASSES:
            raise UsageError(f"unknown intervention class {c!r} (known: {', '.join(CLASSES)})")


def apply_filters(df: pd.DataFrame, filters: ExportFilters) -> pd.DataFrame:
    """Keep the rows of an export frame (contract columns) that pass ``filters``."""
    mask = pd.Series(True, index=df.index)
    if filters.nct_ids:
        mask &= df["nct_id"].isin([s.strip().upper() for s in filters.nct_ids])
    if filters.statuses:
        mask &= df["overall_status"].isin([normalize_status(s) for s in filters.statuses])
    if filters.classes:
        mask &= _has_any(df["_classes"], {c.strip().lower() for c in filters.classes})
    if filters.advanced:
        mask &= df["advanced_disease"].astype("string").fillna("") == "yes"
    if filters.prior_io_ok:
        mask &= df["prior_immunotherapy"].astype("string").fillna("") != "excluded"
    if filters.query_text and filters.query_text.strip():
        needle = filters.query_text.strip().lower()
        hit = pd.Series(False, index=df.index)
        for col in _TEXT_SEARCH_COLUMNS:
            hit |= _contains(df[col], needle)
        mask &= hit
    return df[mask]


def build_export_frame(
    snapshot_or_tables: Any,
    nct_ids: Sequence[str] | None = None,
    filters: ExportFilters | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The export as a DataFrame of strings: contract columns first (in order), then extras.

    ``snapshot_or_tables`` is a :class:`~trialfinder.store.Snapshot` or a mapping of tables (then
    ``data_as_of`` is empty). ``nct_ids`` keeps those trials in that order (the dashboard's
    shortlist); ``filters`` (an :class:`ExportFilters` or a dict of its fields) applies the CLI
    filters. Facet columns are empty when there is no facets table yet.
    """
    tables, manifest = _tables_and_manifest(snapshot_or_tables)
    if "trials" not in tables:
        raise UsageError("the snapshot has no trials table")
    trials = tables["trials"]
    data_as_of = str(manifest.get("data_timestamp") or "")

    base = pd.DataFrame({"nct_id": trials["nct_id"].astype(str).to_numpy()})
    for col in (
        "title",
        "overall_status",
        "phases",
        "conditions",
        "interventions",
        "url",
        "last_update_posted",
        "study_type",
        "lead_sponsor",
        "enrollment",
        "start_date",
        "primary_completion_date",
    ):
        base[col] = trials[col].to_numpy() if col in trials.columns else None
    base["_official_title"] = trials["official_title"].to_numpy() if "official_title" in trials else None
    base["_keywords"] = trials["keywords"].to_numpy() if "keywords" in trials else None
    base["_summary"] = trials["brief_summary"].to_numpy() if "brief_summary" in trials else None
    if "url" not in trials.columns or base["url"].isna().all():
        base["url"] = "https://clinicaltrials.gov/study/" + base["nct_id"]

    facets = tables.get("facets")
    if facets is not None and not facets.empty:
        fcols = [c for c in FACET_COLUMNS if c in facets.columns]
        f = facets[["nct_id", *fcols]].drop_duplicates("nct_id").copy()
        f["nct_id"] = f["nct_id"].astype(str)
        base = base.merge(f, on="nct_id", how="left")
    for col in FACET_COLUMNS:
        if col not in base.columns:
            base[col] = None
    base["_classes"] = base["intervention_classes"]

    sites = _site_summary(tables.get("locations"))
    if not sites.empty:
        sites["nct_id"] = sites["nct_id"].astype(str)
        base = base.merge(sites, on="nct_id", how="left")
    for col in ("sites", "recruiting_sites", "countries"):
        if col not in base.columns:
            base[col] = None
    base["data_as_of"] = data_as_of

    if filters is not None:
        if not isinstance(filters, ExportFilters):
            fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in filters.items()}
            filters = ExportFilters(**fields)
        check_filters(filters, base["overall_status"].dropna().unique())
        base = apply_filters(base, filters)
    if nct_ids is not None:
        present = set(base["nct_id"])
        order = list(dict.fromkeys(s.strip().upper() for s in nct_ids))
        base = base.set_index("nct_id").loc[[n for n in order if n in present]].reset_index()

    columns = [*CONTRACT_COLUMNS, *EXTRA_COLUMNS]
    out = pd.DataFrame({c: [cell_text(v) for v in base[c]] for c in columns}, columns=columns)
    return out.reset_index(drop=True)


# --- CSV bytes and file (pure + writer) --------------------------------------------------------


def _rows(df: pd.DataFrame) -> Iterable[list[str]]:
    yield [fit_cell(neutralize_formula(str(c))) for c in df.columns]
    for row in df.itertuples(index=False, name=None):
        yield [fit_cell(neutralize_formula(cell_text(v))) for v in row]


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """The CSV file as bytes: UTF-8 with BOM, every field quoted, formulas neutralised, cells longer
    than a spreadsheet holds cut with a visible marker (:func:`fit_cell`)."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerows(_rows(df))
    return buf.getvalue().encode("utf-8-sig")


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write the export to ``path`` atomically (a temporary file in the same folder, then rename)."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{p} is a folder; give a file name such as {p / 'trials.csv'}")
    if not p.parent.exists():
        raise UsageError(f"folder {p.parent} does not exist")
    atomic_write_bytes(p, to_csv_bytes(df))
    return p
