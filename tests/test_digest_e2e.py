"""End to end over the fake Bot API, with the clock injected: the morning digest reaches each leader once (text
then chart), survives 429, 5xx, 403 and a crash in the middle of sending, quiet hours hold citizens' follow-ups
but not urgent alerts. The digest on demand (/tomtat) is a conversation: tests/test_digest_scenarios.py."""

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import App, build_application, send_digests
from bot.cli import main
from bot.config import Settings
from bot.outbox import Pacer
from bot.people import Person
from bot.reports import Draft
from bot.roles import Role
from bot.services import open_services
from bot.telegram_channel import TelegramNotifier
from storage.db import Database
from tests.conftest import bot_settings
from tests.factories import KEY, dossier_row
from tests.fakebotapi import TOKEN, Call, FakeBotAPI, running
from tests.test_run_e2e import ROOT

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY_MORNING = datetime(2025, 8, 4, 7, 0, 30, tzinfo=TZ)
LEADER = 8101
ADMIN = 8100
OFFICIAL = 8102
CITIZEN = 8103


class Clock:
    """The bot's wall clock, moved by the test only."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class RecordingPacer(Pacer):
    """Telegram's limits on a clock of its own: it records each wait instead of sleeping."""

    def __init__(self) -> None:
        self.ticked = 0.0
        self.waits: list[float] = []
        super().__init__(ticks=lambda: self.ticked, sleep=self._sleep)

    async def _sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.ticked += seconds


def build(settings: Settings, api: FakeBotAPI, clock: Clock, pacer: Pacer | None = None) -> App:
    configured = replace(bot_settings(settings, api), admins=frozenset({("telegram", str(ADMIN))}))
    return build_application(configured, clock=clock, outbox_interval=0.1, pacer=pacer or RecordingPacer())


async def make_leader(app: App, api: FakeBotAPI, user: int = LEADER) -> None:
    services = app.bot_data.services
    invite = await services.roles.invite(Role.LEADER, None, "cli", services.clock())
    await api.say(user, f"/start {invite.code}")


async def until(done: Callable[[sqlite3.Row], bool], db: Database, query: str, seconds: float = 5) -> sqlite3.Row:
    """The row `query` reads, once `done` holds for it (the bot records an answer a moment after the fake gave
    it): waits for an event, like `api.wait_for`, never for a stretch of time."""
    async with asyncio.timeout(seconds):
        while True:
            row = await db.fetchone(query)
            if row is not None and done(row):
                return row
            await asyncio.sleep(0.01)


def digest_now(app: App) -> None:
    """What the daily job does at the digest time."""
    assert app.job_queue is not None
    app.job_queue.run_once(send_digests, 0)


def kinds(calls: list[Call]) -> list[str]:
    """`daily`, `weekly` for a digest's text, `chart` for a chart."""
    names = {"📊 TÓM TẮT NGÀY": "daily", "📊 TÓM TẮT TUẦN": "weekly"}
    return ["chart" if c.method == "sendPhoto" else names.get((c.text or "").split(" — ")[0], "?") for c in calls]


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_MORNING)


@pytest.fixture
async def digest_bot(settings: Settings, api: FakeBotAPI, clock: Clock) -> AsyncIterator[App]:
    async with running(build(settings, api, clock)) as app:
        await make_leader(app, api)
        yield app


async def test_the_morning_digest_arrives_once_text_then_chart(
    settings: Settings, api: FakeBotAPI, clock: Clock
) -> None:
    pacer = RecordingPacer()
    async with running(build(settings, api, clock, pacer)) as app:
        await make_leader(app, api)
        since = api.mark()
        digest_now(app)
        calls = await api.wait_sent(LEADER, count=4, since=since)
        assert kinds(calls) == ["daily", "chart", "weekly", "chart"]  # a Monday: each text, then its chart
        assert (calls[0].text or "").startswith("📊 TÓM TẮT NGÀY — Thứ Hai, 4 tháng 8, 2025\nTỉnh Lạng Sơn")
        assert all(len(call.params["caption"]) <= 1024 for call in calls[1::2])
        assert pacer.waits == [pytest.approx(1.05)] * 3  # one message a second to one chat (and a margin)
        services = app.bot_data.services
        assert await services.digest.queue_due(clock()) == 0  # later the same day: nothing more
    clock.now += timedelta(hours=2)
    async with running(build(settings, api, clock)) as app:  # a restart the same morning
        assert await app.bot_data.services.digest.queue_due(clock()) == 0
    assert len(api.sent(LEADER, since=since)) == 4


