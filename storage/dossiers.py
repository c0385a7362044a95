"""SQL for dossiers, their status history, and follows."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import aiosqlite

from storage.db import Database, Store

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
    "note",
    "fee",
    "new_due_at",
    "phone",
)
# The appointment date DESIGN.md's rule judges by: a new one given with an apology letter, else the first.
DUE = "coalesce({r}new_due_at, {r}due_at)"
_COLUMNS = ", ".join(FIELDS)
# A batch is staged in a temporary (connection-local) table and applied with a few set-based statements: SQLite
# does the work in C, without holding Python's lock, so the next batch can be parsed meanwhile (bench/README.md).
_STAGED = (
    "CREATE TEMP TABLE IF NOT EXISTS staged_dossiers (code_key TEXT PRIMARY KEY NOT NULL, "
    + ", ".join(FIELDS)
    + ") WITHOUT ROWID"
)
# The same on PostgreSQL, whose columns need their types.
IMPORT_LOCK = 7_201_717  # pg_advisory_xact_lock key of a batch (storage.pg.MIGRATION_LOCK's neighbour)
_STAGED_POSTGRES = (
    "CREATE TEMP TABLE IF NOT EXISTS staged_dossiers (code_key TEXT PRIMARY KEY, code TEXT, procedure_code TEXT,"
    " procedure_name TEXT, commune_code TEXT, received_at TEXT, due_at TEXT, status INTEGER, finished_at TEXT,"
    " returned_at TEXT, channel INTEGER, applicant TEXT, note TEXT, fee BIGINT, new_due_at TEXT, phone TEXT)"
)
# DESIGN.md's classes of status (`bot.dossiers.OPEN`, `WAITING`; a test holds them equal), written into queries.
OPEN = "1, 2, 4, 11"
WAITING = "5, 6"
# When a status took effect, as far as the row tells: 9 (and 3, 7, 8) → finished, 10 → returned, 1/2 → received;
# otherwise (or when the row has no such date) the time of the import.
_STATUS_AT = (
    "CASE WHEN {r}.status IN (3, 7, 8, 9) THEN coalesce({r}.finished_at, :now)"
    " WHEN {r}.status = 10 THEN coalesce({r}.returned_at, :now)"
    " WHEN {r}.status IN (1, 2) THEN {r}.received_at ELSE :now END"
)
# A stored dossier whose status the batch changes: one history step each (before the rows are updated).
_CHANGED_STEPS = (
    "INSERT INTO dossier_history (dossier_id, status, at, source, recorded_at)"
    f" SELECT d.id, s.status, {_STATUS_AT.format(r='s')}, :source, :now"
    " FROM staged_dossiers s JOIN dossiers d ON d.code_key = s.code_key WHERE d.status IS NOT s.status"
)
# One message per follower of each of those steps (`d` still holds the previous status).
_FOLLOWER_MESSAGES = (
    "INSERT INTO outbox (person_id, kind, dedupe_key, payload, created_at)"
    " SELECT f.person_id, 'dossier_status', 'status:' || h.id || ':' || f.person_id,"
    " json_object('dossier_id', d.id, 'code', s.code, 'status', s.status, 'previous', d.status, 'at', h.at,"
    " 'procedure', s.procedure_name, 'commune', (SELECT name FROM communes WHERE code = s.commune_code),"
    " 'note', s.note, 'fee', s.fee), :now"
    " FROM dossier_history h JOIN dossiers d ON d.id = h.dossier_id"
    " JOIN staged_dossiers s ON s.code_key = d.code_key JOIN follows f ON f.dossier_id = d.id"
    " WHERE h.id > :history_floor"
)
# A new dossier's `done_at` (see DONE_AT) from its own row: its only history step is the first one.
_NEW_DONE_AT = (
    "CASE WHEN status IN (8, 9, 10) THEN coalesce(finished_at,"
    " min(CASE WHEN status = 10 THEN coalesce(returned_at, :now) ELSE :now END, coalesce(returned_at, :now))) END"
)
# What a stored field becomes: the row's value; the applicant's phone only when the row gives one (a row without
# it keeps the one the one-stop system sent before).
_NEW_VALUE = {name: f"excluded.{name}" for name in FIELDS} | {"phone": "coalesce(excluded.phone, dossiers.phone)"}
# New rows are inserted; a stored row is updated only when a field differs.
_UPSERT = (
    f"INSERT INTO dossiers (code_key, {_COLUMNS}, updated_at, done_at)"
    f" SELECT code_key, {_COLUMNS}, :now, {_NEW_DONE_AT} FROM staged_dossiers WHERE true"
    f" ON CONFLICT (code_key) DO UPDATE SET {', '.join(f'{name} = {_NEW_VALUE[name]}' for name in FIELDS)},"
    " updated_at = excluded.updated_at"
    f" WHERE ({', '.join(f'dossiers.{name}' for name in FIELDS)})"
    f" IS NOT ({', '.join(_NEW_VALUE[name] for name in FIELDS)})"
)
# When a dossier ended for its applicant, from which on its phone is kept `PHONE_DAYS` only: its result returned
# (10), or it was not received, withdrawn or stopped (3, 7, 8); the row's date, else its latest step into that
# status (`{id}`: the stored dossier's id; one returned, reopened and returned again ended the second time). NULL
# while it has not ended.
_ENDED = (
    "CASE WHEN {r}.status = 10 THEN coalesce({r}.returned_at, {latest})"
    " WHEN {r}.status IN (3, 7, 8) THEN coalesce({r}.finished_at, {latest}) END"
)
_LATEST_WITH = "(SELECT max(h.at) FROM dossier_history h WHERE h.dossier_id = {id} AND h.status = {r}.status)"


def _ended(r: str, dossier_id: str) -> str:
    return _ENDED.format(r=r, latest=_LATEST_WITH.format(r=r, id=dossier_id))


# A staged phone of a dossier that ended before `:erase_before`, or was received before `:kept_from` (one left
# uncollected for ever keeps no phone for ever), is not stored (nor kept: see `_NEW_VALUE`), so that importing an
# old file again never brings an erased phone back. One ending with this batch ends now.
_STAGED_ERASED = (
    "UPDATE staged_dossiers SET phone = NULL WHERE phone IS NOT NULL AND (coalesce("
    + _ended("staged_dossiers", "(SELECT id FROM dossiers WHERE code_key = staged_dossiers.code_key)")
    + ", CASE WHEN status IN (3, 7, 8, 10) THEN :now END) < :erase_before OR received_at < :kept_from)"
)
_ERASE = (
    "UPDATE dossiers SET phone = NULL WHERE phone IS NOT NULL AND ("
    + _ended("dossiers", "dossiers.id")
    + " < :erase_before OR received_at < :kept_from)"
)
# ZNS (`bot.zns`): the new steps of this batch that the applicant is told of by a template message. A step whose
# status has a template (`{case}`: status → template name), for a dossier with a phone and no follower on a chat
# channel who can still be reached (they hear of it there); a dossier first seen must have been received since
# `:since` (the first import of a year's dossiers messages nobody about old news). "received" only for the first
# step past registration (not again when a supplemented dossier goes back to processing); "received" and "ready"
# once per dossier, "supplement" not twice for the same status within a day (an older file imported again, then the
# current one, makes steps back and forth: the applicant is not messaged, and the province not billed, twice).
_NOTICES = (
    "WITH notice AS (SELECT h.id AS step, d.id AS dossier, {case} AS template"
    " FROM dossier_history h JOIN dossiers d ON d.id = h.dossier_id"
    " WHERE h.id > :history_floor AND d.phone IS NOT NULL AND (d.id <= :dossier_floor OR d.received_at >= :since)"
    " AND NOT EXISTS (SELECT 1 FROM follows f JOIN people p ON p.id = f.person_id"
    "  WHERE f.dossier_id = d.id AND p.channel != 'zns' AND p.unreachable_at IS NULL))"
    " {then} FROM notice n JOIN dossier_history h ON h.id = n.step JOIN dossiers d ON d.id = n.dossier"
    " WHERE n.template IS NOT NULL AND (n.template != 'received' OR NOT EXISTS (SELECT 1 FROM dossier_history e"
    "  WHERE e.dossier_id = d.id AND e.id < h.id AND e.status NOT IN (1, 11)))"
    " AND NOT EXISTS (SELECT 1 FROM people a JOIN outbox o ON o.person_id = a.id"
    "  WHERE a.channel = 'zns' AND a.external_id = CAST(d.id AS TEXT) AND json_extract(o.payload, '$.template') ="
    "  n.template AND (n.template IN ('received', 'ready')"
    "  OR (o.created_at > :day_ago AND CAST(json_extract(o.payload, '$.status') AS INTEGER) = h.status)))"
)
# The person a dossier's template messages go to: the channel 'zns', the dossier's id (the phone stays in the
# dossier, read when the message is sent, and erased with it).
_ZNS_PEOPLE = (
    "INSERT OR IGNORE INTO people (channel, external_id, language, created_at, updated_at)"
    " SELECT 'zns', CAST(d.id AS TEXT), 'vi', :now, :now"
)
_ZNS_PAYLOAD = (
    "json_object('template', {template}, 'dossier_id', d.id, 'code', d.code, 'status', d.status,"
    " 'procedure', d.procedure_name, 'commune', (SELECT name FROM communes WHERE code = d.commune_code),"
    " 'received_at', d.received_at, 'due_at', coalesce(d.new_due_at, d.due_at), 'note', d.note, 'fee', d.fee)"
)
_OVERDUE_PAYLOAD = _ZNS_PAYLOAD.format(template="'overdue'")
_ZNS_MESSAGES = (
    "INSERT OR IGNORE INTO outbox (person_id, kind, dedupe_key, payload, created_at)"
    " SELECT (SELECT id FROM people WHERE channel = 'zns' AND external_id = CAST(d.id AS TEXT)), 'zns',"
    f" 'zns:' || h.id, {_ZNS_PAYLOAD.format(template='n.template')}, :now"
)
# When a finished dossier (8, 9, 10) finished, by DESIGN.md's one rule (`bot.dossiers.finished_time` in SQL):
# `ngay_ket_thuc`, else the first time it had one of those statuses (its history, or `ngay_tra_ket_qua`); NULL for
# every other status.
DONE_AT = (
    "CASE WHEN dossiers.status IN (8, 9, 10) THEN coalesce(dossiers.finished_at,"
    " (SELECT min(t) FROM (SELECT at AS t FROM dossier_history WHERE dossier_id = dossiers.id"
    " AND status IN (8, 9, 10) UNION ALL SELECT dossiers.returned_at) AS steps)) END"
)
# The stored dossiers this batch changed get theirs again (new ones got theirs when inserted).
_DONE = (
    f"UPDATE dossiers SET done_at = {DONE_AT} WHERE id <= :dossier_floor AND updated_at = :now"
    " AND code_key IN (SELECT code_key FROM staged_dossiers)"
)
# The first step of each new dossier.
_FIRST_STEPS = (
    "INSERT INTO dossier_history (dossier_id, status, at, source, recorded_at)"
    f" SELECT d.id, d.status, {_STATUS_AT.format(r='d')}, :source, :now FROM dossiers d WHERE d.id > :dossier_floor"
)


# A dossier's values in `code_key` + FIELDS order, as a batch is handed to `DossiersRepo.apply`.
DossierValues = tuple[
    str,
    str,
    str | None,
    str,
    str,
    str,
    str | None,
    int,
    str | None,
    str | None,
    int | None,
    str | None,
    str | None,
    int | None,
    str | None,
    str | None,
]


class DossierRow(NamedTuple):
    """A dossier as an import or the ingest endpoint gives it (times as stored, UTC `YYYY-MM-DD HH:MM:SS`).

    A tuple in the staging table's column order, so that a batch is bound to SQL without copying."""

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
    note: str | None = None
    fee: int | None = None
    new_due_at: str | None = None
    phone: str | None = None  # the applicant's, `84…`: for ZNS only, never shown


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
    note: str | None = None
    fee: int | None = None
    new_due_at: str | None = None
    procedure_code: str | None = None


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
        row["note"],
        row["fee"],
        row["new_due_at"],
        row["procedure_code"],
    )


