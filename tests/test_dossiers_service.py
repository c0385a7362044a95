"""Dossier codes, the on-time rule and the enumeration limits, as pure functions of their inputs."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.dossiers import (
    CLOSED,
    FINISHED,
    LIMIT_WINDOW,
    LOOKUP_LIMIT,
    OPEN,
    UNKNOWN_LIMIT,
    WAITING,
    Dossier,
    HistoryStep,
    LookupLimiter,
    Standing,
    Timeliness,
    code_key,
    find_code,
    standing,
)
from bot.people import Person
from storage import dossiers as dossiers_sql

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CODE = "000.00.37.H37-250804-0012"


@pytest.mark.parametrize(
    "text",
    [
        CODE,
        "000.00.37.h37-250804-0012",
        "Hồ sơ của tôi là 000.00.37.H37-250804-0012 ạ, kiểm tra giúp",
        "000.00.37.H37 – 250804 – 0012",
        "000.00.37.H37—250804—0012.",
        "000.00.37.H37‐250804‐0012",
        "000.00.37.H37 - 250804 - 0012",
    ],
)
def test_codes_are_found_in_any_case_with_any_dash_inside_a_sentence(text: str) -> None:
    assert find_code(text) == CODE
    assert code_key(find_code(text) or "") == code_key(CODE)


@pytest.mark.parametrize("text", ["2025-08-04", "gọi 0205-3825-001", "Hữu Lũng", "H37-2508-12", ""])
def test_text_without_a_code(text: str) -> None:
    assert find_code(text) is None


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2025, 8, day, hour, tzinfo=TZ).astimezone(UTC)


def dossier(
    status: int, due: datetime | None, finished: datetime | None = None, returned: datetime | None = None
) -> Dossier:
    return Dossier(1, CODE, "Đăng ký khai sinh", "06385", at(1), due, status, finished, returned)


DUE = at(5, 17)  # due on 5 August
H = [HistoryStep(2, at(1), "import")]
# DESIGN.md's one rule for time, on a table: (status, due, finished, returned, history, now, verdict, days).
RULE = [
    # open (1, 2, 4, 11): pending until the appointment day has passed, then overdue by local days
    (1, DUE, None, None, H, at(3), Timeliness.PENDING, 2),
    (2, DUE, None, None, H, at(5, 23), Timeliness.PENDING, 0),
    (4, DUE, None, None, H, datetime(2025, 8, 7, 23, 30, tzinfo=TZ), Timeliness.OVERDUE, 2),
    (11, DUE, None, None, H, at(6, 0), Timeliness.OVERDUE, 1),
    (4, None, None, None, H, at(9), Timeliness.NO_DUE_DATE, 0),
    # waiting on the applicant (5, 6): the clock waits, never overdue
    (5, DUE, None, None, H, at(20), Timeliness.WAITING, 0),
    (6, DUE, None, None, H, at(20), Timeliness.WAITING, 0),
    # finished (8, 9, 10): by ngay_ket_thuc, else the first time it had one of those statuses
    (9, DUE, at(3), None, H, at(20), Timeliness.EARLY, 2),
    (9, DUE, at(5, 23), None, H, at(20), Timeliness.ON_TIME, 0),
    (10, DUE, at(7, 8), at(8), H, at(20), Timeliness.LATE, 2),
    (10, DUE, None, at(8), [*H, HistoryStep(9, at(5, 10), "import"), HistoryStep(10, at(8), "import")], at(20),
     Timeliness.ON_TIME, 0),
    (10, DUE, None, at(6), H, at(20), Timeliness.LATE, 1),  # returned the 6th, no other trace: the 6th
    (8, DUE, None, None, [*H, HistoryStep(8, at(6), "import")], at(20), Timeliness.LATE, 1),
    (8, DUE, at(4), None, [*H, HistoryStep(8, at(6), "import")], at(20), Timeliness.EARLY, 1),
    # closed, not counted (3, 7): no clock at all, however late
    (3, DUE, at(9), None, H, at(20), Timeliness.CLOSED, 0),
    (7, DUE, None, None, H, at(20), Timeliness.CLOSED, 0),
]  # fmt: skip


@pytest.mark.parametrize(("status", "due", "finished", "returned", "history", "now", "verdict", "days"), RULE)
def test_the_one_rule_for_time(
    status: int,
    due: datetime | None,
    finished: datetime | None,
    returned: datetime | None,
    history: list[HistoryStep],
    now: datetime,
    verdict: Timeliness,
    days: int,
) -> None:
    got = standing(dossier(status, due, finished, returned), history, now, TZ)
    assert got == Standing(verdict, days)
    assert got.on_time == (verdict in (Timeliness.EARLY, Timeliness.ON_TIME))


def test_every_status_is_in_exactly_one_class() -> None:
    classes = [OPEN, WAITING, FINISHED, CLOSED]
    assert sorted(status for statuses in classes for status in statuses) == list(range(1, 12))
    assert {status for status, *_ in RULE} == set(range(1, 12))  # the table tries every status


def test_the_queries_name_the_same_classes() -> None:
    assert {int(s) for s in dossiers_sql.OPEN.split(",")} == OPEN
    assert {int(s) for s in dossiers_sql.WAITING.split(",")} == WAITING


def test_an_appointment_date_without_a_time_is_the_whole_day() -> None:
    due = datetime(2025, 8, 6, 0, 0, tzinfo=TZ)  # `06/08/2025` as imported
    assert standing(dossier(9, due, finished=datetime(2025, 8, 6, 16, 0, tzinfo=TZ)), [], at(20), TZ) == Standing(
        Timeliness.ON_TIME, 0
    )
    assert standing(dossier(4, due), [], datetime(2025, 8, 6, 8, 0, tzinfo=TZ), TZ) == Standing(Timeliness.PENDING, 0)
    assert standing(dossier(4, due), [], datetime(2025, 8, 6, 23, 59, tzinfo=TZ), TZ).timeliness is Timeliness.PENDING
    assert standing(dossier(4, due), [], datetime(2025, 8, 7, 0, 1, tzinfo=TZ), TZ) == Standing(Timeliness.OVERDUE, 1)


def test_more_than_20_lookups_in_10_minutes_waits() -> None:
    limiter, person, now = LookupLimiter(), Person("telegram", "1"), at(4)
    for i in range(LOOKUP_LIMIT):
        assert limiter.blocked_until(person, now + timedelta(seconds=i)) is None
        limiter.record(person, now + timedelta(seconds=i), found=True)
    assert limiter.blocked_until(person, now + timedelta(seconds=30)) == now + LIMIT_WINDOW
    assert limiter.blocked_until(Person("telegram", "2"), now) is None
    assert limiter.blocked_until(person, now + LIMIT_WINDOW + timedelta(seconds=LOOKUP_LIMIT)) is None


def test_ten_unknown_codes_wait() -> None:
    limiter, person, now = LookupLimiter(), Person("zalo", "abc"), at(4)
    for i in range(UNKNOWN_LIMIT):
        assert limiter.blocked_until(person, now) is None
        limiter.record(person, now + timedelta(seconds=i), found=False)
    assert limiter.blocked_until(person, now + timedelta(minutes=1)) is not None


def test_a_code_without_separators_is_read_but_never_an_invite_code() -> None:
    from bot.dossiers import loose_code
    from bot.roles import new_code

    for typed in ("0004137H372611270002", "000 41 37 H37 261127 0005", "000.41.37.h37.261124.0005"):
        assert loose_code(typed) == typed
    for other in ("0912345678", "Hữu Lũng", "xã Cai Kinh 2025", "abcdefghijklmnop12"):
        assert loose_code(other) is None
    assert [code for code in (new_code() for _ in range(20_000)) if loose_code(code)] == []