async def test_429_and_5xx_are_retried_in_order(digest_bot: App, api: FakeBotAPI, clock: Clock) -> None:
    db = digest_bot.bot_data.services.db
    api.fail_next("sendMessage", 429, retry_after=30)
    since = api.mark()
    digest_now(digest_bot)
    await api.wait_for(lambda call: call.status == 429, since=since)
    query = "SELECT * FROM outbox WHERE kind = 'digest_text' ORDER BY id LIMIT 1"
    first = await until(lambda row: row["last_error"] is not None, db, query)
    assert first["claimed_at"] is None and first["last_error"] == "429 retry after 30.0s"
    assert first["not_before"] == "2025-08-04 00:01:00"  # 07:00:30 + 30 s, stored in UTC
    assert api.sent(LEADER, since=since) == []  # its chart waits behind it, and so does the weekly digest
    api.fail_next("sendMessage", 502)
    clock.now += timedelta(seconds=31)
    await api.wait_for(lambda call: call.status == 502, since=since)
    second = await until(lambda row: str(row["last_error"]).startswith("network"), db, query)
    assert second["not_before"] == "2025-08-04 00:01:03"  # a growing wait: 2 s, then 4, 8…
    assert api.sent(LEADER, since=since) == []
    clock.now += timedelta(seconds=3)
    calls = await api.wait_sent(LEADER, count=4, since=since)
    assert [call.method for call in calls] == ["sendMessage", "sendPhoto", "sendMessage", "sendPhoto"]


async def test_a_leader_who_blocked_the_bot_is_marked_and_the_admins_told(
    digest_bot: App, api: FakeBotAPI, clock: Clock
) -> None:
    services = digest_bot.bot_data.services
    await api.say(ADMIN, "/start")
    api.block(LEADER)
    since = api.mark()
    digest_now(digest_bot)
    [told] = await api.wait_sent(ADMIN, since=since)
    assert told.text == (
        "⚠️ Không gửi được tin cho lãnh đạo tỉnh (telegram 8101): người này đã chặn bot. "
        "Tóm tắt và thông báo sẽ không đến họ cho tới khi họ mở lại bot."
    )
    rows = await services.db.fetchall(
        "SELECT failed_at IS NOT NULL, claimed_at IS NULL FROM outbox WHERE thread IS NOT NULL"
    )
    assert [tuple(row) for row in rows] == [(1, 0)] + [(1, 1)] * 3  # one tried; the others given up unsent
    official = Person("telegram", str(OFFICIAL))
    await services.roles.redeem(
        official, (await services.roles.invite(Role.OFFICIAL, "06385", "cli", clock())).code, clock()
    )
    await services.reports.file(official, Draft("it", "blocking", "Mất mạng."), clock())
    await services.outbox.drain(TelegramNotifier(digest_bot.bot, TZ))  # nothing tried for them
    alert = await services.db.fetchone("SELECT claimed_at FROM outbox WHERE kind = 'report_blocking'")
    assert alert is not None and alert[0] is None and len(api.sent(ADMIN, since=since)) == 1  # told once
    clock.now += timedelta(days=1)
    assert await services.digest.queue_due(clock()) == 0  # unreachable: not queued
    api.unblock(LEADER)
    back = api.mark()
    await api.say(LEADER, "/start")  # back: what waited for them goes now
    greeting, alert_sent = await api.wait_sent(LEADER, count=2, since=back)
    assert (greeting.text or "").startswith("Kính chào đồng chí!") and alert_sent.text == (
        "🚨 BC-000001 — xã Hữu Lũng: dừng phục vụ người dân (Công nghệ thông tin, mạng).\nMất mạng."
    )
    await services.digest.queue_due(clock())  # (the catch-up job at start may have done it first)
    leader_id = await services.people.repo.id_of("telegram", str(LEADER))
    assert leader_id is not None and await services.digest.repo.queued(leader_id, "daily", "2025-08-05")


