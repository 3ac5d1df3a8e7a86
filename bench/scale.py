"""Scale-ups of the recorded studies for the benchmarks, built at bench time in a temporary folder.

``../shared/ctgov/v2/studies`` holds 1,192 real ``GET /studies/{nctId}`` bodies. A scale-up ×N holds
N copies of every record: copy 0 keeps the real NCT IDs, copy k ≥ 1 rewrites every NCT ID that occurs
in a record (its own ID, aliases, IDs it cites) through one mapping per copy, so the result has unique,
valid IDs (``NCT`` + 8 digits) and each record stays consistent with itself and with the other records
of its copy. Rewritten IDs start with ``NCT9`` (no real study has one yet), so they never collide with a
real ID. Nothing else in a record changes: no record is invented, only re-labelled.

Output layouts (all accepted by ``trialfinder import``):

- ``jsonl``: one compact study per line in ``studies.jsonl`` (what the import benchmark streams),
- ``files``: one ``NCT########.json`` per study (what the replay server reads).

The output folder must lie outside the repository: scale-ups are never committed.

Usage: ``python bench/scale.py --factor 10 --out /tmp/tf-x10 [--layout files]``
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "ctgov" / "v2" / "studies"

NCT_RE = re.compile(rb"NCT\d{8}(?!\d)")
NCT_VALID = re.compile(r"NCT\d{8}")
FIRST_REWRITTEN = 90_000_000  # rewritten IDs are NCT9xxxxxxx
MAX_IDS = 10_000_000  # the NCT9 block holds 10 million IDs


class ScaleError(ValueError):
    """A scale-up request that cannot be honoured (bad factor, output inside the repository, ...)."""


@dataclass(frozen=True)
class SourceRecord:
    """One recorded study as compact JSON bytes, with the distinct NCT IDs it mentions."""

    nct_id: str
    body: bytes


@dataclass(frozen=True)
class ScaleUp:
    """What :func:`build_scaleup` wrote."""

    path: Path  # the JSONL file, or the folder of per-study files
    layout: str
    factor: int
    n_studies: int
    n_bytes: int


def load_sources(src_dir: Path = DEFAULT_SOURCE) -> list[SourceRecord]:
    """Read every ``NCT*.json`` of ``src_dir`` once, re-serialised compactly (sorted by file name)."""
    out: list[SourceRecord] = []
    for p in sorted(src_dir.glob("NCT*.json")):
        data = orjson.loads(p.read_bytes())
        nct = data["protocolSection"]["identificationModule"]["nctId"]
        out.append(SourceRecord(nct_id=nct, body=orjson.dumps(data)))
    if not out:
        raise ScaleError(f"no NCT*.json study files in {src_dir}")
    return out


def id_universe(records: Sequence[SourceRecord]) -> dict[bytes, int]:
    """Index every distinct NCT ID mentioned anywhere (own IDs first, in order, then the rest sorted)."""
    index: dict[bytes, int] = {}
    for r in records:
        index.setdefault(r.nct_id.encode(), len(index))
    others = sorted({m for r in records for m in NCT_RE.findall(r.body)} - index.keys())
    for m in others:
        index[m] = len(index)
    return index


def rewritten_id(copy: int, idx: int, universe_size: int) -> str:
    """The NCT ID of ID number ``idx`` of the universe in copy ``copy`` (copy 0 is the real ID)."""
    if copy < 1:
        raise ScaleError("copy 0 keeps the real IDs")
    n = FIRST_REWRITTEN + (copy - 1) * universe_size + idx
    if n >= FIRST_REWRITTEN + MAX_IDS:
        raise ScaleError("scale-up too large for the NCT9 ID block")
    return f"NCT{n:08d}"


def iter_copies(records: Sequence[SourceRecord], factor: int) -> Iterator[tuple[str, bytes]]:
    """Yield ``(nct_id, compact_json_bytes)`` for every record of every copy 0..factor-1."""
    if factor < 1:
        raise ScaleError(f"factor must be ≥ 1, got {factor}")
    universe = id_universe(records)
    size = len(universe)
    if (factor - 1) * size > MAX_IDS:
        raise ScaleError(f"factor {factor} too large for {size} distinct IDs")
    for r in records:
        yield r.nct_id, r.body
    for copy in range(1, factor):
        mapping = {old: rewritten_id(copy, i, size).encode() for old, i in universe.items()}

        def sub(m: re.Match[bytes], mapping: dict[bytes, bytes] = mapping) -> bytes:
            return mapping[m.group()]

        for r in records:
            new_id = mapping[r.nct_id.encode()].decode()
            yield new_id, NCT_RE.sub(sub, r.body)


def _check_outside_repo(out: Path) -> Path:
    resolved = out.resolve()
    if resolved == REPO_ROOT or REPO_ROOT in resolved.parents:
        raise ScaleError(f"refusing to write a scale-up inside the repository ({resolved})")
    return resolved


def build_scaleup(
    factor: int,
    out_dir: Path,
    *,
    layout: str = "jsonl",
    records: Sequence[SourceRecord] | None = None,
    src_dir: Path = DEFAULT_SOURCE,
) -> ScaleUp:
    """Write a ×``factor`` scale-up into ``out_dir`` (created; must be outside the repository)."""
    if layout not in ("jsonl", "files"):
        raise ScaleError(f"unknown layout {layout!r}")
    out = _check_outside_repo(out_dir)
    recs = records if records is not None else load_sources(src_dir)
    out.mkdir(parents=True, exist_ok=True)
    n = nbytes = 0
    if layout == "jsonl":
        path = out / "studies.jsonl"
        with path.open("wb") as fh:
            for _, body in iter_copies(recs, factor):
                fh.write(body)
                fh.write(b"\n")
                n += 1
                nbytes += len(body) + 1
    else:
        path = out
        for nct, body in iter_copies(recs, factor):
            (out / f"{nct}.json").write_bytes(body)
            n += 1
            nbytes += len(body)
    return ScaleUp(path=path, layout=layout, factor=factor, n_studies=n, n_bytes=nbytes)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--factor", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--layout", choices=("jsonl", "files"), default="jsonl")
    ap.add_argument("--src", type=Path, default=DEFAULT_SOURCE)
    args = ap.parse_args(argv)
    s = build_scaleup(args.factor, args.out, layout=args.layout, src_dir=args.src)
    sys.stdout.write(f"{s.n_studies} studies, {s.n_bytes / 1e6:.1f} MB -> {s.path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
