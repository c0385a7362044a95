"""The composition root: `build_application(settings)` wires services, handlers, commands and lifecycle."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot
from telegram.request import BaseRequest

from bot.centres import CentreService
from bot.commands import commands_for
from bot.config import Settings
from bot.digest import DigestService
from bot.dossiers import DossierService
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, translator
from bot.outbox import OutboxService, Pacer
from bot.people import PeopleService, Person
from bot.registry import ensure_registry
from bot.reports import ReportService
from bot.roles import Role, RolesService
from bot.telegram_http import AiohttpRequest, NoTelegram
from bot.zalo import TextMenus, ZaloClient
from storage.centres import CentresRepo
from storage.db import Database
from storage.digest import DigestRepo
from storage.dossiers import DossiersRepo
from storage.outbox import OutboxRepo
from storage.people import PeopleRepo
from storage.reports import DraftsRepo, ReportsRepo
from storage.roles import RolesRepo
from storage.zalo import ZaloRepo

if TYPE_CHECKING:
    from handlers.zalo import ZaloChannel

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
OUTBOX_INTERVAL = 5.0
OVERDUE_INTERVAL = 600.0
MENU_PAUSE = 0.05


def utc_now() -> datetime:
    """The wall clock, in UTC: the only place the application reads it."""
    return datetime.now(UTC)


@dataclass
class Services:
    """Everything a handler may call, built in `post_init` and closed in `post_shutdown`."""

    settings: Settings
    channel: str
    db: Database
    people: PeopleService
    centres: CentreService
    dossiers: DossierService
    outbox: OutboxService
    clock: Clock
    roles: RolesService
    reports: ReportService
    digest: DigestService
    menus: TextMenus


class BotData:
    """PTB's `bot_data`, typed: holds the services once the application has started."""

    def __init__(self) -> None:
        self._services: Services | None = None
        self.ingest: web.AppRunner | None = None
        self.telegram = True  # False when only Zalo is configured: nothing is sent to Telegram
        self.zalo: ZaloChannel | None = None

    @property
    def services(self) -> Services:
        """The running services (an error before `post_init`)."""
        if self._services is None:
            raise RuntimeError("services are not started")
        return self._services

    @services.setter
    def services(self, value: Services | None) -> None:
        self._services = value


Ctx = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
App = Application[ExtBot[None], Ctx, dict[Any, Any], dict[Any, Any], BotData, Any]


async def open_services(
    settings: Settings, channel: str, clock: Clock | None = None, pacer: Pacer | None = None
) -> Services:
    """Open the database (migrating it), load the registry on first start and build the services (`clock`:
    the wall clock unless given; `pacer`: how sends are spaced, Telegram's limits unless given)."""
    clock = clock or utc_now
    db = await Database.open(settings.db_path)
    try:
        centres_repo = CentresRepo(db)
        await ensure_registry(centres_repo, settings.province_code, clock())
        centres = await CentreService.create(centres_repo, settings.province_code)
        people = PeopleService(PeopleRepo(db))
        await people.load()
        names = {c.code: c.name for c in centres.directory.communes.values()}
        dossiers = DossierService(DossiersRepo(db), PeopleRepo(db), names, settings.timezone)
        admins = frozenset(Person("telegram", str(admin)) for admin in settings.admins)
        roles = RolesService(RolesRepo(db), PeopleRepo(db), admins)
        reports = ReportService(ReportsRepo(db), PeopleRepo(db), roles, DraftsRepo(db))
        await reports.load()
    except BaseException:
        await db.close()
        raise
    admin_ids = [
        await PeopleRepo(db).ensure(a.channel, a.external_id, clock().isoformat()) for a in sorted(admins, key=str)
    ]
    outbox = OutboxService(OutboxRepo(db), clock, settings.timezone, admin_ids, pacer)
    digest = DigestService(
        DigestRepo(db), ReportsRepo(db), PeopleRepo(db), centres, settings.timezone, settings.digest_time
    )
    menus = TextMenus(ZaloRepo(db), PeopleRepo(db))
    return Services(settings, channel, db, people, centres, dossiers, outbox, clock, roles, reports, digest, menus)


