"""SQL for the leaders' digest: dossier figures per commune over a time window, facility reports, desk staff, the
digest settings of each leader, and the record of digests queued (one per person, kind and day).

Every figure is read through an index over its own window (received: `dossiers_commune_received` per commune;
finished: `dossiers_done`; overdue: `dossiers_open_due`), so a digest costs what its windows hold, not what the
whole history holds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from storage.db import Store
from storage.dossiers import DUE, OPEN, WAITING


@dataclass(frozen=True)
class Finished:
    """Dossiers of one commune that reached a terminal status in a window: how many, how many had an appointment
    date, and how many of those were on time (terminal on or before the appointment day, in the province)."""

    count: int = 0
    with_due: int = 0
    on_time: int = 0


@dataclass(frozen=True)
class LeaderSetting:
    """A leader (or admin) who may get the digest, with their own time (`HH:MM`, None: the province's) and pause."""

    person_id: int
    channel: str
    external_id: str
    language: str
    at: str | None
    paused: bool
    unreachable: bool


class DigestRepo:
    """Reads the digest's figures; records digest settings and queued digests."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def last_queued(self) -> list[tuple[str, str]]:
        """(kind, when the last digest of that kind was queued)."""
        rows = await self.db.fetchall("SELECT kind, max(created_at) FROM digests GROUP BY kind")
        return [(str(row[0]), str(row[1])) for row in rows]

    async def received(self, communes: Sequence[str], start: str, end: str) -> dict[str, int]:
        """Dossiers received in [start, end), per commune (one index range per commune)."""
        rows = await self.db.fetchall(
            "SELECT c.value, (SELECT count(*) FROM dossiers d WHERE d.commune_code = c.value"
            " AND d.received_at >= ? AND d.received_at < ?) FROM json_each(?) c",
            (start, end, _json(communes)),
        )
        return {str(row[0]): int(row[1]) for row in rows if row[1]}

    async def finished(self, start: str, end: str, offset: str) -> dict[str, Finished]:
        """Dossiers that finished (8, 9, 10) in [start, end), per commune; `offset` (`+420 minutes`) turns
        a stored UTC time into the province's clock, to compare days."""
        rows = await self.db.fetchall(
            f"SELECT commune_code, count(*), count({DUE.format(r='')}),"
            f" sum({DUE.format(r='')} IS NOT NULL AND date(done_at, ?) <= date({DUE.format(r='')}, ?))"
            " FROM dossiers WHERE done_at >= ? AND done_at < ? GROUP BY commune_code",
            (offset, offset, start, end),
        )
        return {str(row[0]): Finished(int(row[1]), int(row[2]), int(row[3] or 0)) for row in rows}

    async def unfinished(self, due_before: str, communes: Sequence[str]) -> dict[str, tuple[int, int, int]]:
        """Per commune of `communes`, in one pass over their unfinished dossiers (`dossiers_open_commune`): (open
        now, of those overdue — due before `due_before`, today's first instant —, waiting on the applicant)."""
        due = DUE.format(r="")
        rows = await self.db.fetchall(
            f"SELECT commune_code, sum(status IN ({OPEN})), sum(status IN ({OPEN}) AND {due} < ?),"
            f" sum(status IN ({WAITING})) FROM dossiers WHERE done_at IS NULL"
            " AND commune_code IN (SELECT value FROM json_each(?)) GROUP BY commune_code",
            (due_before, _json(communes)),
        )
        return {str(row[0]): (int(row[1] or 0), int(row[2] or 0), int(row[3] or 0)) for row in rows}

    async def online(self, communes: Sequence[str], start: str, end: str) -> dict[str, int]:
        """Dossiers received online (`kenh_nop` 2) in [start, end), per commune."""
        rows = await self.db.fetchall(
            "SELECT c.value, (SELECT count(*) FROM dossiers d WHERE d.commune_code = c.value"
            " AND d.received_at >= ? AND d.received_at < ? AND d.channel = 2) FROM json_each(?) c",
            (start, end, _json(communes)),
        )
        return {str(row[0]): int(row[1]) for row in rows if row[1]}

    async def closed(self, start: str, end: str, communes: Sequence[str]) -> dict[tuple[str, int], int]:
        """Dossiers of `communes` withdrawn (7) or not received (3) in [start, end) and still so, per (commune,
        status)."""
        rows = await self.db.fetchall(
            "SELECT d.commune_code, d.status, count(*) FROM dossiers d WHERE d.status IN (3, 7)"
            " AND d.commune_code IN (SELECT value FROM json_each(?)) AND EXISTS"
            " (SELECT 1 FROM dossier_history h WHERE h.dossier_id = d.id AND h.status = d.status"
            " AND h.at >= ? AND h.at < ?) GROUP BY d.commune_code, d.status",
            (_json(communes), start, end),
        )
        return {(str(row[0]), int(row[1])): int(row[2]) for row in rows}

    async def ratings(self, start: str, end: str) -> dict[tuple[str, int], int]:
        """Ratings given in [start, end), per (commune, score)."""
        rows = await self.db.fetchall(
            "SELECT commune_code, score, count(*) FROM ratings WHERE rated_at >= ? AND rated_at < ?"
            " GROUP BY commune_code, score",
            (start, end),
        )
        return {(str(row[0]), int(row[1])): int(row[2]) for row in rows}

    async def overdue_procedures(self, due_before: str, communes: Sequence[str], limit: int) -> list[tuple[str, int]]:
        """The procedures with most overdue dossiers now (in `communes`, through `dossiers_open_commune`), most
        first."""
        rows = await self.db.fetchall(
            f"SELECT procedure_name, count(*) FROM dossiers WHERE done_at IS NULL AND {DUE.format(r='')} < ?"
            f" AND status IN ({OPEN}) AND commune_code IN (SELECT value FROM json_each(?))"
            " GROUP BY procedure_name ORDER BY count(*) DESC, procedure_name LIMIT ?",
            (due_before, _json(communes), limit),
        )
        return [(str(row[0]), int(row[1])) for row in rows]

    async def overdue_as_of(self, day_start: str) -> dict[str, int]:
        """What `overdue` said at `day_start` (a past day): received before it, due before it, and open now or
        finished since (a dossier waiting on its applicant, withdrawn or not received now is left out: the history
        of its status then is not read). It reads every dossier: for looking back from the command line, not for
        the morning's digest."""
        rows = await self.db.fetchall(
            f"SELECT commune_code, count(*) FROM dossiers WHERE received_at < ? AND {DUE.format(r='')} < ?"
            f" AND ((done_at IS NULL AND status IN ({OPEN})) OR done_at >= ?) GROUP BY commune_code",
            (day_start, day_start, day_start),
        )
        return {str(row[0]): int(row[1]) for row in rows}

    async def queued_texts(self, kind: str, day: str, language: str) -> list[str] | None:
        """The text parts of a digest as they were queued in `language` (None if none was)."""
        rows = await self.db.fetchall(
            "SELECT person_id, payload FROM outbox WHERE kind = 'digest_text' AND dedupe_key LIKE ?"
            " AND json_extract(payload, '$.language') = ? ORDER BY person_id, dedupe_key",
            (f"digest:{kind}:{day}:%", language),
        )
        if not rows:
            return None
        first = rows[0][0]
        return [json.loads(row[1])["text"] for row in rows if row[0] == first]

    async def desk_staff(self) -> dict[str, int]:
        """The one-stop desk staff each commune reported (communes that did not: absent)."""
        rows = await self.db.fetchall("SELECT commune_code, desk_staff FROM centres WHERE desk_staff IS NOT NULL")
        return {str(row[0]): int(row[1]) for row in rows}

    async def settings(self) -> list[LeaderSetting]:
        """Every leader with their digest settings (defaults where they changed nothing)."""
        rows = await self.db.fetchall(
            "SELECT p.id, p.channel, p.external_id, p.language, s.at, coalesce(s.paused, 0), p.unreachable_at"
            " FROM roles r JOIN people p ON p.id = r.person_id LEFT JOIN digest_settings s ON s.person_id = p.id"
            " WHERE r.role = 'leader' ORDER BY p.id"
        )
        return [
            LeaderSetting(int(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4], bool(r[5]), r[6] is not None) for r in rows
        ]

    async def setting(self, person_id: int) -> tuple[str | None, bool]:
        """One person's own digest time and pause."""
        row = await self.db.fetchone("SELECT at, paused FROM digest_settings WHERE person_id = ?", (person_id,))
        return (row[0], bool(row[1])) if row else (None, False)

    async def save_setting(self, person_id: int, at: str | None, paused: bool, now: str) -> None:
        """Set a person's own digest time (None: the province's) and pause."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO digest_settings (person_id, paused, at, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (person_id) DO UPDATE SET paused = excluded.paused, at = excluded.at,"
                " updated_at = excluded.updated_at",
                (person_id, int(paused), at, now),
            )

    async def queue(
        self,
        person_id: int,
        day: str,
        digests: Sequence[tuple[str, Sequence[tuple[str, str]]]],
        now: str,
        expires: str,
    ) -> int:
        """Record a person's digests of a day, each (kind, parts: outbox kind and payload JSON), and queue their
        parts as one ordered thread that `expires` (a digest is not sent after its day), in one transaction; a
        kind queued before is skipped. How many were queued."""
        queued = 0
        async with self.db.transaction() as conn:
            thread = f"digest:{day}:{person_id}"  # a person's digests of a day arrive in order, daily first
            for kind, parts in digests:
                cursor = await conn.execute(
                    "INSERT OR IGNORE INTO digests (person_id, kind, day, created_at) VALUES (?, ?, ?, ?)",
                    (person_id, kind, day, now),
                )
                if cursor.rowcount != 1:
                    continue
                key = f"digest:{kind}:{day}:{person_id}"
                await conn.executemany(
                    # urgent: ahead of the citizens' follow-ups held overnight, which also go out in the morning
                    "INSERT INTO outbox (person_id, kind, dedupe_key, payload, urgent, created_at, expires_at, thread)"
                    " VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                    [
                        (person_id, outbox_kind, f"{key}:{n:03d}", payload, now, expires, thread)
                        for n, (outbox_kind, payload) in enumerate(parts)
                    ],
                )
                queued += 1
        return queued

    async def save_chart(self, kind: str, day: str, language: str, png: bytes, now: str) -> None:
        """Keep a digest's chart (the first one made wins)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT OR IGNORE INTO digest_charts (kind, day, language, png, created_at) VALUES (?, ?, ?, ?, ?)",
                (kind, day, language, png, now),
            )

    async def chart(self, kind: str, day: str, language: str) -> bytes | None:
        """A kept chart."""
        row = await self.db.fetchone(
            "SELECT png FROM digest_charts WHERE kind = ? AND day = ? AND language = ?", (kind, day, language)
        )
        return bytes(row[0]) if row else None

    async def queued(self, person_id: int, kind: str, day: str) -> bool:
        """Whether that digest was queued already."""
        row = await self.db.fetchone(
            "SELECT 1 FROM digests WHERE person_id = ? AND kind = ? AND day = ?", (person_id, kind, day)
        )
        return row is not None


def _json(values: Sequence[str]) -> str:
    return json.dumps(list(values))
