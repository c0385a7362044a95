"""End to end: an official keeps their own centre's details current from chat; nobody else can."""

from datetime import UTC, datetime

from bot.app import App
from bot.centres import detail_value
from bot.roles import Role
from tests.fakebotapi import FakeBotAPI

OFFICIAL = 6201
CITIZEN = 6202


async def make_official(app: App, api: FakeBotAPI, user: int, commune: str) -> None:
    services = app.bot_data.services
    invite = await services.roles.invite(Role.OFFICIAL, commune, "cli", datetime.now(UTC))
    await api.say(user, f"/start {invite.code}")


async def test_an_official_updates_their_centre(bot: App, api: FakeBotAPI) -> None:
    await make_official(bot, api, OFFICIAL, "06385")
    [usage] = await api.say(OFFICIAL, "/capnhat")
    assert usage.text is not None
    assert usage.text.startswith("🏢 Trung tâm phục vụ hành chính công Xã Hữu Lũng")
    assert "/capnhat dienthoai" in usage.text
    [phone] = await api.say(OFFICIAL, "/capnhat dienthoai 0205 3825 001")
    assert phone.text is not None and phone.text.startswith("Đã cập nhật điện thoại.")
    assert "☎️ Điện thoại: 0205 3825 001" in phone.text
    [staff] = await api.say(OFFICIAL, "/update staff 4")
    assert "👥 Cán bộ tại bộ phận một cửa: 4" in (staff.text or "")
    [bad] = await api.say(OFFICIAL, "/capnhat canbo nhiều")
    assert (bad.text or "").startswith("Giá trị số cán bộ một cửa chưa đúng.")
    [found] = await api.say(CITIZEN, "Hữu Lũng")  # citizens see it in the finder at once
    assert "☎️ Điện thoại: 0205 3825 001" in (found.text or "")
    row = await bot.bot_data.services.db.fetchone("SELECT updated_by FROM centres WHERE commune_code = '06385'")
    assert row is not None and row["updated_by"] == f"telegram:{OFFICIAL}"


async def test_a_citizen_cannot_update_a_centre(bot: App, api: FakeBotAPI) -> None:
    [unknown] = await api.say(CITIZEN, "/khonglenh")
    [refused] = await api.say(CITIZEN, "/capnhat dienthoai 0999 999 999")
    assert refused.text == unknown.text
    assert await bot.bot_data.services.db.fetchall("SELECT * FROM centres") == []


def test_what_a_detail_accepts() -> None:
    assert detail_value("phone", " 0205  3825 001 ") == "0205 3825 001"
    assert detail_value("phone", "+84 205 3825 001") == "+84 205 3825 001"
    assert detail_value("phone", "113") is None
    assert detail_value("phone", "gọi tôi") is None
    assert detail_value("desk_staff", "0") == 0
    assert detail_value("desk_staff", "201") is None
    assert detail_value("desk_staff", "-1") is None
    assert detail_value("desk_staff", "²") is None
    assert detail_value("address", "x") is None
    assert detail_value("opening_hours", "7:30–17:00") == "7:30–17:00"
    assert detail_value("address", "a" * 301) is None
