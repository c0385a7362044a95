"""Citizens find their commune's centre, officials keep it current: the same scenarios on Telegram, Zalo and the
console (a shared location only where the channel has one)."""

import pytest

from bot.centres import detail_value
from bot.roles import Role
from tests.channels import Chat, TelegramChat


async def test_a_name_gives_the_centre_card_with_the_map_and_its_pin(chat: Chat) -> None:
    [card] = await chat.say("citizen", "Quý Hoà")
    assert card.text.startswith("🏢 Trung tâm Phục vụ hành chính công xã Quý Hòa")
    assert "Địa chỉ: chưa cập nhật" in card.text and "Điện thoại: chưa cập nhật" in card.text
    assert "vị trí gần đúng" in card.text
    assert card.has("Gửi ghim vị trí")
    if isinstance(chat, TelegramChat):
        [row] = chat.calls["citizen"][0].buttons
        assert row[0]["text"] == "🗺️ Mở bản đồ" and "22.166400,106.270000" in row[0]["url"]
    else:
        assert "Mở bản đồ: https://www.google.com/maps/search/?api=1&query=22.166400,106.270000" in card.text
    [pin] = await chat.choose("citizen", "Gửi ghim vị trí")
    assert pin.text.startswith("📍 Xã Quý Hòa — Vị trí gần đúng (trung tâm của xã)")


async def test_an_empty_card_names_the_provinces_centre_and_hotline_until_the_commune_fills_it(chat: Chat) -> None:
    services = chat.services
    services.centres.hotline = "0205 3812 345"  # PHUCVU_HOTLINE
    await services.centres.update_details("tinh", {"phone": "0205 3898 989"}, "test", "now")
    [card] = await chat.say("citizen", "Quý Hoà")
    assert (
        "Trong khi xã, phường chưa cập nhật địa chỉ, điện thoại, Ông/Bà có thể liên hệ Trung tâm Phục vụ hành chính"
        " công tỉnh Lạng Sơn, điện thoại 0205 3898 989; đường dây nóng của tỉnh 0205 3812 345." in card.text
    )
    await services.centres.update_details("06076", {"phone": "0205 111"}, "test", "now")
    [card] = await chat.say("citizen", "Quý Hoà")
    assert "Điện thoại: 0205 111" in card.text and "Trong khi" not in card.text


async def test_the_command_its_english_alias_and_the_menu_item(chat: Chat) -> None:
    [found] = await chat.say("citizen", "/trungtam x. Hữu Lũng")
    assert "xã Hữu Lũng" in found.text
    [found] = await chat.say("citizen", "/centre huu lung")
    assert "xã Hữu Lũng" in found.text
    [ask] = await chat.say("citizen", "/trungtam")
    assert ask.text.startswith("Vui lòng nhắn tên xã, phường")
    [ask_by_menu] = await chat.say("citizen", "🏢 Tìm trung tâm")
    assert ask_by_menu.text == ask.text
    [ask_by_word] = await chat.say("citizen", "tìm trung tâm")
    assert ask_by_word.text == ask.text


async def test_an_old_address_says_which_new_unit_took_it_over(chat: Chat) -> None:
    [card] = await chat.say("citizen", "xã Đồng Tân, huyện Hữu Lũng")
    assert "Xã Đồng Tân, huyện Hữu Lũng cũ, nay thuộc xã Hữu Lũng." in card.text
    [card] = await chat.say("citizen", "phường Vĩnh Trại")
    assert "Phường Vĩnh Trại, thành phố Lạng Sơn cũ, nay thuộc phường Đông Kinh." in card.text


async def test_a_split_old_unit_lists_every_new_unit(chat: Chat) -> None:
    [split] = await chat.say("citizen", "xã Hồng Phong, huyện Bình Gia")
    assert "nay được chia cho" in split.text
    assert sorted(split.options) == ["Xã Hồng Phong", "Xã Đồng Đăng"]
    [card] = await chat.choose("citizen", "Xã Đồng Đăng")
    assert card.text.startswith("🏢 Trung tâm Phục vụ hành chính công xã Đồng Đăng")


async def test_several_matches_give_up_to_three_choices(chat: Chat) -> None:
    [choices] = await chat.say("citizen", "Sơn")
    assert choices.text.startswith("Ông/Bà muốn tìm nơi nào?")
    assert 2 <= len(choices.options) <= 3
    first = choices.options[0]
    [card] = await chat.choose("citizen", first)
    assert first.partition(" (")[0].removeprefix("Xã ").removeprefix("Phường ") in card.text


async def test_no_match_gives_a_helpful_message_with_an_example(chat: Chat) -> None:
    [missing] = await chat.say("citizen", "thủ đô Hà Nội")
    assert missing.text.startswith("Không tìm thấy xã, phường nào như vậy ở tỉnh Lạng Sơn.")
    assert "Hữu Lũng" in missing.text


@pytest.mark.parametrize(
    ("question", "centre"),
    [
        ("UBND xã Hữu Lũng ở đâu?", "xã Hữu Lũng"),
        ("trung tâm hành chính công Cai Kinh", "xã Cai Kinh"),
        ("tôi ở xã Đồng Tân cũ", "xã Hữu Lũng"),
        ("dongdang", "xã Đồng Đăng"),
        ("Huu Lugn", "xã Hữu Lũng"),
    ],
)
async def test_a_question_around_a_place_name_or_a_typo_finds_it(chat: Chat, question: str, centre: str) -> None:
    [card] = await chat.say("citizen", question)
    assert card.text.startswith(f"🏢 Trung tâm Phục vụ hành chính công {centre}")


