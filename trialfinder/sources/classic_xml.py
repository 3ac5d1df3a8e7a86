"""Classic ClinicalTrials.gov XML (``<clinical_study>``, the AllPublicXML format) → API v2 dict.

The mapping fills the same v2 structure the API returns (``protocolSection.identificationModule``,
``statusModule``, ...; ``derivedSection.conditionBrowseModule``), with v2 enum spellings
("Active, not recruiting" → ``ACTIVE_NOT_RECRUITING``, "Phase 1/Phase 2" → ``["PHASE1", "PHASE2"]``)
and ISO dates. Text blocks lose the XML indentation; CRLF and LF files give the same result.
See docs/data-model.md for the full table.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from trialfinder.errors import ImportFormatError
from trialfinder.sources._text import age_in_years, dedent_block, enum_label, parse_date_text, std_ages_for

_PARSER_KW: dict[str, Any] = {
    "resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False,
}

_STATUS_SPECIAL = {"UNKNOWN_STATUS": "UNKNOWN"}
_PHASES = {
    "PHASE_1": "PHASE1", "PHASE_2": "PHASE2", "PHASE_3": "PHASE3", "PHASE_4": "PHASE4",
    "EARLY_PHASE_1": "EARLY_PHASE1", "N_A": "NA", "NA": "NA",
}
_STUDY_TYPES = {"OBSERVATIONAL_PATIENT_REGISTRY": "OBSERVATIONAL"}
_AGENCY_CLASS = {"U_S_FED": "FED", "NIH": "NIH", "INDUSTRY": "INDUSTRY", "OTHER": "OTHER"}
_MODELS = {
    "PARALLEL_ASSIGNMENT": "PARALLEL", "SINGLE_GROUP_ASSIGNMENT": "SINGLE_GROUP",
    "CROSSOVER_ASSIGNMENT": "CROSSOVER", "FACTORIAL_ASSIGNMENT": "FACTORIAL",
    "SEQUENTIAL_ASSIGNMENT": "SEQUENTIAL",
}
_ALLOCATION = {"N_A": "NA"}
_SEX = {"ALL": "ALL", "FEMALE": "FEMALE", "MALE": "MALE", "BOTH": "ALL"}
_DATE_TYPES = {
    "ACTUAL": "ACTUAL", "ANTICIPATED": "ESTIMATED", "ESTIMATE": "ESTIMATED", "ESTIMATED": "ESTIMATED",
}


def _text(el: etree._Element | None, path: str | None = None) -> str | None:
    if el is None:
        return None
    node = el.find(path) if path else el
    if node is None or node.text is None:
        return None
    value = node.text.strip()
    return value or None


def _texts(el: etree._Element, path: str) -> list[str]:
    return [t for t in (_text(n) for n in el.findall(path)) if t]


def _block(el: etree._Element, path: str) -> str | None:
    node = el.find(path)
    if node is None:
        return None
    tb = node.find("textblock")
    return dedent_block((tb if tb is not None else node).text)


def _date_struct(el: etree._Element, path: str) -> dict[str, str] | None:
    node = el.find(path)
    if node is None:
        return None
    iso = parse_date_text(node.text)
    if iso is None:
        return None
    out = {"date": iso}
    kind = node.get("type")
    if kind:
        out["type"] = _DATE_TYPES.get(enum_label(kind), enum_label(kind))
    return out


def status_enum(text: str | None) -> str | None:
    """Classic overall/site status text → v2 ``Status`` enum ("Unknown status" → ``UNKNOWN``)."""
    if not text:
        return None
    label = enum_label(text)
    return _STATUS_SPECIAL.get(label, label)


def phases_enum(text: str | None) -> list[str]:
    """Classic phase text → v2 phases.

    "Phase 1/Phase 2" → ``["PHASE1", "PHASE2"]``; "N/A" → ``["NA"]``; "Early Phase 1" → ``["EARLY_PHASE1"]``.
    """
    if not text:
        return []
    if text.strip().upper() in {"N/A", "NA"}:
        return ["NA"]
    out = []
    for part in text.split("/"):
        label = enum_label(part)
        if label:
            out.append(_PHASES.get(label, label.replace("_", "")))
    return out


def _drop_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (None, [], {}, "")}


def _contact(el: etree._Element, role: str | None = None) -> dict[str, Any]:
    name = _text(el, "last_name")
    first = _text(el, "first_name")
    if first and name:
        name = f"{first} {name}"
    phone = _text(el, "phone")
    ext = _text(el, "phone_ext")
    return _drop_empty({
        "name": name or first, "role": role or enum_label(_text(el, "role") or "") or None,
        "phone": phone, "phoneExt": ext, "email": _text(el, "email"),
    })


def _agency_class(text: str | None) -> str | None:
    return _AGENCY_CLASS.get(enum_label(text), enum_label(text)) if text else None


def _identification(root: etree._Element) -> dict[str, Any]:
    nct = _text(root, "id_info/nct_id")
    return _drop_empty({
        "nctId": nct,
        "orgStudyIdInfo": _drop_empty({"id": _text(root, "id_info/org_study_id")}),
        "secondaryIdInfos": [{"id": s} for s in _texts(root, "id_info/secondary_id")],
        "nctIdAliases": _texts(root, "id_info/nct_alias"),
        "briefTitle": _text(root, "brief_title"),
        "officialTitle": _text(root, "official_title"),
        "acronym": _text(root, "acronym"),
        "organization": _drop_empty({
            "fullName": _text(root, "sponsors/lead_sponsor/agency"),
            "class": _agency_class(_text(root, "sponsors/lead_sponsor/agency_class")),
        }),
    })


def _status(root: etree._Element) -> dict[str, Any]:
    return _drop_empty({
        "statusVerifiedDate": parse_date_text(_text(root, "verification_date")),
        "overallStatus": status_enum(_text(root, "overall_status")),
        "lastKnownStatus": status_enum(_text(root, "last_known_status")),
        "whyStopped": _text(root, "why_stopped"),
        "startDateStruct": _date_struct(root, "start_date"),
        "primaryCompletionDateStruct": _date_struct(root, "primary_completion_date"),
        "completionDateStruct": _date_struct(root, "completion_date"),
        "studyFirstSubmitDate": parse_date_text(_text(root, "study_first_submitted")),
        "studyFirstSubmitQcDate": parse_date_text(_text(root, "study_first_submitted_qc")),
        "studyFirstPostDateStruct": _date_struct(root, "study_first_posted"),
        "resultsFirstSubmitDate": parse_date_text(_text(root, "results_first_submitted")),
        "resultsFirstPostDateStruct": _date_struct(root, "results_first_posted"),
        "lastUpdateSubmitDate": parse_date_text(_text(root, "last_update_submitted")),
        "lastUpdatePostDateStruct": _date_struct(root, "last_update_posted"),
    })


def _sponsors(root: etree._Element) -> dict[str, Any]:
    def agency(el: etree._Element) -> dict[str, Any]:
        return _drop_empty({"name": _text(el, "agency"), "class": _agency_class(_text(el, "agency_class"))})

    lead = root.find("sponsors/lead_sponsor")
    return _drop_empty({
        "leadSponsor": agency(lead) if lead is not None else None,
        "collaborators": [agency(c) for c in root.findall("sponsors/collaborator")],
    })


def _design(root: etree._Element) -> dict[str, Any]:
    study_type = _text(root, "study_type")
    st = enum_label(study_type) if study_type else None
    info = root.find("study_design_info")
    design_info: dict[str, Any] = {}
    if info is not None:
        alloc = _text(info, "allocation")
        model = _text(info, "intervention_model")
        purpose = _text(info, "primary_purpose")
        masking = _text(info, "masking")
        design_info = _drop_empty({
            "allocation": _ALLOCATION.get(enum_label(alloc), enum_label(alloc)) if alloc else None,
            "interventionModel": _MODELS.get(enum_label(model), enum_label(model)) if model else None,
            "interventionModelDescription": _text(info, "intervention_model_description"),
            "primaryPurpose": enum_label(purpose) if purpose else None,
            "observationalModel": enum_label(_text(info, "observational_model") or "") or None,
            "timePerspective": enum_label(_text(info, "time_perspective") or "") or None,
            "maskingInfo": _drop_empty({
                "masking": enum_label(masking.split("(")[0]) if masking else None,
                "maskingDescription": _text(info, "masking_description"),
            }),
        })
    enroll = root.find("enrollment")
    enrollment: dict[str, Any] = {}
    if enroll is not None and enroll.text and enroll.text.strip().isdigit():
        enrollment = {"count": int(enroll.text.strip())}
        if enroll.get("type"):
            enrollment["type"] = _DATE_TYPES.get(enum_label(enroll.get("type", "")), "ESTIMATED")
    return _drop_empty({
        "studyType": _STUDY_TYPES.get(st, st) if st else None,
        "patientRegistry": True if st == "OBSERVATIONAL_PATIENT_REGISTRY" else None,
        "phases": phases_enum(_text(root, "phase")),
        "designInfo": design_info,
        "enrollmentInfo": enrollment,
    })


def _arms_interventions(root: etree._Element) -> dict[str, Any]:
    interventions = []
    for iv in root.findall("intervention"):
        display = f"{_text(iv, 'intervention_type') or 'Other'}: {_text(iv, 'intervention_name') or ''}"
        interventions.append(_drop_empty({
            "type": enum_label(_text(iv, "intervention_type") or "") or None,
            "name": _text(iv, "intervention_name"),
            "description": _text(iv, "description"),
            "armGroupLabels": _texts(iv, "arm_group_label"),
            "otherNames": _texts(iv, "other_name"),
            "_display": display,
        }))
    arms = []
    for arm in root.findall("arm_group"):
        label = _text(arm, "arm_group_label")
        arm_type = _text(arm, "arm_group_type")
        arms.append(_drop_empty({
            "label": label,
            "type": enum_label(arm_type) if arm_type else None,
            "description": _text(arm, "description"),
            "interventionNames": [
                i["_display"] for i in interventions if label in i.get("armGroupLabels", [])
            ],
        }))
    for i in interventions:
        i.pop("_display", None)
    return _drop_empty({"armGroups": arms, "interventions": interventions})


def _eligibility(root: etree._Element) -> dict[str, Any]:
    el = root.find("eligibility")
    if el is None:
        return {}
    hv = _text(el, "healthy_volunteers")
    gender = _text(el, "gender")
    min_age = _text(el, "minimum_age")
    max_age = _text(el, "maximum_age")
    min_age = None if not min_age or min_age.upper() == "N/A" else min_age
    max_age = None if not max_age or max_age.upper() == "N/A" else max_age
    return _drop_empty({
        "eligibilityCriteria": _block(el, "criteria"),
        "healthyVolunteers": (hv.strip().lower() in {"yes", "accepts healthy volunteers"}) if hv else None,
        "sex": _SEX.get(enum_label(gender), enum_label(gender)) if gender else None,
        "genderBased": (_text(el, "gender_based") or "").lower() == "yes" or None,
        "minimumAge": min_age,
        "maximumAge": max_age,
        # the registry derives stdAges from the age range; classic XML does not carry them
        "stdAges": std_ages_for(age_in_years(min_age), age_in_years(max_age)),
        "studyPopulation": _block(el, "study_pop"),
        "samplingMethod": enum_label(_text(el, "sampling_method") or "") or None,
    })


def _contacts_locations(root: etree._Element) -> dict[str, Any]:
    central = []
    for tag in ("overall_contact", "overall_contact_backup"):
        for c in root.findall(tag):
            central.append(_contact(c, "CONTACT"))
    officials = []
    for o in root.findall("overall_official"):
        officials.append(_drop_empty({
            "name": _text(o, "last_name"), "affiliation": _text(o, "affiliation"),
            "role": enum_label(_text(o, "role") or "") or None,
        }))
    locations = []
    for loc in root.findall("location"):
        contacts = [_contact(c, "CONTACT") for tag in ("contact", "contact_backup") for c in loc.findall(tag)]
        contacts += [_contact(inv) for inv in loc.findall("investigator")]
        locations.append(_drop_empty({
            "facility": _text(loc, "facility/name"),
            "status": status_enum(_text(loc, "status")),
            "city": _text(loc, "facility/address/city"),
            "state": _text(loc, "facility/address/state"),
            "zip": _text(loc, "facility/address/zip"),
            "country": _text(loc, "facility/address/country"),
            "contacts": [c for c in contacts if c],
        }))
    return _drop_empty({"centralContacts": central, "overallOfficials": officials, "locations": locations})


def _outcomes(root: etree._Element) -> dict[str, Any]:
    def measures(tag: str) -> list[dict[str, Any]]:
        return [_drop_empty({
            "measure": _text(o, "measure"), "description": _text(o, "description"),
            "timeFrame": _text(o, "time_frame"),
        }) for o in root.findall(tag)]

    return _drop_empty({
        "primaryOutcomes": measures("primary_outcome"),
        "secondaryOutcomes": measures("secondary_outcome"),
        "otherOutcomes": measures("other_outcome"),
    })


def _browse(root: etree._Element, tag: str) -> dict[str, Any]:
    terms = _texts(root, f"{tag}/mesh_term")
    return {"meshes": [{"term": t} for t in terms]} if terms else {}


def classic_to_v2(root: etree._Element) -> tuple[dict[str, Any], str | None]:
    """Map a parsed ``<clinical_study>`` element to ``(v2 study dict, record date)``.

    The record date is ``last_update_posted`` (ISO), else the ``download_date``.
    """
    if root.tag != "clinical_study":
        raise ImportFormatError(f"not a classic ClinicalTrials.gov record (root <{root.tag}>)")
    if not _text(root, "id_info/nct_id"):
        raise ImportFormatError("classic XML record without id_info/nct_id")
    protocol = _drop_empty({
        "identificationModule": _identification(root),
        "statusModule": _status(root),
        "sponsorCollaboratorsModule": _sponsors(root),
        "oversightModule": _drop_empty({
            "oversightHasDmc": (_text(root, "oversight_info/has_dmc") or "").lower() == "yes"
            if _text(root, "oversight_info/has_dmc") else None,
        }),
        "descriptionModule": _drop_empty({
            "briefSummary": _block(root, "brief_summary"),
            "detailedDescription": _block(root, "detailed_description"),
        }),
        "conditionsModule": _drop_empty({
            "conditions": _texts(root, "condition"), "keywords": _texts(root, "keyword"),
        }),
        "designModule": _design(root),
        "armsInterventionsModule": _arms_interventions(root),
        "outcomesModule": _outcomes(root),
        "eligibilityModule": _eligibility(root),
        "contactsLocationsModule": _contacts_locations(root),
    })
    download = parse_date_text(_text(root, "required_header/download_date"))
    derived = _drop_empty({
        "miscInfoModule": _drop_empty({"versionHolder": download}),
        "conditionBrowseModule": _browse(root, "condition_browse"),
        "interventionBrowseModule": _browse(root, "intervention_browse"),
    })
    data: dict[str, Any] = {"protocolSection": protocol, "derivedSection": derived,
                            "hasResults": root.find("clinical_results") is not None}
    last = (protocol.get("statusModule") or {}).get("lastUpdatePostDateStruct") or {}
    return data, last.get("date") or download


def parse_classic_xml(content: bytes) -> tuple[dict[str, Any], str | None]:
    """Parse the bytes of one classic XML file → ``(v2 study dict, record date)``."""
    parser = etree.XMLParser(**_PARSER_KW)
    try:
        root = etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise ImportFormatError(f"invalid XML: {exc}") from exc
    return classic_to_v2(root)
