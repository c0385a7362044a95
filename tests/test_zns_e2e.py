"""End to end: template messages to applicants' phones through the outbox, over HTTP to a fake of ZNS and Zalo's
OAuth (tests/fakezns.py): one message per change, the refresh token rotated and kept in the database across a
restart, each kind of refusal, development mode, quiet hours, and `kill -9` between queueing and sending."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App, build_application, started
from bot.config import Secret, Settings
from bot.dossiers import to_sql_time
from bot.services import open_services
from bot.zns import Tokens, ZnsClient
from storage.db import Database
from storage.zns import ZnsTokensRepo
from tests.factories import CODE, dossier_row
from tests.fakebotapi import TOKEN, FakeBotAPI
from tests.fakezns import APP_ID, FIRST_REFRESH, SECRET_KEY, SETTING, FakeZns
from tests.test_digest_e2e import until
from tests.test_ingest_e2e import free_port, post

NOW = datetime(2025, 8, 5, 3, 0, tzinfo=UTC)  # 10:00 in Lạng Sơn
PHONE = "84912345678"
ROOT = Path(__file__).resolve().parent.parent
ADMIN = 424242


def midday_zone(now: datetime) -> str:
    """A time zone where it is about midday now (`Etc/GMT-7` is UTC+7)."""
    hours = (12 - now.hour) % 24
    hours = hours - 24 if hours > 14 else hours
    return f"Etc/GMT{-hours:+d}" if hours else "Etc/UTC"


def zns_env(zns: FakeZns) -> dict[str, str]:
    return {
        "ZALO_ZNS_APP_ID": APP_ID,
        "ZALO_ZNS_SECRET_KEY": SECRET_KEY,
        "ZALO_ZNS_REFRESH_TOKEN": FIRST_REFRESH,
        "ZALO_ZNS_TEMPLATES": SETTING,
        "ZALO_ZNS_API_BASE_URL": zns.base_url,
        "ZALO_OAUTH_BASE_URL": zns.base_url,
    }


def zns_settings(settings: Settings, zns: FakeZns) -> Settings:
    read = Settings.from_env(zns_env(zns), dotenv=None)
    return replace(
        settings,
        zns_app_id=read.zns_app_id,
        zns_secret_key=read.zns_secret_key,
        zns_refresh_token=read.zns_refresh_token,
        zns_templates=read.zns_templates,
        zns_api_base_url=read.zns_api_base_url,
        oauth_base_url=read.oauth_base_url,
        admins=frozenset({("telegram", str(ADMIN))}),
    )


@pytest.fixture
async def zns() -> AsyncIterator[FakeZns]:
    async with FakeZns() as fake:
        yield fake


def application(settings: Settings, zns: FakeZns, clock: datetime = NOW) -> App:
    return build_application(zns_settings(settings, zns), telegram=False, clock=lambda: clock, outbox_interval=0.1)


async def outbox_row(
    db: Database, done: str = "sent_at IS NOT NULL OR failed_at IS NOT NULL OR last_error IS NOT NULL"
) -> dict[str, object]:
    row = await until(lambda _: True, db, f"SELECT * FROM outbox WHERE kind = 'zns' AND ({done}) ORDER BY id DESC")
    return dict(row)


async def test_a_received_dossier_messages_its_applicant_once_with_the_template_and_no_name(
    settings: Settings, zns: FakeZns
) -> None:
    async with started(application(settings, zns)) as app:
        services = app.bot_data.services
        await services.dossiers.apply([dossier_row(status=2, phone=PHONE)], "api", NOW)
        [sent] = await zns.wait_for(1)
        assert (sent.phone, sent.template_id, sent.mode) == (PHONE, "1001", "")
        assert sent.data == {
            "ma_ho_so": CODE,
            "ten_thu_tuc": "Đăng ký khai sinh",
            "ngay_hen_tra": "06/08/2025",
            "noi_nop": "Trung tâm Phục vụ hành chính công xã Hữu Lũng",
        }
        assert "Hoàng Thị Bích" not in str(sent.data)  # the applicant's name is never sent anywhere
        row = await outbox_row(services.db)
        assert row["sent_at"] is not None and sent.tracking_id == f"phucvu{row['id']}"
        # The same data again, and a step nobody is told of: nothing more.
        await services.dossiers.apply([dossier_row(status=2, phone=PHONE)], "api", NOW)
        await services.dossiers.apply([dossier_row(status=4, phone=PHONE)], "api", NOW)
        await services.dossiers.apply([dossier_row(status=9, phone=PHONE)], "api", NOW)
        [_, ready] = await zns.wait_for(2)
        assert ready.template_id == "1003"
        await asyncio.sleep(0.3)  # a few drains more
        assert len(zns.sends) == 2
        # The refresh token was spent once, and the database holds the one Zalo gave instead.
        stored = await services.db.fetchone("SELECT refresh_token, access_token FROM zns_tokens")
        assert zns.refreshes == [FIRST_REFRESH] and stored[0] == zns.refresh_token != FIRST_REFRESH


async def test_an_expired_token_is_refreshed_and_the_chain_survives_a_restart(settings: Settings, zns: FakeZns) -> None:
    async with started(application(settings, zns)) as app:
        await app.bot_data.services.dossiers.apply([dossier_row(status=2, phone=PHONE)], "api", NOW)
        await zns.wait_for(1)
    zns.expire_access()  # a day later: Zalo refuses the access token the bot holds
    async with started(application(settings, zns)) as app:
        # Started again with the same ZALO_ZNS_REFRESH_TOKEN, long spent: the stored chain goes on.
        await app.bot_data.services.dossiers.apply([dossier_row(status=5, phone=PHONE)], "api", NOW)
        [_, supplement] = await zns.wait_for(2)
        assert supplement.template_id == "1002" and supplement.data["trang_thai"] == "Chờ Ông/Bà bổ sung hồ sơ"
        assert [send.error for send in zns.sends] == [0, -124, 0]  # refused, refreshed, sent: one message
        assert zns.refreshes == [FIRST_REFRESH, "fake-refresh-token-1"]
        stored = await app.bot_data.services.db.fetchone("SELECT refresh_token FROM zns_tokens")
        assert stored[0] == zns.refresh_token == "fake-refresh-token-2"


async def test_a_refused_refresh_token_holds_the_messages_and_tells_the_admins(
    settings: Settings, zns: FakeZns
) -> None:
    zns.refresh_token = "someone-else-rotated-it"  # the chain is broken: only an admin can authorise again
    async with started(application(settings, zns)) as app:
        db = app.bot_data.services.db
        await app.bot_data.services.dossiers.apply([dossier_row(status=2, phone=PHONE)], "api", NOW)
        row = await outbox_row(db)
        assert row["sent_at"] is None and row["failed_at"] is None  # waiting, not lost
        assert "ZALO_ZNS_REFRESH_TOKEN" in str(row["last_error"])
        told = await until(lambda _: True, db, "SELECT payload FROM outbox WHERE kind = 'channel_refused'")
        assert '"zns"' in told[0] and zns.sends == []


async def test_a_phone_without_zalo_fails_for_good_with_the_reason_and_others_go_on(
    settings: Settings, zns: FakeZns
) -> None:
    zns.no_zalo.add("84987654321")
    async with started(application(settings, zns)) as app:
        services = app.bot_data.services
        other = dossier_row(code="H37-250804-0002", code_key="H372508040002", status=2, phone="84987654321")
        await services.dossiers.apply([other, dossier_row(status=2, phone=PHONE)], "api", NOW)
        [sent] = await zns.wait_for(1)
        assert sent.phone == PHONE
        failed = await outbox_row(services.db, "failed_at IS NOT NULL")
        assert "-118" in str(failed["last_error"]) and "no Zalo account" in str(failed["last_error"])


async def test_the_daily_quota_holds_the_channel_until_tomorrow(settings: Settings, zns: FakeZns) -> None:
    zns.quota = 0
    async with started(application(settings, zns)) as app:
        services = app.bot_data.services
        first = dossier_row(status=2, phone=PHONE)
        second = dossier_row(code="H37-250804-0002", code_key="H372508040002", status=2, phone="84987654321")
        await services.dossiers.apply([first, second], "api", NOW)
        row = await outbox_row(services.db)
        assert row["failed_at"] is None and "-144" in str(row["last_error"])
        assert str(row["not_before"]) == to_sql_time(datetime(2025, 8, 5, 17, 5, tzinfo=UTC))  # 00:05 tomorrow
        await asyncio.sleep(0.4)
        assert len(zns.sends) == 1  # the second waits with the first: the channel is held


async def test_development_mode_reaches_the_apps_admins_only(settings: Settings, zns: FakeZns) -> None:
    zns.admins.add(PHONE)
    configured = replace(zns_settings(settings, zns), zns_development=True)
    app = build_application(configured, telegram=False, clock=lambda: NOW, outbox_interval=0.1)
    async with started(app):
        other = dossier_row(code="H37-250804-0002", code_key="H372508040002", status=2, phone="84987654321")
        await app.bot_data.services.dossiers.apply([dossier_row(status=2, phone=PHONE), other], "api", NOW)
        [sent] = await zns.wait_for(1)
        assert sent.mode == "development" and sent.phone == PHONE
        failed = await outbox_row(app.bot_data.services.db, "failed_at IS NOT NULL")
        assert "-127" in str(failed["last_error"])


async def test_nothing_goes_to_a_phone_at_night(settings: Settings, zns: FakeZns) -> None:
    night = datetime(2025, 8, 5, 15, 30, tzinfo=UTC)  # 22:30 in Lạng Sơn
    async with started(application(settings, zns, night)) as app:
        await app.bot_data.services.dossiers.apply([dossier_row(status=2, phone=PHONE)], "api", night)
        await asyncio.sleep(0.5)
        assert zns.sends == []
    async with started(application(settings, zns, night + timedelta(hours=9))) as app:  # 07:30
        await zns.wait_for(1)


async def test_a_phone_sent_to_the_ingest_api_is_never_in_its_answer_nor_in_a_lookup(
    settings: Settings, zns: FakeZns
) -> None:
    from tests.channels import chat_on

    port = free_port()
    ingest = "x" * 20
    configured = replace(zns_settings(settings, zns), ingest_token=Secret(ingest), http_port=port)
    app = build_application(configured, telegram=False, clock=lambda: NOW, outbox_interval=0.1)
    async with started(app):
        item = {"ma_ho_so": CODE, "ten_thu_tuc": "Khai sinh", "ma_xa": "06385", "ngay_tiep_nhan": "20250805080000"}
        item |= {"trang_thai": 2, "so_dien_thoai": "0912 345 678"}
        bad = item | {"ma_ho_so": "H37-250805-0002", "so_dien_thoai": "0205 3812 345"}
        status, body = await post(f"http://127.0.0.1:{port}", [item, bad], token=ingest)
        assert status == 200 and body["inserted"] == 2 and body["phones_ignored"] == 1
        assert "912" not in str(body)
        [sent] = await zns.wait_for(1)
        assert sent.phone == PHONE
    for channel in ("telegram", "zalo"):
        async with chat_on(channel, settings, lambda: NOW) as chat:
            replies = await chat.say("citizen", CODE)
            assert "Khai sinh" in replies[-1].text
            assert all("912" not in reply.text and "345 678" not in reply.text for reply in replies)


async def test_kill_9_between_queueing_and_sending_sends_each_message_exactly_once(
    zns: FakeZns, api: FakeBotAPI, tmp_path: Path
) -> None:
    """The real `phucvu run`: killed with SIGKILL while one message's send is in flight (Zalo took it, the answer
    never came back), with another queued behind it; started again: the first is not sent again (it may have
    arrived), the second arrives once, and so does the step of a dossier queued while the bot was down."""
    db_path = tmp_path / "kill.db"
    services = await open_services(Settings(db_path=db_path))
    await services.db.close()
    env = (
        os.environ
        | zns_env(zns)
        | {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": api.base_url,
            "PHUCVU_DB": str(db_path),
            "PHUCVU_OUTBOX_LEASE": "3",
            "PTB_TIMEDELTA": "true",
            "PHUCVU_TIMEZONE": midday_zone(datetime.now(UTC)),  # phones are not messaged at night: it is day there
        }
    )
    log = tmp_path / "bot.log"

    async def start() -> asyncio.subprocess.Process:
        with log.open("ab") as stderr:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=ROOT, env=env, stderr=stderr
            )

    async def queue(*rows: object) -> None:
        queued = await open_services(Settings.from_env(env, dotenv=None))
        try:
            await queued.dossiers.apply(list(rows), "import:test.csv", queued.clock())  # type: ignore[arg-type]
        finally:
            await queued.db.close()

    now = datetime.now(UTC)
    received = to_sql_time(now - timedelta(hours=1))
    first = dossier_row(status=2, phone=PHONE, received_at=received, due_at=None)
    second = dossier_row(code="H37-2", code_key="H372000002", status=2, phone="84987654321", received_at=received)
    zns.hold_next()  # Zalo takes the first message and the bot is killed before the answer
    await queue(first, second)
    process = await start()
    try:
        try:
            await zns.wait_for(1, seconds=60)
        except TimeoutError:
            raise AssertionError(f"nothing sent; the bot's log:\n{log.read_text(errors='replace')[-3000:]}") from None
    finally:
        process.kill()
        await process.wait()
    zns.release.set()
    third = dossier_row(code="H37-3", code_key="H372000003", status=2, phone="84362111222", received_at=received)
    await queue(third)  # queued while the bot is down
    process = await start()
    try:
        check = await open_services(Settings(db_path=db_path))
        try:
            unsettled = "SELECT count(*) FROM outbox WHERE kind = 'zns' AND sent_at IS NULL AND failed_at IS NULL"
            await until(lambda row: row[0] == 0, check.db, unsettled, seconds=60)
            rows = await check.db.fetchall("SELECT sent_at, last_error FROM outbox WHERE kind = 'zns' ORDER BY id")
        finally:
            await check.db.close()
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), timeout=30)
    phones = [send.phone for send in zns.delivered]
    assert sorted(phones) == sorted([PHONE, "84987654321", "84362111222"])  # each exactly once
    assert rows[0][0] is None and str(rows[0][1]).startswith("uncertain")  # in flight at the kill: never again
    assert rows[1][0] is not None and rows[2][0] is not None


async def tokens_on(path: Path, zns: FakeZns) -> tuple[Database, Tokens, ZnsClient]:
    db = await Database.open(path)
    settings = zns_settings(Settings(db_path=path), zns)
    client = ZnsClient(settings)
    tokens = Tokens(ZnsTokensRepo(db), client, lambda: datetime.now(UTC), pauses=(0.05, 0.05))
    await tokens.seed(FIRST_REFRESH)
    return db, tokens, client


async def test_two_processes_refresh_once_between_them(zns: FakeZns, tmp_path: Path) -> None:
    """A refresh token is spent at its first use: while one process refreshes, the other waits for its result."""
    first, second = await tokens_on(tmp_path / "z.db", zns), await tokens_on(tmp_path / "z.db", zns)
    try:
        got = await asyncio.gather(first[1].access(), second[1].access())
        assert got[0] == got[1] and zns.refreshes == [FIRST_REFRESH]
    finally:
        for db, _, client in (first, second):
            await client.close()
            await db.close()


async def test_a_new_refresh_token_the_database_refuses_is_kept_until_it_takes_it(zns: FakeZns, tmp_path: Path) -> None:
    path = tmp_path / "z.db"
    db, tokens, client = await tokens_on(path, zns)
    try:
        await db.conn.execute("PRAGMA busy_timeout=20")
        locker = sqlite3.connect(path, isolation_level=None)
        zns.on_refresh = lambda: locker.execute("BEGIN IMMEDIATE")  # an import takes the database meanwhile
        try:
            access = await tokens.access()
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert access in zns.access_tokens and zns.refreshes == [FIRST_REFRESH]
        stored = await db.fetchone("SELECT refresh_token FROM zns_tokens")
        assert stored[0] == FIRST_REFRESH  # not written yet: kept in memory, not lost
        assert await tokens.access() == access  # the next send writes it, and refreshes nothing
        stored = await db.fetchone("SELECT refresh_token, access_token FROM zns_tokens")
        assert tuple(stored) == (zns.refresh_token, access) and len(zns.refreshes) == 1
    finally:
        await client.close()
        await db.close()


async def test_zalo_unreachable_for_a_refresh_leaves_the_message_waiting(settings: Settings, zns: FakeZns) -> None:
    unreachable = replace(zns_settings(settings, zns), oauth_base_url=f"http://127.0.0.1:{free_port()}")
    app = build_application(unreachable, telegram=False, clock=lambda: NOW, outbox_interval=0.1)
    async with started(app):
        await app.bot_data.services.dossiers.apply([dossier_row(status=2, phone=PHONE)], "api", NOW)
        row = await outbox_row(app.bot_data.services.db)
        assert row["failed_at"] is None and row["sent_at"] is None and "no access token now" in str(row["last_error"])
        assert zns.sends == []
