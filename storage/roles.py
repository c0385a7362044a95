"""SQL for roles, invites and the audit of role changes."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import aiosqlite

from storage.db import Store


@dataclass(frozen=True)
class StoredRole:
    """A person's role as stored (times as stored)."""

    person_id: int
    channel: str
    external_id: str
    role: str
    commune_code: str | None
    granted_at: str
    invite_id: int | None


@dataclass(frozen=True)
class StoredInvite:
    """An invite as stored; the code itself is never stored, only its hash."""

    id: int
    role: str
    commune_code: str | None
    expires_at: str
    used_at: str | None
    revoked_at: str | None


def _role(row: sqlite3.Row) -> StoredRole:
    return StoredRole(
        row["person_id"],
        row["channel"],
        row["external_id"],
        row["role"],
        row["commune_code"],
        row["granted_at"],
        row["invite_id"],
    )


def _invite(row: sqlite3.Row) -> StoredInvite:
    return StoredInvite(
        row["id"], row["role"], row["commune_code"], row["expires_at"], row["used_at"], row["revoked_at"]
    )


async def _audit(
    conn: aiosqlite.Connection,
    now: str,
    actor: str,
    action: str,
    person_id: int | None,
    role: str | None,
    commune_code: str | None,
    invite_id: int | None,
) -> None:
    await conn.execute(
        "INSERT INTO role_audit (at, actor, action, person_id, role, commune_code, invite_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (now, actor, action, person_id, role, commune_code, invite_id),
    )


# Outbox messages someone gets only for holding a role.
ROLE_KINDS = ("digest_text", "digest_chart", "report_blocking", "report_moved")


async def _role_ended(conn: aiosqlite.Connection, person_id: int, now: str) -> None:
    """What a role brought ends with it: the report being written and the messages not yet sent. A digest of
    which nothing was sent is forgotten altogether, so that the role given back the same day brings that day's
    digest; one partly sent keeps its record (never twice)."""
    await conn.execute("DELETE FROM report_drafts WHERE person_id = ?", (person_id,))
    await conn.execute("UPDATE chat_state SET awaiting = '' WHERE person_id = ? AND awaiting != ''", (person_id,))
    digests = await conn.execute_fetchall(
        "SELECT d.kind, d.day, max(CASE WHEN o.claimed_at IS NOT NULL THEN 1 ELSE 0 END) FROM digests d"
        " JOIN outbox o ON o.person_id = d.person_id AND o.dedupe_key LIKE 'digest:' || d.kind || ':' || d.day || ':%'"
        " WHERE d.person_id = ? GROUP BY d.kind, d.day"  # some part still to send:
        " HAVING min(CASE WHEN o.claimed_at IS NOT NULL OR o.failed_at IS NOT NULL THEN 1 ELSE 0 END) = 0",
        (person_id,),
    )
    for kind, day, partly_sent in digests:
        if not partly_sent:
            prefix = f"digest:{kind}:{day}:{person_id}:%"
            await conn.execute("DELETE FROM outbox WHERE person_id = ? AND dedupe_key LIKE ?", (person_id, prefix))
            await conn.execute(
                "DELETE FROM digests WHERE person_id = ? AND kind = ? AND day = ?", (person_id, kind, day)
            )
    await conn.execute(
        "UPDATE outbox SET failed_at = ?, last_error = 'role ended' WHERE person_id = ?"
        f" AND claimed_at IS NULL AND failed_at IS NULL AND kind IN ({', '.join('?' * len(ROLE_KINDS))})",
        (now, person_id, *ROLE_KINDS),
    )


