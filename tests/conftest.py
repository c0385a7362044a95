"""Shared fixtures: settings on a temporary database file, a migrated database, the centre service."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

# PTB 22 warns about its int-seconds API unless told to use timedeltas; warnings are errors here.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from bot.app import App, build_application
from bot.centres import CentreService
from bot.config import Secret, Settings
from bot.registry import load_province
from storage.centres import CentresRepo
from storage.db import Database
from tests.channels import CHANNELS, Chat, chat_on
from tests.fakebotapi import TOKEN, FakeBotAPI, running

NOW = datetime(2025, 8, 4, 1, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def daytime(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot's wall clock starts at 10:00 in Lạng Sơn on a Monday and runs at the real pace: no test depends
    on the hour it runs at (quiet hours hold some messages from 21:00 to 07:00)."""
    started = time.monotonic()
    base = datetime(2025, 8, 4, 3, 0, tzinfo=UTC)
    monkeypatch.setattr("bot.services.utc_now", lambda: base + timedelta(seconds=time.monotonic() - started))


# The end-to-end modules whose `settings` run the bot on PostgreSQL too (issue 17).
POSTGRES_READY_E2E: set[str] = {
    "tests.test_ingest_e2e",
    "tests.test_zalo_e2e",
    "tests.test_outbox_e2e",
    "tests.test_zns_e2e",
    "tests.test_digest_e2e",
    "tests.test_receipt_e2e",
    "tests.test_dossiers_e2e",
    "tests.test_telegram_channel_e2e",
    "tests.test_report_export_e2e",
    "tests.test_console_e2e",
    "tests.test_webhook_e2e",
}


def sqlite_only(settings: Settings, why: str) -> None:
    """Skip the PostgreSQL run of a test about SQLite itself (its file lock), saying why."""
    if settings.database_url:
        pytest.skip(f"SQLite only: {why}")


@pytest.fixture
async def settings(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Settings]:
    """Settings for a bot on a fresh database file (and, in a module of POSTGRES_READY_E2E run a second time, on a
    fresh PostgreSQL database)."""
    if getattr(request, "param", "sqlite") == "postgres":
        async with fresh_postgres() as url:
            yield Settings(db_path=tmp_path / "phucvu.db", database_url=url)
        return
    yield Settings(db_path=tmp_path / "phucvu.db")


