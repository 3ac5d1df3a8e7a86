"""The Find-trials filters: state, URL round trip and a pure, vectorised :func:`apply_filters`.

Everything here is pure pandas/numpy (no Streamlit), so it is unit-testable and the bench can time
it. :func:`prepare` does the per-snapshot work once (list columns → boolean membership arrays, a
lower-cased search text, site coordinates); :func:`apply_filters` then only combines boolean
arrays, so a re-render stays fast at 120k trials.

Filter state goes into the URL so a navigator can share a search, except anything personal or
free-typed: the ZIP code, age, sex and the search text never go into the URL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from trialfinder import geo
from trialfinder.ui.labels import (
    CLASS_LABELS,
    DEFAULT_STATUSES,
    IMMUNOTHERAPY_CLASSES,
    OPEN_STATUSES,
    PHASE_LABELS,
    STATUS_LABELS,
)
from trialfinder.ui.safe import code_span, safe_inline
from trialfinder.ui.scope import MESOTHELIOMA, OTHER, SCOPES, condition_scope

RADIUS_CHOICES: tuple[int, ...] = (25, 50, 100, 250, 500, 1000)
#: "Which trials" (see :mod:`trialfinder.ui.scope`): mesothelioma only, mesothelioma + trials open to
#: many solid tumours (the default: the patient's view), or every trial in the data
SCOPE_MESOTHELIOMA, SCOPE_SOLID, SCOPE_ALL = "mesothelioma", "solid", "all"
SCOPE_CHOICES: tuple[str, ...] = (SCOPE_MESOTHELIOMA, SCOPE_SOLID, SCOPE_ALL)
DEFAULT_SCOPE = SCOPE_SOLID
SEXES = ("FEMALE", "MALE")

# URL parameter names (shareable filters only)
QP_CLASS, QP_IO, QP_ADVANCED, QP_HAD_IO = "class", "io", "advanced", "had_io"
QP_STATUS, QP_PHASE, QP_SITE, QP_SUBTYPE = "status", "phase", "site", "subtype"
QP_COUNTRY, QP_STATE, QP_RADIUS = "country", "state", "radius"
QP_SCOPE = "trials"
SHAREABLE_PARAMS = (
    QP_SCOPE, QP_CLASS, QP_IO, QP_ADVANCED, QP_HAD_IO, QP_STATUS, QP_PHASE, QP_SITE, QP_SUBTYPE,
    QP_COUNTRY, QP_STATE, QP_RADIUS,
)  # fmt: skip
#: parameters that are personal or free text: never read from, never written to a URL
PRIVATE_PARAMS = ("zip", "age", "sex", "q", "text")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

RESULT_COLUMNS = [
    "nct_id", "title", "url", "overall_status", "phases", "intervention_classes", "advanced_disease",
    "prior_immunotherapy", "line_of_therapy", "where", "n_sites", "n_open_sites", "nearest_site",
    "nearest_city", "nearest_state", "nearest_country", "distance_miles", "last_update_posted", "scope",
]  # fmt: skip


@dataclass(frozen=True)
class FilterState:
    """What the user asked for. Empty tuples mean "no restriction"."""

    scope: str = DEFAULT_SCOPE
    classes: tuple[str, ...] = ()
    any_immunotherapy: bool = False
    advanced: bool = False
    had_immunotherapy: bool = False
    statuses: tuple[str, ...] = DEFAULT_STATUSES
    phases: tuple[str, ...] = ()
    histology_sites: tuple[str, ...] = ()
    histology_subtypes: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    zip_code: str = ""
    radius_miles: int | None = None
    age: int | None = None
    sex: str | None = None
    text: str = ""

    def wanted_classes(self) -> set[str]:
        wanted = set(self.classes)
        if self.any_immunotherapy:
            wanted |= set(IMMUNOTHERAPY_CLASSES)
        return wanted


@dataclass(frozen=True)
class Options:
    """The values the data offers for the open-vocabulary filters."""

    histology_sites: tuple[str, ...] = ()
    histology_subtypes: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    phases: tuple[str, ...] = ()
    class_counts: Mapping[str, int] = field(default_factory=dict)
    class_counts_by_scope: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Class counts among the trials of each "Which trials" choice (SCOPE_CHOICES)."""
    scope_counts: Mapping[str, int] = field(default_factory=dict)  # "mesothelioma"/"solid_tumours"/"other"


