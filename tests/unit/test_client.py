"""Unit tests of trialfinder.ctgov.client pieces that need no server (the network is blocked here;
the client over real HTTP is tested in tests/integration/)."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import requests
from requests_cache.policy.expiration import get_url_expiration
from urllib3 import HTTPResponse
from urllib3.exceptions import MaxRetryError

from trialfinder.config import Settings
from trialfinder.ctgov import client as C
from trialfinder.errors import InvalidNctIdError, PagingError


def _settings(tmp_path: Path, **kw: Any) -> Settings:
    base: dict[str, Any] = {"api_url": "http://127.0.0.1:9/api/v2", "data_dir": tmp_path / "tf"}
    base.update(kw)
    return Settings(**base)


def test_check_cache_file__moves_a_corrupt_file_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "http_cache.sqlite"
    path.write_bytes(b"this is not an SQLite database, just garbage" * 100)
    with caplog.at_level(logging.WARNING, logger="trialfinder.ctgov"):
        assert C.check_cache_file(path) is True
    assert not path.exists()
    moved = list(tmp_path.glob("http_cache.sqlite.corrupt-*"))
    assert len(moved) == 1
    assert "unusable" in caplog.text


def test_check_cache_file__keeps_a_good_database(tmp_path: Path) -> None:
    path = tmp_path / "http_cache.sqlite"
    con = sqlite3.connect(path)
    con.execute("create table t (x)")
    con.commit()
    con.close()
    assert C.check_cache_file(path) is False
    assert path.exists()
    assert C.check_cache_file(tmp_path / "missing.sqlite") is False


def test_ctgov_client__rebuilds_a_corrupt_cache(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = _settings(tmp_path)
    settings.cache_path.parent.mkdir(parents=True)
    settings.cache_path.write_bytes(b"\x00garbage" * 512)
    with caplog.at_level(logging.WARNING, logger="trialfinder.ctgov"), C.CtgovClient(settings) as client:
        cache = client.session.cache  # type: ignore[attr-defined]
        assert len(list(cache.responses.keys())) == 0
    assert "unusable" in caplog.text
    assert list(settings.cache_path.parent.glob("http_cache.sqlite.corrupt-*"))
    # the rebuilt file is a real SQLite database now
    assert C.check_cache_file(settings.cache_path) is False


def test_expiry_patterns__per_endpoint(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        api_url="https://clinicaltrials.gov/api/v2",
        cache_expire_studies_s=11,
        cache_expire_study_s=22,
        cache_expire_version_s=0,
    )
    client = C.CtgovClient(settings)
    try:
        patterns = client._expiry_patterns()
        base = "https://clinicaltrials.gov/api/v2"
        assert get_url_expiration(f"{base}/version", patterns) == 0
        assert get_url_expiration(f"{base}/studies/NCT02628535?fields=NCTId", patterns) == 22
        assert get_url_expiration(f"{base}/studies?query.cond=mesothelioma&pageSize=1000", patterns) == 11
        assert get_url_expiration(f"{base}/studies", patterns) == 11
    finally:
        client.close()


def test_ctgov_client__sets_user_agent_and_accept(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with C.CtgovClient(settings) as client:
        assert client.session.headers["User-Agent"] == settings.user_agent
        assert "trialfinder/" in settings.user_agent
        assert client.session.headers["Accept"] == "application/json"
        assert client.timeout == (settings.connect_timeout_s, settings.read_timeout_s)


def test_get_study__rejects_bad_id_before_sending(tmp_path: Path) -> None:
    with C.CtgovClient(_settings(tmp_path)) as client:
        with pytest.raises(InvalidNctIdError):
            client.get_study("NCT123")
        assert client.requests_made == 0


def test_iter_studies__refuses_a_caller_page_token(tmp_path: Path) -> None:
    with C.CtgovClient(_settings(tmp_path)) as client:
        with pytest.raises(PagingError, match="pageToken"):
            next(client.iter_studies({"pageToken": "abc"}))
        assert client.requests_made == 0


def _response(status: int, headers: dict[str, str]) -> HTTPResponse:
    return HTTPResponse(body=b"", headers=headers, status=status, preload_content=False)


def test_capped_retry__refuses_retry_after_above_cap() -> None:
    counter = C._Counter()
    retry = C.CappedRetry(total=3, status_forcelist={429}, cap=5.0, counter=counter, raise_on_status=False)
    with pytest.raises(MaxRetryError):
        retry.increment("GET", "/api/v2/studies", response=_response(429, {"Retry-After": "3600"}))
    assert counter.value == 0


def test_capped_retry__retries_within_cap_and_counts() -> None:
    counter = C._Counter()
    retry = C.CappedRetry(total=3, status_forcelist={429}, cap=5.0, counter=counter, raise_on_status=False)
    nxt = retry.increment("GET", "/api/v2/studies", response=_response(429, {"Retry-After": "2"}))
    assert isinstance(nxt, C.CappedRetry)
    assert (nxt.cap, nxt.counter, nxt.total) == (5.0, counter, 2)
    assert nxt.get_retry_after(_response(429, {"Retry-After": "2"})) == 2
    nxt.increment("GET", "/api/v2/studies", response=_response(503, {}))
    assert counter.value == 2


@pytest.mark.parametrize("header", ["soon", "-5", "1.5", ""])
def test_capped_retry__unparsable_retry_after_treated_as_absent(
    header: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("urllib3.util.retry.time.sleep", sleeps.append)
    counter = C._Counter()
    retry = C.CappedRetry(total=3, status_forcelist={429}, cap=5.0, counter=counter, raise_on_status=False,
                          backoff_factor=0.1, min_wait=0.25)
    response = _response(429, {"Retry-After": header})
    nxt = retry.increment("GET", "/api/v2/studies", response=response)  # retried, not refused
    assert counter.value == 1 and nxt.total == 2
    assert nxt.get_retry_after(response) is None
    nxt.sleep(response)  # urllib3 alone raises InvalidHeader here
    assert sleeps == [pytest.approx(0.25)]  # the normal backoff (never below the polite interval)


def test_seconds__parses_number_and_http_date() -> None:
    assert C._seconds("120") == 120
    assert C._seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # a date in the past: no wait
    assert C._seconds("Wed, 21 Oct 2099 07:28:00 GMT") > 60


class _FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def test_polite_adapter__spaces_requests_by_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _FakeClock()
    monkeypatch.setattr(C.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(C.time, "sleep", clock.sleep)
    monkeypatch.setattr(C.HTTPAdapter, "send", lambda self, request, *a, **k: "sent")
    counter = C._Counter()
    adapter = C.PoliteAdapter(rate_per_s=2.0, counter=counter, max_retries=C.CappedRetry(total=0))
    request: Any = type("R", (), {"url": "http://x/api/v2/version"})()
    assert [adapter.send(request) for _ in range(3)] == ["sent"] * 3
    assert clock.sleeps == [pytest.approx(0.5), pytest.approx(0.5)]
    assert counter.value == 3
    clock.now += 10  # a pause longer than the interval: no wait
    adapter.send(request)
    assert len(clock.sleeps) == 2


def test_capped_retry__backoff_never_below_polite_interval() -> None:
    retry = C.CappedRetry(
        total=5, status_forcelist={503}, backoff_factor=0.1, min_wait=0.5, raise_on_status=False
    )
    first = retry.increment("GET", "/api/v2/version", response=_response(503, {}))
    assert first.get_backoff_time() == 0.5  # urllib3 alone would say 0 for the first retry
    third = first.increment("GET", "/", response=_response(503, {})).increment(
        "GET", "/", response=_response(503, {})
    )
    assert third.get_backoff_time() == pytest.approx(0.5)  # 0.1 * 2**2 = 0.4 < 0.5
    fifth = third.increment("GET", "/", response=_response(503, {})).increment(
        "GET", "/", response=_response(503, {})
    )
    assert fifth.get_backoff_time() == pytest.approx(1.6)  # 0.1 * 2**4


class _RecordedSession(requests.Session):
    """Answers GETs with recorded /studies bodies in order, remembering what was asked (no network)."""

    def __init__(self, bodies: list[bytes]) -> None:
        super().__init__()
        self.bodies = bodies
        self.calls: list[tuple[str, dict[str, str]]] = []

    def get(self, url: str | bytes, params: Any = None, **kwargs: Any) -> requests.Response:
        self.calls.append((str(url), dict(params or {})))
        resp = requests.Response()
        resp.status_code = 200
        resp._content = self.bodies.pop(0)
        resp.headers["Content-Type"] = "application/json"
        resp.url = str(url)
        return resp


def test_iter_studies__follows_real_recorded_page_tokens(tmp_path: Path, shared_dir: Path) -> None:
    pages = shared_dir / "v2" / "pages"
    first = (pages / "genomoncology__biomcp__search_phelan_limit5_20260811.json").read_bytes()
    second = (pages / "genomoncology__biomcp__search_phelan_next_20260811.json").read_bytes()
    last = b'{"studies": []}'  # test-only end of paging: an empty page without a token
    session = _RecordedSession([first, second, last])
    infos: list[C.PageInfo] = []
    with C.CtgovClient(_settings(tmp_path), session=session) as client:
        got = list(
            client.iter_studies(
                {"query.cond": "Phelan-McDermid syndrome"},
                page_size=5,
                count_total=True,
                on_page=infos.append,
            )
        )
    token1 = json.loads(first)["nextPageToken"]
    token2 = json.loads(second)["nextPageToken"]
    base = {"query.cond": "Phelan-McDermid syndrome", "pageSize": "5", "countTotal": "true"}
    assert session.calls == [
        ("http://127.0.0.1:9/api/v2/studies", base),
        ("http://127.0.0.1:9/api/v2/studies", {**base, "pageToken": token1}),
        ("http://127.0.0.1:9/api/v2/studies", {**base, "pageToken": token2}),
    ]
    expected = [
        s["protocolSection"]["identificationModule"]["nctId"]
        for b in (first, second)
        for s in json.loads(b)["studies"]
    ]
    assert [s["protocolSection"]["identificationModule"]["nctId"] for s in got] == expected
    assert [(i.studies, i.total_count) for i in infos] == [(5, 21), (5, None), (0, None)]