async def crash_while_sending(settings: Settings, api: FakeBotAPI, clock: Clock, *, left: bool) -> None:
    """What `kill -9` leaves: the digest queued, its first part claimed (committed), its request gone (`left`) or
    not yet, and never settled."""
    async with running(build(settings, api, clock)) as app:
        await make_leader(app, api)
    services = await open_services(bot_settings(settings, api), clock)
    try:
        assert await services.digest.queue_due(clock()) == 2
        [first] = await services.outbox.repo.pending("telegram", "2025-08-04 00:00:31", 1)
        assert await services.outbox.repo.claim(first.id, "2025-08-04 00:00:31", "2025-08-04 00:05:31")
        if left:
            await services.outbox.repo.depart(first.id, "2025-08-04 00:00:31")
    finally:
        await services.db.close()


async def test_a_crash_after_a_request_left_sends_the_rest_once_and_never_it_again(
    settings: Settings, api: FakeBotAPI, clock: Clock
) -> None:
    await crash_while_sending(settings, api, clock, left=True)
    since = api.mark()
    clock.now += timedelta(minutes=1)
    async with running(build(settings, api, clock)) as app:
        db = app.bot_data.services.db
        await asyncio.sleep(0.5)  # the restart drains: the rest of the thread waits behind the claimed part
        assert api.sent(LEADER, since=since) == []
        clock.now += timedelta(minutes=5)  # the claim's lease lapses: the sweep settles it, the rest goes in order
        calls = await api.wait_sent(LEADER, count=3, since=since)
        assert kinds(calls) == ["chart", "weekly", "chart"]  # the daily text may have arrived: never twice
        row = await db.fetchone("SELECT sent_at, failed_at, last_error FROM outbox ORDER BY id LIMIT 1")
        assert row is not None and row["sent_at"] is None and row["failed_at"] is not None
        assert row["last_error"].startswith("uncertain: the sender stopped after the request left")
        assert await app.bot_data.services.digest.queue_due(clock()) == 0


async def test_a_crash_before_a_request_left_sends_it_when_the_claim_lapses(
    settings: Settings, api: FakeBotAPI, clock: Clock
) -> None:
    await crash_while_sending(settings, api, clock, left=False)
    since = api.mark()
    clock.now += timedelta(minutes=6)
    async with running(build(settings, api, clock)) as app:
        calls = await api.wait_sent(LEADER, count=4, since=since)
        assert kinds(calls) == ["daily", "chart", "weekly", "chart"]  # nothing lost, in order, once
        query = "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
        await until(lambda row: row[0] == 0, app.bot_data.services.db, query)  # each one recorded as sent


async def test_quiet_hours_hold_follow_ups_not_urgent_alerts(settings: Settings, api: FakeBotAPI) -> None:
    clock = Clock(datetime(2025, 8, 4, 22, 0, tzinfo=TZ))
    async with running(build(settings, api, clock)) as app:
        services = app.bot_data.services
        await make_leader(app, api)
        invite = await services.roles.invite(Role.OFFICIAL, "06385", "cli", clock())
        await api.say(OFFICIAL, f"/start {invite.code}")
        await services.dossiers.apply([dossier_row(status=4)], "import:a.csv", clock())
        await api.say(CITIZEN, "/start")
        await services.dossiers.follow(Person("telegram", str(CITIZEN)), KEY, clock())
        since = api.mark()
        await services.dossiers.apply([dossier_row(status=9, finished_at="2025-08-04 14:00:00")], "api", clock())
        official = Person("telegram", str(OFFICIAL))
        await services.reports.file(official, Draft("utilities", "blocking", "Mất điện."), clock())
        [alert] = await api.wait_sent(LEADER, since=since)  # urgent: at once, at 22:00
        assert (alert.text or "").startswith("🚨 BC-000001")
        held = await services.db.fetchone("SELECT claimed_at FROM outbox WHERE kind = 'dossier_status'")
        assert held is not None and held[0] is None and api.sent(CITIZEN, since=since) == []
        clock.now = datetime(2025, 8, 5, 7, 0, tzinfo=TZ)  # morning
        [follow_up] = await api.wait_sent(CITIZEN, since=since)
        assert (follow_up.text or "").startswith("🔔 Hồ sơ 000.00.37.H37-250804-0012 (Đăng ký khai sinh) chuyển sang:")


