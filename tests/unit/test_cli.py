"""The CLI through click's CliRunner: help with examples, exit codes, one-line errors.

Snapshots are built by importing real recorded studies (a temporary folder of symlinks to a few
files of ``../shared/ctgov/v2/studies``). Where a test needs a changed study it writes a modified
copy of a real record into a temporary folder and says what it changed.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from trialfinder import cli as cli_mod
from trialfinder.cli import cli
from trialfinder.errors import NotFoundError
from trialfinder.store import current_name, load_current, read_last_refresh

IDS = ["NCT02628535", "NCT06790706", "NCT00001245", "NCT00287378", "NCT01003301"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def few_studies(shared_dir: Path, tmp_path: Path) -> Path:
    d = tmp_path / "few"
    d.mkdir()
    for n in IDS:
        src = shared_dir / "v2" / "studies" / f"{n}.json"
        if src.exists():
            (d / src.name).symlink_to(src)
    assert len(list(d.iterdir())) >= 3
    return d


def data_dir() -> Path:
    import os

    return Path(os.environ["TRIALFINDER_DATA_DIR"])


def test_every_command__help_has_an_example(runner: CliRunner) -> None:
    """Like sqlite-utils' test_docs: every command's --help shows a runnable example."""
    assert set(cli.commands) >= {"import", "refresh", "status", "changes", "export", "replay", "eval", "app"}
    for name in cli.commands:
        res = runner.invoke(cli, [name, "--help"])
        assert res.exit_code == 0, name
        assert "Example" in res.output, f"`trialfinder {name} --help` has no example"
        assert f"trialfinder {name}" in res.output, f"`trialfinder {name} --help` example does not run {name}"
        assert "--data-dir" in res.output and "--debug" in res.output, name


def test_cli__usage_errors_exit_64(runner: CliRunner) -> None:
    res = runner.invoke(cli, ["export"])
    assert res.exit_code == 64
    assert "Missing option '-o'" in res.output
    assert runner.invoke(cli, ["no-such-command"]).exit_code == 64
    assert runner.invoke(cli, ["refresh", "--bogus"]).exit_code == 64


def test_status__no_snapshot_exits_66(runner: CliRunner) -> None:
    res = runner.invoke(cli, ["status"])
    assert res.exit_code == 66
    assert "none yet" in res.output


def test_export__no_snapshot_is_one_line_error_66(runner: CliRunner, tmp_path: Path) -> None:
    res = runner.invoke(cli, ["export", "-o", str(tmp_path / "x.csv")])
    assert res.exit_code == 66
    assert res.stderr.startswith("Error: no snapshot yet")
    assert res.stderr.count("\n") == 1
    assert "Traceback" not in res.output


def test_import_then_export__csv_and_filters(runner: CliRunner, few_studies: Path, tmp_path: Path) -> None:
    res = runner.invoke(cli, ["import", str(few_studies)])
    assert res.exit_code == 0, res.output
    n = len(list(few_studies.iterdir()))
    assert f"has {n} trials" in res.stdout
    out = tmp_path / "all.csv"
    res = runner.invoke(cli, ["export", "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig"), newline="")))
    assert sorted(r["nct_id"] for r in rows) == sorted(p.stem for p in few_studies.iterdir())
    res = runner.invoke(cli, ["export", "-o", "-", "--nct", IDS[1], "--nct", IDS[0].lower()])
    assert res.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(res.stdout_bytes.decode("utf-8-sig"), newline="")))
    assert sorted(r["nct_id"] for r in rows) == sorted(IDS[:2])
    res = runner.invoke(cli, ["export", "-o", "-", "--query-text", "mesothelioma"])
    rows = list(csv.DictReader(io.StringIO(res.stdout_bytes.decode("utf-8-sig"), newline="")))
    assert sorted(r["nct_id"] for r in rows) == sorted(IDS[:2])


def test_export__bad_nct_is_usage_error(runner: CliRunner, few_studies: Path) -> None:
    runner.invoke(cli, ["import", str(few_studies)])
    res = runner.invoke(cli, ["export", "-o", "-", "--nct", "NCT123"])
    assert res.exit_code == 64
    assert res.stderr.strip() == "Error: not an NCT ID: 'NCT123' (expected NCT followed by 8 digits)"


def test_import__missing_path_is_66(runner: CliRunner, tmp_path: Path) -> None:
    res = runner.invoke(cli, ["import", str(tmp_path / "nope")])
    assert res.exit_code == 66
    assert "no such file or folder" in res.stderr
    assert read_last_refresh(data_dir())["status"] == "failed"  # type: ignore[index]


def test_changes__after_import_of_modified_copy(runner: CliRunner, few_studies: Path, tmp_path: Path) -> None:
    assert runner.invoke(cli, ["import", str(few_studies)]).exit_code == 0
    res = runner.invoke(cli, ["changes"])
    assert res.exit_code == 0 and "first one" in res.output
    # test-only change of a real record: a new status and a newer record date
    study = json.loads((few_studies / f"{IDS[0]}.json").read_text())
    st = study["protocolSection"]["statusModule"]
    old_status = st["overallStatus"]
    st["overallStatus"] = "SUSPENDED" if old_status != "SUSPENDED" else "RECRUITING"
    st["lastUpdatePostDateStruct"]["date"] = "2099-01-01"
    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / f"{IDS[0]}.json").write_text(json.dumps(study))
    assert runner.invoke(cli, ["import", str(changed)]).exit_code == 0
    res = runner.invoke(cli, ["changes", "--json"])
    assert res.exit_code == 0
    got = json.loads(res.stdout)["changes"]
    assert got == [
        {"nct_id": IDS[0], "change": "status_changed", "field": "overall_status",
         "old": old_status, "new": st["overallStatus"]},
    ]  # fmt: skip
    res = runner.invoke(cli, ["changes"])
    assert f"{IDS[0]}  status_changed" in res.output
    assert runner.invoke(cli, ["changes", "--type", "bogus"]).exit_code == 64
    res = runner.invoke(cli, ["status"])
    assert res.exit_code == 0
    assert "1 status_changed" in res.output


def test_refresh__bad_query_file_is_config_error_78(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[params]\n"query.cond" = "x"\n')
    res = runner.invoke(cli, ["refresh", "--query", str(bad)])
    assert res.exit_code == 78
    assert res.stderr.strip() == f"Error: saved search {bad}: field 'title': Field required"


def test_refresh__unknown_query_name_is_64(runner: CliRunner) -> None:
    res = runner.invoke(cli, ["refresh", "--query", "no-such-search"])
    assert res.exit_code == 64
    assert "no saved search named 'no-such-search'" in res.stderr


def test_refresh__api_unreachable_is_temporary_75(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    # the autouse fixture points TRIALFINDER_API_URL at 127.0.0.1:9 (nothing listens there)
    monkeypatch.setenv("TRIALFINDER_MAX_RETRIES", "0")
    res = runner.invoke(cli, ["refresh"])
    assert res.exit_code == 75, res.output
    assert res.stderr.startswith("Error: ")
    assert len(res.stderr.strip().splitlines()) == 1
    last = read_last_refresh(data_dir())
    assert last is not None and last["status"] == "failed" and last["exit_code"] == 75
    assert current_name(data_dir()) is None


def test_cli__unexpected_error_is_one_line_exit_1_and_debug_shows_it(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trialfinder.store

    def boom(*a: object, **k: object) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr(trialfinder.store, "load_current", boom)
    res = runner.invoke(cli, ["changes"])
    assert res.exit_code == 1
    assert res.stderr.strip() == "Error: unexpected KeyError: 'surprise' (run again with --debug for details)"
    res = runner.invoke(cli, ["changes", "--debug"])
    assert isinstance(res.exception, KeyError)


def test_app__imports_recorded_data_when_offline_then_execs_streamlit(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, few_studies: Path, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRIALFINDER_RECORDED_DIR", str(few_studies))
    monkeypatch.setenv("TRIALFINDER_MAX_RETRIES", "0")
    app_py = tmp_path / "app.py"
    app_py.write_text("# test stand-in\n")
    monkeypatch.setattr(cli_mod, "find_app_py", lambda: app_py)
    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(cli_mod.os, "execvp", lambda f, argv: calls.append((f, list(argv))))
    res = runner.invoke(cli, ["app", "--server.port", "8599"])
    assert res.exit_code == 0, res.output
    assert "RECORDED data" in res.stderr
    snap = load_current(data_dir(), tables=["trials"])
    assert snap.mode == "recorded-demo"
    assert len(snap.tables["trials"]) == len(list(few_studies.iterdir()))
    assert calls == [
        (sys.executable, [sys.executable, "-m", "streamlit", "run", str(app_py), "--server.port", "8599"])
    ]


def test_find_app_py__next_to_package() -> None:
    root = Path(cli_mod.__file__).resolve().parent.parent
    if (root / "app.py").exists():
        assert cli_mod.find_app_py() == root / "app.py"
    else:
        with pytest.raises(NotFoundError, match=r"cannot find app\.py"):
            cli_mod.find_app_py()


def test_python_m_trialfinder__runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "trialfinder", "--help"], capture_output=True, text=True, check=True
    )
    assert "refresh" in out.stdout and "Exit codes" in out.stdout


def test_eval__reports_on_current_snapshot(runner: CliRunner, shared_dir: Path) -> None:
    labels = Path(cli_mod.__file__).resolve().parent.parent / "bench" / "labels" / "dev.csv"
    assert runner.invoke(cli, ["import", str(shared_dir / "classic-xml")]).exit_code == 0
    res = runner.invoke(cli, ["eval", str(labels)])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith(f"Facet evaluation against {labels}")
    res = runner.invoke(cli, ["eval", str(labels.parent / "missing.csv")])
    assert res.exit_code == 64  # click: the file does not exist


def test_docs_cli_md__documents_every_command_and_exit_code() -> None:
    doc = (Path(cli_mod.__file__).resolve().parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    for name in cli.commands:
        assert f"### `trialfinder {name}" in doc, f"docs/cli.md has no section for `trialfinder {name}`"
    for code in (0, 1, 64, 65, 66, 75, 78):
        assert f"| {code} |" in doc
