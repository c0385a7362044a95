"""Dossier lookups and follows: a code anywhere in a message, «Tra cứu hồ sơ» (the next message is the code),
the followed list, and following or not."""

from __future__ import annotations

import logging
import math
from datetime import datetime

from bot.dossiers import (
    MAX_FOLLOWS,
    STATUS_NAMES,
    Followed,
    LookupResult,
    Standing,
    Timeliness,
    code_key,
    typed_code,
)
from bot.i18n import N_, Translator
from bot.ratings import RETURNED
from bot.receipt import ImageRefused, code_in, read_codes
from bot.text import fold
from handlers.centres import contact_parts, fallback_text
from handlers.chat import Option, Replies, Reply, Turn, echo, place
from handlers.people import EXAMPLE
from handlers.ratings import rate_option

log = logging.getLogger(__name__)

AWAITING = "dossier"
ASK = N_("Vui lòng nhắn mã hồ sơ in trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả, ví dụ: {example}")
UNFOLLOWED = N_("Đã bỏ theo dõi.")
LIMITED = N_("Ông/Bà đã tra cứu nhiều lần liên tiếp. Vui lòng thử lại sau.")
NOT_FOLLOWED = N_("Hồ sơ này không có trong danh sách theo dõi.")


def status_name(status: int, t: Translator) -> str:
    """A national status code in words."""
    return t.gettext(STATUS_NAMES.get(status, STATUS_NAMES[4]))


def render_standing(standing: Standing, t: Translator) -> str:
    """Where the dossier stands against its appointment date, by the one rule, in words; empty where the rule has
    nothing to say (not received, withdrawn)."""
    days = standing.days
    kind = standing.timeliness
    if kind is Timeliness.EARLY:
        return t.ngettext("Hoàn thành trước hạn {days} ngày", "Hoàn thành trước hạn {days} ngày", days).format(
            days=days
        )
    if kind is Timeliness.ON_TIME:
        return t.gettext("Hoàn thành đúng hạn")
    if kind is Timeliness.LATE:
        return t.ngettext("Hoàn thành trễ hạn {days} ngày", "Hoàn thành trễ hạn {days} ngày", days).format(days=days)
    if kind is Timeliness.OVERDUE:
        return t.ngettext("Quá hạn {days} ngày", "Quá hạn {days} ngày", days).format(days=days)
    if kind is Timeliness.PENDING:
        if days == 0:
            return t.gettext("Hôm nay là ngày hẹn trả")
        return t.ngettext("Còn {days} ngày đến ngày hẹn trả", "Còn {days} ngày đến ngày hẹn trả", days).format(
            days=days
        )
    if kind is Timeliness.WAITING:
        return t.gettext("Thời hạn giải quyết tạm dừng trong khi chờ Ông/Bà.")
    if kind is Timeliness.CLOSED:
        return ""
    return t.gettext("Không có ngày hẹn trả")


def _when(turn: Turn, moment: datetime, with_time: bool = False) -> str:
    local = moment.astimezone(turn.services.settings.timezone)
    return turn.t.moment(local) if with_time else turn.t.day(local)


# What the citizen should do now, by status (DESIGN.md's rule decides "overdue"); `{centre}` is where to go or call.
NEXT_STEPS = {
    1: N_("Việc cần làm: Ông/Bà chưa cần làm gì thêm; hồ sơ đang chờ cán bộ tiếp nhận."),
    2: N_("Việc cần làm: Ông/Bà chưa cần làm gì thêm; kết quả dự kiến có vào ngày hẹn trả."),
    3: N_("Việc cần làm: hồ sơ không được tiếp nhận. Vui lòng liên hệ {centre} để biết lý do và giấy tờ cần có."),
    4: N_("Việc cần làm: Ông/Bà chưa cần làm gì thêm; kết quả dự kiến có vào ngày hẹn trả."),
    5: N_("Việc cần làm: Ông/Bà cần bổ sung hồ sơ. Vui lòng mang hoặc gửi giấy tờ còn thiếu đến {centre}."),
    6: N_("Việc cần làm: Ông/Bà cần nộp phí, lệ phí để hồ sơ được tiếp tục giải quyết, tại {centre}."),
    7: N_("Việc cần làm: hồ sơ đã được rút; nếu cần, Ông/Bà có thể nộp hồ sơ mới."),
    8: N_("Việc cần làm: hồ sơ đã dừng giải quyết. Vui lòng liên hệ {centre} để biết lý do."),
    9: N_("Việc cần làm: mời Ông/Bà mang Giấy tiếp nhận hồ sơ và căn cước đến {centre} để nhận kết quả."),
    10: N_("Ông/Bà đã nhận kết quả; không cần làm gì thêm."),
    11: N_("Việc cần làm: Ông/Bà chưa cần làm gì thêm; kết quả dự kiến có vào ngày hẹn trả."),
}
OVERDUE_STEP = N_(
    "Việc cần làm: hồ sơ đã quá ngày hẹn trả. Theo Nghị định 61/2018/NĐ-CP, cơ quan giải quyết phải gửi Ông/Bà văn "
    "bản xin lỗi và hẹn lại ngày trả. Ông/Bà có thể liên hệ {centre}."
)


