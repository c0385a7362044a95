"""Reading dossier files: both header languages, every date form, CSV and XLSX, bad rows with line and reason."""

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from bot.dossier_import import RowError, RowParser, import_file
from bot.dossiers import DossierService
from storage.centres import CentresRepo
from storage.db import Database
from storage.dossiers import DossiersRepo
from storage.people import PeopleRepo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2025, 8, 10, 1, 0, tzinfo=UTC)
HEADER_VI = "ma_ho_so,ma_thu_tuc,ten_thu_tuc,ma_xa,ngay_tiep_nhan,ngay_hen_tra,trang_thai,ngay_ket_thuc,ngay_tra_ket_qua,kenh_nop,chu_ho_so"
HEADER_EN = "code,procedure_code,procedure,commune_code,received,due,status,finished,returned,channel,applicant"


@pytest.fixture
def parser() -> RowParser:
    return RowParser({"06385", "06076"}, TZ)


@pytest.fixture
async def service(db: Database, centres_repo: CentresRepo) -> DossierService:
    return DossierService(DossiersRepo(db), PeopleRepo(db), {"06385": "Xã Hữu Lũng"}, TZ)


@pytest.mark.parametrize(
    "value",
    [
        "2025-08-04T08:30:00",
        "2025-08-04 08:30",
        "2025-08-04T01:30:00Z",
        "2025-08-04T08:30:00+07:00",
        "20250804083000",
        "04/08/2025 08:30",
        "4/8/2025 08:30:00",
    ],
)
def test_every_date_form_means_the_same_moment(parser: RowParser, value: str) -> None:
    assert parser.time(value, "ngay_tiep_nhan") == "2025-08-04 01:30:00"


def test_a_date_without_time_is_midnight_in_lang_son(parser: RowParser) -> None:
    assert parser.time("04/08/2025", "x") == "2025-08-03 17:00:00"
    assert parser.time(datetime(2025, 8, 4, 8, 30), "x") == "2025-08-04 01:30:00"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"code": ""}, "thiếu ma_ho_so"),
        ({"code": " ", "status": ""}, "thiếu ma_ho_so, trang_thai"),
        ({"commune_code": "01001"}, "mã xã 01001"),
        ({"status": "12"}, "trạng thái 12"),
        ({"status": "xong"}, "trang_thai"),
        ({"received_at": "32/13/2025"}, "ngay_tiep_nhan"),
        ({"due_at": "2025-08-01"}, "ngày hẹn trả trước ngày tiếp nhận"),
        ({"channel": "4"}, "kênh nộp 4"),
        ({"code": "A-1"}, "quá ngắn"),
    ],
)
def test_a_bad_row_says_why(parser: RowParser, changes: dict[str, str], reason: str) -> None:
    raw = {
        "code": "000.00.37.H37-250804-0012",
        "procedure_name": "Đăng ký khai sinh",
        "commune_code": "6385",
        "received_at": "2025-08-04 08:30",
        "due_at": "2025-08-06",
        "status": "2",
        "channel": "1",
    } | changes
    with pytest.raises(RowError, match=reason):
        parser.parse(raw)


def write_csv(path: Path, header: str, lines: list[str]) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


