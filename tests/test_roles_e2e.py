"""End to end: an invite's deep link (`/start <code>`) gives the role once; `phucvu invite` prints the link."""

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App, build_application
from bot.cli import _bot_username, main
from bot.commands import commands_for
from bot.config import Settings
from bot.people import Person
from bot.roles import Access, Role
from tests.conftest import bot_settings, keyboard_texts
from tests.fakebotapi import BOT_USERNAME, Call, FakeBotAPI, running

OFFICIAL = 6101
OTHER = 6102


def chat_scope(chat_id: int) -> tuple[str, str]:
    """The fake Bot API's key for a chat's own command menu."""
    return json.dumps({"chat_id": chat_id, "type": "chat"}, sort_keys=True), ""


async def test_the_deep_link_gives_the_role_once(bot: App, api: FakeBotAPI) -> None:
    services = bot.bot_data.services
    invite = await services.roles.invite(Role.OFFICIAL, "06385", "cli", services.clock())
    [welcome] = await api.say(OFFICIAL, f"/start {invite.code}")
    assert welcome.text is not None
    assert welcome.text.startswith("Bạn đã nhận vai trò cán bộ Xã Hữu Lũng. Chào mừng!\n\nPhục Vụ giúp bạn:")
    assert "/baocao — Báo cáo khó khăn" in welcome.text and "/moi" not in welcome.text
    assert keyboard_texts(welcome.reply_markup)[:2] == ["📝 Báo cáo khó khăn", "📋 Báo cáo của xã"]
    menu = [c["command"] for c in api.my_commands[chat_scope(OFFICIAL)]]
    assert menu == [c.name for c in commands_for(Role.OFFICIAL)]
    assert menu[-4:] == ["baocao", "xembaocao", "capnhat", "huy"]
    assert await services.roles.access(Person("telegram", str(OFFICIAL))) == Access(Role.OFFICIAL, "06385")
    [refused] = await api.say(OTHER, f"/start {invite.code}")
    assert refused.text is not None and refused.text.startswith("Mã mời này đã được dùng.")
    [again] = await api.say(OFFICIAL, f"/start {invite.code}")
    assert again.text == "Bạn đã nhận vai trò của mã mời này rồi."
    [hello] = await api.say(OTHER, "/start hello")  # a start parameter that is no invite: the greeting
    assert (hello.text or "").startswith("Xin chào! Mình là Phục Vụ")
    [forged] = await api.say(OTHER, "/start AAAAAAAAAAAAAAAAAAAAAAAA")
    assert forged.text is not None and forged.text.startswith("Mã mời không đúng.")
    assert await services.roles.access(Person("telegram", str(OTHER))) == Access(Role.CITIZEN)


async def test_an_expired_or_revoked_invite_is_refused(bot: App, api: FakeBotAPI) -> None:
    services = bot.bot_data.services
    week_ago = services.clock() - timedelta(days=7, seconds=1)
    old = await services.roles.invite(Role.OFFICIAL, "06385", "cli", week_ago)  # 7 days: expired a second ago
    [expired] = await api.say(OFFICIAL, f"/start {old.code}")
    assert expired.text == "Mã mời này đã hết hạn. Xin quản trị viên một mã mới."
    withdrawn = await services.roles.invite(Role.LEADER, None, "cli", services.clock())
    assert await services.roles.revoke_invite(withdrawn.code, "cli", services.clock())
    [revoked] = await api.say(OFFICIAL, f"/start {withdrawn.code}")
    assert revoked.text == "Mã mời này đã bị thu hồi. Xin quản trị viên một mã mới."
    assert await services.roles.access(Person("telegram", str(OFFICIAL))) == Access(Role.CITIZEN)
    assert chat_scope(OFFICIAL) not in api.my_commands


