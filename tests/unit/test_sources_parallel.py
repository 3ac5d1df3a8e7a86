"""The parallel importer gives exactly the single-process result, whatever the number of workers."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from trialfinder.sources import import_tables
from trialfinder.sources import parallel as par


def _assert_same(a: tuple[dict[str, pd.DataFrame], Any], b: tuple[dict[str, pd.DataFrame], Any]) -> None:
    (ta, ra), (tb, rb) = a, b
    assert list(ta) == list(tb)
    for name in ta:
        pd.testing.assert_frame_equal(ta[name], tb[name])
    assert ra.records_by_format == rb.records_by_format
    assert ra.records_read == rb.records_read and ra.duplicates == rb.duplicates
    assert sorted(ra.errors) == sorted(rb.errors)
    assert sorted(ra.not_study_data) == sorted(rb.not_study_data)


@pytest.fixture
def always_parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(par, "PARALLEL_MIN_BYTES", 0)


@pytest.mark.usefixtures("always_parallel")
def test_import_tables__parallel_equals_single_on_the_shared_folder(shared_dir: Path) -> None:
    single = import_tables([shared_dir], workers=1)
    assert len(single[0]["trials"]) > 2000
    _assert_same(import_tables([shared_dir], workers=2), single)


@pytest.mark.usefixtures("always_parallel")
def test_import_tables__jsonl_split_into_byte_ranges(shared_dir: Path, tmp_path: Path) -> None:
    files = sorted((shared_dir / "v2" / "studies").glob("NCT*.json"))[:60]
    lines = [orjson.dumps(orjson.loads(f.read_bytes())) for f in files]
    lines.insert(30, b'{"protocolSection": {"identificationModule": {"nctId": "broken"')  # a bad line
    path = tmp_path / "studies.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    total = path.stat().st_size
    chunks = par.plan(par.list_files([path], []), 7)
    ranges = [u for c in chunks for u in c]
    assert len(ranges) == 7
    assert ranges[0][1] == 0 and ranges[-1][2] == total
    assert all(a[2] == b[1] for a, b in itertools.pairwise(ranges))  # no gaps, no overlaps
    parallel = import_tables([path], workers=3)
    single = import_tables([path], workers=1)
    assert list(parallel[0]["trials"]["nct_id"]) == [f.stem for f in files]
    (err_source, err_msg), = parallel[1].errors
    assert err_source.startswith(f"{path}@") and "invalid JSON" in err_msg
    (single_source, _), = single[1].errors
    assert single_source == f"{path}:31"
    for name in single[0]:
        pd.testing.assert_frame_equal(parallel[0][name], single[0][name])


@pytest.mark.usefixtures("always_parallel")
def test_import_tables__newest_version_wins_across_chunks(shared_dir: Path, tmp_path: Path) -> None:
    real = orjson.loads((shared_dir / "v2/studies/NCT02628535.json").read_bytes())
    for i, (date, status) in enumerate([("2024-01-01", "COMPLETED"), ("2019-01-01", "RECRUITING")]):
        # test-only variations of a real record: other last-update dates and statuses
        v = copy.deepcopy(real)
        v["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = date
        v["protocolSection"]["statusModule"]["overallStatus"] = status
        folder = tmp_path / f"part{i}"
        folder.mkdir()
        (folder / "NCT02628535.json").write_bytes(orjson.dumps(v))
        for f in sorted((shared_dir / "v2" / "studies").glob("NCT0*.json"))[i * 40:(i + 1) * 40]:
            (folder / f.name).write_bytes(f.read_bytes())
    parallel = import_tables([tmp_path / "part1", tmp_path / "part0"], workers=2)
    single = import_tables([tmp_path / "part1", tmp_path / "part0"], workers=1)
    _assert_same(parallel, single)
    trials = parallel[0]["trials"].set_index("nct_id")
    assert trials.loc["NCT02628535", "overall_status"] == "COMPLETED"
    assert parallel[1].duplicates == 1
    assert len(parallel[0]["interventions"].query("nct_id == 'NCT02628535'")) == 1


def test_import_tables__missing_path_is_an_error(tmp_path: Path) -> None:
    tables, result = import_tables([tmp_path / "nope"])
    assert len(tables["trials"]) == 0
    assert [s for s, _ in result.errors] == [str(tmp_path / "nope")]


def test_default_workers__at_least_one() -> None:
    assert 1 <= par.default_workers() <= par.MAX_WORKERS
