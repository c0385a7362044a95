"""Dossiers in SQLite: idempotent batches, status history, follows, and outbox rows for followers."""

import json
import random
import sqlite3
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.dossiers import (
    LOOKUP_LIMIT,
    DossierService,
    HistoryStep,
    finished_time,
    from_sql_time,
    to_dossier,
    to_sql_time,
)
from bot.people import Person
from storage.centres import CentresRepo
from storage.db import Database
from storage.dossiers import DossierRow, DossiersRepo
from storage.people import PeopleRepo
from tests.factories import KEY, dossier_row

NOW = "2025-08-04 02:00:00"
LATER = "2025-08-05 03:00:00"


def row(key: str = KEY, status: int = 2, **changes: object) -> DossierRow:
    return dossier_row(code_key=key, status=status, applicant="Nguyễn Văn An", **changes)


async def test_a_batch_is_idempotent(db: Database, centres_repo: CentresRepo) -> None:
    repo = DossiersRepo(db)
    first = await repo.apply([row(), row("K2", code="K2-250804-0001")], "import:a.csv", NOW)
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    again = await repo.apply([row(), row("K2", code="K2-250804-0001")], "import:a.csv", LATER)
    assert (again.inserted, again.updated, again.unchanged, again.status_changes) == (0, 0, 2, 0)
    assert len(await db.fetchall("SELECT * FROM dossier_history")) == 2


async def test_a_status_change_is_recorded_with_its_time_and_source(db: Database, centres_repo: CentresRepo) -> None:
    repo = DossiersRepo(db)
    await repo.apply([row()], "import:a.csv", NOW)
    result = await repo.apply([row(status=9, finished_at="2025-08-05 02:00:00")], "api", LATER)
    assert (result.updated, result.status_changes) == (1, 1)
    stored = await repo.by_key("0000037H372508040012")
    assert stored is not None
    steps = await repo.history(stored.id)
    assert [(s.status, s.at, s.source) for s in steps] == [
        (2, "2025-08-04 01:30:00", "import:a.csv"),
        (9, "2025-08-05 02:00:00", "api"),
    ]
    fixed_typo = await repo.apply(
        [row(status=9, finished_at="2025-08-05 02:00:00", procedure_name="Khai sinh")], "x", LATER
    )
    assert (fixed_typo.updated, fixed_typo.status_changes) == (1, 0)


async def test_followers_get_one_outbox_row_per_change(db: Database, centres_repo: CentresRepo) -> None:
    repo, people = DossiersRepo(db), PeopleRepo(db)
    await repo.apply([row()], "import", NOW)
    stored = await repo.by_key("0000037H372508040012")
    assert stored is not None
    an = await people.ensure("telegram", "1", NOW)
    binh = await people.ensure("zalo", "u-2", NOW)
    assert await repo.follow(an, stored.id, NOW, 10) == "followed"
    assert await repo.follow(binh, stored.id, NOW, 10) == "followed"
    await repo.apply([row(status=4)], "import", LATER)
    await repo.apply([row(status=4)], "import", LATER)  # the same again: nothing new
    outbox = await db.fetchall("SELECT person_id, kind, payload FROM outbox ORDER BY person_id")
    assert [(r["person_id"], r["kind"]) for r in outbox] == [(an, "dossier_status"), (binh, "dossier_status")]
    payload = json.loads(outbox[0]["payload"])
    assert (payload["code"], payload["status"], payload["previous"]) == ("000.00.37.H37-250804-0012", 4, 2)
    assert "Nguyễn" not in outbox[0]["payload"]


async def test_every_follower_gets_the_key_and_payload_of_the_change(db: Database, centres_repo: CentresRepo) -> None:
    repo, people = DossiersRepo(db), PeopleRepo(db)
    await repo.apply([row()], "import", NOW)
    stored = await repo.by_key(KEY)
    assert stored is not None
    followers = [await people.ensure("telegram", str(i), NOW) for i in range(7)]
    for person in followers:
        await repo.follow(person, stored.id, NOW, 10)
    await repo.apply([row(status=4)], "import", LATER)
    await repo.apply([row(status=9, finished_at=LATER)], "import", LATER)
    steps = await db.fetchall("SELECT id, status FROM dossier_history WHERE dossier_id = ? ORDER BY id", (stored.id,))
    by_status = {step["status"]: step["id"] for step in steps}
    outbox = await db.fetchall("SELECT person_id, dedupe_key, payload FROM outbox ORDER BY id")
    assert len(outbox) == 14
    for entry in outbox:
        payload = json.loads(entry["payload"])
        assert entry["dedupe_key"] == f"status:{by_status[payload['status']]}:{entry['person_id']}"
    assert {json.loads(e["payload"])["previous"] for e in outbox} == {2, 4}


