"""Telegram's webhook and several processes answering one bot (issue 17), on SQLite and PostgreSQL: the secret,
each update answered once and in its chat's order whichever process received it, and the scheduled work done
by one process, taken over when it stops."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from bot.app import App, build_application, started
from bot.config import Secret, Settings
from bot.inbox import WORKERS
from storage.pg import PgDatabase
from tests.conftest import bot_settings
from tests.fakebotapi import TOKEN, FakeBotAPI
from tests.test_ingest_e2e import free_port

WEBHOOK = "https://phucvu.example.vn/telegram/hook"
SECRET = "telegram-webhook-secret-1234"
CITIZEN = 5001
ROOT = Path(__file__).resolve().parent.parent


def webhook_settings(settings: Settings, api: FakeBotAPI, port: int) -> Settings:
    return replace(
        bot_settings(settings, api),
        telegram_webhook_url=WEBHOOK,
        telegram_webhook_secret=Secret(SECRET),
        http_port=port,
        ingest_token=Secret("i" * 32),
    )


async def until(done: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if done():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


def answers(api: FakeBotAPI, chat: int) -> list[str]:
    return [call.text or "" for call in api.sent(chat)]


async def test_the_webhook_checks_its_secret_and_answers_each_update_once(settings: Settings, api: FakeBotAPI) -> None:
    port = free_port()
    app = build_application(webhook_settings(settings, api, port))
    async with started(app), httpx.AsyncClient() as client:
        assert api.webhook == {"url": WEBHOOK, "secret_token": SECRET, "allowed_updates": ["message", "callback_query"]}
        url = f"http://127.0.0.1:{port}/telegram/hook"
        update = {"update_id": 900, **api.make_text(CITIZEN, "/start")}
        for headers in (
            {},
            {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
            {"X-Telegram-Bot-Api-Secret-Token": b"s\xe9"},
        ):
            refused = await client.post(url, json=update, headers=headers)
            assert refused.status_code == 403
        right = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        for junk in (b"{not json", b"[1, 2]", b'{"update_id": "x"}', b'{"update_id": -1}'):
            assert (await client.post(url, content=junk, headers=right)).status_code == 400
        await asyncio.sleep(0.3)
        assert api.sent(CITIZEN) == []  # nothing refused was answered
        first = await client.post(url, json=update, headers=right)
        assert first.status_code == 200 and first.json() == {"ok": True}
        await until(lambda: len(api.sent(CITIZEN)) >= 1)
        count = len(api.sent(CITIZEN))
        again = await client.post(url, json=update, headers=right)  # Telegram's retry of a call that timed out
        assert again.status_code == 200
        await asyncio.sleep(0.5)
        assert len(api.sent(CITIZEN)) == count  # answered once
        assert answers(api, CITIZEN)[0].startswith("Kính chào Ông/Bà!")
        # Through the fake's own delivery (as Telegram calls): a person's messages, answered in order.
        api.webhook_targets = [url]
        codes = [f"000.00.37.H37-250804-{9000 + n}" for n in range(5)]
        for code in codes:
            api.push_text(CITIZEN + 1, code)
        await until(lambda: sum(code in text for text in answers(api, CITIZEN + 1) for code in codes) == 5)
        seen = [
            next(c for c in codes if c in text) for text in answers(api, CITIZEN + 1) if any(c in text for c in codes)
        ]
        assert seen == codes
        inbox = app.bot_data.inbox
        assert inbox is not None and await inbox.repo.waiting() == 0
        assert await inbox.repo.outcomes() == {"answered": 6}
        for _ in range(100):  # read every 15 s, the first time a second after the start
            metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
            if "phucvu_scheduler_held 1.0" in metrics:
                break
            await asyncio.sleep(0.05)
        assert "phucvu_scheduler_held 1.0" in metrics and "phucvu_inbox_waiting " in metrics


async def test_two_processes_answer_one_bot_each_update_once_in_order(
    settings: Settings, api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two applications on one database behind one address (the fake calls them in turn): 12 people, 4 messages
    each, every message answered once and each person's in order; the scheduled work is one process's, and the
    other takes it over within the lease when the first stops."""
    monkeypatch.setattr("bot.inbox.SCHEDULER_LEASE", __import__("datetime").timedelta(seconds=1))
    monkeypatch.setattr("bot.app.SCHEDULER_EVERY", 0.3)
    ports = [free_port(), free_port()]
    apps: list[App] = [build_application(webhook_settings(settings, api, port)) for port in ports]
    async with started(apps[0]) as first:
        async with started(apps[1]) as second:
            api.webhook_targets = [f"http://127.0.0.1:{port}/telegram/hook" for port in ports]
            people = range(7001, 7013)
            codes = {person: [f"000.00.37.H37-250804-{person}{n}" for n in range(4)] for person in people}
            for n in range(4):
                for person in people:
                    api.push_text(person, codes[person][n])

            def answered(person: int) -> list[str]:
                found = []
                for text in answers(api, person):
                    found += [code for code in codes[person] if code in text]
                return found

            await until(lambda: all(len(answered(p)) >= 4 for p in people), 30)
            await asyncio.sleep(0.5)
            for person in people:
                assert answered(person) == codes[person]  # once each, in order
            assert sorted(api.webhook_answered) == sorted(set(api.webhook_answered))
            both = [first.bot_data.scheduler, second.bot_data.scheduler]
            await until(lambda: all(s is not None and s.leading is not None for s in both))
            leaders = [s for s in both if s is not None and s.leading]
            assert len(leaders) == 1
            pacers = [first.bot_data.services.outbox.pacer, second.bot_data.services.outbox.pacer]
            await until(lambda: [p.overall for p in pacers] == [15, 15])  # they share Telegram's 30 a second
            leader_app = first if leaders[0] is first.bot_data.scheduler else second
            other = second if leader_app is first else first
        if leader_app is second:  # the inner one stopped: the outer takes the work over
            await until(lambda: bool(first.bot_data.scheduler and first.bot_data.scheduler.leading), 5)
        assert other.bot_data.scheduler is not None


