"""The inbox of webhook updates and the leases of scheduled work (m0025): shared by every process of one bot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage.db import Store


@dataclass(frozen=True)
class InboxRow:
    """A claimed update: its channel, the channel's payload (JSON text) and how often it was claimed."""

    id: int
    channel: str
    update_key: str
    chat: str
    payload: str
    attempts: int


# A chat's earliest update not done (by `ord`, then arrival), held by nobody: the next one any process may answer.
# The waiting updates are walked in order (`inbox_queue`) and each is kept only if it is its chat's first (one probe
# of `inbox_waiting`). On PostgreSQL the row is locked as it is chosen and one another process is choosing is
# skipped (`FOR UPDATE SKIP LOCKED`), so processes claiming at once take different chats instead of queueing on one
# row; the outer `holder IS NULL` settles a tie.
_CLAIM = (
    "UPDATE inbox SET holder = ?, lease_until = ?, attempts = attempts + 1 WHERE holder IS NULL AND id = ("
    " SELECT i.id FROM inbox i WHERE i.done_at IS NULL AND i.holder IS NULL AND i.channel IN ({channels})"
    " AND i.id = (SELECT e.id FROM inbox e WHERE e.channel = i.channel AND e.chat = i.chat AND e.done_at IS NULL"
    " ORDER BY e.ord, e.id LIMIT 1)"
    " ORDER BY i.ord, i.id LIMIT 1{lock})"
    " RETURNING id, channel, update_key, chat, payload, attempts"
)


class InboxRepo:
    """Waiting → claimed (a holder, a lease) → left (a reply went) → done; a lapsed claim goes back to waiting, or
    ends `uncertain` if it had left."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def _no_flush(self, conn: Any) -> None:
        """On PostgreSQL, commit this transaction without waiting for its WAL to reach the disk: a commit is then
        lost only if the database server itself crashes within a fraction of a second, which for a claim or an
        answered mark costs nothing (stored updates and departures are always flushed)."""
        if self.db.dialect == "postgres":
            await conn.execute("SET LOCAL synchronous_commit TO OFF")

    async def put(self, channel: str, key: str, chat: str, ord: int, payload: str, now: str) -> bool:
        """Store an update (committed when this returns); False if it was stored already (a repeated call)."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO inbox (channel, update_key, chat, ord, payload, received_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (channel, key, chat, ord, payload, now),
            )
            return int(cursor.rowcount) == 1

    async def claim(self, channels: Sequence[str], holder: str, lease_until: str) -> InboxRow | None:
        """Take the next update to answer on one of `channels`, or None when every chat is answered or held."""
        if not channels:
            return None
        lock = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgres" else ""
        sql = _CLAIM.format(channels=", ".join("?" * len(channels)), lock=lock)
        async with self.db.transaction() as conn:
            await self._no_flush(conn)  # a claim lost with the server is only claimed again
            rows = await conn.execute_fetchall(sql, (holder, lease_until, *channels))
        for row in rows:
            return InboxRow(int(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), int(row[5]))
        return None

    async def depart(self, inbox_id: int, now: str) -> None:
        """A reply to this update is about to leave (committed before it does): it is never answered again."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE inbox SET left_at = ? WHERE id = ? AND left_at IS NULL", (now, inbox_id))

    async def done(self, inbox_id: int, now: str, outcome: str) -> None:
        """The update is answered (or given up: `outcome` says)."""
        async with self.db.transaction() as conn:
            await self._no_flush(conn)  # lost with the server, it ends `uncertain` (`left_at` was flushed)
            await conn.execute(
                "UPDATE inbox SET done_at = ?, outcome = ?, holder = NULL, lease_until = NULL WHERE id = ?",
                (now, outcome, inbox_id),
            )

    async def release(self, inbox_id: int) -> None:
        """Give a claimed update back before any reply left (a process stopping): another answers it."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE inbox SET holder = NULL, lease_until = NULL"
                " WHERE id = ? AND left_at IS NULL AND done_at IS NULL",
                (inbox_id,),
            )

    async def renew(self, holder: str, lease_until: str) -> int:
        """Extend the leases of every update `holder` is answering; how many."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE inbox SET lease_until = ? WHERE holder = ? AND done_at IS NULL", (lease_until, holder)
            )
            return max(int(cursor.rowcount), 0)

    async def sweep(self, now: str) -> tuple[int, int]:
        """Settle the claims whose holder stopped renewing them: one whose reply never left waits again (first in
        its chat still); one whose reply may have left ends `uncertain`. How many of each."""
        lapsed = "holder IS NOT NULL AND done_at IS NULL AND lease_until <= ?"
        async with self.db.transaction() as conn:
            waiting = await conn.execute(
                f"UPDATE inbox SET holder = NULL, lease_until = NULL WHERE {lapsed} AND left_at IS NULL", (now,)
            )
            uncertain = await conn.execute(
                "UPDATE inbox SET done_at = ?, outcome = 'uncertain', holder = NULL, lease_until = NULL"
                f" WHERE {lapsed}",
                (now, now),
            )
            return max(int(waiting.rowcount), 0), max(int(uncertain.rowcount), 0)

    async def waiting(self) -> int:
        """How many updates are not answered yet."""
        row = await self.db.fetchone("SELECT count(*) FROM inbox WHERE done_at IS NULL")
        return int(row[0]) if row else 0

    async def outcomes(self) -> dict[str, int]:
        """How the answered updates ended, counted."""
        rows = await self.db.fetchall(
            "SELECT outcome, count(*) FROM inbox WHERE done_at IS NOT NULL GROUP BY outcome ORDER BY outcome"
        )
        return {str(row[0]): int(row[1]) for row in rows}

    async def prune(self, before: str) -> int:
        """Forget the updates answered before `before` (long past any repeated call); how many."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM inbox WHERE done_at IS NOT NULL AND done_at < ?", (before,))
            return max(int(cursor.rowcount), 0)


class LeasesRepo:
    """Named leases: one holder at a time, until it stops renewing."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def hold(self, name: str, holder: str, now: str, until: str) -> bool:
        """Take or renew `name` for `holder` until `until` when it is free, lapsed or already `holder`'s; whether
        `holder` holds it now."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT OR IGNORE INTO leases (name, holder, until) VALUES (?, ?, ?)", (name, holder, until)
            )
            cursor = await conn.execute(
                "UPDATE leases SET holder = ?, until = ? WHERE name = ? AND (holder = ? OR until <= ?)",
                (holder, until, name, holder, now),
            )
            return int(cursor.rowcount) == 1

    async def let_go(self, name: str, holder: str) -> None:
        """Give `name` up now (a process stopping), if `holder` has it: another takes it at its next try."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE leases SET until = '' WHERE name = ? AND holder = ?", (name, holder))

    async def alive(self, prefix: str, now: str, forget_before: str) -> int:
        """How many leases named `prefix…` are held now (the processes' heartbeats); those lapsed before
        `forget_before` are deleted."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM leases WHERE name LIKE ? AND until < ?", (f"{prefix}%", forget_before))
        row = await self.db.fetchone("SELECT count(*) FROM leases WHERE name LIKE ? AND until > ?", (f"{prefix}%", now))
        return int(row[0]) if row else 0

    async def holder(self, name: str, now: str) -> str | None:
        """Who holds `name` now, if anyone."""
        row = await self.db.fetchone("SELECT holder FROM leases WHERE name = ? AND until > ?", (name, now))
        return str(row[0]) if row else None
