"""End to end: report messages reach leaders and officials over the Bot API through the outbox."""

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.app import App, build_application
from bot.config import Settings
from bot.people import Person
from bot.reports import Draft, State
from bot.roles import Role
from tests.conftest import bot_settings, keyboard_texts
from tests.fakebotapi import Call, FakeBotAPI, running

OFFICIAL = 6301
LEADER = 6302


@pytest.fixture
async def quick_bot(settings: Settings, api: FakeBotAPI) -> AsyncIterator[App]:
    """The bot draining its outbox every 0.2 s."""
    async with running(build_application(bot_settings(settings, api), outbox_interval=0.2)) as app:
        yield app


async def official_and_leader(app: App, api: FakeBotAPI) -> None:
    """OFFICIAL (Xã Hữu Lũng) and LEADER take their roles through invite links."""
    services = app.bot_data.services
    for user, role, commune in ((OFFICIAL, Role.OFFICIAL, "06385"), (LEADER, Role.LEADER, None)):
        invite = await services.roles.invite(role, commune, "cli", services.clock())
        await api.say(user, f"/start {invite.code}")


async def test_a_blocking_report_reaches_the_leader_and_a_move_the_official(quick_bot: App, api: FakeBotAPI) -> None:
    services = quick_bot.bot_data.services
    now = services.clock()
    await official_and_leader(quick_bot, api)
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


CITIZEN = 6303


def photo(n: int) -> dict[str, object]:
    return {
        "photo": [
            {"file_id": f"small-{n}", "file_unique_id": f"s{n}", "width": 90, "height": 90},
            {"file_id": f"big-{n}", "file_unique_id": f"b{n}", "width": 1280, "height": 960},
        ]
    }


def callback(call: Call, label_start: str) -> str:
    markup = call.reply_markup
    assert markup is not None
    for row in markup["inline_keyboard"]:
        for button in row:
            if button["text"].startswith(label_start):
                return str(button["callback_data"])
    raise AssertionError(f"no button {label_start!r} in {markup}")


async def test_an_official_writes_a_report_across_a_restart(settings: Settings, api: FakeBotAPI) -> None:
    app = build_application(bot_settings(settings, api), outbox_interval=0.2)
    async with running(app):
        services = app.bot_data.services
        invite = await services.roles.invite(Role.OFFICIAL, "06385", "cli", services.clock())
        await api.say(OFFICIAL, f"/start {invite.code}")
        [categories] = await api.say(OFFICIAL, "/baocao")
        assert categories.text is not None and categories.text.startswith("Báo cáo khó khăn của trung tâm.")
        [severity] = await api.click(OFFICIAL, callback(categories, "Điện, nước"))
        [describe] = await api.click(OFFICIAL, callback(severity, "Cao"))
        assert (describe.text or "").startswith("Mô tả vấn đề")
        [photos] = await api.say(OFFICIAL, "Nhà vệ sinh hỏng, người dân phải sang nhà văn hoá thôn.")
        assert (photos.text or "").startswith("Gửi tối đa 5 ảnh")
        [got] = await api.converse({"message": api.make_message(OFFICIAL, **photo(1))})
        assert got.text == "Đã nhận 1/5 ảnh."
    # The bot stops here and starts again: the official goes on where they were.
    app = build_application(bot_settings(settings, api), outbox_interval=0.2)
    async with running(app):
        services = app.bot_data.services
        [again] = await api.converse({"message": api.make_message(OFFICIAL, **photo(2))})
        assert again.text == "Đã nhận 2/5 ảnh."
        [where] = await api.click(OFFICIAL, callback(again, "✅ Xong"))
        assert (where.text or "").startswith("Gửi vị trí của nơi có vấn đề")
        [confirm] = await api.converse(
            {"message": api.make_message(OFFICIAL, location={"latitude": 21.65, "longitude": 106.33})}
        )
        assert confirm.text is not None and "Ảnh: 2" in confirm.text and "21.65000, 106.33000" in confirm.text
        [sent] = await api.click(OFFICIAL, callback(confirm, "📨 Gửi"))
        assert (sent.text or "").startswith("Đã gửi báo cáo BC-000001. Hạn khắc phục: ")
        report = await services.reports.repo.get(1)
        assert report is not None
        assert (report.category, report.severity, report.photos, report.commune_code) == (
            "utilities",
            "high",
            2,
            "06385",
        )
        photos_stored = [
            row[0] for row in await services.db.fetchall("SELECT file_ref FROM report_photos ORDER BY position")
        ]
        assert photos_stored == ["big-1", "big-2"]
        # A second report in the same category is offered to join the first.
        [categories] = await api.say(OFFICIAL, "/report")
        [offer] = await api.click(OFFICIAL, callback(categories, "Điện, nước"))
        assert (offer.text or "").startswith("Xã đã có báo cáo BC-000001 đang mở")
        [cancelled] = await api.say(OFFICIAL, "/huy")
        assert cancelled.text == "Đã hủy báo cáo đang viết."
        [lookup] = await api.say(OFFICIAL, "Hữu Lũng")  # plain messages reach the centre finder again
        assert (lookup.text or "").startswith("🏢")


