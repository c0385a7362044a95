"""The console channel: one local person chatting in the terminal with the real conversations and services. Typed
lines become what a person sends; replies are printed as numbered text menus, as on Zalo. The application (services,
jobs, outbox) is the production one, without Telegram."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from bot.config import Settings
from bot.demo import demo_units, fill_demo
from bot.i18n import translator
from bot.outbox import Delivery, Outcome, OutgoingMessage
from bot.people import Person
from bot.procedures import load_sample
from bot.receipt import MAX_BYTES, ImageRefused, fetch_image
from bot.roles import Role
from bot.services import Services, open_services
from bot.text import clean
from bot.textmenu import keeping, remember, show
from handlers.chat import Incoming, Reply
from handlers.outbox import CHART, render

CHANNEL = "console"
PERSON = Person(CHANNEL, "1")

HELP = """Phục Vụ — console. Gõ như khi nhắn tin cho bot (menu bằng số, như trên Zalo):
  văn bản hoặc /lệnh       gửi tin nhắn (0: menu)
  :loc VĨ_ĐỘ KINH_ĐỘ       gửi vị trí (ví dụ :loc 21.85 106.76)
  :anh URL|TỆP [chú thích] gửi một ảnh (ví dụ ảnh chụp Giấy tiếp nhận hồ sơ: tra cứu mã QR trên đó)
  :sticker                 gửi một sticker
  :quit                    thoát (hoặc Ctrl-D)"""


def incoming(line: str, person: Person = PERSON) -> Incoming | None:
    """What a typed line sends, or None for a console command not understood."""
    if line.startswith(":loc"):
        try:
            lat, lon = (float(x) for x in line[4:].replace(",", " ").split())
        except ValueError:
            return None
        return Incoming(person, location=(lat, lon))
    if line.startswith(":anh"):
        where, _, caption = line[4:].strip().partition(" ")
        if where.startswith(("http://", "https://")) or Path(where).is_file():
            return Incoming(person, text=clean(caption), photo=where)
        return None
    if line == ":sticker":
        return Incoming(person, other=True)
    if line.startswith(":"):
        return None
    return Incoming(person, text=clean(line))


async def console_photo(where: str) -> bytes:
    """A photo sent from the console: a web address, or a file on this machine (at most MAX_BYTES)."""
    if where.startswith(("http://", "https://")):
        return await fetch_image(where)
    return await asyncio.to_thread(_read_file, Path(where))


def _read_file(path: Path) -> bytes:
    if not path.is_file() or path.stat().st_size > MAX_BYTES:
        raise ImageRefused(f"{path}: no such file, or too large")
    return path.read_bytes()


class Console:
    """Prints replies as numbered text and remembers what the numbers mean."""

    def __init__(self, services: Services, write: Callable[[str], None], person: Person = PERSON) -> None:
        self.services = services
        self.write = write
        self.person = person

    async def show(self, replies: list[Reply], language: str) -> None:
        """Print replies (a picture as a note of what it is), remembering their numbered options."""
        shown, options = show(replies, translator(language))
        await remember(self.services, self.person, options)
        for item in shown:
            if item.photo is not None:
                self.write(f"🖼️ {item.photo if isinstance(item.photo, str) else '(ảnh PNG)'}")
            self.write(item.text + "\n")


class ConsoleNotifier:
    """The outbox's notifier for the console's people: notifications are printed like replies, to their console."""

    channel = CHANNEL

    def __init__(self, *consoles: Console) -> None:
        self.consoles = {console.person: console for console in consoles}
        self.audience = tuple(person.external_id for person in self.consoles)  # never anyone else's messages

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        """Print the message (a chart as a note that there is one)."""
        console = self.consoles.get(message.person)
        if console is None:
            return Delivery(Outcome.GONE, error="nobody at the console")
        tz = console.services.settings.timezone
        reply = Reply(str(message.payload.get("caption", "")), photo=b"") if message.kind == CHART else None
        reply = reply or render(message, translator(message.language), tz)
        if reply is None:
            return Delivery(Outcome.GONE, error=f"nothing to print for {message.kind}")
        await console.show([keeping(reply)], message.language)
        return Delivery(Outcome.SENT)


async def ensure_demo_data(settings: Settings, write: Callable[[str], None], days: int = 60) -> None:
    """Fill an empty database with demo dossiers, so that the console has something to look up."""
    services = await open_services(settings)
    try:
        if await services.dossiers.count() == 0:
            communes, towns = demo_units(services.centres.directory)
            result, example = await fill_demo(
                services.dossiers.repo, communes, services.clock(), seed=2025, days=days, towns=towns
            )
            tip = f"; thử tra mã {example}" if example else ""
            write(f"(cơ sở dữ liệu mới: đã tạo {result.inserted} hồ sơ mẫu{tip})\n")
        if await load_sample(services.procedures, services.clock().isoformat()):
            write("(danh mục thủ tục mẫu để dùng thử: /thutuc)\n")
    finally:
        await services.db.close()


async def act_as(services: Services, role: str, commune: str | None, write: Callable[[str], None]) -> bool:
    """Give the console person a role for this session: admin in memory; official or leader through an invite
    redeemed at once (so the audit shows it). False, after saying why, when the commune is not one."""
    if role == "admin":
        services.roles.admins = services.roles.admins | {PERSON}
        return True
    code = None
    if role == "official":
        code, problem = services.centres.commune_code(commune or "")
        if code is None:
            write(f"(--as official cần --commune TÊN_HOẶC_MÃ: {problem})\n")
            return False
    invite = await services.roles.invite(Role(role), code, "console", services.clock())
    await services.roles.redeem(PERSON, invite.code, services.clock())
    return True


async def end_role(services: Services) -> None:
    """The console person's role lasts for the session: taken back at its end (audited), so that no digest or
    alert is queued for a console nobody reads."""
    for holder in await services.roles.holders():
        if holder.person == PERSON:
            await services.roles.revoke(holder.person_id, "console", services.clock(), holder.grant)
