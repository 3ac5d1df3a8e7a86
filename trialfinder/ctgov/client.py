"""The ClinicalTrials.gov API v2 client: the only module of trialfinder that does HTTP.

One :class:`CtgovClient` wraps a ``requests-cache`` :class:`~requests_cache.CachedSession` (SQLite file
``settings.cache_path``, ``stale_if_error``, per-endpoint expiry) whose HTTP adapter adds

* a urllib3 :class:`~urllib3.util.Retry` on connection/read errors and 429/500/502/503/504 with
  jittered exponential backoff, honouring ``Retry-After`` up to ``settings.retry_after_cap_s``; a server
  that asks for a longer wait gets no retry and the call fails with :class:`RateLimitedError`;
* a polite rate limit (``settings.rate_limit_per_s``, default 1 request/s) applied to real network
  requests only (cache hits are free);
* explicit ``(connect, read)`` timeouts and a clear ``User-Agent``.

Bodies that are truncated, not JSON or of the wrong content type are retried a few times and then raise
:class:`InvalidResponseError`. Every failure is one of the classes of :mod:`trialfinder.errors`.
See ``docs/api-client.md``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError, ReadTimeoutError
from urllib3.util.retry import Retry

from trialfinder.config import Settings
from trialfinder.ctgov import params as P
from trialfinder.errors import (
    ApiError,
    BadRequestError,
    BodyStalledError,
    InvalidResponseError,
    NetworkError,
    PagingError,
    RateLimitedError,
    ServerError,
    StudyNotFoundError,
)

log = logging.getLogger("trialfinder.ctgov")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: how many times a body that is truncated / not JSON / of the wrong type is fetched again
INVALID_BODY_RETRIES = 3
#: consecutive empty pages that still carry a nextPageToken before we call the paging broken
MAX_EMPTY_PAGES = 5


# --- transport pieces -----------------------------------------------------------------------------


class _Counter:
    """Thread-safe count of requests that really went to the network."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.value += n


class CappedRetry(Retry):
    """urllib3 ``Retry`` that refuses to wait longer than ``cap`` seconds for ``Retry-After``.

    A response whose ``Retry-After`` exceeds the cap is handed back unretried (the client then raises
    :class:`RateLimitedError`); each retry attempt is counted in ``counter``.
    """

    def __init__(self, *args: Any, cap: float = 60.0, counter: _Counter | None = None, min_wait: float = 0.0,
                 **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.cap = cap
        self.counter = counter
        self.min_wait = min_wait

    def new(self, **kw: Any) -> CappedRetry:
        kw.setdefault("cap", self.cap)
        kw.setdefault("counter", self.counter)
        kw.setdefault("min_wait", self.min_wait)
        return super().new(**kw)

    def get_backoff_time(self) -> float:
        """urllib3's jittered exponential backoff, but never less than the polite interval (1/rate):
        urllib3 would retry the first failure at once."""
        return max(super().get_backoff_time(), self.min_wait)

    def get_retry_after(self, response: Any) -> float | None:
        """The ``Retry-After`` wait in seconds, or None when the header is absent or unparsable
        ('soon', '-5'): such a header is ignored and the normal backoff applies (urllib3 itself
        would raise ``InvalidHeader`` and the request would fail without a retry)."""
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            log.info("ignoring an unparsable Retry-After header %r", response.headers.get("Retry-After"))
            return None

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None) -> CappedRetry:
        if response is not None:
            header = response.headers.get("Retry-After")
            if header is not None and self._asked_wait(header) > self.cap:
                # MaxRetryError + raise_on_status=False: urllib3 returns this response as it is
                raise MaxRetryError(_pool, url or "", reason=None)
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        if self.counter is not None:
            self.counter.add()
        log.info("retrying %s %s after %s", method, url,
                 f"HTTP {response.status}" if response is not None else type(error).__name__)
        return new

    def _asked_wait(self, header: str) -> float:
        saved = self.retry_after_max
        try:
            self.retry_after_max = 10**9  # measure the raw request, not urllib3's own clamp
            return self.parse_retry_after(header)
        except Exception:
            return 0.0
        finally:
            self.retry_after_max = saved


