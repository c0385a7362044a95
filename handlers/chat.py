"""What every conversation takes and gives, whatever the channel: `Incoming` (what a person sent), `Reply` (text,
choices, a link, a map point, a photo) and `Turn` (one message being answered: the person, their translator, the
services, the time, and what the application does on the side).

Channels turn their updates into an `Incoming` and render `Reply`s in their own idiom: inline buttons on Telegram,
numbered lines on Zalo and in the console. A choice is an `Option` with an action name and a value, the same on
every channel; `handlers.router` maps action names to the conversations and refuses what a role may not do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.i18n import N_, Translator
from bot.people import Person
from bot.roles import Access, Role
from bot.services import Services
from bot.text import in_running_text

# One answer for whatever cannot be used, and one for a choice that no longer applies: a person without a role
# is answered exactly so, on every channel, so that nothing tells them the privileged thing exists.
UNRECOGNISED = N_(
    "Phục Vụ chưa hiểu tin nhắn này. Vui lòng nhắn mã hồ sơ, tên xã, phường, hoặc chọn một mục trong menu."
)
STALE = N_("Lựa chọn này đã hết hiệu lực. Vui lòng thực hiện lại.")
FAILED = N_("Xin lỗi, đã có lỗi khi xử lý yêu cầu. Vui lòng thử lại sau ít phút.")


@dataclass(frozen=True)
class Option:
    """A choice: its label, the action it names and the value it carries (`request`: a channel capability it
    stands for instead, such as sharing a location; channels that lack it leave the option out)."""

    label: str
    action: str
    value: str = ""
    url: str = ""  # a link to open instead of an action
    request: str = ""


@dataclass(frozen=True)
class Point:
    """A place to show on a map."""

    lat: float
    lon: float
    title: str
    address: str
    url: str = ""  # a link that opens it in a map, for channels that cannot send a pin


@dataclass(frozen=True)
class Reply:
    """One message of an answer. `menu` asks for the role's main menu (a keyboard on Telegram, numbered lines on
    text channels), for replies without options; `columns` how many choices a row holds where rows exist."""

    text: str = ""
    options: tuple[Option, ...] = ()
    point: Point | None = None
    photo: bytes | str | None = None  # a PNG, or an image's URL; `text` is its caption
    menu: Role | None = None
    columns: int = 1
    keep: bool = False  # changes nothing: the numbers of the menu shown before still mean what they meant


@dataclass(frozen=True)
class Incoming:
    """What a person sent: a text, a chosen option (`action`, `value`), a photo (a channel's reference: a file id
    or a URL, with `text` its caption), a location, or something else (`other`: a sticker and the like).
    `replied_to` is the text of the bot's message a reply quotes, where the channel has replies."""

    person: Person
    text: str = ""
    action: str | None = None
    value: str = ""
    photo: str = ""
    location: tuple[float, float] | None = None
    replied_to: str = ""
    other: bool = False

    @property
    def kind(self) -> str:
        """What kind of message it is: action, photo, location, text or other (for the metrics)."""
        if self.action is not None:
            return "action"
        if self.photo:
            return "photo"
        if self.location is not None:
            return "location"
        return "other" if self.other else "text"


@dataclass(frozen=True)
class Effects:
    """What the application does on the side of a conversation: drain the outbox now (an urgent alert waits for
    nothing), schedule the digests again (a leader moved theirs), give a person the command menu of a new role,
    the bot's username for invite links, and fetch a photo a person sent (its channel knows how)."""

    wake: Callable[[], None] = lambda: None
    reschedule: Callable[[], Awaitable[None]] | None = None
    role_changed: Callable[[Person, Role], Awaitable[None]] | None = None
    username: str = ""
    photo: Callable[[str], Awaitable[bytes]] | None = None  # a photo's bytes by its reference (ImageRefused)


@dataclass
class Turn:
    """One incoming message being answered; `locations`: people can share a location on its channel; `pictures`:
    it can show a picture the bot made (Zalo takes pictures by their URL only)."""

    incoming: Incoming
    services: Services
    t: Translator
    now: datetime
    effects: Effects = field(default_factory=Effects)
    locations: bool = True
    pictures: bool = True
    replies: list[Reply] = field(default_factory=list)
    awaited: str = ""  # what a choice answered that the person had been asked (see `ChatState.take`)
    _access: Access | None = None

    @property
    def person(self) -> Person:
        """Who wrote."""
        return self.incoming.person

    async def access(self) -> Access:
        """The person's role, read once per message."""
        if self._access is None:
            self._access = await self.services.roles.access(self.person)
        return self._access

    async def role(self) -> Role:
        """The person's role."""
        return (await self.access()).role

    def forget_access(self) -> None:
        """The role changed while answering (an invite was used)."""
        self._access = None

    def say(self, message: str, **values: object) -> Reply:
        """A reply of one translated message."""
        text = self.t.gettext(message)
        return Reply(text.format(**values) if values else text)


ECHO = 40  # characters of what a person typed that an answer repeats


def echo(text: str) -> str:
    """What a person typed, as an answer repeats it: short (a 5,000-digit «code» is not sent back whole)."""
    return text if len(text) <= ECHO else text[: ECHO - 1] + "…"


def place(name: str, t: Translator) -> str:
    """A unit's name inside a sentence: `xã Cai Kinh` in Vietnamese (as the one-stop system writes it), `Xã Cai Kinh`
    in English."""
    return in_running_text(name) if t.language == "vi" else name


Replies = list[Reply]
Action = Callable[[Turn, str], Awaitable[Replies]]


@dataclass(frozen=True)
class Route:
    """An action's conversation, and the roles that may use it (everyone when empty)."""

    run: Action
    roles: tuple[Role, ...] = ()


def unrecognised(turn: Turn) -> Replies:
    """The answer to what cannot be used: it names what can."""
    return [Reply(turn.t.gettext(UNRECOGNISED))]


def stale(turn: Turn) -> Replies:
    """The answer to a choice that no longer applies (or was never offered)."""
    return [Reply(turn.t.gettext(STALE))]
