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
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import baselines, child, scale  # noqa: E402

SCALE_LABEL = {1: "1k", 10: "12k", 100: "120k"}


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


class Bench:
    def __init__(self, quick: bool, workdir: Path, src_dir: Path) -> None:
        self.quick = quick
        self.workdir = workdir
        self.src_dir = src_dir
        self.scales = (1, 10) if quick else (1, 10, 100)
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

    def import_in_process(self, factor: int) -> Path:
        from trialfinder.config import Settings
        from trialfinder.refresh import import_into_store

        d = self.fresh_data_dir(f"x{factor}")
        import_into_store([self.dataset(factor)], Settings(data_dir=d))
        return d

    def import_in_child(self, factor: int) -> tuple[float, float, int]:
        """(seconds inside the child, peak RSS MB, trials) of one import in a separate process."""
        d = self.fresh_data_dir(f"x{factor}")
        cmd = [sys.executable, str(REPO_ROOT / "bench" / "child.py"), "import", "--data-dir", str(d),
               str(self.dataset(factor))]
        rc, rss, out = child.peak_rss_mb(cmd)
        if rc != 0:
            raise RuntimeError(f"import child exited {rc}")
        info = json.loads(out.splitlines()[-1])
        self.snapshots[factor] = d
        return float(info["seconds"]), rss, int(info["trials"])

    def bench_import(self) -> None:
        figs = ["import_studies_per_s", "import_vs_orjson_ratio", "import_vs_json_normalize_ratio"]
        with section("import x1", figs):
            n = baselines.orjson_only(self.src_dir)
            self.n_studies[1] = n
            reps = 5
            last: list[Path] = []

            def pipeline() -> None:
                last.append(self.import_in_process(1))

            t_pipe = median_time(pipeline, reps, warmup=1)
            self.snapshots[1] = last[-1]
            t_orjson = median_time(lambda: baselines.orjson_only(self.src_dir), reps, warmup=1)
            t_jn = median_time(lambda: baselines.json_normalize_naive(self.src_dir), 3, warmup=1)
            emit("import_studies", n)
            emit("import_studies_per_s", n / t_pipe)
            emit("orjson_studies_per_s", n / t_orjson)
            emit("json_normalize_studies_per_s", n / t_jn)
            emit("import_vs_orjson_ratio", t_orjson / t_pipe)
            emit("import_vs_json_normalize_ratio", t_jn / t_pipe)
        with section("import stages x1", ["import_stage_parse_s", "import_stage_normalize_s",
                                          "import_stage_facets_s"]):
            self.bench_stages()

        with section("memory baseline", ["peak_rss_mb_idle", "peak_rss_mb_x1"]):
            _, rss_idle, _ = child.peak_rss_mb(
                [sys.executable, str(REPO_ROOT / "bench" / "child.py"), "idle"])
            emit("peak_rss_mb_idle", rss_idle)
            _, rss1, _ = self.import_in_child(1)
            emit("peak_rss_mb_x1", rss1)

        for factor in self.scales[1:]:
            lab = f"x{factor}"
            figs = [f"import_studies_per_s_{lab}", f"import_vs_orjson_ratio_{lab}", f"peak_rss_mb_{lab}"]
            with section(f"import {lab}", figs):
                path = self.dataset(factor)
                n = self.n_studies[factor]
                reps = 1 if (self.quick or factor >= 100) else 3
                runs = [self.import_in_child(factor) for _ in range(reps)]
                t_pipe = statistics.median(r[0] for r in runs)
                rss = max(r[1] for r in runs)
                if runs[0][2] != n:
                    note(f"{lab}: snapshot holds {runs[0][2]} trials, expected {n}")
                t_orjson = median_time(lambda p=path: baselines.orjson_only(p), 3 if factor < 100 else 1)
                emit(f"import_studies_{lab}", n)
                emit(f"import_studies_per_s_{lab}", n / t_pipe)
                emit(f"orjson_studies_per_s_{lab}", n / t_orjson)
                emit(f"import_vs_orjson_ratio_{lab}", t_orjson / t_pipe)
                emit(f"peak_rss_mb_{lab}", rss)
                if factor <= 10:
                    t_jn = median_time(lambda p=path: baselines.json_normalize_naive(p), 1)
                    emit(f"json_normalize_studies_per_s_{lab}", n / t_jn)
                    emit(f"import_vs_json_normalize_ratio_{lab}", t_jn / t_pipe)

    def bench_stages(self) -> None:
        """Where the import time goes at ×1 (medians): parse+validate, normalize, facets."""
        from trialfinder.facets import compute_facets
        from trialfinder.normalize import normalize
        from trialfinder.sources import iter_records

        paths = [self.src_dir]
        errors: list[Any] = []

        def parse() -> list[Any]:
            return list(iter_records(paths, on_error=errors.append))

        raws = parse()
        tables = normalize(raws)
        t_parse = median_time(parse, 3)
        t_norm = median_time(lambda: normalize(raws), 3)
        t_fac = median_time(lambda: compute_facets(tables), 3, warmup=1)
        emit("import_stage_parse_s", t_parse)
        emit("import_stage_normalize_s", t_norm)
        emit("import_stage_facets_s", t_fac)

    # -- refresh, filters, render: see below -------------------------------------------------------

    def run(self) -> None:
        self.bench_import()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="trialfinder benchmarks (one 'name: value' line per figure)")
    ap.add_argument("--quick", action="store_true", help="×1 and ×10 only: a few minutes on 2 cores")
    ap.add_argument("--src", type=Path, default=scale.DEFAULT_SOURCE, help="folder of NCT*.json studies")
    ap.add_argument("--workdir", type=Path, default=None, help="temporary folder (default: a new one)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="trialfinder-bench-"))
    if REPO_ROOT in workdir.resolve().parents:
        ap.error("the work folder must lie outside the repository")
    workdir.mkdir(parents=True, exist_ok=True)
    note(f"work folder {workdir}; python {sys.version.split()[0]}; {os.cpu_count()} cpus")
    t0 = time.perf_counter()
    try:
        Bench(args.quick, workdir, args.src).run()
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    emit("bench_total_s", time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

_ = math  # used by later sections
