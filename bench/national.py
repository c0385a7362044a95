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
import statistics
import subprocess
import sys
import time
from datetime import date
from typing import Any

import asyncpg

from bench.digest import BATCH, DAY, NOW, digest_service, load_nation, national_batches, whole_country
from bench.dossiers import lookups, peak_rss_mb
from bot.config import Settings

SERVER = os.environ.get("PHUCVU_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
NAME = "phucvu_bench_national"
URL = SERVER.rsplit("/", 1)[0] + "/" + NAME
ROUNDS = 5


async def build(rows: int, rebuild: bool) -> dict[str, float]:
    """Create and fill the national database unless it holds `rows` dossiers already; the import's speed."""
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
        written, applying = 0, 0.0
        for batch in national_batches(sorted(nation.communes.values(), key=lambda c: c.code), rows):
            for offset in range(0, len(batch), BATCH):
                began = time.perf_counter()
                await services.dossiers.apply(batch[offset : offset + BATCH], "bench", NOW)
                applying += time.perf_counter() - began
            written += len(batch)
            async with services.db.transaction() as conn:  # what autovacuum does (this machine's server has it off)
                await conn.execute("ANALYZE dossiers, dossier_history")
            print(f"  {written:,} dossiers, {written / applying:,.0f} rows/s in apply", file=sys.stderr, flush=True)
    finally:
        await services.db.close()
    conn = await asyncpg.connect(URL)
    try:
        await conn.execute("VACUUM ANALYZE")
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()
    return {"dossiers": float(written), "import_rows_per_s": written / applying, "database_gb": size / 1e9}


async def digest(scope: str, rounds: int = ROUNDS, day: date = DAY) -> dict[str, float]:
    """`DigestService.build` for Lạng Sơn (`province`) or the whole country (`nation`) on the national data."""
    from bot.centres import CentreService
    from bot.services import open_services
    from storage.centres import CentresRepo

    services = await open_services(Settings(database_url=URL), lambda: NOW)
    try:
        centres: Any
        if scope == "nation":
            centres = await whole_country(services.db)
        else:
            centres = await CentreService.create(CentresRepo(services.db), 20)
        service = digest_service(services, centres)
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
        result = asyncio.run(lookups(Settings(database_url=URL)) if step == "lookup" else digest(step))
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
