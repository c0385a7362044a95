"""The Telegram notifier: renders outbox messages in the person's language and sends them; the outbox jobs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.app import Ctx
from bot.dossiers import from_sql_time
from bot.i18n import Translator, translator
from bot.outbox import Delivery, Notifier, Outcome, OutgoingMessage
from bot.reports import CATEGORIES, STATE_NAMES, State, report_number
from bot.roles import Role
from bot.telegram_http import NEVER_LEFT
from handlers import menu
from handlers.dossiers import status_name
from handlers.people import ROLE_NAMES

log = logging.getLogger(__name__)


def render_status(payload: dict[str, Any], t: Translator, tz: Any) -> str:
    """A followed dossier changed status."""
    previous = payload.get("previous")
    text = t.gettext("🔔 Hồ sơ {code} chuyển sang: {status}.").format(
        code=payload["code"], status=status_name(int(payload["status"]), t)
    )
    if previous:
        text += "\n" + t.gettext("Trạng thái trước: {status}.").format(status=status_name(int(previous), t))
    return text


def render_overdue(payload: dict[str, Any], t: Translator, tz: Any) -> str:
    """A followed dossier passed its appointment date unfinished."""
    due = from_sql_time(payload["due_at"]).astimezone(tz)
    return t.gettext("⏰ Hồ sơ {code} đã quá ngày hẹn trả ({date}) mà chưa có kết quả.").format(
        code=payload["code"], date=t.day(due)
    )


def render_blocking(payload: dict[str, Any], t: Translator, tz: Any) -> str:
    """Urgent, to every leader: a commune's centre cannot serve people."""
    category = CATEGORIES.get(str(payload.get("category")), CATEGORIES["other"])
    return t.gettext("🚨 {number} — {commune}: dừng phục vụ người dân ({category}).\n{description}").format(
        number=report_number(int(payload["report_id"])),
        commune=payload.get("commune", ""),
        category=t.gettext(category.name),
        description=payload.get("description", ""),
    )


def render_moved(payload: dict[str, Any], t: Translator, tz: Any) -> str:
    """To the commune's officials: their report moved on."""
    state = STATE_NAMES.get(State(str(payload["state"])), STATE_NAMES[State.IN_PROGRESS])
    number = report_number(int(payload["report_id"]))
    note = payload.get("note")
    if payload.get("moved") is False and note:  # a note on a report whose state did not change
        return t.gettext("📋 Ghi chú mới về báo cáo {number} ({state}): {note}").format(
            number=number, state=t.gettext(state), note=note
        )
    text = t.gettext("📋 Báo cáo {number} chuyển sang: {state}.").format(number=number, state=t.gettext(state))
    return text + ("\n" + t.gettext("Ghi chú: {note}").format(note=note) if note else "")


def render_revoked(payload: dict[str, Any], t: Translator, tz: Any) -> str:
    """To a person whose role was taken away (sent with the citizens' keyboard)."""
    name = ROLE_NAMES.get(Role(str(payload.get("role"))), ROLE_NAMES[Role.OFFICIAL])
    role = t.gettext(name).format(commune=payload.get("commune") or "")
    text = t.gettext("Vai trò {role} của bạn đã được thu hồi. Bạn vẫn tra cứu hồ sơ và tìm trung tâm như mọi người.")
    return text.format(role=role)


def render_digest_text(payload: dict[str, Any], t: Translator, tz: Any) -> str:
    """A part of a digest, written when it was queued."""
    return str(payload["text"])


def render_unreachable(payload: dict[str, Any], t: Translator, tz: Any) -> str:
    """To the admins: someone holding a role blocked the bot."""
    name = ROLE_NAMES.get(Role(str(payload.get("role"))), ROLE_NAMES[Role.OFFICIAL])
    role = t.gettext(name).format(commune=payload.get("commune") or "")
    text = t.gettext(
        "⚠️ Không gửi được tin cho {role} ({channel} {id}): người này đã chặn bot. Tóm tắt và thông báo "
        "sẽ không đến họ cho tới khi họ mở lại bot."
    )
    return text.format(role=role, channel=payload.get("channel"), id=payload.get("external_id"))


