"""Pieces shared by every page: data banners, disclaimer, empty state, badges, shortlist, explainers."""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

from trialfinder import explainers
from trialfinder.errors import TrialFinderError
from trialfinder.ui import nav
from trialfinder.ui.data import Loaded, age_days, data_date, data_dir
from trialfinder.ui.labels import CLASS_LABELS, IMMUNOTHERAPY_CLASSES, STATUS_LABELS, label
from trialfinder.ui.safe import code_span, safe_inline

STALE_AFTER_DAYS = 14
SHORTLIST_KEY = "tf_shortlist"
DETAIL_KEY = "tf_detail_nct"

CT_DISCLAIMER = (
    "ClinicalTrials.gov says: listing a study on its site does not mean it has been evaluated by the "
    "U.S. Federal Government. Talk to your health care provider before joining a study."
)


def tip(term: str) -> str | None:
    """A glossary definition for a ``help=`` tooltip (``None`` if the glossary has no such term)."""
    try:
        return explainers.term(term)
    except TrialFinderError:
        return None


# --- data banners -------------------------------------------------------------------------------


def freshness(loaded: Loaded) -> None:
    """'ClinicalTrials.gov data as of …', a warning when old, a banner for the recorded demo."""
    manifest = loaded.snapshot.manifest
    d = data_date(manifest)
    age = age_days(manifest)
    when = d.strftime("%-d %B %Y") if d else "an unknown date"
    n = len(loaded.prepared)
    st.caption(f"ClinicalTrials.gov data as of **{when}** · {n:,} trials in this data")
    if manifest.get("mode") == "recorded-demo":
        st.warning(
            "**Offline demo.** These are recorded ClinicalTrials.gov records, not today's data: statuses, "
            "sites and contacts may have changed. Check every trial on ClinicalTrials.gov.",
            icon=":material/info:",
        )
    elif age is not None and age > STALE_AFTER_DAYS:
        st.warning(
            f"This data is **{age} days old**. Trials open and close often: check each trial on "
            "ClinicalTrials.gov, or ask whoever runs this app to refresh it (`trialfinder refresh`).",
            icon=":material/schedule:",
        )


def disclaimer() -> None:
    st.divider()
    st.caption(
        "**This is not medical advice.** trialfinder lists trials from ClinicalTrials.gov and explains them "
        "in plain words; a listing is not a recommendation, and only a trial's team can say whether you "
        "can join. Talk to your care team about any trial.  \n"
        f"{CT_DISCLAIMER}  \n"
        "Help finding trials: NCI Cancer Information Service 1-800-4-CANCER · Mesothelioma Applied "
        "Research Foundation (curemeso.org) helpline (877) 363-6376."
    )


def empty_state(exc: TrialFinderError) -> None:
    """No snapshot yet: say exactly what to run."""
    st.title("No trial data yet")
    st.info(
        "trialfinder has not downloaded any trials yet, so there is nothing to search. "
        "Whoever runs this app can get the data with one of these commands, then reload this page.",
        icon=":material/database:",
    )
    st.markdown("**Fetch the current trials from ClinicalTrials.gov** (needs internet):")
    st.code("trialfinder refresh", language="bash")
    st.markdown("**Or import files you downloaded** (ClinicalTrials.gov JSON, ZIP or classic XML):")
    st.code("trialfinder import PATH", language="bash")
    st.caption(
        f"Data folder: {code_span(data_dir())} (set `TRIALFINDER_DATA_DIR` to use another). "
        f"Details: {safe_inline(str(exc))}"
    )
    st.page_link(nav.page("explainers"), label="Meanwhile, read the explainers", icon=":material/menu_book:")


def snapshot_error(exc: TrialFinderError) -> None:
    st.title("The trial data cannot be read")
    st.error(safe_inline(str(exc)), icon=":material/error:")
    st.markdown("Run this to build a fresh copy, then reload the page:")
    st.code("trialfinder refresh", language="bash")


# --- small displays -----------------------------------------------------------------------------


def class_badges(classes: Iterable[str]) -> None:
    """One coloured badge per intervention class (immunotherapy classes in blue)."""
    codes = list(classes)
    if not codes:
        st.caption("Treatment type not recognised")
        return
    cols = st.container(horizontal=True, gap="small")
    with cols:
        for c in codes:
            color = "blue" if c in IMMUNOTHERAPY_CLASSES else "gray"
            st.badge(safe_inline(label(CLASS_LABELS, c)), color=color)  # type: ignore[arg-type]


def status_badge(status: object) -> None:
    """The overall status as a badge (markdown: an unknown registry value is escaped)."""
    code = str(status) if status is not None else ""
    color = "green" if code in ("RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION") else "gray"
    st.badge(safe_inline(label(STATUS_LABELS, status)), color=color)  # type: ignore[arg-type]


def explainer_aside(classes: Iterable[str], *, heading: str = "About these treatments") -> None:
    """Short explainers for the intervention classes in view, with links to the full pages."""
    found = explainers.for_classes(list(classes))
    if not found:
        return
    st.markdown(f"#### {heading}")
    for e in found:
        with st.expander(e.title):
            st.markdown(e.summary)
            st.page_link(
                nav.page("explainers"),
                label="Read more",
                icon=":material/menu_book:",
                query_params={"topic": e.name},
            )
    st.caption(f"Explainers are general information, reviewed {found[0].last_reviewed}; not advice.")


# --- shortlist (per browser session) ------------------------------------------------------------


def shortlist() -> list[str]:
    if SHORTLIST_KEY not in st.session_state:
        st.session_state[SHORTLIST_KEY] = []
    return list(st.session_state[SHORTLIST_KEY])


def add_to_shortlist(nct_id: str) -> bool:
    items = shortlist()
    if nct_id in items:
        return False
    st.session_state[SHORTLIST_KEY] = [*items, nct_id]
    return True


def remove_from_shortlist(nct_id: str) -> None:
    st.session_state[SHORTLIST_KEY] = [n for n in shortlist() if n != nct_id]


def open_detail(nct_id: str) -> None:
    """Go to the trial's detail page."""
    st.session_state[DETAIL_KEY] = nct_id
    st.switch_page(nav.page("detail"), query_params={"nct": nct_id})
