"""Facility problem reports: officials file them for their commune, leaders and admins move them to a close, the
commune may reopen one marked fixed. Who may do what is checked here, on every call (`RolesService.access`).

Categories and severities are the provincial report's; each category has a target time to fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.dossiers import from_sql_time, to_sql_time
from bot.i18n import LANGUAGES, N_, match, translator
from bot.people import Person
from bot.roles import Access, Role, RolesService
from bot.text import fold
from storage.people import PeopleRepo
from storage.reports import OPEN_STATES, DraftsRepo, ExportedReport, NewReport, ReportsRepo, StoredReport

MAX_PHOTOS = 5
MAX_DESCRIPTION = 2000


@dataclass(frozen=True)
class Category:
    """A kind of problem: its key, its name (a message to translate) and how long a fix should take."""

    key: str
    name: str
    target: timedelta


CATEGORIES: dict[str, Category] = {
    c.key: c
    for c in (
        Category("rooms", N_("Thiếu phòng làm việc, phòng chật"), timedelta(days=30)),
        Category("equipment", N_("Trang thiết bị, máy móc"), timedelta(days=14)),
        Category("utilities", N_("Điện, nước, nhà vệ sinh"), timedelta(days=3)),
        Category("kitchen", N_("Bếp ăn, nhà ở công vụ"), timedelta(days=30)),
        Category("premises", N_("Trụ sở tạm"), timedelta(days=60)),
        Category("it", N_("Công nghệ thông tin, mạng"), timedelta(days=2)),
        Category("staffing", N_("Nhân sự, thiếu hướng dẫn nghiệp vụ"), timedelta(days=14)),
        Category("other", N_("Khác"), timedelta(days=14)),
    )
}
SEVERITIES = {
    "blocking": N_("Dừng phục vụ người dân"),
    "high": N_("Cao"),
    "medium": N_("Trung bình"),
    "low": N_("Thấp"),
}


class State(StrEnum):
    """Where a report is: three open states, then one of three closed ones."""

    NEW = "new"
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    FIXED = "fixed"
    CANNOT_FIX = "cannot_fix"
    DUPLICATE = "duplicate"


STATE_NAMES = {
    State.NEW: N_("Mới"),
    State.RECEIVED: N_("Đã tiếp nhận"),
    State.IN_PROGRESS: N_("Đang xử lý"),
    State.FIXED: N_("Đã khắc phục"),
    State.CANNOT_FIX: N_("Không khắc phục được"),
    State.DUPLICATE: N_("Trùng"),
}


@dataclass(frozen=True)
class ReportFilter:
    """Which open reports a leader wants: past their target, of some categories, of one commune (all: none)."""

    past_target: bool = False
    categories: frozenset[str] = frozenset()
    commune_code: str | None = None


PAST_TARGET_WORDS = ("quahan", "qua han", "overdue", "late")


def read_filter(text: str, commune_code: Callable[[str], str | None]) -> ReportFilter | None:
    """What a leader typed after the list command: `quahan` (past target), part of a category's name in any
    language (`điện`, `kitchen`), or a commune (`commune_code` resolves it); empty for all, None if not understood."""
    key = fold(text)
    if not key:
        return ReportFilter()
    if key in PAST_TARGET_WORDS:
        return ReportFilter(past_target=True)
    names = {(k, fold(translator(language).gettext(c.name))) for k, c in CATEGORIES.items() for language in LANGUAGES}
    starts_a_word = re.compile(rf"(?<!\w){re.escape(key)}")  # `it` is IT, not kitchen or electricity
    kinds = frozenset(k for k, name in names if k == key or starts_a_word.search(name))
    if kinds:
        return ReportFilter(categories=kinds)
    code = commune_code(text)
    return ReportFilter(commune_code=code) if code else None


class NotAllowed(Exception):
    """The person may not do this (say nothing more to them than for something that does not exist)."""


@dataclass(frozen=True)
class Report:
    """A report as shown: `number` is its readable id (`BC-000123`)."""

    id: int
    commune_code: str
    category: Category
    severity: str
    description: str
    state: State
    created_at: datetime
    target_at: datetime
    closed_at: datetime | None
    photos: int
    lat: float | None
    lon: float | None

    @property
    def number(self) -> str:
        """The readable id."""
        return report_number(self.id)

    @property
    def is_open(self) -> bool:
        """Whether it still waits for a fix."""
        return self.state.value in OPEN_STATES

    def past_target(self, now: datetime) -> bool:
        """Open after its target time."""
        return self.is_open and now > self.target_at


@dataclass(frozen=True)
class Draft:
    """What an official has entered so far (the chat keeps it across restarts)."""

    category: str
    severity: str
    description: str
    photos: tuple[str, ...] = ()
    lat: float | None = None
    lon: float | None = None


def report_number(report_id: int) -> str:
    """`123` → `BC-000123`."""
    return f"BC-{report_id:06d}"


def report_from_stored(stored: StoredReport) -> Report:
    """A stored report with its category, state and times as values."""
    return Report(
        stored.id,
        stored.commune_code,
        CATEGORIES[stored.category],
        stored.severity,
        stored.description,
        State(stored.state),
        from_sql_time(stored.created_at),
        from_sql_time(stored.target_at),
        from_sql_time(stored.closed_at) if stored.closed_at else None,
        stored.photos,
        stored.lat,
        stored.lon,
    )


@dataclass(frozen=True)
class Submitted:
    """What became of a report sent from chat: `added` to the open one, or filed; `meant_for` the open report it
    was to be added to, when that could no longer take it."""

    report: Report
    added: bool
    meant_for: int | None = None


class Step(StrEnum):
    """Where a report being written in chat is."""

    CATEGORY = "category"
    DUPLICATE = "duplicate"
    SEVERITY = "severity"
    DESCRIPTION = "description"
    PHOTOS = "photos"
    LOCATION = "location"
    CONFIRM = "confirm"
    REOPEN = "reopen"  # a photo (its caption the note) that shows the report `add_to` is not fixed


@dataclass(frozen=True)
class Writing:
    """A report being written: the step and what was entered (`add_to`: the open report it will add to)."""

    step: Step
    category: str = ""
    severity: str = ""
    description: str = ""
    photos: tuple[str, ...] = ()
    lat: float | None = None
    lon: float | None = None
    add_to: int | None = None

    def draft(self) -> Draft:
        """What `file` or `add_to` takes."""
        return Draft(self.category, self.severity, self.description, self.photos, self.lat, self.lon)


class ReportService:
    """Filing, following and closing facility reports."""

    def __init__(self, repo: ReportsRepo, people: PeopleRepo, roles: RolesService, drafts: DraftsRepo) -> None:
        self.repo = repo
        self.people = people
        self.roles = roles
        self.drafts = drafts
        self._writing: set[Person] = set()

    async def load(self) -> None:
        """Learn who is writing a report (call once at start): every other message skips the database."""
        self._writing = {Person(channel, external_id) for channel, external_id in await self.drafts.writers()}

    def is_writing(self, person: Person) -> bool:
        """Whether this person has a report in progress (from memory)."""
        return person in self._writing

    async def writing(self, person: Person) -> Writing | None:
        """The person's report in progress."""
        found = await self.drafts.load(person.channel, person.external_id)
        if found is None:
            self._writing.discard(person)
            return None
        step, data = found
        values = json.loads(data)
        values["photos"] = tuple(values.get("photos", ()))
        return Writing(Step(step), **values)

    async def write(self, person: Person, writing: Writing, now: datetime) -> Writing:
        """Save the report in progress (an official's only)."""
        await self._official(person)
        values = asdict(writing)
        step = values.pop("step")
        person_id = await self._person_id(person, now)
        await self.drafts.save(person_id, step, json.dumps(values, ensure_ascii=False), to_sql_time(now))
        self._writing.add(person)
        return writing

    async def stop_writing(self, person: Person) -> bool:
        """Forget the report in progress; whether there was one."""
        self._writing.discard(person)
        return await self.drafts.delete(person.channel, person.external_id)

    async def _official(self, person: Person) -> Access:
        access = await self.roles.access(person)
        if access.role is not Role.OFFICIAL or access.commune_code is None:
            raise NotAllowed
        return access

    async def _person_id(self, person: Person, now: datetime) -> int:
        return await self.people.ensure(person.channel, person.external_id, now.isoformat())

    async def open_duplicate(self, person: Person, category: str) -> Report | None:
        """An open report of the official's commune in this category, which they may add to instead."""
        access = await self._official(person)
        stored = await self.repo.open_in(access.commune_code or "", category)
        return report_from_stored(stored) if stored else None

    async def file(self, person: Person, draft: Draft, now: datetime) -> Report:
        """Save an official's report for their commune (a report that stops service alerts every leader)."""
        access = await self._official(person)
        _check(draft)
        new = NewReport(
            access.commune_code or "",
            draft.category,
            draft.severity,
            draft.description,
            draft.lat,
            draft.lon,
            draft.photos,
        )
        target = now + CATEGORIES[draft.category].target
        report_id = await self.repo.create(
            new, await self._person_id(person, now), to_sql_time(now), to_sql_time(target)
        )
        return await self._get(report_id)

    async def add_to(self, person: Person, report_id: int, draft: Draft, now: datetime) -> Report:
        """Add a new report to an open one of the same commune (see `ReportsRepo.add`): NotAllowed if that one
        is closed or another commune's, ValueError if the draft is bad or the report would hold too many photos."""
        access = await self._official(person)
        report = await self._get(report_id)
        if report.commune_code != access.commune_code or not report.is_open:
            raise NotAllowed
        if report.photos + len(draft.photos) > MAX_PHOTOS * 4:
            raise ValueError("too many photos on one report")
        _check(draft)
        person_id = await self._person_id(person, now)
        addition = NewReport(
            report.commune_code,
            report.category.key,
            draft.severity,
            draft.description,
            draft.lat,
            draft.lon,
            draft.photos,
        )
        await self.repo.add(report_id, person_id, addition, to_sql_time(now))
        return await self._get(report_id)

    async def submit(self, person: Person, draft: Draft, add_to: int | None, now: datetime) -> Submitted:
        """Send what an official wrote: added to the open report `add_to` if there is one, else (also when that
        report was closed, or filled up, while they wrote) filed as a report of its own. NotAllowed if they are
        no longer an official."""
        if add_to is not None:
            try:
                return Submitted(await self.add_to(person, add_to, draft, now), added=True)
            except (NotAllowed, ValueError):
                pass  # file() below says NotAllowed if the role is what went away
        return Submitted(await self.file(person, draft, now), added=False, meant_for=add_to)

    async def move(self, person: Person, report_id: int, state: State, note: str, now: datetime) -> Report:
        """A leader or admin moves an open report on, with a note (the reason, required, when it cannot be fixed or
        is a duplicate); the commune's officials are told."""
        access = await self.roles.access(person)
        if not access.is_one_of(Role.LEADER, Role.ADMIN):
            raise NotAllowed
        report = await self._get(report_id)
        if not report.is_open or state is report.state or state is State.NEW:
            raise ValueError(f"cannot move {report.number} from {report.state} to {state}")
        if state in (State.CANNOT_FIX, State.DUPLICATE) and not note.strip():
            raise ValueError(f"closing {report.number} as {state} needs a reason")
        person_id = await self._person_id(person, now)
        await self.repo.move(report_id, person_id, state.value, note.strip()[:500] or None, to_sql_time(now))
        return await self._get(report_id)

    async def note(self, person: Person, report_id: int, note: str, now: datetime) -> Report:
        """A leader or admin adds a note to a report (its state unchanged); the commune's officials are told."""
        access = await self.roles.access(person)
        if not access.is_one_of(Role.LEADER, Role.ADMIN):
            raise NotAllowed
        report = await self._get(report_id)
        if not note.strip():
            raise ValueError("an empty note")
        person_id = await self._person_id(person, now)
        await self.repo.move(report_id, person_id, report.state.value, note.strip()[:500], to_sql_time(now))
        return await self._get(report_id)

    async def reopen(self, person: Person, report_id: int, note: str, photo: str, now: datetime) -> Report:
        """The commune says a fixed report is not fixed (with a photo): it is new again, its clock restarted."""
        access = await self._official(person)
        report = await self._get(report_id)
        if report.commune_code != access.commune_code:
            raise NotAllowed
        if report.state is not State.FIXED or not photo:
            raise ValueError(f"{report.number} is not marked fixed, or no photo")
        target = to_sql_time(now + report.category.target)
        person_id = await self._person_id(person, now)
        await self.repo.add_photos(report_id, [photo], to_sql_time(now))
        await self.repo.move(
            report_id, person_id, State.NEW.value, note.strip()[:500] or None, to_sql_time(now), reopen_target=target
        )
        return await self._get(report_id)

    async def fixed_of_my_commune(self, person: Person, report_id: int) -> Report:
        """A report of the official's commune marked fixed (which they may reopen); NotAllowed otherwise."""
        access = await self._official(person)
        report = await self._get(report_id)
        if report.commune_code != access.commune_code or report.state is not State.FIXED:
            raise NotAllowed
        return report

    async def of_my_commune(self, person: Person, limit: int = 20) -> tuple[list[Report], int]:
        """An official's commune's reports, open ones first, then the newest (at most `limit`); and how many
        more it has."""
        access = await self._official(person)
        found = [report_from_stored(stored) for stored in await self.repo.of_commune(access.commune_code or "", limit)]
        more = await self.repo.count_of_commune(access.commune_code or "") - len(found) if len(found) == limit else 0
        return found, more

    async def open_reports(self, person: Person, now: datetime, wanted: ReportFilter = ReportFilter()) -> list[Report]:
        """The open reports a leader or admin asks for: the most severe first (one that stops service at the top),
        then the oldest."""
        access = await self.roles.access(person)
        if not access.is_one_of(Role.LEADER, Role.ADMIN):
            raise NotAllowed
        found = await self.repo.open_reports(
            commune_code=wanted.commune_code,
            categories=sorted(wanted.categories),
            past=to_sql_time(now) if wanted.past_target else None,
        )
        rank = {severity: order for order, severity in enumerate(SEVERITIES)}
        reports = [report_from_stored(stored) for stored in found]
        return sorted(reports, key=lambda report: rank.get(report.severity, len(rank)))  # stable: oldest first within

    async def open_report(self, person: Person, report_id: int) -> Report:
        """One open report, for a leader or admin to move."""
        access = await self.roles.access(person)
        if not access.is_one_of(Role.LEADER, Role.ADMIN):
            raise NotAllowed
        report = await self._get(report_id)
        if not report.is_open:
            raise NotAllowed
        return report

    async def notes(self, report_id: int) -> list[tuple[datetime, str]]:
        """Every note added to a report (when moved on, reopened, or noted), oldest first."""
        events = await self.repo.events(report_id)
        return [(from_sql_time(row["at"]), str(row["note"])) for row in events if row["note"]]

    async def photos(self, person: Person, report_id: int) -> list[str]:
        """What a report's photos are kept as (Telegram file ids, or URLs), in order: for a leader or admin, or
        an official of its commune."""
        access = await self.roles.access(person)
        report = await self._get(report_id)
        mine = access.role is Role.OFFICIAL and access.commune_code == report.commune_code
        if not (mine or access.is_one_of(Role.LEADER, Role.ADMIN)):
            raise NotAllowed
        return await self.repo.photos(report_id)

    async def photo_ref(self, report_id: int, number: int) -> str | None:
        """What photo `number` (from 1) of a report is kept as: a Telegram file id, or a URL."""
        return await self.repo.photo(report_id, number - 1)

    async def export(self, *, open_only: bool = False) -> list[ExportedReport]:
        """Every report (or the open ones) with its last note and photos, for `phucvu export-reports` (whoever
        runs the command line holds the database already)."""
        return await self.repo.export(open_only=open_only)

    async def _get(self, report_id: int) -> Report:
        stored = await self.repo.get(report_id)
        if stored is None:
            raise NotAllowed  # the same answer as for one the person may not see
        return report_from_stored(stored)


