"""Facility reports in chat, the same scenarios on Telegram, Zalo and the console: an official writes one step by
step (choices, typed words, photos, a location), across a restart too; leaders list, move and note them and the
commune hears of it; the commune reopens one marked fixed; nobody else can do any of it."""

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.config import Secret, Settings
from bot.report_export import signature
from bot.reports import Draft, State
from bot.roles import Role
from tests.channels import (
    CHANNELS,
    NUMBERED,
    TELEGRAM_IDS,
    ZALO_IDS,
    Chat,
    ConsoleChat,
    Msg,
    TelegramChat,
    ZaloChat,
    chat_on,
)
from tests.factories import CODE, dossier_row

COMMUNE = "06385"  # xã Hữu Lũng
CANCELLED = "Đã hủy thao tác."
STALE = "Lựa chọn này đã hết hiệu lực. Vui lòng thực hiện lại."
WRITING = "Đồng chí đang viết một báo cáo: vui lòng trả lời câu hỏi dưới đây."
CHOOSE = "Vui lòng chọn một mục dưới đây."


def asks_where(chat: Chat, msg: Msg) -> bool:
    """The location step's question: to share a location or type coordinates, or (Zalo: no locations) type them."""
    if chat.channel == "zalo":
        return msg.text.startswith("Nhắn tọa độ của nơi có vấn đề (ví dụ: 21.8537, 106.7615), hoặc chọn «Bỏ qua».")
    return msg.text.startswith("Gửi vị trí của nơi có vấn đề, hoặc nhắn tọa độ (ví dụ: 21.8537, 106.7615)")


async def official_and_leader(chat: Chat) -> None:
    """The official of xã Hữu Lũng and a leader take their roles."""
    await chat.give("official", Role.OFFICIAL, COMMUNE)
    await chat.give("leader", Role.LEADER)


async def send_photo(chat: Chat, who: str, n: int, caption: str = "", expect: int = 1) -> tuple[list[Msg], str]:
    """`who` sends photo `n`; the answers, and what the bot should keep of it: on Telegram the file id of the
    largest size sent, elsewhere the image's URL."""
    if isinstance(chat, TelegramChat):
        sizes = [
            {"file_id": f"small-{n}", "file_unique_id": f"s{n}", "width": 90, "height": 90},
            {"file_id": f"big-{n}", "file_unique_id": f"b{n}", "width": 1280, "height": 960},
        ]
        fields: dict[str, Any] = {"photo": sizes} | ({"caption": caption} if caption else {})
        update = {"message": chat.api.make_message(TELEGRAM_IDS[who], **fields)}
        return await chat._converse(who, update, expect), f"big-{n}"
    url = f"https://photo.example/{n}.jpg"
    if isinstance(chat, ZaloChat):
        since = chat.api.mark()
        chat.api.push_image(ZALO_IDS[who], url, caption)
        return await chat._wait(who, since, expect), url
    assert isinstance(chat, ConsoleChat)
    return await chat._send(who, f":anh {url} {caption}".strip()), url


async def from_menu(chat: Chat, who: str, menu: Msg, label: str, expect: int = 1) -> list[Msg]:
    """`who` picks an item of the main menu shown in `menu`: its button on Telegram, its number elsewhere."""
    [found] = [(number, item) for number, item in enumerate(menu.menu, start=1) if label in item]
    number, item = found
    return await chat.say(who, item if chat.channel == "telegram" else str(number), expect)


async def reply_on_telegram(chat: TelegramChat, who: str, text: str, quoted: dict[str, Any]) -> list[Msg]:
    """`who` answers a message of the bot by quoting it (only Telegram has replies)."""
    update = {"message": chat.api.make_message(TELEGRAM_IDS[who], text=text, reply_to_message=quoted)}
    return await chat._converse(who, update, 1)


def quoted(chat: TelegramChat, who: str, index: int = 0) -> dict[str, Any]:
    """The message the bot sent as message `index` of its last answer to `who`, as a reply quotes it."""
    result = chat.calls[who][index].result
    assert isinstance(result, dict)
    return result


def body(msg: Msg) -> str:
    """A message's text without the numbered choices a text channel puts under it."""
    head, blank, tail = msg.text.rpartition("\n\n")
    return head if blank and NUMBERED.match(tail.split("\n")[0]) else msg.text


async def stored_photos(chat: Chat) -> list[str]:
    rows = await chat.services.db.fetchall("SELECT file_ref FROM report_photos ORDER BY report_id, position")
    return [row[0] for row in rows]


async def test_a_blocking_report_reaches_the_leader_and_a_move_the_official(chat: Chat) -> None:
    services = chat.services
    now = services.clock()
    await official_and_leader(chat)
    official, leader = chat.person("official"), chat.person("leader")
    since = chat.mark("leader")
    report = await services.reports.file(official, Draft("utilities", "blocking", "Mất điện toàn trụ sở."), now)
    [alert] = await chat.notified("leader", since)
    assert alert.text == (
        "🚨 BC-000001 — xã Hữu Lũng: dừng phục vụ người dân (Điện, nước, nhà vệ sinh).\nMất điện toàn trụ sở."
    )
    since = chat.mark("official")
    await services.reports.move(leader, report.id, State.IN_PROGRESS, "Đã báo điện lực.", now + timedelta(minutes=5))
    [told] = await chat.notified("official", since)
    assert told.text == "📋 Báo cáo BC-000001 chuyển sang: Đang xử lý.\nGhi chú: Đã báo điện lực."
    [viewed] = await chat.say("leader", "BC-000001")  # every note added later shows in the leaders' view (issue 15)
    assert "Mất điện toàn trụ sở.\nGhi chú:\n• " in viewed.text and viewed.text.count(" — Đã báo điện lực.") == 1


