"""End to end over the fake Bot API: what a lookup looks like on Telegram (its follow button carries the code's key)
and the ways a code may be written. Following, notifications, restarts and enumeration are conversations:
tests/test_dossiers_scenarios.py runs them on every channel."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.app import App, build_application
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
        "Trạng thái: Đang giải quyết",
        "Còn 1 ngày đến ngày hẹn trả",
        "Các bước gần nhất:",
    ):
        assert part in text
    assert "Hoàng" not in text
    assert "Bích" not in text
    assert data(reply) == [f"follow:{KEY}"]  # the key, never a guessable id, well within 64 bytes


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
