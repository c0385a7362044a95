"""SQL for the commune registry, the centres' own details and the pre-2025 units."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from storage.db import Store


@dataclass(frozen=True)
class Province:
    """A province and its bounding box (min_lat, min_lon, max_lat, max_lon), if known."""

    code: int
    name: str
    bounds: tuple[float, float, float, float] | None


@dataclass(frozen=True)
class Commune:
    """A 2025 commune or ward."""

    code: str
    name: str
    kind: str
    name_key: str
    lat: float | None
    lon: float | None
    area_km2: float | None


@dataclass(frozen=True)
class CentreDetails:
    """What the commune itself says about its service centre; None where nobody has said."""

    address: str | None = None
    phone: str | None = None
    opening_hours: str | None = None
    desk_staff: int | None = None
    note: str | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class OldUnit:
    """A pre-2025 unit, its district and the 2025 units that took it over (default first)."""

    id: int
    district_name: str
    district_key: str
    name: str
    name_key: str
    successors: tuple[str, ...]


@dataclass(frozen=True)
class Position:
    """Where to point for a centre: its own venue if known, else the commune's approximate centre."""

    code: str
    lat: float
    lon: float
    is_venue: bool


@dataclass(frozen=True)
class CommuneRecord:
    """A 2025 commune or ward as the packages describe it."""

    code: str
    name: str
    name_key: str
    kind: str
    lat: float | None
    lon: float | None
    area_km2: float | None


@dataclass(frozen=True)
class OldUnitRecord:
    """A pre-2025 commune, ward or town, its district, and the 2025 units (codes) it went to."""

    district_name: str
    district_key: str
    name: str
    name_key: str
    lat: float | None
    lon: float | None
    successors: tuple[str, ...]
    default_successor: str


@dataclass(frozen=True)
class ProvinceRecord:
    """A province, its bounding box and everything in it."""

    code: int
    name: str
    bounds: tuple[float, float, float, float] | None
    communes: tuple[CommuneRecord, ...]
    old_units: tuple[OldUnitRecord, ...]
    source: str


DETAIL_FIELDS = ("address", "phone", "opening_hours", "desk_staff", "note", "lat", "lon")
PROVINCE_FIELDS = tuple(name for name in DETAIL_FIELDS if name != "desk_staff")  # the province's own centre


def _commune(row: sqlite3.Row) -> Commune:
    return Commune(row["code"], row["name"], row["kind"], row["name_key"], row["lat"], row["lon"], row["area_km2"])


