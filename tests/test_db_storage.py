"""The database: pragmas, migrations (unique, increasing, recorded, idempotent) and the write transaction."""

import asyncio
import sqlite3
from pathlib import Path

import pytest

from storage.db import Database, Migration, discover_migrations


def test_migrations_are_numbered_uniquely_and_increasing() -> None:
    migrations = discover_migrations()
    numbers = [m.number for m in migrations]
    assert numbers == sorted(set(numbers))
    assert numbers[0] == 1
    assert all(m.name.startswith(f"m{m.number:04d}_") for m in migrations)


async def test_open_sets_wal_and_foreign_keys(db: Database) -> None:
    assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"  # type: ignore[index]
    assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1  # type: ignore[index]


async def test_migrations_are_recorded_and_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    first = await Database.open(path)
    assert await first.applied_migrations() == [m.number for m in discover_migrations()]
    await first.close()
    again = await Database.open(path)
    assert await again.migrate() == []
    await again.close()


async def test_a_failing_migration_leaves_nothing_behind(db: Database) -> None:
    bad = Migration(9999, "m9999_bad", "CREATE TABLE half_done (x INTEGER);\nINSERT INTO missing VALUES (1);\n")
    with pytest.raises(Exception, match="missing"):
        await db.migrate([bad])
    assert 9999 not in await db.applied_migrations()
    assert await db.fetchone("SELECT name FROM sqlite_master WHERE name = 'half_done'") is None


async def insert_then_fail(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO people (channel, external_id, language, created_at, updated_at)"
            " VALUES ('telegram', '1', 'vi', 'now', 'now')"
        )
        raise RuntimeError("boom")


async def test_transaction_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        await insert_then_fail(db)
    assert await db.fetchall("SELECT * FROM people") == []


async def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(Exception, match="FOREIGN KEY"):
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO centres (commune_code, updated_at, updated_by) VALUES ('99999', 'now', 'test')"
            )


async def test_point_reads_see_committed_writes_and_cannot_write(db: Database) -> None:
    assert await db.point_read("SELECT count(*) FROM people") is not None
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO people (channel, external_id, language, created_at, updated_at)"
            " VALUES ('zalo', 'u1', 'en', 'now', 'now')"
        )
    row = await db.point_read("SELECT language FROM people WHERE channel = ? AND external_id = ?", ("zalo", "u1"))
    assert row is not None
    assert row["language"] == "en"
    assert db.reader is not None
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.reader.execute("DELETE FROM people")


async def test_digest_parts_queued_before_expiry_existed_get_one(tmp_path: Path) -> None:
    """A database at m0009 holds a digest queued before m0010: upgrading gives it the end of its day, so the outbox
    gives it up instead of sending it days late; other messages keep none."""
    migrations = discover_migrations()
    database = await Database.open(tmp_path / "old.db", migrate=False)
    try:
        await database.migrate([m for m in migrations if m.number <= 9])
        async with database.transaction() as conn:
            await conn.execute(
                "INSERT INTO people (id, channel, external_id, created_at, updated_at) VALUES (1, 'telegram', '5', '', '')"
            )
            rows = [
                ("digest_text", "digest:daily:2025-08-04:1:000"),
                ("digest_chart", "digest:weekly:2025-08-04:1:001"),
                ("dossier_status", "status:1:2025-08-04"),
            ]
            await conn.executemany(
                "INSERT INTO outbox (person_id, kind, dedupe_key, payload, created_at) VALUES (1, ?, ?, '{}', '')",
                rows,
            )
        await database.migrate(migrations)
        found = await database.fetchall("SELECT kind, expires_at FROM outbox ORDER BY id")
        assert [tuple(row) for row in found] == [
            ("digest_text", "2025-08-04 17:00:00"),  # midnight of the 5th in Lạng Sơn
            ("digest_chart", "2025-08-04 17:00:00"),
            ("dossier_status", None),
        ]
    finally:
        await database.close()


