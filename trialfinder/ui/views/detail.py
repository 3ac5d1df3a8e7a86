"""Trial details: summary, why it matched, arms, eligibility with evidence, sites and map, dates."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from trialfinder import geo
from trialfinder.errors import InvalidNctIdError, UsageError
from trialfinder.normalize import split_criteria
from trialfinder.ui import components, data
from trialfinder.ui.filters import FilterState
from trialfinder.ui.labels import (
    ADVANCED_LABELS,
    CLASS_LABELS,
    LINE_LABELS,
    PRIOR_IO_LABELS,
    SEX_LABELS,
    STATUS_LABELS,
    age_range_text,
    as_list,
    evidence_list,
    label,
    phases_text,
    stale_status_note,
    vocab_label,
)
from trialfinder.ui.safe import highlight_md, is_missing, registry_url, safe_inline, safe_md
from trialfinder.ui.scope import MESOTHELIOMA, SOLID_TUMOURS, scope_reason

NCT_RE = re.compile(r"^NCT\d{8}$")
CRITERIA_HEIGHT = 520  # px; long criteria scroll inside their box
MAX_MAP_LABELS = 25  # city names on the site map only when they stay readable
K_NCT = "d_nct"

EVIDENCE_FACETS = (
    # (label, value column, evidence column, value labels)
    ("Treatment types", "intervention_classes", "intervention_classes_evidence", CLASS_LABELS),
    ("Advanced / stage 4 disease", "advanced_disease", "advanced_disease_evidence", ADVANCED_LABELS),
    ("Prior immunotherapy", "prior_immunotherapy", "prior_immunotherapy_evidence", PRIOR_IO_LABELS),
    ("Line of treatment", "line_of_therapy", "line_of_therapy_evidence", LINE_LABELS),
    ("Where the cancer started", "histology_sites", "histology_evidence", None),
    ("Tumour subtype", "histology_subtypes", "histology_evidence", None),
    ("Biomarkers", "biomarkers", "biomarkers_evidence", None),
)


def validate_nct(text: str) -> str:
    """``" nct02899299"`` → ``"NCT02899299"``; raises :class:`InvalidNctIdError` otherwise."""
    nid = str(text).strip().upper()
    if not NCT_RE.match(nid):
        raise InvalidNctIdError(
            f"{text.strip()[:30]!r} is not an NCT ID",
            hint="an NCT ID is NCT followed by 8 digits, for example NCT02899299",
        )
    return nid


def _row(df: pd.DataFrame | None, nct_id: str) -> dict[str, Any] | None:
    if df is None or df.empty:
        return None
    hit = df[df["nct_id"] == nct_id]
    return None if hit.empty else {str(k): v for k, v in hit.iloc[0].to_dict().items()}


def _rows(df: pd.DataFrame | None, nct_id: str) -> pd.DataFrame:
    if df is None or df.empty:
        return pd.DataFrame()
    return df[df["nct_id"] == nct_id]


def _text(v: Any) -> str:
    return "" if is_missing(v) else str(v)


def _evidence(v: Any) -> list[str]:
    return evidence_list(v)


def _choose() -> str | None:
    ss = st.session_state
    if K_NCT not in ss:
        ss[K_NCT] = str(st.query_params.get("nct") or ss.get(components.DETAIL_KEY) or "")
    short = components.shortlist()
    c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
    text = c1.text_input(
        "NCT ID",
        key=K_NCT,
        max_chars=20,
        placeholder="e.g. NCT02899299",
        help="The trial's ClinicalTrials.gov number: NCT and 8 digits.",
    )
    if short:

        def _pick() -> None:
            if ss.get("d_pick"):
                ss[K_NCT] = ss["d_pick"]

        c2.selectbox(
            "Or open one from your shortlist",
            [None, *short],
            key="d_pick",
            on_change=_pick,
            format_func=lambda n: "Choose…" if n is None else n,
        )
    if not text.strip():
        st.info(
            "Type an NCT ID, or choose a trial on **Find trials** and press **See details**.",
            icon=":material/info:",
        )
        return None
    try:
        nid = validate_nct(text)
    except UsageError as exc:
        st.error(f"{safe_inline(str(exc))}.", icon=":material/error:")
        return None
    if st.query_params.get("nct") != nid:
        st.query_params["nct"] = nid
    ss[components.DETAIL_KEY] = nid
    return nid


def _header(trial: dict[str, Any], nid: str, as_of: date | None = None) -> None:
    st.header(safe_inline(trial.get("title")) or nid)
    official = _text(trial.get("official_title"))
    if official and official != _text(trial.get("title")):
        st.caption(safe_inline(official))
    cols = st.container(horizontal=True, gap="small", vertical_alignment="center")
    with cols:
        st.badge(nid, color="gray")
        components.status_badge(trial.get("overall_status"))
        st.badge(safe_inline(phases_text(trial.get("phases"))), color="violet")
        if _text(trial.get("acronym")):
            st.badge(safe_inline(trial.get("acronym"), max_chars=30), color="gray")
    actions = st.container(horizontal=True, gap="small")
    with actions:
        st.link_button("Open on ClinicalTrials.gov", registry_url(nid), icon=":material/open_in_new:")
        if nid in components.shortlist():
            if st.button("Remove from shortlist", icon=":material/bookmark_remove:", key="d_remove"):
                components.remove_from_shortlist(nid)
                st.rerun()
        elif st.button("Add to shortlist", icon=":material/bookmark_add:", type="primary", key="d_add"):
            components.add_to_shortlist(nid)
            st.toast(f"{nid} added to your shortlist")
            st.rerun()
    stale = stale_status_note(trial.get("overall_status"), trial.get("last_update_posted"), as_of)
    if stale:
        st.warning(stale, icon=":material/history:")
    why = _text(trial.get("why_stopped"))
    if why:
        st.warning("Why it stopped, as the registry says: " + safe_inline(why), icon=":material/block:")


def _why(facets: dict[str, Any] | None, state: FilterState | None) -> list[str]:
    """The "why this trial matched" list: each facet the app found, with the registry's words."""
    if facets is None:
        return []
    items = []
    for title, col, ev_col, labels in EVIDENCE_FACETS:
        value = facets.get(col)
        values = (
            as_list(value)
            if col in ("intervention_classes", "histology_sites", "histology_subtypes", "biomarkers")
            else [_text(value)]
        )
        values = [v for v in values if v and v not in ("unknown", "unstated")]
        if not values:
            continue
        shown = ", ".join(label(labels, v) if labels else vocab_label(v) for v in values)
        line = f"**{title}:** {safe_inline(shown)}"
        ev = _evidence(facets.get(ev_col))
        if ev:
            line += " — the record says: " + " · ".join(f"“{safe_inline(e, max_chars=300)}”" for e in ev[:3])
        items.append(line)
    if state is not None:
        notes = []
        if state.had_immunotherapy and facets.get("prior_immunotherapy") != "excluded":
            notes.append("it does not exclude people who already had immunotherapy")
        if state.advanced and facets.get("advanced_disease") != "no":
            notes.append("it is not limited to early disease")
        if notes:
            items.insert(0, "**Your filters:** " + "; ".join(notes) + ".")
    return items