async def test_a_citizen_cannot_report_or_press_report_buttons(bot: App, api: FakeBotAPI) -> None:
    [unknown] = await api.say(CITIZEN, "/khonglenh")
    [refused] = await api.say(CITIZEN, "/baocao")
    assert refused.text == unknown.text
    since = api.mark()
    await api.click(CITIZEN, "bc:c:utilities", expect=0, settle=0.1)
    assert "không còn dùng được" in api.called("answerCallbackQuery", since=since)[0].params["text"]
    assert await bot.bot_data.services.db.fetchall("SELECT * FROM report_drafts") == []


async def test_lists_and_moves_in_chat(quick_bot: App, api: FakeBotAPI) -> None:
    services = quick_bot.bot_data.services
    now = services.clock()
    await official_and_leader(quick_bot, api)
    official = Person("telegram", str(OFFICIAL))
    await services.reports.file(official, Draft("it", "medium", "Máy in hỏng."), now)
    await services.reports.file(official, Draft("rooms", "low", "Phòng chờ chật."), now)
    [mine] = await api.say(OFFICIAL, "/xembaocao")
    assert (mine.text or "").splitlines()[0].startswith("BC-000002 · Xã Hữu Lũng · Thiếu phòng làm việc")
    assert mine.reply_markup is None  # officials do not move reports
    [open_it] = await api.say(LEADER, "/reports công nghệ")
    assert (open_it.text or "").startswith("BC-000001 · Xã Hữu Lũng · Công nghệ thông tin, mạng · mới · hạn ")
    [by_commune] = await api.say(LEADER, "/xembaocao Hữu Lũng")
    assert [line[:9] for line in (by_commune.text or "").splitlines()] == ["BC-000001", "BC-000002"]
    [puzzled] = await api.say(LEADER, "/xembaocao xyz")
    assert (puzzled.text or "").startswith("Không hiểu bộ lọc «xyz».")
    [card] = await api.click(LEADER, callback(open_it, "BC-000001"))
    since = api.mark()
    await api.click(OFFICIAL, callback(card, "đang xử lý"), expect=0, settle=0.1)  # forged by the official
    assert "không còn dùng được" in api.called("answerCallbackQuery", since=since)[0].params["text"]
    since = api.mark()
    [moved] = await api.click(LEADER, callback(card, "đang xử lý"))
    assert "· đang xử lý ·" in (moved.text or "")
    [told] = await api.wait_sent(OFFICIAL, since=since)
    assert told.text == "📋 Báo cáo BC-000001 chuyển sang: đang xử lý."
    since = api.mark()
    reply = api.make_message(LEADER, text="Sở đã duyệt kinh phí máy in.", reply_to_message=moved.result)
    [noted] = await api.converse({"message": reply})
    assert noted.text == "Đã gửi ghi chú cho cán bộ xã về BC-000001."
    [note] = await api.wait_sent(OFFICIAL, since=since)
    assert note.text == "📋 Ghi chú mới về báo cáo BC-000001 (đang xử lý): Sở đã duyệt kinh phí máy in."  # not a move
    citizen_reply = api.make_message(CITIZEN, text="Hữu Lũng", reply_to_message=moved.result)
    [finder] = await api.converse({"message": citizen_reply})  # anyone else's reply is an ordinary message
    assert (finder.text or "").startswith("🏢")
    for forged in ("bc:m:1:open", "bc:m:999:fixed", "bc:v:abc", "bc:m:1"):
        since = api.mark()
        await api.click(LEADER, forged, expect=0, settle=0.1)
        assert "không còn dùng được" in api.called("answerCallbackQuery", since=since)[0].params["text"]
    [none] = await api.say(CITIZEN, "/xembaocao")
    [unknown] = await api.say(CITIZEN, "/khonglenh")
    assert none.text == unknown.text


