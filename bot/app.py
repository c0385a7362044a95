"""The composition root: `build_application(settings)` wires the services, the channels, the jobs and the HTTP
server; `run_console` runs the application with the console as its channel."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes, ExtBot, JobQueue
from telegram.request import BaseRequest

from bot import httpserver
from bot.config import Secret, Settings
from bot.console import HELP, Console, ConsoleNotifier, act_as, console_photo, end_role, ensure_demo_data, incoming
from bot.dossiers import PHONE_DAYS
from bot.httpserver import Guard, Limits
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES
from bot.inbox import SCHEDULER_EVERY, Dispatch, Inbox, Scheduler, process_id
from bot.metrics import INBOX_WAITING, LAST_DIGEST
from bot.outbox import Pacer
from bot.roles import Role
from bot.services import Clock, Services, open_services
from bot.telegram_channel import (
    CHANNEL,
    BotData,
    Ctx,
    TelegramNotifier,
    TelegramWebhook,
    bot_commands,
    handlers,
    on_error,
    show_commands,
)
from bot.telegram_http import AiohttpRequest, NoTelegram
from bot.textmenu import answer
from bot.zalo import ZaloClient
from bot.zalo_channel import ZaloChannel
from bot.zns import Tokens, ZnsClient, ZnsNotifier
from handlers.chat import Effects
from storage.db import Busy
from storage.dossiers import DossiersRepo
from storage.inbox import InboxRepo, LeasesRepo
from storage.zns import ZnsTokensRepo

log = logging.getLogger(__name__)

OUTBOX_INTERVAL = 5.0
OVERDUE_INTERVAL = 600.0
OBSERVE_INTERVAL = 15.0
MENU_PAUSE = 0.05
App = Application[ExtBot[None], Ctx, dict[Any, Any], dict[Any, Any], BotData, Any]


async def drain_outbox(context: Ctx) -> None:
    """Job: send what the outbox holds, on every channel served: every channel's urgent messages (alerts, digests)
    first, then every channel's backlog."""
    services, notifiers = context.bot_data.services, context.bot_data.notifiers
    for urgent_only, notifier in [(True, n) for n in notifiers] + [(False, n) for n in notifiers]:
        try:
            report = await services.outbox.drain(notifier, urgent_only=urgent_only)
        except Busy as exc:  # another writer holds the database: every message waits for the next drain
            log.warning("outbox: the database is busy (%s); the next drain tries again", exc)
            return
        if report.sent or report.retried or report.failed or report.uncertain:
            log.info("outbox (%s): %s", notifier.channel, report)


async def observe(context: Ctx) -> None:
    """Job: the gauges of `/metrics` that are read from the database (the outbox's backlog, the last digests)."""
    services = context.bot_data.services
    try:
        await services.outbox.observe()
        for kind, at in (await services.digest.last_queued()).items():
            LAST_DIGEST.labels(kind).set(at.timestamp())
        if context.bot_data.inbox is not None:
            INBOX_WAITING.set(await context.bot_data.inbox.repo.waiting())
    except Busy as exc:
        log.info("metrics: the database is busy (%s); the next round reads them", exc)


async def leads(context: Ctx) -> bool:
    """Whether this process runs the scheduled work now (it holds the scheduler lease; `bot.inbox.Scheduler`)."""
    scheduler = context.bot_data.scheduler
    return scheduler is None or await scheduler.leads()


async def lead(context: Ctx) -> None:
    """Job: take or renew the scheduler lease (a process that takes it over from a dead one catches up); count the
    processes alive, which share the sending rate."""
    await leads(context)
    scheduler = context.bot_data.scheduler
    if scheduler is not None:
        context.bot_data.services.outbox.pacer.share(await scheduler.processes())


async def queue_overdue(context: Ctx) -> None:
    """Job: queue the messages for followed dossiers that passed their appointment date (and the applicants' ZNS
    messages), and the officials' morning messages about their commune's overdue dossiers (on working days, from
    the digest time); erase the applicants' phones whose time is up. In one process of several (`leads`)."""
    if not await leads(context):
        return
    services = context.bot_data.services
    if context.bot_data.inbox is not None and (forgotten := await context.bot_data.inbox.prune()):
        log.info("inbox: %s answered update(s) forgotten", forgotten)
    if erased := await services.dossiers.erase_phones(services.clock()):
        log.info("zns: %s applicant phone(s) erased, their dossiers ended %s days ago", erased, PHONE_DAYS)
    overdue = await services.dossiers.enqueue_overdue(services.clock())
    mornings = await services.dossiers.queue_mornings(services.clock(), services.settings.digest_time)
    if overdue or mornings:
        await drain_outbox(context)


async def send_digests(context: Ctx) -> None:
    """Job: queue the digests due by now (today's only) and send them (in one process of several: `leads`)."""
    if not await leads(context):
        return
    services = context.bot_data.services
    queued = await services.digest.queue_due(services.clock())
    if queued:
        log.info("digest: %s queued", queued)
        await drain_outbox(context)