def _scope_item(tables: dict[str, pd.DataFrame], nid: str) -> str | None:
    """The "which cancer" line: a mesothelioma trial or one open to many solid tumours, with the
    registry's words that decided it (rule: :mod:`trialfinder.ui.scope`)."""
    trials = _rows(tables.get("trials"), nid)
    if trials.empty:
        return None
    conditions = _rows(tables.get("conditions"), nid) if "conditions" in tables else None
    scope, words = scope_reason(trials, conditions)
    quoted = " · ".join(f"“{safe_inline(w, max_chars=120)}”" for w in words[:3])
    if scope == MESOTHELIOMA:
        return "**Cancer:** a mesothelioma trial" + (f" — the record says: {quoted}" if quoted else "")
    if scope == SOLID_TUMOURS:
        return (
            "**Cancer:** open to many solid tumours (not only mesothelioma)"
            + (f" — the record's conditions: {quoted}" if quoted else "")
            + ". The trial team decides whether it takes someone with mesothelioma."
        )
    return "**Cancer:** the record does not name mesothelioma or solid tumours in general."


def _arms(tables: dict[str, pd.DataFrame], nid: str) -> None:
    arms = _rows(tables.get("arms"), nid)
    ivs = _rows(tables.get("interventions"), nid)
    arm_classes = _rows(tables.get("arm_classes"), nid)
    classes_of = {}
    if not arm_classes.empty and "arm_label" in arm_classes:
        classes_of = {
            str(r["arm_label"]): as_list(r.get("intervention_classes")) for _, r in arm_classes.iterrows()
        }
    if arms.empty and ivs.empty:
        st.caption("The record lists no arms or interventions.")
        return
    for _, arm in arms.iterrows():
        with st.container(border=True):
            st.markdown(f"**{safe_inline(arm.get('label'))}** · {safe_inline(label({}, arm.get('type')))}")
            components.class_badges(classes_of.get(str(arm.get("label")), []))
            if _text(arm.get("description")):
                st.markdown(safe_md(arm.get("description"), hard_breaks=False))
            names = as_list(arm.get("intervention_names"))
            if names:
                st.markdown("  \n".join(f"• {safe_inline(n)}" for n in names))
    if arms.empty:
        for _, iv in ivs.iterrows():
            st.markdown(f"• **{safe_inline(iv.get('name'))}** ({safe_inline(label({}, iv.get('type')))})")
    if not ivs.empty:
        with st.expander(f"Interventions ({len(ivs)})"):
            for _, iv in ivs.iterrows():
                other = as_list(iv.get("other_names"))
                st.markdown(
                    f"**{safe_inline(iv.get('name'))}** · {safe_inline(label({}, iv.get('type')))}"
                    + (f"  \nAlso called: {safe_inline(', '.join(other))}" if other else "")
                    + (
                        f"  \n{safe_md(iv.get('description'), hard_breaks=False)}"
                        if _text(iv.get("description"))
                        else ""
                    )
                )