async def test_the_digest_on_demand_goes_as_json_then_a_multipart_upload(digest_bot: App, api: FakeBotAPI) -> None:
    since = api.mark()
    await api.say(LEADER, "/tomtat", expect=2)
    text, chart = api.sent(LEADER, since=since)
    assert (text.text or "").startswith("📊 TÓM TẮT NGÀY — Thứ Hai, 4 tháng 8, 2025") and chart.method == "sendPhoto"
    # Text goes as one UTF-8 JSON body (bot.telegram_http); an upload still goes as multipart.
    assert (text.content_type, chart.content_type) == ("application/json", "multipart/form-data")
    assert len(chart.params["caption"]) <= 1024


async def test_the_daily_job_runs_at_the_digest_time_in_the_province(digest_bot: App) -> None:
    assert digest_bot.job_queue is not None
    [job] = [job for job in digest_bot.job_queue.jobs() if job.name == "digest@07:00"]
    fire = job.next_t
    assert fire is not None and fire.astimezone(TZ).time().isoformat() == "07:00:00"  # not 07:00 UTC


async def test_a_digest_missed_while_the_bot_was_down_is_sent_when_it_starts(
    settings: Settings, api: FakeBotAPI
) -> None:
    clock = Clock(datetime(2025, 8, 5, 6, 0, tzinfo=TZ))  # Tuesday, before the digest time
    async with running(build(settings, api, clock)) as app:
        await make_leader(app, api)
    clock.now = datetime(2025, 8, 5, 9, 45, tzinfo=TZ)  # the bot was down at 07:00
    since = api.mark()
    async with running(build(settings, api, clock)):
        calls = await api.wait_sent(LEADER, count=2, since=since, timeout=15)  # by itself, at start
        assert kinds(calls) == ["daily", "chart"]
        assert (calls[0].text or "").startswith("📊 TÓM TẮT NGÀY — Thứ Ba, 5 tháng 8, 2025")


