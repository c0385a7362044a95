"""Soak: the real `phucvu run` for minutes under mixed, hostile load, and what it leaves behind (issue 14).

Run: `.venv/bin/python -m bench.soak [SECONDS [SETTLE]]` (600 and 150 by default). The bot runs as its own process
against the fake Bot API (served here) with the HTTP server on. For SECONDS, at once:

- chat: 20 people, each sending the next message when the last was answered (lookups, centre questions,
  greetings, /start), as people do;
- ingest: every 5 s a batch of 5 dossiers whose statuses move on, so that their followers are notified;
- a flood: every 30 s, 300 connections to the HTTP port that send half a request's headers and wait;
- Telegram's failures: every 15 s a 429, a 502 with JSON, a 502 with an HTML page or a dropped connection on
  sendMessage; at one minute, a 401 (the token refused: the channel is held for 5 minutes);
- a locked database: every 60 s another writer holds the database for 8 s.

Then it waits for the outbox to settle and reports updates answered, outbox rows by final state (sent, failed with
each reason, waiting with a next attempt, and claimed: stuck), file descriptors and memory (RSS) of the bot's
process at start and end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.fakebotapi import FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent
INGEST_TOKEN = "soak-ingest-token-0123456789"
USERS = [20_000 + i for i in range(20)]
FOLLOWERS = [30_000 + i for i in range(10)]  # follow dossiers, then only receive the outbox's messages
CODES = [f"000.00.37.H37-250804-{n:04d}" for n in range(1, 61)]
TEXTS = ["Hữu Lũng", "xin chào", "xã Đồng Tân, huyện Hữu Lũng", "/start", "Huu Lungg", "Quý Hoà", "menu", *CODES[:5]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_stats(pid: int) -> tuple[int, float]:
    """Open file descriptors and resident memory (MB) of a process."""
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return fds, rss


def dossier(code: str, status: int, commune: str = "06385") -> dict[str, object]:
    return {
        "ma_ho_so": code,
        "ten_thu_tuc": "Đăng ký khai sinh",
        "ma_xa": commune,
        "ngay_tiep_nhan": "20250804083000",
        "ngay_hen_tra": "06/08/2026 17:00",
        "trang_thai": status,
    }


class Soak:
    def __init__(self, api: FakeBotAPI, port: int, db: Path, seconds: float) -> None:
        self.api = api
        self.port = port
        self.db = db
        self.until = time.monotonic() + seconds
        self.said = Counter[str]()
        self.events = Counter[str]()

    def running(self) -> bool:
        return time.monotonic() < self.until

    async def person(self, user: int, rng: random.Random, chatty: bool = True) -> None:
        await self.talk(user, "/start")
        for code in rng.sample(CODES[:30], 3):  # each follows three dossiers that the ingest moves on
            calls = await self.talk(user, code)
            follow = [b for c in calls for row in c.buttons for b in row if "callback_data" in b]
            if follow:
                self.api.push_callback(user, follow[0]["callback_data"], calls[0].result["message_id"])
                await asyncio.sleep(0.2)
        while chatty and self.running():
            await self.talk(user, rng.choice(TEXTS))

    async def talk(self, user: int, text: str) -> list:  # type: ignore[type-arg]
        self.said["sent"] += 1
        try:
            calls = await self.api.say(user, text, timeout=30)
        except AssertionError:
            self.said["unanswered"] += 1
            return []
        self.said["answered"] += 1
        return calls

    async def ingest(self, rng: random.Random) -> None:
        statuses = dict.fromkeys(CODES[:30], 1)
        async with httpx.AsyncClient(timeout=30) as client:
            while self.running():
                moved = rng.sample(CODES[:30], 5)
                for code in moved:  # on through 2, 4, 5, 6, 8, 9, 10, then again
                    statuses[code] = {1: 2, 2: 4, 4: 5, 5: 6, 6: 8, 8: 9, 9: 10, 10: 1}[statuses[code]]
                batch = [dossier(code, statuses[code]) for code in moved]
                try:
                    answer = await client.post(
                        f"http://127.0.0.1:{self.port}/api/v1/dossiers",
                        json=batch,
                        headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
                    )
                    self.events[f"ingest {answer.status_code}"] += 1
                except httpx.HTTPError as exc:
                    self.events[f"ingest {exc.__class__.__name__}"] += 1
                await asyncio.sleep(5)

    async def flood(self) -> None:
        while self.running():
            writers = []
            for _ in range(300):
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                    writer.write(b"POST /api/v1/dossiers HTTP/1.1\r\nHost: bot\r\nX-Slow: ")
                    writers.append(writer)
                except OSError:
                    self.events["flood connect refused"] += 1
            self.events["flood connections"] += len(writers)
            await asyncio.sleep(15)
            for writer in writers:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
            await asyncio.sleep(15)

    async def failures(self) -> None:
        kinds = ["429", "502 json", "502 html", "drop"]
        started = time.monotonic()
        refused = False
        n = 0
        while self.running():
            await asyncio.sleep(15)
            if not refused and time.monotonic() - started > 60:
                self.api.fail_next("sendMessage", 401, chat=FOLLOWERS[0])
                self.events["injected 401"] += 1
                refused = True
                continue
            kind = kinds[n % len(kinds)]
            n += 1
            chat = FOLLOWERS[n % len(FOLLOWERS)]  # a follower's: the outbox meets it (a reply's chat is busy)
            if kind == "429":
                self.api.fail_next("sendMessage", 429, retry_after=3, chat=chat)
            elif kind == "502 json":
                self.api.fail_next("sendMessage", 502, chat=chat)
            elif kind == "502 html":
                self.api.fail_next("sendMessage", 502, html=True, chat=chat)
            else:
                self.api.drop_next("sendMessage")
            self.events[f"injected {kind}"] += 1

    async def lock(self) -> None:
        while self.running():
            await asyncio.sleep(60)
            locker = sqlite3.connect(self.db, isolation_level=None, timeout=30)
            try:
                locker.execute("BEGIN IMMEDIATE")
                self.events["database locked 8 s"] += 1
                await asyncio.sleep(8)
                locker.execute("COMMIT")
            finally:
                locker.close()


def outbox_states(db: Path) -> Counter[str]:
    connection = sqlite3.connect(db)
    try:
        rows = connection.execute(
            "SELECT sent_at, failed_at, claimed_at, last_error, not_before, lease_until < datetime('now') FROM outbox"
        ).fetchall()
    finally:
        connection.close()
    states = Counter[str]()
    for sent, failed, claimed, error, not_before, lapsed in rows:
        if sent:
            states["sent"] += 1
        elif failed:
            states[f"failed: {(error or '')[:60]}"] += 1
        elif claimed:
            states["claimed, lease lapsed (stuck)" if lapsed else "claimed, in flight"] += 1
        else:
            states["waiting" + (" (next attempt set)" if not_before else "")] += 1
    return states


async def main(seconds: float = 600.0, settle: float = 150.0) -> None:
    async with FakeBotAPI() as api:
        port = free_port()
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "soak.db"
            env = os.environ | {
                "TELEGRAM_BOT_TOKEN": "123:SOAK",
                "TELEGRAM_API_BASE_URL": api.base_url,
                "PHUCVU_DB": str(db),
                "PHUCVU_HTTP_PORT": str(port),
                "PHUCVU_HTTP_HOST": "127.0.0.1",
                "PHUCVU_INGEST_TOKEN": INGEST_TOKEN,
                "PHUCVU_TIMEZONE": "America/Sao_Paulo",  # daytime whenever the soak runs: no quiet hours
                "PTB_TIMEDELTA": "true",
            }
            log = Path(tmp) / "bot.log"
            with log.open("wb") as stderr:
                bot = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run", cwd=ROOT, env=env, stderr=stderr
                )
            try:
                async with httpx.AsyncClient() as client:
                    for _ in range(200):
                        with contextlib.suppress(httpx.HTTPError):
                            if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                                break
                        await asyncio.sleep(0.1)
                    answer = await client.post(
                        f"http://127.0.0.1:{port}/api/v1/dossiers",
                        json=[dossier(code, 1) for code in CODES],
                        headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
                    )
                    assert answer.status_code == 200, answer.text
                await asyncio.sleep(2)
                fds_start, rss_start = process_stats(bot.pid)
                started = time.monotonic()
                soak = Soak(api, port, db, seconds)
                rng = random.Random(14)
                await asyncio.gather(
                    *(soak.person(user, random.Random(rng.random())) for user in USERS),
                    *(soak.person(user, random.Random(rng.random()), chatty=False) for user in FOLLOWERS),
                    soak.ingest(random.Random(15)),
                    soak.flood(),
                    soak.failures(),
                    soak.lock(),
                )
                ran = time.monotonic() - started
                await asyncio.sleep(settle)  # longer than a lease (120 s): every claim is settled by now
                fds_end, rss_end = process_stats(bot.pid)
                async with httpx.AsyncClient() as client:
                    healthy = (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code
            finally:
                bot.terminate()
                await bot.wait()
            states = outbox_states(db)
            tracebacks = log.read_text(errors="replace").count("Traceback")
            log_mb = log.stat().st_size / 2**20
            kept = ROOT / "bench" / "out" / "soak.log"
            kept.parent.mkdir(exist_ok=True)
            kept.write_bytes(log.read_bytes())
    print(f"soak: {ran:.0f} s of load, then {settle:.0f} s to settle")
    print(f"updates: sent={soak.said['sent']} answered={soak.said['answered']} unanswered={soak.said['unanswered']}")
    print("load: " + ", ".join(f"{k}={v}" for k, v in sorted(soak.events.items())))
    print("outbox: " + json.dumps(dict(sorted(states.items())), ensure_ascii=False))
    print(f"bot process: fds {fds_start} → {fds_end}, RSS {rss_start:.1f} → {rss_end:.1f} MB")
    print(f"after: /healthz {healthy}, log {log_mb:.2f} MB, tracebacks in the log {tracebacks} (bench/out/soak.log)")


if __name__ == "__main__":
    asyncio.run(main(*(float(arg) for arg in sys.argv[1:3])))
