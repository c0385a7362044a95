"""SQL for the procedure catalogue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass

from storage.db import Store


@dataclass(frozen=True)
class StoredProcedure:
    """One procedure of the catalogue (texts as published; None where the list says nothing)."""

    code: str
    name: str
    field: str | None = None
    papers: str | None = None
    time_limit: str | None = None
    fee: str | None = None
    agency: str | None = None
    url: str | None = None
    sample: bool = False


_COLUMNS = "code, name, field, papers, time_limit, fee, agency, url, sample"


class ProceduresRepo:
    """Reads and writes the catalogue."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def all(self) -> list[StoredProcedure]:
        """Every procedure, by code."""
        rows = await self.db.fetchall(f"SELECT {_COLUMNS} FROM procedures ORDER BY code")
        return [
            StoredProcedure(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], bool(row[8]))
            for row in rows
        ]

    async def version(self) -> tuple[int, str]:
        """What changes whenever the catalogue does: its size and its last change."""
        row = await self.db.fetchone("SELECT count(*), coalesce(max(updated_at), '') FROM procedures")
        return (int(row[0]), str(row[1])) if row else (0, "")

    async def save(self, procedures: Sequence[StoredProcedure], now: str) -> tuple[int, int, int]:
        """Insert new procedures, update changed ones, leave equal ones alone (a real catalogue replaces the
        sample one); (inserted, updated, unchanged)."""
        stored = {p.code: p for p in await self.all()}
        new = [p for p in procedures if p.code not in stored]
        changed = [p for p in procedures if p.code in stored and stored[p.code] != p]
        async with self.db.transaction() as conn:
            if not all(p.sample for p in procedures):
                await conn.execute("DELETE FROM procedures WHERE sample = 1")
            await conn.executemany(
                f"INSERT INTO procedures ({_COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (code) DO UPDATE SET name = excluded.name, field = excluded.field,"
                " papers = excluded.papers, time_limit = excluded.time_limit, fee = excluded.fee,"
                " agency = excluded.agency, url = excluded.url, sample = excluded.sample,"
                " updated_at = excluded.updated_at",
                [(*astuple(p)[:8], int(p.sample), now) for p in (*new, *changed)],
            )
        return len(new), len(changed), len(procedures) - len(new) - len(changed)