def _eligibility(elig: dict[str, Any] | None, facets: dict[str, Any] | None) -> None:
    if elig is None:
        st.caption("The record has no eligibility criteria.")
        return
    needles: list[str] = []
    if facets is not None:
        for _t, _c, ev_col, _l in EVIDENCE_FACETS[1:]:
            needles.extend(_evidence(facets.get(ev_col)))
    facts = []
    facts.append(f"**Age:** {age_range_text(elig.get('min_age_years'), elig.get('max_age_years'))}")
    facts.append(f"**Sex:** {safe_inline(label(SEX_LABELS, elig.get('sex')))}")
    st.markdown(" · ".join(facts))
    if needles:
        st.caption("Sentences in **bold** are the ones the app used for the facts above.")
    inc, exc = split_criteria(_text(elig.get("criteria")))  # derived: the table stores the text once
    if inc or exc:
        t1, t2 = st.tabs(["Who can join (inclusion)", "Who cannot join (exclusion)"])
        with t1, st.container(height=CRITERIA_HEIGHT):
            inc_md = highlight_md(inc, needles, hard_breaks=False)[0]
            st.markdown(inc_md or "_The record lists no inclusion criteria._")
        with t2, st.container(height=CRITERIA_HEIGHT):
            exc_md = highlight_md(exc, needles, hard_breaks=False)[0]
            st.markdown(exc_md or "_The record lists no exclusion criteria._")
    else:
        with st.container(height=CRITERIA_HEIGHT):
            all_md = highlight_md(elig.get("criteria"), needles, hard_breaks=False)[0]
            st.markdown(all_md or "_No criteria text._")


def _origin() -> geo.ZipPoint | None:
    state = st.session_state.get("tf_filter_state")
    if isinstance(state, FilterState) and state.zip_code:
        try:
            return geo.lookup_zip(state.zip_code)
        except UsageError:
            return None
    return None


