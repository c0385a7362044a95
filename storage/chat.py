"""SQL for conversation state (`chat_state`): the numbered menu each person last saw, and what their next
message answers."""

from __future__ import annotations

import json

from storage.db import Store

Option = tuple[str, str, str]  # (action, value, label as compared): what typing the option's number does


def _option(item: list[str]) -> Option:
    """A stored option (menus saved before labels were kept have none)."""
    return (str(item[0]), str(item[1]), str(item[2]) if len(item) > 2 else "")


class ChatRepo:
    """Reads and writes menus and what a person's next message answers."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def menu(self, channel: str, external_id: str) -> list[Option]:
        """The options of the menu last shown to the person, in order (empty if none)."""
        row = await self.db.fetchone(
            "SELECT s.options FROM chat_state s JOIN people p ON p.id = s.person_id"
            " WHERE p.channel = ? AND p.external_id = ?",
            (channel, external_id),
        )
        return [_option(item) for item in json.loads(row[0])] if row else []

    async def save_menu(self, person_id: int, options: list[Option], now: str) -> None:
        """Remember the menu just shown (replacing the one before)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO chat_state (person_id, options, shown_at) VALUES (?, ?, ?)"
                " ON CONFLICT (person_id) DO UPDATE SET options = excluded.options, shown_at = excluded.shown_at",
                (person_id, json.dumps(options, ensure_ascii=False), now),
            )

    async def awaiting(self, channel: str, external_id: str) -> tuple[str, str]:
        """What the person's next message answers ('' for nothing in particular) and since when."""
        row = await self.db.fetchone(
            "SELECT s.awaiting, s.awaiting_at FROM chat_state s JOIN people p ON p.id = s.person_id"
            " WHERE p.channel = ? AND p.external_id = ?",
            (channel, external_id),
        )
        return (str(row[0]), str(row[1])) if row else ("", "")

    async def set_awaiting(self, person_id: int, awaiting: str, now: str) -> None:
        """Remember what the person's next message answers ('' to forget it)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO chat_state (person_id, options, shown_at, awaiting, awaiting_at) VALUES (?, '[]', ?, ?, ?)"
                " ON CONFLICT (person_id) DO UPDATE SET awaiting = excluded.awaiting,"
                " awaiting_at = excluded.awaiting_at",
                (person_id, now, awaiting, now),
            )
