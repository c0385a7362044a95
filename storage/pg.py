"""PostgreSQL through asyncpg (`PHUCVU_DB=postgresql://…`): the same calls as `storage.db.Database`, so that a
repository runs on either; the storage and end-to-end tests run on both (`tests/conftest.py`).

- A pool of connections; `transaction()` holds one connection in a transaction and hands out a `PgConnection`,
  which answers `execute`, `executemany` and `execute_fetchall` as aiosqlite's connection does, with the SQL of
  `storage.dialect`.
- Migrations: each module's `POSTGRES` script (the schema of all that SQLite's scripts built up to m0024 is in
  m0024's; the later ones carry both), applied under an
  advisory lock held for the whole run, so that processes starting at once migrate once.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from storage.db import Migration, answers, discover_migrations
from storage.dialect import bind

MIGRATION_LOCK = 7_201_716  # pg_advisory_lock key of the migration run ("phục vụ", on a phone keypad, near enough)
_COUNT = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class Result:
    """What `execute` answers: how many rows the statement changed (as a cursor's `rowcount`)."""

    rowcount: int


def _rowcount(status: str) -> int:
    """`INSERT 0 5`, `UPDATE 3`, `DELETE 1` → 5, 3, 1 (-1 for a statement that counts nothing)."""
    match = _COUNT.search(status or "")
    return int(match.group(1)) if match else -1


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a connection going back to the pool needs: nothing (see `PgDatabase.open`)."""


class PgConnection:
    """One pooled connection inside a transaction, answering as aiosqlite's connection does."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[object] | Mapping[str, object] = ()) -> Result:
        statement, args = bind(sql, params)
        return Result(_rowcount(await self.conn.execute(statement, *args)))

    async def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if not rows:
            return
        statement, _ = bind(sql, rows[0])
        await self.conn.executemany(statement, [bind(sql, row)[1] for row in rows])

    async def copy(self, table: str, rows: Sequence[Sequence[object]]) -> None:
        """Load rows into a table (its columns in order) with COPY, far faster than one INSERT a row."""
        if rows:
            await self.conn.copy_records_to_table(table, records=rows)

    async def execute_fetchall(self, sql: str, params: Sequence[object] | Mapping[str, object] = ()) -> list[Any]:
        statement, args = bind(sql, params)
        return list(await self.conn.fetch(statement, *args))


class PgDatabase:
    """A pool of asyncpg connections, with the calls of `storage.db.Database`."""

    dialect = "postgres"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True, size: int = 10) -> PgDatabase:
        """Connect (a pool of `size`) and apply pending migrations."""
        # No reset query when a connection goes back to the pool (asyncpg's default sends `RESET ALL`, `UNLISTEN`,
        # … each time: a round trip per query of ours). Nothing here leaves session state behind: transactions end
        # with their block, settings are `SET LOCAL`, the migration's advisory lock is released where it is taken,
        # and the import's temporary staging table is meant to stay with its connection.
        # JIT compilation off: it costs tens of milliseconds on each of the digest's bigger queries and gains
        # nothing on queries that read through indexes.
        pool = await asyncpg.create_pool(
            url, min_size=1, max_size=size, reset=_keep_session, server_settings={"jit": "off"}
        )
        db = cls(pool)
        try:
            if migrate:
                await db.migrate()
        except BaseException:
            await pool.close()
            raise
        return db

    async def close(self) -> None:
        """Close every connection."""
        await self.pool.close()

    async def ping(self) -> bool:
        """Whether the database answers a query."""
        return await answers(self)

    async def fetchall(self, sql: str, params: Sequence[object] | Mapping[str, object] = ()) -> list[Any]:
        """Run a read query and return every row (asyncpg's records answer by position and by name)."""
        statement, args = bind(sql, params)
        async with self.pool.acquire() as conn:
            return list(await conn.fetch(statement, *args))

    async def fetchone(self, sql: str, params: Sequence[object] | Mapping[str, object] = ()) -> Any:
        """Run a read query and return its first row, if any."""
        statement, args = bind(sql, params)
        async with self.pool.acquire() as conn:
            return await conn.fetchrow(statement, *args)

    async def point_read(self, sql: str, params: Sequence[object] = ()) -> Any:
        """One row by an indexed key."""
        return await self.fetchone(sql, params)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgConnection]:
        """A transaction on one connection of the pool: committed at the end, rolled back on any error."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield PgConnection(conn)

    async def applied_migrations(self) -> list[int]:
        """Numbers of the migrations recorded as applied."""
        rows = await self.fetchall("SELECT number FROM schema_migrations ORDER BY number")
        return [int(row["number"]) for row in rows]

    async def migrate(self, migrations: Sequence[Migration] | None = None) -> list[int]:
        """Apply every pending migration's PostgreSQL script, each in its own transaction, all under the advisory
        lock (a second process waits, then finds them applied)."""
        applied: list[int] = []
        async with self.pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
                )
                done = {int(row[0]) for row in await conn.fetch("SELECT number FROM schema_migrations")}
                for migration in migrations if migrations is not None else discover_migrations():
                    if migration.number in done:
                        continue
                    async with conn.transaction():
                        if migration.postgres.strip():
                            await conn.execute(migration.postgres)
                        await conn.execute(
                            "INSERT INTO schema_migrations (number, name, applied_at) VALUES ($1, $2, $3)",
                            migration.number,
                            migration.name,
                            datetime.now(UTC).isoformat(),
                        )
                    applied.append(migration.number)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        return applied
