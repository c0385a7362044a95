"""One table from action names to conversations, the commands that reach them, and `respond`: what every channel
calls with what a person sent. A role check happens here, once: an action the person's role does not allow is
answered exactly as one that does not exist (typed: not understood; chosen: no longer valid)."""

from __future__ import annotations

import logging
import time

from bot.centres import coordinates
from bot.commands import (
    CANCEL,
    CENTRE,
    COMMUNE_DOSSIERS,
    DIGEST,
    DOSSIER,
    FOLLOW,
    HELP,
    INVITE,
    LANG,
    PROCEDURE,
    REPORT,
    REPORTS,
    ROLES,
    START,
    UPDATE_CENTRE,
    Command,
)
from bot.dossiers import typed_code
from bot.i18n import translator
from bot.metrics import ANSWER_FAILURES, ANSWER_SECONDS, UPDATES
from bot.roles import Role
from bot.services import Services
from bot.text import fold
from handlers import centres, digest, dossiers, menu, people, procedures, ratings, reports, roles
from handlers.chat import FAILED, Effects, Incoming, Replies, Reply, Route, Turn, stale, unrecognised

log = logging.getLogger(__name__)

OFFICIAL = (Role.OFFICIAL,)
LEADERS = (Role.LEADER, Role.ADMIN)
ANY_ROLE = (Role.OFFICIAL, Role.LEADER, Role.ADMIN)

ACTIONS: dict[str, Route] = {
    "start": Route(people.start),
    "menu": Route(people.show_menu),
    "help": Route(people.show_help),
    "language": Route(people.language),
    "dossier": Route(dossiers.dossier),
    "following": Route(dossiers.following),
    "follow": Route(dossiers.follow),
    "unfollow": Route(dossiers.unfollow),
    "centre": Route(centres.centre),
    "commune": Route(centres.commune),
    "old": Route(centres.old_unit),
    "pin": Route(centres.pin),
    "procedure": Route(procedures.procedure),
    "procedure_view": Route(procedures.view),
    "rate": Route(ratings.rate),
    "rate_why": Route(ratings.why),
    "cancel": Route(reports.cancel),
    "update_centre": Route(centres.update_centre, OFFICIAL),
    "commune_dossiers": Route(dossiers.commune_dossiers, OFFICIAL),
    "report": Route(reports.start, ANY_ROLE),
    "rp": Route(reports.choose, OFFICIAL),
    "reopen": Route(reports.reopen, OFFICIAL),
    "reports": Route(reports.listed, ANY_ROLE),
    "view": Route(reports.view, LEADERS),
    "move": Route(reports.move, LEADERS),
    "note": Route(reports.ask_note, LEADERS),
    "digest": Route(digest.digest, LEADERS),
    "invite": Route(roles.invite, (Role.ADMIN,)),
    "roles": Route(roles.listed, (Role.ADMIN,)),
    "revoke": Route(roles.revoke, (Role.ADMIN,)),
    "invite_use": Route(people.use_invite),
}
COMMAND_ACTIONS: dict[Command, str] = {
    START: "start",
    HELP: "help",
    LANG: "language",
    CENTRE: "centre",
    PROCEDURE: "procedure",
    DOSSIER: "dossier",
    FOLLOW: "following",
    CANCEL: "cancel",
    UPDATE_CENTRE: "update_centre",
    COMMUNE_DOSSIERS: "commune_dossiers",
    REPORT: "report",
    REPORTS: "reports",
    DIGEST: "digest",
    INVITE: "invite",
    ROLES: "roles",
}
COMMANDS = {name: action for command, action in COMMAND_ACTIONS.items() for name in command.names}


async def choose(turn: Turn, action: str, value: str, *, typed: bool) -> Replies:
    """Run an action for the person, if their role allows it; what they awaited no longer applies."""
    route = ACTIONS.get(action)
    if route is None or (route.roles and not (await turn.access()).is_one_of(*route.roles)):
        return unrecognised(turn) if typed else stale(turn)
    if action != "cancel":
        turn.awaited = await turn.services.chat.take(turn.person, turn.now)
    return await route.run(turn, value)


def command(text: str) -> tuple[str, str] | None:
    """`/hoso 000…` → (`dossier`, `000…`); `/start@phucvu_bot CODE` too; None for no command of ours."""
    name, _, args = text[1:].partition(" ")
    action = COMMANDS.get(fold(name.partition("@")[0]))  # `/huỷ` is `/huy`
    return (action, args.strip()) if action else None