@pytest.mark.parametrize("channel", CHANNELS)
async def test_an_official_writes_a_report_with_photos_across_a_restart(channel: str, settings: Settings) -> None:
    async with chat_on(channel, settings) as chat:
        await official_and_leader(chat)
        [menu] = await chat.say("official", "0")
        assert "Báo cáo khó khăn" in menu.menu[0] and "Báo cáo của xã" in menu.menu[1]  # the officials' items first
        [kinds] = await from_menu(chat, "official", menu, "Báo cáo khó khăn")
        assert kinds.text.startswith("Báo cáo khó khăn của trung tâm. Vấn đề thuộc loại nào?")
        assert kinds.options[2] == "Điện, nước, nhà vệ sinh" and kinds.options[-1] == "Hủy thao tác"
        [severity] = await chat.choose("official", "Điện, nước")
        assert body(severity) == "Mức độ ảnh hưởng?"
        assert severity.options == ["Dừng phục vụ người dân", "Cao", "Trung bình", "Thấp", "Hủy thao tác"]
        [describe] = await chat.choose("official", "Dừng phục vụ")
        assert describe.text.startswith("Mô tả vấn đề") and describe.options == ["Hủy thao tác"]
        [photos] = await chat.say("official", "Mất điện toàn bộ trung tâm từ sáng.")
        assert photos.text.startswith("Gửi tối đa 5 ảnh") and photos.options == ["Xong", "Hủy thao tác"]
        [got], first = await send_photo(chat, "official", 1)
        assert body(got) == "Đã nhận 1/5 ảnh. Gửi thêm, hoặc chọn «Xong»." and got.options == ["Xong", "Hủy thao tác"]
    # The bot stops here and starts again: the draft was saved at every step.
    async with chat_on(channel, settings) as chat:
        [again], second = await send_photo(chat, "official", 2, caption="cầu dao")
        assert body(again) == "Đã nhận 2/5 ảnh. Gửi thêm, hoặc chọn «Xong»."
        [where] = await chat.choose("official", "Xong")
        assert asks_where(chat, where)
        assert where.options == ["Bỏ qua", "Hủy thao tác"]
        [check] = await chat.say("official", "21,8537; 106,7615")
        assert check.text.startswith("Kiểm tra trước khi gửi:")
        assert (
            "Mức độ: Dừng phục vụ người dân" in check.text
            and "Mô tả: Mất điện toàn bộ trung tâm từ sáng." in check.text
        )
        assert "Ảnh: 2" in check.text and "Vị trí: 21.85370, 106.76150" in check.text
        assert check.options == ["Gửi", "Hủy thao tác"]
        since = chat.mark("leader")
        [sent] = await chat.choose("official", "Gửi")
        assert sent.text.startswith("Đã gửi báo cáo BC-000001. Hạn khắc phục: ")
        [alert] = await chat.notified("leader", since)
        assert alert.text.startswith("🚨 BC-000001 — xã Hữu Lũng: dừng phục vụ người dân (Điện, nước, nhà vệ sinh).")
        services = chat.services
        report = await services.reports.repo.get(1)
        assert report is not None
        assert (report.category, report.severity, report.photos, report.commune_code) == (
            "utilities",
            "blocking",
            2,
            COMMUNE,
        )
        assert await stored_photos(chat) == [first, second]  # on Telegram the largest size, elsewhere the URL
        assert [await services.reports.photo_ref(1, n) for n in (1, 2)] == [first, second]
        assert await services.reports.writing(chat.person("official")) is None
        # A second report in the same category is offered to join the first.
        [categories] = await chat.say("official", "/report")
        assert categories.text.startswith("Báo cáo khó khăn của trung tâm.")
        [offer] = await chat.choose("official", "Điện, nước")
        assert offer.text.startswith("Xã đã có báo cáo BC-000001 đang mở về «Điện, nước, nhà vệ sinh».")
        assert offer.options == ["Thêm vào BC-000001", "Báo cáo mới", "Hủy thao tác"]
        [cancelled] = await chat.say("official", "/huy")
        assert cancelled.text == CANCELLED
        [lookup] = await chat.say("official", "Hữu Lũng")  # plain messages reach the centre finder again
        assert lookup.text.startswith("🏢")


async def test_a_citizen_cannot_report_or_choose_report_steps(chat: Chat) -> None:
    [unknown] = await chat.say("citizen", "/khonglenh")
    for words in ("/baocao", "báo cáo", "📝 Báo cáo khó khăn", "/xembaocao"):
        [refused] = await chat.say("citizen", words)
        assert refused.text == unknown.text, words
    if isinstance(chat, TelegramChat):  # a button made up, or one of someone else's
        for forged in ("rp:c:utilities", "reopen:1", "reports:", "view:1"):
            [stale] = await chat.press("citizen", forged)
            assert stale.text == STALE, forged
    assert await chat.services.db.fetchall("SELECT * FROM report_drafts") == []
    assert not chat.services.reports.is_writing(chat.person("citizen"))


