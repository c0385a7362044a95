"""Dossiers: codes, statuses, the on-time rule, lookups with enumeration limits, and following.

Times are kept in UTC as `YYYY-MM-DD HH:MM:SS` (SQLite's own format); days are counted in the province's time
zone. The on-time rule is DESIGN.md's: a dossier is on time when its first terminal status (9, then 10, then
8/3) is at or before its appointment date, and overdue when it has none of them and that date has passed.
"""

from __future__ import annotations

import re
import urllib.parse
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from bot.i18n import N_
from bot.people import Person
from bot.workdays import add_working, is_working
from storage.dossiers import BatchResult, DossiersRepo, DossierValues, StoredDossier
from storage.people import PeopleRepo

STATUS_NAMES: dict[int, str] = {  # in the words a citizen understands (../shared/VOICE.vi.md)
    1: N_("Mới đăng ký"),
    2: N_("Đã tiếp nhận"),
    3: N_("Không tiếp nhận"),
    4: N_("Đang giải quyết"),
    5: N_("Chờ Ông/Bà bổ sung hồ sơ"),
    6: N_("Chờ nộp phí, lệ phí"),
    7: N_("Đã rút hồ sơ"),
    8: N_("Dừng giải quyết"),
    9: N_("Đã có kết quả — mời Ông/Bà đến nhận"),
    10: N_("Đã trả kết quả"),
    11: N_("Đang giải quyết (trạng thái khác)"),
}
# DESIGN.md's one rule for time: what each status means for the appointment date.
OPEN = frozenset({1, 2, 4, 11})  # overdue once the appointment day has passed
WAITING = frozenset({5, 6})  # on the applicant: never overdue, counted apart
FINISHED = frozenset({8, 9, 10})  # on time when finished on or before the appointment day, late otherwise
CLOSED = frozenset({3, 7})  # not received, withdrawn: in no on-time rate, never overdue
MAX_FOLLOWS = 10
VIEW_LIMIT = 10  # dossiers of each kind an official's view lists
SOON_WORKING_DAYS = 2  # "due soon": by the end of the second working day from today
HISTORY_SHOWN = 5
# ZNS (Decree 13/2023): an applicant's phone is kept until this many days after the dossier ended for them (result
# returned; not received, withdrawn, stopped), then erased; only news of the last NOTICE_DAYS is sent by ZNS.
PHONE_DAYS = 30
PHONE_MAX_DAYS = 365  # and never longer than a year after it was received (a result never collected)
NOTICE_DAYS = 7
# The steps an applicant is told of by a ZNS template message, by status: received (2, or 4 straight after
# registration: only the first step past registration), something to supplement or pay (5, 6), the result ready to
# collect (9). "overdue" is sent when an open dossier's appointment day has passed. Other steps (withdrawn, stopped,
# returned) the applicant brought about or saw happen.
STATUS_TEMPLATES = {2: "received", 4: "received", 5: "supplement", 6: "supplement", 9: "ready"}


def notices(templates: Collection[str]) -> dict[int, str]:
    """The statuses whose steps message the applicant, for the templates configured; overdue is the overdue
    job's."""
    return {status: name for status, name in STATUS_TEMPLATES.items() if name in templates}


# Enumeration limits: more than LOOKUP_LIMIT lookups, or UNKNOWN_LIMIT unknown codes, in LIMIT_WINDOW.
LOOKUP_LIMIT = 20
UNKNOWN_LIMIT = 10
LIMIT_WINDOW = timedelta(minutes=10)

_DASH = r"\s*[-\u2010-\u2015\u2212\ufe58\ufe63\uff0d]\s*"
# Agency part, yyMMdd, counter: `000.00.37.H37-250804-0012`; any dash, spaces around it, any case.
CODE_IN_TEXT = re.compile(
    rf"(?<![A-Za-z0-9.])([A-Za-z0-9][A-Za-z0-9.]{{1,30}}){_DASH}(\d{{6}}){_DASH}(\d{{3,8}})(?![0-9])"
)
_NOT_KEY = re.compile(r"[^0-9A-Z]")


