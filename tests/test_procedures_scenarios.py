"""Procedures in chat, on Telegram, Zalo and the console: `/thutuc` and the menu item, a free question, a question
that names a place too, no catalogue at all, the sample catalogue of the console's demo, and a dossier's lookup
that leads to its procedure's papers and fees."""

from bot.procedures import SAMPLE
from storage.procedures import StoredProcedure
from tests.channels import Chat
from tests.factories import CODE, dossier_row

NOW = "2025-08-04T03:00:00+00:00"
BIRTH = StoredProcedure(
    "1.001193",
    "Đăng ký khai sinh",
    "Hộ tịch",
    "Tờ khai đăng ký khai sinh; giấy chứng sinh.",
    "Ngay trong ngày tiếp nhận.",
    "Miễn lệ phí khi đăng ký đúng hạn.",
    "Ủy ban nhân dân cấp xã",
    "https://dichvucong.gov.vn/p/1.001193",
)
MARRIAGE = StoredProcedure("1.000894", "Đăng ký kết hôn", "Hộ tịch", "Tờ khai đăng ký kết hôn.", None, "Miễn lệ phí.")
ID_CARD = StoredProcedure("2.001159", "Cấp thẻ căn cước cho người từ đủ 14 tuổi trở lên", "Căn cước")


async def catalogue(chat: Chat) -> None:
    procedures = chat.services.procedures
    await procedures.repo.save([BIRTH, MARRIAGE, ID_CARD], NOW)
    await procedures.load()


async def test_without_a_catalogue_a_procedure_question_is_told_so(chat: Chat) -> None:
    [none] = await chat.say("citizen", "/thutuc")
    assert none.text.startswith("Phục Vụ chưa có danh mục thủ tục hành chính của tỉnh.")
    [asked] = await chat.say("citizen", "làm căn cước cần giấy tờ gì")
    assert asked.text == none.text
    [place] = await chat.say("citizen", "Hữu Lũng")  # a place is still a place
    assert place.text.startswith("🏢 Trung tâm Phục vụ hành chính công xã Hữu Lũng")


async def test_a_free_question_finds_the_procedure_card(chat: Chat) -> None:
    await catalogue(chat)
    [card] = await chat.say("citizen", "làm căn cước cần giấy tờ gì")
    assert card.text.startswith("📑 Cấp thẻ căn cước cho người từ đủ 14 tuổi trở lên\nLĩnh vực: Căn cước")
    assert "Thời hạn giải quyết: chưa có trong danh mục" in card.text
    [birth] = await chat.say("citizen", "khai sinh")
    assert (
        birth.text.startswith("📑 Đăng ký khai sinh") and "Phí, lệ phí: Miễn lệ phí khi đăng ký đúng hạn." in birth.text
    )
    assert "Nơi nộp: Ủy ban nhân dân cấp xã" in birth.text
    assert birth.has("Xem chi tiết") or "Xem chi tiết: https://dichvucong.gov.vn/p/1.001193" in birth.text
    [fee] = await chat.say("citizen", "lệ phí kết hôn")
    assert fee.text.startswith("📑 Đăng ký kết hôn") and "Phí, lệ phí: Miễn lệ phí." in fee.text


async def test_the_command_and_the_menu_item_ask_then_answer(chat: Chat) -> None:
    await catalogue(chat)
    [asked] = await chat.say("citizen", "/thutuc")
    assert asked.text.startswith("Ông/Bà cần làm thủ tục gì?")
    [card] = await chat.say("citizen", "đăng ký kết hôn")
    assert card.text.startswith("📑 Đăng ký kết hôn")
    [miss] = await chat.say("citizen", "/procedure giá vàng")
    assert miss.text.startswith("Chưa tìm thấy thủ tục «giá vàng» trong danh mục.")
    [asked_again] = await chat.say("citizen", "📑 Thủ tục hành chính")  # the menu item, as typed or pressed
    assert asked_again.text == asked.text


async def test_a_place_and_a_procedure_in_one_question_offers_both(chat: Chat) -> None:
    await catalogue(chat)
    [both] = await chat.say("citizen", "khai sinh ở Hữu Lũng")
    assert both.text.startswith("Ông/Bà muốn xem thủ tục, hay trung tâm của xã, phường?")
    assert both.options[0] == "Đăng ký khai sinh" and "Xã Hữu Lũng" in both.options
    [card] = await chat.choose("citizen", "Đăng ký khai sinh")
    assert card.text.startswith("📑 Đăng ký khai sinh")
    [hospital] = await chat.say("citizen", "khai sinh cho con tại bệnh viện")  # «tại» a place that is none
    assert hospital.text.startswith("📑 Đăng ký khai sinh")
    await chat.say("citizen", "khai sinh ở Hữu Lũng")
    [centre] = await chat.choose("citizen", "Xã Hữu Lũng")
    assert centre.text.startswith("🏢 Trung tâm Phục vụ hành chính công xã Hữu Lũng")


async def test_a_dossiers_lookup_leads_to_its_procedure(chat: Chat) -> None:
    services = chat.services
    await services.dossiers.apply([dossier_row()], "import:test.csv", services.clock())
    [before] = await chat.say("citizen", CODE)
    assert not before.has("Giấy tờ, lệ phí")  # no catalogue: no link
    await catalogue(chat)
    [found] = await chat.say("citizen", CODE)
    assert found.has("Giấy tờ, lệ phí của thủ tục")
    [card] = await chat.choose("citizen", "Giấy tờ, lệ phí của thủ tục")
    assert card.text.startswith("📑 Đăng ký khai sinh")


async def test_the_sample_catalogue_says_it_is_sample_data(chat: Chat) -> None:
    procedures = chat.services.procedures
    await procedures.repo.save(SAMPLE, NOW)
    await procedures.load()
    [card] = await chat.say("citizen", "đăng ký khai sinh")
    assert card.text.startswith("📑 Đăng ký khai sinh")
    assert "(Dữ liệu mẫu để dùng thử, chưa phải danh mục thủ tục của tỉnh.)" in card.text
    await procedures.repo.save([BIRTH], NOW)  # the province's own list replaces the sample one
    await procedures.load()
    stored = await procedures.repo.all()
    assert not any(p.sample for p in stored) and [p.code for p in stored] == ["1.001193"]
