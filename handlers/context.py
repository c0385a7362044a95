"""The one typed helper every handler starts with: who wrote, in which chat, what, and their translator."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Update
from telegram.ext import filters

from bot.app import Ctx, Services
from bot.i18n import Translator, translator
from bot.people import Person
from bot.text import clean

# New messages in private chats only: edits are ignored, and the bot added to a group stays silent there
# (it would otherwise answer every message and show its menu to every member).
PRIVATE = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE


@dataclass(frozen=True)
class Incoming:
    """What a handler needs from an update."""

    person: Person
    chat_id: int | str  # Telegram's chat ids are numbers, Zalo's strings
    text: str
    t: Translator
    services: Services


async def incoming(update: Update, context: Ctx) -> Incoming | None:
    """Read the update once; None when it has no user or chat (channel posts and the like)."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    services = context.bot_data.services
    person = Person(services.channel, str(user.id))
    message = update.effective_message
    text = clean(message.text or message.caption or "") if message else ""
    return Incoming(person, chat.id, text, translator(services.people.language(person)), services)


def command_args(context: Ctx) -> str:
    """The text after a command (`/trungtam Hữu Lũng` → `Hữu Lũng`)."""
    return clean(" ".join(context.args or []))
