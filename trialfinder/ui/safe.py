"""Safe display of registry text in Streamlit.

Registry text (titles, summaries, criteria, facility names) is untrusted. It is never rendered as
HTML (``unsafe_allow_html`` is never used with it) and, when shown through ``st.markdown`` or a
markdown-aware element, it first goes through :func:`safe_md`, which backslash-escapes every
character that Markdown, GitHub-flavoured Markdown or Streamlit's extensions (``$…$`` maths,
``:color[…]`` directives, ``:emoji:`` shortcodes, ``:material/icon:``) could interpret. The result
shows the text exactly as written, as plain text.

Pure functions only; no Streamlit import.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

# every ASCII punctuation character may be backslash-escaped in CommonMark; escaping all of them
# (not a hand-picked list) leaves nothing for a parser or a Streamlit plugin to pick up
_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_ZW_AFTER_COLON = "\u200b"
# a line that starts a list item keeps its line break even in wrapped prose
_ITEM_RE = re.compile(
    r"^(?:[*\-+•·]|\d{1,2}[.)])\s"
)  # breaks ':name:' emoji shortcodes, which are matched after parsing


def is_missing(value: Any) -> bool:
    """``None``, NaN, ``pd.NA`` or ``pd.NaT`` (scalars only; lists and arrays are never missing)."""
    if value is None:
        return True
    if isinstance(value, (str, bytes, list, tuple, dict)):
        return False
    try:
        result = pd.isna(value)
    except (TypeError, ValueError):
        return False
    return result is True or (isinstance(result, np.bool_) and bool(result))


_is_missing = is_missing


def _escape_chars(text: str) -> str:
    out: list[str] = []
    for ch in text:
        if ch in _PUNCT:
            out.append("\\" + ch)
            if ch == ":":
                out.append(_ZW_AFTER_COLON)
        elif ch in "\t\r":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def _joiner(prev: str, line: str, hard_breaks: bool) -> str:
    """How two lines of one paragraph join: a hard break, or a space for text wrapped at a width."""
    if hard_breaks or _ITEM_RE.match(line.strip()) or prev.rstrip().endswith(":"):
        return "  \n"
    return " "


def safe_md(text: Any, *, hard_breaks: bool = True) -> str:
    """``text`` escaped for ``st.markdown``: shown literally, line breaks kept, nothing interpreted.

    Missing values give ``""``. Leading spaces of each line are dropped (four of them would start a
    code block); line breaks become Markdown hard breaks (or spaces with ``hard_breaks=False``, for
    text wrapped at a fixed width, except before a list item or after a line ending with a colon);
    blank lines stay paragraph breaks.
    """
    if _is_missing(text):
        return ""
    s = str(text).replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = re.split(r"\n[ \t]*\n+", s.strip("\n"))
    rendered = []
    for para in paragraphs:
        raw = [line.strip() for line in para.split("\n")]
        raw = [ln for ln in raw if ln]
        if not raw:
            continue
        out = _escape_chars(raw[0])
        for prev, line in itertools.pairwise(raw):
            out += _joiner(prev, line, hard_breaks) + _escape_chars(line)
        rendered.append(out)
    return "\n\n".join(rendered)


def safe_inline(text: Any, *, max_chars: int | None = None) -> str:
    """A one-line escaped version (newlines become spaces), optionally shortened with an ellipsis."""
    if _is_missing(text):
        return ""
    s = " ".join(str(text).split())
    if max_chars is not None and len(s) > max_chars:
        s = s[: max_chars - 1].rstrip() + "…"
    return _escape_chars(s)


def code_span(text: Any) -> str:
    """``text`` as one inline Markdown code span: shown verbatim (monospace), nothing inside is
    interpreted (no links, images, maths, directives, HTML). Line breaks become spaces; the fence is
    longer than any run of backticks in the text."""
    if _is_missing(text):
        return ""
    s = " ".join(str(text).splitlines())
    if not s.strip(" "):
        return "` `"
    longest = max((len(run) for run in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s[0] in "` " or s[-1] in "` " else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _needle_pattern(needle: str) -> re.Pattern[str] | None:
    words = needle.split()
    if not words:
        return None
    return re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)


def find_spans(text: str, needles: Iterable[str]) -> list[tuple[int, int]]:
    """Character spans of ``text`` where any needle occurs (case- and whitespace-insensitive), merged."""
    spans: list[tuple[int, int]] = []
    for needle in needles:
        if _is_missing(needle):
            continue
        pat = _needle_pattern(str(needle))
        if pat is None:
            continue
        spans.extend((m.start(), m.end()) for m in pat.finditer(text) if m.end() > m.start())
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def highlight_md(text: Any, needles: Iterable[str], *, hard_breaks: bool = True) -> tuple[str, int]:
    """``text`` as safe Markdown with every occurrence of a needle in bold.

    Returns the Markdown and the number of highlighted passages. Only our own ``**`` markers are
    Markdown; every character of ``text`` is escaped as in :func:`safe_md` (``hard_breaks`` too).
    """
    if _is_missing(text):
        return "", 0
    s = str(text).replace("\r\n", "\n").replace("\r", "\n")
    spans = find_spans(s, needles)
    out_lines: list[str] = []
    raw_lines = s.split("\n")
    pos = 0
    for raw_line in raw_lines:
        start, end = pos, pos + len(raw_line)
        pos = end + 1
        line_spans = [(max(a, start), min(b, end)) for a, b in spans if a < end and b > start]
        pieces: list[str] = []
        cursor = start
        for a, b in line_spans:
            pieces.append(_escape_chars(s[cursor:a]))
            inner = s[a:b]
            core = inner.strip()
            if core:
                lead = inner[: len(inner) - len(inner.lstrip())]
                trail = inner[len(inner.rstrip()) :]
                pieces.append(_escape_chars(lead) + "**" + _escape_chars(core) + "**" + _escape_chars(trail))
            cursor = b
        pieces.append(_escape_chars(s[cursor:end]))
        out_lines.append("".join(pieces).strip())
    # paragraphs: blank lines separate, other line breaks are hard breaks
    paragraphs: list[list[tuple[str, str]]] = [[]]
    for ln, raw_line in zip(out_lines, raw_lines, strict=True):
        if ln:
            paragraphs[-1].append((ln, raw_line))
        elif paragraphs[-1]:
            paragraphs.append([])
    rendered = []
    for para in paragraphs:
        if not para:
            continue
        out = para[0][0]
        for (_, prev_raw), (ln, raw_line) in itertools.pairwise(para):
            out += _joiner(prev_raw, raw_line, hard_breaks) + ln
        rendered.append(out)
    return "\n\n".join(rendered), len(spans)


_NCT_RE = re.compile(r"^NCT\d{8}$")


def registry_url(nct_id: str) -> str:
    """The ClinicalTrials.gov page of a trial, built from a validated NCT ID (never from registry text)."""
    nid = str(nct_id).strip().upper()
    if not _NCT_RE.match(nid):
        raise ValueError(f"not an NCT ID: {nid[:20]!r}")
    return f"https://clinicaltrials.gov/study/{nid}"
