"""SQL for facility reports, their photos and events; the messages they cause are queued in the same transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from storage.db import Store

OPEN_STATES = ("new", "received", "in_progress")


@dataclass(frozen=True)
class StoredReport:
    """A report as stored (times as stored)."""

    id: int
    commune_code: str
    category: str
    severity: str
    description: str
    lat: float | None
    lon: float | None
    state: str
    reported_by: int
    created_at: str
    updated_at: str
    target_at: str
    closed_at: str | None
    photos: int


@dataclass(frozen=True)
class NewReport:
    """What a report is created with."""

    commune_code: str
    category: str
    severity: str
    description: str
    lat: float | None
    lon: float | None
    photos: tuple[str, ...]


@dataclass(frozen=True)
class ExportedReport:
    """A report with what an export adds: its last note from the province or a reopening, every note (time as
    stored, event kind: `moved` the province's, `reopened` or `added` the commune's; oldest first) and its photos
    (position, stored reference)."""

    report: StoredReport
    last_note: str | None
    photos: tuple[tuple[int, str], ...]
    notes: tuple[tuple[str, str, str], ...] = ()


_SELECT = "SELECT r.*, (SELECT count(*) FROM report_photos p WHERE p.report_id = r.id) AS photos FROM reports r"


def _report(row: sqlite3.Row) -> StoredReport:
    return StoredReport(
        row["id"],
        row["commune_code"],
        row["category"],
        row["severity"],
        row["description"],
        row["lat"],
        row["lon"],
        row["state"],
        row["reported_by"],
        row["created_at"],
        row["updated_at"],
        row["target_at"],
        row["closed_at"],
        row["photos"],
    )


async def _add_photos(conn: aiosqlite.Connection, report_id: int, photos: Sequence[str], now: str) -> None:
    rows = list(await conn.execute_fetchall("SELECT count(*) FROM report_photos WHERE report_id = ?", (report_id,)))
    first = int(rows[0][0])
    await conn.executemany(
        "INSERT INTO report_photos (report_id, position, file_ref, added_at) VALUES (?, ?, ?, ?)",
        [(report_id, first + i, ref, now) for i, ref in enumerate(photos)],
    )


async def _event(
    conn: aiosqlite.Connection, report_id: int, now: str, person_id: int | None, kind: str, state: str, note: str | None
) -> int:
    rows = await conn.execute_fetchall(
        "INSERT INTO report_events (report_id, at, person_id, kind, state, note) VALUES (?, ?, ?, ?, ?, ?)"
        " RETURNING id",
        (report_id, now, person_id, kind, state, note),
    )
    return int(next(iter(rows))[0])


SEVERITY_RANK = "CASE {0} WHEN 'blocking' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END"


async def _alert_leaders(conn: aiosqlite.Connection, report_id: int, description: str, now: str) -> None:
    """One urgent message to every leader: the report stops service (once per report and leader)."""
    await conn.execute(
        "INSERT OR IGNORE INTO outbox (person_id, kind, dedupe_key, payload, urgent, created_at)"
        " SELECT o.person_id, 'report_blocking', 'blocking:' || r.id || ':' || o.person_id,"
        " json_object('report_id', r.id, 'commune', (SELECT name FROM communes WHERE code = r.commune_code),"
        " 'category', r.category, 'description', ?), 1, ?"
        " FROM reports r JOIN roles o ON o.role = 'leader' WHERE r.id = ?",
        (description[:300], now, report_id),
    )


class ReportsRepo:
    """Reads and writes reports."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def create(self, new: NewReport, person_id: int, now: str, target_at: str) -> int:
        """Store a report with its photos and its first event, and end the filer's draft in the same transaction
        (a «Gửi» pressed again after a crash finds no draft, never files twice); a report that stops service queues
        one urgent message to every leader. Its id."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM report_drafts WHERE person_id = ?", (person_id,))
            inserted = await conn.execute_fetchall(
                "INSERT INTO reports (commune_code, category, severity, description, lat, lon, reported_by,"
                " created_at, updated_at, target_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    new.commune_code,
                    new.category,
                    new.severity,
                    new.description,
                    new.lat,
                    new.lon,
                    person_id,
                    now,
                    now,
                    target_at,
                ),
            )
            report_id = int(next(iter(inserted))[0])
            await _add_photos(conn, report_id, new.photos, now)
            await _event(conn, report_id, now, person_id, "created", "new", None)
            if new.severity == "blocking":
                await _alert_leaders(conn, report_id, new.description, now)
            return report_id

    async def get(self, report_id: int) -> StoredReport | None:
        """A report by id."""
        row = await self.db.fetchone(f"{_SELECT} WHERE r.id = ?", (report_id,))
        return _report(row) if row else None

    async def open_in(self, commune_code: str, category: str) -> StoredReport | None:
        """The oldest open report of a commune in a category, if any."""
        row = await self.db.fetchone(
            f"{_SELECT} WHERE r.commune_code = ? AND r.category = ? AND r.state IN {OPEN_STATES} ORDER BY r.id",
            (commune_code, category),
        )
        return _report(row) if row else None

    async def add(self, report_id: int, person_id: int, addition: NewReport, now: str) -> None:
        """Add a second report of the same problem to an open one: its description (as a note) and photos; the
        report takes the graver severity and the location if it had none. Becoming "stops service" alerts
        every leader, as a new report would. The adder's draft ends in the same transaction, as with `create`."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM report_drafts WHERE person_id = ?", (person_id,))
            rows = list(await conn.execute_fetchall("SELECT state, severity FROM reports WHERE id = ?", (report_id,)))
            state, severity = rows[0]
            await _add_photos(conn, report_id, addition.photos, now)
            await _event(conn, report_id, now, person_id, "added", state, addition.description)
            await conn.execute(
                f"UPDATE reports SET updated_at = ?, severity = CASE WHEN {SEVERITY_RANK.format('?')}"
                f" > {SEVERITY_RANK.format('severity')} THEN ? ELSE severity END,"
                " lat = coalesce(lat, ?), lon = CASE WHEN lat IS NULL THEN ? ELSE lon END WHERE id = ?",
                (now, addition.severity, addition.severity, addition.lat, addition.lon, report_id),
            )
            if addition.severity == "blocking" and severity != "blocking":
                await _alert_leaders(conn, report_id, addition.description, now)

    async def move(
        self, report_id: int, person_id: int | None, state: str, note: str | None, now: str, *, reopen_target: str = ""
    ) -> None:
        """Put a report in `state` with a note; tell the commune's officials (one message each). With
        `reopen_target`, the commune reopens it: its clock restarts and nobody is messaged."""
        closed = None if state in OPEN_STATES else now
        async with self.db.transaction() as conn:
            if reopen_target:
                await conn.execute(
                    "UPDATE reports SET state = ?, closed_at = NULL, target_at = ?, updated_at = ? WHERE id = ?",
                    (state, reopen_target, now, report_id),
                )
                await _event(conn, report_id, now, person_id, "reopened", state, note)
                return
            before = list(await conn.execute_fetchall("SELECT state FROM reports WHERE id = ?", (report_id,)))
            moved = "true" if before and before[0][0] != state else "false"
            await conn.execute(  # a note on an unchanged state keeps the time it was closed
                "UPDATE reports SET closed_at = CASE WHEN state = ? THEN closed_at ELSE ? END, state = ?,"
                " updated_at = ? WHERE id = ?",
                (state, closed, state, now, report_id),
            )
            event_id = await _event(conn, report_id, now, person_id, "moved", state, note)
            await conn.execute(
                "INSERT INTO outbox (person_id, kind, dedupe_key, payload, created_at)"
                " SELECT o.person_id, 'report_moved', 'moved:' || ? || ':' || o.person_id,"
                " json_object('report_id', r.id, 'state', ?, 'note', CAST(? AS TEXT), 'moved', json(?)), ?"
                " FROM reports r JOIN roles o ON o.role = 'official' AND o.commune_code = r.commune_code"
                " WHERE r.id = ?",
                (event_id, state, note, moved, now, report_id),
            )

    async def add_photos(self, report_id: int, photos: Sequence[str], now: str) -> None:
        """Attach photos (a reopening's)."""
        async with self.db.transaction() as conn:
            await _add_photos(conn, report_id, photos, now)

    async def of_commune(self, commune_code: str, limit: int = 20) -> list[StoredReport]:
        """A commune's reports, open ones first, newest first."""
        rows = await self.db.fetchall(
            f"{_SELECT} WHERE r.commune_code = ? ORDER BY r.state NOT IN {OPEN_STATES}, r.id DESC LIMIT ?",
            (commune_code, limit),
        )
        return [_report(row) for row in rows]

    async def created_between(self, start: str, end: str, commune_code: str | None = None) -> list[StoredReport]:
        """Reports filed in [start, end) (of one commune), oldest first."""
        rows = await self.db.fetchall(
            f"{_SELECT} WHERE r.created_at >= ? AND r.created_at < ?"
            " AND (CAST(? AS TEXT) IS NULL OR r.commune_code = ?) ORDER BY r.id",
            (start, end, commune_code, commune_code),
        )
        return [_report(row) for row in rows]

    async def count_of_commune(self, commune_code: str) -> int:
        """How many reports a commune has filed."""
        row = await self.db.fetchone("SELECT count(*) FROM reports WHERE commune_code = ?", (commune_code,))
        return int(row[0]) if row else 0

    async def open_reports(
        self, *, commune_code: str | None = None, categories: Sequence[str] = (), past: str | None = None
    ) -> list[StoredReport]:
        """Open reports, oldest first: of one commune, of some categories, or past their target at `past`."""
        where, params = [f"r.state IN {OPEN_STATES}"], list[object]()
        if commune_code is not None:
            where.append("r.commune_code = ?")
            params.append(commune_code)
        if categories:
            where.append(f"r.category IN ({', '.join('?' * len(categories))})")
            params.extend(categories)
        if past is not None:
            where.append("r.target_at < ?")
            params.append(past)
        rows = await self.db.fetchall(f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY r.id", params)
        return [_report(row) for row in rows]

    async def photos(self, report_id: int) -> list[str]:
        """The stored references of a report's photos, in the order they came."""
        rows = await self.db.fetchall(
            "SELECT file_ref FROM report_photos WHERE report_id = ? ORDER BY position", (report_id,)
        )
        return [str(row[0]) for row in rows]

    async def photo(self, report_id: int, position: int) -> str | None:
        """The stored reference (a Telegram file id, or a URL) of one of a report's photos."""
        row = await self.db.fetchone(
            "SELECT file_ref FROM report_photos WHERE report_id = ? AND position = ?", (report_id, position)
        )
        return str(row[0]) if row else None

    async def export(self, *, open_only: bool = False) -> list[ExportedReport]:
        """Every report (or the open ones), oldest first, with its last note and its photos."""
        where = f"WHERE r.state IN {OPEN_STATES}" if open_only else ""
        reports = [_report(row) for row in await self.db.fetchall(f"{_SELECT} {where} ORDER BY r.id")]
        notes = {
            int(row[0]): str(row[1])
            for row in await self.db.fetchall(
                "SELECT report_id, note FROM report_events WHERE id IN"
                " (SELECT max(id) FROM report_events WHERE note IS NOT NULL AND kind IN ('moved', 'reopened')"
                " GROUP BY report_id)"
            )
        }
        photos: dict[int, list[tuple[int, str]]] = {}
        query = "SELECT report_id, position, file_ref FROM report_photos ORDER BY report_id, position"
        for row in await self.db.fetchall(query):
            photos.setdefault(int(row[0]), []).append((int(row[1]), str(row[2])))
        every: dict[int, list[tuple[str, str, str]]] = {}
        query = "SELECT report_id, at, kind, note FROM report_events WHERE note IS NOT NULL ORDER BY report_id, id"
        for row in await self.db.fetchall(query):
            every.setdefault(int(row[0]), []).append((str(row[1]), str(row[2]), str(row[3])))
        return [
            ExportedReport(r, notes.get(r.id), tuple(photos.get(r.id, ())), tuple(every.get(r.id, ()))) for r in reports
        ]

    async def events(self, report_id: int) -> list[sqlite3.Row]:
        """A report's events, oldest first."""
        return await self.db.fetchall("SELECT * FROM report_events WHERE report_id = ? ORDER BY id", (report_id,))


class DraftsRepo:
    """Reports being written: one per person, as JSON."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def save(self, person_id: int, step: str, data: str, now: str) -> None:
        """Write a person's draft (replacing the one they had)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO report_drafts (person_id, step, data, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (person_id) DO UPDATE SET step = excluded.step, data = excluded.data,"
                " updated_at = excluded.updated_at",
                (person_id, step, data, now),
            )

    async def load(self, channel: str, external_id: str) -> tuple[str, str] | None:
        """A person's draft: (step, data)."""
        row = await self.db.fetchone(
            "SELECT d.step, d.data FROM report_drafts d JOIN people p ON p.id = d.person_id"
            " WHERE p.channel = ? AND p.external_id = ?",
            (channel, external_id),
        )
        return (row["step"], row["data"]) if row else None

    async def delete(self, channel: str, external_id: str) -> bool:
        """Drop a person's draft; whether there was one."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM report_drafts WHERE person_id IN"
                " (SELECT id FROM people WHERE channel = ? AND external_id = ?)",
                (channel, external_id),
            )
            return int(cursor.rowcount) > 0

    async def writers(self) -> list[tuple[str, str]]:
        """(channel, external id) of everyone with a draft."""
        rows = await self.db.fetchall(
            "SELECT p.channel, p.external_id FROM report_drafts d JOIN people p ON p.id = d.person_id"
        )
        return [(row[0], row[1]) for row in rows]