SUPPLEMENT_STEP = N_(
    "Việc cần làm: Ông/Bà cần bổ sung hồ sơ: {note}. Vui lòng mang hoặc gửi giấy tờ còn thiếu đến {centre}."
)
FEE_STEP = N_("Việc cần làm: Ông/Bà cần nộp {amount} đồng phí, lệ phí để hồ sơ được tiếp tục giải quyết, tại {centre}.")


def next_step(
    status: int, standing: Standing | None, centre: str, t: Translator, note: str | None = None, fee: int | None = None
) -> str:
    """What the citizen should do now, in words: by status (with what the one-stop system said is missing, or the
    amount to pay, when it said), and for an open dossier past its date, the apology letter with a new date that
    the centre owes (Decree 61/2018/NĐ-CP)."""
    if standing is not None and standing.timeliness is Timeliness.OVERDUE:
        return t.gettext(OVERDUE_STEP).format(centre=centre)
    if status == 5 and note:
        return t.gettext(SUPPLEMENT_STEP).format(note=note.rstrip(". "), centre=centre)
    if status == 6 and fee:
        return t.gettext(FEE_STEP).format(amount=t.number(fee), centre=centre)
    return t.gettext(NEXT_STEPS.get(status, NEXT_STEPS[4])).format(centre=centre)


async def centre_contact(turn: Turn, commune_code: str) -> str:
    """`Trung tâm Phục vụ hành chính công xã Hữu Lũng (địa chỉ …, điện thoại …)`, with what the commune said about
    its centre; while it said nothing, the province's centre and hotline where they are known."""
    t, centres = turn.t, turn.services.centres
    commune = centres.commune(commune_code)
    name = t.gettext("Trung tâm Phục vụ hành chính công {commune}").format(
        commune=place(commune.name, t) if commune else commune_code
    )
    details = await centres.details(commune_code)
    if details.address or details.phone:
        return f"{name} ({contact_parts(details, t)})"
    fallback = await centres.fallback()
    if fallback.empty:
        return f"{name} ({contact_parts(details, t)})" if details.opening_hours else name
    unknown = t.gettext("{centre} (địa chỉ, điện thoại chưa được cập nhật; Ông/Bà có thể liên hệ {others})")
    return unknown.format(centre=name, others=fallback_text(fallback, t))


def render_lookup(result: LookupResult, turn: Turn, contact: str = "") -> str:
    """The lookup answer: no applicant name, no phone number."""
    t, dossier = turn.t, result.dossier
    assert dossier is not None
    assert result.standing is not None
    lines = [
        t.gettext("📄 Hồ sơ {code}").format(code=dossier.code),
        t.gettext("Thủ tục: {name}").format(name=dossier.procedure_name),
        t.gettext("Nơi tiếp nhận: {commune}").format(commune=result.commune_name),
        t.gettext("Ngày tiếp nhận: {date}").format(date=_when(turn, dossier.received_at)),
    ]
    if dossier.due_at is not None:
        lines.append(t.gettext("Ngày hẹn trả: {date}").format(date=_when(turn, dossier.due_at)))
    if dossier.new_due_at is not None:
        new = t.gettext("Ngày hẹn trả mới: {date} (hẹn lại kèm văn bản xin lỗi)")
        lines.append(new.format(date=_when(turn, dossier.new_due_at)))
    lines.append(t.gettext("Trạng thái: {status}").format(status=status_name(dossier.status, t)))
    if rendered := render_standing(result.standing, t):
        lines.append(rendered)
    if result.history:
        lines.append(t.gettext("Các bước gần nhất:"))
        lines.extend(f"• {_when(turn, step.at, True)} — {status_name(step.status, t)}" for step in result.history)
    if contact:
        lines.append(next_step(dossier.status, result.standing, contact, t, dossier.note, dossier.fee))
    return "\n".join(lines)


