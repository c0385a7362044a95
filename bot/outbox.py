"""The one seam for messages sent out of band: an outbox in the database, drained through a channel's notifier.

A row is claimed (committed) before its send and marked sent after. After a crash, rows never claimed are sent
when the bot starts again (nothing lost); a row claimed but not confirmed is not sent again (never twice).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Protocol

from bot.dossiers import to_sql_time
from bot.people import Person
from storage.outbox import OutboxRepo

log = logging.getLogger(__name__)


class Outcome(Enum):
    """What happened to one delivery."""

    SENT = "sent"
    RETRY = "retry"  # certainly not delivered (429, 5xx, refused connection): try again later
    GONE = "gone"  # can never be delivered (the person blocked the bot)
    UNCERTAIN = "uncertain"  # may or may not have arrived (timeout): not sent again


@dataclass(frozen=True)
class Delivery:
    """A notifier's answer."""

    outcome: Outcome
    retry_after: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class OutgoingMessage:
    """One outbox message, ready for a channel to render in the person's language and send."""

    id: int
    person: Person
    language: str
    kind: str
    payload: dict[str, Any]


class Notifier(Protocol):
    """A channel's way to send an outbox message."""

    channel: str

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        """Render and send one message; never raise for delivery failures."""


@dataclass(frozen=True)
class DrainReport:
    """What one drain did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    uncertain: int = 0


class OutboxService:
    """Sends pending outbox messages through a notifier, one drain at a time."""

    def __init__(self, repo: OutboxRepo, clock: Callable[[], datetime]) -> None:
        self.repo = repo
        self.clock = clock
        self._lock = asyncio.Lock()

    async def drain(self, notifier: Notifier, batch: int = 100) -> DrainReport:
        """Send everything that is due now for the notifier's channel."""
        sent = retried = failed = uncertain = 0
        async with self._lock:
            while True:
                rows = await self.repo.pending(notifier.channel, to_sql_time(self.clock()), batch)
                if not rows:
                    break
                for row in rows:
                    if not await self.repo.claim(row.id, to_sql_time(self.clock())):
                        continue
                    message = OutgoingMessage(
                        row.id, Person(row.channel, row.external_id), row.language, row.kind, json.loads(row.payload)
                    )
                    result = await notifier.deliver(message)
                    now = self.clock()
                    if result.outcome is Outcome.SENT:
                        await self.repo.mark_sent(row.id, to_sql_time(now))
                        sent += 1
                    elif result.outcome is Outcome.RETRY:
                        wait = max(result.retry_after, min(300.0, 2.0**row.attempts))
                        await self.repo.release(row.id, to_sql_time(now + timedelta(seconds=wait)), result.error)
                        retried += 1
                    elif result.outcome is Outcome.GONE:
                        await self.repo.mark_failed(row.id, to_sql_time(now), result.error)
                        failed += 1
                    else:
                        log.warning("outbox %s: delivery uncertain, not sent again: %s", row.id, result.error)
                        await self.repo.note(row.id, result.error)
                        uncertain += 1
        return DrainReport(sent, retried, failed, uncertain)
