"""Replies on channels without buttons (Zalo, the console): choices become numbered lines, and what each number means
is remembered per person, so that a number typed later (after a restart too) chooses what the person saw."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.i18n import N_, Translator, translator
from bot.people import Person
from bot.services import Services
from handlers.chat import Effects, Incoming, Option, Reply
from handlers.menu import key, main_menu
from handlers.router import respond

CHOOSE = N_("Nhắn số để chọn.")
NOT_LISTED = N_("Số {number} không có trong danh sách. Nhắn 0 để xem menu.")
MENU = N_("Nhắn số để chọn, hoặc nhắn thẳng mã hồ sơ, tên xã, phường. Nhắn 0 để xem lại menu này.")
_SYMBOLS = re.compile(r"^[^\w«(]+", re.UNICODE)


def plain(label: str) -> str:
    """A label without the emoji it carries on buttons (one emoji per message, at most)."""
    return _SYMBOLS.sub("", label).strip() or label


@dataclass(frozen=True)
class Shown:
    """A reply as a text channel shows it: its text, the picture that goes with it, and its numbered options."""

    text: str
    photo: bytes | str | None
    options: tuple[Option, ...]


def show(replies: Sequence[Reply], t: Translator) -> tuple[list[Shown], list[Option] | None]:
    """Each reply as text with numbered lines (numbers run on across the answer), and the options the numbers now
    mean (None: the answer changes nothing, the menu shown before still holds)."""
    shown: list[Shown] = []
    numbered: list[Option] = []
    for reply in replies:
        lines = [reply.text] if reply.text else []
        if reply.point is not None:
            point = reply.point
            lines.append(f"📍 {point.title} — {point.address}")
            lines.append(point.url)
        options = reply.options or (main_menu(t, reply.menu) if reply.menu is not None else ())
        links = [option for option in options if option.url]
        choices = [option for option in options if option.action and not option.request]
        lines.extend(f"{plain(option.label)}: {option.url}" for option in links)
        if choices:
            first = len(numbered) + 1
            lines.append("")
            lines.extend(f"{number}. {plain(o.label)}" for number, o in enumerate(choices, start=first))
            lines.append(t.gettext(MENU if not reply.options else CHOOSE))
            numbered.extend(choices)
        shown.append(Shown("\n".join(lines).strip(), reply.photo, tuple(choices)))
    keep = all(reply.keep for reply in replies)
    return shown, (None if keep else numbered)


async def read(services: Services, came: Incoming) -> Incoming | Reply:
    """What a typed line chooses: a number (1–99) of the menu the person saw last, or one of its labels typed, is
    that option's action; a number not in it is answered here (the menu shown before still holds)."""
    text, person = came.text, came.person
    if came.photo or came.location or not text:
        return came
    if text.isascii() and text.isdigit() and len(text) <= 2 and text != "0":
        option = await services.chat.option(person, int(text))
        if option is None:
            t = translator(services.people.language(person))
            return Reply(t.gettext(NOT_LISTED).format(number=text), keep=True)
        return Incoming(person, action=option[0], value=option[1])
    shown = await services.chat.labelled(person, key(text))
    return Incoming(person, action=shown[0], value=shown[1]) if shown else came


async def answer(
    services: Services, came: Incoming, effects: Effects, *, locations: bool, pictures: bool
) -> tuple[list[Reply], str]:
    """The replies to a line typed on a text channel, and the language they are written in."""
    chosen = await read(services, came)
    if isinstance(chosen, Reply):
        return [chosen], services.people.language(came.person)
    turn = await respond(services, chosen, effects, locations=locations, pictures=pictures)
    return turn.replies, turn.t.language


async def remember(services: Services, person: Person, options: list[Option] | None) -> None:
    """What the person's numbers mean from now on."""
    if options is not None:
        stored = [(option.action, option.value, key(option.label)) for option in options]
        await services.chat.remember(person, stored, services.clock())


def keeping(reply: Reply) -> Reply:
    """A notification as a text channel shows it: without numbered lines it changes nothing the person's numbers
    mean (they may be about to type one); with them (choices, or a menu) it says what they mean now."""
    return replace(reply, keep=not reply.options and reply.menu is None)