@dataclass(frozen=True, eq=False)
class Prepared:
    """A snapshot's tables made ready for fast filtering (build once per snapshot)."""

    trials: pd.DataFrame  # positional index 0..n-1
    members: Mapping[str, Mapping[str, np.ndarray]]  # "classes"/"phases"/"sites"/"subtypes" → value → mask
    nonempty: Mapping[str, np.ndarray]
    status: np.ndarray  # object array of overall_status
    scope: np.ndarray  # object array of trialfinder.ui.scope.SCOPES, per trial
    advanced_ok: np.ndarray  # advanced_disease != "no"
    prior_io_ok: np.ndarray  # prior_immunotherapy != "excluded"
    min_age: np.ndarray
    max_age: np.ndarray
    sex: np.ndarray
    search_text: pd.Series
    sites: pd.DataFrame  # locations + geo_lat/geo_lon + pos (trial position) + open
    options: Options

    def __len__(self) -> int:
        return len(self.trials)


# --- preparation (once per snapshot) -----------------------------------------------------------


def _col(df: pd.DataFrame | None, name: str, n: int) -> pd.Series:
    if df is not None and name in df.columns:
        return df[name].reset_index(drop=True)
    return pd.Series([None] * n, dtype="object")


def _obj(series: pd.Series) -> np.ndarray:
    """An object array with ``None`` for missing values (safe for ``np.isin`` and ``==``)."""
    arr = series.astype("object").to_numpy(dtype=object, copy=True)
    arr[pd.isna(arr)] = None
    return arr


