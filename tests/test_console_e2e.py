"""The console channel runs the real application: typed lines in, the bot's messages out as numbered text menus."""

from pathlib import Path

from bot.app import run_console
from bot.config import Settings
from tests.receipts import blank_photo


async def chat(settings: Settings, lines: list[str], role: str = "citizen", commune: str | None = None) -> str:
    """What the console printed for `lines` (the greeting first; end of input ends it)."""
    feed = iter(lines)
    out: list[str] = []

    def read() -> str:
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    assert await run_console(settings, lines=read, write=out.append, demo_days=3, role=role, commune=commune)
    return "\n".join(out)


MENU = "1. Tra cứu hồ sơ\n2. Hồ sơ theo dõi\n3. Tìm trung tâm\n4. Thủ tục hành chính\n5. Hướng dẫn\n6. English\n"


async def test_console_finds_centres_and_chooses_by_number(settings: Settings) -> None:
    output = await chat(
        settings,
        [
            "Quý Hoà",
            "1",
            "xã Đồng Tân, huyện Hữu Lũng",
            "Sơn",
            "2",
            ":loc 21.85 106.76",
            ":sticker",
            "9",
            ":nope",
            ":quit",
            "x",
        ],
    )
    assert "hồ sơ mẫu; thử tra mã 000." in output
    assert "Kính chào Ông/Bà!" in output and MENU in output  # the greeting, with the menu numbered
    assert "🏢 Trung tâm Phục vụ hành chính công xã Quý Hòa" in output
    assert "Mở bản đồ: https://www.google.com/maps/search/?api=1&query=22.166400,106.270000" in output
    assert "📍 Xã Quý Hòa — Vị trí gần đúng (trung tâm của xã)" in output  # "1": the pin
    assert "Xã Đồng Tân, huyện Hữu Lũng cũ, nay thuộc xã Hữu Lũng." in output
    assert "Ông/Bà muốn tìm nơi nào?\n\n1. Xã Ba Sơn\n2. Xã Bắc Sơn\n" in output
    assert "🏢 Trung tâm Phục vụ hành chính công xã Bắc Sơn" in output  # "2"
    assert "Các trung tâm gần nhất:" in output
    assert "Phục Vụ sẵn sàng giúp." in output  # the sticker
    assert "Số 9 không có trong danh sách. Nhắn 0 để xem menu." in output
    assert "(không hiểu lệnh console này; xem hướng dẫn ở trên)" in output
    assert output.rstrip().endswith("(không hiểu lệnh console này; xem hướng dẫn ở trên)")  # nothing after :quit


async def test_console_remembers_language_across_runs(settings: Settings) -> None:
    first = await chat(settings, ["/lang"])
    assert "1. Look up a dossier\n2. Followed dossiers\n3. Find a centre\n" in first
    second = await chat(settings, ["Quý Hoà"])
    assert "not yet provided" in second and "chưa cập nhật" not in second


async def test_the_console_has_numbered_menus(settings: Settings, tmp_path: Path) -> None:
    photo = tmp_path / "trang.jpg"
    photo.write_bytes(blank_photo())  # a photo without a receipt's code
    out: list[str] = []
    example: list[str] = []

    def write(text: str) -> None:
        out.append(text)
        if "thử tra mã" in text:
            example.append(text.rsplit(" ", 1)[1].rstrip(")\n"))

    lines = iter(["1", "<code>", "1", "theo dõi", "Sơn", "2", f":anh {photo}", ":nope", ":quit"])

    def read() -> str:
        line = next(lines)
        return example[0] if line == "<code>" else line

    assert await run_console(settings, lines=read, write=write, demo_days=3)
    output = "\n".join(out)
    assert "menu bằng số" in output and MENU in output  # the menu, shown first
    assert "Vui lòng nhắn mã hồ sơ in trên Giấy tiếp nhận" in output  # "1"
    assert f"📄 Hồ sơ {example[0]}" in output and "\n1. Theo dõi\nNhắn số để chọn." in output
    assert "Đã theo dõi. Phục Vụ sẽ báo khi hồ sơ thay đổi trạng thái." in output  # "1"
    assert f"1. Bỏ theo dõi {example[0]}" in output
    assert "🏢 Trung tâm Phục vụ hành chính công xã Bắc Sơn" in output
    assert "Phục Vụ chưa thấy mã QR hay mã vạch nào trên ảnh." in output
    assert "không hiểu lệnh console này" in output


async def test_the_console_acts_as_an_official_or_an_admin(settings: Settings) -> None:
    feed = iter(["/capnhat canbo 3", ":quit"])
    out: list[str] = []

    def read() -> str:
        return next(feed)

    assert await run_console(settings, lines=read, write=out.append, demo_days=1, role="official", commune="Hữu Lũng")
    assert "Đã cập nhật số cán bộ một cửa." in "\n".join(out)
    feed = iter(["/vaitro", ":quit"])
    out.clear()
    assert await run_console(settings, lines=read, write=out.append, demo_days=1, role="admin")
    assert "Chưa ai nhận quyền nào." in "\n".join(out)  # the official's role lasted for its session only
    feed = iter(["/xembaocao", ":quit"])
    out.clear()
    assert await run_console(settings, lines=read, write=out.append, demo_days=1)  # a citizen again, not an official
    assert "Phục Vụ chưa hiểu tin nhắn này." in "\n".join(out)
    feed = iter([":quit"])
    assert not await run_console(settings, lines=read, write=out.append, demo_days=1, role="official", commune="Tân")
    assert "--as official cần --commune" in "\n".join(out)


async def test_an_official_writes_a_report_in_the_console(settings: Settings) -> None:
    output = await chat(
        settings,
        ["1", "2", "3", "Máy in hỏng.", "1", "1", "1", ":quit"],
        role="official",
        commune="Hữu Lũng",
    )
    assert "\n1. Báo cáo khó khăn\n2. Báo cáo của xã\n3. Hồ sơ của xã\n4. Tra cứu hồ sơ\n" in output  # their own first
    assert "Mô tả: Máy in hỏng.\nẢnh: 0\nVị trí: không có" in output
    assert "Đã gửi báo cáo BC-000001." in output
