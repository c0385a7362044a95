"""`phucvu copy-data`: move a province's SQLite database to PostgreSQL, verified table by table.

- The source is read in one read transaction (a consistent snapshot: the bot may keep running on it) through its
  own read-only connection; it must be at the latest migration (`phucvu migrate` first), and the target is
  migrated to it.
- The whole copy is one PostgreSQL transaction: tables in the order of their foreign keys, rows with COPY, the
  identity sequences moved past the copied ids; then each table is read back and compared with the source by its
  count and a checksum, and any difference rolls everything back.
- Safe to run twice: a target identical to the source is left alone; a target holding other data is refused
  (naming the tables that differ) unless `replace`, which empties the target's tables first (after a rehearsal
  while the bot ran, the final copy once it is stopped).

The checksum of a table is the sum, modulo 2**128, of a hash of each row's values in a form both databases
give alike (None, integers, floats by `repr`, text, bytes): it does not depend on the order rows come in, which
differs between SQLite's and PostgreSQL's collations.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from storage.db import discover_migrations
from storage.pg import PgDatabase

CHUNK = 5_000  # rows read from SQLite and sent with COPY at a time
NOT_COPIED = {"schema_migrations", "sqlite_sequence", "staged_dossiers"}


class CopyRefused(Exception):
    """The copy cannot start or did not verify; the message says why, in Vietnamese, for the officer."""


@dataclass(frozen=True)
class TableCopy:
    """One table: its rows and checksum in the source, and whether the copy was needed."""

    name: str
    rows: int
    checksum: str
    copied: bool


def _value(value: object) -> bytes:
    if value is None:
        return b"\x00N"
    if isinstance(value, bytes | bytearray | memoryview):
        return b"\x00B" + bytes(value)
    if isinstance(value, float):
        return b"\x00F" + repr(value).encode()
    if isinstance(value, int):
        return b"\x00I" + str(value).encode()
    return b"\x00T" + str(value).encode()


def row_hash(row: Iterable[object]) -> int:
    """A row's part of its table's checksum."""
    digest = hashlib.blake2b(b"\x01".join(_value(v) for v in row), digest_size=16).digest()
    return int.from_bytes(digest, "big")


class Checksum:
    """A table's running count and checksum."""

    def __init__(self) -> None:
        self.rows = 0
        self.total = 0

    def add(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.rows += 1
            self.total = (self.total + row_hash(row)) % (1 << 128)

    @property
    def hex(self) -> str:
        return f"{self.total:032x}"


async def _target_tables(conn: asyncpg.Connection) -> dict[str, list[tuple[str, str]]]:
    """The target's tables: their columns in order, with their types."""
    rows = await conn.fetch(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    )
    tables: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        tables.setdefault(row["table_name"], []).append((row["column_name"], row["data_type"]))
    return {name: columns for name, columns in tables.items() if name not in NOT_COPIED}


async def _in_key_order(conn: asyncpg.Connection, names: Sequence[str]) -> list[str]:
    """The tables, each after the tables its foreign keys point to."""
    edges = await conn.fetch(
        "SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent FROM pg_constraint c"
        " WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace"
    )
    parents: dict[str, set[str]] = {name: set() for name in names}
    for edge in edges:
        if edge["child"] in parents and edge["parent"] != edge["child"]:
            parents[edge["child"]].add(edge["parent"])
    ordered: list[str] = []
    while parents:
        ready = sorted(name for name, needs in parents.items() if not needs - set(ordered))
        if not ready:
            raise CopyRefused(f"khóa ngoại vòng quanh giữa các bảng {sorted(parents)}")
        for name in ready:
            ordered.append(name)
            del parents[name]
    return ordered


def _convert(types: Sequence[str]) -> Callable[[Sequence[object]], tuple[object, ...]]:
    """How a SQLite row becomes the values COPY expects for the target's column types."""
    casts: list[Callable[[Any], object]] = []
    for kind in types:
        if kind in ("bigint", "integer", "smallint"):
            casts.append(int)
        elif kind in ("double precision", "real", "numeric"):
            casts.append(float)
        elif kind == "bytea":
            casts.append(bytes)
        else:
            casts.append(str)

    def convert(row: Sequence[object]) -> tuple[object, ...]:
        return tuple(None if value is None else cast(value) for cast, value in zip(casts, row, strict=True))

    return convert


async def _target_checksum(conn: asyncpg.Connection, table: str, columns: Sequence[str]) -> Checksum:
    total = Checksum()
    quoted = ", ".join(f'"{c}"' for c in columns)
    async for record in conn.cursor(f'SELECT {quoted} FROM "{table}"', prefetch=CHUNK):
        total.add([tuple(record)])
    return total


def _source_rows(source: sqlite3.Connection, table: str, columns: Sequence[str]) -> sqlite3.Cursor:
    quoted = ", ".join(f'"{c}"' for c in columns)
    return source.execute(f'SELECT {quoted} FROM "{table}"')


async def copy_data(
    source_path: Path, target_url: str, *, replace: bool = False, progress: Callable[[str, int], None] | None = None
) -> list[TableCopy]:
    """Copy every table of the SQLite database at `source_path` into the PostgreSQL database at `target_url`,
    verified; what each table held. Raises CopyRefused when it cannot start or did not verify."""
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, check_same_thread=False)
    try:
        source.execute("BEGIN")  # one snapshot for every table, while the bot may keep writing
        latest = max(m.number for m in discover_migrations())
        try:
            (level,) = source.execute("SELECT coalesce(max(number), 0) FROM schema_migrations").fetchone()
        except sqlite3.DatabaseError as exc:
            raise CopyRefused(f"{source_path} không phải cơ sở dữ liệu của bot ({exc})") from exc
        if level != latest:
            raise CopyRefused(
                f"nguồn ở bước {level:04d}, phiên bản này ở bước {latest:04d}: chạy `phucvu migrate` với nguồn trước"
            )
        source_tables = {
            row[0]
            for row in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if row[0] not in NOT_COPIED and not row[0].startswith("sqlite_")
        }
        target = await PgDatabase.open(target_url)  # migrated to the same step
        try:
            async with target.pool.acquire() as conn, conn.transaction():
                return await _copy(source, source_tables, conn, replace, progress)
        finally:
            await target.close()
    finally:
        source.close()


