"""Plain-language explainers shipped as markdown files in this package.

Each file starts with ``# Title``, then a one-paragraph summary (shown beside search results), then
the body; it ends with a ``Last reviewed: YYYY-MM-DD`` line. Every sentence with a number carries a
link to its source (checked by ``tests/unit/test_explainers.py``). The glossary's ``## Term``
sections double as tooltips for the dashboard's filters.

Files are read on demand (never at import time) with :mod:`importlib.resources`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from trialfinder.errors import NotFoundError

#: explainer name → title, in the order the Explainers page shows them
EXPLAINERS: dict[str, str] = {
    "checkpoint_inhibitors": "Checkpoint inhibitors",
    "cell_therapy": "CAR-T and other cell therapy",
    "vaccines": "Cancer vaccines",
    "immunomodulators": "Immunomodulators",
    "oncolytic_viruses": "Oncolytic viruses",
    "staging": "Staging: pleural and peritoneal",
    "glossary": "Glossary",
}

#: intervention class (facet vocabulary) → explainer name
CLASS_EXPLAINER: dict[str, str] = {
    "checkpoint_inhibitor": "checkpoint_inhibitors",
    "car_t": "cell_therapy",
    "other_cell_therapy": "cell_therapy",
    "vaccine": "vaccines",
    "immunomodulator": "immunomodulators",
    "oncolytic_virus": "oncolytic_viruses",
}

_REVIEWED_RE = re.compile(r"Last reviewed:\s*(\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True)
class Explainer:
    name: str
    title: str
    summary: str
    body: str  # the markdown after the title line
    last_reviewed: str | None
    text: str  # the whole file

    @property
    def source_urls(self) -> list[str]:
        return re.findall(r"\]\((https?://[^)\s]+)\)", self.text)


def read_text(name: str) -> str:
    """The raw markdown of explainer ``name``. Raises :class:`NotFoundError` for an unknown name."""
    if name not in EXPLAINERS:
        raise NotFoundError(f"no explainer called {name!r}")
    return (resources.files(__name__) / f"{name}.md").read_text(encoding="utf-8")


def parse(name: str, text: str) -> Explainer:
    """Split one explainer file into title, summary (first paragraph) and body."""
    lines = text.strip().splitlines()
    title = EXPLAINERS.get(name, name)
    if lines and lines[0].startswith("# "):
        title = lines[0][2:].strip()
        lines = lines[1:]
    body = "\n".join(lines).strip()
    summary = body.split("\n\n", 1)[0].strip() if body else ""
    m = _REVIEWED_RE.search(text)
    return Explainer(name=name, title=title, summary=summary, body=body,
                     last_reviewed=m.group(1) if m else None, text=text)


@cache
def load(name: str) -> Explainer:
    """One explainer, parsed (cached: the files ship with the package and do not change)."""
    return parse(name, read_text(name))


def load_all() -> list[Explainer]:
    return [load(n) for n in EXPLAINERS]


def for_classes(classes: list[str] | tuple[str, ...] | set[str]) -> list[Explainer]:
    """The explainers for these intervention classes, without repeats, in page order."""
    wanted = {CLASS_EXPLAINER[c] for c in classes if c in CLASS_EXPLAINER}
    return [load(n) for n in EXPLAINERS if n in wanted]


@lru_cache(maxsize=1)
def glossary() -> dict[str, str]:
    """Glossary term (lower case) → its definition as plain markdown, for tooltips."""
    text = read_text("glossary")
    terms: dict[str, str] = {}
    for block in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        head, _, rest = block.partition("\n")
        definition = rest.strip().split("\n\n", 1)[0].strip()
        terms[head.strip().lower()] = definition
    return terms


def term(name: str) -> str:
    """The glossary definition of ``name`` (case-insensitive); raises :class:`NotFoundError`."""
    try:
        return glossary()[name.lower()]
    except KeyError:
        raise NotFoundError(f"no glossary entry for {name!r}") from None
