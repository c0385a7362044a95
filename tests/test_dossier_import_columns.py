"""The column-wise parse of big files gives exactly what the row-by-row parse gives, and a child process reads
big files with the same result as this process."""

import asyncio
import csv
import multiprocessing
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import dossier_import
from bot.dossier_import import RowError, RowParser, import_file, last_lines, parse_file
from bot.dossiers import DossierService
from storage.centres import CentresRepo
from storage.db import Database
from storage.dossiers import FIELDS, DossierRow, DossiersRepo
from storage.people import PeopleRepo

NOW = datetime(2025, 8, 10, 1, 0, tzinfo=UTC)
COMMUNES = {"06385", "06076"}
# Values each column may hold: good ones in every accepted form, and bad ones (blank where a value is required).
GOOD: dict[str, list[object]] = {
    "code": ["000.00.37.H37-250804-0012", "000.00.37.h37-250804-0013", " 000.00.37.H37 – 250804-0014 "],
    "procedure_code": ["1.001193", "", None, " 2.000 "],
    "procedure_name": ["Đăng ký khai sinh", "Chứng thực  bản sao", "Ho\u0300a gia\u0301i", "x" * 600],
    "commune_code": ["06385", "6385", "06076", "6385.0"],
    "received_at": [
        "20250804083000",
        "20250330013000",  # the night Europe moves its clocks
        "20251026023000",
        "2025-08-04 08:30",
        "04/08/2025",
    ],
    "due_at": ["20251231170000", "", None, "2025-12-06", "06/12/2025 17:00"],
    "status": ["1", "4", "10", "4.0", " 9 "],
    "finished_at": ["", None, "20250805100000", "2025-08-05T10:00:00+07:00"],
    "returned_at": ["", None, "20250806080000"],
    "channel": ["1", "2", "3", "", " ", None, "2.0"],
    "applicant": ["Nguyễn Văn An", "  Lý  Thị Bình ", "", None, "Hoàng\u0000Văn", "Nguye\u0302\u0303n"],
    "note": [None, "", "Bổ sung bản sao căn cước", " thiếu  tờ khai "],
    "fee": [None, "", "50000", "50.000", "1,000,000 đ", "0"],
    "new_due_at": [None, "", "20250812170000", "12/08/2025"],
    # A phone that is no mobile number is no reason to refuse the dossier: it is dropped (and counted).
    "phone": [None, "", "0912 345 678", "+84 987.654.321", 912345678, 912345678.0, "0205 3812 345", "không có"],
}
BAD: dict[str, list[object]] = {
    "code": ["A-1", "", None, "X" * 60, "Ｈ37-250804-0015"],
    "procedure_name": ["", "   ", None],
    "commune_code": ["99999", "", "abc", None],
    "received_at": ["20250804083099", "20251304083000", "", None, "٢٠٢٥٠٨٠٤٠٨٣٠٠٠"],
    "due_at": ["20250801000000", "soon"],
    "status": ["11", "0", "", "xong", None],
    "finished_at": ["20250805106000", "yesterday"],
    "returned_at": ["2025-13-01"],
    "channel": ["4", "x"],
}


# Columns written plainly, as a big export usually is (these take the quickest paths).
PLAIN = GOOD | {
    "code": ["000.00.37.H37-250804-0012", "000.00.37.h37-250805-0013", "H37.250804.0014"],
    "applicant": ["Nguyễn Văn An", "Lý Thị Bình", "", None, "Hoang Van Dung"],
    "note": [None, "", "Bổ sung bản sao căn cước"],
}


# The fields of issues 15 and 16, drawn apart: the older ones stay as they were drawn.
ADDED = ("note", "fee", "new_due_at", "phone")


def random_row(
    rng: random.Random, good: dict[str, list[object]], bad: float, added: random.Random | None = None
) -> list[object]:
    return [
        (added or rng).choice(good[name])
        if name in ADDED
        else rng.choice(BAD[name] if name in BAD and rng.random() < bad else good[name])
        for name in FIELDS
    ]


