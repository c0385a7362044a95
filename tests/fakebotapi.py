"""A fake Telegram Bot API HTTP server (aiohttp) for end-to-end tests of PTB bots.

Typical use::

    async with FakeBotAPI() as api:
        app = Application.builder().token(TOKEN).base_url(api.base_url).build()
        app.add_handler(...)
        async with running(app):
            replies = await api.say(42, "/start")
            assert replies[0].text == "..."

The bot talks plain HTTP to 127.0.0.1; every Bot API call is recorded in
``api.calls``. Updates are queued with ``push_*`` and served by ``getUpdates``.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import re
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from aiohttp import web
from telegram.ext import Application, ApplicationBuilder

if TYPE_CHECKING:
    from types import TracebackType

__all__ = [
    "BOT_ID",
    "BOT_USERNAME",
    "TOKEN",
    "Call",
    "FakeBotAPI",
    "UploadedFile",
    "app_builder",
    "chat_of",
    "initialize",
    "measure_throughput",
    "running",
]

JSONDict = dict[str, Any]

BOT_ID = 999999
LIMIT_OVERALL = 30  # messages in any second, to all chats (Telegram's limit for a bot)
LIMIT_PER_CHAT = 1.0  # seconds between two messages to one chat
_SENDING = frozenset({"sendmessage", "sendphoto", "sendlocation", "sendvenue", "senddocument", "sendmediagroup"})
BOT_USERNAME = "phucvu_test_bot"
#: A syntactically valid token whose bot id matches :data:`BOT_ID`.
TOKEN = f"{BOT_ID}:AAFakeTokenForPhucVuTests-0123456789ab"

#: Methods counted as "messages sent to a chat" by :meth:`FakeBotAPI.sent`.
SEND_PREFIXES = ("send", "edit")
#: ...except these, which produce no message.
NOT_MESSAGES = frozenset({"sendchataction"})

# Parameters that are free text: never JSON-decoded (a text "123" stays a str).
_TEXT_KEYS = frozenset(
    {
        "text",
        "caption",
        "title",
        "address",
        "description",
        "short_description",
        "name",
        "first_name",
        "last_name",
        "phone_number",
        "vcard",
        "question",
        "explanation",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "query",
        "emoji",
        "action",
        "foursquare_id",
        "foursquare_type",
        "google_place_id",
        "google_place_type",
        "business_connection_id",
        "message_effect_id",
        "secret_token",
        "file_name",
        "language_code",
    }
)

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: bad request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
}

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply "
    "markup are exactly the same as a current content and reply markup of the message"
)

_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    }
)
_HTML_TOKEN = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^<>]*>|<")


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part received in a multipart request."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Call:
    """One recorded Bot API call.

    ``params`` are decoded (ints, dicts, lists; uploads as :class:`UploadedFile`).
    ``result`` is what the fake answered (``None`` until known), ``status`` the HTTP status,
    ``content_type`` how the body came (form, multipart or JSON; empty without a body).
    """

    method: str
    params: dict[str, Any]
    result: Any = field(default=None, compare=False, repr=False)
    status: int = field(default=200, compare=False)
    content_type: str = field(default="", compare=False)

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.status == 200

    @property
    def chat_id(self) -> Any:
        """The ``chat_id`` parameter, if any."""
        return self.params.get("chat_id")

    @property
    def text(self) -> str | None:
        """The ``text`` or ``caption`` parameter, if any."""
        value = self.params.get("text", self.params.get("caption"))
        return value if isinstance(value, str) else None

    @property
    def reply_markup(self) -> JSONDict | None:
        """The decoded ``reply_markup`` parameter, if any."""
        value = self.params.get("reply_markup")
        return value if isinstance(value, dict) else None

    @property
    def buttons(self) -> list[list[JSONDict]]:
        """Rows of inline (or reply) keyboard buttons; ``[]`` if none."""
        markup = self.reply_markup or {}
        rows: list[list[Any]] = markup.get("inline_keyboard") or markup.get("keyboard") or []
        return [[b if isinstance(b, dict) else {"text": b} for b in row] for row in rows]

    @property
    def is_message(self) -> bool:
        """Whether this is a successful send*/edit* call that produced or edited a message."""
        name = self.method.lower()
        return self.ok and name.startswith(SEND_PREFIXES) and name not in NOT_MESSAGES

    def describe(self) -> str:
        """One-line summary for failure messages."""
        shown = {k: v for k, v in self.params.items() if k != "reply_markup"}
        extra = "" if self.ok else f" -> {self.status}"
        return f"{self.method}({shown}){extra}"


class _ApiError(Exception):
    """Raised by method handlers to answer with a Telegram error."""

    def __init__(self, status: int, description: str, retry_after: int | None = None, html: bool = False) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after
        self.html = html  # answered as a proxy in front of Telegram would: an HTML page, not JSON

    def payload(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass(slots=True)
class _Failure:
    status: int
    description: str
    retry_after: int | None
    remaining: int
    html: bool = False
    chat: int | None = None


@dataclass(slots=True, eq=False)
class _Waiter:
    feed: Callable[[Call], bool]
    future: asyncio.Future[None]


def _decode_value(key: str, value: str) -> Any:
    """Undo PTB's per-parameter JSON encoding (str values are sent raw)."""
    if not value or key in _TEXT_KEYS:
        return value
    first = value[0]
    if first in '{["-' or first.isdigit() or value in ("true", "false", "null"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _html_to_text(text: str) -> str:
    """Validate Telegram-HTML like the real API and return the plain text."""
    stack: list[str] = []
    for m in _HTML_TOKEN.finditer(text):
        offset = len(text[: m.start()].encode())
        if m.group(2) is None:
            raise _ApiError(
                400,
                f'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset {offset}',
            )
        closing, tag = m.group(1) == "/", m.group(2).lower()
        if tag not in _HTML_TAGS:
            kind = "end" if closing else "start"
            raise _ApiError(
                400,
                f'Bad Request: can\'t parse entities: Unsupported {kind} tag "{tag}" at byte offset {offset}',
            )
        if not closing:
            stack.append(tag)
        elif not stack or stack.pop() != tag:
            raise _ApiError(
                400,
                f"Bad Request: can't parse entities: Unexpected end tag at byte offset {offset}",
            )
    if stack:
        raise _ApiError(
            400,
            f"Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1]}\"",
        )
    return html.unescape(_HTML_TOKEN.sub("", text))


def chat_of(update: Mapping[str, Any]) -> int | None:
    """The chat id an update belongs to (message chat, else the sender's id)."""
    for value in update.values():
        if not isinstance(value, dict):
            continue
        msg = value.get("message") if "chat_instance" in value else value
        if isinstance(msg, dict) and isinstance(msg.get("chat"), dict):
            return int(msg["chat"]["id"])
        sender = value.get("from")
        if isinstance(sender, dict):
            return int(sender["id"])
    return None


async def serve_locally(app: web.Application, shutdown_timeout: float = 0.5) -> tuple[web.AppRunner, int]:
    """Serve a fake's application on 127.0.0.1, on a free port: its runner and the port."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    return runner, int(sock.getsockname()[1])


class FakeBotAPI:
    """In-process fake of the Telegram Bot API (long polling only).

    Args:
        token: if given, requests with another token get 401 (default: accept any).
        strict: emulate Telegram's 400 errors (empty/too long text, bad HTML, editing a
            missing message, "message is not modified", deleting a missing message).
    """

    def __init__(self, *, token: str | None = None, strict: bool = True, enforce_limits: bool = False) -> None:
        self.token = token
        self.strict = strict
        # Telegram's limits for sending, enforced as a 429 when `enforce_limits`: 30 messages in any second
        # overall, one a second to a chat (counted when a message arrives).
        self.enforce_limits = enforce_limits
        self._sent_at: deque[float] = deque(maxlen=LIMIT_OVERALL)
        self._chat_sent_at: dict[Any, float] = {}
        self.limited = 0  # 429s answered for the limits
        self.bot_user: JSONDict = {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Phục Vụ",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.calls: list[Call] = []
        #: setMyCommands state: (scope as JSON, language_code) -> commands.
        self.my_commands: dict[tuple[str, str], list[JSONDict]] = {}
        #: Files the bot can fetch (getFile, then GET /file/bot<token>/<path>): file_id -> content.
        self.files: dict[str, bytes] = {}
        #: setChatMenuButton state: chat_id (None = default) -> menu button.
        self.menu_buttons: dict[int | None, JSONDict] = {}
        self._pending: deque[JSONDict] = deque()
        self._next_update_id = 1
        self._delivered_upto = 0
        self._msg_ids: dict[int, int] = {}
        self._chats: dict[int, dict[int, JSONDict]] = {}  # chat_id -> message_id -> message
        self._users: dict[int, tuple[str, str]] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        self._drops: dict[str, int] = {}
        self._holds: dict[str, deque[tuple[asyncio.Event, asyncio.Event]]] = {}
        self._blocked: set[int] = set()
        self._waiters: list[_Waiter] = []
        self._delivery_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._update_event = asyncio.Event()
        self._poll_generation = 0
        self._closing = False
        self._file_seq = 0
        self._callback_seq = 0
        self._answered: set[str] = set()
        self._runner: web.AppRunner | None = None
        self._port = 0
        # Webhook delivery, as Telegram does it: set by setWebhook (url, secret_token); each update POSTed until a
        # 200, one at a time per chat, chats in parallel. `webhook_targets` replaces the URL with the addresses
        # behind it (a load balancer: round robin, the next one when a call fails). `webhook_calls` counts the
        # calls per update_id, `webhook_answered` the update_ids that got a 200.
        self.webhook: JSONDict = {}
        self.webhook_targets: list[str] = []
        self.webhook_retry = 0.1
        self.webhook_connections = 40  # calls at once at most (Telegram's default max_connections)
        self.webhook_calls: dict[int, int] = {}
        self.webhook_answered: list[int] = []
        self.webhook_updates: list[JSONDict] = []  # every update delivered through the webhook
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_busy: set[Any] = set()
        self._webhook_turn = 0
        self._handlers: dict[str, Callable[[JSONDict], Any]] = {
            "getme": lambda _p: self.bot_user,
            "getfile": self._get_file,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": lambda _p: {
                "url": self.webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._pending),
            },
            "setmycommands": self._set_my_commands,
            "deletemycommands": self._delete_my_commands,
            "getmycommands": self._get_my_commands,
            "setchatmenubutton": self._set_chat_menu_button,
            "getchatmenubutton": self._get_chat_menu_button,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagecaption": self._edit_message_caption,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "answercallbackquery": self._answer_callback_query,
            "sendlocation": self._send_location,
            "sendvenue": self._send_venue,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "sendsticker": self._send_sticker,
            "sendchataction": lambda _p: True,
            "deletemessage": self._delete_message,
            "sendmediagroup": self._send_media_group,
            "copymessage": lambda p: {"message_id": self._bot_message(p)["message_id"]},
            "forwardmessage": self._send_other,
            "close": lambda _p: True,
            "logout": lambda _p: True,
        }

    def forget(self) -> None:
        """Drop the recorded calls and chat histories (ids keep counting): for long benchmark runs."""
        self.calls.clear()
        self._chats.clear()
        self._answered.clear()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Serve on 127.0.0.1 on a free port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner, self._port = await serve_locally(app, shutdown_timeout=1.0)
        self._closing = False

    async def stop(self) -> None:
        """Release pending long polls and shut the server down."""
        self._closing = True
        self._update_event.set()
        if self._webhook_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._webhook_task, 5)
            self._webhook_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port (0 before :meth:`start`)."""
        return self._port

    @property
    def base_url(self) -> str:
        """Value for ``ApplicationBuilder.base_url``; PTB appends ``TOKEN/method``."""
        return f"http://127.0.0.1:{self._port}/bot"

    # ------------------------------------------------------------------ updates

    def _user(self, user_id: int, first_name: str | None, language_code: str | None) -> JSONDict:
        known_name, known_lang = self._users.get(user_id, ("An", "vi"))
        name = first_name if first_name is not None else known_name
        lang = language_code if language_code is not None else known_lang
        self._users[user_id] = (name, lang)
        return {"id": user_id, "is_bot": False, "first_name": name, "language_code": lang}

    def _chat(self, chat_id: int) -> JSONDict:
        if chat_id > 0:
            name = self._users.get(chat_id, ("An", "vi"))[0]
            return {"id": chat_id, "type": "private", "first_name": name}
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": kind, "title": f"Group {chat_id}"}

    def _store(self, message: JSONDict) -> None:
        self._chats.setdefault(int(message["chat"]["id"]), {})[int(message["message_id"])] = message

    def _get(self, chat_id: int, message_id: int) -> JSONDict | None:
        return self._chats.get(chat_id, {}).get(message_id)

    def _new_message_id(self, chat_id: int) -> int:
        value = self._msg_ids.get(chat_id, 0) + 1
        self._msg_ids[chat_id] = value
        return value

    def make_message(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        language_code: str | None = None,
        **fields: Any,
    ) -> JSONDict:
        """Build (and store) a user's message in their private chat; ``fields`` are merged in.

        ``first_name``/``language_code`` default to what this user last used ("An", "vi").
        """
        user = self._user(user_id, first_name, language_code)
        message: JSONDict = {
            "message_id": self._new_message_id(user_id),
            "from": user,
            "chat": self._chat(user_id),
            "date": int(time.time()),
            **fields,
        }
        self._store(message)
        return message

    def make_text(
        self,
        user_id: int,
        text: str,
        *,
        language_code: str | None = None,
        first_name: str | None = None,
    ) -> JSONDict:
        """Build a text-message update (not queued); commands get a ``bot_command`` entity."""
        fields: JSONDict = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0] if text.strip() else text
            fields["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
        message = self.make_message(user_id, first_name=first_name, language_code=language_code, **fields)
        return {"message": message}

    def make_callback(
        self,
        user_id: int,
        data: str,
        message_id: int | None = None,
        *,
        language_code: str | None = None,
        first_name: str | None = None,
    ) -> JSONDict:
        """Build a callback_query update pressing a button on a bot message.

        ``message_id`` defaults to the last message the bot sent to this user; if the
        bot never sent one, a placeholder bot message is created.
        """
        message = self.last_bot_message(user_id) if message_id is None else self._get(user_id, message_id)
        if message is None:
            mid = message_id if message_id is not None else self._new_message_id(user_id)
            self._msg_ids[user_id] = max(self._msg_ids.get(user_id, 0), mid)
            message = {
                "message_id": mid,
                "from": self.bot_user,
                "chat": self._chat(user_id),
                "date": int(time.time()),
                "text": "…",
            }
            self._store(message)
        self._callback_seq += 1
        query: JSONDict = {
            "id": str(10**12 + self._callback_seq),
            "from": self._user(user_id, first_name, language_code),
            "chat_instance": str(user_id * 7 + 1),
            "data": data,
            "message": message,
        }
        return {"callback_query": query}

    def push_raw(self, update: JSONDict) -> JSONDict:
        """Queue an update; assigns ``update_id`` if missing. Returns the update."""
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, int(update["update_id"])) + 1
        self._pending.append(update)
        self._update_event.set()
        return update

    def push_text(
        self,
        user_id: int,
        text: str,
        *,
        language_code: str | None = None,
        first_name: str | None = None,
    ) -> JSONDict:
        """Queue a private text message (commands carry a ``bot_command`` entity)."""
        return self.push_raw(self.make_text(user_id, text, language_code=language_code, first_name=first_name))

    def push_message(self, user_id: int, **fields: Any) -> JSONDict:
        """Queue an arbitrary private message, e.g. ``push_message(1, contact={...})``."""
        return self.push_raw({"message": self.make_message(user_id, **fields)})

    def push_location(self, user_id: int, lat: float, lon: float) -> JSONDict:
        """Queue a location message."""
        return self.push_message(user_id, location={"latitude": lat, "longitude": lon})

    def push_sticker(self, user_id: int, *, emoji: str = "👍") -> JSONDict:
        """Queue a (regular, static) sticker message."""
        self._file_seq += 1
        sticker = {
            "file_id": f"CAACAgIAAxkBAAFakeSticker{self._file_seq}",
            "file_unique_id": f"AgADFakeSticker{self._file_seq}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "set_name": "PhucVuTestStickers",
            "file_size": 12345,
        }
        return self.push_message(user_id, sticker=sticker)

    def push_edited_text(self, user_id: int, text: str, message_id: int | None = None) -> JSONDict:
        """Queue an ``edited_message`` (default: the user's last message in the chat)."""
        original: JSONDict | None = None
        if message_id is None:
            own = [m for m in self._chats.get(user_id, {}).values() if m["from"]["id"] == user_id]
            original = own[-1] if own else None
        else:
            original = self._get(user_id, message_id)
        if original is None:
            original = self.make_message(user_id, text=text)
        edited = {**original, "text": text, "edit_date": int(time.time())}
        edited.pop("entities", None)
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            edited["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
        self._store(edited)
        return self.push_raw({"edited_message": edited})

    def push_callback(self, user_id: int, data: str, message_id: int | None = None) -> JSONDict:
        """Queue a callback query (see :meth:`make_callback`)."""
        return self.push_raw(self.make_callback(user_id, data, message_id))

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        return len(self._pending)

    # ------------------------------------------------------------------ inspection

    def messages(self, chat_id: int) -> list[JSONDict]:
        """Current (edited, not deleted) messages of a chat, oldest first."""
        return sorted(self._chats.get(chat_id, {}).values(), key=lambda m: int(m["message_id"]))

    def last_bot_message(self, chat_id: int) -> JSONDict | None:
        """The newest message the bot sent to the chat, if any."""
        own = [m for m in self._chats.get(chat_id, {}).values() if m["from"]["id"] == BOT_ID]
        return max(own, key=lambda m: int(m["message_id"]), default=None)

    def mark(self) -> int:
        """A position in :attr:`calls`, for ``since=`` arguments."""
        return len(self.calls)

    def called(self, method: str, *, since: int = 0) -> list[Call]:
        """Recorded calls of one method (case-insensitive)."""
        name = method.lower()
        return [c for c in self.calls[since:] if c.method.lower() == name]

    def sent(self, chat_id: int | str | None = None, *, since: int = 0) -> list[Call]:
        """Successful send*/edit* calls (sendChatAction excluded), optionally to one chat."""
        want = None if chat_id is None else str(chat_id)
        return [c for c in self.calls[since:] if c.is_message and (want is None or str(c.chat_id) == want)]

    def _format_calls(self, since: int = 0) -> str:
        shown = [c for c in self.calls[since:] if c.method != "getUpdates"][-40:]
        lines = "\n".join(f"  {c.describe()}" for c in shown)
        return f"recorded calls (getUpdates omitted):\n{lines or '  <none>'}"

    async def _wait(
        self,
        feed: Callable[[Call], bool],
        since: int,
        seconds: float,
        what: str,
    ) -> None:
        for call in self.calls[since:]:
            if feed(call):
                return
        waiter = _Waiter(feed, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(seconds):
                await waiter.future
        except TimeoutError:
            raise AssertionError(
                f"timed out after {seconds}s waiting for {what}\n{self._format_calls(since)}"
            ) from None
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    async def wait_for(
        self,
        predicate: Callable[[Call], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        since: int = 0,
        what: str = "a matching call",
    ) -> Call:
        """Wait for a recorded call (at index >= ``since``) matching ``predicate``."""
        found: list[Call] = []

        def feed(call: Call) -> bool:
            if predicate(call):
                found.append(call)
                return True
            return False

        await self._wait(feed, since, timeout, what)
        return found[0]

    async def wait_sent(
        self,
        chat_id: int | str | None,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        since: int = 0,
    ) -> list[Call]:
        """Wait until ``count`` messages (see :meth:`sent`) went to the chat after ``since``.

        ``chat_id=None`` counts messages to any chat. Returns the first ``count``.
        """
        want = None if chat_id is None else str(chat_id)
        found: list[Call] = []

        def feed(call: Call) -> bool:
            if call.is_message and (want is None or str(call.chat_id) == want):
                found.append(call)
            return len(found) >= count

        if count <= 0:
            return []
        await self._wait(feed, since, timeout, f"{count} message(s) to chat {chat_id}")
        return found[:count]

    async def wait_delivered(self, update: Mapping[str, Any], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until the bot fetched ``update`` via getUpdates."""
        update_id = int(update["update_id"])
        if self._delivered_upto >= update_id:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (update_id, future)
        self._delivery_waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                await future
        except TimeoutError:
            raise AssertionError(
                f"update {update_id} not fetched by the bot within {timeout}s (is the application polling?)"
            ) from None
        finally:
            with contextlib.suppress(ValueError):
                self._delivery_waiters.remove(entry)

    async def converse(
        self,
        update: JSONDict,
        expect: int = 1,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
        settle: float = 0.0,
    ) -> list[Call]:
        """Queue ``update`` and return the messages the bot sent to its chat in reaction.

        Waits for ``expect`` messages; with ``settle > 0`` then waits that long more and
        returns everything sent since the push (use ``expect=0, settle=0.2`` to assert
        "no reply"). With ``expect=0`` it first waits until the bot fetched the update.
        """
        if "message_id" in update:
            raise ValueError("converse() takes an update, e.g. {'message': api.make_message(...)}")
        since = self.mark()
        self.push_raw(update)
        chat_id = chat_of(update)
        if expect > 0:
            replies = await self.wait_sent(chat_id, expect, timeout, since=since)
        else:
            await self.wait_delivered(update, timeout)
            replies = []
        if settle > 0:
            await asyncio.sleep(settle)
            replies = self.sent(chat_id, since=since)
        return replies

    async def say(
        self,
        user_id: int,
        text: str,
        expect: int = 1,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
        settle: float = 0.0,
        language_code: str | None = None,
        first_name: str | None = None,
    ) -> list[Call]:
        """:meth:`converse` with a text message from ``user_id``."""
        update = self.make_text(user_id, text, language_code=language_code, first_name=first_name)
        return await self.converse(update, expect, timeout=timeout, settle=settle)

    async def click(
        self,
        user_id: int,
        data: str,
        message_id: int | None = None,
        expect: int = 1,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
        settle: float = 0.0,
    ) -> list[Call]:
        """:meth:`converse` with a callback query (answerCallbackQuery is not counted)."""
        update = self.make_callback(user_id, data, message_id)
        return await self.converse(update, expect, timeout=timeout, settle=settle)

    # ------------------------------------------------------------------ failure injection

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        retry_after: int | None = None,
        description: str | None = None,
        count: int = 1,
        html: bool = False,
        chat: int | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` ("*" = any method but getUpdates)
        fail with HTTP ``status`` and Telegram's error JSON (``html``: an HTML page instead, as a proxy in front
        of Telegram answers; ``chat``: only calls to that chat). 429 defaults to retry_after=1.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            template = _DEFAULT_DESCRIPTIONS.get(status, f"Error {status}")
            description = template.format(retry_after=retry_after)
        failure = _Failure(status, description, retry_after, count, html, chat)
        self._failures.setdefault(method.lower(), deque()).append(failure)

    def drop_next(self, method: str, count: int = 1) -> None:
        """Take the next ``count`` calls of ``method`` whole, then close the connection without an answer (the
        message may have been delivered; the client cannot know). Recorded with status 0."""
        self._drops[method.lower()] = self._drops.get(method.lower(), 0) + count

    def hold_next(self, method: str) -> tuple[asyncio.Event, asyncio.Event]:
        """Keep the next call of ``method`` unanswered: the first event is set when it arrives, the caller sets
        the second to let it be answered (with any failure injected for it)."""
        arrived, release = asyncio.Event(), asyncio.Event()
        self._holds.setdefault(method.lower(), deque()).append((arrived, release))
        return arrived, release

    def block(self, user_id: int) -> None:
        """Answer every send*/edit* to this chat with 403 "bot was blocked by the user"."""
        self._blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        """Undo :meth:`block`."""
        self._blocked.discard(user_id)

    def _injected_failure(self, key: str, params: JSONDict) -> _ApiError | None:
        for name in (key, "*"):
            queue = self._failures.get(name)
            if not queue or (name == "*" and key == "getupdates"):
                continue
            failure = queue[0]
            if failure.chat is not None and str(params.get("chat_id")) != str(failure.chat):
                continue
            failure.remaining -= 1
            if failure.remaining <= 0:
                queue.popleft()
            return _ApiError(failure.status, failure.description, failure.retry_after, failure.html)
        if self._blocked and key.startswith(SEND_PREFIXES):
            with contextlib.suppress(TypeError, ValueError):
                if int(params.get("chat_id", 0)) in self._blocked:
                    return _ApiError(403, _DEFAULT_DESCRIPTIONS[403])
        return None

    # ------------------------------------------------------------------ HTTP

    async def _read_params(self, request: web.Request) -> JSONDict:
        params: JSONDict = {}
        for key, value in request.query.items():
            params[key] = _decode_value(key, value)
        if request.method != "POST" or not request.body_exists:
            return params
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                for key, item in body.items():
                    params[key] = _decode_value(key, item) if isinstance(item, str) else item
            return params
        form = await request.post()
        for key, field_value in form.items():
            if isinstance(field_value, web.FileField):
                params[key] = UploadedFile(
                    filename=field_value.filename,
                    content_type=field_value.content_type,
                    data=field_value.file.read(),
                )
            elif isinstance(field_value, str):
                params[key] = _decode_value(key, field_value)
            else:
                params[key] = _decode_value(key, bytes(field_value).decode())
        return params

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        if not self._waiters:
            return
        for waiter in list(self._waiters):
            if not waiter.future.done() and waiter.feed(call):
                waiter.future.set_result(None)

    def _dispatch(self, key: str, params: JSONDict) -> Any:
        handler = self._handlers.get(key)
        if handler is not None:
            return handler(params)
        if key.startswith("send"):
            return self._send_other(params)
        return True

    def unhandled(self) -> list[Call]:
        """Calls to methods the fake does not implement (answered ``true`` or a bare message)."""
        return [c for c in self.calls if c.method.lower() not in self._handlers | {"getupdates": 0}]

    @staticmethod
    def _respond(status: int, body: JSONDict) -> web.Response:
        text = json.dumps(body, ensure_ascii=False)
        try:
            data = text.encode()
        except UnicodeEncodeError:  # a lone surrogate (a hostile update): sent as JSON's \ud800 escape
            data = json.dumps(body).encode()
        return web.Response(status=status, body=data, content_type="application/json")

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        key = method.lower()
        params = await self._read_params(request)
        content_type = request.content_type if request.body_exists else ""
        if self._holds.get(key):
            arrived, release = self._holds[key].popleft()
            arrived.set()
            await release.wait()
        if self._drops.get(key):
            self._drops[key] -= 1
            self._record(Call(method, params, self._dispatch(key, params), 0, content_type))
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=204)  # never reaches the client
        try:
            if self.token is not None and request.match_info["token"] != self.token:
                raise _ApiError(401, "Unauthorized")
            error = self._injected_failure(key, params)
            if error is not None:
                raise error
            if self.enforce_limits and key in _SENDING:
                self._within_limits(params)
            if key == "getupdates":
                result: Any = await self._get_updates(params)
            else:
                result = self._dispatch(key, params)
        except _ApiError as exc:
            payload = exc.payload()
            self._record(Call(method, params, payload, exc.status, content_type))
            if exc.html:
                page = f"<html><body><h1>{exc.status} {exc.description}</h1></body></html>"
                return web.Response(status=exc.status, text=page, content_type="text/html")
            return self._respond(exc.status, payload)
        self._record(Call(method, params, result, 200, content_type))
        return self._respond(200, {"ok": True, "result": result})

    def _within_limits(self, params: JSONDict) -> None:
        """Count a message, or refuse it with a 429 when it is over Telegram's limits."""
        now = time.monotonic()
        chat = params.get("chat_id")
        over_all = len(self._sent_at) == LIMIT_OVERALL and now - self._sent_at[0] < 1.0
        over_chat = chat in self._chat_sent_at and now - self._chat_sent_at[chat] < LIMIT_PER_CHAT
        if over_all or over_chat:
            self.limited += 1
            raise _ApiError(429, _DEFAULT_DESCRIPTIONS[429].format(retry_after=1), retry_after=1)
        self._sent_at.append(now)
        self._chat_sent_at[chat] = now

    # ------------------------------------------------------------------ getUpdates

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook:
            raise _ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook")
        offset = int(params.get("offset", 0) or 0)
        limit = max(1, min(100, int(params.get("limit", 100) or 100)))
        timeout = float(params.get("timeout", 0) or 0)
        # Like Telegram, a newer getUpdates terminates an older one still waiting (409).
        self._poll_generation += 1
        generation = self._poll_generation
        self._update_event.set()
        if offset < 0:
            while len(self._pending) > -offset:
                self._pending.popleft()
        else:
            while self._pending and int(self._pending[0]["update_id"]) < offset:
                self._pending.popleft()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise _ApiError(409, _DEFAULT_DESCRIPTIONS[409])
            if self._pending or self._closing:
                batch = [self._pending[i] for i in range(min(limit, len(self._pending)))]
                if batch:
                    self._delivered(int(batch[-1]["update_id"]))
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            self._update_event.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._update_event.wait()
            except TimeoutError:
                return []

    def _delivered(self, update_id: int) -> None:
        self._delivered_upto = max(self._delivered_upto, update_id)
        for wanted, future in list(self._delivery_waiters):
            if wanted <= update_id and not future.done():
                future.set_result(None)

    def _delete_webhook(self, params: JSONDict) -> bool:
        if params.get("drop_pending_updates") is True:
            self._pending.clear()
        self.webhook = {}
        return True

    # ------------------------------------------------------------------ webhook

    def _set_webhook(self, params: JSONDict) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return self._delete_webhook(params)
        if self.strict and not url.startswith("https://"):
            raise _ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = {"url": url, "secret_token": params.get("secret_token", "")}
        if "allowed_updates" in params:
            self.webhook["allowed_updates"] = params["allowed_updates"]
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhooks())
        return True

    async def _deliver_webhooks(self) -> None:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=self.webhook_connections)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10), connector=connector) as session:
            tasks: set[asyncio.Task[None]] = set()
            while self.webhook and not self._closing:
                for update in list(self._pending):
                    chat = chat_of(update)
                    key = chat if chat is not None else ("update", update["update_id"])
                    if key in self._webhook_busy:
                        continue  # the chat's earlier update is not answered yet: this one waits
                    self._webhook_busy.add(key)
                    self._pending.remove(update)
                    task = asyncio.get_running_loop().create_task(self._call_webhook(session, update, key))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                self._update_event.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.05):
                        await self._update_event.wait()
            for task in tasks:
                task.cancel()

    async def _call_webhook(self, session: Any, update: JSONDict, key: Any) -> None:
        import aiohttp

        update_id = int(update["update_id"])
        try:
            while self.webhook and not self._closing:
                targets = self.webhook_targets or [self.webhook["url"]]
                target = targets[self._webhook_turn % len(targets)]
                self._webhook_turn += 1
                self.webhook_calls[update_id] = self.webhook_calls.get(update_id, 0) + 1
                headers = {"X-Telegram-Bot-Api-Secret-Token": str(self.webhook.get("secret_token", ""))}
                try:
                    async with session.post(target, json=update, headers=headers) as answer:
                        if answer.status == 200:
                            self.webhook_answered.append(update_id)
                            self.webhook_updates.append(update)
                            self._delivered(update_id)
                            return
                except (aiohttp.ClientError, TimeoutError, OSError):
                    pass  # that address is down or slow: the next call goes to the next one
                await asyncio.sleep(self.webhook_retry)
        finally:
            self._webhook_busy.discard(key)
            self._update_event.set()

    # ------------------------------------------------------------------ files

    def _get_file(self, params: JSONDict) -> JSONDict:
        file_id = str(params.get("file_id") or "")
        if file_id not in self.files:
            raise _ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(self.files[file_id]),
            "file_path": f"photos/{file_id}.jpg",
        }

    async def _download(self, request: web.Request) -> web.Response:
        if self.token is not None and request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        file_id = path.removeprefix("photos/").removesuffix(".jpg")
        if not path.startswith("photos/") or file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id], content_type="image/jpeg")

    # ------------------------------------------------------------------ commands & menu

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands") or []
        if self.strict:
            for cmd in commands:
                name = str(cmd.get("command", ""))
                if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                    raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
                if not 1 <= len(str(cmd.get("description", ""))) <= 256:
                    raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.my_commands[self._commands_key(params)] = list(commands)
        return True

    def _delete_my_commands(self, params: JSONDict) -> bool:
        self.my_commands.pop(self._commands_key(params), None)
        return True

    def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return self.my_commands.get(self._commands_key(params), [])

    def _set_chat_menu_button(self, params: JSONDict) -> bool:
        chat_id = params.get("chat_id")
        button = params.get("menu_button") or {"type": "default"}
        self.menu_buttons[None if chat_id is None else int(chat_id)] = button
        return True

    def _get_chat_menu_button(self, params: JSONDict) -> JSONDict:
        chat_id = params.get("chat_id")
        key = None if chat_id is None else int(chat_id)
        return self.menu_buttons.get(key) or self.menu_buttons.get(None) or {"type": "commands"}

    # ------------------------------------------------------------------ messages

    @staticmethod
    def _chat_id(params: JSONDict) -> int:
        try:
            return int(params["chat_id"])
        except (KeyError, TypeError, ValueError):
            raise _ApiError(400, "Bad Request: chat not found") from None

    def _check_text(self, params: JSONDict, key: str, limit: int, required: bool) -> str | None:
        value = params.get(key)
        if value is None:
            if required and self.strict:
                raise _ApiError(400, "Bad Request: message text is empty")
            return None
        text = str(value)
        if str(params.get("parse_mode", "")).upper() == "HTML" and self.strict:
            text = _html_to_text(text)
        if self.strict:
            if required and not text.strip():
                raise _ApiError(400, "Bad Request: message text is empty")
            if _utf16_len(text) > limit:
                what = "message is too long" if key == "text" else "message caption is too long"
                raise _ApiError(400, f"Bad Request: {what}")
        return text

    def _bot_message(self, params: JSONDict, **content: Any) -> JSONDict:
        chat_id = self._chat_id(params)
        message: JSONDict = {
            "message_id": self._new_message_id(chat_id),
            "from": self.bot_user,
            "chat": self._chat(chat_id),
            "date": int(time.time()),
        }
        message.update({k: v for k, v in content.items() if v is not None})
        for key in ("entities", "caption_entities"):
            if isinstance(params.get(key), list):
                message[key] = params[key]
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        reply = params.get("reply_parameters")
        reply_id = reply.get("message_id") if isinstance(reply, dict) else None
        reply_id = reply_id or params.get("reply_to_message_id")
        if reply_id is not None:
            replied = self._get(chat_id, int(reply_id))
            if replied is not None:
                message["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
            elif self.strict and not (isinstance(reply, dict) and reply.get("allow_sending_without_reply")):
                raise _ApiError(400, "Bad Request: message to be replied not found")
        self._store(message)
        return message

    def _send_message(self, params: JSONDict) -> JSONDict:
        text = self._check_text(params, "text", 4096, required=True)
        return self._bot_message(params, text=text)

    def _send_location(self, params: JSONDict) -> JSONDict:
        location = {
            "latitude": float(params["latitude"]),
            "longitude": float(params["longitude"]),
        }
        for key in ("horizontal_accuracy", "live_period", "heading"):
            if key in params:
                location[key] = params[key]
        return self._bot_message(params, location=location)

    def _send_venue(self, params: JSONDict) -> JSONDict:
        location = {
            "latitude": float(params["latitude"]),
            "longitude": float(params["longitude"]),
        }
        venue: JSONDict = {
            "location": location,
            "title": str(params["title"]),
            "address": str(params["address"]),
        }
        for key in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
            if key in params:
                venue[key] = params[key]
        return self._bot_message(params, venue=venue, location=location)

    def _file_ids(self, kind: str) -> tuple[str, str]:
        self._file_seq += 1
        return f"Fake{kind}FileId{self._file_seq}", f"Fake{kind}Uniq{self._file_seq}"

    @staticmethod
    def _file_size(value: Any) -> int:
        return len(value.data) if isinstance(value, UploadedFile) else 54321

    def _send_photo(self, params: JSONDict) -> JSONDict:
        caption = self._check_text(params, "caption", 1024, required=False)
        file_id, unique = self._file_ids("Photo")
        size = self._file_size(params.get("photo"))
        photo = [
            {
                "file_id": f"{file_id}s",
                "file_unique_id": f"{unique}s",
                "width": 90,
                "height": 90,
                "file_size": max(1, size // 20),
            },
            {"file_id": file_id, "file_unique_id": unique, "width": 800, "height": 800, "file_size": size},
        ]
        return self._bot_message(params, photo=photo, caption=caption)

    def _send_document(self, params: JSONDict) -> JSONDict:
        caption = self._check_text(params, "caption", 1024, required=False)
        file_id, unique = self._file_ids("Doc")
        value = params.get("document")
        document: JSONDict = {
            "file_id": file_id,
            "file_unique_id": unique,
            "file_size": self._file_size(value),
        }
        if isinstance(value, UploadedFile):
            document["file_name"] = value.filename
            document["mime_type"] = value.content_type
        return self._bot_message(params, document=document, caption=caption)

    def _send_sticker(self, params: JSONDict) -> JSONDict:
        file_id, unique = self._file_ids("Sticker")
        sticker = {
            "file_id": file_id,
            "file_unique_id": unique,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return self._bot_message(params, sticker=sticker)

    def _target(self, params: JSONDict) -> JSONDict | None:
        """The stored message an edit refers to (None for inline messages)."""
        if "inline_message_id" in params:
            return None
        chat_id = self._chat_id(params)
        key = (chat_id, int(params.get("message_id", 0)))
        message = self._get(*key)
        if message is None:
            if self.strict:
                raise _ApiError(400, "Bad Request: message to edit not found")
            message = {
                "message_id": key[1],
                "from": self.bot_user,
                "chat": self._chat(chat_id),
                "date": int(time.time()),
            }
        return message

    def _apply_edit(self, params: JSONDict, old: JSONDict, changes: JSONDict) -> JSONDict:
        markup = params.get("reply_markup")
        new = {**old, **changes, "edit_date": int(time.time())}
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            new["reply_markup"] = markup
        else:
            new.pop("reply_markup", None)
        unchanged = all(old.get(k) == new.get(k) for k in (*changes, "reply_markup"))
        if self.strict and unchanged:
            raise _ApiError(400, _NOT_MODIFIED)
        self._store(new)
        return new

    def _edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        text = self._check_text(params, "text", 4096, required=True)
        old = self._target(params)
        if old is None:
            return True
        media = ("photo", "document", "location", "sticker", "venue")
        if self.strict and "text" not in old and any(k in old for k in media):
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        changes: JSONDict = {"text": text}
        if isinstance(params.get("entities"), list):
            changes["entities"] = params["entities"]
        return self._apply_edit(params, old, changes)

    def _edit_message_caption(self, params: JSONDict) -> JSONDict | bool:
        caption = self._check_text(params, "caption", 1024, required=False)
        old = self._target(params)
        if old is None:
            return True
        return self._apply_edit(params, old, {"caption": caption})

    def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        old = self._target(params)
        if old is None:
            return True
        return self._apply_edit(params, old, {})

    def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("callback_query_id"))
        if self.strict:
            if query_id in self._answered:
                raise _ApiError(
                    400,
                    "Bad Request: query is too old and response timeout expired or query ID is invalid",
                )
            if len(str(params.get("text", ""))) > 200:
                raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._answered.add(query_id)
        return True

    def _send_other(self, params: JSONDict) -> JSONDict:
        """Any other send* method: a message with text/caption/contact so PTB can parse it."""
        content: JSONDict = {"text": params.get("text"), "caption": params.get("caption")}
        if "phone_number" in params:
            content["contact"] = {k: params[k] for k in ("phone_number", "first_name", "last_name") if k in params}
        return self._bot_message(params, **content)

    def _send_media_group(self, params: JSONDict) -> list[JSONDict]:
        messages = []
        for item in params.get("media") or []:
            kind = str(item.get("type", "photo"))
            file_id, unique = self._file_ids(kind.title())
            media: Any = {"file_id": file_id, "file_unique_id": unique}
            if kind == "photo":
                media = [{**media, "width": 800, "height": 800}]
            elif kind == "video":
                media |= {"width": 640, "height": 360, "duration": 1}
            elif kind == "audio":
                media |= {"duration": 1}
            messages.append(self._bot_message(params, **{kind: media, "caption": item.get("caption")}))
        return messages

    def _delete_message(self, params: JSONDict) -> bool:
        key = (self._chat_id(params), int(params.get("message_id", 0)))
        if self._chats.get(key[0], {}).pop(key[1], None) is None and self.strict:
            raise _ApiError(400, "Bad Request: message to delete not found")
        return True


# ---------------------------------------------------------------------- PTB helpers


def app_builder(api: FakeBotAPI) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
    """``Application.builder()`` with :data:`TOKEN` and the fake's ``base_url`` set."""
    return Application.builder().token(TOKEN).base_url(api.base_url)


async def initialize(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """``app.initialize()`` that closes the HTTP clients if it fails.

    (PTB's ``Application.shutdown()`` is a no-op unless initialize succeeded, so a failing
    getMe would leave the bot's HTTP connections open.)
    """
    try:
        await app.initialize()
    except BaseException:
        await app.bot.shutdown()
        raise


@contextlib.asynccontextmanager
async def running(
    app: Application[Any, Any, Any, Any, Any, Any], *, poll_timeout: int = 1
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """Initialize, start and poll ``app``; stop and shut it down on exit."""
    await initialize(app)
    try:
        # As run_polling does: post_init after initialize, post_shutdown after shutdown.
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        try:
            assert app.updater is not None, "build the Application with an Updater"
            await app.updater.start_polling(poll_interval=0, timeout=poll_timeout)
            try:
                yield app
            finally:
                if app.updater.running:
                    await app.updater.stop()
        finally:
            if app.running:
                await app.stop()
                if app.post_stop is not None:  # as run_polling does: after stop, before shutdown
                    await app.post_stop(app)
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


async def measure_throughput(
    api: FakeBotAPI,
    app: Application[Any, Any, Any, Any, Any, Any],
    n_updates: int,
    make_text: Callable[[int], str] = lambda i: f"tin nhắn số {i}",
    *,
    users: int = 100,
    replies_per_update: int = 1,
    timeout: float = 120.0,  # noqa: ASYNC109
) -> float:
    """Push ``n_updates`` texts to a polling ``app`` and return handled updates/second.

    ``app`` must be built (handlers added) but not initialized. Update ``i`` comes from
    user ``10_000 + i % users`` with text ``make_text(i)``; all are queued at once after
    polling has started, and the clock stops when ``n_updates * replies_per_update``
    sendMessage calls were recorded. (PTB handles updates one at a time unless the
    Application was built with ``concurrent_updates``.)
    """
    async with running(app):
        since = api.mark()
        target = n_updates * replies_per_update
        count = 0

        def counted(call: Call) -> bool:
            nonlocal count
            if call.ok and call.method == "sendMessage":
                count += 1
            return count >= target

        start = time.perf_counter()
        for i in range(n_updates):
            api.push_text(10_000 + i % users, make_text(i))
        await api.wait_for(counted, timeout, since=since, what=f"{target} sendMessage calls")
        elapsed = time.perf_counter() - start
    return n_updates / elapsed