def site_map(sites: pd.DataFrame, origin: geo.ZipPoint | None) -> alt.LayerChart | None:
    """Sites as points on a plain latitude/longitude grid (no map tiles, works offline)."""
    placed = sites.dropna(subset=["geo_lat", "geo_lon"])
    if placed.empty:
        return None
    pts = pd.DataFrame({
        "lat": placed["geo_lat"].astype(float), "lon": placed["geo_lon"].astype(float),
        "site": placed["facility"].astype("string").fillna(""),
        "place": placed["city"].astype("string").fillna("") + ", "
        + placed["country"].astype("string").fillna(""),
        "status": placed["site_status"].map(lambda s: label(STATUS_LABELS, s)),
    })  # fmt: skip
    coords = [[lo, la] for lo, la in zip(pts["lon"], pts["lat"], strict=True)]
    if origin is not None:
        coords.append([origin.lon, origin.lat])
    lons = [c[0] for c in coords]
    lats = [c[1] for c in coords]
    pad = max(0.75, (max(lons) - min(lons)) * 0.15, (max(lats) - min(lats)) * 0.15)
    box = [[min(lons) - pad, min(lats) - pad], [max(lons) + pad, max(lats) + pad]]
    fit = {"type": "Feature", "geometry": {"type": "MultiPoint", "coordinates": box}, "properties": {}}
    projection: dict[str, Any] = {"type": "equirectangular", "fit": fit}
    step = 1 if max(max(lons) - min(lons), max(lats) - min(lats)) < 8 else 5
    grid = (
        alt.Chart(alt.graticule(step=[step, step]))
        .mark_geoshape(stroke="#d0d7de", strokeWidth=0.5, filled=False)
        .project(**projection)
    )
    dots = (
        alt.Chart(pts)
        .mark_circle(size=90, opacity=0.8)
        .encode(
            longitude="lon:Q",
            latitude="lat:Q",
            color=alt.Color("status:N", title="Site status", scale=alt.Scale(scheme="tableau10")),
            tooltip=[
                alt.Tooltip("site:N", title="Site"),
                alt.Tooltip("place:N", title="Place"),
                alt.Tooltip("status:N", title="Status"),
            ],
        )
        .project(**projection)
    )
    towns = pts.assign(city=placed["city"].astype("string").fillna("").to_numpy()).drop_duplicates("city")
    names = (
        alt.Chart(towns)
        .mark_text(align="left", dx=7, dy=-6, fontSize=11, color="#57606a")
        .encode(longitude="lon:Q", latitude="lat:Q", text="city:N")
        .project(**projection)
    )
    layers: list[alt.Chart] = [grid, dots, names] if len(towns) <= MAX_MAP_LABELS else [grid, dots]
    if origin is not None:
        home = pd.DataFrame({"lat": [origin.lat], "lon": [origin.lon], "label": [f"You: {origin.label}"]})
        layers.append(
            alt.Chart(home)
            .mark_point(shape="diamond", size=220, filled=True, color="#d62728")
            .encode(longitude="lon:Q", latitude="lat:Q", tooltip=alt.Tooltip("label:N", title=""))
            .project(**projection)
        )
    return alt.LayerChart(layer=layers, height=380)


