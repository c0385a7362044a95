"""The console channel: the real application and handlers, with the Bot API answered in-process.

`ConsoleRequest` stands where HTTP to Telegram would be: it prints what the bot sends and answers like the Bot
API would. The loop turns typed lines into updates, so everything behind them is the production code path.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
from telegram import Update
from telegram.request import RequestData

from bot.app import App, build_application, started
from bot.config import Secret, Settings
from bot.people import Person
from bot.roles import Role
from bot.telegram_http import InProcessRequest
from bot.zalo import IMAGE, STICKER, TEXT, ZaloClient, parse_update

CONSOLE_USER_ID = 1
BOT_USER = {"id": 1000, "is_bot": True, "first_name": "Phục Vụ", "username": "phucvu_console_bot"}

HELP = """Phục Vụ — console. Gõ như khi nhắn tin cho bot:
  văn bản hoặc /lệnh       gửi tin nhắn
  #N                       bấm nút thứ N dưới tin nhắn cuối
  :loc VĨ_ĐỘ KINH_ĐỘ       gửi vị trí (ví dụ :loc 21.85 106.76)
  :sticker                 gửi một sticker
  :quit                    thoát (hoặc Ctrl-D)"""


class ConsoleRequest(InProcessRequest):
    """Answers Bot API calls in-process: prints messages and remembers the last inline buttons."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self.buttons: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """Handle one Bot API method."""
        api_method = url.rsplit("/", 1)[-1]
        params: dict[str, Any] = dict(request_data.parameters) if request_data else {}
        result: Any = True
        if api_method == "getMe":
            result = BOT_USER
        elif api_method.startswith("send") or api_method.startswith("edit"):
            self._show(api_method, params)
            result = self._message(params)
        elif api_method == "answerCallbackQuery" and params.get("text"):
            self.write(f"💬 {params['text']}\n")
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": int(params.get("chat_id", CONSOLE_USER_ID)), "type": "private"},
            "from": BOT_USER,
        }
        if "text" in params:
            message["text"] = params["text"]
        return message

    def _show(self, api_method: str, params: dict[str, Any]) -> None:
        if api_method in ("sendVenue", "sendLocation"):
            lat, lon = params["latitude"], params["longitude"]
            title = f"{params.get('title', '')} — {params.get('address', '')}".strip(" —")
            self.write(f"📌 {title} ({lat:.5f}, {lon:.5f}) https://www.openstreetmap.org/?mlat={lat}&mlon={lon}")
        elif "text" in params or "caption" in params:
            self.write(str(params.get("text", params.get("caption", ""))))
        else:
            self.write(f"[{api_method}]")
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            self.buttons = [button for row in markup["inline_keyboard"] for button in row]
            labels = [b["text"] for b in self.buttons]
            self.write("  " + "   ".join(f"[#{i}] {label}" for i, label in enumerate(labels, start=1)))
        elif isinstance(markup, dict) and "keyboard" in markup:
            labels = [b["text"] if isinstance(b, dict) else b for row in markup["keyboard"] for b in row]
            self.write("  menu: " + " | ".join(labels))
        self.write("")


class ConsoleChat:
    """Turns typed lines into Telegram updates for one console user."""

    def __init__(self, request: ConsoleRequest) -> None:
        self.request = request
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)

    def _base(self) -> dict[str, Any]:
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": CONSOLE_USER_ID, "type": "private"},
            "from": {"id": CONSOLE_USER_ID, "is_bot": False, "first_name": "Console", "language_code": "vi"},
        }

    def update_for(self, line: str) -> dict[str, Any] | None:
        """The update a typed line stands for: None for a line not understood, {} for one handled here."""
        update: dict[str, Any] = {"update_id": next(self._update_ids)}
        if line.startswith("#") and line[1:].isdigit():
            index = int(line[1:]) - 1
            if not 0 <= index < len(self.request.buttons):
                return None
            button = self.request.buttons[index]
            if "url" in button:
                self.request.write(f"🔗 {button['url']}\n")
                return {}
            message = self._base() | {"from": BOT_USER, "text": "…"}
            update["callback_query"] = {
                "id": str(update["update_id"]),
                "from": self._base()["from"],
                "chat_instance": "console",
                "data": button.get("callback_data", ""),
                "message": message,
            }
        elif line.startswith(":loc"):
            try:
                lat, lon = (float(x) for x in line[4:].replace(",", " ").split())
            except ValueError:
                return None
            update["message"] = self._base() | {"location": {"latitude": lat, "longitude": lon}}
        elif line == ":sticker":
            sticker = {"file_id": "s", "file_unique_id": "s", "type": "regular", "width": 512, "height": 512}
            update["message"] = self._base() | {"sticker": sticker | {"is_animated": False, "is_video": False}}
        else:
            message = self._base() | {"text": line}
            if line.startswith("/"):
                length = len(line.split()[0])
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
            update["message"] = message
        return update


async def ensure_demo_data(settings: Settings, write: Callable[[str], None], days: int = 60) -> None:
    """Fill an empty database with demo dossiers, so that the console has something to look up."""
    from bot.app import open_services

    services = await open_services(settings, "console")
    try:
        if await services.dossiers.count() == 0:
            communes = list(services.centres.directory.communes.values())
            result, example = await services.dossiers.fill_demo(communes, services.clock(), seed=2025, days=days)
            write(f"(cơ sở dữ liệu mới: đã tạo {result.inserted} hồ sơ mẫu; thử tra mã {example})\n")
    finally:
        await services.db.close()


async def act_as(
    app: App, role: str, commune: str | None, write: Callable[[str], None], person: Person | None = None
) -> bool:
    """Give the console user a role for this session: admin in memory; official or leader through an invite
    redeemed at once (so the audit shows it). False, after saying why, when the commune is not one."""
    services = app.bot_data.services
    person = person or Person("console", str(CONSOLE_USER_ID))
    if role == "admin":
        services.roles.admins = services.roles.admins | {person}
        return True
    code = None
    if role == "official":
        code, problem = services.centres.commune_code(commune or "")
        if code is None:
            write(f"(--as official cần --commune TÊN_HOẶC_MÃ: {problem})\n")
            return False
    invite = await services.roles.invite(Role(role), code, "console", services.clock())
    await services.roles.redeem(person, invite.code, services.clock())
    return True


async def run_console(
    settings: Settings,
    lines: Callable[[], str] = input,
    write: Callable[[str], None] = print,
    demo_days: int = 60,
    role: str = "citizen",
    commune: str | None = None,
    channel: str = "telegram",
) -> bool:
    """Chat with the bot in the terminal until `:quit` or end of input (demo dossiers on first start), as a
    citizen or with `role`, on Telegram's surface or (`channel="zalo"`) Zalo's numbered menus; False if that role
    could not be given."""
    # The console is one local person: it never touches the real Zalo account (polling it would take citizens'
    # messages, and starting would remove the production webhook).
    settings = replace(settings, zalo_token=Secret(""), zalo_webhook_url="")
    await ensure_demo_data(settings, write, demo_days)
    if channel == "zalo":
        return await run_zalo_console(settings, lines, write, role, commune)
    request = ConsoleRequest(write)
    app = build_application(settings, request=request, channel="console")
    chat = ConsoleChat(request)
    write(HELP + "\n")
    async with started(app):
        if role != "citizen" and not await act_as(app, role, commune, write):
            return False
        greeting = chat.update_for("/start")
        assert greeting is not None
        await app.process_update(Update.de_json(greeting, app.bot))
        while True:
            try:
                line = (await asyncio.to_thread(lines)).strip()
            except EOFError:
                break
            if line == ":quit":
                break
            if not line:
                continue
            data = chat.update_for(line)
            if data is None:
                write("(không hiểu lệnh console này; xem hướng dẫn ở trên)\n")
                continue
            if not data:
                continue
            await app.process_update(Update.de_json(data, app.bot))
    sys.stdout.flush()
    return True


ZALO_HELP = """Phục Vụ — console Zalo. Gõ như khi nhắn tin cho bot trên Zalo (menu bằng số, không có nút):
  văn bản                  gửi tin nhắn (0: menu)
  :anh URL [chú thích]     gửi một ảnh (Zalo gửi ảnh dưới dạng đường dẫn)
  :sticker                 gửi một sticker
  :quit                    thoát (hoặc Ctrl-D)"""
CONSOLE_ZALO_ID = "console-zalo-user"


class ConsoleZaloAPI:
    """The Zalo Bot API answered in-process (an httpx transport): what the bot sends is printed, so the real
    client, its 2,000-character parts and the real Zalo surface are what the console runs."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self._ids = itertools.count(1)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one API call."""
        method = request.url.path.rsplit("/", 1)[-1]
        params = json.loads(request.content or b"{}")
        if method == "sendMessage":
            self.write(str(params.get("text", "")) + "\n")
        elif method == "sendPhoto":
            self.write(f"🖼️ {params.get('photo', '')}\n{params.get('caption', '')}\n")
        result = {"message_id": f"console{next(self._ids)}", "date": int(time.time() * 1000)}
        return httpx.Response(200, json={"ok": True, "result": result})

    def client(self, http: httpx.AsyncClient) -> ZaloClient:
        """The production Zalo client, talking to this console through `http`."""
        return ZaloClient("console", "http://console.invalid/bot", http=http)