def test_the_digest_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setenv("PHUCVU_DB", str(tmp_path / "digest.db"))
    assert main(["demo-data", "--days", "10"]) == 0
    capsys.readouterr()
    assert main(["digest", "--date", "2025-08-04", "--chart", "chart.png"]) == 0  # a Monday: daily, then weekly
    daily, weekly = capsys.readouterr().out.split("\n\n" + "─" * 40 + "\n\n")
    assert daily.startswith("📊 TÓM TẮT NGÀY — Thứ Hai, 4 tháng 8, 2025\nTỉnh Lạng Sơn · 65 xã, phường\n")
    assert weekly.startswith("📊 TÓM TẮT TUẦN — Thứ Hai, 4 tháng 8, 2025\n")
    assert (tmp_path / "chart.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "chart-weekly.png").read_bytes().startswith(b"\x89PNG")

    async def queue_and_finish_everything() -> list[str]:
        """A leader's digest queued at 07:00 today; then every dossier finished: what was sent stays printed."""
        services = await open_services(Settings(db_path=tmp_path / "digest.db"), lambda: MONDAY_MORNING)
        try:
            invite = await services.roles.invite(Role.LEADER, None, "cli", MONDAY_MORNING)
            await services.roles.redeem(Person("telegram", str(LEADER)), invite.code, MONDAY_MORNING)
            await services.digest.queue_due(MONDAY_MORNING)
            sent = await services.digest.repo.queued_texts("daily", "2025-08-04", "vi")
            async with services.db.transaction() as conn:
                await conn.execute("UPDATE dossiers SET status = 10, done_at = '2025-08-04 01:00:00'")
            return sent or []
        finally:
            await services.db.close()

    sent = asyncio.run(queue_and_finish_everything())
    assert sent and sent[0].startswith("📊 TÓM TẮT NGÀY")
    assert main(["digest", "--date", "2025-08-04"]) == 0
    assert capsys.readouterr().out.split("\n\n" + "─" * 40)[0] == "\n\n".join(sent)  # exactly what was sent
    assert main(["digest", "--date", "2025-08-03"]) == 0  # a past day nobody was sent: built, and said so
    assert "Chưa có bản đã gửi cho ngày này" in capsys.readouterr().err
    assert main(["digest", "--date", "2025-08-04", "--weekly", "--commune", "Hữu Lũng", "--lang", "en"]) == 0
    assert capsys.readouterr().out.startswith("📊 WEEKLY DIGEST — Monday, August 4, 2025\nXã Hữu Lũng\n")
    assert main(["digest", "--commune", "Tân"]) == 2
    assert "Có thể là:" in capsys.readouterr().err


async def test_kill_9_in_the_middle_of_sending_never_sends_a_part_twice(api: FakeBotAPI, tmp_path: Path) -> None:
    """The real `phucvu run`, killed with SIGKILL right after the first part of the digest reached Telegram,
    then started again: every part arrives at most once, and everything not in flight at the kill arrives."""
    db_path = tmp_path / "kill.db"
    services = await open_services(Settings(db_path=db_path))
    try:
        invite = await services.roles.invite(Role.LEADER, None, "cli", services.clock())
        await services.roles.redeem(Person("telegram", str(LEADER)), invite.code, services.clock())
    finally:
        await services.db.close()
    env = os.environ | {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "PHUCVU_DB": str(db_path),
        "PHUCVU_DIGEST_TIME": "00:00",  # due whatever the hour the test runs at
        "PHUCVU_OUTBOX_LEASE": "3",  # the part in flight at the kill is settled 3 s after it was claimed
        "PTB_TIMEDELTA": "true",
    }

    log = tmp_path / "bot.log"

    async def start() -> asyncio.subprocess.Process:
        with log.open("ab") as stderr:  # what the bot said, should it never send
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=ROOT, env=env, stderr=stderr
            )

    process = await start()
    try:
        try:
            await api.wait_for(lambda call: call.is_message and str(call.chat_id) == str(LEADER), timeout=60)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nthe bot's log:\n{log.read_text(errors='replace')[-3000:]}") from None
    finally:
        process.kill()  # SIGKILL: no cleanup of any kind
        await process.wait()
    process = await start()
    services = await open_services(Settings(db_path=db_path))
    try:
        unsettled = "SELECT count(*) FROM outbox WHERE thread IS NOT NULL AND sent_at IS NULL AND failed_at IS NULL"
        await until(lambda row: row[0] == 0, services.db, unsettled, seconds=60)  # every part settled
        parts = await services.db.fetchall("SELECT sent_at, failed_at, last_error FROM outbox WHERE thread IS NOT NULL")
        queued = await services.db.fetchall("SELECT kind FROM digests")
    finally:
        await services.db.close()
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), timeout=30)
    texts = [call.text for call in api.sent(LEADER) if call.method == "sendMessage"]
    assert len(texts) == len(set(texts))  # never a part twice
    assert len({row[0] for row in queued}) == len(queued)  # one digest of each kind
    unsent = [row for row in parts if row[0] is None]
    assert len(unsent) <= 1  # at most the one in flight, failed for good as uncertain, with the reason
    assert all(row[1] is not None and row[2].startswith("uncertain") for row in unsent)
    # The part in flight at the kill reached Telegram or not; every other part exactly once.
    assert len(parts) - len(unsent) <= len(api.sent(LEADER)) <= len(parts)


async def test_a_send_that_may_have_arrived_is_not_sent_again(digest_bot: App, api: FakeBotAPI) -> None:
    db = digest_bot.bot_data.services.db
    api.drop_next("sendMessage")  # Telegram took the daily text; the answer was lost
    since = api.mark()
    digest_now(digest_bot)
    calls = await api.wait_sent(LEADER, count=3, since=since)
    assert kinds(calls) == ["chart", "weekly", "chart"]  # the rest goes on; the daily text is not sent again
    query = "SELECT * FROM outbox WHERE kind = 'digest_text' ORDER BY id LIMIT 1"
    row = await until(lambda row: row["last_error"] is not None, db, query)
    assert row["sent_at"] is None and row["failed_at"] is not None  # settled for good: uncertain, with the reason
    assert row["last_error"].startswith("uncertain") and "ServerDisconnectedError" in row["last_error"]
    assert [call.status for call in api.called("sendMessage", since=since)] == [0, 200]
