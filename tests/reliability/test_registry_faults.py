"""Registry faults, end to end: `trialfinder refresh` (click, in-process) with the real client against
the replay server injecting each fault. Each case either recovers (a new snapshot with exactly the
same trials) or exits with its documented code and one-line message, and the previous snapshot stays
current, byte for byte, exporting the same CSV bytes.

Timeouts, retries and caps are shortened through the TRIALFINDER_* environment (see ``FAST_ENV``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.reliability.conftest import (
    T_NEXT,
    Fingerprint,
    assert_intact,
    assert_replaced_without_loss,
    tmp_leftovers,
    variant_dir,
)
from trialfinder.cli import cli
from trialfinder.ctgov.replay import ReplayHandler, ReplayServer
from trialfinder.errors import EX_DATAERR, EX_TEMPFAIL, EX_USAGE
from trialfinder.store import load_current, read_last_refresh

StartUrl = Callable[..., ReplayServer]


def run_refresh(data_dir: Path, query: Path, server: ReplayServer, *extra: str) -> Result:
    return CliRunner().invoke(
        cli,
        ["refresh", "--full", "--query", str(query), "--data-dir", str(data_dir), *extra],
        env={"TRIALFINDER_API_URL": server.base_url},
    )


def assert_one_line_error(res: Result, code: int, *needles: str) -> str:
    assert res.exit_code == code, (res.exit_code, res.output, res.exception)
    err = res.stderr.strip().splitlines()
    errors = [line for line in err if line.startswith("Error: ")]
    assert len(errors) == 1, res.stderr
    assert "Traceback" not in res.output
    for n in needles:
        assert n.lower() in errors[0].lower(), errors[0]
    return errors[0]


def assert_failure_recorded(data_dir: Path, code: int) -> None:
    last = read_last_refresh(data_dir)
    assert last is not None
    assert last["status"] == "failed"
    assert last["exit_code"] == code


# --- faults that are retried and recovered from ---------------------------------------------------

RECOVERED = [
    pytest.param(("429:1",), id="429-with-retry-after"),
    pytest.param(("500:2",), id="500-burst"),
    pytest.param(("502:2",), id="502-burst"),
    pytest.param(("503:2",), id="503-burst"),
    pytest.param(("500:1", "502:1"), id="mixed-5xx-burst"),
    pytest.param(("reset:2",), id="connection-reset"),
    pytest.param(("truncate:2",), id="truncated-body"),
    pytest.param(("badjson:2",), id="invalid-json"),
    pytest.param(("content-type:2",), id="wrong-content-type"),
    pytest.param(("emptylast",), id="empty-last-page"),
]


@pytest.mark.parametrize("faults", RECOVERED)
def test_refresh__transient_fault_recovered_nothing_lost(
    faults: tuple[str, ...],
    replay_url: StartUrl,
    data_dir: Path,
    before: Fingerprint,
    all_query: Path,
    fast_env: dict[str, str],
) -> None:
    server = replay_url(faults)
    res = run_refresh(data_dir, all_query, server)
    assert res.exit_code == 0, (res.output, res.exception)
    assert "Traceback" not in res.output
    assert_replaced_without_loss(data_dir, before)
    assert load_current(data_dir).manifest["data_timestamp"] == T_NEXT
    assert read_last_refresh(data_dir)["status"] == "ok"  # type: ignore[index]
    # the fault really fired: more requests than the 1 + 3 pages (+1 empty page) of a clean run
    clean = 4 + (1 if "emptylast" in faults else 0)
    if faults != ("emptylast",):
        assert server.requests_seen > clean
    else:
        assert server.requests_seen == clean
    assert tmp_leftovers(data_dir) == []


class _NoRetryAfterHandler(ReplayHandler):
    """429 without a Retry-After header for the first ``n`` requests (test-only server behaviour)."""

    n = 2

    def do_GET(self) -> None:
        srv: Any = self.server
        with srv._count_lock:
            srv.bare_429 = getattr(srv, "bare_429", 0) + 1
            hit = srv.bare_429 <= self.n
        if hit:
            srv.next_number(self.path, self.headers.get("User-Agent", ""))
            body = b"Too Many Requests"
            self.send_response(429)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


def test_refresh__429_without_retry_after_backs_off_and_recovers(
    replay_url: StartUrl, data_dir: Path, before: Fingerprint, all_query: Path, fast_env: dict[str, str]
) -> None:
    server = replay_url()
    server.RequestHandlerClass = _NoRetryAfterHandler
    res = run_refresh(data_dir, all_query, server)
    assert res.exit_code == 0, (res.output, res.exception)
    assert server.requests_seen == 4 + 2
    assert_replaced_without_loss(data_dir, before)


def test_refresh__429_without_retry_after_persisting_exits_75(
    replay_url: StartUrl, data_dir: Path, before: Fingerprint, all_query: Path, fast_env: dict[str, str]
) -> None:
    server = replay_url()
    handler = type("Always429", (_NoRetryAfterHandler,), {"n": 10**6})
    server.RequestHandlerClass = handler
    res = run_refresh(data_dir, all_query, server)
    assert_one_line_error(res, EX_TEMPFAIL, "rate limited", "429")
    assert server.requests_seen == 1 + 2  # the first try and max_retries=2 retries
    assert_intact(data_dir, before)
    assert_failure_recorded(data_dir, EX_TEMPFAIL)


# --- faults that end the refresh with a documented exit code -------------------------------------

FAILED = [
    pytest.param(("429:1000",), EX_TEMPFAIL, ("rate limited",), id="429-persisting"),
    pytest.param(("retry-after:3600",), EX_TEMPFAIL, ("3600", "longer than"), id="huge-retry-after"),
    pytest.param(("500:1000",), EX_TEMPFAIL, ("server error", "500"), id="500-persisting"),
    pytest.param(("502:1000",), EX_TEMPFAIL, ("server error", "502"), id="502-persisting"),
    pytest.param(("503:1000",), EX_TEMPFAIL, ("server error", "503"), id="503-persisting"),
    pytest.param(("reset:1000",), EX_TEMPFAIL, ("cannot reach",), id="reset-persisting"),
    pytest.param(("truncate:1000",), EX_TEMPFAIL, ("truncated",), id="truncated-persisting"),
    pytest.param(("badjson:1000",), EX_TEMPFAIL, ("not valid json",), id="invalid-json-persisting"),
    pytest.param(("content-type:1000",), EX_TEMPFAIL, ("content type",), id="wrong-content-type-persisting"),
    pytest.param(("repeat-token",), EX_DATAERR, ("repeated page token",), id="repeated-next-page-token"),
]


@pytest.mark.parametrize(("faults", "code", "needles"), FAILED)
def test_refresh__fault_exits_with_documented_code_previous_intact(
    faults: tuple[str, ...],
    code: int,
    needles: tuple[str, ...],
    replay_url: StartUrl,
    data_dir: Path,
    before: Fingerprint,
    all_query: Path,
    fast_env: dict[str, str],
) -> None:
    server = replay_url(faults)
    res = run_refresh(data_dir, all_query, server)
    assert_one_line_error(res, code, *needles)
    assert_intact(data_dir, before)
    assert_failure_recorded(data_dir, code)
    assert tmp_leftovers(data_dir) == []
    if faults == ("retry-after:3600",):
        assert server.requests_seen == 1  # capped: no retry, no waiting an hour


@pytest.mark.parametrize(
    ("fault", "needle"),
    [("delay:1.5", "timed out"), ("slowbody:1.5", "timed out")],
    ids=["slow-headers", "slow-body"],
)
def test_refresh__slow_server_past_read_timeout_exits_75(
    fault: str,
    needle: str,
    replay_url: StartUrl,
    data_dir: Path,
    before: Fingerprint,
    all_query: Path,
    fast_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRIALFINDER_READ_TIMEOUT_S", "0.3")
    monkeypatch.setenv("TRIALFINDER_MAX_RETRIES", "1")
    server = replay_url((fault,))
    res = run_refresh(data_dir, all_query, server)
    assert_one_line_error(res, EX_TEMPFAIL, needle)
    # one try + one retry of /version, then give up: urllib3 retries slow headers, the client retries a
    # body that stalls after the headers (the read fails in requests, after urllib3 handed it over)
    assert server.requests_seen == 2
    assert_intact(data_dir, before)
    assert_failure_recorded(data_dir, EX_TEMPFAIL)


def test_refresh__slow_server_within_timeout_succeeds(
    replay_url: StartUrl,
    data_dir: Path,
    before: Fingerprint,
    all_query: Path,
    fast_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRIALFINDER_READ_TIMEOUT_S", "2")
    server = replay_url(("delay:0.05", "slowbody:0.05"))
    res = run_refresh(data_dir, all_query, server)
    assert res.exit_code == 0, res.output
    assert server.requests_seen == 4
    assert_replaced_without_loss(data_dir, before)


def test_refresh__400_plain_text_reaches_the_user_exit_64(
    replay_url: StartUrl, data_dir: Path, before: Fingerprint, tmp_path: Path, fast_env: dict[str, str]
) -> None:
    q = tmp_path / "bogus.toml"
    q.write_text('name = "bogus"\ntitle = "t"\n[params]\n"filter.overallStatus" = "BOGUS_STATUS"\n')
    server = replay_url()
    res = run_refresh(data_dir, q, server)
    # the server's own plain-text message is shown
    assert_one_line_error(res, EX_USAGE, "`filter.overallStatus` has unknown value `BOGUS_STATUS`")
    assert server.requests_seen == 2  # /version, then one /studies: a 400 is never retried
    assert_intact(data_dir, before)
    assert_failure_recorded(data_dir, EX_USAGE)


def test_refresh__unreachable_registry_exits_75(
    data_dir: Path, before: Fingerprint, all_query: Path, fast_env: dict[str, str]
) -> None:
    res = CliRunner().invoke(
        cli,
        ["refresh", "--full", "--query", str(all_query), "--data-dir", str(data_dir)],
        env={"TRIALFINDER_API_URL": "http://127.0.0.1:9/api/v2"},
    )
    assert_one_line_error(res, EX_TEMPFAIL, "cannot reach")
    assert_intact(data_dir, before)


def test_status__after_failed_refresh_shows_snapshot_and_failure(
    replay_url: StartUrl, data_dir: Path, before: Fingerprint, all_query: Path, fast_env: dict[str, str]
) -> None:
    server = replay_url(("503:1000",))
    assert run_refresh(data_dir, all_query, server).exit_code == EX_TEMPFAIL
    res = CliRunner().invoke(cli, ["status", "--data-dir", str(data_dir)])
    assert res.exit_code == 0, res.output
    assert before.current in res.output
    assert "last refresh:  failed" in res.output and "503" in res.output
    res = CliRunner().invoke(cli, ["export", "-o", "-", "--data-dir", str(data_dir)])
    assert res.exit_code == 0
    assert res.stdout_bytes == before.export


# --- single-study endpoint: 404 and 301 (the client; refresh itself only lists /studies) -------


def test_get_study__404_and_301_alias(replay_url: StartUrl, small_dir: Path, tmp_path: Path) -> None:
    from tests.reliability.conftest import reliability_settings
    from trialfinder.ctgov.client import CtgovClient
    from trialfinder.errors import StudyNotFoundError

    real = "NCT02628535"
    alias_dir = variant_dir(small_dir, tmp_path / "alias", lambda n, s: None)
    (alias_dir / "aliases.json").write_text(json.dumps({"NCT09999998": real}))
    server = replay_url(data=alias_dir)
    with CtgovClient(reliability_settings(server.base_url, tmp_path / "d")) as client:
        with pytest.raises(StudyNotFoundError) as info:
            client.get_study("NCT09999999")
        assert info.value.exit_code == 66 and info.value.status == 404
        assert "NCT09999999" in str(info.value)
        moved = client.get_study("nct09999998")
    assert moved.moved and moved.requested_id == "NCT09999998" and moved.current_id == real
    assert moved.data["protocolSection"]["identificationModule"]["nctId"] == real


# --- schema drift: test-only variations of real records --------------------------------------------

_DRIFT_STATUS = "PAUSED_FOR_REVIEW"  # not in the spec's Status enum


def _drift(nct: str, study: dict[str, Any]) -> dict[str, Any] | None:
    """TEST-ONLY variations of real records: new fields, an unknown enum value, modules left out."""
    ps = study["protocolSection"]
    if nct == "NCT02628535":
        study["brandNewSection"] = {"anything": [1, 2, {"x": None}]}
        ps["identificationModule"]["newIdentifierKind"] = "X-1"
        ps["statusModule"]["overallStatus"] = _DRIFT_STATUS
        for arm in ps.get("armsInterventionsModule", {}).get("armGroups", []):
            arm["type"] = "HOLOGRAPHIC_COMPARATOR"
        ps.setdefault("designModule", {})["phases"] = ["PHASE5"]
        return study
    if nct == "NCT06790706":
        for module in (
            "eligibilityModule",
            "contactsLocationsModule",
            "armsInterventionsModule",
            "descriptionModule",
            "conditionsModule",
            "designModule",
        ):
            ps.pop(module, None)
        study.pop("derivedSection", None)
        return study
    return None


def test_refresh__schema_drift_is_kept_as_text_and_never_crashes(
    replay_url: StartUrl,
    small_dir: Path,
    data_dir: Path,
    before: Fingerprint,
    all_query: Path,
    fast_env: dict[str, str],
    tmp_path: Path,
) -> None:
    drift = variant_dir(small_dir, tmp_path / "drift", _drift)
    server = replay_url(data=drift)
    res = run_refresh(data_dir, all_query, server)
    assert res.exit_code == 0, (res.output, res.exception)
    snap = load_current(data_dir)
    trials = snap.tables["trials"].set_index("nct_id")
    assert len(trials) == 30 and snap.name != before.current
    assert trials.loc["NCT02628535", "overall_status"] == _DRIFT_STATUS
    assert list(trials.loc["NCT02628535", "phases"]) == ["PHASE5"]  # type: ignore[arg-type]
    arms = snap.tables["arms"]
    assert set(arms[arms["nct_id"] == "NCT02628535"]["type"]) == {"HOLOGRAPHIC_COMPARATOR"}
    # the study without optional modules is still there, with empty related rows
    assert "NCT06790706" in trials.index
    for table in ("eligibility", "locations", "arms", "interventions"):
        assert not (snap.tables[table]["nct_id"] == "NCT06790706").any()
    facets = snap.tables["facets"].set_index("nct_id")
    assert set(facets.index) == set(trials.index)  # every trial has its facets row
    assert facets.loc["NCT06790706", "prior_immunotherapy"] == "unstated"  # no criteria to read
    # the change shows up as a status change, and the export carries it verbatim
    changes = snap.tables["changes"]
    assert ("NCT02628535", "status_changed") in set(zip(changes["nct_id"], changes["change"], strict=True))
    res = CliRunner().invoke(
        cli, ["export", "-o", "-", "--data-dir", str(data_dir), "--status", _DRIFT_STATUS]
    )
    assert res.exit_code == 0
    assert b"NCT02628535" in res.stdout_bytes and _DRIFT_STATUS.encode() in res.stdout_bytes
    # the previous snapshot is kept, untouched
    from tests.reliability.conftest import snapshot_files

    assert snapshot_files(data_dir / "snapshots" / before.current) == before.files


# --- Retry-After in other shapes, and an incremental refresh ------------------------------------------


def _retry_after_handler(value: str, n: int) -> type[ReplayHandler]:
    """429 with ``Retry-After: value`` for the first ``n`` requests (test-only server behaviour)."""

    class Handler(ReplayHandler):
        def do_GET(self) -> None:
            srv: Any = self.server
            with srv._count_lock:
                srv.odd_429 = getattr(srv, "odd_429", 0) + 1
                hit = srv.odd_429 <= n
            if not hit:
                super().do_GET()
                return
            srv.next_number(self.path, self.headers.get("User-Agent", ""))
            body = b"Too Many Requests"
            self.send_response(429)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Retry-After", value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def test_refresh__retry_after_http_date_far_away_capped_exit_75(
    replay_url: StartUrl, data_dir: Path, before: Fingerprint, all_query: Path, fast_env: dict[str, str]
) -> None:
    server = replay_url()
    server.RequestHandlerClass = _retry_after_handler("Wed, 01 Jan 2098 00:00:00 GMT", 10**6)
    res = run_refresh(data_dir, all_query, server)
    assert_one_line_error(res, EX_TEMPFAIL, "rate limited", "longer than")
    assert server.requests_seen == 1  # an HTTP-date decades away is not waited for
    assert_intact(data_dir, before)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("soon", id="text"),
        pytest.param("-5", id="negative"),
        pytest.param("Wed, 01 Jan 2020 00:00:00 GMT", id="past-date"),
        pytest.param("0", id="zero"),
    ],
)
def test_refresh__odd_retry_after_retried_and_recovered(
    value: str, replay_url: StartUrl, data_dir: Path, before: Fingerprint, all_query: Path,
    fast_env: dict[str, str],
) -> None:  # fmt: skip
    server = replay_url()
    server.RequestHandlerClass = _retry_after_handler(value, 1)
    res = run_refresh(data_dir, all_query, server)
    assert res.exit_code == 0, (res.output, res.exception)
    assert server.requests_seen == 4 + 1
    assert_replaced_without_loss(data_dir, before)


class _StudiesDownHandler(ReplayHandler):
    """/version answers, every /studies request gets 503 (test-only server behaviour)."""

    def do_GET(self) -> None:
        if "/studies" not in self.path:
            super().do_GET()
            return
        self.server.next_number(self.path, self.headers.get("User-Agent", ""))
        body = b"Service Unavailable"
        self.send_response(503)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.parametrize("studies_down", [False, True], ids=["500-burst", "studies-down"])
def test_refresh__incremental_fault_recovers_or_keeps_previous(
    studies_down: bool, replay_url: StartUrl, data_dir: Path, before: Fingerprint,
    all_query: Path, fast_env: dict[str, str],
) -> None:  # fmt: skip
    server = replay_url(() if studies_down else ("500:1",))
    if studies_down:
        server.RequestHandlerClass = _StudiesDownHandler
    res = CliRunner().invoke(
        cli,
        ["refresh", "--query", str(all_query), "--data-dir", str(data_dir)],  # incremental: no --full
        env={"TRIALFINDER_API_URL": server.base_url},
    )
    assert any("LastUpdatePostDate" in path for path, _ in server.seen)  # it was an incremental fetch
    if not studies_down:
        assert res.exit_code == 0, (res.output, res.exception)
        snap = load_current(data_dir)
        assert snap.manifest["previous"] == before.current and not snap.manifest["refresh"]["full"]
        assert len(snap.tables["trials"]) == before.counts["trials"]  # merged, nothing lost
    else:
        assert_one_line_error(res, EX_TEMPFAIL, "server error", "503")
        assert_intact(data_dir, before)


# --- the registry answers, but with far fewer studies than before ----------------------------------


@pytest.mark.parametrize("keep", [0, 10], ids=["no-studies", "a-third"])
def test_refresh__registry_suddenly_returns_far_fewer_studies_rejected(
    keep: int, replay_url: StartUrl, small_dir: Path, data_dir: Path, before: Fingerprint,
    all_query: Path, fast_env: dict[str, str], tmp_path: Path,
) -> None:  # fmt: skip
    fewer = tmp_path / "fewer"
    fewer.mkdir()
    for p in sorted(small_dir.glob("NCT*.json"))[:keep]:
        (fewer / p.name).symlink_to(p.resolve())
    server = replay_url(data=fewer)
    res = run_refresh(data_dir, all_query, server)
    assert_one_line_error(res, EX_DATAERR, f"has {keep} trials", "--force")
    assert_intact(data_dir, before)
    assert_failure_recorded(data_dir, EX_DATAERR)
    if keep:
        res = run_refresh(data_dir, all_query, server, "--force")  # the user says the drop is real
        assert res.exit_code == 0, res.output
        snap = load_current(data_dir)
        assert len(snap.tables["trials"]) == keep
        assert snap.manifest["changes"]["removed_trial"] == 30 - keep
