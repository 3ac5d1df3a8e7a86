"""Subprocess entry points of the benchmarks (run by bench/run.py, not by hand).

- ``child.py import --data-dir D PATH...``: run the whole import pipeline once (parse + validate +
  normalize + facets + write the snapshot) and print a JSON line ``{"seconds": .., "trials": ..}``.
- ``child.py stages PATH``: time parse (``iter_records``), ``normalize`` and ``compute_facets``
  separately in a fresh process; the facets first on 20 trials (their one-off start-up cost), then
  on all.
- ``child.py refresh --url U --data-dir D TOML...``: a full refresh of the saved searches, then one
  with no new data; prints seconds and requests of both.
- ``child.py idle``: import the pipeline's modules and do nothing (the interpreter's own footprint).
- ``child.py rss -- CMD...``: run CMD as a child and print one JSON line with its exit code and peak
  resident memory, read with ``resource.getrusage(RUSAGE_CHILDREN)`` (this wrapper has no other child,
  so the figure is the peak of CMD or of its largest descendant), plus the peak of the summed RSS of
  CMD and all its descendants (worker processes), sampled from ``/proc`` every 0.1 s.

``--cpus N`` pins the import to N CPUs (``os.sched_setaffinity``); with one CPU the importer's worker
pool is not used, so the figure is single-process throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


def _stages(path: Path) -> dict[str, float]:
    from trialfinder.facets import compute_facets
    from trialfinder.normalize import normalize
    from trialfinder.sources import iter_records

    def timed(fn: Any) -> tuple[float, Any]:
        t0 = time.perf_counter()
        out = fn()
        return time.perf_counter() - t0, out

    t_parse, raws = timed(lambda: list(iter_records([path])))
    t_norm, tables = timed(lambda: normalize(raws))
    # the facets' one-off costs (lazy regex compilation, vocabulary loading) on the first 20 trials,
    # then every trial: the per-study cost, with the facets' caches starting (almost) empty
    first = set(tables["trials"]["nct_id"].head(20).astype(str))
    few = {k: df[df["nct_id"].astype(str).isin(first)] for k, df in tables.items() if "nct_id" in df}
    t_once, _ = timed(lambda: compute_facets(few))
    t_fac, _ = timed(lambda: compute_facets(tables))
    return {"parse_s": t_parse, "normalize_s": t_norm, "facets_oneoff_s": t_once, "facets_s": t_fac}


def _refresh(url: str, data_dir: Path, tomls: list[Path]) -> dict[str, Any]:
    from trialfinder.config import Settings
    from trialfinder.queries import load_query
    from trialfinder.refresh import LogProgress, refresh

    queries = [load_query(t) for t in tomls]
    # no politeness delay against the local server: we time our code, not the rate limiter
    settings = Settings(data_dir=data_dir, api_url=url, rate_limit_per_s=10_000.0, backoff_factor_s=0.0)
    t0 = time.perf_counter()
    full = refresh(settings, queries, full=True, progress=LogProgress())
    t1 = time.perf_counter()
    again = refresh(settings, queries, full=False, progress=LogProgress())
    t2 = time.perf_counter()
    return {"full_s": t1 - t0, "full_requests": full.requests_made, "studies": full.studies_fetched,
            "nochange_s": t2 - t1, "nochange_requests": again.requests_made, "skipped": again.skipped}


def _idle() -> dict[str, float | int]:
    import trialfinder.facets
    import trialfinder.normalize
    import trialfinder.refresh
    import trialfinder.sources
    import trialfinder.store  # noqa: F401

    return {"seconds": 0.0, "trials": 0}


def _tree_rss_kb(root: int) -> int:
    """Summed VmRSS (KiB) of ``root`` and all its descendants, from /proc (0 where unreadable)."""
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(parents.get(pid, ()))
        try:
            with open(f"/proc/{pid}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


class TreeSampler(threading.Thread):
    """Polls the summed RSS of a process tree until stopped; keeps the peak."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval_s = interval_s
        self.peak_kb = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            self.peak_kb = max(self.peak_kb, _tree_rss_kb(self.pid))

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def peak_rss_mb(cmd: Sequence[str]) -> tuple[int, float, str]:
    """Run ``cmd`` through the ``rss`` wrapper; return (exit code, peak RSS in MB, its stdout)."""
    rc, peak, _, out = peak_rss(cmd)
    return rc, peak, out


def peak_rss(cmd: Sequence[str]) -> tuple[int, float, float, str]:
    """(exit code, peak RSS MB of the largest process, peak summed RSS MB of the tree, stdout)."""
    wrapped = [sys.executable, str(Path(__file__).resolve()), "rss", "--", *cmd]
    proc = subprocess.run(wrapped, capture_output=True, text=True, check=False, cwd=REPO_ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"rss wrapper failed ({proc.returncode}): {proc.stderr[-2000:]}")
    info = json.loads(lines[-1])
    child_out = "\n".join(lines[:-1])
    return int(info["returncode"]), float(info["peak_rss_mb"]), float(info["peak_tree_rss_mb"]), child_out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    imp = sub.add_parser("import")
    imp.add_argument("--data-dir", type=Path, required=True)
    imp.add_argument("--cpus", type=int, default=0, help="pin to this many CPUs (0: leave as is)")
    imp.add_argument("paths", type=Path, nargs="+")
    sub.add_parser("idle")
    stg = sub.add_parser("stages")
    stg.add_argument("path", type=Path)
    ref = sub.add_parser("refresh")
    ref.add_argument("--url", required=True)
    ref.add_argument("--data-dir", type=Path, required=True)
    ref.add_argument("tomls", type=Path, nargs="+")
    rss = sub.add_parser("rss")
    rss.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)

    if args.cmd == "import":
        if args.cpus > 0:
            os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cpus])
        out = _import_pipeline(args.data_dir, args.paths)
    elif args.cmd == "idle":
        out = _idle()
    elif args.cmd == "stages":
        out = _stages(args.path)
    elif args.cmd == "refresh":
        out = _refresh(args.url, args.data_dir, args.tomls)
    else:
        cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        stdout, _ = proc.communicate()
        sampler.stop()
        sys.stdout.write(stdout)
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = {"returncode": proc.returncode, "peak_rss_mb": ru.ru_maxrss / 1024,  # KiB on Linux
               "peak_tree_rss_mb": max(sampler.peak_kb / 1024, ru.ru_maxrss / 1024)}
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    raise SystemExit(main())
