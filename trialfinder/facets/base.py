"""Facet declarations: each facet names the table fields it reads and returns a value with its
verbatim evidence (like ctrdata's trial-concept functions)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from trialfinder.facets.text import TrialText

EVIDENCE_SEP = " | "
"""Separator between evidence pieces; every piece occurs verbatim in the record."""


@dataclass(frozen=True)
class Result:
    value: Any
    evidence: tuple[str, ...] = ()

    @property
    def evidence_text(self) -> str:
        seen: list[str] = []
        for e in self.evidence:
            if e and e not in seen:
                seen.append(e)
        return EVIDENCE_SEP.join(seen)


@dataclass(frozen=True)
class Facet:
    name: str
    reads: tuple[str, ...]  # "table.column" fields the facet reads
    func: Callable[[TrialText], Result]
    values: Sequence[str] = field(default=())  # allowed values (empty: list of strings)
    doc: str = ""

    def __call__(self, trial: TrialText) -> Result:
        return self.func(trial)


def first_span(rx: Any, text: str) -> str | None:
    m = rx.search(text)
    return m.group(0) if m else None