def _membership(series: pd.Series) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A list column → {value: bool mask over rows} and a mask of rows with a non-empty list."""
    n = len(series)
    ex = series.reset_index(drop=True).explode()
    ex = ex[ex.notna()]
    nonempty = np.zeros(n, dtype=bool)
    if ex.empty:
        return {}, nonempty
    rows = ex.index.to_numpy(dtype=np.int64)
    nonempty[rows] = True
    codes, uniques = pd.factorize(ex.astype(str))
    out: dict[str, np.ndarray] = {}
    for k, value in enumerate(uniques):
        m = np.zeros(n, dtype=bool)
        m[rows[codes == k]] = True
        out[str(value)] = m
    return out, nonempty


def _joined(series: pd.Series) -> pd.Series:
    """A list-of-strings column joined with spaces (vectorised for Arrow lists)."""
    if isinstance(series.dtype, pd.ArrowDtype) and pa.types.is_list(series.dtype.pyarrow_dtype):
        arr = pa.array(series.array)
        joined = pc.binary_join(arr, " ")
        return pd.Series(joined.to_pandas(types_mapper=pd.ArrowDtype), index=series.index).fillna("")
    return series.map(lambda v: " ".join(map(str, v)) if isinstance(v, (list, tuple, np.ndarray)) else "")


def _lower_text(*parts: pd.Series) -> pd.Series:
    out: pd.Series | None = None
    for p in parts:
        s = p.astype("string").fillna("")
        out = s if out is None else out + " " + s
    assert out is not None
    return out.str.lower().astype(pd.ArrowDtype(pa.string()))


def prepare(tables: Mapping[str, pd.DataFrame]) -> Prepared:
    """Build the filter-ready view of a snapshot's tables (``trials`` required; others optional)."""
    if "trials" not in tables:
        raise KeyError("the snapshot has no trials table")
    trials = tables["trials"].drop_duplicates("nct_id").reset_index(drop=True)
    n = len(trials)
    ids = trials["nct_id"].astype(str)

    facets = tables.get("facets")
    if facets is not None and not facets.empty:
        fd = facets.drop_duplicates("nct_id")
        f = fd.set_index(fd["nct_id"].astype(str).to_numpy()).reindex(ids.to_numpy()).reset_index(drop=True)
    else:
        f = None
    elig = tables.get("eligibility")
    if elig is not None and not elig.empty:
        e = elig.drop_duplicates("nct_id")
        e = e.set_index(e["nct_id"].astype(str).to_numpy()).reindex(ids.to_numpy()).reset_index(drop=True)
    else:
        e = None

    classes = _col(f, "intervention_classes", n)
    members: dict[str, dict[str, np.ndarray]] = {}
    nonempty: dict[str, np.ndarray] = {}
    for key, series in (
        ("classes", classes),
        ("phases", _col(trials, "phases", n)),
        ("sites", _col(f, "histology_sites", n)),
        ("subtypes", _col(f, "histology_subtypes", n)),
    ):
        members[key], nonempty[key] = _membership(series)

    status = _obj(_col(trials, "overall_status", n))
    advanced = _obj(_col(f, "advanced_disease", n))
    prior = _obj(_col(f, "prior_immunotherapy", n))
    min_age = pd.to_numeric(_col(e, "min_age_years", n), errors="coerce").astype("float64").to_numpy()
    max_age = pd.to_numeric(_col(e, "max_age_years", n), errors="coerce").astype("float64").to_numpy()
    sex = _obj(_col(e, "sex", n))

    search_text = _lower_text(
        ids.astype("string"),
        _col(trials, "title", n),
        _col(trials, "official_title", n),
        _col(trials, "acronym", n),
        _joined(_col(trials, "interventions", n)),
        _joined(_col(trials, "mesh_interventions", n)),
    )

    sites = _prepare_sites(tables.get("locations"), ids, status)
    scope = condition_scope(trials, tables.get("conditions")).to_numpy(dtype=object)

    view = pd.DataFrame(
        {
            "nct_id": ids.astype("string"),
            "title": _col(trials, "title", n),
            "overall_status": _col(trials, "overall_status", n),
            "phases": _col(trials, "phases", n),
            "intervention_classes": classes,
            "advanced_disease": _col(f, "advanced_disease", n),
            "prior_immunotherapy": _col(f, "prior_immunotherapy", n),
            "line_of_therapy": _col(f, "line_of_therapy", n),
            "last_update_posted": _col(trials, "last_update_posted", n),
            "scope": pd.Series(scope, dtype="string"),
        }
    )
    view["url"] = "https://clinicaltrials.gov/study/" + view["nct_id"]
    summary = _site_summary(sites, n)
    view = pd.concat([view, summary], axis=1)

    us = sites[sites["country"].isin(geo.US_COUNTRY_NAMES)] if not sites.empty else sites
    options = Options(
        histology_sites=tuple(sorted(members["sites"])),
        histology_subtypes=tuple(sorted(members["subtypes"])),
        countries=tuple(sorted(sites["country"].dropna().astype(str).unique())) if not sites.empty else (),
        states=tuple(sorted(us["state"].dropna().astype(str).unique())) if not us.empty else (),
        statuses=tuple(s for s in STATUS_LABELS if s in set(status.tolist())),
        phases=tuple(p for p in PHASE_LABELS if p in members["phases"]),
        class_counts={c: int(m.sum()) for c, m in members["classes"].items()},
        class_counts_by_scope={
            choice: {c: int((m & in_scope).sum()) for c, m in members["classes"].items()}
            for choice, in_scope in (
                (SCOPE_MESOTHELIOMA, scope == MESOTHELIOMA),
                (SCOPE_SOLID, scope != OTHER),
                (SCOPE_ALL, np.ones(n, dtype=bool)),
            )
        },
        scope_counts={s: int((scope == s).sum()) for s in SCOPES},
    )
    return Prepared(
        trials=view,
        members=members,
        nonempty=nonempty,
        status=status,
        scope=scope,
        advanced_ok=advanced != "no",
        prior_io_ok=prior != "excluded",
        min_age=min_age,
        max_age=max_age,
        sex=sex,
        search_text=search_text,
        sites=sites,
        options=options,
    )


