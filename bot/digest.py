"""The leaders' digest: every morning (and on Mondays for the week), how the centres serve people and where they
struggle, in figures read straight from the database and written with Babel in the leader's language.

`DigestService.build` computes a `Digest` for a day (its figures cover the days before it); `render` writes it as
text parts that fit Telegram's 4,096 characters; `chart` draws volume and on-time rate per commune. `queue_due`
queues each leader's digest through the outbox, once per (leader, kind, day), so that a restart can neither lose
today's nor send it twice. Times are the province's (`PHUCVU_TIMEZONE`); the clock is always passed in.

Staffing follows the provincial report (../shared/context): a centre with up to 10 dossiers a working day needs 2
desk staff, up to 20 needs 3, and a busy one 5 or more (one per 20/3 ≈ 6.7 dossiers a day beyond that,
`STAFF_CAPACITY`). For a busy spell the report's advice is to lend staff for a short while from the commune's own
specialised departments (phòng chuyên môn): the digest says so, and never proposes moving staff between communes.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.centres import CentreService
from bot.config import parse_time_of_day
from bot.dossiers import from_sql_time, to_sql_time
from bot.i18n import N_, Translator, translator
from bot.people import Person
from bot.report_export import sign
from bot.reports import CATEGORIES, SEVERITIES, Report, report_from_stored
from bot.roles import Access, Role
from bot.text import split_text
from bot.workdays import is_working, previous_working
from storage.digest import DigestRepo, Finished
from storage.people import PeopleRepo
from storage.reports import ReportsRepo

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DAILY = "daily"
WEEKLY = "weekly"
KINDS = (DAILY, WEEKLY)
STAFF_CAPACITY = 20 / 3  # dossiers one desk officer handles in a working day
MIN_STAFF = 2
BUSY_STAFF = 5
WORKING_DAYS = 20  # the staffing figures average the last 20 working days (Monday to Friday)
MIN_OPEN = 10  # open dossiers a commune needs before its overdue rate ranks it
TOP_OVERDUE = 5
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
KIND_NAMES = {"phuong": N_("phường"), "xa": N_("xã"), "dac_khu": N_("đặc khu")}


@dataclass(frozen=True)
class Totals:
    """Dossier figures over a window: received, finished, finished with an appointment date, of those on time."""

    received: int = 0
    finished: int = 0
    with_due: int = 0
    on_time: int = 0

    @property
    def rate(self) -> float | None:
        """The on-time rate (None when nothing with an appointment date finished)."""
        return self.on_time / self.with_due if self.with_due else None

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.received + other.received,
            self.finished + other.finished,
            self.with_due + other.with_due,
            self.on_time + other.on_time,
        )


def total(items: Iterable[Totals]) -> Totals:
    """The sum of several."""
    result = Totals()
    for item in items:
        result += item
    return result


@dataclass(frozen=True)
class Window:
    """Days of the province's calendar, `start` included, `end` excluded."""

    start: date
    end: date

    @property
    def days(self) -> int:
        """How many days it spans."""
        return (self.end - self.start).days

    @property
    def last(self) -> date:
        """Its last day."""
        return self.end - timedelta(days=1)


@dataclass(frozen=True)
class CommuneFigures:
    """One commune in the digest."""

    code: str
    name: str
    kind: str
    current: Totals
    previous: Totals
    month: Totals
    month_previous: Totals
    overdue: int
    per_day: float  # dossiers received per working day, over the last WORKING_DAYS
    staff: int | None
    waiting: int = 0  # waiting on the applicant now (5, 6): never overdue, counted apart
    online: int = 0  # of the period's received dossiers, those submitted online (kenh_nop 2)
    withdrawn: int = 0  # withdrawn (7) in the period
    not_received: int = 0  # not received (3) in the period
    ratings: tuple[int, int, int] = (0, 0, 0)  # the period's ratings: rất hài lòng, hài lòng, không hài lòng
    open: int = 0  # open dossiers now (1, 2, 4, 11): what the overdue rate is out of

    def figures(self) -> dict[str, Any]:
        """The period's figures under the keys of `phucvu digest --json` (the same numbers the text shows)."""
        return figures_of([self])

    @property
    def needed(self) -> int:
        """Desk staff the provincial report's rule asks for: 2 up to 10 dossiers a working day, 3 up to 20, and a
        busy centre 5 or more."""
        if self.per_day <= 10 + 1e-9:
            return MIN_STAFF
        if self.per_day <= 20 + 1e-9:
            return 3
        return max(BUSY_STAFF, math.ceil(round(self.per_day / STAFF_CAPACITY, 6)))

    @property
    def per_staff(self) -> float | None:
        """Dossiers per desk officer per working day."""
        return self.per_day / self.staff if self.staff else None

    @property
    def under_pressure(self) -> bool:
        """Fewer desk staff than the report's rule asks for the centre's load (a centre that has not said how many
        it has is listed apart)."""
        if self.staff is None:
            return False
        if self.staff == 0:
            return self.per_day > 0
        return self.staff < self.needed


