"""What the outbox sends, as replies for every channel: each kind of message rendered in the person's language."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.dossiers import from_sql_time
from bot.i18n import N_, Translator
from bot.outbox import CHANNEL_REFUSED, OutgoingMessage
from bot.ratings import RETURNED
from bot.reports import CATEGORIES, STATE_NAMES, State, report_number
from bot.roles import Role
from handlers.chat import Reply, place
from handlers.dossiers import OVERDUE_STEP, next_step, status_name
from handlers.people import ROLE_NAMES
from handlers.ratings import question


def _centre(payload: dict[str, Any], t: Translator) -> str:
    """The centre a follow-up sends the citizen to: the commune's, named (where to call is in its lookup)."""
    commune = str(payload.get("commune") or "")
    if not commune:
        return t.gettext("Trung tâm Phục vụ hành chính công nơi Ông/Bà nộp hồ sơ")
    return t.gettext("Trung tâm Phục vụ hành chính công {commune}").format(commune=place(commune, t))


def _dossier(payload: dict[str, Any]) -> str:
    """`000.00.37.H37-250804-0012 (Đăng ký khai sinh)`, or the code alone for a message queued without it."""
    procedure = payload.get("procedure")
    return f"{payload['code']} ({procedure})" if procedure else str(payload["code"])


def render_status(payload: dict[str, Any], t: Translator, tz: Any) -> Reply:
    """A followed dossier changed status: the new status, and what to do now, as its lookup says."""
    status = int(payload["status"])
    text = t.gettext("🔔 Hồ sơ {code} chuyển sang: {status}.").format(
        code=_dossier(payload), status=status_name(status, t)
    )
    previous = payload.get("previous")
    if previous:
        text += "\n" + t.gettext("Trạng thái trước: {status}.").format(status=status_name(int(previous), t))
    note, fee = payload.get("note"), payload.get("fee")
    text += "\n" + next_step(status, None, _centre(payload, t), t, str(note) if note else None, int(fee or 0))
    if status == RETURNED:  # the result is in the citizen's hands: ask how it went, once
        asked = question(str(payload["code"]), t)
        return Reply(text + "\n\n" + asked.text, asked.options)
    return Reply(text)


def render_overdue(payload: dict[str, Any], t: Translator, tz: Any) -> Reply:
    """A followed dossier passed its appointment date unfinished: what the centre owes, and where to ask."""
    due = from_sql_time(payload["due_at"]).astimezone(tz)
    text = t.gettext("⏰ Hồ sơ {code} đã quá ngày hẹn trả ({date}) mà chưa có kết quả.")
    text = text.format(code=_dossier(payload), date=t.day(due))
    return Reply(text + "\n" + t.gettext(OVERDUE_STEP).format(centre=_centre(payload, t)))


def render_blocking(payload: dict[str, Any], t: Translator, tz: Any) -> Reply:
    """Urgent, to every leader: a commune's centre cannot serve people."""
    category = CATEGORIES.get(str(payload.get("category")), CATEGORIES["other"])
    text = t.gettext("🚨 {number} — {commune}: dừng phục vụ người dân ({category}).\n{description}")
    return Reply(
        text.format(
            number=report_number(int(payload["report_id"])),
            commune=place(str(payload.get("commune", "")), t),
            category=t.gettext(category.name),
            description=payload.get("description", ""),
        )
    )


def render_moved(payload: dict[str, Any], t: Translator, tz: Any) -> Reply:
    """To the commune's officials: their report moved on, or a note on it."""
    state = STATE_NAMES.get(State(str(payload["state"])), STATE_NAMES[State.IN_PROGRESS])
    number = report_number(int(payload["report_id"]))
    note = payload.get("note")
    if payload.get("moved") is False and note:  # a note on a report whose state did not change
        text = t.gettext("📋 Ghi chú mới về báo cáo {number} ({state}): {note}")
        return Reply(text.format(number=number, state=t.gettext(state), note=note))
    text = t.gettext("📋 Báo cáo {number} chuyển sang: {state}.").format(number=number, state=t.gettext(state))
    closed_with_reason = str(payload["state"]) in (State.CANNOT_FIX, State.DUPLICATE)
    label = N_("Lý do: {note}") if closed_with_reason else N_("Ghi chú: {note}")
    return Reply(text + ("\n" + t.gettext(label).format(note=note) if note else ""))


def render_revoked(payload: dict[str, Any], t: Translator, tz: Any) -> Reply:
    """To a person whose role was taken away, with the citizens' menu."""
    name = ROLE_NAMES.get(Role(str(payload.get("role"))), ROLE_NAMES[Role.OFFICIAL])
    role = t.gettext(name).format(commune=place(str(payload.get("commune") or ""), t))
    text = t.gettext(
        "Quyền {role} của đồng chí đã được thu hồi. Đồng chí vẫn tra cứu hồ sơ và tìm trung tâm như mọi người."
    )
    return Reply(text.format(role=role), menu=Role.CITIZEN)


def render_digest_text(payload: dict[str, Any], t: Translator, tz: Any) -> Reply:
    """A part of a digest, written when it was queued."""
    return Reply(str(payload["text"]))


def render_unreachable(payload: dict[str, Any], t: Translator, tz: Any) -> Reply:
    """To the admins: someone holding a role blocked the bot."""
    name = ROLE_NAMES.get(Role(str(payload.get("role"))), ROLE_NAMES[Role.OFFICIAL])
    role = t.gettext(name).format(commune=place(str(payload.get("commune") or ""), t))
    text = t.gettext(
        "⚠️ Không gửi được tin cho {role} ({channel} {id}): người này đã chặn bot. Tóm tắt và thông báo "
        "sẽ không đến họ cho tới khi họ mở lại bot."
    )
    return Reply(text.format(role=role, channel=payload.get("channel"), id=payload.get("external_id")))


