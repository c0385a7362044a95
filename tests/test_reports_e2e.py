"""End to end: report messages reach leaders and officials over the Bot API through the outbox."""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.app import App, build_application
from bot.config import Settings
from bot.people import Person
from bot.reports import Draft, State
from bot.roles import Role
from tests.conftest import bot_settings
from tests.fakebotapi import FakeBotAPI, running

OFFICIAL = 6301
LEADER = 6302


@pytest.fixture
async def quick_bot(settings: Settings, api: FakeBotAPI) -> AsyncIterator[App]:
    """The bot draining its outbox every 0.2 s."""
    async with running(build_application(bot_settings(settings, api), outbox_interval=0.2)) as app:
        yield app


async def test_a_blocking_report_reaches_the_leader_and_a_move_the_official(quick_bot: App, api: FakeBotAPI) -> None:
    services = quick_bot.bot_data.services
    now = services.clock()
    for user, role, commune in ((OFFICIAL, Role.OFFICIAL, "06385"), (LEADER, Role.LEADER, None)):
        invite = await services.roles.invite(role, commune, "cli", now)
        await api.say(user, f"/start {invite.code}")
    official, leader = Person("telegram", str(OFFICIAL)), Person("telegram", str(LEADER))
    since = api.mark()
    report = await services.reports.file(official, Draft("utilities", "blocking", "Mất điện toàn trụ sở."), now)
    [alert] = await api.wait_sent(LEADER, since=since)
    assert alert.text == (
        "🚨 BC-000001 — Xã Hữu Lũng: dừng phục vụ người dân (Điện, nước, nhà vệ sinh).\nMất điện toàn trụ sở."
    )
    since = api.mark()
    await services.reports.move(leader, report.id, State.IN_PROGRESS, "Đã báo điện lực.", now + timedelta(minutes=5))
    [told] = await api.wait_sent(OFFICIAL, since=since)
    assert told.text == "📋 Báo cáo BC-000001 chuyển sang: đang xử lý.\nGhi chú: Đã báo điện lực."
