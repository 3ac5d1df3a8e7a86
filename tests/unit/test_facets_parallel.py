"""compute_facets_parallel gives exactly compute_facets' tables; small inputs stay in-process."""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import trialfinder.facets as facets_mod
import trialfinder.sources.parallel as sources_parallel
from trialfinder.facets import compute_facets, compute_facets_parallel
from trialfinder.normalize import normalize
from trialfinder.refresh import facet_tables
from trialfinder.sources import import_paths

needs_fork = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="the parallel path needs the fork start method")


@pytest.fixture(scope="module")
def recorded_tables(shared_dir: Path) -> dict[str, pd.DataFrame]:
    """Every recorded v2 study and classic XML record, normalized (newest version of each study)."""
    result = import_paths([shared_dir / "v2" / "studies", shared_dir / "classic-xml"])
    return normalize(result.studies)


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ``max_workers`` of every process pool the facets module makes (pools still run)."""
    made: list[int] = []
    real = facets_mod.ProcessPoolExecutor

    def counting(*args: Any, **kwargs: Any) -> Any:
        made.append(kwargs["max_workers"])
        return real(*args, **kwargs)

    monkeypatch.setattr(facets_mod, "ProcessPoolExecutor", counting)
    return made


def _no_pool(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("a process pool was made for an input that should stay in-process")


def _assert_same(got: dict[str, pd.DataFrame], want: dict[str, pd.DataFrame]) -> None:
    assert set(got) == set(want) == {"facets", "arm_classes"}
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name])


def _cold(compute: Callable[[], dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """``compute()`` with the per-trial facet cache emptied first, so forked workers inherit no
    finished results and really compute every trial."""
    facets_mod._facets_by_content.cache_clear()
    return compute()


@needs_fork
def test_compute_facets_parallel__equals_serial_on_recorded_data(
        recorded_tables: dict[str, pd.DataFrame], pools: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(facets_mod, "_SLICE_MAX", 97)  # many slices per worker, uneven last one
    parallel = _cold(lambda: compute_facets_parallel(recorded_tables, workers=2, min_trials=0))
    assert pools == [2]
    serial = _cold(lambda: compute_facets(recorded_tables))
    assert len(serial["facets"]) == len(recorded_tables["trials"]) > 1000
    assert len(serial["arm_classes"]) > 1000
    _assert_same(parallel, serial)


@needs_fork
def test_compute_facets_parallel__trials_in_any_order(
        recorded_tables: dict[str, pd.DataFrame], pools: list[int]) -> None:
    # a test-only variation of the real tables: the trials rows reordered (odd rows reversed, then
    # even rows; the child tables keep their order), so a slice's child rows are not one block
    trials = recorded_tables["trials"]
    order = [*range(len(trials) - 1 - len(trials) % 2, 0, -2), *range(0, len(trials), 2)]
    assert sorted(order) == list(range(len(trials)))
    tables = {**recorded_tables, "trials": trials.iloc[order].reset_index(drop=True)}
    parallel = _cold(lambda: compute_facets_parallel(tables, workers=3, min_trials=0))
    assert pools == [3]
    want = compute_facets(tables)
    assert list(want["facets"]["nct_id"]) == list(trials["nct_id"].iloc[order])
    _assert_same(parallel, want)


def test_compute_facets_parallel__small_input_stays_in_process(
        recorded_tables: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(facets_mod, "ProcessPoolExecutor", _no_pool)
    assert len(recorded_tables["trials"]) < facets_mod.PARALLEL_MIN_TRIALS
    want = compute_facets(recorded_tables)
    _assert_same(compute_facets_parallel(recorded_tables, workers=2), want)  # below the threshold
    _assert_same(compute_facets_parallel(recorded_tables, workers=1, min_trials=0), want)  # one CPU
    empty = compute_facets_parallel({"trials": recorded_tables["trials"].iloc[0:0]}, workers=2, min_trials=0)
    assert empty["facets"].empty and list(empty["facets"].columns) == list(want["facets"].columns)


def test_compute_facets_parallel__no_fork_stays_in_process(
        recorded_tables: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(facets_mod, "ProcessPoolExecutor", _no_pool)
    monkeypatch.setattr(facets_mod.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    got = compute_facets_parallel(recorded_tables, workers=2, min_trials=0)
    _assert_same(got, compute_facets(recorded_tables))


@needs_fork
def test_facet_tables__parallel_above_the_threshold_with_several_cpus(
        recorded_tables: dict[str, pd.DataFrame], pools: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources_parallel, "default_workers", lambda: 2)
    monkeypatch.setattr(facets_mod, "PARALLEL_MIN_TRIALS", len(recorded_tables["trials"]))
    got = facet_tables(recorded_tables)
    assert pools == [2]
    _assert_same(got, compute_facets(recorded_tables))
    monkeypatch.setattr(facets_mod, "PARALLEL_MIN_TRIALS", len(recorded_tables["trials"]) + 1)
    facet_tables(recorded_tables)
    assert pools == [2]  # one trial fewer than the threshold: in-process


@pytest.mark.parametrize(("n", "workers"), [(1, 2), (5, 2), (97, 3), (16_384, 2), (119_200, 2), (200_000, 3)])
def test_slices__contiguous_cover_in_order(n: int, workers: int) -> None:
    got = facets_mod._slices(n, workers)
    assert got[0][0] == 0 and got[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(got))
    sizes = [b - a for a, b in got]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1
    assert max(sizes) <= facets_mod._SLICE_MAX or len(got) == n
    if n >= workers:
        assert len(got) % workers == 0
