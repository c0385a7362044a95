"""SQL for the outbox: messages to send out of band, each sent at most once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storage.db import Store


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
    """Waiting → claimed (with a lease) → left (the request went) → sent; or back to waiting for a retry, or failed
    for good with the reason. A claim whose lease lapsed is settled by `sweep`."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def pending(
        self,
        channel: str,
        now: str,
        limit: int = 100,
        held: Sequence[str] = (),
        urgent_only: bool = False,
        audience: Sequence[str] | None = None,
    ) -> list[OutboxRow]:
        """Unclaimed messages for people on `channel` that may be sent now, urgent ones first, then oldest first
        (`urgent_only`: only those); not those of the `held` kinds (unless urgent), nor a message whose thread has
        an earlier one unsettled (waiting or claimed), nor any for someone who blocked the bot (they wait until the
        person comes back).
        `audience`: only for these external ids (a console serves its own person, never anyone else)."""
        if audience is not None and not audience:
            return []
        only = "" if audience is None else f" AND p.external_id IN ({', '.join('?' * len(audience))})"
        kinds = f" AND (o.urgent = 1 OR o.kind NOT IN ({', '.join('?' * len(held))}))" if held else ""
        rows = await self.db.fetchall(
            "SELECT o.id, p.channel, p.external_id, p.language, o.kind, o.payload, o.attempts, o.person_id, o.thread"
            " FROM outbox o JOIN people p ON p.id = o.person_id"
            " WHERE o.claimed_at IS NULL AND o.failed_at IS NULL AND p.channel = ? AND p.unreachable_at IS NULL"
            " AND (o.not_before IS NULL OR o.not_before <= ?) AND (o.expires_at IS NULL OR o.expires_at > ?)"
            f"{kinds}{' AND o.urgent = 1' if urgent_only else ''}{only}"
            " AND (o.thread IS NULL OR NOT EXISTS (SELECT 1 FROM outbox e WHERE e.thread = o.thread AND e.id < o.id"
            " AND e.sent_at IS NULL AND e.failed_at IS NULL))"
            " ORDER BY o.urgent DESC, o.id LIMIT ?",
            (channel, now, now, *held, *(audience or ()), limit),
        )
        return [OutboxRow(*tuple(row)) for row in rows]

    async def backlog(self) -> list[tuple[str, int, str | None]]:
        """Per channel of the people they are for: the messages not settled yet, and the oldest one's creation."""
        rows = await self.db.fetchall(
            "SELECT p.channel, count(*), min(o.created_at) FROM outbox o JOIN people p ON p.id = o.person_id"
            " WHERE o.sent_at IS NULL AND o.failed_at IS NULL GROUP BY p.channel"
        )
        return [(str(row[0]), int(row[1]), row[2]) for row in rows]

    async def expire(self, now: str) -> int:
        """Give up the unsent messages whose time has passed (a digest after its day); how many."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE outbox SET failed_at = ?, last_error = 'expired' WHERE claimed_at IS NULL AND failed_at IS NULL"
                " AND expires_at IS NOT NULL AND expires_at <= ?",
                (now, now),
            )
            return max(int(cursor.rowcount), 0)

    async def claim(self, outbox_id: int, now: str, lease_until: str) -> bool:
        """Mark a message as being sent until `lease_until` (committed before the send); False if someone else
        has it."""
        free = "claimed_at IS NULL AND failed_at IS NULL AND sent_at IS NULL"
        # On PostgreSQL, where every process drains the same outbox, a row another process is claiming right now
        # is skipped at once (`SKIP LOCKED`) instead of waited for; the condition is checked again either way.
        lock = f" AND id = (SELECT id FROM outbox WHERE id = ? AND {free} FOR UPDATE SKIP LOCKED)"
        postgres = self.db.dialect == "postgres"
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE outbox SET claimed_at = ?, lease_until = ?, left_at = NULL, attempts = attempts + 1"
                f" WHERE id = ? AND {free}{lock if postgres else ''}",
                (now, lease_until, outbox_id, *((outbox_id,) if postgres else ())),
            )
            return int(cursor.rowcount) == 1

    async def depart(self, outbox_id: int, now: str) -> None:
        """The request for a claimed message is about to leave (committed before it does)."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE outbox SET left_at = ? WHERE id = ?", (now, outbox_id))

    async def mark_sent(self, outbox_id: int, now: str) -> None:
        """The message was delivered (this wins over a sweep that took it for uncertain meanwhile)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET sent_at = ?, failed_at = NULL, last_error = NULL WHERE id = ?", (now, outbox_id)
            )

    async def release(self, outbox_id: int, not_before: str, error: str) -> None:
        """The message was certainly not delivered: waiting again, to be sent from `not_before`."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET claimed_at = NULL, lease_until = NULL, left_at = NULL, not_before = ?,"
                " last_error = ? WHERE id = ? AND sent_at IS NULL",
                (not_before, error, outbox_id),
            )

    async def mark_failed(self, outbox_id: int, now: str, error: str) -> None:
        """The message will never be sent (the person blocked the bot, it may have arrived already, …): `error`
        says why."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET failed_at = ?, last_error = ? WHERE id = ? AND sent_at IS NULL",
                (now, error, outbox_id),
            )

    async def sweep(self, now: str) -> tuple[int, int]:
        """Settle the claims whose lease lapsed (their sender stopped, or could not record the outcome): one that
        never left is waiting again; one that left may have arrived, so it fails for good as uncertain. How many
        of each."""
        lapsed = "claimed_at IS NOT NULL AND sent_at IS NULL AND failed_at IS NULL AND lease_until <= ?"
        async with self.db.transaction() as conn:
            waiting = await conn.execute(
                "UPDATE outbox SET claimed_at = NULL, lease_until = NULL, not_before = ?,"
                " last_error = 'claim lapsed before sending' WHERE " + lapsed + " AND left_at IS NULL",
                (now, now),
            )
            uncertain = await conn.execute(
                "UPDATE outbox SET failed_at = ?, last_error = 'uncertain: the sender stopped after the request"
                " left; not sent again as it may have arrived' WHERE " + lapsed,
                (now, now),
            )
            return max(waiting.rowcount, 0), max(uncertain.rowcount, 0)

    async def tell_admins(
        self, admins: Sequence[int], kind: str, key: str, payload: str, now: str, *, not_on: str = ""
    ) -> int:
        """Queue an urgent message to each admin (`admins`: person ids) not on the channel `not_on`, once per `key`;
        how many were queued."""
        told = 0
        async with self.db.transaction() as conn:
            for admin in admins:  # a few: one statement each, whose count every database gives
                cursor = await conn.execute(
                    "INSERT OR IGNORE INTO outbox (person_id, kind, dedupe_key, payload, urgent, created_at)"
                    " SELECT id, ?, ? || ':' || id, ?, 1, ? FROM people WHERE id = ? AND channel != ?",
                    (kind, key, payload, now, admin, not_on),
                )
                told += max(int(cursor.rowcount), 0)
        return told

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
            told = 0
            for admin in admins:
                if admin == person_id:
                    continue
                cursor = await conn.execute(
                    "INSERT OR IGNORE INTO outbox (person_id, kind, dedupe_key, payload, urgent, created_at)"
                    " SELECT ?, 'person_unreachable', 'unreachable:' || r.person_id || ':' || ? || ':' || ?,"
                    " json_object('role', r.role, 'commune', (SELECT name FROM communes WHERE code = r.commune_code),"
                    " 'channel', p.channel, 'external_id', p.external_id), 1, ?"
                    " FROM roles r JOIN people p ON p.id = r.person_id WHERE r.person_id = ?",
                    (admin, admin, now, now, person_id),
                )
                told += max(int(cursor.rowcount), 0)
            return told