async def test_hủy_stops_a_report_and_a_word_that_is_no_kind_asks_again(chat: Chat) -> None:
    await chat.give("official", Role.OFFICIAL, COMMUNE)
    await chat.say("official", "/baocao")
    why, again = await chat.say("official", "xe cứu hỏa", expect=2)  # not a kind: the question again
    assert why.text == CHOOSE and again.text.startswith("Báo cáo khó khăn của trung tâm.")
    assert again.has("Hủy thao tác")
    [stopped] = await chat.say("official", "Hủy")
    assert stopped.text == CANCELLED
    assert await chat.services.db.fetchall("SELECT * FROM report_drafts") == []
    [nothing] = await chat.say("official", "hủy")
    assert nothing.text == "Không có thao tác nào đang làm dở để hủy."
    [menu] = await chat.say("official", "0")
    assert menu.text.startswith("Vui lòng chọn một mục dưới đây.") and menu.menu[0].endswith("Báo cáo khó khăn")
    await chat.say("official", "báo cáo")
    await chat.choose("official", "Khác")
    [chosen] = await chat.choose("official", "Hủy thao tác")  # the choice, at any step
    assert chosen.text == CANCELLED
    assert await chat.services.reports.writing(chat.person("official")) is None


async def test_during_a_report_the_menu_and_a_sticker_ask_the_step_again(chat: Chat) -> None:
    await chat.give("official", Role.OFFICIAL, COMMUNE)
    await chat.say("official", "báo cáo")
    note, question = await chat.sticker("official", expect=2)
    assert note.text == WRITING and question.text.startswith("Báo cáo khó khăn của trung tâm.")
    assert question.has("Thiếu phòng làm việc") and question.has("Hủy thao tác")
    note, question = await chat.say("official", "0", expect=2)
    assert note.text == WRITING and question.has("Thiếu phòng làm việc") and question.has("Hủy thao tác")
    await chat.choose("official", "Trang thiết bị")
    [describe] = await chat.choose("official", "Cao")
    assert describe.text.startswith("Mô tả vấn đề")
    for word in ("menu", "📋 Báo cáo của xã", "Tra cứu hồ sơ"):  # a menu item is no description
        note, question = await chat.say("official", word, expect=2)
        assert note.text == WRITING and question.text == describe.text, word
    note, question = await chat.sticker("official", expect=2)
    assert note.text == WRITING and question.text == describe.text
    [photos] = await chat.say("official", "Máy scan hỏng.")
    assert photos.text.startswith("Gửi tối đa 5 ảnh")
    await chat.choose("official", "Xong")
    [check] = await chat.choose("official", "Bỏ qua")
    assert "Mô tả: Máy scan hỏng." in check.text and "Loại: Trang thiết bị, máy móc" in check.text
    [stopped] = await chat.say("official", "hủy")
    assert stopped.text == CANCELLED


async def test_typed_words_answer_every_step(chat: Chat) -> None:
    await chat.give("official", Role.OFFICIAL, COMMUNE)
    await chat.say("official", "báo cáo")
    [severity] = await chat.say("official", "điện")  # part of a kind's name
    assert body(severity) == "Mức độ ảnh hưởng?"
    [describe] = await chat.say("official", "cao")  # a severity's name, typed at the numbered step
    assert describe.text.startswith("Mô tả vấn đề")
    [photos] = await chat.say("official", "Mất nước ở nhà vệ sinh.")
    assert photos.text.startswith("Gửi tối đa 5 ảnh")
    [where] = await chat.say("official", "xong")
    assert asks_where(chat, where)
    [check] = await chat.say("official", "bỏ qua")
    assert "Loại: Điện, nước, nhà vệ sinh" in check.text and "Mức độ: Cao" in check.text
    assert "Ảnh: 0" in check.text and "Vị trí: không có" in check.text
    [sent] = await chat.say("official", "gửi")
    assert sent.text.startswith("Đã gửi báo cáo BC-000001. Hạn khắc phục: ")
    report = await chat.services.reports.repo.get(1)
    assert report is not None
    assert (report.category, report.severity, report.description, report.photos, report.lat) == (
        "utilities",
        "high",
        "Mất nước ở nhà vệ sinh.",
        0,
        None,
    )


async def test_english_words_answer_the_steps_too(chat: Chat) -> None:
    services = chat.services
    await chat.give("official", Role.OFFICIAL, COMMUNE)
    await services.reports.file(
        chat.person("official"), Draft("utilities", "low", "Vòi nước nhỏ giọt."), services.clock()
    )
    await chat.say("official", "/lang en")
    for word in ("report", "electricity", "add", "low", "The tap in the toilet drips.", "done", "skip"):
        await chat.say("official", word)
    [added] = await chat.say("official", "send")
    assert added.text == "Added to report BC-000001."
    assert await services.reports.repo.get(2) is None
    added_rows = await services.db.fetchall("SELECT note, state FROM report_events WHERE kind = 'added'")
    assert [tuple(row) for row in added_rows] == [("The tap in the toilet drips.", "new")]
    report = await services.reports.repo.get(1)
    assert report is not None and report.severity == "low"


