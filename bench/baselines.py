"""Baselines the import pipeline is measured against, on the same bytes, in the same run.

- :func:`orjson_only`: read every record and ``orjson.loads`` it, nothing else. The floor: no JSON-based
  importer can be faster than parsing its input.
- :func:`json_normalize_naive`: what a quick script would do: parse every record (with orjson, which
  favours the baseline) and flatten them all at once with ``pandas.json_normalize``.

A dataset is either a folder of per-study ``*.json`` files or a JSONL file (one study per line).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pandas as pd


def iter_bodies(path: Path) -> Iterator[bytes]:
    """The raw bytes of every record of a dataset (folder of ``*.json`` files, or a ``.jsonl`` file)."""
    if path.is_dir():
        for p in sorted(path.glob("*.json")):
            yield p.read_bytes()
    else:
        with path.open("rb") as fh:
            for line in fh:
                if line.strip():
                    yield line


def orjson_only(path: Path) -> int:
    """Parse every record with ``orjson.loads`` and drop it; returns the number of records."""
    n = 0
    for body in iter_bodies(path):
        orjson.loads(body)
        n += 1
    return n


def json_normalize_naive(path: Path) -> pd.DataFrame:
    """Parse every record and flatten all of them with ``pandas.json_normalize`` (all held at once)."""
    records = [orjson.loads(b) for b in iter_bodies(path)]
    return pd.json_normalize(records)
