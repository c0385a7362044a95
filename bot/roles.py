"""Who may do what: citizens (everyone), officials of one commune, provincial leaders, admins (from the settings).

Roles are granted by one-time invites that an admin makes (`phucvu invite`, or `/moi` in chat) and a person redeems
with `/start <code>` (the deep link). Only a hash of the code is stored. Every grant and revocation is audited.
A privileged command or button asks `access()` every time: callback data can be forged by any client.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.dossiers import from_sql_time, to_sql_time
from bot.people import Person
from storage.people import PeopleRepo
from storage.roles import RolesRepo, StoredRole

INVITE_DAYS = 7
# What Telegram lets through a deep link's start parameter.
INVITE_CODE = re.compile(r"[A-Za-z0-9_-]{16,64}")


class Role(StrEnum):
    """The roles, weakest first."""

    CITIZEN = "citizen"
    OFFICIAL = "official"
    LEADER = "leader"
    ADMIN = "admin"


@dataclass(frozen=True)
class Access:
    """What a person may do: their role and, for an official, their commune."""

    role: Role
    commune_code: str | None = None

    def is_one_of(self, *roles: Role) -> bool:
        """Whether the person holds one of `roles`."""
        return self.role in roles


@dataclass(frozen=True)
class Invite:
    """A new invite: the code to hand over (shown once) and what it grants until when."""

    code: str
    role: Role
    commune_code: str | None
    expires_at: datetime


@dataclass(frozen=True)
class Redemption:
    """What `/start <code>` did: `outcome` is granted, unknown, used, revoked or expired."""

    outcome: str
    role: Role | None = None
    commune_code: str | None = None


@dataclass(frozen=True)
class Holder:
    """Someone holding a role, for the admin's list."""

    person_id: int
    person: Person
    role: Role
    commune_code: str | None
    granted_at: datetime
    grant: int  # the invite that granted the role (0 for none)


def new_code() -> str:
    """24 characters of [A-Za-z0-9_-] that begin and end with a letter or digit: `phucvu revoke-invite -x…` would
    read a leading dash as an option, and a phone may drop a trailing one from a link."""
    while True:
        code = secrets.token_urlsafe(18)
        if code[0].isalnum() and code[-1].isalnum():
            return code


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _holder(stored: StoredRole) -> Holder:
    return Holder(
        stored.person_id,
        Person(stored.channel, stored.external_id),
        Role(stored.role),
        stored.commune_code,
        from_sql_time(stored.granted_at),
        stored.invite_id or 0,
    )


def deep_link(bot_username: str, code: str) -> str:
    """The link that opens the bot and sends `/start <code>`."""
    return f"https://t.me/{bot_username}?start={code}"


class RolesService:
    """Roles, invites and their audit."""

    def __init__(self, repo: RolesRepo, people: PeopleRepo, admins: frozenset[Person]) -> None:
        self.repo = repo
        self.people = people
        self.admins = admins

    async def access(self, person: Person) -> Access:
        """The person's role, read afresh (a revocation takes effect at once)."""
        if person in self.admins:
            return Access(Role.ADMIN)
        stored = await self.repo.role_of(person.channel, person.external_id)
        if stored is None:
            return Access(Role.CITIZEN)
        return Access(Role(stored.role), stored.commune_code)

    async def invite(
        self, role: Role, commune_code: str | None, actor: str, now: datetime, days: int = INVITE_DAYS
    ) -> Invite:
        """A one-time code granting `role` (an official's bound to `commune_code`) for `days` days."""
        if role not in (Role.OFFICIAL, Role.LEADER):
            raise ValueError(f"an invite grants official or leader, not {role}")
        if (role is Role.OFFICIAL) != (commune_code is not None):
            raise ValueError("an official's invite names one commune; a leader's none")
        if not 1 <= days <= 90:
            raise ValueError("an invite lasts 1 to 90 days")
        code = new_code()
        expires = now + timedelta(days=days)
        await self.repo.add_invite(_hash(code), role.value, commune_code, actor, to_sql_time(now), to_sql_time(expires))
        return Invite(code, role, commune_code, expires)

    async def redeem(self, person: Person, code: str, now: datetime) -> Redemption:
        """Use an invite: the person gets its role (replacing the one they had), once."""
        if not INVITE_CODE.fullmatch(code):
            return Redemption("unknown")
        person_id = await self.people.ensure(person.channel, person.external_id, now.isoformat())
        outcome, invite = await self.repo.redeem(_hash(code), person_id, actor(person), to_sql_time(now))
        if outcome != "granted" or invite is None:
            return Redemption(outcome)
        return Redemption(outcome, Role(invite.role), invite.commune_code)

    async def would_replace(self, person: Person, code: str, now: datetime) -> tuple[Access, Role, str | None] | None:
        """If using this invite would replace a different role the person holds: what they hold and what the
        invite gives (nothing changes yet); None when it would not (no role held, the same role, or no usable
        invite)."""
        if not INVITE_CODE.fullmatch(code):
            return None
        invite = await self.repo.usable_invite(_hash(code), to_sql_time(now))
        if invite is None:
            return None
        held = await self.access(person)
        if held.role not in (Role.OFFICIAL, Role.LEADER):
            return None
        if (held.role.value, held.commune_code) == (invite.role, invite.commune_code):
            return None
        return held, Role(invite.role), invite.commune_code

    async def revoke_invite(self, code: str, actor: str, now: datetime) -> bool:
        """Withdraw an invite nobody has used yet."""
        return await self.repo.revoke_invite(_hash(code), actor, to_sql_time(now))

    async def revoke(self, person_id: int, actor: str, now: datetime, grant: int | None = None) -> Holder | None:
        """Take a role away (with `grant`, only the role that invite gave); what the person held, or None."""
        stored = await self.repo.revoke(person_id, actor, to_sql_time(now), grant)
        return _holder(stored) if stored else None

    async def holders(self) -> list[Holder]:
        """Everyone who holds a role (admins, from the settings, are not listed)."""
        return [_holder(stored) for stored in await self.repo.with_roles()]


def actor(person: Person) -> str:
    """How the audit names a person acting in chat (the CLI is `cli`)."""
    return f"{person.channel}:{person.external_id}"