def zalo_update_for(line: str) -> dict[str, Any] | None:
    """The Zalo update a typed line stands for (as the platform sends it), or None for a line not understood."""
    message: dict[str, Any] = {
        "message_id": f"line{time.monotonic_ns()}",
        "date": int(time.time() * 1000),
        "from": {"id": CONSOLE_ZALO_ID, "display_name": "Console", "is_bot": False},
        "chat": {"id": CONSOLE_ZALO_ID, "chat_type": "PRIVATE"},
    }
    if line.startswith(":anh"):
        url, _, caption = line[4:].strip().partition(" ")
        if not url.startswith(("http://", "https://")):
            return None
        return {"event_name": IMAGE, "message": message | {"photo_url": url, "caption": caption}}
    if line == ":sticker":
        return {"event_name": STICKER, "message": message | {"sticker": "console"}}
    if line.startswith(":"):
        return None
    return {"event_name": TEXT, "message": message | {"text": line}}


async def run_zalo_console(
    settings: Settings, lines: Callable[[], str], write: Callable[[str], None], role: str, commune: str | None
) -> bool:
    """The console as a Zalo user: the application without Telegram, the Zalo surface fed with typed lines."""
    from handlers.outbox import drain_outbox
    from handlers.zalo import ZaloChannel

    app = build_application(settings, channel="console", telegram=False)
    write(ZALO_HELP + "\n")
    async with started(app), httpx.AsyncClient(transport=httpx.MockTransport(ConsoleZaloAPI(write).handle)) as http:
        services, jobs = app.bot_data.services, app.job_queue
        assert jobs is not None

        def wake() -> None:
            jobs.run_once(drain_outbox, 0)

        channel = ZaloChannel(services, ConsoleZaloAPI(write).client(http), wake)
        app.bot_data.zalo = channel  # notifications for the console user go out through the console too
        try:
            if role != "citizen" and not await act_as(app, role, commune, write, Person("zalo", CONSOLE_ZALO_ID)):
                return False
            line = "menu"  # what a Zalo user sees first
            while line != ":quit":
                update = parse_update(zalo_update_for(line)) if line else None
                if update is not None:
                    await channel.chat.handle(update)
                elif line:
                    write("(không hiểu lệnh console này; xem hướng dẫn ở trên)\n")
                try:
                    line = (await asyncio.to_thread(lines)).strip()
                except EOFError:
                    break
        finally:
            app.bot_data.zalo = None
    sys.stdout.flush()
    return True