def _check(draft: Draft) -> None:
    if draft.category not in CATEGORIES:
        raise ValueError(f"unknown category {draft.category!r}")
    if draft.severity not in SEVERITIES:
        raise ValueError(f"unknown severity {draft.severity!r}")
    if not draft.description.strip() or len(draft.description) > MAX_DESCRIPTION:
        raise ValueError("a description of 1 to 2,000 characters")
    if len(draft.photos) > MAX_PHOTOS:
        raise ValueError(f"at most {MAX_PHOTOS} photos")
    if (draft.lat is None) != (draft.lon is None):
        raise ValueError("a location needs both coordinates")


# The conversation that writes a report, as one pure transition: `advance(writing, answer)` → the next state, what to
# do with it, or why the answer did not fit. handlers/reports.py asks each state's question; the diagram is
# handlers/reports.mmd.

VIETNAM = (8.0, 24.0, 102.0, 110.0)  # south, north, west, east: where a commune's problem can be
COORDINATES = re.compile(r"(-?\d{1,2}(?:[.,]\d+)?)\s*[,;\s]\s*(-?\d{1,3}(?:[.,]\d+)?)")
DONE_WORDS = frozenset({"xong", "done", "het", "khong co anh", "khong anh", "finish", "finished"})
SKIP_WORDS = frozenset({"bo qua", "skip", "khong", "no"})
SEND_WORDS = frozenset({"gui", "send", "ok", "dong y", "gui bao cao"})
DUPLICATE_CHOICES = {"add": N_("Thêm vào báo cáo đang mở"), "new": N_("Báo cáo mới")}


