"""Citizens rate the service of a returned dossier, from its follow-up or its lookup, on every channel; the
feature lives in handlers/ratings.py and no channel adapter knows of it."""

from datetime import timedelta

from handlers.chat import STALE
from tests.channels import Chat, TelegramChat
from tests.factories import CODE, KEY, dossier_row


async def follow(chat: Chat) -> None:
    services = chat.services
    await services.dossiers.apply([dossier_row(status=9)], "import:test.csv", services.clock())
    await chat.say("citizen", CODE)
    await chat.choose("citizen", "Theo dõi")


async def ratings(chat: Chat) -> list[tuple[object, ...]]:
    rows = await chat.services.db.fetchall("SELECT score, reasons, comment, commune_code, procedure_name FROM ratings")
    return [tuple(row) for row in rows]


async def test_the_follow_up_of_a_returned_dossier_asks_once_and_keeps_the_answer(chat: Chat) -> None:
    await follow(chat)
    since = chat.mark("citizen")
    later = chat.services.clock() + timedelta(hours=1)
    await chat.services.dossiers.apply([dossier_row(status=10)], "ingest", later)
    [returned] = await chat.notified("citizen", since)
    assert returned.text.startswith(f"🔔 Hồ sơ {CODE} (Đăng ký khai sinh) chuyển sang: Đã trả kết quả.")
    assert f"Ông/Bà có hài lòng với việc giải quyết hồ sơ {CODE} không?" in returned.text
    assert returned.options == ["Rất hài lòng", "Hài lòng", "Không hài lòng"]
    [thanks] = await chat.choose("citizen", "Rất hài lòng")
    assert thanks.text.startswith("Phục Vụ cảm ơn Ông/Bà đã đánh giá.")
    assert await ratings(chat) == [(3, "", "", "06385", "Đăng ký khai sinh")]


async def test_not_satisfied_asks_what_went_wrong_and_a_comment(chat: Chat) -> None:
    services = chat.services
    await services.dossiers.apply([dossier_row(status=10)], "import:test.csv", services.clock())
    [found] = await chat.say("citizen", CODE)
    assert found.has("Đánh giá")
    [asked] = await chat.choose("citizen", "Đánh giá")
    assert asked.options == ["Rất hài lòng", "Hài lòng", "Không hài lòng"]
    [why] = await chat.choose("citizen", "Không hài lòng")
    assert why.text.startswith("Ông/Bà chưa hài lòng về điều gì?") and why.has("Số lần đi lại")
    [more] = await chat.choose("citizen", "Số lần đi lại")
    assert more.text.startswith("Ông/Bà có góp ý thêm không?")
    [thanks] = await chat.say("citizen", "Phải đi lại ba lần vì thiếu giấy tờ")
    assert thanks.text.startswith("Phục Vụ cảm ơn Ông/Bà đã góp ý.")
    assert await ratings(chat) == [(1, "trips", "Phải đi lại ba lần vì thiếu giấy tờ", "06385", "Đăng ký khai sinh")]
    [found] = await chat.say("citizen", CODE)  # changed within 7 days: one rating per person and dossier
    await chat.choose("citizen", "Đánh giá")
    await chat.choose("citizen", "Hài lòng")
    assert await ratings(chat) == [(2, "", "", "06385", "Đăng ký khai sinh")]


async def test_a_dossier_not_returned_cannot_be_rated(chat: Chat) -> None:
    services = chat.services
    await services.dossiers.apply([dossier_row(status=4)], "import:test.csv", services.clock())
    [found] = await chat.say("citizen", CODE)
    assert not found.has("Đánh giá")
    [unknown] = await chat.say("citizen", "/khonglenh")
    assert await ratings(chat) == []
    assert unknown.text.startswith("Phục Vụ chưa hiểu")


async def test_what_went_wrong_in_ones_own_words_and_no_comment(chat: Chat) -> None:
    services = chat.services
    await services.dossiers.apply([dossier_row(status=10)], "import:test.csv", services.clock())
    await chat.say("citizen", CODE)
    await chat.choose("citizen", "Đánh giá")
    await chat.choose("citizen", "Không hài lòng")
    [thanks] = await chat.say("citizen", "nhân viên hơi chậm")  # no reason's name: another reason, and the comment
    assert thanks.text.startswith("Phục Vụ cảm ơn Ông/Bà đã góp ý.")
    assert await ratings(chat) == [(1, "other", "nhân viên hơi chậm", "06385", "Đăng ký khai sinh")]
    await chat.say("citizen", CODE)
    await chat.choose("citizen", "Đánh giá")
    await chat.choose("citizen", "Không hài lòng")
    [more] = await chat.say("citizen", "thái độ")  # a reason's name typed
    assert more.text.startswith("Ông/Bà có góp ý thêm không?")
    [thanks] = await chat.say("citizen", "Không")  # no comment: nothing stored as one
    assert thanks.text.startswith("Phục Vụ cảm ơn Ông/Bà đã đánh giá.")
    assert await ratings(chat) == [(1, "attitude", "", "06385", "Đăng ký khai sinh")]
    [centre] = await chat.say("citizen", "Hữu Lũng")  # nothing awaited any more
    assert centre.text.startswith("🏢")


async def test_a_forged_rating_learns_nothing_of_a_dossier_not_returned(chat: Chat) -> None:
    services = chat.services
    await services.dossiers.apply([dossier_row(status=9)], "import:test.csv", services.clock())
    if isinstance(chat, TelegramChat):  # forged choices: the same answer as for no dossier at all
        [asked] = await chat.press("citizen", f"rate:{KEY}")
        [rated] = await chat.press("citizen", f"rate:{KEY}:3")
        [nothing] = await chat.press("citizen", "rate:0000037H372508049999:3")
        assert asked.text == rated.text == nothing.text == STALE
    assert await ratings(chat) == []


async def test_a_comment_is_not_awaited_for_ever(chat: Chat) -> None:
    services = chat.services
    await services.dossiers.apply([dossier_row(status=10)], "import:test.csv", services.clock())
    await chat.say("citizen", CODE)
    await chat.choose("citizen", "Đánh giá")
    await chat.choose("citizen", "Không hài lòng")
    await chat.choose("citizen", "Số lần đi lại")
    await chat.lapse()
    [centre] = await chat.say("citizen", "Hữu Lũng")  # a quarter of an hour later: read afresh
    assert centre.text.startswith("🏢")
    assert await ratings(chat) == [(1, "trips", "", "06385", "Đăng ký khai sinh")]
