"""Webhook throughput with several processes (issue 17): `phucvu run` in webhook mode, 1, 2 and 4 processes on one
PostgreSQL database, and one process on SQLite, behind the same fake Bot API, which calls them in turn (a load
balancer's round robin) with up to 40 calls at once (Telegram's default `max_connections`), each chat's updates one
after another as Telegram does.

Each run: a fresh database, the processes started and healthy, then UPDATES updates from CHATS people at once (a
mix of what people send: /start, a commune's name, a dossier code, /help, a question about a centre); timed from
the first call to the last update recorded as answered in the inbox (its replies sent). Goal: on this 2-core
machine, 2 processes at least 1.7× one, 4 no worse than 2.

Run: `.venv/bin/python -m bench.webhook [UPDATES [CHATS]]` (default 2,000 updates from 400 people), with
PostgreSQL at PHUCVU_TEST_POSTGRES (default `postgresql://postgres@127.0.0.1:5432/postgres`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("PTB_TIMEDELTA", "true")

import asyncpg
import httpx

from tests.fakebotapi import TOKEN, FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("PHUCVU_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
WEBHOOK = "https://phucvu.example.vn/telegram/webhook"
SECRET = "bench-webhook-secret-0123456789"
SAYINGS = ["/start", "Hữu Lũng", "000.00.37.H37-250804-0001", "/help", "trung tâm Chi Lăng ở đâu"]


def cpu_busy() -> tuple[float, float]:
    """The machine's busy and total CPU time so far, in clock ticks (`/proc/stat`)."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def process_cpu(pid: int) -> float:
    """A process's CPU seconds so far (user + system)."""
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (float(parts[11]) + float(parts[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def answered(database: str, folder: Path) -> int:
    """Updates recorded as answered so far."""
    if database.startswith("postgresql://"):
        conn = await asyncpg.connect(database)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM inbox WHERE done_at IS NOT NULL"))
        finally:
            await conn.close()
    import sqlite3

    with sqlite3.connect(database) as conn:
        return int(conn.execute("SELECT count(*) FROM inbox WHERE done_at IS NOT NULL").fetchone()[0])


async def run(kind: str, processes: int, updates: int, chats: int, folder: Path) -> dict[str, float]:
    admin = await asyncpg.connect(SERVER) if kind == "postgres" else None
    name = f"phucvu_bench_{uuid.uuid4().hex[:12]}"
    if admin is not None:
        await admin.execute(f'CREATE DATABASE "{name}"')
        database = SERVER.rsplit("/", 1)[0] + "/" + name
    else:
        database = str(folder / f"{name}.db")
    async with FakeBotAPI() as api:
        ports = [free_port() for _ in range(processes)]
        env = os.environ | {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": api.base_url,
            "TELEGRAM_WEBHOOK_URL": WEBHOOK,
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "PHUCVU_DB": database,
            "PHUCVU_INGEST_TOKEN": "b" * 32,
            "PTB_TIMEDELTA": "true",
        }
        log = folder / f"{name}.log"
        bots = []
        try:
            if admin is not None:  # migrated once before the processes start, as `phucvu migrate` would
                migrate = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "migrate", env=env, cwd=ROOT
                )
                await migrate.wait()
            for port in ports:
                with log.open("ab") as stderr:
                    bots.append(
                        await asyncio.create_subprocess_exec(
                            sys.executable,
                            "-m",
                            "bot",
                            "run",
                            cwd=ROOT,
                            env=env | {"PHUCVU_HTTP_PORT": str(port)},
                            stderr=stderr,
                        )
                    )
            async with httpx.AsyncClient() as client:
                for _ in range(600):
                    try:
                        ready = [(await client.get(f"http://127.0.0.1:{p}/healthz")).status_code for p in ports]
                    except httpx.HTTPError:
                        ready = []
                    if api.webhook and ready == [200] * processes:
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError(f"the bots did not start: {log.read_text(errors='replace')[-2000:]}")
            api.webhook_targets = [f"http://127.0.0.1:{port}/telegram/webhook" for port in ports]
            api.forget()
            before = [process_cpu(bot.pid) for bot in bots]
            fake_before = process_cpu(os.getpid())
            busy_before = cpu_busy()
            start = time.perf_counter()
            for n in range(updates):
                api.push_text(100_000 + n % chats, SAYINGS[(n // chats) % len(SAYINGS)])
            while (done := await answered(database, folder)) < updates:
                await asyncio.sleep(0.1)
                if time.perf_counter() - start > 900:
                    raise RuntimeError(f"only {done} of {updates} answered in 15 minutes")
            elapsed = time.perf_counter() - start
            busy_after = cpu_busy()
            bots_cpu = sum(process_cpu(bot.pid) for bot in bots) - sum(before)
            fake_cpu = process_cpu(os.getpid()) - fake_before
            machine = (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1])
            replies = len([c for c in api.sent() if c.ok])
        finally:
            for bot in bots:
                if bot.returncode is None:
                    bot.send_signal(signal.SIGINT)
            for bot in bots:
                try:
                    await asyncio.wait_for(bot.wait(), 30)
                except TimeoutError:
                    bot.kill()
            if admin is not None:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()
    return {
        "seconds": elapsed,
        "rate": updates / elapsed,
        "replies": replies,
        "bots_cpu": bots_cpu / elapsed,
        "fake_cpu": fake_cpu / elapsed,
        "machine": machine,
    }


async def measure(updates: int, chats: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        results: dict[str, float] = {}
        for kind, processes in [("sqlite", 1), ("postgres", 1), ("postgres", 2), ("postgres", 4)]:
            result = await run(kind, processes, updates, chats, Path(folder))
            results[f"{kind}x{processes}"] = result["rate"]
            print(
                f"webhook: {kind} processes={processes} updates={updates} chats={chats}"
                f" seconds={result['seconds']:.1f} updates_per_s={result['rate']:.1f} replies={result['replies']:.0f}"
                f" bots_cores={result['bots_cpu']:.2f} fake_cores={result['fake_cpu']:.2f}"
                f" machine_busy={result['machine']:.0%}",
                flush=True,
            )
        one = results["postgresx1"]
        print(
            f"webhook: 2 processes = {results['postgresx2'] / one:.2f}x one, 4 = {results['postgresx4'] / one:.2f}x"
            f" one ({results['postgresx4'] / results['postgresx2']:.2f}x two); SQLite one process ="
            f" {results['sqlitex1'] / one:.2f}x PostgreSQL one"
        )


def main() -> None:
    updates = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    chats = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    asyncio.run(measure(updates, chats))


if __name__ == "__main__":
    main()
