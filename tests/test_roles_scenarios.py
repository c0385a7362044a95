"""Invites and roles: an invite gives its role once; an admin invites, lists and revokes in chat; nobody else can
tell that the admin's commands exist. The same scenarios on Telegram, Zalo and the console."""

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.config import Settings
from bot.people import Person
from bot.reports import Draft
from bot.roles import Access, Role
from bot.textmenu import plain
from handlers.chat import STALE
from tests.channels import CHANNELS, Chat, Msg, TelegramChat, chat_on
from tests.factories import CODE, dossier_row
from tests.fakebotapi import BOT_USERNAME

HỮU_LŨNG = "06385"
REVOKED = (
    "Quyền cán bộ xã Hữu Lũng của đồng chí đã được thu hồi. Đồng chí vẫn tra cứu hồ sơ và tìm trung tâm như mọi người."
)


async def redeem(chat: Chat, who: str, code: str) -> list[Msg]:
    """`who` uses an invite as the channel hands it over: Telegram's deep link sends `/start CODE`; on Zalo and the
    console the code is typed."""
    return await chat.say(who, f"/start {code}" if chat.channel == "telegram" else code)


async def invite(chat: Chat, role: Role, commune: str | None = None, days_ago: float = 0) -> str:
    services = chat.services
    made = await services.roles.invite(role, commune, "cli", services.clock() - timedelta(days=days_ago))
    return made.code


async def test_an_invite_gives_its_role_once(chat: Chat) -> None:
    roles = chat.services.roles
    code = await invite(chat, Role.OFFICIAL, HỮU_LŨNG)
    [welcome] = await redeem(chat, "official", code)
    assert welcome.text.startswith("Đồng chí đã được cấp quyền cán bộ xã Hữu Lũng.\n\nPhục Vụ giúp:")
    assert "/baocao — " in welcome.text and "/moi" not in welcome.text
    assert [plain(label) for label in welcome.menu][:2] == ["Báo cáo khó khăn", "Báo cáo của xã"]
    assert await roles.access(chat.person("official")) == Access(Role.OFFICIAL, HỮU_LŨNG)
    [used] = await redeem(chat, "other", code)
    assert used.text.startswith("Mã mời này đã được dùng.")
    [again] = await redeem(chat, "official", code)
    assert again.text == "Đồng chí đã nhận quyền của mã mời này."
    [hello] = await chat.say("other", "/start hello")  # a start parameter that is no invite: the greeting
    assert hello.text.startswith("Kính chào Ông/Bà!")
    [forged] = await redeem(chat, "other", "AAAAAAAAAAAAAAAAAAAAAAAA")
    assert forged.text.startswith("Mã mời không đúng.")
    assert await roles.access(chat.person("other")) == Access(Role.CITIZEN)


async def test_an_expired_or_revoked_invite_is_refused(chat: Chat) -> None:
    roles = chat.services.roles
    old = await invite(chat, Role.OFFICIAL, HỮU_LŨNG, days_ago=7 + 1 / 86400)  # expired a second ago
    [expired] = await redeem(chat, "official", old)
    assert expired.text == "Mã mời này đã hết hạn. Đề nghị quản trị viên cấp mã mới."
    withdrawn = await invite(chat, Role.LEADER)
    assert await roles.revoke_invite(withdrawn, "cli", chat.services.clock())
    [revoked] = await redeem(chat, "official", withdrawn)
    assert revoked.text == "Mã mời này đã bị thu hồi. Đề nghị quản trị viên cấp mã mới."
    assert await roles.access(chat.person("official")) == Access(Role.CITIZEN)


async def test_an_invite_typed_as_start_code_or_capitalised(chat: Chat) -> None:
    first = await invite(chat, Role.OFFICIAL, HỮU_LŨNG)
    [granted] = await chat.say("official", f"/start {first}")
    assert granted.text.startswith("Đồng chí đã được cấp quyền cán bộ xã Hữu Lũng.")
    second = await invite(chat, Role.LEADER)
    typed = second[0].swapcase() + second[1:]  # a phone's keyboard capitalised the first letter
    [leader] = await chat.say("leader", typed + ".")
    assert leader.text.startswith("Đồng chí đã được cấp quyền lãnh đạo tỉnh.")
    [wrong] = await chat.say("other", "Zz" + second[2:])
    assert wrong.text.startswith("Mã mời không đúng. Vui lòng kiểm tra từng ký tự")
    [number] = await chat.say("other", "1234567890123456789")  # a long number is no invite
    assert not number.text.startswith("Mã mời")


