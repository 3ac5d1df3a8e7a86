"""Subprocess entry points of the benchmarks (run by bench/run.py, not by hand).

- ``child.py import --data-dir D PATH...``: run the whole import pipeline once (parse + validate +
  normalize + facets + write the snapshot) and print a JSON line ``{"seconds": .., "trials": ..}``.
- ``child.py idle``: import the pipeline's modules and do nothing (the interpreter's own footprint).
- ``child.py rss -- CMD...``: run CMD as a child and print one JSON line with its exit code and peak
  resident memory, read with ``resource.getrusage(RUSAGE_CHILDREN)`` (this wrapper has no other child,
  so the figure is CMD's own peak).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _import_pipeline(data_dir: Path, paths: list[Path]) -> dict[str, float | int]:
    from trialfinder.config import Settings
    from trialfinder.refresh import import_into_store

    settings = Settings(data_dir=data_dir)
    t0 = time.perf_counter()
    import_into_store(paths, settings)
    seconds = time.perf_counter() - t0
    from trialfinder.store import load_current

    snap = load_current(data_dir, tables=["trials"])
    return {"seconds": seconds, "trials": len(snap.tables["trials"])}


def _idle() -> dict[str, float | int]:
    import trialfinder.facets
    import trialfinder.normalize
    import trialfinder.refresh
    import trialfinder.sources
    import trialfinder.store  # noqa: F401

    return {"seconds": 0.0, "trials": 0}


def peak_rss_mb(cmd: Sequence[str]) -> tuple[int, float, str]:
    """Run ``cmd`` through the ``rss`` wrapper; return (exit code, peak RSS in MB, its stdout)."""
    wrapped = [sys.executable, str(Path(__file__).resolve()), "rss", "--", *cmd]
    proc = subprocess.run(wrapped, capture_output=True, text=True, check=False, cwd=REPO_ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"rss wrapper failed ({proc.returncode}): {proc.stderr[-2000:]}")
    info = json.loads(lines[-1])
    child_out = "\n".join(lines[:-1])
    return int(info["returncode"]), float(info["peak_rss_mb"]), child_out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    imp = sub.add_parser("import")
    imp.add_argument("--data-dir", type=Path, required=True)
    imp.add_argument("paths", type=Path, nargs="+")
    sub.add_parser("idle")
    rss = sub.add_parser("rss")
    rss.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)

    if args.cmd == "import":
        out = _import_pipeline(args.data_dir, args.paths)
    elif args.cmd == "idle":
        out = _idle()
    else:
        cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
        proc = subprocess.run(cmd, check=False, stdout=subprocess.PIPE, text=True)
        sys.stdout.write(proc.stdout)
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = {"returncode": proc.returncode, "peak_rss_mb": ru.ru_maxrss / 1024}  # KiB on Linux
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    raise SystemExit(main())
