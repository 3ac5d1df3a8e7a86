"""Evaluate trialfinder's facets against a hand-labelled set.

    .venv/bin/python bench/eval_facets.py bench/labels/dev.csv [--records ../shared/ctgov] [--split dev]

Reads the recorded studies (v2 JSON and classic XML under ``--records``, plus the trials recorded only
in ``v2/pages`` and ``v2/downloads``) through the real importer
and normalizer, computes the facets and prints per-facet precision, recall, accuracy, confusion
tables and the verbatim-evidence check (``trialfinder.facets.evaluate``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trialfinder import normalize  # noqa: E402
from trialfinder.facets.evaluate import evaluate, recorded_studies  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("labels", type=Path)
    ap.add_argument("--records", type=Path, default=ROOT.parent / "shared" / "ctgov")
    ap.add_argument("--split", default=None,
                    help="print only this split's figures (a split named in the labels file, or 'all')")
    ap.add_argument("--no-errors", action="store_true", help="do not list disagreements")
    args = ap.parse_args(argv)
    studies = recorded_studies(args.records)
    tables = normalize.normalize(studies)
    report = evaluate(args.labels, tables)
    if args.split:
        names = [s.name for s in report.splits]
        if args.split not in names:
            ap.error(f"no split {args.split!r} in {args.labels}; splits: {', '.join(names)}")
        report.splits = [s for s in report.splits if s.name == args.split]
    print(report.format(show_errors=not args.no_errors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