def limited(turn: Turn, wait_until: datetime) -> Reply:
    """Too many lookups: when to try again."""
    minutes = max(1, math.ceil((wait_until - turn.now).total_seconds() / 60))
    text = turn.t.ngettext(
        "Ông/Bà đã tra cứu nhiều lần liên tiếp. Vui lòng thử lại sau {minutes} phút.",
        "Ông/Bà đã tra cứu nhiều lần liên tiếp. Vui lòng thử lại sau {minutes} phút.",
        minutes,
    )
    return Reply(text.format(minutes=minutes))


def not_found(turn: Turn, code: str) -> Reply:
    """An unknown code: where the code is printed and what it looks like."""
    return turn.say(
        "Không tìm thấy hồ sơ {code}. Mã hồ sơ in trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả, "
        "thường có dạng {example}. Vui lòng kiểm tra lại từng ký tự.",
        code=echo(code),
        example=EXAMPLE,
    )


def follow_option(result: LookupResult, t: Translator) -> Option:
    """Follow or stop following what was found (the value is the code's key, never a guessable id)."""
    assert result.dossier is not None
    key = code_key(result.dossier.code)
    if result.following:
        return Option(t.gettext("🔕 Bỏ theo dõi"), "unfollow", key)
    return Option(t.gettext("⭐ Theo dõi"), "follow", key)


async def lookup(turn: Turn, code: str) -> Replies:
    """Look a code up; offer to follow (or stop following) what was found."""
    result = await turn.services.dossiers.lookup(turn.person, code, turn.now)
    if result.wait_until is not None:
        return [limited(turn, result.wait_until)]
    if result.dossier is None:
        if result.near is not None:
            t = turn.t
            text = t.gettext(NEAR).format(code=echo(result.code), near=result.near)
            look = Option(t.gettext("🔎 Tra mã {code}").format(code=result.near), "dossier", result.near)
            return [Reply(text, (look,))]
        if result.several:
            return [Reply(turn.t.gettext(SEVERAL).format(code=echo(result.code)))]
        return [not_found(turn, result.code)]
    options: tuple[Option, ...] = (follow_option(result, turn.t),)
    catalogue = turn.services.procedures
    known = catalogue.get(result.dossier.procedure_code or "") or catalogue.named(result.dossier.procedure_name)
    if known is not None:
        options += (Option(turn.t.gettext("📑 Giấy tờ, lệ phí của thủ tục"), "procedure_view", known.code),)
    if result.dossier.status == RETURNED:
        options += (rate_option(result.dossier.code, turn.t),)
    contact = await centre_contact(turn, result.dossier.commune_code)
    return [Reply(render_lookup(result, turn, contact), options)]


NEAR = N_("Không tìm thấy hồ sơ {code}. Có phải Ông/Bà muốn tra mã {near}?")
SEVERAL = N_(
    "Nhiều hồ sơ ở các cơ quan khác nhau cùng mang số {code}. Vui lòng nhắn đủ mã hồ sơ như in trên Giấy tiếp nhận, "
    "gồm cả phần đầu (ví dụ: 000.55.37.H37-{code})."
)
NO_CODE_IN_PHOTO = N_(
    "Phục Vụ chưa thấy mã QR hay mã vạch nào trên ảnh. Vui lòng chụp gần, rõ, đủ sáng phần mã trên Giấy tiếp nhận "
    "hồ sơ và hẹn trả kết quả, hoặc nhắn mã hồ sơ in trên giấy (ví dụ: {example})."
)
NOT_A_RECEIPT = N_(
    "Mã trên ảnh không phải mã hồ sơ. Vui lòng chụp mã QR trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả, hoặc nhắn "
    "mã hồ sơ in trên giấy (ví dụ: {example})."
)
IMAGE_REFUSED = N_(
    "Phục Vụ chưa mở được ảnh này. Vui lòng gửi lại ảnh chụp Giấy tiếp nhận (ảnh thường, dưới 10 MB), hoặc nhắn mã "
    "hồ sơ (ví dụ: {example})."
)