async def test_csv_import_counts_and_is_idempotent(tmp_path: Path, service: DossierService, parser: RowParser) -> None:
    lines = [
        "000.00.37.H37-250804-0001,1.001193,Đăng ký khai sinh,06385,04/08/2025 08:00,04/08/2025 17:00,10,04/08/2025 10:00,04/08/2025 15:00,1,Nguyễn Văn An",
        "000.00.37.H37-250804-0002,,Chứng thực bản sao,6385,20250804090000,20250804170000,4,,,2,",
        "000.00.37.H37-250804-0003,,Đăng ký kết hôn,99999,2025-08-04,2025-08-05,2,,,1,",
        "",
        "000.00.37.H37-250804-0004,,Xác nhận tình trạng hôn nhân,06076,2025-08-04,,2,,,,",
    ]
    path = write_csv(tmp_path / "hoso.csv", HEADER_VI, lines)
    first = await import_file(path, service, parser, NOW)
    assert (first.inserted, first.updated, first.unchanged) == (3, 0, 0)
    assert first.rejected == [(4, "mã xã 99999 không thuộc tỉnh")]
    again = await import_file(path, service, parser, NOW)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)

    lines[1] = lines[1].replace(",4,,,2,", ",9,05/08/2025 09:00,,2,")
    changed = await import_file(write_csv(tmp_path / "hoso2.csv", HEADER_VI, lines), service, parser, NOW)
    assert (changed.inserted, changed.updated, changed.unchanged, changed.status_changes) == (0, 1, 2, 1)


async def test_english_headers_semicolons_and_a_missing_column(
    tmp_path: Path, service: DossierService, parser: RowParser
) -> None:
    line = "X.37-250804-0009;;Khai sinh;06385;2025-08-04;2025-08-05;2;;;;"
    path = write_csv(tmp_path / "en.csv", HEADER_EN.replace(",", ";"), [line])
    summary = await import_file(path, service, parser, NOW)
    assert summary.inserted == 1
    with pytest.raises(RowError, match=r"trang_thai|status"):
        await import_file(
            write_csv(tmp_path / "bad.csv", "code,procedure,commune_code,received", []), service, parser, NOW
        )


async def test_xlsx_import_with_date_cells(tmp_path: Path, service: DossierService, parser: RowParser) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER_VI.split(","))
    sheet.append(
        [
            "000.00.37.H37-250804-0021",
            None,
            "Đăng ký khai tử",
            6385,
            datetime(2025, 8, 4, 8, 30),
            datetime(2025, 8, 4, 17),
            9,
            datetime(2025, 8, 4, 11),
            None,
            1,
            None,
        ]
    )
    sheet.append(
        ["000.00.37.H37-250804-0022", None, "Đăng ký khai tử", "06385", "bad date", None, 2, None, None, 1, None]
    )
    path = tmp_path / "hoso.xlsx"
    book.save(path)
    summary = await import_file(path, service, parser, NOW)
    assert summary.inserted == 1
    assert [line for line, _ in summary.rejected] == [3]
    result = await service.repo.by_key("0000037H372508040021")
    assert result is not None
    assert (result.received_at, result.finished_at) == ("2025-08-04 01:30:00", "2025-08-04 04:00:00")


async def test_a_code_on_several_lines_uses_the_last_and_reimporting_changes_nothing(
    tmp_path: Path, service: DossierService, parser: RowParser
) -> None:
    lines = [
        "000.00.37.H37-250804-0031,,Đăng ký khai sinh,06385,2025-08-04,2025-08-06,2,,,1,",
        '000.00.37.H37-250804-0032,,"Chứng thực\nbản sao",06385,2025-08-04,2025-08-06,2,,,1,',
        "000.00.37.H37-250804-0031,,Đăng ký khai sinh,06385,2025-08-04,2025-08-06,4,,,1,",
        "000.00.37.H37-250804-0033,,Khai tử,06385,2025-08-04,2025-08-06,12,,,1,",
    ]
    path = write_csv(tmp_path / "steps.csv", HEADER_VI, lines)
    first = await import_file(path, service, parser, NOW)
    assert (first.inserted, first.superseded) == (2, 1)
    assert first.rejected == [(6, "trạng thái 12 không nằm trong 1–11")]  # line 6: line 3 holds two lines
    for _ in range(2):
        again = await import_file(path, service, parser, NOW)
        assert (again.inserted, again.updated, again.unchanged, again.status_changes) == (0, 0, 2, 0)
    stored = await service.repo.by_key("0000037H372508040031")
    assert stored is not None
    assert stored.status == 4
