"""Cheap literal prefilters for the facet regexes.

Most criteria items are irrelevant to most rules, and a case-insensitive search of a long alternation
costs far more than a few substring tests. :func:`requirement` reads a pattern and returns what every
text the pattern can match contains, as an and/or of case-folded literal strings; :class:`Rx` skips
the regex when the folded text (:func:`fold`) lacks it. The result of ``Rx.search`` is always exactly
``pattern.search(text)``: the prefilter only skips searches that cannot match.

Folding follows the regex engine's case-insensitive rule (simple lower case plus the engine's extra
case pairs such as ``ſ``/``s`` and ``ı``/``i``), so a character the engine treats as equal to a
pattern literal folds to the same character as that literal.
"""

from __future__ import annotations

import re
import re._casefix as _casefix  # the engine's own table of extra case pairs
import re._constants as _c
import re._parser as _parser
from collections.abc import Callable, Iterable, Iterator
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


Req = str | tuple[str, tuple["Req", ...]]
"""What every match of a pattern contains: a folded literal, or ``("and" | "or", parts)``."""


def _combine(op: str, parts: list[Req]) -> Req:
    flat: list[Req] = []
    for p in parts:
        for q in (p[1] if isinstance(p, tuple) and p[0] == op else (p,)):
            if q not in flat:
                flat.append(q)
    if len(flat) == 1:
        return flat[0]
    # cheap tests first; in an "and", the longest literals first (the rarest, most often false)
    flat.sort(key=lambda q: (1, 0) if isinstance(q, tuple) else (0, -len(q) if op == "and" else len(q)))
    return (op, tuple(flat))


def _seq(items: Iterable[tuple[Any, Any]], norm: Callable[[str], str]) -> Req | None:
    """What a sequence requires: all of its literal runs and of its required sub-parts (literals
    normalized with ``norm``: :func:`fold`, or unchanged for case-sensitive patterns)."""
    parts: list[Req] = []
    run: list[str] = []

    def close() -> None:
        if run:
            parts.append(norm("".join(run)))
            run.clear()

    for op, av in items:
        if op is _c.LITERAL:
            ch = chr(av)
            if len(norm(ch)) == 1:
                run.append(ch)
                continue
            close()
            continue
        close()
        sub: Req | None = None
        if op is _c.SUBPATTERN:
            sub = _seq(av[3], norm)
        elif op is _c.ATOMIC_GROUP:
            sub = _seq(av, norm)
        elif op is _c.ASSERT:  # a positive lookaround's text is in the text too
            sub = _seq(av[1], norm)
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            if av[0] >= 1:
                sub = _seq(av[2], norm)
        elif op is _c.BRANCH:
            alts = [_seq(alt, norm) for alt in av[1]]
            if all(a is not None for a in alts):
                sub = _combine("or", alts)  # type: ignore[arg-type]
        elif op is _c.IN and 0 < len(av) <= 4 and all(o is _c.LITERAL for o, _ in av):
            chars = [norm(chr(c)) for _, c in av]  # a small set of characters, e.g. [.;]
            if all(len(c) == 1 for c in chars):
                sub = _combine("or", chars)  # type: ignore[arg-type]
        # AT, other IN, ANY, CATEGORY, NOT_LITERAL, negative lookarounds, group references:
        # nothing required (safe)
        if sub is not None:
            parts.append(sub)
    close()
    return _combine("and", parts) if parts else None


def _case_sensitive(pattern: str, flags: int) -> bool:
    """No IGNORECASE anywhere in the pattern (flag or inline group flag)."""
    parsed = _parser.parse(pattern, flags)
    if parsed.state.flags & re.IGNORECASE:
        return False

    def subpatterns(av: Any) -> Iterator[Any]:
        if isinstance(av, _parser.SubPattern):
            yield av
        elif isinstance(av, (tuple, list)):
            for x in av:
                yield from subpatterns(x)

    def walk(items: Iterable[tuple[Any, Any]]) -> bool:
        for op, av in items:
            if op is _c.SUBPATTERN and (av[1] | av[2]) & re.IGNORECASE:
                return False
            if not all(walk(sp) for sp in subpatterns(av)):
                return False
        return True

    return walk(parsed)


@cache
def requirement(pattern: str, flags: int = 0) -> Req | None:
    """What every match of ``pattern`` contains (``None``: nothing usable): folded literals, to be
    tested on :func:`fold` of the text, or, for case-sensitive patterns (:func:`case_sensitive`),
    literals as written, to be tested on the text itself."""
    norm = _same if case_sensitive(pattern, flags) else fold
    return _seq(_parser.parse(pattern, flags), norm)


def _same(text: str) -> str:
    return text


@cache
def case_sensitive(pattern: str, flags: int = 0) -> bool:
    return _case_sensitive(pattern, flags)


def _expr(req: Req) -> str:
    if isinstance(req, str):
        return f"{req!r} in f"
    op, parts = req
    return "(" + f" {op} ".join(_expr(p) for p in parts) + ")"


@cache
def predicate(pattern: str, flags: int = 0) -> Callable[[str], bool] | None:
    """A function of the folded text that is False when ``pattern`` cannot match (``None``: no
    prefilter). It is generated from :func:`requirement` as one boolean expression of substring
    tests, e.g. ``lambda f: ('metastatic' in f or 'stage' in f)``: the fastest form CPython runs."""
    req = requirement(pattern, flags)
    if req is None:
        return None
    test: Callable[[str], bool] = eval(f"lambda f: {_expr(req)}")  # noqa: S307 (own literals, repr-quoted)
    return test


def _always(folded: str) -> bool:
    return True


class Rx:
    """A compiled pattern with a literal prefilter; ``search(text, folded)`` equals
    ``pattern.search(text)`` where ``folded`` is ``fold(text)``."""

    __slots__ = ("_test", "pattern")

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self._test: Callable[[str], bool] | None = self._first_test  # the predicate, built on first use

    def _first_test(self, folded: str) -> bool:
        if case_sensitive(self.pattern.pattern, self.pattern.flags):
            self._test = _always  # its literals are tested on the text itself: see ``possible_in``
        else:
            self._test = predicate(self.pattern.pattern, self.pattern.flags) or _always
        return self._test(folded)

    def possible(self, folded: str) -> bool:
        """False when the pattern cannot match the text whose fold is ``folded``."""
        return self._test(folded)  # type: ignore[misc]

    def possible_in(self, text: str) -> bool:
        """False when the pattern cannot match ``text`` (folds it when the pattern ignores case)."""
        if case_sensitive(self.pattern.pattern, self.pattern.flags):
            test = predicate(self.pattern.pattern, self.pattern.flags)
            return test is None or test(text)
        return self.possible(fold(text))

    def search(self, text: str, folded: str | None = None) -> re.Match[str] | None:
        """``pattern.search(text)``; with ``folded`` (``fold(text)``) skipped when it cannot match."""
        if folded is not None and not self.possible(folded):
            return None
        return self.pattern.search(text)

    def split(self, text: str) -> list[str]:
        """``pattern.split(text)``, skipped (``[text]``) when the pattern cannot match."""
        return self.pattern.split(text) if self.possible_in(text) else [text]

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.pattern.finditer(text)