def _sites(loaded: data.Loaded, nid: str) -> None:
    p = loaded.prepared
    pos = p.trials.index[p.trials["nct_id"] == nid]
    sites = p.sites[p.sites["pos"].isin(pos)] if len(pos) else p.sites.iloc[0:0]
    if sites.empty:
        st.caption("The record lists no sites.")
        return
    origin = _origin()
    table = pd.DataFrame({
        "Site": sites["facility"].astype("string"),
        "City": sites["city"].astype("string"),
        "State": sites["state"].astype("string"),
        "Country": sites["country"].astype("string"),
        "Status": sites["site_status"].map(lambda s: label(STATUS_LABELS, s)),
        "Contact": sites["contact_name"].astype("string"),
        "Phone": sites["contact_phone"].astype("string"),
        "Email": sites["contact_email"].astype("string"),
    })  # fmt: skip
    if origin is not None:
        table.insert(
            0,
            "Miles",
            geo.haversine_miles(origin.lat, origin.lon, sites["geo_lat"], sites["geo_lon"]).round(0),
        )
        table = table.sort_values("Miles", na_position="last")
    n_open = int(sites["open"].sum())
    st.markdown(
        f"**{len(sites)} site{'s' if len(sites) != 1 else ''}**, {n_open} open or opening"
        + (f" · distances from {safe_inline(origin.label)}" if origin else "")
    )
    chart = site_map(sites, origin)
    if chart is not None:
        st.altair_chart(chart, width="stretch")
        unplaced = int(sites["geo_lat"].isna().sum())
        st.caption(
            "Each dot is a site, placed by its coordinates (grid lines every 1 or 5 degrees; no map is "
            "downloaded)." + (f" {unplaced} site(s) could not be placed." if unplaced else "")
        )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={"Miles": st.column_config.NumberColumn("Miles", format="%d")},
    )


def _dates(trial: dict[str, Any]) -> None:
    rows = [
        ("First posted", trial.get("first_posted")),
        ("Last updated", trial.get("last_update_posted")),
        ("Study start", trial.get("start_date")),
        ("Primary completion", trial.get("primary_completion_date")),
        ("Study completion", trial.get("completion_date")),
        ("This copy of the record", trial.get("record_date")),
    ]
    st.markdown("  \n".join(f"**{k}:** {safe_inline(v) or '—'}" for k, v in rows))
    sponsor = safe_inline(trial.get("lead_sponsor"))
    if sponsor:
        st.markdown(f"**Lead sponsor:** {sponsor}")
    enrollment = _text(trial.get("enrollment"))
    if enrollment:
        st.markdown(f"**Planned or actual participants:** {safe_inline(enrollment)}")


def render() -> None:
    loaded = data.load()
    tables = loaded.snapshot.tables
    nid = _choose()
    if nid is None:
        return
    trial = _row(tables.get("trials"), nid)
    if trial is None:
        st.warning(
            f"{nid} is not in the current data. It may be outside the searches this app keeps, or newer "
            "than the data.",
            icon=":material/search_off:",
        )
        st.link_button("Look it up on ClinicalTrials.gov", registry_url(nid), icon=":material/open_in_new:")
        return
    facets = _row(tables.get("facets"), nid)
    elig = _row(tables.get("eligibility"), nid)

    _header(trial, nid, data.data_date(loaded.snapshot.manifest))
    main, side = st.columns([3, 1], gap="large")
    with main:
        st.subheader("Why this trial may fit")
        items = _why(facets, st.session_state.get("tf_filter_state"))
        scope_item = _scope_item(dict(tables), nid)
        if scope_item:
            items.insert(0, scope_item)
        if items:
            st.markdown("\n".join(f"- {i}" for i in items))
            st.caption(
                "Found automatically in the registry text. Only the trial team can say whether you can join."
            )
        else:
            st.caption("The app found no details about stage, prior treatment or subtype in this record.")
        st.subheader("Summary")
        st.markdown(safe_md(trial.get("brief_summary"), hard_breaks=False) or "_No summary in the record._")
        st.subheader("Treatment groups (arms)")
        _arms(tables, nid)
        st.subheader("Eligibility")
        _eligibility(elig, facets)
        st.subheader("Sites and contacts")
        _sites(loaded, nid)
        st.subheader("Record dates")
        _dates(trial)
    with side:
        classes = as_list(facets.get("intervention_classes")) if facets else []
        components.explainer_aside(classes, heading="About this treatment")
        st.markdown("#### Questions for your care team")
        st.markdown(
            "- Could I be eligible for this trial?\n- How far would I need to travel, and how often?\n"
            "- How does it compare with my other options?\n- Who pays for travel and tests?"
        )
