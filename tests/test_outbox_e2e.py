"""The outbox over the fake Bot APIs (issue 14): every message ends sent, failed for good with the reason, or
waiting with its next attempt; a refused token holds the whole channel and tells the admins on another one; an
outcome the locked database refused is recorded once it frees; a message that cannot be prepared is given up after
a few tries; the console never touches anyone else's messages. Crashes and lapsed claims:
tests/test_digest_e2e.py."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from telegram import Bot

from bot.app import build_application
from bot.config import Settings
from bot.console import Console, ConsoleNotifier
from bot.dossiers import to_sql_time
from bot.outbox import PREPARE_TRIES, TOKEN_HOLD
from bot.people import Person
from bot.services import Services, open_services
from bot.telegram_channel import TelegramNotifier
from storage.db import Database
from tests.conftest import bot_settings, sqlite_only
from tests.factories import KEY, dossier_row
from tests.fakebotapi import FakeBotAPI, running
from tests.fakezaloapi import FakeZaloAPI
from tests.test_digest_e2e import MONDAY_MORNING, TZ, Clock, RecordingPacer, until
from tests.test_zalo_e2e import zalo_settings

FOLLOWERS = [str(9000 + n) for n in range(10)]
ADMIN = "7777"
FINISHED = dossier_row(status=9, finished_at="2025-08-04 00:00:00")


@pytest.fixture
async def zalo() -> AsyncIterator[FakeZaloAPI]:
    async with FakeZaloAPI() as fake:
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_MORNING)


def both(settings: Settings, api: FakeBotAPI, zalo: FakeZaloAPI, admin: tuple[str, str]) -> Settings:
    return replace(zalo_settings(bot_settings(settings, api), zalo), admins=frozenset({admin}))


async def followed_by(services: Services, channel: str, people: list[str], clock: Clock) -> None:
    await services.dossiers.apply([dossier_row(status=4)], "import:a.csv", clock())
    for person in people:
        assert await services.dossiers.follow(Person(channel, person), KEY, clock()) == "followed"


def sends(fake: FakeBotAPI | FakeZaloAPI, since: int) -> list[tuple[str, int]]:
    """(chat, status) of each sendMessage since `since`."""
    calls = fake.calls[since:]
    return [(str(call.params.get("chat_id")), call.status) for call in calls if call.method == "sendMessage"]


class Heard(logging.Handler):
    """`heard` is set once a log line containing `words` is emitted (on the event loop's thread, where the bot
    logs)."""

    def __init__(self, words: str) -> None:
        super().__init__()
        self.words = words
        self.heard = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.words in record.getMessage():
            self.heard.set()


@pytest.mark.parametrize("refused", ["telegram", "zalo"])
async def test_a_refused_token_holds_every_message_and_tells_the_admins_elsewhere(
    settings: Settings, api: FakeBotAPI, zalo: FakeZaloAPI, clock: Clock, refused: str
) -> None:
    other = "zalo" if refused == "telegram" else "telegram"
    fake, told = (api, zalo) if refused == "telegram" else (zalo, api)
    app = build_application(both(settings, api, zalo, (other, ADMIN)), clock=clock, outbox_interval=0.05)
    async with running(app) as app:
        services = app.bot_data.services
        await followed_by(services, refused, FOLLOWERS, clock)
        since, since_told = fake.mark(), told.mark()
        fake.fail_next("sendMessage", 401)
        await services.dossiers.apply([FINISHED], "api", clock())
        [alert] = await told.wait_sent(ADMIN, since=since_told)
        name = "Telegram" if refused == "telegram" else "Zalo"
        assert (alert.text or "").startswith(f"⚠️ {name} từ chối mã truy cập (token) của bot.")
        await asyncio.sleep(0.5)  # ten drains: the channel stays held, nothing is tried again, nothing is lost
        assert [status for _, status in sends(fake, since)] == [401]
        rows = await services.db.fetchall(
            "SELECT claimed_at, sent_at, failed_at, not_before FROM outbox WHERE kind = 'dossier_status'"
        )
        assert len(rows) == len(FOLLOWERS)
        assert all(r["claimed_at"] is None and r["sent_at"] is None and r["failed_at"] is None for r in rows)
        clock.now += timedelta(seconds=TOKEN_HOLD + 1)  # the hold lapses; the token works again: all go, once
        query = "SELECT count(*) FROM outbox WHERE kind = 'dossier_status' AND sent_at IS NOT NULL"
        await until(lambda row: row[0] == len(FOLLOWERS), services.db, query)
        delivered = [chat for chat, status in sends(fake, since) if status == 200]
        assert sorted(delivered) == sorted(FOLLOWERS)
        assert len(told.sent(ADMIN, since=since_told)) == 1


async def test_an_outcome_the_locked_database_refused_is_recorded_once_it_frees(
    settings: Settings, api: FakeBotAPI, clock: Clock
) -> None:
    """A 429 answered while another writer (an import) holds the database: the message ends waiting for its
    next attempt, not claimed for ever."""
    sqlite_only(settings, "a writer holding SQLite's file lock (PostgreSQL's writers do not wait on each other)")
    app = build_application(bot_settings(settings, api), clock=clock, outbox_interval=0.05, pacer=RecordingPacer())
    async with running(app) as app:
        services = app.bot_data.services
        services.outbox.settle_pauses = (0.1, 0.1)
        await services.db.conn.execute("PRAGMA busy_timeout=20")
        await followed_by(services, "telegram", FOLLOWERS[:1], clock)
        arrived, release = api.hold_next("sendMessage")
        api.fail_next("sendMessage", 429, retry_after=30)
        await services.dossiers.apply([FINISHED], "api", clock())
        await asyncio.wait_for(arrived.wait(), 5)
        locker = sqlite3.connect(settings.db_path, isolation_level=None)
        try:
            locker.execute("BEGIN IMMEDIATE")  # the import's write transaction
            kept = Heard("kept for the next drain")
            logging.getLogger("bot.outbox").addHandler(kept)
            try:
                release.set()
                await api.wait_for(lambda call: call.status == 429)
                await asyncio.wait_for(kept.heard.wait(), 5)  # every try to record the 429 met the lock
            finally:
                logging.getLogger("bot.outbox").removeHandler(kept)
            locker.execute("COMMIT")
        finally:
            locker.close()
        query = "SELECT claimed_at, not_before, last_error, failed_at FROM outbox WHERE kind = 'dossier_status'"
        row = await until(lambda row: row["claimed_at"] is None, services.db, query)
        assert row["failed_at"] is None and row["last_error"] == "429 retry after 30.0s"
        assert row["not_before"] >= to_sql_time(clock() + timedelta(seconds=30))
        assert [status for _, status in sends(api, 0)] == [429]  # waiting, not sent twice meanwhile


async def test_a_message_that_cannot_be_prepared_is_tried_a_few_times_then_given_up(
    settings: Settings, api: FakeBotAPI, clock: Clock
) -> None:
    services = await open_services(bot_settings(settings, api), clock)
    try:
        person_id = await services.people.repo.ensure("telegram", ADMIN, clock().isoformat())
        await queue(services.db, person_id, "digest_chart", {"kind": "daily", "day": "2025-08-04", "language": "vi"})

        async def broken(*_: object) -> bytes | None:
            raise RuntimeError("the chart cannot be drawn")

        async with Bot("123:abc", base_url=api.base_url) as bot:
            notifier = TelegramNotifier(bot, TZ, broken)
            for _ in range(PREPARE_TRIES):
                await services.outbox.drain(notifier)
                clock.now += timedelta(minutes=10)
        row = await services.db.fetchone("SELECT attempts, claimed_at, failed_at, last_error FROM outbox")
        assert row is not None and row["attempts"] == PREPARE_TRIES and row["failed_at"] is not None
        assert row["last_error"] == "could not be prepared in 5 tries: RuntimeError: the chart cannot be drawn"
        assert api.called("sendPhoto") == []
    finally:
        await services.db.close()


async def queue(db: Database, person_id: int, kind: str, payload: dict[str, object]) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO outbox (person_id, kind, dedupe_key, payload, created_at) VALUES (?, ?, ?, ?, ?)",
            (person_id, kind, f"test:{person_id}:{kind}", json.dumps(payload), "2025-08-04 00:00:00"),
        )


async def test_the_console_never_claims_anyone_elses_messages(settings: Settings, clock: Clock) -> None:
    """`phucvu console` on the production database serves its own person only: the Zalo and Telegram people's
    queues, and another console person's, are left as they were."""
    services = await open_services(settings, clock)
    try:
        for channel, external_id in [("zalo", "z1"), ("telegram", "42"), ("console", "2"), ("console", "1")]:
            person_id = await services.people.repo.ensure(channel, external_id, clock().isoformat())
            await queue(services.db, person_id, "dossier_overdue", {"code": "X", "due_at": "2025-08-03 10:00:00"})
        printed: list[str] = []
        console = Console(services, printed.append)
        report = await services.outbox.drain(ConsoleNotifier(console))
        assert report.sent == 1 and report.failed == 0 and "⏰ Hồ sơ X" in "".join(printed)
        rows = await services.db.fetchall(
            "SELECT p.channel, p.external_id, o.claimed_at, o.sent_at, o.failed_at FROM outbox o"
            " JOIN people p ON p.id = o.person_id ORDER BY o.id"
        )
        untouched = [tuple(r) for r in rows if (r[0], r[1]) != ("console", "1")]
        nothing = (None, None, None)
        assert untouched == [("zalo", "z1", *nothing), ("telegram", "42", *nothing), ("console", "2", *nothing)]
    finally:
        await services.db.close()


