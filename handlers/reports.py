"""Facility reports: an official writes one step by step (category, severity, description, up to five photos,
location, confirmation; the transition is `bot.reports.advance`, the diagram `reports.mmd`), lists the commune's
and reopens one marked fixed; leaders and admins list the open ones, filter them, move them on and add notes.
Every step is saved, so after a restart the next message goes on where the official was."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from zoneinfo import ZoneInfo

from bot.commands import REPORTS
from bot.i18n import N_, Translator
from bot.report_export import photo_link
from bot.reports import (
    CATEGORIES,
    DUPLICATE_CHOICES,
    MAX_PHOTOS,
    SEVERITIES,
    STATE_NAMES,
    Answer,
    NotAllowed,
    Report,
    State,
    Step,
    Submitted,
    Writing,
    advance,
    read_filter,
    report_number,
)
from bot.roles import Role
from handlers import menu
from handlers.chat import Option, Replies, Reply, Turn, echo, place, stale, unrecognised

LIST_LIMIT = 30
MOVES = (State.RECEIVED, State.IN_PROGRESS, State.FIXED, State.CANNOT_FIX, State.DUPLICATE)
NOTE = "note:"  # what a leader's next message answers after moving a report: a note on it
WHY = "why:"  # …after choosing to close a report as not fixable or a duplicate: the reason (`why:ID:STATE`)
SURE = "sure:"  # …after giving that reason: another reason; the confirmation reads it (`sure:ID:STATE:REASON`)
NEEDS_REASON = (State.CANNOT_FIX, State.DUPLICATE)
MAX_REASON = 500
REASON_QUESTIONS = {
    State.CANNOT_FIX: N_(
        "Chuyển {number} sang «Không khắc phục được»: vui lòng nhắn lý do trong một tin nhắn "
        "(cán bộ xã sẽ nhận được lý do này)."
    ),
    State.DUPLICATE: N_(
        "Chuyển {number} sang «Trùng»: vui lòng nhắn lý do, ví dụ trùng với báo cáo nào (cán bộ xã sẽ nhận được "
        "lý do này)."
    ),
}
NUMBER = re.compile(r"BC-(\d{6})")
TYPED_NUMBER = re.compile(r"\s*BC\s*-?\s*(\d{1,6})\s*", re.IGNORECASE)  # a report's number as typed
SEVERITY_MARKS = {"blocking": "🔴 ", "high": "🟠 ", "medium": "🟡 ", "low": "⚪ "}
SHOWN_PHOTOS = MAX_PHOTOS  # photos a leader's view of a report shows (a report may hold four times as many)
GONE = N_("Báo cáo này không còn gửi được.")
PROBLEMS = {
    "choose": N_("Vui lòng chọn một mục dưới đây."),
    "text_needed": N_("Vui lòng mô tả vấn đề bằng chữ (hoặc gửi ảnh kèm chú thích là lời mô tả)."),
    "photos_full": N_("Đã đủ {most} ảnh; ảnh này không được thêm."),
    "coordinates": N_("Tọa độ chưa đúng: cần vĩ độ và kinh độ của một nơi ở Việt Nam, ví dụ: 21.8537, 106.7615."),
    "photo_not_here": N_("Ảnh chỉ nhận ở bước gửi ảnh."),
    "photo_needed": N_("Vui lòng gửi một ảnh, kèm ghi chú trong chú thích ảnh."),
}


def _cancel(t: Translator) -> Option:
    return Option(t.gettext("✖️ Hủy thao tác"), "cancel")


def summary(t: Translator, writing: Writing) -> str:
    """What will be sent, for the confirmation."""
    where = f"{writing.lat:.5f}, {writing.lon:.5f}" if writing.lat is not None else t.gettext("không có")
    lines = [
        t.gettext("Kiểm tra trước khi gửi:"),
        t.gettext("Loại: {name}").format(name=t.gettext(CATEGORIES[writing.category].name)),
        t.gettext("Mức độ: {name}").format(name=t.gettext(SEVERITIES[writing.severity])),
        t.gettext("Mô tả: {text}").format(text=writing.description),
        t.gettext("Ảnh: {count}").format(count=len(writing.photos)),
        t.gettext("Vị trí: {where}").format(where=where),
    ]
    if writing.add_to is not None:
        lines.append(t.gettext("Sẽ thêm vào báo cáo {number}.").format(number=report_number(writing.add_to)))
    return "\n".join(lines)


def question(t: Translator, writing: Writing, locations: bool = True) -> Reply:
    """The question of the step the official is at, with its choices (`locations`: the channel can share one)."""
    cancel = _cancel(t)
    if writing.step is Step.CATEGORY:
        options = tuple(Option(t.gettext(c.name), "rp", f"c:{key}") for key, c in CATEGORIES.items())
        text = t.gettext("Báo cáo khó khăn của trung tâm. Vấn đề thuộc loại nào?")
        return Reply(text, (*options, cancel))
    if writing.step is Step.DUPLICATE:
        number = report_number(writing.add_to or 0)
        text = t.gettext("Xã đã có báo cáo {number} đang mở về «{category}». Thêm vào báo cáo đó?").format(
            number=number, category=t.gettext(CATEGORIES[writing.category].name)
        )
        add = Option(t.gettext("➕ Thêm vào {number}").format(number=number), "rp", "d:add")
        return Reply(text, (add, Option(t.gettext(DUPLICATE_CHOICES["new"]), "rp", "d:new"), cancel))
    if writing.step is Step.SEVERITY:
        options = tuple(Option(t.gettext(name), "rp", f"s:{key}") for key, name in SEVERITIES.items())
        return Reply(t.gettext("Mức độ ảnh hưởng?"), (*options, cancel), columns=2)
    if writing.step is Step.DESCRIPTION:
        return Reply(t.gettext("Mô tả vấn đề trong một tin nhắn (đang thiếu gì, ảnh hưởng thế nào)."), (cancel,))
    if writing.step is Step.PHOTOS:
        text = t.gettext("Gửi tối đa {count} ảnh, rồi chọn «Xong» (không có ảnh thì chọn «Xong» ngay).")
        return Reply(text.format(count=MAX_PHOTOS), (Option(t.gettext("✅ Xong"), "rp", "p:done"), cancel))
    if writing.step is Step.LOCATION:
        if locations:
            text = t.gettext(
                "Gửi vị trí của nơi có vấn đề, hoặc nhắn tọa độ (ví dụ: 21.8537, 106.7615), hoặc chọn «Bỏ qua»."
            )
        else:
            text = t.gettext("Nhắn tọa độ của nơi có vấn đề (ví dụ: 21.8537, 106.7615), hoặc chọn «Bỏ qua».")
        return Reply(text, (Option(t.gettext("⏭️ Bỏ qua"), "rp", "l:skip"), cancel))
    if writing.step is Step.REOPEN:
        text = t.gettext("Gửi một ảnh cho thấy {number} chưa được khắc phục, kèm ghi chú trong chú thích ảnh.")
        return Reply(text.format(number=report_number(writing.add_to or 0)), (cancel,))
    return Reply(summary(t, writing), (Option(t.gettext("📨 Gửi"), "rp", "ok"), cancel))


async def start(turn: Turn, value: str) -> Replies:
    """Begin (or begin again) a report. Leaders and admins are pointed to the list (reports are a commune's,
    filed by its officials)."""
    access = await turn.access()
    if access.role is not Role.OFFICIAL:
        name = REPORTS.alias if turn.t.language == "en" else REPORTS.name
        text = N_(
            "Báo cáo khó khăn do cán bộ xã, phường gửi. Đồng chí xem và xử lý các báo cáo đang mở bằng /{command}."
        )
        return [turn.say(text, command=name)]
    writing = await turn.services.reports.write(turn.person, Writing(Step.CATEGORY), turn.now)
    return [question(turn.t, writing, turn.locations)]


async def cancel(turn: Turn, value: str) -> Replies:
    """Drop what is being done: the report being written, or the note or code awaited."""
    stopped = await turn.services.reports.stop_writing(turn.person)
    awaited = await turn.services.chat.awaiting(turn.person, turn.now)
    if awaited:
        await turn.services.chat.expect(turn.person, "", turn.now)
    if stopped or awaited:
        return [turn.say("Đã hủy thao tác.")]
    return [turn.say("Không có thao tác nào đang làm dở để hủy.")]


async def step(turn: Turn) -> Replies:
    """A message from an official writing a report: the answer to their step (a menu item, typed or its button,
    and a sticker are none: the step is asked again)."""
    incoming = turn.incoming
    return await _answer(turn, Answer(text=incoming.text, photo=incoming.photo, location=incoming.location))


async def choose(turn: Turn, value: str) -> Replies:
    """A choice at a step (`rp`)."""
    return await _answer(turn, Answer(choice=value))


async def _answer(turn: Turn, answer: Answer) -> Replies:
    reports, t = turn.services.reports, turn.t
    writing = await reports.writing(turn.person)
    if writing is None:
        return stale(turn)
    incoming = turn.incoming
    if incoming.other or (incoming.text and not incoming.photo and menu.typed(incoming.text) is not None):
        return [
            turn.say("Đồng chí đang viết một báo cáo: vui lòng trả lời câu hỏi dưới đây."),
            question(t, writing, turn.locations),
        ]
    moved = advance(writing, answer)
    try:
        if moved.effect == "send":
            return await _send(turn, writing)
        if moved.effect == "reopen":
            return await _reopen(turn, writing, answer)
        if moved.writing is None:
            replies = [turn.say(PROBLEMS[moved.problem], most=MAX_PHOTOS)] if moved.problem else []
            if answer.choice and not moved.problem:
                return stale(turn)
            return [*replies, question(t, writing, turn.locations)]
        following = moved.writing
        if moved.effect == "duplicate":
            duplicate = await reports.open_duplicate(turn.person, following.category)
            following = replace(following, add_to=duplicate.id) if duplicate else replace(following, step=Step.SEVERITY)
        await reports.write(turn.person, following, turn.now)
    except (NotAllowed, ValueError):  # the role was taken away, or the report moved, meanwhile
        await reports.stop_writing(turn.person)
        return [turn.say(GONE)]
    if moved.effect == "photo":
        text = t.gettext("Đã nhận {count}/{most} ảnh. Gửi thêm, hoặc chọn «Xong».")
        done = Option(t.gettext("✅ Xong"), "rp", "p:done")
        return [Reply(text.format(count=len(following.photos), most=MAX_PHOTOS), (done, _cancel(t)))]
    return [question(t, following, turn.locations)]


async def _send(turn: Turn, writing: Writing) -> Replies:
    reports = turn.services.reports
    done = await reports.submit(turn.person, writing.draft(), writing.add_to, turn.now)
    await reports.stop_writing(turn.person)
    if done.report.severity == "blocking":
        turn.effects.wake()  # the leaders' alert goes now
    return [Reply(submitted_text(done, turn.t, turn.services.settings.timezone))]


async def _reopen(turn: Turn, writing: Writing, answer: Answer) -> Replies:
    reports = turn.services.reports
    report = await reports.reopen(turn.person, writing.add_to or 0, answer.text, answer.photo, turn.now)
    await reports.stop_writing(turn.person)
    due = turn.t.day(report.target_at.astimezone(turn.services.settings.timezone))
    return [turn.say("Đã mở lại {number}. Hạn khắc phục mới: {date}.", number=report.number, date=due)]


def submitted_text(done: Submitted, t: Translator, tz: ZoneInfo) -> str:
    """Where a report sent from chat stands: added to the open one, or filed with its target date."""
    report, lines = done.report, []
    if done.added:
        lines.append(t.gettext("Đã thêm vào báo cáo {number}.").format(number=report.number))
    else:
        if done.meant_for is not None:
            closed = t.gettext("Báo cáo {number} đã được đóng trong lúc đồng chí viết, nên đây là một báo cáo mới.")
            lines.append(closed.format(number=report_number(done.meant_for)))
        due = t.day(report.target_at.astimezone(tz))
        lines.append(
            t.gettext("Đã gửi báo cáo {number}. Hạn khắc phục: {date}.").format(number=report.number, date=due)
        )
    return "\n".join(lines)


def report_line(report: Report, turn: Turn) -> str:
    """One report in a list: the commune that reported it, its kind and severity, where it stands, its target and
    how many photos it has."""
    t, tz = turn.t, turn.services.settings.timezone
    commune = turn.services.centres.commune(report.commune_code)
    late = " ⏰" if report.past_target(turn.now) else ""
    photos = f" · 📷 {report.photos}" if report.photos else ""
    return t.gettext("{number} · {commune} · {category} · {severity} · {state} · hạn {date}{late}{photos}").format(
        number=report.number,
        commune=place(commune.name, t) if commune else report.commune_code,
        category=t.gettext(report.category.name),
        severity=SEVERITY_MARKS.get(report.severity, "") + t.gettext(SEVERITIES[report.severity]),
        state=t.gettext(STATE_NAMES[report.state]),
        date=t.day(report.target_at.astimezone(tz)),
        late=late,
        photos=photos,
    )


async def listed(turn: Turn, value: str) -> Replies:
    """An official's commune's reports, with a choice to reopen each one marked fixed; every open one for leaders
    and admins (`value`: a filter), with a choice of each to move it on."""
    services, t = turn.services, turn.t
    access = await turn.access()
    if access.role is Role.OFFICIAL:
        reports, more = await services.reports.of_my_commune(turn.person)
        label = t.gettext("↩️ {number} chưa khắc phục")
        options = tuple(
            Option(label.format(number=r.number), "reopen", str(r.id)) for r in reports if r.state is State.FIXED
        )
        columns = 1
    else:
        if (typed := typed_report(value)) is not None:  # `/xembaocao BC-000002`: that one
            return await view(turn, str(typed))
        wanted = read_filter(value, lambda text: services.centres.commune_code(text)[0])
        if wanted is None:
            text = N_(
                "Không hiểu bộ lọc «{text}». Lọc theo: quahan (quá hạn), loại vấn đề (ví dụ: điện), "
                "hoặc tên hay mã của một xã, phường (ví dụ: Hữu Lũng, 06385)."
            )
            return [turn.say(text, text=echo(value))]
        found = await services.reports.open_reports(turn.person, turn.now, wanted)
        reports, more = found[:LIST_LIMIT], len(found) - LIST_LIMIT
        options = tuple(Option(r.number, "view", str(r.id)) for r in reports)
        columns = 3
    if not reports:
        return [turn.say("Không có báo cáo nào.")]
    lines = [report_line(report, turn) for report in reports]
    if more > 0 and access.role is Role.OFFICIAL:
        lines.append(t.gettext("… và {count} báo cáo cũ hơn.").format(count=more))
    elif more > 0:
        more_text = t.gettext("… và {count} báo cáo nữa; lọc để xem (ví dụ: /{command} quahan).")
        lines.append(more_text.format(count=more, command=REPORTS.alias if t.language == "en" else REPORTS.name))
    return [Reply("\n".join(lines), options, columns=columns)]


def _number(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 12 else None


async def _chosen(value: str, get: Callable[[int], Awaitable[Report]]) -> Report | None:
    """The report a choice's value names, as `get` lets the person have it; None for a forged or stale one."""
    report_id = _number(value)
    try:
        return await get(report_id) if report_id is not None else None
    except NotAllowed:
        return None