# The test modules whose `db` runs on PostgreSQL too, as the repositories they use are ported (issue 17).
POSTGRES_READY = {
    "tests.test_people_service",
    "tests.test_roles_service",
    "tests.test_registry_storage",
    "tests.test_centres_service",
    "tests.test_reports_service",
    "tests.test_zns_service",
    "tests.test_dossiers_storage",
    "tests.test_digest_service",
    "tests.test_inbox_storage",
    "tests.test_dossier_import_service",
    "tests.test_procedures_service",
    "tests.test_ratings_service",
    "tests.test_dossiers_service",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test of a ready module that uses `db` runs on SQLite and on PostgreSQL."""
    if "db" in metafunc.fixturenames and metafunc.module.__name__ in POSTGRES_READY:
        metafunc.parametrize("database_kind", ["sqlite", "postgres"], indirect=True)
    if "settings" in metafunc.fixturenames and metafunc.module.__name__ in POSTGRES_READY_E2E:
        metafunc.parametrize("settings", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def database_kind(request: pytest.FixtureRequest) -> str:
    """Which database `db` is (SQLite unless the module is ready for PostgreSQL too)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
async def db(tmp_path: Path, database_kind: str) -> AsyncIterator[Database]:
    """A real database with every migration applied: a SQLite file, or a fresh PostgreSQL database."""
    if database_kind == "postgres":
        from storage.pg import PgDatabase

        async with fresh_postgres() as url:
            postgres = await PgDatabase.open(url)
            try:
                yield postgres  # type: ignore[misc]
            finally:
                await postgres.close()
        return
    database = await Database.open(tmp_path / "test.db")
    yield database
    await database.close()


# The PostgreSQL server the storage tests also run on (issue 17): CI and the development machines start one.
PG_SERVER = os.environ.get("PHUCVU_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@asynccontextmanager
async def fresh_postgres(template: str = "", *, bare: bool = False) -> AsyncIterator[str]:
    """The URL of a fresh PostgreSQL database, dropped afterwards: a copy of `template` if given, else of this
    process's migrated schema (built once: migrating every test's database costs a tenth of a second), or an
    empty one (`bare`). Without a server the test is skipped, saying so; under CI=true, where the server is part
    of the machine, it fails instead."""
    import uuid

    import asyncpg

    try:
        admin = await asyncpg.connect(PG_SERVER, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        reason = f"PostgreSQL at {PG_SERVER} does not answer ({exc.__class__.__name__}): its tests are skipped"
        if os.environ.get("CI") == "true":
            pytest.fail(reason.replace("are skipped", "must run under CI"))
        pytest.skip(reason)
    try:
        if not template and not bare:
            if "schema" not in POSTGRES_TEMPLATES:
                from storage.pg import PgDatabase

                schema = f"phucvu_schema_template_{uuid.uuid4().hex[:12]}"
                await admin.execute(f'CREATE DATABASE "{schema}"')
                migrated = await PgDatabase.open(_url(schema))
                await migrated.close()
                POSTGRES_TEMPLATES["schema"] = schema
            template = POSTGRES_TEMPLATES["schema"]
        name = f"phucvu_test_{uuid.uuid4().hex[:16]}"
        await admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        try:
            yield _url(name)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@contextmanager
def postgres_for_commands(*, bare: bool = False) -> Iterator[str]:
    """`fresh_postgres` for a test that runs the command line (which runs its own event loops)."""
    import asyncio

    loop = asyncio.new_event_loop()
    database = fresh_postgres(bare=bare)
    try:
        url = loop.run_until_complete(database.__aenter__())
        try:
            yield url
        finally:
            loop.run_until_complete(database.__aexit__(None, None, None))
    finally:
        loop.close()


@pytest.fixture(params=["sqlite", "postgres"])
def phucvu_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """PHUCVU_DB for a command-line test, on each database in turn: a SQLite file, a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "cli.db")
        return
    with postgres_for_commands() as url:
        yield url


def _url(database: str) -> str:
    """The test server's URL for another database."""
    return PG_SERVER.rsplit("/", 1)[0] + "/" + database


def pytest_report_header(config: pytest.Config) -> str:
    """One line at the top of a run: whether the PostgreSQL tests run (a server answers) or are skipped."""
    import socket
    import urllib.parse

    where = urllib.parse.urlsplit(PG_SERVER)
    try:
        with socket.create_connection((where.hostname or "127.0.0.1", where.port or 5432), timeout=2):
            return f"PostgreSQL: {where.hostname}:{where.port or 5432} answers; the storage tests run on it too"
    except OSError:
        if os.environ.get("CI") == "true":
            return f"PostgreSQL: {where.hostname}:{where.port or 5432} does not answer; under CI its tests fail"
        return f"PostgreSQL: {where.hostname}:{where.port or 5432} does not answer; its tests are skipped"


POSTGRES_TEMPLATES: dict[str, str] = {}  # databases built once per process and copied by tests, dropped at the end


@pytest.fixture(scope="session", autouse=True)
def drop_postgres_templates() -> Iterator[None]:
    """Drop the template databases this process built (none lingers on the server after a run)."""
    yield
    if not POSTGRES_TEMPLATES:
        return
    import asyncio

    import asyncpg

    async def drop() -> None:
        admin = await asyncpg.connect(PG_SERVER)
        try:
            for name in POSTGRES_TEMPLATES.values():
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(drop())


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one test (`fresh_postgres`)."""
    async with fresh_postgres() as url:
        yield url


@pytest.fixture
async def centres_repo(db: Database) -> CentresRepo:
    """The registry of Lạng Sơn stored in the test database."""
    repo = CentresRepo(db)
    await repo.store_registry(load_province(20), NOW.isoformat())
    return repo


@pytest.fixture
async def centres(centres_repo: CentresRepo) -> CentreService:
    """The centre finder over the stored registry."""
    return await CentreService.create(centres_repo, 20)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    """A fake Telegram Bot API server on 127.0.0.1."""
    async with FakeBotAPI() as fake:
        yield fake


def bot_settings(settings: Settings, api: FakeBotAPI) -> Settings:
    """Settings of a real bot talking to the fake Bot API."""
    return replace(settings, telegram_token=Secret(TOKEN), telegram_api_base_url=api.base_url)


@pytest.fixture
async def bot(settings: Settings, api: FakeBotAPI) -> AsyncIterator[App]:
    """The real application, long polling the fake Bot API over HTTP."""
    async with running(build_application(bot_settings(settings, api))) as app:
        yield app


def keyboard_texts(markup: dict[str, object] | None) -> list[str]:
    """The labels of a reply keyboard, row after row."""
    assert markup is not None
    rows = markup["keyboard"]
    assert isinstance(rows, list)
    return [button["text"] for row in rows for button in row]


@pytest.fixture(params=CHANNELS)
async def chat(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Chat]:
    """A bot on each channel in turn (Telegram, Zalo, the console): a scenario written once runs on all three."""
    async with chat_on(request.param, settings) as running_chat:
        yield running_chat
