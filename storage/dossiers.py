"""SQL for dossiers, their status history, and follows."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass

import aiosqlite

from storage.db import Database

# The columns an import may change, in table order; `code_key` identifies the row.
FIELDS = (
    "code",
    "procedure_code",
    "procedure_name",
    "commune_code",
    "received_at",
    "due_at",
    "status",
    "finished_at",
    "returned_at",
    "channel",
    "applicant",
)
_CHUNK = 500


@dataclass(frozen=True)
class DossierRow:
    """A dossier as an import or the ingest endpoint gives it (times as stored, UTC `YYYY-MM-DD HH:MM:SS`)."""

    code_key: str
    code: str
    procedure_code: str | None
    procedure_name: str
    commune_code: str
    received_at: str
    due_at: str | None
    status: int
    finished_at: str | None
    returned_at: str | None
    channel: int | None
    applicant: str | None

    def values(self) -> tuple[object, ...]:
        """The FIELDS, in order."""
        return astuple(self)[1:]

    def status_time(self, fallback: str) -> str:
        """When the row's status took effect, as far as the row tells."""
        if self.status == 9 and self.finished_at:
            return self.finished_at
        if self.status == 10 and self.returned_at:
            return self.returned_at
        if self.status in (1, 2):
            return self.received_at
        return fallback