async def reopen(turn: Turn, value: str) -> Replies:
    """Begin reopening a fixed report of the official's commune."""
    report = await _chosen(value, lambda number: turn.services.reports.fixed_of_my_commune(turn.person, number))
    if report is None:
        return stale(turn)
    writing = await turn.services.reports.write(turn.person, Writing(Step.REOPEN, add_to=report.id), turn.now)
    return [question(turn.t, writing, turn.locations)]


async def view(turn: Turn, value: str) -> Replies:
    """One open report for a leader, with a choice of each state it may move to."""
    report = await _chosen(value, lambda number: turn.services.reports.open_report(turn.person, number))
    if report is None:
        return stale(turn)
    t = turn.t
    options = tuple(
        Option(t.gettext(STATE_NAMES[state]), "move", f"{report.id}:{state.value}")
        for state in MOVES
        if state is not report.state
    )
    lines = [report_line(report, turn), report.description]
    notes = await turn.services.reports.notes(report.id)
    if notes:
        tz = turn.services.settings.timezone
        lines.append(t.gettext("Ghi chú:"))
        lines += [f"• {t.moment(at.astimezone(tz))} — {note}" for at, note in notes]
    photos, unseen = await _photos(turn, report)
    if unseen:
        lines.append(t.gettext("{count} ảnh gửi từ Telegram chưa xem được ở đây.").format(count=unseen))
    return [Reply("\n".join(lines), options, columns=2), *photos]  # the card first: a photo that fails loses nothing


