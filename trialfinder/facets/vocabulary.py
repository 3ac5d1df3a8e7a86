"""The curated intervention vocabulary (``trialfinder/data/interventions.toml``), compiled once on
first use (never at import time)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

from trialfinder.errors import DataError
from trialfinder.facets.prefilter import FoldedMatch, Gate, Rx, fold, folded_pattern, folds_exactly

CLASSES: tuple[str, ...] = (
    "checkpoint_inhibitor", "car_t", "other_cell_therapy", "vaccine", "immunomodulator",
    "oncolytic_virus", "other_immunotherapy", "chemotherapy", "targeted_therapy", "radiotherapy",
    "surgery", "other",
)
"""The GUIDE's intervention classes (contract), in display order."""

IMMUNOTHERAPY_CLASSES: frozenset[str] = frozenset(CLASSES[:7])


@dataclass(frozen=True)
class Agent:
    name: str
    cls: str
    mechanism: str
    also: tuple[str, ...]
    cancer_only: bool
    names: tuple[str, ...]  # every name, brand and code name (``name`` is the first)

    @property
    def regex(self) -> re.Pattern[str]:
        """One pattern over every name of the agent (compiled on first use)."""
        return _rx("|".join(_name_regex(n) for n in self.names))


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    cls: str
    mechanism: str
    unless: re.Pattern[str] | None
    cancer_only: bool
    fields: str  # "primary" | "all"
    types: tuple[str, ...]

    @cached_property
    def rx(self) -> Rx:
        """``regex`` with its literal prefilter."""
        return Rx(self.regex)


@dataclass(frozen=True)
class Vocabulary:
    agents: tuple[Agent, ...]
    agent_by_key: dict[str, Agent]
    token_sources: dict[str, tuple[str, bool]]
    """first word of a name → (regex source: alternation of those names, True when the source is
    folded (:func:`~trialfinder.facets.prefilter.fold`) and matched on the folded text)"""
    patterns: tuple[Pattern, ...]
    allergen: re.Pattern[str]
    other: tuple[re.Pattern[str], ...]
    ignore: re.Pattern[str]
    ignore_unless: re.Pattern[str] | None
    token_names: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """first word → the names of ``token_sources[first word]``, in the same order"""
    simple_tokens: frozenset[str] = frozenset()
    """first words whose names are all that one word (``nivolumab``): their matches are exactly the
    words of the folded text equal to them, found without a regex"""
    joined_tokens: frozenset[str] = frozenset()
    """names of several parts written as one word (``BMS-936558`` → ``bms936558``): a word of the folded
    text equal to one of them is that name written without its separators"""
    _token_rx: dict[str, re.Pattern[str]] = field(default_factory=dict, repr=False, compare=False)
    _spans: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def complex_tokens(self) -> frozenset[str]:
        """first words with a name of several words or other characters (searched by regex)"""
        return frozenset(self.token_sources) - self.simple_tokens

    @cached_property
    def ignore_rx(self) -> Rx:
        """``ignore`` with its literal prefilter (searched on the folded text)."""
        return Rx(self.ignore)

    @cached_property
    def ignore_unless_rx(self) -> Rx | None:
        return Rx(self.ignore_unless) if self.ignore_unless is not None else None

    @cached_property
    def allergen_rx(self) -> FoldedRx:
        return FoldedRx(self.allergen)

    @cached_property
    def other_rx(self) -> tuple[FoldedRx, ...]:
        return tuple(FoldedRx(rx) for rx in self.other)

    def pattern_selection(self, cancer: bool, iv_type: str,
                          description: bool) -> tuple[Gate, tuple[Pattern, ...]]:
        """The patterns that apply (in order) to an intervention of this kind, and one prefilter
        for all of them: False when none of them can match the folded text."""
        key = (cancer, iv_type, description)
        sel = self._selections.get(key)
        if sel is None:
            pats = tuple(p for p in self.patterns
                         if (cancer or not p.cancer_only) and (not description or p.fields == "all")
                         and (not p.types or not iv_type or iv_type in p.types))
            same = next((g for g, ps in self._selections.values() if ps == pats), None)
            sel = self._selections[key] = (same or Gate(*(p.rx for p in pats)), pats)
        return sel

    @cached_property
    def _selections(self) -> dict[tuple[bool, str, bool], tuple[Gate, tuple[Pattern, ...]]]:
        return {}

    @cached_property
    def _bodies(self) -> dict[str, tuple[tuple[str, tuple[str, ...]], ...]]:
        """first word → its names as folded parts (the words between spaces/hyphens), longest name
        first, for the names whose parts are plain ASCII: ``(first part, other parts)``"""
        out: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {}
        for k, names in self.token_names.items():
            parts = [[p for p in _SPLIT.split(fold(n).strip()) if p] for n in names]
            if all(n.isascii() and folds_exactly(n) for n in names):
                out[k] = tuple((ps[0], tuple(ps[1:])) for ps in parts)
        return out

    @cached_property
    def agent_regex(self) -> re.Pattern[str]:
        """One alternation over every name, longest first (compiled on first use)."""
        names = sorted(((n, _name_regex(n)) for a in self.agents for n in a.names), key=lambda a: -len(a[0]))
        return _rx("|".join(f"(?:{r})" for _, r in names))

    def token_regex(self, token: str) -> re.Pattern[str] | None:
        """The alternation of the names whose first word is ``token`` (lower case), compiled on first
        use: only the words that occur in the texts ever cost a compilation. It is case-sensitive
        over folded names when ``token_sources[token][1]``, else case-insensitive."""
        rx = self._token_rx.get(token)
        if rx is None:
            entry = self.token_sources.get(token)
            if entry is None:
                return None
            src, folded = entry
            rx = self._token_rx[token] = re.compile(src) if folded else _rx(src)
        return rx


