"""SQL for the channels without buttons: the numbered menu each person was last shown (`text_menus`)."""

from __future__ import annotations

import json

from storage.db import Database

Option = tuple[str, str]  # (action, value): what typing the option's number does


class ZaloRepo:
    """Reads and writes the numbered menus."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def menu(self, channel: str, external_id: str) -> list[Option]:
        """The options of the menu last shown to the person, in order (empty if none)."""
        row = await self.db.fetchone(
            "SELECT m.options FROM text_menus m JOIN people p ON p.id = m.person_id"
            " WHERE p.channel = ? AND p.external_id = ?",
            (channel, external_id),
        )
        return [(str(action), str(value)) for action, value in json.loads(row[0])] if row else []

    async def save_menu(self, person_id: int, options: list[Option], now: str) -> None:
        """Remember the menu just shown (replacing the one before)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO text_menus (person_id, options, shown_at) VALUES (?, ?, ?)"
                " ON CONFLICT (person_id) DO UPDATE SET options = excluded.options, shown_at = excluded.shown_at",
                (person_id, json.dumps(options, ensure_ascii=False), now),
            )