@dataclass(frozen=True)
class ReportFigures:
    """Facility reports for the digest."""

    new: tuple[Report, ...] = ()
    open_total: int = 0
    by_category: tuple[tuple[str, int], ...] = ()
    by_severity: tuple[tuple[str, int], ...] = ()
    past_target: tuple[Report, ...] = ()
    blocking: tuple[Report, ...] = ()


@dataclass(frozen=True)
class Digest:
    """Everything a digest says, before it is written in a language."""

    kind: str
    day: date
    province: str
    commune: str | None  # the code, for one commune's digest
    period: Window
    previous: Window
    month: Window
    month_previous: Window
    staffing: Window
    communes: tuple[CommuneFigures, ...]
    reports: ReportFigures
    procedures: tuple[tuple[str, int], ...] = ()  # the procedures with most overdue dossiers now

    @property
    def current(self) -> Totals:
        """The period's totals."""
        return total(c.current for c in self.communes)

    def json(self) -> dict[str, Any]:
        """`phucvu digest --json`: the period's figures, the province's (or the commune's) and each commune's."""
        return {
            "date": self.day.isoformat(),
            "kind": self.kind,
            "period": {"start": self.period.start.isoformat(), "end": self.period.last.isoformat()},
            "province": figures_of(self.communes),
            "communes": [{"code": c.code, "name": c.name, **c.figures()} for c in self.communes],
        }

    @property
    def before(self) -> Totals:
        """The previous period's totals."""
        return total(c.previous for c in self.communes)

    @property
    def month_totals(self) -> Totals:
        """Month to date."""
        return total(c.month for c in self.communes)

    @property
    def month_before(self) -> Totals:
        """The same days of the previous month."""
        return total(c.month_previous for c in self.communes)

    @property
    def waiting(self) -> int:
        """Dossiers waiting on their applicants now, in the province or the commune."""
        return sum(c.waiting for c in self.communes)

    @property
    def overdue(self) -> int:
        """Unfinished dossiers past their appointment day."""
        return sum(c.overdue for c in self.communes)

    @property
    def most_overdue(self) -> list[CommuneFigures]:
        """The communes with the highest overdue rate (overdue out of their open dossiers), among those with at
        least `MIN_OPEN` open: a commune with one dossier, overdue, is not the province's worst (at most five)."""
        ranked = sorted(
            (c for c in self.communes if c.overdue and c.open >= MIN_OPEN),
            key=lambda c: (-c.overdue / c.open, -c.overdue, c.name),
        )
        return ranked[:TOP_OVERDUE]

    def by_kind(self, kind: str) -> list[CommuneFigures]:
        """The communes of one kind (phường, xã)."""
        return [c for c in self.communes if c.kind == kind]

    @property
    def pressure(self) -> list[CommuneFigures]:
        """Communes short of desk staff, the most loaded first."""
        return sorted((c for c in self.communes if c.under_pressure), key=lambda c: -(c.per_staff or math.inf))

    @property
    def unstaffed(self) -> list[CommuneFigures]:
        """Communes that have not said how many desk staff they have."""
        return [c for c in self.communes if c.staff is None]


def figures_of(communes: Sequence[CommuneFigures]) -> dict[str, Any]:
    """The period's figures of some communes, summed, under the keys of `phucvu digest --json`."""
    current = total(c.current for c in communes)
    return {
        "received": current.received,
        "finished": current.finished,
        "finished_on_time": current.on_time,
        "finished_late": current.with_due - current.on_time,
        "overdue": sum(c.overdue for c in communes),
        "waiting_on_applicant": sum(c.waiting for c in communes),
        "withdrawn": sum(c.withdrawn for c in communes),
        "not_received": sum(c.not_received for c in communes),
        "online": sum(c.online for c in communes),
        "ratings": {
            key: sum(c.ratings[i] for c in communes)
            for i, key in enumerate(("rat_hai_long", "hai_long", "khong_hai_long"))
        },
    }


def _month_start(day: date) -> date:
    return day.replace(day=1)


def working_days(window: Window) -> int:
    """How many working days a window holds."""
    return sum(is_working(window.start + timedelta(days=n)) for n in range(window.days))


def _back(end: date, count: int) -> Window:
    """The window ending at `end` that holds `count` working days and starts on one (empty for 0)."""
    start = end
    for _ in range(count):
        start = previous_working(start)
    return Window(start, end)