class FoldedRx:
    """A case-insensitive pattern searched as a case-sensitive one on the folded text
    (:func:`~trialfinder.facets.prefilter.folded_pattern`; faster for long alternations of words,
    where a literal prefilter costs more than it saves). ``search(text, fold(text))`` is
    ``pattern.search(text)``."""

    __slots__ = ("_folded", "pattern")

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self._folded = folded_pattern(pattern.pattern, pattern.flags)

    def search(self, text: str, folded: str) -> re.Match[str] | FoldedMatch | None:
        if self._folded is None:
            return self.pattern.search(text)
        m = self._folded.search(folded)
        return FoldedMatch(text, m) if m is not None else None


_SPLIT = re.compile(r"[\s\-]+")
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
"""what the names' word-edge checks ``(?<![A-Za-z0-9])`` / ``(?![A-Za-z0-9])`` test"""
_SEPARATORS = "-‐–"  # and white space: ``[\s\-‐–]`` between the parts of a name


_KEY_SEPARATORS = re.compile(r"[\s\-‐–]+")


def name_key(name: str) -> str:
    """Lower-case name without spaces/hyphens: the key names and matches are compared on."""
    return _KEY_SEPARATORS.sub("", name.lower())


_TOKEN = re.compile(r"[A-Za-z0-9]+")


def first_token(name: str) -> str:
    """Lower-case first alphanumeric run of a name (the key of the matching prefilter)."""
    m = _TOKEN.search(name)
    return m.group(0).lower() if m else ""


class NameMatch:
    """A curated name found in a text, read like ``re.Match``: ``group(0)`` is the text as written."""

    __slots__ = ("_end", "_start", "_text")

    def __init__(self, text: str, start: int, end: int) -> None:
        self._text, self._start, self._end = text, start, end

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end

    def span(self) -> tuple[int, int]:
        return self._start, self._end

    def group(self, index: int = 0) -> str:
        if index != 0:
            raise IndexError("no such group")
        return self._text[self._start:self._end]

    def __repr__(self) -> str:
        return f"NameMatch({self.group(0)!r}, {self._start}, {self._end})"


_SPAN_CACHE = 1 << 15
"""texts whose agent-name spans are kept per vocabulary (the same names and descriptions recur)"""


