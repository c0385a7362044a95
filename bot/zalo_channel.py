"""The Zalo channel: Zalo's updates in (long polling, or the webhook on the bot's HTTP server), the conversations'
replies out as numbered text menus (Zalo has no buttons), and the outbox's Zalo notifier. It knows no feature:
everything a person can do is in `handlers/`."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import json
import logging
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import replace

from aiohttp import web

from bot.digest import chart_url
from bot.httpserver import BadBody, header_bytes, read_json
from bot.i18n import translator
from bot.inbox import Inbox, departing
from bot.metrics import UPDATE
from bot.outbox import Delivery, Outcome, OutgoingMessage
from bot.people import Person
from bot.receipt import fetch_image
from bot.services import Services
from bot.text import clean
from bot.textmenu import answer, keeping, remember, show
from bot.zalo import IMAGE, TEXT, PartlySent, ZaloClient, ZaloError, ZaloNetworkError, ZaloUpdate, parse_update
from handlers.chat import FAILED, Effects, Incoming, Reply
from handlers.outbox import CHART, render

log = logging.getLogger(__name__)

CHANNEL = "zalo"
SEEN_LIMIT = 10_000  # message ids remembered against repeated webhook calls
STOP_GRACE = 10.0  # seconds an update being answered may take to finish when the bot stops


class ZaloTokenRefused(RuntimeError):
    """Zalo refused ZALO_BOT_TOKEN: the bot stops rather than run without its Zalo side."""


def incoming(update: ZaloUpdate) -> Incoming:
    """What the person sent: a text, an image (its URL, with the caption as text), or something else."""
    person = Person(CHANNEL, update.user_id)
    if update.event == TEXT:
        return Incoming(person, text=clean(update.text))
    if update.event == IMAGE and update.photo_url:
        return Incoming(person, text=clean(update.caption), photo=update.photo_url)
    return Incoming(person, other=True)


async def deliver(
    client: ZaloClient,
    services: Services,
    person: Person,
    chat: str,
    replies: list[Reply],
    language: str,
    *,
    retries: int | None = None,
    depart: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Send replies as numbered text (a picture goes by its URL; one made here, a chart, has none on Zalo) and
    remember what the numbers mean (`depart`: awaited after that, right before the first request)."""
    shown, options = show(replies, translator(language))
    await remember(services, person, options)
    if depart is not None:
        await depart()
    for item in shown:
        if isinstance(item.photo, str):
            await client.send_photo(chat, item.photo, item.text, **({} if retries is None else {"retries": retries}))
        elif item.text and item.photo is None:
            await client.send_text(chat, item.text, **({} if retries is None else {"retries": retries}))


class ZaloChat:
    """Answers one Zalo update at a time (the caller keeps each chat's updates in order)."""

    def __init__(self, services: Services, client: ZaloClient, effects: Effects) -> None:
        self.services = services
        self.client = client
        self.effects = effects

    async def handle(self, update: ZaloUpdate) -> None:
        """Answer an update; a failure is logged and the person told, never raised."""
        if not update.private:
            return  # groups are in beta on Zalo: the bot stays silent there
        UPDATE.set(f"zalo:{update.message_id or '-'}")
        person = Person(CHANNEL, update.user_id)
        try:
            await self.services.people.reachable_again(person)  # they wrote: what waited for them may go
            replies, language = await answer(
                self.services, incoming(update), self.effects, locations=False, pictures=False
            )
            await deliver(self.client, self.services, person, update.chat_id, replies, language, depart=departing)
        except Exception:
            log.exception("zalo update from %s failed", update.user_id)
            try:  # the person is told, as the conversations tell them of their own failures
                t = translator(self.services.people.language(person))
                await self.client.send_text(update.chat_id, t.gettext(FAILED))
            except Exception:
                log.exception("zalo: could not tell %s about the failure", update.user_id)


