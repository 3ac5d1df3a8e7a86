"""One refresh (or import) from start to swap: version check, incremental fetch, merge, facets, store.

:func:`refresh` talks to the API only through :class:`~trialfinder.ctgov.client.CtgovClient`;
:func:`import_into_store` reads files through :mod:`trialfinder.sources`. Both hold the store's lock
for their whole run, write a new snapshot through :meth:`Store.commit` and record their outcome in
``last_refresh.json``. The merge helpers are pure.
"""

from __future__ import annotations

import datetime as _dt
import logging
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import pandas as pd

from trialfinder.config import Settings
from trialfinder.errors import TrialFinderError
from trialfinder.queries import SavedSearch
from trialfinder.sources.base import RawStudy
from trialfinder.store import (
    CommitResult,
    Snapshot,
    Store,
    iso_utc,
    utc_now,
    write_last_refresh,
)

log = logging.getLogger(__name__)

NORMALIZED_TABLES = ("trials", "conditions", "interventions", "arms", "locations", "eligibility")


# --- progress ------------------------------------------------------------------------------------


class Progress(Protocol):
    """How a refresh reports progress (tqdm bars on a terminal, log lines otherwise)."""

    def start(self, label: str, total: int | None) -> None: ...
    def advance(self, n: int) -> None: ...
    def finish(self) -> None: ...
    def note(self, message: str) -> None: ...


class LogProgress:
    """Plain log lines (cron, CI, pipes): one line per page and per step."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or log
        self.label = ""
        self.done = 0
        self.total: int | None = None

    def start(self, label: str, total: int | None) -> None:
        self.label, self.done, self.total = label, 0, total
        self.log.info("%s: started%s", label, f" ({total} expected)" if total is not None else "")

    def advance(self, n: int) -> None:
        self.done += n
        of = f"/{self.total}" if self.total is not None else ""
        self.log.info("%s: %d%s studies", self.label, self.done, of)

    def finish(self) -> None:
        self.log.info("%s: done, %d studies", self.label, self.done)

    def note(self, message: str) -> None:
        self.log.info("%s", message)


class TqdmProgress:
    """A tqdm bar per saved search, on stderr."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.bar: Any = None

    def start(self, label: str, total: int | None) -> None:
        from tqdm import tqdm

        self.finish()
        self.bar = tqdm(total=total, desc=label, unit="study", file=self.stream, leave=True)

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def note(self, message: str) -> None:
        from tqdm import tqdm

        tqdm.write(message, file=self.stream)


def auto_progress(stream: IO[str] | None = None) -> Progress:
    """tqdm bars when ``stream`` (default stderr) is a terminal, plain log lines otherwise."""
    s = stream or sys.stderr
    isatty = getattr(s, "isatty", None)
    return TqdmProgress(s) if callable(isatty) and isatty() else LogProgress()


# --- results -----------------------------------------------------------------------------------