def tail(log: Path) -> str:
    """The end of the bots' log, for a failure's message."""
    return log.read_text(errors="replace")[-3000:]


@asynccontextmanager
async def two_bots(env: dict[str, str], log: Path, ready: Callable[[], bool]) -> AsyncIterator[Processes]:
    """Two real `phucvu run` processes with `env`, each on its own port, healthy and `ready()`; killed at the end
    if still running."""
    ports = [free_port(), free_port()]
    processes: list[asyncio.subprocess.Process] = []
    try:
        for port in ports:
            with log.open("ab") as stderr:
                processes.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "bot", "run", cwd=ROOT, env=env | {"PHUCVU_HTTP_PORT": str(port)},
                        stderr=stderr,
                    )
                )  # fmt: skip
        async with httpx.AsyncClient() as client:

            async def up(port: int) -> bool:
                try:
                    return (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
                except httpx.HTTPError:
                    return False

            for _ in range(300):
                if ready() and all([await up(port) for port in ports]):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the bots did not start:\n{tail(log)}")
        yield Processes(ports, processes)
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()


@dataclass
class Processes:
    ports: list[int]
    running: list[asyncio.subprocess.Process]

    async def kill_the_one_replying(self, check: PgDatabase) -> None:
        """SIGKILL the process whose reply is in flight (its update marked as leaving, not answered)."""
        row = await check.fetchone("SELECT holder FROM inbox WHERE left_at IS NOT NULL AND done_at IS NULL")
        pid = int(str(row[0]).split(":")[1])
        victim = next(p for p in self.running if p.pid == pid)
        victim.kill()
        await victim.wait()

    async def stop_the_survivor(self) -> None:
        survivor = next(p for p in self.running if p.returncode is None)
        survivor.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(survivor.wait(), 30) == 0


async def settled_once_in_order(
    check: PgDatabase, log: Path, expected: int, codes: dict[str, list[str]], answered: Callable[[str], list[str]]
) -> None:
    """Once every stored update is settled: each person's codes answered once and in order, and any one not
    answered is an update that ended "uncertain" (its reply was in flight when its process was killed)."""
    waiting = "SELECT count(*) FROM inbox WHERE done_at IS NULL"
    stored = "SELECT count(*) FROM inbox"
    for _ in range(600):
        if (await check.fetchone(waiting))[0] == 0 and (await check.fetchone(stored))[0] == expected:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"not all answered:\n{tail(log)}")
    await asyncio.sleep(1)  # anything sent twice would have come by now
    rows = await check.fetchall("SELECT chat, payload, outcome FROM inbox")
    uncertain = {(str(r[0]), code) for r in rows if r[2] == "uncertain" for c in codes.values() for code in c
                 if code in str(r[1])}  # fmt: skip
    # Only the updates the dead process was replying to at the kill end "uncertain" (their reply had left, or
    # was leaving: it is not sent again); every other one was answered by one process or the other.
    assert {r[2] for r in rows} == {"answered", "uncertain"} and 1 <= len(uncertain) <= WORKERS
    for person, sent in codes.items():
        got = answered(person)
        assert got == [c for c in sent if c in got], person  # never twice, never out of order
        for code in set(sent) - set(got):  # not answered: only a reply in flight at the kill
            assert (person, code) in uncertain, code


