"""SQL for the outbox: messages to send out of band, each sent at most once."""

from __future__ import annotations

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


class OutboxRepo:
    """Pending → claimed → sent (or released for a retry, or failed for good)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def pending(self, channel: str, now: str, limit: int = 100) -> list[OutboxRow]:
        """Unclaimed messages for people on `channel` that may be sent now, oldest first."""
        rows = await self.db.fetchall(
            "SELECT o.id, p.channel, p.external_id, p.language, o.kind, o.payload, o.attempts"
            " FROM outbox o JOIN people p ON p.id = o.person_id"
            " WHERE o.claimed_at IS NULL AND o.failed_at IS NULL AND p.channel = ?"
            " AND (o.not_before IS NULL OR o.not_before <= ?) ORDER BY o.urgent DESC, o.id LIMIT ?",
            (channel, now, limit),
        )
        return [OutboxRow(*tuple(row)) for row in rows]

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

    async def note(self, outbox_id: int, error: str) -> None:
        """Record what happened to a claimed message whose delivery is uncertain (it is not sent again)."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE outbox SET last_error = ? WHERE id = ?", (error, outbox_id))