async def _photos(turn: Turn, report: Report) -> tuple[Replies, int]:
    """A report's newest photos (a reopening's evidence among them) as the person's channel can show them
    (`photo_link`), at most SHOWN_PHOTOS; and how many of those it cannot show."""
    settings = turn.services.settings
    refs = await turn.services.reports.photos(turn.person, report.id)
    shown: Replies = []
    unseen = 0
    first = max(1, len(refs) - SHOWN_PHOTOS + 1)
    for number, ref in enumerate(refs[first - 1 :], start=first):
        link = photo_link(ref, report.id, number, settings.public_url, settings.media_key, turn.person.channel)
        if link is None:
            unseen += 1
            continue
        caption = turn.t.gettext("{number} · ảnh {n}/{count}").format(number=report.number, n=number, count=len(refs))
        shown.append(Reply(caption, photo=link))
    return shown, unseen


async def move(turn: Turn, value: str) -> Replies:
    """Move an open report on, with a choice to send the commune a note about it. Closing one as «Không khắc phục
    được» or «Trùng» asks for the reason first, then for a confirmation (`ID:STATE:ok`, with the reason awaited)."""
    number, _, rest = value.partition(":")
    state_value, _, confirmed = rest.partition(":")
    confirmed, _, shown = confirmed.partition(":")
    report_id = _number(number)
    reason = ""
    try:
        if report_id is None or confirmed not in ("", "ok"):
            raise NotAllowed
        state = State(state_value)
        if state in NEEDS_REASON:
            if not confirmed:
                return await _ask_reason(turn, report_id, state)
            reason = turn.awaited.removeprefix(f"{SURE}{report_id}:{state.value}:")
            if reason == turn.awaited or not reason or not hmac.compare_digest(shown, _digest(reason)):
                raise NotAllowed  # no reason given before it, or not the reason it showed (stale or forged)
        elif confirmed:
            raise NotAllowed
        report = await turn.services.reports.move(turn.person, report_id, state, reason, turn.now)
    except (NotAllowed, ValueError):
        return stale(turn)
    turn.effects.wake()  # the commune's officials are told now
    t = turn.t
    moved = t.gettext("Đã chuyển {number} sang: {state}.").format(
        number=report.number, state=t.gettext(STATE_NAMES[report.state])
    )
    if reason:
        moved += "\n" + t.gettext("Lý do: {reason}").format(reason=reason)
    return [Reply(moved + "\n" + report_line(report, turn), (_note_option(t, report.id),))]


