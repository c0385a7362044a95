"""The procedure catalogue: imported from the province's list (CSV or XLSX, idempotent, bad rows reported), and
found by what citizens ask, as a table of questions in the manner of hidden cases."""

import csv
from pathlib import Path

import pytest
from openpyxl import Workbook

from bot.procedures import ProcedureService, asks_procedure
from storage.db import Database
from storage.procedures import ProceduresRepo

NOW = "2025-08-04T03:00:00+00:00"
CATALOGUE = [  # (ma_thu_tuc, ten_thu_tuc, linh_vuc): names as the national database publishes them
    ("1.001193", "Đăng ký khai sinh", "Hộ tịch"),
    ("1.000894", "Đăng ký kết hôn", "Hộ tịch"),
    ("1.000656", "Đăng ký khai tử", "Hộ tịch"),
    ("1.004873", "Cấp Giấy xác nhận tình trạng hôn nhân", "Hộ tịch"),
    ("2.000635", "Cấp bản sao Trích lục hộ tịch", "Hộ tịch"),
    ("1.004859", "Đăng ký lại khai sinh", "Hộ tịch"),
    ("1.004746", "Đăng ký nhận cha, mẹ, con", "Hộ tịch"),
    ("2.000815", "Chứng thực bản sao từ bản chính giấy tờ, văn bản", "Chứng thực"),
    ("2.000884", "Chứng thực chữ ký trong các giấy tờ, văn bản", "Chứng thực"),
    ("2.001035", "Chứng thực hợp đồng, giao dịch liên quan đến tài sản là động sản", "Chứng thực"),
    ("2.000720", "Đăng ký thành lập hộ kinh doanh", "Thành lập và hoạt động của hộ kinh doanh"),
    ("1.001612", "Cấp giấy phép xây dựng nhà ở riêng lẻ", "Hoạt động xây dựng"),
    ("1.004227", "Đăng ký đất đai, tài sản gắn liền với đất, cấp Giấy chứng nhận quyền sử dụng đất lần đầu", "Đất đai"),
    ("1.001776", "Thực hiện, điều chỉnh, thôi hưởng trợ cấp xã hội hàng tháng", "Bảo trợ xã hội"),
    ("1.000489", "Công nhận hộ nghèo, hộ cận nghèo phát sinh trong năm", "Bảo trợ xã hội"),
    ("2.001159", "Cấp thẻ căn cước cho người từ đủ 14 tuổi trở lên", "Căn cước"),
    ("1.010036", "Đăng ký thường trú", "Đăng ký, quản lý cư trú"),
    ("1.010037", "Đăng ký tạm trú", "Đăng ký, quản lý cư trú"),
    ("1.003622", "Đăng ký hoạt động tín ngưỡng", "Tín ngưỡng, tôn giáo"),
]
QUESTIONS = [  # what a citizen asks → the code of the procedure meant (None: none, or not clearly one)
    ("làm căn cước cần giấy tờ gì", "2.001159"),
    ("lam can cuoc can giay to gi", "2.001159"),
    ("làm CCCD ở đâu", "2.001159"),
    ("cấp căn cước", "2.001159"),
    ("đăng ký khai sinh", "1.001193"),
    ("khai sinh", "1.001193"),
    ("khai sinh cho con cần gì", "1.001193"),
    ("làm giấy khai sinh", "1.001193"),
    ("dang ky khai sinh", "1.001193"),
    ("đăng kí khai sinh", "1.001193"),
    ("lệ phí kết hôn", "1.000894"),
    ("đăng ký kết hôn cần giấy tờ gì", "1.000894"),
    ("thủ tục kết hôn", "1.000894"),
    ("ket hon", "1.000894"),
    ("muốn lấy vợ thì làm thủ tục gì", "1.000894"),
    ("khai tử", "1.000656"),
    ("đăng ký khai tử bao lâu", "1.000656"),
    ("giấy xác nhận độc thân", "1.004873"),
    ("xác nhận tình trạng hôn nhân", "1.004873"),
    ("trích lục hộ tịch", "2.000635"),
    ("cấp bản sao trích lục", "2.000635"),
    ("chứng thực bản sao", "2.000815"),
    ("công chứng bản sao giấy tờ", "2.000815"),
    ("sao y bản chính", "2.000815"),
    ("chứng thực chữ ký", "2.000884"),
    ("đăng ký hộ kinh doanh", "2.000720"),
    ("mở cửa hàng cần giấy phép kinh doanh gì", "2.000720"),
    ("thành lập hộ kinh doanh", "2.000720"),
    ("giấy phép xây dựng nhà ở", "1.001612"),
    ("xin phép xây nhà", "1.001612"),
    ("làm sổ đỏ lần đầu", "1.004227"),
    ("cấp giấy chứng nhận quyền sử dụng đất", "1.004227"),
    ("trợ cấp xã hội hàng tháng", "1.001776"),
    ("công nhận hộ nghèo", "1.000489"),
    ("đăng ký thường trú", "1.010036"),
    ("nhập khẩu cho con", "1.010036"),
    ("đăng ký tạm trú", "1.010037"),
    ("đăng kí tạm chú", "1.010037"),  # a typo
    ("hoạt động tín ngưỡng", "1.003622"),
    ("nhận cha mẹ con", "1.004746"),
    ("đăng ký lại khai sinh", "1.004859"),
    ("Hữu Lũng", None),  # a place
    ("xin chào", None),
    ("cảm ơn", None),
    ("thời tiết hôm nay", None),
    ("xã Đồng Tân, huyện Hữu Lũng", None),
    ("giá vàng", None),
    ("tại sao", None),  # ordinary chat that shares a word with a procedure's name (a review found these)
    ("hồ sơ của tôi sao rồi", None),
    ("không sao", None),
    ("sao vậy", None),
    ("cuối tuần", None),
]