def code_key(code: str) -> str:
    """The lookup key of a code: upper case letters and digits only (`000.00.37.h37 – 250804-0012` and
    `000.00.37.H37-250804-0012` are the same dossier)."""
    upper = code.upper()
    key = upper.replace(".", "").replace("-", "")  # the usual separators: a fast path for the import
    if key.isascii() and key.isalnum():
        return key
    return _NOT_KEY.sub("", upper)


def find_code(text: str) -> str | None:
    """The first dossier code in free text, written canonically (`AGENCY-yyMMdd-NNNN`), or None."""
    match = CODE_IN_TEXT.search(text)
    if match is None:
        return None
    return f"{match[1].upper()}-{match[2]}-{match[3]}"


MAX_CODE_LETTERS = 4  # `H37` has one; a random code of the same length has about fifteen
_LOOSE_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z .\-\u2010-\u2015\u2212]{10,60}[0-9]")


def loose_code(text: str) -> str | None:
    """A message that is only a code written without its usual separators (`0004137H372611270002`,
    `000 41 37 H37 261127 0005`, `000.41.37.H37.261127.0005`): digits, spaces, dots or dashes and a few letters (an
    agency's), at least 12 letters and digits of which 10 are digits. None for anything else: a name, a sentence, a
    phone number, an invite code (random letters and digits)."""
    text = text.strip()
    if _LOOSE_CODE.fullmatch(text) is None:
        return None
    key = code_key(text)
    letters = sum(char.isalpha() for char in key)
    return text if len(key) >= 12 and len(key) - letters >= 10 and letters <= MAX_CODE_LETTERS else None


# A code without its agency part: `261204-0002`, `261204 0002`, `261204.0002` (yyMMdd and the day's counter), or
# the ten digits together when they begin with a year of the 2020s or 2030s (a phone number begins with 0).
_TAIL = re.compile(r"(?<![A-Za-z0-9.\-])(\d{6})(?:\s*[-.\u2010-\u2015\u2212]\s*|\s+)(\d{4})(?![0-9])")
_TAIL_ALONE = re.compile(r"\s*([23]\d{5})(\d{4})\s*")
TAIL_LENGTH = 10


def _a_day(digits: str) -> bool:
    """Whether `yyMMdd` is a date."""
    month, day = int(digits[2:4]), int(digits[4:6])
    return 1 <= month <= 12 and 1 <= day <= 31


def tail_code(text: str) -> str | None:
    """`yyMMdd-NNNN` when the text holds a code's date and counter without its agency part, else None."""
    match = _TAIL.search(text) or _TAIL_ALONE.fullmatch(text)
    if match is None or not _a_day(match[1]):
        return None
    return f"{match[1]}-{match[2]}"


def is_tail(key: str) -> bool:
    """Whether a code key is only a date and a counter (`2612040002`)."""
    return len(key) == TAIL_LENGTH and key.isdigit() and _a_day(key[:6])


KEY_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MIN_NEAR, MAX_NEAR = 12, 40  # keys a suggestion is looked for (a dossier code's length, give or take)


def slips(key: str) -> set[str]:
    """Every key one typing slip from `key`: a character replaced, left out, added, or two neighbours swapped."""
    found = {key[:i] + key[i + 1 :] for i in range(len(key))}
    found |= {key[:i] + c + key[i + 1 :] for i in range(len(key)) for c in KEY_ALPHABET if c != key[i]}
    found |= {key[:i] + c + key[i:] for i in range(len(key) + 1) for c in KEY_ALPHABET}
    found |= {key[:i] + key[i + 1] + key[i] + key[i + 2 :] for i in range(len(key) - 1) if key[i] != key[i + 1]}
    found.discard(key)
    return found


_LINE_BREAK = re.compile(r"[ \t]*\r?\n[ \t]*")


def typed_code(text: str) -> str | None:
    """A dossier code in what a person typed, pasted or a receipt's QR code holds: in a sentence, in a link (also
    percent-encoded, also as a query value without separators), split over two lines, or written without its
    separators (`loose_code`). None when there is none."""
    readings = [text]
    if "%" in text or "+" in text:  # decoded first: `%2E` is no part of a code
        readings.insert(0, urllib.parse.unquote_plus(text))
    if "\n" in text:
        readings += [_LINE_BREAK.sub("-", text), _LINE_BREAK.sub("", text)]
    for reading in readings:
        if code := find_code(reading) or loose_code(reading):
            return code
    for reading in readings:
        if code := tail_code(reading):
            return code
    if "?" in text:
        values = urllib.parse.parse_qsl(urllib.parse.urlsplit(text.strip()).query)
        return next((code for _, value in values if (code := loose_code(value))), None)
    return None


