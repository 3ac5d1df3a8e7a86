"""trialfinder dashboard: `streamlit run app.py` (pages and components live in trialfinder/ui)."""

from trialfinder.ui.app import main

main()
