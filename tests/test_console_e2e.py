"""The console channel runs the real application: typed lines in, the bot's messages out."""

from bot.config import Settings
from bot.console import run_console


async def chat(settings: Settings, lines: list[str]) -> str:
    feed = iter(lines)
    out: list[str] = []

    def read() -> str:
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    await run_console(settings, lines=read, write=out.append, demo_days=3)
    return "\n".join(out)


async def test_console_finds_centres_and_presses_buttons(settings: Settings) -> None:
    output = await chat(
        settings,
        [
            "Quý Hoà",
            "#1",
            "#2",
            "xã Đồng Tân, huyện Hữu Lũng",
            "Sơn",
            "#2",
            ":loc 21.85 106.76",
            ":sticker",
            "#9",
            ":quit",
            "x",
        ],
    )
    assert "Xin chào!" in output
    assert "menu: 📄 Tra cứu hồ sơ | ⭐ Hồ sơ theo dõi | 🏢 Tìm trung tâm" in output
    assert "hồ sơ mẫu" in output
    assert "Trung tâm phục vụ hành chính công Xã Quý Hòa" in output
    assert "Xã Đồng Tân (Huyện Hữu Lũng cũ) nay thuộc Xã Hữu Lũng." in output
    assert "[#2] Xã Bắc Sơn" in output
    assert "Trung tâm phục vụ hành chính công Xã Bắc Sơn" in output
    assert "Các trung tâm gần bạn nhất:" in output
    assert "Mình chưa hiểu tin nhắn này." in output
    assert "không hiểu lệnh console này" in output
    assert "🔗 https://www.google.com/maps/search/?api=1&query=22.166400,106.270000" in output
    assert "📌 Xã Quý Hòa — Vị trí gần đúng (trung tâm của xã)" in output


async def test_console_remembers_language_across_runs(settings: Settings) -> None:
    first = await chat(settings, ["/lang"])
    assert "Switched to English." in first
    second = await chat(settings, ["Quý Hoà"])
    assert "Public administrative service centre of Xã Quý Hòa" in second


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
    assert "1. cán bộ Xã Hữu Lũng — console" in "\n".join(out)
    feed = iter([":quit"])
    assert not await run_console(settings, lines=read, write=out.append, demo_days=1, role="official", commune="Tân")
    assert "--as official cần --commune" in "\n".join(out)


async def test_console_as_a_zalo_user_has_numbered_menus(settings: Settings) -> None:
    out: list[str] = []
    example: list[str] = []

    def write(text: str) -> None:
        out.append(text)
        if "thử tra mã" in text:
            example.append(text.rsplit(" ", 1)[1].rstrip(")\n"))

    lines = iter(["1", "<code>", "1", "theo dõi", "Sơn", "2", ":anh https://photo.example/x.jpg", ":nope", ":quit"])

    def read() -> str:
        line = next(lines)
        return example[0] if line == "<code>" else line

    assert await run_console(settings, lines=read, write=write, demo_days=3, channel="zalo")
    output = "\n".join(out)
    assert "console Zalo" in output
    assert "1. Tra cứu hồ sơ" in output and "5. 🌐 English" in output  # the menu, shown first
    assert "Nhắn mã hồ sơ in trên Giấy tiếp nhận" in output
    assert f"📄 Hồ sơ {example[0]}" in output and "Nhắn 1 để theo dõi" in output
    assert "⭐ Đã theo dõi." in output
    assert f"1. Bỏ theo dõi {example[0]}" in output
    assert "Bạn muốn tìm nơi nào? Nhắn số để chọn:" in output
    assert "Mình chưa đọc được ảnh." in output
    assert "không hiểu lệnh console này" in output


async def test_console_as_a_zalo_official_writes_a_report(settings: Settings) -> None:
    lines = iter(["1", "2", "3", "Máy in hỏng.", "xong", "bỏ qua", "gửi", ":quit"])
    out: list[str] = []
    ok = await run_console(
        settings,
        lines=lambda: next(lines),
        write=out.append,
        demo_days=1,
        role="official",
        commune="Hữu Lũng",
        channel="zalo",
    )
    output = "\n".join(out)
    assert ok and "1. Báo cáo khó khăn" in output
    assert "Đã gửi báo cáo BC-000001." in output
