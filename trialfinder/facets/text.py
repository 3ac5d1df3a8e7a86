"""Per-trial text view over the normalized tables, and criteria segmentation.

Everything here is pure. Evidence returned by the facets is always a slice of one of the strings
held by :class:`TrialText` (so it occurs verbatim in the record as normalized).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import pandas as pd
import pyarrow as pa

from trialfinder.facets.prefilter import Rx, fold

Section = Literal["inclusion", "exclusion", "other", "title"]


@dataclass(frozen=True)
class Intervention:
    type: str
    name: str
    description: str
    other_names: tuple[str, ...]
    arm_labels: tuple[str, ...]


@dataclass(frozen=True)
class Arm:
    label: str
    type: str
    description: str
    intervention_names: tuple[str, ...]


@dataclass(frozen=True)
class TrialText:
    """The text fields of one trial that facets read (see each facet's ``reads``)."""

    nct_id: str
    title: str = ""
    official_title: str = ""
    brief_summary: str = ""
    conditions: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    mesh_conditions: tuple[str, ...] = ()
    mesh_interventions: tuple[str, ...] = ()
    interventions: tuple[Intervention, ...] = ()
    arms: tuple[Arm, ...] = ()
    criteria: str = ""
    inclusion: str = ""
    exclusion: str = ""
    _texts: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def all_texts(self) -> tuple[str, ...]:
        """Every string of the record a facet may quote (for the verbatim-evidence check)."""
        out: list[str] = [self.title, self.official_title, self.brief_summary, self.criteria,
                          self.inclusion, self.exclusion]
        out += list(self.conditions) + list(self.keywords) + list(self.mesh_conditions)
        out += list(self.mesh_interventions)
        for iv in self.interventions:
            out += [iv.name, iv.description, *iv.other_names]
        for arm in self.arms:
            out += [arm.label, arm.description]
        return tuple(t for t in out if t)

    def contains(self, piece: str) -> bool:
        return any(piece in t for t in self.all_texts())


def _s(value: Any) -> str:
    if type(value) is str:
        return value
    if value is None or value is pd.NA:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def _l(value: Any) -> tuple[str, ...]:
    if value is None or value is pd.NA:
        return ()
    if isinstance(value, str):
        return (value,)
    try:
        return tuple(_s(v) for v in value if _s(v))
    except TypeError:
        return ()


_TRIAL_COLUMNS = ("nct_id", "title", "official_title", "brief_summary", "conditions", "keywords",
                  "mesh_conditions", "mesh_interventions")
_INTERVENTION_COLUMNS = ("nct_id", "idx", "type", "name", "description", "other_names", "arm_labels")
_ARM_COLUMNS = ("nct_id", "label", "type", "description", "intervention_names")
_ELIGIBILITY_COLUMNS = ("nct_id", "criteria", "inclusion", "exclusion")


def _records(df: pd.DataFrame, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows of ``df`` as dicts of plain Python values, only the ``columns`` the facets read
    (converted column-wise through Arrow; row-wise when Arrow cannot type a column)."""
    part = df[[c for c in columns if c in df.columns]]
    try:
        return pa.Table.from_pandas(part, preserve_index=False).to_pylist()
    except (pa.ArrowException, TypeError, ValueError):
        return [{str(k): v for k, v in rec.items()} for rec in part.to_dict("records")]


def _rows(df: pd.DataFrame | None, columns: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    if df is None or df.empty:
        return out
    for rec in _records(df, columns):
        out.setdefault(_s(rec.get("nct_id")), []).append(rec)
    return out


def iter_trials(tables: Mapping[str, pd.DataFrame]) -> Iterator[TrialText]:
    """One :class:`TrialText` per row of ``tables["trials"]`` (other tables are optional)."""
    trials = tables.get("trials")
    if trials is None or trials.empty:
        return
    ivs = _rows(tables.get("interventions"), _INTERVENTION_COLUMNS)
    arms = _rows(tables.get("arms"), _ARM_COLUMNS)
    elig = _rows(tables.get("eligibility"), _ELIGIBILITY_COLUMNS)
    for rec in _records(trials, _TRIAL_COLUMNS):
        nct = _s(rec.get("nct_id"))
        iv_rows = sorted(ivs.get(nct, []), key=lambda r: int(r.get("idx") or 0))
        e = (elig.get(nct) or [{}])[0]
        yield TrialText(
            nct_id=nct,
            title=_s(rec.get("title")),
            official_title=_s(rec.get("official_title")),
            brief_summary=_s(rec.get("brief_summary")),
            conditions=_l(rec.get("conditions")),
            keywords=_l(rec.get("keywords")),
            mesh_conditions=_l(rec.get("mesh_conditions")),
            mesh_interventions=_l(rec.get("mesh_interventions")),
            interventions=tuple(
                Intervention(_s(r.get("type")).upper(), _s(r.get("name")), _s(r.get("description")),
                             _l(r.get("other_names")), _l(r.get("arm_labels")))
                for r in iv_rows
            ),
            arms=tuple(
                Arm(_s(r.get("label")), _s(r.get("type")), _s(r.get("description")),
                    _l(r.get("intervention_names")))
                for r in arms.get(nct, [])
            ),
            criteria=_s(e.get("criteria")),
            inclusion=_s(e.get("inclusion")),
            exclusion=_s(e.get("exclusion")),
        )


# ------------------------------------------------------------------------------------ segmentation

@dataclass(frozen=True)
class Item:
    """One criterion (a bullet, a line or a sentence) with the section it belongs to."""

    text: str  # verbatim slice of the source string, stripped
    section: Section
    flat: str = field(init=False, repr=False, compare=False)
    """The text with runs of whitespace collapsed (for matching only; evidence uses ``text``)."""
    folded: str = field(init=False, repr=False, compare=False)
    """``fold(flat)``: for the literal prefilters (:mod:`trialfinder.facets.prefilter`)."""

    def __post_init__(self) -> None:
        t = self.text
        # " ".join(t.split()) equals _WS.sub(" ", t) when t is stripped, and is faster
        flat = _WS.sub(" ", t) if t[:1].isspace() or t[-1:].isspace() else " ".join(t.split())
        object.__setattr__(self, "flat", flat)
        object.__setattr__(self, "folded", fold(flat))


_WS = re.compile(r"\s+")
_HEADING = re.compile(r"^\W*(?:key\s+|main\s+|general\s+|specific\s+)?(inclusion|exclusion)\s+crit", re.I)
# Both split patterns start with the character they split at (whitespace; "." or ";") and check the
# characters before it with lookbehinds that include that character: the regex engine then scans for
# the character quickly instead of trying every lookbehind at every position. Same splits as
# r"(?<=[a-z0-9)\].%])\s+(?=(?:No|...)\b)" and
# r"(?<![ (]i\.e)(?<![ (]e\.g)(?<!\bvs)(?<!\betc)(?<!\bincl)(?<!\bapprox)(?<=[a-z0-9)\]%])[.;]\s+(?=[A-Z(])".
_PDQ_SPLIT = re.compile(
    r"\s(?<=[a-z0-9)\].%]\s)\s*(?=(?:No|At least|Prior|Concurrent|Recovered|Must|See|Not|More than|Less than|"
    r"Biologic therapy|Chemotherapy|Endocrine therapy|Radiotherapy|Surgery|Other|Age|Performance status|"
    r"Life expectancy|Hematopoietic|Hepatic|Renal|Cardiovascular|Pulmonary|PATIENT CHARACTERISTICS|"
    r"PRIOR CONCURRENT THERAPY|DISEASE CHARACTERISTICS)\b)"
)
_SENT_SPLIT = re.compile(r"[.;](?<![ (]i\.e[.;])(?<![ (]e\.g[.;])(?<!\bvs[.;])(?<!\betc[.;])(?<!\bincl[.;])"
                         r"(?<!\bapprox[.;])(?<=[a-z0-9)\]%][.;])\s+(?=[A-Z(])")
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)]|[a-z][.)]|[ivx]{1,4}[.)])\s+")


_LINE_SPLIT = Rx(re.compile(r"\n\s*\n|\n(?=\s*(?:[-*•·]|\d{1,2}[.)])\s)"))
_SENT_SPLIT_RX = Rx(_SENT_SPLIT)
_PDQ_SPLIT_RX = Rx(_PDQ_SPLIT)


def _pieces(text: str) -> Iterator[str]:
    """Split ``text`` into stripped verbatim pieces: lines, then sentences, then PDQ clauses."""
    for line in _LINE_SPLIT.split(text):
        for sent in _SENT_SPLIT_RX.split(line):
            for clause in _PDQ_SPLIT_RX.split(sent):
                piece = clause.strip()
                if piece:
                    yield piece


@lru_cache(maxsize=4096)
def segment(criteria: str, inclusion: str = "", exclusion: str = "") -> tuple[Item, ...]:
    """Criteria items with their section. Uses the inclusion/exclusion columns when the normalizer
    split the text, else the headings inside ``criteria``; text outside both is ``other``."""
    items: list[Item] = []
    if inclusion or exclusion:
        for sec, txt in (("inclusion", inclusion), ("exclusion", exclusion)):
            for p in _pieces(txt):
                items.append(Item(p, sec))  # type: ignore[arg-type]
        return tuple(items)
    section: Section = "other"
    for p in _pieces(criteria):
        m = _HEADING.match(p)
        if m:
            section = "inclusion" if m.group(1).lower() == "inclusion" else "exclusion"
            rest = p[m.end():]
            rest = re.sub(r"^[a-z]*\s*:?\s*", "", rest)
            if len(rest) > 3 and rest in p:
                items.append(Item(rest.strip(), section))
            continue
        items.append(Item(p, section))
    return tuple(items)


def clean_piece(text: str) -> str:
    """Strip a leading bullet/number and surrounding spaces, keeping a verbatim slice."""
    m = _BULLET.match(text)
    return text[m.end():].strip() if m else text.strip()


CANCER_RE = re.compile(
    r"cancer|carcinom|tumou?r|neoplas|lymphom|leuk[a]?emi|melanom|sarcom|mesothelio|myelom|gliom|glioblastom|"
    r"malignan|metasta|oncolog|blastoma|DIPG|pontine glioma|adenocarcinom",
    re.I,
)
_NOT_CANCER = re.compile(r"tumou?r lysis syndrome", re.I)


@lru_cache(maxsize=1 << 15)
def _names_cancer(s: str) -> bool:
    return bool(CANCER_RE.search(s)) and not _NOT_CANCER.fullmatch(s.strip())


def is_cancer_trial(t: TrialText) -> bool:
    """Conditions, MeSH conditions, keywords or titles name a cancer."""
    return any(_names_cancer(s) for s in (*t.conditions, *t.mesh_conditions, *t.keywords, t.title,
                                          t.official_title))


MESO_RE = re.compile(r"mesotheliom|\bMPM\b|\bMPeM\b|malignant pleural disease", re.I)


@lru_cache(maxsize=1 << 15)
def _names_meso(s: str) -> bool:
    return bool(MESO_RE.search(s))


def is_meso_trial(t: TrialText) -> bool:
    return any(_names_meso(s) for s in (*t.conditions, *t.mesh_conditions, *t.keywords, t.title,
                                        t.official_title))
