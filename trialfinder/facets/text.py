"""Per-trial text view over the normalized tables, and criteria segmentation.

Everything here is pure. Evidence returned by the facets is always a slice of one of the strings
held by :class:`TrialText` (so it occurs verbatim in the record as normalized).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, TypeVar

import pandas as pd
import pyarrow as pa

from trialfinder.facets.prefilter import Rx, fold
from trialfinder.normalize import split_criteria

Section = Literal["inclusion", "exclusion", "other", "title"]
_T = TypeVar("_T")


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
    if type(value) is list and set(map(type, value)) <= _STR:  # the usual case: Arrow list<string>
        return tuple(value) if "" not in value else tuple(v for v in value if v)
    if value is None or value is pd.NA:
        return ()
    if isinstance(value, str):
        return (value,)
    try:
        return tuple(_s(v) for v in value if _s(v))
    except TypeError:
        return ()


_STR = frozenset({str})
_TRIAL_COLUMNS = ("nct_id", "title", "official_title", "brief_summary", "conditions", "keywords",
                  "mesh_conditions", "mesh_interventions")
_INTERVENTION_COLUMNS = ("nct_id", "idx", "type", "name", "description", "other_names", "arm_labels")
_ARM_COLUMNS = ("nct_id", "label", "type", "description", "intervention_names")
_ELIGIBILITY_COLUMNS = ("nct_id", "criteria")
"""The table stores the text once; inclusion/exclusion are derived with ``split_criteria`` (the
``inclusion``/``exclusion`` columns of schema-1 snapshots are not read)."""


def _columns(df: pd.DataFrame, columns: tuple[str, ...]) -> dict[str, list[Any]]:
    """The ``columns`` the facets read as lists of plain Python values (``None`` for a missing
    column), converted column-wise through Arrow (through pandas when Arrow cannot type a column)."""
    part = df[[c for c in columns if c in df.columns]]
    try:
        data: dict[str, list[Any]] = pa.Table.from_pandas(part, preserve_index=False).to_pydict()
    except (pa.ArrowException, TypeError, ValueError):
        data = {str(c): part[c].tolist() for c in part.columns}
    return {c: data[c] if c in data else [None] * len(df) for c in columns}


def _strs(values: list[Any]) -> list[str]:
    return [v if type(v) is str else _s(v) for v in values]


def _lists(values: list[Any]) -> list[tuple[str, ...]]:
    return [_l(v) for v in values]


def _group(ids: list[Any], objs: Iterable[_T]) -> dict[str, list[_T]]:
    out: dict[str, list[_T]] = {}
    for nct, obj in zip(_strs(ids), objs, strict=True):
        out.setdefault(nct, []).append(obj)
    return out


def _interventions(df: pd.DataFrame | None) -> dict[str, list[tuple[int, Intervention]]]:
    if df is None or df.empty:
        return {}
    c = _columns(df, _INTERVENTION_COLUMNS)
    rows = zip([int(i or 0) for i in c["idx"]], [t.upper() for t in _strs(c["type"])], _strs(c["name"]),
               _strs(c["description"]), _lists(c["other_names"]), _lists(c["arm_labels"]), strict=True)
    return _group(c["nct_id"], ((idx, Intervention(*rest)) for idx, *rest in rows))


def _arms(df: pd.DataFrame | None) -> dict[str, list[Arm]]:
    if df is None or df.empty:
        return {}
    c = _columns(df, _ARM_COLUMNS)
    return _group(c["nct_id"], map(Arm, _strs(c["label"]), _strs(c["type"]), _strs(c["description"]),
                                   _lists(c["intervention_names"])))


def _eligibility(df: pd.DataFrame | None) -> dict[str, tuple[str, str, str]]:
    """NCT ID → (criteria, inclusion, exclusion) of the first eligibility row of each trial."""
    if df is None or df.empty:
        return {}
    c = _columns(df, _ELIGIBILITY_COLUMNS)
    out: dict[str, tuple[str, str, str]] = {}
    for nct, criteria in zip(_strs(c["nct_id"]), _strs(c["criteria"]), strict=True):
        if nct not in out:  # the first row of a trial
            out[nct] = (criteria, *split_criteria(criteria))
    return out


_CHUNK = 4096
"""Trials read into Python objects at a time (with their rows of the other tables): memory stays
bounded however many trials there are."""


def _positions(df: pd.DataFrame | None) -> dict[str, list[int]]:
    """Row positions of each NCT ID in a table, in table order."""
    out: dict[str, list[int]] = {}
    if df is None or df.empty:
        return out
    for i, nct in enumerate(_strs(_columns(df, ("nct_id",))["nct_id"])):
        out.setdefault(nct, []).append(i)
    return out


def _rows_of(df: pd.DataFrame | None, positions: dict[str, list[int]], ids: list[str]) -> pd.DataFrame | None:
    """The rows of ``df`` that belong to ``ids``, in table order within each trial."""
    if df is None or df.empty:
        return None
    take = [i for nct in dict.fromkeys(ids) for i in positions.get(nct, ())]
    if take and take[-1] - take[0] == len(take) - 1 and take == list(range(take[0], take[-1] + 1)):
        return df.iloc[take[0]:take[-1] + 1]  # the usual case (rows in trial order): no copy
    return df.take(take)


def iter_trials(tables: Mapping[str, pd.DataFrame]) -> Iterator[TrialText]:
    """One :class:`TrialText` per row of ``tables["trials"]`` (other tables are optional)."""
    trials = tables.get("trials")
    if trials is None or trials.empty:
        return
    iv_df, arm_df, elig_df = (tables.get(n) for n in ("interventions", "arms", "eligibility"))
    iv_pos, arm_pos, elig_pos = _positions(iv_df), _positions(arm_df), _positions(elig_df)
    for start in range(0, len(trials), _CHUNK):
        c = _columns(trials.iloc[start:start + _CHUNK], _TRIAL_COLUMNS)
        ids = _strs(c["nct_id"])
        yield from _chunk_trials(c, _interventions(_rows_of(iv_df, iv_pos, ids)),
                                 _arms(_rows_of(arm_df, arm_pos, ids)),
                                 _eligibility(_rows_of(elig_df, elig_pos, ids)))


def _chunk_trials(c: dict[str, list[Any]], ivs: dict[str, list[tuple[int, Intervention]]],
                  arms: dict[str, list[Arm]], elig: dict[str, tuple[str, str, str]]) -> Iterator[TrialText]:
    for nct, title, official, summary, conditions, keywords, mesh_c, mesh_i in zip(
            _strs(c["nct_id"]), _strs(c["title"]), _strs(c["official_title"]), _strs(c["brief_summary"]),
            _lists(c["conditions"]), _lists(c["keywords"]), _lists(c["mesh_conditions"]),
            _lists(c["mesh_interventions"]), strict=True):
        criteria, inclusion, exclusion = elig.get(nct, ("", "", ""))
        yield TrialText(
            nct_id=nct, title=title, official_title=official, brief_summary=summary,
            conditions=conditions, keywords=keywords, mesh_conditions=mesh_c, mesh_interventions=mesh_i,
            interventions=tuple(iv for _, iv in sorted(ivs.get(nct, []), key=lambda r: r[0])),
            arms=tuple(arms.get(nct, [])),
            criteria=criteria, inclusion=inclusion, exclusion=exclusion,
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
    r"malignan|metasta|oncolog|blastoma|DIPG|pontine glioma|adenocarcinom|lymphoblastic|\b[BT]-ALL\b|"
    r"(?-i:\b(?:NSCLC|SCLC|HCC|RCC|m?CRC|AML|CLL|CML|MDS|GBM|HNSCC|SCCHN|ESCC|PDAC|TNBC|DLBCL|NHL|m?CRPC|"
    r"GIST|MPM)\b)",
    re.I,
)
"""Words that name a cancer; upper-case acronyms only as written ("NSCLC", "HCC", "AML"), so that a
record whose only cancer word is an acronym (common in website CSV exports) counts as a cancer trial."""
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
