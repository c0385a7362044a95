"""Synthetic dossiers at the provincial report's volumes, for the console and for trying the bot out.

The report (shared/context): the 4 phường together received about 6,600 dossiers in a month, each xã from 100 to
a few hundred; the busiest xã are the former district towns (thị trấn, merged into a xã in 2025: which ones is read
from `vietnamadminunits`, see `former_towns`). Dossiers arrive on working days between 7:30 and 16:30; most are
finished on time; withdrawn, refused and stopped ones are rare. Procedure names are real commune-level procedures;
no procedure code is invented (the column stays empty).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.centres import CentreDirectory
from bot.dossiers import code_key, from_sql_time, to_sql_time
from bot.text import fold
from storage.centres import Commune
from storage.dossiers import BatchResult, DossierRow, DossiersRepo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PHUONG_PER_MONTH = 6600 / 4
XA_PER_MONTH = (100, 300)
TOWN_PER_MONTH = (350, 450)  # a xã that took over a former district town
WORKING_DAYS_PER_MONTH = 22
ON_TIME_RATE = 0.95

# (procedure, working days to the appointment, weight)
PROCEDURES: tuple[tuple[str, int, int], ...] = (
    ("Chứng thực bản sao từ bản chính giấy tờ, văn bản", 0, 30),
    ("Chứng thực chữ ký trong các giấy tờ, văn bản", 0, 10),
    ("Chứng thực hợp đồng, giao dịch liên quan đến tài sản là động sản, quyền sử dụng đất và nhà ở", 2, 6),
    ("Đăng ký khai sinh", 0, 10),
    ("Đăng ký kết hôn", 0, 4),
    ("Đăng ký khai tử", 0, 3),
    ("Cấp bản sao trích lục hộ tịch", 0, 5),
    ("Đăng ký thay đổi, cải chính, bổ sung thông tin hộ tịch", 3, 3),
    ("Xác nhận tình trạng hôn nhân", 3, 5),
    ("Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất", 10, 7),
    ("Cấp Giấy chứng nhận quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất lần đầu", 20, 3),
    ("Đăng ký thành lập hộ kinh doanh", 3, 4),
    ("Cấp giấy phép xây dựng nhà ở riêng lẻ", 15, 2),
    ("Thực hiện, điều chỉnh, thôi hưởng trợ cấp xã hội hàng tháng", 10, 3),
    ("Giải quyết chế độ trợ cấp một lần đối với người có công với cách mạng", 12, 2),
    ("Đăng ký hoạt động tín ngưỡng", 15, 1),
    ("Công nhận hộ nghèo, hộ cận nghèo phát sinh trong năm", 7, 2),
)
FAMILY = ("Nguyễn", "Hoàng", "Lương", "Nông", "Vi", "Hà", "Lăng", "Triệu", "Lý", "Đinh", "Lộc", "Chu", "Mã")
GIVEN = ("Văn An", "Thị Bình", "Văn Cường", "Thị Dung", "Văn Đức", "Thị Hoa", "Văn Hùng", "Thị Lan", "Văn Minh")


def _add_working_days(day: date, count: int) -> date:
    while count > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def _stored(moment: datetime) -> str:
    return to_sql_time(moment)


def former_towns(old_units: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The 2025 communes that took over a former district town, from (pre-2025 unit's name, the code of the 2025
    unit that took it over)."""
    return frozenset(code for name, code in old_units if fold(name).startswith("thi tran "))


def demo_units(directory: CentreDirectory) -> tuple[list[Commune], frozenset[str]]:
    """The communes to make dossiers for, and which of them took over a former district town."""
    towns = former_towns((unit.name, unit.successors[0]) for unit in directory.old_units.values() if unit.successors)
    return list(directory.communes.values()), towns


def earlier_steps(rows: Sequence[DossierRow]) -> list[tuple[str, int, str]]:
    """(code key, status, at) of the steps before each row's current status: received, then being processed (a
    quarter of an hour later, or halfway to the finish if that came sooner), then the result ready."""
    steps: list[tuple[str, int, str]] = []
    for row in rows:
        if row.status in (1, 2):
            continue
        steps.append((row.code_key, 2, row.received_at))
        if row.status in (5, 6, 8, 9, 10):
            received = from_sql_time(row.received_at)
            later = received + timedelta(minutes=15)
            if row.finished_at:
                later = min(later, received + (from_sql_time(row.finished_at) - received) / 2)
            steps.append((row.code_key, 4, to_sql_time(later)))
        if row.status == 10 and row.finished_at:
            steps.append((row.code_key, 9, row.finished_at))
    return steps