async def test_report_steps_say_why_a_message_did_not_fit(chat: Chat) -> None:
    await chat.give("official", Role.OFFICIAL, COMMUNE)
    await chat.say("official", "báo cáo")
    why, again = (await send_photo(chat, "official", 1, caption="Máy in hỏng.", expect=2))[0]
    assert why.text == "Ảnh chỉ nhận ở bước gửi ảnh." and again.text.startswith("Báo cáo khó khăn của trung tâm.")
    await chat.choose("official", "Trang thiết bị")
    [describe] = await chat.choose("official", "Trung bình")
    why, again = (await send_photo(chat, "official", 2, expect=2))[0]  # a photo without its description
    assert why.text.startswith("Vui lòng mô tả vấn đề bằng chữ") and again.text == describe.text
    [taken], ref = await send_photo(chat, "official", 3, caption="Máy in hỏng từ tuần trước.")
    assert taken.text.startswith("Gửi tối đa 5 ảnh")  # the caption is the description, the image the first photo
    await chat.say("official", "xong")
    why, again = await chat.say("official", "21,85", expect=2)  # a latitude alone: no point in Viet Nam
    assert why.text.startswith("Tọa độ chưa đúng") and asks_where(chat, again)
    why, again = await chat.say("official", "48.85, 2.35", expect=2)  # Paris
    assert why.text.startswith("Tọa độ chưa đúng") and asks_where(chat, again)
    why, again = (await send_photo(chat, "official", 4, expect=2))[0]  # photos were done with: not "five already"
    assert why.text == "Ảnh chỉ nhận ở bước gửi ảnh." and asks_where(chat, again)
    [check] = await chat.say("official", "21.85, 106.76")
    assert "Ảnh: 1" in check.text and "Mô tả: Máy in hỏng từ tuần trước." in check.text
    assert "Vị trí: 21.85000, 106.76000" in check.text
    [same] = await chat.say("official", "chưa chắc")  # neither «Gửi» nor «Hủy»: the summary again
    assert same.text == check.text
    [sent] = await chat.say("official", "gửi")
    assert sent.text.startswith("Đã gửi báo cáo BC-000001.")
    assert await stored_photos(chat) == [ref]


async def test_five_photos_move_on_by_themselves(chat: Chat) -> None:
    await chat.give("official", Role.OFFICIAL, COMMUNE)
    for word in ("báo cáo", "Trụ sở", "Thấp", "Trụ sở tạm dột khi mưa."):
        await chat.say("official", word)
    refs = []
    for n in range(1, 5):
        [got], ref = await send_photo(chat, "official", n)
        assert got.text.startswith(f"Đã nhận {n}/5 ảnh.")
        refs.append(ref)
    [where], ref = await send_photo(chat, "official", 5)
    assert asks_where(chat, where)  # the fifth photo ends the step
    refs.append(ref)
    why, again = (await send_photo(chat, "official", 6, expect=2))[0]
    assert why.text == "Đã đủ 5 ảnh; ảnh này không được thêm." and again.text == where.text
    await chat.say("official", "bỏ qua")
    [sent] = await chat.say("official", "gửi")
    assert sent.text.startswith("Đã gửi báo cáo BC-000001.")
    assert await stored_photos(chat) == refs


async def test_a_shared_location_answers_the_location_step(chat: Chat) -> None:
    await chat.give("official", Role.OFFICIAL, COMMUNE)
    for word in ("báo cáo", "Khác", "Thấp", "Biển hiệu bị gió làm đổ.", "xong"):
        await chat.say("official", word)
    why, again = await chat.location("official", 48.85, 2.35, expect=2)  # not in Viet Nam
    assert why.text.startswith("Tọa độ chưa đúng") and asks_where(chat, again)
    [confirm] = await chat.location("official", 21.65, 106.33)
    assert "Vị trí: 21.65000, 106.33000" in confirm.text
    await chat.choose("official", "Gửi")
    report = await chat.services.reports.repo.get(1)
    assert report is not None and (report.lat, report.lon) == (21.65, 106.33)


async def test_lists_and_moves_in_chat(chat: Chat) -> None:
    services = chat.services
    now = services.clock()
    await official_and_leader(chat)
    official = chat.person("official")
    await services.reports.file(official, Draft("it", "medium", "Máy in hỏng."), now)
    await services.reports.file(official, Draft("rooms", "low", "Phòng chờ chật."), now)
    [mine] = await chat.say("official", "/xembaocao")
    assert mine.text.splitlines()[0].startswith("BC-000002 · xã Hữu Lũng · Thiếu phòng làm việc")
    assert mine.options == []  # officials do not move reports
    [open_it] = await chat.say("leader", "/reports công nghệ")
    assert open_it.text.startswith("BC-000001 · xã Hữu Lũng · Công nghệ thông tin, mạng · 🟡 Trung bình · Mới · hạn ")
    assert open_it.options == ["BC-000001"]
    [by_commune] = await chat.say("leader", "/xembaocao Hữu Lũng")
    assert [line[:9] for line in by_commune.text.splitlines() if line.startswith("BC-")] == ["BC-000001", "BC-000002"]
    [puzzled] = await chat.say("leader", "/xembaocao xyz")
    assert puzzled.text.startswith("Không hiểu bộ lọc «xyz».")
    await chat.say("leader", "/reports công nghệ")
    [card] = await chat.choose("leader", "BC-000001")
    assert card.text.startswith("BC-000001 · xã Hữu Lũng") and body(card).endswith("\nMáy in hỏng.")
    assert card.options == ["Đã tiếp nhận", "Đang xử lý", "Đã khắc phục", "Không khắc phục được", "Trùng"]
    if isinstance(chat, TelegramChat):  # the leader's button, forged by the official
        [refused] = await chat.press("official", "move:1:in_progress")
        assert refused.text == STALE
    since = chat.mark("official")
    [moved] = await chat.choose("leader", "Đang xử lý")
    assert moved.text.startswith("Đã chuyển BC-000001 sang: Đang xử lý.") and "· Đang xử lý ·" in moved.text
    assert moved.options == ["Gửi ghi chú cho xã"]
    moved_message = quoted(chat, "leader") if isinstance(chat, TelegramChat) else None
    [told] = await chat.notified("official", since)
    assert told.text == "📋 Báo cáo BC-000001 chuyển sang: Đang xử lý."
    since = chat.mark("official")
    assert await chat.services.chat.awaiting(chat.person("leader"), chat.services.clock()) == ""  # none asked for
    chat.last["leader"] = [moved]
    [asked] = await chat.choose("leader", "Gửi ghi chú cho xã")
    assert asked.text.startswith("Vui lòng nhắn ghi chú gửi cán bộ xã về BC-000001 trong một tin nhắn.")
    assert asked.options == ["Hủy thao tác"]
    [noted] = await chat.say("leader", "Sở đã duyệt kinh phí máy in.")  # the next message is the note
    assert noted.text == "Đã gửi ghi chú cho cán bộ xã về BC-000001."
    [note] = await chat.notified("official", since)
    assert note.text == "📋 Ghi chú mới về báo cáo BC-000001 (Đang xử lý): Sở đã duyệt kinh phí máy in."  # not a move
    [finder] = await chat.say("leader", "Hữu Lũng")  # one message only is the note
    assert finder.text.startswith("🏢")
    if isinstance(chat, TelegramChat) and moved_message is not None:
        since = chat.mark("official")
        [noted] = await reply_on_telegram(chat, "leader", "Nhà thầu đến thứ Năm.", moved_message)
        assert noted.text == "Đã gửi ghi chú cho cán bộ xã về BC-000001."
        [note] = await chat.notified("official", since)
        assert note.text == "📋 Ghi chú mới về báo cáo BC-000001 (Đang xử lý): Nhà thầu đến thứ Năm."
        [finder] = await reply_on_telegram(chat, "citizen", "Hữu Lũng", moved_message)  # anyone else's: ordinary
        assert finder.text.startswith("🏢")
        for forged in ("move:1:open", "move:1:new", "move:999:fixed", "view:abc", "view:999", "move:1", "move:x:fixed"):
            [refused] = await chat.press("leader", forged)
            assert refused.text == STALE, forged
    # After another move, «Hủy thao tác» says no note will follow.
    await chat.say("leader", "/xembaocao")
    await chat.choose("leader", "BC-000002")
    await chat.choose("leader", "Đã tiếp nhận")
    await chat.choose("leader", "Gửi ghi chú cho xã")
    [cancelled] = await chat.choose("leader", "Hủy thao tác")
    assert cancelled.text == CANCELLED
    [finder] = await chat.say("leader", "Hữu Lũng")
    assert finder.text.startswith("🏢")
    [none] = await chat.say("citizen", "/xembaocao")
    [unknown] = await chat.say("citizen", "/khonglenh")
    assert none.text == unknown.text


