"""Real browser (Debian chromium via Playwright): hostile registry text on the trial detail page is
inert. No script runs (a marker the payloads would set stays unset, no dialog opens), no HTML is
rendered (no injected img/iframe/script/javascript: link), nothing is fetched from the payloads'
hosts, and the text is shown literally.

Reuses the browser helpers of ``tests/e2e/conftest.py`` (dashboard engineer's); the app runs on the
hostile snapshot of ``tests/reliability/conftest.py`` (TEST-ONLY variations of real records).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import CHROMIUM_ARGS, chromium_path, serve_app
from tests.reliability.hostile import HOSTILE
from trialfinder.store import Snapshot

__all__ = ["chromium_path"]
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

KINDS = ("script", "html", "md-link", "md-image", "math", "streamlit-markup", "rtl", "control")


@pytest.fixture(scope="module")
def hostile_app_url(hostile_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve_app(hostile_data, tmp_path_factory)


def _settle(page: object) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=60_000)
    page.wait_for_function(
        "() => document.querySelectorAll('[data-stale=\"true\"]').length === 0", timeout=30_000
    )
    page.get_by_text("Eligibility").first.wait_for(timeout=60_000)


def test_browser__hostile_registry_text_is_inert_on_detail_page(
    chromium_path: Path, hostile_app_url: str, hostile_records: tuple[Path, dict[str, str]]
) -> None:
    from playwright.sync_api import Dialog, Request, sync_playwright

    _, kinds = hostile_records
    by_kind = {k: n for n, k in kinds.items()}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        dialogs: list[str] = []
        evil_requests: list[str] = []

        def on_dialog(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        def on_request(request: Request) -> None:
            if "evil.example" in request.url:
                evil_requests.append(request.url)

        page.on("dialog", on_dialog)
        page.on("request", on_request)
        try:
            for kind in KINDS:
                nct = by_kind[kind]
                page.goto(f"{hostile_app_url}/trial?nct={nct}")
                _settle(page)
                assert page.evaluate("() => window.__tf_pwned") is None, kind
                injected = page.evaluate(
                    """() => ({
                        img: document.querySelectorAll('img[src*="evil.example"], img[src="x"]').length,
                        iframe: document.querySelectorAll('iframe[src*="evil.example"]').length,
                        js_links: document.querySelectorAll('a[href^="javascript:" i]').length,
                        scripts: [...document.scripts].filter(s => s.text.includes('__tf_pwned')).length,
                        bold: [...document.querySelectorAll("b")].filter(b => b.textContent == 'bold')
                            .length,
                        katex: document.querySelectorAll('.katex').length,
                    })"""
                )
                assert injected == {
                    "img": 0,
                    "iframe": 0,
                    "js_links": 0,
                    "scripts": 0,
                    "bold": 0,
                    "katex": 0,
                }, (
                    kind,
                    injected,
                )
                body = page.inner_text("body")
                # shown as text: every word of the payload's first line is on the page
                words = re.findall(r"\w{3,}", HOSTILE[kind].split("\n")[0])
                text = body.replace("\u200b", "")
                missing = [w for w in words if w not in text]
                assert words and not missing, (kind, missing)
        finally:
            context.close()
            browser.close()
    assert dialogs == []
    assert evil_requests == []


def test_browser__printable_shortlist_of_hostile_trials_is_inert(
    chromium_path: Path, hostile_snap: Snapshot, hostile_records: tuple[Path, dict[str, str]]
) -> None:
    """The printable summary (an HTML file the user downloads and opens) of every hostile trial."""
    from playwright.sync_api import Dialog, Request, sync_playwright

    from trialfinder.ui.printable import printable_html

    _, kinds = hostile_records
    doc = printable_html(hostile_snap.tables, list(kinds), data_as_of="2026-03-13")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        dialogs: list[str] = []
        requests: list[str] = []

        def on_dialog(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        def on_request(request: Request) -> None:
            requests.append(request.url)

        page.on("dialog", on_dialog)
        page.on("request", on_request)
        try:
            page.set_content(doc, wait_until="load")
            found = page.evaluate(
                """() => ({
                    pwned: window.__tf_pwned === undefined ? null : String(window.__tf_pwned),
                    scripts: document.scripts.length,
                    imgs: document.images.length,
                    iframes: document.querySelectorAll('iframe').length,
                    bold: [...document.querySelectorAll('b')].filter(b => b.textContent == 'bold').length,
                    hrefs: [...document.querySelectorAll('a')].map(a => a.getAttribute('href')),
                    pages: document.querySelectorAll('section.page').length,
                })"""
            )
            body = page.inner_text("body")
        finally:
            browser.close()
    assert found["pwned"] is None and dialogs == []
    assert (found["scripts"], found["imgs"], found["iframes"], found["bold"]) == (0, 0, 0, 0)
    assert found["pages"] == 1 + len(kinds)  # the cover and one page per trial
    assert found["hrefs"] and all(
        h.startswith("https://clinicaltrials.gov/study/NCT") for h in found["hrefs"]
    )
    assert requests == []  # nothing fetched from anywhere: the file works offline
    assert "<script>window.__tf_pwned=1</script>" in body  # shown as text


@pytest.fixture(scope="module")
def hostile_enum_app_url(studies_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import json

    from click.testing import CliRunner

    from tests.reliability.hostile import hostile_enum_variant
    from trialfinder.cli import cli

    src = tmp_path_factory.mktemp("hostile-enum-browser")
    record = json.loads((studies_dir / "NCT06790706.json").read_text(encoding="utf-8"))
    (src / "NCT06790706.json").write_text(json.dumps(hostile_enum_variant(record)), encoding="utf-8")
    data_dir = tmp_path_factory.mktemp("hostile-enum-browser-data") / "data"
    res = CliRunner().invoke(cli, ["import", str(src), "--data-dir", str(data_dir)])
    assert res.exit_code == 0, res.output
    yield from serve_app(data_dir, tmp_path_factory)


def test_browser__hostile_enum_values_inert_on_detail_page(
    chromium_path: Path, hostile_enum_app_url: str
) -> None:
    from playwright.sync_api import Request, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        evil: list[str] = []

        def on_request(request: Request) -> None:
            if "evil.example" in request.url:
                evil.append(request.url)

        page.on("request", on_request)
        try:
            page.goto(f"{hostile_enum_app_url}/trial?nct=NCT06790706")
            _settle(page)
            found = page.evaluate(
                """() => ({
                    pwned: window.__tf_pwned === undefined ? null : String(window.__tf_pwned),
                    imgs: [...document.images].filter(i => i.src.includes('evil.example')).length,
                    katex: document.querySelectorAll('.katex').length,
                    js_links: document.querySelectorAll('a[href^="javascript:" i]').length,
                })"""
            )
        finally:
            browser.close()
    assert found["pwned"] is None and found["js_links"] == 0  # no script runs today either
    assert found["imgs"] == 0 and found["katex"] == 0
    assert evil == []
