"""The stale-status warning of the trial detail page and the printable summary (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from trialfinder.ui.labels import stale_status_note

AS_OF = date(2026, 3, 13)


@pytest.mark.parametrize(
    ("status", "updated", "as_of", "flagged"),
    [
        ("RECRUITING", "2020-04-28", AS_OF, True),
        ("NOT_YET_RECRUITING", "2023-01-02", AS_OF, True),
        ("RECRUITING", "2025-10-06", AS_OF, False),  # recent record
        ("COMPLETED", "2015-01-01", AS_OF, False),  # a closed status is not claimed to be open
        ("RECRUITING", None, AS_OF, False),
        ("RECRUITING", "not a date", AS_OF, False),
        ("RECRUITING", "2020-04-28", None, False),  # no data date: nothing to compare with
    ],
)
def test_stale_status_note__only_open_statuses_in_old_records(
    status: str, updated: str | None, as_of: date | None, flagged: bool
) -> None:
    note = stale_status_note(status, updated, as_of)
    assert (note is not None) == flagged
    if note:
        assert "may be out of date" in note and str(updated)[:4] in note