async def schedule_digests(jobs: JobQueue[Any], services: Services) -> None:
    """One daily job per time some leader's digest is due (fixed names, replaced on every call, so a restart
    or a moved time never leaves a second job); the time is in PHUCVU_TIMEZONE (a naive time would be UTC)."""
    for job in jobs.jobs():
        if job.name and job.name.startswith("digest@"):
            job.schedule_removal()
    for at in sorted(await services.digest.times()):
        moment = at.replace(tzinfo=services.settings.timezone)
        jobs.run_daily(send_digests, moment, name=f"digest@{at.strftime('%H:%M')}")


async def start_ingest(
    app: App,
    settings: Settings,
    zalo: ZaloChannel | None,
    limits: Limits | None = None,
    telegram: TelegramWebhook | None = None,
) -> web.AppRunner:
    """Serve the ingest endpoint on PHUCVU_HTTP_HOST:PHUCVU_HTTP_PORT; a batch that changes a status drains the
    outbox at once."""
    from bot.dossier_import import RowParser
    from bot.ingest import create_ingest_app

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
        [notifier.channel for notifier in app.bot_data.notifiers if notifier.channel != "console"],
    )
    if zalo is not None and settings.zalo_webhook_url:
        web_app.router.add_post(zalo.webhook_path(), zalo.webhook)
    if telegram is not None:
        web_app.router.add_post(settings.telegram_webhook_path, telegram.handle)
    assert settings.http_port is not None
    runner = await httpserver.serve(web_app, settings.http_host, settings.http_port, Guard(limits))
    log.info("ingest endpoint on %s:%s", settings.http_host, settings.http_port)
    return runner


