"""Offline geography on real recorded site lists (no invented records)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lxml import etree

from trialfinder import geo
from trialfinder.errors import UsageError

LOC_COLS = ["nct_id", "facility", "city", "state", "zip", "country", "lat", "lon", "site_status"]


def _v2_locations(shared_dir: Path, nct_id: str) -> pd.DataFrame:
    """The sites of one recorded API v2 study, in the `locations` table's columns."""
    data = json.loads((shared_dir / "v2" / "studies" / f"{nct_id}.json").read_text())
    rows = []
    for loc in data["protocolSection"]["contactsLocationsModule"]["locations"]:
        point = loc.get("geoPoint") or {}
        rows.append(
            [
                nct_id,
                loc.get("facility"),
                loc.get("city"),
                loc.get("state"),
                loc.get("zip"),
                loc.get("country"),
                point.get("lat"),
                point.get("lon"),
                loc.get("status"),
            ]
        )
    return pd.DataFrame(rows, columns=LOC_COLS)


def _xml_locations(shared_dir: Path, nct_id: str) -> pd.DataFrame:
    """The sites of one recorded classic-XML study (no coordinates in that format)."""
    root = etree.parse(str(shared_dir / "classic-xml" / f"{nct_id}.xml")).getroot()
    rows = []
    for loc in root.iter("location"):
        rows.append(
            [
                nct_id,
                loc.findtext("facility/name"),
                loc.findtext("facility/address/city"),
                loc.findtext("facility/address/state"),
                loc.findtext("facility/address/zip"),
                loc.findtext("facility/address/country"),
                None,
                None,
                loc.findtext("status"),
            ]
        )
    return pd.DataFrame(rows, columns=LOC_COLS)


def test_normalize_zip__accepts_five_digits_and_zip_plus_four() -> None:
    assert geo.normalize_zip(" 10001 ") == "10001"
    assert geo.normalize_zip("10001-1234") == "10001"


@pytest.mark.parametrize("bad", ["", "1000", "100011", "ABCDE", "10001-12", "New York"])
def test_normalize_zip__rejects_malformed(bad: str) -> None:
    with pytest.raises(UsageError, match="not a US ZIP code"):
        geo.normalize_zip(bad)


def test_lookup_zip__new_york() -> None:
    point = geo.lookup_zip("10001")
    assert (point.city, point.state) == ("New York", "NY")
    assert 40.5 < point.lat < 41.0 and -74.2 < point.lon < -73.8
    assert point.label == "10001 (New York, NY)"


def test_lookup_zip__unknown_zip_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="00000 was not found"):
        geo.lookup_zip("00000")


def test_haversine_miles__one_degree_of_the_equator() -> None:
    got = geo.haversine_miles(0.0, 0.0, [0.0], [1.0])
    assert got[0] == pytest.approx(2 * math.pi * geo.EARTH_RADIUS_MILES / 360, rel=1e-9)


def test_haversine_miles__zero_symmetric_and_nan() -> None:
    ny, la = geo.lookup_zip("10001"), geo.lookup_zip("90001")
    there = geo.haversine_miles(ny.lat, ny.lon, [la.lat, ny.lat, np.nan], [la.lon, ny.lon, np.nan])
    back = geo.haversine_miles(la.lat, la.lon, [ny.lat], [ny.lon])
    assert there[0] == pytest.approx(back[0])
    assert 2400 < there[0] < 2500  # New York to Los Angeles is about 2,450 miles
    assert there[1] == 0.0
    assert np.isnan(there[2])


def test_add_site_coordinates__keeps_registry_coordinates(shared_dir: Path) -> None:
    locs = _v2_locations(shared_dir, "NCT05551793")
    out = geo.add_site_coordinates(locs)
    assert (out["geo_source"] == "registry").all()
    assert np.allclose(out["geo_lat"], locs["lat"].astype(float))
    assert list(out.columns[: len(LOC_COLS)]) == LOC_COLS  # input columns untouched


def test_add_site_coordinates__fills_us_sites_from_zip_then_city(shared_dir: Path) -> None:
    locs = _xml_locations(shared_dir, "NCT02414269")  # MSKCC mesothelin CAR-T: some sites lack a ZIP
    out = geo.add_site_coordinates(locs)
    by_city = out.set_index("city")
    monmouth = by_city.loc["Middletown"]
    assert monmouth["geo_source"] == "zip"
    z = geo.lookup_zip("07748")
    assert (monmouth["geo_lat"], monmouth["geo_lon"]) == (z.lat, z.lon)
    basking = by_city.loc["Basking Ridge"]
    assert pd.isna(locs.set_index("city").loc["Basking Ridge", "zip"])
    assert basking["geo_source"] == "city"
    assert 40.6 < basking["geo_lat"] < 40.8  # Basking Ridge, NJ


def test_add_site_coordinates__non_us_site_without_coordinates_stays_unplaced(shared_dir: Path) -> None:
    locs = _v2_locations(shared_dir, "NCT06790706").head(2)  # French sites, from a real record
    locs = locs.assign(lat=None, lon=None)  # test-only variation: coordinates removed
    out = geo.add_site_coordinates(locs)
    assert out["geo_source"].isna().all()
    assert out["geo_lat"].isna().all()


def test_nearest_sites__matches_brute_force_minimum(shared_dir: Path) -> None:
    locs = pd.concat([_v2_locations(shared_dir, n) for n in ("NCT05914116", "NCT05775159", "NCT06790706")])
    sites = geo.add_site_coordinates(locs.reset_index(drop=True))
    origin = geo.lookup_zip("10001")
    got = geo.nearest_sites(sites, origin)
    assert set(got.index) == {"NCT05914116", "NCT05775159", "NCT06790706"}
    for nct_id, row in got.iterrows():
        mine = sites[sites["nct_id"] == nct_id]
        dists = geo.haversine_miles(origin.lat, origin.lon, mine["geo_lat"], mine["geo_lon"])
        assert row["distance_miles"] == pytest.approx(np.nanmin(dists))
        assert row["nearest_site"] == mine["facility"].iloc[int(np.nanargmin(dists))]
    assert got.loc["NCT05914116", "distance_miles"] < 15  # has Manhattan sites
    assert got.loc["NCT06790706", "distance_miles"] > 3000  # France only


def test_nearest_sites__mask_drops_sites_and_trials(shared_dir: Path) -> None:
    sites = geo.add_site_coordinates(_v2_locations(shared_dir, "NCT06790706"))
    origin = geo.lookup_zip("10001")
    recruiting = (sites["site_status"] == "RECRUITING").to_numpy()
    got = geo.nearest_sites(sites, origin, mask=recruiting)
    all_sites = geo.nearest_sites(sites, origin)
    assert got.loc["NCT06790706", "distance_miles"] >= all_sites.loc["NCT06790706", "distance_miles"]
    chosen = sites[sites["facility"] == got.loc["NCT06790706", "nearest_site"]]
    assert (chosen["site_status"] == "RECRUITING").any()
    none = geo.nearest_sites(sites, origin, mask=np.zeros(len(sites), dtype=bool))
    assert none.empty and "distance_miles" in none.columns