class RolesRepo:
    """Reads and writes roles and invites; every change is audited in the same transaction."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def role_of(self, channel: str, external_id: str) -> StoredRole | None:
        """The role of a person, by their channel key."""
        row = await self.db.point_read(
            "SELECT r.*, p.channel, p.external_id FROM roles r JOIN people p ON p.id = r.person_id"
            " WHERE p.channel = ? AND p.external_id = ?",
            (channel, external_id),
        )
        return _role(row) if row else None

    async def with_roles(self) -> list[StoredRole]:
        """Everyone who holds a role, leaders first, then officials by commune."""
        rows = await self.db.fetchall(
            "SELECT r.*, p.channel, p.external_id FROM roles r JOIN people p ON p.id = r.person_id"
            " ORDER BY r.role = 'official', r.commune_code, r.granted_at"
        )
        return [_role(row) for row in rows]

    async def add_invite(
        self, code_hash: str, role: str, commune_code: str | None, actor: str, now: str, expires_at: str
    ) -> int:
        """Store a new invite; its id."""
        async with self.db.transaction() as conn:
            inserted = await conn.execute_fetchall(
                "INSERT INTO invites (code_hash, role, commune_code, created_at, created_by, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (code_hash, role, commune_code, now, actor, expires_at),
            )
            invite_id = int(next(iter(inserted))[0])
            await _audit(conn, now, actor, "invite", None, role, commune_code, invite_id)
            return invite_id

    async def redeem(self, code_hash: str, person_id: int, actor: str, now: str) -> tuple[str, StoredInvite | None]:
        """Use an invite for a person: ('granted', invite), or ('unknown' | 'used' | 'yours' | 'revoked' | 'expired',
        …), 'yours' when this person used it already.

        One transaction: two people racing for one code cannot both have it."""
        async with self.db.transaction() as conn:
            rows = list(await conn.execute_fetchall("SELECT * FROM invites WHERE code_hash = ?", (code_hash,)))
            if not rows:
                return "unknown", None
            invite = _invite(rows[0])
            if invite.revoked_at is not None:
                return "revoked", invite
            if invite.used_at is not None:  # 'yours' only while the person still holds what it gave
                mine = await conn.execute_fetchall(
                    "SELECT 1 FROM invites i JOIN roles r ON r.person_id = i.used_by AND r.invite_id = i.id"
                    " WHERE i.id = ? AND i.used_by = ?",
                    (invite.id, person_id),
                )
                return ("yours" if list(mine) else "used"), invite
            if invite.expires_at <= now:
                return "expired", invite
            await conn.execute("UPDATE invites SET used_at = ?, used_by = ? WHERE id = ?", (now, person_id, invite.id))
            held = list(
                await conn.execute_fetchall("SELECT role, commune_code FROM roles WHERE person_id = ?", (person_id,))
            )
            if held:  # the new role replaces the one the person had: the audit says so
                await _audit(conn, now, actor, "revoke", person_id, held[0][0], held[0][1], invite.id)
                if (held[0][0], held[0][1]) != (invite.role, invite.commune_code):
                    await _role_ended(conn, person_id, now)
            await conn.execute(
                "INSERT INTO roles (person_id, role, commune_code, granted_at, invite_id) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (person_id) DO UPDATE SET role = excluded.role, commune_code = excluded.commune_code,"
                " granted_at = excluded.granted_at, invite_id = excluded.invite_id",
                (person_id, invite.role, invite.commune_code, now, invite.id),
            )
            await _audit(conn, now, actor, "grant", person_id, invite.role, invite.commune_code, invite.id)
            return "granted", invite

    async def usable_invite(self, code_hash: str, now: str) -> StoredInvite | None:
        """The invite with this code if it may still be used (not used, revoked or expired), without using it."""
        row = await self.db.fetchone(
            "SELECT * FROM invites WHERE code_hash = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
            (code_hash, now),
        )
        return _invite(row) if row else None

    async def revoke_invite(self, code_hash: str, actor: str, now: str) -> bool:
        """Revoke an unused invite; False if there is none such."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE invites SET revoked_at = ? WHERE code_hash = ? AND used_at IS NULL AND revoked_at IS NULL",
                (now, code_hash),
            )
            if cursor.rowcount == 0:
                return False
            rows = list(await conn.execute_fetchall("SELECT * FROM invites WHERE code_hash = ?", (code_hash,)))
            invite = _invite(rows[0])
            await _audit(conn, now, actor, "revoke_invite", None, invite.role, invite.commune_code, invite.id)
            return True

    async def revoke(self, person_id: int, actor: str, now: str, invite_id: int | None = None) -> StoredRole | None:
        """Take a person's role away; the role they had, or None. With `invite_id`, only the role that invite
        granted (a button shown before the person got another role must not take the new one)."""
        async with self.db.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT r.*, p.channel, p.external_id FROM roles r JOIN people p ON p.id = r.person_id"
                    " WHERE r.person_id = ?",
                    (person_id,),
                )
            )
            if not rows:
                return None
            had = _role(rows[0])
            if invite_id is not None and had.invite_id != invite_id:
                return None
            await conn.execute("DELETE FROM roles WHERE person_id = ?", (person_id,))
            await _audit(conn, now, actor, "revoke", person_id, had.role, had.commune_code, None)
            await _role_ended(conn, person_id, now)
            await conn.execute(  # the person is told, and given the citizens' keyboard back
                "INSERT OR IGNORE INTO outbox (person_id, kind, dedupe_key, payload, created_at)"
                " VALUES (?, 'role_revoked', 'revoked:' || ? || ':' || ?, json_object('role', ?, 'commune',"
                " (SELECT name FROM communes WHERE code = ?)), ?)",
                (person_id, person_id, now, had.role, had.commune_code, now),
            )
            return had

    async def audit(self) -> list[sqlite3.Row]:
        """The whole audit, oldest first."""
        return await self.db.fetchall("SELECT * FROM role_audit ORDER BY id")