async def refresh_menus(context: Ctx) -> None:
    """At start, give every role holder and admin the command menu of this version (it may have changed), and
    take it back from every chat that holds one without the role now (an admin removed from the settings). In one
    process of several (`leads`)."""
    if not await leads(context):
        return
    services = context.bot_data.services
    wanted = {holder.person: holder.role for holder in await services.roles.holders()}
    wanted.update({admin: Role.ADMIN for admin in services.roles.admins})
    for person in await services.people.with_menu(CHANNEL):
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
    clock: Clock | None = None,
    outbox_interval: float = OUTBOX_INTERVAL,
    pacer: Pacer | None = None,
    telegram: bool = True,
    zalo: bool = True,
    http_limits: Limits | None = None,
) -> App:
    """Build the PTB application; `request` replaces HTTP (tests), `clock` the wall clock, `outbox_interval` how
    often the outbox is drained, `pacer` how sends are spaced and `http_limits` what the HTTP server allows
    (tests). With `telegram=False` (only Zalo, or the
    console) the application hosts the services and the jobs, and nothing goes to Telegram. Zalo is served when
    `ZALO_BOT_TOKEN` is set (and `zalo`)."""

    async def post_init(app: App) -> None:
        data = app.bot_data
        data.services = services = await open_services(settings, clock, pacer)
        jobs = app.job_queue
        assert jobs is not None, "install python-telegram-bot[job-queue]"

        def wake() -> None:  # an urgent message goes out now
            jobs.run_once(drain_outbox, 0)

        async def reschedule() -> None:
            await schedule_digests(jobs, services)
            jobs.run_once(send_digests, 0)  # a time moved before now, or a resume after it: today's now

        data.wake, data.reschedule = wake, reschedule
        if telegram:
            for language in LANGUAGES:
                await app.bot.set_my_commands(bot_commands(language), language_code=language)
            await app.bot.set_my_commands(bot_commands(DEFAULT_LANGUAGE))
            data.notifiers.append(TelegramNotifier(app.bot, settings.timezone, services.digest.chart_png))
        # Fixed names, replaced on every start: the outbox is drained at start (messages left by a crash or by
        # an import in another process) and then every OUTBOX_INTERVAL seconds.
        for job in (
            jobs.get_jobs_by_name("outbox")
            + jobs.get_jobs_by_name("overdue")
            + jobs.get_jobs_by_name("observe")
            + jobs.get_jobs_by_name("lead")
        ):
            job.schedule_removal()
        # `first` is counted from now, and the scheduler starts a moment later: 0 would be a missed run.
        jobs.run_repeating(drain_outbox, interval=outbox_interval, first=0.5, name="outbox")
        jobs.run_repeating(queue_overdue, interval=OVERDUE_INTERVAL, first=1, name="overdue")
        jobs.run_repeating(observe, interval=OBSERVE_INTERVAL, first=1, name="observe")
        if telegram:
            jobs.run_once(refresh_menus, 1, name="menus")
        await schedule_digests(jobs, services)
        jobs.run_once(send_digests, 2, name="digest-catch-up")  # today's, if the bot was down at its time
        channel: ZaloChannel | None = None
        if zalo and settings.zalo_token:
            client = ZaloClient(settings.zalo_token.value, settings.zalo_api_base_url)
            channel = ZaloChannel(services, client, Effects(wake, reschedule))
            data.notifiers.append(channel.notifier)
            data.closers.append(channel.stop)
        if settings.zns:
            zns = ZnsClient(settings)
            notifier = ZnsNotifier(
                settings, DossiersRepo(services.db), Tokens(ZnsTokensRepo(services.db), zns, services.clock), zns
            )
            await notifier.start()
            data.notifiers.append(notifier)
            data.closers.append(zns.close)
        holder = process_id()
        data.scheduler = Scheduler(LeasesRepo(services.db), services.clock, holder)

        def catch_up() -> None:  # this process took the scheduled work over from one that stopped
            jobs.run_once(queue_overdue, 0)
            jobs.run_once(send_digests, 0)
            if telegram:
                jobs.run_once(refresh_menus, 0)

        data.scheduler.took_over = catch_up
        jobs.run_repeating(lead, interval=SCHEDULER_EVERY, first=0.2, name="lead")
        dispatch: dict[str, Dispatch] = {}
        webhook: TelegramWebhook | None = None
        if telegram and settings.telegram_webhook_url:

            async def telegram_update(payload: str) -> None:
                await app.process_update(Update.de_json(json.loads(payload), app.bot))

            dispatch[CHANNEL] = telegram_update
        if channel is not None and settings.zalo_webhook_url:
            dispatch[channel.notifier.channel] = channel.answer
        if dispatch:
            lease = timedelta(seconds=settings.inbox_lease)
            data.inbox = Inbox(InboxRepo(services.db), services.clock, holder, dispatch, lease=lease)
            if channel is not None and settings.zalo_webhook_url:
                channel.inbox = data.inbox
            if CHANNEL in dispatch:
                webhook = TelegramWebhook(settings.telegram_webhook_secret.value, data.inbox)
        if settings.http_port is not None:
            runner = await start_ingest(app, settings, channel, http_limits, webhook)
            data.stoppers.append(runner.cleanup)  # no new call first
        if data.inbox is not None:
            data.inbox.start()
            data.stoppers.append(data.inbox.stop)  # then the updates being answered finish
        data.stoppers.append(data.scheduler.let_go)
        if webhook is not None:
            await app.bot.set_webhook(
                settings.telegram_webhook_url,
                secret_token=settings.telegram_webhook_secret.value,
                allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY],
            )
            log.info("telegram: webhook at %s", settings.telegram_webhook_url)
        if channel is not None:
            await channel.start()  # after the HTTP server: the webhook's address must answer

    async def post_stop(app: App) -> None:
        data = app.bot_data
        for stop in data.stoppers:
            try:
                await stop()
            except Exception:
                log.exception("stopping: %s failed", getattr(stop, "__qualname__", stop))
        data.stoppers.clear()

    async def post_shutdown(app: App) -> None:
        data = app.bot_data
        await post_stop(app)  # when the application was never started
        for close in data.closers:
            await close()
        data.closers.clear()
        services = data._services
        if services is not None:
            await services.db.close()
            data.services = None

    builder = (
        Application.builder()
        .token(settings.telegram_token.value or "console")
        .base_url(settings.telegram_api_base_url)
        .base_file_url(file_url(settings.telegram_api_base_url))
        .context_types(ContextTypes(bot_data=BotData))
        .post_init(post_init)
        .post_stop(post_stop)
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
    if telegram:
        for handler in handlers():
            app.add_handler(handler)
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
            if app.post_stop is not None:
                await app.post_stop(app)
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


async def run_console(
    settings: Settings,
    lines: Callable[[], str] = input,
    write: Callable[[str], None] = print,
    demo_days: int = 60,
    role: str = "citizen",
    commune: str | None = None,
) -> bool:
    """Chat with the bot in the terminal until `:quit` or end of input (demo dossiers on first start), as a citizen
    or with `role`; False if that role could not be given."""
    # The console is one local person: it never touches the real Zalo account (polling it would take citizens'
    # messages, and starting would remove the production webhook).
    # Nor does it message applicants' phones (ZNS).
    settings = replace(settings, zalo_token=Secret(""), zalo_webhook_url="", zns_templates={})
    await ensure_demo_data(settings, write, demo_days)
    app = build_application(settings, telegram=False, zalo=False)
    write(HELP + "\n")
    async with started(app):
        data = app.bot_data
        console = Console(data.services, write)
        data.notifiers.append(ConsoleNotifier(console))
        await end_role(data.services)  # one a session that crashed left behind
        if role != "citizen" and not await act_as(data.services, role, commune, write):
            return False
        jobs: Any = app.job_queue
        effects = Effects(lambda: jobs.run_once(drain_outbox, 0), data.reschedule, photo=console_photo)
        line = "/start"
        try:
            while line != ":quit":
                came = incoming(line) if line else None
                if came is not None:
                    replies, language = await answer(data.services, came, effects, locations=True, pictures=True)
                    await console.show(replies, language)
                elif line:
                    write("(không hiểu lệnh console này; xem hướng dẫn ở trên)\n")
                try:
                    line = (await asyncio.to_thread(lines)).strip()
                except EOFError:
                    break
        finally:
            await end_role(data.services)  # a console's role lasts for its session
    sys.stdout.flush()
    return True
