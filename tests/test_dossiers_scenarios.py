"""Citizens look dossiers up and follow them: the same scenarios on Telegram, Zalo and the console."""

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from bot.config import Settings
from bot.outbox import Delivery
from bot.roles import Role
from bot.services import open_services
from handlers.chat import UNRECOGNISED
from tests.channels import CHANNELS, Chat, Msg, TelegramChat, chat_on, from_menu, received
from tests.factories import CODE, dossier_row


async def imported(chat: Chat, **changes: object) -> None:
    services = chat.services
    await services.dossiers.apply([dossier_row(**changes)], "import:test.csv", services.clock())


async def test_a_code_in_a_sentence_is_looked_up_without_the_applicant(chat: Chat) -> None:
    await imported(chat)
    [found] = await chat.say("citizen", f"cho tôi hỏi hồ sơ {CODE.lower()} ạ")
    assert f"📄 Hồ sơ {CODE}" in found.text and "Thủ tục: Đăng ký khai sinh" in found.text
    assert "Trạng thái: Đang giải quyết" in found.text and "Hoàng Thị Bích" not in found.text
    assert found.has("Theo dõi")


async def test_after_tra_cuu_the_next_message_is_the_code(chat: Chat) -> None:
    await imported(chat)
    [asked] = await chat.say("citizen", "/hoso")
    assert asked.text.startswith("Vui lòng nhắn mã hồ sơ in trên Giấy tiếp nhận")
    [found] = await chat.say("citizen", CODE)
    assert f"📄 Hồ sơ {CODE}" in found.text
    await chat.say("citizen", "Tra cứu hồ sơ")
    [not_a_code] = await chat.say("citizen", "Hữu Lũng")
    assert not_a_code.text.startswith("Đây chưa phải là mã hồ sơ.")
    [centre] = await chat.say("citizen", "Hữu Lũng")  # asked once: the next one is a search again
    assert "Trung tâm Phục vụ hành chính công xã Hữu Lũng" in centre.text


async def test_an_unknown_code_says_where_the_code_is_printed(chat: Chat) -> None:
    [missing] = await chat.say("citizen", "000.00.37.H37-250804-9999")
    assert missing.text.startswith("Không tìm thấy hồ sơ 000.00.37.H37-250804-9999.")
    assert "Giấy tiếp nhận hồ sơ và hẹn trả kết quả" in missing.text


async def test_follow_be_told_of_a_change_and_stop(chat: Chat) -> None:
    await imported(chat)
    await chat.say("citizen", CODE)
    [followed] = await chat.choose("citizen", "Theo dõi")
    assert followed.text.startswith("Đã theo dõi.")
    [listed] = await chat.say("citizen", "/theodoi")
    assert f"• {CODE} — Đăng ký khai sinh: Đang giải quyết" in listed.text and listed.has(f"Bỏ theo dõi {CODE}")
    since = chat.mark("citizen")
    await chat.services.dossiers.apply([dossier_row(status=9)], "ingest", chat.services.clock() + timedelta(hours=1))
    [note] = await chat.notified("citizen", since)
    assert note.text.startswith(
        f"🔔 Hồ sơ {CODE} (Đăng ký khai sinh) chuyển sang: Đã có kết quả — mời Ông/Bà đến nhận."
    )
    [listed] = await chat.say("citizen", "/theodoi")
    assert f"• {CODE} — Đăng ký khai sinh: Đã có kết quả — mời Ông/Bà đến nhận" in listed.text
    [stopped] = await chat.choose("citizen", f"Bỏ theo dõi {CODE}")
    assert stopped.text == "Đã bỏ theo dõi."


async def test_following_is_offered_and_stopped_from_the_lookup_and_the_list(chat: Chat) -> None:
    await imported(chat)
    await chat.say("citizen", CODE)
    [followed] = await chat.choose("citizen", "Theo dõi")
    assert followed.text == "Đã theo dõi. Phục Vụ sẽ báo khi hồ sơ thay đổi trạng thái."
    [again] = await chat.say("citizen", CODE)
    assert again.options == ["Bỏ theo dõi"]
    [stopped] = await chat.choose("citizen", "Bỏ theo dõi")
    assert stopped.text == "Đã bỏ theo dõi."
    [found] = await chat.say("citizen", CODE)
    assert found.options == ["Theo dõi"]
    await chat.choose("citizen", "Theo dõi")
    await chat.say("citizen", "/start")
    [listed] = await from_menu(chat, "citizen", "Hồ sơ theo dõi")
    assert (
        listed.text.startswith("Đang theo dõi 1/10 hồ sơ:\n")
        and f"• {CODE} — Đăng ký khai sinh: Đang giải quyết" in listed.text
    )
    await chat.choose("citizen", f"Bỏ theo dõi {CODE}")
    [empty] = await chat.say("citizen", "/theodoi")
    assert empty.text.startswith("Chưa theo dõi hồ sơ nào.") and empty.options == []


