"""Greeting, help and language: the same scenarios on Telegram, Zalo and the console."""

import pytest

from bot.config import Settings
from bot.i18n import translator
from bot.roles import Role
from bot.textmenu import plain
from handlers.menu import DOSSIER, LANGUAGE
from tests.channels import CHANNELS, Chat, chat_on, from_menu

GREETING = "Kính chào Ông/Bà! Phục Vụ là trợ lý tự động của các Trung tâm Phục vụ hành chính công tỉnh Lạng Sơn."
MENU = [
    "Tra cứu hồ sơ",
    "Hồ sơ theo dõi",
    "Tìm trung tâm",
    "Gửi vị trí của tôi",
    "Thủ tục hành chính",
    "Hướng dẫn",
    "English",
]
EN = translator("en")


def menu_on(chat: Chat, labels: list[str]) -> list[str]:
    """The menu as the channel shows it: sharing a location is a Telegram button only."""
    return labels if chat.channel == "telegram" else [label for label in labels if label != "Gửi vị trí của tôi"]


async def test_start_greets_a_citizen_with_the_menu(chat: Chat) -> None:
    [greeted] = await chat.say("citizen", "/start")
    assert greeted.text.startswith(GREETING + "\n\nPhục Vụ giúp:")
    assert "/trungtam — " in greeted.text and "/baocao" not in greeted.text and "/moi" not in greeted.text
    assert [plain(label) for label in greeted.menu] == menu_on(chat, MENU)


async def test_a_role_holder_is_greeted_as_đồng_chí_with_the_menu_of_the_role(chat: Chat) -> None:
    await chat.give("official", Role.OFFICIAL, "06385")
    [greeted] = await chat.say("official", "/start")
    assert greeted.text.startswith("Kính chào đồng chí! Phục Vụ là trợ lý tự động")
    assert "/baocao — " in greeted.text and "Ông/Bà" not in greeted.text
    assert [plain(label) for label in greeted.menu][:2] == ["Báo cáo khó khăn", "Báo cáo của xã"]


async def test_help_by_command_by_menu_and_by_word(chat: Chat) -> None:
    [by_command] = await chat.say("citizen", "/help")
    assert by_command.text.startswith("Phục Vụ giúp:\n• Tra cứu hồ sơ: nhắn mã hồ sơ in trên Giấy tiếp nhận")
    assert by_command.menu
    [by_menu] = await from_menu(chat, "citizen", "Hướng dẫn")
    [by_word] = await chat.say("citizen", "hướng dẫn")
    [in_english] = await chat.say("citizen", "help")
    assert by_command.text == by_menu.text == by_word.text == in_english.text


@pytest.mark.parametrize("channel", CHANNELS)
async def test_the_language_is_remembered_across_a_restart(channel: str, settings: Settings) -> None:
    english_menu = plain(EN.gettext(DOSSIER))
    async with chat_on(channel, settings) as chat:
        [switched] = await chat.say("citizen", "/lang")
        assert switched.text.startswith(EN.gettext("Đã chuyển sang tiếng Việt."))
        assert english_menu in switched.menu[0] and plain(EN.gettext(LANGUAGE)) in switched.menu[-1]
        [other] = await chat.say("other", "/help")
        assert other.text.startswith("Phục Vụ giúp:") and "Tra cứu hồ sơ" in other.menu[0]
    async with chat_on(channel, settings) as chat:
        [helped] = await chat.say("citizen", "/help")
        assert helped.text.startswith(EN.gettext("Phục Vụ giúp:")) and english_menu in helped.menu[0]
        [back] = await from_menu(chat, "citizen", plain(EN.gettext(LANGUAGE)))
        assert back.text.startswith("Đã chuyển sang tiếng Việt.") and "Tra cứu hồ sơ" in back.menu[0]
        [english] = await chat.say("citizen", "/lang en")
        assert english_menu in english.menu[0]
        [still] = await chat.say("citizen", "/lang en")  # named: not a switch back
        assert english_menu in still.menu[0]
        for _ in range(2):
            [vietnamese] = await chat.say("citizen", "/lang tiếng Việt")
            assert "Tra cứu hồ sơ" in vietnamese.menu[0]