def render_morning(payload: dict[str, Any], t: Translator, tz: Any) -> Reply:
    """To an official who asked for it: their commune's overdue dossiers this working morning."""
    text = t.gettext(
        "⏰ Sáng nay {commune} có {overdue} hồ sơ quá hạn và {soon} hồ sơ đến hạn trong 2 ngày làm việc. "
        "Xem danh sách: /hosoxa"
    )
    return Reply(
        text.format(
            commune=place(str(payload.get("commune") or ""), t),
            overdue=t.number(int(payload.get("overdue") or 0)),
            soon=t.number(int(payload.get("soon") or 0)),
        )
    )


TOKENS = {"telegram": ("Telegram", "TELEGRAM_BOT_TOKEN"), "zalo": ("Zalo", "ZALO_BOT_TOKEN")}


def render_refused(payload: dict[str, Any], t: Translator, tz: Any) -> Reply:
    """To the admins on other channels: a channel refused the bot's token (or, for ZNS, something only an admin
    can fix), and its messages are held."""
    channel = str(payload.get("channel", ""))
    if channel == "zns":
        text = t.gettext(
            "⚠️ Zalo từ chối gửi tin ZNS đến điện thoại người nộp hồ sơ: {error}. Các tin đang được giữ lại, chưa mất "
            "tin nào, và sẽ đi khi Zalo chấp nhận. Đồng chí kiểm tra tài khoản ZNS (mẫu tin, số dư) và các biến "
            "ZALO_ZNS_* (ZALO_ZNS_REFRESH_TOKEN khi Zalo từ chối mã làm mới) rồi khởi động lại bot."
        )
        return Reply(text.format(error=str(payload.get("error", ""))[:200]))
    name, variable = TOKENS.get(channel, (channel, "token"))
    text = t.gettext(
        "⚠️ {channel} từ chối mã truy cập (token) của bot. Mọi tin nhắn gửi qua {channel} đang được giữ lại, "
        "chưa mất tin nào, và sẽ đi khi mã được chấp nhận. Đồng chí kiểm tra {variable} rồi khởi động lại bot."
    )
    return Reply(text.format(channel=name, variable=variable))


@dataclass(frozen=True)
class Template:
    """A template message (ZNS): the template's name in ZALO_ZNS_TEMPLATES and its parameters."""

    name: str
    data: dict[str, str]


# The parameters each template is registered with at Zalo (README, "ZNS"); a value is cut at PARAM_LIMIT.
TEMPLATE_PARAMS = {
    "received": ("ma_ho_so", "ten_thu_tuc", "ngay_hen_tra", "noi_nop"),
    "supplement": ("ma_ho_so", "ten_thu_tuc", "trang_thai", "viec_can_lam", "noi_nop"),
    "ready": ("ma_ho_so", "ten_thu_tuc", "noi_nop"),
    "overdue": ("ma_ho_so", "ten_thu_tuc", "ngay_hen_tra", "noi_nop"),
}
PARAM_LIMIT = 100


def _short(text: str) -> str:
    return text if len(text) <= PARAM_LIMIT else text[: PARAM_LIMIT - 1].rstrip() + "…"


def render_template(payload: dict[str, Any], t: Translator, tz: Any) -> Template:
    """A ZNS message's parameters: the code, the procedure, the appointment date, what to do, where; never the
    applicant's name or phone."""
    name = str(payload.get("template", ""))
    status = int(payload.get("status") or 0)
    due = payload.get("due_at")
    note, fee = payload.get("note"), int(payload.get("fee") or 0)
    if status == 6:
        todo = (
            t.gettext("Nộp {amount} đồng phí, lệ phí").format(amount=t.number(fee))
            if fee
            else t.gettext("Nộp phí, lệ phí theo thông báo của trung tâm")
        )
    else:
        todo = str(note) if note else t.gettext("Bổ sung giấy tờ theo hướng dẫn của trung tâm")
    values = {
        "ma_ho_so": str(payload.get("code", "")),
        "ten_thu_tuc": str(payload.get("procedure") or ""),
        "ngay_hen_tra": from_sql_time(str(due)).astimezone(tz).strftime("%d/%m/%Y") if due else t.gettext("chưa hẹn"),
        "trang_thai": status_name(status, t),
        "viec_can_lam": todo,
        "noi_nop": _centre(payload, t),
    }
    return Template(name, {key: _short(values[key]) for key in TEMPLATE_PARAMS.get(name, ())})


RENDERERS: dict[str, Callable[[dict[str, Any], Translator, Any], Reply]] = {
    "dossier_status": render_status,
    "dossier_overdue": render_overdue,
    "report_blocking": render_blocking,
    "report_moved": render_moved,
    "role_revoked": render_revoked,
    "digest_text": render_digest_text,
    "person_unreachable": render_unreachable,
    CHANNEL_REFUSED: render_refused,
    "commune_morning": render_morning,
}
CHART = "digest_chart"  # a digest's chart: each channel sends the picture as it can (bytes, or a link)


def render(message: OutgoingMessage, t: Translator, tz: Any) -> Reply | None:
    """The reply an outbox message stands for, or None for a kind no renderer knows (the chart is the channel's)."""
    renderer = RENDERERS.get(message.kind)
    return renderer(message.payload, t, tz) if renderer else None
