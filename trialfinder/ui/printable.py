"""A printable summary of the shortlist: one page per trial, to take to the clinic (pure).

Every string that comes from the registry goes through :func:`html.escape`; the only markup is
ours. The page needs no script, font or image from anywhere (it works offline and prints cleanly).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from trialfinder.ui.labels import (
    ADVANCED_LABELS,
    CLASS_LABELS,
    LINE_LABELS,
    OPEN_STATUSES,
    PRIOR_IO_LABELS,
    STATUS_LABELS,
    as_list,
    evidence_list,
    label,
    phases_text,
    stale_status_note,
)
from trialfinder.ui.safe import is_missing, registry_url

MAX_SITES = 5  # open sites first; the rest are counted (a trial must fit on one printed page)
MAX_CRITERIA_CHARS = 1300
MAX_QUOTE_CHARS = 200
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f24; margin: 0; }
@page { margin: 12mm; }
.page { padding: 18mm 16mm; page-break-after: always; break-after: page; }
.page:last-child { page-break-after: auto; break-after: auto; }
h1 { font-size: 19px; margin: 0 0 4px; } h2 { font-size: 14px; margin: 14px 0 4px; }
.meta { color: #57606a; font-size: 12px; margin-bottom: 8px; }
.facts { border-collapse: collapse; font-size: 12px; width: 100%; }
.facts th { text-align: left; width: 30%; vertical-align: top; padding: 3px 6px; background: #f6f8fa; }
.facts td { padding: 3px 6px; vertical-align: top; } .facts tr { border-bottom: 1px solid #eaeef2; }
.quote { color: #57606a; font-style: italic; }
.warn { font-size: 11px; margin: 4px 0 6px; padding: 4px 8px; border-left: 3px solid #bf8700;
  background: #fff8c5; }
.criteria { white-space: pre-wrap; font-size: 10px; line-height: 1.3; border-left: 3px solid #d0d7de;
  padding-left: 8px; }
ul { margin: 4px 0; padding-left: 18px; font-size: 11px; } .note { font-size: 11px; color: #57606a; }
.cover h1 { font-size: 22px; } @media print { .noprint { display: none; } .page { padding: 0; } }
"""


def _t(v: Any) -> str:
    """Escaped text of a cell ('' when missing)."""
    if is_missing(v):
        return ""
    return html.escape(str(v), quote=True)