@pytest.mark.parametrize("words", ["khai sinh", "lệ phí kết hôn", "làm căn cước cần giấy tờ gì"])
async def test_everyday_words_match_no_commune_and_get_the_menu(chat: Chat, words: str) -> None:
    [answer] = await chat.say("citizen", words)
    if words == "khai sinh":
        assert answer.text.startswith("Phục Vụ chưa trả lời được câu hỏi này.")
    else:  # a question about a procedure, with no catalogue imported (issue 16)
        assert answer.text.startswith("Phục Vụ chưa có danh mục thủ tục hành chính của tỉnh.")
    assert "🏢" not in answer.text and not answer.options and answer.menu[0].endswith("Tra cứu hồ sơ")


async def test_a_shared_location_gives_the_three_nearest_centres(chat: Chat) -> None:
    [nearest] = await chat.location("citizen", 21.8537, 106.7615)
    assert nearest.text.startswith("Các trung tâm gần nhất:")
    assert nearest.text.count(" km") == 3 and len(nearest.options) == 3
    assert nearest.options[0].startswith("Phường")
    [outside] = await chat.location("citizen", 0.0, 0.0)
    assert outside.text.startswith("Vị trí Ông/Bà gửi nằm ngoài tỉnh Lạng Sơn.")
    assert len(outside.options) == 3


async def test_recorded_centre_details_are_shown(chat: Chat) -> None:
    services = chat.services
    details = {"address": "Thôn Phố Vị", "phone": "0205 3825 001", "opening_hours": "7:30–17:00", "desk_staff": 5}
    await services.centres.update_details("06385", details, by="test", now="2025-08-04")
    await services.centres.update_details("06385", {"lat": 21.51, "lon": 106.34}, by="test", now="2025-08-04")
    [card] = await chat.say("citizen", "Hữu Lũng")
    for part in ("Địa chỉ: Thôn Phố Vị", "Điện thoại: 0205 3825 001", "Giờ làm việc: 7:30–17:00", "một cửa: 5"):
        assert part in card.text
    assert "gần đúng" not in card.text
    [pin] = await chat.choose("citizen", "Gửi ghim vị trí")
    assert pin.text.startswith("📍 Xã Hữu Lũng — Thôn Phố Vị")


async def test_an_official_updates_their_centre(chat: Chat) -> None:
    await chat.give("official", Role.OFFICIAL, "06385")
    [usage] = await chat.say("official", "/capnhat")
    assert usage.text.startswith("🏢 Trung tâm Phục vụ hành chính công xã Hữu Lũng")
    assert "/capnhat dienthoai" in usage.text
    [phone] = await chat.say("official", "/capnhat dienthoai 0205 3825 001")
    assert phone.text.startswith("Đã cập nhật điện thoại.") and "Điện thoại: 0205 3825 001" in phone.text
    [staff] = await chat.say("official", "/update staff 4")
    assert "Cán bộ tại bộ phận một cửa: 4" in staff.text
    [bad] = await chat.say("official", "/capnhat canbo nhiều")
    assert bad.text == "Số cán bộ chưa đúng: một số từ 0 đến 200, ví dụ: /capnhat canbo 3."
    [found] = await chat.say("citizen", "Hữu Lũng")  # citizens see it in the finder at once
    assert "Điện thoại: 0205 3825 001" in found.text
    row = await chat.services.db.fetchone("SELECT updated_by FROM centres WHERE commune_code = '06385'")
    person = chat.person("official")
    assert row is not None and row["updated_by"] == f"{person.channel}:{person.external_id}"


async def test_a_citizen_cannot_update_a_centre(chat: Chat) -> None:
    [unknown] = await chat.say("citizen", "/khonglenh")
    [refused] = await chat.say("citizen", "/capnhat dienthoai 0999 999 999")
    assert refused.text == unknown.text
    assert await chat.services.db.fetchall("SELECT * FROM centres") == []


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


async def test_an_official_sets_the_centres_map_pin(chat: Chat) -> None:
    """Issue 15: by typed coordinates on every channel, by sharing a location where the channel can; a point far
    from the commune (a typing mistake) or outside Vietnam is refused, never stored."""
    services = chat.services
    await chat.give("official", Role.OFFICIAL, "06385")
    commune = services.centres.commune("06385")
    assert commune is not None and commune.lat is not None and commune.lon is not None
    lat, lon = commune.lat + 0.01, commune.lon - 0.01
    [set_] = await chat.say("official", f"/capnhat vitri {lat:.4f}, {lon:.4f}")
    assert set_.text.startswith("Đã cập nhật vị trí trên bản đồ.")
    details = await services.centres.details("06385")
    assert (round(details.lat or 0, 4), round(details.lon or 0, 4)) == (round(lat, 4), round(lon, 4))
    [far] = await chat.say("official", "/capnhat vitri 10.7769, 106.7009")  # Hồ Chí Minh City
    assert far.text.startswith("Vị trí này cách xã Hữu Lũng ") and "chưa được lưu" in far.text
    [bad] = await chat.say("official", "/capnhat vitri ở gần chợ")
    assert bad.text.startswith("Tọa độ chưa đúng")
    [asked] = await chat.say("official", "/capnhat vitri")
    assert asked.text.startswith("Vui lòng gửi vị trí của trung tâm")
    if chat.channel == "zalo":  # no locations on Zalo's bots: the coordinates typed next
        [done] = await chat.say("official", f"{lat + 0.001:.4f}, {lon:.4f}")
    else:
        [done] = await chat.location("official", lat + 0.001, lon)
    assert done.text.startswith("Đã cập nhật vị trí trên bản đồ.")
    details = await services.centres.details("06385")
    assert round(details.lat or 0, 4) == round(lat + 0.001, 4)
    [citizen] = await chat.say("citizen", "/capnhat vitri 21.85, 106.76")
    assert "Phục Vụ chưa hiểu" in citizen.text