@dataclass
class RefreshResult:
    """What one refresh or import did."""

    status: str  # "ok" | "skipped"
    mode: str
    snapshot: str | None
    previous: str | None
    data_timestamp: str | None
    requests_made: int = 0
    studies_fetched: int = 0
    full: bool = False
    since: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    searches: list[str] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def skipped(self) -> bool:
        return self.status == "skipped"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line for humans."""
        if self.skipped:
            return (
                f"nothing new: the registry data is still as of {self.data_timestamp} "
                f"(snapshot {self.snapshot}; {self.requests_made} request)"
            )
        changed = ", ".join(f"{v} {k}" for k, v in self.changes.items() if v) or "no changes"
        how = "import" if self.mode != "api" else ("full refresh" if self.full else "incremental refresh")
        since = f" since {self.since}" if self.since else ""
        req = f", {self.requests_made} requests" if self.mode == "api" else ""
        return (
            f"{how}{since}: {self.studies_fetched} studies read{req}; snapshot {self.snapshot} "
            f"has {self.counts.get('trials', 0)} trials ({changed})"
        )


# --- pure helpers --------------------------------------------------------------------------------


def record_date_of(study: Mapping[str, Any]) -> str | None:
    """``lastUpdatePostDateStruct.date`` of an API v2 study, if any."""
    status = (study.get("protocolSection") or {}).get("statusModule") or {}
    date = (status.get("lastUpdatePostDateStruct") or {}).get("date")
    return str(date) if date else None


def nct_of(study: Mapping[str, Any]) -> str | None:
    ident = (study.get("protocolSection") or {}).get("identificationModule") or {}
    nct = ident.get("nctId")
    return str(nct) if nct else None


def _newer(a: str | None, b: str | None) -> bool:
    """True when record date ``a`` is strictly newer than ``b`` (missing dates are oldest)."""
    return (a or "") > (b or "")


def keep_newest(records: Iterable[RawStudy]) -> dict[str, RawStudy]:
    """NCT ID → the newest record (first seen wins on ties); records without an NCT ID are dropped."""
    out: dict[str, RawStudy] = {}
    for r in records:
        nct = r.nct_id
        if not nct:
            continue
        if nct not in out or _newer(r.record_date, out[nct].record_date):
            out[nct] = r
    return out


def merge_tables(
    previous: Mapping[str, pd.DataFrame] | None,
    fetched: Mapping[str, pd.DataFrame],
    replaced: set[str],
    tables: Sequence[str] = NORMALIZED_TABLES,
) -> dict[str, pd.DataFrame]:
    """Previous tables with every row of a ``replaced`` NCT ID swapped for the fetched rows.

    Trials not in ``replaced`` keep their previous rows in every table. Rows are sorted by ``nct_id``
    (stable, so the order inside a trial is kept).
    """
    out: dict[str, pd.DataFrame] = {}
    for name in tables:
        new = fetched[name]
        old = previous.get(name) if previous is not None else None
        if old is not None and not old.empty:
            kept = old[~old["nct_id"].isin(list(replaced))]
            frames = [f for f in (kept, new) if not f.empty]
            merged = pd.concat(frames, ignore_index=True) if frames else new.iloc[0:0]
            if not new.empty and list(merged.columns) != list(new.columns):
                merged = merged[list(new.columns)]
        else:
            merged = new
        out[name] = merged.sort_values("nct_id", kind="stable").reset_index(drop=True)
    return out


def incremental_since(data_timestamp: str, overlap_days: int) -> _dt.date:
    """The first LastUpdatePostDate to fetch: the previous data date minus the overlap."""
    day = _dt.date.fromisoformat(data_timestamp.strip()[:10])
    return day - _dt.timedelta(days=overlap_days)


def _search_key(s: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return str(s.get("name")), tuple(sorted((str(k), str(v)) for k, v in (s.get("params") or {}).items()))


def _covered(previous: Snapshot, queries: Sequence[SavedSearch]) -> set[str]:
    """Names of the saved searches that the previous snapshot already holds, with the same params."""
    prev = {_search_key(s) for s in previous.manifest.get("searches") or []}
    return {q.name for q in queries if _search_key(q.describe()) in prev}


def _merge_searches(previous: Snapshot | None, queries: Sequence[SavedSearch]) -> list[dict[str, Any]]:
    by_name: dict[str, dict[str, Any]] = {}
    if previous is not None and previous.mode == "api":
        for s in previous.manifest.get("searches") or []:
            by_name[str(s.get("name"))] = dict(s)
    for q in queries:
        by_name[q.name] = q.describe()
    return [by_name[k] for k in sorted(by_name)]


def facet_tables(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``facets`` and ``arm_classes`` from :func:`trialfinder.facets.compute_facets_parallel` (one
    worker process per CPU for large inputs, in-process otherwise; the same result either way)."""
    import trialfinder.facets as facets_pkg
    from trialfinder.sources.parallel import default_workers

    compute_parallel = getattr(facets_pkg, "compute_facets_parallel", None)
    compute_facets = getattr(facets_pkg, "compute_facets", None)
    if compute_parallel is not None:
        result = compute_parallel(dict(tables), workers=default_workers())
    elif compute_facets is not None:
        result = compute_facets(dict(tables))
    else:  # the facets package has not landed: facet columns stay empty
        log.warning("trialfinder.facets.compute_facets is not available; snapshot has no facets")
        return {}
    if isinstance(result, pd.DataFrame):
        return {"facets": result}
    return {k: v for k, v in dict(result).items() if isinstance(v, pd.DataFrame)}