def agent_matches(vocab: Vocabulary, text: str) -> list[NameMatch]:
    """Every curated agent name in ``text`` (longest match at each position), found through a
    first-word prefilter so that only plausible names are tried.

    Names are matched case-sensitively on the folded text (same positions as ``text``), which finds
    exactly what a case-insensitive match on ``text`` finds. The names are ASCII literals, so the
    alternations' matches are found without a regex (no compilation): a one-word name
    (``vocab.simple_tokens``) matches the folded words equal to it, a longer one is followed part by
    part (:func:`_name_spans`)."""
    spans = vocab._spans.get(text)
    if spans is None:
        spans = _agent_spans(vocab, text)
        if len(vocab._spans) >= _SPAN_CACHE:
            vocab._spans.clear()
        vocab._spans[text] = spans
    return [NameMatch(text, start, stop) for start, stop in spans]


def _agent_spans(vocab: Vocabulary, text: str) -> tuple[tuple[int, int], ...]:
    found: list[tuple[int, int]] = []
    folded = fold(text)
    # the first words of the text (lower case), which decide the names tried, as before
    keys = set(_TOKEN.findall(folded)) if text.isascii() else {t.lower() for t in _TOKEN.findall(text)}
    n = len(folded)
    for key in keys & (vocab.simple_tokens | vocab.joined_tokens):
        size = len(key)
        i = folded.find(key)
        while i >= 0:
            end = i + size
            if (i == 0 or folded[i - 1] not in _ALNUM) and (end == n or folded[end] not in _ALNUM):
                found.append((i, end))
            i = folded.find(key, end)  # an occurrence starting inside this one follows a letter
    bodies = vocab._bodies
    for key in keys & vocab.complex_tokens:
        names = bodies.get(key)
        if names is not None:
            found += _name_spans(folded, names)
            continue
        rx = vocab.token_regex(key)
        if rx is not None:
            found += [m.span() for m in rx.finditer(folded if vocab.token_sources[key][1] else text)]
    found.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    out: list[tuple[int, int]] = []
    end = -1
    for start, stop in found:
        if start >= end:
            out.append((start, stop))
            end = stop
    return tuple(out)


def _name_spans(folded: str, names: tuple[tuple[str, tuple[str, ...]], ...]) -> list[tuple[int, int]]:
    """What ``finditer`` of the token's alternation (:func:`_names_regex`) finds in a folded text,
    without a regex: at each start (leftmost first, after the previous match) the first name in
    order whose parts follow one another (with at most one space or hyphen between them) and that ends
    at a word edge. A part never starts with a space or hyphen, so each name matches in one way only."""
    n = len(folded)
    starts: set[int] = set()
    for first in {f for f, _ in names}:
        i = folded.find(first)
        while i >= 0:
            if i == 0 or folded[i - 1] not in _ALNUM:
                starts.add(i)
            i = folded.find(first, i + 1)
    out: list[tuple[int, int]] = []
    pos = 0
    for i in sorted(starts):
        if i < pos:
            continue
        for first, rest in names:
            if not folded.startswith(first, i):
                continue
            end = i + len(first)
            for part in rest:
                sep = end < n and (folded[end].isspace() or folded[end] in _SEPARATORS)
                if sep and folded.startswith(part, end + 1):
                    end += 1 + len(part)
                elif folded.startswith(part, end):
                    end += len(part)
                else:
                    break
            else:
                if end == n or folded[end] not in _ALNUM:
                    out.append((i, end))
                    pos = end
                    break
    return out


def _name_body(name: str) -> str:
    parts = re.split(r"[\s\-]+", name.strip())
    return r"[\s\-‐–]?".join(re.escape(p) for p in parts if p)


def _name_regex(name: str) -> str:
    return rf"(?<![A-Za-z0-9]){_name_body(name)}(?![A-Za-z0-9])"


