"""Find trials: plain-language filters in the sidebar, the matching trials, explainers beside them."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
import streamlit as st

from trialfinder import geo
from trialfinder.errors import UsageError
from trialfinder.ui import components, data
from trialfinder.ui.filters import (
    DEFAULT_SCOPE,
    RADIUS_CHOICES,
    SCOPE_ALL,
    SCOPE_CHOICES,
    SCOPE_MESOTHELIOMA,
    SCOPE_SOLID,
    SHAREABLE_PARAMS,
    FilterState,
    Options,
    Prepared,
    apply_filters,
    from_query_params,
    to_query_params,
)
from trialfinder.ui.labels import (
    CLASS_LABELS,
    DEFAULT_STATUSES,
    IMMUNOTHERAPY_CLASSES,
    PHASE_LABELS,
    SEX_LABELS,
    STATUS_LABELS,
    as_list,
    label,
    phases_text,
    vocab_label,
)
from trialfinder.ui.safe import safe_inline
from trialfinder.ui.scope import MESOTHELIOMA, SCOPE_LABELS, SOLID_TUMOURS

SAVED_KEY = "tf_find_saved"  # widget values kept across page switches
URL_READ_KEY = "tf_find_url_read"
URL_WARNINGS_KEY = "tf_find_url_warnings"
STATE_KEY = "tf_filter_state"  # the last FilterState (Overview reuses it)

ANY_DISTANCE = 0  # selectbox sentinels: a None option would show as "Choose an option"
ANY_SEX = "ANY"
OTHER_CLASSES = tuple(c for c in CLASS_LABELS if c not in IMMUNOTHERAPY_CLASSES)
K_IO, K_ADV, K_HAD_IO = "f_io", "f_advanced", "f_had_io"
K_STATUS, K_PHASE, K_SITE, K_SUBTYPE = "f_status", "f_phase", "f_site", "f_subtype"
K_COUNTRY, K_STATE, K_ZIP, K_RADIUS = "f_country", "f_state", "f_zip", "f_radius"
K_AGE, K_SEX, K_TEXT, K_PICK = "f_age", "f_sex", "f_text", "f_pick"
K_SCOPE = "f_scope"

SCOPE_OPTION_LABELS = {
    SCOPE_MESOTHELIOMA: "Mesothelioma trials",
    SCOPE_SOLID: "Also trials open to many solid tumours",
    SCOPE_ALL: "All trials in the data",
}
SCOPE_NOTES = {
    SCOPE_MESOTHELIOMA: "Showing mesothelioma trials only. ",
    SCOPE_SOLID: "Showing mesothelioma trials and trials open to many solid tumours. ",
}
SCOPE_HELP = (
    "**Mesothelioma trials**: the trial's conditions, keywords or title name mesothelioma (pleural, "
    "peritoneal or any other). **Also trials open to many solid tumours**: adds 'basket' trials whose "
    "conditions are general, such as “Advanced Solid Tumors”, “Cancer” or “Advanced Malignancies”. They "
    "may accept someone with mesothelioma, but the trial team decides: ask them. **All trials in the "
    "data**: every trial, including other cancers and other illnesses. This choice is kept in the link."
)


def _class_key(code: str) -> str:
    return f"f_cls_{code}"


def _widget_values(state: FilterState) -> dict[str, Any]:
    """The widget values that show ``state``."""
    values: dict[str, Any] = {_class_key(c): c in state.classes for c in CLASS_LABELS}
    values.update({
        K_SCOPE: state.scope,
        K_IO: state.any_immunotherapy, K_ADV: state.advanced, K_HAD_IO: state.had_immunotherapy,
        K_STATUS: list(state.statuses), K_PHASE: list(state.phases), K_SITE: list(state.histology_sites),
        K_SUBTYPE: list(state.histology_subtypes), K_COUNTRY: list(state.countries),
        K_STATE: list(state.states), K_ZIP: state.zip_code,
        K_RADIUS: state.radius_miles if state.radius_miles is not None else ANY_DISTANCE,
        K_AGE: state.age, K_SEX: state.sex or ANY_SEX, K_TEXT: state.text,
    })  # fmt: skip
    return values


def _state_from_widgets() -> FilterState:
    ss = st.session_state
    age = ss.get(K_AGE)
    scope = ss.get(K_SCOPE)
    return FilterState(
        scope=scope if scope in SCOPE_CHOICES else DEFAULT_SCOPE,
        classes=tuple(c for c in CLASS_LABELS if ss.get(_class_key(c))),
        any_immunotherapy=bool(ss.get(K_IO)),
        advanced=bool(ss.get(K_ADV)),
        had_immunotherapy=bool(ss.get(K_HAD_IO)),
        statuses=tuple(ss.get(K_STATUS) or ()),
        phases=tuple(ss.get(K_PHASE) or ()),
        histology_sites=tuple(ss.get(K_SITE) or ()),
        histology_subtypes=tuple(ss.get(K_SUBTYPE) or ()),
        countries=tuple(ss.get(K_COUNTRY) or ()),
        states=tuple(ss.get(K_STATE) or ()),
        zip_code=str(ss.get(K_ZIP) or "").strip(),
        radius_miles=None if ss.get(K_RADIUS) in (None, ANY_DISTANCE) else int(ss[K_RADIUS]),
        age=int(age) if age is not None else None,
        sex=None if ss.get(K_SEX) in (None, ANY_SEX) else str(ss[K_SEX]),
        text=str(ss.get(K_TEXT) or ""),
    )


def _seed_widgets(options: Options) -> None:
    """Give every filter widget its value before it is drawn: from a shared URL on the first visit,
    else from the values kept when the user last left this page, else the defaults."""
    ss = st.session_state
    if not ss.get(URL_READ_KEY):
        ss[URL_READ_KEY] = True
        shared = {k: st.query_params.get_all(k) for k in st.query_params}
        state, warnings = from_query_params(shared, options)
        ss[URL_WARNINGS_KEY] = warnings
        ss[SAVED_KEY] = _widget_values(state)
    saved = ss.get(SAVED_KEY) or _widget_values(FilterState())
    for key, value in saved.items():
        if key not in ss:
            ss[key] = value


def _reset() -> None:
    st.session_state[SAVED_KEY] = _widget_values(FilterState())
    st.session_state[URL_WARNINGS_KEY] = []
    for key, value in _widget_values(FilterState()).items():
        st.session_state[key] = value


def _sidebar(prepared: Prepared) -> None:
    opts = prepared.options
    # counts among the trials of the chosen "Which trials" (the widget below keeps its value in the session)
    chosen = st.session_state.get(K_SCOPE, DEFAULT_SCOPE)
    counts = opts.class_counts_by_scope.get(chosen, opts.class_counts)
    sb = st.sidebar
    sb.header("Filters")
    sb.button(
        "Clear all filters", on_click=_reset, icon=":material/filter_alt_off:", width="stretch", key="f_clear"
    )
    sb.text_input(
        "Search words in titles and treatment names",
        key=K_TEXT,
        max_chars=100,
        placeholder="e.g. nivolumab, mesothelin",
        help="Not put in the link.",
    )

    sb.subheader("Type of treatment")
    any_io = sb.checkbox("Any immunotherapy", key=K_IO, help=components.tip("immunotherapy"))
    for code in IMMUNOTHERAPY_CLASSES:
        sb.checkbox(
            f"{CLASS_LABELS[code]} ({counts.get(code, 0)})",
            key=_class_key(code),
            disabled=any_io,
            help="Included in “Any immunotherapy”" if any_io else None,
        )
    with sb.expander("Other treatments"):
        for code in OTHER_CLASSES:
            st.checkbox(f"{CLASS_LABELS[code]} ({counts.get(code, 0)})", key=_class_key(code))

    sb.subheader("About my cancer")
    sc = opts.scope_counts
    n_meso, n_solid = sc.get(MESOTHELIOMA, 0), sc.get(SOLID_TUMOURS, 0)
    scope_counts = {SCOPE_MESOTHELIOMA: n_meso, SCOPE_SOLID: n_meso + n_solid, SCOPE_ALL: len(prepared)}
    sb.radio(
        "Which trials",
        SCOPE_CHOICES,
        key=K_SCOPE,
        format_func=lambda s: f"{SCOPE_OPTION_LABELS[s]} ({scope_counts[s]:,})",
        help=SCOPE_HELP + (" " + (components.tip("solid tumour") or "")),
    )
    sb.checkbox(
        "My cancer is advanced / stage 4",
        key=K_ADV,
        help="Hides trials that are only for early disease that can be operated on. Trials that do not "
        "say stay in the list. " + (components.tip("advanced") or ""),
    )
    sb.checkbox(
        "I already had immunotherapy",
        key=K_HAD_IO,
        help="For example nivolumab, ipilimumab or pembrolizumab. Hides trials whose criteria exclude "
        "people who had immunotherapy. Trials that do not say stay in the list.",
    )
    if opts.histology_sites:
        sb.multiselect(
            "Where the mesothelioma started",
            opts.histology_sites,
            key=K_SITE,
            format_func=vocab_label,
            help=components.tip("pleural and peritoneal"),
            placeholder="Any site",
        )
    if opts.histology_subtypes:
        sb.multiselect(
            "Tumour subtype",
            opts.histology_subtypes,
            key=K_SUBTYPE,
            format_func=vocab_label,
            help=components.tip("histology"),
            placeholder="Any subtype",
        )

    sb.subheader("About the trial")
    status_options = list(dict.fromkeys([*DEFAULT_STATUSES, *opts.statuses]))
    sb.multiselect(
        "Recruiting status",
        status_options,
        key=K_STATUS,
        format_func=lambda s: label(STATUS_LABELS, s),
        help=components.tip("recruiting"),
        placeholder="Any status",
    )
    sb.multiselect(
        "Phase",
        list(opts.phases),
        key=K_PHASE,
        format_func=lambda p: label(PHASE_LABELS, p),
        help=components.tip("phase"),
        placeholder="Any phase",
    )

    sb.subheader("Where")
    sb.text_input(
        "Distance from US ZIP code",
        key=K_ZIP,
        max_chars=10,
        placeholder="e.g. 10001",
        help="Only used on this device to measure distance to trial sites; never put in the link.",
    )
    sb.selectbox(
        "Within",
        [ANY_DISTANCE, *RADIUS_CHOICES],
        key=K_RADIUS,
        format_func=lambda r: "Any distance" if r == ANY_DISTANCE else f"{r} miles",
        help="Keeps trials with a recruiting site this close to the ZIP code.",
    )
    sb.multiselect("Country", list(opts.countries), key=K_COUNTRY, placeholder="Any country")
    if opts.states:
        sb.multiselect("US state", list(opts.states), key=K_STATE, placeholder="Any state")

    sb.subheader("About me")
    sb.number_input(
        "Age",
        min_value=0,
        max_value=120,
        step=1,
        key=K_AGE,
        placeholder="Any age",
        help="Hides trials whose age limits leave you out. Not put in the link.",
    )
    sb.selectbox(
        "Sex",
        [ANY_SEX, "FEMALE", "MALE"],
        key=K_SEX,
        format_func=lambda s: "Any" if s == ANY_SEX else SEX_LABELS[s],
        help="Hides trials only for the other sex. Not put in the link.",
    )


def _sync_url(state: FilterState) -> None:
    wanted = to_query_params(state)
    current = {k: st.query_params.get_all(k) for k in st.query_params}
    norm = {k: (v if isinstance(v, list) else [v]) for k, v in wanted.items()}
    if current != norm:
        st.query_params.from_dict(wanted)


def _table(results: pd.DataFrame, with_distance: bool) -> None:
    shown = pd.DataFrame({
        "Trial": results["url"].astype(str) + "#" + results["title"].astype("string").fillna("(no title)"),
        "NCT ID": results["nct_id"].astype(str),
        "For": results["scope"].astype("object").map(lambda s: label(SCOPE_LABELS, s)),
        "Status": results["overall_status"].map(lambda s: label(STATUS_LABELS, s)),
        "Phase": results["phases"].map(phases_text),
        "Treatment types": pd.Series(
            [[label(CLASS_LABELS, c) for c in as_list(v)] for v in results["intervention_classes"]],
            dtype=object, index=results.index),
        "Nearest recruiting site" if with_distance else "Sites": (
            results["nearest_site"].astype("string").fillna("no recruiting site")
            + ", " + results["nearest_city"].astype("string").fillna("")
        ).str.strip(", ") if with_distance else results["where"],
        "Miles": results["distance_miles"].round(0),
        "Last updated": results["last_update_posted"].astype("string"),
    })  # fmt: skip
    if not with_distance:
        shown = shown.drop(columns=["Miles"])
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        height=min(36 * (len(shown) + 1) + 4, 600),
        column_order=[
            c
            for c in (
                "Trial",
                "Status",
                "Miles",
                "Nearest recruiting site",
                "Phase",
                "Treatment types",
                "For",
                "Sites",
                "NCT ID",
                "Last updated",
            )
            if c in shown.columns
        ],
        column_config={
            "Trial": st.column_config.LinkColumn(
                "Trial (opens ClinicalTrials.gov)",
                display_text=r"https://clinicaltrials\.gov/study/NCT\d{8}#(.*)$",
                width=300 if with_distance else 340,
            ),
            "NCT ID": st.column_config.TextColumn("NCT ID", width=108),
            "For": st.column_config.TextColumn(
                "For", width=125, help="Mesothelioma trial, or a trial open to many solid tumours"
            ),
            "Status": st.column_config.TextColumn("Status", width=122),
            "Phase": st.column_config.TextColumn("Phase", width=75),
            "Nearest recruiting site": st.column_config.TextColumn("Nearest recruiting site", width=150),
            "Sites": st.column_config.TextColumn("Sites", width=180),
            "Treatment types": st.column_config.ListColumn("Treatment types", width=180),
            "Miles": st.column_config.NumberColumn(
                "Miles", format="%d", help="Straight-line distance", width=55
            ),
            "Last updated": st.column_config.TextColumn("Last updated", width=95),
        },
    )


def _actions(results: pd.DataFrame) -> None:
    ids = results["nct_id"].astype(str).tolist()
    titles = dict(zip(ids, results["title"].astype("string").fillna(""), strict=True))
    # a new key whenever the results change: the choice can never point at a trial no longer shown
    pick_key = f"{K_PICK}_{hashlib.sha1(' '.join(ids).encode()).hexdigest()[:12]}"  # noqa: S324
    col1, col2, col3 = st.columns([4, 1.2, 1.4], vertical_alignment="bottom")
    picked = col1.selectbox(
        "Choose a trial from the results",
        ids,
        key=pick_key,
        format_func=lambda n: f"{n} · {titles.get(n, '')[:110]}",
    )
    if col2.button("See details", icon=":material/description:", type="primary", width="stretch"):
        components.open_detail(str(picked))
    in_list = picked in components.shortlist()
    if col3.button(
        "On shortlist" if in_list else "Add to shortlist",
        icon=":material/bookmark_add:",
        disabled=in_list,
        width="stretch",
        key="f_add",
    ):
        components.add_to_shortlist(str(picked))
        st.toast(f"{safe_inline(str(picked))} added to your shortlist")
        st.rerun()
    n = len(components.shortlist())
    if n:
        st.caption(
            f"Your shortlist has {n} trial{'s' if n != 1 else ''}. Open **Shortlist** at the top to "
            "download or print it."
        )


def render() -> None:
    loaded = data.load()
    prepared = loaded.prepared
    _seed_widgets(prepared.options)
    _sidebar(prepared)
    state = _state_from_widgets()
    st.session_state[SAVED_KEY] = _widget_values(state)
    st.session_state[STATE_KEY] = state
    _sync_url(state)

    st.title("Find trials")
    for w in st.session_state.get(URL_WARNINGS_KEY) or []:
        st.warning(w, icon=":material/link_off:")  # markdown: the link's text is quoted inertly

    origin: geo.ZipPoint | None = None
    if state.zip_code:
        try:
            origin = geo.lookup_zip(state.zip_code)
        except UsageError as exc:
            st.error(
                f"{safe_inline(str(exc))}. Distances are not shown until the ZIP code is fixed.",
                icon=":material/error:",
            )
    elif state.radius_miles is not None:
        st.info("Type a US ZIP code in the sidebar to use the distance limit.", icon=":material/info:")
    effective = (
        state
        if origin is not None
        else FilterState(**{**state.__dict__, "zip_code": "", "radius_miles": None})
    )
    results = apply_filters(prepared, effective, origin=origin)

    n, total = len(results), len(prepared)
    left, right = st.columns([3, 1], gap="medium")  # the aside wide enough to read
    with left:
        st.subheader(f"{n:,} trial{'s' if n != 1 else ''} match" + ("" if n != 1 else "es"))
        where = ""
        if origin is not None:
            where = (
                f" within {state.radius_miles} miles of {safe_inline(origin.label)}"
                if state.radius_miles
                else f", nearest to {safe_inline(origin.label)} first"
            )
        note = SCOPE_NOTES.get(state.scope, "")
        st.caption(
            f"Out of {total:,} trials in the data{where}. {note}A match means the registry text fits your "
            "filters, not that you can join: the trial team decides."
        )
        if n == 0:
            st.info(
                "No trial matches all these filters. Try removing one, for example the phase or the "
                "distance"
                + (
                    ", or choose **All trials in the data** under **Which trials**"
                    if state.scope != SCOPE_ALL
                    else ""
                )
                + ", or press **Clear all filters** in the sidebar.",
                icon=":material/search_off:",
            )
        else:
            _table(results, with_distance=origin is not None)
            _actions(results)
        shareable = [k for k in SHAREABLE_PARAMS if k in st.query_params]
        st.caption(
            "To share this search, copy the address from your browser: it keeps the filters "
            "but never your ZIP code, age, sex or search words."
            if shareable
            else "Set some filters, then copy the address from your browser to share the search."
        )
    with right:
        in_view = {c for v in results["intervention_classes"].head(200) for c in as_list(v)}
        components.explainer_aside(in_view | state.wanted_classes())
