"""Whatever a person sends gets a sensible, polite answer, never a traceback nor a stuck bot: the same scenarios on
Telegram, Zalo and the console."""

import logging

import pytest

from bot.roles import Role
from handlers.chat import FAILED, STALE, UNRECOGNISED
from tests.channels import Chat, Msg, TelegramChat

GREETING = "Kính chào Ông/Bà! Phục Vụ là trợ lý tự động của các Trung tâm Phục vụ hành chính công tỉnh Lạng Sơn."
THANKS = "Phục Vụ rất vui được giúp."
READY = "Phục Vụ sẵn sàng giúp."


async def still_answers(chat: Chat, who: str = "citizen") -> None:
    [card] = await chat.say(who, "Quý Hoà")
    assert card.text.startswith("🏢 Trung tâm Phục vụ hành chính công xã Quý Hòa")


def polite(msg: Msg, opening: str) -> None:
    """A short answer that opens with `opening`, with the main menu, and no centre's card."""
    assert msg.text.startswith(opening), msg.text
    assert msg.menu and "Tra cứu hồ sơ" in msg.menu[0]
    assert "🏢" not in msg.text and "Không tìm thấy" not in msg.text


async def test_greetings_thanks_and_small_talk_get_a_short_answer_with_the_menu(chat: Chat) -> None:
    for text in ("xin chào", "Chào em", "alo", "hi", "Hello!", "xin chào ạ", "dạ chào", "em chào anh chị"):
        [reply] = await chat.say("citizen", text)
        polite(reply, GREETING)
    for text in ("cảm ơn", "Cảm ơn nhiều ạ!", "thanks", "dạ em cảm ơn", "ok cảm ơn"):
        [reply] = await chat.say("citizen", text)
        polite(reply, THANKS)
    for text in ("dạ", "ok", "Vâng ạ", "👍", "😀🙏🏽🇻🇳", "ok rồi"):
        [reply] = await chat.say("citizen", text)
        polite(reply, READY)
    [sticker] = await chat.sticker("citizen")
    polite(sticker, READY)
    await still_answers(chat)


async def test_a_role_holder_is_answered_as_đồng_chí(chat: Chat) -> None:
    await chat.give("leader", Role.LEADER)
    [reply] = await chat.say("leader", "chào em")
    assert reply.text.startswith("Kính chào đồng chí!") and "Tóm tắt hôm nay" in reply.menu[0]


async def test_a_4096_character_message(chat: Chat) -> None:
    replies = await chat.say("citizen", "Hữu Lũng " + "a" * 4087)
    assert replies and all(len(reply.text) <= 4096 for reply in replies)
    await still_answers(chat)


async def test_control_and_zero_width_characters_are_ignored(chat: Chat) -> None:
    [card] = await chat.say("citizen", "Quý\x00\x07 Hoà\u200b\x1b")
    assert card.text.startswith("🏢 Trung tâm Phục vụ hành chính công xã Quý Hòa")


async def test_an_unknown_command_names_what_can_be_sent(chat: Chat) -> None:
    [reply] = await chat.say("citizen", "/xoa_het")
    assert reply.text == UNRECOGNISED
    await still_answers(chat)


FORGED = ("ct:c:99999", "zz:rm -rf", "ct", ":", "commune:99999", "old:abc", "follow:", "pin:abc", "revoke:1:1", "rp:x")


async def test_a_forged_or_stale_choice_is_answered_politely(chat: Chat) -> None:
    if isinstance(chat, TelegramChat):  # a button's data is whatever a client sends
        for data in FORGED:
            [reply] = await chat.press("citizen", data)
            assert reply.text == STALE
    else:  # on text channels, a number that the last menu does not hold
        await chat.say("citizen", "/start")
        [reply] = await chat.say("citizen", "42")
        assert reply.text == "Số 42 không có trong danh sách. Nhắn 0 để xem menu."
    await still_answers(chat)


async def test_an_error_is_logged_and_answered_with_an_apology(chat: Chat, caplog: pytest.LogCaptureFixture) -> None:
    db = chat.services.db
    await db.conn.execute("ALTER TABLE centres RENAME TO centres_away")  # a real failure, not a mock
    with caplog.at_level(logging.ERROR, logger="handlers.router"):
        [reply] = await chat.say("citizen", "Quý Hoà")
    assert reply.text == FAILED
    assert "no such table: centres" in caplog.text
    await db.conn.execute("ALTER TABLE centres_away RENAME TO centres")
    await still_answers(chat)


@pytest.mark.parametrize("text", ["²", "1²", "٣"])
async def test_digits_of_other_scripts_are_no_menu_number(chat: Chat, text: str) -> None:
    [answer] = await chat.say("citizen", text)
    assert answer.text != FAILED


async def test_a_code_asked_for_is_not_awaited_for_ever(chat: Chat) -> None:
    await chat.say("citizen", "/hoso")
    await chat.lapse()
    [centre] = await chat.say("citizen", "Hữu Lũng")  # a quarter of an hour later: read afresh
    assert centre.text.startswith("🏢")


async def test_an_english_greeting_is_told_how_to_read_english(chat: Chat) -> None:
    [hello] = await chat.say("citizen", "Hello")
    assert hello.text.startswith(GREETING + "\nFor English, send «English».")
    [vietnamese] = await chat.say("citizen", "Xin chào")
    assert vietnamese.text.split("\n")[0] == GREETING and "For English" not in vietnamese.text
    [english] = await chat.say("citizen", "English")
    assert english.text.startswith("Switched to English.")


@pytest.mark.parametrize(
    "text",
    [
        "/hoso " + "1" * 5000,
        "/moi canbo " + "Hữu " * 1000,
        "/tomtat " + "x" * 4000,
        "/xembaocao " + "y" * 4000,
        "/moi canbo Hữu\ud800Lũng",  # a lone surrogate cannot be sent back: never echoed, never a crash
        "\ud800 xã Hữu Lũng",
        "/hoso 000.00.37.H37-250804-0012\udfff",
    ],
)
async def test_a_huge_input_is_never_echoed_whole(chat: Chat, text: str) -> None:
    await chat.give("citizen", Role.ADMIN)  # the admin's commands too
    answers = await chat.say("citizen", text)
    assert answers and all(len(answer.text) < 1000 for answer in answers)
    assert all(answer.text.encode() for answer in answers)  # every answer is sendable UTF-8
