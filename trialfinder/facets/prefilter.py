"""Cheap literal prefilters for the facet regexes.

Most criteria items are irrelevant to most rules, and a case-insensitive search of a long alternation
costs far more than a few substring tests. :func:`anchors` reads a compiled pattern and returns
literal strings ("anchors") at least one of which occurs, case-folded, in every text the pattern can
match; :class:`Rx` skips the regex when none occurs in the folded text (:func:`fold`). The result
of ``Rx.search`` is always exactly ``pattern.search(text)``: the prefilter only skips searches that
cannot match.

Folding follows the regex engine's case-insensitive rule (simple lower case plus the engine's extra
case pairs such as ``ſ``/``s`` and ``ı``/``i``), so a character the engine treats as equal to a
pattern literal folds to the same character as that literal.
"""

from __future__ import annotations

import re
import re._casefix as _casefix  # the engine's own table of extra case pairs
import re._constants as _c
import re._parser as _parser
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any


def _canon_table() -> dict[int, int]:
    """Map every character of one extra-case class (``s``/``ſ``, ``i``/``ı``, ``µ``/``μ`` ...) to
    the class's smallest member."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for a, others in _casefix._EXTRA_CASES.items():
        for b in others:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}


_CANON = _canon_table()
_DOTTED_I = {0x130: "i"}  # str.lower() gives "i̇" (two characters); the engine's simple lower case is "i"


def fold(text: str) -> str:
    """``text`` case-folded the way the regex engine compares characters (for substring tests only:
    positions may differ from ``text`` for a few non-ASCII characters)."""
    if text.isascii():
        return text.lower()
    return text.translate(_DOTTED_I).lower().translate(_CANON)


Anchors = frozenset[str] | None


def _best(cands: list[frozenset[str]]) -> Anchors:
    if not cands:
        return None
    return max(cands, key=lambda s: (min(len(x) for x in s), -len(s)))


def _seq(items: Iterable[tuple[Any, Any]]) -> Anchors:
    """Anchors of a sequence: the most selective of its literal runs and required sub-parts."""
    cands: list[frozenset[str]] = []
    run: list[str] = []

    def close() -> None:
        if run:
            cands.append(frozenset({fold("".join(run))}))
            run.clear()

    for op, av in items:
        if op is _c.LITERAL:
            ch = chr(av)
            if len(fold(ch)) == 1:
                run.append(ch)
                continue
            close()
            continue
        close()
        sub: Anchors = None
        if op is _c.SUBPATTERN:
            sub = _seq(av[3])
        elif op is _c.ATOMIC_GROUP:
            sub = _seq(av)
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            if av[0] >= 1:
                sub = _seq(av[2])
        elif op is _c.BRANCH:
            alts = [_seq(alt) for alt in av[1]]
            if all(a is not None for a in alts):
                sub = frozenset().union(*alts)  # type: ignore[arg-type]
        # AT, IN, ANY, CATEGORY, NOT_LITERAL, lookarounds, group references: no anchor (safe)
        if sub:
            cands.append(sub)
    close()
    return _best(cands)


@cache
def anchors(pattern: str, flags: int = 0) -> Anchors:
    """Folded literals one of which occurs in every match of ``pattern`` (``None``: no such set)."""
    found = _seq(_parser.parse(pattern, flags))
    if found is not None and any(not a for a in found):
        return None
    return found


class Rx:
    """A compiled pattern with a literal prefilter; ``search(text, folded)`` equals
    ``pattern.search(text)`` where ``folded`` is ``fold(text)``."""

    __slots__ = ("_anchors", "pattern")

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self._anchors: Anchors | bool = False  # False: not computed yet (computed on first use)

    @property
    def anchors(self) -> Anchors:
        if self._anchors is False:
            self._anchors = anchors(self.pattern.pattern, self.pattern.flags)
        return self._anchors  # type: ignore[return-value]

    def possible(self, folded: str) -> bool:
        """False when the pattern cannot match the text whose fold is ``folded``."""
        a = self.anchors
        if a is None:
            return True
        for s in a:  # noqa: SIM110 (a plain loop is faster than any() over a generator)
            if s in folded:
                return True
        return False

    def search(self, text: str, folded: str | None = None) -> re.Match[str] | None:
        """``pattern.search(text)``; with ``folded`` (``fold(text)``) skipped when it cannot match."""
        if folded is not None and not self.possible(folded):
            return None
        return self.pattern.search(text)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.pattern.finditer(text)