async def forge(chat: Chat, who: str, action: str, value: str) -> list[Msg]:
    """`who` sends a choice they were never offered: forged button data on Telegram; on the text channels a menu
    line whose choice no longer holds (a dossier gone since it was shown)."""
    if isinstance(chat, TelegramChat):
        return await chat.press(who, f"{action}:{value}")
    await chat.services.chat.remember(chat.person(who), [(action, value, "x")], chat.services.clock())
    return await chat.say(who, "1")


async def test_a_forged_or_stale_choice_is_refused(chat: Chat) -> None:
    await imported(chat)
    for action, value in (
        ("follow", "NOSUCHCODE1"),
        ("follow", ""),
        ("follow", "../../etc"),
        ("x", "1"),
        ("digest", ""),  # a leader's, chosen by a citizen
    ):
        [refused] = await forge(chat, "citizen", action, value)
        assert refused.text == "Lựa chọn này đã hết hiệu lực. Vui lòng thực hiện lại.", (action, value)
    assert await chat.services.db.fetchall("SELECT * FROM follows") == []


class NothingTwice:
    """A notifier that fails the test if it is asked to deliver anything (nothing may be sent twice)."""

    audience = None

    def __init__(self, channel: str) -> None:
        self.channel = channel

    async def deliver(self, message: object) -> Delivery:
        raise AssertionError(f"sent twice: {message}")


async def test_a_status_change_reaches_each_follower_once(chat: Chat) -> None:
    await imported(chat)
    services = chat.services
    for who in ("citizen", "other"):
        await chat.say(who, CODE)
        await chat.choose(who, "Theo dõi")
    since = {who: chat.mark(who) for who in ("citizen", "other")}
    finished = dossier_row(status=9, finished_at="2025-08-04 03:00:00")
    await services.dossiers.apply([finished], "api", services.clock())
    await services.dossiers.apply([finished], "api", services.clock())  # the same sync again
    for who in ("citizen", "other"):
        [note] = await chat.notified(who, since[who])
        assert (
            note.text
            == f"🔔 Hồ sơ {CODE} (Đăng ký khai sinh) chuyển sang: Đã có kết quả — mời Ông/Bà đến nhận.\nTrạng thái trước: Đang giải quyết.\n"
            "Việc cần làm: mời Ông/Bà mang Giấy tiếp nhận hồ sơ và căn cước đến Trung tâm Phục vụ hành chính công xã Hữu Lũng để nhận kết quả."
        )
    await services.outbox.drain(NothingTwice(chat.channel))  # another drain finds nothing left to send
    await chat.say("official", "/help")
    assert [len(received(chat, who, since[who])) for who in ("citizen", "other")] == [1, 1]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_nothing_is_lost_or_doubled_across_a_restart(channel: str, settings: Settings) -> None:
    async with chat_on(channel, settings) as chat:
        await imported(chat)
        await chat.say("citizen", CODE)
        await chat.choose("citizen", "Theo dõi")
    # The bot is stopped; an import in another process changes the dossier twice.
    services = await open_services(settings)
    try:
        await services.dossiers.apply([dossier_row(status=5)], "import:a.csv", services.clock())
        await services.dossiers.apply([dossier_row(status=4)], "import:b.csv", services.clock())
        # A message claimed by a process that died before confirming it is not sent again.
        await services.db.conn.execute(
            "UPDATE outbox SET claimed_at = '2025-08-04 03:00:00' WHERE id = (SELECT MIN(id) FROM outbox)"
        )
    finally:
        await services.db.close()
    async with chat_on(channel, settings) as chat:  # a fresh transport: everything it carries came after the start
        [message] = await chat.notified("citizen", 0)
        assert (
            message.text
            == f"🔔 Hồ sơ {CODE} (Đăng ký khai sinh) chuyển sang: Đang giải quyết.\nTrạng thái trước: Chờ Ông/Bà bổ sung hồ sơ.\n"
            "Việc cần làm: Ông/Bà chưa cần làm gì thêm; kết quả dự kiến có vào ngày hẹn trả."
        )
        await chat.say("other", "/help")
        assert len(received(chat, "citizen", 0)) == 1


