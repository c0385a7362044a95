"""The public service's working days: Monday to Friday, except Vietnam's public holidays (the `holidays` package:
Tết, Giỗ Tổ Hùng Vương, 30/4, 1/5, 2/9 and the days off the government moves to join them)."""

from __future__ import annotations

from datetime import date, timedelta

import holidays

_HOLIDAYS = holidays.country_holidays("VN")  # any year asked for is computed on first use


def is_working(day: date) -> bool:
    """A working day of the public service: Monday to Friday, not a public holiday."""
    return day.weekday() < 5 and day not in _HOLIDAYS


def previous_working(day: date) -> date:
    """The last working day before `day`."""
    day -= timedelta(days=1)
    while not is_working(day):
        day -= timedelta(days=1)
    return day


def add_working(day: date, count: int) -> date:
    """The working day `count` working days after `day` (`day` itself for 0)."""
    while count > 0:
        day += timedelta(days=1)
        count -= is_working(day)
    return day
