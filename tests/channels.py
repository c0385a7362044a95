"""One way to talk to the bot on every channel, so that each scenario is written once and run on Telegram (the fake
Bot API), Zalo (the fake Zalo Bot API) and the console: people say things, choose among the options they were
shown, send photos and locations, and read what came back as `Msg` (text, the labels of its choices, the labels
of the main menu)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any

import pytest

from bot.app import App, build_application, started
from bot.chat import AWAIT_FOR
from bot.config import Secret, Settings
from bot.console import Console, ConsoleNotifier, incoming
from bot.people import Person
from bot.roles import Role
from bot.services import Services
from bot.textmenu import answer, plain
from tests.fakebotapi import TOKEN as TELEGRAM_TOKEN
from tests.fakebotapi import Call, FakeBotAPI, running
from tests.fakezaloapi import TOKEN as ZALO_TOKEN
from tests.fakezaloapi import FakeZaloAPI, ZaloCall

CHANNELS = ("telegram", "zalo", "console")
# The people of a scenario, by what they are; each channel has its own kind of ids.
WHO = ("citizen", "other", "official", "official2", "leader", "admin")
TELEGRAM_IDS = {name: 1001 + number for number, name in enumerate(WHO)}
ZALO_IDS = {name: f"{name}-zalo-{number:04x}" for number, name in enumerate(WHO)}
NUMBERED = re.compile(r"^(\d{1,2})\. (.+)$")


@dataclass
class Msg:
    """A message the bot sent: its text, the labels of its choices (emoji left out) and of the main menu shown."""

    text: str
    options: list[str] = field(default_factory=list)
    menu: list[str] = field(default_factory=list)
    photo: bool = False

    def has(self, label: str) -> bool:
        """Whether a choice's label contains `label`."""
        return any(label in option for option in self.options)


def text_msg(text: str, photo: bool = False) -> Msg:
    """A message of a text channel: the numbered lines after its last blank line are its choices (the main menu
    when the hint names the menu)."""
    lines = text.split("\n")
    tail = lines[len(lines) - lines[::-1].index("") :] if "" in lines else []
    numbered = [match[2] for line in tail if (match := NUMBERED.match(line))]
    is_menu = bool(tail) and ("0" in tail[-1] and ("menu" in tail[-1].lower()))
    return Msg(text, [] if is_menu else numbered, numbered if is_menu else [], photo)


class Chat:
    """A running bot on one channel, and its people."""

    channel = ""

    def __init__(self, app: App) -> None:
        self.app = app
        self.last: dict[str, list[Msg]] = {}

    @property
    def services(self) -> Services:
        """The running bot's services."""
        return self.app.bot_data.services

    def person(self, who: str) -> Person:
        """The person `who` is on this channel."""
        raise NotImplementedError

    async def give(self, who: str, role: Role, commune: str | None = None) -> None:
        """Give `who` a role, as an invite redeemed does."""
        services = self.services
        if role is Role.ADMIN:
            services.roles.admins = services.roles.admins | {self.person(who)}
            return
        made = await services.roles.invite(role, commune, "test", services.clock())
        await services.roles.redeem(self.person(who), made.code, services.clock())

    async def say(self, who: str, text: str, expect: int = 1) -> list[Msg]:
        """`who` sends a text; the bot's answers."""
        raise NotImplementedError

    async def choose(self, who: str, label: str, expect: int = 1) -> list[Msg]:
        """`who` chooses the option whose label contains `label` in the last answer that offered it."""
        raise NotImplementedError

    async def photo(self, who: str, caption: str = "", expect: int = 1) -> list[Msg]:
        """`who` sends a photo (with a caption)."""
        raise NotImplementedError

    async def location(self, who: str, lat: float, lon: float, expect: int = 1) -> list[Msg]:
        """`who` shares a location (where the channel can)."""
        raise NotImplementedError

    async def sticker(self, who: str, expect: int = 1) -> list[Msg]:
        """`who` sends a sticker."""
        raise NotImplementedError

    def mark(self, who: str) -> int:
        """A position in what `who` was sent, for `notified`."""
        raise NotImplementedError

    async def notified(self, who: str, since: int, count: int = 1) -> list[Msg]:
        """Wait for `count` messages the bot sent `who` on its own since `since` (what `who` saw last, then)."""
        raise NotImplementedError

    async def lapse(self) -> None:
        """Time passes: whatever anyone's next message was to answer (a code asked for, a comment) has lapsed."""
        long_ago = (self.services.clock() - AWAIT_FOR - timedelta(minutes=1)).isoformat()
        async with self.services.db.transaction() as conn:
            await conn.execute("UPDATE chat_state SET awaiting_at = ?", (long_ago,))

    def _remember(self, who: str, msgs: list[Msg]) -> list[Msg]:
        self.last[who] = msgs
        return msgs

    def _find(self, who: str, label: str) -> tuple[int, int]:
        """(index of the message in the last answer, index of the option) whose label contains `label`."""
        for m, msg in reversed(list(enumerate(self.last.get(who, [])))):
            for o, option in enumerate(msg.options):
                if label in option:
                    return m, o
        shown = [msg.options for msg in self.last.get(who, [])]
        raise AssertionError(f"no option {label!r} in what {who} was shown last: {shown}")


