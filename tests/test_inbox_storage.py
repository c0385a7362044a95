"""The inbox of webhook updates and the scheduler lease (m0025), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from storage.db import Database
from storage.inbox import InboxRepo, LeasesRepo

T0 = "2025-08-04T03:00:00.000000+00:00"
T1 = "2025-08-04T03:00:10.000000+00:00"
T2 = "2025-08-04T03:00:40.000000+00:00"
T3 = "2025-08-04T03:01:20.000000+00:00"


async def test_a_repeated_update_is_stored_once(db: Database) -> None:
    inbox = InboxRepo(db)
    assert await inbox.put("telegram", "7", "100", 7, "{}", T0)
    assert not await inbox.put("telegram", "7", "100", 7, "{}", T1)
    assert await inbox.put("zalo", "7", "100", 7, "{}", T0)  # another channel's id 7
    assert await inbox.waiting() == 2


async def test_one_chat_is_answered_in_order_and_by_one_process_at_a_time(db: Database) -> None:
    inbox = InboxRepo(db)
    for update_id, chat in [(12, "A"), (10, "A"), (11, "B"), (13, "A")]:  # 12 arrived before 10
        await inbox.put("telegram", str(update_id), chat, update_id, f'{{"u": {update_id}}}', T0)
    first = await inbox.claim(["telegram"], "p1", T2)
    second = await inbox.claim(["telegram"], "p2", T2)
    assert first is not None and second is not None
    assert (first.update_key, first.chat, second.update_key, second.chat) == ("10", "A", "11", "B")
    assert await inbox.claim(["telegram"], "p3", T2) is None  # A's next waits for 10; B has no more
    await inbox.done(first.id, T1, "answered")
    third = await inbox.claim(["telegram"], "p3", T2)
    assert third is not None and third.update_key == "12"
    assert await inbox.claim(["zalo"], "p3", T2) is None  # only the channels a process serves


async def test_a_lapsed_claim_is_answered_again_unless_its_reply_left(db: Database) -> None:
    inbox = InboxRepo(db)
    for update_id, chat in [(1, "A"), (2, "A"), (3, "B")]:
        await inbox.put("telegram", str(update_id), chat, update_id, "{}", T0)
    a = await inbox.claim(["telegram"], "dead", T1)
    b = await inbox.claim(["telegram"], "dead", T1)
    assert a is not None and b is not None
    await inbox.depart(b.id, T0)  # B's reply left, then the process died
    assert await inbox.sweep(T0) == (0, 0)  # not lapsed yet
    assert await inbox.renew("alive", T2) == 0  # someone else's claims are not renewed
    assert await inbox.sweep(T2) == (1, 1)
    again = await inbox.claim(["telegram"], "p2", T3)
    assert again is not None and (again.update_key, again.attempts) == ("1", 2)  # first in its chat still
    assert await inbox.claim(["telegram"], "p2", T3) is None  # 2 waits for 1; 3 ended uncertain
    assert await inbox.outcomes() == {"uncertain": 1}
    await inbox.done(again.id, T2, "answered")
    assert await inbox.prune(T3) == 2
    assert await inbox.waiting() == 1


async def test_a_renewed_claim_does_not_lapse_and_a_released_one_is_free_at_once(db: Database) -> None:
    inbox = InboxRepo(db)
    await inbox.put("zalo", "m1", "u1", 1, "{}", T0)
    row = await inbox.claim(["zalo"], "p1", T1)
    assert row is not None
    assert await inbox.renew("p1", T3) == 1
    assert await inbox.sweep(T2) == (0, 0)
    await inbox.release(row.id)
    again = await inbox.claim(["zalo"], "p2", T1)
    assert again is not None and again.id == row.id


async def test_claims_made_at_once_never_take_the_same_update(db: Database) -> None:
    """Many workers claiming together (on PostgreSQL, over a pool: really at once): each update once, one chat's
    updates never two at a time."""
    inbox = InboxRepo(db)
    for n in range(40):
        await inbox.put("telegram", str(n), f"chat{n % 8}", n, "{}", T0)
    taken: list[str] = []
    busy: set[str] = set()

    async def worker(name: str) -> None:
        while (row := await inbox.claim(["telegram"], name, T2)) is not None:
            assert row.chat not in busy
            busy.add(row.chat)
            taken.append(row.update_key)
            await asyncio.sleep(0)
            busy.discard(row.chat)
            await inbox.done(row.id, T1, "answered")

    await asyncio.gather(*(worker(f"w{n}") for n in range(6)))
    assert sorted(taken, key=int) == [str(n) for n in range(40)]
    for chat in range(8):
        mine = [int(key) for key in taken if int(key) % 8 == chat]
        assert mine == sorted(mine)


async def test_the_scheduler_lease_has_one_holder_until_it_lapses(db: Database) -> None:
    leases = LeasesRepo(db)
    assert await leases.hold("scheduler", "p1", T0, T2)
    assert not await leases.hold("scheduler", "p2", T1, T2)
    assert await leases.holder("scheduler", T1) == "p1"
    assert await leases.hold("scheduler", "p1", T1, T3)  # renewed
    assert not await leases.hold("scheduler", "p2", T2, T3)
    assert await leases.hold("scheduler", "p2", T3, "2025-08-04T03:02:00.000000+00:00")  # lapsed: taken over
    await leases.let_go("scheduler", "p1")  # no longer p1's: nothing happens
    assert await leases.holder("scheduler", T3) == "p2"
    await leases.let_go("scheduler", "p2")
    assert await leases.holder("scheduler", T3) is None
    assert await leases.hold("scheduler", "p1", T3, "2025-08-04T03:02:00.000000+00:00")
    results = await asyncio.gather(*(leases.hold("other", f"q{n}", T0, T1) for n in range(5)))
    assert sum(results) == 1


async def test_an_update_that_kills_every_process_answering_it_is_given_up(db: Database) -> None:
    """An update whose answering processes all died (three lapsed claims) is recorded as given up, not tried
    forever, and its chat's next update goes on."""
    from bot.inbox import MAX_ATTEMPTS, Inbox

    repo = InboxRepo(db)
    await repo.put("telegram", "1", "A", 1, "{}", T0)
    await repo.put("telegram", "2", "A", 2, "{}", T0)
    for n in range(MAX_ATTEMPTS):
        assert (await repo.claim(["telegram"], f"dead{n}", T0)) is not None
        assert await repo.sweep(T1) == (1, 0)
    answered: list[str] = []

    async def dispatch(payload: str) -> None:
        answered.append(payload)

    from datetime import datetime

    inbox = Inbox(repo, lambda: datetime.fromisoformat(T1), "alive", {"telegram": dispatch}, workers=1)
    inbox.start()
    try:
        for _ in range(100):
            if await repo.waiting() == 0:
                break
            await asyncio.sleep(0.02)
    finally:
        await inbox.stop()
    assert await repo.outcomes() == {"answered": 1, "given up": 1} and answered == ["{}"]


async def test_the_processes_alive_are_counted_by_their_heartbeats(db: Database) -> None:
    leases = LeasesRepo(db)
    for n, until in enumerate([T2, T2, T1]):
        assert await leases.hold(f"process:p{n}", f"p{n}", T0, until)
    assert await leases.hold("scheduler", "p0", T0, T2)
    assert await leases.alive("process:", T1, T0) == 2  # p2's lapsed at T1; the scheduler is no process
    assert await leases.alive("process:", T1, T2) == 2  # p2's, lapsed before T2, forgotten
    assert await leases.holder("process:p2", T0) is None
