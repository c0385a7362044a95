"""Reading a receipt: the codes a person types or pastes (leniently), the QR code or barcode in a photo of the
printed receipt, and the bounds on what a photo may be."""

import io

import pytest
from PIL import Image

from bot.dossiers import code_key, slips, typed_code
from bot.receipt import MAX_BYTES, ImageRefused, code_in, decode
from tests.factories import CODE
from tests.receipts import blank_photo, page, photographed

KEY = code_key(CODE)
PORTAL = "https://dichvucong.langson.gov.vn/tra-cuu-ho-so?maHoSo="

TYPED = [
    CODE,
    CODE.lower(),
    "000 00 37 H37 250804 0012",
    "000.00.37.H37.250804.0012",
    "0000037H372508040012",
    "000.00.37.H37 – 250804 – 0012",
    f"cho tôi hỏi hồ sơ {CODE} ạ",
    PORTAL + CODE,
    PORTAL + CODE.replace(".", "%2E").replace("-", "%2D"),
    "https://dichvucong.langson.gov.vn/tra-cuu?ma=0000037H372508040012&lang=vi",
    "000.00.37.H37-\n250804-0012",  # split over two lines where it was printed
    "000.00.37.H37\n250804-0012",
    "Mã hồ sơ:\n000.00.37.H37-250804-0012\nNgày hẹn trả: 08/08/2025",
]
NOT_CODES = [
    "0912345678",
    "0912 345 678",
    "091234 5678",  # no date
    "Hữu Lũng",
    "K7QX2M9PLA4T",
    "https://langson.gov.vn",
    "lệ phí kết hôn",
    "21.8537, 106.7615",
    "251304-0012",  # no month 13
    "1508040012",  # ten digits not starting with a year of the 2020s or 2030s
]
TAILS = ["250804-0012", "250804 0012", "250804.0012", "2508040012", "mã 250804 – 0012 ạ"]


@pytest.mark.parametrize("text", TYPED)
def test_codes_typed_or_pasted_leniently(text: str) -> None:
    found = typed_code(text)
    assert found is not None and code_key(found) == KEY


@pytest.mark.parametrize("text", TAILS)
def test_a_code_without_its_agency_part_is_its_date_and_counter(text: str) -> None:
    assert typed_code(text) == "250804-0012"


@pytest.mark.parametrize("text", NOT_CODES)
def test_no_code_where_there_is_none(text: str) -> None:
    assert typed_code(text) is None


PHOTOGRAPHED = [  # (printed, barcode, how) as a phone takes it: turned, from afar, blurred, noisy, unevenly lit
    (CODE, False, {"angle": 0, "scale": 1.0, "blur": 0.0, "noise": 0.0}),
    (PORTAL + CODE, False, {"angle": 14, "scale": 0.7, "blur": 0.8, "noise": 8}),
    (PORTAL + CODE, False, {"angle": -27, "scale": 0.55, "blur": 0.6, "noise": 10}),
    (CODE, False, {"angle": 90, "scale": 0.45, "blur": 0.5, "noise": 6}),
    (CODE, False, {"angle": 180, "scale": 0.8, "blur": 1.0, "noise": 12}),
    (PORTAL + CODE.replace(".", "%2E"), False, {"angle": 8, "scale": 0.8, "blur": 0.7, "noise": 8}),
    (CODE, True, {"angle": 4, "scale": 0.9, "blur": 0.5, "noise": 6}),
    (CODE, True, {"angle": -3, "scale": 1.2, "blur": 0.8, "noise": 10}),
]


@pytest.mark.parametrize(("printed", "barcode", "how"), PHOTOGRAPHED)
def test_a_photographed_receipt_gives_its_code(printed: str, barcode: bool, how: dict[str, float]) -> None:
    found = code_in(decode(photographed(page(printed, barcode=barcode), **how)))
    assert found is not None and code_key(found) == KEY


def test_a_photo_without_a_code_reads_nothing() -> None:
    assert decode(blank_photo()) == []


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("1", (width, height), 1).save(out, format="PNG")
    return out.getvalue()


def test_what_is_too_large_or_no_image_is_refused_before_decoding() -> None:
    bomb = png(9000, 6000)  # 54 megapixels in a few kilobytes
    assert len(bomb) < 1_000_000
    for data in (bomb, b"\x89PNG\r\n\x1a\n broken", b"plain text", b"\0" * (MAX_BYTES + 1)):
        with pytest.raises(ImageRefused):
            decode(data)
    assert decode(png(3000, 4000)) == []  # a large, plain photo is scaled down and read


def test_slips_are_one_typing_mistake_away() -> None:
    found = slips("ABC123")
    assert {"AC123", "ABX123", "ABCC123", "BAC123", "ABC132"} <= found
    assert "ABC123" not in found and "AB12" not in found and "CBA123" not in found