async def _ask_reason(turn: Turn, report_id: int, state: State) -> Replies:
    """«Không khắc phục được» or «Trùng» pressed: the leader's next message is the reason."""
    report = await turn.services.reports.open_report(turn.person, report_id)
    await turn.services.chat.expect(turn.person, f"{WHY}{report.id}:{state.value}", turn.now)
    text = turn.t.gettext(REASON_QUESTIONS[state]).format(number=report.number)
    return [Reply(text, (_cancel(turn.t),))]


async def confirm_move(turn: Turn, report_id: int, state: State, text: str) -> Replies:
    """The reason for closing a report as «Không khắc phục được» or «Trùng»: shown back with a choice to confirm
    (another message instead gives another reason)."""
    try:
        report = await turn.services.reports.open_report(turn.person, report_id)
    except NotAllowed:  # closed meanwhile
        await turn.services.chat.expect(turn.person, "", turn.now)
        return stale(turn)
    reason = text.strip()[:MAX_REASON]
    await turn.services.chat.expect(turn.person, f"{SURE}{report.id}:{state.value}:{reason}", turn.now)
    t = turn.t
    question_text = t.gettext(
        "Chuyển {number} sang «{state}» với lý do: {reason}\nCán bộ xã sẽ nhận được thông báo kèm lý do này. Xác nhận?"
    ).format(number=report.number, state=t.gettext(STATE_NAMES[state]), reason=reason)
    sure = Option(t.gettext("✅ Xác nhận"), "move", f"{report.id}:{state.value}:ok:{_digest(reason)}")
    return [Reply(question_text, (sure, _cancel(t)))]


