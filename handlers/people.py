"""/start, /help, /lang and the menu buttons that reach them."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, MessageHandler

from bot.app import Ctx, show_commands
from bot.commands import HELP, LANG, START, commands_for
from bot.i18n import N_, Translator, translator
from bot.roles import INVITE_CODE, Role
from handlers import menu
from handlers.context import PRIVATE, Incoming, incoming


def help_text(t: Translator, role: Role = Role.CITIZEN) -> str:
    """What the bot does and the commands of the person's role, in their language."""
    lines = [
        t.gettext("Phục Vụ giúp bạn:"),
        t.gettext(
            "• Tìm trung tâm phục vụ hành chính công: gõ tên xã, phường (ví dụ: Hữu Lũng), "
            "hoặc địa chỉ cũ trước năm 2025 (ví dụ: xã Đồng Tân, huyện Hữu Lũng)."
        ),
        t.gettext("• Bấm «{button}» để tìm các trung tâm gần bạn nhất.").format(button=t.gettext(menu.LOCATION)),
        "",
        t.gettext("Các lệnh:"),
    ]
    for command in commands_for(role):
        name = command.alias if t.language == "en" else command.name
        lines.append(f"/{name} — {t.gettext(command.description)}")
    return "\n".join(lines)


ROLE_NAMES = {Role.OFFICIAL: N_("cán bộ {commune}"), Role.LEADER: N_("lãnh đạo tỉnh")}
REFUSALS = {
    "used": N_("Mã mời này đã được dùng. Mỗi mã chỉ dùng được một lần; xin quản trị viên một mã mới."),
    "expired": N_("Mã mời này đã hết hạn. Xin quản trị viên một mã mới."),
    "revoked": N_("Mã mời này đã bị thu hồi. Xin quản trị viên một mã mới."),
    "unknown": N_("Mã mời không đúng. Hãy mở lại đường dẫn quản trị viên gửi, hoặc xin một mã mới."),
    "yours": N_("Bạn đã nhận vai trò của mã mời này rồi."),
}


async def start(update: Update, context: Ctx) -> None:
    """Greet the person and show the menu; `/start <code>` (an invite's deep link) redeems the invite."""
    came = await incoming(update, context)
    if came is None or update.effective_message is None:
        return
    # Unblocking the bot in Telegram shows a Start button: whoever was unreachable is reachable again.
    await came.services.people.reachable_again(came.person)
    if context.args and INVITE_CODE.fullmatch(context.args[0]):
        await redeem(update, context, came, context.args[0])
        return
    greeting = came.t.gettext(
        "Xin chào! Mình là Phục Vụ, trợ lý của các trung tâm phục vụ hành chính công tỉnh {province}."
    )
    role = await role_of(came)
    if role is not Role.CITIZEN:
        await show_commands(context.bot, came.services, came.person, role)  # the menu may have changed
    text = greeting.format(province=came.services.centres.directory.province.name) + "\n\n" + help_text(came.t, role)
    await update.effective_message.reply_text(text, reply_markup=menu.keyboard(came.t, role))


async def role_of(came: Incoming) -> Role:
    """The sender's role, read afresh."""
    return (await came.services.roles.access(came.person)).role


async def redeem(update: Update, context: Ctx, came: Incoming, code: str) -> None:
    """Use an invite code and say what it gave, or why it gave nothing."""
    assert update.effective_message is not None
    result = await came.services.roles.redeem(came.person, code, came.services.clock())
    t = came.t
    if result.role is None:
        await update.effective_message.reply_text(t.gettext(REFUSALS.get(result.outcome, REFUSALS["unknown"])))
        return
    text = granted_text(came, result.role, result.commune_code)
    await show_commands(context.bot, came.services, came.person, result.role)
    await update.effective_message.reply_text(
        text + "\n\n" + help_text(t, result.role), reply_markup=menu.keyboard(t, result.role)
    )


def granted_text(came: Incoming, role: Role, commune_code: str | None) -> str:
    """The welcome to a role just given by an invite."""
    commune = came.services.centres.commune(commune_code or "")
    name = came.t.gettext(ROLE_NAMES[role]).format(commune=commune.name if commune else "")
    return came.t.gettext("Bạn đã nhận vai trò {role}. Chào mừng!").format(role=name)


async def show_help(update: Update, context: Ctx) -> None:
    """Explain what the bot does."""
    came = await incoming(update, context)
    if came is None or update.effective_message is None:
        return
    role = await role_of(came)
    await update.effective_message.reply_text(help_text(came.t, role), reply_markup=menu.keyboard(came.t, role))


async def switch_language(update: Update, context: Ctx) -> None:
    """Toggle vi ↔ en (or set the one named: `/lang en`) and remember it."""
    came = await incoming(update, context)
    if came is None or update.effective_message is None:
        return
    wanted = (context.args or [""])[0].lower()[:2]
    people, now = came.services.people, came.services.clock()
    if wanted in ("vi", "en"):
        language = await people.set_language(came.person, wanted, now)
    else:
        language = await people.toggle_language(came.person, now)
    t, role = translator(language), await role_of(came)
    if role is not Role.CITIZEN:
        await show_commands(context.bot, came.services, came.person, role)
    text = t.gettext("Đã chuyển sang Tiếng Việt.")
    await update.effective_message.reply_text(text, reply_markup=menu.keyboard(t, role))


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """This feature's handlers, in order."""
    return [
        CommandHandler(START.names, start, filters=PRIVATE),
        CommandHandler(HELP.names, show_help, filters=PRIVATE),
        CommandHandler(LANG.names, switch_language, filters=PRIVATE),
        MessageHandler(menu.pressed(menu.HELP), show_help),
        MessageHandler(menu.pressed(menu.LANGUAGE), switch_language),
    ]
