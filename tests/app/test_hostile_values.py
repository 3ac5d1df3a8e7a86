"""Registry values of enum-like fields (status, phases, types, site status, sex) and link parameters that
carry markup are shown escaped wherever Streamlit renders markdown (markdown, captions, headers,
badges, alerts, metric labels, expander and tab titles). The snapshot is a copy of the recorded one
where ONE real trial's enum-like values are replaced by a hostile string (test-only variation)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import CHANGED_NCT, SnapshotFixture, _copy_snapshot, page

pytestmark = pytest.mark.slow

PAYLOAD = "![i](http://evil.example/x.png) $e$ :red[y] <b>e</b> [l](javascript:alert(1))"
#: markup that is live when not preceded by a backslash
UNESCAPED = re.compile(r"(?<!\\)(<[a-zA-Z/]|\]\(|:red\[|\$e\$|!\[)")
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")


def _set(d: Path, table: str, column: str, value: Any, nct: str = CHANGED_NCT) -> None:
    name = (d / "snapshots" / "CURRENT").read_text().strip()
    path = d / "snapshots" / name / f"{table}.parquet"
    df = pq.read_table(path).to_pandas(types_mapper=pd.ArrowDtype)
    hit = df["nct_id"] == nct
    assert hit.any(), (table, nct)
    df[column] = df[column].astype(object)
    for i in df.index[hit]:
        df.at[i, column] = value
    schema = pq.read_schema(path)
    pq.write_table(pa.Table.from_pandas(df, schema=schema, preserve_index=False), path)


@pytest.fixture(scope="module")
def hostile_enum_snapshot(
    recorded_snapshot: SnapshotFixture, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    d = _copy_snapshot(recorded_snapshot, tmp_path_factory.mktemp("hostile-enum"))
    _set(d, "trials", "overall_status", PAYLOAD)
    _set(d, "trials", "phases", [PAYLOAD])
    _set(d, "arms", "type", PAYLOAD)
    _set(d, "interventions", "type", PAYLOAD)
    _set(d, "locations", "site_status", PAYLOAD)
    _set(d, "eligibility", "sex", PAYLOAD)
    return d


def _rendered(at: AppTest) -> list[str]:
    """Every string the page hands to a markdown-rendering element."""
    texts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    texts += [h.value for h in at.header] + [h.value for h in at.subheader] + [t.value for t in at.title]
    texts += [str(x.value) for kind in (at.warning, at.error, at.info) for x in kind]
    texts += [m.label for m in at.metric] + [e.label for e in at.expander] + [t.label for t in at.tabs]
    return texts


def _assert_inert(at: AppTest, *, must_show: int) -> None:
    assert not at.exception, [e.value for e in at.exception]
    texts = _rendered(at)
    shown = [t for t in texts if "evil" in t]
    assert len(shown) >= must_show, texts  # the value is on the page, escaped
    for t in shown:
        hit = UNESCAPED.search(CODE_SPAN.sub("", t))  # a code span is shown verbatim, never interpreted
        assert hit is None, (hit.group(0) if hit else "", t[:200])
    for m in at.markdown:
        assert not m.proto.allow_html


def _open(app: AppTest, script: str, **params: str) -> AppTest:
    app.session_state["tf_shortlist"] = [CHANGED_NCT]
    app.run()
    app.switch_page(page(script))
    app.query_params.clear()
    for k, v in params.items():
        app.query_params[k] = v
    app.run()
    return app


def test_detail__hostile_enum_values_escaped_in_badges_and_markdown(
    app: AppTest, hostile_enum_snapshot: Path, use_data: Callable[[Path], None]
) -> None:
    use_data(hostile_enum_snapshot)
    at = _open(app, "trial_detail.py", nct=CHANGED_NCT)
    _assert_inert(at, must_show=4)  # status badge, phases badge, arm/intervention type, sex
    badges = [m.value for m in at.markdown if re.match(r"^:[a-z]+-badge\[", m.value)]  # st.badge is markdown
    assert sum("evil" in b for b in badges) == 2  # status and phases
    plain = [b.replace("\\", "").replace("\u200b", "") for b in badges]
    assert f":gray-badge[{PAYLOAD[0].upper()}{PAYLOAD[1:].lower()}]" in plain  # shown literally


def test_shortlist__hostile_status_and_phase_escaped(
    app: AppTest, hostile_enum_snapshot: Path, use_data: Callable[[Path], None]
) -> None:
    use_data(hostile_enum_snapshot)
    at = _open(app, "shortlist.py")
    _assert_inert(at, must_show=1)
    line = next(m.value for m in at.markdown if CHANGED_NCT in m.value)
    assert line.count("evil") == 2  # status and phase


def test_find__hostile_link_parameter_warning_is_escaped(app: AppTest) -> None:
    app.query_params["status"] = "![i](http://evil.example/q.png)"  # a shared link, read on the first run
    app.run()
    at = app
    _assert_inert(at, must_show=1)
    warning = next(w for w in at.warning.values if "which this data does not have" in w)
    assert "`'![i](http://evil.example/q.png)'`" in warning  # quoted verbatim in a code span


def test_detail__hostile_nct_parameter_error_is_escaped(app: AppTest) -> None:
    at = _open(app, "trial_detail.py", nct="![i](http://evil.example/n.png)")
    _assert_inert(at, must_show=1)
    assert any("not an NCT ID" in e.value for e in at.error)


def test_whats_new__unknown_change_kind_label_escaped(
    recorded_snapshot: SnapshotFixture, tmp_path_factory: pytest.TempPathFactory,
    use_data: Callable[[Path], None], app: AppTest,
) -> None:  # fmt: skip
    d = _copy_snapshot(recorded_snapshot, tmp_path_factory.mktemp("hostile-change"))
    _set(d, "changes", "change", PAYLOAD)  # an unknown change code reaches label()'s fallback
    use_data(d)
    at = _open(app, "whats_new.py")
    _assert_inert(at, must_show=1)
    assert any("evil" in m.label for m in at.metric), [m.label for m in at.metric]