async def receipt(turn: Turn) -> Replies:
    """A photo: of a receipt, its QR code or barcode is read and the code it carries looked up; anything else
    is told how to send the code."""
    limiter = turn.services.dossiers.limiter  # a photo costs a lookup's turn, and more: its decoding
    if (wait := limiter.blocked_until(turn.person, turn.now)) is not None:
        return [limited(turn, wait)]
    fetch = turn.effects.photo
    try:
        if fetch is None:
            raise ImageRefused("this channel cannot fetch photos")
        texts = await read_codes(await fetch(turn.incoming.photo))
    except ImageRefused as exc:
        log.info("photo from %s not read: %s", turn.person.channel, exc)
        return [turn.say(IMAGE_REFUSED, example=EXAMPLE)]
    code = code_in(texts)
    if code is None:
        limiter.record(turn.person, turn.now, found=False)
        return [turn.say(NOT_A_RECEIPT if texts else NO_CODE_IN_PHOTO, example=EXAMPLE)]
    return await lookup(turn, code)


async def dossier(turn: Turn, value: str) -> Replies:
    """`/hoso CODE` looks it up; without a code (or «Tra cứu hồ sơ») the next message is taken as the code."""
    code = typed_code(value) or (value if len(code_key(value)) >= 6 else None)
    if code is not None:
        return await lookup(turn, code)
    await turn.services.chat.expect(turn.person, AWAITING, turn.now)
    return [turn.say(ASK, example=EXAMPLE)]


async def awaited_code(turn: Turn, text: str) -> Replies:
    """The message after «Tra cứu hồ sơ»: a code, or why it is none."""
    await turn.services.chat.expect(turn.person, "", turn.now)
    code = typed_code(text)
    if code is not None:
        return await lookup(turn, code)
    return [
        turn.say(
            "Đây chưa phải là mã hồ sơ. Mã hồ sơ in trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả, "
            "thường có dạng {example}.",
            example=EXAMPLE,
        )
    ]


async def follow(turn: Turn, key: str) -> Replies:
    """Follow a dossier."""
    if not key.isascii() or not key.isalnum():
        return [turn.say("Lựa chọn này đã hết hiệu lực. Vui lòng thực hiện lại.")]
    outcome = await turn.services.dossiers.follow(turn.person, key, turn.now)
    answers = {
        "followed": N_("Đã theo dõi. Phục Vụ sẽ báo khi hồ sơ thay đổi trạng thái."),
        "already": N_("Hồ sơ này đã có trong danh sách theo dõi."),
        "full": N_("Đã theo dõi đủ {limit} hồ sơ. Vui lòng bỏ bớt trong danh sách hồ sơ theo dõi."),
        "missing": N_("Lựa chọn này đã hết hiệu lực. Vui lòng thực hiện lại."),
        "limited": LIMITED,
    }
    if outcome == "followed" and (ended := await turn.services.dossiers.ended_status(key)) is not None:
        finished = N_("Đã theo dõi. Hồ sơ này đã kết thúc ({status}); Phục Vụ vẫn báo nếu trạng thái thay đổi.")
        return [turn.say(finished, status=status_name(ended, turn.t))]
    return [turn.say(answers[outcome], limit=MAX_FOLLOWS)]


async def unfollow(turn: Turn, key: str) -> Replies:
    """Stop following a dossier."""
    stopped = (
        await turn.services.dossiers.unfollow(turn.person, key, turn.now) if key.isascii() and key.isalnum() else False
    )
    if stopped is None:
        return [turn.say(LIMITED)]
    return [turn.say(UNFOLLOWED if stopped else NOT_FOLLOWED)]


def render_followed(items: list[Followed], t: Translator) -> str:
    """The list of followed dossiers."""
    lines = [t.gettext("Đang theo dõi {count}/{limit} hồ sơ:").format(count=len(items), limit=MAX_FOLLOWS)]
    for item in items:
        state = ", ".join(filter(None, (status_name(item.dossier.status, t), render_standing(item.standing, t))))
        lines.append(f"• {item.dossier.code} — {item.dossier.procedure_name}: {state}")
    return "\n".join(lines)


