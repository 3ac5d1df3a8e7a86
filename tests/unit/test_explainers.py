"""The explainers: every file present, reviewed, and every number sourced."""

from __future__ import annotations

import re

import pytest

from trialfinder import explainers
from trialfinder.errors import NotFoundError

LINK_RE = re.compile(r"\]\((https?://[^)\s]+)\)")
# a number: digits standing alone (18.1, 41%, 2024, 8th), not part of a name such as PD-1, WT1 or T4
NUMBER_RE = re.compile(r"(?<![\w-])\d+(?:[.,]\d+)*(?:%|st|nd|rd|th)?(?![\w-])")


def _blocks(text: str) -> list[str]:
    """Paragraphs and list items (a list item is its own block)."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        items = re.split(r"\n(?=- )", para.strip())
        out.extend(i.strip() for i in items if i.strip())
    return out


def _sentences(block: str) -> list[str]:
    plain = LINK_RE.sub("](LINK)", block)  # URLs carry digits and dots; keep them out of the split
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(*\"])", plain) if s.strip()]


@pytest.mark.parametrize("name", list(explainers.EXPLAINERS))
def test_explainer__has_title_summary_and_last_reviewed_date(name: str) -> None:
    e = explainers.load(name)
    assert e.title and e.summary and not e.summary.startswith("#")
    assert e.last_reviewed == "2026-11-21"
    assert "care team" in e.text  # always points to the care team


@pytest.mark.parametrize("name", list(explainers.EXPLAINERS))
def test_explainer__every_digit_bearing_sentence_has_a_source_link(name: str) -> None:
    text = explainers.read_text(name)
    unsourced = []
    for block in _blocks(text):
        if block.startswith("#") or "Last reviewed:" in block:
            continue
        has_link = bool(LINK_RE.search(block))
        for sentence in _sentences(block):
            if NUMBER_RE.search(sentence.replace("(LINK)", "")) and not has_link:
                unsourced.append(sentence)
    assert unsourced == [], f"{name}: numbers without a source link: {unsourced}"


@pytest.mark.parametrize("name", list(explainers.EXPLAINERS))
def test_explainer__never_states_unconfirmed_as_fact_nor_advises(name: str) -> None:
    text = explainers.read_text(name).lower()
    assert "unconfirmed" not in text  # facts marked UNCONFIRMED are left out, not repeated
    for phrase in ("you should take", "we recommend", "you should join", "ask for this drug"):
        assert phrase not in text


def test_for_classes__maps_classes_to_explainers_without_repeats() -> None:
    got = [
        e.name
        for e in explainers.for_classes(
            ["car_t", "other_cell_therapy", "checkpoint_inhibitor", "chemotherapy"]
        )
    ]
    assert got == ["checkpoint_inhibitors", "cell_therapy"]


def test_glossary__terms_used_as_tooltips() -> None:
    g = explainers.glossary()
    for t in ("unresectable", "first-line", "previously treated", "ecog performance status", "recruiting"):
        assert t in g and len(g[t]) > 20
    assert "surgery" in explainers.term("Unresectable")
    with pytest.raises(NotFoundError):
        explainers.term("no such term")


def test_read_text__unknown_name_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        explainers.read_text("../../etc/passwd")


def test_checker__numbers_versus_names() -> None:
    # guard for the checker itself: numbers are caught, names with digits are not
    for text in ("lived 18.1 months", "41% alive", "in 2024", "the 8th edition", "stage 4", "13 regions"):
        assert NUMBER_RE.search(text), text
    for text in ("PD-1 and CTLA-4", "WT1 peptide", "interleukin-2", "T1 N0 M1", "TC-210"):
        assert not NUMBER_RE.search(text), text
    sample = "- Half lived 18.1 months.\n- Sourced 41% ([x](https://example.org/1))."
    assert [bool(LINK_RE.search(b)) for b in _blocks(sample)] == [False, True]
