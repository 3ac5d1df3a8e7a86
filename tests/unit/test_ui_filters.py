"""The pure filter core on real recorded records (classic XML mesothelioma trials + two v2 studies)."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialfinder.errors import UsageError
from trialfinder.ui.filters import (
    FilterState,
    Options,
    apply_filters,
    filter_mask,
    from_query_params,
    prepare,
    to_query_params,
)
from trialfinder.ui.printable import printable_html


@pytest.fixture(scope="module")
def tables(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    from trialfinder.refresh import facet_tables
    from trialfinder.sources import import_tables

    d = tmp_path_factory.mktemp("recorded")
    for f in (shared_dir / "classic-xml").glob("*.xml"):
        shutil.copy(f, d / f.name)
    for n in ("NCT02628535", "NCT06790706"):  # the two v2 mesothelioma studies
        shutil.copy(shared_dir / "v2" / "studies" / f"{n}.json", d / f"{n}.json")
    t, _ = import_tables([d])
    t.update(facet_tables(t))
    return t


def test_apply_filters__raw_tables_and_prepared_agree(tables: dict[str, pd.DataFrame]) -> None:
    state = FilterState(statuses=(), any_immunotherapy=True)
    a = apply_filters(tables, state)
    b = apply_filters(prepare(tables), state)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) > 0


def test_apply_filters__empty_state_keeps_every_trial(tables: dict[str, pd.DataFrame]) -> None:
    got = apply_filters(tables, FilterState(statuses=(), scope="all"))
    assert sorted(got["nct_id"]) == sorted(tables["trials"]["nct_id"].astype(str))
    assert list(got["url"]) == [f"https://clinicaltrials.gov/study/{n}" for n in got["nct_id"]]


def test_apply_filters__each_filter_only_removes(tables: dict[str, pd.DataFrame]) -> None:
    p = prepare(tables)
    base = filter_mask(p, FilterState(statuses=()))
    for state in (
        FilterState(statuses=(), classes=("checkpoint_inhibitor",)),
        FilterState(statuses=(), had_immunotherapy=True),
        FilterState(statuses=(), advanced=True),
        FilterState(statuses=(), histology_subtypes=("epithelioid",)),
        FilterState(statuses=(), countries=("United States",)),
        FilterState(statuses=(), age=15),
        FilterState(statuses=(), text="mesothelin"),
    ):
        m = filter_mask(p, state)
        assert not (m & ~base).any(), state


def test_apply_filters__zip_sorts_by_distance_and_radius_cuts(tables: dict[str, pd.DataFrame]) -> None:
    near = apply_filters(tables, FilterState(statuses=(), zip_code="10001"))
    d = near["distance_miles"].dropna().to_numpy()
    assert len(d) > 0 and np.all(np.diff(d) >= 0)
    cut = apply_filters(tables, FilterState(statuses=(), zip_code="10001", radius_miles=100))
    assert set(cut["nct_id"]) == set(near.loc[near["distance_miles"] <= 100, "nct_id"])
    assert cut["nearest_site"].notna().all()


def test_apply_filters__bad_zip_raises_usage_error(tables: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(UsageError, match="not a US ZIP code"):
        apply_filters(tables, FilterState(zip_code="abc"))


def test_query_params__round_trip_without_personal_fields() -> None:
    state = FilterState(
        classes=("car_t",), any_immunotherapy=True, advanced=True, had_immunotherapy=True,
        statuses=("RECRUITING",), phases=("PHASE2",), histology_sites=("pleural",), countries=("France",),
        radius_miles=50, zip_code="10001", age=60, sex="MALE", text="nivolumab", scope="mesothelioma",
    )  # fmt: skip
    qp = to_query_params(state)
    assert not {"zip", "age", "sex", "q", "text"} & set(qp)
    options = Options(histology_sites=("pleural",), countries=("France",))
    back, warnings = from_query_params(qp, options)
    assert warnings == []
    assert back == FilterState(
        classes=("car_t",), any_immunotherapy=True, advanced=True, had_immunotherapy=True,
        statuses=("RECRUITING",), phases=("PHASE2",), histology_sites=("pleural",), countries=("France",),
        radius_miles=50, scope="mesothelioma",
    )  # fmt: skip


def test_query_params__defaults_give_an_empty_url_and_any_status_round_trips() -> None:
    assert to_query_params(FilterState()) == {}
    qp = to_query_params(FilterState(statuses=()))
    assert qp == {"status": ["any"]}
    assert from_query_params(qp, Options())[0].statuses == ()


def test_printable_html__escapes_registry_text_one_page_per_trial(tables: dict[str, pd.DataFrame]) -> None:
    t = dict(tables)
    trials = t["trials"].copy()
    first = str(trials["nct_id"].iloc[0])
    trials.loc[trials.index[0], "title"] = (
        '<img src=x onerror=alert(1)> "quoted" & more'  # test-only variation
    )
    t["trials"] = trials
    ids = [first, str(trials["nct_id"].iloc[1]), "NCT00000000"]
    page = printable_html(t, ids, data_as_of="2026-03-13")
    assert page.count('<section class="page">') == 2  # the unknown ID is left out
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt; &quot;quoted&quot; &amp; more" in page
    assert "<script" not in page and "http" not in page.split("<body>")[0].replace("http-equiv", "")
    assert f'href="https://clinicaltrials.gov/study/{first}"' in page
    assert "not medical advice" in page.lower()


_LINK_MARKUP = "![i](http://evil.example/x.png) $e$ :red[y] <b>e</b> `x`"


def test_from_query_params__warnings_quote_link_text_inertly() -> None:
    qp = {"class": ["car_t", _LINK_MARKUP], "io": _LINK_MARKUP[:20], "radius": "7", "zip": "10001",
          "[k](javascript:x)": "1"}  # fmt: skip
    state, warnings = from_query_params(qp, Options())
    assert state.classes == ("car_t",) and len(warnings) == 5
    # values: in a code span (shown verbatim, nothing inside interpreted), fenced past any backtick
    assert f"`{_LINK_MARKUP[:40]!r}`" in warnings[0]
    assert f"`{_LINK_MARKUP[:20]!r}`" in warnings[1] and "`'7'`" in warnings[2]
    # names: escaped, so they are shown literally too
    assert "(zip)" in warnings[3] and "\\[k\\]\\(javascript\\:\u200bx\\)" in warnings[4]
    outside = [re.sub(r"(`+).*?\1", "", w) for w in warnings]
    assert not any(re.search(r"(?<!\\)(\]\(|!\[|\$e|<b)", w) for w in outside), outside


def test_printable_html__long_trial_is_trimmed_to_fit_one_page(tables: dict[str, pd.DataFrame]) -> None:
    from trialfinder.ui.printable import MAX_CRITERIA_CHARS, MAX_SITES

    t = dict(tables)
    locs = t["locations"]
    nct = str(locs["nct_id"].value_counts().index[0])  # the real trial with the most sites
    n_sites = int((locs["nct_id"] == nct).sum())
    assert n_sites > MAX_SITES
    elig = t["eligibility"].copy()
    row = elig.index[elig["nct_id"] == nct][0]
    real = str(elig.at[row, "criteria"] or "Inclusion Criteria: adults")
    # test-only variation of the real criteria: blank lines between items, and much longer
    elig.at[row, "criteria"] = "\n\n\n".join([real] * 6)
    t["eligibility"] = elig
    page = printable_html(t, [nct], data_as_of="2026-03-13")
    body = page.split('<section class="page">', 1)[1]
    assert body.count("<li>") == MAX_SITES and f"Sites ({n_sites})" in body
    assert f"and {n_sites - MAX_SITES} more on ClinicalTrials.gov" in body
    crit = body.split('<div class="criteria">', 1)[1].split("</div>", 1)[0]
    assert "\n\n" not in crit and len(crit) <= MAX_CRITERIA_CHARS * 2  # escaped text may grow
    assert "Shortened; the full criteria are on ClinicalTrials.gov." in body
    assert "@page" in page  # print margins are ours, not the browser's default


@pytest.mark.parametrize(
    ("lo", "hi", "text"),
    [
        (18.0, None, "18 years and older"),
        (18.0, 75.0, "18 to 75 years"),
        (None, 65.0, "up to 65 years"),
        (float("nan"), None, "no limits stated"),
        (0.5, None, "0.5 years and older"),
    ],
)
def test_age_range_text__plain_words(lo: float | None, hi: float | None, text: str) -> None:
    from trialfinder.ui.labels import age_range_text

    assert age_range_text(lo, hi) == text


def test_printable_html__flags_an_open_status_in_an_old_record(tables: dict[str, pd.DataFrame]) -> None:
    t = dict(tables)
    trials = t["trials"].copy()
    first, second = str(trials["nct_id"].iloc[0]), str(trials["nct_id"].iloc[1])
    # test-only variations of two real records: both recruiting, one untouched for years, one recent
    trials.loc[trials.index[:2], "overall_status"] = "RECRUITING"
    trials.loc[trials.index[0], "last_update_posted"] = "2020-04-28"
    trials.loc[trials.index[1], "last_update_posted"] = "2026-01-05"
    t["trials"] = trials
    page = printable_html(t, [first, second], data_as_of="2026-03-13")
    old, new = page.split('<section class="page">')[1:3]
    assert "not been updated since 28 April 2020" in old and "may be out of date" in old
    assert "may be out of date" not in new
    assert "may be out of date" not in printable_html(t, [first], data_as_of="")  # no data date, no claim


def test_printable_html__a_sentence_is_quoted_once_per_page(tables: dict[str, pd.DataFrame]) -> None:
    t = dict(tables)
    facets = t["facets"].copy()
    nct = str(facets["nct_id"].iloc[0])
    crit = t["eligibility"].set_index("nct_id")["criteria"].astype("string").fillna("")
    sentence = next(line.strip() for line in str(crit.get(nct, "")).splitlines() if len(line.strip()) > 20)
    # test-only variation of a real record: one of its own criteria lines as evidence for three facets
    for col in ("advanced_disease_evidence", "prior_immunotherapy_evidence", "line_of_therapy_evidence"):
        facets[col] = facets[col].astype(object)
        facets.at[facets.index[0], col] = sentence
    t["facets"] = facets
    page = printable_html(t, [nct], data_as_of="2026-03-13").split('<section class="page">')[1]
    facts = page.split('<table class="facts">', 1)[1].split("</table>", 1)[0]
    assert facts.count(html.escape(sentence[:20])) == 1  # quoted in the first row, not repeated
