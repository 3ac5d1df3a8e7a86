"""Loading the current snapshot for the dashboard, cached per snapshot folder.

The ``CURRENT`` pointer is read on every run (one small file), so a refresh that swaps in a new
snapshot shows up on the next interaction; the snapshot itself and its filter-ready view are cached
with ``st.cache_resource`` keyed on the snapshot's path (shared, read-only: never mutate them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import streamlit as st

from trialfinder import store
from trialfinder.config import get_settings
from trialfinder.errors import NoSnapshotError, SnapshotError
from trialfinder.ui.filters import Prepared, prepare


@dataclass(frozen=True, eq=False)
class Loaded:
    snapshot: store.Snapshot
    prepared: Prepared

    @property
    def tables(self) -> dict[str, object]:
        return dict(self.snapshot.tables)


def data_dir() -> Path:
    return get_settings().data_dir


@st.cache_resource(show_spinner="Loading the trial data…", max_entries=2)
def _load(snapshot_path: str) -> Loaded:
    snap = store.load_snapshot(Path(snapshot_path))
    return Loaded(snapshot=snap, prepared=prepare(snap.tables))


#: how many times CURRENT is read when the snapshot it named vanished while being loaded
LOAD_ATTEMPTS = 3


def load() -> Loaded:
    """The current snapshot (cached). Raises :class:`NoSnapshotError` / :class:`SnapshotError`.

    Like :func:`store.load_current` (which cannot be used here: the cache is keyed on the snapshot
    folder): when the folder named by ``CURRENT`` fails to load and ``CURRENT`` has moved meanwhile
    (a refresh swapped in a new snapshot and pruned the old one), the new snapshot is loaded; if
    ``CURRENT`` did not move, the snapshot itself is broken and the error is raised.
    """
    d = data_dir()
    for attempt in range(1, LOAD_ATTEMPTS + 1):
        name = store.current_name(d)
        if name is None:
            raise NoSnapshotError(
                f"no snapshot yet in {d}", hint="run `trialfinder refresh` or `trialfinder import PATH`"
            )
        try:
            return _load(str(d / "snapshots" / name))
        except SnapshotError:
            if attempt == LOAD_ATTEMPTS or store.current_name(d) == name:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def data_date(manifest: dict[str, object]) -> date | None:
    """The date the registry data is from (``data_timestamp``, else ``created_at``)."""
    for key in ("data_timestamp", "created_at"):
        v = manifest.get(key)
        if not v:
            continue
        s = str(v).strip().replace("Z", "+00:00")
        try:
            return datetime.fromisoformat(s).date()
        except ValueError:
            try:
                return date.fromisoformat(s[:10])
            except ValueError:
                continue
    return None


def age_days(manifest: dict[str, object], today: date | None = None) -> int | None:
    d = data_date(manifest)
    if d is None:
        return None
    return ((today or datetime.now(UTC).date()) - d).days
