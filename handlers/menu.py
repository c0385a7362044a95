"""The reply-keyboard menu: its labels in every language, and the keyboard for one person."""

from __future__ import annotations

from telegram import KeyboardButton, ReplyKeyboardMarkup
from telegram.ext import filters

from bot.i18n import LANGUAGES, N_, Translator, translator

DOSSIER = N_("📄 Tra cứu hồ sơ")
FOLLOWING = N_("⭐ Hồ sơ theo dõi")
CENTRE = N_("🏢 Tìm trung tâm")
LOCATION = N_("📍 Gửi vị trí của tôi")
HELP = N_("❓ Trợ giúp")
LANGUAGE = N_("🌐 English")


def keyboard(t: Translator) -> ReplyKeyboardMarkup:
    """The main menu in the person's language."""
    return ReplyKeyboardMarkup(
        [
            [KeyboardButton(t.gettext(DOSSIER)), KeyboardButton(t.gettext(FOLLOWING))],
            [KeyboardButton(t.gettext(CENTRE)), KeyboardButton(t.gettext(LOCATION), request_location=True)],
            [KeyboardButton(t.gettext(HELP)), KeyboardButton(t.gettext(LANGUAGE))],
        ],
        resize_keyboard=True,
        is_persistent=True,
    )


def pressed(label: str) -> filters.BaseFilter:
    """A filter for a new message whose text is this menu label in any language."""
    texts = sorted({translator(language).gettext(label) for language in LANGUAGES})
    return filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE & filters.Text(texts)