async def test_the_commune_reopens_a_fixed_report_from_chat(quick_bot: App, api: FakeBotAPI) -> None:
    services = quick_bot.bot_data.services
    now = services.clock()
    await official_and_leader(quick_bot, api)
    official, leader = Person("telegram", str(OFFICIAL)), Person("telegram", str(LEADER))
    report = await services.reports.file(official, Draft("it", "high", "Mạng chập chờn."), now)
    await services.reports.move(leader, report.id, State.FIXED, "Đã thay bộ định tuyến.", now)
    [mine] = await api.say(OFFICIAL, "/xembaocao")
    [asked] = await api.click(OFFICIAL, callback(mine, "↩️ BC-000001"))
    assert (asked.text or "").startswith("Gửi một ảnh cho thấy BC-000001 chưa được khắc phục")
    [wrong] = await api.say(OFFICIAL, "vẫn hỏng")  # text instead of a photo: asked again
    assert wrong.text == asked.text
    message = api.make_message(OFFICIAL, caption="Vẫn mất mạng buổi chiều.", **photo(9))
    [reopened] = await api.converse({"message": message})
    assert (reopened.text or "").startswith("Đã mở lại BC-000001. Hạn khắc phục mới: ")
    stored = await services.reports.repo.get(report.id)
    assert stored is not None and (stored.state, stored.photos, stored.closed_at) == ("new", 1, None)
    since = api.mark()
    await api.click(LEADER, callback(mine, "↩️ BC-000001"), expect=0, settle=0.1)  # not the leader's to reopen
    assert "không còn dùng được" in api.called("answerCallbackQuery", since=since)[0].params["text"]


async def test_the_menus_of_officials_and_leaders(quick_bot: App, api: FakeBotAPI) -> None:
    await official_and_leader(quick_bot, api)
    [categories] = await api.say(OFFICIAL, "📝 Báo cáo khó khăn")  # the officials' menu row
    assert (categories.text or "").startswith("Báo cáo khó khăn của trung tâm.")
    [severity] = await api.click(OFFICIAL, callback(categories, "Trang thiết bị"))
    [describe] = await api.click(OFFICIAL, callback(severity, "Cao"))
    assert (describe.text or "").startswith("Mô tả vấn đề")
    [listing] = await api.say(OFFICIAL, "📋 Báo cáo của xã")  # a menu button is no description
    assert listing.text == "Không có báo cáo nào."
    [photos] = await api.say(OFFICIAL, "Máy scan hỏng.")
    assert (photos.text or "").startswith("Gửi tối đa 5 ảnh")

    [pointer] = await api.say(LEADER, "/baocao")
    assert pointer.text is not None and "/xembaocao" in pointer.text
    [none_open] = await api.say(LEADER, "📋 Báo cáo đang mở")
    assert none_open.text == "Không có báo cáo nào."
    [english] = await api.say(OFFICIAL, "/lang en")
    assert "📝 Report a problem" in keyboard_texts(english.reply_markup)
    menu = api.my_commands[(json.dumps({"chat_id": OFFICIAL, "type": "chat"}), "")]
    assert [c["command"] for c in menu][-4:] == ["report", "reports", "update", "cancel"]


async def test_a_long_list_says_how_many_more(quick_bot: App, api: FakeBotAPI) -> None:
    services = quick_bot.bot_data.services
    await official_and_leader(quick_bot, api)
    official = Person("telegram", str(OFFICIAL))
    for n in range(32):
        await services.reports.file(official, Draft("other", "low", f"Việc số {n}."), services.clock())
    [listing] = await api.say(LEADER, "/xembaocao")
    lines = (listing.text or "").splitlines()
    assert len(lines) == 31 and lines[-1] == "… và 2 báo cáo nữa; lọc để xem (ví dụ: /xembaocao quahan)."
    assert listing.reply_markup is not None and sum(map(len, listing.reply_markup["inline_keyboard"])) == 30


async def add_through_chat(api: FakeBotAPI, category: str, severity: str, text: str) -> Call:
    """OFFICIAL adds to the open report of `category` through the wizard, up to the confirmation."""
    [categories] = await api.say(OFFICIAL, "/baocao")
    [offer] = await api.click(OFFICIAL, callback(categories, category))
    [severities] = await api.click(OFFICIAL, callback(offer, "➕ Thêm vào"))
    await api.click(OFFICIAL, callback(severities, severity))
    [photos] = await api.say(OFFICIAL, text)
    [_asked_where] = await api.click(OFFICIAL, callback(photos, "✅ Xong"))
    location = {"latitude": 21.65, "longitude": 106.33}
    [confirm] = await api.converse({"message": api.make_message(OFFICIAL, location=location)})
    assert "Sẽ thêm vào báo cáo BC-000001." in (confirm.text or "")
    return confirm


