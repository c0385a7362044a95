"""SQL for the outbox: messages to send out of band, each sent at most once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storage.db import Database


@dataclass(frozen=True)
class OutboxRow:
    """A pending message and whom it is for."""

    id: int
    channel: str
    external_id: str
    language: str
    kind: str
    payload: str
    attempts: int
    person_id: int
    thread: str | None


class OutboxRepo:
    """Pending → claimed → sent (or released for a retry, or failed for good)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def pending(
        self, channel: str, now: str, limit: int = 100, held: Sequence[str] = (), urgent_only: bool = False
    ) -> list[OutboxRow]:
        """Unclaimed messages for people on `channel` that may be sent now, urgent ones first, then oldest first
        (`urgent_only`: only those); not those of the `held` kinds (unless urgent), nor a message whose thread has
        an earlier one unsent, nor any for someone who blocked the bot (they wait until the person comes back)."""
        rows = await self.db.fetchall(
            "SELECT o.id, p.channel, p.external_id, p.language, o.kind, o.payload, o.attempts, o.person_id, o.thread"
            " FROM outbox o JOIN people p ON p.id = o.person_id"
            " WHERE o.claimed_at IS NULL AND o.failed_at IS NULL AND p.channel = ? AND p.unreachable_at IS NULL"
            " AND (o.not_before IS NULL OR o.not_before <= ?) AND (o.expires_at IS NULL OR o.expires_at > ?)"
            f" AND (o.urgent = 1 OR o.kind NOT IN ({', '.join('?' * len(held))}))"
            f"{' AND o.urgent = 1' if urgent_only else ''}"
            " AND (o.thread IS NULL OR NOT EXISTS (SELECT 1 FROM outbox e WHERE e.thread = o.thread AND e.id < o.id"
            " AND e.claimed_at IS NULL AND e.failed_at IS NULL))"
            " ORDER BY o.urgent DESC, o.id LIMIT ?",
            (channel, now, now, *held, limit),
        )
        return [OutboxRow(*tuple(row)) for row in rows]

    async def expire(self, now: str) -> int:
        """Give up the unsent messages whose time has passed (a digest after its day); how many."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE outbox SET failed_at = ?, last_error = 'expired' WHERE claimed_at IS NULL AND failed_at IS NULL"
                " AND expires_at IS NOT NULL AND expires_at <= ?",
                (now, now),
            )
            return max(cursor.rowcount, 0)

    async def claim(self, outbox_id: int, now: str) -> bool:
        """Mark a message as being sent (committed before the send); False if someone else has it."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE outbox SET claimed_at = ?, attempts = attempts + 1"
                " WHERE id = ? AND claimed_at IS NULL AND failed_at IS NULL",
                (now, outbox_id),
            )
            return cursor.rowcount == 1

    async def mark_sent(self, outbox_id: int, now: str) -> None:
        """The message was delivered."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE outbox SET sent_at = ?, last_error = NULL WHERE id = ?", (now, outbox_id))

    async def release(self, outbox_id: int, not_before: str, error: str) -> None:
        """The message was certainly not delivered: send it again from `not_before`."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET claimed_at = NULL, not_before = ?, last_error = ? WHERE id = ?",
                (not_before, error, outbox_id),
            )

    async def mark_failed(self, outbox_id: int, now: str, error: str) -> None:
        """The message can never be delivered (the person blocked the bot)."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE outbox SET failed_at = ?, last_error = ? WHERE id = ?", (now, error, outbox_id))

    async def unreachable(self, person_id: int, now: str, error: str, admins: Sequence[int]) -> int:
        """The person blocked the bot: remember it, give up their other pending messages, and if they hold a role,
        queue a message to each admin (`admins`: their person ids). How many admins are told."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE people SET unreachable_at = ? WHERE id = ?", (now, person_id))
            await conn.execute(
                "UPDATE outbox SET failed_at = ?, last_error = ? WHERE person_id = ? AND claimed_at IS NULL"
                " AND failed_at IS NULL",
                (now, error, person_id),
            )
            cursor = await conn.executemany(
                "INSERT OR IGNORE INTO outbox (person_id, kind, dedupe_key, payload, urgent, created_at)"
                " SELECT ?, 'person_unreachable', 'unreachable:' || r.person_id || ':' || ? || ':' || ?,"
                " json_object('role', r.role, 'commune', (SELECT name FROM communes WHERE code = r.commune_code),"
                " 'channel', p.channel, 'external_id', p.external_id), 1, ?"
                " FROM roles r JOIN people p ON p.id = r.person_id WHERE r.person_id = ?",
                [(admin, admin, now, now, person_id) for admin in admins if admin != person_id],
            )
            return max(cursor.rowcount, 0)

    async def note(self, outbox_id: int, error: str) -> None:
        """Record what happened to a claimed message whose delivery is uncertain (it is not sent again)."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE outbox SET last_error = ? WHERE id = ?", (error, outbox_id))
