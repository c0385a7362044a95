"""Anything no other handler took (unknown commands, stickers, forged buttons), and the error handler."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, MessageHandler

from bot.app import Ctx
from bot.i18n import translator
from bot.roles import Role
from handlers.context import PRIVATE, Incoming, incoming

log = logging.getLogger(__name__)


async def unrecognised(update: Update, context: Ctx) -> None:
    """A message we cannot use (unknown command, sticker, photo…): a short pointer to /help."""
    came = await incoming(update, context)
    if came is None or update.effective_message is None:
        return
    await update.effective_message.reply_text(
        came.t.gettext("Mình chưa hiểu tin nhắn này. Gõ tên xã, phường để tìm trung tâm, hoặc gõ /help.")
    )


async def stale_button(update: Update, context: Ctx) -> None:
    """A button whose data no feature knows: say so instead of leaving a spinner."""
    came = await incoming(update, context)
    if update.callback_query is not None and came is not None:
        await update.callback_query.answer(came.t.gettext("Nút này không còn dùng được. Hãy tìm lại."))


async def holding(update: Update, context: Ctx, *roles: Role) -> Incoming | None:
    """The sender, if they hold one of `roles`; else None after answering exactly as for an unknown command or
    a stale button, so that nothing tells them the privileged thing exists."""
    came = await incoming(update, context)
    if came is None:
        return None
    if (await came.services.roles.access(came.person)).is_one_of(*roles):
        return came
    if update.callback_query is not None:
        await stale_button(update, context)
    else:
        await unrecognised(update, context)
    return None


async def on_error(update: object, context: Ctx) -> None:
    """Log the failure with the update, and tell the person something useful."""
    log.error("error while handling update %s", getattr(update, "update_id", None), exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    language = "vi"
    try:
        came = await incoming(update, context)
        language = came.t.language if came else language
    except Exception:
        log.warning("could not read the language for the error reply", exc_info=True)
    text = translator(language).gettext("Xin lỗi, đã có lỗi khi xử lý yêu cầu của bạn. Vui lòng thử lại sau.")
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text)  # or the button keeps spinning
        else:
            await context.bot.send_message(update.effective_chat.id, text)
    except Exception:
        log.warning("could not send the error reply", exc_info=True)


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """The fallbacks, last in routing order; edited messages fall through to silence."""
    return [
        MessageHandler(PRIVATE, unrecognised),
        CallbackQueryHandler(stale_button),
    ]