def to_sql_time(moment: datetime) -> str:
    """An aware datetime as stored: UTC, `YYYY-MM-DD HH:MM:SS`."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")


def from_sql_time(value: str) -> datetime:
    """A stored time back to an aware UTC datetime."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


class Timeliness(Enum):
    """Where a dossier stands against its appointment date, by the one rule (`standing`)."""

    EARLY = "early"  # finished before the appointment day (trước hạn)
    ON_TIME = "on_time"  # finished on the appointment day (đúng hạn)
    LATE = "late"  # finished after it
    OVERDUE = "overdue"  # open, and the appointment day has passed
    PENDING = "pending"  # open, the appointment day still to come (or today)
    WAITING = "waiting"  # on the applicant (5, 6): the clock waits
    CLOSED = "closed"  # not received or withdrawn (3, 7): no clock at all
    NO_DUE_DATE = "no_due_date"  # open or finished without an appointment date


@dataclass(frozen=True)
class HistoryStep:
    """One status change: the status, when it took effect, where we learnt it."""

    status: int
    at: datetime
    source: str


@dataclass(frozen=True)
class Dossier:
    """A dossier as stored (the applicant's name is never part of a lookup answer)."""

    id: int
    code: str
    procedure_name: str
    commune_code: str
    received_at: datetime
    due_at: datetime | None
    status: int
    finished_at: datetime | None
    returned_at: datetime | None
    note: str | None = None  # the one-stop system's note to the applicant (what to supplement)
    fee: int | None = None  # đồng to pay (status 6)
    new_due_at: datetime | None = None  # a new appointment date, given with an apology letter
    procedure_code: str | None = None  # the national code of its procedure, when the one-stop system sends it

    @property
    def appointment(self) -> datetime | None:
        """The appointment date the rule judges by: the new one when there is one."""
        return self.new_due_at or self.due_at


@dataclass(frozen=True)
class Standing:
    """The rule applied: the verdict and by how many days (early, late, overdue, left)."""

    timeliness: Timeliness
    days: int

    @property
    def on_time(self) -> bool:
        """Finished on or before the appointment day (trước hạn or đúng hạn)."""
        return self.timeliness in (Timeliness.EARLY, Timeliness.ON_TIME)


def finished_time(dossier: Dossier, history: Sequence[HistoryStep]) -> datetime | None:
    """When a finished dossier (8, 9, 10) finished: `ngay_ket_thuc`, else the first time it had one of those
    statuses (a history step, or `ngay_tra_ket_qua` for 10); None for any other status."""
    if dossier.status not in FINISHED:
        return None
    if dossier.finished_at is not None:
        return dossier.finished_at
    times = [step.at for step in history if step.status in FINISHED]
    if dossier.returned_at is not None:
        times.append(dossier.returned_at)
    return min(times) if times else None


def standing(dossier: Dossier, history: Sequence[HistoryStep], now: datetime, tz: ZoneInfo) -> Standing:
    """DESIGN.md's one rule for time. The appointment date (a new one given with an apology letter, else the first)
    is a whole day in the province (a receipt says `hẹn trả
    ngày 06/08/2025`, often with no time): finishing at any hour of it is on time, and an open dossier is overdue
    once it has passed. Waiting on the applicant (5, 6) is never overdue; not received and withdrawn (3, 7) have no
    clock at all."""
    if dossier.status in CLOSED:
        return Standing(Timeliness.CLOSED, 0)
    if dossier.status in WAITING:
        return Standing(Timeliness.WAITING, 0)
    if dossier.appointment is None:
        return Standing(Timeliness.NO_DUE_DATE, 0)
    due_day = dossier.appointment.astimezone(tz).date()
    if dossier.status in FINISHED:
        done = finished_time(dossier, history) or now
        done_day = done.astimezone(tz).date()
        if done_day < due_day:
            return Standing(Timeliness.EARLY, (due_day - done_day).days)
        if done_day == due_day:
            return Standing(Timeliness.ON_TIME, 0)
        return Standing(Timeliness.LATE, (done_day - due_day).days)
    today = now.astimezone(tz).date()
    if today > due_day:
        return Standing(Timeliness.OVERDUE, (today - due_day).days)
    return Standing(Timeliness.PENDING, (due_day - today).days)


