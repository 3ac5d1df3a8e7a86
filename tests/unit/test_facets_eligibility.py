"""Eligibility facets on sentences quoted from real records (NCT ID in a comment next to each).

Trials are assembled from those quoted sentences only; the tests check values and that the
evidence is the deciding sentence, verbatim.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialfinder.facets import EVIDENCE_SEP, facets_for_trial
from trialfinder.facets.eligibility import (
    advanced_disease,
    biomarkers,
    contexts,
    histology,
    line_of_therapy,
    prior_immunotherapy,
)
from trialfinder.facets.text import Arm, Intervention, TrialText, segment


def trial(
    inclusion: str = "",
    exclusion: str = "",
    *,
    criteria: str = "",
    title: str = "Study",
    conditions: tuple[str, ...] = ("Cancer",),
    keywords: tuple[str, ...] = (),
) -> TrialText:
    crit = criteria or f"Inclusion Criteria:\n\n{inclusion}\n\nExclusion Criteria:\n\n{exclusion}"
    return TrialText(
        "NCT00000000",
        title=title,
        conditions=conditions,
        keywords=keywords,
        criteria=crit,
        inclusion=inclusion,
        exclusion=exclusion,
    )


# ------------------------------------------------------------------------------ prior immunotherapy


def test_prior_immunotherapy__exclusion_names_checkpoint_antibodies() -> None:
    # NCT02899299 (CheckMate 743)
    sent = "Prior treatment with an anti-PD-1, anti-PD-L1, anti-PD-L2 oranti-CTLA-4 antibody"
    r = prior_immunotherapy(
        trial(
            "* Histologically confirmed pleural malignant mesothelioma",
            f"* Prior chemotherapy for pleural mesothelioma\n* {sent}",
        )
    )
    assert r.value == "excluded"
    assert r.evidence == (sent,)


def test_prior_immunotherapy__washout_only_is_unstated() -> None:
    # NCT00003508 (PDQ style, no headings)
    crit = (
        "PRIOR CONCURRENT THERAPY:\n\nBiologic therapy:\n\n-  At least 4 weeks since prior immunotherapy and "
        "recovered\n\nChemotherapy:\n\n-  At least 4 weeks since prior chemotherapy"
    )
    r = prior_immunotherapy(trial(criteria=crit))
    assert r.value == "unstated" and r.evidence == ()


def test_prior_immunotherapy__negated_inclusion_excludes() -> None:
    # NCT03054298
    inc = (
        "3. Failure of at least one prior standard of care chemotherapy for advanced stage disease. Prior "
        "therapies against PD-1 or PDL-1 are NOT permissible."
    )
    r = prior_immunotherapy(trial(inc, "1. Sarcomatoid mesothelioma histology"))
    assert r.value == "excluded"
    assert r.evidence == ("Prior therapies against PD-1 or PDL-1 are NOT permissible.",)


def test_prior_immunotherapy__required_by_inclusion() -> None:
    # NCT04791839
    sent = (
        "Previously treated with at least one line of therapy including an immune checkpoint blocker and no "
        "more than 2 prior lines in the metastatic setting."
    )
    r = prior_immunotherapy(
        trial(
            f"* Histologically confirmed metastatic squamous or non-squamous non-small cell "
            f"lung cancer.\n* {sent}",
            "* History of prior solid organ transplantation",
        )
    )
    assert r.value == "required"
    assert line_of_therapy(trial(f"* {sent}")).value == "previously_treated"


def test_prior_immunotherapy__explicitly_allowed() -> None:
    # NCT03710876 (INFINITE)
    inc = (
        "5. Has failed a minimum of 1 treatment regimen and a maximum of 2 treatment regimens, "
        "which may have "
        "been chemotherapeutic and/or immunotherapeutic treatment regimens for MPM which included at least 1 "
        "anti-folate and platinum combination regimen."
    )
    assert prior_immunotherapy(trial(inc)).value == "allowed"


def test_prior_immunotherapy__cohorts_require_and_exclude_gives_allowed() -> None:
    # NCT04995523
    inc = (
        "* Part A and Part B: Confirmed progression during treatment with a CPI-including regimen.\n"
        "* Part C and Part D: No prior I/O treatment for metastatic NSCLC."
    )
    r = prior_immunotherapy(trial(inc, "* Previous treatment with an anti-TIGIT therapy"))
    assert r.value == "allowed"
    assert all(p in inc for p in r.evidence)


def test_prior_immunotherapy__treatment_naive_excludes() -> None:
    # NCT04262856
    sent = (
        "Histologically confirmed, treatment naive, metastatic squamous or non-squamous NSCLC "
        "with documented "
        "high PD-L1 expression, with no epidermal growth factor receptor (EGFR) or anaplastic "
        "lymphoma kinase "
        "(ALK) genomic tumor aberrations."
    )
    t = trial(f"* {sent}")
    assert prior_immunotherapy(t).value == "excluded"
    assert line_of_therapy(t).value == "first_line"
    assert advanced_disease(t).value == "yes"


def test_prior_immunotherapy__long_window_is_an_exclusion() -> None:
    # NCT06860815: a 12-month window is not a mere washout
    r = prior_immunotherapy(
        trial("* Patients with metastatic breast cancer", "* Prior immunotherapy in the past 12 months")
    )
    assert r.value == "excluded"


def test_prior_immunotherapy__allergen_immunotherapy_is_not_cancer_io() -> None:
    # NCT00267202 (allergic asthma)
    t = trial(
        "* History of at least moderate persistent allergic asthma",
        "* History of treatment with immunotherapy to any allergen within past 3 years",
    )
    assert prior_immunotherapy(t).value == "unstated"


def test_prior_immunotherapy__toxicity_clause_is_not_an_exclusion() -> None:
    # NCT05253105
    t = trial(
        "* Advanced solid tumors",
        "* History of immune-related AE resulting in discontinuation of prior immunotherapy.",
    )
    assert prior_immunotherapy(t).value == "unstated"


def test_prior_immunotherapy__systemic_steroids_do_not_count() -> None:
    # NCT06646627
    t = trial(
        "* Recurrent ovarian cancer",
        "2. Requirement for systemic corticosteroid therapy at doses higher "
        "than physiologic maintenance dosing",
    )
    assert prior_immunotherapy(t).value == "unstated"


# ------------------------------------------------------------------------------ advanced disease


def test_advanced_disease__not_eligible_for_curative_surgery() -> None:
    # NCT02899299
    sent = "Histologically confirmed pleural malignant mesothelioma not eligible for curative surgery"
    r = advanced_disease(trial(f"* Males and Females at least 18 years of age\n* {sent}"))
    assert r.value == "yes" and r.evidence == (sent,)


def test_advanced_disease__non_metastatic_resectable_is_no() -> None:
    # NCT05127824
    sent = (
        "1. Histologically proven clear cell renal cancer that is non-metastatic and amenable to surgical "
        "resection with no evidence of metastatic disease or lesions outside of the kidney."
    )
    r = advanced_disease(trial(sent, "2. Known or suspected metastatic disease."))
    assert r.value == "no"


def test_advanced_disease__liver_metastases_lab_line_is_not_evidence() -> None:
    # NCT04323202: ULN line mentions liver metastases; the trial is neoadjuvant for resectable disease
    inc = (
        "* Aspartate aminotransferase (serum glutamic oxaloacetic transaminase) [AST (SGOT)] and alanine "
        "aminotransferase --- <= 2.5 × ULN (≤5 × ULN for participants with liver metastases)"
    )
    t = trial(
        inc, title="Neoadjuvant-Adjuvant Pembrolizumab in Resectable Advanced Basal Cell Carcinoma of H&N"
    )
    assert advanced_disease(t).value == "no"


def test_advanced_disease__silent_criteria_use_title() -> None:
    t = trial("* Age 18 or over", title="A Study of AB154 in Participants With Advanced Malignancies")
    r = advanced_disease(t)
    assert r.value == "yes" and r.evidence == ("A Study of AB154 in Participants With Advanced Malignancies",)


def test_advanced_disease__non_cancer_trial_is_unknown() -> None:
    t = trial(
        "* History of at least moderate persistent allergic asthma",
        conditions=("Allergic Asthma",),
        title="Omalizumab and Specific Immunotherapy in Allergic Asthma",
    )
    assert advanced_disease(t).value == "unknown"


# ------------------------------------------------------------------------------ line of therapy


def test_line_of_therapy__no_more_than_one_prior_regimen_is_any() -> None:
    # NCT00006014 (PDQ style)
    crit = (
        "PRIOR CONCURRENT THERAPY:\n\n-  No more than 1 prior systemic chemotherapy regimen\n\n-  At least 4 "
        "weeks since prior systemic chemotherapy and recovered"
    )
    assert line_of_therapy(trial(criteria=crit)).value == "any"


def test_line_of_therapy__no_prior_chemotherapy_is_first_line() -> None:
    # NCT00003723 (PDQ style)
    crit = "PRIOR CONCURRENT THERAPY: Biologic therapy: Not specified Chemotherapy: No prior\nchemotherapy"
    t = trial(criteria=crit)
    assert line_of_therapy(t).value == "first_line"
    assert prior_immunotherapy(t).value == "unstated"  # "no prior chemotherapy" does not name immunotherapy


def test_line_of_therapy__early_disease_is_unknown() -> None:
    # NCT03661047: stage I-III colon cancer before surgery
    inc = (
        "Participants have histologically confirmed adenocarcinoma of the colon that is localized, with no "
        "evidence of distant metastasis (stage I, II, or III), and for which surgical resection "
        "of the primary "
        "tumor is being planned;"
    )
    t = trial(inc, "Prior systemic or radiotherapy treatment for colorectal cancer.")
    assert advanced_disease(t).value == "no"
    assert line_of_therapy(t).value == "unknown"
    assert prior_immunotherapy(t).value == "excluded"


# ------------------------------------------------------------------------------ histology / biomarkers


def test_histology__sites_and_subtypes() -> None:
    # NCT03054298
    inc = (
        "- Malignant pleural and peritoneal mesothelioma (histologically confirmed epithelial)\n"
        "2. Confirmation of tumor mesothelin expression (≥50% of tumor cells)"
    )
    exc = (
        "1. Sarcomatoid mesothelioma histology which is known in the literature to not express mesothelin; "
        "biphasic mesothelioma is also excluded."
    )
    t = trial(inc, exc, conditions=("Mesotheliomas Pleural", "Mesothelioma Peritoneum"))
    r = histology(t)
    assert r.value == (["pleural", "peritoneal"], ["epithelioid"])
    assert r.evidence == (
        "Malignant pleural and peritoneal mesothelioma (histologically confirmed epithelial)",
    )
    assert biomarkers(t).value == ["mesothelin"]


def test_histology__excluded_sites_are_not_listed() -> None:
    # NCT02899299
    t = trial(
        "- Histologically confirmed pleural malignant mesothelioma not eligible for curative surgery",
        "- Primitive peritoneal, pericardial and tunica vaginalis testis mesotheliomas",
        conditions=("Mesothelioma",),
    )
    assert histology(t).value == (["pleural"], [])


def test_histology__non_mesothelioma_trial_is_empty() -> None:
    t = trial("* Histologically confirmed pleural effusion from lung cancer", conditions=("Lung Cancer",))
    assert histology(t).value == ([], [])
    assert biomarkers(t).value == []


def test_biomarkers__testing_only_is_not_required() -> None:
    # NCT04334759 (DREAM3R)
    t = trial(
        "- Tumour tissue (Formalin-Fixed Paraffin-Embedded [FFPE]) available from diagnostic biopsy for "
        "PD-L1 testing and other correlative biomarker testing at a central laboratory.",
        conditions=("Pleural Mesothelioma",),
    )
    assert biomarkers(t).value == []


# ------------------------------------------------------------------------------ robustness

_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=400)


@settings(max_examples=150, deadline=None)
@given(inc=_text, exc=_text, crit=_text, title=_text, name=_text, desc=_text)
def test_facets_for_trial__never_crash_and_evidence_is_substring(
    inc: str, exc: str, crit: str, title: str, name: str, desc: str
) -> None:
    t = TrialText(
        "NCT00000000",
        title=title,
        conditions=("Mesothelioma",),
        criteria=crit,
        inclusion=inc,
        exclusion=exc,
        interventions=(Intervention("DRUG", name, desc, (), ()),),
    )
    row, _ = facets_for_trial(t)
    for col, value in row.items():
        if col.endswith("_evidence") and value:
            for piece in str(value).split(EVIDENCE_SEP):
                assert t.contains(piece), (col, piece)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=600))
def test_segment__items_are_verbatim_slices(text: str) -> None:
    for item in segment(text):
        assert item.text and item.text in text


@pytest.mark.parametrize("criteria", ["", "Inclusion Criteria:", "\n\n\n", "Exclusion Criteria: none"])
def test_facets_for_trial__degenerate_criteria(criteria: str) -> None:
    row, arms = facets_for_trial(trial(criteria=criteria))
    assert row["prior_immunotherapy"] == "unstated" and arms == []


# ------------------------------------------------ second round of rules (dev / first held-out misses)


def test_prior_immunotherapy__unrecovered_adverse_events_of_prior_therapy_are_not_an_exclusion() -> None:
    # NCT05199753: names all prior anti-tumour therapy, but only its unresolved toxicity
    t = trial(
        "* Advanced solid tumours",
        "Any adverse event from prior anti-tumour therapy has not yet recovered to ≤grade 1 of CTCAE v5.0",
    )
    assert prior_immunotherapy(t).value == "unstated"
    # a real exclusion of prior anticancer therapy still excludes (NCT03661047, quoted above)
    t2 = trial("* Advanced solid tumours", "Prior systemic or radiotherapy treatment for colorectal cancer.")
    assert prior_immunotherapy(t2).value == "excluded"


def test_prior_immunotherapy__heading_item_decides_nothing() -> None:
    # NCT06951243: a heading over washout-only sub-items
    exc = (
        "Prior anticancer therapies:\n\n"
        "* Received chemotherapy within 3 weeks before the first administration of the study drug.\n"
        "* Received radiotherapy, radioactive seed implantation (except palliative bone radiotherapy or "
        "local radiotherapy within 2 weeks before the first dose), biologic therapy, endocrine therapy, "
        "immunotherapy, or other anticancer therapies within 4 weeks prior to the first dose"
    )
    assert prior_immunotherapy(trial("* Metastatic neuroendocrine carcinoma", exc)).value == "unstated"


@pytest.mark.parametrize(
    "sentence",
    [
        # NCT06620822
        "Previous or current interstitial pneumonitis/lung disease requiring systemic hormone therapy;",
        # NCT05537740
        "* Uncontrolled intercurrent illness requiring systemic treatment or solid organ transplant.",
        # NCT06852573
        "Other untreated malignant tumors within the previous 5 years or concurrently, except cervical "
        "cancer in situ, basal cell carcinoma of the skin, and ductal carcinoma in situ of the breast;",
    ],
)
def test_prior_immunotherapy__systemic_therapy_for_another_condition_is_not_an_exclusion(
    sentence: str,
) -> None:
    assert prior_immunotherapy(trial("* Metastatic solid tumours", sentence)).value == "unstated"


def test_prior_immunotherapy__untreated_named_cancer_is_treatment_naive() -> None:
    # NCT04303169 (inclusion)
    sent = "* Has been untreated for Stage IIIB, IIIC or IIID melanoma"
    r = prior_immunotherapy(trial(f"* Has histologically or cytologically confirmed melanoma\n{sent}"))
    assert r.value == "excluded" and r.evidence == (sent.removeprefix("* "),)


def test_advanced_disease__failed_prior_regimens_is_advanced() -> None:
    # NCT03710876 (INFINITE)
    sent = (
        "Has failed a minimum of 1 treatment regimen and a maximum of 2 treatment regimens,\n    which "
        "may have been chemotherapeutic and/or immunotherapeutic treatment regimens for\n    MPM which "
        "included at least 1 anti-folate and platinum combination regimen"
    )
    r = advanced_disease(trial(f"* Has a confirmed histological diagnosis of MPM\n* {sent}"))
    assert r.value == "yes" and r.evidence == (sent,)


def test_advanced_disease__maintenance_after_first_line_chemotherapy_is_advanced() -> None:
    # NCT03610360 (DENIM), PDQ-like text without headings
    sent = (
        "Subjects will only be included with a histologically confirmed diagnosis of pleural\nmalignant "
        "mesothelioma, who are non-progressive after 4 to 6 cycles with first line\nchemotherapy with "
        "antifolate/platinum."
    )
    r = advanced_disease(trial(criteria=sent))
    assert r.value == "yes" and r.evidence == (sent,)


def test_line_of_therapy__failure_with_intolerable_toxicity_is_previously_treated() -> None:
    # NCT06951243: "toxicity" here defines the failure, it is not a recovery clause
    sent = (
        "* Failure of at least one prior platinum-based standard therapy (disease progression or intolerable "
        "toxicity), or"
    )
    r = line_of_therapy(trial(f"Prior Treatment:\n{sent}"))
    assert r.value == "previously_treated" and r.evidence == (sent.removeprefix("* "),)
    # a recovery clause still says nothing about lines (NCT05199753)
    t = trial("* Advanced solid tumours", "")
    t2 = trial(
        "* Advanced solid tumours",
        "Any adverse event from prior anti-tumour therapy has not yet recovered to ≤grade 1 of CTCAE v5.0",
    )
    assert line_of_therapy(t).value == line_of_therapy(t2).value == "unknown"


def test_line_of_therapy__requirement_of_one_tumour_type_with_a_cap_is_any() -> None:
    # NCT00002608 (PDQ style): only thyroid-cancer patients must be pretreated
    crit = (
        "DISEASE CHARACTERISTICS:\n\n-  Patients with thyroid cancer must have failed radioactive iodine\n\n"
        "PRIOR CONCURRENT THERAPY:\n\n-  No more than 1 prior chemotherapy regimen"
    )
    assert line_of_therapy(trial(criteria=crit)).value == "any"
    # NCT04432649: "Patients with tumors" is every patient, so the requirement binds all
    inc = (
        "* Patients with tumors have received standard first-line therapy and have been judged to be "
        "non-resectable, metastatic, progressive or recurrent.\n"
        "* Prior Therapy: 1) There is no limit to the number of prior treatment regimens"
    )
    assert line_of_therapy(trial(inc)).value == "previously_treated"


# ------------------------------------------------------- third round of rules (dev2 misses)


def test_prior_immunotherapy__including_immunotherapy_in_an_exclusion_lists_what_is_excluded() -> None:
    # NCT05394337
    sent = "Any prior therapy for urothelial cancer, including immunotherapy, chemotherapy, or radiotherapy"
    inc = "4. Histologically or cytologically confirmed proof of muscle invasive urothelial cancer."
    r = prior_immunotherapy(trial(inc, f"2. {sent}"))
    assert r.value == "excluded" and r.evidence == (sent,)


def test_prior_immunotherapy__exclusion_scoped_to_some_cohorts_is_allowed() -> None:
    # NCT05483400: the exclusion binds cohorts 1, 2 and 4; the contraindication clause names the study
    # drugs but is not about prior immunotherapy
    exc = (
        "* Prior immune checkpoint inhibitor treatment, including but not limited to anti-PD1 and anti-PD-L1 "
        "antibodies (only for cohort 1, 2 and 4).\n"
        "* Any other diseases, metabolic dysfunction, physical examination finding, or clinical laboratory "
        "finding giving reasonable suspicion of a disease or condition that contraindicates the use "
        "atezolizumab and tiragolumab, or that may affect the interpretation of the results or render the "
        "patient at high risk from complications."
    )
    r = prior_immunotherapy(trial("* Measurable disease, as defined by RECIST v1.1.", exc))
    assert r.value == "allowed"
    unscoped = exc.replace(" (only for cohort 1, 2 and 4)", "")
    t = trial("* Measurable disease, as defined by RECIST v1.1.", unscoped)
    assert prior_immunotherapy(t).value == "excluded"


def test_prior_immunotherapy__curability_clause_is_not_about_prior_therapy() -> None:
    # NCT06953089 (inclusion)
    inc = (
        "* For HNSCC patients: Histologically or cytologically confirmed recurrent (recurrent disease that "
        "is not amendable to curative treatment with local/ or systemic therapies)/ (disseminated) HNSCC of "
        "the oral cavity, oropharynx, hypopharynx, and larynx that is considered incurable by local "
        "therapies."
    )
    assert prior_immunotherapy(trial(inc)).value == "unstated"


def test_prior_immunotherapy__non_cancer_trial_is_unstated() -> None:
    # NCT05695261 (peanut allergy): oral immunotherapy is not cancer immunotherapy
    t = trial(
        "* Peanut allergy",
        "* Patients who have received peanut oral immunotherapy within the past 6 months (Part A only).",
        conditions=("Peanut Allergy",),
        title="Peanut Allergy Study",
    )
    assert prior_immunotherapy(t).value == "unstated"
    assert line_of_therapy(t).value == "unknown"


def test_prior_immunotherapy__drug_induced_event_history_is_a_toxicity_clause() -> None:
    # sentence from NCT02596321 (an angioedema trial), placed in a cancer trial for this test
    t = trial(
        "* Metastatic solid tumours",
        "* A history of drug induced (incl. immunotherapy) facial angioedema or a family (parents and "
        "siblings) history of hereditary angioedema",
    )
    assert prior_immunotherapy(t).value == "unstated"


def test_line_of_therapy__acronym_for_disease_must_be_upper_case() -> None:
    # NCT05101070: "for any indication" is not "for NSCLC"; the CRC parts require progression
    inc = (
        "5. (Part B CRC cohorts only) Participants must have histologically or cytologically confirmed "
        "adenocarcinoma of the colon or rectum, who had disease progression on or after receiving all of the "
        "following standard of care systemic therapies for advanced or metastatic disease"
    )
    t = trial(inc, "20. Prior treatment with anti-CCR8 antibody for any indication.")
    assert line_of_therapy(t).value == "previously_treated"
    # an upper-case disease acronym still marks first line (wording of NCT06627647-style exclusions)
    t2 = trial("* Stage IV NSCLC", "* Any prior systemic therapy received for advanced or mNSCLC.")
    assert line_of_therapy(t2).value == "first_line"


def test_line_of_therapy__standard_treatment_proven_ineffective_is_previously_treated() -> None:
    # NCT05276609
    sent = (
        "2. Histologically or cytologically confirmed, locally advanced or metastatic solid tumors for which "
        "standard treatment either does not exist or has proven ineffective or unavailable or intolerable"
    )
    assert line_of_therapy(trial(sent)).value == "previously_treated"


def test_advanced_disease__recurrence_after_front_line_beats_a_resectability_item() -> None:
    # NCT05474378: recurrent GBM, resection planned as standard of care
    inc = (
        "* Histologically confirmed high grade (WHO Grade IV) glioma including but not limited to "
        "glioblastoma. Patients must also have evidence of tumor recurrence/progression by MRI (RANO "
        "criteria) after standard front-line therapy. b. First recurrence or progressive disease after a "
        "standard line therapy.\n"
        "* Resectable disease: Resection is being considered as part of the standard of care for the "
        "patient and it is thought that it is feasible that a majority of contrast-enhancing tumor "
        "mass/signal can be resected."
    )
    t = trial(inc)
    assert advanced_disease(t).value == "yes"
    assert line_of_therapy(t).value == "previously_treated"


def test_advanced_disease__arm_for_advanced_disease_beside_a_resectable_cohort() -> None:
    # NCT05483400: criteria describe only the resectable HNSCC cohort; an arm is for metastatic disease
    inc = (
        "* For the head and neck squamous cell carcinoma cohort specific eligibility criteria apply:\n\n"
        "  1. clinical T2-4a, or node positive resectable HPV-unrelated HNSCC (oral cavity, larynx, "
        "hypopharynx, p16-negative oropharynx or p16 negative unknown primary)"
    )
    arms = (
        Arm("Localized Head and Neck Squamous Cell Cancer", "EXPERIMENTAL", "", ()),
        Arm("Advanced or Metastatic dMMR/MSI Cancer", "EXPERIMENTAL", "", ()),
    )
    t = dataclasses.replace(trial(inc), arms=arms)
    r = advanced_disease(t)
    assert r.value == "yes" and r.evidence == ("Advanced or Metastatic dMMR/MSI Cancer",)
    assert advanced_disease(dataclasses.replace(t, arms=arms[:1])).value == "no"


# ------------------------------------------------------- round 4: where a criterion sits (contexts)


def test_contexts__scope_headings_and_parent_lines() -> None:
    # NCT04047862 (headings) and NCT03739710 (a parent line with sub-items), quoted
    crit = (
        "Phase 1 Key Exclusion Criteria:\n\n1. Received prior therapies targeting TIGIT.\n\n"
        "Phase 1b Key Exclusion Criteria:\n\n1. Participants with any prior therapy for recurrent/metastatic "
        "disease.\n\n* Toxicity from previous anticancer treatment that includes:\n\n"
        "1. History of myocarditis of any grade during a previous treatment with immunotherapy\n\n"
        "* Active infection requiring systemic therapy"
    )
    items = segment(crit, "", crit)
    ctx = {it.flat: c for it, c in zip(items, contexts(items), strict=True)}
    assert ctx["Received prior therapies targeting TIGIT."].scope == "phase 1"
    assert ctx["Participants with any prior therapy for recurrent/metastatic disease."].scope == "phase 1b"
    myo = ctx["History of myocarditis of any grade during a previous treatment with immunotherapy"]
    assert myo.parent == "* Toxicity from previous anticancer treatment that includes:"
    # the next top-level bullet ends the parent's reach
    assert ctx["* Active infection requiring systemic therapy"].parent == ""


def test_prior_immunotherapy__exclusion_under_one_part_heading_is_allowed() -> None:
    # NCT04047862: treatment-naive only in phase 1b; phase 1 takes pretreated patients
    inc = ("Phase 1 Key Inclusion Criteria\n\n4. Phase 1- Participants with histologically or cytologically "
           "confirmed advanced, metastatic, unresectable solid tumors who had previously received standard "
           "systemic therapy or for which treatment is not available, not tolerated or refused.")
    exc = ("Phase 1 Key Exclusion Criteria:\n\n5. Received prior therapies targeting TIGIT.\n\n"
           "Phase 1b Key Exclusion Criteria:\n\n"
           "1. Participants with any prior therapy for recurrent/metastatic disease.")
    r = prior_immunotherapy(trial(inc, exc))
    assert r.value == "allowed"
    assert r.evidence == ("Participants with any prior therapy for recurrent/metastatic disease.",)
    # test-only variation: without the part headings the same exclusion binds everyone
    flat = exc.replace("Phase 1 Key Exclusion Criteria:\n\n", "")
    flat = flat.replace("Phase 1b Key Exclusion Criteria:\n\n", "")
    plain = inc.replace("Phase 1 Key Inclusion Criteria\n\n", "")
    assert prior_immunotherapy(trial(plain, flat)).value == "excluded"


def test_prior_immunotherapy__exception_for_a_cohort_is_allowed() -> None:
    # NCT06362252
    sent = ("Has received prior treatment with CD137 agonists or ICIs, including anti-cytotoxic T-cell "
            "lymphocyte-4, anti-PD-1, and anti-PD-L1 therapeutic antibodies, except for atezolizumab for "
            "Cohort 1.")
    assert prior_immunotherapy(trial("* Measurable disease", f"* {sent}")).value == "allowed"
    assert prior_immunotherapy(trial("* Measurable disease", "* " + sent.split(", except")[0] + ".")).value \
        == "excluded"


def test_prior_immunotherapy__sub_items_inherit_toxicity_and_contraception_parents() -> None:
    # NCT03739710: an irAE history under a toxicity heading; NCT06346197: a contraception period
    tox = ("* Toxicity from previous anticancer treatment that includes:\n\n"
           "1. History of myocarditis of any grade during a previous treatment with immunotherapy")
    assert prior_immunotherapy(trial("* Measurable disease", tox)).value == "unstated"
    contra = ("* Male patients must agree to use highly effective contraception until:\n\n"
              "* 5 months after the end of the treatment with nivolumab or botensilimab or Balstilimab")
    excl = "* Patients previously treated by anti-PD-1, anti-PD-L1, or anti-CTLA-4 or any other immunotherapy"
    r = prior_immunotherapy(trial(contra, excl))
    assert r.value == "excluded" and r.evidence == (excl[2:],)


def test_prior_immunotherapy__current_or_planned_therapy_is_not_prior_therapy() -> None:
    # NCT04077866 and NCT06532539
    for sent in ("Participant is undergoing or planning to take other anti-tumor therapies",
                 "Subjects who may receive other systemic anti-tumor therapies during the study period."):
        assert prior_immunotherapy(trial("* Advanced solid tumour", f"* {sent}")).value == "unstated"


def test_prior_immunotherapy__with_or_without_checkpoint_therapy_is_allowed() -> None:
    # NCT06657144
    sent = ("Progressed during or after first line systemic therapy including a doublet of platinum and "
            "fluoropyrimidine or paclitaxel with or without anti-PD-1/PD-L1-directed therapy or anti-CTLA-4 "
            "and anti-PD-1/PD-L1-directed combination therapy.")
    exc = "* Received ≥ 2 prior systemic anticancer therapies for advanced or metastatic disease."
    r = prior_immunotherapy(trial(f"* {sent}", exc))
    assert r.value == "allowed" and r.evidence == (sent,)
    # a count of earlier lines is a cap, not "treatment-naive"
    assert prior_immunotherapy(trial("* Measurable disease", exc)).value == "unstated"


def test_prior_immunotherapy__participant_is_not_a_part_label() -> None:
    # NCT05809895: "Participant" once matched "Part" + a letter and made the exclusion cohort-limited
    sent = ("Participant has received prior treatment with immunotherapy in the metastatic setting, or "
            "anti-T cell immunoreceptor with Ig and ITIM domains (TIGIT) therapy in any setting")
    assert prior_immunotherapy(trial("* Measurable disease", f"* {sent}")).value == "excluded"


def test_prior_immunotherapy__untreated_operable_disease_is_not_treatment_naive_for_advanced() -> None:
    # NCT03342417 (a surgical cohort beside metastatic ones)
    sent = ("the disease is previously untreated, operable, and intend to undergo surgery (e.g., a "
            "mastectomy or lumpectomy) after completion of neoadjuvant therapy")
    assert prior_immunotherapy(trial(f"* {sent}")).value == "unstated"


def test_line_of_therapy__first_line_in_one_cohort_only_is_any() -> None:
    # NCT06825494, quoted; test-only variation: cohort A3/A4's own line criterion is left out, so only the
    # headings tell that the first-line item binds cohorts A1 and A2
    first = "No prior systemic therapy (including anti-HER-2 therapy) for advanced or metastatic GC/GEJC."
    inc = (f"Cohorts A1 and A2 must meet the following enrollment criteria:\n\n* {first}\n\n"
           "Cohorts A3 and A4 need to meet the following enrollment criteria:\n\n* ECOG 0-1")
    r = line_of_therapy(trial(inc, conditions=("Gastric Cancer",)))
    assert r.value == "any" and r.evidence == (first,)
    assert line_of_therapy(trial(f"* {first}", conditions=("Gastric Cancer",))).value == "first_line"


@pytest.mark.parametrize(
    "sent",
    [
        # NCT07213882: a reaction history, not a prior-therapy rule
        "History of anaphylactic reaction following vaccination or immunotherapy",
        # NCT06819735: unresolved side effects
        "Any unresolved AEs from previous anti-cancer therapies of grade ≥2, with the exception of alopecia.",
        # NCT05123482: a washout heading whose windows are in the sub-items
        "Any other anticancer treatment within the following time periods prior to the first dose of study "
        "intervention:",
        # NCT07099898: one drug class, not "any prior therapy"
        "Has received any prior therapy with an Antibody-drug conjugate (ADC) with a Topoisomerase-1 (TOPO1)-"
        "inhibitor payload or treatments targeting B7-H3.",
    ],
)
def test_prior_immunotherapy__exclusions_that_do_not_rule_out_prior_immunotherapy(sent: str) -> None:
    assert prior_immunotherapy(trial("* Measurable disease", f"* {sent}")).value == "unstated"


def test_prior_immunotherapy__exclusion_for_named_cohorts_is_allowed() -> None:
    # NCT04354246 (quoted): the exclusion names the cohorts it binds
    sent = ("For Triplet combination expansion cohorts (MSS-CRC and PROC): Prior treatment with an "
            "anti-PD-1/PD-L1/2, anti-CD96 antibody, anti-OX-40 antibody")
    assert prior_immunotherapy(trial("* Measurable disease", f"* {sent}")).value == "allowed"
    assert prior_immunotherapy(trial("* Measurable disease", "* " + sent.split(": ")[1])).value == "excluded"


# ------------------------------------------------------------- round 5: line of therapy (heldout3 misses)


@pytest.mark.parametrize(
    "sent",
    [
        # NCT06328036
        "Patients must have histologically confirmed IDH wildtype World Health Organization (WHO) grade IV "
        "glioblastoma at first or second relapse",
        # NCT04656535
        "First or second recurrence after treatment.",
        # NCT05706207
        "Patients with histologically or cytologically confirmed advanced malignant solid tumor who have "
        "been intolerant of all standard therapies or recurrence after all standard therapies, and there is "
        "no better treatment option.",
        # NCT06001255
        "Locally advanced or metastatic solid tumors confirmed by histology or cytology, for which standard "
        "treatment is invalid, unavailable or intolerable.",
        # NCT05327530 (maintenance after first-line chemotherapy)
        "Participants without progressive disease as per RECIST v1.1 guidelines following completion of 4 "
        "to 6 cycles of 1L chemotherapy",
    ],
)
def test_line_of_therapy__recurrence_and_maintenance_wording_is_previously_treated(sent: str) -> None:
    r = line_of_therapy(trial(f"* {sent}"))
    assert r.value == "previously_treated" and r.evidence == (sent,)


def test_line_of_therapy__with_or_without_after_a_requirement_is_previously_treated() -> None:
    # NCT04743661: "with or without prior chemotherapy" qualifies the required prior irradiation
    sent = ("Patients must have recurrent, progressive, or refractory medulloblastoma after prior "
            "craniospinal irradiation (CSI) therapy with or without prior chemotherapy")
    assert line_of_therapy(trial(f"* {sent}")).value == "previously_treated"
    # the same words alone still mean either
    either = trial("* Advanced solid tumour with or without prior systemic therapy")  # test-only sentence
    assert line_of_therapy(either).value == "any"


def test_line_of_therapy__no_prior_therapy_listed_as_an_exclusion_requires_pretreatment() -> None:
    # NCT04374877 (Part C exclusion): patients with no prior systemic therapy are the ones excluded
    exc = "* No prior systemic therapy for unresectable or metastatic disease"
    assert line_of_therapy(trial("* Measurable disease", exc)).value == "previously_treated"
    assert prior_immunotherapy(trial("* Measurable disease", exc)).value == "unstated"


# ------------------------------------------------------- round 6: prior immunotherapy (heldout4 misses)


@pytest.mark.parametrize(
    "sent",
    [
        # NCT04672369
        "Previous exposure to immune-mediated therapy; previous use of antitumor vaccine;",
        # NCT06773481
        "Having been previously exposed to any anti-TIGIT, PD-1, PD-L1 or CTLA-4 drugs;",
        # NCT04761198
        "Prior treatment with cluster of differentiation (CD) 137 agonists, anti-cytotoxic T-lymphocyte-"
        "associated protein 4 (CTLA-4) and anti-T-cell immunoreceptor with immunoglobulin (Ig) and "
        "immunoreceptor tyrosine-based inhibitory motif domains (TIGIT) antibodies",
    ],
)
def test_prior_immunotherapy__spelled_out_and_listed_checkpoint_targets_exclude(sent: str) -> None:
    r = prior_immunotherapy(trial("* Measurable disease", f"* {sent}"))
    assert r.value == "excluded" and r.evidence == (sent,)


def test_prior_immunotherapy__restated_exclusion_is_not_a_double_negative() -> None:
    # NCT05014815: "... were excluded" in an exclusion item does not turn it into a requirement
    sent = ("Participants who had received any prior therapies targeting T-cell costimulatory or checkpoint "
            "pathways (e.g., programmed cell death protein 1 [PD-1], programmed death-ligand 1 [PD-L1], or "
            "cytotoxic T-lymphocyte-associated protein 4 [CTLA-4]) for metastatic NSCLC were excluded.")
    assert prior_immunotherapy(trial("* Measurable disease", f"* {sent}")).value == "excluded"


def test_prior_immunotherapy__requirement_only_where_effective_is_allowed() -> None:
    # NCT04895709
    sent = ("Received standard-of-care therapies, (except for Part 1C, where participants with prior "
            "docetaxel use for the advanced/metastatic setting will be excluded), including an available "
            "programmed death (ligand)-1 inhibitor known to be effective in the tumor type")
    assert prior_immunotherapy(trial(f"* {sent}")).value == "allowed"


def test_prior_immunotherapy__arm_for_checkpoint_experienced_patients() -> None:
    # NCT05859464 (arm labels quoted; the criteria say nothing about prior immunotherapy)
    arms = (Arm("Part 2: Cohort Expansion; Prior CPI Therapy", "EXPERIMENTAL", "", ()),
            Arm("Part 2: Cohort Expansion; CPI therapy Naive", "EXPERIMENTAL", "", ()))
    t = dataclasses.replace(trial("* Measurable disease"), arms=arms)
    r = prior_immunotherapy(t)
    assert r.value == "allowed" and r.evidence == ("Part 2: Cohort Expansion; Prior CPI Therapy",)
    only = dataclasses.replace(t, arms=arms[:1])
    assert prior_immunotherapy(only).value == "required"
    # criteria that decide win over arm labels
    crit = trial("* Measurable disease", "* Prior treatment with immunotherapy.")  # test-only sentence
    excl = dataclasses.replace(crit, arms=arms)
    assert prior_immunotherapy(excl).value == "excluded"


# ------------------------------------------------- round 7: heldout5 misses (records from recorded API pages)


@pytest.mark.parametrize(
    "sent",
    [
        # NCT06620835: treatment-naive for one drug class only
        "Tyrosine Kinase Inhibitor (TKI) treatment naïve.",
        # NCT05651269: untreated with one drug
        "Documented KRAS G12C mutation and previously untreated with sotorasib",
    ],
)
def test_prior_immunotherapy__naive_to_one_drug_is_not_treatment_naive(sent: str) -> None:
    assert prior_immunotherapy(trial(f"* {sent}")).value == "unstated"
    # test-only sentence: naive to every therapy
    assert prior_immunotherapy(trial("* Treatment naïve.")).value == "excluded"


@pytest.mark.parametrize(
    "sent",
    [
        # NCT05786924: current treatment, not prior treatment
        "Actively receiving systemic treatment or direct medical intervention on another "
        "therapeutic clinical "
        "study.",
        # NCT05147467: one kind of immunotherapy
        "Prior history of allogeneic hematopoietic stem cell transplantation, adoptive cell immunotherapy or "
        "autologous hematopoietic stem cell transplantation within 24 months.",
    ],
)
def test_prior_immunotherapy__current_or_one_kind_is_unstated(sent: str) -> None:
    assert prior_immunotherapy(trial("* Measurable disease", f"* {sent}")).value == "unstated"


@pytest.mark.parametrize(
    "sent",
    [
        # NCT04318938
        "No prior therapy for metastatic ALK+ NSCLC including therapy with ALK inhibitors. However, 1 or 2 "
        "cycles of chemotherapy, chemo-immunotherapy or immunotherapy as well as cerebral irradiation before "
        "inclusion in the study will be allowed.",
        # NCT05999214
        "Has completed 2-4 cycles of first-line therapy (including chemotherapy, immunotherapy, chemotherapy "
        "combined with immunotherapy, chemotherapy combined with targeted therapy, etc.), and has "
        "SD assessed by "
        "RECIST 1.1 during the same period;",
        # NCT05438667
        "Non-small cell lung cancer: Recurrent/metastatic non-small cell lung cancer previously treated with "
        "platinum-based chemotherapy and/or immunotherapy and/or anti-angiogenic therapy",
    ],
)
def test_prior_immunotherapy__listed_options_permit(sent: str) -> None:
    assert prior_immunotherapy(trial(f"* {sent}")).value == "allowed"


def test_prior_immunotherapy__not_limited_to_is_not_a_negation() -> None:
    # NCT06944470 (under "Received any of the following ...:" in the exclusions)
    sent = ("Previous systemic antitumor therapy for NSCLC (including investigational drugs), such as "
            "chemotherapy or immunologically mediated therapy (including but not limited to "
            "anti-PD-1, anti-PD-L1, "
            "anti-CTLA-4 therapy) and anti-angiogenic therapy (such as anti-VEGF pathway-targeted drugs);")
    assert prior_immunotherapy(trial("* Stage III NSCLC", f"* {sent}")).value == "excluded"


def test_prior_immunotherapy__pd1_required_but_ctla4_excluded_for_everyone() -> None:
    # NCT04691388: a patient who had nivolumab + ipilimumab cannot join
    inc = ("* It is diagnosed as advanced (stage IV) non-small cell lung cancer by cytology or "
           "histology, and the "
           "disease has progressed after receiving PD-1 antibody treatment in the past")
    exc = ("* Previously received Anlotinib hydrochloride treatment and other immunotherapy: "
           "including but not "
           "limited to anti-CTLA-4 antibody, anti-OX40 antibody and anti-CD137 antibody treatment and other "
           "immunotherapy;")
    assert prior_immunotherapy(trial(inc, exc)).value == "excluded"
    assert prior_immunotherapy(trial(inc)).value == "required"


def test_prior_immunotherapy__some_parts_of_the_study_is_scoped() -> None:
    # test-only sentence built on NCT04956640's scoping words ("For some parts of the study, (i.e., ...)")
    sent = ("For some parts of the study, (i.e., one of the two arms with LY3537982 in combination with "
            "pembrolizumab), prior treatment with an anti-PD-1 or anti-PD-L1 therapy.")
    assert prior_immunotherapy(trial("* Measurable disease", f"* {sent}")).value == "allowed"


@pytest.mark.parametrize(
    ("inc", "expected"),
    [
        # NCT06411691
        ("* Cohort A: Have received 4-6 months of FOLFIRINOX or gemcitabine+nab-paclitaxel for the 1st line "
         "treatment of metastatic unresectable PDAC.", "previously_treated"),
        # NCT04007835
        ("* Patients should be using the EGFR TKI monotherapy as the first line treatment and meet "
         "the following "
         "criteria:", "previously_treated"),
        # NCT04318938
        ("* No prior therapy for metastatic ALK+ NSCLC including therapy with ALK inhibitors.", "first_line"),
    ],
)
def test_line_of_therapy__round7_wording(inc: str, expected: str) -> None:
    assert line_of_therapy(trial(inc)).value == expected


def test_advanced_disease__fish_is_not_a_carcinoma_in_situ() -> None:
    # NCT04318938: "fluorescence in situ hybridisation" made the item read as one about another cancer
    sent = ("Histologically confirmed locally advanced (stage III) and not suitable for curative treatment, "
            "i.e. R0 operation or definitive chemo-/radiation, or metastatic (stage IV) ALK+ NSCLC NOTE: "
            "Documentation of ALK rearrangement by a positive result of any ALK assay approved in Germany "
            "[i.e. positivity for at least one of the three: immunohistochemistry (IHC), NGS, fluorescence "
            "in situ hybridisation (FISH)] must be available at baseline")
    r = advanced_disease(trial(f"* {sent}", conditions=("Non-small Cell Lung Cancer",)))
    assert r.value == "yes" and r.evidence == (sent,)


def test_advanced_disease__non_operable_is_advanced() -> None:
    # NCT01562210
    sent = "Stage II/III non-operable disease, without malignant pleural effusion"
    assert advanced_disease(trial(f"* {sent}", conditions=("Non-small Cell Lung Cancer",))).value == "yes"


@pytest.mark.parametrize(
    ("conditions", "title", "cancer"),
    [
        # NCT02856893 (website CSV: conditions and title name the cancer only by its acronym)
        (("NSCLC",), "Osimertinib Treatment on EGFR T790M Plasma Positive NSCLC Patients (APPLE)", True),
        (("AML",), "Study", True),
        (("HCC",), "Study", True),
        # test-only: acronyms count only as written in capitals; other conditions stay non-cancer
        (("aml",), "Study", False),
        (("Asthma",), "Study of an inhaled corticosteroid", False),
    ],
)
def test_is_cancer_trial__cancer_acronyms(conditions: tuple[str, ...], title: str, cancer: bool) -> None:
    from trialfinder.facets.text import is_cancer_trial

    assert is_cancer_trial(TrialText("NCT00000000", title=title, conditions=conditions)) is cancer


# Round 8: titles, conditions and keywords quoted from the TREC 2022 mesothelioma-topic extract
# (../shared/ctgov/derived/trec2022-topic-meso, read after the first read of heldout6).
@pytest.mark.parametrize(
    ("title", "conditions", "expected"),
    [
        # NCT00789087, NCT03403855, NCT02649894: the effusion recurs; the stage is not said
        ("Talc Pleurodesis in Patients With Recurrent Malignant Pleural Effusion",
         ("Recurrent Malignant Pleural Effusion.",), "unknown"),
        ("Rocket® Pleural Catheters: QOL, Feasibility and Satisfaction in Recurrent MPE Patients",
         ("Malignant Pleural Effusion",), "unknown"),
        ("Safety and Effectiveness of a New Pleural Catheter for Symptomatic, Recurrent, MPEs Versus "
         "Approved Pleural Catheter", ("Malignant Pleural Effusion",), "unknown"),
        # NCT01409551: "Refractory" qualifies the effusion
        ("Video-assisted Hyperthermic Pleural Chemoperfusion vs Talc Pleurodesis for Refractory Malignant "
         "Pleural Effusions.", ("Safety of Intervention",), "unknown"),
        # NCT00690261: M1/M2 macrophages, not the M1 stage
        ("The Impact of M1/M2 Tumor Associated Macrophage (TAM) Polarization on Cancer Progression and "
         "Prognosis Prediction", ("Tumor", "Lung Cancer"), "unknown"),
        # NCT01766739: "Metastases" in the title
        ("Intra-pleural Administration of GL-ONC1, a Genetically Modified Vaccinia Virus, in Patients With "
         "Malignant Pleural Effusion: Primary, Metastases and Mesothelioma", ("Lung Cancer",), "yes"),
        # NCT01262612: palliative treatment
        ("Cediranib as Palliative Treatment in Patients With Symptomatic Malignant Ascites or Pleural "
         "Effusion", ("Malignant Ascites", "Malignant Pleural Effusion"), "yes"),
        # test-only variation of NCT00789087: a recurrent cancer still counts
        ("Talc Pleurodesis in Patients With Recurrent Mesothelioma", ("Pleural Effusion",), "yes"),
    ],
)
def test_advanced_disease__round8_titles(title: str, conditions: tuple[str, ...], expected: str) -> None:
    from trialfinder.facets.text import is_cancer_trial

    t = TrialText("NCT00000000", title=title, conditions=conditions)
    assert is_cancer_trial(t)  # so "unknown" comes from the rules, not from a non-cancer trial
    r = advanced_disease(t)
    assert r.value == expected
    assert r.evidence == ((title,) if expected == "yes" else ())


# ------------------------------------------------- round 9: heldout7 misses (v2 records, quoted verbatim)

def test_prior_immunotherapy__pd_l1_written_with_spaces_is_required() -> None:
    # NCT07099898 (the record's own "\>" escape kept)
    sent = ("Has received 1 prior platinum-based systemic therapy with a PD- (L)1 inhibitor with at least 2 "
            "cycles of therapy and a chemotherapy free-interval of \\>30 days, with documented progression")
    r = prior_immunotherapy(trial(f"* {sent}", conditions=("Small Cell Lung Cancer",)))
    assert r.value == "required" and r.evidence == (sent,)


def test_prior_immunotherapy__disease_directed_therapy_other_than_first_line_excludes() -> None:
    # NCT07428993: any prior therapy except first-line MAP chemotherapy rules out immunotherapy
    sent = ("Participant has received prior disease-directed therapy other than 1st line therapy with "
            "methotrexate, an anthracycline, and a platinum and local control surgery")
    r = prior_immunotherapy(trial("* Measurable disease", f"* {sent}", conditions=("Osteosarcoma",)))
    assert r.value == "excluded" and r.evidence == (sent,)


def test_prior_immunotherapy__criteria_for_one_tumour_type_are_scoped() -> None:
    # NCT06330064 (headings and items quoted, abridged): the checkpoint requirement sits under the EC
    # participants' heading; the PDAC participants' criteria say nothing of it
    req = ("Relapse or progression after a platinum-containing systemic treatment and an immune checkpoint "
           "inhibitor (ICI)-containing regimen (combined or sequential).")
    crit = ("Inclusion Criteria:\n\nCommon Inclusion Criteria for All Participants\n\n"
            "5. Has an Eastern Cooperative Oncology Group (ECOG) performance status of 0 or 1.\n\n"
            "Additional Inclusion Criteria for EC Participants\n\n"
            f"2. {req}\n\n"
            "Additional Inclusion Criterion for PDAC Participants\n\n"
            "1\\. Pathologically or cytologically documented unresectable or metastatic pancreatic "
            "adenocarcinoma\n\nExclusion Criteria:\n\n* Pregnancy")
    t = trial(criteria=crit, conditions=("Endometrial Cancer", "Pancreatic Ductal Adenocarcinoma"))
    r = prior_immunotherapy(t)
    assert r.value == "allowed" and r.evidence == (req,)
    ctx = contexts(segment(t.criteria, "", ""))
    assert "all participants" not in {c.scope for c in ctx}  # the common criteria bind everyone


def test_prior_immunotherapy__arm_description_for_checkpoint_experienced_patients() -> None:
    # NCT05537740 (arm labels and descriptions quoted; the criteria name immunotherapy only in a
    # toxicity clause)
    desc = ("BAY3375968 monotherapy-mode-of-action (monotherapy-MoA) expansion in subjects with one of the "
            "following tumor types: NSCLC, TNBC, HNSCC, or melanoma. The tumors should have primary "
            "(ICI-refractory) or secondary (ICI-relapsed) resistance to prior ICI-therapy. The final "
            "decision on the enrolled tumor type is at the discretion of the Sponsor.")
    arms = (Arm("Dose escalation - Arm 1A", "EXPERIMENTAL", "Dose escalation of BAY3375968 as monotherapy",
                ()),
            Arm("Dose expansion - Arm 2A", "EXPERIMENTAL", desc, ()))
    tox = "* Any prior immune-related toxicity (Grade 3 or 4) leading to discontinuation of immunotherapy."
    t = dataclasses.replace(trial("* Measurable disease", tox), arms=arms)
    r = prior_immunotherapy(t)
    assert r.value == "allowed"
    assert r.evidence == ("The tumors should have primary (ICI-refractory) or secondary (ICI-relapsed) "
                          "resistance to prior ICI-therapy",)
    # test-only variation: a negated description says nothing
    naive = Arm("Dose expansion - Arm 2A", "EXPERIMENTAL", "Subjects who have not received prior ICI-therapy",
                ())
    assert prior_immunotherapy(dataclasses.replace(t, arms=(arms[0], naive))).value == "unstated"


def test_advanced_disease__progressed_on_checkpoint_inhibitor_is_advanced() -> None:
    # NCT05130177: progression on anti-PD-1 makes the disease advanced; the sub-item about relapse after
    # adjuvant therapy does not make it an early-disease trial
    req = ("Participants must have progressed on treatment with an anti-PD-1/L1 mAb administered either as "
           "monotherapy or in combination with other checkpoint inhibitors or other therapies.")
    inc = (f"* {req} PD-1 treatment progression is defined by meeting all of the following criteria:\n\n"
           "  * Participants who progressed on/within 3 months of adjuvant therapy with anti-PD-(L)1 "
           "inhibitor will be allowed.")
    t = trial(inc, conditions=("Melanoma",))
    assert advanced_disease(t).value == "yes"
    assert line_of_therapy(t).value == "previously_treated"


def test_line_of_therapy__exhausted_standard_therapy() -> None:
    # NCT06003621 (the first item is a test-only sentence)
    sent = ("Exhausted all available standard therapy or not suitable for standard therapy (including "
            "targeted therapies) for the tumour.")
    t = trial(f"* Advanced solid tumour\n* {sent}", conditions=("Solid Tumor",))
    r = line_of_therapy(t)
    assert r.value == "previously_treated" and r.evidence == (sent,)