async def test_the_commune_reopens_a_fixed_report_from_chat(chat: Chat) -> None:
    services = chat.services
    now = services.clock()
    await official_and_leader(chat)
    official, leader = chat.person("official"), chat.person("leader")
    report = await services.reports.file(official, Draft("it", "high", "Mạng chập chờn."), now)
    since = chat.mark("official")
    await services.reports.move(leader, report.id, State.FIXED, "Đã thay bộ định tuyến.", now)
    [moved] = await chat.notified("official", since)
    assert moved.text == "📋 Báo cáo BC-000001 chuyển sang: Đã khắc phục.\nGhi chú: Đã thay bộ định tuyến."
    [menu] = await chat.say("official", "0")
    [mine] = await from_menu(chat, "official", menu, "Báo cáo của xã")
    assert mine.text.startswith("BC-000001 · xã Hữu Lũng · Công nghệ thông tin, mạng · 🟠 Cao · Đã khắc phục")
    assert mine.options == ["BC-000001 chưa khắc phục"]
    [asked] = await chat.choose("official", "BC-000001 chưa khắc phục")
    assert asked.text.startswith("Gửi một ảnh cho thấy BC-000001 chưa được khắc phục")
    assert asked.options == ["Hủy thao tác"]
    why, again = await chat.say("official", "vẫn hỏng", expect=2)  # text instead of a photo: asked again
    assert why.text == "Vui lòng gửi một ảnh, kèm ghi chú trong chú thích ảnh." and again.text == asked.text
    [reopened], ref = await send_photo(chat, "official", 9, caption="Vẫn mất mạng buổi chiều.")
    assert reopened.text.startswith("Đã mở lại BC-000001. Hạn khắc phục mới: ")
    stored = await services.reports.repo.get(report.id)
    assert stored is not None and (stored.state, stored.photos, stored.closed_at) == ("new", 1, None)
    assert await stored_photos(chat) == [ref]
    assert await services.reports.writing(official) is None
    if isinstance(chat, TelegramChat):  # not the leader's to reopen
        [refused] = await chat.press("leader", f"reopen:{report.id}")
        assert refused.text == STALE


async def test_the_menus_of_officials_and_leaders(chat: Chat) -> None:
    await official_and_leader(chat)
    [categories] = await chat.say("official", "📝 Báo cáo khó khăn")  # the officials' menu item
    assert categories.text.startswith("Báo cáo khó khăn của trung tâm.")
    await chat.choose("official", "Trang thiết bị")
    [describe] = await chat.choose("official", "Cao")
    assert describe.text.startswith("Mô tả vấn đề")
    note, question = await chat.say("official", "📋 Báo cáo của xã", expect=2)  # a menu item is no description
    assert note.text == WRITING and question.text == describe.text
    [photos] = await chat.say("official", "Máy scan hỏng.")
    assert photos.text.startswith("Gửi tối đa 5 ảnh")
    await chat.say("official", "/huy")
    [listing] = await chat.say("official", "📋 Báo cáo của xã")
    assert listing.text == "Không có báo cáo nào."

    [pointer] = await chat.say("leader", "/baocao")
    assert pointer.text.startswith("Báo cáo khó khăn do cán bộ xã, phường gửi.") and "/xembaocao" in pointer.text
    [none_open] = await chat.say("leader", "📋 Báo cáo đang mở")
    assert none_open.text == "Không có báo cáo nào."
    [english] = await chat.say("official", "/lang en")
    assert any("Report a problem" in item for item in english.menu)
    if isinstance(chat, TelegramChat):
        menu = chat.api.my_commands[(f'{{"chat_id": {TELEGRAM_IDS["official"]}, "type": "chat"}}', "")]
        names = [c["command"] for c in menu]
        assert names[-3:] == ["report", "reports", "update"] and "cancel" in names


