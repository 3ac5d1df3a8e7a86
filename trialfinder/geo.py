"""Offline geography: US ZIP code → coordinates, great-circle distances, nearest trial site.

Everything here is pure and offline. ZIP codes come from the ``zipcodes`` package (a bundled copy of
the US ZIP database); nothing is sent anywhere. Distances are great-circle (haversine) distances in
statute miles, vectorised with numpy so that a million sites take milliseconds.

Sites without registry coordinates (e.g. classic XML records) get the centre of their US ZIP code
when they have one, else the centre of their US city; ``geo_source`` says which (``"registry"``,
``"zip"``, ``"city"``) or is missing when the site cannot be placed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from trialfinder.errors import UsageError

EARTH_RADIUS_MILES = 3958.7613
US_COUNTRY_NAMES = frozenset({"United States", "USA", "US", "United States of America"})
US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC", "Florida": "FL",
    "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO",
    "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ",
    "New Mexico": "NM", "New York": "NY", "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH",
    "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA", "Puerto Rico": "PR", "Rhode Island": "RI",
    "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT",
    "Vermont": "VT", "Virginia": "VA", "Washington": "WA", "West Virginia": "WV", "Wisconsin": "WI",
    "Wyoming": "WY",
}  # fmt: skip
_ZIP_RE = re.compile(r"^\s*(\d{5})(?:-\d{4})?\s*$")


@dataclass(frozen=True)
class ZipPoint:
    """The centre of a US ZIP code."""

    zip_code: str
    city: str
    state: str
    lat: float
    lon: float

    @property
    def label(self) -> str:
        return f"{self.zip_code} ({self.city}, {self.state})"


@lru_cache(maxsize=1)
def _zip_table() -> dict[str, tuple[float, float, str, str]]:
    """ZIP → (lat, lon, city, state) for every ZIP with coordinates (loaded once, on first use)."""
    import zipcodes

    table: dict[str, tuple[float, float, str, str]] = {}
    for rec in zipcodes.list_all():
        try:
            lat, lon = float(rec["lat"]), float(rec["long"])
        except (KeyError, TypeError, ValueError):
            continue
        table[str(rec["zip_code"])] = (lat, lon, str(rec.get("city") or ""), str(rec.get("state") or ""))
    return table


@lru_cache(maxsize=1)
def _zip_lat_lon() -> tuple[dict[str, float], dict[str, float]]:
    table = _zip_table()
    return {k: v[0] for k, v in table.items()}, {k: v[1] for k, v in table.items()}


@lru_cache(maxsize=1)
def _city_lat_lon() -> tuple[dict[str, float], dict[str, float]]:
    """``"CITY|ST"`` → mean coordinates of the city's ZIP codes (fallback for sites without a ZIP)."""
    sums: dict[str, list[float]] = {}
    for lat, lon, city, state in _zip_table().values():
        acc = sums.setdefault(f"{city.upper()}|{state}", [0.0, 0.0, 0.0])
        acc[0] += lat
        acc[1] += lon
        acc[2] += 1
    return {k: v[0] / v[2] for k, v in sums.items()}, {k: v[1] / v[2] for k, v in sums.items()}


def normalize_zip(text: str) -> str:
    """``"10001"`` or ``"10001-1234"`` (surrounding spaces allowed) → ``"10001"``.

    Raises :class:`UsageError` for anything else.
    """
    m = _ZIP_RE.match(text or "")
    if not m:
        raise UsageError(
            f"{text.strip()[:20]!r} is not a US ZIP code",
            hint="type 5 digits, for example 10001",
        )
    return m.group(1)


def lookup_zip(text: str) -> ZipPoint:
    """The centre of a US ZIP code, offline. Raises :class:`UsageError` if malformed or unknown."""
    zip5 = normalize_zip(text)
    rec = _zip_table().get(zip5)
    if rec is None:
        raise UsageError(f"ZIP code {zip5} was not found", hint="check the digits; only US ZIP codes work")
    lat, lon, city, state = rec
    return ZipPoint(zip_code=zip5, city=city, state=state, lat=lat, lon=lon)