class Clock:
    """The bot's wall clock, moved by the test only."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_followed_dossier_past_its_appointment_is_told_once(channel: str, settings: Settings) -> None:
    clock = Clock(datetime(2025, 8, 5, 3, 0, tzinfo=UTC))  # 10:00 in Lạng Sơn, the day before the appointment
    async with chat_on(channel, settings, clock) as chat:
        await imported(chat)
        await chat.say("citizen", CODE)
        await chat.choose("citizen", "Theo dõi")
    clock.now = datetime(2025, 8, 7, 3, 0, tzinfo=UTC)  # the day after it
    async with chat_on(channel, settings, clock) as chat:
        [message] = await chat.notified("citizen", 0)
        assert message.text == (
            f"⏰ Hồ sơ {CODE} (Đăng ký khai sinh) đã quá ngày hẹn trả (06/08/2025) mà chưa có kết quả.\n"
            "Việc cần làm: hồ sơ đã quá ngày hẹn trả. Theo Nghị định 61/2018/NĐ-CP, cơ quan giải quyết phải gửi Ông/Bà"
            " văn bản xin lỗi và hẹn lại ngày trả. Ông/Bà có thể liên hệ Trung tâm Phục vụ hành chính công xã Hữu Lũng."
        )
    async with chat_on(channel, settings, clock) as chat:
        assert await chat.services.dossiers.enqueue_overdue(clock()) == 0  # told already
        assert await chat.services.db.fetchall("SELECT id FROM outbox WHERE kind = 'dossier_overdue'") != []
        await chat.say("other", "/help")
        assert received(chat, "citizen", 0) == []


async def test_enumeration_is_slowed_after_ten_unknown_codes(chat: Chat) -> None:
    await imported(chat)
    for number in range(10):
        [missing] = await chat.say("citizen", f"000.00.37.H37-250804-{number:04d}")
        assert missing.text.startswith("Không tìm thấy hồ sơ")
    [slowed] = await chat.say("citizen", CODE)
    assert slowed.text == "Ông/Bà đã tra cứu nhiều lần liên tiếp. Vui lòng thử lại sau 10 phút."
    [other] = await chat.say("other", CODE)
    assert other.text.startswith(f"📄 Hồ sơ {CODE}")


@pytest.mark.parametrize(
    ("status", "says", "overdue"),
    [
        (4, "Quá hạn ", True),
        (11, "Quá hạn ", True),
        (5, "Thời hạn giải quyết tạm dừng trong khi chờ Ông/Bà.", False),
        (6, "Thời hạn giải quyết tạm dừng trong khi chờ Ông/Bà.", False),
        (7, "Trạng thái: Đã rút hồ sơ", False),
        (3, "Trạng thái: Không tiếp nhận", False),
    ],
)
async def test_only_an_open_dossier_is_ever_overdue(chat: Chat, status: int, says: str, overdue: bool) -> None:
    """DESIGN.md's one rule: a withdrawn dossier once told its citizen "⏰ Quá hạn 11 ngày" (issue 15); waiting on
    the applicant, not received and withdrawn are never overdue, in the lookup or in a follow-up."""
    await imported(chat, status=status, received_at="2025-07-10 01:30:00", due_at="2025-07-20 10:00:00")
    [found] = await chat.say("citizen", CODE)
    assert says in found.text and ("Quá hạn" in found.text) == overdue
    services = chat.services
    assert await services.dossiers.follow(chat.person("citizen"), CODE, services.clock()) == "followed"
    assert bool(await services.dossiers.enqueue_overdue(services.clock())) == overdue


@pytest.mark.parametrize("channel", CHANNELS)
async def test_each_status_says_what_to_do_now_and_where(channel: str, settings: Settings) -> None:
    """A lookup names the status and the next step in plain words (issue 15): where the centre is and how to
    call it, and while the commune has said nothing, the province's centre and hotline."""
    async with chat_on(channel, replace(settings, hotline="0205 3812 345")) as chat:
        await _each_status_says_what_to_do(chat)


