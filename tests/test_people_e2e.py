"""End to end: /start, /help, /lang, the menu, and the commands registered with Telegram."""

from bot.app import App, build_application
from bot.commands import COMMANDS
from bot.config import Settings
from tests.conftest import bot_settings, keyboard_texts
from tests.fakebotapi import FakeBotAPI, running

USER = 6001


async def test_start_greets_in_vietnamese_with_the_menu(bot: App, api: FakeBotAPI) -> None:
    [reply] = await api.say(USER, "/start", language_code="en")
    assert reply.text is not None
    assert reply.text.startswith("Xin chào! Mình là Phục Vụ")
    assert "/trungtam" in reply.text
    assert keyboard_texts(reply.reply_markup) == [
        "📄 Tra cứu hồ sơ",
        "⭐ Hồ sơ theo dõi",
        "🏢 Tìm trung tâm",
        "📍 Gửi vị trí của tôi",
        "❓ Trợ giúp",
        "🌐 English",
    ]
    assert reply.reply_markup is not None
    assert reply.reply_markup["keyboard"][1][1].get("request_location") is True


async def test_help_by_command_and_button(bot: App, api: FakeBotAPI) -> None:
    [by_command] = await api.say(USER, "/help")
    [by_button] = await api.say(USER, "❓ Trợ giúp")
    assert by_command.text == by_button.text
    assert by_command.text is not None and "Phục Vụ giúp bạn:" in by_command.text


async def test_commands_are_registered_in_both_languages(bot: App, api: FakeBotAPI) -> None:
    calls = api.called("setMyCommands")
    by_language = {call.params.get("language_code"): call.params["commands"] for call in calls}
    assert set(by_language) == {None, "vi", "en"}
    assert [c["command"] for c in by_language["vi"]] == [c.name for c in COMMANDS]
    assert [c["command"] for c in by_language["en"]] == [c.alias for c in COMMANDS]
    assert by_language[None] == by_language["vi"]
    english = {c["command"]: c["description"] for c in by_language["en"]}
    assert english["centre"].startswith("Find")
    assert english["dossier"] == "Look up a dossier by its code"


async def test_language_switch_is_remembered_across_a_restart(settings: Settings, api: FakeBotAPI) -> None:
    async with running(build_application(bot_settings(settings, api))):
        [reply] = await api.say(USER, "/lang")
        assert reply.text == "Switched to English."
        assert "🌐 Tiếng Việt" in keyboard_texts(reply.reply_markup)
        [reply] = await api.say(USER, "Quý Hoà")
        assert reply.text is not None and "Public administrative service centre of Xã Quý Hòa" in reply.text
        [other] = await api.say(USER + 1, "Quý Hoà")
        assert other.text is not None and "Trung tâm phục vụ hành chính công" in other.text
    async with running(build_application(bot_settings(settings, api))):
        [reply] = await api.say(USER, "/help")
        assert reply.text is not None and reply.text.startswith("Phục Vụ helps you:")
        [reply] = await api.say(USER, "🌐 Tiếng Việt")
        assert reply.text == "Đã chuyển sang Tiếng Việt."
        [reply] = await api.say(USER, "/lang en")
        assert reply.text == "Switched to English."
        [reply] = await api.say(USER, "/lang en")
        assert reply.text == "Switched to English."
