"""The one seam for messages sent out of band: an outbox in the database, drained through a channel's notifier.

A row is claimed (committed) before its send and marked sent after. After a crash, rows never claimed are sent
when the bot starts again (nothing lost); a row claimed but not confirmed is not sent again (never twice).

- Messages of one thread (the parts of a digest) go in order: one waits while an earlier one is unsent.
- Sending stays under Telegram's limits (`Pacer`: 30 messages a second overall, one a second per chat).
- 429 waits `retry_after`; 5xx and connections never made are retried with a growing wait; a send that may have
  arrived is not retried (the notifier says UNCERTAIN); 403 (the person blocked the bot) marks them unreachable,
  gives up their other messages, and tells the admins if they held a role.
- A message that `expires_at` (a digest, at the end of its day) is given up unsent after that.
- Quiet hours: citizens' follow-ups (`QUIET_KINDS`) wait from 21:00 to 07:00 in the province; urgent messages
  (a report that stops service) never wait.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time as time_module
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import Enum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

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
    blocked: bool = False  # GONE because the person blocked the bot (403)


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


QUIET_KINDS = ("dossier_status", "dossier_overdue")
QUIET_START = time(21, 0)
QUIET_END = time(7, 0)


def is_quiet(moment: datetime, tz: ZoneInfo) -> bool:
    """Whether it is between 21:00 and 07:00 in the province."""
    local = moment.astimezone(tz).time()
    return local >= QUIET_START or local < QUIET_END


class Pacer:
    """Spaces sends: at most `per_second` a second overall and one per `per_chat` seconds to one chat. The clock
    (`ticks`, monotonic seconds) and `sleep` are injected, so tests neither wait nor depend on speed."""

    def __init__(
        self,
        per_second: int = 30,
        per_chat: float = 1.0,
        ticks: Callable[[], float] = time_module.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.per_second = per_second
        self.per_chat = per_chat
        self.ticks = ticks
        self.sleep = sleep
        self._recent: deque[float] = deque(maxlen=per_second)
        self._last: dict[Person, float] = {}

    def delay(self, person: Person) -> float:
        """How long to wait before sending to `person` now."""
        now = self.ticks()
        overall = 1.0 - (now - self._recent[0]) if len(self._recent) == self.per_second else 0.0
        chat = self._last[person] + self.per_chat - now if person in self._last else 0.0
        return max(0.0, overall, chat)

    async def wait(self, person: Person) -> None:
        """Wait for a send to `person` to be within the limits, and count it."""
        delay = self.delay(person)
        if delay > 0:
            await self.sleep(delay)
        now = self.ticks()
        self._recent.append(now)
        self._last[person] = now
        if len(self._last) > 1000:  # forget chats not written to within the interval
            self._last = {p: at for p, at in self._last.items() if now - at < self.per_chat}


class OutboxService:
    """Sends pending outbox messages through a notifier, one drain at a time."""

    def __init__(
        self,
        repo: OutboxRepo,
        clock: Callable[[], datetime],
        tz: ZoneInfo,
        admins: Sequence[int] = (),
        pacer: Pacer | None = None,
    ) -> None:
        self.repo = repo
        self.clock = clock
        self.tz = tz
        self.admins = tuple(admins)  # person ids of the admins, told when a role holder blocks the bot
        self.pacer = pacer or Pacer()
        self._lock = asyncio.Lock()

    async def drain(self, notifier: Notifier, batch: int = 100, *, urgent_only: bool = False) -> DrainReport:
        """Send everything that is due now for the notifier's channel (`urgent_only`: its urgent messages, so
        that another channel's urgent ones need not wait for this one's backlog)."""
        sent = retried = failed = uncertain = 0
        async with self._lock:
            if expired := await self.repo.expire(to_sql_time(self.clock())):
                log.info("outbox: %s message(s) expired unsent", expired)
            stalled: set[str] = set()  # threads with a message to retry: their later ones wait
            gone: set[int] = set()
            while True:
                now = self.clock()
                held = QUIET_KINDS if is_quiet(now, self.tz) else ()
                rows = await self.repo.pending(notifier.channel, to_sql_time(now), batch, held, urgent_only)
                rows = [row for row in rows if row.thread not in stalled and row.person_id not in gone]
                if not rows:
                    break
                for row in rows:
                    if row.thread in stalled or row.person_id in gone:
                        continue
                    person = Person(row.channel, row.external_id)
                    await self.pacer.wait(person)
                    if not await self.repo.claim(row.id, to_sql_time(self.clock())):
                        continue
                    message = OutgoingMessage(row.id, person, row.language, row.kind, json.loads(row.payload))
                    result = await notifier.deliver(message)
                    now = self.clock()
                    if result.outcome is Outcome.SENT:
                        await self.repo.mark_sent(row.id, to_sql_time(now))
                        sent += 1
                    elif result.outcome is Outcome.RETRY:
                        wait = max(result.retry_after, min(300.0, 2.0**row.attempts))
                        await self.repo.release(row.id, to_sql_time(now + timedelta(seconds=wait)), result.error)
                        if row.thread:
                            stalled.add(row.thread)
                        retried += 1
                    elif result.outcome is Outcome.GONE:
                        await self.repo.mark_failed(row.id, to_sql_time(now), result.error)
                        if result.blocked:
                            gone.add(row.person_id)
                            told = await self.repo.unreachable(
                                row.person_id, to_sql_time(now), result.error, self.admins
                            )
                            log.warning("outbox: %s blocked the bot; %s admin(s) told", person, told)
                        failed += 1
                    else:
                        log.warning("outbox %s: delivery uncertain, not sent again: %s", row.id, result.error)
                        await self.repo.note(row.id, result.error)
                        uncertain += 1
        return DrainReport(sent, retried, failed, uncertain)
