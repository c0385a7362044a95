"""The one seam for messages sent out of band: an outbox in the database, drained through a channel's notifier.

Every message ends in one of three states: sent; failed for good, with the reason; or waiting, with the time of its
next attempt. A row is claimed (committed, with a lease) before its send, marked as left just before the request
goes (`OutgoingMessage.depart`), and settled after. The outcome of a send is written until the database takes it
(a database locked by an import does not leave a message claimed); if the process dies first, the sweep at the
start of a later drain settles the lapsed claim: waiting again if its request never left, failed for good as
"uncertain" if it did (it may have arrived, and is never sent twice).

- Messages of one thread (the parts of a digest) go in order: one waits while an earlier one is unsent.
- Sending stays under Telegram's limits (`Pacer`: 30 messages a second overall, one a second per chat, with a
  margin); a message whose chat must wait is passed over for the others, so that several messages to one person
  do not hold everyone else's (`bench/drain.py`).
- 429 waits `retry_after`; 5xx and connections never made are retried with a growing wait; a send that may have
  arrived is not retried (the notifier says UNCERTAIN); 403 (the person blocked the bot) marks them unreachable,
  gives up their other messages, and tells the admins if they held a role.
- A message that `expires_at` (a digest, at the end of its day) is given up unsent after that.
- A refused token (401; 404 from Telegram): the channel is held, every message on it waits, and the admins on other
  channels are told; one message tries again after `TOKEN_HOLD`.
- An error before the request left (a message that cannot be prepared) is tried `PREPARE_TRIES` times, then fails.
- Quiet hours: citizens' follow-ups (`QUIET_KINDS`, ZNS messages to applicants' phones among them) wait from
  21:00 to 07:00 in the province; urgent messages (a report that stops service) never wait.
- A channel that must wait as a whole (ZNS's daily limit, its night ban, its rate limit: `Delivery.hold`) is held
  for that long, without telling anyone.
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
from functools import partial
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.dossiers import from_sql_time, to_sql_time
from bot.metrics import BACKLOG, OLDEST, SENDS, WAITS_ASKED
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
    halt: bool = False  # RETRY because the channel refused the bot's token (401): hold the whole channel
    hold: float = 0.0  # RETRY, and the whole channel waits this many seconds (a daily limit reached, a night ban)


async def _nothing() -> None:
    return None


@dataclass(frozen=True)
class OutgoingMessage:
    """One outbox message, ready for a channel to render in the person's language and send."""

    id: int
    person: Person
    language: str
    kind: str
    payload: dict[str, Any]
    depart: Callable[[], Awaitable[None]] = _nothing  # a notifier awaits it right before its first request


class Notifier(Protocol):
    """A channel's way to send an outbox message."""

    channel: str

    @property
    def audience(self) -> Sequence[str] | None:
        """Only these people's external ids (a console's own), or None for everyone on the channel."""

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        """Render and send one message; never raise for delivery failures."""


