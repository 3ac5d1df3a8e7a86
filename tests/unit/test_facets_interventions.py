"""intervention_classes: curated vocabulary, code names, generic descriptions, allergy products.

Every intervention below is copied from a real record (NCT ID in the comment); none is invented.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from trialfinder import normalize, sources
from trialfinder.errors import DataError
from trialfinder.facets.interventions import classify_trial, resolve, unresolved_interventions
from trialfinder.facets.text import Arm, Intervention, TrialText, is_cancer_trial, iter_trials
from trialfinder.facets.vocabulary import build, lookup


def iv(type_: str, name: str, description: str = "", other: tuple[str, ...] = ()) -> Intervention:
    return Intervention(type_, name, description, other, ())


def classes(i: Intervention, cancer: bool = True) -> list[str]:
    return resolve(i, cancer).classes


@pytest.mark.parametrize(
    ("intervention", "expected"),
    [
        # NCT02899299 (CheckMate 743)
        (iv("BIOLOGICAL", "Nivolumab", other=("BMS-936558", "Opdivo")), ["checkpoint_inhibitor"]),
        (iv("BIOLOGICAL", "Ipilimumab", other=("BMS-734016", "Yervoy")), ["checkpoint_inhibitor"]),
        # NCT03907852: code name of gavo-cel
        (iv("DRUG", "TC-210 T Cells", "TC-210 T Cells"), ["car_t"]),
        # NCT01675765: CRS-207 only in other names
        (
            iv(
                "BIOLOGICAL",
                "Immunotherapy plus chemotherapy",
                "live attenuated double deleted Lm",
                ("CRS-207", "Listeria", "pemetrexed", "cisplatin", "ALIMTA", "Platinol"),
            ),
            ["vaccine", "chemotherapy"],
        ),
        # NCT03610360 (DENIM)
        (
            iv(
                "DRUG",
                "MesoPher",
                "Subjects in Arm A will undergo leukapheresis to obtain monocytes from which "
                "dendritic cells will be generated.",
            ),
            ["vaccine"],
        ),
        # NCT03710876 (INFINITE): adenovirus carrying interferon = cytokine gene therapy
        (
            iv(
                "BIOLOGICAL",
                "rAd-IFN",
                "Adenovirus-Delivered Interferon Alpha-2b",
                ("Nadofaragene firadenovec",),
            ),
            ["immunomodulator"],
        ),
        (iv("DRUG", "Celecoxib Oral Product", "400 mg twice daily", ("COX II Inhibitor",)), ["other"]),
        # NCT05199753: a generic description
        (iv("DRUG", "An Anti-PD-1 Antibody", "Administered intravenously"), ["checkpoint_inhibitor"]),
        # NCT05199753: anti-CCR8 code name
        (iv("DRUG", "LM-108", "Administered intravenously"), ["other_immunotherapy"]),
        # NCT02628535: B7-H3 x CD3 DART is a T-cell engager
        (iv("BIOLOGICAL", "MGD009", "B7-H3 x CD3 DART protein", ("orlotamab",)), ["other_immunotherapy"]),
        # NCT06951243: B7-H3 ADC is targeted therapy, not immunotherapy
        (
            iv(
                "DRUG",
                "MHB088C for Injection (B7-H3 ADC)",
                "MHB088C for Injection, an antibody drug-conjugated molecule (ADC)",
            ),
            ["targeted_therapy"],
        ),
        # NCT04544592: CAR written inside a construct name
        (iv("DRUG", "CD19CAR-CD3Zeta-4-1BB-Expressing Autologous T-Lymphocyte Cells"), ["car_t"]),
        # NCT07307053
        (
            iv(
                "DRUG",
                "VSV injection",
                "VSV injection uses a genetically engineered vesicular stomatitis virus "
                "(designated OVV-00) with enhanced safety and oncolytic activity as a vector platform",
            ),
            ["oncolytic_virus"],
        ),
        (
            iv(
                "BIOLOGICAL",
                "Meta10-TIL",
                "Meta10-TIL is a metabolically enhanced tumor-infiltrating lymphocyte "
                "product genetically modified to autonomously secrete IL-10",
            ),
            ["other_cell_therapy"],
        ),
        # NCT00004547: heated perfusion is surgery + chemotherapy
        (
            iv(
                "PROCEDURE",
                "Continuous hyperthermic peritoneal perfusion (CHPP) with Cisplatin",
                other=("Platinol", "Cisplatinum"),
            ),
            ["chemotherapy", "surgery"],
        ),
        # NCT06860815
        (iv("PROCEDURE", "Magnetic Resonance Imaging", other=("Magnetic Resonance", "MRI")), ["other"]),
        (iv("RADIATION", "Transarterial Radioembolization", "Undergo TARE"), ["radiotherapy"]),
    ],
)
def test_resolve__real_interventions(intervention: Intervention, expected: list[str]) -> None:
    assert classes(intervention) == expected


def test_resolve__placebo_is_ignored() -> None:
    # NCT04746924
    r = resolve(iv("DRUG", "Placebo", "Placebo infusions will consist of a sterile, normal saline solution."))
    assert r.ignored and r.classes == []
    # NCT05809895 style "Tiragolumab Matching Placebo" (name seen in the v2 records)
    assert resolve(iv("DRUG", "Tiragolumab Matching Placebo")).ignored


def test_resolve__allergen_immunotherapy_is_other() -> None:
    # NCT00267202: allergy trial where the intervention is literally called "Immunotherapy"
    i = iv(
        "DRUG",
        "Immunotherapy",
        "Customized allergen extracts were prepared centrally for each patient based "
        "on his/her specific skin test results.",
    )
    assert classes(i, cancer=False) == ["other"]
    assert classes(
        iv("BIOLOGICAL", "Cockroach Sublingual Immunotherapy (SLIT) - High Dose"), cancer=False
    ) == ["other"]


def test_resolve__cancer_only_agents_outside_cancer() -> None:
    # IL-2 in a non-cancer record (NCT04387942) is not a cancer immunomodulator
    i = iv("DRUG", "IL-2", other=("Recombinant Human Interleukin-2 for Injection",))
    assert classes(i, cancer=False) == ["other"]
    assert classes(i, cancer=True) == ["immunomodulator"]


def test_resolve__gm_csf_inside_vaccine_is_adjuvant() -> None:
    # NCT04300244 (NIPU): "UV1 vaccine + leukine"
    i = iv(
        "BIOLOGICAL",
        "UV1 vaccine + leukine",
        "The mode of action of UV1 is to activate the immune system to "
        "induce T cells directed against telomerase (hTERT).",
    )
    assert classes(i) == ["vaccine"]
    # NCT00002475: sargramostim given on its own stays an immunomodulator
    assert classes(iv("BIOLOGICAL", "sargramostim")) == ["immunomodulator"]


def test_resolve__prior_treatment_sentences_do_not_add_classes() -> None:
    # sentence built from NCT04305041 text
    desc = "Patients who progressed on prior pembrolizumab receive the study drug."
    assert classes(iv("DRUG", "Lenvatinib", desc, ("MK-7902",))) == ["targeted_therapy"]


def test_resolve__evidence_is_verbatim_text() -> None:
    i = iv("DRUG", "Cadonilimab")  # name as in the v2 records
    r = resolve(i)
    assert [h.evidence for h in r.hits] == ["Cadonilimab"]
    assert "PD-1/CTLA-4" in r.hits[0].mechanism


@pytest.mark.parametrize(
    ("name", "canonical", "cls"),
    [
        ("Opdivo", "nivolumab", "checkpoint_inhibitor"),
        ("AK104", "cadonilimab", "checkpoint_inhibitor"),
        ("gavo-cel", "gavocabtagene autoleucel", "car_t"),
        ("TR002", "nadofaragene firadenovec", "immunomodulator"),
        ("ONCOS-102", "ONCOS-102", "oncolytic_virus"),
        ("MEDI4736", "durvalumab", "checkpoint_inhibitor"),
        ("tremelimumab", "tremelimumab", "checkpoint_inhibitor"),
        ("bevacizumab", "bevacizumab", "targeted_therapy"),
        ("galinpepimut-S", "galinpepimut-S", "vaccine"),
        ("UV1", "UV1", "vaccine"),
        ("BMS 936558", "nivolumab", "checkpoint_inhibitor"),
    ],
)
def test_lookup__clinical_facts_agents(name: str, canonical: str, cls: str) -> None:
    agent = lookup(name)
    assert agent is not None and agent.name == canonical and agent.cls == cls


def test_classify_trial__mesh_fallback_for_unresolved_drug() -> None:
    # NCT05142189 names only "Bispecific antibody for PD-L1 and VEGF-A"; a variant without that name
    # (test-only) must fall back to the record's MeSH terms.
    t = TrialText(
        "NCT00000000",
        title="A cancer trial",
        conditions=("Lung Cancer",),
        mesh_interventions=("Durvalumab",),
        interventions=(iv("DRUG", "XYZ-123"),),
    )
    result, _ = classify_trial(t)
    assert result.value == ["checkpoint_inhibitor", "other"]
    assert result.evidence == ("Durvalumab", "XYZ-123")


def test_classify_trial__arms_without_interventions() -> None:
    # NCT06221553 has no intervention entries; the arm description names the CAR-T product
    arm = Arm(
        "Locoregional delivery of B7H3/IL-7Ra CAR T cell in DIPG",
        "EXPERIMENTAL",
        "Patients with DIPG for whom CAR T cells will be delivered into the ventricular system",
        (),
    )
    t = TrialText(
        "NCT06221553",
        title="Safety and Efficacy of Loco-regional B7H3 IL-7Ra CAR T Cell in DIPG",
        conditions=("DIPG Brain Tumor",),
        arms=(arm,),
    )
    result, arms = classify_trial(t)
    assert result.value == ["car_t"]
    assert arms[arm.label].value == ["car_t"]


def test_build__unknown_class_is_rejected() -> None:
    with pytest.raises(DataError):
        build({"agent": [{"names": ["x"], "class": "magic"}], "other": [{"regex": "x"}]})


def test_vocabulary__file_parses_and_classes_valid() -> None:
    from importlib import resources

    text = resources.files("trialfinder").joinpath("data/interventions.toml").read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    assert len(doc["agent"]) > 150
    build(doc)  # raises on an unknown class


def test_vocabulary__covers_every_recorded_intervention(shared_dir: Path) -> None:
    """Every drug/biological in the 1,192 v2 studies and 24 classic XML files resolves to an entry or
    a pattern (nothing falls through to 'unresolved')."""
    result = sources.import_paths([shared_dir / "v2" / "studies", shared_dir / "classic-xml"])
    tables = normalize.normalize(result.studies)
    missing = [(t.nct_id, i.name) for t in iter_trials(tables) for i in unresolved_interventions(t)]
    assert len(result.studies) >= 1200
    assert missing == []


def test_vocabulary__covers_every_cancer_trial_agent_in_all_recorded_data(shared_dir: Path) -> None:
    """Every drug/biological of every cancer trial in ../shared/ctgov (also the API pages, downloads and
    the website CSV) resolves, except three names that are not agents: two arm labels recorded as
    interventions ("Group A", "Group B": EBV-specific T-cell lines) and "Preparative Regimen" (a
    transplant conditioning whose record names no drug)."""
    result = sources.import_paths([shared_dir])
    tables = normalize.normalize(result.studies)
    kinds = {"DRUG", "BIOLOGICAL", "GENETIC", "COMBINATION_PRODUCT", "RADIATION"}
    missing = {i.name for t in iter_trials(tables) if is_cancer_trial(t)
               for i in unresolved_interventions(t) if i.type.upper() in kinds}
    assert len(result.studies) >= 2000
    assert missing == {"Group A", "Group B", "Preparative Regimen"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # generic descriptions of the kind the brief and the records use
        ("autologous T cells transduced with a mesothelin CAR", ["car_t"]),
        ("anti-PD-1 monoclonal antibody", ["checkpoint_inhibitor"]),
        ("PD-L1 inhibitor", ["checkpoint_inhibitor"]),
        ("dendritic cell vaccine", ["vaccine"]),
        ("oncolytic adenovirus", ["oncolytic_virus"]),
        ("intrapleural interleukin-2", ["immunomodulator"]),
        ("CAR-NK cells", ["other_cell_therapy"]),
        # v2 record names: engineered T cells (not an antibody); a B7-H3 ADC
        ("Anti-PD-L1 CSR T cells", ["other_cell_therapy"]),
        ("anti-B7-H3 antibody conjugated to topoisomerase I inhibitor", ["targeted_therapy"]),
    ],
)
def test_resolve__generic_descriptions(name: str, expected: list[str]) -> None:
    assert classes(iv("BIOLOGICAL", name)) == expected


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("SYS6043", "targeted_therapy"),  # NCT07424547 summary: "a B7-H3-targeted antibody-drug conjugate"
        ("PM1021", "checkpoint_inhibitor"),  # NCT05537051 title: "PM1021 (Anti-TIGIT)"
        ("PM1009", "checkpoint_inhibitor"),  # record title: "PM1009 (Anti-TIGIT/PVRIG)"
        ("AZD6750", "immunomodulator"),  # record title: "AZD6750, a CD8 Guided IL-2 Agent"
        ("ILB-3101", "targeted_therapy"),  # record summary: "antibody-drug conjugate (ADC)"
        ("HRS-5041", "targeted_therapy"),  # record description: PROTAC targeting androgen receptors
        ("BAY3375968", "other_immunotherapy"),  # record title: "an Anti-CCR8 Antibody"
        ("BNT324", "targeted_therapy"),  # = DB-1311, B7-H3 ADC (was also listed in a catch-all entry)
    ],
)
def test_lookup__code_names_corrected_from_record_text(code: str, cls: str) -> None:
    agent = lookup(code)
    assert agent is not None and agent.cls == cls


def test_resolve__named_ectomy_is_surgery() -> None:
    # NCT06014255 describes its comparator as "Radical prostatectomy within 4-8 weeks of randomization."
    assert classes(iv("PROCEDURE", "Radical prostatectomy")) == ["surgery"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # code names written without their separators (the vocabulary lists "BMS-936558", "MK-3475", ...)
        ("BMS936558", ["checkpoint_inhibitor"]),
        ("MK3475 200 mg IV", ["checkpoint_inhibitor"]),
        ("talimogenelaherparepvec", ["oncolytic_virus"]),
        ("N803", ["immunomodulator"]),
    ],
)
def test_resolve__names_written_as_one_word(name: str, expected: list[str]) -> None:
    assert resolve(Intervention("DRUG", name, "", (), ()), True).classes == expected


def test_resolve__joined_name_needs_a_whole_word() -> None:
    # a joined code name inside a longer word is not that name
    assert resolve(Intervention("DRUG", "XBMS936558X", "", (), ()), True).classes != ["checkpoint_inhibitor"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # intervention names of the TREC 2022 mesothelioma-topic extract, which gives no intervention type
        ("conventional surgery", ["surgery"]),  # NCT00227630
        ("Pleurectomy/Decortication", ["surgery"]),  # NCT00715611
        ("Videothoracoscopic talc poudrage (VT).", ["surgery"]),  # NCT00789087
        ("Pleurodesis via Video-assisted thoracoscopic surgery", ["surgery"]),  # NCT04322136
        ("VATS, Talc-pleurodesis", ["surgery"]),  # NCT00637676
        ("VATS hyperthermic chemoperfusion", ["chemotherapy", "surgery"]),  # NCT01409551
        ("Tomotherapy", ["radiotherapy"]),  # NCT00469196
        ("Talc slurry through a chest tube (DT).", ["other"]),  # NCT00789087
        ("CT-Guided pleural needle biopsy with Abrams' needle", ["other"]),  # NCT01196585
        ("GL-ONC1", ["oncolytic_virus"]),  # NCT01766739
        ("Depsipeptide", ["targeted_therapy"]),  # NCT00094978 (romidepsin)
        ("Flavopiridol (alvocidib)", ["targeted_therapy"]),  # NCT00094978
        ("immediate cediranib", ["targeted_therapy"]),  # NCT01262612
        ("rilotumumab", ["targeted_therapy"]),  # NCT01105390
        ("Mithramycin", ["chemotherapy"]),  # NCT01624090
        ("BAY2287411", ["radiotherapy"]),  # NCT03507452: thorium-227 labelled antibody conjugate
    ],
)
def test_resolve__names_without_a_type(name: str, expected: list[str]) -> None:
    assert classes(iv("", name)) == expected


def test_resolve__type_limited_pattern_keeps_its_type() -> None:
    # NCT00227630's "conventional surgery" is surgery as a procedure or without a type; a test-only
    # variation recorded as a DRUG stays unresolved (the surgery pattern is for procedures)
    assert classes(iv("PROCEDURE", "conventional surgery")) == ["surgery"]
    assert classes(iv("DRUG", "conventional surgery")) == ["other"]


@pytest.mark.parametrize(
    ("intervention", "expected"),
    [
        # NCT06819735 summary: "DT-7012 (an anti-CCR8 monoclonal antibody)"
        (iv("DRUG", "DT-7012", "Intravenous infusion"), ["other_immunotherapy"]),
        # NCT05005403: azirkitug (ABBV-514); the record excludes prior agents targeting CCR8
        (iv("DRUG", "Azirkitug", "Intravenous (IV) Infusion", ("ABBV-514",)), ["other_immunotherapy"]),
    ],
)
def test_resolve__anti_ccr8_antibodies(intervention: Intervention, expected: list[str]) -> None:
    assert classes(intervention) == expected
