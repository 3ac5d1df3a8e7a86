"""The scheduling files in deploy/ parse and call a real trialfinder command."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from trialfinder.cli import cli

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
DOW_NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}


def trialfinder_args(command: str) -> list[str]:
    """The arguments after the trialfinder executable in a shell command line."""
    words = shlex.split(command)
    for i, w in enumerate(words):
        if w == "trialfinder" or w.endswith("/bin/trialfinder"):
            args = []
            for a in words[i + 1 :]:
                if a in ("&&", "||", ";", "|") or a.startswith(">") or a == "2>&1":
                    break
                args.append(a)
            return args
    raise AssertionError(f"no trialfinder command in {command!r}")


def assert_real_command(args: list[str]) -> None:
    assert args, "trialfinder is called without a command"
    assert args[0] in cli.commands, f"{args[0]!r} is not a trialfinder command"
    res = CliRunner().invoke(cli, [*args, "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage:" in res.output


def check_cron_field(value: str, low: int, high: int) -> None:
    for part in value.split(","):
        rng, _, step = part.partition("/")
        if step:
            assert step.isdigit() and int(step) > 0, value
        if rng == "*":
            continue
        bounds = rng.split("-")
        assert 1 <= len(bounds) <= 2, value
        nums = [DOW_NAMES.get(b.lower(), b) for b in bounds]
        for n in nums:
            assert str(n).isdigit(), value
            assert low <= int(n) <= high, value
        if len(nums) == 2:
            assert int(nums[0]) <= int(nums[1]), value


def unit(path: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None, strict=False, empty_lines_in_values=False)
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read(path, encoding="utf-8")
    return cp


def test_systemd_service__parses_and_calls_refresh() -> None:
    cp = unit(DEPLOY / "systemd" / "trialfinder-refresh.service")
    assert set(cp.sections()) == {"Unit", "Service", "Install"}
    svc = cp["Service"]
    assert svc["Type"] == "oneshot"
    args = trialfinder_args(svc["ExecStart"])
    assert args[0] == "refresh"
    assert_real_command(args)
    # temporary failures (75) are retried, the others are not
    assert "75" not in svc["RestartPreventExitStatus"].split()
    assert {"64", "65", "66", "78"} <= set(svc["RestartPreventExitStatus"].split())


def test_systemd_timer__weekdays_after_daily_update() -> None:
    cp = unit(DEPLOY / "systemd" / "trialfinder-refresh.timer")
    timer = cp["Timer"]
    assert timer["Unit"] == "trialfinder-refresh.service"
    assert (DEPLOY / "systemd" / timer["Unit"]).is_file()
    m = re.fullmatch(r"(Mon\.\.Fri) \*-\*-\* (\d{2}):(\d{2}):(\d{2}) (\S+)", timer["OnCalendar"])
    assert m, timer["OnCalendar"]
    assert 0 <= int(m.group(2)) <= 23 and 0 <= int(m.group(3)) <= 59
    assert m.group(5) == "America/New_York"
    assert timer["Persistent"] == "true"
    assert cp["Install"]["WantedBy"] == "timers.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_timer__calendar_accepted_by_systemd() -> None:  # pragma: no cover - needs systemd
    cp = unit(DEPLOY / "systemd" / "trialfinder-refresh.timer")
    subprocess.run(
        ["systemd-analyze", "calendar", cp["Timer"]["OnCalendar"]], check=True, capture_output=True
    )


def test_cron__fields_valid_and_calls_refresh() -> None:
    jobs = 0
    for line in (DEPLOY / "cron" / "trialfinder-refresh.cron").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if re.match(r"^[A-Z_][A-Z0-9_]*=", line):  # environment assignment
            continue
        fields = line.split(None, 6)
        assert len(fields) == 7, f"cron.d line needs 5 time fields, a user and a command: {line!r}"
        for value, (low, high) in zip(fields[:5], CRON_RANGES, strict=True):
            check_cron_field(value, low, high)
        assert fields[4] == "1-5"  # weekdays
        assert re.fullmatch(r"[a-z_][a-z0-9_-]*", fields[5]), "user field"
        args = trialfinder_args(fields[6])
        assert args[0] == "refresh"
        assert_real_command(args)
        jobs += 1
    assert jobs == 1


def test_github_workflow__parses_schedules_and_runs_real_commands() -> None:
    doc: dict[Any, Any] = yaml.safe_load((DEPLOY / "github-actions" / "refresh.yml").read_text())
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as True
    crons = [s["cron"] for s in on["schedule"]]
    assert crons
    for c in crons:
        fields = c.split()
        assert len(fields) == 5
        for value, (low, high) in zip(fields, CRON_RANGES, strict=True):
            check_cron_field(value, low, high)
        assert fields[4] == "1-5"
    runs = [s["run"] for job in doc["jobs"].values() for s in job["steps"] if "run" in s]
    tf_runs = [r for r in runs if re.search(r"(^|\s)trialfinder\s", r)]
    assert any(trialfinder_args(r)[0] == "refresh" for r in tf_runs)
    for r in tf_runs:
        assert_real_command(trialfinder_args(r))
