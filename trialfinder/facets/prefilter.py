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
import re._compiler as _compiler
import re._constants as _c
import re._parser as _parser
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import Any

_WORD = re.compile(r"\w")
_UNSAFE: set[str] = set()


def _canon_table() -> dict[int, int]:
    """Map every character of one extra-case class (``s``/``ſ``, ``i``/``ı``, ``µ``/``μ`` ...) to its
    smallest member. Classes that mix word and non-word characters (Greek iota and the combining
    ypogegrammeni) are left out, so folding keeps ``\\w`` and ``\\b`` as they are; their characters
    are never used as literals (:data:`_UNSAFE`)."""
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
    classes: dict[int, list[int]] = {}
    for x in parent:
        classes.setdefault(find(x), []).append(x)
    for root, members in classes.items():
        members.append(root)
    table: dict[int, int] = {}
    for members in classes.values():
        if len({_WORD.match(chr(m)) is None for m in members}) > 1:
            _UNSAFE.update(chr(m) for m in members)
            continue
        rep = min(members)
        table.update({m: rep for m in members if m != rep})
    return table


_CANON = _canon_table()
_DOTTED_I = {0x130: "i"}  # str.lower() gives "i̇" (two characters); the engine's simple lower case is "i"


def folds_exactly(literal: str) -> bool:
    """True when, for every character of ``literal``, the characters the engine matches to it
    case-insensitively are exactly those with the same fold (all but Greek iota's class)."""
    return not any(ch in _UNSAFE for ch in fold(literal))


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


_REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT)
_SHORT = 4  # literal runs this short and bounded by \b on both sides are also tested as words
_MAX_VARIANTS = 32


def _strings(items: Iterable[tuple[Any, Any]], norm: Callable[[str], str]) -> list[str] | None:
    """Every string a small finite part of a pattern can match ("anti[- ]?PD" → ``anti-pd``,
    ``anti pd``, ``antipd``), or None when the part is not of that kind (or has too many)."""
    out = [""]
    for op, av in items:
        opts: list[str] | None
        if op is _c.LITERAL:
            opts = [chr(av)]
        elif op is _c.IN and 0 < len(av) <= 4 and all(o is _c.LITERAL for o, _ in av):
            opts = [chr(c) for _, c in av]  # a small set of characters, e.g. [- ] or [.;]
        elif op is _c.SUBPATTERN:
            opts = _strings(av[3], norm)
        elif op is _c.BRANCH:
            alts = [_strings(alt, norm) for alt in av[1]]
            opts = None if any(a is None for a in alts) else [x for a in alts for x in a]  # type: ignore[union-attr]
        elif op in _REPEATS and av[0] == 0 and av[1] == 1:
            sub = _strings(av[2], norm)
            opts = None if sub is None else [*sub, ""]
        else:
            return None
        if opts is None or any(len(norm(ch)) != 1 or norm(ch) in _UNSAFE for o in opts for ch in o):
            return None
        out = list(dict.fromkeys(a + b for a in out for b in opts))
        if len(out) > _MAX_VARIANTS:
            return None
    return out


def _common_core(strings: list[str]) -> str:
    """The longest substring of every string (at least 2 characters; else "")."""
    shortest = min(strings, key=len)
    for size in range(len(shortest), 1, -1):
        for i in range(len(shortest) - size + 1):
            sub = shortest[i:i + size]
            if all(sub in x for x in strings):
                return sub
    return ""


