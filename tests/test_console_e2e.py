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
