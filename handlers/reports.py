"""`/baocao`: an official writes a facility report step by step (category, severity, description, up to five
photos, location, confirmation); `/huy` stops. Every step is saved, so after a restart the next message goes on
where the official was. Buttons carry `bc:`; each checks the role and the step on the server."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.app import Ctx
from bot.commands import CANCEL, REPORT, REPORTS
from bot.i18n import Translator
from bot.people import Person
from bot.reports import (
    CATEGORIES,
    MAX_PHOTOS,
    SEVERITIES,
    STATE_NAMES,
    NotAllowed,
    Report,
    State,
    Step,
    Submitted,
    Writing,
    read_filter,
    report_number,
)
from bot.roles import Role
from handlers import menu
from handlers.context import PRIVATE, Incoming, command_args, incoming
from handlers.errors import holding, stale_button, unrecognised
from handlers.outbox import drain_outbox

PREFIX = "bc:"
# Runs before the dossier and centre handlers, and only for someone writing a report.
GROUP = -1
# Before that: a leader's reply to a message about a report.
NOTE_GROUP = -2


def _buttons(pairs: list[tuple[str, str]], per_row: int = 1) -> InlineKeyboardMarkup:
    buttons = [InlineKeyboardButton(label, callback_data=f"{PREFIX}{data}") for label, data in pairs]
    return InlineKeyboardMarkup([buttons[i : i + per_row] for i in range(0, len(buttons), per_row)])


async def ask(message: Message, came: Incoming, writing: Writing, duplicate: Report | None = None) -> None:
    """The question of the step the official is at."""
    t = came.t
    cancel = (t.gettext("✖️ Hủy"), "x")
    if writing.step is Step.CATEGORY:
        pairs = [(t.gettext(category.name), f"c:{key}") for key, category in CATEGORIES.items()]
        text = t.gettext("Báo cáo khó khăn của trung tâm. Vấn đề thuộc loại nào? (/huy để thôi)")
        await message.reply_text(text, reply_markup=_buttons([*pairs, cancel]))
    elif writing.step is Step.DUPLICATE and duplicate is not None:
        text = t.gettext("Xã đã có báo cáo {number} đang mở về «{category}». Thêm vào báo cáo đó?").format(
            number=duplicate.number, category=t.gettext(duplicate.category.name)
        )
        pairs = [
            (t.gettext("➕ Thêm vào {number}").format(number=duplicate.number), "d:add"),
            (t.gettext("🆕 Báo cáo mới"), "d:new"),
        ]
        await message.reply_text(text, reply_markup=_buttons([*pairs, cancel]))
    elif writing.step is Step.SEVERITY:
        pairs = [(t.gettext(name), f"s:{key}") for key, name in SEVERITIES.items()]
        await message.reply_text(t.gettext("Mức độ ảnh hưởng?"), reply_markup=_buttons([*pairs, cancel], 2))
    elif writing.step is Step.DESCRIPTION:
        await message.reply_text(t.gettext("Mô tả vấn đề trong một tin nhắn (đang thiếu gì, ảnh hưởng thế nào)."))
    elif writing.step is Step.PHOTOS:
        text = t.gettext("Gửi tối đa {count} ảnh, rồi bấm «Xong» (không có ảnh thì bấm ngay).").format(count=MAX_PHOTOS)
        await message.reply_text(text, reply_markup=_buttons([(t.gettext("✅ Xong"), "p:done"), cancel]))
    elif writing.step is Step.REOPEN:
        await message.reply_text(t_reopen(came).format(number=report_number(writing.add_to or 0)))
    elif writing.step is Step.LOCATION:
        text = t.gettext("Gửi vị trí của nơi có vấn đề (📎 → Vị trí), hoặc bấm «Bỏ qua».")
        await message.reply_text(text, reply_markup=_buttons([(t.gettext("⏭️ Bỏ qua"), "l:skip"), cancel]))
    else:
        await message.reply_text(summary(came, writing), reply_markup=_buttons([(t.gettext("📨 Gửi"), "ok"), cancel]))


def t_reopen(came: Incoming) -> str:
    """What to send to reopen a report."""
    return came.t.gettext(
        "Gửi một ảnh cho thấy {number} chưa được khắc phục, kèm ghi chú trong chú thích ảnh (/huy để thôi)."
    )


def summary(came: Incoming, writing: Writing) -> str:
    """What will be sent, for the confirmation."""
    t = came.t
    lines = [
        t.gettext("Kiểm tra trước khi gửi:"),
        t.gettext("Loại: {name}").format(name=t.gettext(CATEGORIES[writing.category].name)),
        t.gettext("Mức độ: {name}").format(name=t.gettext(SEVERITIES[writing.severity])),
        t.gettext("Mô tả: {text}").format(text=writing.description),
        t.gettext("Ảnh: {count}").format(count=len(writing.photos)),
        t.gettext("Vị trí: {where}").format(
            where=f"{writing.lat:.5f}, {writing.lon:.5f}" if writing.lat is not None else t.gettext("không có")
        ),
    ]
    if writing.add_to is not None:
        lines.append(t.gettext("Sẽ thêm vào báo cáo {number}.").format(number=report_number(writing.add_to)))
    return "\n".join(lines)


async def _official(update: Update, context: Ctx) -> Incoming | None:
    return await holding(update, context, Role.OFFICIAL)


async def start_report(update: Update, context: Ctx) -> None:
    """`/baocao`: begin (or begin again) a report. Leaders and admins are pointed to `/xembaocao` (reports are
    a commune's, filed by its officials)."""
    came = await incoming(update, context)
    if came is None or update.effective_message is None:
        return
    access = await came.services.roles.access(came.person)
    if access.is_one_of(Role.LEADER, Role.ADMIN):
        text = came.t.gettext(
            "Báo cáo khó khăn do cán bộ xã, phường gửi cho trung tâm của mình. "
            "Xem và xử lý các báo cáo đang mở bằng /{command}."
        )
        name = REPORTS.alias if came.t.language == "en" else REPORTS.name
        await update.effective_message.reply_text(text.format(command=name))
        return
    if access.role is not Role.OFFICIAL:
        await unrecognised(update, context)
        return
    writing = await came.services.reports.write(came.person, Writing(Step.CATEGORY), came.services.clock())
    await ask(update.effective_message, came, writing)


async def cancel(update: Update, context: Ctx) -> None:
    """`/huy`: drop the report being written."""
    came = await incoming(update, context)
    if came is None or update.effective_message is None:
        return
    stopped = await came.services.reports.stop_writing(came.person)
    t = came.t
    await update.effective_message.reply_text(
        t.gettext("Đã hủy báo cáo đang viết.") if stopped else t.gettext("Không có việc gì đang làm dở để hủy.")
    )


async def step_message(update: Update, context: Ctx) -> None:
    """Text, a photo or a location from someone writing a report: the answer to their step."""
    services, user = context.bot_data.services, update.effective_user
    if user is None or not services.reports.is_writing(Person(services.channel, str(user.id))):
        return  # everyone else's messages go on to the other handlers, at the cost of one look in memory
    came = await incoming(update, context)
    message = update.effective_message
    if came is None or message is None:
        return
    reports, now = came.services.reports, came.services.clock()
    writing = await reports.writing(came.person)
    if writing is None:
        return
    try:
        if writing.step is Step.DESCRIPTION and came.text:
            writing = await reports.write(came.person, _with(writing, Step.PHOTOS, description=came.text[:2000]), now)
        elif writing.step is Step.PHOTOS and message.photo:
            photos = (*writing.photos, message.photo[-1].file_id)
            step = Step.LOCATION if len(photos) >= MAX_PHOTOS else Step.PHOTOS
            writing = await reports.write(came.person, _with(writing, step, photos=photos), now)
            if step is Step.PHOTOS:
                text = came.t.gettext("Đã nhận {count}/{most} ảnh.").format(count=len(photos), most=MAX_PHOTOS)
                await message.reply_text(text, reply_markup=_buttons([(came.t.gettext("✅ Xong"), "p:done")]))
                raise ApplicationHandlerStop
        elif writing.step is Step.REOPEN and message.photo and writing.add_to is not None:
            report = await reports.reopen(came.person, writing.add_to, came.text, message.photo[-1].file_id, now)
            await reports.stop_writing(came.person)
            due = came.t.day(report.target_at.astimezone(came.services.settings.timezone))
            text = came.t.gettext("Đã mở lại {number}. Hạn khắc phục mới: {date}.")
            await message.reply_text(text.format(number=report.number, date=due))
            raise ApplicationHandlerStop
        elif writing.step is Step.LOCATION and message.location:
            lat, lon = message.location.latitude, message.location.longitude
            writing = await reports.write(came.person, _with(writing, Step.CONFIRM, lat=lat, lon=lon), now)
    except (NotAllowed, ValueError):  # the role was taken away, or the report moved, meanwhile
        await reports.stop_writing(came.person)
        await unrecognised(update, context)
        raise ApplicationHandlerStop from None
    duplicate = await reports.open_duplicate(came.person, writing.category) if writing.step is Step.DUPLICATE else None
    await ask(message, came, writing, duplicate)
    raise ApplicationHandlerStop


def _with(writing: Writing, step: Step, **changes: object) -> Writing:
    return replace(writing, step=step, **changes)  # type: ignore[arg-type]


async def button(update: Update, context: Ctx) -> None:
    """A `bc:` button: the choice of the step it belongs to, or a polite no."""
    query = update.callback_query
    came = await _official(update, context)
    if came is None or query is None or not isinstance(query.message, Message):
        return
    reports, now = came.services.reports, came.services.clock()
    writing = await reports.writing(came.person)
    data = (query.data or "").removeprefix(PREFIX)
    kind, _, value = data.partition(":")
    if kind == "r" and value.isascii() and value.isdigit() and len(value) <= 12:
        try:
            report = await reports.fixed_of_my_commune(came.person, int(value))
        except NotAllowed:
            await stale_button(update, context)
            return
        await reports.write(came.person, Writing(Step.REOPEN, add_to=report.id), now)
        await query.answer()
        text = t_reopen(came).format(number=report.number)
        await query.message.reply_text(text)
        return
    if writing is None:
        await stale_button(update, context)
        return
    if kind == "x":
        await reports.stop_writing(came.person)
        await query.answer(came.t.gettext("Đã hủy báo cáo đang viết."))
        return
    following: Writing | None = None
    duplicate: Report | None = None
    if kind == "c" and writing.step is Step.CATEGORY and value in CATEGORIES:
        duplicate = await reports.open_duplicate(came.person, value)
        step = Step.DUPLICATE if duplicate else Step.SEVERITY
        following = _with(writing, step, category=value, add_to=duplicate.id if duplicate else None)
    elif kind == "d" and writing.step is Step.DUPLICATE and value in ("add", "new"):
        following = _with(writing, Step.SEVERITY, add_to=writing.add_to if value == "add" else None)
    elif kind == "s" and writing.step is Step.SEVERITY and value in SEVERITIES:
        following = _with(writing, Step.DESCRIPTION, severity=value)
    elif data == "p:done" and writing.step is Step.PHOTOS:
        following = _with(writing, Step.LOCATION)
    elif data == "l:skip" and writing.step is Step.LOCATION:
        following = _with(writing, Step.CONFIRM)
    elif data == "ok" and writing.step is Step.CONFIRM:
        await query.answer()
        await send(update, came, writing, context)
        return
    if following is None:
        await stale_button(update, context)
        return
    await query.answer()
    await ask(query.message, came, await reports.write(came.person, following, now), duplicate)


async def send(update: Update, came: Incoming, writing: Writing, context: Ctx) -> None:
    """File the report (or add it to the open one) and say where it stands."""
    assert update.effective_message is not None
    reports, t = came.services.reports, came.t
    try:
        done = await reports.submit(came.person, writing.draft(), writing.add_to, came.services.clock())
    except NotAllowed:  # no longer an official
        await reports.stop_writing(came.person)
        await unrecognised(update, context)
        return
    await reports.stop_writing(came.person)
    if done.report.severity == "blocking" and context.job_queue is not None:
        context.job_queue.run_once(drain_outbox, 0)  # the leaders' alert goes now
    await update.effective_message.reply_text(submitted_text(done, t, came.services.settings.timezone))


def submitted_text(done: Submitted, t: Translator, tz: ZoneInfo) -> str:
    """Where a report sent from chat stands: added to the open one, or filed with its target date."""
    report, lines = done.report, []
    if done.added:
        lines.append(t.gettext("Đã thêm vào báo cáo {number}.").format(number=report.number))
    else:
        if done.meant_for is not None:
            closed = t.gettext("Báo cáo {number} đã được đóng trong lúc bạn viết, nên đây là một báo cáo mới.")
            lines.append(closed.format(number=report_number(done.meant_for)))
        due = t.day(report.target_at.astimezone(tz))
        lines.append(
            t.gettext("Đã gửi báo cáo {number}. Hạn khắc phục: {date}.").format(number=report.number, date=due)
        )
    return "\n".join(lines)


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """This feature's handlers (the step messages go in GROUP, ahead of everything else)."""
    return [
        CommandHandler(REPORT.names, start_report, filters=PRIVATE),
        CommandHandler(CANCEL.names, cancel, filters=PRIVATE),
        CommandHandler(REPORTS.names, list_reports, filters=PRIVATE),
        MessageHandler(menu.pressed(menu.REPORT), start_report),
        MessageHandler(menu.pressed(menu.COMMUNE_REPORTS, menu.OPEN_REPORTS), list_reports),
        CallbackQueryHandler(move_button, pattern=f"^{PREFIX}[vm]:"),
        CallbackQueryHandler(button, pattern=f"^{PREFIX}"),
    ]


NUMBER = re.compile(r"BC-(\d{6})")


async def note_reply(update: Update, context: Ctx) -> None:
    """A leader's reply to one of the bot's messages about a report: a note for the commune."""
    message = update.effective_message
    replied = message.reply_to_message if message else None
    mentioned = (
        set(NUMBER.findall(replied.text or "")) if replied and replied.from_user and replied.from_user.is_bot else set()
    )
    came = await incoming(update, context) if len(mentioned) == 1 else None  # a list names several: whose?
    if came is None or message is None:
        return
    access = await came.services.roles.access(came.person)
    if not access.is_one_of(Role.LEADER, Role.ADMIN):
        return  # a citizen's reply is theirs: the other handlers read it
    try:
        report = await came.services.reports.note(came.person, int(mentioned.pop()), came.text, came.services.clock())
    except (NotAllowed, ValueError):
        return
    await message.reply_text(came.t.gettext("Đã gửi ghi chú cho cán bộ xã về {number}.").format(number=report.number))
    raise ApplicationHandlerStop


def note_handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """The handler of NOTE_GROUP."""
    return [MessageHandler(PRIVATE & filters.REPLY & filters.TEXT & ~filters.COMMAND, note_reply)]


def step_handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """The handler of GROUP."""
    kinds = (filters.TEXT & ~filters.COMMAND & ~menu.any_label()) | filters.PHOTO | filters.LOCATION
    return [MessageHandler(PRIVATE & kinds, step_message)]


LIST_LIMIT = 30
MOVES = (State.RECEIVED, State.IN_PROGRESS, State.FIXED, State.CANNOT_FIX, State.DUPLICATE)


def report_line(report: Report, came: Incoming, now: datetime) -> str:
    """One report in a list."""
    t, tz = came.t, came.services.settings.timezone
    commune = came.services.centres.commune(report.commune_code)
    late = " ⏰" if report.past_target(now) else ""
    return t.gettext("{number} · {commune} · {category} · {state} · hạn {date}{late}").format(
        number=report.number,
        commune=commune.name if commune else report.commune_code,
        category=t.gettext(report.category.name),
        state=t.gettext(STATE_NAMES[report.state]),
        date=t.day(report.target_at.astimezone(tz)),
        late=late,
    )


async def list_reports(update: Update, context: Ctx) -> None:
    """`/xembaocao`: an official's commune's reports; every open one for leaders and admins, with a filter and a
    button per report to move it on."""
    came = await incoming(update, context)
    if came is None or update.effective_message is None:
        return
    services, t, now = came.services, came.t, came.services.clock()
    access = await services.roles.access(came.person)
    if access.role is Role.OFFICIAL:
        reports, more = await services.reports.of_my_commune(came.person)
        fixed = [report for report in reports if report.state is State.FIXED]
        label = t.gettext("↩️ {number} chưa khắc phục")
        pairs = [(label.format(number=report.number), f"r:{report.id}") for report in fixed]
        markup = _buttons(pairs) if pairs else None
    elif access.is_one_of(Role.LEADER, Role.ADMIN):
        wanted = read_filter(command_args(context), lambda text: services.centres.commune_code(text)[0])
        if wanted is None:
            text = t.gettext(
                "Không hiểu bộ lọc «{text}». Lọc theo: quahan (quá hạn), loại vấn đề (ví dụ: điện), "
                "hoặc tên hay mã của một xã, phường (ví dụ: Hữu Lũng, 06385)."
            )
            await update.effective_message.reply_text(text.format(text=command_args(context)))
            return
        found = await services.reports.open_reports(came.person, now, wanted)
        reports, more = found[:LIST_LIMIT], len(found) - LIST_LIMIT
        pairs = [(report.number, f"v:{report.id}") for report in reports]
        markup = _buttons(pairs, 3) if pairs else None
    else:
        await unrecognised(update, context)
        return
    if not reports:
        await update.effective_message.reply_text(t.gettext("Không có báo cáo nào."))
        return
    lines = [report_line(report, came, now) for report in reports]
    if more > 0 and access.role is Role.OFFICIAL:
        lines.append(t.gettext("… và {count} báo cáo cũ hơn.").format(count=more))
    elif more > 0:
        lines.append(t.gettext("… và {count} báo cáo nữa; lọc để xem (ví dụ: /xembaocao quahan).").format(count=more))
    await update.effective_message.reply_text("\n".join(lines), reply_markup=markup)


async def move_button(update: Update, context: Ctx) -> None:
    """`bc:v:<id>` shows a report with a button per state it may move to; `bc:m:<id>:<state>` moves it."""
    query = update.callback_query
    came = await incoming(update, context)
    if came is None or query is None or not isinstance(query.message, Message):
        return
    services, now, t = came.services, came.services.clock(), came.t
    parts = (query.data or "").removeprefix(PREFIX).split(":")
    try:
        if parts[0] == "v" and len(parts) == 2 and parts[1].isascii() and parts[1].isdigit() and len(parts[1]) <= 12:
            report = await services.reports.open_report(came.person, int(parts[1]))
        elif parts[0] == "m" and len(parts) == 3 and parts[1].isascii() and parts[1].isdigit() and len(parts[1]) <= 12:
            report = await services.reports.move(came.person, int(parts[1]), State(parts[2]), "", now)
            await query.answer(
                t.gettext("Đã chuyển {number} sang: {state}.").format(
                    number=report.number, state=t.gettext(STATE_NAMES[report.state])
                )
            )
            hint = t.gettext("Trả lời tin nhắn này để gửi ghi chú cho cán bộ xã.")
            await query.message.reply_text(report_line(report, came, now) + "\n" + hint)
            return
        else:
            raise NotAllowed
    except (NotAllowed, ValueError):
        await stale_button(update, context)
        return
    await query.answer()
    text = report_line(report, came, now) + "\n" + report.description
    pairs = [
        (t.gettext(STATE_NAMES[state]), f"m:{report.id}:{state.value}") for state in MOVES if state is not report.state
    ]
    await query.message.reply_text(text, reply_markup=_buttons(pairs, 2))