async def following(turn: Turn, value: str) -> Replies:
    """The followed dossiers, each with a choice to stop following it."""
    items = await turn.services.dossiers.followed(turn.person, turn.now)
    t = turn.t
    if not items:
        return [
            turn.say("Chưa theo dõi hồ sơ nào. Tra cứu một hồ sơ rồi chọn «Theo dõi» để được báo khi hồ sơ thay đổi.")
        ]
    label = t.gettext("🔕 Bỏ theo dõi {code}")
    options = tuple(
        Option(label.format(code=item.dossier.code), "unfollow", code_key(item.dossier.code)) for item in items
    )
    return [Reply(render_followed(items, t), options)]


# Statuses whose citizens' words address the applicant ("Ông/Bà"), as an official reads them.
OFFICIAL_STATUS = {5: N_("Chờ người dân bổ sung hồ sơ"), 9: N_("Đã có kết quả, chờ trả")}


def _line(turn: Turn, item: Followed) -> str:
    """One dossier in an official's view: code, procedure, dates, status and where it stands."""
    t, dossier, verdict = turn.t, item.dossier, item.standing
    dates = t.gettext("nhận {received}, hẹn {due}").format(
        received=_when(turn, dossier.received_at),
        due=_when(turn, dossier.appointment) if dossier.appointment else "—",
    )
    status = (
        t.gettext(OFFICIAL_STATUS[dossier.status])
        if dossier.status in OFFICIAL_STATUS
        else status_name(dossier.status, t)
    )
    # Days past or left for an open dossier; a waiting one's section says it already (its words are the citizen's).
    said = render_standing(verdict, t) if verdict.timeliness in (Timeliness.OVERDUE, Timeliness.PENDING) else ""
    return f"• {dossier.code} — {dossier.procedure_name} — {dates} — {status}" + (f" ({said})" if said else "")


async def commune_dossiers(turn: Turn, value: str) -> Replies:
    """`/hosoxa`: an official's own commune — open dossiers past their date and due within two working days,
    those waiting on their applicants apart; `/hosoxa bat` / `tat` turns the morning message on or off."""
    t, services = turn.t, turn.services
    word = fold(value)
    if word in ("bat", "on"):
        await services.dossiers.set_morning(turn.person, True, turn.now)
        return [turn.say(MORNING_ON)]
    if word in ("tat", "off"):
        await services.dossiers.set_morning(turn.person, False, turn.now)
        return [turn.say(MORNING_OFF)]
    commune_code = (await turn.access()).commune_code or ""
    view = await services.dossiers.commune_view(commune_code, turn.now)
    commune = services.centres.commune(commune_code)
    name = place(commune.name, t) if commune else commune_code
    lines = [
        t.gettext("🗂️ Hồ sơ của {commune} — {date}").format(
            commune=name, date=t.day(turn.now.astimezone(services.settings.timezone))
        )
    ]
    for title, items, count in (
        (N_("Quá hạn: {count}"), view.overdue, view.overdue_total),
        (N_("Đến hạn trong 2 ngày làm việc: {count}"), view.due_soon, view.due_soon_total),
        (N_("Chờ người dân bổ sung hồ sơ, nộp phí (không tính quá hạn): {count}"), view.waiting, view.waiting_total),
    ):
        lines += ["", t.gettext(title).format(count=t.number(count))]
        lines += [_line(turn, item) for item in items]
        if count > len(items):
            lines.append(t.gettext("• … và {count} hồ sơ nữa").format(count=t.number(count - len(items))))
    on = await services.dossiers.morning(turn.person)
    lines += ["", t.gettext(MORNING_IS_ON if on else MORNING_IS_OFF)]
    return [Reply("\n".join(lines))]


MORNING_ON = N_("Đã bật tin buổi sáng: mỗi ngày làm việc, nếu xã có hồ sơ quá hạn, Phục Vụ sẽ báo đồng chí.")
MORNING_OFF = N_("Đã tắt tin buổi sáng về hồ sơ quá hạn của xã.")
MORNING_IS_ON = N_("Tin buổi sáng về hồ sơ quá hạn: đang bật (/hosoxa tat để tắt).")
MORNING_IS_OFF = N_("Tin buổi sáng về hồ sơ quá hạn: đang tắt (/hosoxa bat để bật).")