def _prepare_sites(locations: pd.DataFrame | None, ids: pd.Series, status: np.ndarray) -> pd.DataFrame:
    cols = [
        "nct_id",
        "facility",
        "city",
        "state",
        "zip",
        "country",
        "lat",
        "lon",
        "site_status",
        "contact_name",
        "contact_phone",
        "contact_email",
    ]
    if locations is None or locations.empty:
        empty = pd.DataFrame({c: pd.Series([], dtype="object") for c in cols})
        empty = empty.assign(
            geo_lat=pd.Series([], dtype="float64"),
            geo_lon=pd.Series([], dtype="float64"),
            geo_source=pd.Series([], dtype="string"),
        )
        return empty.assign(pos=pd.Series([], dtype="int64"), open=pd.Series([], dtype="bool"))
    have = [c for c in cols if c in locations.columns]
    locs = locations[have].copy()
    for c in cols:
        if c not in locs.columns:
            locs[c] = None
    pos_of = pd.Series(np.arange(len(ids)), index=ids.to_numpy())
    pos_s = locs["nct_id"].astype(str).map(pos_of)
    locs = locs[pos_s.notna().to_numpy()].reset_index(drop=True)
    pos = pos_s.dropna().astype("int64").to_numpy()
    locs = geo.add_site_coordinates(locs)
    site_status = _obj(locs["site_status"])
    trial_open = np.isin(status[pos], list(OPEN_STATUSES))
    open_ = np.isin(site_status, list(OPEN_STATUSES)) | (pd.isna(site_status) & trial_open)
    locs["pos"] = pos
    locs["open"] = open_
    return locs


def _place(city: pd.Series, state: pd.Series, country: pd.Series) -> pd.Series:
    c = city.astype("string").fillna("")
    region = state.astype("string").fillna("")
    use_state = country.isin(geo.US_COUNTRY_NAMES) & (region != "")
    region = region.where(use_state, country.astype("string").fillna(""))
    return (c + ", " + region).str.strip(", ")


def _site_summary(sites: pd.DataFrame, n: int) -> pd.DataFrame:
    """Per trial: ``where`` (first open site's place, "+ N more"), ``n_sites``, ``n_open_sites``."""
    out = pd.DataFrame(
        {
            "where": pd.Series([""] * n, dtype="string"),
            "n_sites": np.zeros(n, dtype="int64"),
            "n_open_sites": np.zeros(n, dtype="int64"),
        }
    )
    if sites.empty:
        return out
    pos = sites["pos"].to_numpy()
    out["n_sites"] = np.bincount(pos, minlength=n)
    open_w = sites["open"].to_numpy(dtype=float)
    out["n_open_sites"] = np.bincount(pos, weights=open_w, minlength=n).astype("int64")
    order = sites.assign(_closed=~sites["open"]).sort_values(["pos", "_closed"], kind="stable")
    first = order.drop_duplicates("pos")
    place = _place(first["city"], first["state"], first["country"])
    where_arr = np.full(n, "", dtype=object)
    where_arr[first["pos"].to_numpy()] = place.to_numpy(dtype=object)
    where = pd.Series(where_arr, dtype="string")
    more = out["n_sites"] - 1
    suffix = pd.Series(np.where(more > 0, " + " + more.astype(str) + " more", ""), dtype="string")
    out["where"] = (where + suffix).where(out["n_sites"] > 0, "")
    return out


# --- filtering (every re-render) -----------------------------------------------------------------


def _any_of(members: Mapping[str, np.ndarray], wanted: Sequence[str] | set[str], n: int) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    for v in wanted:
        hit = members.get(v)
        if hit is not None:
            m |= hit
    return m


def _trials_with_site(data: Prepared, site_mask: np.ndarray) -> np.ndarray:
    n = len(data)
    if not site_mask.any():
        return np.zeros(n, dtype=bool)
    return np.bincount(data.sites["pos"].to_numpy()[site_mask], minlength=n) > 0


def filter_mask(data: Prepared, state: FilterState) -> np.ndarray:
    """The boolean mask of trials matching every filter except the ZIP radius."""
    n = len(data)
    mask = np.ones(n, dtype=bool)
    if state.scope == SCOPE_MESOTHELIOMA:
        mask &= data.scope == MESOTHELIOMA
    elif state.scope == SCOPE_SOLID:
        mask &= data.scope != OTHER
    wanted = state.wanted_classes()
    if wanted:
        mask &= _any_of(data.members["classes"], wanted, n)
    if state.advanced:
        mask &= data.advanced_ok
    if state.had_immunotherapy:
        mask &= data.prior_io_ok
    if state.statuses:
        mask &= np.isin(data.status, list(state.statuses))
    if state.phases:
        mask &= _any_of(data.members["phases"], state.phases, n)
    if state.histology_sites:  # trials that name no site stay: they do not restrict it
        mask &= ~data.nonempty["sites"] | _any_of(data.members["sites"], state.histology_sites, n)
    if state.histology_subtypes:
        mask &= ~data.nonempty["subtypes"] | _any_of(data.members["subtypes"], state.histology_subtypes, n)
    if state.countries:
        mask &= _trials_with_site(data, data.sites["country"].isin(state.countries).to_numpy(dtype=bool))
    if state.states:
        in_us = data.sites["country"].isin(geo.US_COUNTRY_NAMES).to_numpy(dtype=bool)
        mask &= _trials_with_site(data, in_us & data.sites["state"].isin(state.states).to_numpy(dtype=bool))
    if state.age is not None:
        age = float(state.age)
        mask &= ~(data.min_age > age) & ~(data.max_age < age)  # NaN: no limit
    if state.sex in SEXES:
        mask &= pd.isna(data.sex) | np.isin(data.sex, ["ALL", state.sex])
    text = " ".join(state.text.split()).lower()
    if text:
        mask &= data.search_text.str.contains(text, regex=False).fillna(False).to_numpy(dtype=bool)
    return mask


