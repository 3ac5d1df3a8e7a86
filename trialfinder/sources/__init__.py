"""Importers: read study records from files, folders and zips, whatever their format.

* :func:`iter_records` streams :class:`RawStudy` records (one file in memory at a time; JSONL line
  by line; zips member by member). Bad files go to ``on_error(source, exc)`` and are skipped;
  files that hold no study records (specs, docs, metadata) go to ``on_skip(source, reason)``.
* :func:`import_paths` collects them, keeps the newest version of each study and counts formats.

Formats are detected from the content (see :func:`detect_format`), not trusted from names.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from trialfinder.errors import ImportFormatError, NotFoundError
from trialfinder.gcutil import gc_paused
from trialfinder.sources.base import RawStudy, record_key
from trialfinder.sources.classic_xml import parse_classic_xml
from trialfinder.sources.csv_download import iter_csv_rows, looks_like_csv_download

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ImportResult",
    "RawStudy",
    "detect_format",
    "import_paths",
    "import_tables",
    "iter_records",
    "record_from_v2",
    "record_key",
]

ErrorHandler = Callable[[str, Exception], None]
SkipHandler = Callable[[str, str], None]

NOT_STUDY_DATA = "not study data"
_NCT = re.compile(r"^NCT\d{8}$")
_DATA_EXTS = {".json", ".jsonl", ".ndjson", ".xml", ".zip", ".csv", ".gz"}
_JSONL_EXTS = {".jsonl", ".ndjson"}


class _NotStudyData(Exception):
    """Internal: a readable file that holds no study records."""


# --- v2 records ---------------------------------------------------------------------------------


def _is_full(data: dict[str, Any]) -> bool:
    ps = data.get("protocolSection")
    status = ps.get("statusModule") if isinstance(ps, dict) else None
    return (
        "derivedSection" in data and "hasResults" in data
        and isinstance(status, dict) and "lastUpdatePostDateStruct" in status
    )


def record_from_v2(data: Any, source_format: str, source: str, *, partial: bool | None = None) -> RawStudy:
    """Wrap one API v2 study dict as a :class:`RawStudy`.

    ``partial`` defaults to "the record lacks what every full API record has" (``derivedSection``,
    ``hasResults`` and a last-update date), which is what ``fields=``-limited responses look like.
    """
    if not isinstance(data, dict):
        raise ImportFormatError(f"study record is a {type(data).__name__}, not an object")
    ps = data.get("protocolSection")
    ident = ps.get("identificationModule") if isinstance(ps, dict) else None
    nct = ident.get("nctId") if isinstance(ident, dict) else None
    if not isinstance(nct, str) or not _NCT.match(nct):
        raise ImportFormatError(f"study record without a valid protocolSection.identificationModule.nctId "
                                f"({nct!r})")
    status = ps.get("statusModule") or {} if isinstance(ps, dict) else {}
    last = status.get("lastUpdatePostDateStruct") if isinstance(status, dict) else None
    record_date = last.get("date") if isinstance(last, dict) and isinstance(last.get("date"), str) else None
    return RawStudy(
        data=data, source_format=source_format, source=source, record_date=record_date,
        partial=(not _is_full(data)) if partial is None else partial,
    )


# --- detection ----------------------------------------------------------------------------------


def detect_format(name: str, head: bytes) -> str:
    """Guess a file's format from its name and first bytes.

    Returns ``"zip"``, ``"gzip"``, ``"xml"``, ``"json"``, ``"jsonl"``, ``"csv"`` or ``"other"`` (not study
    data, e.g. YAML specs, Markdown, TSV). JSON flavours (single study, page, download array,
    metadata) are told apart after parsing.
    """
    ext = os.path.splitext(name.lower())[1]
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if ext in _JSONL_EXTS:
        return "jsonl"
    if body.startswith(b"<"):
        return "xml"
    if body.startswith((b"{", b"[")):
        return "json"
    if looks_like_csv_download(body):
        return "csv"
    if ext in _DATA_EXTS:
        return ext.lstrip(".")  # claims to be data: the parser will say what is wrong
    return "other"


# --- readers ------------------------------------------------------------------------------------


def _records_from_json_obj(obj: Any, fmt_hint: str | None, source: str,
                           on_error: ErrorHandler) -> Iterator[RawStudy]:
    if isinstance(obj, dict) and "protocolSection" in obj:
        yield record_from_v2(obj, fmt_hint or "v2-study", source)
        return
    if isinstance(obj, dict) and isinstance(obj.get("studies"), list):
        items, fmt = obj["studies"], fmt_hint or "v2-page"
    elif isinstance(obj, list) and (
        not obj or any(isinstance(x, dict) and "protocolSection" in x for x in obj)
    ):
        items, fmt = obj, fmt_hint or "v2-download"
    else:
        raise _NotStudyData("JSON without study records")
    for i, item in enumerate(items):
        try:
            yield record_from_v2(item, fmt, source)
        except ImportFormatError as exc:
            on_error(f"{source}#{i}", exc)


def _iter_jsonl(lines: Iterable[bytes], fmt_hint: str | None, source: str,
                on_error: ErrorHandler, *, numbered: Iterable[tuple[int, bytes]] | None = None,
                where: str = "line") -> Iterator[RawStudy]:
    """Records of JSON Lines. ``numbered`` gives ``(position, line)`` pairs instead of ``lines``
    (``where="byte"``: positions are byte offsets, for ranges of a big file read in parallel); a
    bad first line of a whole file makes the whole file an error."""
    seen_any = False
    whole_file = numbered is None
    pairs = enumerate(lines, start=1) if numbered is None else numbered
    for pos, line in pairs:
        line = line.strip()
        if not line or line in (b"[", b"]"):
            continue
        try:
            obj = orjson.loads(line.rstrip(b","))
        except orjson.JSONDecodeError as exc:
            if whole_file and not seen_any and pos == 1:
                raise ImportFormatError(f"invalid JSON Lines: {exc}") from exc
            sep = ":" if where == "line" else "@"
            on_error(f"{source}{sep}{pos}", ImportFormatError(f"invalid JSON at {where} {pos}: {exc}"))
            continue
        seen_any = True
        try:
            yield from _records_from_json_obj(obj, fmt_hint or "jsonl", f"{source}", on_error)
        except (ImportFormatError, _NotStudyData) as exc:
            on_error(f"{source}{':' if where == 'line' else '@'}{pos}", ImportFormatError(str(exc)))


def _jsonl_range(path: Path, start: int, end: int, on_error: ErrorHandler,
                 on_skip: SkipHandler) -> Iterator[RawStudy]:
    """Records of the lines of a JSON Lines file that start in bytes ``[start, end)``."""
    name = str(path)

    def numbered(fh: Any) -> Iterator[tuple[int, bytes]]:
        if start > 0:
            fh.seek(start - 1)
            fh.readline()  # the line that straddles ``start`` belongs to the previous range
        pos = fh.tell()
        while pos < end:
            line = fh.readline()
            if not line:
                return
            yield pos, line
            pos += len(line)

    def records() -> Iterator[RawStudy]:
        with path.open("rb") as fh:
            yield from _iter_jsonl((), None, name, on_error, numbered=numbered(fh), where="byte")

    yield from _guarded(name, records(), on_error, on_skip)


def _first_line_is_json(content: bytes) -> bool:
    first = content.lstrip().split(b"\n", 1)[0].strip()
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    return True


def _iter_blob(name: str, content: bytes, *, in_zip: bool,
               on_error: ErrorHandler, on_skip: SkipHandler) -> Iterator[RawStudy]:
    kind = detect_format(name, content[:512])
    json_fmt = "zip" if in_zip else None
    if kind == "zip":
        yield from _iter_zip(name, zipfile.ZipFile(io.BytesIO(content)), on_error, on_skip)
    elif kind == "gzip":
        try:
            inner = gzip.decompress(content)
        except (OSError, EOFError) as exc:
            raise ImportFormatError(f"bad gzip file: {exc}") from exc
        inner_name = name[:-3] if name.lower().endswith(".gz") else name
        for rec in _iter_blob(inner_name, inner, in_zip=in_zip, on_error=on_error, on_skip=on_skip):
            yield RawStudy(rec.data, rec.source_format, name, rec.record_date, rec.partial)
    elif kind == "xml":
        if b"<clinical_study" not in content[:4096]:
            raise _NotStudyData("XML without <clinical_study>")
        data, record_date = parse_classic_xml(content)
        rec = record_from_v2(data, "classic-xml", name, partial=False)
        yield RawStudy(rec.data, rec.source_format, rec.source, record_date, rec.partial)
    elif kind == "json":
        try:
            obj = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            if _first_line_is_json(content):  # JSON Lines without the extension
                yield from _iter_jsonl(content.splitlines(), json_fmt, name, on_error)
                return
            raise ImportFormatError(f"invalid JSON: {exc}") from exc
        yield from _records_from_json_obj(obj, json_fmt, name, on_error)
    elif kind == "jsonl":
        yield from _iter_jsonl(content.splitlines(), json_fmt, name, on_error)
    elif kind == "csv":
        if not looks_like_csv_download(content[:512].lstrip(b"\xef\xbb\xbf")):
            raise _NotStudyData("CSV without an 'NCT Number' column")
        for i, data in enumerate(iter_csv_rows(content)):
            try:
                yield record_from_v2(data, "csv", name, partial=True)
            except ImportFormatError as exc:
                on_error(f"{name}#{i}", exc)
    else:
        raise _NotStudyData(f"{kind} file")


def _guarded(source: str, records: Iterator[RawStudy],
             on_error: ErrorHandler, on_skip: SkipHandler) -> Iterator[RawStudy]:
    try:
        yield from records
    except _NotStudyData as exc:
        on_skip(source, f"{NOT_STUDY_DATA}: {exc}")
    except (ImportFormatError, zipfile.BadZipFile, UnicodeDecodeError, OSError, ValueError) as exc:
        on_error(source, exc if isinstance(exc, ImportFormatError) else ImportFormatError(f"{exc}"))


def _iter_zip(name: str, archive: zipfile.ZipFile, on_error: ErrorHandler,
              on_skip: SkipHandler) -> Iterator[RawStudy]:
    with archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            member = info.filename
            base = member.rsplit("/", 1)[-1]
            if info.is_dir() or member.startswith("__MACOSX/") or base.startswith("."):
                continue
            source = f"{name}!{member}"
            try:
                content = archive.read(info)
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                on_error(source, ImportFormatError(f"unreadable zip member: {exc}"))
                continue
            yield from _guarded(source, _iter_blob(source, content, in_zip=True,
                                                   on_error=on_error, on_skip=on_skip), on_error, on_skip)


def _iter_file(path: Path, on_error: ErrorHandler, on_skip: SkipHandler) -> Iterator[RawStudy]:
    name = str(path)
    ext = path.suffix.lower()
    if ext in _JSONL_EXTS:
        def stream() -> Iterator[RawStudy]:
            with path.open("rb") as fh:
                yield from _iter_jsonl(fh, None, name, on_error)
        yield from _guarded(name, stream(), on_error, on_skip)
        return
    with path.open("rb") as fh:
        head = fh.read(512)
        kind = detect_format(name, head)
        if kind == "other":
            on_skip(name, f"{NOT_STUDY_DATA}: {ext or 'no extension'} file")
            return
        if kind != "zip":
            content = head + fh.read()
    if kind == "zip":
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            on_error(name, ImportFormatError(f"bad zip file: {exc}"))
            return
        yield from _iter_zip(name, archive, on_error, on_skip)
        return
    yield from _guarded(name, _iter_blob(name, content, in_zip=False, on_error=on_error, on_skip=on_skip),
                        on_error, on_skip)


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            if not fn.startswith("."):
                yield Path(dirpath) / fn


def _raise(source: str, exc: Exception) -> None:
    raise exc


def _ignore_skip(source: str, reason: str) -> None:
    return None


def iter_records(paths: Iterable[str | os.PathLike[str]], *, on_error: ErrorHandler | None = None,
                 on_skip: SkipHandler | None = None) -> Generator[RawStudy, None, None]:
    """Stream every study record in ``paths`` (files, folders recursively, zips).

    ``on_error(source, exc)`` gets each unreadable file (or record) and the walk goes on; without it
    the first error is raised. ``on_skip(source, reason)`` gets files that hold no study data.

    The cyclic garbage collector is paused while the iteration is in progress (see
    :func:`~trialfinder.gcutil.gc_paused`; it halves the time of ``list(iter_records(...))``)
    and restored when the iterator is exhausted, closed or dropped.
    """
    err = on_error or _raise
    skip = on_skip or _ignore_skip
    with gc_paused():
        for p in paths:
            path = Path(p)
            if path.is_dir():
                for f in _walk(path):
                    yield from _iter_file_safe(f, err, skip)
            elif path.exists():
                yield from _iter_file_safe(path, err, skip)
            else:
                err(str(path), NotFoundError(f"no such file or folder: {path}"))


def _iter_file_safe(path: Path, on_error: ErrorHandler, on_skip: SkipHandler) -> Iterator[RawStudy]:
    try:
        yield from _iter_file(path, on_error, on_skip)
    except OSError as exc:
        on_error(str(path), ImportFormatError(f"cannot read: {exc}"))


# --- collecting and deduplicating ----------------------------------------------------------------


@dataclass
class ImportResult:
    """What :func:`import_paths` found."""

    studies: list[RawStudy]  # one per NCT ID (newest version), sorted by NCT ID
    records_by_format: dict[str, int] = field(default_factory=dict)  # records read, before dedupe
    errors: list[tuple[str, str]] = field(default_factory=list)  # (source, message) skipped
    not_study_data: list[tuple[str, str]] = field(default_factory=list)  # (source, reason) skipped quietly
    records_read: int = 0
    duplicates: int = 0  # records dropped because a newer (or equal) version of the study was kept

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """Alias of ``errors``: the (source, error message) pairs of files that were skipped."""
        return self.errors


def import_paths(paths: Iterable[str | os.PathLike[str]]) -> ImportResult:
    """Read every study under ``paths`` and keep the newest version of each study.

    Newest is the latest record date (``lastUpdatePostDate``, or the classic XML's date); on a tie a
    full record beats a partial one, and then the first one read stays. This holds the kept raw
    records in memory; for large inputs prefer :func:`import_tables`, which streams.
    """
    result = ImportResult(studies=[])
    best: dict[str, RawStudy] = {}
    with gc_paused():
        for study in _counted(paths, result):
            nct = study.nct_id
            assert nct is not None  # record_from_v2 guarantees it
            old = best.get(nct)
            if old is None or record_key(study) > record_key(old):
                best[nct] = study
    result.studies = [best[k] for k in sorted(best)]
    result.duplicates = result.records_read - len(best)
    return result


def _counted(paths: Iterable[str | os.PathLike[str]], result: ImportResult) -> Iterator[RawStudy]:
    counts: Counter[str] = Counter()
    try:
        for study in iter_records(paths, on_error=lambda s, e: result.errors.append((s, str(e))),
                                  on_skip=lambda s, r: result.not_study_data.append((s, r))):
            result.records_read += 1
            counts[study.source_format] += 1
            yield study
    finally:
        result.records_by_format = dict(counts)


def import_tables(paths: Iterable[str | os.PathLike[str]], *, workers: int | None = None,
                  ) -> tuple[dict[str, pd.DataFrame], ImportResult]:
    """Stream every study under ``paths`` straight into the normalized tables, newest version of
    each study only (see :func:`trialfinder.normalize.normalize` with ``dedupe=True``); raw records
    are never all in memory. ``ImportResult.studies`` stays empty; the counts are filled in.

    Inputs of 16 MB or more are read by ``workers`` processes (default: one per CPU, at most 8; see
    :mod:`trialfinder.sources.parallel`); ``workers=1`` keeps everything in this process. The
    result does not depend on the number of workers.
    """
    from trialfinder.sources.parallel import import_tables_parallel  # late: imports normalize

    return import_tables_parallel(paths, workers=workers)