@dataclass(frozen=True)
class BatchResult:
    """What applying a batch did."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    status_changes: int = 0
    inserted_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoredDossier:
    """A stored dossier row (times as stored)."""

    id: int
    code: str
    procedure_name: str
    commune_code: str
    received_at: str
    due_at: str | None
    status: int
    finished_at: str | None
    returned_at: str | None


@dataclass(frozen=True)
class StoredStep:
    """A stored history step."""

    status: int
    at: str
    source: str


def _dossier(row: sqlite3.Row) -> StoredDossier:
    return StoredDossier(
        row["id"],
        row["code"],
        row["procedure_name"],
        row["commune_code"],
        row["received_at"],
        row["due_at"],
        row["status"],
        row["finished_at"],
        row["returned_at"],
    )


def _chunks(items: Sequence[DossierRow]) -> Iterable[Sequence[DossierRow]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class DossiersRepo:
    """Reads and writes dossiers, history and follows."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def apply(self, rows: Sequence[DossierRow], source: str, now: str) -> BatchResult:
        """Insert new dossiers, update changed ones (a status change adds a history step and an outbox row for
        each follower), leave identical ones alone; all in one transaction."""
        inserted = updated = unchanged = changes = 0
        inserted_keys: list[str] = []
        async with self.db.transaction() as conn:
            before = await conn.execute_fetchall("SELECT coalesce(max(id), 0) FROM dossier_history")
            history_floor = int(next(iter(before))[0])
            for chunk in _chunks(rows):
                keys = [row.code_key for row in chunk]
                existing: dict[str, Mapping[str, object]] = {
                    r["code_key"]: dict(r)
                    for r in await conn.execute_fetchall(
                        f"SELECT code_key, {', '.join(FIELDS)} FROM dossiers"
                        f" WHERE code_key IN ({', '.join('?' for _ in keys)})",
                        keys,
                    )
                }
                new: list[DossierRow] = []
                changed: list[DossierRow] = []
                moved: list[DossierRow] = []
                for row in chunk:
                    old = existing.get(row.code_key)
                    if old is None:
                        new.append(row)
                        existing[row.code_key] = dict(zip(["code_key", *FIELDS], astuple(row), strict=True))
                    elif tuple(old[name] for name in FIELDS) != row.values():
                        changed.append(row)
                        if old["status"] != row.status:
                            moved.append(row)
                    else:
                        unchanged += 1
                await conn.executemany(
                    f"INSERT INTO dossiers (code_key, {', '.join(FIELDS)}, updated_at)"
                    f" VALUES (?, {', '.join('?' for _ in FIELDS)}, ?)",
                    [(*astuple(row), now) for row in new],
                )
                await conn.executemany(
                    f"UPDATE dossiers SET {', '.join(f'{name} = ?' for name in FIELDS)}, updated_at = ?"
                    " WHERE code_key = ?",
                    [(*row.values(), now, row.code_key) for row in changed],
                )
                await conn.executemany(
                    "INSERT INTO dossier_history (dossier_id, status, at, source, recorded_at)"
                    " SELECT id, ?, ?, ?, ? FROM dossiers WHERE code_key = ?",
                    [(row.status, row.status_time(now), source, now, row.code_key) for row in (*new, *moved)],
                )
                inserted += len(new)
                inserted_keys.extend(row.code_key for row in new)
                updated += len(changed)
                changes += len(moved)
            if changes:
                await self._notify_followers(conn, history_floor, now)
        return BatchResult(inserted, updated, unchanged, changes, tuple(inserted_keys))

    @staticmethod
    async def _notify_followers(conn: aiosqlite.Connection, history_floor: int, now: str) -> None:
        """An outbox row for each follower of each status change recorded after `history_floor`."""
        await conn.execute(
            "INSERT OR IGNORE INTO outbox (person_id, kind, dedupe_key, payload, created_at)"
            " SELECT f.person_id, 'dossier_status', 'status:' || h.id || ':' || f.person_id,"
            " json_object('dossier_id', d.id, 'code', d.code, 'status', h.status, 'at', h.at,"
            "  'previous', (SELECT p.status FROM dossier_history p WHERE p.dossier_id = h.dossier_id"
            "   AND p.id < h.id ORDER BY p.id DESC LIMIT 1)), ?"
            " FROM dossier_history h JOIN follows f ON f.dossier_id = h.dossier_id"
            " JOIN dossiers d ON d.id = h.dossier_id WHERE h.id > ?",
            (now, history_floor),
        )

    async def add_history(self, steps: Sequence[tuple[str, int, str]], source: str, now: str) -> None:
        """Record earlier steps (code key, status, at) of stored dossiers, e.g. the demo's; no one is notified."""
        async with self.db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO dossier_history (dossier_id, status, at, source, recorded_at)"
                " SELECT id, ?, ?, ?, ? FROM dossiers WHERE code_key = ?",
                [(status, at, source, now, key) for key, status, at in steps],
            )

    async def count(self) -> int:
        """How many dossiers are stored."""
        row = await self.db.fetchone("SELECT count(*) FROM dossiers")
        return int(row[0]) if row else 0

    async def by_key(self, code_key: str) -> StoredDossier | None:
        """A dossier by its code key."""
        row = await self.db.fetchone("SELECT * FROM dossiers WHERE code_key = ?", (code_key,))
        return _dossier(row) if row else None

    async def by_id(self, dossier_id: int) -> StoredDossier | None:
        """A dossier by id."""
        row = await self.db.fetchone("SELECT * FROM dossiers WHERE id = ?", (dossier_id,))
        return _dossier(row) if row else None

    async def history(self, dossier_id: int) -> list[StoredStep]:
        """Every status step of a dossier, oldest first."""
        rows = await self.db.fetchall(
            "SELECT status, at, source FROM dossier_history WHERE dossier_id = ? ORDER BY at, id", (dossier_id,)
        )
        return [StoredStep(row["status"], row["at"], row["source"]) for row in rows]

    async def follow(self, person_id: int, dossier_id: int, now: str, limit: int) -> str:
        """Follow a dossier: 'followed', 'already', or 'full' when the person follows `limit` already."""
        async with self.db.transaction() as conn:
            rows = await conn.execute_fetchall("SELECT dossier_id FROM follows WHERE person_id = ?", (person_id,))
            followed = {row[0] for row in rows}
            if dossier_id in followed:
                return "already"
            if len(followed) >= limit:
                return "full"
            await conn.execute(
                "INSERT INTO follows (person_id, dossier_id, created_at) VALUES (?, ?, ?)",
                (person_id, dossier_id, now),
            )
            return "followed"

    async def unfollow(self, person_id: int, dossier_id: int) -> bool:
        """Stop following; False if the person did not follow it."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM follows WHERE person_id = ? AND dossier_id = ?", (person_id, dossier_id)
            )
            return cursor.rowcount > 0

    async def followed(self, person_id: int) -> list[StoredDossier]:
        """The dossiers a person follows, oldest follow first."""
        rows = await self.db.fetchall(
            "SELECT d.* FROM follows f JOIN dossiers d ON d.id = f.dossier_id WHERE f.person_id = ?"
            " ORDER BY f.created_at, d.id",
            (person_id,),
        )
        return [_dossier(row) for row in rows]

    async def is_following(self, person_id: int, dossier_id: int) -> bool:
        """Whether the person follows the dossier."""
        row = await self.db.fetchone(
            "SELECT 1 FROM follows WHERE person_id = ? AND dossier_id = ?", (person_id, dossier_id)
        )
        return row is not None

    async def enqueue_overdue(self, now: str) -> int:
        """One outbox row per follower of each unfinished dossier past its appointment date (once ever)."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO outbox (person_id, kind, dedupe_key, payload, created_at)"
                " SELECT f.person_id, 'dossier_overdue', 'overdue:' || d.id || ':' || f.person_id,"
                " json_object('dossier_id', d.id, 'code', d.code, 'due_at', d.due_at), ?"
                " FROM follows f JOIN dossiers d ON d.id = f.dossier_id"
                " WHERE d.due_at IS NOT NULL AND d.due_at < ? AND d.status NOT IN (3, 8, 9, 10)",
                (now, now),
            )
            return cursor.rowcount