async def test_an_invite_typed_while_writing_a_report_gives_the_new_role(chat: Chat) -> None:
    await chat.give("official", Role.OFFICIAL, HỮU_LŨNG)
    await chat.say("official", "/baocao")
    [asked] = await chat.say("official", await invite(chat, Role.LEADER))
    assert asked.options == ["Đổi quyền", "Giữ quyền hiện tại"]  # another role: asked first (issue 15)
    [leader] = await chat.choose("official", "Đổi quyền")
    assert leader.text.startswith("Đồng chí đã được cấp quyền lãnh đạo tỉnh.")
    assert await chat.services.reports.writing(chat.person("official")) is None


async def test_an_admin_invites_lists_and_revokes_in_chat(chat: Chat) -> None:
    services = chat.services
    await chat.give("admin", Role.ADMIN)
    [made] = await chat.say("admin", "/moi lãnh đạo")
    header, code, *rest = made.text.splitlines()
    assert header.startswith("Mã mời lãnh đạo tỉnh, dùng một lần, hết hạn ")
    if chat.channel == "telegram":  # the deep link names the bot
        assert rest[0] == f"https://t.me/{BOT_USERNAME}?start={code}"
    assert "Trên Zalo, người nhận nhắn mã này cho Phục Vụ." in rest
    [welcome] = await redeem(chat, "leader", code)
    assert welcome.text.startswith("Đồng chí đã được cấp quyền lãnh đạo tỉnh.")

    [unclear] = await chat.say("admin", "/moi canbo Tân")
    assert "Có thể là:" in unclear.text
    [usage] = await chat.say("admin", "/moi")
    assert "/moi lanhdao" in usage.text

    leader = chat.person("leader")
    [listing] = await chat.say("admin", "/vaitro")
    assert f"#1 lãnh đạo tỉnh — {leader.channel} {leader.external_id}, từ 04/08/2025" in listing.text
    assert listing.options == ["Thu hồi #1"]
    if isinstance(chat, TelegramChat):  # the button's data, forged by someone who was never shown it
        revoke = chat.calls["admin"][0].buttons[0][0]["callback_data"]
        [forged] = await chat.press("citizen", revoke)
        assert forged.text == STALE
    else:  # a number means only what the person who types it was shown
        [forged] = await chat.say("citizen", "1")
        assert forged.text.startswith("Số 1 không có trong danh sách.")
    assert await services.roles.access(leader) == Access(Role.LEADER)

    since = chat.mark("leader")
    done, empty = await chat.choose("admin", "Thu hồi #1", expect=2)
    assert done.text == "Đã thu hồi quyền lãnh đạo tỉnh."
    assert empty.text == "Chưa ai nhận quyền nào. Tạo mã mời bằng /moi."
    assert await services.roles.access(leader) == Access(Role.CITIZEN)
    [told] = await chat.notified("leader", since)
    assert told.text.startswith("Quyền lãnh đạo tỉnh của đồng chí đã được thu hồi.")
    admin = chat.person("admin")
    actions = [(row["actor"], row["action"]) for row in await services.roles.repo.audit()]
    assert actions == [
        (f"{admin.channel}:{admin.external_id}", "invite"),
        (f"{leader.channel}:{leader.external_id}", "grant"),
        (f"{admin.channel}:{admin.external_id}", "revoke"),
    ]


async def test_a_revoked_official_is_told_and_back_to_what_citizens_have(chat: Chat) -> None:
    await chat.give("admin", Role.ADMIN)
    code = await invite(chat, Role.OFFICIAL, HỮU_LŨNG)
    await redeem(chat, "official", code)
    await chat.say("official", "/baocao")  # a report begun, not finished
    await chat.say("admin", "/vaitro")
    since = chat.mark("official")
    await chat.choose("admin", "Thu hồi #1", expect=2)
    [told] = await chat.notified("official", since)
    assert told.text.startswith(REVOKED)
    menu = [plain(label) for label in told.menu]
    assert "Báo cáo khó khăn" not in menu and menu[0] == "Tra cứu hồ sơ"
    [centre] = await chat.say("official", "Hữu Lũng")  # the unfinished report no longer takes their messages
    assert centre.text.startswith("🏢 Trung tâm Phục vụ hành chính công xã Hữu Lũng")
    [again] = await redeem(chat, "official", code)  # the old invite claims nothing
    assert again.text.startswith("Mã mời này đã được dùng.")


