"""The pydantic study models: checked field by field against the official API v2 spec, and run over
every recorded study."""

from __future__ import annotations

import logging
import types
import typing
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from pydantic import BaseModel

from trialfinder.ctgov import models
from trialfinder.ctgov.models import ENUMS, MODELS, KnownValues, Study, parse_study
from trialfinder.errors import DataError
from trialfinder.sources.classic_xml import parse_classic_xml

SPEC = "openapi/ctg-oas-v2-2.0.5.yaml"
PRIMITIVES = {str: "string", int: "integer", float: "number", bool: "boolean"}


@pytest.fixture(scope="module")
def spec_schemas(shared_dir: Path) -> dict[str, Any]:
    spec = yaml.safe_load((shared_dir / SPEC).read_text(encoding="utf-8"))
    return dict(spec["components"]["schemas"])


def _describe_annotation(annotation: Any) -> Any:
    """Python annotation → ("model", name) | ("enum", name) | ("string"|...,) | ("array", inner)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        assert len(args) == 1, annotation
        return _describe_annotation(args[0])
    if origin is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        known = [m for m in meta if isinstance(m, KnownValues)]
        if known:
            return ("enum", known[0].name)
        return _describe_annotation(base)
    if origin is list:
        (inner,) = typing.get_args(annotation)
        return ("array", _describe_annotation(inner))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("model", annotation.__name__)
    return (PRIMITIVES[annotation],)


def _describe_spec(prop: dict[str, Any], schemas: dict[str, Any]) -> Any:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        target = schemas[name]
        if "enum" in target:
            return ("enum", name)
        if target.get("type") == "object" or "properties" in target:
            return ("model", name)
        return (target["type"],)  # named string types: nct, PartialDate, GeoName
    if prop.get("type") == "array":
        return ("array", _describe_spec(prop["items"], schemas))
    return (prop["type"],)


def _model_fields() -> list[tuple[type[BaseModel], str, str, Any]]:
    out: list[tuple[type[BaseModel], str, str, Any]] = []
    for model in MODELS:
        for name, info in model.model_fields.items():
            out.append((model, name, info.alias or name, info.annotation))
    return out


def test_models__every_model_is_a_spec_schema(spec_schemas: dict[str, Any]) -> None:
    for model in MODELS:
        assert model.__name__ in spec_schemas, f"{model.__name__} is not a schema of the spec"
        assert "properties" in spec_schemas[model.__name__]


@pytest.mark.parametrize(("model", "name", "alias", "annotation"), _model_fields(),
                         ids=lambda v: v.__name__ if isinstance(v, type) else str(v)[:40])
def test_models__every_field_matches_the_spec(spec_schemas: dict[str, Any], model: type[BaseModel],
                                              name: str, alias: str, annotation: Any) -> None:
    props = spec_schemas[model.__name__]["properties"]
    assert alias in props, f"{model.__name__}.{alias} is not in the spec"
    assert _describe_annotation(annotation) == _describe_spec(props[alias], spec_schemas)


def test_models__every_enum_equals_the_spec(spec_schemas: dict[str, Any]) -> None:
    used = set()
    for *_x, ann in _model_fields():
        d = _describe_annotation(ann)
        if d[0] == "array":
            d = d[1]
        if d[0] == "enum":
            used.add(d[1])
    assert used == set(ENUMS), "every enum table is used by a field, and every enum field has a table"
    for name, values in ENUMS.items():
        assert set(spec_schemas[name]["enum"]) == set(values), name


def test_models__camel_aliases_and_snake_names_both_populate() -> None:
    a = models.Location.model_validate({"geoPoint": {"lat": 1.5, "lon": 2.0}, "status": "RECRUITING"})
    b = models.Location.model_validate({"geo_point": {"lat": 1.5, "lon": 2.0}, "status": "RECRUITING"})
    assert a == b
    assert a.geo_point is not None and a.geo_point.lat == 1.5


def test_models__all_recorded_studies_validate(shared_dir: Path) -> None:
    files = sorted((shared_dir / "v2" / "studies").glob("NCT*.json"))
    assert len(files) == 1192
    statuses: set[str] = set()
    for f in files:
        study = Study.model_validate(orjson.loads(f.read_bytes()))
        assert study.nct_id == f.stem
        sm = study.protocol_section.status_module
        assert sm is not None and sm.last_update_post_date_struct is not None
        statuses.add(sm.overall_status or "")
    assert {"RECRUITING", "COMPLETED", "TERMINATED"} <= statuses


def test_models__location_contacts_geo_and_meshes_are_read(shared_dir: Path) -> None:
    study = Study.model_validate(orjson.loads((shared_dir / "v2/studies/NCT02628535.json").read_bytes()))
    cl = study.protocol_section.contacts_locations_module
    assert cl is not None and cl.locations
    ucla = cl.locations[0]
    assert (ucla.facility, ucla.city, ucla.country) == ("UCLA", "Los Angeles", "United States")
    assert ucla.geo_point is not None and ucla.geo_point.lat == pytest.approx(34.05223)
    assert study.derived_section is not None and study.derived_section.condition_browse_module is not None
    terms = [m.term for m in study.derived_section.condition_browse_module.meshes]
    assert "Mesothelioma" in terms
    arms = study.protocol_section.arms_interventions_module
    assert arms is not None and arms.interventions[0].other_names == ["orlotamab"]
    assert arms.interventions[0].arm_group_labels == ["MGD009"]


def test_models__field_limited_and_classic_records_validate(shared_dir: Path) -> None:
    for f in sorted((shared_dir / "v2" / "studies-field-limited").glob("*.json")):
        assert Study.model_validate(orjson.loads(f.read_bytes())).nct_id == f.stem
    for f in sorted((shared_dir / "classic-xml").glob("*.xml")):
        data, _date = parse_classic_xml(f.read_bytes())
        study = Study.model_validate(data)
        assert study.nct_id == f.stem
        # the classic mapping produces known enum values only
        sm = study.protocol_section.status_module
        assert sm is not None and sm.overall_status in ENUMS["Status"]


def test_models__unknown_enum_value_is_kept_and_logged(
    shared_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # test-only variation of a real record: a status and a phase the spec does not know
    data = orjson.loads((shared_dir / "v2/studies/NCT02628535.json").read_bytes())
    data["protocolSection"]["statusModule"]["overallStatus"] = "PAUSED_FOR_REVIEW_X"
    data["protocolSection"]["designModule"]["phases"] = ["PHASE5X"]
    with caplog.at_level(logging.WARNING, logger="trialfinder.ctgov.models"):
        study = Study.model_validate(data)
    assert study.protocol_section.status_module is not None
    assert study.protocol_section.status_module.overall_status == "PAUSED_FOR_REVIEW_X"
    assert study.protocol_section.design_module is not None
    assert study.protocol_section.design_module.phases == ["PHASE5X"]
    assert "PAUSED_FOR_REVIEW_X" in caplog.text


def test_models__unknown_fields_are_ignored(shared_dir: Path) -> None:
    data = orjson.loads((shared_dir / "v2/studies/NCT02628535.json").read_bytes())
    data["brandNewSection"] = {"x": 1}
    data["protocolSection"]["statusModule"]["someNewField"] = [1, 2]
    assert Study.model_validate(data).nct_id == "NCT02628535"


def test_parse_study__without_nct_id_raises_data_error() -> None:
    with pytest.raises(DataError, match="does not validate"):
        parse_study({"protocolSection": {"identificationModule": {"briefTitle": "x"}}})


def test_validated__passes_good_records_and_reports_bad_ones(shared_dir: Path) -> None:
    from trialfinder.ctgov.models import validated
    from trialfinder.sources import iter_records
    from trialfinder.sources.base import RawStudy

    good = list(iter_records([shared_dir / "v2" / "studies-field-limited"]))
    # test-only variation of a real record: locations is an object instead of a list
    broken = dict(good[0].data)
    broken["protocolSection"] = dict(broken["protocolSection"],
                                     contactsLocationsModule={"locations": {"facility": "x"}})
    bad = RawStudy(broken, "v2-study", "bad.json", None)
    errors: list[tuple[str, Exception]] = []
    out = list(validated([good[0], bad, *good[1:]], on_error=lambda s, e: errors.append((s, e))))
    assert out == good
    assert [s for s, _ in errors] == ["bad.json"]
    assert isinstance(errors[0][1], DataError) and "contactsLocationsModule" in str(errors[0][1])
