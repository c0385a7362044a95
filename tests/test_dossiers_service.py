"""Dossier codes, the on-time rule and the enumeration limits, as pure functions of their inputs."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.dossiers import (
    LIMIT_WINDOW,
    LOOKUP_LIMIT,
    UNKNOWN_LIMIT,
    Dossier,
    HistoryStep,
    LookupLimiter,
    Standing,
    Timeliness,
    code_key,
    find_code,
    standing,
    terminal_time,
)
from bot.people import Person

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


def test_finished_before_the_appointment_is_on_time() -> None:
    d = dossier(9, at(5, 17), finished=at(4))
    assert standing(d, [], at(20), TZ) == Standing(Timeliness.ON_TIME, 1)


def test_finished_after_the_appointment_is_late_by_calendar_days() -> None:
    d = dossier(10, at(5, 17), finished=at(7, 8), returned=at(8))
    assert standing(d, [], at(20), TZ) == Standing(Timeliness.LATE, 2)


def test_status_9_counts_before_status_10() -> None:
    history = [HistoryStep(10, at(9), "import"), HistoryStep(9, at(5, 10), "import")]
    d = dossier(10, at(5, 17))
    assert terminal_time(d, history) == at(5, 10)
    assert standing(d, history, at(20), TZ).timeliness is Timeliness.ON_TIME


def test_refused_or_stopped_counts_when_nothing_else_does() -> None:
    history = [HistoryStep(2, at(1), "import"), HistoryStep(8, at(6), "import")]
    assert standing(dossier(8, at(5, 17)), history, at(20), TZ) == Standing(Timeliness.LATE, 1)


def test_unfinished_after_the_appointment_is_overdue_in_local_days() -> None:
    d = dossier(4, at(5, 17))
    late_evening = datetime(2025, 8, 7, 23, 30, tzinfo=TZ)  # 16:30 UTC: still the 7th in Lạng Sơn
    assert standing(d, [], late_evening, TZ) == Standing(Timeliness.OVERDUE, 2)


def test_unfinished_before_the_appointment_counts_the_days_left() -> None:
    d = dossier(4, at(5, 17))
    assert standing(d, [], at(3), TZ) == Standing(Timeliness.PENDING, 2)
    assert standing(d, [], at(5, 8), TZ) == Standing(Timeliness.PENDING, 0)


def test_an_appointment_date_without_a_time_is_the_whole_day() -> None:
    due = datetime(2025, 8, 6, 0, 0, tzinfo=TZ)  # `06/08/2025` as imported
    assert standing(dossier(9, due, finished=datetime(2025, 8, 6, 16, 0, tzinfo=TZ)), [], at(20), TZ) == Standing(
        Timeliness.ON_TIME, 0
    )
    assert standing(dossier(4, due), [], datetime(2025, 8, 6, 8, 0, tzinfo=TZ), TZ) == Standing(Timeliness.PENDING, 0)
    assert standing(dossier(4, due), [], datetime(2025, 8, 6, 23, 59, tzinfo=TZ), TZ).timeliness is Timeliness.PENDING
    assert standing(dossier(4, due), [], datetime(2025, 8, 7, 0, 1, tzinfo=TZ), TZ) == Standing(Timeliness.OVERDUE, 1)


def test_withdrawal_is_not_terminal() -> None:
    assert standing(dossier(7, at(5, 17)), [], at(9), TZ).timeliness is Timeliness.OVERDUE


def test_no_appointment_date() -> None:
    assert standing(dossier(4, None), [], at(9), TZ).timeliness is Timeliness.NO_DUE_DATE


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
