"""Dossier lookups at 1,000,000 dossiers: in-process p99 and resident memory, and throughput over the fake Bot
API against a bare echo bot (goals: p99 < 1 ms, RSS < 200 MB, throughput ≥ 80% of echo).

Run: `.venv/bin/python -m bench.dossiers [N [ROUNDS]] [--in-process] [--same-http]` (the fake Bot API and the
echo bot: bench/throughput.py).
The database is built once into bench/out/ (ignored by git) with the demo generator (every commune, every status,
real procedure names) and reused by later runs.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings

NOW = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
OUT = Path(__file__).resolve().parent / "out"


async def build(path: Path, count: int) -> None:
    """Fill a database with `count` demo dossiers (about 40,000 per 60 days)."""
    from bot.demo import generate
    from bot.services import open_services

    services = await open_services(Settings(db_path=path), lambda: NOW)
    communes = list(services.centres.directory.communes.values())
    rows = generate(communes, NOW, seed=11, days=round(count / 40_000 * 60) + 1)[:count]
    for start in range(0, len(rows), 20_000):
        await services.dossiers.apply(rows[start : start + 20_000], "bench", NOW)
    await services.db.close()


async def lookups(settings: Settings, rounds: int = 20_000) -> dict[str, float]:
    """In this (fresh) process: p50/p99 of `DossierService.lookup` for known and unknown codes; peak RSS."""
    from bot.people import Person
    from bot.services import open_services

    services = await open_services(settings, lambda: NOW)
    keys = [row[0] for row in await services.db.fetchall("SELECT code FROM dossiers ORDER BY random() LIMIT 5000")]
    rng = random.Random(3)
    samples = []
    for i in range(rounds):
        code = rng.choice(keys) if i % 10 else f"000.99.37.H37-260101-{i:04d}"
        person = Person("bench", str(i))  # a new person each time: the enumeration limit is not what is measured
        start = time.perf_counter()
        await services.dossiers.lookup(person, code, NOW)
        samples.append((time.perf_counter() - start) * 1000)
    await services.db.close()
    samples.sort()
    return {
        "lookups": float(rounds),
        "p50_ms": statistics.median(samples),
        "p99_ms": samples[int(len(samples) * 0.99)],
        "peak_rss_mb": peak_rss_mb(),
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the parent on Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def throughput(
    path: Path, n: int, rounds: int = 6, *, in_process: bool = False, same_http: bool = False
) -> dict[str, float]:
    """Echo bot vs Phục Vụ answering lookups of known codes (see bench/throughput.py)."""
    import os

    os.environ.setdefault("PTB_TIMEDELTA", "true")
    from bench.throughput import compare, fake_bot_api
    from bot.app import build_application
    from bot.config import Secret
    from storage.db import Database
    from tests.fakebotapi import TOKEN

    db = await Database.open(path)
    codes = [row[0] for row in await db.fetchall("SELECT code FROM dossiers ORDER BY random() LIMIT 2000")]
    await db.close()
    async with fake_bot_api(in_process) as fake:
        settings = Settings(telegram_token=Secret(TOKEN), telegram_api_base_url=fake.base_url, db_path=path)
        return await compare(
            fake,
            lambda: build_application(settings, clock=lambda: NOW),
            n,
            lambda i: f"Hồ sơ {codes[i % len(codes)]}",
            rounds,
            same_http=same_http,
        )


def main() -> None:
    """Build (once), then measure lookups in a fresh process, then throughput."""
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    count = int(args[0]) if args else 1_000_000
    path = OUT / f"dossiers-{count}.db"
    if "--lookups" in sys.argv:
        print(json.dumps(asyncio.run(lookups(Settings(db_path=path)))))
        return
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        start = time.perf_counter()
        asyncio.run(build(path, count))
        print(f"built {count} dossiers in {time.perf_counter() - start:.0f} s ({path.stat().st_size / 2**20:.0f} MiB)")
    fresh = subprocess.run(
        [sys.executable, "-m", "bench.dossiers", str(count), "--lookups"], capture_output=True, text=True, check=True
    )
    print("lookups: " + ", ".join(f"{k}={v:.3f}" for k, v in json.loads(fresh.stdout).items()))
    rounds = int(args[1]) if len(args) > 1 else 6
    flags = {"in_process": "--in-process" in sys.argv, "same_http": "--same-http" in sys.argv}
    result = asyncio.run(throughput(path, 1000, rounds, **flags))
    print("lookup throughput: " + ", ".join(f"{k}={v:.2f}" for k, v in result.items()))


if __name__ == "__main__":
    main()
