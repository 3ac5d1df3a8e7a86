"""The other pages (AppTest on the recorded snapshot): detail, shortlist, explainers, what's new,
overview; the banners, the disclaimer, the empty state, and registry text never rendered as markup."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP, CHANGED_NCT, HOSTILE_NCT, HOSTILE_TITLE, SnapshotFixture, page
from tests.app.helpers import merged, open_default
from trialfinder import explainers

pytestmark = pytest.mark.slow

MESO_CAR_T = "NCT02414269"  # MSKCC intrapleural mesothelin CAR-T (classic XML record)


def _run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _detail(app: AppTest, nct: str | None = None) -> AppTest:
    """Open the detail page as a shared link would: ``/trial?nct=...``."""
    at = _run(app)
    at.switch_page(page("trial_detail.py"))
    at.query_params.clear()
    if nct is not None:
        at.query_params["nct"] = nct
    return _run(at)


def _all_markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


# --- everywhere ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "script",
    ["find_trials.py", "trial_detail.py", "shortlist.py", "explainers.py", "whats_new.py", "overview.py"],
)
def test_every_page__freshness_line_stale_warning_and_disclaimer(
    app: AppTest, recorded_snapshot: SnapshotFixture, script: str
) -> None:
    at = _run(app)
    at.switch_page(page(script))
    _run(at)
    captions = " ".join(c.value for c in at.caption)
    assert "ClinicalTrials.gov data as of **13 March 2026**" in captions
    assert recorded_snapshot.manifest["data_timestamp"] == "2026-03-13"
    assert any("days old" in w for w in at.warning.values)  # recorded data is older than 14 days
    assert "This is not medical advice" in captions
    assert "evaluated by the U.S. Federal Government" in captions


def test_banner__recorded_demo_mode(
    app: AppTest, demo_snapshot: Path, use_data: Callable[[Path], None]
) -> None:
    use_data(demo_snapshot)
    at = _run(app)
    assert any(w.startswith("**Offline demo.**") for w in at.warning.values)
    assert not any("days old" in w for w in at.warning.values)


def test_empty_state__tells_exactly_what_to_run(tmp_path: Path, use_data: Callable[[Path], None]) -> None:
    use_data(tmp_path / "nothing-here")
    at = _run(AppTest.from_file(str(APP), default_timeout=60))
    assert [t.value for t in at.title] == ["No trial data yet"]
    commands = [c.value for c in at.code]
    assert "trialfinder refresh" in commands and "trialfinder import PATH" in commands
    assert str(tmp_path / "nothing-here") in " ".join(c.value for c in at.caption)
    # explainers still work without data
    at.switch_page(page("explainers.py"))
    _run(at)
    assert [t.value for t in at.title] == ["Explainers"]


def test_corrupt_snapshot__says_how_to_fix(tmp_path: Path, use_data: Callable[[Path], None]) -> None:
    snaps = tmp_path / "snapshots"
    snaps.mkdir(parents=True)
    (snaps / "CURRENT").write_text("20260101T000000Z-abcdef")  # names a folder that does not exist
    use_data(tmp_path)
    at = _run(AppTest.from_file(str(APP), default_timeout=60))
    assert [t.value for t in at.title] == ["The trial data cannot be read"]
    assert "trialfinder refresh" in [c.value for c in at.code]


# --- trial detail ----------------------------------------------------------------------------


def test_detail__shows_every_section_for_a_real_trial(
    app: AppTest, recorded_snapshot: SnapshotFixture
) -> None:
    at = _detail(app, MESO_CAR_T)
    trials = recorded_snapshot.tables["trials"]
    title = str(trials.loc[trials["nct_id"] == MESO_CAR_T, "title"].iloc[0])
    assert at.header[0].value.replace("\\", "") == title
    assert [s.value for s in at.subheader] == [
        "Why this trial may fit", "Summary", "Treatment groups (arms)", "Eligibility", "Sites and contacts",
        "Record dates",
    ]  # fmt: skip
    assert [t.label for t in at.tabs] == ["Who can join (inclusion)", "Who cannot join (exclusion)"]
    assert at.query_params["nct"] == MESO_CAR_T
    md = _all_markdown(at)
    assert "**Treatment types:**" in md and "CAR\\-T cells" in md
    assert any(e.label.startswith("CAR-T") for e in at.expander)  # explainer beside the details
    assert len(at.dataframe) == 1  # sites table
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")  # offline site map


@pytest.mark.parametrize(
    ("scope", "needle"),
    [
        ("mesothelioma", "**Cancer:** a mesothelioma trial — the record says: “"),
        ("solid_tumours", "**Cancer:** open to many solid tumours (not only mesothelioma) — the record's"),
        ("other", "**Cancer:** the record does not name mesothelioma or solid tumours in general."),
    ],
)
def test_detail__why_it_may_fit_says_which_cancers(
    app: AppTest, recorded_snapshot: SnapshotFixture, scope: str, needle: str
) -> None:
    df = merged(recorded_snapshot.tables)
    nid = str(df.loc[df["scope"] == scope, "nct_id"].sort_values().iloc[0])
    at = _detail(app, nid)
    md = _all_markdown(at)
    assert needle in md, md[:400]
    if scope == "mesothelioma":  # the registry's own words are quoted
        conds = recorded_snapshot.tables["conditions"]
        words = conds.loc[conds["nct_id"] == nid, "condition"].astype(str)
        first = next(w for w in words if "mesothelioma" in w.lower())
        assert first.replace(" ", "").lower() in md.replace("\\", "").replace(" ", "").lower()


def test_detail__evidence_sentences_are_bold_in_the_criteria(
    app: AppTest, recorded_snapshot: SnapshotFixture
) -> None:
    facets = recorded_snapshot.tables["facets"]
    row = facets[facets["nct_id"] == MESO_CAR_T].iloc[0]
    evidence = [e for e in str(row["advanced_disease_evidence"]).split(" | ") if e]
    assert evidence, "the recorded CAR-T trial has advanced-disease evidence"
    at = _detail(app, MESO_CAR_T)
    inclusion = at.tabs[0]
    bold = " ".join(m.value for m in inclusion.markdown)
    assert bold.count("**") >= 2
    first_words = evidence[0].split()[0]
    assert f"**{first_words}" in bold or f"**{first_words.capitalize()}" in bold


def test_detail__bad_nct_id_is_a_clear_message(app: AppTest) -> None:
    at = _detail(app, "NCT123")
    assert any("not an NCT ID" in e.value and "NCT followed by 8 digits" in e.value for e in at.error)
    at.text_input(key="d_nct").input("javascript:alert(1)")
    _run(at)
    assert any("not an NCT ID" in e.value for e in at.error)


@pytest.mark.parametrize(
    ("nct", "flagged"),
    [
        ("NCT03710876", True),  # recorded as Recruiting, record last updated 2020-04-28
        ("NCT03745326", False),  # Recruiting, record updated 2025-09-24: within two years of the data
    ],
)
def test_detail__open_status_in_an_old_record_is_flagged(app: AppTest, nct: str, flagged: bool) -> None:
    at = _detail(app, nct)
    notes = [w for w in at.warning.values if "may be out of date" in w]
    assert bool(notes) == flagged
    if flagged:
        assert "not been updated since 28 April 2020" in notes[0] and "“Recruiting”" in notes[0]


def test_detail__unknown_nct_id_is_a_clear_message(app: AppTest) -> None:
    at = _detail(app, "NCT00000000")
    assert any("NCT00000000 is not in the current data" in w for w in at.warning.values)


def test_detail__no_id_yet_explains_how_to_pick(app: AppTest) -> None:
    at = _detail(app)
    assert any("Type an NCT ID" in i.value for i in at.info)


def test_detail__add_and_remove_shortlist(app: AppTest) -> None:
    at = _detail(app, MESO_CAR_T)
    at.button(key="d_add").click()
    _run(at)
    assert at.session_state["tf_shortlist"] == [MESO_CAR_T]
    at.button(key="d_remove").click()
    _run(at)
    assert at.session_state["tf_shortlist"] == []


def test_detail__hostile_registry_text_is_escaped_never_html(
    app: AppTest, hostile_snapshot: Path, use_data: Callable[[Path], None]
) -> None:
    use_data(hostile_snapshot)
    at = _detail(app, HOSTILE_NCT)
    shown = at.header[0].value
    assert shown.replace("\\", "").replace("\u200b", "") == HOSTILE_TITLE  # shown literally
    assert "\\<script\\>" in shown and "<script>" not in shown
    assert "\\[x\\]\\(javascript\\:" in shown and "\\!\\[i\\]" in shown and "\\$x\\$" in shown
    for m in at.markdown:
        assert not m.proto.allow_html, m.value[:80]
    assert not at.get("html")


# --- shortlist -------------------------------------------------------------------------------


def test_shortlist__empty_explains_how_to_add(app: AppTest) -> None:
    at = _run(app)
    at.switch_page(page("shortlist.py"))
    _run(at)
    assert any("Your shortlist is empty" in i.value for i in at.info)


def test_shortlist__five_trials_remove_and_downloads(
    app: AppTest, recorded_snapshot: SnapshotFixture
) -> None:
    trials = recorded_snapshot.tables["trials"]
    five = trials[trials["overall_status"] == "RECRUITING"]["nct_id"].astype(str).head(5).tolist()
    app.session_state["tf_shortlist"] = five
    at = _run(app)
    at.switch_page(page("shortlist.py"))
    _run(at)
    labels = {d.label: d.proto.url for d in at.download_button}
    assert labels["Download spreadsheet (CSV)"].endswith(".csv")
    assert labels["Download printable summary"].endswith(".html")
    md = _all_markdown(at)
    assert all(n in md for n in five)
    at.button(key=f"s_rm_{five[0]}").click()
    _run(at)
    assert at.session_state["tf_shortlist"] == five[1:]
    at.button(key="s_clear").click()
    _run(at)
    assert at.session_state["tf_shortlist"] == []


# --- explainers, what's new, overview ---------------------------------------------------------


def test_explainers__every_topic_renders_with_its_review_date(app: AppTest) -> None:
    at = _run(app)
    at.switch_page(page("explainers.py"))
    _run(at)
    for name in explainers.EXPLAINERS:
        at.segmented_control(key="e_topic").set_value(name)
        _run(at)
        assert at.header[0].value == explainers.load(name).title
        assert "Last reviewed: 2026-11-21" in _all_markdown(at)
        assert at.query_params["topic"] == name


def test_explainers__topic_from_link_and_unknown_topic(app: AppTest) -> None:
    at = _run(app)
    at.switch_page(page("explainers.py"))
    at.query_params.clear()
    at.query_params["topic"] = "staging"  # as a shared link /explainers?topic=staging
    _run(at)
    assert at.header[0].value.startswith("Staging")
    at2 = _run(AppTest.from_file(str(APP), default_timeout=60))
    at2.switch_page(page("explainers.py"))
    at2.query_params.clear()
    at2.query_params["topic"] = "../../etc/passwd"
    _run(at2)
    assert at2.header[0].value == "Checkpoint inhibitors"
    assert any("topic this page does not have" in w for w in at2.warning.values)


def test_whats_new__lists_the_status_change(app: AppTest, recorded_snapshot: SnapshotFixture) -> None:
    changes = recorded_snapshot.tables["changes"]
    assert (changes["change"] == "status_changed").any()
    at = _run(app)
    at.switch_page(page("whats_new.py"))
    _run(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Status changed"] == str(int((changes["change"] == "status_changed").sum()))
    table = at.dataframe[0].value
    row = table[table["NCT ID"] == CHANGED_NCT].iloc[0]
    assert (row["Change"], row["Before"], row["After"]) == (
        "Status changed", "Recruiting", "Active, not recruiting",
    )  # fmt: skip
    at.multiselect(key="w_kinds").set_value([])
    _run(at)
    assert at.dataframe[0].value.empty


def test_overview__counts_follow_the_scope(app: AppTest, recorded_snapshot: SnapshotFixture) -> None:
    at = _run(app)
    at.checkbox(key="f_cls_car_t").check()
    _run(at)
    at.switch_page(page("overview.py"))
    _run(at)
    n_all = len(recorded_snapshot.tables["trials"])
    assert any(c.value.startswith(f"{n_all:,} trials") for c in at.caption)
    charts = at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
    assert len(charts) == 4
    at.radio(key="o_scope").set_value("filtered")
    _run(at)
    # Find's filters: CAR-T, the default statuses and the default "Which trials" (mesothelioma or many
    # solid tumours)
    f = open_default(merged(recorded_snapshot.tables))
    n_car_t = int(f["intervention_classes"].map(lambda c: "car_t" in c).sum())
    assert 0 < n_car_t < n_all
    assert any(c.value.startswith(f"{n_car_t:,} trials") for c in at.caption)
