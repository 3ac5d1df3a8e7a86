"""Every fault mode of the replay server, met by the real client over real HTTP: recovered from, or
reported with a clear error of trialfinder.errors."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import MakeClient, StartReplay
from trialfinder.ctgov.replay import running_server
from trialfinder.errors import (
    BadRequestError,
    BodyStalledError,
    InvalidResponseError,
    NetworkError,
    RateLimitedError,
    ServerError,
    StudyNotFoundError,
    TemporaryError,
)


def _nct(study: dict[str, Any]) -> str:
    return str(study["protocolSection"]["identificationModule"]["nctId"])


def _all_ids(client: Any, page_size: int = 1000) -> list[str]:
    return [_nct(s) for s in client.iter_studies({}, page_size=page_size)]


# --- recovered -----------------------------------------------------------------------------------


@pytest.mark.parametrize("faults", [["503:2"], ["500:1", "502:1", "504:1"], ["429:2"]])
def test_status_faults__recovered_by_retry(
    faults: list[str], start_replay: StartReplay, make_client: MakeClient
) -> None:
    server = start_replay(faults)
    client = make_client(server)
    assert client.version()["apiVersion"] == "2.0.5"
    injected = sum(int(f.split(":")[1]) for f in faults)
    assert client.requests_made == injected + 1
    assert server.requests_seen == injected + 1


def test_429__waits_for_retry_after(start_replay: StartReplay, make_client: MakeClient) -> None:
    server = start_replay(["429:1"])
    client = make_client(server)
    ids = _all_ids(client)
    assert len(set(ids)) == 1192
    assert client.requests_made == 3  # 429, then the two pages


@pytest.mark.parametrize("fault", ["truncate:2", "reset:2", "badjson:1", "content-type:1"])
def test_body_and_connection_faults__recovered_while_paging(
    fault: str, start_replay: StartReplay, make_client: MakeClient
) -> None:
    server = start_replay([fault])
    client = make_client(server)
    ids = _all_ids(client)
    assert len(ids) == len(set(ids)) == 1192
    extra = int(fault.split(":")[1])
    assert client.requests_made == 2 + extra
    assert server.requests_seen == 2 + extra


@pytest.mark.parametrize("fault", ["badjson:1", "truncate:1"])
def test_bad_bodies__never_poison_the_cache(
    fault: str, start_replay: StartReplay, make_client: MakeClient, studies_dir: Path
) -> None:
    server = start_replay([fault])
    client = make_client(server, cache_expire_study_s=3600)
    first = client.get_study("NCT02628535")
    recorded = json.loads((studies_dir / "NCT02628535.json").read_text(encoding="utf-8"))
    assert first.data == recorded
    assert client.get_study("NCT02628535").data == recorded  # now from the cache
    assert client.requests_made == 2


def test_delay__within_read_timeout_is_fine(start_replay: StartReplay, make_client: MakeClient) -> None:
    server = start_replay(["delay:0.2"])
    client = make_client(server, read_timeout_s=5.0)
    assert client.get_study("NCT06790706").current_id == "NCT06790706"
    assert client.requests_made == 1


def test_stale_if_error__serves_expired_cache_when_server_fails(
    start_replay: StartReplay, make_client: MakeClient, studies_dir: Path
) -> None:
    first = start_replay()
    port = first.server_address[1]
    client = make_client(first, cache_expire_study_s=1, max_retries=1)
    fresh = client.get_study("NCT02628535").data
    first.shutdown()
    first.server_close()
    time.sleep(1.2)  # let the cached entry expire (1 s)
    with running_server(studies_dir, ["503:100"], port=port, store=first.store) as failing:
        stale = client.get_study("NCT02628535")
        assert failing.requests_seen == 2  # the server was really asked (and retried once)
    assert stale.data == fresh


# --- reported clearly ----------------------------------------------------------------------------


def test_5xx__persisting_is_server_error(start_replay: StartReplay, make_client: MakeClient) -> None:
    server = start_replay(["503:100"])
    client = make_client(server, max_retries=2)
    with pytest.raises(ServerError, match="HTTP 503 after 2 retries") as err:
        client.version()
    assert err.value.status == 503
    assert err.value.exit_code == TemporaryError.exit_code
    assert client.requests_made == 3


def test_429__persisting_is_rate_limited(start_replay: StartReplay, make_client: MakeClient) -> None:
    server = start_replay(["429:100"])
    client = make_client(server, max_retries=1, retry_after_cap_s=1.0)
    with pytest.raises(RateLimitedError, match="429"):
        client.version()
    assert client.requests_made == 2


def test_retry_after__longer_than_cap_fails_at_once(
    start_replay: StartReplay, make_client: MakeClient
) -> None:
    server = start_replay(["retry-after:3600"])
    client = make_client(server, retry_after_cap_s=60.0, max_retries=5)
    with pytest.raises(RateLimitedError, match="wait 3600 s, longer than the 60 s") as err:
        client.version()
    assert err.value.status == 429
    assert client.requests_made == 1  # no retry, no sleep
    assert server.requests_seen == 1


def test_retry_after__above_a_low_cap(start_replay: StartReplay, make_client: MakeClient) -> None:
    server = start_replay(["429:1"])
    client = make_client(server, retry_after_cap_s=0.5)
    with pytest.raises(RateLimitedError, match="wait 1 s"):
        client.version()
    assert client.requests_made == 1


def test_delay__beyond_read_timeout_is_network_error(
    start_replay: StartReplay, make_client: MakeClient
) -> None:
    server = start_replay(["delay:1.5"])
    client = make_client(server, read_timeout_s=0.2, max_retries=1)
    with pytest.raises(NetworkError, match="timed out talking to") as err:
        client.version()
    assert client.requests_made == 2
    assert err.value.hint


def test_slowbody__beyond_read_timeout_is_network_error(
    start_replay: StartReplay, make_client: MakeClient
) -> None:
    server = start_replay(["slowbody:1.5"])
    client = make_client(server, read_timeout_s=0.2, max_retries=1)
    with pytest.raises(NetworkError, match="timed out talking to"):
        client.version()


def test_stallbody__once_is_retried_and_succeeds(start_replay: StartReplay, make_client: MakeClient) -> None:
    # headers arrive, then the body stalls past the read timeout: requests (not urllib3) fails while
    # reading it, and the client asks again
    server = start_replay(["stallbody:1"])
    client = make_client(server, read_timeout_s=0.3, max_retries=2)
    assert "apiVersion" in client.version()
    assert server.requests_seen == 2


def test_slowbody__persisting_is_retried_then_body_stalled_error(
    start_replay: StartReplay, make_client: MakeClient
) -> None:
    server = start_replay(["slowbody:1.5"])
    client = make_client(server, read_timeout_s=0.2, max_retries=2)
    with pytest.raises(BodyStalledError, match="stalled after its headers") as err:
        client.version()
    assert server.requests_seen == 3  # first try + max_retries
    assert err.value.exit_code == 75 and err.value.hint


def test_reset__persisting_is_network_error(start_replay: StartReplay, make_client: MakeClient) -> None:
    server = start_replay(["reset:100"])
    client = make_client(server, max_retries=2)
    with pytest.raises(NetworkError, match="cannot reach"):
        client.version()
    assert server.requests_seen == 3


def test_truncate__persisting_is_invalid_response(start_replay: StartReplay, make_client: MakeClient) -> None:
    server = start_replay(["truncate:100"])
    client = make_client(server)
    with pytest.raises(InvalidResponseError, match="truncated"):
        client.version()
    assert server.requests_seen == 4  # first try + 3 refetches


def test_content_type__persisting_is_invalid_response(
    start_replay: StartReplay, make_client: MakeClient
) -> None:
    server = start_replay(["content-type:100"])
    client = make_client(server)
    with pytest.raises(InvalidResponseError, match="content type 'text/html"):
        client.get_study("NCT02628535")


def test_badjson__persisting_is_invalid_response(start_replay: StartReplay, make_client: MakeClient) -> None:
    server = start_replay(["badjson:100"])
    client = make_client(server)
    with pytest.raises(InvalidResponseError, match="not valid JSON"):
        list(client.iter_studies({}))


def test_connection_refused__network_error(make_client: MakeClient) -> None:
    client = make_client("http://127.0.0.1:9/api/v2", max_retries=1)
    with pytest.raises(NetworkError, match=r"cannot reach http://127\.0\.0\.1:9/api/v2/version"):
        client.version()


# --- API answers ---------------------------------------------------------------------------------


def test_400__api_text_reaches_the_error(clean_replay: Any, make_client: MakeClient) -> None:
    client = make_client(clean_replay)
    with pytest.raises(BadRequestError) as err:
        list(client.iter_studies({"filter.overallStatus": "OPEN"}))
    assert str(err.value) == "`filter.overallStatus` has unknown value `OPEN`"
    assert err.value.status == 400
    # a parameter the spec does not know never leaves the client, but if it did the server's text is kept
    with pytest.raises(BadRequestError, match=r"^`filter\.phase` is unknown parameter$"):
        client._get_json("/studies", {"filter.phase": "PHASE2"})


def test_404__study_not_found(clean_replay: Any, make_client: MakeClient) -> None:
    client = make_client(clean_replay)
    with pytest.raises(StudyNotFoundError, match="NCT99999999") as err:
        client.get_study("NCT99999999")
    assert err.value.status == 404
    assert err.value.exit_code == 66


def test_301__alias_reports_current_id(clean_replay: Any, make_client: MakeClient) -> None:
    client = make_client(clean_replay)
    got = client.get_study("NCT00536757")  # listed in NCT00554515's nctIdAliases
    assert (got.requested_id, got.current_id, got.moved) == ("NCT00536757", "NCT00554515", True)
    assert got.data["protocolSection"]["identificationModule"]["nctId"] == "NCT00554515"


def test_301__alias_file_in_a_test_data_dir(
    tmp_path: Path, studies_dir: Path, start_replay: StartReplay, make_client: MakeClient
) -> None:
    data = tmp_path / "replay-data"
    data.mkdir()
    shutil.copy(studies_dir / "NCT02628535.json", data / "NCT02628535.json")
    (data / "aliases.json").write_text(json.dumps({"NCT00000001": "NCT02628535"}), encoding="utf-8")
    server = start_replay(data_dir=data)
    client = make_client(server)
    got = client.get_study("NCT00000001", fields=["NCTId"])
    assert got.current_id == "NCT02628535" and got.moved
    assert got.data == {"protocolSection": {"identificationModule": {"nctId": "NCT02628535"}}}
    assert [p for p, _ in server.seen] == [
        "/api/v2/studies/NCT00000001?fields=NCTId",
        "/api/v2/studies/NCT02628535?fields=NCTId",
    ]


def test_cache_error_during_request__cache_rebuilt_and_request_served(
    clean_replay: Any,
    make_client: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import sqlite3

    client = make_client(clean_replay, cache_expire_study_s=3600)
    broken_session = client.session

    def broken_get(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(broken_session, "get", broken_get)
    with caplog.at_level("WARNING", logger="trialfinder.ctgov"):
        got = client.get_study("NCT02628535")
    assert got.current_id == "NCT02628535"
    assert client.session is not broken_session
    assert "rebuilding" in caplog.text
    assert list(client.settings.cache_path.parent.glob("http_cache.sqlite.corrupt-*"))
    client.get_study("NCT02628535")
    assert client.requests_made == 1  # the rebuilt cache works: the second call is a cache hit
