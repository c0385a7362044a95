"""The Zalo surface: read a Zalo update → call one service → render with the person's translator → reply.

Zalo has no buttons, so every choice is a numbered text menu ("Nhắn 1 để …"), remembered per person in the
database (`TextMenus`), and the Vietnamese words people type reach the same places. The services and most of the
text are the Telegram surface's own.
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import logging
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import replace

from aiohttp import web

from bot.app import Services
from bot.centres import Choice, District, Found, NotFound, SearchOutcome, Split
from bot.config import Settings
from bot.digest import DAILY, chart_url
from bot.dossiers import MAX_FOLLOWS, code_key, find_code
from bot.i18n import DEFAULT_LANGUAGE, N_, Translator, translator
from bot.outbox import Delivery, Outcome, OutgoingMessage
from bot.people import Person
from bot.reports import (
    CATEGORIES,
    MAX_DESCRIPTION,
    MAX_PHOTOS,
    SEVERITIES,
    NotAllowed,
    State,
    Step,
    Writing,
    report_number,
)
from bot.roles import INVITE_CODE, Role
from bot.text import clean, fold
from bot.zalo import IMAGE, STICKER, TEXT, PartlySent, ZaloClient, ZaloError, ZaloNetworkError, ZaloUpdate, parse_update
from handlers import menu
from handlers.centres import apply_update, maps_url, old_label, render_card, via_text
from handlers.context import Incoming
from handlers.dossiers import EXAMPLE, limited_text, not_found_text, render_followed, render_lookup
from handlers.outbox import RENDERERS
from handlers.people import REFUSALS, granted_text
from handlers.reports import report_line, submitted_text, summary
from storage.zalo import Option

log = logging.getLogger(__name__)

CHANNEL = "zalo"
SEEN_LIMIT = 10_000  # message ids remembered against repeated webhook calls
STOP_GRACE = 10.0  # seconds an update being answered may take to finish when the bot stops
TOKEN_RETRY = 300.0  # seconds before a message refused for the token (401) is tried again


UNKNOWN_INVITE = N_("Mã mời không đúng. Hãy nhắn lại đúng từng ký tự mã quản trị viên gửi, hoặc xin một mã mới.")


class ZaloTokenRefused(RuntimeError):
    """Zalo refused ZALO_BOT_TOKEN: the bot stops rather than run without its Zalo side."""


# The main menu: (label, action), in the order of its numbers.
MAIN = (
    (N_("Tra cứu hồ sơ"), "ask_dossier"),
    (N_("Hồ sơ đang theo dõi"), "following"),
    (N_("Tìm trung tâm phục vụ hành chính công"), "ask_centre"),
    (N_("Hướng dẫn"), "help"),
    (menu.LANGUAGE, "language"),
)
# Words people type for the same places (folded: no tones, lower case).
WORDS = {
    "menu": "menu",
    "bat dau": "menu",
    "start": "menu",
    "/start": "menu",
    "0": "menu",
    "huong dan": "help",
    "tro giup": "help",
    "help": "help",
    "/help": "help",
    "tra cuu": "ask_dossier",
    "tra cuu ho so": "ask_dossier",
    "ho so": "ask_dossier",
    "theo doi": "following",
    "ho so theo doi": "following",
    "ho so dang theo doi": "following",
    "trung tam": "ask_centre",
    "tim trung tam": "ask_centre",
    "english": "language:en",
    "tieng anh": "language:en",
    "tieng viet": "language:vi",
    "vietnamese": "language:vi",
    "bao cao": "report",
    "baocao": "report",
    "/baocao": "report",
    "/report": "report",
    "bao cao kho khan": "report",
    "huy": "cancel",
    "/huy": "cancel",
    "cancel": "cancel",
    "/cancel": "cancel",
    "bao cao cua xa": "commune_reports",
    "xem bao cao": "commune_reports",
    "xembaocao": "commune_reports",
    "/xembaocao": "commune_reports",
    "/reports": "commune_reports",
    "reports": "commune_reports",
    "report": "report",
    "follow": "following",
    "following": "following",
    "followed": "following",
    "look up": "ask_dossier",
    "lookup": "ask_dossier",
    "dossier": "ask_dossier",
    "search": "ask_centre",
    "centre": "ask_centre",
    "center": "ask_centre",
    "digest": "digest",
    "tom tat": "digest",
    "tomtat": "digest",
    "/tomtat": "digest",
    "/digest": "digest",
}
# An official's main menu starts with their own two items, a leader's with today's digest.
OFFICIAL = ((N_("Báo cáo khó khăn"), "report"), (N_("Báo cáo của xã"), "commune_reports"))
LEADER = ((N_("Tóm tắt hôm nay"), "digest"),)


def numbered(labels: list[str], prompt: str) -> str:
    """Options as `1. …` lines under a prompt."""
    return "\n".join([prompt, *(f"{number}. {label}" for number, label in enumerate(labels, start=1))])


def main_menu(t: Translator, role: Role = Role.CITIZEN) -> tuple[str, list[Option]]:
    """The main menu's text and options (an official's starts with reports; the language item names the other
    language)."""
    items = {Role.OFFICIAL: (*OFFICIAL, *MAIN), Role.LEADER: (*LEADER, *MAIN), Role.ADMIN: (*LEADER, *MAIN)}.get(
        role, MAIN
    )
    text = numbered([t.gettext(label) for label, _ in items], t.gettext("Nhắn số để chọn:"))
    text += "\n" + t.gettext("Hoặc nhắn thẳng mã hồ sơ, hay tên xã, phường của bạn. Nhắn 0 để xem lại menu này.")
    return text, [(action, "") for _, action in items]


def help_text(t: Translator) -> str:
    """What the bot does on Zalo."""
    return "\n".join(
        [
            t.gettext("Phục Vụ giúp bạn:"),
            t.gettext("• Tra cứu hồ sơ: nhắn mã hồ sơ in trên giấy hẹn, ví dụ {example}.").format(example=EXAMPLE),
            t.gettext("• Theo dõi hồ sơ: sau khi tra cứu, nhắn 1 để được báo khi hồ sơ thay đổi."),
            t.gettext(
                "• Tìm trung tâm phục vụ hành chính công: nhắn tên xã, phường (ví dụ: Hữu Lũng), "
                "hoặc địa chỉ cũ trước năm 2025 (ví dụ: xã Đồng Tân, huyện Hữu Lũng)."
            ),
            t.gettext("Nhắn 0 bất cứ lúc nào để xem menu."),
        ]
    )


def invite_code(text: str) -> str | None:
    """An invite code typed alone (also as `/start CODE`, as `phucvu invite` prints it), or None. A code has a
    letter: a long number is not one."""
    word = text.strip().removeprefix("/start").strip().strip(".,;:!?\"'«»")
    if INVITE_CODE.fullmatch(word) and any(char.isalpha() for char in word):
        return word
    return None


class ZaloChat:
    """Answers one Zalo update at a time (the caller keeps each chat's updates in order)."""

    def __init__(self, services: Services, client: ZaloClient, wake: Callable[[], None] = lambda: None) -> None:
        self.services = services
        self.client = client
        self.wake = wake  # drains the outbox now (an urgent alert waits for nothing)
        self.reports = ReportSteps(self)

    async def handle(self, update: ZaloUpdate) -> None:
        """Answer an update; a failure is logged and the person told something useful, never raised."""
        if not update.private:
            return  # groups are in beta on Zalo: the bot stays silent there
        person = Person(CHANNEL, update.user_id)
        t = translator(DEFAULT_LANGUAGE)
        came = Incoming(person, update.chat_id, clean(update.text or update.caption), t, self.services)
        try:
            await self.services.people.reachable_again(person)  # they wrote: whatever waited for them may go out
            t = translator(self.services.people.language(person))
            came = replace(came, t=t)
            writing = await self.services.reports.writing(person) if self.services.reports.is_writing(person) else None
            if writing is not None:
                await self.writing(came, writing, update.photo_url if update.event == IMAGE else "", update.event)
            elif update.event == TEXT:
                await self.text(came)
            elif update.event == IMAGE:
                text = t.gettext("Mình chưa đọc được ảnh. Hãy nhắn mã hồ sơ hoặc tên xã bằng chữ.")
                await self.reply(came, text, keep=True)
            elif update.event == STICKER:
                await self.reply(came, t.gettext("👋 Nhắn 0 để xem những gì Phục Vụ giúp được bạn."), keep=True)
            else:
                text = t.gettext(
                    "Mình chưa đọc được tin nhắn này. Hãy nhắn bằng chữ, ví dụ mã hồ sơ hoặc tên xã. "
                    "Nhắn 0 để xem menu."
                )
                await self.reply(came, text, keep=True)
        except Exception:
            log.exception("zalo update from %s failed", update.user_id)
            try:
                text = t.gettext("Xin lỗi, đã có lỗi khi xử lý tin nhắn. Bạn thử lại sau ít phút nhé.")
                await self.client.send_text(str(came.chat_id), text)
            except Exception:
                log.exception("could not tell %s about the failure", update.user_id)

    async def reply(
        self, came: Incoming, text: str, options: list[Option] | None = None, *, keep: bool = False
    ) -> None:
        """Send a text (split at 2,000 characters). `options` become what the person's numbers mean; without
        them a number means nothing any more (an old menu must not act on what this answer is about), unless
        `keep` (an answer that changes nothing, such as a number not in the menu)."""
        if not keep:
            await self.services.menus.remember(came.person, options or [], self.services.clock())
        await self.client.send_text(str(came.chat_id), text)

    async def writing(self, came: Incoming, writing: Writing, photo: str, event: str) -> None:
        """A message from an official writing a report: «hủy» stops; the menu, a sticker or anything else that
        is no answer says a report is being written and asks its question again; an answer moves it on."""
        word = fold(came.text).strip(" .!?")
        if WORDS.get(word) == "cancel":
            await self.reports.cancel(came)
        elif event == TEXT and (invite := invite_code(came.text)) is not None:
            await self.redeem(came, invite)  # never a report's description: a new role ends the draft if it changes
        elif event not in (TEXT, IMAGE) or WORDS.get(word) == "menu":
            note = came.t.gettext("Bạn đang viết một báo cáo: trả lời câu hỏi dưới đây, hoặc nhắn «hủy» để thôi.")
            await self.reply(came, note, keep=True)
            await self.reports.ask(came, writing)
        else:
            await self.reports.answer(came, writing, word, photo)

    async def text(self, came: Incoming) -> None:
        """A typed text: a menu word or number, a dossier code, an invite code, or a place to search."""
        word = fold(came.text).strip(" .!?")
        action = WORDS.get(word)
        command, _, rest = came.text.partition(" ")
        if fold(command) in ("/capnhat", "/update", "capnhat"):
            await self.update_centre(came, rest.strip())
        elif action is not None:
            kind, _, value = action.partition(":")
            await self.act(came, kind, value)
        elif word.isdigit() and len(word) <= 2:
            option = await self.services.menus.option(came.person, int(word))
            if option is None:
                text = came.t.gettext("Số {number} không có trong danh sách. Nhắn 0 để xem menu.")
                await self.reply(came, text.format(number=word), keep=True)
            else:
                await self.act(came, *option)
        elif (code := find_code(came.text)) is not None:
            await self.lookup(came, code)
        elif (invite := invite_code(came.text)) is not None:
            await self.redeem(came, invite)
        elif not came.text:
            await self.act(came, "menu", "")
        else:
            await self.search(came, self.services.centres.search(came.text))

    async def act(self, came: Incoming, kind: str, value: str) -> None:
        """Do what a menu option or a word asks for."""
        actions: dict[str, Callable[[Incoming, str], Awaitable[None]]] = {
            "menu": self.menu,
            "help": self.help,
            "ask_dossier": self.ask_dossier,
            "following": self.following,
            "ask_centre": self.ask_centre,
            "language": self.language,
            "follow": self.follow,
            "unfollow": self.unfollow,
            "commune": self.commune,
            "old": self.old_unit,
            "report": self.reports.start_action,
            "cancel": self.reports.cancel,
            "commune_reports": self.reports.commune_reports,
            "reopen": self.reports.reopen,
            "digest": self.digest,
        }
        await actions[kind](came, value)

    async def role(self, came: Incoming) -> Role:
        """The person's role, read afresh."""
        return (await self.services.roles.access(came.person)).role

    async def menu(self, came: Incoming, _value: str = "") -> None:
        """The main menu."""
        text, options = main_menu(came.t, await self.role(came))
        greeting = came.t.gettext(
            "Xin chào! Mình là Phục Vụ, trợ lý của các trung tâm phục vụ hành chính công tỉnh {province}."
        ).format(province=self.services.centres.directory.province.name)
        await self.reply(came, greeting + "\n\n" + text, options)

    async def help(self, came: Incoming, _value: str = "") -> None:
        """What the bot does, with the main menu."""
        text, options = main_menu(came.t, await self.role(came))
        await self.reply(came, help_text(came.t) + "\n\n" + text, options)

    async def ask_dossier(self, came: Incoming, _value: str = "") -> None:
        """Ask for a dossier code."""
        text = came.t.gettext("Nhắn mã hồ sơ in trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả, ví dụ: {example}")
        await self.reply(came, text.format(example=EXAMPLE))

    async def ask_centre(self, came: Incoming, _value: str = "") -> None:
        """Ask for a commune or an old address."""
        text = came.t.gettext(
            "Nhắn tên xã, phường (ví dụ: Hữu Lũng) hoặc địa chỉ cũ trước năm 2025 (ví dụ: xã Đồng Tân, huyện Hữu Lũng)."
        )
        await self.reply(came, text)

    async def language(self, came: Incoming, value: str) -> None:
        """Switch to the language named, or to the other one."""
        people, now = self.services.people, self.services.clock()
        if value in ("vi", "en"):
            language = await people.set_language(came.person, value, now)
        else:
            language = await people.toggle_language(came.person, now)
        t = translator(language)
        text, options = main_menu(t, await self.role(came))
        await self.reply(came, t.gettext("Đã chuyển sang Tiếng Việt.") + "\n\n" + text, options)

    async def lookup(self, came: Incoming, code: str) -> None:
        """Look a code up; offer to follow (or stop following) what was found."""
        result = await self.services.dossiers.lookup(came.person, code, self.services.clock())
        t = came.t
        if result.wait_until is not None:
            await self.reply(came, limited_text(result.wait_until, self.services.clock(), t))
        elif result.dossier is None:
            await self.reply(came, not_found_text(result.code, t))
        else:
            key = code_key(result.dossier.code)
            if result.following:
                hint, option = t.gettext("Nhắn 1 để bỏ theo dõi hồ sơ này."), ("unfollow", key)
            else:
                hint, option = t.gettext("Nhắn 1 để theo dõi và được báo khi hồ sơ thay đổi."), ("follow", key)
            await self.reply(came, render_lookup(result, came) + "\n\n" + hint, [option])

    async def follow(self, came: Incoming, key: str) -> None:
        """Follow a dossier chosen by number."""
        outcome = await self.services.dossiers.follow(came.person, key, self.services.clock())
        t = came.t
        answers = {
            "followed": t.gettext("⭐ Đã theo dõi. Bạn sẽ được báo khi hồ sơ thay đổi trạng thái."),
            "already": t.gettext("Bạn đã theo dõi hồ sơ này."),
            "full": t.gettext("Bạn đã theo dõi {limit} hồ sơ. Nhắn «theo dõi» để xem và bỏ bớt.").format(
                limit=MAX_FOLLOWS
            ),
            "missing": t.gettext("Không tìm thấy hồ sơ này nữa. Hãy tra cứu lại."),
            "limited": t.gettext("Bạn đã tra cứu nhiều lần liên tiếp. Vui lòng thử lại sau."),
        }
        await self.reply(came, answers[outcome], [])

    async def unfollow(self, came: Incoming, key: str) -> None:
        """Stop following a dossier chosen by number."""
        stopped = await self.services.dossiers.unfollow(came.person, key)
        t = came.t
        await self.reply(
            came, t.gettext("🔕 Đã bỏ theo dõi.") if stopped else t.gettext("Bạn không theo dõi hồ sơ này."), []
        )

    async def following(self, came: Incoming, _value: str = "") -> None:
        """The followed dossiers, each with a number that stops following it."""
        items = await self.services.dossiers.followed(came.person, self.services.clock())
        t = came.t
        if not items:
            text = t.gettext("Bạn chưa theo dõi hồ sơ nào. Nhắn mã một hồ sơ, rồi nhắn 1 để theo dõi hồ sơ đó.")
            await self.reply(came, text, [])
            return
        labels = [t.gettext("Bỏ theo dõi {code}").format(code=item.dossier.code) for item in items]
        text = render_followed(items, t) + "\n\n" + numbered(labels, t.gettext("Nhắn số để bỏ theo dõi:"))
        await self.reply(came, text, [("unfollow", code_key(item.dossier.code)) for item in items])

    async def search(self, came: Incoming, outcome: SearchOutcome) -> None:
        """A centre search's answer: one card, or numbered choices, or a helpful miss."""
        t = came.t
        if isinstance(outcome, Found):
            await self.commune(came, outcome.commune.code, via_text(outcome, t))
            return
        choices: tuple[Choice, ...] = ()
        if isinstance(outcome, Split):
            names = ", ".join(c.name for c in outcome.communes)
            prompt = t.gettext("ℹ️ {old} ({district} cũ) nay được chia cho: {names}. Chọn nơi bạn ở:").format(
                old=outcome.old.name, district=outcome.old.district_name, names=names
            )
            choices = tuple(Choice(commune=c) for c in outcome.communes)
        elif isinstance(outcome, District):
            prompt = t.gettext("ℹ️ {district} cũ nay thuộc các xã, phường dưới đây. Nhắn số để chọn:").format(
                district=outcome.name
            )
            choices = tuple(Choice(commune=c) for c in outcome.communes)
        elif not isinstance(outcome, NotFound):
            prompt = t.gettext("Bạn muốn tìm nơi nào? Nhắn số để chọn:")
            choices = outcome.options
        elif outcome.empty:
            await self.ask_centre(came)
            return
        else:
            text = t.gettext(
                "Không tìm thấy xã, phường nào như vậy ở tỉnh {province}. Hãy nhắn tên xã, phường, ví dụ: "
                "«Hữu Lũng», hoặc địa chỉ cũ, ví dụ: «xã Đồng Tân, huyện Hữu Lũng». Nhắn 0 để xem menu."
            ).format(province=self.services.centres.directory.province.name)
            await self.reply(came, text)
            return
        labels = [old_label(choice, t) for choice in choices]
        options = [
            ("commune", c.commune.code) if c.commune is not None else ("old", str(c.old.id if c.old else ""))
            for c in choices
        ]
        await self.reply(came, numbered(labels, prompt), options)

    async def commune(self, came: Incoming, code: str, via: str | None = None) -> None:
        """One centre's card, with a map link."""
        card = await self.services.centres.card(code)
        t = came.t
        if card is None:
            await self.reply(came, t.gettext("Không tìm thấy trung tâm này. Hãy tìm lại bằng tên xã, phường."))
            return
        text = render_card(card, t, via)
        if card.lat is not None and card.lon is not None:
            text += "\n" + t.gettext("🗺️ Bản đồ: {url}").format(url=maps_url(card.lat, card.lon))
        await self.reply(came, text, [])

    async def old_unit(self, came: Incoming, value: str) -> None:
        """A pre-2025 unit chosen by number."""
        outcome = self.services.centres.old_unit(int(value)) if value.isdigit() else None
        if outcome is None:
            await self.ask_centre(came)
            return
        await self.search(came, outcome)

    async def update_centre(self, came: Incoming, text: str) -> None:
        """`/capnhat FIELD VALUE` (as on Telegram): an official changes one detail of their own centre."""
        access = await self.services.roles.access(came.person)
        if access.role is not Role.OFFICIAL or access.commune_code is None:
            refusal = came.t.gettext("Cập nhật trung tâm dành cho cán bộ xã, phường. Nhắn 0 để xem menu.")
            await self.reply(came, refusal)
            return
        await self.reply(came, await apply_update(came, access.commune_code, text))

    async def digest(self, came: Incoming, _value: str = "") -> None:
        """Today's digest so far, for leaders and admins (the chart comes with the morning's)."""
        t, services = came.t, self.services
        if not (await services.roles.access(came.person)).is_one_of(Role.LEADER, Role.ADMIN):
            await self.reply(came, t.gettext("Tóm tắt dành cho lãnh đạo tỉnh. Nhắn 0 để xem menu."))
            return
        now = services.clock()
        built = await services.digest.build(now.astimezone(services.settings.timezone).date(), DAILY, None, now)
        await self.reply(came, "\n\n".join(services.digest.render(built, t)))

    async def redeem(self, came: Incoming, code: str) -> None:
        """An invite code typed in: the role it gives, or why it gives nothing."""
        roles, now = self.services.roles, self.services.clock()
        result = await roles.redeem(came.person, code, now)
        if result.outcome == "unknown" and code[0].isalpha():  # a phone's keyboard capitalised the first letter
            result = await roles.redeem(came.person, code[0].swapcase() + code[1:], now)
        t = came.t
        if result.role is None:
            refusal = UNKNOWN_INVITE if result.outcome == "unknown" else REFUSALS.get(result.outcome, UNKNOWN_INVITE)
            await self.reply(came, t.gettext(refusal))
            return
        text = granted_text(came, result.role, result.commune_code)
        if result.role is Role.LEADER:
            text += "\n" + t.gettext("Bạn sẽ nhận tóm tắt mỗi sáng và các cảnh báo khẩn tại đây.")
        menu_text, options = main_menu(t, result.role)
        await self.reply(came, text + "\n\n" + menu_text, options)


class ZaloNotifier:
    """Sends outbox messages on Zalo, rendered as on Telegram; Zalo's answers map to the same outcomes. A digest's
    chart goes as the URL of the bot's HTTP server where it has a public address (`PHUCVU_PUBLIC_URL`); without
    one the text alone is the digest."""

    channel = CHANNEL

    def __init__(self, client: ZaloClient, settings: Settings) -> None:
        self.client = client
        self.tz = settings.timezone
        self.settings = settings

    async def _send(self, message: OutgoingMessage) -> bool:
        chat = message.person.external_id
        if message.kind == "digest_chart":
            payload, settings = message.payload, self.settings
            key = settings.ingest_token.value if settings.http_port is not None else ""
            url = chart_url(settings.public_url, key, payload["kind"], payload["day"], payload["language"])
            if url is None:
                return False
            await self.client.send_photo(chat, url, str(payload.get("caption", "")), retries=0)
            return True
        render = RENDERERS.get(message.kind)
        if render is None:
            return False
        await self.client.send_text(chat, render(message.payload, translator(message.language), self.tz), retries=0)
        return True

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        """Render in the person's language and send (one try: the outbox decides when to try again)."""
        try:
            if not await self._send(message):
                return Delivery(Outcome.GONE, error=f"nothing to send on zalo for {message.kind}")
        except PartlySent as exc:  # sending it again would repeat what arrived
            return Delivery(Outcome.UNCERTAIN, error=str(exc))
        except ZaloError as exc:
            if exc.status == 429:
                return Delivery(Outcome.RETRY, exc.retry_after or 1.0, f"429 {exc.description}")
            if exc.retryable:
                return Delivery(Outcome.RETRY, error=f"{exc.status} {exc.description}")
            if exc.status == 401:  # the channel's token, not this message: keep it for when Zalo takes the token
                log.error("zalo refused the bot's token while sending: %s", exc)
                return Delivery(Outcome.RETRY, TOKEN_RETRY, f"401 {exc.description}")
            if exc.status == 403:
                return Delivery(Outcome.GONE, error=f"403 {exc.description}", blocked=True)
            return Delivery(Outcome.GONE, error=f"{exc.status} {exc.description}")
        except ZaloNetworkError as exc:
            return Delivery(Outcome.UNCERTAIN if exc.left else Outcome.RETRY, error=f"network {exc}")
        except Exception as exc:  # a notifier never raises: the row would stay claimed and never be settled
            log.exception("zalo: sending outbox message %s failed", message.id)
            return Delivery(Outcome.UNCERTAIN, error=f"{exc.__class__.__name__}: {exc}")
        return Delivery(Outcome.SENT)


class ZaloChannel:
    """Zalo in the bot's process: long polling, or the webhook (a route on the bot's HTTP server), feeding
    `ZaloChat` one update at a time; and the outbox's notifier for people on Zalo."""

    def __init__(self, services: Services, client: ZaloClient, wake: Callable[[], None] = lambda: None) -> None:
        self.client = client
        self.chat = ZaloChat(services, client, wake)
        self.notifier = ZaloNotifier(client, services.settings)
        self.settings = services.settings
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # webhook calls may overlap: updates are answered one at a time
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()  # recent message ids
        self._stopping = False
        self._waiting = False  # in getUpdates: stopping may cut the wait short

    async def start(self) -> None:
        """Check the token (a refused one stops the bot, as a bad Telegram token does), then register the webhook,
        or drop any webhook and start polling."""
        try:
            await self.client.get_me()
        except ZaloError as exc:
            if exc.status in (401, 403, 404):
                raise ZaloTokenRefused(f"ZALO_BOT_TOKEN: Zalo refused the token ({exc})") from exc
            log.warning("zalo: getMe failed (%s); going on", exc)
        except ZaloNetworkError as exc:
            log.warning("zalo: Zalo did not answer getMe (%s); going on", exc)
        if self.settings.zalo_webhook_url:
            self._stopping = False
            self._task = asyncio.create_task(self._register(), name="zalo-webhook")
            return
        try:
            await self.client.delete_webhook()
        except (ZaloError, ZaloNetworkError) as exc:
            log.warning("zalo: could not remove a webhook before polling: %s", exc)
        self._stopping = False
        self._task = asyncio.create_task(self._poll(), name="zalo-polling")
        log.info("zalo: long polling")

    async def stop(self) -> None:
        """Stop polling: a wait for updates is cut short, an update being answered is finished first (it was
        already taken from Zalo, and would be lost); then close the client."""
        if self._task is not None:
            self._stopping = True
            if self._waiting:
                self._task.cancel()
            try:
                await asyncio.wait_for(self._task, STOP_GRACE)
            except (asyncio.CancelledError, TimeoutError):
                pass
            except Exception:
                log.exception("zalo: polling ended with an error")
            self._task = None
        await self.client.close()

    async def _register(self) -> None:
        """Register the webhook, trying again while Zalo is down or busy (a refusal, 4xx, is logged and ends it)."""
        self._waiting = True  # nothing is being answered here: stopping may cut it short
        pause = 1.0
        while not self._stopping:
            try:
                await self.client.set_webhook(self.settings.zalo_webhook_url, self.settings.zalo_webhook_secret.value)
            except ZaloError as exc:
                if not exc.retryable:
                    log.error("zalo: setWebhook refused (%s): no updates will come", exc)
                    return
                log.warning("zalo: setWebhook failed (%s); trying again in %.0f s", exc, pause)
            except ZaloNetworkError as exc:
                log.warning("zalo: setWebhook failed (%s); trying again in %.0f s", exc, pause)
            else:
                log.info("zalo: webhook at %s", self.settings.zalo_webhook_url)
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, 60.0)

    async def _poll(self) -> None:
        pause = 1.0
        while not self._stopping:
            self._waiting = True
            try:
                updates = await self.client.get_updates()
            except Exception as exc:  # whatever it is, polling goes on
                level = logging.ERROR if isinstance(exc, ZaloError) and exc.status == 401 else logging.WARNING
                log.log(level, "zalo: getUpdates failed (%s); trying again in %.0f s", exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 60.0)
                continue
            finally:
                self._waiting = False
            pause = 1.0
            for update in updates:
                if not self._again(update):
                    async with self._lock:
                        await self.chat.handle(update)  # never raises: it answers its own failures
                    self._answered(update)

    def webhook_path(self) -> str:
        """The path of ZALO_WEBHOOK_URL, where the bot's HTTP server takes Zalo's calls."""
        return urllib.parse.urlsplit(self.settings.zalo_webhook_url).path or "/"

    async def webhook(self, request: web.Request) -> web.Response:
        """A webhook call: the secret checked on every request, then the update (wrapped or not) answered."""
        given = request.headers.get("X-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), self.settings.zalo_webhook_secret.value.encode()):
            return web.json_response({"ok": False, "description": "forbidden"}, status=403)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"ok": False, "description": "the body is not JSON"}, status=400)
        update = parse_update(body)
        if update is not None and not self._again(update):
            async with self._lock:
                if not self._again(update):  # a repeat that waited for the lock while the first was answered
                    await self.chat.handle(update)
                    self._answered(update)
        return web.json_response({"ok": True})

    def _again(self, update: ZaloUpdate) -> bool:
        """Whether this message was answered already (a webhook call Zalo repeats after a slow answer)."""
        return bool(update.message_id) and update.message_id in self._seen

    def _answered(self, update: ZaloUpdate) -> None:
        """Remember an answered message's id (the most recent SEEN_LIMIT of them)."""
        if update.message_id:
            self._seen[update.message_id] = None
            if len(self._seen) > SEEN_LIMIT:
                self._seen.popitem(last=False)