async def test_a_failed_batch_leaves_later_batches_working(db: Database, centres_repo: CentresRepo) -> None:
    repo = DossiersRepo(db)
    import asyncpg

    with pytest.raises((sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)):
        await repo.apply([row(commune_code="99999")], "import", NOW)  # not a commune: the batch rolls back
    result = await repo.apply([row()], "import", NOW)
    assert result.inserted == 1


async def test_follows_are_limited_and_can_stop(db: Database, centres_repo: CentresRepo) -> None:
    repo, people = DossiersRepo(db), PeopleRepo(db)
    rows = [row(f"KEY{i:04d}", code=f"K-250804-{i:04d}") for i in range(3)]
    await repo.apply(rows, "import", NOW)
    ids = [d.id for d in [await repo.by_key(r.code_key) for r in rows] if d]
    person = await people.ensure("telegram", "9", NOW)
    assert await repo.follow(person, ids[0], NOW, 2) == "followed"
    assert await repo.follow(person, ids[0], NOW, 2) == "already"
    assert await repo.follow(person, ids[1], NOW, 2) == "followed"
    assert await repo.follow(person, ids[2], NOW, 2) == "full"
    assert await repo.unfollow(person, ids[0]) is True
    assert await repo.unfollow(person, ids[0]) is False
    assert [d.id for d in await repo.followed(person)] == [ids[1]]


async def test_overdue_is_queued_once_per_follower(db: Database, centres_repo: CentresRepo) -> None:
    repo, people = DossiersRepo(db), PeopleRepo(db)
    await repo.apply([row(), row("DONE", code="D-250804-0001", status=9, finished_at="2025-08-05 00:00:00")], "i", NOW)
    person = await people.ensure("telegram", "5", NOW)
    for key in ("0000037H372508040012", "DONE"):
        stored = await repo.by_key(key)
        assert stored is not None
        await repo.follow(person, stored.id, NOW, 10)
    # Due on 6 August (17:00 in Lạng Sơn): overdue once the 7th has begun there (cut-off 2025-08-06 17:00 UTC).
    assert await repo.enqueue_overdue("2025-08-06 11:00:00", "2025-08-05 17:00:00") == 0
    assert await repo.enqueue_overdue("2025-08-06 17:30:00", "2025-08-06 17:00:00") == 1
    assert await repo.enqueue_overdue("2025-08-07 11:00:00", "2025-08-06 17:00:00") == 0


async def test_done_at_is_the_lookups_finished_time(db: Database, centres_repo: CentresRepo) -> None:
    """The digest counts with `done_at`; the lookup applies the rule to the history: on random batches (status
    jumps, reopenings, dates present or not, the demo's earlier steps) they agree on every dossier."""
    repo, rng = DossiersRepo(db), random.Random(7)
    keys = [f"K{n}" for n in range(60)]
    for round_ in range(8):
        now = f"2025-08-{4 + round_:02d} 0{round_}:00:00"
        batch = [
            row(
                key,
                code=key,
                status=rng.randint(1, 11),
                finished_at=rng.choice([None, f"2025-08-{5 + rng.randint(0, 5):02d} 02:00:00"]),
                returned_at=rng.choice([None, f"2025-08-{6 + rng.randint(0, 5):02d} 03:00:00"]),
            )
            for key in rng.sample(keys, 30)
        ]
        await repo.apply(batch, f"import:{round_}", now)
        steps = [
            (key, rng.choice([3, 7, 8, 9, 10]), f"2025-08-0{rng.randint(4, 9)} 01:00:00") for key in rng.sample(keys, 3)
        ]
        await repo.add_history([step for step in steps if await repo.by_key(step[0])], "demo", now)
    checked = 0
    for key in keys:
        stored = await repo.by_key(key)
        if stored is None:
            continue
        history = [HistoryStep(s.status, from_sql_time(s.at), s.source) for s in await repo.history(stored.id)]
        dossier = to_dossier(stored)
        expected = finished_time(dossier, history)
        found = await db.fetchone("SELECT done_at FROM dossiers WHERE id = ?", (stored.id,))
        assert found is not None
        assert found[0] == (to_sql_time(expected) if expected else None), key
        checked += expected is not None
    assert checked > 10  # the random data did reach the finished statuses


async def test_follow_and_unfollow_presses_count_as_lookups(db: Database, centres_repo: CentresRepo) -> None:
    """A press by code learns whether a dossier exists, as a lookup does: both count against the same limit."""
    service = DossierService(DossiersRepo(db), PeopleRepo(db), {}, ZoneInfo("Asia/Ho_Chi_Minh"))
    now = datetime(2025, 8, 4, 3, 0, tzinfo=UTC)
    await service.apply([dossier_row()], "test", now)
    person = Person("telegram", "77")
    for _ in range(LOOKUP_LIMIT // 2):
        assert await service.follow(person, KEY, now) in ("followed", "already")
        assert await service.unfollow(person, KEY, now) is True
    assert await service.follow(person, KEY, now) == "limited"
    assert await service.unfollow(person, KEY, now) is None
    assert (await service.lookup(person, KEY, now)).wait_until is not None
