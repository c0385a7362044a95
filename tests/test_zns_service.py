"""ZNS without the network: which steps message an applicant's phone (once each), the phone as personal data
(normalised, never shown, erased 30 days after the dossier ended), the template's parameters, and what each of
Zalo's answers makes the outbox do."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.dossier_import import RowParser, applicant_phone
from bot.dossiers import PHONE_DAYS, DossierService, to_sql_time
from bot.i18n import translator
from bot.outbox import Outcome
from bot.zns import Answer, _seconds, classify
from handlers.outbox import TEMPLATE_PARAMS, render_template
from storage.centres import CentresRepo
from storage.db import Database
from storage.dossiers import DossiersRepo
from storage.people import PeopleRepo
from tests.factories import CODE, KEY, dossier_row
from tests.fakezns import SETTING

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2025, 8, 5, 3, 0, tzinfo=UTC)  # 10:00 on Tuesday 5 August 2025 in Lạng Sơn
PHONE = "84912345678"
ALL = dict(part.split("=") for part in SETTING.split(","))


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("0912345678", PHONE),
        ("0912 345 678", PHONE),
        ("0912.345.678", PHONE),
        ("+84 912 345 678", PHONE),
        ("84912345678", PHONE),
        ("(+84) 912-345-678", PHONE),
        (912345678, PHONE),  # a spreadsheet's number: the 0 is gone
        (912345678.0, PHONE),
        ("0362 111 222", "84362111222"),
        ("0586111222", "84586111222"),
        ("0705111222", "84705111222"),
        ("0812111222", "84812111222"),
        ("0205 3812 345", None),  # a landline in Lạng Sơn: no Zalo account can be behind it
        ("02053812345", None),
        ("01689123456", None),  # the 11-digit mobile numbers ended in 2018
        ("091234567", None),
        ("09123456789", None),
        ("+1 415 555 0100", None),
        ("không có", None),
        ("", None),
        (None, None),
        (True, None),
        (912345678.5, None),
        (["0912345678"], None),
    ],
)
def test_a_phone_is_a_vietnamese_mobile_number_in_the_84_form(given: object, stored: str | None) -> None:
    assert applicant_phone(given) == stored


def test_a_phone_that_is_no_mobile_number_drops_the_phone_not_the_dossier() -> None:
    parser = RowParser({"06385"}, TZ)
    row = parser.parse({**dossier_row()._asdict(), "received_at": "20250804083000", "phone": "0205 3812 345"})
    assert row.code == CODE and row.phone is None
    assert parser.phones_ignored == 1
    assert parser.parse({**dossier_row()._asdict(), "received_at": "20250804083000", "phone": ""}).phone is None
    assert parser.phones_ignored == 1  # a blank is no phone given


@pytest.fixture
async def service(db: Database, centres_repo: CentresRepo) -> DossierService:
    return DossierService(DossiersRepo(db), PeopleRepo(db), {"06385": "Xã Hữu Lũng"}, TZ, ALL)


async def zns_rows(db: Database) -> list[dict[str, object]]:
    rows = await db.fetchall(
        "SELECT p.channel, p.external_id, o.dedupe_key, o.payload FROM outbox o JOIN people p ON p.id = o.person_id"
        " WHERE o.kind = 'zns' ORDER BY o.id"
    )
    return [{"person": (row[0], row[1]), "key": row[2], **json.loads(row[3])} for row in rows]


async def test_each_step_an_applicant_should_know_of_sends_one_template_message(
    service: DossierService, db: Database
) -> None:
    at = NOW
    steps = [(2, "received"), (4, None), (5, "supplement"), (4, None), (6, "supplement"), (9, "ready"), (10, None)]
    for status, _ in steps:
        at += timedelta(hours=1)
        await service.apply([dossier_row(status=status, phone=PHONE, note="Bản sao căn cước")], "import:a.csv", at)
        await service.apply([dossier_row(status=status, phone=PHONE, note="Bản sao căn cước")], "import:a.csv", at)
    rows = await zns_rows(db)
    assert [row["template"] for row in rows] == [template for _, template in steps if template]
    dossier_id = (await db.fetchone("SELECT id FROM dossiers WHERE code_key = ?", (KEY,)))[0]
    assert {row["person"] for row in rows} == {("zns", str(dossier_id))}  # the dossier, not the phone
    assert all(PHONE not in json.dumps(row) for row in rows)  # the phone is read when a message goes, not before
    assert rows[0]["code"] == CODE and rows[0]["procedure"] == "Đăng ký khai sinh" and rows[0]["commune"]


async def test_received_is_sent_once_even_when_processing_comes_straight_after_registration(
    service: DossierService, db: Database
) -> None:
    await service.apply([dossier_row(status=1, phone=PHONE)], "api", NOW)  # registered online: nothing yet
    await service.apply([dossier_row(status=4, phone=PHONE)], "api", NOW + timedelta(hours=1))
    await service.apply([dossier_row(status=11, phone=PHONE)], "api", NOW + timedelta(hours=2))
    await service.apply([dossier_row(status=2, phone=PHONE)], "api", NOW + timedelta(hours=3))
    assert [row["template"] for row in await zns_rows(db)] == ["received"]


async def test_old_news_and_followed_dossiers_and_dossiers_without_a_phone_send_nothing(
    service: DossierService, db: Database
) -> None:
    month_ago = to_sql_time(NOW - timedelta(days=30))
    old = dossier_row(code="H37-250705-0001", code_key="H372507050001", received_at=month_ago, due_at=None)
    # The first import of a year's dossiers: nobody is told of where their old dossier stands.
    await service.apply([old._replace(status=9, phone=PHONE, finished_at=month_ago)], "import:all.csv", NOW)
    await service.apply([dossier_row(status=2)], "import:a.csv", NOW)  # no phone
    assert await zns_rows(db) == []
    # A follower on Telegram hears of the change there: the applicant's phone is not also messaged.
    followed = dossier_row(code="H37-250804-0002", code_key="H372508040002", phone=PHONE, status=2)
    await service.apply([followed], "api", NOW)
    [received] = await zns_rows(db)
    person = await PeopleRepo(db).ensure("telegram", "777", to_sql_time(NOW))
    dossier_id = int(received["dossier_id"])  # type: ignore[call-overload]
    await DossiersRepo(db).follow(person, dossier_id, to_sql_time(NOW), 10)
    await service.apply([followed._replace(status=9)], "api", NOW + timedelta(hours=1))
    assert len(await zns_rows(db)) == 1
    kinds = await db.fetchall("SELECT kind FROM outbox WHERE person_id = ?", (person,))
    assert [row[0] for row in kinds] == ["dossier_status"]


async def test_without_templates_nothing_is_queued(db: Database, centres_repo: CentresRepo) -> None:
    service = DossierService(DossiersRepo(db), PeopleRepo(db), {}, TZ, ())
    await service.apply([dossier_row(status=2, phone=PHONE)], "api", NOW)
    await service.apply([dossier_row(status=9, phone=PHONE)], "api", NOW + timedelta(hours=1))
    assert await zns_rows(db) == []
    only_ready = DossierService(DossiersRepo(db), PeopleRepo(db), {}, TZ, ("ready",))
    await only_ready.apply([dossier_row(status=5, phone=PHONE)], "api", NOW + timedelta(hours=2))
    await only_ready.apply([dossier_row(status=9, phone=PHONE)], "api", NOW + timedelta(hours=3))
    assert [row["template"] for row in await zns_rows(db)] == ["ready"]


async def test_overdue_is_sent_once_for_recent_appointments_only(service: DossierService, db: Database) -> None:
    yesterday = to_sql_time(NOW - timedelta(days=1))
    long_ago = to_sql_time(NOW - timedelta(days=40))
    rows = [
        dossier_row(received_at=to_sql_time(NOW - timedelta(days=5)), due_at=yesterday, phone=PHONE),
        dossier_row(code="H37-1", code_key="H371000001", received_at=long_ago, due_at=long_ago, phone=PHONE),
        dossier_row(code="H37-2", code_key="H371000002", due_at=yesterday, phone=PHONE, status=5),  # waiting
    ]
    await service.apply(rows, "import:a.csv", NOW)
    before = len(await zns_rows(db))
    await service.enqueue_overdue(NOW)
    await service.enqueue_overdue(NOW + timedelta(minutes=10))
    overdue = [row for row in await zns_rows(db) if row["template"] == "overdue"]
    assert len(await zns_rows(db)) == before + 1
    assert [row["code"] for row in overdue] == [CODE]


def every_text(rows: list[tuple[object, ...]]) -> str:
    return "\n".join(str(value) for row in rows for value in row)


async def test_the_phone_is_erased_30_days_after_the_result_was_returned_and_never_comes_back(
    service: DossierService, db: Database
) -> None:
    returned = NOW - timedelta(days=PHONE_DAYS, hours=1)
    recent = NOW - timedelta(days=PHONE_DAYS - 1)
    done = dossier_row(status=10, finished_at=to_sql_time(returned), returned_at=to_sql_time(returned), phone=PHONE)
    kept = dossier_row(
        code="H37-3", code_key="H371000003", status=10, returned_at=to_sql_time(recent), phone="84987654321"
    )
    withdrawn = dossier_row(code="H37-4", code_key="H371000004", status=4, phone="84362111222")
    await service.apply([done._replace(status=9, returned_at=None), kept, withdrawn], "api", returned - timedelta(1))
    await service.apply([withdrawn._replace(status=7)], "api", returned)  # withdrawn, no date: its step's time
    await service.apply([done], "api", returned)
    assert await service.erase_phones(NOW) == 2
    repo = DossiersRepo(db)
    stored = {row[0]: row[1] for row in await db.fetchall("SELECT code, phone FROM dossiers")}
    assert stored == {CODE: None, "H37-3": "84987654321", "H37-4": None}
    # The one-stop system sends the whole year again: the erased phones stay erased, and nothing changed.
    again = await service.apply([done, withdrawn._replace(status=7)], "import:year.csv", NOW)
    assert (again.unchanged, again.updated) == (2, 0)
    assert await repo.phone(1) is None
    # Nowhere in the database, in any table.
    listing = (
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        if db.dialect == "postgres"
        else "SELECT name FROM sqlite_master WHERE type = 'table'"
    )
    for (table,) in await db.fetchall(listing):
        text = every_text([tuple(row) for row in await db.fetchall(f"SELECT * FROM {table}")])
        assert "912345678" not in text and "362111222" not in text, table


TEMPLATED = {
    "template": "supplement",
    "dossier_id": 1,
    "code": CODE,
    "status": 5,
    "procedure": "Đăng ký khai sinh",
    "commune": "Xã Hữu Lũng",
    "received_at": "2025-08-04 01:30:00",
    "due_at": "2025-08-06 10:00:00",
    "note": "Bản sao căn cước công dân",
    "fee": None,
}


def test_template_parameters_say_what_and_where_and_never_who() -> None:
    t = translator("vi")
    supplement = render_template(TEMPLATED, t, TZ)
    assert supplement.data == {
        "ma_ho_so": CODE,
        "ten_thu_tuc": "Đăng ký khai sinh",
        "trang_thai": "Chờ Ông/Bà bổ sung hồ sơ",
        "viec_can_lam": "Bản sao căn cước công dân",
        "noi_nop": "Trung tâm Phục vụ hành chính công xã Hữu Lũng",
    }
    fee = render_template(TEMPLATED | {"status": 6, "fee": 50000, "note": None}, t, TZ)
    assert fee.data["viec_can_lam"] == "Nộp 50.000 đồng phí, lệ phí"
    received = render_template(TEMPLATED | {"template": "received", "status": 2}, t, TZ)
    assert received.data["ngay_hen_tra"] == "06/08/2025"
    for name, params in TEMPLATE_PARAMS.items():
        data = render_template(TEMPLATED | {"template": name, "procedure": "x" * 300}, t, TZ).data
        assert tuple(data) == params and all(len(value) <= 100 for value in data.values())


@pytest.mark.parametrize(
    ("error", "outcome", "held", "halt"),
    [
        (0, Outcome.SENT, False, False),
        (-108, Outcome.GONE, False, False),  # invalid phone: final, recorded
        (-118, Outcome.GONE, False, False),  # no Zalo account
        (-119, Outcome.GONE, False, False),
        (-141, Outcome.GONE, False, False),  # declined ZNS from this Official Account
        (-127, Outcome.GONE, False, False),  # development mode, not an admin
        (-1122, Outcome.GONE, False, False),
        (-144, Outcome.RETRY, True, False),  # the daily quota: tomorrow
        (-147, Outcome.RETRY, True, False),
        (-133, Outcome.RETRY, True, False),  # the night ban: after 06:00
        (-32, Outcome.RETRY, True, False),  # rate limited
        (429, Outcome.RETRY, True, False),
        (502, Outcome.RETRY, False, False),
        (504, Outcome.UNCERTAIN, False, False),  # a gateway gave up waiting: Zalo may have taken it
        (-124, Outcome.RETRY, False, True),  # still refused after a refresh: an admin's
        (-131, Outcome.RETRY, False, True),  # template not approved
        (-115, Outcome.RETRY, False, True),  # no balance
        (-9999, Outcome.GONE, False, False),  # not documented: recorded, not sent again and again
    ],
)
def test_each_answer_of_zalo_has_its_outcome(error: int, outcome: Outcome, held: bool, halt: bool) -> None:
    delivery = classify(Answer(error, "said", {}), NOW, TZ)
    assert delivery.outcome is outcome
    assert bool(delivery.hold) is held and delivery.halt is halt
    if outcome is not Outcome.SENT:
        assert str(error) in delivery.error


def test_the_daily_quota_waits_for_the_next_day_and_the_night_ban_for_the_morning() -> None:
    quota = classify(Answer(-144, "quota", {}), NOW, TZ)  # 10:00
    assert quota.retry_after == quota.hold == pytest.approx(14 * 3600 + 5 * 60)
    night = classify(Answer(-133, "night", {}), datetime(2025, 8, 5, 16, 0, tzinfo=UTC), TZ)  # 23:00
    assert night.retry_after == pytest.approx(7 * 3600 + 5 * 60)


async def test_steps_back_and_forth_do_not_message_the_applicant_twice(service: DossierService, db: Database) -> None:
    at = NOW
    for status in (2, 9, 5, 9, 5, 6):  # an older file imported again, then the current one, twice
        at += timedelta(hours=1)
        await service.apply([dossier_row(status=status, phone=PHONE)], "import:a.csv", at)
    assert [row["template"] for row in await zns_rows(db)] == ["received", "ready", "supplement", "supplement"]
    assert [row["status"] for row in await zns_rows(db)][-2:] == [5, 6]  # papers, then fees: two requests
    await service.apply([dossier_row(status=5, phone=PHONE)], "import:a.csv", at + timedelta(days=2))
    assert len(await zns_rows(db)) == 5  # asked for papers again two days later: told again


async def test_received_late_after_online_registration_is_still_news(service: DossierService, db: Database) -> None:
    registered = to_sql_time(NOW - timedelta(days=10))
    await service.apply([dossier_row(status=1, received_at=registered, due_at=None, phone=PHONE)], "api", NOW)
    await service.apply([dossier_row(status=2, received_at=registered, due_at=None, phone=PHONE)], "api", NOW)
    assert [row["template"] for row in await zns_rows(db)] == ["received"]


async def test_a_follower_who_blocked_the_bot_does_not_silence_the_applicants_phone(
    service: DossierService, db: Database
) -> None:
    await service.apply([dossier_row(status=2)], "api", NOW)
    person = await PeopleRepo(db).ensure("telegram", "777", to_sql_time(NOW))
    await DossiersRepo(db).follow(person, 1, to_sql_time(NOW), 10)
    async with db.transaction() as conn:
        await conn.execute("UPDATE people SET unreachable_at = ? WHERE id = ?", (to_sql_time(NOW), person))
    await service.apply([dossier_row(status=9, phone=PHONE)], "api", NOW + timedelta(hours=1))
    assert [row["template"] for row in await zns_rows(db)] == ["ready"]


async def test_the_phone_of_a_reopened_dossier_is_kept_from_its_last_return_and_never_over_a_year(
    service: DossierService, db: Database
) -> None:
    start = NOW - timedelta(days=60)
    for days, status in ((0, 2), (1, 10), (2, 4), (40, 10)):  # returned, reopened, returned again 20 days ago
        await service.apply([dossier_row(status=status, phone=PHONE)], "api", start + timedelta(days=days))
    uncollected = dossier_row(
        code="H37-5", code_key="H371000005", status=9, received_at=to_sql_time(NOW - timedelta(days=366)),
        due_at=None, phone="84987654321",
    )  # fmt: skip
    await service.apply([uncollected], "import:old.csv", NOW - timedelta(days=1))
    assert await service.erase_phones(NOW) == 1
    stored = {row[0]: row[1] for row in await db.fetchall("SELECT code, phone FROM dossiers")}
    assert stored == {CODE: PHONE, "H37-5": None}
    assert await service.erase_phones(NOW + timedelta(days=11)) == 1  # 30 days after the second return


@pytest.mark.parametrize(
    ("header", "seconds"), [("5", 5.0), ("inf", 0.0), ("nan", 0.0), ("1e12", 86400.0), ("-3", 0.0)]
)
def test_a_wait_zalo_asks_for_is_a_number_of_seconds_within_a_day(header: str, seconds: float) -> None:
    assert _seconds(header) == seconds
