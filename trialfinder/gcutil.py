"""A small helper shared by the bulk stages (reading, normalizing, facets)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic objects.

    Parsed JSON, row tuples and facet results are acyclic, so reference counting frees them; the
    collector's generational passes over millions of live objects otherwise cost as much as the work
    itself. The previous state is restored on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