def start_of_day(now: datetime, tz: ZoneInfo) -> datetime:
    """Midnight of `now`'s day in the province."""
    return datetime.combine(now.astimezone(tz).date(), datetime.min.time(), tz)


class LookupLimiter:
    """Slows enumeration: per person, at most LOOKUP_LIMIT lookups and UNKNOWN_LIMIT unknown codes per window.

    Kept in memory: a restart forgives, which costs an attacker a restart they cannot cause.
    """

    def __init__(self) -> None:
        self._lookups: dict[Person, deque[datetime]] = {}
        self._unknown: dict[Person, deque[datetime]] = {}

    @staticmethod
    def _recent(events: deque[datetime] | None, now: datetime) -> int:
        if events is None:
            return 0
        while events and now - events[0] >= LIMIT_WINDOW:
            events.popleft()
        return len(events)

    def blocked_until(self, person: Person, now: datetime) -> datetime | None:
        """When this person may look up again, or None if they may now."""
        lookups, unknown = self._lookups.get(person), self._unknown.get(person)
        if self._recent(lookups, now) >= LOOKUP_LIMIT and lookups:
            return lookups[0] + LIMIT_WINDOW
        if self._recent(unknown, now) >= UNKNOWN_LIMIT and unknown:
            return unknown[0] + LIMIT_WINDOW
        return None

    def record(self, person: Person, now: datetime, found: bool) -> None:
        """Count one lookup (and one unknown code if it was not found)."""
        self._lookups.setdefault(person, deque()).append(now)
        if not found:
            self._unknown.setdefault(person, deque()).append(now)


@dataclass(frozen=True)
class LookupResult:
    """A lookup's answer: the dossier with its standing and last steps, or why there is none."""

    code: str
    dossier: Dossier | None = None
    history: tuple[HistoryStep, ...] = ()
    standing: Standing | None = None
    commune_name: str | None = None
    following: bool = False
    wait_until: datetime | None = None
    near: str | None = None  # not found: the one known code a character away (its code only, nothing else)
    several: bool = False  # not found: a date and counter without the agency part, which several dossiers carry


def _time(value: str | None) -> datetime | None:
    return from_sql_time(value) if value else None


def to_dossier(row: StoredDossier) -> Dossier:
    """A stored row with its times as aware datetimes."""
    return Dossier(
        row.id,
        row.code,
        row.procedure_name,
        row.commune_code,
        from_sql_time(row.received_at),
        _time(row.due_at),
        row.status,
        _time(row.finished_at),
        _time(row.returned_at),
        row.note,
        row.fee,
        _time(row.new_due_at),
        row.procedure_code,
    )


@dataclass(frozen=True)
class Followed:
    """A followed dossier and where it stands."""

    dossier: Dossier
    standing: Standing


@dataclass(frozen=True)
class CommuneView:
    """An official's view of their commune's dossiers, each with where it stands (each list the first
    `VIEW_LIMIT`, with the whole count)."""

    overdue: tuple[Followed, ...]
    overdue_total: int
    due_soon: tuple[Followed, ...]
    due_soon_total: int
    waiting: tuple[Followed, ...]
    waiting_total: int


