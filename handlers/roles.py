"""Admins in chat: `/moi` makes an invite, `/vaitro` lists who holds a role with a button to revoke it (`rl:`).

Every command and button here asks the roles service first: anyone who is not an admin gets exactly what an
unknown command or a stale button gets, so nothing tells them these exist."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.app import Ctx, show_commands
from bot.commands import INVITE, ROLES
from bot.roles import Holder, Role, actor, deep_link
from bot.text import fold
from handlers.context import PRIVATE, Incoming, command_args
from handlers.errors import holding
from handlers.outbox import drain_outbox
from handlers.people import ROLE_NAMES

PREFIX = "rl:"
# How the role may be written after /moi (folded: no diacritics, lower case).
ROLE_WORDS = ((Role.LEADER, ("lanhdao", "lanh dao", "leader")), (Role.OFFICIAL, ("canbo", "can bo", "official")))


async def _admin(update: Update, context: Ctx) -> Incoming | None:
    return await holding(update, context, Role.ADMIN)


def parse_invite(args: str) -> tuple[Role | None, str]:
    """`canbo Hữu Lũng` → (official, `Hữu Lũng`); `lãnh đạo` → (leader, ``); anything else → (None, ``)."""
    folded = fold(args)
    for role, words in ROLE_WORDS:
        for word in words:
            if folded == word or folded.startswith(word + " "):
                return role, " ".join(args.split(" ")[word.count(" ") + 1 :])
    return None, ""


def _role_text(holder: Holder, came: Incoming) -> str:
    commune = came.services.centres.commune(holder.commune_code or "")
    return came.t.gettext(ROLE_NAMES[holder.role]).format(commune=commune.name if commune else "")


async def invite(update: Update, context: Ctx) -> None:
    """`/moi canbo Hữu Lũng`, `/moi lanhdao`: a one-time code and its link."""
    came = await _admin(update, context)
    if came is None or update.effective_message is None:
        return
    t = came.t
    role, name = parse_invite(command_args(context))
    commune: str | None = None
    if role is None:
        await update.effective_message.reply_text(
            t.gettext("Tạo mã mời: /moi canbo TÊN_XÃ (cán bộ xã) hoặc /moi lanhdao (lãnh đạo tỉnh).")
        )
        return
    if role is Role.OFFICIAL:
        commune, problem = came.services.centres.commune_code(name) if name else (None, "")
        if commune is None:
            text = t.gettext("Cán bộ của xã, phường nào? Ví dụ: /moi canbo Hữu Lũng (hoặc mã xã: /moi canbo 06385).")
            await update.effective_message.reply_text(f"{problem}\n{text}".strip())
            return
    services = came.services
    made = await services.roles.invite(role, commune, actor(came.person), services.clock())
    place = services.centres.commune(commune or "")
    whom = t.gettext(ROLE_NAMES[role]).format(commune=place.name if place else "")
    expires = t.moment(made.expires_at.astimezone(services.settings.timezone))
    lines = [
        t.gettext("Mã mời {whom}, dùng một lần, hết hạn {expires}:").format(whom=whom, expires=expires),
        made.code,
        deep_link(context.bot.username, made.code),
        t.gettext("Gửi đường dẫn này riêng cho đúng người; ai mở nó trước sẽ nhận vai trò."),
    ]
    await update.effective_message.reply_text("\n".join(lines))


def roles_view(holders: list[Holder], came: Incoming) -> tuple[str, InlineKeyboardMarkup | None]:
    """The list of role holders and one revoke button each."""
    t = came.t
    if not holders:
        return t.gettext("Chưa ai nhận vai trò nào. Tạo mã mời bằng /moi."), None
    lines = [t.gettext("Những người đang giữ vai trò:")]
    buttons = []
    for number, holder in enumerate(holders, start=1):
        granted = t.day(holder.granted_at.astimezone(came.services.settings.timezone))
        lines.append(
            t.gettext("{number}. {role} — {channel} {id}, từ {date}").format(
                number=number,
                role=_role_text(holder, came),
                channel=holder.person.channel,
                id=holder.person.external_id,
                date=granted,
            )
        )
        label = t.gettext("Thu hồi #{number}").format(number=number)
        buttons.append(InlineKeyboardButton(label, callback_data=f"{PREFIX}r:{holder.person_id}:{holder.grant}"))
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def list_roles(update: Update, context: Ctx) -> None:
    """`/vaitro`: who holds which role."""
    came = await _admin(update, context)
    if came is None or update.effective_message is None:
        return
    text, markup = roles_view(await came.services.roles.holders(), came)
    await update.effective_message.reply_text(text, reply_markup=markup)


async def revoke(update: Update, context: Ctx) -> None:
    """`rl:r:<person id>:<invite id>`: take away the role that invite gave, then show the list again."""
    query = update.callback_query
    came = await _admin(update, context)
    if came is None or query is None:
        return
    numbers = (query.data or "").removeprefix(f"{PREFIX}r:").split(":")
    plain = len(numbers) == 2 and all(n.isascii() and n.isdigit() and len(n) <= 12 for n in numbers)
    services = came.services
    taken = None
    if plain:
        person_id, grant = (int(n) for n in numbers)
        taken = await services.roles.revoke(person_id, actor(came.person), services.clock(), grant)
    t = came.t
    if taken is None:
        await query.answer(t.gettext("Người này không còn giữ vai trò nào."))
    else:
        await query.answer(t.gettext("Đã thu hồi vai trò {role}.").format(role=_role_text(taken, came)))
        await show_commands(context.bot, services, taken.person, Role.CITIZEN)
        if context.job_queue is not None:
            context.job_queue.run_once(drain_outbox, 0)  # the person is told now
    text, markup = roles_view(await services.roles.holders(), came)
    if query.message is not None:
        await context.bot.edit_message_text(text, query.message.chat.id, query.message.message_id, reply_markup=markup)


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """This feature's handlers, in order."""
    return [
        CommandHandler(INVITE.names, invite, filters=PRIVATE),
        CommandHandler(ROLES.names, list_roles, filters=PRIVATE),
        CallbackQueryHandler(revoke, pattern=f"^{PREFIX}r:"),
    ]
