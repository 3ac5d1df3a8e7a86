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
from trialfinder.errors import NoSnapshotError
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


def load() -> Loaded:
    """The current snapshot (cached). Raises :class:`NoSnapshotError` / :class:`SnapshotError`."""
    d = data_dir()
    name = store.current_name(d)
    if name is None:
        raise NoSnapshotError(
            f"no snapshot yet in {d}", hint="run `trialfinder refresh` or `trialfinder import PATH`"
        )
    return _load(str(d / "snapshots" / name))


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
