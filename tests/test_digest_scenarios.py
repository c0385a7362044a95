"""Leaders read the digest on demand and move their own morning digest; nobody else learns that it exists: the same
scenarios on Telegram, Zalo and the console."""

from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.app import send_digests
from bot.config import Settings
from bot.roles import Role
from tests.channels import CHANNELS, Chat, Msg, chat_on, from_menu

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Clock:
    """The bot's wall clock, moved by the test only."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


START = datetime(2025, 8, 4, 5, 0, tzinfo=TZ)  # a Monday, before anyone's digest is due


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture(params=CHANNELS)
async def chat(request: pytest.FixtureRequest, settings: Settings, clock: Clock) -> AsyncIterator[Chat]:
    """A bot on each channel in turn, on a clock the test moves, with a leader."""
    async with chat_on(request.param, settings, clock, digest_at=None) as running:
        await running.give("leader", Role.LEADER)
        yield running


def kinds(msgs: list[Msg]) -> list[str]:
    """`daily`, `weekly` for a digest's text, `chart` for a picture, `other` for anything else."""
    names = {"📊 TÓM TẮT NGÀY": "daily", "📊 TÓM TẮT TUẦN": "weekly"}
    return ["chart" if msg.photo else names.get(msg.text.split(" — ")[0], "other") for msg in msgs]


def charted(chat: Chat, *texts: str) -> list[str]:
    """Each digest text followed by its chart where the channel shows a picture the bot made (Zalo takes a
    picture by its URL only: without a public address, a digest there is its text)."""
    return [kind for text in texts for kind in ((text,) if chat.channel == "zalo" else (text, "chart"))]


async def test_a_leader_reads_todays_digest_and_one_communes(chat: Chat) -> None:
    today = await chat.say("leader", "/tomtat", expect=len(charted(chat, "daily")))
    assert kinds(today) == charted(chat, "daily")
    assert today[0].text.startswith("📊 TÓM TẮT NGÀY — Thứ Hai, 4 tháng 8, 2025\nTỉnh Lạng Sơn")
    commune = await chat.say("leader", "/tomtat Hữu Lũng", expect=len(charted(chat, "daily")))
    assert kinds(commune) == charted(chat, "daily") and commune[0].text.splitlines()[1] == "Xã Hữu Lũng"
    [unclear] = await chat.say("leader", "/tomtat Tân")
    assert unclear.text.startswith("Không xác định được xã, phường «Tân». Nhắn tên hoặc mã, ví dụ: /tomtat Hữu Lũng")
    await chat.give("admin", Role.ADMIN)
    admin = await chat.say("admin", "/digest", expect=len(charted(chat, "daily")))
    assert kinds(admin) == charted(chat, "daily")


async def test_a_leader_moves_pauses_and_resumes_their_digest(chat: Chat) -> None:
    [moved] = await chat.say("leader", "/tomtat gio 6:30")
    assert moved.text == "Đồng chí sẽ nhận tóm tắt lúc 06:30 hằng ngày (thứ Hai có thêm tóm tắt tuần)."
    jobs = chat.app.job_queue
    assert jobs is not None
    assert {"digest@06:30", "digest@07:00"} <= {job.name for job in jobs.jobs() if not job.removed}
    [bad] = await chat.say("leader", "/tomtat gio 25:00")
    assert bad.text == "Giờ chưa đúng. Vui lòng viết dạng 06:30 (từ 00:00 đến 23:59)."
    [paused] = await chat.say("leader", "/tomtat tamdung")
    assert paused.text == "Đã tạm dừng tóm tắt hằng ngày. Nhắn /tomtat tieptuc để nhận lại."
    [resumed] = await chat.say("leader", "/digest resume")
    assert resumed.text == "Đồng chí sẽ nhận tóm tắt lúc 06:30 hằng ngày (thứ Hai có thêm tóm tắt tuần)."
    await chat.give("admin", Role.ADMIN)
    [admin] = await chat.say("admin", "/tomtat tamdung")  # an admin reads digests, and receives none
    assert admin.text == "Chỉ lãnh đạo tỉnh nhận tóm tắt hằng ngày."


async def test_a_time_moved_before_now_sends_todays_digest(chat: Chat, clock: Clock) -> None:
    await chat.say("leader", "/tomtat gio 09:00")
    clock.now = datetime(2025, 8, 4, 8, 0, tzinfo=TZ)
    assert chat.app.job_queue is not None
    chat.app.job_queue.run_once(send_digests, 0)  # the 07:00 job: nothing yet for this leader
    since = chat.mark("leader")
    await chat.say("leader", "/tomtat gio 07:30")  # now past: today's comes at once
    expected = ["other", *charted(chat, "daily", "weekly")]
    assert kinds(await chat.notified("leader", since, len(expected))) == expected


async def test_anyone_else_is_answered_as_for_an_unknown_command(chat: Chat) -> None:
    await chat.give("official", Role.OFFICIAL, "06385")
    for who in ("citizen", "official"):
        [unknown] = await chat.say(who, "/khonglenh")
        for text in ("/tomtat", "/digest", "/tomtat Hữu Lũng", "/tomtat tamdung", "/tomtat gio 06:30", "Tóm tắt"):
            [refused] = await chat.say(who, text)
            assert refused == unknown, text  # its text, choices and menu: nothing tells them the digest exists
    jobs = chat.app.job_queue
    assert jobs is not None and "digest@06:30" not in {job.name for job in jobs.jobs() if not job.removed}
    [welcome] = await chat.say("citizen", "/start")
    assert not [label for label in welcome.menu if "Tóm tắt" in label]


async def test_the_leaders_menu_has_todays_digest(chat: Chat) -> None:
    [welcome] = await chat.say("leader", "/start")
    assert "Tóm tắt hôm nay" in welcome.menu[0]  # a leader's own item first
    today = await from_menu(chat, "leader", "Tóm tắt hôm nay", expect=len(charted(chat, "daily")))
    assert kinds(today) == charted(chat, "daily")