VIETNAM = (8.0, 24.0, 102.0, 110.0)  # south, north, west, east: where a commune's problem can be
COORDINATES = re.compile(r"(-?\d{1,2}(?:[.,]\d+)?)\s*[,;\s]\s*(-?\d{1,3}(?:[.,]\d+)?)")


def _float(text: str) -> float:
    return float(text.replace(",", "."))


class ReportSteps:
    """An official's facility report on Zalo: the same steps and the same saved draft as on Telegram, answered with
    numbers and words; photos arrive as image URLs, and the URL is what is kept."""

    def __init__(self, chat: ZaloChat) -> None:
        self.chat = chat
        self.services = chat.services

    async def start_action(self, came: Incoming, _value: str = "") -> None:
        """The menu item or the word: begin a report."""
        await self.start(came)

    async def start(self, came: Incoming) -> None:
        """Begin (or begin again) a report; anyone but an official is told what they can do instead."""
        access = await self.services.roles.access(came.person)
        if access.role is not Role.OFFICIAL:
            text = came.t.gettext("Báo cáo khó khăn do cán bộ xã, phường gửi cho trung tâm của mình.")
            await self.chat.reply(came, text + " " + came.t.gettext("Nhắn 0 để xem menu."))
            return
        writing = await self.services.reports.write(came.person, Writing(Step.CATEGORY), self.services.clock())
        await self.ask(came, writing)

    async def ask(self, came: Incoming, writing: Writing) -> None:
        """The question of the step the official is at, with its numbers."""
        t, stop = came.t, came.t.gettext("Nhắn «hủy» để thôi.")
        if writing.step is Step.CATEGORY:
            labels = [t.gettext(category.name) for category in CATEGORIES.values()]
            prompt = t.gettext("Báo cáo khó khăn của trung tâm. Vấn đề thuộc loại nào? Nhắn số:")
            await self.chat.reply(came, numbered(labels, prompt) + "\n" + stop)
        elif writing.step is Step.DUPLICATE and writing.add_to is not None:
            text = t.gettext("Xã đã có báo cáo {number} đang mở về «{category}». Thêm vào báo cáo đó?").format(
                number=report_number(writing.add_to), category=t.gettext(CATEGORIES[writing.category].name)
            )
            labels = [
                t.gettext("Thêm vào {number}").format(number=report_number(writing.add_to)),
                t.gettext("Báo cáo mới"),
            ]
            await self.chat.reply(came, numbered(labels, text) + "\n" + stop)
        elif writing.step is Step.SEVERITY:
            labels = [t.gettext(name) for name in SEVERITIES.values()]
            await self.chat.reply(came, numbered(labels, t.gettext("Mức độ ảnh hưởng? Nhắn số:")) + "\n" + stop)
        elif writing.step is Step.DESCRIPTION:
            await self.chat.reply(
                came, t.gettext("Mô tả vấn đề trong một tin nhắn (đang thiếu gì, ảnh hưởng thế nào).")
            )
        elif writing.step is Step.PHOTOS:
            text = t.gettext("Gửi tối đa {count} ảnh, rồi nhắn «xong» (không có ảnh thì nhắn «xong» ngay).")
            await self.chat.reply(came, text.format(count=MAX_PHOTOS))
        elif writing.step is Step.LOCATION:
            text = t.gettext("Nhắn tọa độ nơi có vấn đề (ví dụ: 21.8537, 106.7615), hoặc nhắn «bỏ qua».")
            await self.chat.reply(came, text)
        elif writing.step is Step.REOPEN:
            text = t.gettext("Gửi một ảnh cho thấy {number} chưa được khắc phục, kèm ghi chú trong chú thích ảnh.")
            await self.chat.reply(came, text.format(number=report_number(writing.add_to or 0)) + "\n" + stop)
        else:
            confirm = t.gettext("Nhắn «gửi» để gửi báo cáo, «hủy» để thôi.")
            await self.chat.reply(came, summary(came, writing) + "\n\n" + confirm)

    async def answer(self, came: Incoming, writing: Writing, word: str, photo: str = "") -> None:
        """The official's message at their step; anything that does not fit the step asks the step again."""
        reports, now, t = self.services.reports, self.services.clock(), came.t
        number = int(word) if word.isdigit() and len(word) <= 2 else 0
        following: Writing | None = None
        try:
            if writing.step is Step.CATEGORY and 1 <= number <= len(CATEGORIES):
                category = list(CATEGORIES)[number - 1]
                duplicate = await reports.open_duplicate(came.person, category)
                step = Step.DUPLICATE if duplicate else Step.SEVERITY
                following = replace(writing, step=step, category=category, add_to=duplicate.id if duplicate else None)
            elif writing.step is Step.DUPLICATE and number in (1, 2):
                following = replace(writing, step=Step.SEVERITY, add_to=writing.add_to if number == 1 else None)
            elif writing.step is Step.SEVERITY and 1 <= number <= len(SEVERITIES):
                following = replace(writing, step=Step.DESCRIPTION, severity=list(SEVERITIES)[number - 1])
            elif writing.step is Step.DESCRIPTION and came.text:  # an image with a caption: both at once
                first: tuple[str, ...] = (photo,) if photo else ()
                following = replace(writing, step=Step.PHOTOS, description=came.text[:MAX_DESCRIPTION], photos=first)
            elif writing.step is Step.PHOTOS and photo:
                photos = (*writing.photos, photo)
                step = Step.LOCATION if len(photos) >= MAX_PHOTOS else Step.PHOTOS
                await reports.write(came.person, replace(writing, step=step, photos=photos), now)
                if step is Step.PHOTOS:
                    text = t.gettext("Đã nhận {count}/{most} ảnh. Gửi thêm, hoặc nhắn «xong».")
                    await self.chat.reply(came, text.format(count=len(photos), most=MAX_PHOTOS))
                    return
                following = replace(writing, step=Step.LOCATION, photos=photos)
            elif writing.step is Step.PHOTOS and word in DONE_WORDS:
                following = replace(writing, step=Step.LOCATION)
            elif writing.step is Step.LOCATION and word in SKIP_WORDS:
                following = replace(writing, step=Step.CONFIRM)
            elif writing.step is Step.LOCATION and (match := COORDINATES.fullmatch(came.text.strip())):
                lat, lon = _float(match[1]), _float(match[2])
                if VIETNAM[0] <= lat <= VIETNAM[1] and VIETNAM[2] <= lon <= VIETNAM[3]:
                    following = replace(writing, step=Step.CONFIRM, lat=lat, lon=lon)
            elif writing.step is Step.CONFIRM and word in SEND_WORDS:
                await self.send(came, writing)
                return
            elif writing.step is Step.REOPEN and photo and writing.add_to is not None:
                report = await reports.reopen(came.person, writing.add_to, came.text, photo, now)
                await reports.stop_writing(came.person)
                due = t.day(report.target_at.astimezone(self.services.settings.timezone))
                text = t.gettext("Đã mở lại {number}. Hạn khắc phục mới: {date}.")
                await self.chat.reply(came, text.format(number=report.number, date=due))
                return
            if following is not None:
                following = await reports.write(came.person, following, now)
        except (NotAllowed, ValueError):  # the role was taken away, or the report moved, meanwhile
            await reports.stop_writing(came.person)
            gone = N_("Báo cáo này không còn mở lại được. Nhắn 0 để xem menu.")
            if writing.step is not Step.REOPEN:
                gone = N_("Báo cáo này không còn gửi được. Nhắn 0 để xem menu.")
            await self.chat.reply(came, t.gettext(gone))
            return
        if following is None and (why := self.why_not(writing, photo, came.text, t)):
            await self.chat.reply(came, why, keep=True)
        await self.ask(came, following or writing)

    @staticmethod
    def why_not(writing: Writing, photo: str, text: str, t: Translator) -> str | None:
        """Why a message did not answer its step, where that is not plain from the question asked again."""
        if writing.step is Step.DESCRIPTION and photo:
            return t.gettext("Hãy mô tả vấn đề bằng chữ (hoặc gửi ảnh kèm chú thích là lời mô tả).")
        if writing.step is Step.LOCATION and photo:
            return t.gettext("Đã đủ {most} ảnh; ảnh này không được thêm.").format(most=MAX_PHOTOS)
        if writing.step is Step.LOCATION and any(char.isdigit() for char in text):
            return t.gettext("Tọa độ chưa đúng: cần vĩ độ và kinh độ của một nơi ở Việt Nam.")
        if photo and writing.step is not Step.REOPEN:
            return t.gettext("Ảnh chỉ nhận ở bước gửi ảnh.")
        return None

    async def send(self, came: Incoming, writing: Writing) -> None:
        """File the report (or add it to the open one) and say where it stands."""
        reports, t = self.services.reports, came.t
        try:
            done = await reports.submit(came.person, writing.draft(), writing.add_to, self.services.clock())
        except NotAllowed:
            await reports.stop_writing(came.person)
            await self.chat.reply(came, t.gettext("Báo cáo này không còn gửi được. Nhắn 0 để xem menu."))
            return
        await reports.stop_writing(came.person)
        if done.report.severity == "blocking":
            self.chat.wake()  # the leaders' alert goes now
        await self.chat.reply(came, submitted_text(done, t, self.services.settings.timezone), [])

    async def commune_reports(self, came: Incoming, _value: str = "") -> None:
        """An official's commune's reports, with a number to reopen each one marked fixed."""
        access = await self.services.roles.access(came.person)
        t, now = came.t, self.services.clock()
        if access.role is not Role.OFFICIAL:
            await self.chat.reply(came, t.gettext("Danh sách báo cáo dành cho cán bộ xã, phường. Nhắn 0 để xem menu."))
            return
        reports, more = await self.services.reports.of_my_commune(came.person)
        if not reports:
            await self.chat.reply(came, t.gettext("Không có báo cáo nào."), [])
            return
        lines = [report_line(report, came, now) for report in reports]
        if more > 0:
            lines.append(t.gettext("… và {count} báo cáo cũ hơn.").format(count=more))
        fixed = [report for report in reports if report.state is State.FIXED]
        if fixed:
            labels = [t.gettext("↩️ {number} chưa khắc phục").format(number=report.number) for report in fixed]
            lines += ["", numbered(labels, t.gettext("Nhắn số để mở lại một báo cáo đã báo khắc phục:"))]
        await self.chat.reply(came, "\n".join(lines), [("reopen", str(report.id)) for report in fixed])

    async def reopen(self, came: Incoming, value: str) -> None:
        """Begin reopening a fixed report chosen by number."""
        reports = self.services.reports
        try:
            report = await reports.fixed_of_my_commune(came.person, int(value))
        except (NotAllowed, ValueError):
            await self.chat.reply(came, came.t.gettext("Báo cáo này không còn mở lại được. Nhắn 0 để xem menu."))
            return
        writing = await reports.write(came.person, Writing(Step.REOPEN, add_to=report.id), self.services.clock())
        await self.ask(came, writing)

    async def cancel(self, came: Incoming, _value: str = "") -> None:
        """Drop the report being written."""
        stopped = await self.services.reports.stop_writing(came.person)
        t = came.t
        await self.chat.reply(
            came,
            t.gettext("Đã hủy báo cáo đang viết.") if stopped else t.gettext("Không có việc gì đang làm dở để hủy."),
        )


DONE_WORDS = frozenset({"xong", "done", "het", "khong co anh", "khong anh"})
SKIP_WORDS = frozenset({"bo qua", "skip", "khong", "no"})
SEND_WORDS = frozenset({"gui", "send", "1", "ok", "dong y"})
