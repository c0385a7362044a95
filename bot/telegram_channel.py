"""The Telegram channel: PTB updates in, the conversations' replies out as Telegram shows them (inline buttons whose
data is `action:value`, the main menu as a reply keyboard, venues, photos), and the outbox's Telegram notifier.
It knows no feature: everything a person can do is in `handlers/`."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import BaseHandler, CallbackContext, CallbackQueryHandler, ExtBot, MessageHandler, filters

from bot.commands import commands_for
from bot.httpserver import BadBody, header_bytes, read_json
from bot.i18n import Translator, translator
from bot.inbox import Inbox, Scheduler, departing
from bot.metrics import UPDATE
from bot.outbox import Delivery, Notifier, Outcome, OutgoingMessage
from bot.people import Person
from bot.receipt import MAX_BYTES, ImageRefused
from bot.roles import Role
from bot.services import Services
from bot.telegram_http import NEVER_LEFT
from bot.text import clean, split_text
from handlers.chat import FAILED, Effects, Incoming, Option, Reply
from handlers.menu import main_menu
from handlers.outbox import CHART, render
from handlers.router import respond

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
DATA_LIMIT = 64  # bytes of callback data


class BotData:
    """PTB's `bot_data`, typed: the services once started, the notifiers of every channel served, and what the
    application does on the side of a conversation (set by the composition root)."""

    def __init__(self) -> None:
        self._services: Services | None = None
        self.notifiers: list[Notifier] = []
        self.wake: Callable[[], None] = lambda: None
        self.reschedule: Callable[[], Awaitable[None]] | None = None
        self.closers: list[Callable[[], Awaitable[None]]] = []  # at shutdown, after the bot stopped
        self.stoppers: list[Callable[[], Awaitable[None]]] = []  # at stop, while the bot can still send
        self.inbox: Inbox | None = None  # the webhooks' updates, when a webhook is served
        self.scheduler: Scheduler | None = None  # which process runs the scheduled work

    @property
    def services(self) -> Services:
        """The running services (an error before `post_init`)."""
        if self._services is None:
            raise RuntimeError("services are not started")
        return self._services

    @services.setter
    def services(self, value: Services | None) -> None:
        self._services = value


Ctx = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
# New messages in private chats only: edits are ignored, and the bot added to a group stays silent there.
PRIVATE = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE


def bot_commands(language: str, role: Role = Role.CITIZEN) -> list[BotCommand]:
    """The command menu of a role in one language (English shows the English aliases)."""
    t = translator(language)
    return [BotCommand(c.alias if language == "en" else c.name, t.gettext(c.description)) for c in commands_for(role)]


async def show_commands(bot: Bot, services: Services, person: Person, role: Role) -> None:
    """Give a person's Telegram chat the command menu of their role in their language (a citizen's is the public
    one), and remember which it holds. A failure (a chat the bot cannot reach) is logged, not raised."""
    if person.channel != CHANNEL or not person.external_id.lstrip("-").isdigit():
        return
    scope = BotCommandScopeChat(int(person.external_id))
    try:
        if role is Role.CITIZEN:
            await bot.delete_my_commands(scope=scope)
        else:
            await bot.set_my_commands(bot_commands(services.people.language(person), role), scope=scope)
    except TelegramError as exc:
        log.warning("could not set the command menu of chat %s: %s", person.external_id, exc)
        return
    await services.people.set_menu_role(person, None if role is Role.CITIZEN else role.value, services.clock())


def effects(context: Ctx) -> Effects:
    """What a conversation may do on the side, for this application."""
    data, bot = context.bot_data, context.bot

    async def role_changed(person: Person, role: Role) -> None:
        await show_commands(bot, data.services, person, role)

    async def photo(file_id: str) -> bytes:
        try:
            file = await bot.get_file(file_id)
            if file.file_size is not None and file.file_size > MAX_BYTES:
                raise ImageRefused(f"{file.file_size} bytes")
            return bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            raise ImageRefused(f"Telegram: {exc}") from exc

    return Effects(data.wake, data.reschedule, role_changed, bot.username if bot.username else "", photo)


def incoming(update: Update, person: Person) -> Incoming | None:
    """What the person sent, read once (None for an update that carries nothing to answer)."""
    query = update.callback_query
    if query is not None:
        action, _, value = (query.data or "").partition(":")
        return Incoming(person, action=action, value=value)
    message = update.effective_message
    if message is None:
        return None
    text = clean(message.text or message.caption or "")
    replied = message.reply_to_message
    quoted = replied.text or "" if replied and replied.from_user and replied.from_user.is_bot else ""
    if message.location is not None:
        return Incoming(person, location=(message.location.latitude, message.location.longitude))
    if message.photo:
        return Incoming(person, text=text, photo=message.photo[-1].file_id)
    if message.text is None:
        return Incoming(person, text=text, other=True)
    return Incoming(person, text=text, replied_to=quoted)


def _button(option: Option) -> InlineKeyboardButton | None:
    if option.url:
        return InlineKeyboardButton(option.label, url=option.url)
    data = f"{option.action}:{option.value}"
    if len(data.encode()) > DATA_LIMIT:  # a value too long to carry: the choice is left out, the message is not
        log.error("callback data over %s bytes left out: %r", DATA_LIMIT, data)
        return None
    return InlineKeyboardButton(option.label, callback_data=data)


def markup(reply: Reply, t: Translator) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    """A reply's choices as inline buttons, or the role's main menu as a reply keyboard."""
    if reply.options:
        made = (_button(o) for o in reply.options if not o.request)
        buttons = [button for button in made if button is not None]
        per = max(1, reply.columns)
        return InlineKeyboardMarkup([buttons[i : i + per] for i in range(0, len(buttons), per)])
    if reply.menu is not None:
        keys = [KeyboardButton(o.label, request_location=o.request == "location") for o in main_menu(t, reply.menu)]
        return ReplyKeyboardMarkup([keys[i : i + 2] for i in range(0, len(keys), 2)], resize_keyboard=True)
    return None


async def send(bot: Bot, chat_id: int, reply: Reply, t: Translator) -> None:
    """Send one reply as Telegram shows it."""
    if reply.point is not None:
        point = reply.point
        await bot.send_venue(chat_id, point.lat, point.lon, point.title, point.address)
        return
    if reply.photo is not None:
        await bot.send_photo(chat_id, reply.photo, caption=reply.text[:CAPTION_LIMIT], reply_markup=markup(reply, t))
        return
    parts = split_text(reply.text, MESSAGE_LIMIT) or [""]
    for part in parts[:-1]:
        await bot.send_message(chat_id, part)
    await bot.send_message(chat_id, parts[-1], reply_markup=markup(reply, t))


async def on_update(update: Update, context: Ctx) -> None:
    """Answer a private message or a button: the conversations decide, this only carries."""
    UPDATE.set(f"telegram:{update.update_id}")  # every log line about this update says which it is
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    data = context.bot_data
    person = Person(CHANNEL, str(user.id))
    came = incoming(update, person)
    if update.callback_query is not None:
        try:
            await update.callback_query.answer()  # or the button keeps spinning
        except TelegramError as exc:  # too late (a backlog after a restart): the choice is still answered
            log.warning("could not answer the button of update %s: %s", update.update_id, exc)
    if came is None:
        return
    turn = await respond(data.services, came, effects(context))
    if turn.replies:
        await departing()  # from the inbox: this update is never answered twice
    for reply in turn.replies:
        await send(context.bot, chat.id, reply, turn.t)


async def on_error(update: object, context: Ctx) -> None:
    """A failure that escaped the conversations (sending the answer, say): logged with the update's id, and the
    person told, as the conversations tell them of their own failures."""
    if isinstance(update, Update):
        UPDATE.set(f"telegram:{update.update_id}")
    log.error("error while handling update %s", getattr(update, "update_id", None), exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None or update.effective_user is None:
        return
    try:
        language = context.bot_data.services.people.language(Person(CHANNEL, str(update.effective_user.id)))
        await context.bot.send_message(update.effective_chat.id, translator(language).gettext(FAILED))
    except Exception:
        log.warning("could not tell chat %s about the failure", update.effective_chat.id, exc_info=True)


def chat_key(update: Mapping[str, Any]) -> str:
    """The chat an update belongs to, whose updates are answered in order (a private chat's id is its person's);
    an update of no chat is a chat of its own."""
    for kind in ("message", "edited_message", "channel_post", "my_chat_member", "chat_member"):
        value = update.get(kind)
        if isinstance(value, dict) and isinstance(value.get("chat"), dict) and "id" in value["chat"]:
            return str(value["chat"]["id"])
    query = update.get("callback_query")
    if isinstance(query, dict) and isinstance(query.get("from"), dict) and "id" in query["from"]:
        return str(query["from"]["id"])
    return f"update:{update.get('update_id')}"


class TelegramWebhook:
    """Telegram's calls to TELEGRAM_WEBHOOK_URL: the secret checked on every call (in constant time; 403
    otherwise), the update stored in the inbox, and only then 200 (any process answers it; a repeated call stores
    nothing)."""

    def __init__(self, secret: str, inbox: Inbox) -> None:
        self.secret = secret.encode()
        self.inbox = inbox

    async def handle(self, request: web.Request) -> web.Response:
        given = header_bytes(request, "X-Telegram-Bot-Api-Secret-Token")
        if not hmac.compare_digest(given, self.secret):
            return web.json_response({"ok": False, "description": "forbidden"}, status=403)
        try:
            body = await read_json(request)
        except BadBody as exc:
            return web.json_response({"ok": False, "description": str(exc)}, status=exc.status)
        update_id = body.get("update_id") if isinstance(body, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool) or update_id < 0:
            return web.json_response({"ok": False, "description": "not an update: no update_id"}, status=400)
        try:
            await self.inbox.put(CHANNEL, str(update_id), chat_key(body), update_id, json.dumps(body))
        except Exception:  # not stored: Telegram calls again
            log.exception("telegram: update %s could not be stored", update_id)
            return web.json_response({"ok": False, "description": "try again"}, status=503)
        return web.json_response({"ok": True})


def handlers() -> list[BaseHandler[Any, Ctx, Any]]:
    """Every message in a private chat and every button, to the one conversation."""
    return [MessageHandler(PRIVATE, on_update), CallbackQueryHandler(on_update)]


Charts = Callable[[str, str, str], Awaitable[bytes | None]]


class TelegramNotifier:
    """Sends outbox messages with the Bot API, rendered as the conversations render them; `charts` gives a digest's
    chart (kind, day, language)."""

    def __init__(self, bot: Bot, tz: Any, charts: Charts | None = None, channel: str = CHANNEL) -> None:
        self.bot = bot
        self.channel = channel
        self.audience: tuple[str, ...] | None = None
        self.tz = tz
        self.charts = charts

    async def _send(self, message: OutgoingMessage) -> bool:
        """Send one message; False if there is nothing that can be sent for it."""
        chat, t = int(message.person.external_id), translator(message.language)
        if message.kind == CHART:
            payload = message.payload
            png = await self.charts(payload["kind"], payload["day"], payload["language"]) if self.charts else None
            if png is None:
                return False
            await message.depart()
            await self.bot.send_photo(chat, png, caption=str(payload.get("caption", ""))[:CAPTION_LIMIT])
            return True
        reply = render(message, t, self.tz)
        if reply is None:
            return False
        await message.depart()
        await send(self.bot, chat, reply, t)
        return True

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        """Render in the person's language and send; map Telegram's answers to outcomes."""
        try:
            if not await self._send(message):
                return Delivery(Outcome.GONE, error=f"nothing to send for {message.kind}")
        except RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            return Delivery(Outcome.RETRY, seconds, f"429 retry after {seconds}s")
        except Forbidden as exc:
            return Delivery(Outcome.GONE, error=f"403 {exc.message}", blocked=True)
        except BadRequest as exc:
            return Delivery(Outcome.GONE, error=f"400 {exc.message}")
        except InvalidToken as exc:  # 401 or 404: the bot's token, not this message: the channel is held
            return Delivery(Outcome.RETRY, error=f"401 {exc.message}", halt=True)
        except TimedOut as exc:
            if isinstance(exc.__cause__, NEVER_LEFT):  # the request never left
                return Delivery(Outcome.RETRY, error=f"not sent: {exc.message}")
            return Delivery(Outcome.UNCERTAIN, error=f"timeout {exc.message}")
        except NetworkError as exc:
            cause = exc.__cause__
            # Telegram (or a proxy before it) answered with an error status, with a JSON body or any other (an
            # HTML page): refused, not delivered; or the request never left.
            if cause is None or isinstance(cause, (TelegramError, *NEVER_LEFT)):
                return Delivery(Outcome.RETRY, error=f"network {exc.message}")
            return Delivery(Outcome.UNCERTAIN, error=f"network {exc.message}")  # the request may have arrived
        return Delivery(Outcome.SENT)