async def test_the_numbers_of_the_revocation_note_choose_from_its_menu(chat: Chat) -> None:
    if chat.channel == "telegram":
        pytest.skip("Telegram's menu is a keyboard, not numbers")
    await chat.give("official", Role.OFFICIAL, HỮU_LŨNG)
    await chat.say("official", "/baocao")  # its numbers are the kinds of problem
    person_id = await chat.services.people.repo.id_of(chat.channel, chat.person("official").external_id)
    assert person_id is not None
    since = chat.mark("official")
    await chat.services.roles.revoke(person_id, "cli", chat.services.clock())
    [told] = await chat.notified("official", since)
    assert told.menu[0] == "Tra cứu hồ sơ"
    [asked] = await chat.say("official", "1")
    assert asked.text.startswith("Vui lòng nhắn mã hồ sơ")


async def test_a_revoked_official_is_answered_as_anyone(chat: Chat) -> None:
    services = chat.services
    await services.dossiers.apply([dossier_row()], "import:test.csv", services.clock())
    await chat.give("official", Role.OFFICIAL, HỮU_LŨNG)
    await chat.say("official", "báo cáo")
    official = chat.person("official")
    person_id = await services.people.repo.id_of(official.channel, official.external_id)
    assert person_id is not None
    since = chat.mark("official")
    await services.roles.revoke(person_id, "cli", services.clock())  # an admin takes the role back elsewhere
    await chat.say("official", CODE)
    answers = [msg.text for msg in await chat.notified("official", since, 2)]  # the lookup, and the outbox's note
    assert any(text.startswith(f"📄 Hồ sơ {CODE}") for text in answers)
    assert any(text.startswith(REVOKED) for text in answers)


ADMIN_COMMANDS = ("/moi lanhdao", "/invite leader", "/moi canbo Hữu Lũng", "/vaitro", "/roles")


async def test_only_an_admin_can_use_the_admin_commands(chat: Chat) -> None:
    await chat.give("official", Role.OFFICIAL, HỮU_LŨNG)
    await chat.give("leader", Role.LEADER)
    for who in ("citizen", "official", "leader"):
        [unknown] = await chat.say(who, "/khonglenh")
        for command in ADMIN_COMMANDS:
            [reply] = await chat.say(who, command)
            assert reply.text == unknown.text  # the same as any unknown command: nothing tells them it exists
    invites = await chat.services.db.fetchall("SELECT * FROM invites")
    assert len(invites) == 2  # the two that `give` made


@pytest.mark.parametrize("channel", CHANNELS)
async def test_admins_are_named_in_the_settings_on_every_channel(channel: str, settings: Settings) -> None:
    async with chat_on(channel, settings) as chat:
        admin = chat.person("admin")
    configured = replace(settings, admins=frozenset({(admin.channel, admin.external_id)}))
    async with chat_on(channel, configured) as chat:
        [greeted] = await chat.say("admin", "/start")
        assert greeted.text.startswith("Kính chào đồng chí!") and "/vaitro — " in greeted.text
        [listing] = await chat.say("admin", "/vaitro")
        assert listing.text == "Chưa ai nhận quyền nào. Tạo mã mời bằng /moi."


async def test_a_note_asked_for_is_not_taken_once_the_role_is_gone(chat: Chat) -> None:
    services = chat.services
    await chat.give("official", Role.OFFICIAL, HỮU_LŨNG)
    await chat.give("leader", Role.LEADER)
    await services.reports.file(chat.person("official"), Draft("it", "medium", "Máy in hỏng."), services.clock())
    await chat.say("leader", "BC-000001")
    await chat.choose("leader", "Đang xử lý")
    await chat.choose("leader", "Gửi ghi chú cho xã")
    holders = {holder.person: holder for holder in await services.roles.holders()}
    leader = holders[chat.person("leader")]
    await services.roles.revoke(leader.person_id, "test", services.clock(), leader.grant)
    [centre] = await chat.say("leader", "Hữu Lũng")  # an ordinary message again: no note, no refusal
    assert centre.text.startswith("🏢")
    notes = await services.db.fetchall("SELECT note FROM report_events WHERE note IS NOT NULL")
    assert [row[0] for row in notes] == []