async def test_a_long_list_says_how_many_more(chat: Chat) -> None:
    services = chat.services
    await official_and_leader(chat)
    official = chat.person("official")
    for n in range(32):
        await services.reports.file(official, Draft("other", "low", f"Việc số {n}."), services.clock())
    parts = await chat.say("leader", "/xembaocao", expect=2 if chat.channel == "zalo" else 1)  # Zalo: 2,000 a message
    lines = [line for part in parts for line in body(part).splitlines() if line.startswith(("BC-", "…"))]
    assert len(lines) == 31 and lines[-1] == "… và 2 báo cáo nữa; lọc để xem (ví dụ: /xembaocao quahan)."
    options = [option for part in parts for option in part.options]
    if chat.channel == "zalo":  # the numbered lines came in a message of their own
        options = [found[2] for line in parts[-1].text.splitlines() if (found := NUMBERED.match(line))]
    assert options == [f"BC-{n:06d}" for n in range(1, 31)]


async def add_through_chat(chat: Chat, category: str, severity: str, text: str) -> Msg:
    """The official adds to the open report of `category` through the steps, up to the confirmation."""
    await chat.say("official", "/baocao")
    [offer] = await chat.choose("official", category)
    assert offer.text.startswith("Xã đã có báo cáo BC-000001 đang mở")
    [severities] = await chat.choose("official", "Thêm vào")
    assert body(severities) == "Mức độ ảnh hưởng?"
    await chat.choose("official", severity)
    await chat.say("official", text)
    await chat.choose("official", "Xong")
    [confirm] = await chat.say("official", "21.65, 106.33")
    assert "Sẽ thêm vào báo cáo BC-000001." in confirm.text
    return confirm


async def test_an_addition_that_stops_service_raises_the_report_and_alerts(chat: Chat) -> None:
    services = chat.services
    await official_and_leader(chat)
    official = chat.person("official")
    await services.reports.file(official, Draft("utilities", "low", "Vòi nước nhỏ giọt."), services.clock())
    await add_through_chat(chat, "Điện, nước", "Dừng phục vụ", "Mất điện toàn bộ trụ sở.")
    since = chat.mark("leader")
    [sent] = await chat.choose("official", "Gửi")
    assert sent.text == "Đã thêm vào báo cáo BC-000001."
    [alert] = await chat.notified("leader", since)
    assert alert.text.startswith("🚨 BC-000001 — xã Hữu Lũng: dừng phục vụ người dân")
    stored = await services.reports.repo.get(1)
    assert stored is not None and (stored.severity, stored.lat, stored.lon) == ("blocking", 21.65, 106.33)
    lower = await services.reports.add_to(official, 1, Draft("utilities", "low", "Thêm."), services.clock())
    assert lower.severity == "blocking"  # an addition never lowers it


async def test_an_addition_to_a_report_closed_meanwhile_becomes_a_report(chat: Chat) -> None:
    services = chat.services
    await official_and_leader(chat)
    official, leader = chat.person("official"), chat.person("leader")
    await services.reports.file(official, Draft("it", "low", "Mạng chậm."), services.clock())
    await add_through_chat(chat, "Công nghệ", "Cao", "Mất mạng cả ngày.")
    since = chat.mark("official")
    await services.reports.move(leader, 1, State.FIXED, "Đã xử lý.", services.clock())  # while the official writes
    [told] = await chat.notified("official", since)
    assert told.text == "📋 Báo cáo BC-000001 chuyển sang: Đã khắc phục.\nGhi chú: Đã xử lý."
    [sent] = await chat.say("official", "gửi")
    first, second = sent.text.splitlines()
    assert first == "Báo cáo BC-000001 đã được đóng trong lúc đồng chí viết, nên đây là một báo cáo mới."
    assert second.startswith("Đã gửi báo cáo BC-000002. Hạn khắc phục: ")
    assert await services.reports.writing(official) is None
    new = await services.reports.repo.get(2)
    assert new is not None and (new.description, new.severity, new.lat) == ("Mất mạng cả ngày.", "high", 21.65)


async def test_a_message_after_a_list_is_no_note(chat: Chat) -> None:
    services = chat.services
    await official_and_leader(chat)
    official = chat.person("official")
    await services.reports.file(official, Draft("it", "low", "Mạng chậm."), services.clock())
    await services.reports.file(official, Draft("rooms", "low", "Phòng chật."), services.clock())
    [listing] = await chat.say("leader", "/xembaocao")
    assert [line[:9] for line in listing.text.splitlines()[:2]] == ["BC-000001", "BC-000002"]
    text = "Sở sẽ cấp kinh phí cải tạo."
    if isinstance(chat, TelegramChat):  # a reply quoting a list of two: which? none, an ordinary message
        [answer] = await reply_on_telegram(chat, "leader", text, quoted(chat, "leader"))
    else:
        [answer] = await chat.say("leader", text)
    assert not answer.text.startswith("Đã gửi ghi chú")
    assert await services.db.fetchall("SELECT * FROM report_events WHERE kind = 'moved'") == []
    assert await services.db.fetchall("SELECT * FROM outbox WHERE kind = 'report_moved'") == []