async def test_an_addition_that_stops_service_raises_the_report_and_alerts(quick_bot: App, api: FakeBotAPI) -> None:
    services = quick_bot.bot_data.services
    await official_and_leader(quick_bot, api)
    official = Person("telegram", str(OFFICIAL))
    await services.reports.file(official, Draft("utilities", "low", "Vòi nước nhỏ giọt."), services.clock())
    confirm = await add_through_chat(api, "Điện, nước", "Dừng phục vụ", "Mất điện toàn bộ trụ sở.")
    since = api.mark()
    [sent] = await api.click(OFFICIAL, callback(confirm, "📨 Gửi"))
    assert sent.text == "Đã thêm vào báo cáo BC-000001."
    [alert] = await api.wait_sent(LEADER, since=since)
    assert (alert.text or "").startswith("🚨 BC-000001 — Xã Hữu Lũng: dừng phục vụ người dân")
    stored = await services.reports.repo.get(1)
    assert stored is not None and (stored.severity, stored.lat, stored.lon) == ("blocking", 21.65, 106.33)
    lower = await services.reports.add_to(official, 1, Draft("utilities", "low", "Thêm."), services.clock())
    assert lower.severity == "blocking"  # an addition never lowers it


async def test_an_addition_to_a_report_closed_meanwhile_becomes_a_report(quick_bot: App, api: FakeBotAPI) -> None:
    services = quick_bot.bot_data.services
    await official_and_leader(quick_bot, api)
    official, leader = Person("telegram", str(OFFICIAL)), Person("telegram", str(LEADER))
    await services.reports.file(official, Draft("it", "low", "Mạng chậm."), services.clock())
    confirm = await add_through_chat(api, "Công nghệ", "Cao", "Mất mạng cả ngày.")
    await services.reports.move(leader, 1, State.FIXED, "Đã xử lý.", services.clock())  # while the official writes
    [sent] = await api.click(OFFICIAL, callback(confirm, "📨 Gửi"))
    first, second = (sent.text or "").splitlines()
    assert first == "Báo cáo BC-000001 đã được đóng trong lúc bạn viết, nên đây là một báo cáo mới."
    assert second.startswith("Đã gửi báo cáo BC-000002. Hạn khắc phục: ")
    assert await services.reports.writing(official) is None
    new = await services.reports.repo.get(2)
    assert new is not None and (new.description, new.severity, new.lat) == ("Mất mạng cả ngày.", "high", 21.65)


async def test_a_reply_to_a_list_is_no_note(quick_bot: App, api: FakeBotAPI) -> None:
    services = quick_bot.bot_data.services
    await official_and_leader(quick_bot, api)
    official = Person("telegram", str(OFFICIAL))
    await services.reports.file(official, Draft("it", "low", "Mạng chậm."), services.clock())
    await services.reports.file(official, Draft("rooms", "low", "Phòng chật."), services.clock())
    [listing] = await api.say(LEADER, "/xembaocao")
    since = api.mark()
    reply = api.make_message(LEADER, text="Sở sẽ cấp kinh phí cải tạo.", reply_to_message=listing.result)
    [answer] = await api.converse({"message": reply})  # which of the two? none: an ordinary message
    assert answer.text is not None and not answer.text.startswith("Đã gửi ghi chú")
    assert api.sent(OFFICIAL, since=since) == []


async def test_an_older_fixed_report_can_still_be_reopened(quick_bot: App, api: FakeBotAPI) -> None:
    services = quick_bot.bot_data.services
    await official_and_leader(quick_bot, api)
    official, leader = Person("telegram", str(OFFICIAL)), Person("telegram", str(LEADER))
    now = services.clock()
    await services.reports.file(official, Draft("it", "low", "Mạng chậm."), now)
    await services.reports.move(leader, 1, State.FIXED, "Xong.", now)
    for n in range(20):
        await services.reports.file(official, Draft("other", "low", f"Việc {n}."), now)
    [mine] = await api.say(OFFICIAL, "/xembaocao")
    lines = (mine.text or "").splitlines()
    assert len(lines) == 21 and lines[-1] == "… và 1 báo cáo cũ hơn."
    [asked] = await api.click(OFFICIAL, "bc:r:1")  # the button as an earlier list showed it
    assert (asked.text or "").startswith("Gửi một ảnh cho thấy BC-000001 chưa được khắc phục")