def _telegram_msg(call: Call) -> Msg:
    if call.method.lower() == "sendvenue":
        return Msg(f"📍 {call.params.get('title')} — {call.params.get('address')}")
    markup = call.reply_markup or {}
    inline = [b["text"] for row in markup.get("inline_keyboard", []) for b in row]
    keyboard = [b["text"] if isinstance(b, dict) else str(b) for row in markup.get("keyboard", []) for b in row]
    return Msg(call.text or "", [plain(label) for label in inline], keyboard, call.method.lower() == "sendphoto")


class TelegramChat(Chat):
    """Telegram, through the fake Bot API over HTTP."""

    channel = "telegram"

    def __init__(self, app: App, api: FakeBotAPI) -> None:
        super().__init__(app)
        self.api = api
        self.calls: dict[str, list[Call]] = {}

    def person(self, who: str) -> Person:
        return Person("telegram", str(TELEGRAM_IDS[who]))

    async def _converse(self, who: str, update: dict[str, Any], expect: int) -> list[Msg]:
        calls = await self.api.converse(update, expect, settle=0.05)
        calls = [call for call in calls if call.method.lower() != "answercallbackquery"]
        self.calls[who] = calls
        return self._remember(who, [_telegram_msg(call) for call in calls])

    async def say(self, who: str, text: str, expect: int = 1) -> list[Msg]:
        return await self._converse(who, self.api.make_text(TELEGRAM_IDS[who], text), expect)

    async def choose(self, who: str, label: str, expect: int = 1) -> list[Msg]:
        m, o = self._find(who, label)
        call = self.calls[who][m]
        buttons = [b for row in (call.reply_markup or {}).get("inline_keyboard", []) for b in row]
        data = buttons[o].get("callback_data")
        assert data is not None, f"{label!r} is a link, not a choice"
        message_id = call.result["message_id"] if isinstance(call.result, dict) else None
        return await self._converse(who, self.api.make_callback(TELEGRAM_IDS[who], data, message_id), expect)

    async def press(self, who: str, data: str, expect: int = 1) -> list[Msg]:
        """A button press with any data (a forged or stale one)."""
        return await self._converse(who, self.api.make_callback(TELEGRAM_IDS[who], data), expect)

    async def photo(self, who: str, caption: str = "", expect: int = 1) -> list[Msg]:
        number = len(self.api.calls)
        sizes = [{"file_id": f"photo-{number}", "file_unique_id": f"u{number}", "width": 800, "height": 600}]
        fields: dict[str, Any] = {"photo": sizes} | ({"caption": caption} if caption else {})
        return await self._converse(who, {"message": self.api.make_message(TELEGRAM_IDS[who], **fields)}, expect)

    async def location(self, who: str, lat: float, lon: float, expect: int = 1) -> list[Msg]:
        message = self.api.make_message(TELEGRAM_IDS[who], location={"latitude": lat, "longitude": lon})
        return await self._converse(who, {"message": message}, expect)

    async def sticker(self, who: str, expect: int = 1) -> list[Msg]:
        sticker = {"file_id": "s", "file_unique_id": "s", "type": "regular", "width": 512, "height": 512}
        sticker |= {"is_animated": False, "is_video": False, "emoji": "👍"}
        return await self._converse(who, {"message": self.api.make_message(TELEGRAM_IDS[who], sticker=sticker)}, expect)

    def mark(self, who: str) -> int:
        return self.api.mark()

    async def notified(self, who: str, since: int, count: int = 1) -> list[Msg]:
        calls = await self.api.wait_sent(TELEGRAM_IDS[who], count, since=since)
        self.calls[who] = calls
        return self._remember(who, [_telegram_msg(call) for call in calls])


