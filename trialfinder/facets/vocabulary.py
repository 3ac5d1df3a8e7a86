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


@dataclass(frozen=True)
class Vocabulary:
    agents: tuple[Agent, ...]
    agent_by_key: dict[str, Agent]
    token_sources: dict[str, str]  # first word of a name → regex source: alternation of those names
    patterns: tuple[Pattern, ...]
    allergen: re.Pattern[str]
    other: tuple[re.Pattern[str], ...]
    ignore: re.Pattern[str]
    ignore_unless: re.Pattern[str] | None
    _token_rx: dict[str, re.Pattern[str]] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def agent_regex(self) -> re.Pattern[str]:
        """One alternation over every name, longest first (compiled on first use)."""
        names = sorted(((n, _name_regex(n)) for a in self.agents for n in a.names), key=lambda a: -len(a[0]))
        return _rx("|".join(f"(?:{r})" for _, r in names))

    def token_regex(self, token: str) -> re.Pattern[str] | None:
        """The alternation of the names whose first word is ``token`` (lower case), compiled on first
        use: only the words that occur in the texts ever cost a compilation."""
        rx = self._token_rx.get(token)
        if rx is None:
            src = self.token_sources.get(token)
            if src is None:
                return None
            rx = self._token_rx[token] = _rx(src)
        return rx


def name_key(name: str) -> str:
    """Lower-case name without spaces/hyphens: the key names and matches are compared on."""
    return re.sub(r"[\s\-‐–]+", "", name.lower())


_TOKEN = re.compile(r"[A-Za-z0-9]+")


def first_token(name: str) -> str:
    """Lower-case first alphanumeric run of a name (the key of the matching prefilter)."""
    m = _TOKEN.search(name)
    return m.group(0).lower() if m else ""


def agent_matches(vocab: Vocabulary, text: str) -> list[re.Match[str]]:
    """Every curated agent name in ``text`` (longest match at each position), found through a
    first-word prefilter so that only plausible names are tried."""
    found: list[re.Match[str]] = []
    seen_tokens: set[str] = set()
    for tok in _TOKEN.findall(text):
        key = tok.lower()
        if key in seen_tokens:
            continue
        seen_tokens.add(key)
        rx = vocab.token_regex(key)
        if rx is not None:
            found += list(rx.finditer(text))
    found.sort(key=lambda m: (m.start(), -(m.end() - m.start())))
    out: list[re.Match[str]] = []
    end = -1
    for m in found:
        if m.start() >= end:
            out.append(m)
            end = m.end()
    return out


def _name_regex(name: str) -> str:
    parts = re.split(r"[\s\-]+", name.strip())
    body = r"[\s\-‐–]?".join(re.escape(p) for p in parts if p)
    return rf"(?<![A-Za-z0-9]){body}(?![A-Za-z0-9])"


@lru_cache(maxsize=1024)
def _rx(src: str) -> re.Pattern[str]:
    return re.compile(src, re.IGNORECASE)


def build(data: dict[str, Any]) -> Vocabulary:
    """Compile a parsed vocabulary document; raises :class:`DataError` on unknown classes."""
    agents: list[Agent] = []
    by_key: dict[str, Agent] = {}
    alts: list[tuple[str, str]] = []
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
            alts.append((n, _name_regex(n)))
    alts.sort(key=lambda a: -len(a[0]))
    by_token: dict[str, list[str]] = {}
    for n, r in alts:
        by_token.setdefault(first_token(n), []).append(r)
    token_sources = {k: "|".join(f"(?:{r})" for r in v) for k, v in by_token.items()}
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
