"""Parallel import: read and normalize study files in worker processes.

The input (files, folders, zips; big JSON Lines files cut into byte ranges at line boundaries) is
planned into contiguous chunks in reading order. Each chunk is parsed and normalized by one worker
(:func:`trialfinder.normalize.build_partial`, newest version per study within the chunk); the main
process concatenates the Arrow results in order and settles studies met in several chunks
(:func:`trialfinder.normalize.finish_partials`). The result is the same as the single-process
``normalize(iter_records(paths), dedupe=True)``: same rows, same order.

Small inputs (below ``PARALLEL_MIN_BYTES``) or ``workers=1`` run in-process through the same code.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from trialfinder.errors import NotFoundError
from trialfinder.normalize import PartialTables, build_partial, finish_partials
from trialfinder.sources import (
    _JSONL_EXTS,
    ImportResult,
    RawStudy,
    _iter_file_safe,
    _jsonl_range,
    _walk,
)

if TYPE_CHECKING:
    import pandas as pd

PARALLEL_MIN_BYTES = 16 * 1024 * 1024
"""Inputs smaller than this are imported in-process (forking workers would cost more than it saves)."""
MAX_WORKERS = 8
CHUNKS_PER_WORKER = 3  # a few chunks per worker keep the workers busy when chunks are uneven

Unit = tuple[str, int, int]  # (path, start, end); end < 0: the whole file


@dataclass
class ChunkResult:
    """What one worker sends back (plain, picklable data)."""

    part: PartialTables
    errors: list[tuple[str, str]] = field(default_factory=list)
    not_study_data: list[tuple[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def default_workers() -> int:
    """Worker processes to use: the CPUs this process may run on, at most ``MAX_WORKERS``."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, n))


def list_files(paths: Iterable[str | os.PathLike[str]], missing: list[str]) -> list[tuple[Path, int]]:
    """Every file under ``paths`` in reading order, with its size; missing paths go to ``missing``."""
    files: list[tuple[Path, int]] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files.extend((f, _size(f)) for f in _walk(path))
        elif path.exists():
            files.append((path, _size(path)))
        else:
            missing.append(str(path))
    return files


def plan(files: Sequence[tuple[Path, int]], n_chunks: int) -> list[list[Unit]]:
    """Cut the input into about ``n_chunks`` contiguous chunks of similar size (bytes); JSON Lines
    files bigger than a chunk are cut into byte ranges (lines belong to the range they start in)."""
    total = sum(size for _f, size in files)
    target = max(1, -(-total // max(1, n_chunks)))
    units: list[tuple[Unit, int]] = []
    for f, size in files:
        if f.suffix.lower() in _JSONL_EXTS and size > target:
            starts = range(0, size, target)
            units.extend(((str(f), a, min(a + target, size)), min(target, size - a)) for a in starts)
        else:
            units.append(((str(f), 0, -1), size))
    chunks: list[list[Unit]] = []
    current: list[Unit] = []
    filled = 0
    for unit, size in units:
        current.append(unit)
        filled += size
        if filled >= target:
            chunks.append(current)
            current, filled = [], 0
    if current:
        chunks.append(current)
    return chunks


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def import_chunk(units: Sequence[Unit]) -> ChunkResult:
    """Read and normalize one chunk (runs in a worker process, or in-process)."""
    errors: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    counts: Counter[str] = Counter()

    def on_error(source: str, exc: Exception) -> None:
        errors.append((source, str(exc)))

    def on_skip(source: str, reason: str) -> None:
        skipped.append((source, reason))

    def records() -> Iterator[RawStudy]:
        for name, start, end in units:
            path = Path(name)
            if end < 0:
                it = _iter_file_safe(path, on_error, on_skip)
            else:
                it = _jsonl_range(path, start, end, on_error, on_skip)
            for rec in it:
                counts[rec.source_format] += 1
                yield rec

    part = build_partial(records(), dedupe=True)
    return ChunkResult(part, errors, skipped, dict(counts))


def _context() -> multiprocessing.context.BaseContext:
    # fork is cheapest (the workers inherit the imported modules); elsewhere the platform default
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def import_tables_parallel(paths: Iterable[str | os.PathLike[str]], *, workers: int | None = None,
                           ) -> tuple[dict[str, pd.DataFrame], ImportResult]:
    """Like :func:`trialfinder.sources.import_tables`, with ``workers`` processes (default: one per
    CPU, at most ``MAX_WORKERS``; ``1`` or a small input: in-process)."""
    n = default_workers() if workers is None else max(1, workers)
    missing: list[str] = []
    files = list_files(list(paths), missing)
    total = sum(size for _f, size in files)
    result = ImportResult(studies=[])
    result.errors.extend((m, str(NotFoundError(f"no such file or folder: {m}"))) for m in missing)
    chunks = plan(files, n * CHUNKS_PER_WORKER) if n > 1 and total >= PARALLEL_MIN_BYTES else []
    if len(chunks) < 2:
        whole = [(str(f), 0, -1) for f, _size in files]
        done = [import_chunk(whole)] if whole else []
    else:
        with ProcessPoolExecutor(max_workers=min(n, len(chunks)), mp_context=_context()) as pool:
            done = list(pool.map(import_chunk, chunks))
    counts: Counter[str] = Counter()
    for r in done:
        result.errors.extend(r.errors)
        result.not_study_data.extend(r.not_study_data)
        counts.update(r.counts)
    tables = finish_partials([r.part for r in done])
    result.records_by_format = dict(counts)
    result.records_read = sum(counts.values())
    result.duplicates = result.records_read - len(tables["trials"])
    return tables, result
