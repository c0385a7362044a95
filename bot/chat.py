"""Conversation state that outlives a process and is shared by every process: what a person's numbers mean (the
numbered menu they saw last, on channels without buttons) and what their next message answers, for a while."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.people import Person
from storage.chat import ChatRepo, Option
from storage.people import PeopleRepo

AWAIT_FOR = timedelta(minutes=15)  # after that, a message answers nothing asked before: it is read afresh


class ChatState:
    """Menus and awaited answers, per person, read from the database on each message."""

    def __init__(self, repo: ChatRepo, people: PeopleRepo) -> None:
        self.repo = repo
        self.people = people

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

    async def awaiting(self, person: Person, now: datetime) -> str:
        """What the person's next message answers ('' for nothing in particular, or once AWAIT_FOR has passed)."""
        what, since = await self.repo.awaiting(person.channel, person.external_id)
        if not what or not since or now - datetime.fromisoformat(since) > AWAIT_FOR:
            return ""
        return what

    async def take(self, person: Person, now: datetime) -> str:
        """What the person's next message answered (as `awaiting`), forgotten now: a choice answers it once."""
        what, since = await self.repo.awaiting(person.channel, person.external_id)
        if not what:
            return ""
        person_id = await self.people.ensure(person.channel, person.external_id, now.isoformat())
        await self.repo.set_awaiting(person_id, "", now.isoformat())
        return what if since and now - datetime.fromisoformat(since) <= AWAIT_FOR else ""

    async def expect(self, person: Person, what: str, now: datetime) -> None:
        """The person's next message answers `what` ('' forgets it)."""
        if not what and not (await self.repo.awaiting(person.channel, person.external_id))[0]:
            return  # nothing to forget: no write
        person_id = await self.people.ensure(person.channel, person.external_id, now.isoformat())
        await self.repo.set_awaiting(person_id, what, now.isoformat())
