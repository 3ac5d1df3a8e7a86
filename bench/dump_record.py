"""Print the full text of recorded ClinicalTrials.gov studies for hand labelling.

    python bench/dump_record.py NCT04318938 [NCT...] [--records ../shared/ctgov]

Reads the raw v2 JSON only (``v2/studies/<id>.json``, else the recorded API pages and downloads) and
prints titles, conditions, keywords, the brief summary, arms, interventions (with other names and
descriptions), MeSH intervention terms and the whole eligibility text. It imports nothing from
trialfinder, so a labeller using it never sees what the facets say (docs/labelling.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _page_studies(records: Path) -> Iterator[dict[str, Any]]:
    for folder in (records / "v2" / "pages", records / "v2" / "downloads"):
        for f in sorted(folder.glob("*.json")):
            data = json.loads(f.read_text(encoding="utf-8"))
            items = [data] if isinstance(data, dict) and "protocolSection" in data else (
                data.get("studies", []) if isinstance(data, dict) else data)
            for s in items:
                if isinstance(s, dict) and "protocolSection" in s:
                    yield s


def find(records: Path, nct: str) -> dict[str, Any] | None:
    """The v2/studies record of ``nct``, else its longest record in the API pages and downloads."""
    f = records / "v2" / "studies" / f"{nct}.json"
    if f.exists():
        study: dict[str, Any] = json.loads(f.read_text(encoding="utf-8"))
        return study
    best: dict[str, Any] | None = None
    for s in _page_studies(records):
        same = s["protocolSection"]["identificationModule"].get("nctId") == nct
        if same and (best is None or len(json.dumps(s)) > len(json.dumps(best))):
            best = s
    return best


def render(study: dict[str, Any]) -> str:
    p = study["protocolSection"]
    idm = p["identificationModule"]
    cond = p.get("conditionsModule", {})
    design = p.get("designModule", {})
    ai = p.get("armsInterventionsModule", {})
    mesh = study.get("derivedSection", {}).get("interventionBrowseModule", {})
    lines = [
        "=" * 100,
        f"{idm.get('nctId')} | {idm.get('briefTitle')}",
        f"Official: {idm.get('officialTitle')}",
        f"Acronym: {idm.get('acronym')}",
        f"Type: {design.get('studyType')} | Phases: {design.get('phases')}",
        f"Conditions: {cond.get('conditions')}",
        f"Keywords: {cond.get('keywords')}",
        "", "-- Brief summary:", str(p.get("descriptionModule", {}).get("briefSummary")),
        "", "-- Arms:",
    ]
    for a in ai.get("armGroups", []):
        lines.append(f" * {a.get('label')} | {a.get('type')} | {a.get('description')} | "
                     f"interventions: {a.get('interventionNames')}")
    lines += ["", "-- Interventions:"]
    for i in ai.get("interventions", []):
        lines.append(f" * {i.get('type')} | {i.get('name')} | other names: {i.get('otherNames')} | "
                     f"{i.get('description')}")
    lines += ["", f"-- MeSH intervention terms: {[m.get('term') for m in mesh.get('meshes', [])]}",
              "", "-- Eligibility criteria:", str(p.get("eligibilityModule", {}).get("eligibilityCriteria"))]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("nct_ids", nargs="+")
    ap.add_argument("--records", type=Path, default=ROOT.parent / "shared" / "ctgov")
    args = ap.parse_args(argv)
    missing = 0
    for nct in args.nct_ids:
        study = find(args.records, nct)
        if study is None:
            print(f"{nct}: not found under {args.records}", file=sys.stderr)
            missing += 1
            continue
        print(render(study))
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
