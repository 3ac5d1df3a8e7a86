"""What's new: what changed in the latest refresh (new trials, status changes, sites), for navigators."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from trialfinder.ui import data
from trialfinder.ui.labels import CHANGE_LABELS, STATUS_LABELS, label
from trialfinder.ui.safe import is_missing, registry_url, safe_inline

K_KINDS = "w_kinds"


def _pretty(field: object, value: object) -> str:
    if is_missing(value):
        return ""
    if str(field) in ("overall_status", "site_status", "status"):
        return label(STATUS_LABELS, value)
    return str(value)


def _when(created_at: object) -> str:
    """``2026-11-21T14:42:47Z`` → ``21 November 2026, 14:42 UTC`` (anything unreadable is shown inertly)."""
    if is_missing(created_at):
        return "unknown time"
    stamp = pd.to_datetime(str(created_at), utc=True, errors="coerce")
    if pd.isna(stamp):
        return safe_inline(created_at) or "unknown time"
    return f"{stamp:%-d %B %Y, %H:%M} UTC"


def render() -> None:
    loaded = data.load()
    st.title("What's new")
    manifest = loaded.snapshot.manifest
    changes = loaded.snapshot.tables.get("changes")
    st.caption(
        f"Changes in the latest refresh ({_when(manifest.get('created_at'))}) "
        "compared with the refresh before it."
    )
    if changes is None or changes.empty:
        st.info(
            "Nothing to compare yet: this is the first copy of the data, or nothing changed since the last "
            "refresh.",
            icon=":material/update:",
        )
        return
    counts = changes["change"].astype(str).value_counts()
    kinds = [k for k in CHANGE_LABELS if k in counts.index] + [
        k for k in counts.index if k not in CHANGE_LABELS
    ]
    cols = st.columns(min(len(kinds), 4) or 1)
    for i, k in enumerate(kinds):
        cols[i % len(cols)].metric(safe_inline(label(CHANGE_LABELS, k)), f"{int(counts[k]):,}")
    chosen = st.multiselect(
        "Show", kinds, default=kinds, key=K_KINDS, format_func=lambda k: label(CHANGE_LABELS, k)
    )
    view = changes[changes["change"].astype(str).isin(chosen)]
    titles = loaded.prepared.trials.set_index(loaded.prepared.trials["nct_id"].astype(str))["title"]
    ids = view["nct_id"].astype(str)
    table = pd.DataFrame({
        "Change": view["change"].map(lambda k: label(CHANGE_LABELS, k)).to_numpy(),
        "Trial": [registry_url(n) + "#" + str(titles.get(n, n)) for n in ids],
        "NCT ID": ids.to_numpy(),
        "What": view["field"].astype("string").fillna("").to_numpy(),
        "Before": [_pretty(f, v) for f, v in zip(view["field"], view["old"], strict=True)],
        "After": [_pretty(f, v) for f, v in zip(view["field"], view["new"], strict=True)],
    })  # fmt: skip
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "Trial": st.column_config.LinkColumn(
                "Trial (opens ClinicalTrials.gov)",
                display_text=r"https://clinicaltrials\.gov/study/NCT\d{8}#(.*)$",
                width="large",
            )
        },
    )