def _previous_month_window(month: Window) -> Window:
    """The start of the month before holding as many working days as `month` (never past its end)."""
    start = _month_start(month.start - timedelta(days=1))
    count, end = working_days(month), start
    while count and end < month.start:
        count -= is_working(end)
        end += timedelta(days=1)
    return Window(start, end)


def windows(kind: str, day: date) -> tuple[Window, Window, Window, Window]:
    """The period a digest of `day` covers and the one it compares with, over the same number of working days
    (weekends and public holidays excluded); the month to date (the month of the period's last day) and the start
    of the month before with as many working days. A daily digest covers the previous working day and everything
    since: Monday's covers Friday and the weekend, the day after Tết the whole holiday."""
    period = Window(day - timedelta(days=7), day) if kind == WEEKLY else Window(previous_working(day), day)
    previous = _back(period.start, max(1, working_days(period)))
    month = Window(_month_start(period.last), day)
    return period, previous, month, _previous_month_window(month)


def working_window(day: date, count: int = WORKING_DAYS) -> Window:
    """The span of the last `count` working days before `day`."""
    return _back(day, count)


def digest_kinds(day: date) -> tuple[str, ...]:
    """The digests due on `day`: none on a weekend or a public holiday; the daily one on a working day, and the
    weekly one too on the first working day of the week."""
    if not is_working(day):
        return ()
    monday = day - timedelta(days=day.weekday())
    first = all(not is_working(monday + timedelta(days=n)) for n in range(day.weekday()))
    return (DAILY, WEEKLY) if first else (DAILY,)


