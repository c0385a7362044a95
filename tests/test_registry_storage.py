"""The commune registry as loaded from vietnam-provinces and vietnamadminunits and stored in SQLite."""

from collections import Counter
from dataclasses import replace

from bot.registry import ensure_registry, load_province
from storage.centres import CentresRepo, OldUnitRecord
from storage.db import Database
from tests.conftest import NOW


def test_lang_son_has_65_units_61_xa_and_4_phuong() -> None:
    province = load_province(20)
    assert province.name == "Lạng Sơn"
    assert len(province.communes) == 65
    assert Counter(c.kind for c in province.communes) == {"xa": 61, "phuong": 4}
    assert len({c.code for c in province.communes}) == 65
    assert all(len(c.code) == 5 and c.code.isdigit() for c in province.communes)


def test_every_unit_has_coordinates_inside_the_province_box() -> None:
    province = load_province(20)
    assert province.bounds is not None
    min_lat, min_lon, max_lat, max_lon = province.bounds
    for commune in province.communes:
        assert commune.lat is not None and commune.lon is not None, commune.name
        assert min_lat <= commune.lat <= max_lat and min_lon <= commune.lon <= max_lon, commune.name


def test_areas_are_known_except_where_the_package_has_none() -> None:
    areas = {c.name: c.area_km2 for c in load_province(20).communes}
    assert sum(area is None for area in areas.values()) <= 1
    assert all(area is None or 1 < area < 1000 for area in areas.values())


def test_every_old_unit_maps_to_units_of_the_province_and_every_new_unit_has_a_predecessor() -> None:
    province = load_province(20)
    codes = {c.code for c in province.communes}
    assert len(province.old_units) > 150
    for unit in province.old_units:
        assert set(unit.successors) <= codes
        assert unit.default_successor in unit.successors
    assert {code for unit in province.old_units for code in unit.successors} == codes


def test_names_use_one_tone_convention() -> None:
    names = {c.name for c in load_province(20).communes}
    assert "Xã Quý Hòa" in names
    assert "Xã Quý Hoà" not in names


async def test_registry_is_stored_once_and_refreshing_keeps_centre_details(db: Database) -> None:
    repo = CentresRepo(db)
    assert await ensure_registry(repo, 20, NOW) is True
    assert await ensure_registry(repo, 20, NOW) is False
    await repo.update_details("06385", {"phone": "0205 3825 123"}, by="test", now=NOW.isoformat())
    await repo.store_registry(load_province(20), NOW.isoformat())
    assert len(await repo.communes(20)) == 65
    assert (await repo.details("06385")).phone == "0205 3825 123"
    assert len(await repo.old_units(20)) == len(load_province(20).old_units)


async def test_old_units_list_the_default_successor_first(db: Database) -> None:
    real = load_province(20)
    highest = max(c.code for c in real.communes)
    lowest = min(c.code for c in real.communes)
    unit = OldUnitRecord("Huyện Thử", "thu", "Xã Thử", "thu", None, None, (lowest, highest), default_successor=highest)
    repo = CentresRepo(db)
    await repo.store_registry(replace(real, old_units=(unit,)), NOW.isoformat())
    [stored] = await repo.old_units(20)
    assert stored.successors == (highest, lowest)


async def test_details_update_only_named_fields_and_positions_prefer_the_venue(centres_repo: CentresRepo) -> None:
    await centres_repo.update_details("06385", {"address": "Số 1", "desk_staff": 4}, by="a", now="t1")
    await centres_repo.update_details("06385", {"phone": "0205"}, by="b", now="t2")
    details = await centres_repo.details("06385")
    assert (details.address, details.phone, details.desk_staff, details.opening_hours) == ("Số 1", "0205", 4, None)
    await centres_repo.update_details("06385", {"lat": 21.5, "lon": 106.3}, by="c", now="t3")
    positions = {p.code: p for p in await centres_repo.positions(20)}
    assert len(positions) == 65
    assert (positions["06385"].lat, positions["06385"].is_venue) == (21.5, True)
    assert positions["06076"].is_venue is False