def facets_fingerprint() -> str | None:
    """A hash of the facet rules (``trialfinder/facets`` sources and ``trialfinder/data``): facets
    stored in a snapshot are reused only when the rules that computed them are unchanged."""
    import hashlib

    try:
        import trialfinder.facets as facets_pkg
    except ImportError:  # pragma: no cover - the package is part of trialfinder
        return None
    root = Path(facets_pkg.__file__).resolve().parent
    files = sorted(root.rglob("*.py")) + sorted(p for p in (root.parent / "data").rglob("*") if p.is_file())
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def update_facets(
    tables: Mapping[str, pd.DataFrame], previous: Snapshot | None, replaced: set[str]
) -> dict[str, pd.DataFrame]:
    """Facet tables for ``tables``: recomputed only for the ``replaced`` trials when ``previous``
    holds facets computed by the same rules (facets are per trial), else for every trial."""
    fp = facets_fingerprint()
    prev = previous.tables if previous is not None else {}
    reuse = (
        previous is not None
        and fp is not None
        and previous.manifest.get("facets_fingerprint") == fp
        and "facets" in prev
        and "arm_classes" in prev
    )
    if not reuse:
        return facet_tables(tables)
    fresh = facet_tables(_only(tables, replaced)) if replaced else {}
    if not fresh:
        fresh = {k: prev[k].iloc[0:0] for k in ("facets", "arm_classes")}
    keep = set(tables["trials"]["nct_id"])
    old = {k: v[v["nct_id"].isin(list(keep))] for k, v in prev.items() if k in fresh}
    return merge_tables(old, fresh, replaced, tables=tuple(fresh))


def _normalize(records: Iterable[RawStudy]) -> dict[str, pd.DataFrame]:
    from trialfinder.normalize import normalize

    return normalize(records)


def _outcome(status: str, started: _dt.datetime, **kw: Any) -> dict[str, Any]:
    return {"status": status, "started_at": iso_utc(started), "finished_at": iso_utc(utc_now()), **kw}


# --- refresh ----------------------------------------------------------------------------------


ClientFactory = Callable[[Settings], Any]


def _default_client(settings: Settings) -> Any:
    from trialfinder.ctgov.client import CtgovClient

    return CtgovClient(settings)


def refresh(
    settings: Settings,
    queries: Sequence[SavedSearch],
    *,
    full: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    client_factory: ClientFactory | None = None,
) -> RefreshResult:
    """Bring the current snapshot up to date with the registry for ``queries``.

    One ``GET /version`` first: when its ``dataTimestamp`` equals the current snapshot's (and the
    snapshot already holds these searches) nothing else is requested. Otherwise the searches are
    fetched (incrementally since the previous data date minus ``incremental_overlap_days``, or
    completely with ``full`` or when there is no API snapshot yet), unioned, merged into the
    previous tables, faceted and committed as a new snapshot.
    """
    if not queries:
        raise TrialFinderError("no saved searches to refresh")
    started = utc_now()
    t0 = time.monotonic()
    progress = progress or auto_progress()
    store = Store.from_settings(settings)
    client: Any = None
    try:
        with store.lock():
            # the manifest alone decides "nothing new": load no table until we know we need them
            previous = store.current(tables=())
            client = (client_factory or _default_client)(settings)
            data_timestamp = str(client.version()["dataTimestamp"])
            prev_api = previous if previous is not None and previous.mode == "api" else None
            covered = _covered(prev_api, queries) if prev_api is not None else set()
            if (
                not full
                and prev_api is not None
                and prev_api.data_timestamp == data_timestamp
                and covered == {q.name for q in queries}
            ):
                result = RefreshResult(
                    status="skipped",
                    mode="api",
                    snapshot=prev_api.name,
                    previous=prev_api.name,
                    data_timestamp=data_timestamp,
                    requests_made=client.requests_made,
                    searches=[q.name for q in queries],
                    duration_s=time.monotonic() - t0,
                )
                write_last_refresh(settings.data_dir, _outcome("skipped", started, **_brief(result)))
                return result

            if previous is not None:
                previous = store.current()  # now with its tables, to merge into
                prev_api = previous if previous is not None and previous.mode == "api" else None
            since: _dt.date | None = None
            if not full and prev_api is not None and prev_api.data_timestamp:
                since = incremental_since(prev_api.data_timestamp, settings.incremental_overlap_days)
            base = prev_api if since is not None else None

            fetched: list[RawStudy] = []
            sources: list[dict[str, Any]] = []
            for q in queries:
                params: dict[str, object] = dict(q.api_params())
                q_since = since if (since is not None and q.name in covered) else None
                if q_since is not None:
                    from trialfinder.ctgov.params import with_last_update_since

                    params = with_last_update_since(params, q_since)
                n = _fetch(client, q, params, settings, progress, fetched)
                sources.append(
                    {
                        "kind": "api",
                        "url": settings.api_url,
                        "search": q.name,
                        "since": q_since.isoformat() if q_since else None,
                        "studies": n,
                    }
                )
            records = keep_newest(fetched)
            progress.note(f"normalizing {len(records)} studies")
            new_tables = _normalize(records.values())
            tables = merge_tables(base.tables if base else None, new_tables, set(records))
            progress.note("computing facets")
            tables.update(update_facets(tables, base, set(records)))
            manifest = {
                "data_timestamp": data_timestamp,
                "facets_fingerprint": facets_fingerprint(),
                "mode": "api",
                "searches": _merge_searches(base, queries),
                "sources": sources,
                "refresh": {
                    "full": since is None,
                    "since": since.isoformat() if since else None,
                    "requests_made": client.requests_made,
                    "studies_fetched": len(fetched),
                    "unique_studies": len(records),
                },
            }
            progress.note("writing snapshot")
            commit = store.commit(
                tables,
                manifest,
                force=force,
                min_count_ratio=settings.min_count_ratio,
                previous=previous,
                check_count=prev_api is not None,
            )
            result = _result(commit, "api", data_timestamp, t0, client.requests_made, len(fetched))
            result.full = since is None
            result.since = since.isoformat() if since else None
            result.searches = [q.name for q in queries]
            write_last_refresh(settings.data_dir, _outcome("ok", started, **_brief(result)))
            return result
    except BaseException as exc:
        _record_failure(settings, started, exc, client)
        raise
    finally:
        if client is not None:
            client.close()