class ZaloNotifier:
    """Sends outbox messages on Zalo, rendered as on Telegram; Zalo's answers map to the same outcomes. A digest's
    chart goes as the URL of the bot's HTTP server where it has a public address (`PHUCVU_PUBLIC_URL`); without
    one the text alone is the digest."""

    channel = CHANNEL
    audience = None

    def __init__(self, client: ZaloClient, services: Services) -> None:
        self.client = client
        self.services = services
        self.tz = services.settings.timezone
        self.settings = services.settings

    async def _send(self, message: OutgoingMessage) -> bool:
        chat = message.person.external_id
        if message.kind == CHART:
            payload, settings = message.payload, self.settings
            key = settings.ingest_token.value if settings.http_port is not None else ""
            url = chart_url(settings.public_url, key, payload["kind"], payload["day"], payload["language"])
            if url is None:
                return False
            await message.depart()
            await self.client.send_photo(chat, url, str(payload.get("caption", "")), retries=0)
            return True
        reply = render(message, translator(message.language), self.tz)
        if reply is None:
            return False
        person = message.person
        # A notification with choices (or a menu) says what its numbers are; one without leaves the person's menu
        # as it was.
        await deliver(
            self.client,
            self.services,
            person,
            chat,
            [keeping(reply)],
            message.language,
            retries=0,
            depart=message.depart,
        )
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
            if exc.status in (401, 404):  # the bot's token (in the URL, as on Telegram): the channel is held
                return Delivery(Outcome.RETRY, error=f"{exc.status} {exc.description}", halt=True)
            if exc.status == 403:
                return Delivery(Outcome.GONE, error=f"403 {exc.description}", blocked=True)
            return Delivery(Outcome.GONE, error=f"{exc.status} {exc.description}")
        except ZaloNetworkError as exc:
            return Delivery(Outcome.UNCERTAIN if exc.left else Outcome.RETRY, error=f"network {exc}")
        return Delivery(Outcome.SENT)


class ZaloChannel:
    """Zalo in the bot's process: long polling, or the webhook (a route on the bot's HTTP server), feeding
    `ZaloChat` one update at a time; and the outbox's notifier for people on Zalo."""

    def __init__(self, services: Services, client: ZaloClient, effects: Effects | None = None) -> None:
        self.client = client
        self.chat = ZaloChat(services, client, replace(effects or Effects(), photo=fetch_image))
        self.notifier = ZaloNotifier(client, services)
        self.settings = services.settings
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # webhook calls may overlap: updates are answered one at a time
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()  # recent message ids
        self._stopping = False
        self._waiting = False  # in getUpdates: stopping may cut the wait short
        self.inbox: Inbox | None = None  # with the webhook: calls are stored there and answered by any process

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
        given = header_bytes(request, "X-Bot-Api-Secret-Token")
        if not hmac.compare_digest(given, self.settings.zalo_webhook_secret.value.encode()):
            return web.json_response({"ok": False, "description": "forbidden"}, status=403)
        try:
            body = await read_json(request)
        except BadBody as exc:
            return web.json_response({"ok": False, "description": str(exc)}, status=exc.status)
        update = parse_update(body)
        if update is None:
            return web.json_response({"ok": True})
        if self.inbox is not None:
            key = update.message_id or hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
            when = update.date or self.chat.services.clock()  # a message's own time orders its chat's updates
            try:
                await self.inbox.put(CHANNEL, key, update.user_id, int(when.timestamp() * 1000), json.dumps(body))
            except Exception:  # not stored: Zalo calls again
                log.exception("zalo: message %s could not be stored", key)
                return web.json_response({"ok": False, "description": "try again"}, status=503)
            return web.json_response({"ok": True})
        if not self._again(update):
            async with self._lock:
                if not self._again(update):  # a repeat that waited for the lock while the first was answered
                    await self.chat.handle(update)
                    self._answered(update)
        return web.json_response({"ok": True})

    async def answer(self, payload: str) -> None:
        """Answer an update the inbox gives (stored by a webhook call to any process)."""
        update = parse_update(json.loads(payload))
        if update is not None:
            await self.chat.handle(update)  # never raises: it answers its own failures

    def _again(self, update: ZaloUpdate) -> bool:
        """Whether this message was answered already (a webhook call Zalo repeats after a slow answer)."""
        return bool(update.message_id) and update.message_id in self._seen

    def _answered(self, update: ZaloUpdate) -> None:
        """Remember an answered message's id (the most recent SEEN_LIMIT of them)."""
        if update.message_id:
            self._seen[update.message_id] = None
            if len(self._seen) > SEEN_LIMIT:
                self._seen.popitem(last=False)