class DigestService:
    """Builds, writes, draws and queues digests; keeps each leader's digest time and pause."""

    def __init__(
        self,
        repo: DigestRepo,
        reports: ReportsRepo,
        people: PeopleRepo,
        centres: CentreService,
        tz: ZoneInfo,
        default_time: time,
    ) -> None:
        self.repo = repo
        self.reports = reports
        self.people = people
        self.centres = centres
        self.tz = tz
        self.default_time = default_time

    # ------------------------------------------------------------------ figures

    def _instant(self, day: date, at: time = time(0)) -> str:
        return to_sql_time(datetime.combine(day, at, self.tz))

    def _offset(self, day: date) -> str:
        offset = datetime.combine(day, time(12), self.tz).utcoffset() or timedelta(0)
        return f"{int(offset.total_seconds() // 60):+d} minutes"

    async def _totals(self, codes: Sequence[str], window: Window) -> dict[str, Totals]:
        start, end = self._instant(window.start), self._instant(window.end)
        received = await self.repo.received(codes, start, end)
        finished = await self.repo.finished(start, end, self._offset(window.start))
        result = {}
        for code in codes:
            done = finished.get(code, Finished())
            result[code] = Totals(received.get(code, 0), done.count, done.with_due, done.on_time)
        return result

    async def build(
        self,
        day: date,
        kind: str = DAILY,
        commune: str | None = None,
        now: datetime | None = None,
        *,
        as_of_day: bool = False,
    ) -> Digest:
        """The digest of `day` (its figures cover the days before it), for the province or one commune. `now`
        ends the window of new reports (default: the day's digest time). `as_of_day` counts the overdue
        dossiers as they stood that morning (slower: for a past day); facility reports and staff are current."""
        if kind not in KINDS:
            raise ValueError(f"unknown digest kind {kind!r}")
        directory = self.centres.directory
        units = [c for c in directory.communes.values() if commune is None or c.code == commune]
        if not units:
            raise ValueError(f"no commune {commune!r} in this province")
        codes = sorted(c.code for c in units)
        period, previous, month, month_previous = windows(kind, day)
        staffing = working_window(day)
        current, before = await self._totals(codes, period), await self._totals(codes, previous)
        this_month, last_month = await self._totals(codes, month), await self._totals(codes, month_previous)
        busy = await self.repo.received(codes, self._instant(staffing.start), self._instant(staffing.end))
        unfinished = await self.repo.unfinished(self._instant(day), codes)
        if as_of_day:
            overdue = await self.repo.overdue_as_of(self._instant(day))
        else:
            overdue = {code: counts[1] for code, counts in unfinished.items()}
        staff = await self.repo.desk_staff()
        start, end = self._instant(period.start), self._instant(period.end)
        online = await self.repo.online(codes, start, end)
        closed = await self.repo.closed(start, end, codes)
        rated = await self.repo.ratings(start, end)
        figures = tuple(
            CommuneFigures(
                c.code,
                c.name,
                c.kind,
                current[c.code],
                before[c.code],
                this_month[c.code],
                last_month[c.code],
                overdue.get(c.code, 0),
                busy.get(c.code, 0) / WORKING_DAYS,
                staff.get(c.code),
                unfinished.get(c.code, (0, 0, 0))[2],
                online.get(c.code, 0),
                closed.get((c.code, 7), 0),
                closed.get((c.code, 3), 0),
                (rated.get((c.code, 3), 0), rated.get((c.code, 2), 0), rated.get((c.code, 1), 0)),
                unfinished.get(c.code, (0, 0, 0))[0],
            )
            for c in sorted(units, key=lambda u: u.name)
        )
        ends = now or datetime.combine(day, self.default_time, self.tz)
        since = ends - timedelta(days=7 if kind == WEEKLY else 1)
        digest = Digest(
            kind,
            day,
            directory.province.name,
            commune,
            period,
            previous,
            month,
            month_previous,
            staffing,
            figures,
            await self._reports(commune, since, ends),
            tuple(await self.repo.overdue_procedures(self._instant(day), codes, TOP_OVERDUE)),
        )
        return digest

    async def _reports(self, commune: str | None, since: datetime, now: datetime) -> ReportFigures:
        new = await self.reports.created_between(to_sql_time(since), to_sql_time(now), commune)
        still_open = [report_from_stored(s) for s in await self.reports.open_reports(commune_code=commune)]
        by_category: dict[str, int] = {}
        by_severity: dict[str, int] = {}
        for report in still_open:
            by_category[report.category.key] = by_category.get(report.category.key, 0) + 1
            by_severity[report.severity] = by_severity.get(report.severity, 0) + 1
        return ReportFigures(
            tuple(report_from_stored(s) for s in new),
            len(still_open),
            tuple(sorted(by_category.items(), key=lambda kv: (-kv[1], list(CATEGORIES).index(kv[0])))),
            tuple((key, by_severity[key]) for key in SEVERITIES if key in by_severity),
            tuple(r for r in still_open if r.past_target(now)),
            tuple(r for r in still_open if r.severity == "blocking"),
        )

    # ------------------------------------------------------------------ writing

    def render(self, digest: Digest, t: Translator) -> list[str]:
        """The digest as text parts, each within Telegram's message limit, split between lines."""
        return split_text("\n".join(DigestWriter(digest, t, self.tz).lines()), MESSAGE_LIMIT)

    def caption(self, digest: Digest, t: Translator) -> str:
        """The chart's caption."""
        text = t.gettext("📊 Hồ sơ tiếp nhận từ đầu tháng và tỉ lệ đúng hạn theo xã, phường ({start} – {end}).")
        caption = text.format(start=t.day(digest.month.start), end=t.day(digest.month.last))
        return caption[:CAPTION_LIMIT]

    async def chart(self, digest: Digest, t: Translator) -> bytes:
        """A PNG: dossiers received this month per commune (bars) and their on-time rate (dots); drawn in a worker
        thread (it takes a good part of a second, which the bot's other chats must not wait for)."""
        return await asyncio.to_thread(draw_chart, digest, t)

    # ------------------------------------------------------------------ leaders' settings and the schedule

    async def change(
        self, person: Person, access: Access, now: datetime, *, paused: bool | None = None, at: time | None = None
    ) -> tuple[time, bool]:
        """Pause, resume or move one's own digest (leaders only); the settings after."""
        if access.role is not Role.LEADER:
            raise PermissionError("only leaders get the digest")
        person_id = await self.people.ensure(person.channel, person.external_id, now.isoformat())
        stored_at, stored_paused = await self.repo.setting(person_id)
        new_at = at.strftime("%H:%M") if at is not None else stored_at
        new_paused = stored_paused if paused is None else paused
        await self.repo.save_setting(person_id, new_at, new_paused, to_sql_time(now))
        return (parse_time_of_day(new_at) if new_at else self.default_time), new_paused

    async def last_queued(self) -> dict[str, datetime]:
        """When the last digest of each kind (daily, weekly) was queued for anyone."""
        return {kind: from_sql_time(at) for kind, at in await self.repo.last_queued()}

    async def times(self) -> set[time]:
        """Every time of day some leader's digest is due (the province's and each leader's own)."""
        found = {self.default_time}
        for setting in await self.repo.settings():
            if setting.at and not setting.paused:
                found.add(parse_time_of_day(setting.at))
        return found

    async def queue_due(self, now: datetime) -> int:
        """Queue today's digests that are due by now and not yet queued (`digest_kinds`: none on a weekend or a
        public holiday, the weekly one too on the week's first working day); older
        days' are never queued, so a bot that was down sends today's once when it starts again. A leader's
        digests of the day are queued together, in order. How many digests were queued."""
        local = now.astimezone(self.tz)
        today, queued = local.date(), 0
        written: dict[tuple[str, str], list[tuple[str, str]]] = {}
        charts: dict[tuple[Window, str], bytes] = {}  # the daily and the weekly digest draw the same month
        for setting in await self.repo.settings():
            if setting.paused or setting.unreachable:
                continue
            at = parse_time_of_day(setting.at) if setting.at else self.default_time
            if local.time() < at:
                continue
            language = translator(setting.language).language
            due = []
            for kind in digest_kinds(today):
                if not await self.repo.queued(setting.person_id, kind, today.isoformat()):
                    due.append((kind, await self._parts(written, charts, kind, today, language, now)))
            if due:
                expires = self._instant(today + timedelta(days=1))  # never sent after its day
                queued += await self.repo.queue(setting.person_id, today.isoformat(), due, to_sql_time(now), expires)
        return queued

    async def _parts(
        self,
        written: dict[tuple[str, str], list[tuple[str, str]]],
        charts: dict[tuple[Window, str], bytes],
        kind: str,
        day: date,
        language: str,
        now: datetime,
    ) -> list[tuple[str, str]]:
        """A digest's outbox messages (its text parts, then its chart), built once per kind and language; a chart
        once per month window and language."""
        if (kind, language) not in written:
            digest, t = await self.build(day, kind), translator(language)
            if (digest.month, language) not in charts:
                charts[(digest.month, language)] = await self.chart(digest, t)
            png = charts[(digest.month, language)]
            await self.repo.save_chart(kind, day.isoformat(), language, png, to_sql_time(now))
            parts = [
                ("digest_text", json.dumps({"text": text, "language": language}, ensure_ascii=False))
                for text in self.render(digest, t)
            ]
            chart = {"kind": kind, "day": day.isoformat(), "language": language, "caption": self.caption(digest, t)}
            parts.append(("digest_chart", json.dumps(chart, ensure_ascii=False)))
            written[(kind, language)] = parts
        return written[(kind, language)]

    async def queued_texts(self, kind: str, day: date, language: str) -> list[str] | None:
        """The text parts of a day's digest as they were queued for a leader reading `language` (None if none)."""
        return await self.repo.queued_texts(kind, day.isoformat(), language)

    async def chart_png(self, kind: str, day: str, language: str) -> bytes | None:
        """A queued digest's chart."""
        return await self.repo.chart(kind, day, language)