def _fetch(
    client: Any,
    q: SavedSearch,
    params: Mapping[str, object],
    settings: Settings,
    progress: Progress,
    out: list[RawStudy],
) -> int:
    started = False

    def on_page(info: Any) -> None:
        nonlocal started
        if not started:
            progress.start(q.name, getattr(info, "total_count", None))
            started = True
        progress.advance(int(getattr(info, "studies", 0)))

    n = 0
    source = f"{settings.api_url.rstrip('/')}/studies"
    for study in client.iter_studies(params, page_size=settings.page_size, count_total=True, on_page=on_page):
        out.append(RawStudy(study, source_format="api", source=source, record_date=record_date_of(study)))
        n += 1
    if started:
        progress.finish()
    return n


def _result(
    commit: CommitResult, mode: str, data_timestamp: str | None, t0: float, requests: int, studies: int
) -> RefreshResult:
    return RefreshResult(
        status="ok",
        mode=mode,
        snapshot=commit.name,
        previous=commit.previous,
        data_timestamp=data_timestamp,
        requests_made=requests,
        studies_fetched=studies,
        counts=dict(commit.counts),
        changes=dict(commit.changes),
        duration_s=time.monotonic() - t0,
    )


def _brief(result: RefreshResult) -> dict[str, Any]:
    d = result.as_dict()
    d.pop("status", None)
    d["message"] = result.summary()
    return d


def _record_failure(settings: Settings, started: _dt.datetime, exc: BaseException, client: Any) -> None:
    if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
        message = f"interrupted ({type(exc).__name__})"
        code: int | None = 130
    elif isinstance(exc, TrialFinderError):
        message, code = str(exc), exc.exit_code
    else:
        message, code = f"{type(exc).__name__}: {exc}", 1
    try:
        write_last_refresh(
            settings.data_dir,
            _outcome(
                "failed",
                started,
                message=message,
                exit_code=code,
                error=type(exc).__name__,
                requests_made=getattr(client, "requests_made", 0) if client is not None else 0,
            ),
        )
    except OSError:  # pragma: no cover - cannot even write the outcome: the error itself matters more
        log.warning("could not write last_refresh.json", exc_info=True)


# --- import ---------------------------------------------------------------------------------


def _table_keys(trials: pd.DataFrame) -> dict[str, tuple[str, bool]]:
    """NCT ID → version key of a trials table: (record date, full record), as ``record_key``."""
    dates = trials["record_date"] if "record_date" in trials.columns else pd.Series([None] * len(trials))
    partial = trials["partial"] if "partial" in trials.columns else pd.Series([False] * len(trials))
    return {
        str(n): ("" if pd.isna(d) else str(d), not (False if pd.isna(p) else bool(p)))
        for n, d, p in zip(trials["nct_id"], dates, partial, strict=True)
    }


def newer_ids(previous: pd.DataFrame | None, incoming: pd.DataFrame) -> set[str]:
    """NCT IDs of ``incoming`` trials that are new or newer than in ``previous`` (ties: incoming)."""
    new_keys = _table_keys(incoming)
    if previous is None or previous.empty:
        return set(new_keys)
    old_keys = _table_keys(previous)
    return {n for n, k in new_keys.items() if n not in old_keys or not old_keys[n] > k}


def _only(tables: Mapping[str, pd.DataFrame], ids: set[str]) -> dict[str, pd.DataFrame]:
    return {k: v[v["nct_id"].isin(list(ids))].reset_index(drop=True) for k, v in tables.items()}


