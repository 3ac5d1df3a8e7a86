"""Run `trialfinder refresh` in a child process that stops at a chosen moment, so that the test can
SIGKILL it exactly there (the store has no crash hook of its own; this wraps its functions).

    python -m tests.reliability._crash_driver MOMENT MARKER -- REFRESH ARGS...

MOMENT is ``none`` (no stop), ``write`` (after the 3rd table file of the new snapshot is written into
its temporary folder) or ``swap`` (the snapshot folder is complete and renamed, just before the
``CURRENT`` pointer is replaced). At that moment the child creates the file MARKER and sleeps.
``pause`` stops the same way just before the snapshot is committed (the refresh lock held), then
goes on once the file MARKER.go exists.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any


def _stop(marker: Path) -> None:
    marker.write_text("here", encoding="utf-8")
    time.sleep(120)  # the test kills us long before this ends


def install(moment: str, marker: Path) -> None:
    from trialfinder import store

    if moment == "write":
        original = store.write_table
        calls = {"n": 0}

        def write_table(df: Any, path: Path) -> None:
            original(df, path)
            calls["n"] += 1
            if calls["n"] == 3:
                _stop(marker)

        store.write_table = write_table
    elif moment == "swap":
        original_swap = store.Store._swap_pointer

        def swap(self: store.Store, name: str) -> None:
            _stop(marker)
            original_swap(self, name)

        store.Store._swap_pointer = swap  # type: ignore[method-assign]
    elif moment == "pause":
        original_commit = store.Store.commit

        def commit(self: store.Store, *args: Any, **kw: Any) -> Any:
            marker.write_text("here", encoding="utf-8")
            go = marker.with_name(marker.name + ".go")
            deadline = time.monotonic() + 120
            while not go.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            return original_commit(self, *args, **kw)

        store.Store.commit = commit  # type: ignore[method-assign]
    elif moment != "none":
        raise SystemExit(f"unknown moment {moment!r}")


def main(argv: list[str]) -> int:
    moment, marker, sep, *args = argv
    assert sep == "--"
    install(moment, Path(marker))
    from trialfinder.cli import cli

    try:
        cli.main(["refresh", *args], prog_name="trialfinder", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
