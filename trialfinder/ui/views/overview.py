"""Overview: charts of the trials by treatment type, phase, status and country."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from trialfinder.ui import data
from trialfinder.ui.filters import FilterState, filter_mask
from trialfinder.ui.labels import CLASS_LABELS, PHASE_LABELS, STATUS_LABELS, label

K_SCOPE = "o_scope"
TOP_COUNTRIES = 20


def _bar(df: pd.DataFrame, title: str) -> alt.Chart:
    return (
        alt.Chart(df)
        .mark_bar(color="#1f5f8b")
        .encode(
            x=alt.X("trials:Q", title="Trials"),
            y=alt.Y("name:N", sort="-x", title=None, axis=alt.Axis(labelLimit=220, labelOverlap=False)),
            tooltip=[alt.Tooltip("name:N", title=title), alt.Tooltip("trials:Q", title="Trials")],
        )
        .properties(height=alt.Step(24))
    )


def _chart(df: pd.DataFrame, title: str) -> None:
    if df.empty:
        st.caption("No trials.")
        return
    st.altair_chart(_bar(df, title), width="stretch", height=max(140, 24 * len(df) + 50))


def _counts(members: dict[str, np.ndarray], mask: np.ndarray, labels: dict[str, str]) -> pd.DataFrame:
    rows = [(label(labels, k), int((m & mask).sum())) for k, m in members.items()]
    return pd.DataFrame([r for r in rows if r[1] > 0], columns=["name", "trials"])


def render() -> None:
    loaded = data.load()
    p = loaded.prepared
    st.title("Overview")
    state = st.session_state.get("tf_filter_state")
    scope = st.radio(
        "Trials",
        ["all", "filtered"],
        key=K_SCOPE,
        horizontal=True,
        format_func=lambda s: (
            "All trials in the data" if s == "all" else "Only those matching my filters on Find trials"
        ),
        disabled=not isinstance(state, FilterState),
    )
    mask = np.ones(len(p), dtype=bool)
    if scope == "filtered" and isinstance(state, FilterState):
        mask = filter_mask(p, state)
    st.caption(f"{int(mask.sum()):,} trials. A trial with several treatment types or phases counts in each.")

    status_counts = pd.Series(p.status[mask]).value_counts()
    by_status = pd.DataFrame(
        {"name": [label(STATUS_LABELS, s) for s in status_counts.index], "trials": status_counts.to_numpy()}
    )
    pos = p.sites["pos"].to_numpy()
    in_scope = mask[pos] if len(pos) else np.zeros(0, dtype=bool)
    pairs = p.sites.loc[in_scope, ["country"]].assign(pos=pos[in_scope]).dropna().drop_duplicates()
    country_counts = pairs["country"].astype(str).value_counts().head(TOP_COUNTRIES)
    by_country = pd.DataFrame({"name": country_counts.index, "trials": country_counts.to_numpy()})

    c1, c2 = st.columns(2, gap="large")
    with c1:
        st.subheader("By treatment type")
        _chart(_counts(dict(p.members["classes"]), mask, CLASS_LABELS), "Treatment type")
        st.subheader("By recruiting status")
        _chart(by_status, "Status")
    with c2:
        st.subheader("By phase")
        _chart(_counts(dict(p.members["phases"]), mask, PHASE_LABELS), "Phase")
        st.subheader(f"By country (top {TOP_COUNTRIES}, trials with a site there)")
        _chart(by_country, "Country")