CHART_PATH = "/media/charts"


def chart_path(kind: str, day: str, language: str) -> str:
    """Where the bot's HTTP server serves a queued digest's chart (without its signature)."""
    return f"{CHART_PATH}/{kind}/{day}/{language}"


def chart_url(public_url: str, key: str, kind: str, day: str, language: str) -> str | None:
    """The signed link to a queued digest's chart, for a channel that sends images by URL (Zalo); None when the
    bot has no public address or nothing to sign with."""
    if not public_url or not key:
        return None
    path = chart_path(kind, day, language)
    return f"{public_url}{path}/{sign(key, path)}"


class DigestWriter:
    """Writes one digest in one language; every number, percentage and date through Babel."""

    def __init__(self, digest: Digest, t: Translator, tz: ZoneInfo) -> None:
        self.d = digest
        self.t = t
        self.tz = tz

    def _change(self, now: int, before: int) -> str:
        t = self.t
        if before == 0:
            return t.gettext("kỳ trước: 0") if now else ""
        change = (now - before) / before
        if now == before:
            return t.gettext("= không đổi")
        arrow = "▲" if now > before else "▼"
        return f"{arrow} {t.percent(abs(change))}"

    def _rate_change(self, now: float | None, before: float | None) -> str:
        t = self.t
        if now is None or before is None:
            return ""
        points = (now - before) * 100
        if abs(points) < 0.05:
            return t.gettext("= không đổi")
        arrow = "▲" if points > 0 else "▼"
        return t.gettext("{arrow} {points} điểm").format(arrow=arrow, points=t.number(abs(points), 1))

    def _rate(self, value: float | None) -> str:
        return self.t.percent(value) if value is not None else "—"

    def _totals_lines(self, now: Totals, before: Totals, versus: str) -> list[str]:
        t = self.t
        lines = [
            t.gettext("• Tiếp nhận: {count}").format(count=t.number(now.received)),
            t.gettext("• Giải quyết xong: {count}").format(count=t.number(now.finished)),
            t.gettext("• Đúng hạn: {rate}").format(rate=self._rate(now.rate)),
        ]
        changes = [
            self._change(now.received, before.received),
            self._change(now.finished, before.finished),
            self._rate_change(now.rate, before.rate),
        ]
        return [f"{line} ({change} {versus})" if change else line for line, change in zip(lines, changes, strict=True)]

    def _period_lines(self) -> list[str]:
        """The period's online share, withdrawals and refusals, and citizens' ratings (what `--json` gives too)."""
        t, figures = self.t, figures_of(self.d.communes)
        lines = []
        if figures["received"]:
            share = t.percent(figures["online"] / figures["received"])
            line = t.gettext("• Nộp trực tuyến: {count} ({share} số tiếp nhận)")
            lines.append(line.format(count=t.number(figures["online"]), share=share))
        if figures["withdrawn"] or figures["not_received"]:
            line = t.gettext("• Rút hồ sơ: {withdrawn} · Không tiếp nhận: {refused} (không tính vào tỉ lệ đúng hạn)")
            lines.append(
                line.format(withdrawn=t.number(figures["withdrawn"]), refused=t.number(figures["not_received"]))
            )
        ratings = figures["ratings"]
        count = sum(ratings.values())
        if count:
            satisfied = (ratings["rat_hai_long"] + ratings["hai_long"]) / count
            line = t.gettext("• Người dân đánh giá: {count} lượt, hài lòng {share}")
            lines.append(line.format(count=t.number(count), share=t.percent(satisfied)))
        return lines

    def lines(self) -> list[str]:
        """The whole digest, line by line (an empty line between sections)."""
        d, t = self.d, self.t
        if d.commune is None:
            scope = t.gettext("Tỉnh {province} · {count} xã, phường").format(
                province=d.province, count=t.number(len(d.communes))
            )
        else:
            scope = d.communes[0].name
        title = t.gettext("📊 TÓM TẮT TUẦN") if d.kind == WEEKLY else t.gettext("📊 TÓM TẮT NGÀY")
        lines = [f"{title} — {t.full_date(d.day)}", scope, ""]
        lines += self._dossiers()
        if d.commune is None:
            lines += self._kinds()
        lines += self._reports()
        lines += self._staffing()
        while lines and not lines[-1]:
            lines.pop()
        return lines

    def _dossiers(self) -> list[str]:
        d, t = self.d, self.t
        if d.kind == WEEKLY:
            head = t.gettext("📁 Hồ sơ tuần qua ({start} – {end}):").format(
                start=t.day(d.period.start), end=t.day(d.period.last)
            )
            versus = t.gettext("so với tuần trước")
        elif d.period.days > 1:  # the previous working day and the weekend or holiday after it
            head = t.gettext("📁 Hồ sơ từ ngày làm việc trước ({start} – {end}):").format(
                start=t.day(d.period.start), end=t.day(d.period.last)
            )
            versus = t.gettext("so với ngày làm việc trước đó")
        else:
            head = t.gettext("📁 Hồ sơ hôm qua ({day}):").format(day=t.full_date(d.period.start))
            versus = t.gettext("so với ngày làm việc trước đó")
        lines = [head, *self._totals_lines(d.current, d.before, versus), *self._period_lines(), ""]
        lines.append(
            t.gettext("📅 Từ đầu tháng ({start} – {end}):").format(start=t.day(d.month.start), end=t.day(d.month.last))
        )
        lines += self._totals_lines(d.month_totals, d.month_before, t.gettext("so với cùng kỳ tháng trước"))
        lines.append("")
        lines.append(t.gettext("⏰ Quá hạn hiện nay: {count}").format(count=t.number(d.overdue)))
        if d.waiting:
            waiting = t.gettext("Chờ người dân bổ sung hồ sơ, nộp phí: {count} (không tính quá hạn)")
            lines.append(waiting.format(count=t.number(d.waiting)))
        if d.commune is None and d.most_overdue:
            worst = ", ".join(
                f"{c.name} {t.percent(c.overdue / c.open)} ({t.number(c.overdue)}/{t.number(c.open)})"
                for c in d.most_overdue
            )
            lines.append(t.gettext("Tỉ lệ quá hạn cao nhất: {list}").format(list=worst))
        if d.procedures:
            listed = ", ".join(f"{name} {t.number(count)}" for name, count in d.procedures)
            lines.append(t.gettext("Thủ tục quá hạn nhiều nhất: {list}").format(list=listed))
        lines.append("")
        return lines

    def _kinds(self) -> list[str]:
        d, t = self.d, self.t
        lines = [t.gettext("🏙️ Phường và xã, từ đầu tháng:")]
        for kind in ("phuong", "xa", "dac_khu"):
            communes = d.by_kind(kind)
            if not communes:
                continue
            month = total(c.month for c in communes)
            lines.append(
                t.gettext(
                    "• {count} {kind}: tiếp nhận {received} · xong {finished} · đúng hạn {rate} · quá hạn {overdue}"
                ).format(
                    count=t.number(len(communes)),
                    kind=t.gettext(KIND_NAMES[kind]),
                    received=t.number(month.received),
                    finished=t.number(month.finished),
                    rate=self._rate(month.rate),
                    overdue=t.number(sum(c.overdue for c in communes)),
                )
            )
        lines.append("")
        return lines

    def _report_line(self, report: Report) -> str:
        t = self.t
        commune = next((c.name for c in self.d.communes if c.code == report.commune_code), report.commune_code)
        return t.gettext("{number} {commune} — {category}").format(
            number=report.number, commune=commune, category=t.gettext(report.category.name)
        )

    def _reports(self) -> list[str]:
        d, t = self.d, self.t
        r = d.reports
        lines = [t.gettext("🏗️ Cơ sở vật chất:")]
        lines.append(t.gettext("• Báo cáo mới từ bản tóm tắt trước: {count}").format(count=t.number(len(r.new))))
        lines += [f"  – {self._report_line(report)}" for report in r.new[:10]]
        if len(r.new) > 10:
            lines.append("  " + t.gettext("… và {count} báo cáo nữa").format(count=t.number(len(r.new) - 10)))
        lines.append(t.gettext("• Đang mở: {count}").format(count=t.number(r.open_total)))
        if r.by_category:
            kinds = "; ".join(f"{t.gettext(CATEGORIES[key].name)} {t.number(n)}" for key, n in r.by_category)
            lines.append("  " + t.gettext("theo loại: {list}").format(list=kinds))
            levels = ", ".join(f"{t.gettext(SEVERITIES[key]).lower()} {t.number(n)}" for key, n in r.by_severity)
            lines.append("  " + t.gettext("theo mức độ: {list}").format(list=levels))
        now = datetime.combine(d.day, time(0), self.tz)
        lines.append(t.gettext("• Quá hạn khắc phục: {count}").format(count=t.number(len(r.past_target))))
        for report in r.past_target[:10]:  # a target passed earlier today counts as a day
            late = max(1, (now.date() - report.target_at.astimezone(self.tz).date()).days)
            days = t.ngettext("quá {count} ngày", "quá {count} ngày", late).format(count=t.number(late))
            lines.append(f"  – {self._report_line(report)} ({days})")
        if r.blocking:
            lines.append(t.gettext("• 🚨 Đang dừng phục vụ người dân: {count}").format(count=t.number(len(r.blocking))))
            lines += [f"  – {self._report_line(report)}" for report in r.blocking]
        lines.append("")
        return lines

    def _staffing(self) -> list[str]:
        d, t = self.d, self.t
        lines = [
            t.gettext(
                "👥 Nhân sự một cửa ({count} ngày làm việc gần nhất; đến 10 hồ sơ/ngày cần 2 cán bộ, đến 20 cần 3, "
                "đông hơn cần từ 5):"
            ).format(count=t.number(WORKING_DAYS))
        ]
        if not d.pressure:
            lines.append(t.gettext("• Không xã, phường nào thiếu cán bộ một cửa theo số đã báo."))
        for c in d.pressure[:15]:
            if c.staff:
                line = t.gettext(
                    "• {name}: {per_day} hồ sơ/ngày, {staff} cán bộ ({per_staff}/người) — cần {needed}"
                ).format(
                    name=c.name,
                    per_day=t.number(c.per_day, 1),
                    staff=t.number(c.staff),
                    per_staff=t.number(c.per_staff or 0, 1),
                    needed=t.number(c.needed),
                )
            else:
                line = t.gettext("• {name}: {per_day} hồ sơ/ngày, chưa có cán bộ một cửa — cần {needed}").format(
                    name=c.name, per_day=t.number(c.per_day, 1), needed=t.number(c.needed)
                )
            lines.append(line)
        if d.pressure:
            lines.append(
                t.gettext(
                    "Khi đông việc, xã, phường có thể điều động ngắn hạn cán bộ từ các phòng chuyên môn của mình "
                    "hỗ trợ bộ phận một cửa."
                )
            )
        if len(d.pressure) > 15:
            lines.append(t.gettext("• … và {count} xã, phường nữa").format(count=t.number(len(d.pressure) - 15)))
        if d.unstaffed:
            lines.append(
                t.gettext("• {count} xã, phường chưa báo số cán bộ một cửa (/capnhat canbo).").format(
                    count=t.number(len(d.unstaffed))
                )
            )
        return lines