async def test_an_older_fixed_report_can_still_be_reopened(chat: Chat) -> None:
    services = chat.services
    await official_and_leader(chat)
    official, leader = chat.person("official"), chat.person("leader")
    now = services.clock()
    await services.reports.file(official, Draft("it", "low", "Mạng chậm."), now)
    await services.reports.move(leader, 1, State.FIXED, "Xong.", now)
    [first] = await chat.say("official", "/xembaocao")
    assert first.options == ["BC-000001 chưa khắc phục"]
    for n in range(20):
        await services.reports.file(official, Draft("other", "low", f"Việc {n}."), now)
    [asked] = await chat.choose("official", "BC-000001 chưa khắc phục")  # the choice as the earlier list showed it
    assert asked.text.startswith("Gửi một ảnh cho thấy BC-000001 chưa được khắc phục")
    await chat.say("official", "/huy")
    [mine] = await chat.say("official", "/xembaocao")
    lines = body(mine).splitlines()
    assert len(lines) == 21 and lines[-1] == "… và 1 báo cáo cũ hơn."
    assert mine.options == []  # BC-000001 is no longer in the list
    if isinstance(chat, TelegramChat):  # and its button in the earlier list still works
        [asked] = await chat.press("official", "reopen:1")
        assert asked.text.startswith("Gửi một ảnh cho thấy BC-000001 chưa được khắc phục")


async def test_an_invite_typed_during_a_report_is_used(chat: Chat) -> None:
    services = chat.services
    await chat.give("official", Role.OFFICIAL, COMMUNE)
    for word in ("báo cáo", "Khác", "Thấp"):
        await chat.say("official", word)
    same = await services.roles.invite(Role.OFFICIAL, COMMUNE, "admin", services.clock())
    [granted] = await chat.say("official", same.code)  # the same role again: the report goes on
    assert granted.text.startswith("Đồng chí đã được cấp quyền cán bộ xã Hữu Lũng.")
    [photos] = await chat.say("official", "Mái tôn bị dột.")
    assert photos.text.startswith("Gửi tối đa 5 ảnh")
    invite = await services.roles.invite(Role.LEADER, None, "admin", services.clock())
    [asked] = await chat.say("official", invite.code)  # a description would not look like this
    assert asked.text.startswith("Đồng chí đang giữ quyền cán bộ xã Hữu Lũng. Mã mời này cấp quyền lãnh đạo tỉnh")
    [granted] = await chat.choose("official", "Đổi quyền")  # another role: asked first (issue 15)
    assert granted.text.startswith("Đồng chí đã được cấp quyền lãnh đạo")
    assert await services.reports.writing(chat.person("official")) is None  # a new role ends the report
    [finder] = await chat.say("official", "Hữu Lũng")
    assert finder.text.startswith("🏢")


async def test_a_revoked_official_is_answered_as_anyone(chat: Chat) -> None:
    services = chat.services
    await chat.give("official", Role.OFFICIAL, COMMUNE)
    for word in ("báo cáo", "Khác", "Thấp"):
        await chat.say("official", word)
    official = chat.person("official")
    person_id = await services.people.repo.id_of(official.channel, official.external_id)
    assert person_id is not None
    since = chat.mark("official")
    await services.roles.revoke(person_id, "admin", services.clock())  # an admin takes the role back
    [ended] = await chat.notified("official", since)
    assert ended.text.startswith("Quyền cán bộ xã Hữu Lũng của đồng chí đã được thu hồi.")
    [finder] = await chat.say("official", "Hữu Lũng")  # no step of a report: the centre finder
    assert finder.text.startswith("🏢")
    assert await services.reports.writing(official) is None


async def test_a_code_asked_for_during_a_report_is_looked_up_and_the_report_goes_on(chat: Chat) -> None:
    await chat.services.dossiers.apply([dossier_row()], "import:test.csv", chat.services.clock())
    await chat.give("official", Role.OFFICIAL, COMMUNE)
    await chat.say("official", "/baocao")
    await chat.say("official", "điện")
    await chat.say("official", "cao")
    await chat.say("official", "/hoso")  # a command during a report: asks for the code
    [found] = await chat.say("official", CODE)  # the code asked for, not the report's description
    assert found.text.startswith(f"📄 Hồ sơ {CODE}")
    [photos] = await chat.say("official", "Mất điện từ sáng.")  # the report goes on where it was
    assert photos.text.startswith("Gửi tối đa 5 ảnh")
    writing = await chat.services.reports.writing(chat.person("official"))
    assert writing is not None and writing.description == "Mất điện từ sáng."
    await chat.choose("official", "Xong")
    await chat.say("official", "bỏ qua")
    await chat.say("official", "gửi")
    [centre] = await chat.say("official", "Hữu Lũng")  # nothing is awaited any more
    assert centre.text.startswith("🏢")