async def test_messages_to_one_person_do_not_hold_everyone_elses(settings: Settings, clock: Clock) -> None:
    """Five messages to one follower queued before one to another (one import changed five dossiers the first
    follows): the other's goes while the first's chat waits its second, and a fake that enforces Telegram's limits
    answers no 429."""
    async with FakeBotAPI(enforce_limits=True) as api:
        configured = bot_settings(settings, api)
        services = await open_services(configured, clock)
        try:
            now = to_sql_time(clock())
            people = [await services.people.repo.ensure("telegram", chat, now) for chat in ("9101", "9102")]
            rows = [(people[0], f"a{n}", n) for n in range(5)] + [(people[1], "b0", 0)]
            async with services.db.transaction() as conn:
                await conn.executemany(
                    "INSERT INTO outbox (person_id, kind, dedupe_key, payload, created_at)"
                    " VALUES (?, 'commune_morning', ?, ?, ?)",
                    [(p, key, json.dumps({"commune": "Xã Hữu Lũng", "overdue": n + 1, "soon": 0}), now)
                     for p, key, n in rows],
                )  # fmt: skip
            bot = Bot("1:x", base_url=api.base_url)
            await bot.initialize()
            try:
                report = await services.outbox.drain(TelegramNotifier(bot, TZ))
            finally:
                await bot.shutdown()
        finally:
            await services.db.close()
    assert report.sent == 6 and api.limited == 0
    order = [int(call.chat_id) for call in api.sent() if call.method == "sendMessage"]
    assert order[:2] == [9101, 9102]  # the second person's message did not wait behind the first's four


