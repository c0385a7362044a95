"""The SQLite connection: WAL, foreign keys, migrations at start and one write-transaction helper."""

from __future__ import annotations

import asyncio
import importlib
import os
import pkgutil
import re
import sqlite3
import urllib.parse
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import aiosqlite

from storage import migrations as migrations_package

_MIGRATION_NAME = re.compile(r"^m(\d{4})_[a-z0-9_]+$")


@dataclass(frozen=True)
class Migration:
    """One forward-only schema step: `number` orders them, `sql` is a script run in one transaction (SQLite's),
    `postgres` the same step for PostgreSQL (`storage.pg`)."""

    number: int
    name: str
    sql: str
    postgres: str = ""


def discover_migrations(package: ModuleType = migrations_package) -> list[Migration]:
    """Every `mNNNN_name` module of the migrations package, in order; numbers must be unique."""
    found: list[Migration] = []
    for info in pkgutil.iter_modules(package.__path__):
        match = _MIGRATION_NAME.match(info.name)
        if not match:
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        found.append(Migration(int(match[1]), info.name, module.SQL, getattr(module, "POSTGRES", "")))
    found.sort(key=lambda m: m.number)
    numbers = [m.number for m in found]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"duplicate migration numbers: {numbers}")
    return found


class Store(Protocol):
    """What the repositories call of a database: SQLite's `Database` or PostgreSQL's `storage.pg.PgDatabase`.
    `transaction()` gives a connection answering `execute` (with `rowcount`), `executemany` and
    `execute_fetchall`; rows answer by position and by column name."""

    dialect: str

    async def fetchone(self, sql: str, params: Any = ()) -> Any: ...

    async def fetchall(self, sql: str, params: Any = ()) -> list[Any]: ...

    async def point_read(self, sql: str, params: Sequence[object] = ()) -> Any: ...

    def transaction(self) -> AbstractAsyncContextManager[Any]: ...

    async def ping(self) -> bool: ...

    async def migrate(self) -> list[int]: ...

    async def close(self) -> None: ...


async def answers(db: Store) -> bool:
    """Whether a database answers a query (`ping` of either database, for `/healthz`)."""
    try:
        await db.fetchone("SELECT 1")
    except Exception:
        return False
    return True


class Busy(Exception):
    """Another writer held the database longer than the busy timeout: try again later."""


class Database:
    """One aiosqlite connection shared by handlers and jobs; writes are serialised by `transaction()`."""

    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, reader: sqlite3.Connection | None = None) -> None:
        self.conn = conn
        self.reader = reader
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str, *, migrate: bool = True) -> Database:
        """Open (creating if needed) the database file, set pragmas and apply pending migrations."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute("PRAGMA busy_timeout=5000")
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA cache_size=-32768")  # 32 MiB of pages: the dossier indexes stay in memory
            # What is deleted or overwritten (an erased phone) is zeroed in its page where that costs no more I/O.
            await conn.execute("PRAGMA secure_delete=FAST")
            db = cls(conn)
            if migrate:
                await db.migrate()
            if str(path) != ":memory:":
                db.reader = _open_reader(path)
        except BaseException:
            await conn.close()  # or its thread keeps the process alive
            raise
        return db

    async def ping(self) -> bool:
        """Whether the database answers a query."""
        return await answers(self)

    async def close(self) -> None:
        """Close the connections."""
        if self.reader is not None:
            self.reader.close()
        await self.conn.close()

    async def point_read(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Row | None:
        """One row by an indexed key, read right here on the event loop's thread from a read-only connection:
        for the per-update lookups, where handing the query to the aiosqlite thread and back costs more than
        the query itself (bench/README.md). Anything that scans belongs in `fetchall`."""
        if self.reader is None:
            return await self.fetchone(sql, params)
        row: sqlite3.Row | None = self.reader.execute(sql, params).fetchone()
        return row

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """`BEGIN IMMEDIATE` … `COMMIT`, or `ROLLBACK` on any error; one writer at a time. `Busy` when another
        process held the database for longer than the busy timeout (an import, a backup)."""
        async with self._write_lock:
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise Busy(str(exc)) from exc
                raise
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            await self.conn.execute("COMMIT")

    async def fetchall(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        """Run a read query and return every row (one round trip to the connection's thread)."""
        return list(await self.conn.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Row | None:
        """Run a read query and return its first row, if any."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def applied_migrations(self) -> list[int]:
        """Numbers of the migrations recorded as applied."""
        rows = await self.fetchall("SELECT number FROM schema_migrations ORDER BY number")
        return [int(row["number"]) for row in rows]

    async def migrate(self, migrations: Sequence[Migration] | None = None) -> list[int]:
        """Apply every pending migration, each in its own write transaction; return the numbers applied. Whether a
        migration is applied is read again inside its transaction, which holds the database's write lock: two
        processes starting at once apply each migration once (the second finds it done)."""
        await self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        done = set(await self.applied_migrations())
        applied: list[int] = []
        for migration in migrations if migrations is not None else discover_migrations():
            if migration.number in done:
                continue
            async with self.transaction() as conn:
                found = await conn.execute_fetchall(
                    "SELECT 1 FROM schema_migrations WHERE number = ?", (migration.number,)
                )
                if list(found):  # another process applied it meanwhile
                    continue
                for statement in _statements(migration.sql):
                    await conn.execute(statement)
                if "writable_schema" in migration.sql:  # table definitions edited in place: every connection
                    cursor = await conn.execute("PRAGMA schema_version")  # must read them again
                    row = await cursor.fetchone()
                    assert row is not None
                    await conn.execute(f"PRAGMA schema_version = {int(row[0]) + 1}")
                await conn.execute(
                    "INSERT INTO schema_migrations (number, name, applied_at) VALUES (?, ?, ?)",
                    (migration.number, migration.name, datetime.now(UTC).isoformat()),
                )
            applied.append(migration.number)
        return applied


def _open_reader(path: Path | str) -> sqlite3.Connection:
    """A read-only connection to the database file, for `point_read` (a local file: this is quick)."""
    reader = sqlite3.connect("file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro", uri=True)
    reader.row_factory = sqlite3.Row
    reader.execute("PRAGMA busy_timeout=5000")
    return reader


def _statements(script: str) -> list[str]:
    """Split a migration script into complete statements (so that it runs inside our transaction)."""
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement in migration: {current.strip()[:80]}")
    return statements


def backup(source: Path, target: Path, pages_per_step: int = 1024) -> int:
    """Copy a live database with SQLite's online backup API, a few pages at a time (writers wait only for a step),
    into `target` by way of a temporary file that is checked (`PRAGMA integrity_check`) before it is renamed; how
    many pages. The copy is consistent: a write during the copy makes it start again from the changed pages."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    origin = sqlite3.connect(source)
    try:
        copy = sqlite3.connect(partial)
        try:
            origin.backup(copy, pages=pages_per_step, sleep=0.005)
            checked = copy.execute("PRAGMA integrity_check").fetchone()
            if checked is None or checked[0] != "ok":
                raise RuntimeError(f"the copy failed its integrity check: {checked}")
            pages = int(copy.execute("PRAGMA page_count").fetchone()[0])
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            copy.close()
    finally:
        origin.close()
    partial.replace(target)
    return pages
