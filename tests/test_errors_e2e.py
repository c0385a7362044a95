"""End to end: bad input gets a sensible answer or silence, never a traceback and never a stuck bot."""

import logging

import pytest

from bot.app import App
from tests.fakebotapi import FakeBotAPI

USER = 7001


async def assert_still_answers(api: FakeBotAPI) -> None:
    [reply] = await api.say(USER, "Quý Hoà")
    assert reply.text is not None and "Xã Quý Hòa" in reply.text


async def test_a_4096_character_message(bot: App, api: FakeBotAPI) -> None:
    [reply] = await api.say(USER, "Hữu Lũng " + "a" * 4087)
    assert reply.text is not None and len(reply.text) <= 4096
    await assert_still_answers(api)


async def test_emoji_only_asks_for_a_name(bot: App, api: FakeBotAPI) -> None:
    [reply] = await api.say(USER, "😀🙏🏽🇻🇳")
    assert reply.text is not None and reply.text.startswith("Gõ tên xã, phường")


async def test_control_characters_are_ignored(bot: App, api: FakeBotAPI) -> None:
    [reply] = await api.say(USER, "Quý\x00\x07 Hoà\u200b\x1b")
    assert reply.text is not None and "Xã Quý Hòa" in reply.text


async def test_a_location_at_zero_zero(bot: App, api: FakeBotAPI) -> None:
    [reply] = await api.converse({"message": api.make_message(USER, location={"latitude": 0, "longitude": 0})})
    assert reply.text is not None and "ngoài tỉnh" in reply.text


async def test_a_sticker_gets_a_short_pointer_to_help(bot: App, api: FakeBotAPI) -> None:
    update = api.push_sticker(USER)
    [reply] = await api.wait_sent(USER)
    assert update["message"]["sticker"]
    assert reply.text is not None and "/help" in reply.text


async def test_an_unknown_command_gets_a_short_pointer_to_help(bot: App, api: FakeBotAPI) -> None:
    [reply] = await api.say(USER, "/xoa_het")
    assert reply.text is not None and "/help" in reply.text


async def test_an_edited_message_is_ignored(bot: App, api: FakeBotAPI) -> None:
    since = api.mark()
    api.push_edited_text(USER, "Quý Hoà")
    await assert_still_answers(api)
    assert len(api.sent(USER, since=since)) == 1


@pytest.mark.parametrize("data", ["ct:c:99999", "ct:c:", "ct:o:abc", "ct:o:99999999", "ct:v:01001", "zz:rm -rf", "ct"])
async def test_forged_callback_data_is_answered_politely(bot: App, api: FakeBotAPI, data: str) -> None:
    since = api.mark()
    await api.click(USER, data, expect=0, settle=0.2)
    answers = api.called("answerCallbackQuery", since=since)
    assert len(answers) == 1
    assert "không còn dùng được" in answers[0].params.get("text", "")
    assert api.sent(USER, since=since) == []
    await assert_still_answers(api)


async def test_an_error_is_logged_and_answered_politely(
    bot: App, api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    db = bot.bot_data.services.db
    await db.conn.execute("ALTER TABLE centres RENAME TO centres_away")  # a real failure, not a mock
    with caplog.at_level(logging.ERROR, logger="handlers.errors"):
        [reply] = await api.say(USER, "Quý Hoà")
    assert reply.text == "Xin lỗi, đã có lỗi khi xử lý yêu cầu của bạn. Vui lòng thử lại sau."
    assert "no such table: centres" in caplog.text
    await db.conn.execute("ALTER TABLE centres_away RENAME TO centres")
    await assert_still_answers(api)


async def test_plain_text_in_a_group_is_left_alone(bot: App, api: FakeBotAPI) -> None:
    group = {"id": -100123, "type": "group", "title": "Thôn Đồng Ngầu"}
    since = api.mark()
    await api.converse({"message": api.make_message(USER, text="Quý Hoà", chat=group)}, expect=0, settle=0.3)
    assert api.sent(since=since) == []
    await assert_still_answers(api)
