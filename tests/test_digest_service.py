"""The digest's figures against the database read independently (rows through the lookup's own on-time rule),
its writing with Babel, and the queueing of each leader's digest once per (leader, kind, day)."""

import json
import math
import shutil
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from matplotlib.text import Text

from bot.centres import CentreService
from bot.demo import fill_demo
from bot.digest import (
    CAPTION_LIMIT,
    DAILY,
    MESSAGE_LIMIT,
    RATE_STEP,
    WEEKLY,
    Digest,
    DigestService,
    Window,
    chart_figure,
    digest_kinds,
    windows,
    working_days,
    working_window,
)
from bot.dossiers import (
    Dossier,
    DossierService,
    HistoryStep,
    Standing,
    Timeliness,
    finished_time,
    from_sql_time,
    standing,
    to_dossier,
    to_sql_time,
)
from bot.i18n import translator
from bot.outbox import Pacer
from bot.people import Person
from bot.registry import load_province
from bot.reports import Draft, ReportService, State
from bot.roles import Access, Role, RolesService
from bot.text import split_text
from storage.centres import CentresRepo
from storage.db import Database
from storage.digest import DigestRepo
from storage.dossiers import DossierRow, DossiersRepo, _dossier
from storage.outbox import OutboxRepo
from storage.people import PeopleRepo
from storage.reports import DraftsRepo, ReportsRepo
from storage.roles import RolesRepo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2025, 8, 4)  # a Monday: the daily and the weekly digest
MORNING = datetime(2025, 8, 4, 7, 0, tzinfo=TZ)
OFFICIAL = Person("telegram", "8001")
LEADER = Person("telegram", "8101")
EARLY_LEADER = Person("zalo", "leader-early")
PAUSED_LEADER = Person("telegram", "8103")


async def fill(db: Database) -> None:
    """Thirty-five days of demo dossiers up to the morning of DAY, desk staff for a few centres, three leaders and
    an official, and facility reports of every kind of standing."""
    centres_repo = CentresRepo(db)
    await centres_repo.store_registry(load_province(20), MORNING.isoformat())
    centres = await CentreService.create(centres_repo, 20)
    dossiers = DossierService(DossiersRepo(db), PeopleRepo(db), {}, TZ)
    await fill_demo(dossiers.repo, list(centres.directory.communes.values()), MORNING, seed=11, days=35)
    now = MORNING.isoformat()
    staff = {"05977": 3, "06385": 2, "06016": 9, "06019": 6, "06076": 1}  # Đông Kinh… and some xã
    for code, count in staff.items():
        await centres.update_details(code, {"desk_staff": count}, "test", now)
    roles = RolesService(RolesRepo(db), PeopleRepo(db), frozenset())
    await roles.redeem(OFFICIAL, (await roles.invite(Role.OFFICIAL, "06385", "cli", MORNING)).code, MORNING)
    for leader in (LEADER, EARLY_LEADER, PAUSED_LEADER):
        await roles.redeem(leader, (await roles.invite(Role.LEADER, None, "cli", MORNING)).code, MORNING)
    reports = ReportService(ReportsRepo(db), PeopleRepo(db), roles, DraftsRepo(db))
    old = MORNING - timedelta(days=10)
    await reports.file(OFFICIAL, Draft("it", "high", "Mạng chập chờn."), old)  # target 2 days: past it
    await reports.file(OFFICIAL, Draft("rooms", "medium", "Phòng chật."), old)
    fixed = await reports.file(OFFICIAL, Draft("equipment", "low", "Máy in hỏng."), old)
    await reports.move(LEADER, fixed.id, State.FIXED, "Đã thay.", old + timedelta(days=1))
    await reports.file(OFFICIAL, Draft("utilities", "blocking", "Mất điện."), MORNING - timedelta(hours=3))
    await reports.file(OFFICIAL, Draft("kitchen", "low", "Chưa có bếp."), MORNING + timedelta(minutes=5))  # later


@pytest.fixture
async def db(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, database_kind: str) -> AsyncIterator[Database]:
    """A fresh copy, for each test, of one database holding `fill`'s data (built once: it takes seconds); on
    PostgreSQL a database made from a template database."""
    if database_kind == "postgres":
        async for database in _postgres_copy():
            yield database
        return
    template = tmp_path_factory.getbasetemp() / "digest-template.db"
    if not template.exists():
        building = await Database.open(template.with_suffix(".building"))
        await fill(building)
        await building.close()
        template.with_suffix(".building").rename(template)
    shutil.copyfile(template, tmp_path / "digest.db")
    database = await Database.open(tmp_path / "digest.db")
    yield database
    await database.close()


