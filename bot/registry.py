"""The commune registry of a province, read from `vietnam-provinces` and `vietnamadminunits` (never typed by hand).

`vietnam-provinces` gives the 2025 units' codes, names and kinds; `vietnamadminunits` gives their coordinates and
areas, the pre-2025 units with their districts, and which 2025 unit(s) took each of them over.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime

from bot.text import name_key, normalize
from storage.centres import CentresRepo, CommuneRecord, OldUnitRecord, ProvinceRecord

_KINDS = {"xã": "xa", "phường": "phuong", "đặc khu": "dac_khu"}


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and value:
        return float(value)
    return None


def _parse_bounds(raw: object) -> tuple[float, float, float, float] | None:
    """`'21.3,106.0 – 22.4,107.3'` → (min_lat, min_lon, max_lat, max_lon)."""
    if not isinstance(raw, str) or "–" not in raw:
        return None
    try:
        (lat1, lon1), (lat2, lon2) = (tuple(float(x) for x in part.split(",")) for part in raw.split("–"))
    except ValueError:
        return None
    return min(lat1, lat2), min(lon1, lon2), max(lat1, lat2), max(lon1, lon2)


@functools.cache
def load_province(province_code: int) -> ProvinceRecord:
    """Read one province's 2025 units and pre-2025 units from the two packages (once per process)."""
    import vietnam_provinces
    from vietnam_provinces import Province, ProvinceCode, Ward
    from vietnamadminunits.converter import converter_2025
    from vietnamadminunits.database import get_data

    try:
        province = Province.from_code(ProvinceCode(province_code))
    except ValueError as exc:
        raise ValueError(f"PHUCVU_PROVINCE: {province_code} is not a province code of 2025") from exc
    code2 = f"{province_code:02d}"
    fields = ["wardCode", "wardKey", "ward", "wardLat", "wardLon", "wardAreaKm2", "provinceKey", "provinceCode"]
    rows = [row for row in get_data(fields, "admin_units") if row["provinceCode"] == code2]
    # The two packages number a few units differently: join on the code when the names agree, else on the name.
    by_code = {row["wardCode"]: row for row in rows}
    by_name = {name_key(row["ward"]): row for row in rows}
    communes = []
    code_by_key: dict[str, str] = {}
    for ward in Ward.iter_by_province(province.code):
        code = f"{ward.code.value:05d}"
        key = name_key(ward.name)
        row = by_code.get(code)
        if row is None or name_key(row["ward"]) != key:
            row = by_name.get(key, {})
        if row:
            code_by_key[row["wardKey"]] = code
        communes.append(
            CommuneRecord(
                code=code,
                name=normalize(ward.name),
                name_key=key,
                kind=_KINDS[ward.division_type.value],
                lat=_number(row.get("wardLat")),
                lon=_number(row.get("wardLon")),
                area_km2=_number(row.get("wardAreaKm2")),
            )
        )
    new_key = next((row["provinceKey"] for row in rows), None)
    old_province_keys = converter_2025.DICT_PROVINCE.get(new_key, []) if new_key else []
    undivided = converter_2025.DICT_PROVINCE_WARD_NO_DIVIDED.get(new_key, {})
    divided = converter_2025.DICT_PROVINCE_WARD_DIVIDED.get(new_key, {})
    successor_of = {old: ward_key for ward_key, olds in undivided.items() for old in olds}

    old_units = []
    bounds = None
    legacy_fields = ["provinceKey", "districtKey", "district", "wardKey", "ward", "wardLat", "wardLon"]
    legacy_fields += ["provinceBounds", "provinceCode"]
    legacy = sorted(
        (row for row in get_data(legacy_fields, "admin_units_legacy") if row["provinceKey"] in old_province_keys),
        key=lambda row: (row["district"], row["ward"]),
    )
    for row in legacy:
        if row["provinceCode"] == code2 and bounds is None:
            bounds = _parse_bounds(row["provinceBounds"])
        old_key = f"{row['provinceKey']}_{row['districtKey']}_{row['wardKey']}"
        if old_key in divided:
            targets = [(code_by_key.get(t["newWardKey"]), bool(t["isDefaultNewWard"])) for t in divided[old_key]]
        elif old_key in successor_of:
            targets = [(code_by_key.get(successor_of[old_key]), True)]
        else:
            continue
        codes = tuple(dict.fromkeys(code for code, _ in targets if code))
        if not codes:
            continue
        default = next((code for code, is_default in targets if is_default and code), codes[0])
        old_units.append(
            OldUnitRecord(
                district_name=normalize(row["district"]),
                district_key=name_key(row["district"]),
                name=normalize(row["ward"]),
                name_key=name_key(row["ward"]),
                lat=_number(row["wardLat"]),
                lon=_number(row["wardLon"]),
                successors=codes,
                default_successor=default,
            )
        )
    source = f"vietnam-provinces {vietnam_provinces.__version__}; vietnamadminunits"
    return ProvinceRecord(
        code=province_code,
        name=normalize(province.name),
        bounds=bounds,
        communes=tuple(communes),
        old_units=tuple(old_units),
        source=source,
    )


async def ensure_registry(repo: CentresRepo, province_code: int, now: datetime) -> bool:
    """Load the province's registry into the database on first start; True if it was loaded now."""
    if await repo.province(province_code) is not None:
        return False
    record = await asyncio.to_thread(load_province, province_code)
    await repo.store_registry(record, now.isoformat())
    return True