class ZaloChat(Chat):
    """Zalo, through the fake Zalo Bot API over HTTP (long polling)."""

    channel = "zalo"

    def __init__(self, app: App, api: FakeZaloAPI) -> None:
        super().__init__(app)
        self.api = api

    def person(self, who: str) -> Person:
        return Person("zalo", ZALO_IDS[who])

    async def _wait(self, who: str, since: int, expect: int) -> list[Msg]:
        await self.api.wait_sent(ZALO_IDS[who], expect, since=since)
        await asyncio.sleep(0.05)
        return self._remember(who, [_zalo_msg(call) for call in self.api.sent(ZALO_IDS[who], since=since)])

    async def say(self, who: str, text: str, expect: int = 1) -> list[Msg]:
        since = self.api.mark()
        self.api.push_text(ZALO_IDS[who], text)
        return await self._wait(who, since, expect)

    async def choose(self, who: str, label: str, expect: int = 1) -> list[Msg]:
        m, o = self._find(who, label)
        before = sum(len(msg.options) for msg in self.last[who][:m])
        return await self.say(who, str(before + o + 1), expect)

    async def photo(self, who: str, caption: str = "", expect: int = 1) -> list[Msg]:
        since = self.api.mark()
        self.api.push_image(ZALO_IDS[who], f"https://photo.zalo.example/{since}.jpg", caption)
        return await self._wait(who, since, expect)

    async def location(self, who: str, lat: float, lon: float, expect: int = 1) -> list[Msg]:
        pytest.skip("Zalo's bots receive no locations")

    async def sticker(self, who: str, expect: int = 1) -> list[Msg]:
        since = self.api.mark()
        self.api.push_sticker(ZALO_IDS[who])
        return await self._wait(who, since, expect)

    def mark(self, who: str) -> int:
        return self.api.mark()

    async def notified(self, who: str, since: int, count: int = 1) -> list[Msg]:
        calls = await self.api.wait_sent(ZALO_IDS[who], count, since=since)
        return self._remember(who, [_zalo_msg(call) for call in calls])


def _zalo_msg(call: ZaloCall) -> Msg:
    return text_msg(call.text, call.method == "sendPhoto")


class ConsoleChat(Chat):
    """The console, in process: each person has a console of their own on the one application."""

    channel = "console"

    def __init__(self, app: App) -> None:
        super().__init__(app)
        self.out: dict[str, list[str]] = {who: [] for who in WHO}
        self.printed = asyncio.Event()  # set on every line a console prints
        self.consoles = {who: Console(self.services, self._writer(who), self.person(who)) for who in WHO}
        app.bot_data.notifiers.append(ConsoleNotifier(*self.consoles.values()))

    def _writer(self, who: str) -> Callable[[str], None]:
        def write(line: str) -> None:
            self.out[who].append(line)
            self.printed.set()

        return write

    def person(self, who: str) -> Person:
        return Person("console", str(WHO.index(who) + 1))

    async def _send(self, who: str, line: str) -> list[Msg]:
        came = incoming(line, self.person(who))
        assert came is not None, line
        since = len(self.out[who])
        data = self.app.bot_data
        effects_ = _effects(self.app)
        replies, language = await answer(data.services, came, effects_, locations=True, pictures=True)
        await self.consoles[who].show(replies, language)
        return self._remember(who, _printed(self.out[who][since:]))

    async def say(self, who: str, text: str, expect: int = 1) -> list[Msg]:
        return await self._send(who, text)

    async def choose(self, who: str, label: str, expect: int = 1) -> list[Msg]:
        m, o = self._find(who, label)
        before = sum(len(msg.options) for msg in self.last[who][:m])
        return await self._send(who, str(before + o + 1))

    async def photo(self, who: str, caption: str = "", expect: int = 1) -> list[Msg]:
        return await self._send(who, f":anh https://photo.example/{len(self.out[who])}.jpg {caption}".strip())

    async def location(self, who: str, lat: float, lon: float, expect: int = 1) -> list[Msg]:
        return await self._send(who, f":loc {lat} {lon}")

    async def sticker(self, who: str, expect: int = 1) -> list[Msg]:
        return await self._send(who, ":sticker")

    def mark(self, who: str) -> int:
        return len(self.out[who])

    async def notified(self, who: str, since: int, count: int = 1) -> list[Msg]:
        async with asyncio.timeout(5):
            while len(_printed(self.out[who][since:])) < count:
                self.printed.clear()
                await self.printed.wait()
        return self._remember(who, _printed(self.out[who][since:]))


