"""At national scale on PostgreSQL (issue 17): the 2025 units of all 34 provinces (3,321 communes and wards) and
10,000,000 dossiers in one database, as a national one-stop operator would hold them.

- import: the dossiers written through `DossiersRepo.apply` (the path of `phucvu import-dossiers` and of the ingest
  endpoint: batches staged with COPY), in batches of 20,000; rows per second counts the time inside `apply` only
  (the demo generator that makes the rows is not the import);
- lookup: p50 and p99 of `DossierService.lookup` for known codes and unknown ones, as `bench.dossiers` measures
  at 1,000,000 on SQLite;
- digest: `DigestService.build` for one province (Lạng Sơn's 65 units, on the national database) and for the
  whole country (3,321 units), median of ROUNDS warm builds, with the peak resident memory of the process.

Each measurement runs in a fresh process (its peak memory is its own). The database `phucvu_bench_national` on the
server at PHUCVU_TEST_POSTGRES (default `postgresql://postgres@127.0.0.1:5432/postgres`) is built once and kept
for later runs (`--rebuild` drops it). The build analyzes the tables after every 50 units' dossiers, as autovacuum
would (it is off on the test machines' server; without fresh statistics the import's `id > floor` queries scan
the whole table).

Run: `.venv/bin/python -m bench.national [ROWS] [--rebuild]` (default 10,000,000).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import date
from typing import Any

import asyncpg

from bench.digest import BATCH, DAY, NOW, Nation, _as_xa, load_nation
from bench.dossiers import peak_rss_mb
from bot.config import Settings

SERVER = os.environ.get("PHUCVU_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
NAME = "phucvu_bench_national"
URL = SERVER.rsplit("/", 1)[0] + "/" + NAME
ROUNDS = 5


async def build(rows: int, rebuild: bool) -> dict[str, float]:
    """Create and fill the national database unless it holds `rows` dossiers already; the import's speed."""
    from bot.demo import generate
    from bot.dossiers import code_key
    from bot.services import open_services

    admin = await asyncpg.connect(SERVER)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", NAME)
        if exists and not rebuild:
            conn = await asyncpg.connect(URL)
            try:
                held = await conn.fetchval("SELECT count(*) FROM dossiers")
            finally:
                await conn.close()
            if held >= rows:
                return {"dossiers": float(held)}
        await admin.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{NAME}"')
    finally:
        await admin.close()
    services = await open_services(Settings(database_url=URL), lambda: NOW)
    try:
        nation = await load_nation(services)
        units = sorted(nation.communes.values(), key=lambda c: c.code)
        per_unit = rows // len(units) + 200  # a few units receive less than the average
        written, applying = 0, 0.0
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
            for offset in range(0, len(batch), BATCH):
                began = time.perf_counter()
                await services.dossiers.apply(batch[offset : offset + BATCH], "bench", NOW)
                applying += time.perf_counter() - began
            written += len(batch)
            async with services.db.transaction() as conn:  # what autovacuum does (this machine's server has it off)
                await conn.execute("ANALYZE dossiers, dossier_history")
            print(f"  {written:,} dossiers, {written / applying:,.0f} rows/s in apply", file=sys.stderr, flush=True)
            if written >= rows:
                break
        await services.db.fetchone("SELECT 1")
    finally:
        await services.db.close()
    conn = await asyncpg.connect(URL)
    try:
        await conn.execute("VACUUM ANALYZE")
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()
    return {"dossiers": float(written), "import_rows_per_s": written / applying, "database_gb": size / 1e9}


async def lookups(rounds: int = 20_000) -> dict[str, float]:
    """p50/p99 of `DossierService.lookup` over the national database, known and unknown codes."""
    from bot.people import Person
    from bot.services import open_services

    services = await open_services(Settings(database_url=URL), lambda: NOW)
    try:
        sample = "SELECT code FROM dossiers TABLESAMPLE SYSTEM (0.1) LIMIT 5000"
        keys = [row[0] for row in await services.db.fetchall(sample)]
        rng = random.Random(3)
        samples = []
        for i in range(rounds):
            code = rng.choice(keys) if i % 10 else f"000.99.37.H37-260101-{i:04d}"
            person = Person("bench", str(i))  # a new person each time: the enumeration limit is not measured
            start = time.perf_counter()
            await services.dossiers.lookup(person, code, NOW)
            samples.append((time.perf_counter() - start) * 1000)
    finally:
        await services.db.close()
    samples.sort()
    return {
        "lookups": float(rounds),
        "p50_ms": statistics.median(samples),
        "p99_ms": samples[int(len(samples) * 0.99)],
        "peak_rss_mb": peak_rss_mb(),
    }


async def digest(scope: str, rounds: int = ROUNDS, day: date = DAY) -> dict[str, float]:
    """`DigestService.build` for Lạng Sơn (`province`) or the whole country (`nation`) on the national data."""
    from bot.centres import CentreService
    from bot.digest import DigestService
    from bot.services import open_services
    from storage.centres import CentresRepo
    from storage.digest import DigestRepo
    from storage.people import PeopleRepo
    from storage.reports import ReportsRepo

    services = await open_services(Settings(database_url=URL), lambda: NOW)
    try:
        centres: Any
        if scope == "nation":
            nation = Nation()
            for row in await services.db.fetchall("SELECT * FROM communes"):
                nation.communes[row["code"]] = type("Unit", (), dict(row))()
            nation.province = type("Country", (), {"name": "Việt Nam"})()
            centres = type("Centres", (), {"directory": nation})()
        else:
            centres = await CentreService.create(CentresRepo(services.db), 20)
        service = DigestService(
            DigestRepo(services.db),
            ReportsRepo(services.db),
            PeopleRepo(services.db),
            centres,
            services.settings.timezone,
            services.settings.digest_time,
        )
        await service.build(day)  # warm the caches
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            built = await service.build(day)
            times.append((time.perf_counter() - start) * 1000)
    finally:
        await services.db.close()
    return {
        "units": float(len(built.communes)),
        "build_ms_median": statistics.median(times),
        "build_ms_max": max(times),
        "peak_rss_mb": peak_rss_mb(),
    }


def show(name: str, result: dict[str, float]) -> None:
    print(f"{name}: " + ", ".join(f"{k}={v:,.1f}" if v % 1 else f"{k}={v:,.0f}" for k, v in result.items()), flush=True)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if args and args[0] in ("lookup", "province", "nation"):  # one measurement, in its own process
        step = args[0]
        result = asyncio.run(lookups() if step == "lookup" else digest(step))
        show(f"national {step}", result)
        return
    rows = int(args[0]) if args else 10_000_000
    started = time.perf_counter()
    show(
        "national build", asyncio.run(build(rows, "--rebuild" in sys.argv)) | {"seconds": time.perf_counter() - started}
    )
    for step in ("lookup", "province", "nation"):
        subprocess.run([sys.executable, "-m", "bench.national", step], check=True)


if __name__ == "__main__":
    main()
