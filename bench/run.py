"""trialfinder benchmarks: one line per figure, ``name: value``.

    .venv/bin/python bench/run.py --quick     # a few minutes on 2 cores: ×1 and ×10
    .venv/bin/python bench/run.py             # adds ×100 (≈120k studies) imports and 12k/120k renders

Every time is the median of several repetitions in this run; the headline figures are ratios against
baselines measured in the same run on the same bytes (see bench/baselines.py), because these machines
are noisy. Scale-ups (bench/scale.py) are built in a temporary folder outside the repository and
deleted at the end (``--keep`` keeps them).

Figures (a missing piece of the product prints ``name: n/a`` and the reason on stderr):
  import_*           parse + validate + normalize + facets + write the snapshot (``import_into_store``)
  peak_rss_mb_*      peak resident memory of a separate process doing that import
  refresh_*          requests and time of refreshes against the local replay server
  apply_filters_ms_* ``trialfinder.ui.filters.apply_filters`` on the snapshot's tables
  first_render_ms_*, rerender_ms_*  Streamlit AppTest: server-side run of app.py, then after a filter change
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import baselines, child, scale  # noqa: E402

SECTIONS = ("import", "refresh", "filters", "render")
SCALE_LABEL = {1: "1k", 10: "12k", 100: "120k"}
#: a broad search: 786 of the 1,192 recorded studies, 7,860 of the ×10 scale-up (8 pages of 1000).
#: A status filter, not a text query: the replay server's text search is slow and would dominate.
BROAD_STATUSES = "COMPLETED,RECRUITING"
#: the filter toggled for the re-render figure (the "advanced / stage 4" checkbox of Find trials)
RERENDER_WIDGET = "f_advanced"


def emit(name: str, value: object) -> None:
    """Print one figure as ``name: value``."""
    if isinstance(value, float):
        text = f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    else:
        text = str(value)
    sys.stdout.write(f"{name}: {text}\n")
    sys.stdout.flush()


def note(msg: str) -> None:
    sys.stderr.write(f"[bench] {msg}\n")
    sys.stderr.flush()


def median_time(fn: Callable[[], object], reps: int, *, warmup: int = 0) -> float:
    """Median wall time of ``fn()`` over ``reps`` runs, after ``warmup`` unmeasured runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def median_wall_cpu(fn: Callable[[], object], reps: int, *, warmup: int = 0) -> tuple[float, float]:
    """Median wall time and median CPU time (this process) of ``fn()``."""
    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