async def test_closing_a_report_as_not_fixable_or_duplicate_asks_a_reason_then_a_confirmation(chat: Chat) -> None:
    services = chat.services
    now = services.clock()
    await official_and_leader(chat)
    official = chat.person("official")
    first = await services.reports.file(official, Draft("it", "medium", "Máy in hỏng."), now)
    second = await services.reports.file(official, Draft("rooms", "low", "Phòng chờ chật."), now)
    await chat.say("leader", f"BC-00000{first.id}")
    [asked] = await chat.choose("leader", "Không khắc phục được")
    assert asked.text.startswith("Chuyển BC-000001 sang «Không khắc phục được»: vui lòng nhắn lý do")
    assert asked.options == ["Hủy thao tác"]
    assert (await services.reports.repo.get(first.id)).state == "new"  # type: ignore[union-attr]  # nothing yet
    [sure] = await chat.say("leader", "Máy đời cũ")
    assert sure.text.startswith("Chuyển BC-000001 sang «Không khắc phục được» với lý do: Máy đời cũ")
    assert sure.options == ["Xác nhận", "Hủy thao tác"]
    [sure] = await chat.say("leader", "Máy đời cũ, không còn linh kiện thay thế.")  # another message: another reason
    assert "với lý do: Máy đời cũ, không còn linh kiện thay thế.\n" in sure.text
    since = chat.mark("official")
    [closed] = await chat.choose("leader", "Xác nhận")
    assert closed.text.startswith(
        "Đã chuyển BC-000001 sang: Không khắc phục được.\nLý do: Máy đời cũ, không còn linh kiện thay thế."
    )
    [told] = await chat.notified("official", since)
    assert told.text == (
        "📋 Báo cáo BC-000001 chuyển sang: Không khắc phục được.\nLý do: Máy đời cũ, không còn linh kiện thay thế."
    )
    stored = await services.reports.repo.get(first.id)
    assert stored is not None and stored.state == "cannot_fix" and stored.closed_at is not None
    # «Trùng», then «Hủy thao tác» at the confirmation: nothing changes, and the next message is ordinary again.
    await chat.say("leader", f"BC-00000{second.id}")
    await chat.choose("leader", "Trùng")
    [sure] = await chat.say("leader", "Trùng với BC-000001.")
    assert sure.text.startswith("Chuyển BC-000002 sang «Trùng» với lý do: Trùng với BC-000001.")
    [cancelled] = await chat.choose("leader", "Hủy thao tác")
    assert cancelled.text == CANCELLED
    assert (await services.reports.repo.get(second.id)).state == "new"  # type: ignore[union-attr]
    [finder] = await chat.say("leader", "Hữu Lũng")
    assert finder.text.startswith("🏢")
    if isinstance(chat, TelegramChat):  # a confirmation without a reason asked for, or for another report
        for forged in ("move:2:duplicate:ok", "move:2:fixed:ok", "move:2:duplicate:yes", "move:1:duplicate:ok"):
            [refused] = await chat.press("leader", forged)
            assert refused.text == STALE, forged
        await chat.press("leader", "move:2:duplicate")
        await chat.say("leader", "Trùng với BC-000001.")
        [refused] = await chat.press("leader", "move:1:duplicate:ok")  # the reason was for BC-000002
        assert refused.text == STALE
        await chat.press("leader", "move:2:duplicate")
        await chat.say("leader", "Trùng với BC-000001.")
        [button] = [b for row in chat.calls["leader"][0].buttons for b in row if "Xác nhận" in b["text"]]
        await chat.say("leader", "BC-000007")  # meant as a lookup, taken as another reason
        [refused] = await chat.press("leader", button["callback_data"])  # the older confirmation shows another
        assert refused.text == STALE
    assert (await services.reports.repo.get(second.id)).state == "new"  # type: ignore[union-attr]


async def test_leaders_see_severity_photos_and_the_reporting_commune(chat: Chat) -> None:
    services = chat.services
    now = services.clock()
    await official_and_leader(chat)
    official = chat.person("official")
    photos = ("tg-file-1", "https://photo.example/2.jpg")
    await services.reports.file(official, Draft("utilities", "blocking", "Mất điện.", photos), now)
    await services.reports.file(official, Draft("it", "low", "Mạng chậm."), now)
    [listing] = await chat.say("leader", "/xembaocao")
    first, second = listing.text.splitlines()[:2]
    assert first.startswith("BC-000001 · xã Hữu Lũng · Điện, nước, nhà vệ sinh · 🔴 Dừng phục vụ người dân · Mới")
    assert first.endswith(" · 📷 2")
    assert second.startswith("BC-000002 · xã Hữu Lũng · Công nghệ thông tin, mạng · ⚪ Thấp · Mới · hạn ")
    viewed = await chat.choose("leader", "BC-000001", expect=3 if chat.channel == "telegram" else 2)
    card, *pictures = viewed  # the card first: a photo that fails to send loses nothing
    assert all(msg.photo for msg in pictures) and not card.photo
    assert pictures[-1].text.startswith("BC-000001 · ảnh 2/2")
    if isinstance(chat, TelegramChat):  # by its file id, and the other by its URL
        sent = [call.params.get("photo") for call in chat.calls["leader"][1:]]
        assert sent == ["tg-file-1", "https://photo.example/2.jpg"]
        assert "chưa xem được" not in card.text
    else:  # a Telegram file id means nothing here, and no public URL is set to link it
        assert "1 ảnh gửi từ Telegram chưa xem được ở đây." in card.text
    assert card.options[0] == "Đã tiếp nhận"


@pytest.mark.parametrize("channel", ["zalo", "console"])
async def test_a_telegram_photo_reaches_a_zalo_leader_by_the_signed_link(channel: str, settings: Settings) -> None:
    configured = replace(settings, public_url="https://phucvu.example.vn", http_port=0, ingest_token=Secret("k" * 20))
    async with chat_on(channel, configured) as chat:
        await official_and_leader(chat)
        draft = Draft("it", "high", "Mạng hỏng.", ("tg-file-1",))
        report = await chat.services.reports.file(chat.person("official"), draft, chat.services.clock())
        card, picture = await chat.say("leader", "BC-000001", expect=2)
        assert picture.photo and "chưa xem được" not in card.text
        link = f"https://phucvu.example.vn/media/reports/{report.id}/1/{signature('k' * 20, report.id, 1)}"
        if isinstance(chat, ZaloChat):
            assert chat.api.calls[-1].params["photo"] == link
        else:
            assert isinstance(chat, ConsoleChat) and link in "\n".join(chat.out["leader"])
