"""Shortlist: the trials the user picked, with CSV (export contract) and printable downloads."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from trialfinder import export
from trialfinder.ui import components, data, nav
from trialfinder.ui.labels import CLASS_LABELS, STATUS_LABELS, as_list, label, phases_text
from trialfinder.ui.printable import printable_html
from trialfinder.ui.safe import safe_inline


def render() -> None:
    loaded = data.load()
    st.title("My shortlist")
    ids = components.shortlist()
    trials = loaded.prepared.trials
    known = set(trials["nct_id"].astype(str))
    gone = [n for n in ids if n not in known]
    if gone:
        st.warning(
            f"No longer in the current data: {safe_inline(', '.join(gone))}. They stay on the list; check "
            "them on ClinicalTrials.gov.",
            icon=":material/info:",
        )
    if not ids:
        st.info(
            "Your shortlist is empty. On **Find trials**, choose a trial and press **Add to shortlist**, "
            "or use the button on a trial's details page.",
            icon=":material/bookmark:",
        )
        st.page_link(nav.page("find"), label="Go to Find trials", icon=":material/search:")
        return
    st.caption("The shortlist lives in this browser tab only: download it to keep it.")

    rows = trials.set_index(trials["nct_id"].astype(str))
    present = [n for n in ids if n in known]
    for n in present:
        r = rows.loc[n]
        with st.container(border=True):
            c1, c2, c3 = st.columns([6, 1.3, 1.3], vertical_alignment="center")
            c1.markdown(
                f"**{safe_inline(n)}** · {safe_inline(label(STATUS_LABELS, r['overall_status']))} · "
                f"{safe_inline(phases_text(r['phases']))}  \n"
                + "".join(
                    f":blue-badge[{safe_inline(label(CLASS_LABELS, c))}] "
                    for c in as_list(r["intervention_classes"])
                )
            )
            c1.text(str(r["title"]) if pd.notna(r["title"]) else "")
            if c2.button("Details", key=f"s_open_{n}", icon=":material/description:", width="stretch"):
                components.open_detail(n)
            if c3.button("Remove", key=f"s_rm_{n}", icon=":material/delete:", width="stretch"):
                components.remove_from_shortlist(n)
                st.rerun()

    st.subheader("Take it with you")
    snap = loaded.snapshot
    stamp = str(snap.manifest.get("data_timestamp") or "")[:10]
    frame = export.build_export_frame(snap, nct_ids=present)
    csv_bytes = export.to_csv_bytes(frame)
    page = printable_html(snap.tables, present, data_as_of=stamp)
    c1, c2, c3 = st.columns(3)
    c1.download_button(
        "Download spreadsheet (CSV)",
        csv_bytes,
        file_name="trial-shortlist.csv",
        mime="text/csv",
        icon=":material/download:",
        type="primary",
        width="stretch",
        key="s_csv",
        on_click="ignore",
    )
    c2.download_button(
        "Download printable summary",
        page.encode("utf-8"),
        file_name="trial-shortlist.html",
        mime="text/html",
        icon=":material/print:",
        width="stretch",
        key="s_html",
        on_click="ignore",
    )
    if c3.button("Clear the shortlist", icon=":material/delete_sweep:", width="stretch", key="s_clear"):
        st.session_state[components.SHORTLIST_KEY] = []
        st.rerun()
    st.caption(
        "The spreadsheet opens in Excel, Numbers or LibreOffice (one row per trial, with the facts and the "
        "registry sentences behind them). The printable summary has one page per trial: open it in your "
        "browser and print it, or save it as PDF, to take to the clinic."
    )