@dataclass(frozen=True)
class Answer:
    """What an official sent at their step: a choice (`c:rooms`, `d:add`, `s:high`, `p:done`, `l:skip`, `ok`), a
    text (a description, a typed word or coordinates), a photo's reference, or a location."""

    choice: str = ""
    text: str = ""
    photo: str = ""
    location: tuple[float, float] | None = None


@dataclass(frozen=True)
class Advance:
    """Where an answer leads: the new state (None: unchanged), what to do (`duplicate`: look for an open report of
    the category; `send`; `reopen`; `photo`: one more photo taken, the step stays), or the `problem` with it."""

    writing: Writing | None = None
    effect: str = ""
    problem: str = ""


# What officials write for a kind of problem or a severity, besides the names shown (folded).
CATEGORY_WORDS = {
    "utilities": ("mat dien", "cup dien", "dien", "mat nuoc", "nuoc", "ve sinh", "nha ve sinh", "power", "water"),
    "it": ("may tinh", "internet", "wifi", "mang", "phan mem", "it", "computer", "network"),
    "equipment": ("may in", "may photo", "ban ghe", "thiet bi", "may moc", "printer"),
    "rooms": ("phong", "phong chat", "cho ngoi"),
    "kitchen": ("bep", "nau an", "nha o", "nha cong vu"),
    "premises": ("tru so", "nha tam"),
    "staffing": ("nhan su", "thieu nguoi", "thieu can bo", "huong dan nghiep vu"),
}
SEVERITY_WORDS = {
    "blocking": ("khan cap", "dung phuc vu", "ngung phuc vu", "khong phuc vu duoc", "urgent"),
    "high": ("rat cao", "nghiem trong", "nang"),
    "medium": ("vua", "vua phai", "binh thuong"),
    "low": ("nhe", "khong gap"),
}
DUPLICATE_WORDS = {"add": ("them vao",), "new": ("moi", "bao cao moi", "rieng")}


