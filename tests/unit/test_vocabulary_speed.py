"""Agent names found without regexes (substring search and part-by-part matching on the folded text)
and the intervention lists searched as folded patterns find exactly what the vocabulary's regexes find.

Names and intervention texts are real: the vocabulary's own names, and interventions quoted from
recorded studies (NCT ID in the comment). Separator and letter variants are built from them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialfinder import normalize, sources
from trialfinder.facets.interventions import resolve
from trialfinder.facets.prefilter import fold
from trialfinder.facets.text import Intervention, iter_trials
from trialfinder.facets.vocabulary import _TOKEN, agent_matches, load


def _regex_spans(text: str) -> list[tuple[int, int]]:
    """The matching as the vocabulary defines it: each first word's compiled alternation
    (``token_regex``) over the folded text, plus a several-part name written as one word
    (``joined_tokens``) as a whole word of the folded text; longest match at each position."""
    vocab = load()
    found: list[tuple[int, int]] = []
    for key in {t.lower() for t in _TOKEN.findall(text)}:
        rx = vocab.token_regex(key)
        if rx is not None:
            found += [m.span() for m in rx.finditer(fold(text) if vocab.token_sources[key][1] else text)]
    words = set(_TOKEN.findall(fold(text))) if text.isascii() else {t.lower() for t in _TOKEN.findall(text)}
    for key in words & vocab.joined_tokens:
        found += [m.span() for m in re.finditer(rf"(?<![A-Za-z0-9]){key}(?![A-Za-z0-9])", fold(text))]
    found.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    spans, end = [], -1
    for start, stop in found:
        if start >= end:
            spans.append((start, stop))
            end = stop
    return spans


def _odd(word: str, how: int) -> str:
    # as written, upper case, or with characters the engine matches case-insensitively to ASCII
    # letters (long s, Kelvin sign, dotless i)
    odd = word.replace("s", "ſ").replace("k", "\u212a").replace("i", "ı")
    return (word, word.upper(), odd)[how]


NAMES = sorted({n for a in load().agents for n in a.names})
SEPARATORS = [" ", "-", "", "\u2010", "\u2013", "\u00a0", "\t", "\n", "\x1c", "  ", "--", "/", ", ",
              "(", ")", "x", "1", "é", "\u212a"]
name_texts = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(NAMES), st.integers(0, 2)).map(lambda p: _odd(*p)),
        # a name whose spaces/hyphens are replaced by another separator
        st.tuples(st.sampled_from(NAMES), st.sampled_from(SEPARATORS)).map(
            lambda p: re.sub(r"[\s\-]", p[1], p[0])),
        st.sampled_from(SEPARATORS)),
    max_size=8).map("".join)


@settings(max_examples=400, deadline=None)
@given(name_texts)
def test_agent_matches__same_spans_as_the_token_regexes(text: str) -> None:
    got = agent_matches(load(), text)
    assert [m.span() for m in got] == _regex_spans(text)
    assert all(m.group(0) == text[m.start():m.end()] for m in got)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("talimogene laherparepvec", ["talimogene laherparepvec"]),
        ("Talimogene-Laherparepvec", ["Talimogene-Laherparepvec"]),
        ("talimogene\u2010laherparepvec", ["talimogene\u2010laherparepvec"]),
        # written as one word: the name without its separator (joined_tokens)
        ("TALIMOGENELAHERPAREPVEC", ["TALIMOGENELAHERPAREPVEC"]),
        ("XTALIMOGENELAHERPAREPVEC", []),
        ("talimogene laherparepvec/TALIMOGENELAHERPAREPVEC", ["talimogene laherparepvec",
                                                             "TALIMOGENELAHERPAREPVEC"]),
        ("talimogene  laherparepvec", []),  # two separators: not the name
        ("5-FU and 5 Fluorouracil", ["5-FU", "5 Fluorouracil"]),
        ("albumin\u00a0bound paclitaxel", ["albumin\u00a0bound paclitaxel"]),  # longest name first
        ("[68Ga] B7H3 Affibody-BCH", ["[68Ga] B7H3 Affibody-BCH"]),
        ("pembrolizumabs", []),
        ("MK-3475 (pembrolizumab)", ["MK-3475", "pembrolizumab"]),
    ],
)
def test_agent_matches__multiword_names_and_word_edges(text: str, expected: list[str]) -> None:
    assert [m.group(0) for m in agent_matches(load(), text)] == expected
    assert [m.span() for m in agent_matches(load(), text)] == _regex_spans(text)


def test_agent_matches__repeated_text_gives_the_same_matches() -> None:
    text = "Nivolumab (BMS-936558, Opdivo) plus ipilimumab"  # NCT02899299
    first = [(m.span(), m.group(0)) for m in agent_matches(load(), text)]
    again = [(m.span(), m.group(0)) for m in agent_matches(load(), "".join(list(text)))]
    assert first == again == [((0, 9), "Nivolumab"), ((11, 21), "BMS-936558"), ((23, 29), "Opdivo"),
                              ((36, 46), "ipilimumab")]


@pytest.mark.parametrize(
    ("intervention", "expected", "evidence"),
    [
        # NCT02899299: a code name written with a Unicode hyphen and a no-break space
        (Intervention("BIOLOGICAL", "Nivolumab", "", ("BMS\u2010936558", "Opdivo\u00a0"), ()),
         ["checkpoint_inhibitor"], "Nivolumab"),
        (Intervention("BIOLOGICAL", "BMS\u2010936558", "", (), ()), ["checkpoint_inhibitor"],
         "BMS\u2010936558"),
        # NCT03907852: the code name of gavo-cel
        (Intervention("DRUG", "TC-210 T Cells", "TC-210 T Cells", (), ()), ["car_t"], "TC-210"),
        # NCT01675765: the vaccine only in other names, chemotherapy by brand
        (Intervention("BIOLOGICAL", "Immunotherapy plus chemotherapy", "live attenuated double deleted Lm",
                      ("CRS-207", "Listeria", "pemetrexed", "cisplatin", "ALIMTA", "Platinol"), ()),
         ["vaccine", "chemotherapy"], "CRS-207"),
    ],
)
def test_resolve__code_names_with_any_separator(intervention: Intervention, expected: list[str],
                                                evidence: str) -> None:
    r = resolve(intervention, cancer=True)
    assert r.classes == expected
    assert r.hits[0].evidence == evidence


def test_resolve__allergen_and_other_lists_ignore_case_like_the_regex() -> None:
    # NCT00267202: "Customized allergen extracts"; the same with a long s and upper case
    for name in ("Customized allergen extracts", "CUSTOMIZED ALLERGEN EXTRACTS",
                 "Cuſtomized allergen extracts"):
        r = resolve(Intervention("BIOLOGICAL", "Immunotherapy", "", (name,), ()), cancer=False)
        assert [(h.cls, h.evidence) for h in r.hits] == [("other", name.split()[1])]
    # a supportive medicine of the `other` list, written with a dotless i (matches "i" ignoring case)
    r = resolve(Intervention("DRUG", "Methylprednısolone", "", (), ()), cancer=True)
    assert [(h.cls, h.evidence, h.source) for h in r.hits] == [("other", "Methylprednısolone", "other")]
    assert not r.unresolved
    # placebo is ignored whatever its case
    assert resolve(Intervention("DRUG", "PLACEBO", "", (), ()), cancer=True).ignored


def test_agent_matches__recorded_interventions_same_as_the_token_regexes(shared_dir: Path) -> None:
    # every name, other name and description of the 24 recorded classic-XML studies
    tables = normalize.normalize(sources.import_paths([shared_dir / "classic-xml"]).studies)
    texts = {x for t in iter_trials(tables) for iv in t.interventions
             for x in (iv.name, iv.description, *iv.other_names)}
    assert len(texts) > 50
    found = 0
    for text in texts:
        got = [m.span() for m in agent_matches(load(), text)]
        assert got == _regex_spans(text), text
        found += bool(got)
    assert found > 20
