"""Hostile registry content (HTML, scripts, markdown, maths, spreadsheet formulas, bidi and zero-width
characters, emoji, control characters, a 1 MB field) in titles, conditions, arms, interventions and
eligibility of TEST-ONLY variations of real records, imported and exported the way users do it.

CSV: no cell can be evaluated as a formula, the text is otherwise unchanged, and the file round-trips
through ``csv`` and pandas. Dashboard (AppTest): the pages run without an exception and never let the
text through as HTML or markup. The real-browser proof is in ``test_hostile_browser.py``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from tests.reliability.hostile import FORMULA_LIKE, HOSTILE
from trialfinder.cli import cli
from trialfinder.export import CUT_MARKER, EXCEL_CELL_LIMIT, build_export_frame, fit_cell, neutralize_formula
from trialfinder.store import Snapshot, load_current

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


@pytest.fixture
def big_csv_fields() -> Iterator[None]:
    """Python's csv reader refuses fields over 128 KiB unless told otherwise (a reader-side limit)."""
    old = csv.field_size_limit()
    csv.field_size_limit(1 << 24)
    yield
    csv.field_size_limit(old)


def read_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # BOM, so Excel reads UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_import__hostile_text_kept_verbatim_in_tables(
    hostile_records: tuple[Path, dict[str, str]], hostile_snap: Snapshot
) -> None:
    folder, kinds = hostile_records
    trials = hostile_snap.tables["trials"].set_index("nct_id")
    assert set(trials.index) == set(kinds)
    for nct, kind in kinds.items():
        record = json.loads((folder / f"{nct}.json").read_text(encoding="utf-8"))
        ident = record["protocolSection"]["identificationModule"]
        assert trials.loc[nct, "title"] == ident["briefTitle"], kind
        assert trials.loc[nct, "official_title"] == HOSTILE[kind], kind
        arms = hostile_snap.tables["arms"]
        labels = set(arms[arms["nct_id"] == nct]["label"])
        assert any(str(lb).startswith(HOSTILE[kind]) for lb in labels), kind


def test_export__no_cell_can_run_as_a_formula(exported: bytes, big_csv_fields: None) -> None:
    rows = read_rows(exported)
    assert len(rows) == 1 + len(HOSTILE)
    for row in rows:
        for cell in row:
            assert not cell.lstrip(" \u00a0").startswith(FORMULA_START), cell[:40]


def test_export__text_otherwise_unchanged(
    exported: bytes,
    hostile_snap: Snapshot,
    hostile_records: tuple[Path, dict[str, str]],
    big_csv_fields: None,
) -> None:
    rows = read_rows(exported)
    frame = build_export_frame(hostile_snap)
    assert rows[0] == list(frame.columns)
    assert len(rows) - 1 == len(frame)
    for got, (_, want) in zip(rows[1:], frame.iterrows(), strict=True):
        for value, cell in zip(want, got, strict=True):
            # the only change: a leading ' on formula-like cells, and only on those
            # and cells longer than a spreadsheet cell holds are cut with a visible marker
            expected = fit_cell(neutralize_formula(str(value)))
            assert cell == expected
            if not cell.endswith(CUT_MARKER):
                assert (cell[1:] if cell != value else cell) == value
    _, kinds = hostile_records
    by_id = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    trials = hostile_snap.tables["trials"].set_index("nct_id")
    for nct, kind in kinds.items():
        title = by_id[nct]["title"]
        stored = str(trials.loc[nct, "title"])
        if kind in FORMULA_LIKE:
            stored = "'" + stored
        assert title == fit_cell(stored), kind
        for col in ("conditions", "interventions"):
            cell = by_id[nct][col]
            if kind == "big":  # longer than a spreadsheet cell holds: cut visibly
                kept = cell[: -len(CUT_MARKER)].lstrip("'")
                assert cell.endswith(CUT_MARKER) and HOSTILE[kind].startswith(kept), col
            else:
                assert HOSTILE[kind] in cell, (kind, col)
    big = by_id[next(n for n, k in kinds.items() if k == "big")]["title"]
    assert len(big) == EXCEL_CELL_LIMIT and big.endswith(CUT_MARKER)
    assert all(len(c) <= EXCEL_CELL_LIMIT for r in rows for c in r)