@dataclass(frozen=True)
class DrainReport:
    """What one drain did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    uncertain: int = 0


QUIET_KINDS = ("dossier_status", "dossier_overdue", "zns")
LEASE = timedelta(minutes=2)  # a claim not settled by then is settled by the sweep (longer than any one send)
MAX_WAIT = 86400.0  # no channel's answer makes a message or a channel wait longer than a day
TOKEN_HOLD = 300.0  # seconds a channel whose token was refused is held before one message tries again
PREPARE_TRIES = 5
SETTLE_PAUSES = (0.5, 1.0, 2.0, 4.0, 8.0)  # seconds between tries to write an outcome the database refused
CHANNEL_REFUSED = "channel_refused"
QUIET_START = time(21, 0)
QUIET_END = time(7, 0)


def is_quiet(moment: datetime, tz: ZoneInfo) -> bool:
    """Whether it is between 21:00 and 07:00 in the province."""
    local = moment.astimezone(tz).time()
    return local >= QUIET_START or local < QUIET_END


class Pacer:
    """Spaces sends: at most `per_second` a second overall and one per `per_chat` seconds to one chat, each with
    `margin` seconds more (a request reaches Telegram a little after it is counted here, and not always equally
    late: without it, Telegram counts two sends a second apart as closer). The clock (`ticks`, monotonic seconds)
    and `sleep` are injected, so tests neither wait nor depend on speed."""

    def __init__(
        self,
        per_second: int = 30,
        per_chat: float = 1.0,
        ticks: Callable[[], float] = time_module.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        margin: float = 0.05,
    ) -> None:
        self.per_second = per_second
        self.per_chat = per_chat
        self.ticks = ticks
        self.sleep = sleep
        self.margin = margin
        self._recent: deque[float] = deque(maxlen=per_second)
        self._last: dict[Person, float] = {}

    @property
    def overall(self) -> int:
        """The sends a second this process allows itself now (its share of `per_second`)."""
        return self._recent.maxlen or self.per_second

    def share(self, processes: int) -> None:
        """Take one `processes`-th of the overall rate (the processes draining one outbox share the bot's limit);
        the limit per chat stays (a chat's messages go one after another anyway)."""
        share = max(1, self.per_second // max(1, processes))
        if share != self._recent.maxlen:
            self._recent = deque(self._recent, maxlen=share)

    def chat_delay(self, person: Person) -> float:
        """How long `person`'s chat must wait for its own limit."""
        if person not in self._last:
            return 0.0
        return max(0.0, self._last[person] + self.per_chat + self.margin - self.ticks())

    def delay(self, person: Person) -> float:
        """How long to wait before sending to `person` now."""
        now = self.ticks()
        full = len(self._recent) == self._recent.maxlen
        overall = 1.0 + self.margin - (now - self._recent[0]) if full else 0.0
        return max(0.0, overall, self.chat_delay(person))

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


def _raised(exc: Exception, left: bool, attempts: int) -> Delivery:
    """The outcome of a send that raised: uncertain once its request left; before, tried again, and after
    `PREPARE_TRIES` attempts given up (a message that cannot be prepared would fail for ever)."""
    error = f"{exc.__class__.__name__}: {exc}"[:500]
    if left:
        return Delivery(Outcome.UNCERTAIN, error=error)
    if attempts >= PREPARE_TRIES:
        return Delivery(Outcome.GONE, error=f"could not be prepared in {attempts} tries: {error}")
    return Delivery(Outcome.RETRY, error=error)


@dataclass
class _Departure:
    """Whether a message's request left; recorded in the database before it does."""

    repo: OutboxRepo
    outbox_id: int
    clock: Callable[[], datetime]
    left: bool = False

    async def __call__(self) -> None:
        if not self.left:
            await self.repo.depart(self.outbox_id, to_sql_time(self.clock()))
            self.left = True


class OutboxService:
    """Sends pending outbox messages through a notifier, one drain at a time."""

    def __init__(
        self,
        repo: OutboxRepo,
        clock: Callable[[], datetime],
        tz: ZoneInfo,
        admins: Sequence[int] = (),
        pacer: Pacer | None = None,
        settle_pauses: Sequence[float] = SETTLE_PAUSES,
        lease: timedelta = LEASE,
    ) -> None:
        self.repo = repo
        self.clock = clock
        self.tz = tz
        self.admins = tuple(admins)  # person ids of the admins, told when a role holder blocks the bot
        self.pacer = pacer or Pacer()
        self.settle_pauses = tuple(settle_pauses)
        self.lease = lease
        self._lock = asyncio.Lock()
        self._held: dict[str, datetime] = {}  # channels whose token was refused, until when
        self._unsettled: list[Callable[[], Awaitable[None]]] = []  # outcomes the database did not take yet

    async def observe(self) -> None:
        """Set the backlog gauges: messages not settled yet on each channel, and the age of the oldest."""
        now = self.clock()
        for channel, count, oldest in await self.repo.backlog():
            BACKLOG.labels(channel).set(count)
            OLDEST.labels(channel).set(max(0.0, (now - from_sql_time(oldest)).total_seconds()) if oldest else 0.0)

    def held_until(self, channel: str) -> datetime | None:
        """Until when the channel is held because its token was refused, if it is."""
        until = self._held.get(channel)
        return until if until is not None and until > self.clock() else None

    async def _settle(self, write: Callable[[], Awaitable[None]], *, keep: bool = True) -> bool:
        """Write an outcome, trying again while the database refuses (locked by another writer); False if it
        still refuses, the write then kept (`keep`) for the next drain."""
        for pause in (*self.settle_pauses, None):
            try:
                await write()
                return True
            except Exception as exc:  # the database's error, whichever database it is
                if pause is None:
                    log.error("outbox: could not record an outcome (%s); kept for the next drain", exc)
                    if keep:
                        self._unsettled.append(write)
                    return False
                log.warning("outbox: could not record an outcome (%s); trying again in %s s", exc, pause)
                await asyncio.sleep(pause)
        return False

    async def _settle_left_over(self) -> bool:
        """Write the outcomes an earlier drain could not; False if the database still refuses."""
        while self._unsettled:
            if not await self._settle(self._unsettled[0], keep=False):
                return False
            self._unsettled.pop(0)
        return True

    async def _hold(self, channel: str, now: datetime, error: str) -> None:
        """The channel refused the bot's token: hold it, and tell the admins who are not on it (once a day)."""
        first = self.held_until(channel) is None
        self._held[channel] = now + timedelta(seconds=TOKEN_HOLD)
        if first:
            payload = json.dumps({"channel": channel, "error": error[:200]})
            key = f"token:{channel}:{now.astimezone(self.tz).date().isoformat()}"
            told = await self.repo.tell_admins(
                self.admins, CHANNEL_REFUSED, key, payload, to_sql_time(now), not_on=channel
            )
            log.error(
                "outbox: %s refused the bot's token (%s): every message on it is held; %s admin(s) told",
                channel,
                error,
                told,
            )

    async def drain(self, notifier: Notifier, batch: int = 100, *, urgent_only: bool = False) -> DrainReport:
        """Send everything that is due now for the notifier's channel (`urgent_only`: its urgent messages, so
        that another channel's urgent ones need not wait for this one's backlog)."""
        sent = retried = failed = uncertain = 0
        async with self._lock:
            if not await self._settle_left_over():
                return DrainReport()
            now = self.clock()
            waiting, lapsed = await self.repo.sweep(to_sql_time(now))
            if waiting or lapsed:
                log.warning("outbox: %s lapsed claim(s) waiting again, %s settled as uncertain", waiting, lapsed)
            if expired := await self.repo.expire(to_sql_time(now)):
                log.info("outbox: %s message(s) expired unsent", expired)
            if self.held_until(notifier.channel):
                return DrainReport()
            probing = notifier.channel in self._held  # the hold lapsed: one message tries the token again
            stalled: set[str] = set()  # threads with a message to retry: their later ones wait
            gone: set[int] = set()
            while True:
                now = self.clock()
                held = QUIET_KINDS if is_quiet(now, self.tz) else ()
                rows = await self.repo.pending(
                    notifier.channel, to_sql_time(now), 1 if probing else batch, held, urgent_only, notifier.audience
                )
                rows = [row for row in rows if row.thread not in stalled and row.person_id not in gone]
                if not rows:
                    break
                progressed, soonest = False, float("inf")
                for row in rows:
                    if row.thread in stalled or row.person_id in gone:
                        continue
                    person = Person(row.channel, row.external_id)
                    if not probing and (chat_wait := self.pacer.chat_delay(person)) > 0:
                        soonest = min(soonest, chat_wait)  # this chat must wait: the other chats go meanwhile
                        continue
                    progressed = True
                    await self.pacer.wait(person)
                    now = self.clock()
                    if not await self.repo.claim(row.id, to_sql_time(now), to_sql_time(now + self.lease)):
                        continue
                    departure = _Departure(self.repo, row.id, self.clock)
                    message = OutgoingMessage(
                        row.id, person, row.language, row.kind, json.loads(row.payload), departure
                    )
                    try:
                        result = await notifier.deliver(message)
                    except Exception as exc:  # a notifier should not raise; if one does, the row is still settled
                        log.exception("outbox %s: sending raised", row.id)
                        result = _raised(exc, departure.left, row.attempts + 1)
                    now = self.clock()
                    SENDS.labels(notifier.channel, result.outcome.value).inc()
                    if result.outcome is Outcome.RETRY and result.retry_after > 0:
                        WAITS_ASKED.labels(notifier.channel).inc()
                    if result.outcome is Outcome.SENT:
                        settled = await self._settle(partial(self.repo.mark_sent, row.id, to_sql_time(now)))
                        sent += 1
                    elif result.outcome is Outcome.RETRY:
                        seconds = TOKEN_HOLD if result.halt else min(300.0, 2.0**row.attempts)
                        wait = min(max(result.retry_after, seconds), MAX_WAIT)
                        settled = await self._settle(
                            partial(self.repo.release, row.id, to_sql_time(now + timedelta(seconds=wait)), result.error)
                        )
                        if row.thread:
                            stalled.add(row.thread)
                        retried += 1
                        if result.halt:
                            await self._hold(notifier.channel, now, result.error)
                            return DrainReport(sent, retried, failed, uncertain)
                        if result.hold:
                            self._held[notifier.channel] = now + timedelta(seconds=min(result.hold, MAX_WAIT))
                            log.warning("outbox: %s waits %.0f s: %s", notifier.channel, result.hold, result.error)
                            return DrainReport(sent, retried, failed, uncertain)
                    elif result.outcome is Outcome.GONE:
                        settled = await self._settle(
                            partial(self.repo.mark_failed, row.id, to_sql_time(now), result.error)
                        )
                        if result.blocked:
                            gone.add(row.person_id)
                            told = await self.repo.unreachable(
                                row.person_id, to_sql_time(now), result.error, self.admins
                            )
                            log.warning("outbox: %s blocked the bot; %s admin(s) told", person, told)
                        failed += 1
                    else:
                        log.warning("outbox %s: delivery uncertain, not sent again: %s", row.id, result.error)
                        reason = f"uncertain: not sent again as it may have arrived ({result.error})"
                        settled = await self._settle(partial(self.repo.mark_failed, row.id, to_sql_time(now), reason))
                        uncertain += 1
                    if not settled:
                        return DrainReport(sent, retried, failed, uncertain)
                    if probing and result.outcome is not Outcome.RETRY:
                        self._held.pop(notifier.channel, None)
                        probing = False
                        log.warning("outbox: %s takes the bot's token again; held messages go out", notifier.channel)
                if probing:
                    break
                if not progressed:  # every message left is for a chat that must wait: the first of them
                    await self.pacer.sleep(min(soonest, self.pacer.per_chat + self.pacer.margin))
        return DrainReport(sent, retried, failed, uncertain)
