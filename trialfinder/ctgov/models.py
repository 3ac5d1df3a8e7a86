"""pydantic v2 models of the ClinicalTrials.gov API v2 study fields trialfinder uses.

* Class names are the schema names of the official OpenAPI spec (``ctg-oas-v2-2.0.5.yaml``:
  ``Study``, ``ProtocolSection``, ``StatusModule``, ``Location``, ...); field names are snake_case
  with the API's camelCase as alias (``populate_by_name``: both work). A test walks every field and
  enum here and checks it against the spec.
* Unknown fields are ignored. Enum-typed fields are plain ``str`` annotated with the spec's known
  values (:class:`KnownValues`): an unknown value is kept as text and logged once, never rejected,
  so schema drift on the registry's side cannot crash an import.
* Everything is optional except ``protocolSection.identificationModule.nctId``.

The normalizer reads raw dicts directly for speed; these models are the typed, validated view for
callers that want one (:func:`parse_study`) and the documentation of the fields we rely on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import CoreSchema, core_schema

from trialfinder.errors import DataError
from trialfinder.sources.base import RawStudy

log = logging.getLogger(__name__)

# --- enums kept as text -------------------------------------------------------------------------

ENUMS: dict[str, frozenset[str]] = {
    "Status": frozenset({
        "ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING",
        "RECRUITING", "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE", "NO_LONGER_AVAILABLE",
        "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING", "WITHHELD", "UNKNOWN",
    }),
    "RecruitmentStatus": frozenset({
        "ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING",
        "RECRUITING", "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE",
    }),
    "DateType": frozenset({"ACTUAL", "ESTIMATED"}),
    "EnrollmentType": frozenset({"ACTUAL", "ESTIMATED"}),
    "Phase": frozenset({"NA", "EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4"}),
    "StudyType": frozenset({"EXPANDED_ACCESS", "INTERVENTIONAL", "OBSERVATIONAL"}),
    "AgencyClass": frozenset({
        "NIH", "FED", "OTHER_GOV", "INDIV", "INDUSTRY", "NETWORK", "AMBIG", "OTHER", "UNKNOWN",
    }),
    "InterventionType": frozenset({
        "BEHAVIORAL", "BIOLOGICAL", "COMBINATION_PRODUCT", "DEVICE", "DIAGNOSTIC_TEST",
        "DIETARY_SUPPLEMENT", "DRUG", "GENETIC", "PROCEDURE", "RADIATION", "OTHER",
    }),
    "ArmGroupType": frozenset({
        "EXPERIMENTAL", "ACTIVE_COMPARATOR", "PLACEBO_COMPARATOR", "SHAM_COMPARATOR", "NO_INTERVENTION",
        "OTHER",
    }),
    "Sex": frozenset({"FEMALE", "MALE", "ALL"}),
    "StandardAge": frozenset({"CHILD", "ADULT", "OLDER_ADULT"}),
    "ContactRole": frozenset({
        "STUDY_CHAIR", "STUDY_DIRECTOR", "PRINCIPAL_INVESTIGATOR", "SUB_INVESTIGATOR", "CONTACT",
    }),
    "OfficialRole": frozenset({
        "STUDY_CHAIR", "STUDY_DIRECTOR", "PRINCIPAL_INVESTIGATOR", "SUB_INVESTIGATOR",
    }),
    "DesignAllocation": frozenset({"RANDOMIZED", "NON_RANDOMIZED", "NA"}),
    "InterventionalAssignment": frozenset({
        "SINGLE_GROUP", "PARALLEL", "CROSSOVER", "FACTORIAL", "SEQUENTIAL",
    }),
    "PrimaryPurpose": frozenset({
        "TREATMENT", "PREVENTION", "DIAGNOSTIC", "ECT", "SUPPORTIVE_CARE", "SCREENING",
        "HEALTH_SERVICES_RESEARCH", "BASIC_SCIENCE", "DEVICE_FEASIBILITY", "OTHER",
    }),
    "DesignMasking": frozenset({"NONE", "SINGLE", "DOUBLE", "TRIPLE", "QUADRUPLE"}),
}
"""Spec enum schema name → its values (API v2 spec 2.0.5)."""

_unknown_seen: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class KnownValues:
    """Annotation marker: a ``str`` field whose expected values are the spec enum ``name``."""

    name: str

    @property
    def values(self) -> frozenset[str]:
        return ENUMS[self.name]

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        # text-like input (numbers become text), then the known-values check that only logs
        return core_schema.no_info_before_validator_function(
            _to_text, core_schema.no_info_after_validator_function(self.check, handler(source)),
        )

    def check(self, value: str) -> str:
        if value not in ENUMS[self.name] and (self.name, value) not in _unknown_seen:
            _unknown_seen.add((self.name, value))
            log.warning("unknown %s value %r kept as text (registry schema drift?)", self.name, value)
        return value


def _to_text(value: Any) -> Any:
    """Enum values that arrive as numbers or booleans are kept as their text."""
    if isinstance(value, int | float | bool):
        return str(value)
    return value


StatusEnum: TypeAlias = Annotated[str, KnownValues("Status")]
RecruitmentStatusEnum: TypeAlias = Annotated[str, KnownValues("RecruitmentStatus")]
DateTypeEnum: TypeAlias = Annotated[str, KnownValues("DateType")]
EnrollmentTypeEnum: TypeAlias = Annotated[str, KnownValues("EnrollmentType")]
PhaseEnum: TypeAlias = Annotated[str, KnownValues("Phase")]
StudyTypeEnum: TypeAlias = Annotated[str, KnownValues("StudyType")]
AgencyClassEnum: TypeAlias = Annotated[str, KnownValues("AgencyClass")]
InterventionTypeEnum: TypeAlias = Annotated[str, KnownValues("InterventionType")]
ArmGroupTypeEnum: TypeAlias = Annotated[str, KnownValues("ArmGroupType")]
SexEnum: TypeAlias = Annotated[str, KnownValues("Sex")]
StandardAgeEnum: TypeAlias = Annotated[str, KnownValues("StandardAge")]
ContactRoleEnum: TypeAlias = Annotated[str, KnownValues("ContactRole")]
OfficialRoleEnum: TypeAlias = Annotated[str, KnownValues("OfficialRole")]
DesignAllocationEnum: TypeAlias = Annotated[str, KnownValues("DesignAllocation")]
InterventionalAssignmentEnum: TypeAlias = Annotated[str, KnownValues("InterventionalAssignment")]
PrimaryPurposeEnum: TypeAlias = Annotated[str, KnownValues("PrimaryPurpose")]
DesignMaskingEnum: TypeAlias = Annotated[str, KnownValues("DesignMasking")]


class ApiModel(BaseModel):
    """Base of every model: camelCase aliases, unknown fields ignored, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True,
    )