def generate(
    communes: Sequence[Commune], now: datetime, *, seed: int = 2025, days: int = 60, towns: frozenset[str] = frozenset()
) -> list[DossierRow]:
    """Dossiers received in the `days` days before `now`'s day, for every commune (same seed and day → same rows);
    `towns`: the communes that took over a former district town (`former_towns`), busier than the other xã."""
    rng = random.Random(seed)
    today = now.astimezone(TZ).date()
    evening = datetime.combine(today, time(0, 0), TZ)  # statuses as of the start of today
    names = [p[0] for p in PROCEDURES]
    weights = [p[2] for p in PROCEDURES]
    working = {name: days_ for name, days_, _ in PROCEDURES}
    rows: list[DossierRow] = []
    for index, commune in enumerate(sorted(communes, key=lambda c: c.code), start=1):
        if commune.kind == "phuong":
            monthly = PHUONG_PER_MONTH
        else:
            monthly = rng.uniform(*(TOWN_PER_MONTH if commune.code in towns else XA_PER_MONTH))
        daily = monthly / WORKING_DAYS_PER_MONTH
        agency = f"000.{index:02d}.37.H37"
        for offset in range(days, 0, -1):
            day = today - timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            count = max(0, round(rng.gauss(daily, daily**0.5)))
            for counter in range(1, count + 1):
                procedure = rng.choices(names, weights)[0]
                received = datetime.combine(day, time(7, 30), TZ) + timedelta(minutes=rng.randrange(9 * 60))
                due_day = _add_working_days(day, working[procedure])
                due = datetime.combine(due_day, time(16, 30) if working[procedure] else time(17, 0), TZ)
                status, finished, returned = _outcome(rng, received, due, evening)
                code = f"{agency}-{day:%y%m%d}-{counter:04d}"
                rows.append(
                    DossierRow(
                        code_key=code_key(code),
                        code=code,
                        procedure_code=None,
                        procedure_name=procedure,
                        commune_code=commune.code,
                        received_at=_stored(received),
                        due_at=_stored(due),
                        status=status,
                        finished_at=_stored(finished) if finished else None,
                        returned_at=_stored(returned) if returned else None,
                        channel=rng.choices((1, 2, 3), (70, 28, 2))[0],
                        applicant=f"{rng.choice(FAMILY)} {rng.choice(GIVEN)}",
                    )
                )
    return rows


def _outcome(
    rng: random.Random, received: datetime, due: datetime, now: datetime
) -> tuple[int, datetime | None, datetime | None]:
    """(status, finished, returned) as of `now`: about 95% finished on time, a few refused, stopped or late."""
    roll = rng.random()
    if roll < 0.01:  # refused at the desk
        return 3, received + timedelta(minutes=rng.uniform(5, 60)), None
    if roll < 0.015:  # stopped along the way
        return 8, received + (due - received) * rng.uniform(0.2, 0.9), None
    if roll < 0.02:  # withdrawn by the applicant (the time it ended is its finish)
        return 7, received + (min(due, now) - received) * rng.uniform(0.1, 0.9), None
    span = max(due - received, timedelta(hours=1))
    on_time = rng.random() < ON_TIME_RATE
    finished = received + span * rng.uniform(0.2, 1.0) if on_time else due + timedelta(days=rng.uniform(0.5, 6))
    if finished > now:
        if due < now:  # should be done by now but is not: overdue
            return rng.choice((4, 4, 5, 6)), None, None
        return rng.choice((1, 2, 4, 4, 4, 5, 6)), None, None  # 1: submitted online, not yet accepted
    returned = finished + timedelta(hours=rng.uniform(1, 72))
    if returned > now:
        return 9, finished, None
    return 10, finished, returned


async def fill_demo(
    repo: DossiersRepo,
    communes: Sequence[Commune],
    now: datetime,
    seed: int,
    days: int,
    towns: frozenset[str] = frozenset(),
) -> tuple[BatchResult, str | None]:
    """Synthetic dossiers with their earlier history steps, for new rows only; and the code of one of them that is
    still being processed (an example to look up)."""
    if await repo.has_history_from_other_than("demo"):
        raise ValueError("cơ sở dữ liệu đã có hồ sơ thật: không tạo hồ sơ mẫu lẫn vào")
    rows = generate(communes, now, seed=seed, days=days, towns=towns)
    result = await repo.apply(rows, "demo", to_sql_time(now), keys=True)
    fresh = set(result.inserted_keys)
    steps = earlier_steps([row for row in rows if row.code_key in fresh])
    await repo.add_history(steps, "demo", to_sql_time(now))
    example = next((row.code for row in reversed(rows) if row.status == 4), rows[-1].code if rows else None)
    return result, example