def _effects(app: App) -> Any:
    from bot.app import drain_outbox
    from bot.console import console_photo
    from handlers.chat import Effects

    jobs: Any = app.job_queue
    return Effects(lambda: jobs.run_once(drain_outbox, 0), app.bot_data.reschedule, photo=console_photo)


def _printed(lines: list[str]) -> list[Msg]:
    """What a console printed, as messages (a picture note goes with the text after it)."""
    msgs, photo = [], False
    for line in lines:
        if line.startswith("🖼️ "):
            photo = True
            continue
        msgs.append(text_msg(line.removesuffix("\n"), photo))
        photo = False
    return msgs


@asynccontextmanager
async def chat_on(
    channel: str, settings: Settings, clock: Any = None, *, digest_at: time | None = time(23, 59), **options: Any
) -> AsyncIterator[Chat]:
    """A bot running on `channel` on a fresh database (`clock`: the bot's clock). The leaders' morning digest is due
    at `digest_at` (late at night unless a scenario is about it), so that none arrives in the middle of one."""
    if digest_at is not None:
        settings = replace(settings, digest_time=digest_at)
    kwargs: dict[str, Any] = {"clock": clock, "outbox_interval": 0.2, **options}
    if channel == "telegram":
        async with FakeBotAPI() as api:
            configured = replace(settings, telegram_token=Secret(TELEGRAM_TOKEN), telegram_api_base_url=api.base_url)
            async with running(build_application(configured, **kwargs)) as app:
                yield TelegramChat(app, api)
    elif channel == "zalo":
        async with FakeZaloAPI() as api:
            configured = replace(settings, zalo_token=Secret(ZALO_TOKEN), zalo_api_base_url=api.base_url)
            app = build_application(configured, telegram=False, **kwargs)
            async with started(app):
                yield ZaloChat(app, api)
    else:
        app = build_application(settings, telegram=False, zalo=False, **kwargs)
        async with started(app):
            yield ConsoleChat(app)


NOW = datetime.fromisoformat("2025-08-04T03:00:00+00:00")  # 10:00 on a Monday in Lạng Sơn


async def from_menu(chat: Chat, who: str, label: str, expect: int = 1) -> list[Msg]:
    """`who` chooses the main-menu item whose label contains `label` in the last answer that showed the menu: on
    Telegram a keyboard button sends its label; text channels take its number."""
    before = 0
    found: tuple[int, str] | None = None
    for msg in chat.last.get(who, []):
        for number, item in enumerate(msg.menu, start=before + 1):
            if label in item:
                found = number, item
        before += len(msg.options) + len(msg.menu)
    assert found is not None, f"no menu item {label!r} in what {who} was shown last"
    number, item = found
    return await chat.say(who, item if chat.channel == "telegram" else str(number), expect)


def received(chat: Chat, who: str, since: int) -> list[Msg]:
    """Everything the bot sent `who` since `since` (a `mark`), answers and notifications alike: to tell that
    something came once, not twice."""
    if isinstance(chat, TelegramChat):
        return [_telegram_msg(call) for call in chat.api.sent(TELEGRAM_IDS[who], since=since)]
    if isinstance(chat, ZaloChat):
        return [_zalo_msg(call) for call in chat.api.sent(ZALO_IDS[who], since=since)]
    assert isinstance(chat, ConsoleChat)
    return _printed(chat.out[who][since:])
