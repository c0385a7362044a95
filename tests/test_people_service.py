"""Languages: Vietnamese by default, a choice remembered in the database and read back at start."""

import pytest

from bot.people import PeopleService, Person
from storage.db import Database
from storage.people import PeopleRepo
from tests.conftest import NOW

AN = Person("telegram", "42")
ZALO = Person("zalo", "42")


async def test_language_defaults_to_vietnamese_and_choices_survive_a_restart(db: Database) -> None:
    people = PeopleService(PeopleRepo(db))
    await people.load()
    assert people.language(AN) == "vi"
    assert await people.toggle_language(AN, NOW) == "en"
    assert people.language(AN) == "en"
    assert people.language(ZALO) == "vi"  # same id on another channel is another person

    restarted = PeopleService(PeopleRepo(db))
    await restarted.load()
    assert restarted.language(AN) == "en"
    assert await restarted.set_language(AN, "vi", NOW) == "vi"

    again = PeopleService(PeopleRepo(db))
    await again.load()
    assert again.language(AN) == "vi"
    rows = await db.fetchall("SELECT channel, external_id, language FROM people")
    assert [tuple(row) for row in rows] == [("telegram", "42", "vi")]


async def test_unknown_language_is_refused(db: Database) -> None:
    people = PeopleService(PeopleRepo(db))
    with pytest.raises(ValueError, match="fr"):
        await people.set_language(AN, "fr", NOW)
