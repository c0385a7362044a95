"""The digest on demand: a leader (or admin) reads today's, or one commune's; a leader pauses, resumes or moves their
own morning digest."""

from __future__ import annotations

from datetime import time

from bot.config import parse_time_of_day
from bot.digest import DAILY
from bot.i18n import N_
from bot.roles import Role
from bot.text import fold
from handlers.chat import Replies, Reply, Turn, echo

PAUSE = ("tamdung", "tam dung", "pause", "stop")
RESUME = ("tieptuc", "tiep tuc", "resume", "start")
AT = ("gio", "time", "luc")
UNCLEAR = N_("Không xác định được xã, phường «{text}». Nhắn tên hoặc mã, ví dụ: /tomtat Hữu Lũng hoặc /tomtat 06385.")
LEADERS_ONLY = N_("Chỉ lãnh đạo tỉnh nhận tóm tắt hằng ngày.")
BAD_TIME = N_("Giờ chưa đúng. Vui lòng viết dạng 06:30 (từ 00:00 đến 23:59).")
PAUSED = N_("Đã tạm dừng tóm tắt hằng ngày. Nhắn /tomtat tieptuc để nhận lại.")
AT_TIME = N_("Đồng chí sẽ nhận tóm tắt lúc {time} hằng ngày (thứ Hai có thêm tóm tắt tuần).")


async def digest(turn: Turn, value: str) -> Replies:
    """`/tomtat`, `/tomtat Hữu Lũng`, `/tomtat tamdung|tieptuc`, `/tomtat gio 06:30`."""
    words = value.strip()
    key = fold(words)
    first = key.partition(" ")[0]
    if key in PAUSE or key in RESUME or first in AT:
        rest = words.partition(" ")[2].strip()  # as typed: folding would take the colon of 06:30
        return await change(turn, key, first, rest)
    services, t = turn.services, turn.t
    code = None
    if key:
        code, _ = services.centres.commune_code(words)
        if code is None:
            return [turn.say(UNCLEAR, text=echo(words))]
    built = await services.digest.build(turn.now.astimezone(services.settings.timezone).date(), DAILY, code, turn.now)
    replies = [Reply(part) for part in services.digest.render(built, t)]
    if turn.pictures:  # a chart is drawn only where it can be shown
        replies.append(Reply(services.digest.caption(built, t), photo=await services.digest.chart(built, t)))
    return replies


async def change(turn: Turn, key: str, first: str, rest: str) -> Replies:
    """Pause, resume or move the leader's own digest."""
    access = await turn.access()
    if access.role is not Role.LEADER:
        return [turn.say(LEADERS_ONLY)]
    at: time | None = None
    if first in AT:
        try:
            at = parse_time_of_day(rest)
        except ValueError:
            return [turn.say(BAD_TIME)]
    paused = True if key in PAUSE else False if key in RESUME else None
    at, paused = await turn.services.digest.change(turn.person, access, turn.now, paused=paused, at=at)
    if turn.effects.reschedule is not None:
        await turn.effects.reschedule()  # a time moved before now, or a resume after it: today's now
    if paused:
        return [turn.say(PAUSED)]
    return [turn.say(AT_TIME, time=at.strftime("%H:%M"))]
