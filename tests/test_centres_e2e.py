"""End to end: the real bot long-polls a fake Bot API over HTTP; citizens find their service centre."""

from bot.app import App
from tests.fakebotapi import Call, FakeBotAPI

USER = 5001


def button_texts(call: Call) -> list[str]:
    return [button["text"] for row in call.buttons for button in row]


def callback_data(call: Call) -> list[str]:
    return [button["callback_data"] for row in call.buttons for button in row if "callback_data" in button]


async def test_name_search_answers_with_the_centre_card_and_map_buttons(bot: App, api: FakeBotAPI) -> None:
    [reply] = await api.say(USER, "Quý Hoà")
    assert reply.method == "sendMessage"
    assert reply.text is not None
    assert "Trung tâm phục vụ hành chính công Xã Quý Hòa" in reply.text
    assert "Địa chỉ: chưa cập nhật" in reply.text
    assert "Điện thoại: chưa cập nhật" in reply.text
    assert "vị trí gần đúng" in reply.text
    assert button_texts(reply) == ["🗺️ Mở bản đồ", "📍 Ghim vị trí"]
    url = reply.buttons[0][0]["url"]
    assert "22.166400,106.270000" in url
    [pin] = await api.click(USER, callback_data(reply)[0])
    assert pin.method == "sendVenue"
    assert (pin.params["latitude"], pin.params["longitude"]) == (22.1664, 106.27)
    assert pin.params["title"] == "Xã Quý Hòa"
    assert pin.params["address"] == "Vị trí gần đúng (trung tâm của xã)"


async def test_command_and_english_alias_search(bot: App, api: FakeBotAPI) -> None:
    [reply] = await api.say(USER, "/trungtam x. Hữu Lũng")
    assert reply.text is not None and "Xã Hữu Lũng" in reply.text
    [reply] = await api.say(USER, "/centre huu lung")
    assert reply.text is not None and "Xã Hữu Lũng" in reply.text
    [ask] = await api.say(USER, "/trungtam")
    assert ask.text is not None and "Gõ tên xã, phường" in ask.text


async def test_menu_button_asks_for_a_name(bot: App, api: FakeBotAPI) -> None:
    [ask] = await api.say(USER, "🏢 Tìm trung tâm")
    assert ask.text is not None and "địa chỉ cũ" in ask.text


async def test_old_address_says_which_new_unit_took_it_over(bot: App, api: FakeBotAPI) -> None:
    [reply] = await api.say(USER, "xã Đồng Tân, huyện Hữu Lũng")
    assert reply.text is not None
    assert "Xã Đồng Tân (Huyện Hữu Lũng cũ) nay thuộc Xã Hữu Lũng." in reply.text
    [reply] = await api.say(USER, "phường Vĩnh Trại")
    assert reply.text is not None
    assert "Phường Vĩnh Trại (Thành phố Lạng Sơn cũ) nay thuộc Phường Đông Kinh." in reply.text


async def test_split_old_unit_lists_every_new_unit(bot: App, api: FakeBotAPI) -> None:
    [reply] = await api.say(USER, "xã Hồng Phong, huyện Bình Gia")
    assert reply.text is not None and "nay được chia cho" in reply.text
    assert sorted(button_texts(reply)) == ["Xã Hồng Phong", "Xã Đồng Đăng"]
    [card] = await api.click(USER, callback_data(reply)[1])
    assert card.text is not None and "Trung tâm phục vụ hành chính công" in card.text


async def test_several_matches_give_up_to_three_buttons(bot: App, api: FakeBotAPI) -> None:
    [reply] = await api.say(USER, "Sơn")
    assert reply.text == "Bạn muốn tìm nơi nào?"
    assert 2 <= len(button_texts(reply)) <= 3
    assert all(len(data.encode()) <= 64 for data in callback_data(reply))
    [card] = await api.click(USER, callback_data(reply)[0])
    assert card.text is not None and button_texts(reply)[0] in card.text


async def test_no_match_gives_a_helpful_message_with_an_example(bot: App, api: FakeBotAPI) -> None:
    [reply] = await api.say(USER, "thủ đô Hà Nội")
    assert reply.text is not None
    assert "Không tìm thấy" in reply.text
    assert "Hữu Lũng" in reply.text


async def test_shared_location_gives_the_three_nearest_centres(bot: App, api: FakeBotAPI) -> None:
    [reply] = await api.converse(
        {"message": api.make_message(USER, location={"latitude": 21.8537, "longitude": 106.7615})}
    )
    assert reply.text is not None
    assert "Các trung tâm gần bạn nhất:" in reply.text
    assert "ngoài tỉnh" not in reply.text
    assert reply.text.count(" km") == 3
    assert len(button_texts(reply)) == 3
    assert all(name.startswith("Phường") for name in button_texts(reply)[:1])


async def test_location_outside_the_province_is_told_so(bot: App, api: FakeBotAPI) -> None:
    [reply] = await api.converse({"message": api.make_message(USER, location={"latitude": 0.0, "longitude": 0.0})})
    assert reply.text is not None
    assert "Vị trí bạn gửi nằm ngoài tỉnh Lạng Sơn." in reply.text
    assert len(button_texts(reply)) == 3


async def test_recorded_centre_details_are_shown(bot: App, api: FakeBotAPI) -> None:
    services = bot.bot_data.services
    await services.centres.update_details(
        "06385",
        {"address": "Thôn Phố Vị", "phone": "0205 3825 001", "opening_hours": "7:30–17:00", "desk_staff": 5},
        by="test",
        now="2025-08-04",
    )
    await services.centres.update_details("06385", {"lat": 21.51, "lon": 106.34}, by="test", now="2025-08-04")
    [reply] = await api.say(USER, "Hữu Lũng")
    assert reply.text is not None
    for part in ("Địa chỉ: Thôn Phố Vị", "Điện thoại: 0205 3825 001", "Giờ làm việc: 7:30–17:00", "một cửa: 5"):
        assert part in reply.text
    assert "gần đúng" not in reply.text
    [pin] = await api.click(USER, callback_data(reply)[0])
    assert pin.params["address"] == "Thôn Phố Vị"