class PoliteAdapter(HTTPAdapter):
    """HTTP adapter that spaces real requests at least ``1/rate`` seconds apart and counts them."""

    def __init__(self, *, rate_per_s: float, counter: _Counter, max_retries: Retry) -> None:
        super().__init__(max_retries=max_retries)
        self._interval = 1.0 / rate_per_s
        self._counter = counter
        self._lock = threading.Lock()
        self._next_at = 0.0

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        with self._lock:
            now = time.monotonic()
            wait = self._next_at - now
            if wait > 0:
                time.sleep(wait)
            self._next_at = max(now, self._next_at) + self._interval
        self._counter.add()
        log.debug("GET %s", request.url)
        return super().send(request, *args, **kwargs)


# --- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageInfo:
    """What ``iter_studies(on_page=...)`` reports after each page."""

    number: int  # 1-based
    studies: int
    total_count: int | None  # only on the first page, and only with count_total=True
    next_page_token: str | None
    from_cache: bool


@dataclass(frozen=True)
class StudyResult:
    """``get_study`` answer: the study and the ID asked for vs the current one (after a 301 alias)."""

    data: dict[str, Any]
    requested_id: str
    current_id: str

    @property
    def moved(self) -> bool:
        return self.requested_id != self.current_id


# --- the client -----------------------------------------------------------------------------------


def _move_aside(path: Path, why: str) -> None:
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    log.warning("HTTP cache %s is unusable (%s); moved it to %s and starting a new one", path, why, target)
    path.replace(target)
    for suffix in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.unlink()


def check_cache_file(path: Path) -> bool:
    """Move a corrupt SQLite cache file aside (logged warning). True when it was moved."""
    if not path.exists():
        return False
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = con.execute("PRAGMA quick_check").fetchone()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        _move_aside(path, str(exc))
        return True
    if not row or row[0] != "ok":
        _move_aside(path, f"integrity check said {row[0] if row else 'nothing'}")
        return True
    return False