def _coordinates(text: str) -> tuple[float, float] | None:
    found = COORDINATES.fullmatch(text.strip())
    if found is None:
        return None
    return float(found[1].replace(",", ".")), float(found[2].replace(",", "."))


def _in_vietnam(lat: float, lon: float) -> bool:
    return VIETNAM[0] <= lat <= VIETNAM[1] and VIETNAM[2] <= lon <= VIETNAM[3]


def advance(writing: Writing, answer: Answer) -> Advance:
    """The next state of a report being written, given the official's answer at its step."""
    step, choice, typed = writing.step, answer.choice, fold(answer.text)
    if answer.photo and step not in (Step.PHOTOS, Step.DESCRIPTION, Step.REOPEN):
        full = step is Step.LOCATION and len(writing.photos) >= MAX_PHOTOS
        return Advance(problem="photos_full" if full else "photo_not_here")
    if step is Step.CATEGORY:
        key = (
            choice[2:]
            if choice.startswith("c:")
            else match(answer.text, {k: c.name for k, c in CATEGORIES.items()}, CATEGORY_WORDS)
        )
        if key in CATEGORIES:
            return Advance(replace(writing, step=Step.DUPLICATE, category=key, add_to=None), "duplicate")
    elif step is Step.DUPLICATE:
        key = choice[2:] if choice.startswith("d:") else match(answer.text, DUPLICATE_CHOICES, DUPLICATE_WORDS)
        if key in DUPLICATE_CHOICES:
            return Advance(replace(writing, step=Step.SEVERITY, add_to=writing.add_to if key == "add" else None))
    elif step is Step.SEVERITY:
        key = choice[2:] if choice.startswith("s:") else match(answer.text, SEVERITIES, SEVERITY_WORDS)
        if key in SEVERITIES:
            return Advance(replace(writing, step=Step.DESCRIPTION, severity=key))
    elif step is Step.DESCRIPTION:
        if answer.text.strip():  # a photo with a caption: both at once
            photos: tuple[str, ...] = (answer.photo,) if answer.photo else ()
            described = answer.text.strip()[:MAX_DESCRIPTION]
            return Advance(replace(writing, step=Step.PHOTOS, description=described, photos=photos))
        if answer.photo:
            return Advance(problem="text_needed")
    elif step is Step.PHOTOS:
        if answer.photo:
            photos = (*writing.photos, answer.photo)
            if len(photos) >= MAX_PHOTOS:
                return Advance(replace(writing, step=Step.LOCATION, photos=photos))
            return Advance(replace(writing, photos=photos), "photo")
        if choice == "p:done" or typed in DONE_WORDS:
            return Advance(replace(writing, step=Step.LOCATION))
    elif step is Step.LOCATION:
        where = answer.location or _coordinates(answer.text)
        if where is not None and _in_vietnam(*where):
            return Advance(replace(writing, step=Step.CONFIRM, lat=where[0], lon=where[1]))
        if where is not None:
            return Advance(problem="coordinates")
        if choice == "l:skip" or typed in SKIP_WORDS:
            return Advance(replace(writing, step=Step.CONFIRM))
        if any(char.isdigit() for char in answer.text):
            return Advance(problem="coordinates")
    elif step is Step.CONFIRM:
        if choice == "ok" or typed in SEND_WORDS:
            return Advance(writing, "send")
    elif step is Step.REOPEN:
        if answer.photo:
            return Advance(writing, "reopen")
        return Advance(problem="photo_needed")
    return Advance(problem="choose" if step in (Step.CATEGORY, Step.DUPLICATE, Step.SEVERITY) else "")
