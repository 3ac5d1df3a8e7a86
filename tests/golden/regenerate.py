"""Golden files for the normalizer: a few real recorded studies → expected CSVs (one per table).

    .venv/bin/python tests/golden/regenerate.py     # rewrite tests/golden/expected/*.csv

Review the diff by eye before committing. The CSVs store list columns as JSON arrays and missing
values as ``<NA>`` (so that an empty string and a missing value stay different); ``read_expected``
turns them back into the Arrow-backed frames ``normalize`` returns.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from trialfinder.normalize import TABLE_SCHEMAS, normalize  # noqa: E402
from trialfinder.sources import iter_records  # noqa: E402

EXPECTED = Path(__file__).resolve().parent / "expected"
NA = "<NA>"

# real recorded inputs, relative to the shared folder
INPUTS = (
    "v2/studies/NCT02628535.json",  # v2 mesothelioma study (B7-H3 DART), terminated
    "classic-xml/NCT02899299.xml",  # CheckMate 743, classic XML with CRLF line ends
    "classic-xml/NCT03907852.xml",  # gavo-cel/TC-210 CAR-T, classic XML, site status + contacts
    "v2/studies-field-limited/NCT02576665.json",  # field-limited: a partial record
)


def golden_tables(shared_dir: Path) -> dict[str, pd.DataFrame]:
    """Normalize the golden inputs; ``source`` is made relative to the shared folder."""
    tables = normalize(iter_records([shared_dir / p for p in INPUTS]))
    trials = tables["trials"]
    prefix = str(shared_dir) + "/"
    trials["source"] = trials["source"].str.replace(prefix, "", regex=False)
    return tables


def _to_cell(value: Any) -> str:
    if isinstance(value, list | tuple) or hasattr(value, "tolist"):
        return json.dumps(list(value.tolist() if hasattr(value, "tolist") else value), ensure_ascii=False)
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return NA
    return str(value)


def write_expected(tables: dict[str, pd.DataFrame], folder: Path = EXPECTED) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        out = pd.DataFrame({c: [_to_cell(v) for v in df[c].tolist()] for c in df.columns}, columns=df.columns)
        out.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")


def _from_cell(cell: Any, typ: pa.DataType) -> Any:
    if pa.types.is_list(typ):
        return json.loads(cell)
    if cell is None or cell == NA or (isinstance(cell, float) and cell != cell):
        return None
    if pa.types.is_boolean(typ):
        return {"True": True, "False": False}[cell]
    if pa.types.is_integer(typ):
        return int(cell)
    if pa.types.is_floating(typ):
        return float(cell)
    return cell


def read_expected(folder: Path = EXPECTED) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    for name, cols in TABLE_SCHEMAS.items():
        raw = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
        assert list(raw.columns) == list(cols), (name, list(raw.columns))
        data = {c: [_from_cell(v, t) for v in raw[c].tolist()] for c, t in cols.items()}
        schema = pa.schema([pa.field(c, t) for c, t in cols.items()])
        out[name] = pa.Table.from_pydict(data, schema=schema).to_pandas(types_mapper=pd.ArrowDtype)
    return out


def main() -> int:
    shared = ROOT.parent / "shared" / "ctgov"
    tables = golden_tables(shared)
    write_expected(tables)
    for name, df in tables.items():
        sys.stdout.write(f"{name}: {len(df)} rows\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