# --- identification, status, sponsors -----------------------------------------------------------


class OrgStudyIdInfo(ApiModel):
    id: str | None = None


class Organization(ApiModel):
    full_name: str | None = None
    class_: AgencyClassEnum | None = Field(default=None, alias="class")


class IdentificationModule(ApiModel):
    nct_id: str
    nct_id_aliases: list[str] = []
    org_study_id_info: OrgStudyIdInfo | None = None
    brief_title: str | None = None
    official_title: str | None = None
    acronym: str | None = None
    organization: Organization | None = None


class DateStruct(ApiModel):
    date: str | None = None
    type: DateTypeEnum | None = None


class PartialDateStruct(ApiModel):
    date: str | None = None  # yyyy, yyyy-MM or yyyy-MM-dd
    type: DateTypeEnum | None = None


class StatusModule(ApiModel):
    status_verified_date: str | None = None
    overall_status: StatusEnum | None = None
    last_known_status: StatusEnum | None = None
    why_stopped: str | None = None
    start_date_struct: PartialDateStruct | None = None
    primary_completion_date_struct: PartialDateStruct | None = None
    completion_date_struct: PartialDateStruct | None = None
    study_first_submit_date: str | None = None
    study_first_post_date_struct: DateStruct | None = None
    results_first_post_date_struct: DateStruct | None = None
    last_update_submit_date: str | None = None
    last_update_post_date_struct: DateStruct | None = None


class Sponsor(ApiModel):
    name: str | None = None
    class_: AgencyClassEnum | None = Field(default=None, alias="class")


class SponsorCollaboratorsModule(ApiModel):
    lead_sponsor: Sponsor | None = None
    collaborators: list[Sponsor] = []


class DescriptionModule(ApiModel):
    brief_summary: str | None = None
    detailed_description: str | None = None


class ConditionsModule(ApiModel):
    conditions: list[str] = []
    keywords: list[str] = []


# --- design, arms, interventions ----------------------------------------------------------------


class EnrollmentInfo(ApiModel):
    count: int | None = None
    type: EnrollmentTypeEnum | None = None


class MaskingBlock(ApiModel):
    masking: DesignMaskingEnum | None = None


class DesignInfo(ApiModel):
    allocation: DesignAllocationEnum | None = None
    intervention_model: InterventionalAssignmentEnum | None = None
    primary_purpose: PrimaryPurposeEnum | None = None
    masking_info: MaskingBlock | None = None


class DesignModule(ApiModel):
    study_type: StudyTypeEnum | None = None
    phases: list[PhaseEnum] = []
    design_info: DesignInfo | None = None
    enrollment_info: EnrollmentInfo | None = None


