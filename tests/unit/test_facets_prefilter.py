"""The fast matching of the facets keeps their behaviour.

* The literal prefilters (``trialfinder.facets.prefilter``) never change a match: ``Rx.search`` equals
  ``pattern.search`` for every facet pattern, on generated texts built from the patterns' own words,
  case variants and the characters the regex engine folds specially (ſ, K, İ, ı, ι).
* The criteria splitting patterns, rewritten to scan for the split character first, split exactly as
  the original forms (kept here verbatim).
* Curated agent names: the longest name wins and names match whole words only.
* ``compute_facets`` shares work between trials that differ only in NCT ID, never between different
  texts, and reads plain (non-Arrow) tables the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialfinder import normalize, sources
from trialfinder.facets import compute_facets, eligibility, lookup
from trialfinder.facets import text as facet_text
from trialfinder.facets.prefilter import Rx, fold, predicate, requirement
from trialfinder.facets.vocabulary import _name_regex, agent_matches, first_token, load


def _facet_patterns() -> list[Rx]:
    out: list[Rx] = []
    for value in vars(eligibility).values():
        if isinstance(value, Rx):
            out.append(value)
        elif isinstance(value, dict):
            out += [v for v in value.values() if isinstance(v, Rx)]
    out += [Rx(p.regex) for p in load().patterns]
    return out


PATTERNS = _facet_patterns()


def _literals(req: object) -> list[str]:
    if isinstance(req, str):
        return [req]
    if isinstance(req, tuple) and req[0] != "re":
        return [x for part in req[1] for x in _literals(part)]
    return []


WORDS = sorted({w for rx in PATTERNS for w in _literals(requirement(rx.pattern.pattern, rx.pattern.flags))})
TRICKY = [" ", "  ", "-", "/", ".", ";", "(", ")", "\n", "ſ", "\u212a", "İ", "ı", "ι", "\u0345", "≥", "1",
          "4", "IV", "ICI", "CPI", "suffICIent", "Stage", "non-", "no ", "prior ", "PD-1", "anti-", "ï"]


def _case(word: str, how: int) -> str:
    # as written, upper case, title case, or with letters the engine matches case-insensitively
    # to ASCII ones (long s, Kelvin sign, dotless i, dotted capital I)
    odd = word.replace("s", "ſ").replace("k", "\u212a").replace("i", "ı").replace("I", "İ")
    return (word, word.upper(), word.title(), odd)[how]


texts = st.lists(
    st.tuples(st.sampled_from(WORDS + TRICKY), st.integers(0, 3)).map(lambda p: _case(*p)), max_size=10
).map("".join)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_rx_search__same_match_as_the_pattern(text: str) -> None:
    folded = fold(text)
    for rx in PATTERNS:
        want = rx.pattern.search(text)
        got = rx.search(text, folded)
        assert (got.span() if got else None) == (want.span() if want else None), rx.pattern.pattern
        if got and want:
            groups = range(rx.pattern.groups + 1)
            assert [got.group(g) for g in groups] == [want.group(g) for g in groups], rx.pattern.pattern


def test_rx_search__real_criteria_items(shared_dir: Path) -> None:
    result = sources.import_paths([shared_dir / "classic-xml"])
    tables = normalize.normalize(result.studies)
    items = [it for t in facet_text.iter_trials(tables) for it in facet_text.segment(t.criteria, t.inclusion,
                                                                                     t.exclusion)]
    assert len(items) > 500
    for it in items:
        for rx in PATTERNS:
            assert bool(rx.search(it.flat, it.folded)) == bool(rx.pattern.search(it.flat))


def test_fold__one_character_for_one_keeping_word_characters() -> None:
    word = re.compile(r"\w")
    for code in range(0x3000):
        c = chr(code)
        f = fold(c)
        assert len(f) == 1, hex(code)
        assert bool(word.match(c)) == bool(word.match(f)), hex(code)
        assert re.fullmatch(re.escape(c), f, re.IGNORECASE), hex(code)


def test_predicate__engine_case_pairs_are_found() -> None:
    # the regex engine matches "s" to "ſ" and "k" to the Kelvin sign; the prefilter must not skip them
    for pattern, text in ((r"sis", "ſiſ"), (r"kg", "\u212ag"), (r"inh", "İnh"), (r"\bpd-?1\b", "PD1")):
        assert re.search(pattern, text, re.IGNORECASE)
        assert predicate(pattern, re.IGNORECASE)(fold(text)), (pattern, text)


def test_predicate__optional_characters_and_word_boundaries() -> None:
    anti_pd1 = predicate(r"anti[- ]?PD-?1", re.IGNORECASE)
    assert anti_pd1(fold("Prior anti-PD-1 antibody")) and anti_pd1(fold("ANTI PD1"))
    assert anti_pd1(fold("antiPD-1"))
    assert not anti_pd1(fold("antibody against PD-1"))
    ici = predicate(r"\bICIs?\b", re.IGNORECASE)
    assert ici(fold("prior ICI therapy")) and ici(fold("ICIs")) and ici(fold("(ICI)-containing"))
    assert not ici(fold("Sufficient organ function")) and not ici(fold("physICIan"))


def test_requirement__nothing_required_gives_none() -> None:
    assert requirement(r"\d+", 0) is None
    assert requirement(r"(?:abc)?x?", re.IGNORECASE) is None
    assert requirement(r"abc|\d", re.IGNORECASE) is None  # one alternative needs no literal


# original forms of the two criteria splitting patterns (before they were rewritten for speed)
_PDQ_ORIGINAL = re.compile(
    r"(?<=[a-z0-9)\].%])\s+(?=(?:No|At least|Prior|Concurrent|Recovered|Must|See|Not|More than|Less than|"
    r"Biologic therapy|Chemotherapy|Endocrine therapy|Radiotherapy|Surgery|Other|Age|Performance status|"
    r"Life expectancy|Hematopoietic|Hepatic|Renal|Cardiovascular|Pulmonary|PATIENT CHARACTERISTICS|"
    r"PRIOR CONCURRENT THERAPY|DISEASE CHARACTERISTICS)\b)"
)
_SENT_ORIGINAL = re.compile(r"(?<![ (]i\.e)(?<![ (]e\.g)(?<!\bvs)(?<!\betc)(?<!\bincl)(?<!\bapprox)"
                            r"(?<=[a-z0-9)\]%])[.;]\s+(?=[A-Z(])")
split_texts = st.lists(st.sampled_from(
    ["i.e", "e.g", "vs", "etc", "incl", "approx", " ", "  ", "\n", "\t", "\xa0", ".", ";", "a", "Z", "(", ")",
     "]", "%", "0", "No", "Not", "Nob", "At least", "Age", "Other", "x", "PRIOR CONCURRENT THERAPY", " (i",
     "e"]),
    max_size=16).map("".join)


@settings(max_examples=500, deadline=None)
@given(split_texts)
def test_split_patterns__same_splits_as_the_original_forms(text: str) -> None:
    assert facet_text._SENT_SPLIT_RX.split(text) == _SENT_ORIGINAL.split(text)
    assert facet_text._PDQ_SPLIT_RX.split(text) == _PDQ_ORIGINAL.split(text)


def test_agent_matches__longest_name_wins() -> None:
    vocab = load()
    found = agent_matches(vocab, "Trastuzumab deruxtecan (T-DXd) 5.4 mg/kg")
    assert [m.group(0) for m in found] == ["Trastuzumab deruxtecan", "T-DXd"]
    assert lookup("trastuzumab deruxtecan") is lookup("Enhertu")
    assert lookup("trastuzumab deruxtecan") is not lookup("trastuzumab")
    assert lookup("MGD009 obrindatamab") is lookup("obrindatamab") is not lookup("orlotamab")


def test_agent_matches__whole_words_only() -> None:
    vocab = load()
    assert [m.group(0) for m in agent_matches(vocab, "Ipilimumab,nivolumab (Opdivo)")] == [
        "Ipilimumab", "nivolumab", "Opdivo"]
    for text in ("Xipilimumab", "ipilimumabX", "ipilimumab2", "preipilimumab treatment"):
        assert agent_matches(vocab, text) == [], text


def _real_tables(shared_dir: Path, nct: str) -> dict[str, pd.DataFrame]:
    return normalize.normalize(sources.import_paths([shared_dir / "classic-xml" / f"{nct}.xml"]).studies)


def _with_id(tables: dict[str, pd.DataFrame], nct: str) -> dict[str, pd.DataFrame]:
    out = {}
    for name, df in tables.items():
        df = df.copy()
        if "nct_id" in df.columns:
            df["nct_id"] = pd.Series([nct] * len(df), dtype=df["nct_id"].dtype, index=df.index)
        out[name] = df
    return out


def test_compute_facets__copies_with_other_ids_get_the_same_facets(shared_dir: Path) -> None:
    # CheckMate 743 and a test-only copy of it under another NCT ID
    real = _real_tables(shared_dir, "NCT02899299")
    copy = _with_id(real, "NCT99999999")
    both = {k: pd.concat([real[k], copy[k]], ignore_index=True) for k in real}
    facets = compute_facets(both)["facets"]
    assert list(facets.nct_id) == ["NCT02899299", "NCT99999999"]
    a, b = (facets.iloc[i].drop("nct_id") for i in (0, 1))
    pd.testing.assert_series_equal(a, b, check_names=False)
    assert facets.iloc[0].prior_immunotherapy == "excluded"


def test_compute_facets__changed_text_same_id_is_recomputed(shared_dir: Path) -> None:
    # CheckMate 743, then a test-only variation with the same NCT ID whose exclusion criteria no
    # longer mention prior checkpoint antibodies: the second result must not come from the first
    real = _real_tables(shared_dir, "NCT02899299")
    assert compute_facets(real)["facets"].iloc[0].prior_immunotherapy == "excluded"
    changed = {k: v.copy() for k, v in real.items()}
    elig = changed["eligibility"]
    # the exclusion part is derived from the criteria text
    io_names = r"(?i)anti-PD-1|anti-PD-L1|anti-PD-L2|anti-CTLA-4"
    elig["criteria"] = elig["criteria"].str.replace(io_names, "other", regex=True)
    row = compute_facets(changed)["facets"].iloc[0]
    assert row.nct_id == "NCT02899299"
    assert row.prior_immunotherapy == "unstated" and row.prior_immunotherapy_evidence == ""


def test_compute_facets__plain_object_tables_read_like_arrow_tables(shared_dir: Path) -> None:
    real = _real_tables(shared_dir, "NCT02899299")
    plain = {k: v.astype(object) for k, v in real.items()}
    want = compute_facets(real)["facets"]
    got = compute_facets(plain)["facets"]
    pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize(("values", "expected"), [
    (["a", "", "b"], ("a", "b")), (["a", None], ("a",)), (("a", pd.NA), ("a",)), ("a", ("a",)), (None, ()),
    ([], ()), (pd.NA, ())])
def test_lists__empty_and_missing_items_dropped(values: object, expected: tuple[str, ...]) -> None:
    assert facet_text._l(values) == expected


def _reference_agent_spans(text: str) -> list[tuple[int, int]]:
    """The original matching: one case-insensitive alternation of ``_name_regex`` per first word,
    searched on the text as written."""
    vocab = load()
    by_token: dict[str, list[str]] = {}
    for n in sorted((n for a in vocab.agents for n in a.names), key=lambda n: -len(n)):
        by_token.setdefault(first_token(n), []).append(_name_regex(n))
    found: list[re.Match[str]] = []
    seen: set[str] = set()
    for tok in re.findall(r"[A-Za-z0-9]+", text):
        key = tok.lower()
        if key in seen or key not in by_token:
            continue
        seen.add(key)
        found += re.finditer("|".join(f"(?:{r})" for r in by_token[key]), text, re.IGNORECASE)
    found.sort(key=lambda m: (m.start(), -(m.end() - m.start())))
    spans, end = [], -1
    for m in found:
        if m.start() >= end:
            spans.append(m.span())
            end = m.end()
    return spans


AGENT_NAMES = sorted({n for a in load().agents for n in a.names})
agent_texts = st.lists(
    st.one_of(st.tuples(st.sampled_from(AGENT_NAMES), st.integers(0, 3)).map(lambda p: _case(*p)),
              st.sampled_from([" ", "-", "", "/", ", ", "(", ")", "x", "1", "anti-", " and "])),
    max_size=8).map("".join)


@settings(max_examples=300, deadline=None)
@given(agent_texts)
def test_agent_matches__same_as_case_insensitive_search_of_the_text(text: str) -> None:
    got = agent_matches(load(), text)
    assert [m.span() for m in got] == _reference_agent_spans(text)
    assert all(m.group(0) == text[m.start():m.end()] for m in got)


def test_compute_facets__read_in_chunks_like_at_once(shared_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # the 24 real classic-XML records; then the same tables read 5 trials at a time, and with the
    # other tables' rows grouped in reverse trial order (each trial's own rows keep their order)
    tables = normalize.normalize(sources.import_paths([shared_dir / "classic-xml"]).studies)
    want = compute_facets(tables)
    monkeypatch.setattr(facet_text, "_CHUNK", 5)
    reordered = {k: (v if k == "trials" else v.sort_values("nct_id", ascending=False, kind="stable"))
                 for k, v in tables.items()}
    for variant in (tables, reordered):
        got = compute_facets(variant)
        for name in want:
            pd.testing.assert_frame_equal(got[name], want[name])
