"""The snapshot store: immutable Parquet snapshots, an atomic ``CURRENT`` pointer, a lock, retention
and change tracking.

Layout (see ``docs/architecture.md`` and ``docs/snapshots.md``)::

    DATA_DIR/
      snapshots/
        20261121T131500Z-ab12cd/   manifest.json + one .parquet per table (immutable once written)
        .tmp-20261121T131500Z-ab12cd/   a snapshot being written (never read; crash leftovers are removed)
        CURRENT                    name of the current snapshot folder, swapped with os.replace
      refresh.lock                 filelock: one writer at a time
      last_refresh.json            outcome of the last refresh/import attempt

Writing a snapshot: sanity checks → changes against the current snapshot → every file written into a
temporary folder and fsynced → the folder renamed to its final name → ``CURRENT.tmp`` written, fsynced
and ``os.replace``-d onto ``CURRENT`` → old snapshots beyond ``keep`` removed. A crash at any point
leaves the previous ``CURRENT`` and its folder untouched. Readers read ``CURRENT`` once and then only
that folder, so a concurrent swap gives them the old or the new snapshot, never a mix.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import secrets
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from trialfinder.errors import (
    LockTimeoutError,
    NoSnapshotError,
    SanityCheckError,
    SnapshotError,
    StorageError,
)
from trialfinder.fsutil import atomic_write_bytes

SCHEMA_VERSION = 2  # = trialfinder.normalize.SCHEMA_VERSION; 2: eligibility without inclusion/exclusion
MODES = ("api", "import", "recorded-demo")
LEGACY_COLUMNS: dict[str, tuple[str, ...]] = {"eligibility": ("inclusion", "exclusion")}
"""Columns of older schema versions that a commit does not write again (schema 1 stored the criteria
text split as well; readers derive the split with ``normalize.split_criteria``). Tables merged from
an older snapshot can still carry them."""
TABLE_NAMES = (
    "trials",
    "conditions",
    "interventions",
    "arms",
    "locations",
    "eligibility",
    "facets",
    "arm_classes",
    "changes",
)
CHANGE_KINDS = (
    "new_trial",
    "removed_trial",
    "status_changed",
    "eligibility_changed",
    "site_added",
    "site_removed",
    "site_status_changed",
)
CHANGES_COLUMNS = ("nct_id", "change", "field", "old", "new")
SNAPSHOT_NAME_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")
TMP_PREFIX = ".tmp-"
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
LAST_REFRESH = "last_refresh.json"
_STR = pd.ArrowDtype(pa.string())
_LOAD_ATTEMPTS = 3
_UNSEEN = object()
log = logging.getLogger(__name__)


def _storage_error(exc: OSError, where: Path) -> StorageError:
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    what = exc.strerror or str(exc)
    return StorageError(
        f"cannot write the new snapshot in {where}: {what}" + (" (the disk is full)" if full else ""),
        errno_=exc.errno,
        hint="the previous snapshot is still current",
    )


# --- small file helpers -------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


    _fsync_dir(path.parent)


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_snapshot_name(now: datetime | None = None) -> str:
    """``YYYYMMDDTHHMMSSZ-xxxxxx``: the suffix is the microseconds (5 hex digits) plus one random hex
    digit, so names sort in creation order even within one second."""
    now = (now or utc_now()).astimezone(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{now.microsecond:05x}{secrets.randbelow(16):x}"


# --- the snapshot as read --------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """A snapshot as loaded: its folder, its manifest and its tables (pandas, Arrow-backed)."""

    path: Path
    manifest: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def data_timestamp(self) -> str | None:
        v = self.manifest.get("data_timestamp")
        return str(v) if v else None

    @property
    def mode(self) -> str:
        return str(self.manifest.get("mode", "api"))

    @property
    def created_at(self) -> datetime | None:
        v = self.manifest.get("created_at")
        if not v:
            return None
        try:
            dt = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
        except ValueError:
            return None
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)

    def table(self, name: str) -> pd.DataFrame:
        try:
            return self.tables[name]
        except KeyError:
            raise SnapshotError(f"snapshot {self.name} has no table {name!r}") from None


def _without_legacy_columns(name: str, df: pd.DataFrame) -> pd.DataFrame:
    legacy = [c for c in LEGACY_COLUMNS.get(name, ()) if c in df.columns]
    return df.drop(columns=legacy) if legacy else df


def read_table(path: Path) -> pd.DataFrame:
    """Read one Parquet table back with the dtypes it was written with (pandas metadata)."""
    return pq.read_table(path).to_pandas(types_mapper=pd.ArrowDtype)


def write_table(df: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, path, compression="zstd")


def _read_pointer(snapshots_dir: Path) -> str | None:
    try:
        name = (snapshots_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SnapshotError(f"cannot read {snapshots_dir / CURRENT}: {exc}") from None
    if not SNAPSHOT_NAME_RE.match(name):
        raise SnapshotError(f"{snapshots_dir / CURRENT} does not name a snapshot (found {name[:40]!r})")
    return name


def current_name(data_dir: Path) -> str | None:
    """The name of the current snapshot, or ``None`` when there is none."""
    return _read_pointer(Path(data_dir) / "snapshots")


def read_manifest(snapshot_path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((snapshot_path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SnapshotError(f"snapshot {snapshot_path.name} has no {MANIFEST}") from None
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"snapshot {snapshot_path.name}: unreadable {MANIFEST}: {exc}") from None
    if not isinstance(manifest, dict):
        raise SnapshotError(f"snapshot {snapshot_path.name}: {MANIFEST} is not an object")
    return manifest


def load_snapshot(path: Path, tables: Sequence[str] | None = None) -> Snapshot:
    """Load the snapshot in folder ``path``: every table its manifest lists, or only ``tables``.

    A table that is asked for (or listed in the manifest) but missing or unreadable raises
    :class:`SnapshotError`.
    """
    manifest = read_manifest(path)
    listed = manifest.get("tables")
    if tables is not None:
        wanted, strict = list(tables), True
    elif listed:
        wanted, strict = [str(t) for t in listed], True
    else:  # a manifest without a table list: take what is there
        wanted, strict = list(TABLE_NAMES), False
    loaded: dict[str, pd.DataFrame] = {}
    for name in wanted:
        p = path / f"{name}.parquet"
        if not p.exists():
            if strict:
                raise SnapshotError(f"snapshot {path.name} has no table {name!r}")
            continue
        try:
            loaded[name] = read_table(p)
        except (OSError, pa.ArrowException) as exc:
            raise SnapshotError(f"snapshot {path.name}: unreadable table {name}: {exc}") from None
    return Snapshot(path=path, manifest=manifest, tables=loaded)


def load_current(data_dir: str | Path, tables: Sequence[str] | None = None) -> Snapshot:
    """Load the current snapshot. Reads ``CURRENT`` once per attempt, then only that folder, so a
    concurrent swap gives the old or the new snapshot, never a mix.

    If the snapshot named by ``CURRENT`` disappears while it is being read (pruned by newer
    commits), ``CURRENT`` is read again and the new snapshot loaded (a few attempts). Raises
    :class:`NoSnapshotError` when there is no snapshot yet and :class:`SnapshotError` when the
    pointer or the snapshot it names is unusable.
    """
    snapshots_dir = Path(data_dir) / "snapshots"
    error: SnapshotError | None = None
    for _attempt in range(_LOAD_ATTEMPTS):
        name = _read_pointer(snapshots_dir)
        if name is None:
            raise NoSnapshotError(
                f"no snapshot yet in {Path(data_dir)}",
                hint="run `trialfinder refresh` or `trialfinder import PATH`",
            )
        path = snapshots_dir / name
        try:
            if not path.is_dir():
                raise SnapshotError(f"the current snapshot {name} is missing from {snapshots_dir}")
            return load_snapshot(path, tables)
        except SnapshotError as exc:
            if _read_pointer(snapshots_dir) == name:
                raise  # the pointer did not move: this snapshot itself is broken
            error = exc  # a newer snapshot became current meanwhile: read that one
    assert error is not None
    raise error


def list_snapshots(data_dir: str | Path) -> list[str]:
    """Names of the complete snapshot folders, oldest first (temporary folders excluded)."""
    d = Path(data_dir) / "snapshots"
    if not d.is_dir():
        return []
    return sorted(p.name for p in d.iterdir() if p.is_dir() and SNAPSHOT_NAME_RE.match(p.name))


# --- last refresh outcome -------------------------------------------------------------------


def write_last_refresh(data_dir: str | Path, outcome: Mapping[str, Any]) -> None:
    atomic_write_bytes(Path(data_dir) / LAST_REFRESH, _json_bytes(dict(outcome)))


def read_last_refresh(data_dir: str | Path) -> dict[str, Any] | None:
    p = Path(data_dir) / LAST_REFRESH
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"status": "unknown", "message": f"{p.name} is unreadable"}
    return obj if isinstance(obj, dict) else None


# --- change tracking (pure) -------------------------------------------------------------------


def empty_changes() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=_STR) for c in CHANGES_COLUMNS})


def _text(v: Any) -> str | None:
    if v is None:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def _site_key(row: Mapping[Any, Any]) -> str:
    parts = [_text(row.get(k)) or "" for k in ("facility", "city", "state", "country")]
    return ", ".join(p.strip() for p in parts if p and p.strip())


def _sites(df: pd.DataFrame | None) -> dict[str, dict[str, str | None]]:
    """nct_id → {site key → site status} (first occurrence of a duplicate site wins)."""
    out: dict[str, dict[str, str | None]] = {}
    if df is None or df.empty:
        return out
    cols = [c for c in ("nct_id", "facility", "city", "state", "country", "site_status") if c in df.columns]
    for row in df[cols].to_dict("records"):
        sites = out.setdefault(str(row["nct_id"]), {})
        key = _site_key(row)
        if key and key not in sites:
            sites[key] = _text(row.get("site_status"))
    return out


def _col(df: pd.DataFrame | None, col: str) -> dict[str, str | None]:
    if df is None or df.empty or col not in df.columns:
        return {}
    return {str(k): _text(v) for k, v in zip(df["nct_id"], df[col], strict=True)}


def compute_changes(
    old: Mapping[str, pd.DataFrame] | None,
    new: Mapping[str, pd.DataFrame],
    *,
    only: set[str] | None = None,
) -> pd.DataFrame:
    """What changed from ``old`` to ``new`` tables: one row per change (see ``CHANGE_KINDS``).

    ``old=None`` (the first snapshot) gives no changes: there is nothing to compare with. Trials whose
    record is partial (field-limited) on either side are not compared for eligibility or sites.
    ``only`` limits the comparison of trials present on both sides to those NCT IDs (an optimisation
    for incremental refreshes; new and removed trials are always reported).
    """
    if old is None:
        return empty_changes()
    rows: list[tuple[str, str, str | None, str | None, str | None]] = []
    old_trials, new_trials = old.get("trials"), new["trials"]
    old_ids = set(old_trials["nct_id"]) if old_trials is not None else set()
    new_ids = set(new_trials["nct_id"])
    old_title, new_title = _col(old_trials, "title"), _col(new_trials, "title")
    for nct in sorted(new_ids - old_ids):
        rows.append((nct, "new_trial", None, None, new_title.get(nct)))
    for nct in sorted(old_ids - new_ids):
        rows.append((nct, "removed_trial", None, old_title.get(nct), None))

    both = old_ids & new_ids
    if only is not None:
        both &= only
    partial = {k for k, v in _col(old_trials, "partial").items() if v == "True"}
    partial |= {k for k, v in _col(new_trials, "partial").items() if v == "True"}

    old_status, new_status = _col(old_trials, "overall_status"), _col(new_trials, "overall_status")
    for nct in sorted(both):
        if old_status.get(nct) != new_status.get(nct) and new_status.get(nct) is not None:
            rows.append((nct, "status_changed", "overall_status", old_status.get(nct), new_status.get(nct)))

    old_crit, new_crit = _col(old.get("eligibility"), "criteria"), _col(new.get("eligibility"), "criteria")
    for nct in sorted(both - partial):
        a, b = old_crit.get(nct), new_crit.get(nct)
        if a is not None and b is not None and a.strip() != b.strip():
            rows.append((nct, "eligibility_changed", "criteria", a, b))

    old_sites, new_sites = _sites(old.get("locations")), _sites(new.get("locations"))
    for nct in sorted(both - partial):
        a_sites, b_sites = old_sites.get(nct, {}), new_sites.get(nct, {})
        for key in sorted(set(b_sites) - set(a_sites)):
            rows.append((nct, "site_added", "site", None, key))
        for key in sorted(set(a_sites) - set(b_sites)):
            rows.append((nct, "site_removed", "site", key, None))
        for key in sorted(set(a_sites) & set(b_sites)):
            if a_sites[key] != b_sites[key]:
                rows.append((nct, "site_status_changed", key, a_sites[key], b_sites[key]))

    if not rows:
        return empty_changes()
    df = pd.DataFrame(rows, columns=list(CHANGES_COLUMNS))
    return df.astype(_STR)


def summarize_changes(changes: pd.DataFrame) -> dict[str, int]:
    counts = changes["change"].value_counts().to_dict() if not changes.empty else {}
    return {k: int(counts.get(k, 0)) for k in CHANGE_KINDS}


# --- sanity checks (pure) ------------------------------------------------------------------


def sanity_check(
    tables: Mapping[str, pd.DataFrame],
    previous_count: int | None,
    *,
    min_count_ratio: float,
    force: bool = False,
) -> None:
    """Raise :class:`SanityCheckError` when the new tables must not become current."""
    if "trials" not in tables:
        raise SanityCheckError("the new snapshot has no trials table")
    trials = tables["trials"]
    if "nct_id" not in trials.columns:
        raise SanityCheckError("the trials table has no nct_id column")
    if trials["nct_id"].isna().any():
        raise SanityCheckError("the trials table has rows without an NCT ID")
    dup = trials["nct_id"][trials["nct_id"].duplicated()]
    if not dup.empty:
        ids = ", ".join(sorted(set(map(str, dup)))[:5])
        raise SanityCheckError(f"duplicate NCT IDs in the new snapshot: {ids}")
    for name, df in tables.items():
        if name != "changes" and "nct_id" not in df.columns:
            raise SanityCheckError(f"table {name!r} has no nct_id column")
    n = len(trials)
    if force or not previous_count:
        return
    if n < min_count_ratio * previous_count:
        raise SanityCheckError(
            f"the new snapshot has {n} trials, fewer than {min_count_ratio:.0%} "
            f"of the previous {previous_count}",
            hint="use --force if the drop is expected",
        )


# --- the writer ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitResult:
    name: str
    path: Path
    previous: str | None
    counts: dict[str, int]
    changes: dict[str, int]
    removed: list[str]


class Store:
    """The snapshot store in ``data_dir``. Only :meth:`commit` writes snapshots; hold :meth:`lock`
    around a whole refresh so that two refreshes never interleave."""

    def __init__(self, data_dir: str | Path, *, keep: int = 5, lock_timeout_s: float = 60.0) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.data_dir = Path(data_dir)
        self.snapshots_dir = self.data_dir / "snapshots"
        self.keep = keep
        self.lock_timeout_s = lock_timeout_s
        self._lock = FileLock(str(self.data_dir / "refresh.lock"), is_singleton=False)
        self._seen_pointer: object = _UNSEEN

    @classmethod
    def from_settings(cls, settings: Any) -> Store:
        return cls(settings.data_dir, keep=settings.keep_snapshots, lock_timeout_s=settings.lock_timeout_s)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the refresh lock; wait at most ``lock_timeout_s``, then :class:`LockTimeoutError`."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=self.lock_timeout_s)
        except Timeout:
            raise LockTimeoutError(
                f"another refresh or import holds {self._lock.lock_file} "
                f"(waited {self.lock_timeout_s:g} s)",
                hint="try again when it has finished",
            ) from None
        try:
            yield
        finally:
            self._lock.release()

    @property
    def is_locked(self) -> bool:
        return self._lock.is_locked

    def _pointer_text(self) -> str | None:
        try:
            return (self.snapshots_dir / CURRENT).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return None
        except OSError:
            return "<unreadable>"

    def pointer_ok(self) -> bool:
        """True when ``CURRENT`` is absent or names a snapshot that loads (manifest readable)."""
        try:
            name = current_name(self.data_dir)
            if name is not None:
                read_manifest(self.snapshots_dir / name)
        except SnapshotError:
            return False
        return True

    def current(self, tables: Sequence[str] | None = None) -> Snapshot | None:
        """The snapshot a writer builds on: the current one; when ``CURRENT`` is damaged (garbage,
        or its snapshot gone or unreadable), the newest complete snapshot that loads, with a
        warning (the next commit writes a valid pointer); ``None`` when there is none."""
        self._seen_pointer = self._pointer_text()
        try:
            return load_current(self.data_dir, tables)
        except NoSnapshotError:
            return None
        except SnapshotError as exc:
            for name in reversed(list_snapshots(self.data_dir)):
                try:
                    snap = load_snapshot(self.snapshots_dir / name, tables)
                except SnapshotError:
                    continue
                log.warning("%s; building on the newest complete snapshot %s instead", exc, name)
                return snap
            log.warning("%s; no complete snapshot left, starting from scratch", exc)
            return None

    def clean_leftovers(self) -> list[str]:
        """Remove temporary folders left by crashed writers. Call only while holding the lock."""
        removed: list[str] = []
        if not self.snapshots_dir.is_dir():
            return removed
        for p in self.snapshots_dir.iterdir():
            if p.name.startswith(TMP_PREFIX) and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p.name)
            elif p.name.startswith(f"{CURRENT}.") and p.is_file():
                with contextlib.suppress(OSError):
                    p.unlink()
        return removed

    def commit(
        self,
        tables: Mapping[str, pd.DataFrame],
        manifest: Mapping[str, Any],
        *,
        force: bool = False,
        min_count_ratio: float = 0.9,
        previous: Snapshot | None = None,
        changes_only: set[str] | None = None,
        check_count: bool = True,
    ) -> CommitResult:
        """Write ``tables`` as a new snapshot and make it current (atomically).

        ``previous`` is the current snapshot if the caller already loaded it (else it is loaded
        here). Changes are computed against it. ``check_count=False`` skips the "not fewer than
        ``min_count_ratio`` of the previous count" check (e.g. when the previous snapshot came from
        a different mode). On any error the current snapshot stays current and untouched.
        """
        with self.lock():
            self.snapshots_dir.mkdir(parents=True, exist_ok=True)
            self.clean_leftovers()
            if previous is None:
                previous = self.current()
            elif self._seen_pointer is not _UNSEEN and self._pointer_text() != self._seen_pointer:
                raise SnapshotError("the current snapshot changed during this refresh; run it again")
            prev_count = len(previous.tables["trials"]) if previous and "trials" in previous.tables else None
            sanity_check(
                tables, prev_count if check_count else None, min_count_ratio=min_count_ratio, force=force
            )
            changes = compute_changes(previous.tables if previous else None, tables, only=changes_only)
            all_tables: dict[str, pd.DataFrame] = {
                k: _without_legacy_columns(k, v) for k, v in tables.items() if k != "changes"
            }
            all_tables["changes"] = changes

            now = utc_now()
            name = new_snapshot_name(now)
            while (self.snapshots_dir / name).exists():  # pragma: no cover - same microsecond
                name = new_snapshot_name(now)
            counts = {k: len(v) for k, v in all_tables.items()}
            full_manifest: dict[str, Any] = {
                "name": name,
                "schema_version": SCHEMA_VERSION,
                "created_at": iso_utc(now),
                "data_timestamp": None,
                "mode": "api",
                "searches": [],
                "sources": [],
                **dict(manifest),
                "previous": previous.name if previous else None,
                "counts": counts,
                "changes": summarize_changes(changes),
                "tables": sorted(all_tables),
            }
            if full_manifest["mode"] not in MODES:
                raise ValueError(f"manifest mode must be one of {MODES}")

            tmp = self.snapshots_dir / f"{TMP_PREFIX}{name}"
            final = self.snapshots_dir / name
            try:
                tmp.mkdir()
                for tname, df in all_tables.items():
                    p = tmp / f"{tname}.parquet"
                    write_table(df, p)
                    _fsync_file(p)
                mp = tmp / MANIFEST
                mp.write_bytes(_json_bytes(full_manifest))
                _fsync_file(mp)
                _fsync_dir(tmp)
                os.rename(tmp, final)
                _fsync_dir(self.snapshots_dir)
                self._swap_pointer(name)
            except BaseException as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                if (self._pointer_text() or "").strip() != name:
                    shutil.rmtree(final, ignore_errors=True)
                if isinstance(exc, OSError) and not isinstance(exc, StorageError):
                    raise _storage_error(exc, self.snapshots_dir) from exc
                raise
            removed = self.prune(protect={name})
            return CommitResult(
                name=name,
                path=final,
                previous=previous.name if previous else None,
                counts=counts,
                changes=full_manifest["changes"],
                removed=removed,
            )

    def _swap_pointer(self, name: str) -> None:
        tmp = self.snapshots_dir / f"{CURRENT}.{secrets.token_hex(4)}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.snapshots_dir / CURRENT)
        _fsync_dir(self.snapshots_dir)

    def prune(self, protect: set[str] | None = None) -> list[str]:
        """Delete the oldest snapshots beyond ``keep``; never the current one or ``protect``."""
        keep_names = set(protect or ())
        cur = current_name(self.data_dir)
        if cur:
            keep_names.add(cur)
        names = list_snapshots(self.data_dir)
        # the newest `keep` snapshots stay, plus anything protected
        newest = set(names[-self.keep :])
        removed: list[str] = []
        for n in names:
            if n in newest or n in keep_names:
                continue
            shutil.rmtree(self.snapshots_dir / n, ignore_errors=True)
            removed.append(n)
        return removed
