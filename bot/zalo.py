"""The Zalo Bot Platform: a small client of our own on httpx, and its updates as plain values.

What is known of the API is in the project's notes (a copy of Telegram's Bot API in shape): one update per
`getUpdates` call and 408 when the long poll had nothing, string ids, dates in milliseconds, text of 1–2,000
characters, images as URLs, no buttons. Failures are classified as the Telegram side's are, so the outbox can
decide the same way whether a message may be sent again.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from bot.config import DEFAULT_ZALO_API_BASE_URL
from bot.metrics import HEALTH
from bot.text import split_text

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000
CAPTION_LIMIT = 2000
POLL_TIMEOUT = 30  # seconds the platform holds a getUpdates call open
TEXT, IMAGE, STICKER, UNSUPPORTED = (
    "message.text.received",
    "message.image.received",
    "message.sticker.received",
    "message.unsupported.received",
)
# Failures after which the request certainly did not reach Zalo: it may be sent again.
NEVER_LEFT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class ZaloError(Exception):
    """Zalo answered with an error (`status` is the HTTP status, or the envelope's error code)."""

    def __init__(self, status: int, description: str, retry_after: float | None = None) -> None:
        super().__init__(f"{status} {description}")
        self.status = status
        self.description = description
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """429 and 5xx: the message did not go out, and may later."""
        return self.status == 429 or self.status >= 500


class ZaloNetworkError(Exception):
    """No answer from Zalo; `left` says whether the request may have arrived (then it is never sent again)."""

    def __init__(self, message: str, *, left: bool) -> None:
        super().__init__(message)
        self.left = left


class PartlySent(Exception):
    """A text in several parts failed after `sent` of them went: sending it again would repeat those."""

    def __init__(self, sent: int, total: int, cause: Exception) -> None:
        super().__init__(f"{sent} of {total} parts sent, then: {cause}")
        self.sent = sent
        self.total = total


@dataclass(frozen=True)
class ZaloUpdate:
    """One incoming event, read once."""

    event: str
    chat_id: str
    user_id: str
    display_name: str
    message_id: str
    date: datetime | None
    text: str = ""
    photo_url: str = ""
    caption: str = ""
    private: bool = True


def _moment(milliseconds: Any) -> datetime | None:
    """A date in milliseconds, or None for anything that is not one."""
    if not isinstance(milliseconds, int | float) or isinstance(milliseconds, bool):
        return None
    try:
        return datetime.fromtimestamp(milliseconds / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _number(value: Any) -> float | None:
    """A number from an error envelope (`retry_after`, `error_code`), or None when it is not one."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def parse_updates(result: Any) -> list[ZaloUpdate]:
    """The updates of a `getUpdates` result: one object as documented, or a list should the platform send one."""
    items = result if isinstance(result, list) else [result]
    return [update for item in items if (update := parse_update(item)) is not None]


def parse_update(body: Any) -> ZaloUpdate | None:
    """An update from a `getUpdates` result or a webhook body, wrapped (`{"ok": …, "result": {…}}`) or not;
    None for anything without a sender and a chat."""
    if isinstance(body, Mapping) and isinstance(body.get("result"), Mapping):
        body = body["result"]
    if not isinstance(body, Mapping):
        return None
    message = body.get("message")
    if not isinstance(message, Mapping):
        return None
    sender: Mapping[str, Any] = message["from"] if isinstance(message.get("from"), Mapping) else {}
    chat: Mapping[str, Any] = message["chat"] if isinstance(message.get("chat"), Mapping) else {}
    user_id, chat_id = str(sender.get("id") or ""), str(chat.get("id") or sender.get("id") or "")
    if not user_id or not chat_id or sender.get("is_bot"):
        return None
    return ZaloUpdate(
        event=str(body.get("event_name") or ""),
        chat_id=chat_id,
        user_id=user_id,
        display_name=str(sender.get("display_name") or ""),
        message_id=str(message.get("message_id") or ""),
        date=_moment(message.get("date")),
        text=str(message.get("text") or ""),
        photo_url=str(message.get("photo_url") or message.get("photo") or ""),
        caption=str(message.get("caption") or ""),
        private=str(chat.get("chat_type") or "PRIVATE").upper() == "PRIVATE",
    )


class ZaloClient:
    """The Bot API calls the bot makes. `send_text` splits at 2,000 characters; with `retries`, a part that was
    refused for now (429, 5xx) or never left is tried again after a pause, as Telegram's outbox would."""

    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_ZALO_API_BASE_URL,
        *,
        http: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        retries: int = 3,
    ) -> None:
        self._url = f"{base_url.rstrip('/')}{token}/"
        self._http = http or httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=POLL_TIMEOUT + 15.0))
        self._own_http = http is None
        self._sleep = sleep
        self.retries = retries

    async def close(self) -> None:
        """Close the HTTP connections (if the client opened them)."""
        if self._own_http:
            await self._http.aclose()

    async def call(self, method: str, params: Mapping[str, Any] | None = None, wait: float | None = None) -> Any:
        """One API call with a JSON body (`wait`: seconds to wait for the answer, for a long poll); the
        envelope's `result`, or ZaloError / ZaloNetworkError."""
        extra = {"timeout": httpx.Timeout(10.0, read=wait)} if wait is not None else {}
        try:
            response = await self._http.post(self._url + method, json=dict(params or {}), **extra)  # type: ignore[arg-type]
        except NEVER_LEFT as exc:
            HEALTH.failed("zalo", exc.__class__.__name__)
            raise ZaloNetworkError(f"{method}: {exc.__class__.__name__}", left=False) from exc
        except httpx.HTTPError as exc:
            if not (method == "getUpdates" and isinstance(exc, httpx.ReadTimeout)):
                HEALTH.failed("zalo", exc.__class__.__name__)
            raise ZaloNetworkError(f"{method}: {exc.__class__.__name__}: {exc}", left=True) from exc
        if response.status_code >= 500 or response.status_code == 401:
            HEALTH.failed("zalo", f"HTTP {response.status_code}")
        else:
            HEALTH.ok("zalo")
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.status_code == 200 and body.get("ok"):
            return body.get("result")
        status = response.status_code
        if status == 200:  # an envelope that says it failed: its own code, when it is one
            status = int(_number(body.get("error_code")) or 500)
        parameters: dict[str, Any] = body["parameters"] if isinstance(body.get("parameters"), dict) else {}
        retry_after = _number(parameters.get("retry_after")) or _number(response.headers.get("Retry-After"))
        raise ZaloError(status, str(body.get("description") or response.reason_phrase), retry_after)

    async def _with_retries(self, method: str, params: Mapping[str, Any], retries: int) -> Any:
        for attempt in range(retries + 1):
            try:
                return await self.call(method, params)
            except ZaloError as exc:
                if not exc.retryable or attempt == retries:
                    raise
                pause = exc.retry_after if exc.retry_after is not None else 2.0**attempt
            except ZaloNetworkError as exc:
                if exc.left or attempt == retries:
                    raise
                pause = 2.0**attempt
            log.info("zalo %s: trying again in %.0f s", method, pause)
            await self._sleep(min(pause, 60.0))
        raise AssertionError("unreachable")

    async def send_text(self, chat_id: str, text: str, *, retries: int | None = None) -> int:
        """Send a text in parts of at most 2,000 characters, in order; returns how many parts went. Once one part
        has gone, the rest are always tried again, so that a message is not left half sent."""
        parts = split_text(text, MESSAGE_LIMIT) or [text]
        first = self.retries if retries is None else retries
        for index, part in enumerate(parts):
            try:
                await self._with_retries("sendMessage", {"chat_id": chat_id, "text": part}, first if index == 0 else 3)
            except (ZaloError, ZaloNetworkError) as exc:
                if index == 0:
                    raise
                raise PartlySent(index, len(parts), exc) from exc
        return len(parts)

    async def send_photo(self, chat_id: str, url: str, caption: str = "", *, retries: int | None = None) -> None:
        """Send an image by its URL, with a caption."""
        params = {"chat_id": chat_id, "photo": url, "caption": caption[:CAPTION_LIMIT]}
        await self._with_retries("sendPhoto", params, self.retries if retries is None else retries)

    async def get_updates(self, hold: int = POLL_TIMEOUT) -> list[ZaloUpdate]:
        """Wait up to `hold` seconds for an update (one per call, as documented); empty when nothing came (408)
        or what came was not a message."""
        try:
            result = await self.call("getUpdates", {"timeout": hold}, wait=hold + 15.0)
        except ZaloError as exc:
            if exc.status == 408:
                return []
            raise
        return parse_updates(result)

    async def get_me(self) -> dict[str, Any]:
        """The bot's own account."""
        result = await self.call("getMe")
        return dict(result) if isinstance(result, Mapping) else {}

    async def set_webhook(self, url: str, secret: str) -> None:
        """Have Zalo POST updates to `url` with the secret in `X-Bot-Api-Secret-Token`."""
        await self.call("setWebhook", {"url": url, "secret_token": secret})

    async def delete_webhook(self) -> None:
        """Stop webhook delivery (polling and the webhook exclude each other)."""
        await self.call("deleteWebhook")
