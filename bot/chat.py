"""Conversation state that outlives a process: what a person's numbers mean (the numbered menu they saw last, on
channels without buttons) and what their next message answers. Who awaits something is held in memory, so that
no other message waits for the database."""

from __future__ import annotations

from datetime import datetime

from bot.people import Person
from storage.chat import ChatRepo, Option
from storage.people import PeopleRepo


class ChatState:
    """Menus and awaited answers, per person."""

    def __init__(self, repo: ChatRepo, people: PeopleRepo) -> None:
        self.repo = repo
        self.people = people
        self._awaiting: set[Person] = set()

    async def load(self) -> None:
        """Learn who awaits an answer (call once at start)."""
        self._awaiting = {Person(channel, external_id) for channel, external_id in await self.repo.awaiting_people()}

    async def remember(self, person: Person, options: list[Option], now: datetime) -> None:
        """The menu just shown to the person (replacing the one before; an empty one forgets it)."""
        person_id = await self.people.ensure(person.channel, person.external_id, now.isoformat())
        await self.repo.save_menu(person_id, options, now.isoformat())

    async def option(self, person: Person, number: int) -> tuple[str, str] | None:
        """What the person's number chooses in the menu they saw (action, value), or None if it is not in it."""
        options = await self.repo.menu(person.channel, person.external_id)
        return options[number - 1][:2] if 1 <= number <= len(options) else None

    async def labelled(self, person: Person, key: str) -> tuple[str, str] | None:
        """The option of the menu the person saw whose label they typed (compared by `key`), if exactly one."""
        found = [option[:2] for option in await self.repo.menu(person.channel, person.external_id) if option[2] == key]
        return found[0] if len(found) == 1 else None

    async def awaiting(self, person: Person) -> str:
        """What the person's next message answers ('' for nothing in particular)."""
        if person not in self._awaiting:
            return ""
        return await self.repo.awaiting(person.channel, person.external_id)

    async def expect(self, person: Person, what: str, now: datetime) -> None:
        """The person's next message answers `what` ('' forgets it)."""
        if not what and person not in self._awaiting:
            return
        person_id = await self.people.ensure(person.channel, person.external_id, now.isoformat())
        await self.repo.set_awaiting(person_id, what, now.isoformat())
        if what:
            self._awaiting.add(person)
        else:
            self._awaiting.discard(person)