def apply_filters(
    tables: Prepared | Mapping[str, pd.DataFrame],
    state: FilterState,
    *,
    origin: geo.ZipPoint | None = None,
) -> pd.DataFrame:
    """The trials matching ``state``, one row each, in :data:`RESULT_COLUMNS`.

    ``tables`` is a snapshot's tables (prepared on the fly) or a :class:`Prepared` (fast path).
    With a ZIP code (``state.zip_code`` or an already looked-up ``origin``), each trial gets its
    nearest open site and the distance in miles, results are sorted nearest first, and
    ``state.radius_miles`` drops trials without an open site that close. Without one, recruiting
    trials come first; within a status, mesothelioma trials before the others; then the most
    recently updated. Raises :class:`~trialfinder.errors.UsageError`
    for a bad ZIP code.
    """
    data = tables if isinstance(tables, Prepared) else prepare(tables)
    if origin is None and state.zip_code.strip():
        origin = geo.lookup_zip(state.zip_code)
    mask = filter_mask(data, state)
    result = data.trials[mask].copy()
    if origin is not None:
        site_mask = data.sites["open"].to_numpy(dtype=bool) & mask[data.sites["pos"].to_numpy()]
        nearest = geo.nearest_sites(data.sites, origin, mask=site_mask)
        for col in nearest.columns:
            result[col] = result["nct_id"].astype(str).map(nearest[col]).to_numpy()
        result["distance_miles"] = pd.to_numeric(result["distance_miles"], errors="coerce").astype("float64")
        if state.radius_miles is not None:
            result = result[result["distance_miles"] <= float(state.radius_miles)]
        result = result.sort_values(["distance_miles", "nct_id"], kind="stable", na_position="last")
    else:
        for col in ("nearest_site", "nearest_city", "nearest_state", "nearest_country"):
            result[col] = None
        result["distance_miles"] = np.nan
        rank = {s: i for i, s in enumerate(STATUS_LABELS)}
        scope_rank = {s: i for i, s in enumerate(SCOPES)}  # mesothelioma trials before the others
        result = result.assign(
            _rank=result["overall_status"].astype("object").map(rank).fillna(len(rank)),
            _scope=result["scope"].astype("object").map(scope_rank).fillna(len(scope_rank)),
            _upd=result["last_update_posted"].astype("string").fillna(""),
        )
        result = result.sort_values(
            ["_rank", "_scope", "_upd", "nct_id"], ascending=[True, True, False, True], kind="stable"
        )
        result = result.drop(columns=["_rank", "_scope", "_upd"])
    return result[RESULT_COLUMNS].reset_index(drop=True)


# --- the URL ------------------------------------------------------------------------------------


def to_query_params(state: FilterState) -> dict[str, str | list[str]]:
    """The shareable part of ``state`` as URL parameters (defaults left out; nothing personal)."""
    qp: dict[str, str | list[str]] = {}
    if state.scope != DEFAULT_SCOPE:
        qp[QP_SCOPE] = state.scope
    if state.classes:
        qp[QP_CLASS] = list(state.classes)
    for key, flag in (
        (QP_IO, state.any_immunotherapy),
        (QP_ADVANCED, state.advanced),
        (QP_HAD_IO, state.had_immunotherapy),
    ):
        if flag:
            qp[key] = "1"
    if tuple(state.statuses) != DEFAULT_STATUSES:
        qp[QP_STATUS] = list(state.statuses) if state.statuses else ["any"]
    for key, values in (
        (QP_PHASE, state.phases),
        (QP_SITE, state.histology_sites),
        (QP_SUBTYPE, state.histology_subtypes),
        (QP_COUNTRY, state.countries),
        (QP_STATE, state.states),
    ):
        if values:
            qp[key] = list(values)
    if state.radius_miles is not None:
        qp[QP_RADIUS] = str(state.radius_miles)
    return qp