def import_into_store(
    paths: Sequence[str | Path],
    settings: Settings,
    *,
    mode: str = "import",
    force: bool = False,
    progress: Progress | None = None,
) -> RefreshResult:
    """Import study records from files, folders and zips into a new snapshot.

    The records are merged into the current snapshot (if any): a study already there keeps the
    newer of the two versions (record date, then full over partial). Bad files are skipped and
    listed in the result; files that hold no study data (specs, docs) are passed over quietly.
    """
    from trialfinder.errors import DataError, NotFoundError
    from trialfinder.sources import import_tables

    started = utc_now()
    t0 = time.monotonic()
    progress = progress or auto_progress()
    store = Store.from_settings(settings)
    ps = [Path(p) for p in paths]
    try:
        missing = [str(p) for p in ps if not p.exists()]
        if missing:
            raise NotFoundError(f"no such file or folder: {', '.join(missing)}")
        with store.lock():
            previous = store.current()
            progress.note(f"reading {', '.join(map(str, ps))}")
            imported, found = import_tables(ps)
            skipped = [f"{src}: {msg}" for src, msg in found.errors]
            for line in skipped:
                progress.note(f"skipped {line}")
            if imported["trials"].empty:
                raise DataError(f"no study records found in {', '.join(map(str, ps))}")
            prev_tables = previous.tables if previous is not None else None
            take = newer_ids(prev_tables.get("trials") if prev_tables else None, imported["trials"])
            tables = merge_tables(prev_tables, _only(imported, take), take)
            progress.note("computing facets")
            tables.update(update_facets(tables, previous, take))
            dates = [str(d) for d in tables["trials"]["record_date"].dropna()]
            data_timestamp = max(dates) if dates else None
            prev_sources = list(previous.manifest.get("sources") or []) if previous is not None else []
            manifest = {
                "data_timestamp": data_timestamp,
                "facets_fingerprint": facets_fingerprint(),
                "mode": mode,
                "searches": list(previous.manifest.get("searches") or []) if previous is not None else [],
                "sources": [
                    *prev_sources,
                    {
                        "kind": mode,
                        "paths": [str(p.resolve()) for p in ps],
                        "records_read": found.records_read,
                        "records_by_format": dict(found.records_by_format),
                        "studies": len(imported["trials"]),
                        "taken": len(take),
                        "skipped_files": skipped,
                        "at": iso_utc(started),
                    },
                ],
            }
            commit = store.commit(
                tables,
                manifest,
                force=force,
                min_count_ratio=settings.min_count_ratio,
                previous=previous,
                check_count=previous is not None and previous.mode != "api",
            )
            result = _result(commit, mode, data_timestamp, t0, 0, found.records_read)
            result.full = previous is None
            result.skipped_files = skipped
            write_last_refresh(settings.data_dir, _outcome("ok", started, **_brief(result)))
            return result
    except BaseException as exc:
        _record_failure(settings, started, exc, None)
        raise


# --- data for the dashboard -------------------------------------------------------------------


def ensure_app_data(
    settings: Settings,
    load_queries: Callable[[], Sequence[SavedSearch]],
    *,
    max_age: _dt.timedelta = _dt.timedelta(days=1),
    client_factory: ClientFactory | None = None,
) -> str:
    """Make sure the dashboard has a snapshot to show; return one line saying what happened.

    No snapshot, a recorded-demo one, or one older than ``max_age``: try a quick refresh (short
    timeouts, one retry). If that fails and there is no snapshot at all, import the recorded data in
    ``settings.recorded_dir`` as a ``recorded-demo`` snapshot. A failed refresh never removes data.
    """
    store = Store.from_settings(settings)
    current = store.current(tables=[])
    pointer_ok = store.pointer_ok()
    created = current.created_at if current is not None else None
    fresh = (
        pointer_ok
        and current is not None
        and current.mode != "recorded-demo"
        and created is not None
        and utc_now() - created < max_age
    )
    if fresh and current is not None:
        return f"using snapshot {current.name} (data as of {current.data_timestamp})"
    quick = settings.model_copy(
        update={"connect_timeout_s": 5.0, "read_timeout_s": 30.0, "max_retries": 1, "lock_timeout_s": 10.0}
    )
    try:
        result = refresh(quick, load_queries(), progress=LogProgress(), client_factory=client_factory)
        return result.summary()
    except TrialFinderError as exc:
        log.warning("could not refresh from %s: %s", settings.api_url, exc)
        if current is not None and pointer_ok:
            return f"live refresh failed ({exc}); showing snapshot {current.name} ({current.mode})"
    recorded = Path(settings.recorded_dir)
    result = import_into_store([recorded], settings, mode="recorded-demo", progress=LogProgress())
    return f"the live API could not be reached: showing RECORDED data from {recorded} ({result.summary()})"
