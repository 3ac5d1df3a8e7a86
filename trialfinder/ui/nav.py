"""The dashboard's pages: one registry used by ``st.navigation`` and by links between pages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage

PAGES_DIR = Path(__file__).resolve().parent / "pages"


@dataclass(frozen=True)
class PageSpec:
    file: str
    title: str
    icon: str
    url_path: str
    default: bool = False

    @property
    def path(self) -> Path:
        return PAGES_DIR / self.file


PAGES: dict[str, PageSpec] = {
    "find": PageSpec("find_trials.py", "Find trials", ":material/search:", "find", default=True),
    "detail": PageSpec("trial_detail.py", "Trial details", ":material/description:", "trial"),
    "shortlist": PageSpec("shortlist.py", "Shortlist", ":material/bookmark:", "shortlist"),
    "explainers": PageSpec("explainers.py", "Explainers", ":material/menu_book:", "explainers"),
    "whats_new": PageSpec("whats_new.py", "What's new", ":material/update:", "whats-new"),
    "overview": PageSpec("overview.py", "Overview", ":material/bar_chart:", "overview"),
}


def page(name: str) -> StreamlitPage:
    spec = PAGES[name]
    return st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=spec.default)


def all_pages() -> list[StreamlitPage]:
    return [page(n) for n in PAGES]
