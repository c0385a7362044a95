"""End to end: citizens look dossiers up and follow them over the fake Bot API; status changes reach them once."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.app import App, build_application, open_services
from bot.config import Settings
from storage.dossiers import DossierRow
from tests.conftest import bot_settings
from tests.factories import CODE, KEY, dossier_row
from tests.fakebotapi import Call, FakeBotAPI, running

NOW = datetime(2025, 8, 5, 3, 0, tzinfo=UTC)  # 10:00 in Lạng Sơn
USER = 9001


def row(status: int = 4, **changes: object) -> DossierRow:
    return dossier_row(status=status, **changes)


def build(settings: Settings, api: FakeBotAPI, clock: datetime = NOW) -> App:
    return build_application(bot_settings(settings, api), clock=lambda: clock, outbox_interval=0.2)


@pytest.fixture
async def dossier_bot(settings: Settings, api: FakeBotAPI) -> AsyncIterator[App]:
    async with running(build(settings, api)) as app:
        await app.bot_data.services.dossiers.apply([row()], "import:test.csv", NOW)
        yield app


class ReplyCounter:
    """A Telegram notifier that fails the test if it is asked to deliver anything (nothing may be sent twice)."""

    channel = "telegram"

    async def deliver(self, message: object) -> object:
        raise AssertionError(f"sent twice: {message}")


def data(call: Call) -> list[str]:
    return [b["callback_data"] for r in call.buttons for b in r if "callback_data" in b]


async def test_lookup_shows_the_dossier_without_the_applicant(dossier_bot: App, api: FakeBotAPI) -> None:
    [reply] = await api.say(USER, f"/hoso {CODE}")
    text = reply.text or ""
    for part in (
        f"📄 Hồ sơ {CODE}",
        "Thủ tục: Đăng ký khai sinh",
        "Nơi tiếp nhận: Xã Hữu Lũng",
        "Ngày tiếp nhận: 04/08/2025",
        "Ngày hẹn trả: 06/08/2025",
        "Trạng thái: Đang xử lý",
        "⏳ Còn 1 ngày đến hạn",
        "Các bước gần nhất:",
    ):
        assert part in text
    assert "Hoàng" not in text
    assert "Bích" not in text
    assert data(reply) == [f"ds:f:{KEY}"]


@pytest.mark.parametrize(
    "text",
    [
        "hồ sơ 000.00.37.h37 – 250804 – 0012 của tôi sao rồi?",
        "000.00.37.H37—250804—0012",
        "/dossier 0000037H372508040012",
    ],
)
async def test_any_text_with_the_code_is_a_lookup(dossier_bot: App, api: FakeBotAPI, text: str) -> None:
    [reply] = await api.say(USER, text)
    assert (reply.text or "").startswith(f"📄 Hồ sơ {CODE}")


async def test_an_unknown_code_says_where_the_code_is_printed(dossier_bot: App, api: FakeBotAPI) -> None:
    [reply] = await api.say(USER, "/hoso 000.00.37.H37-250804-9999")
    assert "Không tìm thấy hồ sơ 000.00.37.H37-250804-9999" in (reply.text or "")
    assert "Giấy tiếp nhận hồ sơ và hẹn trả kết quả" in (reply.text or "")
    [ask] = await api.say(USER, "📄 Tra cứu hồ sơ")
    assert "000.00.37.H37-250804-0012" in (ask.text or "")


async def test_enumeration_is_slowed_after_ten_unknown_codes(dossier_bot: App, api: FakeBotAPI) -> None:
    for i in range(10):
        [reply] = await api.say(USER, f"000.00.37.H37-250804-{i:04d}")
        assert "Không tìm thấy" in (reply.text or "")
    [reply] = await api.say(USER, CODE)
    assert "thử lại sau 10 phút" in (reply.text or "")
    [other] = await api.say(USER + 1, CODE)
    assert (other.text or "").startswith("📄")


async def test_follow_list_and_stop(dossier_bot: App, api: FakeBotAPI) -> None:
    [lookup] = await api.say(USER, CODE)
    since = api.mark()
    await api.click(USER, data(lookup)[0], expect=0, settle=0.2)
    [answer] = api.called("answerCallbackQuery", since=since)
    assert answer.params["text"].startswith("Đã theo dõi")
    [again] = await api.say(USER, CODE)
    assert data(again) == [f"ds:u:{KEY}"]
    [listing] = await api.say(USER, "/theodoi")
    assert f"• {CODE} — Đang xử lý" in (listing.text or "")
    since = api.mark()
    await api.click(USER, data(listing)[0], expect=0, settle=0.2)
    assert api.called("answerCallbackQuery", since=since)[0].params["text"] == "Đã bỏ theo dõi."
    [empty] = await api.say(USER, "⭐ Hồ sơ theo dõi")
    assert "chưa theo dõi" in (empty.text or "")


async def test_forged_follow_data_is_refused(dossier_bot: App, api: FakeBotAPI) -> None:
    for forged in ("ds:f:NOSUCHCODE1", "ds:f:", "ds:x:1", "ds:f:../../etc"):
        since = api.mark()
        await api.click(USER, forged, expect=0, settle=0.1)
        assert "không còn dùng được" in api.called("answerCallbackQuery", since=since)[0].params["text"]
    rows = await dossier_bot.bot_data.services.db.fetchall("SELECT * FROM follows")
    assert rows == []


async def test_a_status_change_reaches_each_follower_once(dossier_bot: App, api: FakeBotAPI) -> None:
    services = dossier_bot.bot_data.services
    for user in (USER, USER + 1):
        [lookup] = await api.say(user, CODE)
        await api.click(user, data(lookup)[0], expect=0, settle=0.1)
    since = api.mark()
    await services.dossiers.apply([row(status=9, finished_at="2025-08-05 04:00:00")], "api", NOW)
    await services.dossiers.apply([row(status=9, finished_at="2025-08-05 04:00:00")], "api", NOW)
    [first] = await api.wait_sent(USER, since=since)
    [second] = await api.wait_sent(USER + 1, since=since)
    assert first.text == f"🔔 Hồ sơ {CODE} chuyển sang: Đã xử lý xong.\nTrạng thái trước: Đang xử lý."
    assert second.text == first.text
    await services.outbox.drain(ReplyCounter())  # another drain finds nothing left to send
    await api.say(USER + 2, "/help")
    assert len(api.sent(USER, since=since)) == 1
    assert len(api.sent(USER + 1, since=since)) == 1


async def test_nothing_is_lost_or_doubled_across_a_restart(settings: Settings, api: FakeBotAPI) -> None:
    async with running(build(settings, api)) as app:
        await app.bot_data.services.dossiers.apply([row()], "import", NOW)
        [lookup] = await api.say(USER, CODE)
        await api.click(USER, data(lookup)[0], expect=0, settle=0.1)
    # The bot is stopped; an import in another process changes the dossier twice.
    services = await open_services(bot_settings(settings, api), "cli", lambda: NOW)
    await services.dossiers.apply([row(status=5)], "import:a.csv", NOW)
    await services.dossiers.apply([row(status=4)], "import:b.csv", NOW)
    # A message claimed by a process that died before confirming it is not sent again.
    await services.db.conn.execute("UPDATE outbox SET claimed_at = '2025-08-05 03:00:00' WHERE id = 1")
    await services.db.close()
    since = api.mark()
    async with running(build(settings, api)):
        [message] = await api.wait_sent(USER, since=since)
        assert message.text is not None and "chuyển sang: Đang xử lý" in message.text
        await api.say(USER + 5, "/help")
    assert len(api.sent(USER, since=since)) == 1


async def test_a_followed_dossier_past_its_appointment_is_told_once(settings: Settings, api: FakeBotAPI) -> None:
    async with running(build(settings, api)) as app:
        await app.bot_data.services.dossiers.apply([row()], "import", NOW)
        [lookup] = await api.say(USER, CODE)
        await api.click(USER, data(lookup)[0], expect=0, settle=0.1)
    later = datetime(2025, 8, 7, 3, 0, tzinfo=UTC)
    since = api.mark()
    async with running(build(settings, api, later)):
        [message] = await api.wait_sent(USER, since=since, timeout=10)
        assert message.text == f"⏰ Hồ sơ {CODE} đã quá ngày hẹn trả (06/08/2025) mà chưa có kết quả."
    async with running(build(settings, api, later)):
        await api.say(USER + 5, "/help")
    assert len(api.sent(USER, since=since)) == 1
