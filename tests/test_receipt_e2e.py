"""Issue 16: a photo of the receipt (Giấy tiếp nhận hồ sơ và hẹn trả kết quả), or of its QR code or barcode, is
answered as a lookup of the code it carries, on Telegram (a file the bot downloads), on Zalo (a URL) and in the
console (a file); a photo without a code, with another code, or that is no image gets an answer, never a
traceback."""

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.dossiers import code_key
from tests.channels import CHANNELS, TELEGRAM_IDS, ZALO_IDS, Chat, ConsoleChat, Msg, TelegramChat, ZaloChat, chat_on
from tests.factories import CODE, dossier_row
from tests.receipts import blank_photo, page, photographed

PORTAL = "https://dichvucong.langson.gov.vn/tra-cuu-ho-so?maHoSo="
NO_CODE = "Phục Vụ chưa thấy mã QR hay mã vạch nào trên ảnh."
NOT_A_RECEIPT = "Mã trên ảnh không phải mã hồ sơ."
REFUSED = "Phục Vụ chưa mở được ảnh này."


async def send_image(chat: Chat, who: str, data: bytes, tmp_path: Path, caption: str = "") -> list[Msg]:
    """`who` sends an image as their channel carries one: a Telegram photo the bot must download, a Zalo image
    URL, a file given to the console."""
    if isinstance(chat, TelegramChat):
        file_id = f"receipt-{len(chat.api.files)}"
        chat.api.files[file_id] = data
        sizes = [{"file_id": file_id, "file_unique_id": f"u-{file_id}", "width": 1200, "height": 1600}]
        fields: dict[str, Any] = {"photo": sizes} | ({"caption": caption} if caption else {})
        return await chat._converse(who, {"message": chat.api.make_message(TELEGRAM_IDS[who], **fields)}, 1)
    if isinstance(chat, ZaloChat):
        since = chat.api.mark()
        chat.api.push_image(ZALO_IDS[who], chat.api.host_image(data), caption)
        return await chat._wait(who, since, 1)
    assert isinstance(chat, ConsoleChat)
    path = tmp_path / f"receipt-{hashlib.sha256(data).hexdigest()[:12]}.jpg"
    await asyncio.to_thread(path.write_bytes, data)
    return await chat._send(who, f":anh {path} {caption}".strip())


PHOTOS = {  # what is printed, how it was photographed
    "the bare code, straight": (CODE, False, {"angle": 0, "scale": 1.0, "blur": 0.0, "noise": 0.0}),
    "a portal link, turned and noisy": (PORTAL + CODE, False, {"angle": 14, "scale": 0.7, "blur": 0.8, "noise": 8}),
    "a link, far away and turned the other way": (
        PORTAL + CODE,
        False,
        {"angle": -27, "scale": 0.55, "blur": 0.6, "noise": 10},
    ),
    "sideways and small": (CODE, False, {"angle": 90, "scale": 0.45, "blur": 0.5, "noise": 6}),
    "a barcode": (CODE, True, {"angle": 4, "scale": 0.9, "blur": 0.5, "noise": 6}),
}


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_photographed_receipt_is_a_lookup_on_every_channel(
    channel: str, settings: Settings, tmp_path: Path
) -> None:
    async with chat_on(channel, settings) as chat:
        await chat.services.dossiers.apply([dossier_row()], "import:test.csv", chat.services.clock())
        for name, (content, barcode, how) in PHOTOS.items():
            data = photographed(page(content, barcode=barcode), **how)
            [found] = await send_image(chat, "citizen", data, tmp_path)
            assert found.text.startswith(f"📄 Hồ sơ {CODE}"), name
            assert "Thủ tục: Đăng ký khai sinh" in found.text and "Hoàng Thị Bích" not in found.text, name
            assert found.has("Theo dõi"), name


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_photo_without_a_dossier_code_gets_an_answer(channel: str, settings: Settings, tmp_path: Path) -> None:
    async with chat_on(channel, settings) as chat:
        [blank] = await send_image(chat, "citizen", blank_photo(), tmp_path)
        assert blank.text.startswith(NO_CODE) and "ví dụ: " in blank.text
        other = photographed(page("https://langson.gov.vn"), angle=3, scale=0.8, blur=0.5, noise=5)
        [elsewhere] = await send_image(chat, "citizen", other, tmp_path)
        assert elsewhere.text.startswith(NOT_A_RECEIPT)
        [garbage] = await send_image(chat, "citizen", b"%PDF-1.4 not an image at all", tmp_path)
        assert garbage.text.startswith(REFUSED)
        [unknown] = await send_image(
            chat, "citizen", photographed(page(CODE), angle=0, scale=1, blur=0, noise=0), tmp_path
        )
        assert unknown.text.startswith(f"Không tìm thấy hồ sơ {CODE}.")  # nothing imported: a lookup all the same