def _digest(reason: str) -> str:
    """What a confirmation carries of the reason it showed (a newer reason makes an older confirmation stale)."""
    return hashlib.sha256(reason.encode()).hexdigest()[:8]


def awaited_reason(awaiting: str) -> tuple[int, State] | None:
    """The report and closing state a leader's next message gives the reason for (asked, or shown to confirm:
    a new message is a new reason)."""
    for prefix in (WHY, SURE):
        if awaiting.startswith(prefix):
            number, _, rest = awaiting.removeprefix(prefix).partition(":")
            state = rest.partition(":")[0]
            report_id = _number(number)
            if report_id is not None and state in {s.value for s in NEEDS_REASON}:
                return report_id, State(state)
    return None


def _note_option(t: Translator, report_id: int) -> Option:
    return Option(t.gettext("📝 Gửi ghi chú cho xã"), "note", str(report_id))


async def ask_note(turn: Turn, value: str) -> Replies:
    """«Gửi ghi chú cho xã»: the leader's next message is the note."""
    report_id = _number(value)
    if report_id is None:
        return stale(turn)
    await turn.services.chat.expect(turn.person, f"{NOTE}{report_id}", turn.now)
    text = turn.t.gettext("Vui lòng nhắn ghi chú gửi cán bộ xã về {number} trong một tin nhắn.")
    return [Reply(text.format(number=report_number(report_id)), (_cancel(turn.t),))]


async def note(turn: Turn, report_id: int, text: str) -> Replies:
    """A leader's note on a report, for the commune's officials."""
    await turn.services.chat.expect(turn.person, "", turn.now)
    try:
        report = await turn.services.reports.note(turn.person, report_id, text, turn.now)
    except (NotAllowed, ValueError):
        return unrecognised(turn)
    turn.effects.wake()
    return [turn.say("Đã gửi ghi chú cho cán bộ xã về {number}.", number=report.number)]


def typed_report(text: str) -> int | None:
    """The report a message is only the number of (`BC-000003`, `bc 3`)."""
    found = TYPED_NUMBER.fullmatch(text)
    return int(found[1]) if found else None


def replied_report(text: str) -> int | None:
    """The report a reply quotes, when the quoted message names exactly one."""
    found = set(NUMBER.findall(text))
    return int(found.pop()) if len(found) == 1 else None


def awaited_note(awaiting: str) -> int | None:
    """The report a leader's next message is a note on."""
    return _number(awaiting.removeprefix(NOTE)) if awaiting.startswith(NOTE) else None