async def _each_status_says_what_to_do(chat: Chat) -> None:
    services = chat.services
    await imported(chat, status=9, finished_at="2025-08-04 02:00:00")
    [ready] = await chat.say("citizen", CODE)
    assert (
        "Việc cần làm: mời Ông/Bà mang Giấy tiếp nhận hồ sơ và căn cước đến Trung tâm Phục vụ hành chính công xã Hữu"
        " Lũng (địa chỉ, điện thoại chưa được cập nhật; Ông/Bà có thể liên hệ đường dây nóng của tỉnh 0205 3812 345)"
        " để nhận kết quả." in ready.text
    )
    province = {"address": "Số 2 đường Hùng Vương, phường Lương Văn Tri", "phone": "0205 3898 989"}
    await services.centres.update_details("tinh", province, "t", "now")  # as `import-centres` would
    [ready] = await chat.say("citizen", CODE)
    assert (
        "Hữu Lũng (địa chỉ, điện thoại chưa được cập nhật; Ông/Bà có thể liên hệ Trung tâm Phục vụ hành chính công"
        " tỉnh Lạng Sơn, địa chỉ Số 2 đường Hùng Vương, phường Lương Văn Tri, điện thoại 0205 3898 989; đường dây"
        " nóng của tỉnh 0205 3812 345) để nhận kết quả." in ready.text
    )
    await services.centres.update_details("06385", {"phone": "0205 3825 001", "address": "Khu Trung Tâm"}, "t", "now")
    await imported(chat, status=5)
    [supplement] = await chat.say("citizen", CODE)
    assert (
        "Việc cần làm: Ông/Bà cần bổ sung hồ sơ. Vui lòng mang hoặc gửi giấy tờ còn thiếu đến Trung tâm Phục vụ hành"
        " chính công xã Hữu Lũng (địa chỉ Khu Trung Tâm; điện thoại 0205 3825 001)." in supplement.text
    )
    await imported(chat, status=4, received_at="2025-07-10 01:30:00", due_at="2025-07-20 10:00:00")
    [late] = await chat.say("citizen", CODE)
    assert "Quá hạn 15 ngày" in late.text and "Theo Nghị định 61/2018/NĐ-CP, cơ quan giải quyết phải gửi" in late.text
    await imported(chat, status=10, returned_at="2025-08-04 02:00:00", finished_at="2025-08-04 01:00:00")
    [done] = await chat.say("citizen", CODE, expect=1)
    assert "\nÔng/Bà đã nhận kết quả; không cần làm gì thêm." in done.text


async def test_the_one_stop_systems_note_fee_and_new_date_reach_the_citizen(chat: Chat) -> None:
    """`ghi_chu`, `le_phi` and `ngay_hen_tra_moi` (issue 15): what to supplement, the amount to pay, and a new
    appointment date after an apology letter, which the rule then judges by; never the applicant's name."""
    services = chat.services
    note = "Bổ sung bản sao căn cước của người đi đăng ký."
    await imported(chat, status=5, note=note)
    [supplement] = await chat.say("citizen", CODE)
    assert "Việc cần làm: Ông/Bà cần bổ sung hồ sơ: Bổ sung bản sao căn cước của người đi đăng ký. Vui lòng" in (
        supplement.text
    )
    await imported(chat, status=6, fee=1_250_000)
    [fee] = await chat.say("citizen", CODE)
    assert "Việc cần làm: Ông/Bà cần nộp 1.250.000 đồng phí, lệ phí" in fee.text
    late = {"received_at": "2025-07-10 01:30:00", "due_at": "2025-07-20 10:00:00"}
    await imported(chat, status=4, **late, new_due_at="2025-08-08 10:00:00")
    [renewed] = await chat.say("citizen", CODE)
    assert "Ngày hẹn trả mới: 08/08/2025 (hẹn lại kèm văn bản xin lỗi)" in renewed.text
    assert "Quá hạn" not in renewed.text and "Còn 4 ngày đến ngày hẹn trả" in renewed.text
    assert "Hoàng Thị Bích" not in renewed.text
    assert await services.dossiers.follow(chat.person("citizen"), CODE, services.clock()) == "followed"
    assert await services.dossiers.enqueue_overdue(services.clock()) == 0  # the new date has not passed


