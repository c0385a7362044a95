"""End to end: an invite's deep link (`/start <code>`) gives the role once; `phucvu invite` prints the link."""

from pathlib import Path

import pytest

from bot.app import App
from bot.cli import main
from bot.people import Person
from bot.roles import Access, Role
from tests.fakebotapi import FakeBotAPI

OFFICIAL = 6101
OTHER = 6102


async def test_the_deep_link_gives_the_role_once(bot: App, api: FakeBotAPI) -> None:
    services = bot.bot_data.services
    invite = await services.roles.invite(Role.OFFICIAL, "06385", "cli", services.clock())
    [welcome] = await api.say(OFFICIAL, f"/start {invite.code}")
    assert welcome.text == "Bạn đã nhận vai trò cán bộ Xã Hữu Lũng. Chào mừng!"
    assert await services.roles.access(Person("telegram", str(OFFICIAL))) == Access(Role.OFFICIAL, "06385")
    [refused] = await api.say(OTHER, f"/start {invite.code}")
    assert refused.text is not None and refused.text.startswith("Mã mời này đã được dùng.")
    [forged] = await api.say(OTHER, "/start AAAAAAAAAAAAAAAAAAAAAAAA")
    assert forged.text is not None and forged.text.startswith("Mã mời không đúng.")
    assert await services.roles.access(Person("telegram", str(OTHER))) == Access(Role.CITIZEN)


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
