"""Dossier lookups and follows: `/hoso`, any text with a code, the menu buttons, `/theodoi`, `ds:` buttons."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.app import Ctx
from bot.commands import DOSSIER, FOLLOW
from bot.dossiers import (
    CODE_IN_TEXT,
    MAX_FOLLOWS,
    STATUS_NAMES,
    Followed,
    LookupResult,
    Standing,
    Timeliness,
    code_key,
    find_code,
)
from bot.i18n import Translator
from handlers import menu
from handlers.context import PRIVATE, Incoming, command_args, incoming

PREFIX = "ds:"
EXAMPLE = "000.00.37.H37-250804-0012"


def status_name(status: int, t: Translator) -> str:
    """A national status code in words."""
    return t.gettext(STATUS_NAMES.get(status, STATUS_NAMES[4]))


def render_standing(standing: Standing, t: Translator) -> str:
    """On time, late, overdue or days left, in words."""
    days = standing.days
    if standing.timeliness is Timeliness.ON_TIME:
        return t.gettext("✅ Đúng hạn")
    if standing.timeliness is Timeliness.LATE:
        return t.ngettext("⚠️ Trễ hạn {days} ngày", "⚠️ Trễ hạn {days} ngày", days).format(days=days)
    if standing.timeliness is Timeliness.OVERDUE:
        return t.ngettext("⏰ Quá hạn {days} ngày", "⏰ Quá hạn {days} ngày", days).format(days=days)
    if standing.timeliness is Timeliness.PENDING:
        if days == 0:
            return t.gettext("⏳ Hôm nay là ngày hẹn trả")
        return t.ngettext("⏳ Còn {days} ngày đến hạn", "⏳ Còn {days} ngày đến hạn", days).format(days=days)
    return t.gettext("Không có ngày hẹn trả")


def when(moment: datetime, came: Incoming, with_time: bool = False) -> str:
    """A moment in the province's time zone, in the person's language."""
    local = moment.astimezone(came.services.settings.timezone)
    return came.t.moment(local) if with_time else came.t.day(local)


def render_lookup(result: LookupResult, came: Incoming) -> str:
    """The lookup answer: no applicant name, no phone number."""
    t, dossier = came.t, result.dossier
    assert dossier is not None
    assert result.standing is not None
    lines = [
        t.gettext("📄 Hồ sơ {code}").format(code=dossier.code),
        t.gettext("Thủ tục: {name}").format(name=dossier.procedure_name),
        t.gettext("Nơi tiếp nhận: {commune}").format(commune=result.commune_name),
        t.gettext("Ngày tiếp nhận: {date}").format(date=when(dossier.received_at, came)),
    ]
    if dossier.due_at is not None:
        lines.append(t.gettext("Ngày hẹn trả: {date}").format(date=when(dossier.due_at, came)))
    lines.append(t.gettext("Trạng thái: {status}").format(status=status_name(dossier.status, t)))
    lines.append(render_standing(result.standing, t))
    if result.history:
        lines.append(t.gettext("Các bước gần nhất:"))
        lines.extend(f"• {when(step.at, came, True)} — {status_name(step.status, t)}" for step in result.history)
    return "\n".join(lines)


def follow_markup(result: LookupResult, t: Translator) -> InlineKeyboardMarkup:
    """The follow or unfollow button under a lookup (data carries the code, never a guessable id)."""
    assert result.dossier is not None
    key = code_key(result.dossier.code)
    if result.following:
        button = InlineKeyboardButton(t.gettext("🔕 Bỏ theo dõi"), callback_data=f"{PREFIX}u:{key}")
    else:
        button = InlineKeyboardButton(t.gettext("⭐ Theo dõi"), callback_data=f"{PREFIX}f:{key}")
    return InlineKeyboardMarkup([[button]])


def ask_text(t: Translator) -> str:
    """Where to find the code and what it looks like."""
    return t.gettext("Gõ mã hồ sơ in trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả, ví dụ: {example}").format(
        example=EXAMPLE
    )


def limited_text(wait_until: datetime, now: datetime, t: Translator) -> str:
    """Too many lookups: when to try again."""
    minutes = max(1, math.ceil((wait_until - now).total_seconds() / 60))
    return t.ngettext(
        "Bạn đã tra cứu nhiều lần liên tiếp. Vui lòng thử lại sau {minutes} phút.",
        "Bạn đã tra cứu nhiều lần liên tiếp. Vui lòng thử lại sau {minutes} phút.",
        minutes,
    ).format(minutes=minutes)


def not_found_text(code: str, t: Translator) -> str:
    """An unknown code: where the code is printed and what it looks like."""
    return t.gettext(
        "Không tìm thấy hồ sơ {code}. Mã hồ sơ in trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả, "
        "thường có dạng {example}. Hãy kiểm tra lại từng ký tự."
    ).format(code=code, example=EXAMPLE)


async def answer_lookup(message: Message, came: Incoming, code: str) -> None:
    """Look a code up and reply."""
    result = await came.services.dossiers.lookup(came.person, code, came.services.clock())
    if result.wait_until is not None:
        await message.reply_text(limited_text(result.wait_until, came.services.clock(), came.t))
    elif result.dossier is None:
        await message.reply_text(not_found_text(result.code, came.t))
    else:
        await message.reply_text(render_lookup(result, came), reply_markup=follow_markup(result, came.t))


async def dossier_command(update: Update, context: Ctx) -> None:
    """`/hoso CODE`: look it up; without a code, say where to find it."""
    came = await incoming(update, context)
    if came is None or update.effective_message is None:
        return
    text = command_args(context)
    code = find_code(text) or (text if len(code_key(text)) >= 6 else None)
    if code is None:
        await update.effective_message.reply_text(ask_text(came.t))
        return
    await answer_lookup(update.effective_message, came, code)


async def dossier_text(update: Update, context: Ctx) -> None:
    """Any text with a dossier code in it."""
    came = await incoming(update, context)
    code = find_code(came.text) if came else None
    if came is None or code is None or update.effective_message is None:
        return
    await answer_lookup(update.effective_message, came, code)


def render_followed(items: list[Followed], t: Translator) -> str:
    """The list of followed dossiers."""
    if not items:
        return t.gettext(
            "Bạn chưa theo dõi hồ sơ nào. Tra cứu một hồ sơ rồi bấm «⭐ Theo dõi» để được báo khi hồ sơ thay đổi."
        )
    lines = [
        t.gettext("Bạn đang theo dõi {count}/{limit} hồ sơ:").format(count=len(items), limit=MAX_FOLLOWS),
    ]
    for item in items:
        state = f"{status_name(item.dossier.status, t)}, {render_standing(item.standing, t)}"
        lines.append(f"• {item.dossier.code} — {state}")
    return "\n".join(lines)


async def following_command(update: Update, context: Ctx) -> None:
    """`/theodoi` and the menu button: the followed dossiers, each with a button to stop."""
    came = await incoming(update, context)
    if came is None or update.effective_message is None:
        return
    items = await came.services.dossiers.followed(came.person, came.services.clock())
    label = came.t.gettext("🔕 Bỏ {code}")
    buttons = [
        [
            InlineKeyboardButton(
                label.format(code=item.dossier.code), callback_data=f"{PREFIX}u:{code_key(item.dossier.code)}"
            )
        ]
        for item in items
    ]
    markup = InlineKeyboardMarkup(buttons) if buttons else None
    await update.effective_message.reply_text(render_followed(items, came.t), reply_markup=markup)


async def follow_button(update: Update, context: Ctx) -> None:
    """`ds:f:KEY` follows, `ds:u:KEY` stops; anything else is stale or forged."""
    query = update.callback_query
    came = await incoming(update, context)
    if query is None or came is None:
        return
    action, _, key = (query.data or "").removeprefix(PREFIX).partition(":")
    service, now, t = came.services.dossiers, came.services.clock(), came.t
    answers: dict[str, Any] = {
        "followed": t.gettext("Đã theo dõi. Bạn sẽ được báo khi hồ sơ thay đổi trạng thái."),
        "already": t.gettext("Bạn đã theo dõi hồ sơ này."),
        "full": t.gettext("Bạn đã theo dõi {limit} hồ sơ. Hãy bỏ bớt bằng /theodoi.").format(limit=MAX_FOLLOWS),
        "missing": t.gettext("Nút này không còn dùng được. Hãy tìm lại."),
        "limited": t.gettext("Bạn đã tra cứu nhiều lần liên tiếp. Vui lòng thử lại sau."),
    }
    if action == "f" and key.isalnum():
        outcome = await service.follow(came.person, key, now)
        await query.answer(answers[outcome], show_alert=outcome in ("full", "limited"))
    elif action == "u" and key.isalnum():
        stopped = await service.unfollow(came.person, key)
        await query.answer(t.gettext("Đã bỏ theo dõi.") if stopped else answers["missing"])
    else:
        await query.answer(answers["missing"])


def code_handler() -> MessageHandler:  # type: ignore[type-arg]
    """Any text with a dossier code in it (first in its group: see `handlers.all_handlers`)."""
    return MessageHandler(PRIVATE & filters.TEXT & ~filters.COMMAND & filters.Regex(CODE_IN_TEXT), dossier_text)


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """This feature's handlers, in order; text with a code comes before the centre search."""
    return [
        CommandHandler(DOSSIER.names, dossier_command, filters=PRIVATE),
        CommandHandler(FOLLOW.names, following_command, filters=PRIVATE),
        MessageHandler(menu.pressed(menu.DOSSIER), menu.asks(ask_text)),
        MessageHandler(menu.pressed(menu.FOLLOWING), following_command),
        CallbackQueryHandler(follow_button, pattern=f"^{PREFIX}"),
    ]
