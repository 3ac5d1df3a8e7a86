"""Small pure text helpers shared by the importers (dates, enum-like labels, text blocks)."""

from __future__ import annotations

import functools
import re
import textwrap
from datetime import date

_MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
)
_MDY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_MY_SLASH = re.compile(r"^(\d{1,2})/(\d{4})$")
_ISO = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_WORDS = re.compile(r"^([A-Za-z]+)\.?\s+(?:(\d{1,2}),?\s+)?(\d{4})$")
_PROCESSED = re.compile(r"processed this data on\s+(.+?)\s*$", re.IGNORECASE)


def _month(word: str) -> int | None:
    """"July", "Jul", "Sept" → 7, 7, 9 (a prefix of at least three letters of one month's name)."""
    w = word.lower()
    if len(w) < 3:
        return None
    for i, name in enumerate(_MONTH_NAMES):
        if name.startswith(w):
            return i + 1
    return None


def _valid(y: int, m: int, d: int | None) -> bool:
    try:
        date(y, m, d or 1)
    except ValueError:
        return False
    return True


def parse_date_text(text: str | None) -> str | None:
    """A registry date in any of its written forms → ISO ``YYYY``/``YYYY-MM``/``YYYY-MM-DD``.

    Handles "October 25, 2016", "July 2020", "12/17/2019", "2019-12" and the classic XML's
    "ClinicalTrials.gov processed this data on July 28, 2020". Returns None when it cannot tell.
    """
    if not text:
        return None
    s = text.strip()
    m = _PROCESSED.search(s)
    if m:
        s = m.group(1)
    if _ISO.match(s):
        return s
    m = _WORDS.match(s)
    if m:
        month = _month(m.group(1))
        if month is None:
            return None
        year = int(m.group(3))
        if m.group(2):
            day = int(m.group(2))
            return f"{year:04d}-{month:02d}-{day:02d}" if _valid(year, month, day) else None
        return f"{year:04d}-{month:02d}"
    m = _MDY.match(s)
    if m:
        month, day, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        return f"{year:04d}-{month:02d}-{day:02d}" if _valid(year, month, day) else None
    m = _MY_SLASH.match(s)
    if m:
        month, year = int(m.group(1)), int(m.group(2))
        return f"{year:04d}-{month:02d}" if 1 <= month <= 12 else None
    return None


def enum_label(text: str) -> str:
    """A display label → the API v2 enum spelling: "Active, not recruiting" → "ACTIVE_NOT_RECRUITING"."""
    return re.sub(r"[^A-Z0-9]+", "_", text.strip().upper()).strip("_")


def dedent_block(text: str | None) -> str | None:
    """Normalize line ends (CRLF/CR → LF), drop surrounding blank lines and the XML indentation."""
    if text is None:
        return None
    s = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = s.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    out = textwrap.dedent("\n".join(line.rstrip() for line in lines))
    return out or None


_AGE_UNITS: dict[str, float] = {
    "year": 1.0, "month": 1.0 / 12.0, "week": 7.0 / 365.25, "day": 1.0 / 365.25,
    "hour": 1.0 / (365.25 * 24), "minute": 1.0 / (365.25 * 24 * 60),
}
_AGE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+?)s?\s*$")


@functools.lru_cache(maxsize=4096)
def age_in_years(value: str | None) -> float | None:
    """``"18 Years"`` → 18.0, ``"6 Months"`` → 0.5; ``None``/``"N/A"``/unparseable → None."""
    if not value:
        return None
    m = _AGE_RE.match(value)
    if not m:
        return None
    factor = _AGE_UNITS.get(m.group(2).lower())
    if factor is None:
        return None
    return round(float(m.group(1)) * factor, 4)


def std_ages_for(min_years: float | None, max_years: float | None) -> list[str]:
    """The registry's standard age groups (CHILD < 18 ≤ ADULT < 65 ≤ OLDER_ADULT) a range overlaps."""
    lo = 0.0 if min_years is None else min_years
    hi = float("inf") if max_years is None else max_years
    groups = []
    if lo < 18:
        groups.append("CHILD")
    if lo < 65 and hi >= 18:
        groups.append("ADULT")
    if hi >= 65:
        groups.append("OLDER_ADULT")
    return groups
