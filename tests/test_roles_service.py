"""Roles: invites that grant them once, before they expire and unless revoked; access read afresh; every change
audited."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.people import Person
from bot.roles import Access, Role, RolesService, deep_link
from storage.centres import CentresRepo
from storage.db import Database
from storage.people import PeopleRepo
from storage.roles import RolesRepo

NOW = datetime(2025, 8, 4, 1, 0, tzinfo=UTC)
ADMIN = Person("telegram", "1")
ANH = Person("telegram", "7001")
BINH = Person("zalo", "u-bình")


@pytest.fixture
async def roles(db: Database, centres_repo: CentresRepo) -> RolesService:
    return RolesService(RolesRepo(db), PeopleRepo(db), frozenset({ADMIN}))


async def test_an_invite_gives_its_role_once(roles: RolesService) -> None:
    invite = await roles.invite(Role.OFFICIAL, "06385", "cli", NOW)
    assert invite.expires_at == NOW + timedelta(days=7)
    assert await roles.access(ANH) == Access(Role.CITIZEN)
    granted = await roles.redeem(ANH, invite.code, NOW + timedelta(hours=1))
    assert (granted.outcome, granted.role, granted.commune_code) == ("granted", Role.OFFICIAL, "06385")
    assert await roles.access(ANH) == Access(Role.OFFICIAL, "06385")
    again = await roles.redeem(BINH, invite.code, NOW + timedelta(hours=2))
    assert (again.outcome, again.role) == ("used", None)
    assert await roles.access(BINH) == Access(Role.CITIZEN)


async def test_expired_revoked_and_unknown_codes_are_refused(roles: RolesService) -> None:
    old = await roles.invite(Role.LEADER, None, "cli", NOW, days=1)
    assert (await roles.redeem(ANH, old.code, NOW + timedelta(days=1))).outcome == "expired"
    withdrawn = await roles.invite(Role.LEADER, None, "cli", NOW)
    assert await roles.revoke_invite(withdrawn.code, "cli", NOW)
    assert not await roles.revoke_invite(withdrawn.code, "cli", NOW)
    assert (await roles.redeem(ANH, withdrawn.code, NOW)).outcome == "revoked"
    for code in ["x" * 24, "short", "<script>", withdrawn.code.upper() + "!"]:
        assert (await roles.redeem(ANH, code, NOW)).outcome == "unknown"
    assert await roles.access(ANH) == Access(Role.CITIZEN)


async def test_an_invite_must_match_its_role(roles: RolesService) -> None:
    with pytest.raises(ValueError, match="commune"):
        await roles.invite(Role.OFFICIAL, None, "cli", NOW)
    with pytest.raises(ValueError, match="commune"):
        await roles.invite(Role.LEADER, "06385", "cli", NOW)
    with pytest.raises(ValueError, match="official or leader"):
        await roles.invite(Role.ADMIN, None, "cli", NOW)
    with pytest.raises(ValueError, match="days"):
        await roles.invite(Role.LEADER, None, "cli", NOW, days=0)


async def test_admins_come_from_the_settings_and_a_revoked_role_ends_at_once(roles: RolesService, db: Database) -> None:
    assert await roles.access(ADMIN) == Access(Role.ADMIN)
    assert await roles.access(Person("console", "1")) == Access(Role.CITIZEN)  # the same id on another channel
    leader = await roles.invite(Role.LEADER, None, "telegram:1", NOW)
    await roles.redeem(BINH, leader.code, NOW)
    [holder] = await roles.holders()
    assert (holder.person, holder.role, holder.granted_at) == (BINH, Role.LEADER, NOW)
    taken = await roles.revoke(holder.person_id, "telegram:1", NOW + timedelta(days=1))
    assert taken is not None and taken.role is Role.LEADER
    assert await roles.access(BINH) == Access(Role.CITIZEN)
    assert await roles.revoke(holder.person_id, "telegram:1", NOW) is None
    audit = [(row["actor"], row["action"], row["role"]) for row in await roles.repo.audit()]
    assert audit == [
        ("telegram:1", "invite", "leader"),
        ("zalo:u-bình", "grant", "leader"),
        ("telegram:1", "revoke", "leader"),
    ]
    official = await roles.invite(Role.OFFICIAL, "06385", "telegram:1", NOW)
    await roles.redeem(ANH, official.code, NOW)
    leader_again = await roles.invite(Role.LEADER, None, "telegram:1", NOW)
    await roles.redeem(ANH, leader_again.code, NOW)  # replaces the official role: audited as a revocation
    changes = [(row["action"], row["role"], row["commune_code"]) for row in await roles.repo.audit()]
    tail = [change for change in changes if change[0] != "invite"][-3:]
    assert tail == [("grant", "official", "06385"), ("revoke", "official", "06385"), ("grant", "leader", None)]
    stored = await db.fetchall("SELECT code_hash FROM invites")
    assert leader.code not in {row["code_hash"] for row in stored}  # only a hash is kept


def test_deep_link() -> None:
    assert deep_link("PhucVuLangSonBot", "abc") == "https://t.me/PhucVuLangSonBot?start=abc"


async def test_a_revocation_for_an_old_grant_leaves_the_new_role(roles: RolesService) -> None:
    first = await roles.invite(Role.LEADER, None, "telegram:1", NOW)
    await roles.redeem(ANH, first.code, NOW)
    [old] = await roles.holders()
    second = await roles.invite(Role.OFFICIAL, "06385", "telegram:1", NOW)
    await roles.redeem(ANH, second.code, NOW)
    assert await roles.revoke(old.person_id, "telegram:1", NOW, old.grant) is None  # a button from before
    assert await roles.access(ANH) == Access(Role.OFFICIAL, "06385")
    [new] = await roles.holders()
    taken = await roles.revoke(new.person_id, "telegram:1", NOW, new.grant)
    assert taken is not None and taken.role is Role.OFFICIAL


def test_an_invite_code_never_begins_or_ends_with_a_dash_or_underscore() -> None:
    from bot.roles import INVITE_CODE, new_code

    codes = [new_code() for _ in range(2000)]  # about 60 would begin with one if nothing kept them out
    assert all(INVITE_CODE.fullmatch(code) and code[0].isalnum() and code[-1].isalnum() for code in codes)
    assert len(set(codes)) == len(codes)