def _seq(items: Iterable[tuple[Any, Any]], norm: Callable[[str], str]) -> Req | None:
    """What a sequence requires: all of its literal runs (with their few variants) and of its
    required sub-parts (literals normalized with ``norm``: :func:`fold`, or unchanged for
    case-sensitive patterns)."""
    parts: list[Req] = []
    run: list[str] | None = None  # variants of the literal run being read
    bounded = False  # the run started right after \b
    after_b = False

    def close(right_bounded: bool = False) -> None:
        nonlocal run
        if run and all(run):  # a run that may be empty requires nothing
            variants = list(dict.fromkeys(norm(v) for v in run))
            core = _common_core(variants)
            # test the part every variant shares first: one test for most texts, not one per variant
            alts = _combine("or", variants)  # type: ignore[arg-type]
            req = _combine("and", [core, alts]) if core and len(variants) > 1 else alts
            if bounded and right_bounded and min(map(len, variants)) <= _SHORT:
                # a short word ("ICI", "CPI"): a substring test finds it inside words, so also
                # look for it as a word (folding keeps \w, so \b is kept too)
                word = r"\b(?:" + "|".join(map(re.escape, variants)) + r")\b"
                req = _combine("and", [req, ("re", (word,))])
            parts.append(req)
        run = None

    for op, av in items:
        strings = _strings(((op, av),), norm)
        if strings is not None:
            grown = list(dict.fromkeys(a + b for a in (run or [""]) for b in strings))
            if run is None:
                bounded = after_b
            if len(grown) <= _MAX_VARIANTS:
                run = grown
            else:
                close()
                run, bounded = strings, False
            after_b = False
            continue
        is_b = op is _c.AT and av is _c.AT_BOUNDARY
        close(right_bounded=is_b)
        after_b = is_b
        sub: Req | None = None
        if op is _c.SUBPATTERN:
            sub = _seq(av[3], norm)
        elif op is _c.ATOMIC_GROUP:
            sub = _seq(av, norm)
        elif op is _c.ASSERT:  # a positive lookaround's text is in the text too
            sub = _seq(av[1], norm)
        elif op in _REPEATS:
            if av[0] >= 1:
                sub = _seq(av[2], norm)
        elif op is _c.BRANCH:
            alts = [_seq(alt, norm) for alt in av[1]]
            if all(a is not None for a in alts):
                sub = _combine("or", alts)  # type: ignore[arg-type]
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
def requirement(pattern: str, flags: int = 0, *, folded: bool = True) -> Req | None:
    """What every match of ``pattern`` contains (``None``: nothing usable). With ``folded`` the
    literals are folded, to be tested on :func:`fold` of the text (sound for every pattern);
    without, they are as written, to be tested on the text itself (case-sensitive patterns only)."""
    if not folded and not case_sensitive(pattern, flags):
        raise ValueError("unfolded literals of a case-insensitive pattern")
    return _seq(_parser.parse(pattern, flags), fold if folded else _same)


def _same(text: str) -> str:
    return text


@cache
def case_sensitive(pattern: str, flags: int = 0) -> bool:
    return _case_sensitive(pattern, flags)


def _expr(req: Req, words: list[re.Pattern[str]]) -> str:
    if isinstance(req, str):
        return f"{req!r} in f"
    op, parts = req
    if op == "re":
        words.append(re.compile(parts[0]))  # type: ignore[arg-type]
        return f"_W[{len(words) - 1}].search(f) is not None"
    return "(" + f" {op} ".join(_expr(p, words) for p in parts) + ")"


def _compile_test(req: Req | None) -> Callable[[str], bool]:
    """``req`` as one boolean expression of substring tests, e.g.
    ``lambda f: ('metastatic' in f or 'stage' in f)``: the fastest form CPython runs."""
    if req is None:
        return _always
    words: list[re.Pattern[str]] = []
    source = f"lambda f: {_expr(req, words)}"
    test: Callable[[str], bool] = eval(source, {"_W": words})  # noqa: S307 (own literals, repr-quoted)
    return test


@cache
def predicate(pattern: str, flags: int = 0, *, folded: bool = True) -> Callable[[str], bool]:
    """A function of the folded text (or, without ``folded``, of the text itself; case-sensitive
    patterns only) that is False when ``pattern`` cannot match; always True when nothing is known."""
    return _compile_test(requirement(pattern, flags, folded=folded))


def _always(folded: str) -> bool:
    return True


# ------------------------------------------------------------------------ folded-text patterns

def _fold_class(items: list[tuple[Any, Any]]) -> list[tuple[Any, Any]] | None:
    out: list[tuple[Any, Any]] = []
    for op, av in items:
        if op is _c.NEGATE or op is _c.CATEGORY:
            out.append((op, av))
        elif op is _c.LITERAL:
            if not folds_exactly(chr(av)):
                return None
            out.append((op, ord(fold(chr(av)))))
        elif op is _c.RANGE and av[1] < 128:
            out += [(_c.LITERAL, ord(ch)) for ch in sorted({fold(chr(x)) for x in range(av[0], av[1] + 1)})]
        else:
            return None
    return out


def _fold_tree(items: Any) -> bool:
    """Rewrite a parsed case-insensitive pattern, in place, into a case-sensitive one over folded
    text (literals and ASCII ranges folded); False when some part cannot be rewritten."""
    data = items.data
    for i, (op, av) in enumerate(data):
        if op is _c.LITERAL or op is _c.NOT_LITERAL:
            if not folds_exactly(chr(av)):
                return False
            data[i] = (op, ord(fold(chr(av))))
        elif op is _c.IN:
            folded_class = _fold_class(av)
            if folded_class is None:
                return False
            data[i] = (op, folded_class)
        elif op is _c.SUBPATTERN:
            group, add, dele, sub = av
            if dele & re.IGNORECASE or not _fold_tree(sub):
                return False
            data[i] = (op, (group, add & ~re.IGNORECASE, dele, sub))
        elif op is _c.BRANCH:
            if not all(_fold_tree(alt) for alt in av[1]):
                return False
        elif op in _REPEATS:
            if not _fold_tree(av[2]):
                return False
        elif op is _c.ASSERT or op is _c.ASSERT_NOT:
            if not _fold_tree(av[1]):
                return False
        elif op is _c.ATOMIC_GROUP:
            if not _fold_tree(av):
                return False
        elif op not in (_c.AT, _c.ANY, _c.CATEGORY):
            return False  # group references and the like: not rewritten
    return True


