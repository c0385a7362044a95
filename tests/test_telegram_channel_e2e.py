"""What only Telegram has: commands registered with Telegram in both languages, a command menu per chat that
follows the person's role, the invite's deep link naming the bot, the keyboard, and the updates it leaves alone
(edits, groups). Conversations themselves are in the `test_*_scenarios.py` files, run on every channel."""

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App, build_application
from bot.cli import _bot_username, main
from bot.commands import COMMANDS, commands_for
from bot.config import Settings
from bot.i18n import translator
from bot.people import Person
from bot.roles import Role
from handlers.chat import FAILED, STALE
from tests.conftest import bot_settings, keyboard_texts
from tests.fakebotapi import BOT_USERNAME, FakeBotAPI, running

ADMIN = 6100
OFFICIAL = 6101
OTHER = 6102
USER = 6103


def chat_scope(chat_id: int) -> tuple[str, str]:
    """The fake Bot API's key for a chat's own command menu."""
    return json.dumps({"chat_id": chat_id, "type": "chat"}, sort_keys=True), ""


def menu_of(api: FakeBotAPI, chat_id: int) -> list[str]:
    """The commands of a chat's own menu."""
    return [c["command"] for c in api.my_commands[chat_scope(chat_id)]]


def with_admin(settings: Settings, api: FakeBotAPI) -> Settings:
    return replace(bot_settings(settings, api), admins=frozenset({("telegram", str(ADMIN))}))


@pytest.fixture
async def admin_bot(settings: Settings, api: FakeBotAPI) -> AsyncIterator[App]:
    async with running(build_application(with_admin(settings, api))) as app:
        yield app


async def test_start_is_vietnamese_whatever_the_telegram_app_speaks(bot: App, api: FakeBotAPI) -> None:
    [reply] = await api.say(USER, "/start", language_code="en")
    assert (reply.text or "").startswith("Kính chào Ông/Bà!")
    assert keyboard_texts(reply.reply_markup)[0] == "📄 Tra cứu hồ sơ"
    assert reply.reply_markup is not None
    assert reply.reply_markup["keyboard"][1][1] == {"text": "📍 Gửi vị trí của tôi", "request_location": True}


async def test_commands_are_registered_in_both_languages(bot: App, api: FakeBotAPI) -> None:
    by_language = {call.params.get("language_code"): call.params["commands"] for call in api.called("setMyCommands")}
    assert set(by_language) == {None, "vi", "en"}
    assert [c["command"] for c in by_language["vi"]] == [c.name for c in COMMANDS]
    assert [c["command"] for c in by_language["en"]] == [c.alias for c in COMMANDS]
    assert by_language[None] == by_language["vi"]
    english = {c["command"]: c["description"] for c in by_language["en"]}
    assert english == {c.alias: translator("en").gettext(c.description) for c in COMMANDS}
    assert english["dossier"] == "Look up a dossier by its code"


async def test_a_role_gives_the_chat_its_command_menu_and_revoking_takes_it(admin_bot: App, api: FakeBotAPI) -> None:
    services = admin_bot.bot_data.services
    old = await services.roles.invite(Role.OFFICIAL, "06385", "cli", services.clock() - timedelta(days=8))
    await api.say(OFFICIAL, f"/start {old.code}")  # expired: no menu
    assert chat_scope(OFFICIAL) not in api.my_commands
    invite = await services.roles.invite(Role.OFFICIAL, "06385", "cli", services.clock())
    await api.say(OFFICIAL, f"/start {invite.code}")
    assert menu_of(api, OFFICIAL) == [c.name for c in commands_for(Role.OFFICIAL)]
    assert menu_of(api, OFFICIAL)[-5:] == ["huy", "hosoxa", "baocao", "xembaocao", "capnhat"]
    await api.say(OFFICIAL, "/lang")  # the menu follows the language
    assert menu_of(api, OFFICIAL) == [c.alias for c in commands_for(Role.OFFICIAL)]
    [listing] = await api.say(ADMIN, "/vaitro")
    [[revoke]] = listing.buttons
    await api.click(ADMIN, revoke["callback_data"], listing.result["message_id"], expect=2)
    await api.wait_for(
        lambda c: c.method == "deleteMyCommands" and c.params.get("scope", {}).get("chat_id") == OFFICIAL
    )
    assert chat_scope(OFFICIAL) not in api.my_commands  # back to the public menu


