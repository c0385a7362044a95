"""The channel-neutral services, built once per process: `open_services(settings)` opens the database (migrating
it), loads the registry on first start and wires every service; the conversations and the jobs receive them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.centres import CentreService
from bot.chat import ChatState
from bot.config import Settings
from bot.digest import DigestService
from bot.dossiers import DossierService
from bot.outbox import OutboxService, Pacer
from bot.people import PeopleService, Person
from bot.procedures import ProcedureService
from bot.ratings import RatingService
from bot.registry import ensure_registry
from bot.reports import ReportService
from bot.roles import RolesService
from storage.centres import CentresRepo
from storage.chat import ChatRepo
from storage.db import Database, Store
from storage.digest import DigestRepo
from storage.dossiers import DossiersRepo
from storage.outbox import OutboxRepo
from storage.people import PeopleRepo
from storage.procedures import ProceduresRepo
from storage.ratings import RatingsRepo
from storage.reports import DraftsRepo, ReportsRepo
from storage.roles import RolesRepo

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock, in UTC: the only place the application reads it."""
    return datetime.now(UTC)


@dataclass
class Services:
    """Everything a conversation or a job may call."""

    settings: Settings
    db: Store
    people: PeopleService
    centres: CentreService
    dossiers: DossierService
    outbox: OutboxService
    clock: Clock
    roles: RolesService
    reports: ReportService
    digest: DigestService
    chat: ChatState
    ratings: RatingService
    procedures: ProcedureService


async def open_database(settings: Settings, *, migrate: bool = True) -> Store:
    """The database the settings name: PostgreSQL (`PHUCVU_DB=postgresql://…`) or the SQLite file; migrated
    unless `migrate` is False."""
    if settings.database_url:
        from storage.pg import PgDatabase

        return await PgDatabase.open(settings.database_url, migrate=migrate)
    return await Database.open(settings.db_path, migrate=migrate)


async def open_services(settings: Settings, clock: Clock | None = None, pacer: Pacer | None = None) -> Services:
    """Open the database (migrating it), load the registry on first start and build the services (`clock`:
    the wall clock unless given; `pacer`: how sends are spaced, Telegram's limits unless given)."""
    clock = clock or (lambda: utc_now())  # looked up on each call, so that tests may move the wall clock
    db = await open_database(settings)
    try:
        centres_repo = CentresRepo(db)
        await ensure_registry(centres_repo, settings.province_code, clock())
        centres = await CentreService.create(centres_repo, settings.province_code, settings.hotline)
        people = PeopleService(PeopleRepo(db))
        await people.load()
        names = {c.code: c.name for c in centres.directory.communes.values()}
        dossiers = DossierService(DossiersRepo(db), PeopleRepo(db), names, settings.timezone, settings.zns_templates)
        admins = frozenset(Person(channel, external_id) for channel, external_id in settings.admins)
        roles = RolesService(RolesRepo(db), PeopleRepo(db), admins)
        reports = ReportService(ReportsRepo(db), PeopleRepo(db), roles, DraftsRepo(db))
        await reports.load()
        chat = ChatState(ChatRepo(db), PeopleRepo(db))
        procedures = ProcedureService(ProceduresRepo(db))
        await procedures.load()
        admin_ids = [
            await PeopleRepo(db).ensure(a.channel, a.external_id, clock().isoformat()) for a in sorted(admins, key=str)
        ]
    except BaseException:
        await db.close()
        raise
    outbox = OutboxService(
        OutboxRepo(db), clock, settings.timezone, admin_ids, pacer, lease=timedelta(seconds=settings.outbox_lease)
    )
    digest = DigestService(
        DigestRepo(db), ReportsRepo(db), PeopleRepo(db), centres, settings.timezone, settings.digest_time
    )
    ratings = RatingService(RatingsRepo(db), DossiersRepo(db), PeopleRepo(db), dossiers.limiter)
    return Services(
        settings, db, people, centres, dossiers, outbox, clock, roles, reports, digest, chat, ratings, procedures
    )
