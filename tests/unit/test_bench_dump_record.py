"""bench/dump_record.py: the labelling dump reads raw records only (never trialfinder's facets)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench import dump_record

ROOT = Path(__file__).resolve().parents[2]


def test_find__v2_study_and_a_study_only_in_the_api_pages(shared_dir: Path) -> None:
    v2 = dump_record.find(shared_dir, "NCT05562024")
    page = dump_record.find(shared_dir, "NCT04318938")  # recorded only in v2/pages or v2/downloads
    assert v2 is not None and page is not None
    assert not (shared_dir / "v2" / "studies" / "NCT04318938.json").exists()
    text = dump_record.render(page)
    assert text.splitlines()[1].startswith("NCT04318938 | Advancing Brigatinib")
    assert "No prior therapy for metastatic ALK+ NSCLC" in text  # the whole eligibility text
    assert dump_record.find(shared_dir, "NCT00000000") is None


def test_main__imports_nothing_from_trialfinder(shared_dir: Path) -> None:
    code = "\n".join([
        "import runpy, sys",
        "records = sys.argv[1]",
        "sys.argv = ['bench/dump_record.py', 'NCT05562024', '--records', records]",
        "try:",
        "    runpy.run_path('bench/dump_record.py', run_name='__main__')",
        "except SystemExit as e:",
        "    assert e.code == 0, e.code",
        "print(sorted(m for m in sys.modules if m.startswith('trialfinder')))",
    ])
    out = subprocess.run([sys.executable, "-c", code, str(shared_dir)], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    lines = out.stdout.strip().splitlines()
    assert "Eligibility criteria" in out.stdout and lines[1].startswith("NCT05562024 | ")
    assert lines[-1] == "[]"