async def _copy(
    source: sqlite3.Connection,
    source_tables: set[str],
    conn: asyncpg.Connection,
    replace: bool,
    progress: Callable[[str, int], None] | None,
) -> list[TableCopy]:
    tables = await _target_tables(conn)
    if missing := sorted(source_tables - set(tables)):
        raise CopyRefused(f"PostgreSQL thiếu bảng {', '.join(missing)}")
    order = await _in_key_order(conn, sorted(tables))
    sums: dict[str, Checksum] = {}
    for table in order:  # the source's figures, read in a worker thread (a big table takes a while)
        columns = [name for name, _ in tables[table]]
        sums[table] = total = Checksum()
        if table in source_tables:
            cursor = _source_rows(source, table, columns)
            while batch := await asyncio.to_thread(cursor.fetchmany, CHUNK):
                total.add(batch)
    held = {table: await _target_checksum(conn, table, [c for c, _ in tables[table]]) for table in order}
    differ = [t for t in order if (held[t].rows, held[t].total) != (sums[t].rows, sums[t].total)]
    if not differ:
        return [TableCopy(t, sums[t].rows, sums[t].hex, False) for t in order]
    if any(held[t].rows for t in order) and not replace:
        raise CopyRefused(
            "PostgreSQL đã có dữ liệu khác nguồn ở bảng "
            + ", ".join(differ)
            + ": thêm --replace để xóa dữ liệu đó và chép lại (chỉ khi bot chưa chạy trên PostgreSQL)"
        )
    await conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in order) + " RESTART IDENTITY CASCADE")
    for table in order:
        if table not in source_tables:
            continue
        columns = [name for name, _ in tables[table]]
        convert = _convert([kind for _, kind in tables[table]])
        cursor = _source_rows(source, table, columns)
        copied = 0
        while batch := await asyncio.to_thread(cursor.fetchmany, CHUNK):
            await conn.copy_records_to_table(table, records=[convert(row) for row in batch], columns=columns)
            copied += len(batch)
            if progress is not None:
                progress(table, copied)
        sequence = (
            await conn.fetchval("SELECT pg_get_serial_sequence($1, 'id')", f'"{table}"') if "id" in columns else None
        )
        if sequence is not None:  # the next id the target gives follows the copied ones
            await conn.execute(f'SELECT setval($1, coalesce(max(id), 0) + 1, false) FROM "{table}"', sequence)
    report = []
    for table in order:
        copied_sum = await _target_checksum(conn, table, [c for c, _ in tables[table]])
        if (copied_sum.rows, copied_sum.total) != (sums[table].rows, sums[table].total):
            raise CopyRefused(
                f"bảng {table} chép xong không khớp nguồn ({copied_sum.rows} dòng, tổng kiểm {copied_sum.hex};"
                f" nguồn {sums[table].rows} dòng, {sums[table].hex}): không ghi gì"
            )
        report.append(TableCopy(table, sums[table].rows, sums[table].hex, True))
    return report