KIND_COLOURS = {"phuong": "#f58518", "xa": "#4c78a8", "dac_khu": "#54a24b"}  # a ward's bar stands out
BELOW, ABOVE = "#d62728", "#2ca02c"  # an on-time rate below the province's, and at or above it
RATE_STEP = 0.05
NAME_SIZE = 10  # points at CHART_DPI: a commune's name stays legible on a phone once the picture is opened
CHART_DPI = 110
CHART_WIDTH = 6.4  # inches


def rate_scale(rates: Iterable[float]) -> tuple[float, float]:
    """The on-time axis: from a round 5 points under the lowest rate (so 91% and 99% lie far apart, not in one
    clump at the right edge) to past 100%, leaving room for each rate's label."""
    low = min(rates, default=1.0)
    start = min(0.9, max(0.0, math.floor((low - 0.005) / RATE_STEP) * RATE_STEP))
    return start, 1.0 + (1.0 - start) * 0.3


def chart_figure(digest: Digest, t: Translator) -> Figure:
    """The chart as a matplotlib Figure (of its own, not pyplot's shared state, so it may be drawn in a worker
    thread): per commune, the busiest at the top, the dossiers received month to date (bars, a ward's in its own
    colour) and the on-time rate (a dot with its value, red below the province's rate, on a scale that separates
    communes, with the province's rate as a line)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    communes = sorted(digest.communes, key=lambda c: (-c.month.received, c.name))
    rows = max(1, len(communes))
    height = 0.3 * rows + 1.4
    figure = Figure(figsize=(CHART_WIDTH, height), dpi=CHART_DPI)
    bars, rates = figure.subplots(1, 2, gridspec_kw={"width_ratios": (3, 2)})  # sharey would draw every tick twice
    positions = list(range(len(communes)))
    received = [c.month.received for c in communes]
    bars.barh(positions, received, color=[KIND_COLOURS.get(c.kind, KIND_COLOURS["xa"]) for c in communes])
    most = max(received, default=0) or 1
    for position, count in zip(positions, received, strict=True):
        bars.text(count + most * 0.01, position, t.number(count), va="center", fontsize=8)
    bars.set_xlim(0, most * 1.18)  # room for the largest bar's number
    bars.set_yticks(positions, [c.name for c in communes], fontsize=NAME_SIZE)
    bars.set_ylim(len(communes) - 0.4, -0.6)  # the busiest at the top
    bars.set_title(t.gettext("Hồ sơ tiếp nhận"), fontsize=11)
    bars.xaxis.set_major_formatter(FuncFormatter(lambda value, _: t.number(int(value))))
    bars.tick_params(axis="x", labelsize=8)
    kinds = [kind for kind in KIND_COLOURS if any(c.kind == kind for c in communes)]
    if len(kinds) > 1:
        handles = [Patch(color=KIND_COLOURS[kind], label=t.gettext(KIND_NAMES[kind]).capitalize()) for kind in kinds]
        bars.legend(handles=handles, loc="lower right", fontsize=9)

    rated = [(position, c.month.rate) for position, c in zip(positions, communes, strict=True)]
    known = [(position, rate) for position, rate in rated if rate is not None]
    start, end = rate_scale(rate for _, rate in known)
    province = digest.month_totals.rate
    where = [position for position, _ in known]
    values = [rate for _, rate in known]
    below = [province is not None and rate < province for rate in values]
    rates.hlines(where, start, values, color="#cccccc", linewidth=1)
    rates.scatter(values, where, color=[BELOW if low else ABOVE for low in below], s=22, zorder=3)
    for position, rate in known:
        rates.text(rate + (end - start) * 0.035, position, t.percent(rate, 0), va="center", fontsize=8)
    for position, maybe in rated:
        if maybe is None:
            rates.text(start + (end - start) * 0.02, position, "—", va="center", fontsize=8, color="#777777")
    if province is not None:
        rates.axvline(province, color="#555555", linestyle="--", linewidth=1)
    rates.set_xlim(start, end)
    rates.xaxis.set_major_locator(MaxNLocator(nbins=4))
    rates.xaxis.set_major_formatter(FuncFormatter(lambda value, _: t.percent(value, 0)))
    rates.tick_params(axis="x", labelsize=8)
    rates.set_yticks([])
    rates.set_ylim(bars.get_ylim())
    rates.set_title(t.gettext("Tỉ lệ đúng hạn"), fontsize=11)
    if province is not None:
        rates.set_xlabel(t.gettext("Đường đứt nét:\ntoàn tỉnh {rate}").format(rate=t.percent(province, 1)), fontsize=9)
    title = t.gettext("{province}: {start} – {end}").format(
        province=digest.province, start=t.day(digest.month.start), end=t.day(digest.month.last)
    )
    figure.suptitle(title, fontsize=12, y=1 - 0.12 / height)
    names = max((len(c.name) for c in communes), default=10)
    left = (names * NAME_SIZE * 0.55 / 72 + 0.2) / CHART_WIDTH  # the longest name whole (a glyph ≈ 0.55 em)
    figure.subplots_adjust(left=left, right=0.98, top=1 - 0.75 / height, bottom=0.75 / height, wspace=0.06)
    return figure


def draw_chart(digest: Digest, t: Translator) -> bytes:
    """The chart (`chart_figure`) as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = chart_figure(digest, t)
    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
