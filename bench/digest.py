"""The leaders' digest: how long `DigestService.build` takes for a year of Lạng Sơn (≈ 300,000 dossiers; goal
under 500 ms), and at national scale (all 3,321 units of 2025, 10,000,000 dossiers; measured and recorded).

Run: `.venv/bin/python -m bench.digest [lang-son|national] [ROUNDS]`. The databases are built once into bench/out/
(ignored by git) with the demo generator and reused by later runs; the national one takes a while (and about
4 GB of disk).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench.dossiers import peak_rss_mb
from bot.config import Settings

NOW = datetime(2026, 11, 2, 0, 30, tzinfo=UTC)  # Monday 2 November 2026, 07:30 in Lạng Sơn
DAY = date(2026, 11, 2)
OUT = Path(__file__).resolve().parent / "out"
LANG_SON_ROWS = 300_000
NATIONAL_ROWS = 10_000_000
BATCH = 20_000


@dataclass
class Nation:
    """What the digest reads of a directory, for every unit of the country."""

    communes: dict[str, Any] = field(default_factory=dict)
    province: Any = None


async def build_lang_son(path: Path) -> int:
    """A year and a bit of Lạng Sơn's demo dossiers, cut at LANG_SON_ROWS."""
    from bot.demo import generate
    from bot.services import open_services

    services = await open_services(Settings(db_path=path), lambda: NOW)
    communes = list(services.centres.directory.communes.values())
    rows = generate(communes, NOW, seed=5, days=450)
    rows = sorted(rows, key=lambda row: row.received_at)[-LANG_SON_ROWS:]
    for start in range(0, len(rows), BATCH):
        await services.dossiers.apply(rows[start : start + BATCH], "bench", NOW)
    count = await services.dossiers.count()
    await services.db.close()
    return count


async def load_nation(services: Any) -> Nation:
    """Every province's 2025 units into the database (for the foreign keys) and into one directory."""
    import vietnam_provinces

    from bot.registry import load_province

    nation = Nation()
    for province in vietnam_provinces.ProvinceCode:
        record = await asyncio.to_thread(load_province, int(province.value))
        # Only the 2025 units matter here (pre-2025 names of some provinces repeat within a district).
        await services.centres.repo.store_registry(replace(record, old_units=()), NOW.isoformat())
        for commune in record.communes:
            nation.communes[commune.code] = commune
    nation.province = type("Country", (), {"name": "Việt Nam"})()
    return nation


def national_batches(units: list[Any], rows: int) -> Iterator[list[Any]]:
    """`rows` demo dossiers over `units` (about two years at the demo's ward volume), codes made unique per unit,
    50 units at a time."""
    from bot.demo import generate
    from bot.dossiers import code_key

    per_unit = rows // len(units) + 200  # a few units receive less than the average
    written = 0
    for start in range(0, len(units), 50):
        chunk = [_as_xa(unit) for unit in units[start : start + 50]]  # the demo's ward volume is Lạng Sơn's
        by_unit: dict[str, list[Any]] = {}
        for row in generate(chunk, NOW, seed=start, days=760):
            by_unit.setdefault(row.commune_code, []).append(row)
        batch = []
        for unit_rows in by_unit.values():
            for row in sorted(unit_rows, key=lambda r: r.received_at)[-per_unit:]:
                code = f"{row.commune_code}.{row.code.split('.', 2)[2]}"
                batch.append(row._replace(code=code, code_key=code_key(code)))
        batch = batch[: rows - written]
        written += len(batch)
        yield batch
        if written >= rows:
            return


async def build_national(path: Path) -> int:
    """NATIONAL_ROWS demo dossiers over all units of the country."""
    from bot.services import open_services

    services = await open_services(Settings(db_path=path), lambda: NOW)
    nation = await load_nation(services)
    written = 0
    for batch in national_batches(sorted(nation.communes.values(), key=lambda c: c.code), NATIONAL_ROWS):
        for offset in range(0, len(batch), BATCH):
            await services.dossiers.apply(batch[offset : offset + BATCH], "bench", NOW)
        written += len(batch)
        print(f"  {written:,} dossiers", file=sys.stderr)
    count = await services.dossiers.count()
    await services.db.close()
    return count


async def whole_country(db: Any) -> Any:
    """What the digest reads of a centre service, for every unit in the database: the country as one province."""
    nation = Nation()
    for row in await db.fetchall("SELECT * FROM communes"):
        nation.communes[row["code"]] = type("Unit", (), dict(row))()
    nation.province = type("Country", (), {"name": "Việt Nam"})()
    return type("Centres", (), {"directory": nation})()


def digest_service(services: Any, centres: Any) -> Any:
    """The digest service over `centres` (a province's, or `whole_country`)."""
    from bot.digest import DigestService
    from storage.digest import DigestRepo
    from storage.people import PeopleRepo
    from storage.reports import ReportsRepo

    db, settings = services.db, services.settings
    return DigestService(
        DigestRepo(db), ReportsRepo(db), PeopleRepo(db), centres, settings.timezone, settings.digest_time
    )


def _as_xa(unit: Any) -> Any:
    return replace(unit, kind="xa")


async def measure(path: Path, national: bool, rounds: int) -> dict[str, float]:
    """Median and worst `build` time (warm), the text and chart on top, peak RSS."""
    from bot.i18n import translator
    from bot.services import open_services

    services = await open_services(Settings(db_path=path), lambda: NOW)
    centres: Any = services.centres
    if national:
        centres = await whole_country(services.db)
    digest = digest_service(services, centres)
    await digest.build(DAY)  # warm the page cache
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        built = await digest.build(DAY)
        times.append((time.perf_counter() - start) * 1000)
    t = translator("vi")
    start = time.perf_counter()
    parts = digest.render(built, t)
    render_ms = (time.perf_counter() - start) * 1000
    chart_ms = -1.0
    if not national:  # 3,321 bars are no chart: a national one would show provinces
        start = time.perf_counter()
        await digest.chart(built, t)
        chart_ms = (time.perf_counter() - start) * 1000
    count = await services.dossiers.count()
    await services.db.close()
    return {
        "dossiers": float(count),
        "units": float(len(built.communes)),
        "build_ms_median": statistics.median(times),
        "build_ms_max": max(times),
        "render_ms": render_ms,
        "chart_ms": chart_ms,
        "text_parts": float(len(parts)),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    """`python -m bench.digest [lang-son|national] [ROUNDS]`."""
    scale = sys.argv[1] if len(sys.argv) > 1 else "lang-son"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    national = scale == "national"
    OUT.mkdir(exist_ok=True)
    path = OUT / ("digest-national.db" if national else "digest-lang-son.db")
    if not path.exists():
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        for leftover in OUT.glob(partial.name + "*"):
            leftover.unlink()
        count = asyncio.run(build_national(partial) if national else build_lang_son(partial))
        partial.rename(path)
        print(f"built {path.name}: {count:,} dossiers in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    result = asyncio.run(measure(path, national, rounds))
    print(f"digest ({scale}): " + ", ".join(f"{k}={v:.1f}" if v % 1 else f"{k}={v:.0f}" for k, v in result.items()))


if __name__ == "__main__":
    main()
