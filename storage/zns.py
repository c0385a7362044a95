"""SQL for the Zalo Notification Service's tokens: the Official Account's access token and the refresh token that
Zalo replaces at every use, in one row, so that every process and every restart uses the current one."""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Store


@dataclass(frozen=True)
class ZnsTokens:
    """The stored tokens (times as stored)."""

    seed_hash: str
    refresh_token: str
    access_token: str | None
    expires_at: str | None


class ZnsTokensRepo:
    """One row: seeded from the settings, rotated with compare-and-set on the refresh token it replaces."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def get(self) -> ZnsTokens | None:
        """The stored tokens, or None before the first seed."""
        row = await self.db.fetchone("SELECT seed_hash, refresh_token, access_token, expires_at FROM zns_tokens")
        return ZnsTokens(row[0], row[1], row[2], row[3]) if row else None

    async def seed(self, seed_hash: str, refresh_token: str, now: str) -> bool:
        """Start the chain from the configured refresh token, unless it is the one the stored chain started from;
        True if it (re)started."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO zns_tokens (id, seed_hash, refresh_token, updated_at) VALUES (1, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET seed_hash = excluded.seed_hash,"
                " refresh_token = excluded.refresh_token, access_token = NULL, expires_at = NULL,"
                " updated_at = excluded.updated_at WHERE zns_tokens.seed_hash != excluded.seed_hash",
                (seed_hash, refresh_token, now),
            )
            return int(cursor.rowcount) > 0

    async def rotate(self, used: str, refresh_token: str, access_token: str, expires_at: str, now: str) -> bool:
        """Store the tokens a refresh with `used` gave; False if another process rotated it first."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE zns_tokens SET refresh_token = ?, access_token = ?, expires_at = ?, updated_at = ?"
                " WHERE id = 1 AND refresh_token = ?",
                (refresh_token, access_token, expires_at, now, used),
            )
            return int(cursor.rowcount) > 0

    async def claim_refresh(self, now: str, until: str) -> bool:
        """Take the lease to refresh until `until`; False while another process holds it."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE zns_tokens SET refreshing_until = ? WHERE id = 1"
                " AND (refreshing_until IS NULL OR refreshing_until <= ?)",
                (until, now),
            )
            return int(cursor.rowcount) > 0

    async def release_refresh(self) -> None:
        """Give the lease back."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE zns_tokens SET refreshing_until = NULL WHERE id = 1")

    async def forget_access(self, access_token: str, now: str) -> None:
        """Zalo refused this access token: the next send refreshes (unless another process already did)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE zns_tokens SET access_token = NULL, expires_at = NULL, updated_at = ?"
                " WHERE id = 1 AND access_token = ?",
                (now, access_token),
            )
