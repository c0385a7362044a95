"""The reply-keyboard menu: its labels in every language, and the keyboard for one person."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram import KeyboardButton, ReplyKeyboardMarkup, Update
from telegram.ext import filters

from bot.i18n import LANGUAGES, N_, Translator, translator
from bot.roles import Role

DOSSIER = N_("📄 Tra cứu hồ sơ")
FOLLOWING = N_("⭐ Hồ sơ theo dõi")
CENTRE = N_("🏢 Tìm trung tâm")
LOCATION = N_("📍 Gửi vị trí của tôi")
HELP = N_("❓ Trợ giúp")
LANGUAGE = N_("🌐 English")
# The officials' row, and the leaders' and admins'.
REPORT = N_("📝 Báo cáo khó khăn")
COMMUNE_REPORTS = N_("📋 Báo cáo của xã")
OPEN_REPORTS = N_("📋 Báo cáo đang mở")
DIGEST = N_("📊 Tóm tắt hôm nay")
LABELS = (DOSSIER, FOLLOWING, CENTRE, LOCATION, HELP, LANGUAGE, REPORT, COMMUNE_REPORTS, OPEN_REPORTS, DIGEST)


def keyboard(t: Translator, role: Role = Role.CITIZEN) -> ReplyKeyboardMarkup:
    """The main menu in the person's language, with a row for their role."""
    rows = [
        [KeyboardButton(t.gettext(DOSSIER)), KeyboardButton(t.gettext(FOLLOWING))],
        [KeyboardButton(t.gettext(CENTRE)), KeyboardButton(t.gettext(LOCATION), request_location=True)],
        [KeyboardButton(t.gettext(HELP)), KeyboardButton(t.gettext(LANGUAGE))],
    ]
    if role is Role.OFFICIAL:
        rows.insert(0, [KeyboardButton(t.gettext(REPORT)), KeyboardButton(t.gettext(COMMUNE_REPORTS))])
    elif role in (Role.LEADER, Role.ADMIN):
        rows.insert(0, [KeyboardButton(t.gettext(DIGEST)), KeyboardButton(t.gettext(OPEN_REPORTS))])
    return ReplyKeyboardMarkup(rows, resize_keyboard=True, is_persistent=True)


def _texts(*labels: str) -> list[str]:
    return sorted({translator(language).gettext(label) for label in labels for language in LANGUAGES})


def pressed(*labels: str) -> filters.BaseFilter:
    """A filter for a new message whose text is one of these menu labels in any language."""
    return filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE & filters.Text(_texts(*labels))


def any_label() -> filters.BaseFilter:
    """A message that is a menu button (in any language): a step of a conversation must not take it as input."""
    return filters.Text(_texts(*LABELS))


def asks(prompt: Callable[[Translator], str]) -> Callable[[Update, Any], Coroutine[Any, Any, None]]:
    """A handler for a menu button that only asks for what to type next (in the person's language)."""

    async def ask(update: Update, context: Any) -> None:
        from handlers.context import incoming

        came = await incoming(update, context)
        if came is not None and update.effective_message is not None:
            await update.effective_message.reply_text(prompt(came.t))

    return ask
