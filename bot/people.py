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
    """Languages per person, remembered in the database and held in memory.

    Every update needs the sender's language, so no update should wait for the database to learn it. Only
    the people who chose a language other than the default are kept (`load` reads them at start); everyone
    else reads Vietnamese. A person's language is only written through `set_language`, which updates both.
    """

    def __init__(self, repo: PeopleRepo) -> None:
        self.repo = repo
        self._chosen: dict[Person, str] = {}

    async def load(self) -> None:
        """Read every non-default language choice (call once at start)."""
        rows = await self.repo.languages_other_than(DEFAULT_LANGUAGE)
        self._chosen = {Person(channel, external_id): language for channel, external_id, language in rows}

    def language(self, person: Person) -> str:
        """The person's chosen language; Vietnamese until they choose another."""
        return self._chosen.get(person, DEFAULT_LANGUAGE)

    async def set_language(self, person: Person, language: str, now: datetime) -> str:
        """Remember `language` for this person; returns the language stored."""
        if language not in LANGUAGES:
            raise ValueError(f"unsupported language {language!r}")
        await self.repo.set_language(person.channel, person.external_id, language, now.isoformat())
        if language == DEFAULT_LANGUAGE:
            self._chosen.pop(person, None)
        else:
            self._chosen[person] = language
        return language

    async def toggle_language(self, person: Person, now: datetime) -> str:
        """Switch vi ↔ en for this person and remember it."""
        return await self.set_language(person, "en" if self.language(person) == "vi" else "vi", now)

    async def reachable_again(self, person: Person) -> None:
        """The person wrote to the bot: they no longer block it (what waited for them goes out)."""
        await self.repo.reachable_again(person.channel, person.external_id)

    async def set_menu_role(self, person: Person, role: str | None, now: datetime) -> None:
        """Remember which role's command menu the person's chat holds (None: the public one)."""
        await self.repo.set_menu_role(person.channel, person.external_id, role, now.isoformat())

    async def with_menu(self, channel: str) -> list[Person]:
        """The people of a channel whose chat holds a role's command menu."""
        return [Person(channel, external_id) for external_id, _ in await self.repo.with_menu(channel)]