async def _postgres_copy() -> AsyncIterator[Database]:
    import uuid

    import asyncpg

    from storage.pg import PgDatabase
    from tests.conftest import PG_SERVER, POSTGRES_TEMPLATES, fresh_postgres

    if "digest" not in POSTGRES_TEMPLATES:
        name = f"phucvu_digest_template_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(PG_SERVER)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        building = await PgDatabase.open(PG_SERVER.rsplit("/", 1)[0] + "/" + name)
        try:
            await fill(building)  # type: ignore[arg-type]
        finally:
            await building.close()
        POSTGRES_TEMPLATES["digest"] = name
    template = POSTGRES_TEMPLATES["digest"]
    async with fresh_postgres(template=template) as url:
        database = await PgDatabase.open(url)
        try:
            yield database  # type: ignore[misc]
        finally:
            await database.close()


@pytest.fixture
async def digest(db: Database, centres: CentreService) -> DigestService:
    """The digest over `fill`'s data, the province's digest time 07:00."""
    return DigestService(DigestRepo(db), ReportsRepo(db), PeopleRepo(db), centres, TZ, time(7, 0))


async def dossiers_by_the_lookup_rule(db: Database) -> list[tuple[str, datetime, datetime | None, datetime | None]]:
    """(commune, received, due, finished time) of every dossier, the finished time by `finished_time` over the
    history, as a lookup computes it (not through `done_at`)."""
    history: dict[int, list[HistoryStep]] = {}
    for row in await db.fetchall("SELECT dossier_id, status, at, source FROM dossier_history ORDER BY at, id"):
        history.setdefault(row[0], []).append(HistoryStep(row[1], from_sql_time(row[2]), row[3]))
    found = []
    for row in await db.fetchall("SELECT * FROM dossiers"):
        dossier = Dossier(
            row["id"],
            row["code"],
            row["procedure_name"],
            row["commune_code"],
            from_sql_time(row["received_at"]),
            from_sql_time(row["due_at"]) if row["due_at"] else None,
            row["status"],
            from_sql_time(row["finished_at"]) if row["finished_at"] else None,
            from_sql_time(row["returned_at"]) if row["returned_at"] else None,
        )
        done = finished_time(dossier, history[dossier.id])
        found.append((dossier.commune_code, dossier.received_at, dossier.due_at, done))
        STANDINGS[dossier.id] = (dossier.commune_code, standing(dossier, history[dossier.id], MORNING, TZ))
    return found


# The one rule's verdict on each dossier at the digest's morning (filled by `dossiers_by_the_lookup_rule`).
STANDINGS: dict[int, tuple[str, Standing]] = {}


def local_day(moment: datetime) -> date:
    return moment.astimezone(TZ).date()


def count_window(rows: Iterable[tuple[str, datetime, datetime | None, datetime | None]], window: Window) -> dict:
    """Per commune: [received, finished, finished with a due date, on time] in the window."""
    result: dict[str, list[int]] = {}
    for commune, received, due, done in rows:
        counts = result.setdefault(commune, [0, 0, 0, 0])
        counts[0] += window.start <= local_day(received) < window.end
        if done is not None and window.start <= local_day(done) < window.end:
            counts[1] += 1
            if due is not None:
                counts[2] += 1
                counts[3] += local_day(done) <= local_day(due)
    return result


def as_list(totals: object) -> list[int]:
    return [totals.received, totals.finished, totals.with_due, totals.on_time]  # type: ignore[attr-defined]