async def test_a_zalo_image_that_cannot_be_fetched_is_an_answer(settings: Settings) -> None:
    async with chat_on("zalo", settings) as chat:
        assert isinstance(chat, ZaloChat)
        since = chat.api.mark()
        chat.api.push_image(ZALO_IDS["citizen"], f"http://127.0.0.1:{chat.api.port}/images/gone.jpg")
        [answer] = await chat._wait("citizen", since, 1)
        assert answer.text.startswith(REFUSED)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_an_almost_code_is_offered_only_when_one_dossier_is_that_close(channel: str, settings: Settings) -> None:
    async with chat_on(channel, settings) as chat:
        services = chat.services
        await services.dossiers.apply([dossier_row()], "import:test.csv", services.clock())
        [near] = await chat.say("citizen", "000.00.37.H37-250804-012")  # a digit left out
        assert near.text.startswith(
            f"Không tìm thấy hồ sơ 000.00.37.H37-250804-012. Có phải Ông/Bà muốn tra mã {CODE}?"
        )
        assert "Đăng ký khai sinh" not in near.text and near.options == [f"Tra mã {CODE}"]
        [found] = await chat.choose("citizen", f"Tra mã {CODE}")
        assert found.text.startswith(f"📄 Hồ sơ {CODE}")
        [swapped] = await chat.say("citizen", "000.00.37.H37-250804-0021")  # two digits swapped
        assert swapped.options == [f"Tra mã {CODE}"]
        twin = dossier_row(code="000.00.37.H37-250804-0013", code_key=code_key("000.00.37.H37-250804-0013"))
        await services.dossiers.apply([twin], "import:test.csv", services.clock())
        [unsure] = await chat.say("citizen", "000.00.37.H37-250804-001")  # now two dossiers are that close
        assert unsure.text.startswith("Không tìm thấy hồ sơ 000.00.37.H37-250804-001. Mã hồ sơ in trên")
        assert unsure.options == []


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_code_without_its_agency_part_is_offered_when_one_dossier_carries_it(
    channel: str, settings: Settings
) -> None:
    async with chat_on(channel, settings) as chat:
        services = chat.services
        await services.dossiers.apply([dossier_row()], "import:test.csv", services.clock())
        for typed in ("250804-0012", "hồ sơ 250804 0012 của tôi", "2508040012"):
            [offer] = await chat.say("citizen", typed)
            assert f"Có phải Ông/Bà muốn tra mã {CODE}?" in offer.text, typed
            assert "Đăng ký khai sinh" not in offer.text and offer.options == [f"Tra mã {CODE}"]
        [found] = await chat.choose("citizen", f"Tra mã {CODE}")
        assert found.text.startswith(f"📄 Hồ sơ {CODE}")
        # Another agency numbered a dossier the same that day: which one is meant cannot be told.
        other = "000.00.41.H37-250804-0012"
        await services.dossiers.apply([dossier_row(code=other, code_key=code_key(other))], "api", services.clock())
        [several] = await chat.say("citizen", "250804-0012")
        assert several.text.startswith("Nhiều hồ sơ ở các cơ quan khác nhau cùng mang số 250804-0012.")
        assert CODE not in several.text and other not in several.text and several.options == []
        [none] = await chat.say("citizen", "250805-0099")
        assert none.text.startswith("Không tìm thấy hồ sơ 250805-0099.")
