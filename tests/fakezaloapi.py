"""A fake Zalo Bot Platform API (aiohttp) for end-to-end tests of the Zalo channel.

As the platform is documented: `getUpdates` answers one update object per call (no offset, no update id) or 408
after its timeout with nothing; ids are strings and dates milliseconds; `sendMessage` takes 1–2,000 characters;
`sendPhoto` an image URL; `setWebhook` an HTTPS URL and a secret of 8–256 characters. Failures can be injected
(`fail_next`), and every call is recorded in `calls`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import web

from tests.fakebotapi import serve_locally

TOKEN = "1234567890:ZaloFakeSecretForPhucVuTests"
BOT = {"id": "bot-phucvu", "account_name": "phucvu_bot", "account_type": "BASIC", "can_join_groups": False}

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class ZaloCall:
    """One recorded API call: method, parameters, HTTP status answered."""

    method: str
    params: JSONDict
    status: int = 200

    @property
    def chat_id(self) -> str:
        """The chat the call was for."""
        return str(self.params.get("chat_id", ""))

    @property
    def text(self) -> str:
        """The text (or the caption) sent."""
        return str(self.params.get("text") or self.params.get("caption") or "")


class FakeZaloAPI:
    """In-process fake of the Zalo Bot API on 127.0.0.1 (long polling and webhook registration)."""

    def __init__(self, *, token: str = TOKEN, idle_timeout: float = 0.3) -> None:
        self.token = token
        self.idle_timeout = idle_timeout  # seconds a getUpdates call waits before its 408, whatever it asked
        self.calls: list[ZaloCall] = []
        self.webhook: JSONDict = {}
        self._pending: deque[JSONDict] = deque()
        self._arrived = asyncio.Event()
        self._sent = asyncio.Event()
        self._failures: dict[str, deque[tuple[int, str, int | None]]] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.images: dict[str, bytes] = {}  # what `host_image` serves
        self._holds: dict[str, deque[tuple[asyncio.Event, asyncio.Event]]] = {}

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/images/{name}", self._image)
        self._runner, self.port = await serve_locally(app)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """`ZALO_API_BASE_URL` for the bot: the client appends `<token>/<method>`."""
        return f"http://127.0.0.1:{self.port}/bot"

    # ------------------------------------------------------------------ what users do

    def update(self, user: str, event: str, **fields: Any) -> JSONDict:
        """An update as the platform sends it (also the body of a webhook call)."""
        message = {
            "message_id": f"msg{next(self._ids):06d}",
            "date": int(time.time() * 1000),
            "from": {"id": user, "display_name": "Người dân", "is_bot": False},
            "chat": {"id": user, "chat_type": "PRIVATE"},
            **fields,
        }
        return {"event_name": event, "message": message}

    def push(self, update: JSONDict) -> None:
        """Queue an update for the next getUpdates."""
        self._pending.append(update)
        self._arrived.set()

    def push_text(self, user: str, text: str) -> None:
        """A user types a text."""
        self.push(self.update(user, "message.text.received", text=text))

    def push_image(self, user: str, url: str, caption: str = "") -> None:
        """A user sends an image (the platform gives its URL)."""
        self.push(self.update(user, "message.image.received", photo_url=url, caption=caption))

    def host_image(self, data: bytes, name: str = "") -> str:
        """Serve an image as Zalo's CDN does (its URL is what an image message carries)."""
        name = name or f"{len(self.images) + 1}.jpg"
        self.images[name] = data
        return f"http://127.0.0.1:{self.port}/images/{name}"

    async def _image(self, request: web.Request) -> web.Response:
        data = self.images.get(request.match_info["name"])
        return web.Response(body=data, content_type="image/jpeg") if data is not None else web.Response(status=404)

    def push_sticker(self, user: str) -> None:
        """A user sends a sticker."""
        self.push(self.update(user, "message.sticker.received", sticker="a1b2"))

    def push_unsupported(self, user: str) -> None:
        """What arrives for content the platform does not pass on (or from a protected user)."""
        self.push(self.update(user, "message.unsupported.received"))

    def hold_next(self, method: str) -> tuple[asyncio.Event, asyncio.Event]:
        """Keep the next call of `method` unanswered: the first event is set when it arrives, the caller sets the
        second to let it be handled (and recorded)."""
        arrived, release = asyncio.Event(), asyncio.Event()
        self._holds.setdefault(method, deque()).append((arrived, release))
        return arrived, release

    def fail_next(self, method: str, status: int, *, count: int = 1, retry_after: int | None = None) -> None:
        """The next `count` calls of `method` fail with `status` (429 "Quota exceeded", 5xx, …)."""
        description = {429: "Quota exceeded", 500: "Internal Server Error", 502: "Bad Gateway"}.get(status, "Error")
        for _ in range(count):
            self._failures.setdefault(method, deque()).append((status, description, retry_after))

    # ------------------------------------------------------------------ what the bot did

    def mark(self) -> int:
        """A position in `calls` to read from later."""
        return len(self.calls)

    def sent(self, chat: str | None = None, *, since: int = 0) -> list[ZaloCall]:
        """Messages and photos sent (to one chat), successfully, since a mark."""
        return [
            c
            for c in self.calls[since:]
            if c.method in ("sendMessage", "sendPhoto") and c.status == 200 and (chat is None or c.chat_id == chat)
        ]

    async def wait_sent(self, chat: str, count: int = 1, *, since: int = 0, timeout: float = 5.0) -> list[ZaloCall]:  # noqa: ASYNC109
        """Wait until `count` messages reached `chat` since the mark; return them."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.sent(chat, since=since)) < count:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                got = [c.text for c in self.sent(chat, since=since)]
                raise AssertionError(f"expected {count} messages to {chat}, got {got}")
            self._sent.clear()
            try:
                await asyncio.wait_for(self._sent.wait(), remaining)
            except TimeoutError:
                continue
        return self.sent(chat, since=since)

    async def say(self, user: str, text: str, expect: int = 1) -> list[ZaloCall]:
        """Push a text and wait for `expect` answers to it; a short pause catches an unexpected extra one."""
        since = self.mark()
        self.push_text(user, text)
        await self.wait_sent(user, expect, since=since)
        await asyncio.sleep(0.05)
        answers = self.sent(user, since=since)
        assert len(answers) == expect, f"expected {expect} answers, got {[a.text for a in answers]}"
        return answers

    # ------------------------------------------------------------------ the API

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: JSONDict = dict(request.query)
        if request.body_exists:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(await request.post())
        if request.match_info["token"] != self.token:
            return self._error(method, params, 401, "Unauthorized")
        if self._holds.get(method):
            arrived, release = self._holds[method].popleft()
            arrived.set()
            await release.wait()
        failures = self._failures.get(method)
        if failures:
            status, description, retry_after = failures.popleft()
            extra = {"parameters": {"retry_after": retry_after}} if retry_after is not None else {}
            return self._error(method, params, status, description, extra)
        if method == "getUpdates":
            return await self._get_updates(request, params)
        handler = {
            "getMe": lambda p: BOT,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendChatAction": lambda p: True,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": lambda p: {"url": self.webhook.get("url", "")},
        }.get(method)
        if handler is None:
            return self._error(method, params, 404, "Not Found")
        try:
            result = handler(params)
        except ValueError as exc:
            return self._error(method, params, 400, str(exc))
        self.calls.append(ZaloCall(method, params))
        if method in ("sendMessage", "sendPhoto"):
            self._sent.set()
        return web.json_response({"ok": True, "result": result})

    def _error(
        self, method: str, params: JSONDict, status: int, description: str, extra: JSONDict | None = None
    ) -> web.Response:
        self.calls.append(ZaloCall(method, params, status))
        body = {"ok": False, "error_code": status, "description": description, **(extra or {})}
        return web.json_response(body, status=status)

    async def _get_updates(self, request: web.Request, params: JSONDict) -> web.Response:
        if self.webhook:
            return self._error("getUpdates", params, 409, "Conflict: a webhook is set")
        wait = min(float(params.get("timeout", 30)), self.idle_timeout)
        if not self._pending:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), wait)
            except TimeoutError:
                return self._error("getUpdates", params, 408, "Request timeout")
        if request.transport is None or request.transport.is_closing():
            return web.Response(status=499)  # the poller went away (a bot stopping): the update waits for the next
        update = self._pending.popleft()
        self.calls.append(ZaloCall("getUpdates", params))
        return web.json_response({"ok": True, "result": update})

    def _message(self, params: JSONDict) -> JSONDict:
        chat = params.get("chat_id")
        if not isinstance(chat, str) or not chat:
            raise ValueError("Bad Request: chat_id must be a non-empty string")
        return {"message_id": f"out{next(self._ids):06d}", "date": int(time.time() * 1000)}

    def _send_message(self, params: JSONDict) -> JSONDict:
        text = params.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= 2000:
            raise ValueError("Bad Request: text must be 1-2000 characters")
        return self._message(params)

    def _send_photo(self, params: JSONDict) -> JSONDict:
        photo = params.get("photo")
        if not isinstance(photo, str) or not photo.startswith(("http://", "https://")):
            raise ValueError("Bad Request: photo must be an image URL")
        return self._message(params)

    def _set_webhook(self, params: JSONDict) -> bool:
        url, secret = str(params.get("url", "")), str(params.get("secret_token", ""))
        if not url.startswith("https://") or not 8 <= len(secret) <= 256:
            raise ValueError("Bad Request: url must be HTTPS and secret_token 8-256 characters")
        self.webhook = {"url": url, "secret_token": secret}
        return True

    def _delete_webhook(self, _params: JSONDict) -> bool:
        self.webhook = {}
        return True