def test_export__round_trips_through_pandas(exported: bytes, big_csv_fields: None) -> None:
    rows = read_rows(exported)
    df = pd.read_csv(io.BytesIO(exported), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(df.columns) == rows[0]
    assert df.to_numpy().tolist() == rows[1:]


def test_export__stdout_same_bytes_as_file(exported: bytes, hostile_data: Path) -> None:
    res = CliRunner().invoke(cli, ["export", "-o", "-", "--data-dir", str(hostile_data)])
    assert res.exit_code == 0
    assert res.stdout_bytes == exported


def test_export__query_text_filter_with_hostile_needles(hostile_data: Path) -> None:
    for needle in ("<script>", "=HYPERLINK(", "\u202etxt", "\U0001f9ec"):
        res = CliRunner().invoke(
            cli, ["export", "-o", "-", "--query-text", needle, "--data-dir", str(hostile_data)]
        )
        assert res.exit_code == 0, res.output
        rows = read_rows(res.stdout_bytes)
        assert len(rows) == 2, needle  # header + the one hostile trial


# --- the dashboard (AppTest) -----------------------------------------------------------------------


def _app_at(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    monkeypatch.setenv("TRIALFINDER_DATA_DIR", str(data_dir))
    return AppTest.from_file(str(APP), default_timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["script", "html", "md-link", "md-image", "math", "streamlit-markup", "big"])
def test_detail_page__hostile_text_never_markup(
    kind: str,
    hostile_data: Path,
    hostile_records: tuple[Path, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import page

    _, kinds = hostile_records
    nct = next(n for n, k in kinds.items() if k == kind)
    at = _app_at(hostile_data, monkeypatch)
    assert isinstance(at, AppTest)
    at.run()
    at.switch_page(page("trial_detail.py"))
    at.query_params["nct"] = nct
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.get("html")  # no st.html anywhere
    texts = (
        [m.value for m in at.markdown]
        + [t.value for t in at.title]
        + [h.value for h in at.header]
        + [c.value for c in at.caption]
    )
    for m in at.markdown:
        assert not m.proto.allow_html, m.value[:80]
    hostile = HOSTILE[kind]
    # wherever the hostile text is shown, its markup characters are backslash-escaped: no raw tag,
    # no maths delimiter, no link or image target
    unescaped = re.compile(r"(?<!\\)(<[a-zA-Z/]|\$|\]\(|:red\[)")
    words = ("pwned", "evil", "frac", "alarm", "registry text")
    shown_here = [t for t in texts if any(w in t for w in words)]
    assert shown_here, texts[:5]
    for text in shown_here:
        hit = unescaped.search(text)
        assert hit is None, (hit.group(0) if hit else "", text[:300])
    # the text itself is there, escaped: remove the escapes and it reads as the registry wrote it
    shown = "\n".join(texts).replace("\\", "").replace("\u200b", "")
    first_line = hostile.replace("\\", "").split("\n")[0][:60].strip()
    assert first_line in shown


# --- hostile values in enum-like fields (status, phase, types) --------------------------------------


@pytest.fixture(scope="module")
def hostile_enum_data(studies_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.reliability.hostile import hostile_enum_variant

    """The real record imported, then its hostile variant as a newer version (so that "What's new"
    lists the hostile status and site statuses as changes)."""
    real = studies_dir / "NCT06790706.json"
    src = tmp_path_factory.mktemp("hostile-enum-records")
    variant = hostile_enum_variant(json.loads(real.read_text(encoding="utf-8")))
    variant["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = "2026-04-01"
    (src / "NCT06790706.json").write_text(json.dumps(variant), encoding="utf-8")
    data_dir = tmp_path_factory.mktemp("hostile-enum-data") / "data"
    for path in (real, src):
        res = CliRunner().invoke(cli, ["import", str(path), "--data-dir", str(data_dir)])
        assert res.exit_code == 0, (res.output, res.exception)
    changes = load_current(data_dir).tables["changes"]
    assert "status_changed" in set(changes["change"])
    return data_dir


_UNESCAPED = re.compile(r"(?<!\\)(<[a-zA-Z/]|\]\(|:red\[|\$e\$)")


@pytest.mark.slow
@pytest.mark.parametrize(
    "script",
    [
        "trial_detail.py",
        "shortlist.py",
        "whats_new.py",  # the changes: old → new status, site status changes
    ],
)
def test_pages__hostile_enum_values_never_markup(
    script: str, hostile_enum_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import page

    at = _app_at(hostile_enum_data, monkeypatch)
    assert isinstance(at, AppTest)
    at.session_state["tf_shortlist"] = ["NCT06790706"]
    at.run()
    at.switch_page(page(script))
    at.query_params["nct"] = "NCT06790706"
    at.query_params["status"] = "any"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    texts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [h.value for h in at.header]
    texts += [b.proto.label for b in at.get("badge")] if at.get("badge") else []
    bad = [t for t in texts if "evil" in t or "pwned" in t or "<b>e" in t]
    shown = bad or [
        str(df.value.to_numpy().tolist()) for df in at.dataframe if "evil" in str(df.value.to_numpy())
    ]
    assert shown, "the hostile value is not on the page at all"
    for text in bad:
        hit = _UNESCAPED.search(text)
        assert hit is None, (hit.group(0) if hit else "", text[:300])
