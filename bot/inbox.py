"""Several processes answering one bot (issue 17): the webhooks' updates go through the inbox, and scheduled work
runs under a lease.

- A webhook call stores its update (`Inbox.put`, committed) and only then answers 200: a process killed before that
  loses nothing (Telegram and Zalo call again), and a call repeated after a timeout stores nothing new.
- Every process runs `WORKERS` workers. Each claims the earliest waiting update of a chat no one holds
  (`storage.inbox`), so one person's updates are answered one at a time and in order, whichever process received
  them, and hands it to its channel (`dispatch`).
- Before the first reply of an update leaves, the channel calls `departing()` (committed first). A claim whose
  holder died (its lease, renewed every `LEASE / 3`, lapsed) is answered again by another process if no reply had
  left, and otherwise ends `uncertain`, never answered twice: the outbox's rule for a message in flight.
- `Scheduler`: the jobs that must run once across processes (digests, overdue checks, the morning messages) ask
  `leads()` first; the process holding the `scheduler` lease renews it, and when it dies another takes it within
  `SCHEDULER_LEASE` + `SCHEDULER_EVERY` seconds and catches up on what was due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from datetime import datetime, timedelta

from bot.metrics import SCHEDULER
from storage.inbox import InboxRepo, InboxRow, LeasesRepo

log = logging.getLogger(__name__)

WORKERS = 8  # updates one process answers at once (each of another chat)
LEASE = timedelta(seconds=30)  # a claim lapses this long after its holder last renewed it
IDLE_POLL = 1.0  # seconds a worker with nothing to do waits before it looks again (a local call wakes it)
MAX_ATTEMPTS = 3  # an update whose every answering process died this often is given up (it may be what kills them)
STOP_GRACE = 10.0  # seconds the updates being answered may take to finish when the process stops
KEEP = timedelta(days=2)  # answered updates are remembered this long against a repeated call
SCHEDULER_LEASE_NAME = "scheduler"
SCHEDULER_LEASE = timedelta(seconds=40)
SCHEDULER_EVERY = 15.0  # seconds between a process's tries to take or renew the scheduler lease

Clock = Callable[[], datetime]
Dispatch = Callable[[str], Awaitable[None]]
_DEPART: ContextVar[Callable[[], Awaitable[None]] | None] = ContextVar("inbox_depart", default=None)


async def departing() -> None:
    """Called by a channel right before the first reply to an update leaves: from the inbox, the update is marked
    (committed) so that it is never answered twice; outside it (long polling, the console), nothing."""
    depart = _DEPART.get()
    if depart is not None:
        await depart()


def process_id() -> str:
    """This process among the bot's: host, pid and a random part (a pid is reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def stamp(moment: datetime) -> str:
    """A time as the inbox and the leases store it (fixed width: text order is time order)."""
    return moment.isoformat(timespec="microseconds")


