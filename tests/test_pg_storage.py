"""PostgreSQL (issue 17, under way): the SQL as PostgreSQL takes it, the migrations applied once under a lock, and
the repositories ported so far doing on PostgreSQL what they do on SQLite (the same calls, the same answers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.db import Database, discover_migrations
from storage.dialect import bind, to_postgres
from storage.people import PeopleRepo
from storage.pg import PgDatabase
from storage.procedures import ProceduresRepo, StoredProcedure
from storage.zns import ZnsTokensRepo
from tests.conftest import fresh_postgres


@pytest.mark.parametrize(
    ("sqlite", "postgres"),
    [
        ("SELECT id FROM people WHERE channel = ? AND external_id = ?",
         "SELECT id FROM people WHERE channel = $1 AND external_id = $2"),
        ("INSERT OR IGNORE INTO people (channel) VALUES (?)",
         "INSERT INTO people (channel) VALUES ($1) ON CONFLICT DO NOTHING"),
        ("INSERT OR IGNORE INTO t (a) VALUES (?) RETURNING id",
         "INSERT INTO t (a) VALUES ($1) ON CONFLICT DO NOTHING RETURNING id"),
        ("SELECT 'status:' || h.id || ':?' FROM h WHERE h.at > :now AND h.id > :floor AND h.at < :now",
         "SELECT 'status:' || h.id || ':?' FROM h WHERE h.at > $1 AND h.id > $2 AND h.at < $1"),
        ("SELECT json_object('a', x, 'b', json_array(y)), json_group_array(z) FROM t",
         "SELECT json_build_object('a', x, 'b', json_build_array(y)), json_agg(z) FROM t"),
        ("WHERE json_extract(o.payload, '$.template') = n.template",
         "WHERE (o.payload::json ->> 'template') = n.template"),
        ("WHERE substr(code_key, -10) = ?", "WHERE right(code_key, 10) = $1"),
        ("WHERE (d.a, d.b) IS NOT (excluded.a, excluded.b)", "WHERE (d.a, d.b) IS DISTINCT FROM (excluded.a, excluded.b)"),
        ("SELECT 'json_object(' AS text", "SELECT 'json_object(' AS text"),  # a literal is left alone
    ],
)  # fmt: skip
def test_sqlite_statements_as_postgres_takes_them(sqlite: str, postgres: str) -> None:
    assert bind(sqlite, {"now": None, "floor": None} if ":now" in sqlite else [None] * 3)[0] == postgres
    assert to_postgres(sqlite).count("$") == 0  # parameters are bind's


def test_parameters_come_in_the_order_postgres_numbers_them() -> None:
    assert bind("a = :x AND b = :y AND c = :x", {"y": 2, "x": "X"}) == (
        "a = $1::text AND b = $2::bigint AND c = $1::text",
        ["X", 2],
    )  # each cast to what its value is: PostgreSQL cannot always tell (json_build_object('role', $1))
    assert bind("a = ? AND b = ? AND c = ':?'", ("A", None)) == ("a = $1::text AND b = $2 AND c = ':?'", ["A", None])


@pytest.fixture(params=["sqlite", "postgres"])
async def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database | PgDatabase]:
    """The same repository calls on each database."""
    if request.param == "sqlite":
        database = await Database.open(tmp_path / "both.db")
        yield database
        await database.close()
        return
    async with fresh_postgres() as url:
        postgres = await PgDatabase.open(url)
        yield postgres
        await postgres.close()


async def test_migrations_apply_once_when_two_processes_start_at_once() -> None:
    async with fresh_postgres(bare=True) as url:
        await _migrate_twice_at_once(url)


async def _migrate_twice_at_once(pg_url: str) -> None:
    first, second = await asyncio.gather(PgDatabase.open(pg_url), PgDatabase.open(pg_url))
    try:
        numbers = await first.applied_migrations()
        assert numbers == await second.applied_migrations() == [m.number for m in discover_migrations()]
        tables = await first.fetchall("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        assert {"people", "dossiers", "outbox", "zns_tokens", "schema_migrations"} <= {row[0] for row in tables}
        assert await first.migrate() == []
    finally:
        await first.close()
        await second.close()


async def test_people_on_either_database(any_db: Database) -> None:
    repo = PeopleRepo(any_db)
    first = await repo.ensure("telegram", "1001", "2025-08-04 03:00:00")
    assert await repo.ensure("telegram", "1001", "2025-08-04 03:00:01") == first
    assert await repo.id_of("zalo", "1001") is None
    await repo.set_language("zalo", "abc", "en", "2025-08-04 03:00:02")
    await repo.set_menu_role("telegram", "1001", "leader", "2025-08-04 03:00:03")
    assert await repo.languages_other_than("vi") == [("zalo", "abc", "en")]
    assert await repo.with_menu("telegram") == [("1001", "leader")]
    await repo.reachable_again("telegram", "1001")


async def test_procedures_on_either_database(any_db: Database) -> None:
    repo = ProceduresRepo(any_db)
    birth = StoredProcedure("1.001193", "Đăng ký khai sinh", "Hộ tịch", "Tờ khai", "Ngay", "Miễn", "UBND xã", None)
    assert await repo.save([birth], "2025-08-04 03:00:00") == (1, 0, 0)
    assert await repo.save([birth], "2025-08-04 03:00:01") == (0, 0, 1)
    assert [p.name for p in await repo.all()] == ["Đăng ký khai sinh"]
    assert (await repo.version())[0] == 1


async def test_zns_tokens_on_either_database(any_db: Database) -> None:
    repo = ZnsTokensRepo(any_db)
    assert await repo.seed("hash-1", "refresh-1", "2025-08-04 03:00:00")
    assert not await repo.seed("hash-1", "refresh-1", "2025-08-04 03:00:01")
    assert await repo.claim_refresh("2025-08-04 03:00:00", "2025-08-04 03:00:30")
    assert not await repo.claim_refresh("2025-08-04 03:00:10", "2025-08-04 03:00:40")
    assert await repo.rotate("refresh-1", "refresh-2", "access-2", "2025-08-05 04:00:00", "2025-08-04 03:00:02")
    assert not await repo.rotate("refresh-1", "refresh-3", "access-3", "2025-08-05 04:00:00", "2025-08-04 03:00:03")
    stored = await repo.get()
    assert stored is not None and (stored.refresh_token, stored.access_token) == ("refresh-2", "access-2")


async def test_the_outbox_on_either_database(any_db: Database) -> None:
    """Claimed with a lease, left, sent; released to wait; failed with the reason; a lapsed claim swept back."""
    from storage.outbox import OutboxRepo

    people, outbox = PeopleRepo(any_db), OutboxRepo(any_db)
    person = await people.ensure("telegram", "1001", "2025-08-04 03:00:00")
    async with any_db.transaction() as conn:
        for key in ("a", "b", "c"):
            await conn.execute(
                "INSERT OR IGNORE INTO outbox (person_id, kind, dedupe_key, payload, created_at)"
                " VALUES (?, 'commune_morning', ?, '{}', ?)",
                (person, key, "2025-08-04 03:00:00"),
            )
        await conn.execute(  # the same key again: ignored
            "INSERT OR IGNORE INTO outbox (person_id, kind, dedupe_key, payload, created_at)"
            " VALUES (?, 'commune_morning', 'a', '{}', ?)",
            (person, "2025-08-04 03:00:00"),
        )
    rows = await outbox.pending("telegram", "2025-08-04 03:00:01", 10)
    assert [row.payload for row in rows] == ["{}"] * 3
    first, second, third = (row.id for row in rows)
    assert await outbox.claim(first, "2025-08-04 03:00:01", "2025-08-04 03:02:01")
    assert not await outbox.claim(first, "2025-08-04 03:00:01", "2025-08-04 03:02:01")
    await outbox.depart(first, "2025-08-04 03:00:01")
    await outbox.mark_sent(first, "2025-08-04 03:00:02")
    assert await outbox.claim(second, "2025-08-04 03:00:02", "2025-08-04 03:02:02")
    await outbox.release(second, "2025-08-04 03:10:00", "429")
    assert await outbox.claim(third, "2025-08-04 03:00:02", "2025-08-04 03:00:03")  # then the process dies
    assert await outbox.sweep("2025-08-04 03:00:05") == (1, 0)  # never left: waiting again
    assert [row.id for row in await outbox.pending("telegram", "2025-08-04 03:00:06", 10)] == [third]
    assert [row.id for row in await outbox.pending("telegram", "2025-08-04 03:10:01", 10)] == [second, third]
    await outbox.mark_failed(third, "2025-08-04 03:10:02", "gone")
    backlog = await outbox.backlog()
    assert [(channel, count) for channel, count, _ in backlog] == [("telegram", 1)]