async def test_every_figure_matches_the_database(digest: DigestService, db: Database) -> None:
    for kind in (DAILY, WEEKLY):
        built = await digest.build(DAY, kind)
        rows = await dossiers_by_the_lookup_rule(db)
        period, previous, month, month_previous = windows(kind, DAY)
        for window, field in (
            (period, "current"),
            (previous, "previous"),
            (month, "month"),
            (month_previous, "month_previous"),
        ):
            expected = count_window(rows, window)
            for commune in built.communes:
                assert as_list(getattr(commune, field)) == expected.get(commune.code, [0, 0, 0, 0]), (
                    kind,
                    field,
                    commune.name,
                )
        overdue: dict[str, int] = {}
        for commune, verdict in STANDINGS.values():  # by the one rule, as each dossier's lookup says it
            if verdict.timeliness is Timeliness.OVERDUE:
                overdue[commune] = overdue.get(commune, 0) + 1
        assert {c.code: c.overdue for c in built.communes if c.overdue} == overdue
        waiting: dict[str, int] = {}
        for commune, verdict in STANDINGS.values():
            if verdict.timeliness is Timeliness.WAITING:
                waiting[commune] = waiting.get(commune, 0) + 1
        assert {c.code: c.waiting for c in built.communes if c.waiting} == waiting and built.waiting > 0
        assert built.overdue == sum(overdue.values()) > 0
        open_now: dict[str, int] = {}
        for commune, verdict in STANDINGS.values():  # open now: overdue or still before its date
            if verdict.timeliness in (Timeliness.OVERDUE, Timeliness.PENDING, Timeliness.NO_DUE_DATE):
                open_now[commune] = open_now.get(commune, 0) + 1
        ranked = [(code, n, open_now[code]) for code, n in overdue.items() if open_now[code] >= 10]
        top = sorted(ranked, key=lambda r: (-r[1] / r[2], -r[1], built_name(built, r[0])))[:5]
        assert [(c.code, c.overdue, c.open) for c in built.most_overdue] == top  # by rate, not by count
        procedures: dict[str, int] = {}
        for row in await db.fetchall("SELECT id, procedure_name FROM dossiers"):
            if STANDINGS[row[0]][1].timeliness is Timeliness.OVERDUE:
                procedures[row[1]] = procedures.get(row[1], 0) + 1
        assert list(built.procedures) == sorted(procedures.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        staffing = working_window(DAY)
        busy = count_window(rows, staffing)
        for commune in built.communes:
            assert commune.per_day == pytest.approx(busy.get(commune.code, [0])[0] / 20)
    assert built.month_totals.received == sum(
        1 for _, received, _, _ in rows if month.start <= local_day(received) < DAY
    )
    assert sum(c.month.received for c in built.by_kind("phuong")) + sum(
        c.month.received for c in built.by_kind("xa")
    ) == (built.month_totals.received)
    assert len(built.by_kind("phuong")) == 4 and len(built.by_kind("xa")) == 61


def built_name(built: Digest, code: str) -> str:
    return next(c.name for c in built.communes if c.code == code)


async def test_reports_and_staffing(digest: DigestService, db: Database) -> None:
    built = await digest.build(DAY)
    reports = built.reports
    open_rows = await db.fetchall(
        "SELECT category, severity, target_at FROM reports WHERE state IN ('new', 'received', 'in_progress') AND created_at < ?",
        ("2025-08-04 00:00:00",),
    )
    assert reports.open_total == len(open_rows) + 1  # the kitchen report came after the digest time, still open
    assert [r.description for r in reports.new] == ["Mất điện."]  # the 24 hours before 07:00
    assert [r.description for r in reports.past_target] == ["Mạng chập chờn."]
    assert [r.description for r in reports.blocking] == ["Mất điện."]
    assert dict(reports.by_severity) == {"blocking": 1, "high": 1, "medium": 1, "low": 1}
    assert sum(n for _, n in reports.by_category) == reports.open_total
    # Staffing: the provincial report's rule: up to 10 dossiers a day 2 desk staff, up to 20 3, busier 5 or more.
    for commune in built.communes:
        per_day = commune.per_day
        rule = 2 if per_day <= 10 else 3 if per_day <= 20 else max(5, math.ceil(per_day / (20 / 3) - 1e-9))
        assert commune.needed == rule
        if commune.staff:
            assert commune.under_pressure == (commune.staff < rule)
    dong_kinh = next(c for c in built.communes if c.code == "05977")
    assert dong_kinh.per_day > 20 and dong_kinh.under_pressure and dong_kinh in built.pressure  # a ward on 3 staff
    assert {c.code for c in built.unstaffed} == set(built_codes(built)) - {"05977", "06385", "06016", "06019", "06076"}


def built_codes(built: Digest) -> list[str]:
    return [c.code for c in built.communes]


@pytest.mark.parametrize(
    ("day", "kinds", "period", "previous"),
    [
        (date(2025, 8, 4), ("daily", "weekly"), ("2025-08-01", "2025-08-04"), ("2025-07-31", "2025-08-01")),
        (date(2025, 8, 5), ("daily",), ("2025-08-04", "2025-08-05"), ("2025-08-01", "2025-08-04")),
        (date(2025, 8, 2), (), ("2025-08-01", "2025-08-02"), ("2025-07-31", "2025-08-01")),  # a Saturday: none
        (date(2025, 9, 1), (), ("2025-08-29", "2025-09-01"), ("2025-08-28", "2025-08-29")),  # National Day
        (date(2025, 9, 3), ("daily", "weekly"), ("2025-08-29", "2025-09-03"), ("2025-08-28", "2025-08-29")),
        (date(2026, 2, 23), ("daily", "weekly"), ("2026-02-13", "2026-02-23"), ("2026-02-12", "2026-02-13")),  # Tết
    ],
)
def test_digests_go_on_working_days_and_compare_working_days(
    day: date, kinds: tuple[str, ...], period: tuple[str, str], previous: tuple[str, str]
) -> None:
    """Weekends and Vietnam's public holidays (the `holidays` package): no digest on them, and the next one covers
    them with the working day before; each compares with as many working days (issue 15)."""
    assert digest_kinds(day) == kinds
    current, before, month, month_before = windows(DAILY, day)
    assert (current.start.isoformat(), current.end.isoformat()) == period
    assert (before.start.isoformat(), before.end.isoformat()) == previous
    assert working_days(month) == working_days(month_before) or month_before.end == month.start
    weekly, weekly_before, _, _ = windows(WEEKLY, date(2025, 9, 8))  # the week of National Day: 3 working days
    assert working_days(weekly) == working_days(weekly_before) == 3


async def test_the_text_is_babel_formatted_and_fits_telegram(digest: DigestService) -> None:
    built = await digest.build(DAY)
    vi, en = translator("vi"), translator("en")
    parts = digest.render(built, vi)
    text = "\n".join(parts)
    assert all(len(part) <= MESSAGE_LIMIT for part in parts)
    assert text.startswith("📊 TÓM TẮT NGÀY — Thứ Hai, 4 tháng 8, 2025\nTỉnh Lạng Sơn · 65 xã, phường")
    assert f"• Tiếp nhận: {vi.number(built.month_totals.received)}" in text
    finished = built.month_totals.finished
    assert finished >= 1000 and f"• Giải quyết xong: {vi.number(finished)}" in text and "." in vi.number(finished)
    rate = built.month_totals.rate
    assert rate is not None and f"• Đúng hạn: {vi.percent(rate)}" in text and "," in vi.percent(rate)
    # A Monday: Friday's working day and the weekend, compared with Thursday (issue 15: never a Sunday's zeros)
    assert "📁 Hồ sơ từ ngày làm việc trước (01/08/2025 – 03/08/2025):" in text
    assert "so với ngày làm việc trước đó" in text
    assert "• 4 phường: tiếp nhận" in text and "• 61 xã: tiếp nhận" in text
    assert "🚨 Đang dừng phục vụ người dân: 1" in text and "BC-000004 Xã Hữu Lũng — Điện, nước, nhà vệ sinh" in text
    assert "Phường Đông Kinh:" in text and "điều động ngắn hạn cán bộ từ các phòng chuyên môn của mình" in text
    assert "cách" not in text and " km" not in text  # no staff moved between communes (issue 15)
    english = "\n".join(digest.render(built, en))
    assert english.startswith("📊 DAILY DIGEST — Monday, August 4, 2025")
    assert f"• Received: {en.number(built.month_totals.received)}" in english
    caption = digest.caption(built, vi)
    assert len(caption) <= CAPTION_LIMIT and "01/08/2025 – 03/08/2025" in caption
    png = await digest.chart(built, vi)
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert_chart_reads_at_a_glance(built)
    one = await digest.build(DAY, commune="05977")
    single = "\n".join(digest.render(one, vi))
    assert "Phường Đông Kinh" in single.splitlines()[1] and "Phường và xã" not in single


def test_long_text_is_split_between_lines() -> None:
    lines = [f"• dòng {n}: " + "x" * 90 for n in range(200)]
    parts = split_text("\n".join(lines[:100]) + "\n\n" + "\n".join(lines[100:]), 4096)
    assert all(len(part) <= 4096 for part in parts) and len(parts) > 4
    assert "\n".join(parts).replace("\n\n", "\n").split("\n") == lines  # nothing lost, no line cut
    assert split_text("a" * 5000, 4096) == ["a" * 4096, "a" * 904]


async def test_each_leader_gets_each_digest_once(digest: DigestService, db: Database) -> None:
    people = PeopleRepo(db)
    access = Access(Role.LEADER)
    await digest.change(EARLY_LEADER, access, MORNING, at=time(6, 30))
    await digest.change(PAUSED_LEADER, access, MORNING, paused=True)
    with pytest.raises(PermissionError):
        await digest.change(OFFICIAL, Access(Role.OFFICIAL, "06385"), MORNING, paused=True)
    assert await digest.times() == {time(7, 0), time(6, 30)}

    assert await digest.queue_due(datetime(2025, 8, 4, 6, 29, tzinfo=TZ)) == 0
    assert await digest.queue_due(datetime(2025, 8, 4, 6, 31, tzinfo=TZ)) == 2  # the early leader: daily, weekly
    assert await digest.queue_due(datetime(2025, 8, 4, 7, 0, tzinfo=TZ)) == 2  # the other, at 07:00
    assert await digest.queue_due(datetime(2025, 8, 4, 9, 0, tzinfo=TZ)) == 0  # never twice
    rows = await db.fetchall("SELECT person_id, kind, thread, payload FROM outbox WHERE thread IS NOT NULL ORDER BY id")
    assert {row[0] for row in await db.fetchall("SELECT urgent FROM outbox WHERE thread IS NOT NULL")} == {1}
    leader_id = await people.id_of(LEADER.channel, LEADER.external_id)
    paused_id = await people.id_of(PAUSED_LEADER.channel, PAUSED_LEADER.external_id)
    assert paused_id not in {row[0] for row in rows}
    mine = [row for row in rows if row[0] == leader_id]
    assert {row[2] for row in mine} == {f"digest:2025-08-04:{leader_id}"}  # one thread: in order
    assert [row[1] for row in mine][-1] == "digest_chart" and json.loads(mine[0][3])["text"].startswith("📊 TÓM TẮT")
    assert await digest.chart_png(DAILY, "2025-08-04", "vi") is not None
    # The next morning, only Tuesday's daily digest; Monday's are not sent again, even if missed.
    assert await digest.queue_due(datetime(2025, 8, 5, 8, 0, tzinfo=TZ)) == 2
    await digest.change(PAUSED_LEADER, access, MORNING, paused=False)
    assert await digest.queue_due(datetime(2025, 8, 5, 8, 0, tzinfo=TZ)) == 1  # resumed: today's only
    assert await digest.change(EARLY_LEADER, access, MORNING) == (time(6, 30), False)  # as they were


def test_windows_of_the_calendar() -> None:
    period, previous, month, month_previous = windows(DAILY, date(2025, 8, 1))
    assert (period, previous) == (
        Window(date(2025, 7, 31), date(2025, 8, 1)),
        Window(date(2025, 7, 30), date(2025, 7, 31)),
    )
    assert month == Window(date(2025, 7, 1), date(2025, 8, 1))  # on the 1st: the whole month before
    assert month_previous == Window(date(2025, 6, 1), date(2025, 7, 1))  # June has 30 days: clamped
    assert windows(WEEKLY, DAY)[:2] == (Window(date(2025, 7, 28), DAY), Window(date(2025, 7, 21), date(2025, 7, 28)))
    assert working_window(DAY) == Window(date(2025, 7, 7), DAY)  # 20 weekdays back from Friday 1 August
    assert datetime(2025, 8, 4, 0, 0, tzinfo=TZ).astimezone(UTC).hour == 17


async def test_the_pacer_keeps_telegrams_limits() -> None:
    ticks, waits = [0.0], []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        ticks[0] += seconds

    pacer = Pacer(ticks=lambda: ticks[0], sleep=sleep)
    for n in range(30):  # thirty chats at once: no wait
        await pacer.wait(Person("telegram", str(n)))
    assert waits == []
    await pacer.wait(Person("telegram", "30"))  # the 31st within the same second waits for it to pass (and 50 ms)
    assert waits == [pytest.approx(1.05)]
    ticks[0] += 0.25
    assert pacer.chat_delay(Person("telegram", "30")) == pytest.approx(0.8)
    assert pacer.chat_delay(Person("telegram", "31")) == 0.0
    await pacer.wait(Person("telegram", "30"))  # the same chat again: one a second (and 50 ms)
    assert waits == [pytest.approx(1.05), pytest.approx(0.8)]


async def test_processes_draining_one_outbox_share_the_rate() -> None:
    """Three processes alive: each allows itself 10 sends a second; back to one, 30 again."""
    ticks, waits = [0.0], []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        ticks[0] += seconds

    pacer = Pacer(ticks=lambda: ticks[0], sleep=sleep)
    pacer.share(3)
    assert pacer.overall == 10
    for n in range(10):
        await pacer.wait(Person("telegram", str(n)))
    assert waits == []
    await pacer.wait(Person("telegram", "10"))  # the 11th within the second waits
    assert waits == [pytest.approx(1.05)]
    pacer.share(1)
    assert pacer.overall == 30
    for n in range(11, 31):  # room for 20 more within the next second
        await pacer.wait(Person("telegram", str(n)))
    assert len(waits) == 1


async def test_a_digest_not_sent_on_its_day_expires(digest: DigestService, db: Database) -> None:
    outbox = OutboxRepo(db)
    assert await digest.queue_due(MORNING) == 6  # three leaders: the daily and the weekly (nothing sent: a crash)
    tuesday = datetime(2025, 8, 5, 8, 0, tzinfo=TZ)
    await digest.queue_due(tuesday)
    now = to_sql_time(tuesday)
    pending = await outbox.pending("telegram", now, 1000)
    assert {row.thread for row in pending if row.thread} == {"digest:2025-08-05:2", "digest:2025-08-05:4"}
    assert await outbox.expire(now) == 3 * 2 * 2  # Monday: three leaders, two digests, a text and a chart each
    failed = await db.fetchall("SELECT DISTINCT last_error FROM outbox WHERE failed_at IS NOT NULL")
    assert [row[0] for row in failed] == ["expired"]


async def test_a_revoked_leader_gets_nothing_the_role_brought(digest: DigestService, db: Database) -> None:
    await digest.queue_due(MORNING)
    roles = RolesService(RolesRepo(db), PeopleRepo(db), frozenset())
    [holder] = [h for h in await roles.holders() if h.person == LEADER]
    await roles.revoke(holder.person_id, "telegram:1", MORNING)
    rows = await db.fetchall(
        "SELECT kind, failed_at IS NOT NULL FROM outbox WHERE person_id = ? ORDER BY id", (holder.person_id,)
    )
    kinds = {kind: bool(failed) for kind, failed in rows}
    assert kinds == {"report_blocking": True, "role_revoked": False}  # the digests, never sent, are forgotten


async def test_a_past_day_counts_the_overdue_of_that_morning(digest: DigestService, db: Database) -> None:
    monday = await digest.build(DAY)
    async with db.transaction() as conn:  # later that day, everything open is finished
        await conn.execute(
            "UPDATE dossiers SET done_at = '2025-08-04 05:00:00', status = 9 WHERE done_at IS NULL"
            " AND status IN (1, 2, 4, 11)"
        )
    assert (await digest.build(DAY)).overdue == 0  # as of now: everything finished since
    assert (await digest.build(DAY, as_of_day=True)).overdue == monday.overdue > 0


def test_a_long_line_keeps_its_place() -> None:
    assert split_text("first line\n" + "x" * 5000, 4096) == ["first line", "x" * 4096, "x" * 904]


async def test_staffing_by_the_load_per_officer(digest: DigestService, centres: CentreService) -> None:
    await centres.update_details("06076", {"desk_staff": 0}, "test", MORNING.isoformat())
    built = await digest.build(DAY)
    quy_hoa = next(c for c in built.communes if c.code == "06076")
    text = "\n".join(digest.render(built, translator("vi")))
    assert quy_hoa.under_pressure and "• Xã Quý Hòa: " in text and "chưa có cán bộ một cửa — cần 2" in text
    huu_lung = next(c for c in built.communes if c.code == "06385")  # 2 officers
    assert huu_lung.under_pressure == (huu_lung.per_day > 10)


async def test_a_target_passed_this_morning_is_a_day_late(digest: DigestService, db: Database) -> None:
    roles = RolesService(RolesRepo(db), PeopleRepo(db), frozenset())
    reports = ReportService(ReportsRepo(db), PeopleRepo(db), roles, DraftsRepo(db))
    filed = MORNING - timedelta(days=2, hours=1)  # IT: two days, so the target was 06:00 today
    await reports.file(OFFICIAL, Draft("it", "medium", "Máy chủ chậm."), filed)
    text = "\n".join(digest.render(await digest.build(DAY), translator("vi")))
    assert "BC-000006 Xã Hữu Lũng — Công nghệ thông tin, mạng (quá 1 ngày)" in text
    assert "quá 0 ngày" not in text


async def test_a_role_changed_by_a_new_invite_ends_the_old_roles_messages(digest: DigestService, db: Database) -> None:
    roles = RolesService(RolesRepo(db), PeopleRepo(db), frozenset())
    await digest.queue_due(MORNING)
    official_invite = await roles.invite(Role.OFFICIAL, "06385", "cli", MORNING)
    await roles.redeem(LEADER, official_invite.code, MORNING)  # the leader becomes an official
    person_id = await PeopleRepo(db).id_of(LEADER.channel, LEADER.external_id)
    rows = await db.fetchall(
        "SELECT kind FROM outbox WHERE person_id = ? AND failed_at IS NULL AND claimed_at IS NULL", (person_id,)
    )
    assert [row[0] for row in rows] == []  # no digest, no stop-service alert for an official


async def test_a_leader_given_the_role_back_the_same_day_gets_that_days_digest(
    digest: DigestService, db: Database
) -> None:
    roles = RolesService(RolesRepo(db), PeopleRepo(db), frozenset())
    await digest.queue_due(MORNING)
    [holder] = [h for h in await roles.holders() if h.person == LEADER]
    await roles.revoke(holder.person_id, "telegram:1", MORNING)  # nothing of it was sent yet
    await roles.redeem(LEADER, (await roles.invite(Role.LEADER, None, "cli", MORNING)).code, MORNING)
    assert await digest.queue_due(MORNING + timedelta(hours=1)) == 2  # daily and weekly, queued again


async def test_the_sent_text_is_found_by_the_language_it_was_written_in(digest: DigestService, db: Database) -> None:
    await digest.queue_due(MORNING)  # every leader reads Vietnamese
    people = PeopleRepo(db)
    await people.set_language(LEADER.channel, LEADER.external_id, "en", MORNING.isoformat())  # later
    vietnamese = await digest.queued_texts(DAILY, DAY, "vi")
    assert vietnamese is not None and vietnamese[0].startswith("📊 TÓM TẮT NGÀY")
    assert await digest.queued_texts(DAILY, DAY, "en") is None  # nobody was sent it in English


async def add_every_status(db: Database) -> None:
    """Dossiers of the week before DAY in every one of the eleven statuses, some submitted online, some withdrawn
    or refused in the week, and ratings: what the demo data lacks."""
    repo = DossiersRepo(db)
    rows = []
    for n in range(44):
        status = n % 11 + 1
        day = 28 + n % 7  # 28 July – 3 August
        received = f"2025-07-{day:02d} 02:00:00" if day <= 31 else f"2025-08-{day - 31:02d} 02:00:00"
        rows.append(
            DossierRow(
                code_key=f"EVERY{n:03d}",
                code=f"EVERY-250801-{n:04d}",
                procedure_code=None,
                procedure_name="Chứng thực bản sao",
                commune_code=("06385", "06076", "05977")[n % 3],
                received_at=received,
                due_at="2025-08-01 10:00:00",
                status=status,
                finished_at="2025-08-03 03:00:00" if status in (8, 9, 10) and n % 2 else None,
                returned_at="2025-08-03 05:00:00" if status == 10 else None,
                channel=2 if n % 4 == 0 else 1,
                applicant=None,
            )
        )
    await repo.apply(rows, "import:every.csv", "2025-08-03 09:00:00")
    async with db.transaction() as conn:
        ids = [row[0] for row in await conn.execute_fetchall("SELECT id FROM dossiers WHERE code_key LIKE 'EVERY%'")]
        await conn.execute(
            "INSERT INTO people (id, channel, external_id, created_at, updated_at) VALUES (9999, 'zalo', 'r', '', '')"
        )
        await conn.executemany(
            "INSERT INTO ratings (person_id, dossier_id, commune_code, procedure_name, score, rated_at, changed_at)"
            " VALUES (9999, ?, ?, 'Chứng thực bản sao', ?, ?, ?)",
            [
                (dossier, ("06385", "06076")[i % 2], i % 3 + 1, at, at)
                for i, dossier in enumerate(ids[:12])
                for at in [("2025-08-03 04:00:00" if i % 4 else "2025-07-20 04:00:00")]
            ],
        )


async def recount(db: Database, kind: str) -> dict[str, dict[str, object]]:
    """Every figure of `--json`, per commune, recounted from the rows with the one rule (`standing`)."""
    period = windows(kind, DAY)[0]

    def inside(moment: datetime | None) -> bool:
        return moment is not None and period.start <= local_day(moment) < period.end

    history: dict[int, list[HistoryStep]] = {}
    for row in await db.fetchall("SELECT dossier_id, status, at, source FROM dossier_history ORDER BY at, id"):
        history.setdefault(row[0], []).append(HistoryStep(row[1], from_sql_time(row[2]), row[3]))
    counts: dict[str, dict[str, object]] = {}
    for row in await db.fetchall("SELECT * FROM dossiers"):
        dossier = to_dossier(_dossier(row))
        steps = history[dossier.id]
        c = counts.setdefault(dossier.commune_code, dict.fromkeys(KEYS, 0) | {"ratings": [0, 0, 0]})
        verdict = standing(dossier, steps, MORNING, TZ)
        c["received"] += inside(dossier.received_at)  # type: ignore[operator]
        c["online"] += inside(dossier.received_at) and row["channel"] == 2  # type: ignore[operator]
        if inside(finished_time(dossier, steps)):
            c["finished"] += 1  # type: ignore[operator]
            c["finished_on_time"] += verdict.on_time  # type: ignore[operator]
            c["finished_late"] += verdict.timeliness is Timeliness.LATE  # type: ignore[operator]
        c["overdue"] += verdict.timeliness is Timeliness.OVERDUE  # type: ignore[operator]
        c["waiting_on_applicant"] += verdict.timeliness is Timeliness.WAITING  # type: ignore[operator]
        for status, key in ((7, "withdrawn"), (3, "not_received")):
            if dossier.status == status and any(s.status == status and inside(s.at) for s in steps):
                c[key] += 1  # type: ignore[operator]
    for row in await db.fetchall("SELECT commune_code, score, rated_at FROM ratings"):
        if inside(from_sql_time(row["rated_at"])):
            c = counts.setdefault(row["commune_code"], dict.fromkeys(KEYS, 0) | {"ratings": [0, 0, 0]})
            c["ratings"][3 - row["score"]] += 1  # type: ignore[index]
    for c in counts.values():
        c["ratings"] = dict(zip(("rat_hai_long", "hai_long", "khong_hai_long"), c["ratings"], strict=True))  # type: ignore[call-overload]
    return counts


KEYS = (
    "received", "finished", "finished_on_time", "finished_late", "overdue", "waiting_on_applicant", "withdrawn",
    "not_received", "online",
)  # fmt: skip


@pytest.mark.parametrize("kind", [DAILY, WEEKLY])
async def test_every_figure_of_the_json_is_a_recount_by_the_one_rule(
    digest: DigestService, db: Database, kind: str
) -> None:
    """`phucvu digest --json` (issue 15): each commune's figures and the province's totals equal a recount from
    the rows with `standing`, on 35 days of demo data and dossiers in all eleven statuses."""
    await add_every_status(db)
    figures = (await digest.build(DAY, kind)).json()
    expected = await recount(db, kind)
    empty = dict.fromkeys(KEYS, 0) | {"ratings": {"rat_hai_long": 0, "hai_long": 0, "khong_hai_long": 0}}
    for commune in figures["communes"]:
        got = {key: value for key, value in commune.items() if key not in ("code", "name")}
        assert got == expected.get(commune["code"], empty), commune["name"]
    province = figures["province"]
    for key in KEYS:
        assert province[key] == sum(c[key] for c in figures["communes"]), key
    assert all(province[key] > 0 for key in KEYS), province  # the data reaches every figure
    assert sum(province["ratings"].values()) > 0
    text = "\n".join(digest.render(await digest.build(DAY, kind), translator("vi")))
    assert f"• Tiếp nhận: {province['received']:,}".replace(",", ".") in text
    assert f"⏰ Quá hạn hiện nay: {province['overdue']:,}".replace(",", ".") in text
    assert "• Rút hồ sơ: " in text and "• Nộp trực tuyến: " in text and "• Người dân đánh giá: " in text


def assert_chart_reads_at_a_glance(built: Digest) -> None:
    """Issue 15: on-time rates on a scale that separates communes, nothing clipped, wards told apart from communes,
    names legible on a phone."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = chart_figure(built, translator("vi"))
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    bars, rates = figure.axes[:2]
    known = [c.month.rate for c in built.communes if c.month.rate is not None]
    low, high = rates.get_xlim()
    assert low <= min(known) and high > 1.0  # every dot whole, 100% included
    assert high - low <= (1.0 - min(known)) * 1.3 + RATE_STEP * 1.3  # not 0–100%: the spread fills the width
    box = figure.bbox
    texts: list[Text] = list(figure.texts)  # the title
    for axis in (bars, rates):
        legend = axis.get_legend()
        texts += [axis.title, axis.xaxis.label, *axis.texts, *(legend.get_texts() if legend else ())]
        shown = axis.get_xlim()
        ticks = [tick.label1 for tick in axis.xaxis.get_major_ticks() if shown[0] <= tick.get_loc() <= shown[1]]
        texts += ticks + list(axis.get_yticklabels())
    texts = [text for text in texts if text.get_visible() and text.get_text().strip()]
    assert len(texts) > 3 * len(built.communes)  # names, counts, rates
    for text in texts:  # nothing outside the picture
        extent = text.get_window_extent(renderer)
        assert box.x0 - 1 <= extent.x0 and extent.x1 <= box.x1 + 1, text.get_text()
        assert box.y0 - 1 <= extent.y0 and extent.y1 <= box.y1 + 1, text.get_text()
    names = [label.get_text() for label in bars.get_yticklabels()]
    assert len(names) == len(built.communes) and names[0].startswith("Phường")  # the busiest at the top
    assert all(label.get_fontsize() >= 10 for label in bars.get_yticklabels())
    colours = {name: tuple(patch.get_facecolor()) for name, patch in zip(names, bars.patches, strict=True)}
    wards = {colour for name, colour in colours.items() if name.startswith("Phường")}
    communes = {colour for name, colour in colours.items() if name.startswith("Xã")}
    assert len(wards) == 1 and len(communes) == 1 and wards != communes
