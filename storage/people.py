"""SQL for people: one row per (channel, external id), holding the language they chose."""

from __future__ import annotations

from storage.db import Store


class PeopleRepo:
    """Reads and writes people's preferences."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def languages_other_than(self, language: str) -> list[tuple[str, str, str]]:
        """(channel, external id, language) of everyone whose language is not `language`."""
        rows = await self.db.fetchall(
            "SELECT channel, external_id, language FROM people WHERE language != ?", (language,)
        )
        return [(row["channel"], row["external_id"], row["language"]) for row in rows]

    async def id_of(self, channel: str, external_id: str) -> int | None:
        """The person's id, if they are known."""
        row = await self.db.fetchone(
            "SELECT id FROM people WHERE channel = ? AND external_id = ?", (channel, external_id)
        )
        return int(row["id"]) if row else None

    async def ensure(self, channel: str, external_id: str, now: str) -> int:
        """The person's id, creating the person (with the default language) if needed."""
        known = await self.id_of(channel, external_id)
        if known is not None:
            return known
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT OR IGNORE INTO people (channel, external_id, created_at, updated_at) VALUES (?, ?, ?, ?)",
                (channel, external_id, now, now),
            )
            rows = await conn.execute_fetchall(
                "SELECT id FROM people WHERE channel = ? AND external_id = ?", (channel, external_id)
            )
            return int(next(iter(rows))[0])

    async def set_language(self, channel: str, external_id: str, language: str, now: str) -> None:
        """Remember this person's language (creating the person if needed)."""
        await self._set(channel, external_id, "language", language, now)

    async def set_menu_role(self, channel: str, external_id: str, role: str | None, now: str) -> None:
        """Remember which role's command menu the person's chat holds (None: the public one)."""
        await self._set(channel, external_id, "menu_role", role, now)

    async def _set(self, channel: str, external_id: str, column: str, value: str | None, now: str) -> None:
        """Set one of a person's own columns (`column` is ours, never input), creating the person if needed."""
        assert column in ("language", "menu_role")
        async with self.db.transaction() as conn:
            await conn.execute(
                f"INSERT INTO people (channel, external_id, {column}, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, external_id)"
                f" DO UPDATE SET {column} = excluded.{column}, updated_at = excluded.updated_at",
                (channel, external_id, value, now, now),
            )

    async def with_menu(self, channel: str) -> list[tuple[str, str]]:
        """The people of a channel whose chat holds a role's command menu: (external id, role)."""
        rows = await self.db.fetchall(
            "SELECT external_id, menu_role FROM people WHERE channel = ? AND menu_role IS NOT NULL", (channel,)
        )
        return [(str(row[0]), str(row[1])) for row in rows]

    async def reachable_again(self, channel: str, external_id: str) -> None:
        """The person wrote to the bot: they no longer block it (a read, and a write only for someone marked)."""
        marked = await self.db.point_read(
            "SELECT 1 FROM people WHERE channel = ? AND external_id = ? AND unreachable_at IS NOT NULL",
            (channel, external_id),
        )
        if marked is None:
            return
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE people SET unreachable_at = NULL WHERE channel = ? AND external_id = ?"
                " AND unreachable_at IS NOT NULL",
                (channel, external_id),
            )
