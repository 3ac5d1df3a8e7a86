"""Find trials page (AppTest on the recorded snapshot): every filter changes the results as expected."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import SnapshotFixture
from tests.app.helpers import (
    ids,
    in_default_scope,
    match_count,
    merged,
    open_any_scope,
    open_default,
    result_ids,
    shown,
)
from trialfinder import geo
from trialfinder.ui.labels import IMMUNOTHERAPY_CLASSES
from trialfinder.ui.scope import MESOTHELIOMA, OTHER, SCOPE_LABELS, SOLID_TUMOURS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def df(recorded_snapshot: SnapshotFixture) -> pd.DataFrame:
    return merged(recorded_snapshot.tables)


def _run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_find__default_shows_recruiting_and_not_yet_recruiting(app: AppTest, df: pd.DataFrame) -> None:
    at = _run(app)
    assert [t.value for t in at.title] == ["Find trials"]
    expected = open_default(df)
    assert match_count(at) == len(expected) > 0
    assert set(result_ids(at)) == ids(expected)
    assert at.multiselect(key="f_status").value == ["RECRUITING", "NOT_YET_RECRUITING"]
    assert dict(at.query_params) == {}  # defaults are not written to the URL


def test_find__car_t_narrows_to_the_car_t_trials(app: AppTest, df: pd.DataFrame) -> None:
    at = _run(app)
    before = match_count(at)
    at.checkbox(key="f_cls_car_t").check()
    _run(at)
    expected = open_default(df)[lambda d: d["intervention_classes"].map(lambda c: "car_t" in c)]
    assert 0 < len(expected) < before
    assert set(result_ids(at)) == ids(expected)
    assert at.query_params["class"] == "car_t"
    # the explainer for the classes in view is shown beside the results
    assert any(e.label == "CAR-T and other cell therapy" for e in at.expander)


def test_find__any_immunotherapy_is_the_union_of_immunotherapy_classes(
    app: AppTest, df: pd.DataFrame
) -> None:
    at = _run(app)
    at.checkbox(key="f_io").check()
    _run(at)
    expected = open_default(df)[
        lambda d: d["intervention_classes"].map(lambda c: bool(set(c) & set(IMMUNOTHERAPY_CLASSES)))
    ]
    assert set(result_ids(at)) == ids(expected)
    assert at.query_params["io"] == "1"


def test_find__other_treatment_class_checkbox(app: AppTest, df: pd.DataFrame) -> None:
    at = _run(app)
    at.checkbox(key="f_cls_chemotherapy").check()
    _run(at)
    expected = open_default(df)[lambda d: d["intervention_classes"].map(lambda c: "chemotherapy" in c)]
    assert set(result_ids(at)) == ids(expected) and len(expected) > 0


def test_find__had_immunotherapy_removes_trials_that_exclude_it(app: AppTest, df: pd.DataFrame) -> None:
    at = _run(app)
    at.checkbox(key="f_had_io").check()
    _run(at)
    base = open_default(df)
    expected = base[base["prior_immunotherapy"] != "excluded"]
    assert (base["prior_immunotherapy"] == "excluded").any()  # the filter has something to remove
    shown = set(result_ids(at))
    assert shown == ids(expected)
    assert not shown & ids(base[base["prior_immunotherapy"] == "excluded"])


def test_find__advanced_hides_early_disease_only_trials(app: AppTest, df: pd.DataFrame) -> None:
    at = _run(app)
    at.checkbox(key="f_advanced").check()
    at.multiselect(key="f_status").set_value([])  # all statuses, so "no" trials exist in the base
    _run(at)
    base = in_default_scope(df)
    assert (base["advanced_disease"] == "no").any()
    assert set(result_ids(at)) == ids(base[base["advanced_disease"] != "no"])
    assert at.query_params["status"] == "any"


@pytest.mark.parametrize("statuses", [["COMPLETED"], ["ACTIVE_NOT_RECRUITING", "TERMINATED"]])
def test_find__status(app: AppTest, df: pd.DataFrame, statuses: list[str]) -> None:
    at = _run(app)
    at.multiselect(key="f_status").set_value(statuses)
    _run(at)
    base = in_default_scope(df)
    expected = base[base["overall_status"].isin(statuses)]
    assert set(result_ids(at)) == ids(expected) and len(expected) > 0


def test_find__phase(app: AppTest, df: pd.DataFrame) -> None:
    at = _run(app)
    at.multiselect(key="f_phase").set_value(["PHASE3"])
    _run(at)
    expected = open_default(df)[lambda d: d["phases"].map(lambda p: "PHASE3" in p)]
    assert set(result_ids(at)) == ids(expected) and len(expected) > 0
    assert at.query_params["phase"] == "PHASE3"


def test_find__histology_site_hides_trials_only_for_other_sites(app: AppTest, df: pd.DataFrame) -> None:
    at = _run(app)
    at.multiselect(key="f_status").set_value([])
    at.multiselect(key="f_site").set_value(["peritoneal"])
    _run(at)
    base = in_default_scope(df)
    sites = base["histology_sites"]
    expected = base[sites.map(lambda s: not s or "peritoneal" in s)]
    assert set(result_ids(at)) == ids(expected)
    assert sites.map(lambda s: bool(s) and "peritoneal" not in s).any()  # something was hidden


def test_find__histology_subtype(app: AppTest, df: pd.DataFrame) -> None:
    at = _run(app)
    at.multiselect(key="f_status").set_value([])
    at.multiselect(key="f_subtype").set_value(["sarcomatoid"])
    _run(at)
    base = in_default_scope(df)
    subs = base["histology_subtypes"]
    assert set(result_ids(at)) == ids(base[subs.map(lambda s: not s or "sarcomatoid" in s)])


def test_find__country_and_us_state(
    app: AppTest, recorded_snapshot: SnapshotFixture, df: pd.DataFrame
) -> None:
    locs = recorded_snapshot.tables["locations"]
    at = _run(app)
    at.multiselect(key="f_country").set_value(["France"])
    _run(at)
    in_france = set(locs.loc[locs["country"] == "France", "nct_id"].astype(str))
    assert set(result_ids(at)) == ids(open_default(df)) & in_france
    at.multiselect(key="f_country").set_value([])
    at.multiselect(key="f_state").set_value(["New York"])
    _run(at)
    in_ny = set(
        locs.loc[(locs["country"] == "United States") & (locs["state"] == "New York"), "nct_id"].astype(str)
    )
    assert set(result_ids(at)) == ids(open_default(df)) & in_ny
    assert at.query_params["state"] == "New York"


def test_find__zip_10001_radius_keeps_trials_with_an_open_site_that_close(
    app: AppTest, recorded_snapshot: SnapshotFixture, df: pd.DataFrame
) -> None:
    at = _run(app)
    at.text_input(key="f_zip").input("10001")
    at.selectbox(key="f_radius").set_value(50)
    _run(at)
    # expected, by brute force over the sites (open: site status open, or missing on an open trial)
    trials = recorded_snapshot.tables["trials"].set_index("nct_id")["overall_status"]
    sites = geo.add_site_coordinates(recorded_snapshot.tables["locations"])
    open_statuses = {"RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION"}
    site_open = sites["site_status"].isin(open_statuses).fillna(False) | (
        sites["site_status"].isna() & sites["nct_id"].map(trials).isin(open_statuses)
    )
    ny = geo.lookup_zip("10001")
    miles = geo.haversine_miles(ny.lat, ny.lon, sites["geo_lat"], sites["geo_lon"])
    near = set(sites.loc[site_open.to_numpy(dtype=bool) & (miles <= 50), "nct_id"].astype(str))
    expected = ids(open_default(df)) & near
    got = result_ids(at)
    assert set(got) == expected and len(expected) > 0
    table = at.dataframe[0].value
    assert list(table["Miles"]) == sorted(table["Miles"])  # nearest first
    assert table["Miles"].max() <= 50
    assert "zip" not in at.query_params and at.query_params["radius"] == "50"


def test_find__bad_zip_shows_a_clear_message_and_keeps_results(app: AppTest, df: pd.DataFrame) -> None:
    at = _run(app)
    at.text_input(key="f_zip").input("1000A")
    _run(at)
    assert any("not a US ZIP code" in e.value for e in at.error)
    assert match_count(at) == len(open_default(df))
    at.text_input(key="f_zip").input("00000")
    _run(at)
    assert any("00000 was not found" in e.value for e in at.error)


def test_find__age(app: AppTest, df: pd.DataFrame) -> None:
    at = _run(app)
    at.number_input(key="f_age").set_value(12)
    _run(at)
    base = open_default(df)
    fits = ~(base["min_age_years"] > 12).fillna(False) & ~(base["max_age_years"] < 12).fillna(False)
    assert set(result_ids(at)) == ids(base[fits])
    assert len(base[fits]) < len(base)
    assert "age" not in at.query_params


def test_find__sex(app: AppTest, df: pd.DataFrame) -> None:
    at = _run(app)
    at.selectbox(key="f_sex").set_value("MALE")
    _run(at)
    base = open_default(df)
    sex_ok = base["sex"].isna() | base["sex"].isin(["ALL", "MALE"])
    assert set(result_ids(at)) == ids(base[sex_ok])
    assert (~sex_ok).any()  # some trials are for women only
    assert "sex" not in at.query_params


def test_find__free_text_searches_titles_and_interventions(app: AppTest, df: pd.DataFrame) -> None:
    at = _run(app)
    at.text_input(key="f_text").input("Nivolumab")
    _run(at)
    base = open_default(df)
    hay = (base["title"].fillna("") + " " + base["interventions"].map(" ".join)).str.lower()
    expected = base[hay.str.contains("nivolumab", regex=False)]
    got = set(result_ids(at))
    assert ids(expected) <= got and len(expected) > 0
    assert "q" not in at.query_params and "text" not in at.query_params


def test_find__filters_come_back_from_a_shared_url(app: AppTest, df: pd.DataFrame) -> None:
    app.query_params["class"] = "car_t"
    app.query_params["had_io"] = "1"
    at = _run(app)
    assert at.checkbox(key="f_cls_car_t").value is True
    assert at.checkbox(key="f_had_io").value is True
    expected = open_default(df)[
        lambda d: (
            d["intervention_classes"].map(lambda c: "car_t" in c) & (d["prior_immunotherapy"] != "excluded")
        )
    ]
    assert set(result_ids(at)) == ids(expected)
    assert not at.warning.values or all("link" not in w for w in at.warning.values)


def test_find__unknown_url_values_give_a_warning_and_are_ignored(app: AppTest, df: pd.DataFrame) -> None:
    app.query_params["class"] = ["car_t", "laser_beams"]
    app.query_params["status"] = "NOPE"
    app.query_params["radius"] = "7"
    app.query_params["zip"] = "10001"
    app.query_params["utm_source"] = "mail"
    at = _run(app)
    warnings = " ".join(shown(w) for w in at.warning.values)  # escaped: the link's text is never markup
    assert "'laser_beams'" in warnings and "'NOPE'" in warnings and "'7'" in warnings
    assert "never taken from a link" in warnings and "utm_source" in warnings
    assert at.checkbox(key="f_cls_car_t").value is True
    assert at.text_input(key="f_zip").value == ""  # personal data is not read from links
    assert at.multiselect(key="f_status").value == ["RECRUITING", "NOT_YET_RECRUITING"]
    expected = open_default(df)[lambda d: d["intervention_classes"].map(lambda c: "car_t" in c)]
    assert set(result_ids(at)) == ids(expected)
    assert dict(at.query_params) == {"class": "car_t"}  # the URL is rewritten without the bad parts


def test_find__clear_all_filters(app: AppTest, df: pd.DataFrame) -> None:
    at = _run(app)
    at.checkbox(key="f_cls_car_t").check()
    at.checkbox(key="f_had_io").check()
    _run(at)
    assert match_count(at) < len(open_default(df))
    at.button(key="f_clear").click()
    _run(at)
    assert at.checkbox(key="f_cls_car_t").value is False
    assert match_count(at) == len(open_default(df))
    assert dict(at.query_params) == {}


def test_find__no_match_explains_what_to_do(app: AppTest) -> None:
    at = _run(app)
    at.text_input(key="f_text").input("zzzz-no-such-words-zzzz")
    _run(at)
    assert match_count(at) == 0
    assert any("No trial matches" in i.value for i in at.info)


def test_find__add_to_shortlist_and_open_details(app: AppTest) -> None:
    at = _run(app)
    at.checkbox(key="f_cls_car_t").check()
    _run(at)
    first = result_ids(at)[0]
    pick = next(s for s in at.selectbox if s.label == "Choose a trial from the results")
    assert pick.value == first
    at.button(key="f_add").click()
    _run(at)
    assert at.session_state["tf_shortlist"] == [first]
    details = next(b for b in at.button if b.label == "See details")
    details.click()
    _run(at)
    assert at.text_input(key="d_nct").value == first
    assert at.query_params.get("nct") == first
    # filters survive a trip to another page and back
    from tests.app.conftest import page

    at.switch_page(page("find_trials.py"))
    _run(at)
    assert at.checkbox(key="f_cls_car_t").value is True


def test_find__results_are_sorted_recruiting_first_then_mesothelioma_first(
    app: AppTest, df: pd.DataFrame
) -> None:
    at = _run(app)
    table = at.dataframe[0].value
    order = table["Status"].map({"Recruiting": 0, "Not yet recruiting": 1}).to_numpy()
    assert np.all(np.diff(order) >= 0)
    for status in ("Recruiting", "Not yet recruiting"):
        kinds = table.loc[table["Status"] == status, "For"].map(
            {SCOPE_LABELS[MESOTHELIOMA]: 0, SCOPE_LABELS[SOLID_TUMOURS]: 1}
        )
        assert kinds.notna().all() and np.all(np.diff(kinds.to_numpy()) >= 0)
    assert table["For"].iloc[0] == SCOPE_LABELS[MESOTHELIOMA]  # the patient sees their cancer first


# --- "Which trials" (the cancer-type scope) --------------------------------------------------------


def test_find__which_trials_defaults_to_mesothelioma_and_solid_tumour_trials(
    app: AppTest, df: pd.DataFrame
) -> None:
    at = _run(app)
    assert at.radio(key="f_scope").value == "solid"
    expected = open_any_scope(df)[lambda d: d["scope"].isin([MESOTHELIOMA, SOLID_TUMOURS])]
    assert set(result_ids(at)) == ids(expected)
    # both kinds are in view, and nothing else (no asthma, no trial for one other cancer)
    assert set(expected["scope"]) == {MESOTHELIOMA, SOLID_TUMOURS}
    assert (open_any_scope(df)["scope"] == OTHER).any()
    # the results say which kind each trial is
    table = at.dataframe[0].value
    want = dict(zip(expected["nct_id"], expected["scope"].map(SCOPE_LABELS), strict=True))
    assert dict(zip(table["NCT ID"], table["For"], strict=True)) == want


@pytest.mark.parametrize(
    ("choice", "kept"),
    [("mesothelioma", {MESOTHELIOMA}), ("all", {MESOTHELIOMA, SOLID_TUMOURS, OTHER})],
)
def test_find__which_trials_each_option(app: AppTest, df: pd.DataFrame, choice: str, kept: set[str]) -> None:
    at = _run(app)
    before = match_count(at)
    at.radio(key="f_scope").set_value(choice)
    _run(at)
    expected = open_any_scope(df)[lambda d: d["scope"].isin(kept)]
    assert set(result_ids(at)) == ids(expected) and len(expected) > 0
    assert (len(expected) < before) if choice == "mesothelioma" else (len(expected) > before)
    assert at.query_params["trials"] == choice  # shareable: it is not personal
    at.radio(key="f_scope").set_value("solid")
    _run(at)
    assert match_count(at) == before and "trials" not in at.query_params  # the default is not written


def test_find__which_trials_combines_with_other_filters(app: AppTest, df: pd.DataFrame) -> None:
    at = _run(app)
    at.radio(key="f_scope").set_value("mesothelioma")
    at.checkbox(key="f_io").check()
    _run(at)
    expected = open_any_scope(df)[
        lambda d: (
            (d["scope"] == MESOTHELIOMA)
            & d["intervention_classes"].map(lambda c: bool(set(c) & set(IMMUNOTHERAPY_CLASSES)))
        )
    ]
    assert set(result_ids(at)) == ids(expected) and len(expected) > 0
    assert dict(at.query_params) == {"trials": "mesothelioma", "io": "1"}


def test_find__which_trials_comes_back_from_a_shared_url(app: AppTest, df: pd.DataFrame) -> None:
    app.query_params["trials"] = "mesothelioma"
    at = _run(app)
    assert at.radio(key="f_scope").value == "mesothelioma"
    assert set(result_ids(at)) == ids(open_any_scope(df)[lambda d: d["scope"] == MESOTHELIOMA])
    assert not at.warning.values or all("link" not in w for w in at.warning.values)


def test_find__which_trials_unknown_value_in_a_link_warns(app: AppTest, df: pd.DataFrame) -> None:
    app.query_params["trials"] = "asthma"
    at = _run(app)
    warnings = " ".join(shown(w) for w in at.warning.values)
    assert "'asthma'" in warnings and "ignored" in warnings
    assert at.radio(key="f_scope").value == "solid"
    assert set(result_ids(at)) == ids(open_default(df))
    assert "trials" not in at.query_params  # the URL is rewritten without the bad part


def test_find__class_counts_follow_which_trials(app: AppTest, df: pd.DataFrame) -> None:
    """The "(N)" after a treatment type counts the trials of the chosen "Which trials" (it counted every
    trial in the data before, which did not match what the results could show)."""

    def count(at: AppTest) -> int:
        label = at.checkbox(key="f_cls_checkpoint_inhibitor").label
        return int(label.rsplit("(", 1)[1].rstrip(")"))

    at = _run(app)
    cpi = df["intervention_classes"].map(lambda c: "checkpoint_inhibitor" in c)
    assert count(at) == int((cpi & (df["scope"] != OTHER)).sum())  # the default: mesothelioma + solid tumours
    at.radio(key="f_scope").set_value("all")
    _run(at)
    assert count(at) == int(cpi.sum()) > 0
    at.radio(key="f_scope").set_value("mesothelioma")
    _run(at)
    assert count(at) == int((cpi & (df["scope"] == MESOTHELIOMA)).sum())