async def start_ingest(app: App, settings: Settings) -> web.AppRunner:
    """Serve the ingest endpoint on PHUCVU_HTTP_HOST:PHUCVU_HTTP_PORT; a batch that changes a status drains the
    outbox at once."""
    from bot.dossier_import import RowParser
    from bot.ingest import create_ingest_app
    from handlers.outbox import drain_outbox

    services = app.bot_data.services

    async def changed(_: object) -> None:
        if app.job_queue is not None:
            app.job_queue.run_once(drain_outbox, 0)

    async def photo(report_id: int, number: int) -> bytes | str | None:
        ref = await services.reports.photo_ref(report_id, number)
        if ref is None or ref.startswith(("https://", "http://")):
            return ref
        try:
            file = await app.bot.get_file(ref)
            return bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("could not fetch photo %s of report %s from Telegram: %s", number, report_id, exc)
            return None

    parser = RowParser(set(services.centres.directory.communes), settings.timezone)
    web_app = create_ingest_app(
        settings.ingest_token.value,
        services.dossiers,
        parser,
        services.clock,
        changed,
        services.db.ping,
        photo,
        services.digest.chart_png,
    )
    zalo = app.bot_data.zalo
    if zalo is not None and settings.zalo_webhook_url:
        web_app.router.add_post(zalo.webhook_path(), zalo.webhook)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.http_host, settings.http_port).start()
    log.info("ingest endpoint on %s:%s", settings.http_host, settings.http_port)
    return runner


def bot_commands(language: str, role: Role = Role.CITIZEN) -> list[BotCommand]:
    """The command menu of a role in one language (English shows the English aliases)."""
    t = translator(language)
    return [BotCommand(c.alias if language == "en" else c.name, t.gettext(c.description)) for c in commands_for(role)]


async def show_commands(bot: Bot, services: Services, person: Person, role: Role) -> None:
    """Give a person's Telegram chat the command menu of their role in their language (a citizen's is the
    public one), and remember which it holds. A failure (a chat the bot cannot reach) is logged, not raised."""
    if person.channel != "telegram" or not person.external_id.lstrip("-").isdigit():
        return
    scope = BotCommandScopeChat(int(person.external_id))
    try:
        if role is Role.CITIZEN:
            await bot.delete_my_commands(scope=scope)
        else:
            await bot.set_my_commands(bot_commands(services.people.language(person), role), scope=scope)
    except TelegramError as exc:
        log.warning("could not set the command menu of chat %s: %s", person.external_id, exc)
        return
    menu_role = None if role is Role.CITIZEN else role.value
    await services.people.set_menu_role(person, menu_role, services.clock())


async def refresh_menus(context: Ctx) -> None:
    """At start, give every role holder and admin the command menu of this version (it may have changed), and
    take it back from every chat that holds one without the role now (an admin removed from the settings)."""
    services = context.bot_data.services
    wanted = {holder.person: holder.role for holder in await services.roles.holders()}
    wanted.update({admin: Role.ADMIN for admin in services.roles.admins})
    for person in await services.people.with_menu(services.channel):
        wanted.setdefault(person, Role.CITIZEN)
    for person in sorted(wanted, key=lambda p: (p.channel, p.external_id)):
        await show_commands(context.bot, services, person, wanted[person])
        await asyncio.sleep(MENU_PAUSE)  # well under Telegram's limits