class CentresRepo:
    """Reads and writes the registry and the centres' details."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def store_registry(self, province: ProvinceRecord, now: str) -> None:
        """Insert or refresh a province's units from the packages; centre details are left untouched."""
        async with self.db.transaction() as conn:
            bounds = province.bounds or (None, None, None, None)
            await conn.execute(
                "INSERT INTO provinces (code, name, min_lat, min_lon, max_lat, max_lon, source, loaded_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO UPDATE SET name = excluded.name,"
                " min_lat = excluded.min_lat, min_lon = excluded.min_lon, max_lat = excluded.max_lat,"
                " max_lon = excluded.max_lon, source = excluded.source, loaded_at = excluded.loaded_at",
                (province.code, province.name, *bounds, province.source, now),
            )
            await conn.executemany(
                "INSERT INTO communes (code, province_code, name, kind, name_key, lat, lon, area_km2)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO UPDATE SET name = excluded.name,"
                " kind = excluded.kind, name_key = excluded.name_key, lat = excluded.lat, lon = excluded.lon,"
                " area_km2 = excluded.area_km2",
                [
                    (c.code, province.code, c.name, c.kind, c.name_key, c.lat, c.lon, c.area_km2)
                    for c in province.communes
                ],
            )
            await conn.execute("DELETE FROM old_units WHERE province_code = ?", (province.code,))
            for unit in province.old_units:
                inserted = await conn.execute_fetchall(
                    "INSERT INTO old_units (province_code, district_name, district_key, name, name_key, lat, lon)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        province.code,
                        unit.district_name,
                        unit.district_key,
                        unit.name,
                        unit.name_key,
                        unit.lat,
                        unit.lon,
                    ),
                )
                unit_id = int(next(iter(inserted))[0])
                await conn.executemany(
                    "INSERT INTO old_unit_successors (old_unit_id, commune_code, is_default) VALUES (?, ?, ?)",
                    [(unit_id, code, int(code == unit.default_successor)) for code in unit.successors],
                )

    async def province(self, code: int) -> Province | None:
        """The province row, or None before the registry is loaded."""
        row = await self.db.fetchone("SELECT * FROM provinces WHERE code = ?", (code,))
        if row is None:
            return None
        bounds = (row["min_lat"], row["min_lon"], row["max_lat"], row["max_lon"])
        return Province(row["code"], row["name"], None if None in bounds else bounds)

    async def communes(self, province_code: int) -> list[Commune]:
        """Every commune of the province, by name."""
        rows = await self.db.fetchall(
            "SELECT * FROM communes WHERE province_code = ? ORDER BY name_key", (province_code,)
        )
        return [_commune(row) for row in rows]

    async def old_units(self, province_code: int) -> list[OldUnit]:
        """Every pre-2025 unit of the province with its successors, default successor first."""
        units = await self.db.fetchall("SELECT * FROM old_units WHERE province_code = ? ORDER BY id", (province_code,))
        links = await self.db.fetchall(
            "SELECT s.old_unit_id, s.commune_code, s.is_default FROM old_unit_successors s"
            " JOIN old_units u ON u.id = s.old_unit_id WHERE u.province_code = ?",
            (province_code,),
        )
        successors: dict[int, list[tuple[int, str]]] = {}
        for link in links:
            successors.setdefault(link["old_unit_id"], []).append((-link["is_default"], link["commune_code"]))
        return [
            OldUnit(
                row["id"],
                row["district_name"],
                row["district_key"],
                row["name"],
                row["name_key"],
                tuple(code for _, code in sorted(successors.get(row["id"], []))),
            )
            for row in units
            if row["id"] in successors
        ]

    async def details(self, code: str) -> CentreDetails:
        """The centre's own details (all None until someone fills them)."""
        row = await self.db.fetchone("SELECT * FROM centres WHERE commune_code = ?", (code,))
        return CentreDetails(**{name: row[name] for name in DETAIL_FIELDS}) if row else CentreDetails()

    async def update_details(self, code: str, values: dict[str, object], by: str, now: str) -> None:
        """Set some of a centre's details (keys from DETAIL_FIELDS); the others keep their value."""
        await self._upsert("centres", "commune_code", code, values, DETAIL_FIELDS, by, now)

    async def province_centre(self, province_code: int) -> CentreDetails:
        """The province's own centre's details (all None until imported)."""
        row = await self.db.fetchone("SELECT * FROM province_centres WHERE province_code = ?", (province_code,))
        return CentreDetails(**{name: row[name] for name in PROVINCE_FIELDS}) if row else CentreDetails()

    async def update_province_centre(self, province_code: int, values: dict[str, object], by: str, now: str) -> None:
        """Set some of the province's own centre's details (keys from PROVINCE_FIELDS)."""
        await self._upsert("province_centres", "province_code", province_code, values, PROVINCE_FIELDS, by, now)

    async def _upsert(
        self, table: str, key: str, value: object, values: dict[str, object], allowed: Sequence[str], by: str, now: str
    ) -> None:
        unknown = set(values) - set(allowed)
        if unknown:
            raise ValueError(f"unknown fields of {table}: {sorted(unknown)}")
        columns = list(values)
        assignments = ", ".join(f"{name} = excluded.{name}" for name in columns)
        async with self.db.transaction() as conn:
            await conn.execute(
                f"INSERT INTO {table} ({key}, {', '.join(columns)}, updated_at, updated_by)"
                f" VALUES (?, {', '.join('?' for _ in columns)}, ?, ?)"
                f" ON CONFLICT ({key}) DO UPDATE SET {assignments},"
                " updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                (value, *values.values(), now, by),
            )

    async def positions(self, province_code: int) -> list[Position]:
        """Each centre's best known position: the venue if recorded, else the commune's centre."""
        rows = await self.db.fetchall(
            "SELECT c.code, coalesce(d.lat, c.lat) AS lat, coalesce(d.lon, c.lon) AS lon,"
            " d.lat IS NOT NULL AND d.lon IS NOT NULL AS is_venue"
            " FROM communes c LEFT JOIN centres d ON d.commune_code = c.code"
            " WHERE c.province_code = ? AND coalesce(d.lat, c.lat) IS NOT NULL",
            (province_code,),
        )
        return [Position(row["code"], row["lat"], row["lon"], bool(row["is_venue"])) for row in rows]
