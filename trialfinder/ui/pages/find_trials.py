"""Streamlit page script, run by `st.navigation` (see trialfinder/ui/nav.py); not meant to be imported."""

from trialfinder.ui.views import find

find.render()
