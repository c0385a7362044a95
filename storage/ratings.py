"""SQL for satisfaction ratings."""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Store


@dataclass(frozen=True)
class StoredRating:
    """A rating as stored (without who gave it)."""

    dossier_id: int
    commune_code: str
    procedure_name: str
    score: int
    reasons: str
    comment: str
    rated_at: str
    changed_at: str


class RatingsRepo:
    """Reads and writes ratings."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def get(self, person_id: int, dossier_id: int) -> StoredRating | None:
        """The person's rating of a dossier."""
        row = await self.db.fetchone(
            "SELECT dossier_id, commune_code, procedure_name, score, reasons, comment, rated_at, changed_at"
            " FROM ratings WHERE person_id = ? AND dossier_id = ?",
            (person_id, dossier_id),
        )
        return StoredRating(*row) if row else None

    async def save(
        self, person_id: int, dossier_id: int, commune_code: str, procedure_name: str, score: int, now: str
    ) -> None:
        """Rate a dossier, or change the rating (a new score clears the reasons and the comment of the old one)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO ratings (person_id, dossier_id, commune_code, procedure_name, score, rated_at, changed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (person_id, dossier_id) DO UPDATE SET"
                " score = excluded.score, reasons = '', comment = '', changed_at = excluded.changed_at",
                (person_id, dossier_id, commune_code, procedure_name, score, now, now),
            )

    async def explain(
        self, person_id: int, dossier_id: int, reasons: str | None, comment: str | None, now: str
    ) -> bool:
        """Add what went wrong (`reasons`) or a comment to a rating; whether there was one."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE ratings SET reasons = COALESCE(?, reasons), comment = COALESCE(?, comment), changed_at = ?"
                " WHERE person_id = ? AND dossier_id = ?",
                (reasons, comment, now, person_id, dossier_id),
            )
            return int(cursor.rowcount) > 0

    async def export(self) -> list[StoredRating]:
        """Every rating, oldest first, without who gave it."""
        rows = await self.db.fetchall(
            "SELECT dossier_id, commune_code, procedure_name, score, reasons, comment, rated_at, changed_at"
            " FROM ratings ORDER BY rated_at, id"
        )
        return [StoredRating(*row) for row in rows]
