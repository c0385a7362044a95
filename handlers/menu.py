"""The reply-keyboard menu: its labels in every language, and the keyboard for one person."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram import KeyboardButton, ReplyKeyboardMarkup, Update
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


def asks(prompt: Callable[[Translator], str]) -> Callable[[Update, Any], Coroutine[Any, Any, None]]:
    """A handler for a menu button that only asks for what to type next (in the person's language)."""

    async def ask(update: Update, context: Any) -> None:
        from handlers.context import incoming

        came = await incoming(update, context)
        if came is not None and update.effective_message is not None:
            await update.effective_message.reply_text(prompt(came.t))

    return ask