async def test_kill_9_of_one_of_two_processes_loses_nothing_and_repeats_nothing(
    api: FakeBotAPI, pg_url: str, tmp_path: Path
) -> None:
    """Two real `phucvu run` processes in webhook mode on one PostgreSQL database, behind one address (the fake
    Bot API calls them in turn and, like a load balancer, the other when one is down). 20 people send 4 messages
    each; one process is killed with SIGKILL while a reply of its is in flight (Telegram took it, the answer never
    came back). Every message is answered once, each person's in order: what the dead process had stored or was
    answering is answered by the other, and the replies in flight are not sent again."""
    env = os.environ | {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "TELEGRAM_WEBHOOK_URL": WEBHOOK,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "PHUCVU_DB": pg_url,
        "PHUCVU_INGEST_TOKEN": "i" * 32,
        "PHUCVU_INBOX_LEASE": "3",
        "PTB_TIMEDELTA": "true",
    }
    log = tmp_path / "bots.log"
    async with two_bots(env, log, lambda: bool(api.webhook)) as bots:
        api.webhook_targets = [f"http://127.0.0.1:{port}/telegram/hook" for port in bots.ports]
        arrived, release = api.hold_next("sendMessage")  # the first reply: taken, its answer never returns
        codes = {str(p): [f"000.00.37.H37-250804-{p}{n}" for n in range(4)] for p in range(8001, 8021)}
        for n in range(4):
            for person, sent in codes.items():
                api.push_text(int(person), sent[n])
        await asyncio.wait_for(arrived.wait(), 30)
        check = await PgDatabase.open(pg_url)
        try:
            await bots.kill_the_one_replying(check)  # SIGKILL, mid-load
            release.set()  # Telegram took that message; the process never hears so

            def answered(person: str) -> list[str]:
                return [c for text in answers(api, int(person)) for c in codes[person] if c in text]

            await settled_once_in_order(check, log, 80, codes, answered)
        finally:
            await check.close()
        await bots.stop_the_survivor()


async def test_kill_9_behind_the_zalo_webhook_loses_nothing_and_repeats_nothing(pg_url: str, tmp_path: Path) -> None:
    """The same on Zalo: two real processes behind ZALO_WEBHOOK_URL, each call to one or the other (to the other
    when one is down, as a load balancer does), 20 people writing 4 messages one after another; the process whose
    reply is in flight is killed with SIGKILL. Each message is answered once and in order, but for the replies in
    flight at the kill (recorded uncertain)."""
    from tests.fakezaloapi import TOKEN as ZALO_TOKEN
    from tests.fakezaloapi import FakeZaloAPI

    async with FakeZaloAPI() as zalo, httpx.AsyncClient() as client:
        env = os.environ | {
            "ZALO_BOT_TOKEN": ZALO_TOKEN,
            "ZALO_API_BASE_URL": zalo.base_url,
            "ZALO_WEBHOOK_URL": "https://phucvu.example.vn/zalo/hook",
            "ZALO_WEBHOOK_SECRET": "zalo-webhook-secret",
            "PHUCVU_DB": pg_url,
            "PHUCVU_INGEST_TOKEN": "i" * 32,
            "PHUCVU_INBOX_LEASE": "3",
            "PTB_TIMEDELTA": "true",
        }
        env.pop("TELEGRAM_BOT_TOKEN", None)
        log = tmp_path / "bots.log"
        async with two_bots(env, log, lambda: bool(zalo.webhook)) as bots:
            arrived, release = zalo.hold_next("sendMessage")
            codes = {f"zk{p}": [f"000.00.37.H37-250804-{8100 + p}{n}" for n in range(4)] for p in range(20)}
            headers = {"X-Bot-Api-Secret-Token": "zalo-webhook-secret"}

            async def writes(number: int, person: str) -> None:
                for n, code in enumerate(codes[person]):
                    update = zalo.update(person, "message.text.received", text=code)
                    turn = number + n
                    while True:  # to one process, or to the other when it is down
                        url = f"http://127.0.0.1:{bots.ports[turn % 2]}/zalo/hook"
                        try:
                            if (await client.post(url, json=update, headers=headers)).status_code == 200:
                                break
                        except httpx.HTTPError:
                            pass
                        turn += 1
                        await asyncio.sleep(0.05)

            writing = asyncio.gather(*(writes(n, person) for n, person in enumerate(codes)))
            await asyncio.wait_for(arrived.wait(), 30)
            check = await PgDatabase.open(pg_url)
            try:
                await bots.kill_the_one_replying(check)
                release.set()
                await writing

                def answered(person: str) -> list[str]:
                    return [c for m in zalo.sent(person) for c in codes[person] if c in (m.text or "")]

                await settled_once_in_order(check, log, 80, codes, answered)
            finally:
                await check.close()
            await bots.stop_the_survivor()