def haversine_miles(lat1: float, lon1: float, lat2: object, lon2: object) -> np.ndarray:
    """Great-circle distance in miles from one point to many (arrays or Series; NaN stays NaN)."""
    la2 = np.radians(np.asarray(lat2, dtype="float64"))
    lo2 = np.radians(np.asarray(lon2, dtype="float64"))
    la1, lo1 = np.radians(lat1), np.radians(lon1)
    a = np.sin((la2 - la1) / 2.0) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2.0) ** 2
    return np.asarray(2.0 * EARTH_RADIUS_MILES * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def _floats(col: pd.Series) -> np.ndarray:
    """A writable float64 copy of a column (missing and non-numeric → NaN)."""
    return np.array(pd.to_numeric(col, errors="coerce").astype("float64"), dtype="float64", copy=True)


def add_site_coordinates(locations: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``locations`` with float columns ``geo_lat``/``geo_lon`` and ``geo_source``.

    Registry coordinates win; US sites without them get their ZIP code's centre, else their city's.
    """
    out = locations.copy()
    n = len(out)
    lat = _floats(out["lat"])
    lon = _floats(out["lon"])
    missing = np.isnan(lat) | np.isnan(lon)
    source = np.full(n, None, dtype=object)
    source[~missing] = "registry"
    if n and missing.any():
        is_us = out["country"].astype("object").isin(US_COUNTRY_NAMES).to_numpy()
        idx = np.flatnonzero(missing & is_us)
        if idx.size:
            zip5 = pd.Series(out["zip"].to_numpy(dtype=object)[idx]).astype("string").str.strip().str[:5]
            lat_of, lon_of = _zip_lat_lon()
            zlat = zip5.map(lat_of).to_numpy(dtype="float64", na_value=np.nan)
            zlon = zip5.map(lon_of).to_numpy(dtype="float64", na_value=np.nan)
            found = ~np.isnan(zlat)
            lat[idx[found]] = zlat[found]
            lon[idx[found]] = zlon[found]
            source[idx[found]] = "zip"
            # no usable ZIP: the city's centre, when city and state are known
            rest = idx[~found]
            if rest.size:
                city = pd.Series(out["city"].to_numpy(dtype=object)[rest]).astype("string").str.upper()
                st = pd.Series(out["state"].to_numpy(dtype=object)[rest]).astype("string")
                st = st.map(lambda v: US_STATES.get(v, v) if isinstance(v, str) else v)
                key = city.str.strip() + "|" + st.astype("string").str.strip()
                clat, clon = _city_lat_lon()
                ylat = key.map(clat).to_numpy(dtype="float64", na_value=np.nan)
                ylon = key.map(clon).to_numpy(dtype="float64", na_value=np.nan)
                ok = ~np.isnan(ylat)
                lat[rest[ok]] = ylat[ok]
                lon[rest[ok]] = ylon[ok]
                source[rest[ok]] = "city"
    out["geo_lat"] = lat
    out["geo_lon"] = lon
    out["geo_source"] = pd.array(source, dtype="string")
    return out


def nearest_sites(
    sites: pd.DataFrame,
    origin: ZipPoint,
    *,
    mask: np.ndarray | pd.Series | None = None,
) -> pd.DataFrame:
    """The nearest placed site of each trial to ``origin``.

    ``sites`` needs ``nct_id, facility, city, state, country, geo_lat, geo_lon`` (see
    :func:`add_site_coordinates`); ``mask`` optionally keeps only some rows (e.g. recruiting sites).
    Returns one row per trial with a placed site: ``nct_id, nearest_site, nearest_city,
    nearest_state, nearest_country, distance_miles``, indexed by ``nct_id``.
    """
    cols = ["nearest_site", "nearest_city", "nearest_state", "nearest_country", "distance_miles"]
    lat = sites["geo_lat"].to_numpy(dtype="float64")
    lon = sites["geo_lon"].to_numpy(dtype="float64")
    keep = ~(np.isnan(lat) | np.isnan(lon))
    if mask is not None:
        keep &= np.asarray(mask, dtype=bool)
    if not keep.any():
        return pd.DataFrame(columns=cols, index=pd.Index([], name="nct_id", dtype="string"))
    sub = sites.loc[keep, ["nct_id", "facility", "city", "state", "country"]]
    dist = haversine_miles(origin.lat, origin.lon, lat[keep], lon[keep])
    sub = sub.assign(distance_miles=dist).sort_values("distance_miles", kind="stable")
    first = sub.drop_duplicates("nct_id", keep="first").set_index("nct_id")
    first = first.rename(
        columns={
            "facility": "nearest_site",
            "city": "nearest_city",
            "state": "nearest_state",
            "country": "nearest_country",
        }
    )
    return first[cols]