@contextlib.contextmanager
def section(name: str, figures: list[str]) -> Iterator[None]:
    """Run a bench section; when a product piece is missing or fails, print its figures as n/a."""
    t0 = time.perf_counter()
    try:
        yield
    except Exception as exc:
        note(f"section {name} failed: {type(exc).__name__}: {exc}")
        note(traceback.format_exc(limit=6))
        for f in figures:
            emit(f, "n/a")
    finally:
        note(f"section {name} took {time.perf_counter() - t0:.1f} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def replay_process(data: Path, wait_s: float = 300.0) -> Iterator[str]:
    """``trialfinder replay`` in its own process (its searching must not share our GIL); yields the
    base URL once ``/version`` answers."""
    port = free_port()
    cmd = [sys.executable, "-m", "trialfinder", "replay", "--data", str(data), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO_ROOT)
    url = f"http://127.0.0.1:{port}/api/v2"
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                with urllib.request.urlopen(url + "/version", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"replay server on {data} did not come up (exit {proc.poll()})")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Bench:
    def __init__(self, quick: bool, workdir: Path, src_dir: Path) -> None:
        self.quick = quick
        self.workdir = workdir
        self.src_dir = src_dir
        self.scales: tuple[int, ...] = (1, 10) if quick else (1, 10, 100)
        self.datasets: dict[int, Path] = {1: src_dir}
        self.snapshots: dict[int, Path] = {}  # scale -> data dir holding a current snapshot
        self.n_studies: dict[int, int] = {}
        self._records: list[scale.SourceRecord] | None = None
        self._run = 0

    # -- data -------------------------------------------------------------------------------------

    def records(self) -> list[scale.SourceRecord]:
        if self._records is None:
            self._records = scale.load_sources(self.src_dir)
        return self._records

    def dataset(self, factor: int) -> Path:
        if factor not in self.datasets:
            t0 = time.perf_counter()
            s = scale.build_scaleup(factor, self.workdir / f"x{factor}", records=self.records())
            note(f"built x{factor}: {s.n_studies} studies, {s.n_bytes / 1e6:.0f} MB in "
                 f"{time.perf_counter() - t0:.1f} s")
            self.datasets[factor] = s.path
            self.n_studies[factor] = s.n_studies
        return self.datasets[factor]

    def fresh_data_dir(self, label: str) -> Path:
        self._run += 1
        d = self.workdir / f"data-{label}-{self._run}"
        d.mkdir(parents=True)
        return d

    # -- import ------------------------------------------------------------------------------------

    def import_in_child(self, factor: int, cpus: int = 1) -> tuple[float, float, float, int]:
        """One import in a separate process: (seconds inside it, peak RSS MB of its largest process,
        peak summed RSS MB of it and its workers, trials). ``cpus=1``: single process (the importer
        uses no workers with one CPU); ``cpus=0``: the default, one worker process per CPU."""
        d = self.fresh_data_dir(f"x{factor}")
        cmd = [sys.executable, str(REPO_ROOT / "bench" / "child.py"), "import", "--cpus", str(cpus),
               "--data-dir", str(d), str(self.dataset(factor))]
        rc, rss, tree, out = child.peak_rss(cmd)
        if rc != 0:
            raise RuntimeError(f"import child exited {rc}")
        info = json.loads(out.splitlines()[-1])
        self.snapshots[factor] = d
        return float(info["seconds"]), rss, tree, int(info["trials"])

    def bench_import(self) -> None:
        with section("memory baseline", ["peak_rss_mb_idle"]):
            _, rss_idle, _ = child.peak_rss_mb(
                [sys.executable, str(REPO_ROOT / "bench" / "child.py"), "idle"])
            emit("peak_rss_mb_idle", rss_idle)
        for factor in self.scales:
            self.bench_import_scale(factor)

    def bench_import_scale(self, factor: int) -> None:
        """Single-process import (pinned to one CPU) against orjson-only and json_normalize on the
        same bytes; then the default parallel import (one worker per CPU) for time and memory."""
        sfx = "" if factor == 1 else f"_x{factor}"
        figs = [f"import_studies_per_s{sfx}", f"import_vs_orjson_ratio{sfx}", f"peak_rss_mb_x{factor}"]
        with section(f"import x{factor}", figs):
            path = self.dataset(factor)
            n = self.n_studies.get(factor) or baselines.orjson_only(path)
            self.n_studies[factor] = n
            emit(f"import_studies{sfx}", n)
            if factor < 100:
                reps = 5 if factor == 1 else (1 if self.quick else 3)
                runs = [self.import_in_child(factor, cpus=1) for _ in range(reps)]
                if runs[0][3] != n:
                    note(f"x{factor}: snapshot holds {runs[0][3]} trials, expected {n}")
                t_pipe = statistics.median(r[0] for r in runs)
                t_orjson = median_time(functools.partial(baselines.orjson_only, path), 5, warmup=1)
                emit(f"import_studies_per_s{sfx}", n / t_pipe)
                emit(f"orjson_studies_per_s{sfx}", n / t_orjson)
                emit(f"import_vs_orjson_ratio{sfx}", t_orjson / t_pipe)
                emit(f"peak_rss_mb_x{factor}", max(r[1] for r in runs))
                if factor == 1:
                    with section("import stages x1", ["import_stage_parse_s", "import_stage_normalize_s",
                                                      "import_stage_facets_s"]):
                        self.bench_stages()
                t_jn = median_time(functools.partial(baselines.json_normalize_naive, path),
                                   3 if factor == 1 else 1, warmup=1 if factor == 1 else 0)
                emit(f"json_normalize_studies_per_s{sfx}", n / t_jn)
                emit(f"import_vs_json_normalize_ratio{sfx}", t_jn / t_pipe)
            if factor > 1:  # the default: worker processes (input ≥ 16 MB)
                t_par, rss, tree, _ = self.import_in_child(factor, cpus=0)
                emit(f"import_parallel_studies_per_s_x{factor}", n / t_par)
                if factor >= 100:
                    t_orjson = median_time(functools.partial(baselines.orjson_only, path), 1)
                    emit(f"orjson_studies_per_s{sfx}", n / t_orjson)
                    emit(f"import_parallel_vs_orjson_ratio{sfx}", t_orjson / t_par)
                    emit(f"peak_rss_mb_x{factor}", rss)
                emit(f"peak_rss_mb_x{factor}_parallel_largest_process", rss)
                emit(f"peak_tree_rss_mb_x{factor}_parallel", tree)

    def run_child(self, *args: str) -> dict[str, Any]:
        """Run ``bench/child.py ARGS`` in a fresh interpreter (cold caches); its last JSON line."""
        cmd = [sys.executable, str(REPO_ROOT / "bench" / "child.py"), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO_ROOT)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"child {args[0]} exited {proc.returncode}: {proc.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(lines[-1])
        return result

    def bench_stages(self) -> None:
        """Where the import time goes at ×1 (median of 3 fresh processes): parse (read + orjson + record
        envelope), normalize, facets (one-off start-up on 20 trials, then all trials)."""
        runs = [self.run_child("stages", str(self.src_dir)) for _ in range(3)]
        for key in ("parse_s", "normalize_s", "facets_oneoff_s", "facets_s"):
            emit(f"import_stage_{key}", statistics.median(r[key] for r in runs))

    # -- refresh -----------------------------------------------------------------------------------

    def bench_refresh(self) -> None:
        """Full and no-new-data refreshes of the saved searches against the local replay server."""
        figs = ["refresh_requests_full", "refresh_requests_full_expected", "refresh_s_full",
                "refresh_requests_nochange", "refresh_s_nochange"]
        with section("refresh", figs):
            tomls = sorted((REPO_ROOT / "queries").glob("*.toml"))
            with replay_process(self.src_dir) as url:
                self._refresh_figures("", url, tomls, reps=3)

        figs = ["refresh_broad_requests_full", "refresh_broad_s_full", "client_fetch_s_broad",
                "ctgov_pypi_fetch_s_broad", "client_vs_ctgov_pypi_ratio"]
        with section("refresh broad x10", figs):
            self.bench_refresh_broad()

    def _settings(self, url: str, label: str) -> Any:
        from trialfinder.config import Settings

        # no politeness delay against the local server: we time our code, not the rate limiter
        return Settings(data_dir=self.fresh_data_dir(label), api_url=url, rate_limit_per_s=10_000.0,
                        backoff_factor_s=0.0)

    def _expected_requests(self, url: str, queries: list[Any]) -> tuple[int, int]:
        """(1 version check + Σ ⌈n/1000⌉ pages, total studies) for a full refresh of ``queries``."""
        from trialfinder.ctgov.client import CtgovClient

        with CtgovClient(self._settings(url, "count")) as c:
            counts = [c.count(q.api_params()) for q in queries]
        return 1 + sum(max(1, math.ceil(n / 1000)) for n in counts), sum(counts)

    def _refresh_figures(self, prefix: str, url: str, tomls: list[Path], reps: int) -> None:
        """Each repetition in a fresh process and data folder: a full refresh, then a no-change one."""
        from trialfinder.queries import load_query

        expected, n_total = self._expected_requests(url, [load_query(t) for t in tomls])
        runs = [self.run_child("refresh", "--url", url, "--data-dir", str(self.fresh_data_dir("refresh")),
                               *map(str, tomls)) for _ in range(reps)]
        if not all(r["skipped"] for r in runs):
            note(f"refresh{prefix}: a no-change refresh was not skipped")
        emit(f"refresh{prefix}_searches", len(tomls))
        emit(f"refresh{prefix}_studies", n_total)
        emit(f"refresh{prefix}_requests_full", max(r["full_requests"] for r in runs))
        emit(f"refresh{prefix}_requests_full_expected", expected)
        emit(f"refresh{prefix}_s_full", statistics.median(r["full_s"] for r in runs))
        emit(f"refresh{prefix}_requests_nochange", max(r["nochange_requests"] for r in runs))
        emit(f"refresh{prefix}_s_nochange", statistics.median(r["nochange_s"] for r in runs))

    def bench_refresh_broad(self) -> None:
        """A broad search over the ×10 scale-up (12k studies, several pages each), fetched by our client
        and by the PyPI ``ctgov`` client on the same replay server: same work, same bytes."""
        from trialfinder.ctgov.client import CtgovClient
        broad = self.workdir / "bench-broad.toml"
        broad.write_text('name = "bench-broad"\ntitle = "bench: broad status search"\n[params]\n'
                         f'"filter.overallStatus" = "{BROAD_STATUSES}"\n', encoding="utf-8")
        # the whole refresh (fetch + normalize + facets + write) of the broad search: ×1 in quick mode
        # (one page), ×10 in the full run (several pages)
        if self.quick:
            with replay_process(self.src_dir) as url:
                self._refresh_figures("_broad", url, [broad], reps=3)
        files = self.workdir / "x10-files"
        if not files.exists():
            scale.build_scaleup(10, files, layout="files", records=self.records())
        with replay_process(files) as url:
            if not self.quick:
                self._refresh_figures("_broad", url, [broad], reps=1)
            params = {"filter.overallStatus": BROAD_STATUSES}

            def ours() -> int:
                with CtgovClient(self._settings(url, "fetch")) as c:
                    c.version()
                    return sum(1 for _ in c.iter_studies(params, page_size=1000))

            reps, warm = (2, 0) if self.quick else (3, 1)
            n_ours = ours()
            t_ours, cpu_ours = median_wall_cpu(ours, reps, warmup=warm)
            emit("client_fetch_studies_broad", n_ours)
            emit("client_fetch_s_broad", t_ours)
            emit("client_fetch_cpu_s_broad", cpu_ours)
            try:
                import ctgov.client as pypi
            except ImportError:
                note("PyPI client `ctgov` not installed (pip install -e '.[bench]'); skipped")
                emit("ctgov_pypi_fetch_s_broad", "n/a")
                return
            pypi.BASE_URL = url.rstrip("/") + "/"  # the package reads this module global per request

            def theirs() -> int:
                c = pypi.Client(delay=0.0, retries=1)
                c.version()
                statuses = {"overallStatus": BROAD_STATUSES}
                return sum(1 for _ in c.iter_studies("", filters=statuses, page_size=1000))

            n_theirs = theirs()
            t_theirs, cpu_theirs = median_wall_cpu(theirs, reps, warmup=warm)
            if n_theirs != n_ours:
                note(f"ctgov (PyPI) fetched {n_theirs} studies, ours {n_ours}")
            emit("ctgov_pypi_fetch_studies_broad", n_theirs)
            emit("ctgov_pypi_fetch_s_broad", t_theirs)
            emit("ctgov_pypi_fetch_cpu_s_broad", cpu_theirs)
            emit("client_vs_ctgov_pypi_ratio", t_theirs / t_ours)
            emit("client_vs_ctgov_pypi_cpu_ratio", cpu_theirs / cpu_ours)

    # -- dashboard ---------------------------------------------------------------------------------

    def bench_filters(self, factor: int) -> None:
        lab = SCALE_LABEL[factor]
        with section(f"apply_filters {lab}", [f"apply_filters_ms_{lab}"]):
            from trialfinder.store import load_current
            from trialfinder.ui.filters import FilterState, apply_filters, prepare

            tables = load_current(self.snapshots[factor]).tables
            prepared = prepare(tables)
            t_prep = median_time(lambda: prepare(tables), 3)
            state = FilterState(any_immunotherapy=True, advanced=True, had_immunotherapy=True)
            near = FilterState(advanced=True, zip_code="10032", radius_miles=500)
            t_apply = median_time(lambda: apply_filters(prepared, state), 7, warmup=1)
            t_near = median_time(lambda: apply_filters(prepared, near), 7, warmup=1)
            emit(f"prepare_ms_{lab}", t_prep * 1000)
            emit(f"apply_filters_ms_{lab}", t_apply * 1000)
            emit(f"apply_filters_zip_ms_{lab}", t_near * 1000)

    def bench_render(self, factor: int) -> None:
        """Server-side time of app.py under Streamlit's AppTest: first (cold) render, then re-runs
        after toggling the "advanced / stage 4" filter."""
        lab = SCALE_LABEL[factor]
        with section(f"render {lab}", [f"first_render_ms_{lab}", f"rerender_ms_{lab}"]):
            import streamlit as st
            from streamlit.testing.v1 import AppTest

            os.environ["TRIALFINDER_DATA_DIR"] = str(self.snapshots[factor])
            timeout = 60 if factor < 100 else 600
            firsts = []
            for _ in range(1 if factor >= 100 else 3):
                st.cache_resource.clear()
                st.cache_data.clear()
                at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=timeout)
                t0 = time.perf_counter()
                at.run()
                firsts.append(time.perf_counter() - t0)
                if at.exception:
                    raise RuntimeError(f"app raised: {at.exception[0].message}")
            box = at.checkbox(key=RERENDER_WIDGET)
            times = []
            for _ in range(7):
                box = at.checkbox(key=RERENDER_WIDGET)
                (box.uncheck() if box.value else box.check())
                t0 = time.perf_counter()
                at.run()
                times.append(time.perf_counter() - t0)
                if at.exception:
                    raise RuntimeError(f"app raised: {at.exception[0].message}")
            emit(f"first_render_ms_{lab}", statistics.median(firsts) * 1000)
            emit(f"rerender_ms_{lab}", statistics.median(times[1:]) * 1000)

    def run(self, only: set[str]) -> None:
        if "import" in only:
            self.bench_import()
        else:  # the dashboard figures still need snapshots
            for factor in self.scales if only & {"filters", "render"} else ():
                self.import_in_child(factor, cpus=0)
        if "refresh" in only:
            self.bench_refresh()
        for factor in self.scales:
            if factor in self.snapshots and "filters" in only:
                self.bench_filters(factor)
        for factor in self.scales:
            if factor in self.snapshots and "render" in only and (factor == 1 or not self.quick):
                self.bench_render(factor)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="trialfinder benchmarks (one 'name: value' line per figure)")
    ap.add_argument("--quick", action="store_true", help="×1 and ×10 only: a few minutes on 2 cores")
    ap.add_argument("--src", type=Path, default=scale.DEFAULT_SOURCE, help="folder of NCT*.json studies")
    ap.add_argument("--workdir", type=Path, default=None, help="temporary folder (default: a new one)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--scales", default=None, help="scale factors, e.g. 1,10 (default: 1,10 quick; 1,10,100)")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated sections to run (default all: {','.join(SECTIONS)})")
    args = ap.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="trialfinder-bench-"))
    if REPO_ROOT in workdir.resolve().parents:
        ap.error("the work folder must lie outside the repository")
    workdir.mkdir(parents=True, exist_ok=True)
    note(f"work folder {workdir}; python {sys.version.split()[0]}; {os.cpu_count()} cpus")
    t0 = time.perf_counter()
    try:
        bench = Bench(args.quick, workdir, args.src)
        if args.scales:
            bench.scales = tuple(int(x) for x in args.scales.split(","))
        bench.run(set(args.only.split(",")))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    emit("bench_total_s", time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