def _template_case(notices: Mapping[int, str], status: str) -> str:
    """`CASE status WHEN 9 THEN 'ready' … END` for a mapping of statuses to template names (identifiers)."""
    if not all(isinstance(code, int) and name.isidentifier() for code, name in notices.items()):
        raise ValueError(f"not statuses and template names: {notices!r}")
    return f"CASE {status} " + " ".join(f"WHEN {code} THEN '{name}'" for code, name in notices.items()) + " END"


async def _queue_notices(conn: aiosqlite.Connection, notices: Mapping[int, str], params: dict[str, object]) -> None:
    """Queue the ZNS messages of a batch's new steps (`_NOTICES`), each with its person."""
    case = _template_case(notices, "h.status")
    await conn.execute(_NOTICES.format(case=case, then=_ZNS_PEOPLE), params)
    await conn.execute(_NOTICES.format(case=case, then=_ZNS_MESSAGES), params)


class DossiersRepo:
    """Reads and writes dossiers, history and follows."""

    def __init__(self, db: Store) -> None:
        self.db = db
        self._prepared: aiosqlite.Connection | None = None

    async def apply(
        self,
        rows: Sequence[DossierValues],
        source: str,
        now: str,
        *,
        keys: bool = False,
        notices: Mapping[int, str] | None = None,
        since: str = "",
        erase_before: str = "",
        kept_from: str = "",
        repeat_from: str = "",
    ) -> BatchResult:
        """Insert new dossiers, update changed ones, leave identical ones alone; all in one transaction.

        Each new dossier and each status change gets a history step, and each follower of a dossier whose status
        changed one outbox message. When a code repeats in `rows`, the last row wins. With `keys`, the result
        lists the code keys of the inserted dossiers.

        `notices` (status → ZNS template name): each new step with one of these statuses queues one template
        message to the dossier's applicant (see `_NOTICES`; a dossier first seen: received since `since`). A phone
        of a dossier that ended before `erase_before`, or was received before `kept_from`, is not stored. A
        "supplement" queued for the dossier after `repeat_from` is not queued again.
        """
        postgres = getattr(self.db, "dialect", "sqlite") == "postgres"
        if not postgres:
            await self._prepare()
        async with self.db.transaction() as conn:
            values = ", ".join("?" * (len(FIELDS) + 1))
            if postgres:  # a temporary table lives as long as the pooled connection: made once on each
                # One batch at a time across processes: the floors below find this batch's new rows by id.
                await conn.execute("SELECT pg_advisory_xact_lock(?)", (IMPORT_LOCK,))
                await conn.execute(_STAGED_POSTGRES)
                # Emptied with TRUNCATE: a temporary table is never vacuumed, and rows deleted batch after batch
                # stay in it as dead ones, so that every statement reading it slows down as an import goes on.
                await conn.execute("TRUNCATE staged_dossiers")
                await conn.copy("staged_dossiers", list({row[0]: row for row in rows}.values()))  # the last wins
            else:
                await conn.execute("DELETE FROM staged_dossiers")
                await conn.executemany(f"INSERT OR REPLACE INTO staged_dossiers VALUES ({values})", rows)
            floors = await conn.execute_fetchall(
                "SELECT (SELECT coalesce(max(id), 0) FROM dossiers), (SELECT coalesce(max(id), 0) FROM dossier_history)"
            )
            dossier_floor, history_floor = next(iter(floors))
            params = {"source": source, "now": now, "dossier_floor": dossier_floor, "history_floor": history_floor}
            if erase_before:
                await conn.execute(_STAGED_ERASED, params | {"erase_before": erase_before, "kept_from": kept_from})
            changes = await conn.execute(_CHANGED_STEPS, params)
            status_changes = max(changes.rowcount, 0)
            if status_changes:
                await conn.execute(_FOLLOWER_MESSAGES, params)
            written = max((await conn.execute(_UPSERT, params)).rowcount, 0)
            inserted = max((await conn.execute(_FIRST_STEPS, params)).rowcount, 0)
            if written > inserted:
                await conn.execute(_DONE, params)
            if notices and (written or status_changes):
                await _queue_notices(conn, notices, params | {"since": since, "day_ago": repeat_from})
            fresh: tuple[str, ...] = ()
            if keys:
                found = await conn.execute_fetchall(
                    "SELECT code_key FROM dossiers WHERE id > ? ORDER BY id", (dossier_floor,)
                )
                fresh = tuple(row[0] for row in found)
            staged = await conn.execute_fetchall("SELECT count(*) FROM staged_dossiers")
            await conn.execute("TRUNCATE staged_dossiers" if postgres else "DELETE FROM staged_dossiers")
        return BatchResult(
            inserted=inserted,
            updated=written - inserted,
            unchanged=next(iter(staged))[0] - written,
            status_changes=status_changes,
            inserted_keys=fresh,
        )

    async def _prepare(self) -> None:
        """Create this connection's staging table outside any transaction (a rolled-back batch must not take it
        away)."""
        assert isinstance(self.db, Database)  # SQLite's: a staging table for the connection (PostgreSQL's: `apply`)
        conn = self.db.conn
        if self._prepared is conn:
            return
        await conn.execute(_STAGED)
        self._prepared = conn

    async def add_history(self, steps: Sequence[tuple[str, int, str]], source: str, now: str) -> None:
        """Record earlier steps (code key, status, at) of stored dossiers, e.g. the demo's; no one is notified."""
        async with self.db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO dossier_history (dossier_id, status, at, source, recorded_at)"
                " SELECT id, ?, ?, ?, ? FROM dossiers WHERE code_key = ?",
                [(status, at, source, now, key) for key, status, at in steps],
            )
            await conn.executemany(
                f"UPDATE dossiers SET done_at = {DONE_AT} WHERE code_key = ?", sorted({(key,) for key, _, _ in steps})
            )

    async def has_history_from_other_than(self, source: str) -> bool:
        """Whether any dossier step came from another source than `source` (e.g. real imports, not the demo)."""
        row = await self.db.fetchone("SELECT EXISTS (SELECT 1 FROM dossier_history WHERE source != ?)", (source,))
        return bool(row and row[0])

    async def count(self) -> int:
        """How many dossiers are stored."""
        row = await self.db.fetchone("SELECT count(*) FROM dossiers")
        return int(row[0]) if row else 0

    async def lookup(
        self, code_key: str, channel: str, external_id: str
    ) -> tuple[StoredDossier, list[StoredStep], bool] | None:
        """A dossier, its history (oldest first) and whether this person follows it, in one indexed query."""
        row = await self.db.point_read(
            "SELECT d.*, (SELECT json_group_array(json_array(h.status, h.at, h.source)) FROM"
            "  (SELECT status, at, source FROM dossier_history WHERE dossier_id = d.id ORDER BY at, id) h) AS steps,"
            " EXISTS (SELECT 1 FROM follows f JOIN people p ON p.id = f.person_id"
            "  WHERE f.dossier_id = d.id AND p.channel = ? AND p.external_id = ?) AS following"
            " FROM dossiers d WHERE d.code_key = ?",
            (channel, external_id, code_key),
        )
        if row is None:
            return None
        steps = [StoredStep(int(status), at, source) for status, at, source in json.loads(row["steps"])]
        return _dossier(row), steps, bool(row["following"])

    async def codes_of(self, keys: Sequence[str]) -> list[str]:
        """The codes of the dossiers with these keys (at most two: whether there is exactly one is the question)."""
        found: list[str] = []
        for start in range(0, len(keys), 900):
            chunk = keys[start : start + 900]
            rows = await self.db.fetchall(
                f"SELECT code FROM dossiers WHERE code_key IN ({', '.join('?' * len(chunk))}) LIMIT 2", chunk
            )
            found += [str(row[0]) for row in rows]
            if len(found) > 1:
                break
        return found

    async def codes_with_tail(self, tail: str) -> list[str]:
        """The codes (at most two) whose keys end with these ten characters (a date and a counter)."""
        rows = await self.db.fetchall(
            "SELECT code FROM dossiers WHERE substr(code_key, -10) = ? ORDER BY id LIMIT 2", (tail,)
        )
        return [str(row[0]) for row in rows]

    async def by_key(self, code_key: str) -> StoredDossier | None:
        """A dossier by its code key."""
        row = await self.db.fetchone("SELECT * FROM dossiers WHERE code_key = ?", (code_key,))
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
            return int(cursor.rowcount) > 0

    async def followed(self, person_id: int) -> list[StoredDossier]:
        """The dossiers a person follows, oldest follow first."""
        rows = await self.db.fetchall(
            "SELECT d.* FROM follows f JOIN dossiers d ON d.id = f.dossier_id WHERE f.person_id = ?"
            f" ORDER BY f.created_at, {'f.ctid' if self.db.dialect == 'postgres' else 'f.rowid'}",  # follow order
            (person_id,),
        )
        return [_dossier(row) for row in rows]

    async def commune_open(self, commune_code: str, due_before: str, limit: int) -> tuple[list[StoredDossier], int]:
        """A commune's open dossiers (1, 2, 4, 11) due before `due_before`, the earliest date first (at most
        `limit`), and how many there are."""
        where = f"commune_code = ? AND done_at IS NULL AND status IN ({OPEN}) AND {DUE.format(r='')} < ?"
        rows = await self.db.fetchall(
            f"SELECT * FROM dossiers WHERE {where} ORDER BY {DUE.format(r='')}, received_at LIMIT ?",
            (commune_code, due_before, limit),
        )
        total = await self.db.fetchone(f"SELECT count(*) FROM dossiers WHERE {where}", (commune_code, due_before))
        return [_dossier(row) for row in rows], int(total[0]) if total else 0

    async def commune_waiting(self, commune_code: str, limit: int) -> tuple[list[StoredDossier], int]:
        """A commune's dossiers waiting on their applicants (5, 6), the oldest first (at most `limit`), and how many
        there are."""
        where = f"commune_code = ? AND done_at IS NULL AND status IN ({WAITING})"
        rows = await self.db.fetchall(
            f"SELECT * FROM dossiers WHERE {where} ORDER BY received_at LIMIT ?", (commune_code, limit)
        )
        total = await self.db.fetchone(f"SELECT count(*) FROM dossiers WHERE {where}", (commune_code,))
        return [_dossier(row) for row in rows], int(total[0]) if total else 0

    async def set_morning(self, person_id: int, on: bool, now: str) -> None:
        """Turn an official's morning message on or off."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO official_settings (person_id, morning, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (person_id) DO UPDATE SET morning = excluded.morning, updated_at = excluded.updated_at",
                (person_id, int(on), now),
            )

    async def morning(self, person_id: int) -> bool:
        """Whether an official has the morning message on."""
        row = await self.db.fetchone("SELECT morning FROM official_settings WHERE person_id = ?", (person_id,))
        return bool(row and row[0])

    async def queue_mornings(self, day: str, due_before: str, soon_before: str, now: str, expires: str) -> int:
        """Queue today's morning message (once a day) for each official who turned it on and whose commune has open
        dossiers past their date: how many it has, and how many fall due by `soon_before`."""
        due = DUE.format(r="d.")
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO outbox (person_id, kind, dedupe_key, payload, created_at, expires_at)"
                " SELECT r.person_id, 'commune_morning', 'morning:' || r.person_id || ':' || ?,"
                " json_object('commune', c.name, 'overdue', o.overdue, 'soon', o.soon), ?, ?"
                " FROM roles r JOIN official_settings s ON s.person_id = r.person_id AND s.morning = 1"
                " JOIN communes c ON c.code = r.commune_code"
                f" JOIN (SELECT d.commune_code, sum({due} < ?) AS overdue, sum({due} >= ? AND {due} < ?) AS soon"
                f" FROM dossiers d WHERE d.done_at IS NULL AND d.status IN ({OPEN}) AND {due} < ?"
                " GROUP BY d.commune_code) o ON o.commune_code = r.commune_code"
                " WHERE r.role = 'official' AND o.overdue > 0",
                (day, now, expires, due_before, due_before, soon_before, soon_before),
            )
            return max(int(cursor.rowcount), 0)

    async def erase_phones(self, before: str, kept_from: str) -> int:
        """Erase the phones of the dossiers that ended (result returned; not received, withdrawn, stopped) before
        `before`, or were received before `kept_from`; how many."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(_ERASE, {"erase_before": before, "kept_from": kept_from})
            return max(int(cursor.rowcount), 0)

    async def phone(self, dossier_id: int) -> str | None:
        """The applicant's phone, for a ZNS message (None once erased)."""
        row = await self.db.fetchone("SELECT phone FROM dossiers WHERE id = ?", (dossier_id,))
        return str(row[0]) if row and row[0] else None

    async def enqueue_overdue_notices(self, now: str, due_before: str, since: str) -> int:
        """One ZNS 'overdue' message (once ever) to the applicant of each open dossier (1, 2, 4, 11) whose
        appointment date is before `due_before` and not before `since` (older news is not sent), with a phone and
        no follower on a chat channel."""
        due = DUE.format(r="d.")
        notice = (
            f" FROM dossiers d WHERE d.phone IS NOT NULL AND d.status IN ({OPEN}) AND d.done_at IS NULL"
            f" AND {due} < :due_before AND {due} >= :since AND NOT EXISTS (SELECT 1 FROM follows f"
            " JOIN people p ON p.id = f.person_id WHERE f.dossier_id = d.id AND p.channel != 'zns'"
            " AND p.unreachable_at IS NULL)"
            " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.dedupe_key = 'zns-overdue:' || d.id)"
        )
        params = {"now": now, "due_before": due_before, "since": since}
        async with self.db.transaction() as conn:
            await conn.execute(_ZNS_PEOPLE + notice, params)
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO outbox (person_id, kind, dedupe_key, payload, created_at)"
                " SELECT (SELECT id FROM people WHERE channel = 'zns' AND external_id = CAST(d.id AS TEXT)), 'zns',"
                f" 'zns-overdue:' || d.id, {_OVERDUE_PAYLOAD}, :now" + notice,
                params,
            )
            return max(int(cursor.rowcount), 0)

    async def enqueue_overdue(self, now: str, due_before: str) -> int:
        """One outbox row per follower of each open dossier (1, 2, 4, 11) due before `due_before` (once ever):
        one waiting on its applicant, withdrawn or not received is never overdue."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO outbox (person_id, kind, dedupe_key, payload, created_at)"
                " SELECT f.person_id, 'dossier_overdue', 'overdue:' || d.id || ':' || f.person_id,"
                f" json_object('dossier_id', d.id, 'code', d.code, 'due_at', {DUE.format(r='d.')},"
                " 'procedure', d.procedure_name, 'commune', (SELECT name FROM communes WHERE code = d.commune_code)),"
                " ?"
                " FROM follows f JOIN dossiers d ON d.id = f.dossier_id"
                f" WHERE {DUE.format(r='d.')} < ? AND d.status IN ({OPEN})",
                (now, due_before),
            )
            return int(cursor.rowcount)
