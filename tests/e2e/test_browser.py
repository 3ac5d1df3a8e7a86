"""One real-browser walk through the dashboard, as a patient and a navigator would use it.

Patient: stage 4 pleural mesothelioma, already had nivolumab + ipilimumab, lives near ZIP 10001.
Navigator: shortlists trials, downloads the CSV (checked here) and the printable summary.
Screenshots of every page go to artifacts/screenshots/.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONTRACT_COLUMNS = [
    "nct_id", "title", "overall_status", "phases", "conditions", "interventions", "intervention_classes",
    "advanced_disease", "advanced_disease_evidence", "prior_immunotherapy", "prior_immunotherapy_evidence",
    "line_of_therapy", "url", "last_update_posted", "data_as_of",
]  # fmt: skip


def _settle(page: object) -> None:
    """Wait for Streamlit to finish the run triggered by the last action."""
    from playwright.sync_api import Page
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    assert isinstance(page, Page)
    with contextlib.suppress(PlaywrightTimeout):  # the run may have finished already
        page.locator('[data-testid="stApp"]:not([data-test-script-state="notRunning"])').wait_for(
            timeout=1500
        )
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=60_000)
    page.wait_for_function(
        "() => document.querySelectorAll('[data-stale=\"true\"]').length === 0", timeout=30_000
    )
    # lazily loaded widgets show a grey skeleton (React Suspense fallback) until their code arrives
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0", timeout=30_000
    )
    page.wait_for_timeout(200)


def _count(page: object) -> int:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    text = page.get_by_text(re.compile(r"^[\d,]+ trials? match")).first.inner_text()
    m = re.match(r"([\d,]+)", text)
    assert m, text
    return int(m.group(1).replace(",", ""))


def test_browser__patient_and_navigator_walkthrough(
    chromium_path: Path, app_url: str, screenshots_dir: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.e2e.conftest import CHROMIUM_ARGS

    (screenshots_dir / "failure.png").unlink(missing_ok=True)  # only this run's failure, if any
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1440, "height": 1800}, accept_downloads=True)
        page = context.new_page()
        try:
            page.goto(app_url, wait_until="domcontentloaded")
            expect(page.get_by_role("heading", name="Find trials")).to_be_visible(timeout=60_000)
            _settle(page)
            expect(page.get_by_text("Offline demo.")).to_be_visible()
            expect(page.get_by_text("This is not medical advice.")).to_be_visible()
            start = _count(page)
            page.screenshot(path=str(screenshots_dir / "01-find-trials.png"), full_page=True)

            side = page.locator('[data-testid="stSidebar"]')
            # "Which trials": mesothelioma only is fewer than the default (+ many solid tumours), which is
            # fewer than every trial in the data; the choice goes into the link
            side.get_by_text(re.compile(r"^Mesothelioma trials \(\d+\)$")).click()
            page.wait_for_function("() => location.search.includes('trials=mesothelioma')", timeout=30_000)
            _settle(page)
            meso_only = _count(page)
            side.get_by_text(re.compile(r"^All trials in the data \(")).click()
            page.wait_for_function("() => location.search.includes('trials=all')", timeout=30_000)
            _settle(page)
            every = _count(page)
            assert 0 < meso_only < start < every
            side.get_by_text(re.compile(r"^Also trials open to many solid tumours \(")).click()
            page.wait_for_function("() => !location.search.includes('trials=')", timeout=30_000)
            _settle(page)
            assert _count(page) == start

            # the patient: advanced, had immunotherapy, pleural, near 10001
            side.get_by_text("My cancer is advanced / stage 4").click()
            _settle(page)
            side.get_by_text("I already had immunotherapy").click()
            _settle(page)
            assert "had_io=1" in page.url and "advanced=1" in page.url
            after_prior = _count(page)
            assert after_prior < start
            side.get_by_text("Any immunotherapy").click()
            _settle(page)
            any_io = _count(page)
            assert any_io < after_prior
            zip_box = side.get_by_role("textbox", name="Distance from US ZIP code")
            zip_box.fill("10001")
            zip_box.press("Enter")
            _settle(page)
            expect(page.get_by_text(re.compile(r"nearest to 10001 \(New York, NY\) first"))).to_be_visible()
            assert "10001" not in page.url  # the ZIP code never goes into the link
            page.screenshot(path=str(screenshots_dir / "02-find-patient-filters.png"), full_page=True)

            # a bad ZIP gives a clear message
            zip_box.fill("1000A")
            zip_box.press("Enter")
            _settle(page)
            expect(page.get_by_text(re.compile("not a US ZIP code"))).to_be_visible()
            zip_box.fill("10001")
            zip_box.press("Enter")
            _settle(page)

            # CAR-T only narrows further
            side.get_by_text("Any immunotherapy").click()
            page.wait_for_function("() => !/[?&]io=1/.test(location.search)", timeout=30_000)
            _settle(page)
            side.get_by_text(re.compile(r"^CAR-T cells \(\d+\)$")).click()
            page.wait_for_function("() => location.search.includes('class=car_t')", timeout=30_000)
            _settle(page)
            n_car_t = _count(page)
            assert 0 < n_car_t < any_io

            # open the first trial, add it to the shortlist
            page.get_by_role("button", name="See details").click()
            _settle(page)
            expect(page.get_by_role("heading", name="Why this trial may fit")).to_be_visible(timeout=30_000)
            nct = re.search(r"nct=(NCT\d{8})", page.url)
            assert nct, page.url
            nct_id = nct.group(1)
            expect(page.get_by_text("Who can join (inclusion)")).to_be_visible()
            expect(page.get_by_text("CAR-T cells").first).to_be_visible()  # the trial fits the filter
            page.get_by_role("button", name="Add to shortlist").click()
            _settle(page)
            expect(page.get_by_role("button", name="Remove from shortlist")).to_be_visible()
            page.screenshot(path=str(screenshots_dir / "03-trial-detail.png"), full_page=True)

            # a second trial by NCT ID (CheckMate 743), then a bad one
            box = page.get_by_role("textbox", name="NCT ID")
            box.fill("NCT02899299")
            box.press("Enter")
            _settle(page)
            expect(page.get_by_role("heading", name="Why this trial may fit")).to_be_visible()
            page.get_by_role("button", name="Add to shortlist").click()
            _settle(page)
            box.fill("NCT12")
            box.press("Enter")
            _settle(page)
            expect(page.get_by_text(re.compile("'NCT12' is not an NCT ID"))).to_be_visible()

            # the navigator: shortlist, CSV and printable downloads
            page.get_by_role("link", name="Shortlist").first.click()
            _settle(page)
            expect(page.get_by_role("heading", name="My shortlist")).to_be_visible()
            page.screenshot(path=str(screenshots_dir / "04-shortlist.png"), full_page=True)
            with page.expect_download() as dl_info:
                page.get_by_role("button", name="Download spreadsheet (CSV)").click()
            csv_path = tmp_path / "shortlist.csv"
            dl_info.value.save_as(csv_path)
            raw = csv_path.read_bytes()
            assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM
            rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
            assert rows[0][: len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS
            assert [r[0] for r in rows[1:]] == [nct_id, "NCT02899299"]
            assert rows[1][rows[0].index("url")] == f"https://clinicaltrials.gov/study/{nct_id}"
            assert raw.decode("utf-8-sig").split("\r\n")[0].startswith('"nct_id","title"')  # all quoted
            with page.expect_download() as dl_info:
                page.get_by_role("button", name="Download printable summary").click()
            html_path = tmp_path / "shortlist.html"
            dl_info.value.save_as(html_path)
            printable = html_path.read_text(encoding="utf-8")
            assert printable.count('class="page"') == 2 and nct_id in printable and "<script" not in printable
            # printed (chromium's own PDF), it is a cover page plus exactly one page per trial
            print_page = context.new_page()
            print_page.set_content(printable, wait_until="load")
            for paper in ("Letter", "A4"):
                pdf = print_page.pdf(format=paper)
                assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1 + 2, paper
            print_page.set_viewport_size({"width": 816, "height": 1056})
            print_page.emulate_media(media="print")
            print_page.screenshot(path=str(screenshots_dir / "04b-printable.png"), full_page=True)
            print_page.close()

            # every other page renders
            for name, heading, shot in (
                ("Explainers", "Explainers", "05-explainers.png"),
                ("What's new", "What's new", "06-whats-new.png"),
                ("Overview", "Overview", "07-overview.png"),
            ):
                page.get_by_role("link", name=name).first.click()
                _settle(page)
                expect(page.get_by_role("heading", name=heading).first).to_be_visible()
                page.screenshot(path=str(screenshots_dir / shot), full_page=True)
        except BaseException:
            page.screenshot(path=str(screenshots_dir / "failure.png"), full_page=True)
            raise
        finally:
            context.close()
            browser.close()