class ArmGroup(ApiModel):
    label: str | None = None
    type: ArmGroupTypeEnum | None = None
    description: str | None = None
    intervention_names: list[str] = []


class Intervention(ApiModel):
    type: InterventionTypeEnum | None = None
    name: str | None = None
    description: str | None = None
    arm_group_labels: list[str] = []
    other_names: list[str] = []


class ArmsInterventionsModule(ApiModel):
    arm_groups: list[ArmGroup] = []
    interventions: list[Intervention] = []


# --- eligibility, contacts, locations -----------------------------------------------------------


class EligibilityModule(ApiModel):
    eligibility_criteria: str | None = None
    healthy_volunteers: bool | None = None
    sex: SexEnum | None = None
    minimum_age: str | None = None  # "18 Years", "6 Months"
    maximum_age: str | None = None
    std_ages: list[StandardAgeEnum] = []


class Contact(ApiModel):
    name: str | None = None
    role: ContactRoleEnum | None = None
    phone: str | None = None
    phone_ext: str | None = None
    email: str | None = None


class Official(ApiModel):
    name: str | None = None
    affiliation: str | None = None
    role: OfficialRoleEnum | None = None


class GeoPoint(ApiModel):
    lat: float | None = None
    lon: float | None = None


class Location(ApiModel):
    facility: str | None = None
    status: RecruitmentStatusEnum | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    contacts: list[Contact] = []
    geo_point: GeoPoint | None = None


class ContactsLocationsModule(ApiModel):
    central_contacts: list[Contact] = []
    overall_officials: list[Official] = []
    locations: list[Location] = []


# --- sections and the study ---------------------------------------------------------------------


class ProtocolSection(ApiModel):
    identification_module: IdentificationModule
    status_module: StatusModule | None = None
    sponsor_collaborators_module: SponsorCollaboratorsModule | None = None
    description_module: DescriptionModule | None = None
    conditions_module: ConditionsModule | None = None
    design_module: DesignModule | None = None
    arms_interventions_module: ArmsInterventionsModule | None = None
    eligibility_module: EligibilityModule | None = None
    contacts_locations_module: ContactsLocationsModule | None = None


class Mesh(ApiModel):
    id: str | None = None
    term: str | None = None


class BrowseModule(ApiModel):
    meshes: list[Mesh] = []
    ancestors: list[Mesh] = []


class MiscInfoModule(ApiModel):
    version_holder: str | None = None


class DerivedSection(ApiModel):
    misc_info_module: MiscInfoModule | None = None
    condition_browse_module: BrowseModule | None = None
    intervention_browse_module: BrowseModule | None = None


class Study(ApiModel):
    """One study as ``GET /studies/{nctId}`` returns it (the parts trialfinder uses)."""

    protocol_section: ProtocolSection
    derived_section: DerivedSection | None = None
    has_results: bool | None = None

    @property
    def nct_id(self) -> str:
        return self.protocol_section.identification_module.nct_id


MODELS: tuple[type[ApiModel], ...] = (
    OrgStudyIdInfo, Organization, IdentificationModule, DateStruct, PartialDateStruct, StatusModule,
    Sponsor, SponsorCollaboratorsModule, DescriptionModule, ConditionsModule, EnrollmentInfo,
    MaskingBlock, DesignInfo, DesignModule, ArmGroup, Intervention, ArmsInterventionsModule,
    EligibilityModule, Contact, Official, GeoPoint, Location, ContactsLocationsModule, ProtocolSection,
    Mesh, BrowseModule, MiscInfoModule, DerivedSection, Study,
)
"""Every model class (each named after its schema in the official spec)."""


def parse_study(data: Any) -> Study:
    """Validate one API v2 study dict; raises :class:`~trialfinder.errors.DataError` naming the
    study and the first problem when it cannot be read (e.g. no NCT ID)."""
    try:
        return Study.model_validate(data)
    except ValidationError as exc:
        nct = None
        if isinstance(data, dict):
            nct = ((data.get("protocolSection") or {}).get("identificationModule") or {}).get("nctId")
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DataError(f"study {nct or '(no NCT ID)'} does not validate: {where}: {first['msg']}") from exc


def validated(
    records: Iterable[RawStudy], *, on_error: Callable[[str, Exception], None]
) -> Iterator[RawStudy]:
    """Pass through the records whose study validates; hand the others to ``on_error(source, exc)``.

    An optional stage between the importers/client and ``normalize`` (e.g. for API responses) that
    also logs unknown enum values. Not used by the bulk import: it costs about twice the JSON
    parsing itself (see docs/data-model.md), and ``normalize`` already tolerates drift.
    """
    for record in records:
        try:
            parse_study(record.data)
        except DataError as exc:
            on_error(record.source, exc)
            continue
        yield record