def test_invite_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHUCVU_DB", str(tmp_path / "cli.db"))
    monkeypatch.setenv("PHUCVU_BOT_USERNAME", "@PhucVuBot")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["invite", "official", "--commune", "Hữu Lũng"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Mã mời cán bộ Xã Hữu Lũng, dùng một lần, hết hạn ")
    assert out[2] == f"https://t.me/PhucVuBot?start={out[1]}"
    assert main(["revoke-invite", out[1]]) == 0
    assert main(["revoke-invite", out[1]]) == 1
    assert main(["invite", "leader", "--days", "3"]) == 0
    assert main(["invite", "official"]) == 2
    assert main(["invite", "official", "--commune", "Tân"]) == 2
    assert "Có thể là:" in capsys.readouterr().err
    assert main(["invite", "official", "--commune", "06385"]) == 0


async def test_the_invite_link_names_the_bot_telegram_knows(settings: Settings, api: FakeBotAPI) -> None:
    assert await _bot_username(bot_settings(settings, api)) == BOT_USERNAME
    unreachable = replace(bot_settings(settings, api), telegram_api_base_url="http://127.0.0.1:9/bot")
    assert await _bot_username(unreachable) == ""  # then the CLI prints `/start <code>`


ADMIN = 6100
CITIZEN = 6103


@pytest.fixture
async def admin_bot(settings: Settings, api: FakeBotAPI) -> AsyncIterator[App]:
    admin_settings = replace(bot_settings(settings, api), admins=frozenset({ADMIN}))
    async with running(build_application(admin_settings)) as app:
        yield app


def buttons(call: Call) -> list[str]:
    markup = call.reply_markup
    assert markup is not None
    return [button["callback_data"] for row in markup["inline_keyboard"] for button in row]


async def test_only_an_admin_sees_the_admin_commands(admin_bot: App, api: FakeBotAPI) -> None:
    [unknown] = await api.say(CITIZEN, "/khonglenh")
    for command in ("/moi lanhdao", "/invite leader", "/vaitro", "/roles"):
        [reply] = await api.say(CITIZEN, command)
        assert reply.text == unknown.text  # the same as any unknown command: nothing tells them it exists
    assert await admin_bot.bot_data.services.db.fetchall("SELECT * FROM invites") == []


async def test_at_start_role_holders_get_their_menu(settings: Settings, api: FakeBotAPI) -> None:
    admin_settings = replace(bot_settings(settings, api), admins=frozenset({ADMIN}))
    async with running(build_application(admin_settings)) as app:
        services = app.bot_data.services
        invite = await services.roles.invite(Role.LEADER, None, "cli", services.clock())
        await services.roles.redeem(Person("telegram", str(OTHER)), invite.code, services.clock())
    api.my_commands.clear()  # as if Telegram had forgotten them, or this version changed them
    async with running(build_application(admin_settings)):
        scoped = await api.wait_for(
            lambda call: call.method == "setMyCommands" and call.params.get("scope", {}).get("chat_id") == ADMIN
        )
    assert [c["command"] for c in scoped.params["commands"]][-3:] == ["xembaocao", "moi", "vaitro"]
    assert [c["command"] for c in api.my_commands[chat_scope(OTHER)]][-1] == "xembaocao"


async def test_an_admin_invites_lists_and_revokes_in_chat(admin_bot: App, api: FakeBotAPI) -> None:
    services = admin_bot.bot_data.services
    [made] = await api.say(ADMIN, "/moi lãnh đạo")
    assert made.text is not None
    header, code, link, _ = made.text.splitlines()
    assert header.startswith("Mã mời lãnh đạo tỉnh, dùng một lần, hết hạn ")
    assert link == f"https://t.me/{BOT_USERNAME}?start={code}"
    [welcome] = await api.say(OTHER, f"/start {code}")
    assert (welcome.text or "").startswith("Bạn đã nhận vai trò lãnh đạo tỉnh. Chào mừng!")
    assert [c["command"] for c in api.my_commands[chat_scope(OTHER)]][-1] == "xembaocao"

    [unclear] = await api.say(ADMIN, "/moi canbo Tân")
    assert unclear.text is not None and "Có thể là:" in unclear.text
    [usage] = await api.say(ADMIN, "/moi")
    assert usage.text is not None and "/moi lanhdao" in usage.text

    [listing] = await api.say(ADMIN, "/vaitro")
    assert listing.text is not None and "1. lãnh đạo tỉnh — telegram 6102" in listing.text
    [revoke] = buttons(listing)
    since = api.mark()
    await api.click(CITIZEN, revoke, expect=0, settle=0.1)  # forged: the citizen never had this button
    assert "không còn dùng được" in api.called("answerCallbackQuery", since=since)[0].params["text"]
    assert await services.roles.access(Person("telegram", str(OTHER))) == Access(Role.LEADER)

    since = api.mark()
    await api.click(ADMIN, revoke, listing.result["message_id"], expect=0, settle=0.2)
    assert "Đã thu hồi vai trò lãnh đạo tỉnh" in api.called("answerCallbackQuery", since=since)[0].params["text"]
    assert await services.roles.access(Person("telegram", str(OTHER))) == Access(Role.CITIZEN)
    assert chat_scope(OTHER) not in api.my_commands  # back to the public menu
    [edited] = api.called("editMessageText", since=since)
    assert edited.params["text"] == "Chưa ai nhận vai trò nào. Tạo mã mời bằng /moi."
    actions = [(row["actor"], row["action"]) for row in await services.roles.repo.audit()]
    assert actions == [("telegram:6100", "invite"), ("telegram:6102", "grant"), ("telegram:6100", "revoke")]


async def revoke_in_chat(api: FakeBotAPI) -> None:
    """ADMIN revokes the only role holder's role with /vaitro's button."""
    [listing] = await api.say(ADMIN, "/vaitro")
    [revoke] = buttons(listing)
    await api.click(ADMIN, revoke, listing.result["message_id"], expect=0, settle=0.2)


async def test_a_revoked_official_is_told_and_back_to_what_citizens_have(admin_bot: App, api: FakeBotAPI) -> None:
    services = admin_bot.bot_data.services
    invite = await services.roles.invite(Role.OFFICIAL, "06385", "cli", services.clock())
    await api.say(OFFICIAL, f"/start {invite.code}")
    await api.say(OFFICIAL, "/baocao")  # a report begun, not finished
    since = api.mark()
    await revoke_in_chat(api)
    [told] = await api.wait_sent(OFFICIAL, since=since)
    assert told.text == (
        "Vai trò cán bộ Xã Hữu Lũng của bạn đã được thu hồi. Bạn vẫn tra cứu hồ sơ và tìm trung tâm như mọi người."
    )
    assert "📝 Báo cáo khó khăn" not in keyboard_texts(told.reply_markup)
    [centre] = await api.say(OFFICIAL, "Hữu Lũng")  # the unfinished report no longer takes their messages
    assert (centre.text or "").startswith("🏢")
    [again] = await api.say(OFFICIAL, f"/start {invite.code}")  # the old link claims nothing
    assert (again.text or "").startswith("Mã mời này đã được dùng.")


async def test_an_admin_removed_from_the_settings_loses_the_menu(settings: Settings, api: FakeBotAPI) -> None:
    configured = bot_settings(settings, api)
    async with running(build_application(replace(configured, admins=frozenset({ADMIN})))):
        await api.wait_for(lambda c: c.method == "setMyCommands" and c.params.get("scope", {}).get("chat_id") == ADMIN)
    assert "moi" in [c["command"] for c in api.my_commands[chat_scope(ADMIN)]]
    async with running(build_application(configured)):  # ADMIN is no longer in PHUCVU_ADMINS
        await api.wait_for(
            lambda c: c.method == "deleteMyCommands" and c.params.get("scope", {}).get("chat_id") == ADMIN
        )
    assert chat_scope(ADMIN) not in api.my_commands
