"""The dashboard's entry point: page setup, navigation, the banners and the disclaimer on every page."""

from __future__ import annotations

import streamlit as st

from trialfinder.errors import NoSnapshotError, TrialFinderError
from trialfinder.ui import components, data, nav

LOADED_KEY = "tf_loaded"


def main() -> None:
    st.set_page_config(
        page_title="trialfinder · mesothelioma trials",
        page_icon=":material/clinical_notes:",
        layout="wide",
        initial_sidebar_state="expanded",
    )
    current = st.navigation(nav.all_pages(), position="top")
    needs_data = current.url_path != nav.PAGES["explainers"].url_path
    try:
        loaded = data.load()
    except NoSnapshotError as exc:
        if needs_data:
            components.empty_state(exc)
            components.disclaimer()
            return
        loaded = None
    except TrialFinderError as exc:  # SnapshotError: corrupt or missing files
        if needs_data:
            components.snapshot_error(exc)
            components.disclaimer()
            return
        loaded = None
    if loaded is not None:
        components.freshness(loaded)
    current.run()
    components.disclaimer()


def loaded() -> data.Loaded:
    """The current snapshot for a page (``main`` already checked that there is one)."""
    return data.load()
