"""Procedures (thủ tục hành chính): `/thutuc` and «Thủ tục hành chính» ask what the person needs; a free question
("làm căn cước cần giấy tờ gì", "lệ phí kết hôn") finds it in the province's catalogue; one that names both a
place and a procedure offers both. A procedure's card: papers, time limit, fee, where to submit, the link."""

from __future__ import annotations

import re

from bot.centres import Choice, District, Found, SearchOutcome, Split
from bot.i18n import N_, Translator
from bot.procedures import asks_procedure
from handlers.centres import choice_option, search, search_replies
from handlers.chat import Option, Replies, Reply, Turn, echo, stale
from storage.procedures import StoredProcedure

ASK = N_(
    "Ông/Bà cần làm thủ tục gì? Vui lòng nhắn tên thủ tục hoặc việc cần làm, ví dụ: «đăng ký khai sinh», "
    "«lệ phí kết hôn», «làm căn cước cần giấy tờ gì»."
)
AT_PLACE = re.compile(r"\s+(?:ở|tại|o|tai)\s+", re.IGNORECASE)
NO_CATALOGUE = N_(
    "Phục Vụ chưa có danh mục thủ tục hành chính của tỉnh. Vui lòng hỏi Trung tâm Phục vụ hành chính công của xã, "
    "phường mình."
)
NO_CATALOGUE_HOTLINE = N_(
    "Phục Vụ chưa có danh mục thủ tục hành chính của tỉnh. Vui lòng hỏi Trung tâm Phục vụ hành chính công của xã, "
    "phường mình hoặc gọi đường dây nóng của tỉnh {hotline}."
)
PAPERS_SHOWN = 1500  # characters of the papers list a card shows (the link has the rest)
AWAITING = "procedure"  # the next message names the procedure wanted


def card(procedure: StoredProcedure, t: Translator) -> Reply:
    """One procedure: what to bring, how long, how much, where, and the link."""
    unknown = t.gettext("chưa có trong danh mục")
    papers = procedure.papers or unknown
    if len(papers) > PAPERS_SHOWN:
        papers = papers[: PAPERS_SHOWN - 1] + "… " + t.gettext("(xem đầy đủ theo đường dẫn)")
    lines = [f"📑 {procedure.name}"]
    if procedure.field:
        lines.append(t.gettext("Lĩnh vực: {value}").format(value=procedure.field))
    lines += [
        t.gettext("Thành phần hồ sơ: {value}").format(value=papers),
        t.gettext("Thời hạn giải quyết: {value}").format(value=procedure.time_limit or unknown),
        t.gettext("Phí, lệ phí: {value}").format(value=procedure.fee or unknown),
        t.gettext("Nơi nộp: {value}").format(value=procedure.agency or unknown),
    ]
    if procedure.sample:
        lines.append(t.gettext("(Dữ liệu mẫu để dùng thử, chưa phải danh mục thủ tục của tỉnh.)"))
    options = (Option(t.gettext("🔗 Xem chi tiết"), "", url=procedure.url),) if procedure.url else ()
    return Reply("\n".join(lines), options)


async def _no_catalogue(turn: Turn) -> Reply:
    hotline = turn.services.settings.hotline
    text = turn.t.gettext(NO_CATALOGUE_HOTLINE if hotline else NO_CATALOGUE).format(hotline=hotline)
    return Reply(text, menu=await turn.role())


def _option(procedure: StoredProcedure) -> Option:
    return Option(procedure.name, "procedure_view", procedure.code)


async def procedure(turn: Turn, value: str) -> Replies:
    """`/thutuc [what]` and the menu item: the procedure named, or the question."""
    await turn.services.procedures.fresh()
    if turn.services.procedures.empty:
        return [await _no_catalogue(turn)]
    if value.strip():
        return await answer(turn, value, asked=True)
    await turn.services.chat.expect(turn.person, AWAITING, turn.now)
    return [turn.say(ASK)]


async def view(turn: Turn, code: str) -> Replies:
    """A procedure chosen from a list or from a dossier's lookup."""
    await turn.services.procedures.fresh()
    found = turn.services.procedures.get(code)
    return [card(found, turn.t)] if found is not None else stale(turn)


async def answer(turn: Turn, text: str, *, asked: bool = False, found: list[StoredProcedure] | None = None) -> Replies:
    """What a procedure question finds (`found`: already searched): one card, a choice of a few, or a miss that
    says how to ask."""
    services, t = turn.services, turn.t
    await services.procedures.fresh()
    if found is None:
        found = services.procedures.search(text)
    if len(found) == 1:
        return [card(found[0], t)]
    if found:
        return [Reply(t.gettext("Ông/Bà hỏi thủ tục nào?"), tuple(_option(p) for p in found))]
    if services.procedures.empty:
        return [await _no_catalogue(turn)]
    if not asked:
        return []
    miss = t.gettext(
        "Chưa tìm thấy thủ tục «{text}» trong danh mục. Vui lòng nhắn tên thủ tục khác đi, ví dụ: «đăng ký kết hôn»."
    )
    return [Reply(miss.format(text=echo(text)))]


def _a_place(outcome: SearchOutcome) -> bool:
    return isinstance(outcome, Found | Split | District)


async def free_question(turn: Turn, text: str) -> Replies:
    """Free text that names no code: a procedure question, a place, or both (both offered)."""
    services = turn.services
    await services.procedures.fresh()
    asking = asks_procedure(text)
    what, *where = AT_PLACE.split(text, maxsplit=1)  # `khai sinh ở Hữu Lũng`: a procedure, then a place
    found = services.procedures.search(text) or (services.procedures.search(what) if where else [])
    if not found and not asking:
        return await search(turn, text)
    outcome = services.centres.search(where[0] if where and found else text)
    if found and _a_place(outcome):
        t = turn.t
        places: tuple[Option, ...] = ()
        if isinstance(outcome, Found):
            places = (choice_option(Choice(commune=outcome.commune), t),)
        elif isinstance(outcome, Split | District):
            places = tuple(choice_option(Choice(commune=c), t) for c in outcome.communes[:3])
        text_both = t.gettext("Ông/Bà muốn xem thủ tục, hay trung tâm của xã, phường?")
        return [Reply(text_both, (*(_option(p) for p in found[:3]), *places))]
    if found:
        return await answer(turn, text, found=found)
    if _a_place(outcome):
        return await search_replies(turn, outcome)
    return await answer(turn, text, asked=True)
