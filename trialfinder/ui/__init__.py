"""The Streamlit dashboard: pages (``trialfinder/ui/pages``), their views and shared components.

``app.py`` at the repository root only calls :func:`trialfinder.ui.app.main`. Nothing here does
work at import time; the pure parts (``filters``, ``safe``, ``printable``) have no Streamlit state.
"""
