"""Saved searches: ``queries/*.toml`` files, loaded and validated.

A saved search is a TOML file (contract)::

    name = "mesothelioma"
    title = "All mesothelioma studies"
    description = "..."
    [params]            # passed to GET /studies as they are; empty means every study
    "query.cond" = "mesothelioma"

Loading validates the file with pydantic and checks every parameter against the API's list of
``/studies`` parameters; any problem raises :class:`~trialfinder.errors.ConfigError` naming the file
and the field. Nothing here does HTTP.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trialfinder.ctgov.params import STUDIES_PARAMS, build_studies_params
from trialfinder.errors import ConfigError, TrialFinderError, UsageError

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

# Parameters of GET /studies that a saved search may set (the client's list, from the spec). Paging
# parameters (pageSize, pageToken, countTotal) belong to the client, not to a saved search.
_PAGING_PARAMS = frozenset({"pageSize", "pageToken", "countTotal"})
_KNOWN_STUDIES_PARAMS = STUDIES_PARAMS - _PAGING_PARAMS

ParamValue = str | int | bool | list[str]


class SavedSearch(BaseModel):
    """One saved search. ``params`` go to ``GET /studies`` unchanged (the client adds paging)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="short id, lower case: letters, digits, '-' and '_'")
    title: str = Field(min_length=1)
    description: str = ""
    params: dict[str, ParamValue] = Field(default_factory=dict)
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError("must be lower case letters, digits, '-' or '_' (at most 64 characters)")
        return v

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v.strip()

    @field_validator("params")
    @classmethod
    def _params(cls, v: dict[str, ParamValue]) -> dict[str, ParamValue]:
        for key, value in v.items():
            if key in _PAGING_PARAMS:
                raise ValueError(f"{key!r} is set by the client for paging; remove it from the saved search")
            if key not in _KNOWN_STUDIES_PARAMS:
                raise ValueError(f"{key!r} is not a parameter of GET /studies")
            if isinstance(value, str) and not value.strip():
                raise ValueError(f"{key!r} must not be empty")
        return v

    def api_params(self) -> dict[str, str]:
        """The parameters as the API wants them: strings, lists joined with ``,``, booleans lower case."""
        out: dict[str, str] = {}
        for key, value in self.params.items():
            if isinstance(value, bool):
                out[key] = "true" if value else "false"
            elif isinstance(value, list):
                out[key] = ",".join(value)
            else:
                out[key] = str(value)
        return out

    def describe(self) -> dict[str, Any]:
        """What the snapshot manifest records about this search."""
        return {
            "name": self.name,
            "title": self.title,
            "params": self.api_params(),
            "path": str(self.path) if self.path else None,
        }


def default_queries_dir() -> Path:
    """``queries/`` at the root of the checkout (beside the ``trialfinder`` package); for a
    non-editable install, ``queries/`` in the working directory."""
    beside = Path(__file__).resolve().parent.parent / "queries"
    if beside.is_dir():
        return beside
    here = Path.cwd() / "queries"
    return here if here.is_dir() else beside


def _client_check(params: dict[str, str]) -> None:
    """Run the API client's own parameter validation (``ctgov.params.build_studies_params``)."""
    build_studies_params(params)


def _loc(err: Any) -> str:
    return ".".join(str(p) for p in err["loc"]) or "(file)"


def load_query(path: str | Path) -> SavedSearch:
    """Load and validate one saved-search TOML file."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"saved search {p}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"saved search {p}: cannot read file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"saved search {p}: not valid TOML: {exc}") from None
    try:
        search = SavedSearch.model_validate({**raw, "path": p})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"saved search {p}: field {_loc(first)!r}: {first['msg']}") from None
    try:
        _client_check(search.api_params())
    except TrialFinderError as exc:  # the client's validation error: report it as a config problem
        raise ConfigError(f"saved search {p}: field 'params': {exc}") from None
    return search


def load_queries(queries_dir: str | Path | None = None) -> list[SavedSearch]:
    """Every ``*.toml`` in ``queries_dir`` (default :func:`default_queries_dir`), sorted by name."""
    d = Path(queries_dir) if queries_dir is not None else default_queries_dir()
    if not d.is_dir():
        raise ConfigError(f"saved searches folder {d} does not exist")
    searches = [load_query(p) for p in sorted(d.glob("*.toml"))]
    if not searches:
        raise ConfigError(f"no saved searches (*.toml) in {d}")
    _check_unique(searches)
    return sorted(searches, key=lambda s: s.name)


def _check_unique(searches: Iterable[SavedSearch]) -> None:
    seen: dict[str, Path | None] = {}
    for s in searches:
        if s.name in seen:
            raise ConfigError(f"saved search name {s.name!r} is used twice ({seen[s.name]} and {s.path})")
        seen[s.name] = s.path


def resolve_query(name_or_path: str, queries_dir: str | Path | None = None) -> SavedSearch:
    """A saved search by name (from ``queries_dir``) or by path to a TOML file."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists() or "/" in name_or_path:
        return load_query(p)
    searches = load_queries(queries_dir)
    for s in searches:
        if s.name == name_or_path:
            return s
    names = ", ".join(s.name for s in searches)
    raise UsageError(f"no saved search named {name_or_path!r} (known: {names})")