async def answer(turn: Turn) -> Replies:
    """The replies to what a person sent."""
    incoming = turn.incoming
    if incoming.action is not None:
        return await choose(turn, incoming.action, incoming.value, typed=False)
    text = incoming.text
    if text.startswith("/"):
        found = command(text)
        return await choose(turn, *found, typed=True) if found else unrecognised(turn)
    typed = menu.typed(text) if text else None
    writing = await _writing(turn)
    if typed is not None and (typed[0] == "cancel" or not writing):
        return await choose(turn, *typed, typed=True)
    if text and not incoming.photo and (awaited := await _awaited(turn, text)) is not None:
        return awaited  # what was asked for comes first, a report's step too
    if writing:
        if not incoming.photo and (invite := people.invite_code(text)) is not None:  # a new role ends the report
            return await people.redeem(turn, invite)
        return await reports.step(turn)
    if incoming.location is not None:
        if await awaiting_now(turn) == centres.PIN_AWAITING and (await turn.access()).is_one_of(Role.OFFICIAL):
            return await centres.set_pin(turn, incoming.location)  # after «/capnhat vitri»
        return await centres.nearest(turn, *incoming.location)
    if incoming.photo:
        return await dossiers.receipt(turn)
    if incoming.other or not text:
        return await people.chat(turn, "ack")
    return await _free_text(turn, text)


async def _writing(turn: Turn) -> bool:
    """Whether the person is writing a report: one their role's end (a revocation, a new invite) has not taken
    away meanwhile."""
    reports_ = turn.services.reports
    return reports_.is_writing(turn.person) and await reports_.writing(turn.person) is not None


async def awaiting_now(turn: Turn) -> str:
    """What the person's next message answers, if it still does."""
    return await turn.services.chat.awaiting(turn.person, turn.now)


async def _awaited(turn: Turn, text: str) -> Replies | None:
    """The answer to a message that answers what was asked for (within a while), or None when nothing was or it
    no longer applies (a role taken away, a rating no longer open)."""
    services, person = turn.services, turn.person
    awaiting = await services.chat.awaiting(person, turn.now)
    if not awaiting:
        return None
    if awaiting == dossiers.AWAITING:
        return await dossiers.awaited_code(turn, text)
    if awaiting == procedures.AWAITING:
        await services.chat.expect(person, "", turn.now)
        return await procedures.answer(turn, text, asked=True)
    if awaiting == centres.PIN_AWAITING and (await turn.access()).is_one_of(Role.OFFICIAL):
        return await centres.set_pin(turn, coordinates(text))
    if (noted := reports.awaited_note(awaiting)) is not None:
        if (await turn.access()).is_one_of(*LEADERS):
            return await reports.note(turn, noted, text)
    elif (closing := reports.awaited_reason(awaiting)) is not None:
        if (await turn.access()).is_one_of(*LEADERS):
            return await reports.confirm_move(turn, *closing, text)
    elif (rated := ratings.awaited(awaiting)) is not None:
        about, key = rated
        answered = await (ratings.comment if about == "comment" else ratings.reason)(turn, key, text)
        if answered is not None:
            return answered
    await services.chat.expect(person, "", turn.now)
    return None


async def _free_text(turn: Turn, text: str) -> Replies:
    incoming = turn.incoming
    if text.isascii() and text.isdigit() and len(text) <= 2:  # a menu's number where choices are buttons
        return unrecognised(turn)
    if (number := reports.typed_report(text)) is not None and (await turn.access()).is_one_of(*LEADERS):
        return await reports.view(turn, str(number))
    quoted = reports.replied_report(incoming.replied_to) if incoming.replied_to else None
    if quoted is not None and (await turn.access()).is_one_of(Role.LEADER, Role.ADMIN):
        return await reports.note(turn, quoted, text)
    if (code := typed_code(text)) is not None:
        return await dossiers.lookup(turn, code)
    if (invite := people.invite_code(text)) is not None:
        return await people.redeem(turn, invite)
    if (talk := people.small_talk(text)) is not None:
        return await people.chat(turn, talk)
    return await procedures.free_question(turn, text)


async def respond(
    services: Services,
    incoming: Incoming,
    effects: Effects | None = None,
    *,
    locations: bool = True,
    pictures: bool = True,
) -> Turn:
    """Answer what a person sent; the turn holds the replies and the translator they are written in. A failure is
    logged and answered with an apology, never raised."""
    person = incoming.person
    started = time.perf_counter()
    t = translator(services.people.language(person))
    turn = Turn(incoming, services, t, services.clock(), locations=locations, pictures=pictures)
    if effects is not None:
        turn.effects = effects
    try:
        turn.replies = await answer(turn)
    except Exception:
        log.exception("answering %s %s failed", person.channel, person.external_id)
        turn.replies = [Reply(turn.t.gettext(FAILED), keep=True)]
        ANSWER_FAILURES.labels(person.channel).inc()
    UPDATES.labels(person.channel, incoming.kind).inc()
    ANSWER_SECONDS.labels(person.channel).observe(time.perf_counter() - started)
    return turn
