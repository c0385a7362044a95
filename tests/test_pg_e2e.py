"""The conversations on PostgreSQL (issue 17, under way): every scenario that takes only a chat, from the
scenario modules, run once more on Telegram with the services on a fresh PostgreSQL database."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import replace
from types import ModuleType

import pytest

from bot.config import Settings
from bot.roles import Role
from tests import test_digest_scenarios
from tests.channels import Chat, chat_on

MODULES: tuple[ModuleType, ...] = tuple(
    importlib.import_module(f"tests.test_{feature}_scenarios")
    for feature in ("centres", "chat", "digest", "dossiers", "people", "procedures", "ratings", "reports", "roles")
)
Scenario = Callable[[Chat], Awaitable[None]]


def scenarios() -> list[tuple[str, Scenario]]:
    """Each `test_…(chat)` of the scenario modules."""
    found = []
    for module in MODULES:
        for name, function in vars(module).items():
            if name.startswith("test_") and list(inspect.signature(function).parameters) == ["chat"]:
                found.append((f"{module.__name__.rsplit('.', 1)[-1]}.{name}", function))
    return found


@pytest.mark.parametrize(("name", "scenario"), scenarios(), ids=[name for name, _ in scenarios()])
async def test_on_postgres(name: str, scenario: Scenario, settings: Settings, pg_url: str) -> None:
    on_postgres = replace(settings, database_url=pg_url)
    if name.startswith("test_digest_scenarios."):  # that module's own `chat`: its clock, and a leader
        clock = test_digest_scenarios.Clock(test_digest_scenarios.START)
        async with chat_on("telegram", on_postgres, clock, digest_at=None) as chat:
            await chat.give("leader", Role.LEADER)
            await scenario(chat)
        return
    async with chat_on("telegram", on_postgres) as chat:
        await scenario(chat)