class Inbox:
    """The updates of the channels this process serves, stored and answered across processes."""

    def __init__(
        self,
        repo: InboxRepo,
        clock: Clock,
        holder: str,
        dispatch: Mapping[str, Dispatch],
        *,
        workers: int = WORKERS,
        lease: timedelta = LEASE,
    ) -> None:
        self.repo = repo
        self.clock = clock
        self.holder = holder
        self.dispatch = dict(dispatch)
        self.workers = workers
        self.lease = lease
        self._hints = asyncio.Semaphore(0)  # one per stored update or claimed one: a worker looks, not all eight
        self._tasks: list[asyncio.Task[None]] = []
        self._held: dict[int, bool] = {}  # claimed update → whether a reply left
        self._stopping = False
        self._stopped = asyncio.Event()

    async def put(self, channel: str, key: str, chat: str, ord: int, payload: str) -> bool:
        """Store an update a webhook brought (committed on return); False for a repeated call."""
        fresh = await self.repo.put(channel, key, chat, ord, payload, stamp(self.clock()))
        if fresh:
            self._hints.release()
        return fresh

    def start(self) -> None:
        """Start the workers and the keeper of their leases."""
        self._stopping = False
        self._stopped.clear()
        self._tasks = [asyncio.create_task(self._work(), name=f"inbox-{n}") for n in range(self.workers)]
        self._tasks.append(asyncio.create_task(self._keep(), name="inbox-keeper"))

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop claiming; let the updates being answered finish (for `grace` seconds); give back those cut short
        before any reply left, so that another process answers them at once."""
        self._stopping = True
        self._stopped.set()
        for _ in self._tasks:
            self._hints.release()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = []
        for inbox_id, left in list(self._held.items()):
            if not left:
                with contextlib.suppress(Exception):
                    await self.repo.release(inbox_id)
        self._held.clear()

    async def _work(self) -> None:
        channels = sorted(self.dispatch)
        while not self._stopping:
            try:
                row = await self.repo.claim(channels, self.holder, stamp(self.clock() + self.lease))
            except Exception as exc:  # the database is away: the updates wait there, safe
                log.warning("inbox: could not claim an update (%s); trying again", exc)
                row = None
            if row is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._hints.acquire(), IDLE_POLL)
                continue
            self._hints.release()  # there may be more: another worker looks too
            if row.attempts > MAX_ATTEMPTS:
                log.error(
                    "inbox: update %s:%s given up: the processes answering it stopped %s times",
                    row.channel,
                    row.update_key,
                    row.attempts - 1,
                )
                with contextlib.suppress(Exception):
                    await self.repo.done(row.id, stamp(self.clock()), "given up")
                continue
            await self._answer(row)

    async def _answer(self, row: InboxRow) -> None:
        self._held[row.id] = False

        async def depart() -> None:
            if not self._held.get(row.id):
                await self.repo.depart(row.id, stamp(self.clock()))
                self._held[row.id] = True

        token = _DEPART.set(depart)
        outcome = "answered"
        try:
            await self.dispatch[row.channel](row.payload)
        except asyncio.CancelledError:
            raise
        except Exception:  # the channels answer their own failures; this is one of ours: never retried forever
            log.exception("inbox: update %s:%s could not be answered", row.channel, row.update_key)
            outcome = "failed"
        finally:
            _DEPART.reset(token)
        try:
            await self.repo.done(row.id, stamp(self.clock()), outcome)
        except Exception as exc:  # its lease lapses: answered again only if no reply had left
            log.warning("inbox: could not record update %s:%s as answered (%s)", row.channel, row.update_key, exc)
        self._held.pop(row.id, None)

    async def _keep(self) -> None:
        """Renew this process's claims; settle the lapsed claims of processes that died."""
        while not self._stopped.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self.lease.total_seconds() / 3)
            if self._stopped.is_set():
                return
            try:
                now = self.clock()
                if self._held:
                    await self.repo.renew(self.holder, stamp(now + self.lease))
                again, uncertain = await self.repo.sweep(stamp(now))
                if again or uncertain:
                    log.warning(
                        "inbox: %s update(s) of a stopped process waiting again, %s ended uncertain (a reply may"
                        " have left: not answered twice)",
                        again,
                        uncertain,
                    )
                    for _ in range(again):
                        self._hints.release()
            except Exception as exc:
                log.warning("inbox: could not renew or sweep the claims (%s)", exc)

    async def prune(self) -> int:
        """Forget the updates answered more than `KEEP` ago; how many."""
        return await self.repo.prune(stamp(self.clock() - KEEP))


class Scheduler:
    """Whether this process runs the scheduled work now: it holds the `scheduler` lease (taken when free or lapsed,
    renewed at each ask)."""

    def __init__(self, repo: LeasesRepo, clock: Clock, holder: str) -> None:
        self.repo = repo
        self.clock = clock
        self.holder = holder
        self.leading: bool | None = None  # None until first asked
        self.took_over: Callable[[], None] = lambda: None  # called when this process takes the lease from another

    async def leads(self) -> bool:
        """Take or renew the lease; whether this process runs the scheduled work now."""
        now = self.clock()
        try:
            held = await self.repo.hold(SCHEDULER_LEASE_NAME, self.holder, stamp(now), stamp(now + SCHEDULER_LEASE))
        except Exception as exc:  # the database is away: no one can tell; this process does not act
            log.warning("scheduler: could not take or renew the lease (%s)", exc)
            held = False
        before, self.leading = self.leading, held
        SCHEDULER.set(1 if held else 0)
        if held and before is False:
            log.info("scheduler: this process (%s) runs the scheduled work from now", self.holder)
            self.took_over()
        elif before and not held:
            log.warning("scheduler: another process runs the scheduled work now")
        return held

    async def processes(self) -> int:
        """Renew this process's heartbeat and count the processes alive (at least this one): they share the
        bot's sending rate."""
        now = self.clock()
        try:
            await self.repo.hold(f"process:{self.holder}", self.holder, stamp(now), stamp(now + SCHEDULER_LEASE))
            return max(1, await self.repo.alive("process:", stamp(now), stamp(now - timedelta(days=1))))
        except Exception as exc:
            log.warning("scheduler: could not count the processes (%s)", exc)
            return 1

    async def let_go(self) -> None:
        """Give the lease up (the process stops): another takes it at its next try, not after it lapses."""
        with contextlib.suppress(Exception):
            await self.repo.let_go(f"process:{self.holder}", self.holder)
        if self.leading:
            with contextlib.suppress(Exception):
                await self.repo.let_go(SCHEDULER_LEASE_NAME, self.holder)
        self.leading = None
        SCHEDULER.set(0)