RENDERERS: dict[str, Callable[[dict[str, Any], Translator, Any], str]] = {
    "dossier_status": render_status,
    "dossier_overdue": render_overdue,
    "report_blocking": render_blocking,
    "report_moved": render_moved,
    "role_revoked": render_revoked,
    "digest_text": render_digest_text,
    "person_unreachable": render_unreachable,
}
# Messages that change what the person may do carry the keyboard of what they may do now.
WITH_KEYBOARD = frozenset({"role_revoked"})


Charts = Callable[[str, str, str], Awaitable[bytes | None]]


class TelegramNotifier:
    """Sends outbox messages with the Bot API (also the console channel, whose Bot API is in-process); `charts`
    gives a digest's chart (kind, day, language)."""

    def __init__(self, bot: Bot, channel: str, tz: Any, charts: Charts | None = None) -> None:
        self.bot = bot
        self.channel = channel
        self.tz = tz
        self.charts = charts

    async def _send(self, message: OutgoingMessage) -> bool:
        """Send one message; False if there is nothing that can be sent for it."""
        chat, t = int(message.person.external_id), translator(message.language)
        if message.kind == "digest_chart":
            payload = message.payload
            png = await self.charts(payload["kind"], payload["day"], payload["language"]) if self.charts else None
            if png is None:
                return False
            await self.bot.send_photo(chat, png, caption=str(payload.get("caption", ""))[:1024])
            return True
        render = RENDERERS.get(message.kind)
        if render is None:
            return False
        markup = menu.keyboard(t) if message.kind in WITH_KEYBOARD else None
        await self.bot.send_message(chat, render(message.payload, t, self.tz), reply_markup=markup)
        return True

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        """Render in the person's language and send; map Telegram's answers to outcomes."""
        try:
            if not await self._send(message):
                return Delivery(Outcome.GONE, error=f"nothing to send for {message.kind}")
        except RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            return Delivery(Outcome.RETRY, seconds, f"429 retry after {seconds}s")
        except Forbidden as exc:
            return Delivery(Outcome.GONE, error=f"403 {exc.message}", blocked=True)
        except BadRequest as exc:
            return Delivery(Outcome.GONE, error=f"400 {exc.message}")
        except TimedOut as exc:
            if isinstance(exc.__cause__, NEVER_LEFT):  # the request never left
                return Delivery(Outcome.RETRY, error=f"not sent: {exc.message}")
            return Delivery(Outcome.UNCERTAIN, error=f"timeout {exc.message}")
        except NetworkError as exc:
            cause = exc.__cause__
            if cause is None or isinstance(cause, NEVER_LEFT):  # 5xx (Telegram answered), or never connected
                return Delivery(Outcome.RETRY, error=f"network {exc.message}")
            return Delivery(Outcome.UNCERTAIN, error=f"network {exc.message}")  # the request may have arrived
        return Delivery(Outcome.SENT)


async def drain_outbox(context: Ctx) -> None:
    """Job: send what the outbox holds, on Telegram (or the console) and on Zalo when it is served."""
    services, data = context.bot_data.services, context.bot_data
    notifiers: list[Notifier] = []
    if data.telegram:
        tz = services.settings.timezone
        notifiers.append(TelegramNotifier(context.bot, services.channel, tz, services.digest.chart_png))
    if data.zalo is not None:
        notifiers.append(data.zalo.notifier)
    # Every channel's urgent messages (alerts, digests) first, then every channel's backlog.
    for urgent_only, notifier in [(True, n) for n in notifiers] + [(False, n) for n in notifiers]:
        report = await services.outbox.drain(notifier, urgent_only=urgent_only)
        if report.sent or report.retried or report.failed or report.uncertain:
            log.info("outbox (%s): %s", notifier.channel, report)


async def queue_overdue(context: Ctx) -> None:
    """Job: queue the messages for followed dossiers that passed their appointment date."""
    services = context.bot_data.services
    if await services.dossiers.enqueue_overdue(services.clock()):
        await drain_outbox(context)