def file_url(api_base_url: str) -> str:
    """Where the Bot API serves files, next to its methods (`…/bot` → `…/file/bot`)."""
    return api_base_url.removesuffix("/bot") + "/file/bot"


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    channel: str = "telegram",
    clock: Clock | None = None,
    outbox_interval: float = OUTBOX_INTERVAL,
    pacer: Pacer | None = None,
    telegram: bool = True,
) -> App:
    """Build the PTB application; `request` replaces HTTP (the console), `clock` the wall clock,
    `outbox_interval` how often the outbox is drained and `pacer` how sends are spaced (tests). With
    `telegram=False` (only Zalo configured) the application hosts the services, the jobs and Zalo, and nothing
    goes to Telegram. Zalo is served when `ZALO_BOT_TOKEN` is set."""
    from handlers import all_handlers, on_error
    from handlers.digest import schedule_digests, send_digests
    from handlers.outbox import drain_outbox, queue_overdue
    from handlers.zalo import ZaloChannel

    async def post_init(app: App) -> None:
        app.bot_data.services = await open_services(settings, channel, clock, pacer)
        app.bot_data.telegram = telegram
        if telegram:
            for language in LANGUAGES:
                await app.bot.set_my_commands(bot_commands(language), language_code=language)
            await app.bot.set_my_commands(bot_commands(DEFAULT_LANGUAGE))
        jobs = app.job_queue
        assert jobs is not None, "install python-telegram-bot[job-queue]"
        # Fixed names, replaced on every start: the outbox is drained at start (messages left by a crash or by
        # an import in another process) and then every OUTBOX_INTERVAL seconds.
        for job in jobs.get_jobs_by_name("outbox") + jobs.get_jobs_by_name("overdue"):
            job.schedule_removal()
        # `first` is counted from now, and the scheduler starts a moment later: 0 would be a missed run.
        jobs.run_repeating(drain_outbox, interval=outbox_interval, first=0.5, name="outbox")
        jobs.run_repeating(queue_overdue, interval=OVERDUE_INTERVAL, first=1, name="overdue")
        if telegram:
            jobs.run_once(refresh_menus, 1, name="menus")
        await schedule_digests(jobs, app.bot_data.services)
        jobs.run_once(send_digests, 2, name="digest-catch-up")  # today's, if the bot was down at its time
        if settings.zalo_token:

            def wake() -> None:  # an urgent message written on Zalo goes out now
                jobs.run_once(drain_outbox, 0)

            client = ZaloClient(settings.zalo_token.value, settings.zalo_api_base_url)
            app.bot_data.zalo = ZaloChannel(app.bot_data.services, client, wake)
        if settings.http_port is not None:
            app.bot_data.ingest = await start_ingest(app, settings)
        if app.bot_data.zalo is not None:
            await app.bot_data.zalo.start()  # after the HTTP server: the webhook's address must answer

    async def post_shutdown(app: App) -> None:
        if app.bot_data.zalo is not None:
            await app.bot_data.zalo.stop()
            app.bot_data.zalo = None
        if app.bot_data.ingest is not None:
            await app.bot_data.ingest.cleanup()
            app.bot_data.ingest = None
        services = app.bot_data._services
        if services is not None:
            await services.db.close()
            app.bot_data.services = None

    builder = (
        Application.builder()
        .token(settings.telegram_token.value or "console")
        .base_url(settings.telegram_api_base_url)
        .base_file_url(file_url(settings.telegram_api_base_url))
        .context_types(ContextTypes(bot_data=BotData))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if not telegram:
        request = NoTelegram()
    if request is not None:
        builder = builder.request(request).get_updates_request(request).updater(None)
    else:
        # PTB's own pool sizes: 256 connections for sending, one for getUpdates.
        builder = builder.request(AiohttpRequest(256)).get_updates_request(AiohttpRequest(1))
    app: App = builder.build()
    for group, handlers in all_handlers().items():
        for handler in handlers:
            app.add_handler(handler, group)
    app.add_error_handler(on_error)
    return app


@asynccontextmanager
async def started(app: App) -> AsyncIterator[App]:
    """Start the application as `run_polling` does (initialize, post_init, start) and stop it in reverse.

    For callers that feed updates themselves: the console, and tests that start polling on their own.
    """
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        try:
            yield app
        finally:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            await app.stop()
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


async def serve(app: App) -> None:
    """Run an application without a Telegram updater (only Zalo is configured) until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    async with started(app):
        await stop.wait()