def _names_regex(bodies: list[str]) -> str:
    """One alternation of name bodies, in order, between the word-edge checks: the same matches as
    ``"|".join(f"(?:{_name_regex(n)})" ...)`` (the engine backtracks into the alternation when the
    check after a name fails) but half the size to compile."""
    return r"(?<![A-Za-z0-9])(?:" + "|".join(bodies) + r")(?![A-Za-z0-9])"


@lru_cache(maxsize=1024)
def _rx(src: str) -> re.Pattern[str]:
    return re.compile(src, re.IGNORECASE)


def build(data: dict[str, Any]) -> Vocabulary:
    """Compile a parsed vocabulary document; raises :class:`DataError` on unknown classes."""
    agents: list[Agent] = []
    by_key: dict[str, Agent] = {}
    all_names: list[str] = []
    for entry in data.get("agent", []):
        cls = entry["class"]
        also = tuple(entry.get("also", ()))
        for c in (cls, *also):
            if c not in CLASSES:
                raise DataError(f"interventions vocabulary: unknown class {c!r} for {entry['names'][0]!r}")
        names = [n for n in entry["names"] if n.strip()]
        agent = Agent(names[0], cls, entry.get("mechanism", ""), also, bool(entry.get("cancer_only")),
                      tuple(names))
        agents.append(agent)
        for n in names:
            by_key.setdefault(name_key(n), agent)
            all_names.append(n)
    all_names.sort(key=lambda n: -len(n))  # longest first: the first alternative that fits wins
    by_token: dict[str, list[str]] = {}
    for n in all_names:
        by_token.setdefault(first_token(n), []).append(n)
    token_sources: dict[str, tuple[str, bool]] = {}
    simple: set[str] = set()
    for k, names_ in by_token.items():
        if all(fold(n.strip()) == k and folds_exactly(n) for n in names_):
            simple.add(k)
        if all(folds_exactly(n) for n in names_):
            token_sources[k] = (_names_regex([_name_body(fold(n)) for n in names_]), True)
        else:
            token_sources[k] = (_names_regex([_name_body(n) for n in names_]), False)
    patterns = []
    for p in data.get("pattern", []):
        if p["class"] not in CLASSES:
            raise DataError(f"interventions vocabulary: unknown class {p['class']!r} in a pattern")
        patterns.append(Pattern(
            _rx(p["regex"]), p["class"], p.get("mechanism", ""),
            _rx(p["unless"]) if p.get("unless") else None, bool(p.get("cancer_only")),
            p.get("fields", "primary"), tuple(p.get("types", ())),
        ))
    others = [_rx(o["regex"]) for o in data.get("other", [])]
    if not others:
        raise DataError("interventions vocabulary: no [[other]] entries")
    ign = data.get("ignore", [{}])[0]
    return Vocabulary(
        agents=tuple(agents),
        agent_by_key=by_key,
        token_sources=token_sources,
        patterns=tuple(patterns),
        allergen=others[0],
        other=tuple(others[1:]),
        ignore=_rx(ign.get("regex", r"\bplacebo\b")),
        ignore_unless=_rx(ign["unless"]) if ign.get("unless") else None,
        token_names={k: tuple(v) for k, v in by_token.items()},
        simple_tokens=frozenset(simple),
        joined_tokens=frozenset(
            k for n in all_names
            if (k := name_key(n)) != first_token(n) and k.isascii() and k.isalnum() and k not in simple
        ),
    )


@lru_cache(maxsize=1)
def load() -> Vocabulary:
    """The packaged vocabulary."""
    text = resources.files("trialfinder").joinpath("data/interventions.toml").read_text(encoding="utf-8")
    try:
        return build(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, KeyError, re.error) as exc:
        raise DataError(f"interventions vocabulary is invalid: {exc}") from exc


def lookup(name: str) -> Agent | None:
    """The vocabulary entry for a drug name, brand or code name (``"Opdivo"`` → nivolumab)."""
    vocab = load()
    agent = vocab.agent_by_key.get(name_key(name))
    if agent:
        return agent
    ms = agent_matches(vocab, name)
    return vocab.agent_by_key.get(name_key(ms[0].group(0))) if ms else None