class DossierService:
    """Lookups by code (limited against enumeration), following, and applying imported rows."""

    def __init__(
        self,
        repo: DossiersRepo,
        people: PeopleRepo,
        commune_names: Mapping[str, str],
        tz: ZoneInfo,
        templates: Collection[str] = (),
    ) -> None:
        self.repo = repo
        self.people = people
        self.commune_names = commune_names
        self.tz = tz
        self.limiter = LookupLimiter()
        # ZNS: the templates configured (ZALO_ZNS_TEMPLATES), and the statuses whose steps message the applicant.
        self.templates = frozenset(templates)
        self.notices = notices(self.templates)

    async def lookup(self, person: Person, code: str, now: datetime) -> LookupResult:
        """Look a code up for a person; the answer has no applicant name and no phone number."""
        wait = self.limiter.blocked_until(person, now)
        if wait is not None:
            return LookupResult(code, wait_until=wait)
        found = await self.repo.lookup(code_key(code), person.channel, person.external_id)
        self.limiter.record(person, now, found=found is not None)
        if found is None:
            key = code_key(code)
            if is_tail(key):  # the agency part left out: the one dossier with that date and counter, if one
                codes = await self.repo.codes_with_tail(key)
                return LookupResult(code, near=codes[0] if len(codes) == 1 else None, several=len(codes) > 1)
            return LookupResult(code, near=await self.near(code))
        stored, steps, following = found
        dossier = to_dossier(stored)
        history = tuple(HistoryStep(step.status, from_sql_time(step.at), step.source) for step in steps)
        return LookupResult(
            dossier.code,
            dossier,
            history[-HISTORY_SHOWN:],
            standing(dossier, history, now, self.tz),
            self.commune_names.get(dossier.commune_code, dossier.commune_code),
            following,
        )

    async def near(self, code: str) -> str | None:
        """The code of the one known dossier a typing slip away from `code` (a character wrong, missing, extra,
        or two swapped), or None when there is none or more than one: a suggestion, never a dossier shown."""
        key = code_key(code)
        if not MIN_NEAR <= len(key) <= MAX_NEAR:
            return None
        found = await self.repo.codes_of(sorted(slips(key)))
        return found[0] if len(found) == 1 else None

    async def _history(self, dossier_id: int) -> tuple[HistoryStep, ...]:
        steps = await self.repo.history(dossier_id)
        return tuple(HistoryStep(step.status, from_sql_time(step.at), step.source) for step in steps)

    async def follow(self, person: Person, key: str, now: datetime) -> str:
        """Follow the dossier with this code key: 'followed', 'already', 'full' (MAX_FOLLOWS reached),
        'missing' (no such dossier) or 'limited' (too many lookups: a follow by code counts as one)."""
        if self.limiter.blocked_until(person, now) is not None:
            return "limited"
        stored = await self.repo.by_key(code_key(key))
        self.limiter.record(person, now, found=stored is not None)
        if stored is None:
            return "missing"
        person_id = await self.people.ensure(person.channel, person.external_id, to_sql_time(now))
        return await self.repo.follow(person_id, stored.id, to_sql_time(now), MAX_FOLLOWS)

    async def ended_status(self, key: str) -> int | None:
        """The status of the dossier with this code key when it has ended (finished, withdrawn, not received):
        following it is allowed, but nothing more is expected. None otherwise."""
        stored = await self.repo.by_key(code_key(key))
        return stored.status if stored is not None and stored.status in FINISHED | CLOSED else None

    async def unfollow(self, person: Person, key: str, now: datetime) -> bool | None:
        """Stop following the dossier with this code key; False if the person did not follow it, None when too
        many lookups came first (a press by code counts as one, as a follow does)."""
        if self.limiter.blocked_until(person, now) is not None:
            return None
        person_id = await self.people.id_of(person.channel, person.external_id)
        stored = await self.repo.by_key(code_key(key))
        self.limiter.record(person, now, found=stored is not None)
        return person_id is not None and stored is not None and await self.repo.unfollow(person_id, stored.id)

    async def followed(self, person: Person, now: datetime) -> list[Followed]:
        """The person's followed dossiers and where each stands."""
        person_id = await self.people.id_of(person.channel, person.external_id)
        if person_id is None:
            return []
        result = []
        for row in await self.repo.followed(person_id):
            dossier = to_dossier(row)
            history = await self._history(row.id)
            result.append(Followed(dossier, standing(dossier, history, now, self.tz)))
        return result

    async def apply(self, rows: Sequence[DossierValues], source: str, now: datetime) -> BatchResult:
        """Store imported rows (idempotent); status changes reach followers through the outbox, and applicants with
        a phone by ZNS (news of the last `NOTICE_DAYS` only). A phone of a dossier that ended more than
        `PHONE_DAYS` ago is not stored."""
        return await self.repo.apply(
            rows,
            source,
            to_sql_time(now),
            notices=self.notices,
            since=to_sql_time(now - timedelta(days=NOTICE_DAYS)),
            erase_before=to_sql_time(now - timedelta(days=PHONE_DAYS)),
            kept_from=to_sql_time(now - timedelta(days=PHONE_MAX_DAYS)),
            repeat_from=to_sql_time(now - timedelta(days=1)),
        )

    async def erase_phones(self, now: datetime) -> int:
        """Erase the applicants' phones `PHONE_DAYS` after their dossiers ended, or `PHONE_MAX_DAYS` after they
        were received (Decree 13/2023); how many."""
        return await self.repo.erase_phones(
            to_sql_time(now - timedelta(days=PHONE_DAYS)), to_sql_time(now - timedelta(days=PHONE_MAX_DAYS))
        )

    async def count(self) -> int:
        """How many dossiers are stored."""
        return await self.repo.count()

    def _today_and_soon(self, now: datetime) -> tuple[datetime, datetime]:
        """The start of today in the province, and the end of the second working day from today: before the first,
        an open dossier is overdue; before the second, it is due soon."""
        last = add_working(now.astimezone(self.tz).date(), SOON_WORKING_DAYS)
        return start_of_day(now, self.tz), datetime.combine(last + timedelta(days=1), datetime.min.time(), self.tz)

    async def commune_view(self, commune_code: str, now: datetime, limit: int = VIEW_LIMIT) -> CommuneView:
        """An official's view of their commune: open dossiers past their date, those due within two working days,
        and those waiting on their applicants, earliest first."""
        start, soon = self._today_and_soon(now)
        overdue, overdue_total = await self.repo.commune_open(commune_code, to_sql_time(start), limit)
        # Due before the end of the second working day, earliest first: the overdue ones come first, then the rest.
        due, due_total = await self.repo.commune_open(commune_code, to_sql_time(soon), limit + overdue_total)
        waiting, waiting_total = await self.repo.commune_waiting(commune_code, limit)

        def judged(rows: Sequence[StoredDossier]) -> tuple[Followed, ...]:  # the rule for time, as of now
            return tuple(Followed(d, standing(d, (), now, self.tz)) for d in map(to_dossier, rows))

        return CommuneView(
            judged(overdue), overdue_total, judged(due[overdue_total:]), due_total - overdue_total, judged(waiting),
            waiting_total,
        )  # fmt: skip

    async def set_morning(self, person: Person, on: bool, now: datetime) -> None:
        """Turn an official's morning message about their commune's overdue dossiers on or off."""
        person_id = await self.people.ensure(person.channel, person.external_id, to_sql_time(now))
        await self.repo.set_morning(person_id, on, to_sql_time(now))

    async def morning(self, person: Person) -> bool:
        """Whether the official has the morning message on."""
        person_id = await self.people.id_of(person.channel, person.external_id)
        return person_id is not None and await self.repo.morning(person_id)

    async def queue_mornings(self, now: datetime, at: time) -> int:
        """On a working day from `at` (the digest time), queue each official's morning message once: their
        commune's open dossiers past their date and due within two working days, if any is past its date."""
        local = now.astimezone(self.tz)
        if not is_working(local.date()) or local.time() < at:
            return 0
        start, soon = self._today_and_soon(now)
        expires = start + timedelta(days=1)
        return await self.repo.queue_mornings(
            local.date().isoformat(), to_sql_time(start), to_sql_time(soon), to_sql_time(now), to_sql_time(expires)
        )

    async def enqueue_overdue(self, now: datetime) -> int:
        """Queue the one overdue message per follower of each dossier whose appointment day has passed, and the
        one ZNS message to its applicant (for appointment days of the last `NOTICE_DAYS`) when none follows it."""
        start = start_of_day(now, self.tz)
        queued = await self.repo.enqueue_overdue(to_sql_time(now), to_sql_time(start))
        if "overdue" in self.templates:
            since = to_sql_time(start - timedelta(days=NOTICE_DAYS))
            queued += await self.repo.enqueue_overdue_notices(to_sql_time(now), to_sql_time(start), since)
        return queued