@cache
def folded_pattern(pattern: str, flags: int) -> re.Pattern[str] | None:
    """A case-sensitive pattern that matches :func:`fold` of a text exactly where the
    case-insensitive ``pattern`` matches the text (same spans: folding keeps positions, word
    characters and the engine's case-insensitive equalities). None when it cannot be built.

    Case-insensitive matching compares every character through its lower case; the rewritten
    pattern compares folded characters directly and lets the engine use its fast literal scans."""
    if not flags & re.IGNORECASE:
        return None
    parsed = _parser.parse(pattern, flags)
    if not parsed.state.flags & re.IGNORECASE or not _fold_tree(parsed):
        return None
    parsed.state.flags &= ~re.IGNORECASE
    compiled: re.Pattern[str] = _compiler.compile(parsed, 0)
    return compiled


class FoldedMatch:
    """A match found on the folded text, read on the original text (like ``re.Match``)."""

    __slots__ = ("_match", "_text")

    def __init__(self, text: str, match: re.Match[str]) -> None:
        self._text, self._match = text, match

    def start(self, group: int = 0) -> int:
        return self._match.start(group)

    def end(self, group: int = 0) -> int:
        return self._match.end(group)

    def span(self, group: int = 0) -> tuple[int, int]:
        return self._match.span(group)

    def group(self, group: int = 0) -> Any:
        start, end = self._match.span(group)
        return None if start < 0 else self._text[start:end]


class Rx:
    """A compiled pattern with a literal prefilter; ``search(text, folded)`` equals
    ``pattern.search(text)`` where ``folded`` is ``fold(text)`` (same spans and groups; found on
    the folded text with :func:`folded_pattern` when the pattern ignores case).

    ``possible(folded)`` is False when the pattern cannot match the text whose fold is ``folded``;
    ``possible_in(text)`` likewise for the text itself. Both are built on first use."""

    __slots__ = ("_folded", "pattern", "possible", "possible_in")
    possible: Callable[[str], bool]
    possible_in: Callable[[str], bool]

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.possible = self._build_possible
        self.possible_in = self._build_possible_in
        self._folded: re.Pattern[str] | bool | None = False  # False: not built yet

    def _build_possible(self, folded: str) -> bool:
        self.possible = predicate(self.pattern.pattern, self.pattern.flags)
        return self.possible(folded)

    def _build_possible_in(self, text: str) -> bool:
        if case_sensitive(self.pattern.pattern, self.pattern.flags):
            self.possible_in = predicate(self.pattern.pattern, self.pattern.flags, folded=False)
        else:
            self.possible_in = self._possible_folding
        return self.possible_in(text)

    def _possible_folding(self, text: str) -> bool:
        return self.possible(fold(text))

    def search(self, text: str, folded: str | None = None) -> re.Match[str] | FoldedMatch | None:
        """``pattern.search(text)``; with ``folded`` (``fold(text)``) skipped when it cannot match,
        else searched on the folded text."""
        if folded is None:
            return self.pattern.search(text)
        if not self.possible(folded):
            return None
        fp = self._folded
        if fp is False:
            fp = self._folded = folded_pattern(self.pattern.pattern, self.pattern.flags)
        if fp is None:
            return self.pattern.search(text)
        m = fp.search(folded)  # type: ignore[union-attr]
        return FoldedMatch(text, m) if m is not None else None

    def split(self, text: str) -> list[str]:
        """``pattern.split(text)``, skipped (``[text]``) when the pattern cannot match."""
        return self.pattern.split(text) if self.possible_in(text) else [text]

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.pattern.finditer(text)


class Gate:
    """``possible(folded)``: False when none of the patterns can match (one test for several)."""

    __slots__ = ("patterns", "possible")
    possible: Callable[[str], bool]

    def __init__(self, *patterns: Rx) -> None:
        self.patterns = patterns
        self.possible = self._build

    def _build(self, folded: str) -> bool:
        reqs = [requirement(r.pattern.pattern, r.pattern.flags) for r in self.patterns]
        self.possible = _always if any(q is None for q in reqs) else _compile_test(
            _combine("or", reqs))  # type: ignore[arg-type]
        return self.possible(folded)
