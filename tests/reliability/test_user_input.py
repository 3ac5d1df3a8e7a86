"""User input: a bad ZIP code, a bad NCT ID, very long or control-character free text and unknown
filter values in a shared URL each get a clear message, never a traceback (dashboard via AppTest on
the 30-study baseline snapshot; CLI via click's runner)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP, page
from trialfinder.cli import cli
from trialfinder.errors import EX_CONFIG, EX_USAGE

pytestmark = pytest.mark.slow

LONG_TEXT = "mesothelioma " * 8000  # ~100 kB
CONTROL_TEXT = "meso\x00\x07\x1b[31m\u202e\u200b\r\n\t<script>x</script>%00' OR 1=1 --"


@pytest.fixture
def app(baseline_data: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("TRIALFINDER_DATA_DIR", str(baseline_data))
    return AppTest.from_file(str(APP), default_timeout=120)


def _run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _messages(at: AppTest) -> str:
    return "\n".join([e.value for e in at.error] + [w.value for w in at.warning] + [i.value for i in at.info])


# --- find page: ZIP code and free text ----------------------------------------------------------


@pytest.mark.parametrize(
    ("zip_text", "needle"),
    [
        ("ABCDE", "is not a US ZIP code"),
        ("1234", "is not a US ZIP code"),
        ("<b>1</b>", "is not a US ZIP code"),
        ("00000", "was not found"),
        ("\x00\x1b", "is not a US ZIP code"),
    ],
)
def test_find__bad_zip_code_clear_message(app: AppTest, zip_text: str, needle: str) -> None:
    at = _run(app)
    at.sidebar.text_input(key="f_zip").input(zip_text)
    at.sidebar.selectbox(key="f_radius").select(50)
    _run(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and needle in errors[0], errors
    assert "Distances are not shown until the ZIP code is fixed" in errors[0]
    assert "zip" not in at.query_params  # personal input never goes into the link


@pytest.mark.parametrize("text", [LONG_TEXT, CONTROL_TEXT, "\U0001f9ec" * 500, "[", "(", "*", "\\"])
def test_find__odd_search_text_no_traceback(app: AppTest, text: str) -> None:
    at = _run(app)
    at.sidebar.text_input(key="f_text").input(text)
    _run(at)
    assert any("match" in h.value for h in at.subheader)
    assert "q" not in at.query_params and "text" not in at.query_params


# --- detail page: NCT IDs -------------------------------------------------------------------------


def _detail(app: AppTest, nct: str) -> AppTest:
    at = _run(app)
    at.switch_page(page("trial_detail.py"))
    at.query_params["nct"] = nct
    return _run(at)


@pytest.mark.parametrize("nct", ["NCT123", "12345678", "NCT0262853X", "<script>", "'; DROP TABLE trials; --"])
def test_detail__bad_nct_id_in_link_clear_message(app: AppTest, nct: str) -> None:
    at = _detail(app, nct)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "is not an NCT ID" in errors[0], errors


@pytest.mark.parametrize("nct", ["NCT" + "0" * 40, CONTROL_TEXT])
def test_detail__long_nct_in_link_clear_message(app: AppTest, nct: str) -> None:
    at = _detail(app, nct)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "is not an NCT ID" in errors[0], errors


def test_detail__typed_bad_nct_id_clear_message(app: AppTest) -> None:
    at = _run(app)
    at.switch_page(page("trial_detail.py"))
    _run(at)
    at.text_input(key="d_nct").input("nct 1234")
    _run(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "is not an NCT ID" in errors[0]
    assert "NCT followed by 8 digits" in errors[0] or "8 digits" in errors[0]


def test_detail__unknown_but_valid_nct_id_clear_message(app: AppTest) -> None:
    at = _detail(app, "NCT09999999")
    assert "NCT09999999" in _messages(at)


def test_detail__real_trial_with_sites_without_status_opens(app: AppTest) -> None:
    """Regression: label() on pd.NA (a site without a status) raised 'boolean value of NA is ambiguous'."""
    at = _detail(app, "NCT02628535")  # a real, unmodified mesothelioma record: its 20 sites have no status
    assert at.header and not at.error
    assert any(df.value.shape[0] == 20 for df in at.dataframe)  # the sites table, all 20 sites


# --- shared links with unknown values ---------------------------------------------------------------


def test_find__shared_link_unknown_values_warned_and_ignored(app: AppTest) -> None:
    at = app
    at.query_params["class"] = ["car_t", "laser_beams"]
    at.query_params["phase"] = "PHASE9"
    at.query_params["status"] = "<script>"
    at.query_params["radius"] = "7"
    at.query_params["io"] = "maybe"
    at.query_params["zip"] = "10001"
    at.query_params["foo"] = "bar"
    at.query_params["country"] = "Atlantis\x00"
    _run(at)
    warnings = "\n".join(w.value for w in at.warning)
    needles = ("laser_beams", "PHASE9", "<script>", "'7'", "'maybe'", "Atlantis", "never taken from a link")
    for needle in (*needles, "does not know (foo)"):
        assert needle in warnings, (needle, warnings)
    assert at.checkbox(key="f_cls_car_t").value is True  # the known part of the link is used
    assert at.text_input(key="f_zip").value == ""  # a ZIP code is never read from a link


# --- CLI ---------------------------------------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.stdout, res.stderr


def _one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("nct", ["NCT123", "<script>", "NCT" + "9" * 5000, "\x00\x1b", ""])
def test_cli_export__bad_nct_id_exit_64(baseline_data: Path, nct: str) -> None:
    code, _out, err = _cli("export", "-o", "-", "--nct", nct, "--data-dir", str(baseline_data))
    assert code == EX_USAGE
    assert "not an NCT ID" in _one_line(err)


@pytest.mark.parametrize("text", [LONG_TEXT, CONTROL_TEXT, "=cmd|' /C calc'!A0"])
def test_cli_export__odd_query_text_no_traceback(baseline_data: Path, text: str) -> None:
    res = CliRunner().invoke(
        cli, ["export", "-o", "-", "--query-text", text, "--data-dir", str(baseline_data)]
    )
    assert res.exit_code == 0, res.output
    assert res.stdout_bytes.decode("utf-8-sig").count("\r\n") == 1  # header only: nothing matches


@pytest.mark.parametrize("option", [("--status", "recruting"), ("--class", "car-t-cells")])
def test_cli_export__unknown_filter_value_exit_64(baseline_data: Path, option: tuple[str, str]) -> None:
    # regression: these silently exported 0 trials
    code, _out, err = _cli("export", "-o", "-", *option, "--data-dir", str(baseline_data))
    assert code == EX_USAGE
    line = _one_line(err)
    assert option[1] in line and "known:" in line


def test_cli_refresh__unknown_saved_search_exit_64(baseline_data: Path) -> None:
    code, _out, err = _cli("refresh", "--query", "no-such-search\x1b[31m", "--data-dir", str(baseline_data))
    assert code == EX_USAGE
    _one_line(err)


def test_cli_refresh__saved_search_with_unknown_param_exit_78(baseline_data: Path, tmp_path: Path) -> None:
    q = tmp_path / "bad.toml"
    q.write_text('name = "bad"\ntitle = "t"\n[params]\n"filter.phase" = "PHASE2"\n')
    code, _out, err = _cli("refresh", "--query", str(q), "--data-dir", str(baseline_data))
    assert code == EX_CONFIG
    assert "filter.phase" in _one_line(err)


def test_cli__data_dir_is_a_file_clear_message(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    code, _out, err = _cli("status", "--data-dir", str(f))
    assert code == EX_USAGE
    assert "Traceback" not in err and "file" in err.lower()
