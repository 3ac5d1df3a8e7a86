"""Smoke tests of the benchmark scale-up builder (bench/scale.py) on a few real records."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from bench import scale

NCT = re.compile(r"NCT\d{8}")


@pytest.fixture(scope="module")
def few_records(shared_dir: Path) -> list[scale.SourceRecord]:
    return scale.load_sources(shared_dir / "v2" / "studies")[:7]


def test_iter_copies__ids_unique_valid_and_consistent(few_records: list[scale.SourceRecord]) -> None:
    out = list(scale.iter_copies(few_records, 4))
    assert len(out) == 4 * len(few_records)
    ids = [nct for nct, _ in out]
    assert len(set(ids)) == len(ids)
    originals = {r.nct_id for r in few_records}
    for i, (nct, body) in enumerate(out):
        assert NCT.fullmatch(nct)
        data = orjson.loads(body)
        assert data["protocolSection"]["identificationModule"]["nctId"] == nct
        mentioned = set(NCT.findall(body.decode()))
        if i < len(few_records):  # copy 0 is the real record, untouched
            assert body == few_records[i].body
        else:  # later copies mention no real ID of the set any more
            assert not mentioned & originals
            assert nct.startswith("NCT9")


def test_iter_copies__only_ids_change(few_records: list[scale.SourceRecord]) -> None:
    out = list(scale.iter_copies(few_records, 2))
    for r, (_, body) in zip(few_records, out[len(few_records):], strict=True):
        assert NCT.sub("X", body.decode()) == NCT.sub("X", r.body.decode())


def test_iter_copies__bad_factor(few_records: list[scale.SourceRecord]) -> None:
    with pytest.raises(scale.ScaleError):
        list(scale.iter_copies(few_records, 0))


def test_build_scaleup__jsonl(tmp_path: Path, few_records: list[scale.SourceRecord]) -> None:
    s = scale.build_scaleup(3, tmp_path / "x3", records=few_records)
    lines = s.path.read_bytes().splitlines()
    assert s.n_studies == len(lines) == 3 * len(few_records)
    assert s.n_bytes == s.path.stat().st_size
    ids = [orjson.loads(line)["protocolSection"]["identificationModule"]["nctId"] for line in lines]
    assert len(set(ids)) == len(ids)


def test_build_scaleup__files(tmp_path: Path, few_records: list[scale.SourceRecord]) -> None:
    s = scale.build_scaleup(2, tmp_path / "x2", layout="files", records=few_records)
    files = sorted(s.path.glob("*.json"))
    assert len(files) == s.n_studies == 2 * len(few_records)
    for f in files:
        assert orjson.loads(f.read_bytes())["protocolSection"]["identificationModule"]["nctId"] == f.stem


def test_build_scaleup__refuses_repo(few_records: list[scale.SourceRecord]) -> None:
    inside = scale.REPO_ROOT / "bench" / "out" / "x2"
    with pytest.raises(scale.ScaleError, match="inside the repository"):
        scale.build_scaleup(2, inside, records=few_records)
    assert not inside.exists()


def test_baselines__same_records_both_layouts(tmp_path: Path, few_records: list[scale.SourceRecord]) -> None:
    from bench import baselines

    jsonl = scale.build_scaleup(2, tmp_path / "j", records=few_records)
    files = scale.build_scaleup(2, tmp_path / "f", layout="files", records=few_records)
    assert baselines.orjson_only(jsonl.path) == baselines.orjson_only(files.path) == 2 * len(few_records)
    flat = baselines.json_normalize_naive(jsonl.path)
    assert len(flat) == 2 * len(few_records)
    assert sorted(flat["protocolSection.identificationModule.nctId"]) == sorted(
        f.stem for f in files.path.glob("*.json")
    )


def test_peak_rss__reads_child_and_tree(tmp_path: Path) -> None:
    import sys

    from bench import child

    code = "x = b'x' * (64 * 2**20); print('{\"ok\": 1}')"
    rc, largest, tree, out = child.peak_rss([sys.executable, "-c", code])
    assert rc == 0
    assert out == '{"ok": 1}'
    assert largest >= 64  # the 64 MiB buffer was resident
    assert tree >= largest