async def test_the_invite_link_names_the_bot_telegram_knows(settings: Settings, api: FakeBotAPI) -> None:
    assert await _bot_username(bot_settings(settings, api)) == BOT_USERNAME
    unreachable = replace(bot_settings(settings, api), telegram_api_base_url="http://127.0.0.1:9/bot")
    assert await _bot_username(unreachable) == ""  # then the CLI prints `/start <code>`


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


async def test_at_start_role_holders_get_their_menu(settings: Settings, api: FakeBotAPI) -> None:
    async with running(build_application(with_admin(settings, api))) as app:
        services = app.bot_data.services
        invite = await services.roles.invite(Role.LEADER, None, "cli", services.clock())
        await services.roles.redeem(Person("telegram", str(OTHER)), invite.code, services.clock())
    api.my_commands.clear()  # as if Telegram had forgotten them, or this version changed them
    async with running(build_application(with_admin(settings, api))):
        scoped = await api.wait_for(
            lambda call: call.method == "setMyCommands" and call.params.get("scope", {}).get("chat_id") == ADMIN
        )
    assert [c["command"] for c in scoped.params["commands"]][-3:] == ["xembaocao", "moi", "vaitro"]
    assert menu_of(api, OTHER)[-1] == "xembaocao"


async def test_an_admin_removed_from_the_settings_loses_the_menu(settings: Settings, api: FakeBotAPI) -> None:
    async with running(build_application(with_admin(settings, api))):
        await api.wait_for(lambda c: c.method == "setMyCommands" and c.params.get("scope", {}).get("chat_id") == ADMIN)
    assert "moi" in menu_of(api, ADMIN)
    async with running(build_application(bot_settings(settings, api))):  # ADMIN is no longer in PHUCVU_ADMINS
        await api.wait_for(
            lambda c: c.method == "deleteMyCommands" and c.params.get("scope", {}).get("chat_id") == ADMIN
        )
    assert chat_scope(ADMIN) not in api.my_commands


async def test_a_pressed_button_stops_spinning_even_when_forged(bot: App, api: FakeBotAPI) -> None:
    since = api.mark()
    [reply] = await api.click(USER, "zz:rm -rf")
    assert reply.text == STALE
    assert len(api.called("answerCallbackQuery", since=since)) == 1


async def assert_still_answers(api: FakeBotAPI) -> None:
    [reply] = await api.say(USER, "Quý Hoà")
    assert (reply.text or "").startswith("🏢 Trung tâm Phục vụ hành chính công xã Quý Hòa")


async def test_an_edited_message_is_ignored(bot: App, api: FakeBotAPI) -> None:
    since = api.mark()
    api.push_edited_text(USER, "Quý Hoà")
    await assert_still_answers(api)
    assert len(api.sent(USER, since=since)) == 1


async def test_plain_text_in_a_group_is_left_alone(bot: App, api: FakeBotAPI) -> None:
    group = {"id": -100123, "type": "group", "title": "Thôn Đồng Ngầu"}
    since = api.mark()
    await api.converse({"message": api.make_message(USER, text="Quý Hoà", chat=group)}, expect=0, settle=0.3)
    assert api.sent(since=since) == []
    await assert_still_answers(api)


async def test_an_answer_telegram_refuses_is_followed_by_an_apology(bot: App, api: FakeBotAPI) -> None:
    since = api.mark()
    api.fail_next("sendMessage", 400, description="Bad Request: message is too long")
    [sorry] = await api.say(USER, "Hữu Lũng")
    assert sorry.text == translator("vi").gettext(FAILED)
    [refused] = [call for call in api.called("sendMessage", since=since) if not call.ok]
    assert (refused.text or "").startswith("🏢")