async def test_a_province_of_role_holders_is_listed_a_page_at_a_time_and_filtered(chat: Chat) -> None:
    """One official per commune and five leaders (issue 14: 4,160 characters in one message, and Telegram refused
    it): pages of ten, filters by role and commune, and a revocation from any page, on every channel."""
    services = chat.services
    await chat.give("admin", Role.ADMIN)
    communes = sorted(services.centres.directory.communes)
    for n, commune in enumerate(communes):
        made = await services.roles.invite(Role.OFFICIAL, commune, "cli", services.clock())
        await services.roles.redeem(Person(chat.channel, f"8{n:03d}"), made.code, services.clock())
    for n in range(5):
        made = await services.roles.invite(Role.LEADER, None, "cli", services.clock())
        await services.roles.redeem(Person(chat.channel, f"7{n:03d}"), made.code, services.clock())
    total = len(communes) + 5
    [first] = await chat.say("admin", "/vaitro")
    pages = -(-total // 10)
    assert first.text.startswith(f"Những người đang giữ quyền: trang 1/{pages} ({total} người)")
    assert len(first.text) < 2000 and first.text.count("\n#") == 10
    assert "#1 lãnh đạo tỉnh" in first.text  # leaders first
    assert [o for o in first.options if not o.startswith("Thu hồi")] == [
        "Trang sau ›", "Chỉ lãnh đạo tỉnh", "Chỉ cán bộ xã"
    ]  # fmt: skip
    [second] = await chat.choose("admin", "Trang sau ›")
    assert second.text.startswith(f"Những người đang giữ quyền: trang 2/{pages}") and "\n#11 cán bộ" in second.text
    assert "Trang trước" in second.options  # (the driver drops a leading sign from labels)
    [leaders] = await chat.choose("admin", "Chỉ lãnh đạo tỉnh")
    assert leaders.text.startswith("Lãnh đạo tỉnh đang giữ quyền:") and leaders.text.count("\n#") == 5
    [here] = await chat.say("admin", "/vaitro Hữu Lũng")
    assert here.text.startswith("Những người giữ quyền ở xã Hữu Lũng:") and here.text.count("\n#") == 1
    done, after = await chat.choose("admin", "Thu hồi #1", expect=2)
    assert done.text == "Đã thu hồi quyền cán bộ xã Hữu Lũng."
    assert f"({total - 1} người)" in after.text
    unknown, listing = await chat.say("admin", "/vaitro " + "Xyz" * 2000, expect=2)
    assert unknown.text.startswith("Không xác định được xã, phường «XyzXyz") and len(unknown.text) < 200
    assert listing.text.startswith("Những người đang giữ quyền: trang 1/")
    actions = [row["action"] for row in await services.roles.repo.audit()]
    assert actions.count("revoke") == 1


async def test_a_role_holder_is_asked_before_an_invite_replaces_their_role(chat: Chat) -> None:
    """A leader who opens an official's invite (issue 15): asked first; «Giữ quyền hiện tại» keeps the role and
    leaves the invite unused, «Đổi quyền» changes it, audited; nothing is revoked silently."""
    services = chat.services
    await redeem(chat, "leader", await invite(chat, Role.LEADER))
    code = await invite(chat, Role.OFFICIAL, HỮU_LŨNG)
    [asked] = await redeem(chat, "leader", code)
    assert asked.text.startswith(
        "Đồng chí đang giữ quyền lãnh đạo tỉnh. Mã mời này cấp quyền cán bộ xã Hữu Lũng và sẽ thay quyền hiện tại."
    )
    assert asked.options == ["Đổi quyền", "Giữ quyền hiện tại"]
    await chat.choose("leader", "Giữ quyền hiện tại")
    assert await services.roles.access(chat.person("leader")) == Access(Role.LEADER)
    [asked_again] = await redeem(chat, "leader", code)  # the invite was not used: asked again
    assert asked_again.text == asked.text
    [changed] = await chat.choose("leader", "Đổi quyền")
    assert changed.text.startswith("Đồng chí đã được cấp quyền cán bộ xã Hữu Lũng.")
    assert await services.roles.access(chat.person("leader")) == Access(Role.OFFICIAL, HỮU_LŨNG)
    actions = [row["action"] for row in await services.roles.repo.audit()]
    assert actions[-2:] == ["revoke", "grant"]  # the old role's end is in the audit
