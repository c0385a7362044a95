"""People and their language: who someone is on a channel, and which language they read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES
from storage.people import PeopleRepo


@dataclass(frozen=True)
class Person:
    """A person as `(channel, external id)`: Telegram ids are integers, Zalo ids strings, all kept as text."""

    channel: str
    external_id: str


class PeopleService:
    """Languages per person (remembered in the database)."""

    def __init__(self, repo: PeopleRepo) -> None:
        self.repo = repo

    async def language(self, person: Person) -> str:
        """The person's chosen language; Vietnamese until they choose another."""
        return await self.repo.language(person.channel, person.external_id) or DEFAULT_LANGUAGE

    async def set_language(self, person: Person, language: str, now: datetime) -> str:
        """Remember `language` for this person; returns the language stored."""
        if language not in LANGUAGES:
            raise ValueError(f"unsupported language {language!r}")
        await self.repo.set_language(person.channel, person.external_id, language, now.isoformat())
        return language

    async def toggle_language(self, person: Person, now: datetime) -> str:
        """Switch vi ↔ en for this person and remember it."""
        current = await self.language(person)
        return await self.set_language(person, "en" if current == "vi" else "vi", now)