async def test_claims_left_by_earlier_versions_are_settled_as_uncertain(tmp_path: Path) -> None:
    """A database at m0015 holds a message claimed and never settled (it cannot tell whether its request left):
    upgrading fails it for good with the reason, so it neither stays claimed for ever nor is sent twice; a
    waiting message and a sent one are left as they were."""
    migrations = discover_migrations()
    database = await Database.open(tmp_path / "old.db", migrate=False)
    try:
        await database.migrate([m for m in migrations if m.number <= 15])
        async with database.transaction() as conn:
            await conn.execute(
                "INSERT INTO people (id, channel, external_id, created_at, updated_at) VALUES (1, 'telegram', '5', '', '')"
            )
            await conn.executemany(
                "INSERT INTO outbox (person_id, kind, dedupe_key, payload, created_at, claimed_at, sent_at, last_error)"
                " VALUES (1, 'dossier_status', ?, '{}', '', ?, ?, ?)",
                [
                    ("a", "2025-08-04 01:00:00", None, "timeout Timed out"),
                    ("b", None, None, None),
                    ("c", "2025-08-04 01:00:00", "2025-08-04 01:00:01", None),
                ],
            )
        await database.migrate(migrations)
        found = await database.fetchall("SELECT dedupe_key, failed_at, last_error FROM outbox ORDER BY id")
        assert [tuple(row) for row in found] == [
            (
                "a",
                "2025-08-04 01:00:00",
                "uncertain: claimed before m0016 and never settled; not sent again as it may have arrived"
                " (timeout Timed out)",
            ),
            ("b", None, None),
            ("c", None, None),
        ]
    finally:
        await database.close()


async def test_the_one_time_rule_is_applied_to_stored_dossiers_and_status_11_accepted(tmp_path: Path) -> None:
    """A database at m0016: a withdrawn dossier (7) had no `done_at` and counted overdue, one not received (3) had
    one; after m0017 only finished dossiers (8, 9, 10) have one, by the rule, and status 11 can be stored."""
    migrations = discover_migrations()
    database = await Database.open(tmp_path / "old.db", migrate=False)
    try:
        await database.migrate([m for m in migrations if m.number <= 16])
        await database.conn.execute("PRAGMA foreign_keys = OFF")  # no communes stored here
        async with database.transaction() as conn:
            await conn.executemany(
                "INSERT INTO dossiers (id, code_key, code, procedure_name, commune_code, received_at, due_at, status,"
                " finished_at, returned_at, updated_at, done_at) VALUES (?, ?, ?, 'Khai sinh', '06385',"
                " '2025-08-01 02:00:00', '2025-08-05 10:00:00', ?, ?, ?, '', ?)",
                [
                    (1, "A1", "A-1", 7, None, None, None),
                    (2, "A2", "A-2", 3, "2025-08-02 02:00:00", None, "2025-08-02 02:00:00"),
                    (3, "A3", "A-3", 10, None, "2025-08-06 03:00:00", "2025-08-06 03:00:00"),
                    (4, "A4", "A-4", 9, "2025-08-04 03:00:00", None, "2025-08-04 03:00:00"),
                ],
            )
            await conn.execute(
                "INSERT INTO dossier_history (dossier_id, status, at, source, recorded_at)"
                " VALUES (3, 8, '2025-08-05 01:00:00', 'import', '')"
            )
            with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
                await conn.execute("UPDATE dossiers SET status = 11 WHERE id = 1")
        await database.migrate(migrations)
        found = await database.fetchall("SELECT id, done_at FROM dossiers ORDER BY id")
        assert [tuple(row) for row in found] == [
            (1, None),  # withdrawn: no clock
            (2, None),  # not received: no clock
            (3, "2025-08-05 01:00:00"),  # 10 without ngay_ket_thuc: its first finished status (8), not the return
            (4, "2025-08-04 03:00:00"),
        ]
        async with database.transaction() as conn:
            await conn.execute("UPDATE dossiers SET status = 11 WHERE id = 1")
            await conn.execute(
                "INSERT INTO dossier_history (dossier_id, status, at, source, recorded_at)"
                " VALUES (1, 11, '2025-08-05 01:00:00', 'import', '')"
            )
        assert (await database.fetchone("PRAGMA integrity_check"))[0] == "ok"  # type: ignore[index]
    finally:
        await database.close()


async def test_two_processes_starting_at_once_apply_each_migration_once(tmp_path: Path) -> None:
    """Both open a new database file at the same moment: one applies the migrations, the other finds them done
    (checked again under the write lock), and neither fails."""
    path = tmp_path / "twice.db"
    first, second = await asyncio.gather(Database.open(path), Database.open(path))
    try:
        numbers = await first.applied_migrations()
        assert numbers == await second.applied_migrations()
        assert numbers == sorted(set(numbers)) and numbers[-1] == max(m.number for m in discover_migrations())
    finally:
        await first.close()
        await second.close()