async def test_following_a_finished_dossier_says_it_is_finished(chat: Chat) -> None:
    await imported(chat, status=10, finished_at="2025-08-04 01:00:00", returned_at="2025-08-04 02:00:00")
    await chat.say("citizen", CODE)
    [followed] = await chat.choose("citizen", "Theo dõi")
    assert followed.text == (
        "Đã theo dõi. Hồ sơ này đã kết thúc (Đã trả kết quả); Phục Vụ vẫn báo nếu trạng thái thay đổi."
    )
    [listed] = await chat.say("citizen", "/theodoi")
    assert f"• {CODE} — Đăng ký khai sinh: Đã trả kết quả, Hoàn thành trước hạn 2 ngày" in listed.text


async def test_an_official_sees_their_own_communes_dossiers_and_can_have_a_morning_message(chat: Chat) -> None:
    """`/hosoxa` (issue 15): the official's own commune only — past their date, due within two working days,
    waiting on the applicant apart — oldest first; `/hosoxa bat` gives a morning message on working days."""
    services = chat.services

    def row(n: int, **changes: object) -> object:
        return dossier_row(code_key=f"X{n:05d}", code=f"000.00.37.H37-250801-{n:04d}", **changes)

    rows = [
        row(1, status=4, received_at="2025-07-20 01:00:00", due_at="2025-08-01 10:00:00"),  # overdue
        row(2, status=2, due_at="2025-08-05 10:00:00", procedure_name="Chứng thực bản sao"),  # due soon
        row(3, status=5, note="Bổ sung tờ khai"),  # waiting on the applicant
        row(4, status=4, due_at="2025-08-20 10:00:00"),  # later: not listed
        row(5, status=7, due_at="2025-07-25 10:00:00"),  # withdrawn: never overdue
        row(6, status=4, commune_code="06076", due_at="2025-07-25 10:00:00"),  # another commune's
    ]
    await services.dossiers.apply(rows, "import:test.csv", services.clock())  # type: ignore[arg-type]
    await chat.give("official", Role.OFFICIAL, "06385")
    [view] = await chat.say("official", "/hosoxa")
    assert view.text.startswith("🗂️ Hồ sơ của xã Hữu Lũng — 04/08/2025")
    assert "Quá hạn: 1\n• 000.00.37.H37-250801-0001 — Đăng ký khai sinh — nhận 20/07/2025, hẹn 01/08/2025" in view.text
    assert "Đến hạn trong 2 ngày làm việc: 1\n• 000.00.37.H37-250801-0002 — Chứng thực bản sao" in view.text
    assert "(không tính quá hạn): 1\n• 000.00.37.H37-250801-0003" in view.text
    assert "-0004" not in view.text and "-0005" not in view.text and "-0006" not in view.text
    assert "đang tắt (/hosoxa bat để bật)" in view.text
    [on] = await chat.say("official", "/hosoxa bat")
    assert on.text.startswith("Đã bật tin buổi sáng")
    since = chat.mark("official")
    assert await services.dossiers.queue_mornings(services.clock(), time(23, 59)) == 0  # before the digest time
    assert await services.dossiers.queue_mornings(services.clock(), time(7, 0)) == 1
    assert await services.dossiers.queue_mornings(services.clock(), time(7, 0)) == 0  # once a day
    [morning] = await chat.notified("official", since)
    assert morning.text.startswith(
        "⏰ Sáng nay xã Hữu Lũng có 1 hồ sơ quá hạn và 1 hồ sơ đến hạn trong 2 ngày làm việc."
    )
    saturday = datetime(2025, 8, 9, 8, 0, tzinfo=UTC)
    assert await services.dossiers.queue_mornings(saturday, time(7, 0)) == 0
    [refused] = await chat.say("citizen", "/hosoxa")
    assert refused.text == UNRECOGNISED


async def test_the_officials_view_never_addresses_them_as_a_citizen(chat: Chat) -> None:
    await imported(chat, status=5)
    await chat.give("official", Role.OFFICIAL, "06385")
    [view] = await chat.say("official", "/hosoxa")
    assert f"• {CODE} — Đăng ký khai sinh — nhận 04/08/2025, hẹn 06/08/2025 — Chờ người dân bổ sung hồ sơ" in view.text
    assert "Ông/Bà" not in view.text  # the citizens' words stay in the citizens' answers