@pytest.mark.parametrize("zone", ["Asia/Ho_Chi_Minh", "Asia/Kathmandu", "Europe/Berlin"])
@pytest.mark.parametrize("plain", [False, True], ids=["mixed", "plain"])
def test_columns_and_rows_give_the_same_answer(zone: str, plain: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    one_by_one = {"codes": 0, "texts": 0}
    by_fast = {"codes": 0, "texts": 0}  # the calls made while parsing column by column

    def counting(name: str, function: Callable[[object], Any]) -> Callable[[object], Any]:
        def counted(value: object) -> Any:
            one_by_one[name] += 1
            return function(value)

        return counted

    monkeypatch.setattr(dossier_import, "_plain_code", counting("codes", dossier_import._plain_code))
    monkeypatch.setattr(dossier_import, "_text", counting("texts", dossier_import._text))
    tz = ZoneInfo(zone)
    rng = random.Random(zone)
    added = random.Random(zone + ":added")
    rows = [random_row(rng, PLAIN if plain else GOOD, 0.002 if plain else 0.02, added) for _ in range(3000)]
    size = 50 if plain else 500
    if plain:
        rows[10][0] = "000.00.37.H37|250804-0017"  # the separator of the quick path, inside a code
        rows[20][10] = "Lò  Văn\nSáng"
    fast = RowParser(COMMUNES, tz)
    good = 0
    slowly = 0
    parse_values = fast.parse_values

    def counted(values: Sequence[object]) -> DossierRow:
        nonlocal slowly
        slowly += 1
        return parse_values(values)

    fast.parse_values = counted  # type: ignore[method-assign]
    for start in range(0, len(rows), size):  # in batches, so that the columns learn as they go
        chunk = rows[start : start + size]
        before = dict(one_by_one)
        ignored_before = fast.phones_ignored
        parsed, errors = fast.parse_columns([list(column) for column in zip(*chunk, strict=True)])
        fast_calls = {name: one_by_one[name] - before[name] for name in one_by_one}
        for name in fast_calls:
            by_fast[name] += fast_calls[name]
        ignored = 0
        for i, row in enumerate(chunk):
            slow = RowParser(COMMUNES, tz)
            try:
                expected: object = tuple(slow.parse_values(row))
            except RowError as exc:
                expected = str(exc)
            got = tuple(parsed[i]) if parsed[i] is not None else errors[i]  # type: ignore[arg-type]
            assert got == expected, row
            good += parsed[i] is not None
            ignored += slow.phones_ignored if parsed[i] is not None else 0
        assert fast.phones_ignored - ignored_before == ignored  # the same phones dropped, each counted once
    assert 1500 < good < len(rows) - 5  # most rows good, some bad in every way
    assert len(rows) - slowly > (2500 if plain else 1000)  # in `mixed`, a third of the codes are written oddly
    if plain:  # most columns of codes and names were taken whole
        assert by_fast["codes"] < len(rows) / 2
        assert by_fast["texts"] < len(rows)  # names; procedure names are remembered


@pytest.fixture
async def service(db: Database, centres_repo: CentresRepo) -> DossierService:
    return DossierService(DossiersRepo(db), PeopleRepo(db), {"06385": "Xã Hữu Lũng"}, ZoneInfo("Asia/Ho_Chi_Minh"))


HEADER = "ma_ho_so,ma_thu_tuc,ten_thu_tuc,ma_xa,ngay_tiep_nhan,ngay_hen_tra,trang_thai,ngay_ket_thuc,ngay_tra_ket_qua,kenh_nop,chu_ho_so"
LINES = [
    "000.00.37.H37-250804-0031,,Đăng ký khai sinh,06385,20250804080000,20250806170000,2,,,1,",
    '000.00.37.H37-250804-0032,,"Chứng thực\nbản sao",06385,20250804081500,20250806170000,2,,,1,',
    "",
    "000.00.37.H37-250804-0031,,Đăng ký khai sinh,06385,20250804080000,20250806170000,4,,,1,Lộc Văn An",
    "000.00.37.H37-250804-0033,,Khai tử,06385,20250804090000,20250806170000,12,,,1,",
    "000.00.37.H37-250804-0034,,Khai tử,06385",
]


def test_line_numbers_survive_chunks_and_quoted_line_breaks(tmp_path: Path) -> None:
    path = tmp_path / "hoso.csv"
    path.write_text("\n".join([HEADER, *LINES]) + "\n", encoding="utf-8")
    batches = list(parse_file(path, RowParser(COMMUNES, ZoneInfo("Asia/Ho_Chi_Minh")), batch_size=2))
    assert [line for batch in batches for line in batch.lines] == [2, 3, 6]
    assert [item for batch in batches for item in batch.rejected] == [
        (7, "trạng thái 12 không nằm trong 1–11"),
        (8, "thiếu ngay_tiep_nhan, trang_thai"),
    ]


@pytest.mark.parametrize("child_from", [0, 10**9], ids=["child", "here"])
async def test_a_file_read_by_a_child_imports_the_same(
    tmp_path: Path, service: DossierService, child_from: int
) -> None:
    path = tmp_path / "hoso.csv"
    path.write_text("\n".join([HEADER, *LINES]) + "\n", encoding="utf-8")
    parser = RowParser(COMMUNES, ZoneInfo("Asia/Ho_Chi_Minh"))
    first = await import_file(path, service, parser, NOW, child_from=child_from)
    assert (first.inserted, first.superseded, len(first.rejected)) == (2, 1, 2)
    again = await import_file(path, service, parser, NOW, child_from=child_from)
    assert (again.inserted, again.updated, again.unchanged, again.superseded) == (0, 0, 2, 1)
    stored = await service.repo.by_key("0000037H372508040031")
    assert stored is not None
    assert stored.status == 4


async def test_a_file_the_child_cannot_read_is_reported(tmp_path: Path, service: DossierService) -> None:
    path = tmp_path / "hoso.csv"
    path.write_bytes(HEADER.encode() + b"\n000.00.37.H37-250804-0031,,\xff\xfe,06385\n")
    parser = RowParser(COMMUNES, ZoneInfo("Asia/Ho_Chi_Minh"))
    with pytest.raises(RowError, match="UnicodeDecodeError"):
        await import_file(path, service, parser, NOW, child_from=0)
    assert await service.count() == 0


async def test_a_child_that_dies_mid_import_is_reported_not_waited_for(tmp_path: Path, service: DossierService) -> None:
    path = tmp_path / "hoso.csv"
    lines = [f"000.00.37.H37-250804-{i:05d},,Khai sinh,06385,20250804080000,,2,,,1," for i in range(45_000)]
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    parser = RowParser(COMMUNES, ZoneInfo("Asia/Ho_Chi_Minh"))
    apply = service.apply

    async def apply_then_kill(*args: Any, **kwargs: Any) -> Any:
        for child in multiprocessing.active_children():
            if child.name == "phucvu-import":
                child.kill()
        return await apply(*args, **kwargs)

    service.apply = apply_then_kill  # type: ignore[method-assign]
    with pytest.raises(RowError, match="dừng bất thường"):
        await asyncio.wait_for(import_file(path, service, parser, NOW, child_from=0), 30)
    assert not [child for child in multiprocessing.active_children() if child.name == "phucvu-import"]
    assert await service.count() == 20_000  # the batch that arrived is kept; nothing else was written


def test_a_date_beyond_utc_is_a_bad_row_in_either_parser() -> None:
    parser = RowParser(COMMUNES, ZoneInfo("America/New_York"))
    row = ["000.00.37.H37-250804-0031", None, "Khai sinh", "06385", "20250804080000", "99991231230000", "2"]
    row += [None] * (len(FIELDS) - len(row))
    with pytest.raises(RowError, match="ngay_hen_tra"):
        parser.parse_values(row)
    parsed, errors = RowParser(COMMUNES, ZoneInfo("America/New_York")).parse_columns([[value] for value in row])
    assert parsed == [None] and "ngay_hen_tra" in errors[0]


def test_both_passes_key_a_code_alike(tmp_path: Path) -> None:
    path = tmp_path / "hoso.csv"
    decomposed = "000.00.37.HE\u0301" + "37-250804-0031"  # É written as E and a combining accent
    lines = [
        "000.00.37.HE37-250804-0031,,Khai sinh,06385,20250804080000,,2,,,1,",
        f"{decomposed},,Khai sinh,06385,20250804080000,,4,,,1,",
    ]
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    parser = RowParser(COMMUNES, ZoneInfo("Asia/Ho_Chi_Minh"))
    rows = [row for batch in parse_file(path, parser) for row in batch.rows]
    last = last_lines(path)
    assert {row[0]: last[row[0]] for row in rows} == {row[0]: line for row, line in zip(rows, (2, 3), strict=True)}


def _random_csv(rng: random.Random, spanning: bool = False) -> bytes:
    """A CSV as exporting tools write them: any delimiter and line ending, a BOM or not, the code in any column,
    codes repeated and written loosely (quoted too), fields quoted for their delimiters and quotes, short and blank
    lines, Vietnamese text, spaces after the delimiter; with `spanning`, a quoted field holds a line break."""
    delimiter = rng.choice([",", ";", "\t"])
    ending = rng.choice(["\n", "\r\n", "\r"])
    space = " " if rng.random() < 0.3 else ""
    columns = ["ten_thu_tuc", "ma_xa", "ngay_tiep_nhan", "trang_thai"]
    columns.insert(rng.randrange(len(columns) + 1), "ma_ho_so")
    codes = [f"000.00.37.H37-2508{rng.randrange(1, 29):02d}-{rng.randrange(50):04d}" for _ in range(40)]
    codes += ["000.00.37.h37 – 250804-0001", "000.00.37.HE\u0301" + "37-250804-0031", "x", ""]
    lines = [(delimiter + space).join(columns)]
    for _ in range(rng.randrange(1, 400)):
        roll = rng.random()
        if roll < 0.03:
            lines.append("")
        elif roll < 0.06:
            lines.append(rng.choice(codes))  # a short row: the code alone, or nothing where it belongs
        else:
            code = rng.choice(codes)
            names = ["Đăng ký khai sinh", f'"Chứng thực bản sao{delimiter} văn bản"', '"Hộ ""Bản Đon"""', 'Cỡ 12"']
            name = rng.choice(names)  # the last one's quote is a character of an unquoted field
            values = {"ma_ho_so": f'"{code}"' if rng.random() < 0.1 else code, "ten_thu_tuc": name, "ma_xa": "06385"}
            values |= {"ngay_tiep_nhan": "20250804083000", "trang_thai": str(rng.randrange(1, 11))}
            lines.append((delimiter + space).join(values[name] for name in columns))
    if spanning:
        lines.insert(rng.randrange(1, len(lines) + 1), f'{codes[0]}{delimiter}"thôn Bản Đon{ending}xã Mai Pha"')
    text = ending.join(lines) + (ending if rng.random() < 0.7 else "")
    return (b"\xef\xbb\xbf" if rng.random() < 0.3 else b"") + text.encode()


@pytest.mark.parametrize("seed", range(40))
def test_the_first_pass_by_lines_finds_the_lines_the_csv_reader_finds(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    path = tmp_path / "hoso.csv"
    path.write_bytes(_random_csv(rng))
    if seed % 2:  # lines and \r\n pairs cut across blocks
        monkeypatch.setattr(dossier_import, "FIRST_PASS_BLOCK", rng.randrange(3, 200))
    monkeypatch.setattr(dossier_import, "FIRST_PASS_QUOTED", 1.0)  # however many lines hold a quote
    try:
        parsed = dossier_import._parsed_last_lines(path)
    except csv.Error:  # the delimiter cannot be told: both passes say so
        with pytest.raises(csv.Error):
            dossier_import._line_last_lines(path)
        return
    by_line = dossier_import._line_last_lines(path)
    assert by_line is not None
    assert by_line == parsed
    assert last_lines(path) == by_line


@pytest.mark.parametrize("seed", range(10))
def test_a_field_across_lines_is_left_to_the_csv_reader(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hoso.csv"
    path.write_bytes(_random_csv(random.Random(seed), spanning=True))
    monkeypatch.setattr(dossier_import, "FIRST_PASS_QUOTED", 1.0)
    try:
        parsed = dossier_import._parsed_last_lines(path)
    except csv.Error:
        return
    assert dossier_import._line_last_lines(path) is None
    assert last_lines(path) == parsed


def test_a_record_over_two_lines_is_read_by_the_csv_reader(tmp_path: Path) -> None:
    path = tmp_path / "hoso.csv"
    lines = [
        '000.00.37.H37-250804-0031,,"Khai sinh, kết hôn",06385,20250804080000,,2,,,1,"Nguyễn Văn A\nthôn Bản Đon"',
        "000.00.37.H37-250804-0032,,Khai sinh,06385,20250804080000,,2,,,1,",
    ]
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    assert dossier_import._line_last_lines(path) is None
    assert last_lines(path) == {"0000037H372508040031": 2, "0000037H372508040032": 4}  # a record spans two lines


def test_a_stray_quote_then_a_field_left_open_is_left_to_the_csv_reader(tmp_path: Path) -> None:
    path = tmp_path / "hoso.csv"
    lines = [  # two quotes on the first line, but its last field goes on in the next line
        '000.00.37.H37-250804-0001,,Cấp bản sao 12",06385,20250804080000,,2,,,1,"Nguyễn Văn A',
        '000.00.37.H37-250804-0001,,Khai sinh,06385,20250804090000,,4,,,1,"Trần Thị B"',
        "000.00.37.H37-250804-0003,,Khai sinh,06385,20250804100000,,2,,,1,Lê Văn C",
    ]
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    assert dossier_import._line_last_lines(path) is None
    assert last_lines(path) == {"0000037H372508040001": 2, "0000037H372508040003": 4}


def test_a_file_that_is_not_utf8_fails_the_first_pass_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "hoso.csv"
    good = [f"000.00.37.H37-250804-{i:05d},,Khai sinh,06385,20250804080000,,2,,,1," for i in range(2_000)]
    bad = b"000.00.37.H37-250804-99999,,Khai sinh,06385,20250804080000,,2,,,1,Nguy\xea\xe3n"  # a legacy encoding
    path.write_bytes("\n".join([HEADER, *good]).encode() + b"\n" + bad + b"\n")
    with pytest.raises(UnicodeDecodeError):
        dossier_import._parsed_last_lines(path)
    with pytest.raises(UnicodeDecodeError):
        last_lines(path)


def test_a_nul_byte_is_read_as_the_csv_reader_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "hoso.csv"
    path.write_bytes(HEADER.encode() + b"\n000.00.37.H37-250804-0001,,Khai\0sinh,06385,20250804080000,,2,,,1,\n")
    assert (
        dossier_import._line_last_lines(path) == dossier_import._parsed_last_lines(path) == {"0000037H372508040001": 2}
    )


def test_a_file_of_quoted_fields_is_cut_by_lines_in_the_usual_dialect_only(tmp_path: Path) -> None:
    path = tmp_path / "hoso.csv"
    lines = [
        f'000.00.37.H37-250804-{i:04d},,"Chứng thực hợp đồng, giao dịch",06385,20250804080000,,2,,,1,' for i in range(8)
    ]
    path.write_text("\n".join([HEADER, *lines, lines[0]]) + "\n", encoding="utf-8")
    assert dossier_import._line_last_lines(path) == dossier_import._parsed_last_lines(path)
    assert last_lines(path)["0000037H372508040000"] == 10
    spaced = tmp_path / "spaced.csv"  # spaces after the delimiter: each quoted line would go to the CSV reader
    spaced.write_text("\n".join([HEADER, *lines]).replace(",", ", ").replace('", ', '",') + "\n", encoding="utf-8")
    assert dossier_import._dialect(spaced.read_text(encoding="utf-8")).skipinitialspace
    assert dossier_import._line_last_lines(spaced) is None  # cutting would cost more than parsing


def test_a_field_longer_than_the_csv_reader_takes_fails_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "hoso.csv"
    good = [f"000.00.37.H37-250804-{i:05d},,Khai sinh,06385,20250804080000,,2,,,1," for i in range(100)]
    long = "000.00.37.H37-250804-99999,,Khai sinh,06385,20250804080000,,2,,,1," + "x" * (csv.field_size_limit() + 1)
    path.write_text("\n".join([HEADER, *good, long]) + "\n", encoding="utf-8")
    assert dossier_import._line_last_lines(path) is None
    with pytest.raises(csv.Error, match="field larger than field limit"):
        last_lines(path)


WRONG_TYPES = [
    ("code", ["000.00.37.H37-250804-0012"], "ma_ho_so: phải là chữ hoặc số, không phải danh sách"),
    ("code", True, "ma_ho_so: phải là chữ hoặc số, không phải true/false"),
    ("procedure_code", {"x": 1}, "ma_thu_tuc: phải là chữ hoặc số, không phải đối tượng"),
    ("procedure_code", "1" * 51, "ma_thu_tuc: dài quá 50 ký tự (51)"),
    ("procedure_name", ["x"], "ten_thu_tuc: phải là chữ hoặc số, không phải danh sách"),
    ("procedure_name", "x" * 5001, "ten_thu_tuc: dài quá 5000 ký tự (5001)"),
    ("commune_code", ["06385"], "ma_xa: phải là chữ hoặc số, không phải danh sách"),
    ("commune_code", "0" * 41, "ma_xa: dài quá 40 ký tự (41)"),
    ("received_at", ["20250804083000"], "ngay_tiep_nhan: phải là ngày giờ, không phải list"),
    ("status", True, "trang_thai: phải là chữ hoặc số, không phải true/false"),
    ("status", [4], "trang_thai: phải là chữ hoặc số, không phải danh sách"),
    ("channel", {"kenh": 1}, "kenh_nop: phải là chữ hoặc số, không phải đối tượng"),
    ("applicant", "A" * 201, "chu_ho_so: dài quá 200 ký tự (201)"),
    ("applicant", ["Nguyễn Văn An"], "chu_ho_so: phải là chữ hoặc số, không phải danh sách"),
    ("applicant", {"ten": "An"}, "chu_ho_so: phải là chữ hoặc số, không phải đối tượng"),
]


@pytest.mark.parametrize(("field", "value", "says"), WRONG_TYPES)
def test_a_value_of_the_wrong_type_or_length_is_refused_by_rows_and_columns_alike(
    field: str, value: object, says: str
) -> None:
    """What JSON can hold and a cell cannot (a list, an object, true/false), and over-long texts: refused with the
    field's name, never stored as Python's repr of it; row by row and column by column alike (issue 14)."""
    row: list[object] = [
        "000.00.37.H37-250804-0012", "1.001193", "Đăng ký khai sinh", "06385", "20250804083000",
        "", "4", "", "", "1", "Nguyễn Văn An", None, None, None, None,
    ]  # fmt: skip
    row[FIELDS.index(field)] = value
    with pytest.raises(RowError) as raised:
        RowParser(COMMUNES, ZoneInfo("Asia/Ho_Chi_Minh")).parse_values(row)
    assert str(raised.value) == says
    good = list(row)
    good[FIELDS.index(field)] = [
        "000.00.37.H37-250804-0013", "", "Khai sinh", "06385", "20250804083000", "", "4", "", "", "1", None,
        None, None, None, None,
    ][FIELDS.index(field)]  # fmt: skip
    parsed, errors = RowParser(COMMUNES, ZoneInfo("Asia/Ho_Chi_Minh")).parse_columns(
        [list(column) for column in zip(good, row, strict=True)]
    )
    assert parsed[0] is not None and parsed[1] is None and errors == {1: says}