def _values(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw]
    return [str(v) for v in raw]


def from_query_params(
    qp: Mapping[str, Any],
    options: Options,
    base: FilterState | None = None,
) -> tuple[FilterState, list[str]]:
    """Read a shared URL. Unknown names and values are ignored and reported in the warnings.

    The warnings are Markdown: the link's values are quoted in code spans (:func:`code_span`) and its
    names escaped (:func:`safe_inline`), so a crafted link can never add markup to the page."""
    state = base or FilterState()
    warnings: list[str] = []
    changes: dict[str, Any] = {}

    def pick(key: str, allowed: Sequence[str], what: str) -> tuple[str, ...] | None:
        vals = _values(qp.get(key))
        if not vals:
            return None
        ok = tuple(dict.fromkeys(v for v in vals if v in allowed))
        bad = [v for v in vals if v not in allowed]
        if bad:
            warnings.append(
                f"The link asks for {what} {', '.join(code_span(repr(b[:40])) for b in bad)}, which this "
                "data does not have; that part of the link was ignored."
            )
        return ok

    for key, allowed, what, attr in (
        (QP_CLASS, tuple(CLASS_LABELS), "treatment type", "classes"),
        (QP_PHASE, tuple(PHASE_LABELS), "phase", "phases"),
        (QP_SITE, options.histology_sites, "site of disease", "histology_sites"),
        (QP_SUBTYPE, options.histology_subtypes, "subtype", "histology_subtypes"),
        (QP_COUNTRY, options.countries, "country", "countries"),
        (QP_STATE, options.states, "US state", "states"),
    ):
        got = pick(key, allowed, what)
        if got is not None:
            changes[attr] = got
    scope_vals = _values(qp.get(QP_SCOPE))
    if scope_vals:
        if scope_vals[-1] in SCOPE_CHOICES:
            changes["scope"] = scope_vals[-1]
        else:
            warnings.append(
                f"The link asks for {code_span(repr(scope_vals[-1][:20]))} trials, which is not one of "
                f"{', '.join(SCOPE_CHOICES)}; that part of the link was ignored."
            )
    status_vals = _values(qp.get(QP_STATUS))
    if status_vals == ["any"]:
        changes["statuses"] = ()
    elif status_vals:
        got = pick(QP_STATUS, tuple(STATUS_LABELS), "recruiting status")
        if got:
            changes["statuses"] = got
    flags = ((QP_IO, "any_immunotherapy"), (QP_ADVANCED, "advanced"), (QP_HAD_IO, "had_immunotherapy"))
    for key, attr in flags:
        vals = _values(qp.get(key))
        if not vals:
            continue
        v = vals[-1].strip().lower()
        if v in _TRUE or v in _FALSE:
            changes[attr] = v in _TRUE
        else:
            quoted = code_span(repr(vals[-1][:20]))
            warnings.append(f"The link's {key}={quoted} is not yes or no; it was ignored.")
    radius = _values(qp.get(QP_RADIUS))
    if radius:
        try:
            r = int(radius[-1])
        except ValueError:
            r = -1
        if r in RADIUS_CHOICES:
            changes["radius_miles"] = r
        else:
            warnings.append(
                f"The link's distance {code_span(repr(radius[-1][:20]))} is not one of "
                f"{', '.join(map(str, RADIUS_CHOICES))} miles; it was ignored."
            )
    private = [k for k in qp if k in PRIVATE_PARAMS]
    if private:
        warnings.append(
            "Personal details and search words are never taken from a link "
            f"({safe_inline(', '.join(sorted(private)))}); type them in the filters instead."
        )
    unknown = [k for k in qp if k not in SHAREABLE_PARAMS and k not in PRIVATE_PARAMS]
    if unknown:
        warnings.append(
            f"The link has settings this page does not know ({safe_inline(', '.join(sorted(unknown)[:5]))}); "
            "they were ignored."
        )
    return replace(state, **changes), warnings