def _shorten(text: str, limit: int) -> str:
    """``text`` cut at a word before ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def _first(df: pd.DataFrame | None, nct_id: str) -> dict[str, Any]:
    if df is None or df.empty:
        return {}
    hit = df[df["nct_id"] == nct_id]
    return {} if hit.empty else {str(k): v for k, v in hit.iloc[0].to_dict().items()}


def _fact(name: str, value: str, evidence: Any, quoted: set[str] | None = None) -> str:
    """One row of facts with its first evidence sentence, unless an earlier row of the page quoted it
    (``quoted`` collects what the page has quoted so far)."""
    ev = evidence_list(evidence)[:1]
    seen = quoted if quoted is not None else set()
    quote = "".join(
        f'<div class="quote">“{_t(_shorten(e, MAX_QUOTE_CHARS))}”</div>' for e in ev if e not in seen
    )
    seen.update(ev)
    return f"<tr><th>{html.escape(name)}</th><td>{value}{quote}</td></tr>"


def _trial_page(tables: Mapping[str, pd.DataFrame], nct_id: str, data_as_of: str) -> str:
    trial = _first(tables.get("trials"), nct_id)
    facets = _first(tables.get("facets"), nct_id)
    elig = _first(tables.get("eligibility"), nct_id)
    url = registry_url(nct_id)
    classes = ", ".join(label(CLASS_LABELS, c) for c in as_list(facets.get("intervention_classes"))) or "—"
    quoted: set[str] = set()
    rows = [
        _fact("Status", _t(label(STATUS_LABELS, trial.get("overall_status"))), None),
        _fact("Phase", _t(phases_text(trial.get("phases"))), None),
        _fact("Treatment types", _t(classes), facets.get("intervention_classes_evidence"), quoted),
        _fact("Interventions", _t("; ".join(as_list(trial.get("interventions"))) or "—"), None),
        _fact("Advanced / stage 4", _t(label(ADVANCED_LABELS, facets.get("advanced_disease"))),
              facets.get("advanced_disease_evidence"), quoted),
        _fact("Prior immunotherapy", _t(label(PRIOR_IO_LABELS, facets.get("prior_immunotherapy"))),
              facets.get("prior_immunotherapy_evidence"), quoted),
        _fact("Line of treatment", _t(label(LINE_LABELS, facets.get("line_of_therapy"))),
              facets.get("line_of_therapy_evidence"), quoted),
        _fact("Sponsor", _t(trial.get("lead_sponsor")) or "—", None),
        _fact("Last updated", _t(trial.get("last_update_posted")) or "—", None),
    ]  # fmt: skip
    locs = tables.get("locations")
    sites_html = ""
    if locs is not None and not locs.empty:
        mine = locs[locs["nct_id"] == nct_id]
        status = mine["site_status"].astype("object")
        open_first = mine.assign(_o=~status.isin(list(OPEN_STATUSES))).sort_values("_o", kind="stable")
        items = []
        for _, s in open_first.head(MAX_SITES).iterrows():
            place = ", ".join(x for x in (_t(s.get("city")), _t(s.get("state")), _t(s.get("country"))) if x)
            contact = " · ".join(
                x
                for x in (_t(s.get("contact_name")), _t(s.get("contact_phone")), _t(s.get("contact_email")))
                if x
            )
            st_label = _t(label(STATUS_LABELS, s.get("site_status"))) if _t(s.get("site_status")) else ""
            items.append(
                f"<li><b>{_t(s.get('facility'))}</b> — {place}"
                + (f" ({st_label})" if st_label else "")
                + (f" · {contact}" if contact else "")
                + "</li>"
            )
        more = len(mine) - MAX_SITES
        if items:
            sites_html = f"<h2>Sites ({len(mine)})</h2><ul>{''.join(items)}</ul>" + (
                f'<p class="note">… and {more} more on ClinicalTrials.gov.</p>' if more > 0 else ""
            )
    crit = _BLANK_LINES.sub("\n", str(elig.get("criteria") or "")).strip()
    cut = len(crit) > MAX_CRITERIA_CHARS
    crit_html = (
        f'<h2>Eligibility (as registered)</h2><div class="criteria">{_t(crit[:MAX_CRITERIA_CHARS])}'
        + ("…" if cut else "")
        + "</div>"
        + ('<p class="note">Shortened; the full criteria are on ClinicalTrials.gov.</p>' if cut else "")
        if crit
        else ""
    )
    as_of = pd.to_datetime(data_as_of or "", errors="coerce")
    stale = stale_status_note(
        trial.get("overall_status"), trial.get("last_update_posted"), None if pd.isna(as_of) else as_of.date()
    )
    return (
        '<section class="page">'
        f"<h1>{_t(trial.get('title')) or _t(nct_id)}</h1>"
        f'<div class="meta">{_t(nct_id)} · <a href="{html.escape(url)}">{html.escape(url)}</a>'
        f" · ClinicalTrials.gov data as of {_t(data_as_of) or 'unknown'}</div>"
        + (f'<p class="warn">{html.escape(stale)}</p>' if stale else "")
        + f'<table class="facts">{"".join(rows)}</table>'
        f"{sites_html}{crit_html}"
        '<p class="note">Facts above were found automatically in the registry text (quoted). '
        "Only the trial team can confirm eligibility. Not medical advice: discuss with your care team.</p>"
        "</section>"
    )


def printable_html(
    tables: Mapping[str, pd.DataFrame], nct_ids: Sequence[str], *, data_as_of: str = ""
) -> str:
    """A self-contained HTML document: a cover page, then one page per trial in ``nct_ids``."""
    ids = [n for n in dict.fromkeys(nct_ids)]
    trials = tables.get("trials")
    known = set(trials["nct_id"].astype(str)) if trials is not None else set()
    ids = [n for n in ids if n in known]
    listing = "".join(f"<li>{_t(n)} — {_t(_first(trials, n).get('title'))}</li>" for n in ids)
    cover = (
        '<section class="page cover">'
        "<h1>Clinical trials to discuss with my care team</h1>"
        f'<div class="meta">{len(ids)} trial(s) · ClinicalTrials.gov data as of {_t(data_as_of) or "unknown"}'
        "</div>"
        f"<ol>{listing}</ol>"
        '<p class="note">Printed from trialfinder. This list is not medical advice and not a recommendation. '
        "Listing a study on ClinicalTrials.gov does not mean it has been evaluated by the U.S. Federal "
        "Government. Statuses and sites change: check each trial on ClinicalTrials.gov.</p>"
        "</section>"
    )
    pages = "".join(_trial_page(tables, n, data_as_of) for n in ids)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>My trial shortlist</title>"
        f"<style>{_CSS}</style></head><body>{cover}{pages}</body></html>"
    )