def write_csv(
    path: Path, rows: list[tuple[str, ...]], header: tuple[str, ...] = ("ma_thu_tuc", "ten_thu_tuc", "linh_vuc")
) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
async def catalogue(tmp_path: Path) -> ProcedureService:
    db = await Database.open(tmp_path / "p.db")
    service = ProcedureService(ProceduresRepo(db))
    await service.load()
    await service.import_file(write_csv(tmp_path / "tt.csv", CATALOGUE), NOW)
    yield service
    await db.close()


@pytest.mark.parametrize(("question", "code"), QUESTIONS)
async def test_a_question_finds_the_procedure_meant(
    catalogue: ProcedureService, question: str, code: str | None
) -> None:
    found = catalogue.search(question)
    if code is None:
        assert found == [], question
    else:
        assert [p.code for p in found][:1] == [code], (question, [p.name for p in found])


def test_the_table_is_large_enough() -> None:
    assert len(QUESTIONS) >= 40


def test_procedure_words_are_told_apart_from_places() -> None:
    assert asks_procedure("làm căn cước cần giấy tờ gì") and asks_procedure("lệ phí kết hôn")
    assert not asks_procedure("Hữu Lũng") and not asks_procedure("UBND xã Hữu Lũng ở đâu")


async def test_import_is_idempotent_reports_bad_rows_and_reads_xlsx(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "p.db")
    service = ProcedureService(ProceduresRepo(db))
    header = ("ma_thu_tuc", "ten_thu_tuc", "le_phi", "url")
    rows = [
        ("1.001193", "Đăng ký khai sinh", "Miễn lệ phí", "https://dichvucong.gov.vn/p/1"),
        ("", "Không có mã", "", ""),
        ("1.000894", "", "", ""),
        ("1.000656", "Đăng ký khai tử", "", "javascript:alert(1)"),
    ]
    first = await service.import_file(write_csv(tmp_path / "a.csv", rows, header), NOW)
    assert (first.inserted, first.updated, first.unchanged) == (1, 0, 0)
    assert [line for line, _ in first.rejected] == [3, 4, 5]
    again = await service.import_file(write_csv(tmp_path / "b.csv", rows, header), NOW)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Mã thủ tục", "Tên thủ tục", "Lệ phí"])
    sheet.append(["1.001193", "Đăng ký khai sinh", "Miễn lệ phí khi đăng ký đúng hạn"])
    workbook.save(tmp_path / "c.xlsx")
    changed = await service.import_file(tmp_path / "c.xlsx", NOW)
    assert (changed.inserted, changed.updated) == (0, 1)
    procedure = service.get("1.001193")
    assert procedure is not None and procedure.fee == "Miễn lệ phí khi đăng ký đúng hạn" and procedure.url is None
    with pytest.raises(ValueError, match="ma_thu_tuc"):
        await service.import_file(write_csv(tmp_path / "d.csv", [("x", "y")], ("ten", "ghi_chu")), NOW)
    with pytest.raises(ValueError, match="không đọc được tệp CSV"):
        await service.import_file(write_csv(tmp_path / "e.csv", [("x",)], ("ten",)), NOW)
    await db.close()
