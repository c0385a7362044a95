"""`/tomtat` (`/digest`): a leader (or admin) reads today's digest now, or one commune's; a leader pauses, resumes or
moves their own morning digest. And the jobs that queue the scheduled digests (PTB's JobQueue)."""

from __future__ import annotations

import logging
from datetime import time
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, JobQueue, MessageHandler

from bot.app import Ctx, Services
from bot.commands import DIGEST
from bot.config import parse_time_of_day
from bot.digest import DAILY
from bot.roles import Role
from bot.text import fold
from handlers import menu
from handlers.context import PRIVATE, Incoming, command_args
from handlers.errors import holding
from handlers.outbox import drain_outbox

log = logging.getLogger(__name__)

PAUSE = ("tamdung", "tam dung", "pause", "stop")
RESUME = ("tieptuc", "tiep tuc", "resume", "start")
AT = ("gio", "time", "luc")


async def digest(update: Update, context: Ctx) -> None:
    """`/tomtat`, `/tomtat Hữu Lũng`, `/tomtat tamdung|tieptuc`, `/tomtat gio 06:30`."""
    came = await holding(update, context, Role.LEADER, Role.ADMIN)
    if came is None or update.effective_message is None:
        return
    words = command_args(context)
    key = fold(words)
    first = key.partition(" ")[0]
    rest = words.partition(" ")[2].strip()  # as typed: folding would take the colon of 06:30
    if key in PAUSE or key in RESUME or first in AT:
        await change(update, context, came, key, first, rest)
        return
    services, t = came.services, came.t
    code = None
    if key:
        code, _ = services.centres.commune_code(words)
        if code is None:
            text = t.gettext(
                "Không xác định được xã, phường «{text}». Gõ tên hoặc mã, ví dụ: /tomtat Hữu Lũng hoặc /tomtat 06385."
            )
            await update.effective_message.reply_text(text.format(text=words))
            return
    now = services.clock()
    built = await services.digest.build(now.astimezone(services.settings.timezone).date(), DAILY, code, now)
    for part in services.digest.render(built, t):
        await update.effective_message.reply_text(part)
    png = await services.digest.chart(built, t)
    await update.effective_message.reply_photo(png, caption=services.digest.caption(built, t))


async def change(update: Update, context: Ctx, came: Incoming, key: str, first: str, rest: str) -> None:
    """Pause, resume or move the leader's own digest."""
    assert update.effective_message is not None
    services, t = came.services, came.t
    access = await services.roles.access(came.person)
    if access.role is not Role.LEADER:
        await update.effective_message.reply_text(t.gettext("Chỉ lãnh đạo tỉnh nhận tóm tắt hằng ngày."))
        return
    at: time | None = None
    if first in AT:
        try:
            at = parse_time_of_day(rest)
        except ValueError:
            await update.effective_message.reply_text(t.gettext("Giờ viết như 06:30 (từ 00:00 đến 23:59)."))
            return
    paused = True if key in PAUSE else False if key in RESUME else None
    at, paused = await services.digest.change(came.person, access, services.clock(), paused=paused, at=at)
    if context.job_queue is not None:
        await schedule_digests(context.job_queue, services)
        context.job_queue.run_once(send_digests, 0)  # a time moved before now, or a resume after it: today's now
    when = at.strftime("%H:%M")
    if paused:
        text = t.gettext("Đã tạm dừng tóm tắt hằng ngày. Gõ /tomtat tieptuc để nhận lại.")
    else:
        text = t.gettext("Bạn sẽ nhận tóm tắt lúc {time} mỗi sáng (thứ Hai có thêm tóm tắt tuần).").format(time=when)
    await update.effective_message.reply_text(text)


async def send_digests(context: Ctx) -> None:
    """Job: queue the digests due by now (today's only) and send them."""
    services = context.bot_data.services
    queued = await services.digest.queue_due(services.clock())
    if queued:
        log.info("digest: %s queued", queued)
        await drain_outbox(context)


async def schedule_digests(jobs: JobQueue[Any], services: Services) -> None:
    """One daily job per time some leader's digest is due (fixed names, replaced on every call, so a restart
    or a moved time never leaves a second job); the time is in PHUCVU_TIMEZONE (a naive time would be UTC)."""
    for job in jobs.jobs():
        if job.name and job.name.startswith("digest@"):
            job.schedule_removal()
    for at in sorted(await services.digest.times()):
        moment = at.replace(tzinfo=services.settings.timezone)
        jobs.run_daily(send_digests, moment, name=f"digest@{at.strftime('%H:%M')}")


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """This feature's handlers."""
    return [
        CommandHandler(DIGEST.names, digest, filters=PRIVATE),
        MessageHandler(menu.pressed(menu.DIGEST), digest),
    ]