async def test_two_processes_drain_one_outbox_without_sending_a_message_twice(settings: Settings, clock: Clock) -> None:
    """Two processes' services on one database drain the same 60 messages at once: each is claimed by one of them
    (on PostgreSQL, a row the other is claiming is skipped: `FOR UPDATE SKIP LOCKED`) and sent exactly once."""
    async with FakeBotAPI() as api:
        configured = bot_settings(settings, api)
        first, second = await open_services(configured, clock), await open_services(configured, clock)
        bots = [Bot("1:x", base_url=api.base_url), Bot("1:x", base_url=api.base_url)]
        try:
            now = to_sql_time(clock())
            people = [await first.people.repo.ensure("telegram", str(9200 + n), now) for n in range(60)]
            async with first.db.transaction() as conn:
                await conn.executemany(
                    "INSERT INTO outbox (person_id, kind, dedupe_key, payload, created_at)"
                    " VALUES (?, 'commune_morning', ?, ?, ?)",
                    [(p, f"m{p}", json.dumps({"commune": "Xã Hữu Lũng", "overdue": 1, "soon": 0}), now)
                     for p in people],
                )  # fmt: skip
            for bot in bots:
                await bot.initialize()
            reports = await asyncio.gather(
                first.outbox.drain(TelegramNotifier(bots[0], TZ)), second.outbox.drain(TelegramNotifier(bots[1], TZ))
            )
            unsettled = await first.db.fetchone("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        finally:
            for bot in bots:
                await bot.shutdown()
            await first.db.close()
            await second.db.close()
    chats = [str(call.chat_id) for call in api.sent() if call.method == "sendMessage"]
    assert sorted(chats) == sorted(str(9200 + n) for n in range(60))  # each once
    assert reports[0].sent + reports[1].sent == 60 and unsettled[0] == 0
    assert reports[0].sent > 0 and reports[1].sent > 0  # both drained