class CtgovClient:
    """Client of ClinicalTrials.gov API v2 (or the replay server at ``settings.api_url``).

    ``session`` may be passed in (tests); otherwise a ``requests-cache`` session on
    ``settings.cache_path`` is built. Use as a context manager or call :meth:`close`.
    """

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.base_url = settings.api_url.rstrip("/")
        self.timeout = (settings.connect_timeout_s, settings.read_timeout_s)
        self._counter = _Counter()
        #: the registry's dataTimestamp once version() has seen it; part of every cache key
        self.data_timestamp: str | None = None
        self._own_session = session is None
        self.session = session if session is not None else self._build_cached_session()
        self._mount(self.session)

    # -- construction

    def _expiry_patterns(self) -> dict[Any, Any]:
        parts = urlsplit(self.base_url)
        root = f"{parts.netloc}{parts.path}"
        s = self.settings
        return {  # first match wins: the single-study pattern must come before the list one
            f"{root}/version": s.cache_expire_version_s,
            f"{root}/studies/": s.cache_expire_study_s,
            f"{root}/studies": s.cache_expire_studies_s,
        }

    def _build_cached_session(self) -> requests.Session:
        from requests_cache import CachedSession

        path = self.settings.cache_path
        path.parent.mkdir(parents=True, exist_ok=True)
        check_cache_file(path)
        return CachedSession(
            str(path),
            backend="sqlite",
            key_fn=self._cache_key,
            expire_after=0,
            urls_expire_after=self._expiry_patterns(),
            stale_if_error=True,
            allowable_codes=(200,),
            allowable_methods=("GET",),
        )

    def _cache_key(self, request: Any, **kwargs: Any) -> str:
        """requests-cache's key, salted with the dataTimestamp last seen by :meth:`version`: after the
        registry's daily update no answer cached from older data is used again."""
        from requests_cache.cache_keys import create_key

        key = create_key(request, **kwargs)
        if not self.data_timestamp:
            return key
        return hashlib.blake2b(f"{key}|{self.data_timestamp}".encode(), digest_size=8).hexdigest()

    def _retry(self) -> CappedRetry:
        s = self.settings
        return CappedRetry(
            total=s.max_retries,
            connect=s.max_retries,
            read=s.max_retries,
            status=s.max_retries,
            other=0,
            redirect=False,
            allowed_methods=frozenset({"GET"}),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=s.backoff_factor_s,
            backoff_jitter=s.backoff_factor_s,
            backoff_max=max(s.retry_after_cap_s, s.backoff_factor_s),
            raise_on_status=False,
            respect_retry_after_header=True,
            retry_after_max=int(s.retry_after_cap_s),
            cap=s.retry_after_cap_s,
            counter=self._counter,
            min_wait=1.0 / s.rate_limit_per_s,
        )

    def _mount(self, session: requests.Session) -> None:
        adapter = PoliteAdapter(rate_per_s=self.settings.rate_limit_per_s, counter=self._counter,
                                max_retries=self._retry())
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = self.settings.user_agent
        session.headers["Accept"] = "application/json"

    def _rebuild_cache(self, exc: Exception) -> None:
        log.warning("HTTP cache failed (%s); rebuilding it", exc)
        self.session.close()
        path = self.settings.cache_path
        if path.exists():
            _move_aside(path, str(exc))
        self.session = self._build_cached_session()
        self._mount(self.session)

    # -- public API

    @property
    def requests_made(self) -> int:
        """Requests that really went to the network (retries included, cache hits excluded)."""
        return self._counter.value

    def close(self) -> None:
        if self._own_session:
            self.session.close()

    def __enter__(self) -> CtgovClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def version(self) -> dict[str, Any]:
        """``GET /version``: ``{"apiVersion": ..., "dataTimestamp": ...}``."""
        data, _ = self._get_json("/version", {})
        if not isinstance(data, dict) or "dataTimestamp" not in data or "apiVersion" not in data:
            raise InvalidResponseError("GET /version: answer lacks apiVersion/dataTimestamp",
                                       url=self.base_url + "/version")
        self.data_timestamp = str(data["dataTimestamp"])
        return data

    def count(self, params: Mapping[str, object] | None = None) -> int:
        """Number of studies matching ``params`` (one request: ``countTotal=true``, ``pageSize=1``)."""
        query = P.build_studies_params(params, page_size=1, count_total=True, fields=["NCTId"])
        query.pop("pageToken", None)
        data, _ = self._get_json("/studies", query)
        total = data.get("totalCount") if isinstance(data, dict) else None
        if not isinstance(total, int):
            raise InvalidResponseError("GET /studies?countTotal=true: answer has no totalCount",
                                       url=self.base_url + "/studies")
        return total

    def iter_studies(
        self,
        params: Mapping[str, object] | None = None,
        *,
        page_size: int = 1000,
        fields: Iterable[str] | str | None = None,
        count_total: bool = False,
        on_page: Callable[[PageInfo], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield raw study dicts of ``GET /studies``, following ``nextPageToken`` until it is absent.

        Later pages repeat the first page's parameters plus ``pageToken``. An empty page ends paging
        when it has no token; a repeated token raises :class:`PagingError`.
        """
        first = P.build_studies_params(params, page_size=page_size, fields=fields,
                                       count_total=True if count_total else None)
        if "pageToken" in first:
            raise PagingError("do not pass pageToken: iter_studies pages by itself")
        seen: set[str] = set()
        token: str | None = None
        number = 0
        empty_run = 0
        while True:
            query = dict(first)
            if token is not None:
                query["pageToken"] = token
            data, from_cache = self._get_json("/studies", query)
            number += 1
            if not isinstance(data, dict) or not isinstance(data.get("studies", []), list):
                raise InvalidResponseError(f"GET /studies page {number}: not a page of studies",
                                           url=self.base_url + "/studies")
            studies: list[dict[str, Any]] = data.get("studies", [])
            next_token = data.get("nextPageToken") or None
            total = data.get("totalCount") if number == 1 else None
            log.info("page %d: %d studies%s%s", number, len(studies),
                     f", totalCount {total}" if total is not None else "",
                     " (cache)" if from_cache else "")
            if on_page is not None:
                on_page(PageInfo(number, len(studies), total, next_token, from_cache))
            yield from studies
            if next_token is None:
                return
            if next_token in seen or next_token == token:
                raise PagingError(f"the server repeated page token {next_token!r} (page {number})",
                                  url=self.base_url + "/studies",
                                  hint="paging would loop; try again later")
            empty_run = empty_run + 1 if not studies else 0
            if empty_run >= MAX_EMPTY_PAGES:
                raise PagingError(f"{empty_run} empty pages in a row that still carry a nextPageToken",
                                  url=self.base_url + "/studies")
            seen.add(next_token)
            token = next_token

    def get_study(self, nct_id: str, fields: Iterable[str] | str | None = None) -> StudyResult:
        """``GET /studies/{nctId}``; follows a 301 alias and reports the current ID."""
        requested = P.validate_nct_id(nct_id)
        data, _, resp = self._get_json_resp(f"/studies/{requested}", P.build_study_params(fields),
                                            not_found=requested)
        if not isinstance(data, dict):
            raise InvalidResponseError(f"GET /studies/{requested}: not a study object", url=resp.url)
        current = (data.get("protocolSection", {}).get("identificationModule", {}).get("nctId")
                   or urlsplit(resp.url).path.rstrip("/").rsplit("/", 1)[-1])
        if resp.history and current != requested:
            log.info("%s is an alias of %s (HTTP %s)", requested, current, resp.history[0].status_code)
        return StudyResult(data=data, requested_id=requested, current_id=str(current).upper())

    # -- internals

    def _get_json(self, path: str, query: Mapping[str, str]) -> tuple[Any, bool]:
        data, from_cache, _ = self._get_json_resp(path, query)
        return data, from_cache

    def _get_json_resp(self, path: str, query: Mapping[str, str],
                       not_found: str | None = None) -> tuple[Any, bool, requests.Response]:
        url = self.base_url + path
        attempts = 1 + INVALID_BODY_RETRIES
        stalls = 0
        attempt = 0
        while True:
            attempt += 1
            resp: requests.Response | None = None
            try:
                resp = self._send(url, query)
                self._raise_for_status(resp, not_found)
                return self._decode(resp), bool(getattr(resp, "from_cache", False)), resp
            except BodyStalledError as exc:
                # urllib3 retries slow headers itself; a body that stalls after them fails later, in
                # requests, so it is retried here (as many times as other failures: max_retries)
                stalls += 1
                if stalls > self.settings.max_retries:
                    raise
                log.warning("%s (retry %d of %d)", exc.message, stalls, self.settings.max_retries)
                time.sleep(self.settings.backoff_factor_s * stalls)
            except InvalidResponseError as exc:
                if resp is not None:
                    self._forget(resp)
                if attempt - stalls >= attempts:
                    raise
                log.warning("%s (attempt %d of %d); fetching again", exc.message, attempt - stalls, attempts)
                time.sleep(self.settings.backoff_factor_s * (attempt - stalls))

    def _send(self, url: str, query: Mapping[str, str]) -> requests.Response:
        for rebuilt in (False, True):
            try:
                return self.session.get(url, params=dict(query), timeout=self.timeout)
            except sqlite3.DatabaseError as exc:
                if rebuilt or not self._own_session:
                    raise ApiError(f"HTTP cache is unusable: {exc}", url=url) from exc
                self._rebuild_cache(exc)
            except (requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as exc:
                raise InvalidResponseError(f"truncated body from {url}: {_reason(exc)}", url=url) from exc
            except requests.exceptions.ConnectionError as exc:
                if _body_stalled(exc):
                    raise BodyStalledError(
                        f"timed out talking to {url}: the answer stalled after its headers", url=url,
                        hint="the server is slow; try again later") from exc
                if "timed out" in _reason(exc).lower():
                    raise NetworkError(f"timed out talking to {url}: {_reason(exc)}", url=url,
                                       hint="the server is slow or unreachable; try again later") from exc
                raise NetworkError(f"cannot reach {url}: {_reason(exc)}", url=url,
                                   hint="check the network or TRIALFINDER_API_URL") from exc
            except requests.exceptions.Timeout as exc:
                raise NetworkError(f"timed out talking to {url}: {_reason(exc)}", url=url,
                                   hint="the server is slow or unreachable; try again later") from exc
            except requests.exceptions.RequestException as exc:
                if "timed out" in _reason(exc).lower():
                    raise NetworkError(f"timed out talking to {url}: {_reason(exc)}", url=url,
                                       hint="the server is slow or unreachable; try again later") from exc
                raise NetworkError(f"cannot reach {url}: {_reason(exc)}", url=url,
                                   hint="check the network or TRIALFINDER_API_URL") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _raise_for_status(self, resp: requests.Response, not_found: str | None) -> None:
        code = resp.status_code
        if code == 200:
            return
        text = _body_text(resp)
        if code == 400:
            raise BadRequestError(text or "bad request (HTTP 400, no message)", status=400, url=resp.url)
        if code == 404 and not_found is not None:
            raise StudyNotFoundError(f"study {not_found} not found" + (f": {text}" if text else ""),
                                     status=404, url=resp.url)
        if code == 429:
            wait = resp.headers.get("Retry-After")
            if wait is not None and _seconds(wait) > self.settings.retry_after_cap_s:
                raise RateLimitedError(
                    f"rate limited (HTTP 429): the server asks to wait {wait} s, longer than the "
                    f"{self.settings.retry_after_cap_s:g} s we accept", status=429, url=resp.url,
                    hint="try again later")
            raise RateLimitedError(f"rate limited (HTTP 429) after {self.settings.max_retries} retries",
                                   status=429, url=resp.url, hint="try again later")
        if code >= 500:
            raise ServerError(f"server error HTTP {code} after {self.settings.max_retries} retries"
                              + (f": {text[:200]}" if text else ""), status=code, url=resp.url,
                              hint="ClinicalTrials.gov may be down; try again later")
        raise ApiError(f"unexpected HTTP {code}" + (f": {text[:200]}" if text else ""),
                       status=code, url=resp.url)

    def _decode(self, resp: requests.Response) -> Any:
        ctype = resp.headers.get("Content-Type", "")
        if "json" not in ctype.lower():
            raise InvalidResponseError(f"expected JSON from {resp.url}, got content type {ctype!r}",
                                       status=resp.status_code, url=resp.url)
        try:
            return orjson.loads(resp.content)
        except orjson.JSONDecodeError as exc:
            raise InvalidResponseError(f"body from {resp.url} is not valid JSON "
                                       f"({len(resp.content)} bytes): {exc}",
                                       status=resp.status_code, url=resp.url) from exc

    def _forget(self, resp: requests.Response) -> None:
        """Drop a bad response from the HTTP cache so the next attempt really refetches."""
        cache = getattr(self.session, "cache", None)
        key = getattr(resp, "cache_key", None)
        if cache is not None and key:
            cache.delete(key)


def _body_stalled(exc: requests.exceptions.ConnectionError) -> bool:
    """A read timeout raised while reading the body (requests wraps urllib3's ``ReadTimeoutError``
    directly; a timeout before the headers arrives wrapped in ``MaxRetryError`` after urllib3's retries)."""
    return any(isinstance(a, ReadTimeoutError) for a in exc.args)


def _reason(exc: BaseException) -> str:
    inner: BaseException = exc
    while inner.args and isinstance(inner.args[0], BaseException):
        inner = inner.args[0]
    reason = getattr(inner, "reason", None)
    if reason is None and inner.args and isinstance(inner.args[0], str):
        reason = inner.args[0]
    return str(reason or inner)


def _body_text(resp: requests.Response) -> str:
    try:
        return resp.text.strip()
    except Exception:
        return ""


def _seconds(header: str) -> float:
    try:
        return float(header.strip())
    except ValueError:
        return CappedRetry()._asked_wait(header)
