"""`phucvu export-reports` from the command line, and the photo links it writes served over real HTTP."""

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from bot.app import App, build_application
from bot.cli import main
from bot.config import Secret, Settings
from bot.people import Person
from bot.report_export import Exporter, signature
from bot.reports import Draft
from bot.roles import Role
from bot.services import open_services
from tests.conftest import bot_settings
from tests.fakebotapi import FakeBotAPI, running
from tests.test_ingest_e2e import TOKEN, free_port

OFFICIAL = Person("telegram", "6401")
JPEG = b"\xff\xd8\xff\xe0 a photo of a broken door"


async def file_a_report(settings: Settings, photos: tuple[str, ...]) -> int:
    services = await open_services(settings)
    try:
        now = services.clock()
        invite = await services.roles.invite(Role.OFFICIAL, "06385", "cli", now)
        await services.roles.redeem(OFFICIAL, invite.code, now)
        draft = Draft("premises", "high", "Trụ sở tạm ở nhà văn hoá, cửa hỏng.", photos)
        return (await services.reports.file(OFFICIAL, draft, now)).id
    finally:
        await services.db.close()


def test_export_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setenv("PHUCVU_DB", str(tmp_path / "export.db"))
    asyncio.run(file_a_report(Settings(db_path=tmp_path / "export.db"), ("tg-photo-1",)))

    assert main(["export-reports"]) == 0
    captured = capsys.readouterr()
    [row] = list(csv.DictReader(io.StringIO(captured.out)))
    assert (row["so_bao_cao"], row["ten_loai"], row["anh"]) == ("BC-000001", "Trụ sở tạm", "")
    assert "Ảnh chưa có đường dẫn: đặt PHUCVU_PUBLIC_URL" in captured.err and "Đã xuất 1 báo cáo." in captured.err

    monkeypatch.setenv("PHUCVU_PUBLIC_URL", "https://phucvu.example.vn")
    monkeypatch.setenv("PHUCVU_HTTP_PORT", "8080")
    monkeypatch.setenv("PHUCVU_INGEST_TOKEN", TOKEN)
    assert main(["export-reports", "--format", "open311", "--output", "reports.json"]) == 0
    [request] = json.loads((tmp_path / "reports.json").read_text(encoding="utf-8"))
    assert request["service_request_id"] == "BC-000001" and request["status"] == "open"
    assert request["media_url"].startswith("https://phucvu.example.vn/media/reports/1/1/")
    assert "Ảnh chưa có đường dẫn" not in capsys.readouterr().err

    assert main(["export-reports", "--open-only", "-o", "reports.csv"]) == 0
    assert (tmp_path / "reports.csv").read_bytes().startswith(b"\xef\xbb\xbfso_bao_cao,")  # Excel reads UTF-8
    assert main(["export-reports", "-o", str(tmp_path / "missing" / "x.csv")]) == 2
    monkeypatch.setenv("PHUCVU_PUBLIC_URL", "phucvu.example.vn")
    assert main(["export-reports"]) == 2
    assert "PHUCVU_PUBLIC_URL" in capsys.readouterr().err


@pytest.fixture
async def served(settings: Settings, api: FakeBotAPI) -> AsyncIterator[tuple[App, str]]:
    port = free_port()
    configured = replace(bot_settings(settings, api), ingest_token=Secret(TOKEN), http_port=port, http_host="127.0.0.1")
    async with running(build_application(configured)) as app:
        yield app, f"http://127.0.0.1:{port}"


async def test_the_photo_links_are_served_and_unguessable(served: tuple[App, str], api: FakeBotAPI) -> None:
    app, url = served
    services = app.bot_data.services
    api.files["tg-photo-1"] = JPEG
    photos = ("tg-photo-1", "https://zalo.example/p/2.jpg", "tg-gone")
    report_id = await file_a_report(services.settings, photos)
    exporter = Exporter(services.settings.timezone, str, url, TOKEN)
    [item] = await services.reports.export()
    first, second, third = exporter.photo_urls(item)
    assert first == f"{url}/media/reports/{report_id}/1/{signature(TOKEN, report_id, 1)}"
    assert second == "https://zalo.example/p/2.jpg"  # kept as it came
    assert third == f"{url}/media/reports/{report_id}/3/{signature(TOKEN, report_id, 3)}"
    async with aiohttp.ClientSession() as session:
        async with session.get(first) as response:
            assert response.status == 200 and response.content_type == "image/jpeg"
            assert await response.read() == JPEG
        redirect = f"{url}/media/reports/{report_id}/2/{signature(TOKEN, report_id, 2)}"
        async with session.get(redirect, allow_redirects=False) as response:
            assert (response.status, response.headers["Location"]) == (302, "https://zalo.example/p/2.jpg")
        async with session.get(third) as response:
            assert response.status == 404  # Telegram no longer has it
        forged = first[:-1] + ("0" if first[-1] != "0" else "1")
        for wrong in (forged, first.replace("/1/", "/2/", 1), f"{url}/media/reports/{report_id}/9/{'0' * 20}"):
            async with session.get(wrong) as response:
                assert response.status == 404
    assert "tg-photo-1" not in first and TOKEN not in first
