"""The ingest endpoint over real HTTP: tokens, malformed bodies, idempotence, and followers told at once."""

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from bot.app import App, build_application
from bot.config import Secret, Settings
from tests.conftest import bot_settings, sqlite_only
from tests.fakebotapi import FakeBotAPI, running

NOW = datetime(2025, 8, 5, 3, 0, tzinfo=UTC)
TOKEN = "ingest-token-0123456789abcdef"
ITEM = {
    "ma_ho_so": "000.00.37.H37-250804-0012",
    "ten_thu_tuc": "Đăng ký khai sinh",
    "ma_xa": "06385",
    "ngay_tiep_nhan": "20250804083000",
    "ngay_hen_tra": "06/08/2025 17:00",
    "trang_thai": 4,
    "kenh_nop": 1,
    "chu_ho_so": "Hoàng Thị Bích",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def served(settings: Settings, api: FakeBotAPI) -> AsyncIterator[tuple[App, str]]:
    port = free_port()
    configured = replace(bot_settings(settings, api), ingest_token=Secret(TOKEN), http_port=port, http_host="127.0.0.1")
    async with running(build_application(configured, clock=lambda: NOW, outbox_interval=60)) as app:
        yield app, f"http://127.0.0.1:{port}"


async def post(url: str, body: Any, token: str | None = TOKEN, raw: bytes | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with aiohttp.ClientSession() as session:
        data = raw if raw is not None else None
        async with session.post(f"{url}/api/v1/dossiers", json=None if raw else body, data=data, headers=headers) as r:
            return r.status, await r.json()


async def count(app: App) -> int:
    return await app.bot_data.services.dossiers.count()


async def test_healthz(served: tuple[App, str]) -> None:
    _, url = served
    async with aiohttp.ClientSession() as session, session.get(f"{url}/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok", "database": "ok", "channels": {"telegram": {"state": "ok"}}}


async def test_healthz_names_a_channel_that_fails_and_metrics_count_what_happened(
    settings: Settings, api: FakeBotAPI
) -> None:
    port = free_port()
    zalo_gone = f"http://127.0.0.1:{free_port()}/bot"  # nothing listens there
    configured = replace(
        bot_settings(settings, api), ingest_token=Secret(TOKEN), http_port=port, zalo_token=Secret("1:zalo-token"),
        zalo_api_base_url=zalo_gone,
    )  # fmt: skip
    async with running(build_application(configured, clock=lambda: NOW, outbox_interval=60)) as app:
        url = f"http://127.0.0.1:{port}"
        await api.say(8201, "xã Đồng Tân, huyện Hữu Lũng")
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(10):
                while True:  # the Zalo channel's first poll fails in a moment
                    async with session.get(f"{url}/healthz") as response:
                        health = await response.json()
                    if health["channels"]["zalo"]["state"] == "failing":
                        break
                    await asyncio.sleep(0.05)
            assert response.status == 200 and health["status"] == "degraded" and health["database"] == "ok"
            assert health["channels"]["telegram"] == {"state": "ok"}
            assert "ConnectError" in health["channels"]["zalo"]["error"]
            await app.bot_data.services.outbox.observe()
            async with session.get(f"{url}/metrics") as response:
                assert response.status == 200 and response.content_type == "text/plain"
                metrics = await response.text()
    assert 'phucvu_updates_total{channel="telegram",kind="text"}' in metrics
    assert 'phucvu_answer_seconds_count{channel="telegram"}' in metrics
    assert 'phucvu_channel_up{channel="zalo"} 0.0' in metrics
    assert "phucvu_outbox_backlog" in metrics
    assert TOKEN not in metrics and "1:zalo-token" not in metrics


@pytest.mark.parametrize("token", [None, "wrong-token-0123456789", TOKEN + "x", ""])
async def test_a_wrong_or_missing_token_writes_nothing(served: tuple[App, str], token: str | None) -> None:
    app, url = served
    status, body = await post(url, [ITEM], token=token)
    assert status == 401
    assert "token" in body["error"]
    assert await count(app) == 0


@pytest.mark.parametrize(
    ("raw", "body", "says"),
    [
        (b"{not json", None, "not JSON"),
        (b'{"ma_ho_so": "x"}', None, "JSON list"),
        (None, [ITEM, "text"], "JSON object"),
        (None, [ITEM, ITEM | {"trang_thai": 12}], "trạng thái 12"),
        (None, [ITEM | {"ma_xa": "01001"}], "01001"),
        # What an attack sent (issue 14): each a 400 that says what, never a 500.
        (b"[" * 100_000 + b"]" * 100_000, None, "nested deeper than 16 levels"),
        (b'[{"ma_ho_so": ' + b'{"a": ' * 20 + b"1" + b"}" * 20 + b"}]", None, "nested deeper than 16 levels"),
        (b'[{"trang_thai": ' + b"9" * 4301 + b"}]", None, "a number of 4301 digits"),
        (b'[{"trang_thai": 1e999}]', None, "too large"),
        (b'[{"trang_thai": NaN}]', None, "NaN is not a JSON number"),
        (b'[{"ma_ho_so": "\\ud800"}]', None, "lone surrogate"),
        (b'[{"ten_thu_tuc": "\xff\xfe"}]', None, "not UTF-8"),
        (
            None,
            [ITEM | {"ten_thu_tuc": ["x"]}],
            "'index': 0, 'error': 'ten_thu_tuc: phải là chữ hoặc số, không phải danh sách'",
        ),
        (None, [ITEM, ITEM | {"chu_ho_so": {"ho": "Hoàng"}}], "'index': 1, 'error': 'chu_ho_so: phải là chữ"),
        (None, [ITEM | {"chu_ho_so": "A" * 201}], "chu_ho_so: dài quá 200 ký tự"),
    ],
)
async def test_a_malformed_body_is_400_and_writes_nothing(
    served: tuple[App, str], raw: bytes | None, body: Any, says: str
) -> None:
    app, url = served
    status, answer = await post(url, body, raw=raw)
    assert status == 400
    assert says in str(answer)
    assert await count(app) == 0


async def test_a_header_that_is_not_utf8_is_a_wrong_token(served: tuple[App, str]) -> None:
    app, url = served
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            b"POST /api/v1/dossiers HTTP/1.1\r\nHost: bot\r\nAuthorization: Bearer \xff\xfe\xc3\r\n"
            b"Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]"
        )
        answer = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    assert answer.startswith(b"HTTP/1.1 401") and b"token" in answer
    assert await count(app) == 0


async def test_the_same_list_twice_changes_nothing_and_a_change_reaches_followers(
    served: tuple[App, str], api: FakeBotAPI
) -> None:
    _, url = served
    status, counts = await post(url, [ITEM])
    assert (status, counts) == (
        200,
        {"inserted": 1, "updated": 0, "unchanged": 0, "status_changes": 0, "superseded": 0, "phones_ignored": 0},
    )
    status, counts = await post(url, [ITEM])
    assert (status, counts) == (
        200,
        {"inserted": 0, "updated": 0, "unchanged": 1, "status_changes": 0, "superseded": 0, "phones_ignored": 0},
    )
    [lookup] = await api.say(4242, "000.00.37.H37-250804-0012")
    assert "Hoàng" not in (lookup.text or "")
    await api.click(4242, lookup.buttons[0][0]["callback_data"], expect=0, settle=0.1)
    since = api.mark()
    english = {
        "code": ITEM["ma_ho_so"],
        "procedure": "Đăng ký khai sinh",
        "commune_code": 6385,
        "received": "2025-08-04T08:30:00+07:00",
        "due": "2025-08-06T17:00:00+07:00",
        "status": "9",
        "finished": "2025-08-05T09:00:00+07:00",
    }
    status, counts = await post(url, [english])
    assert status == 200
    assert counts["status_changes"] == 1
    [message] = await api.wait_sent(4242, since=since, timeout=5)  # drained at once, not at the next interval
    assert "Đã có kết quả — mời Ông/Bà đến nhận" in (message.text or "")


async def test_a_code_twice_in_one_list_applies_the_last_and_stays_idempotent(served: tuple[App, str]) -> None:
    app, url = served
    steps = [ITEM | {"trang_thai": 2}, ITEM | {"trang_thai": 4}]
    assert await post(url, steps) == (
        200,
        {"inserted": 1, "updated": 0, "unchanged": 0, "status_changes": 0, "superseded": 1, "phones_ignored": 0},
    )
    assert await post(url, steps) == (
        200,
        {"inserted": 0, "updated": 0, "unchanged": 1, "status_changes": 0, "superseded": 1, "phones_ignored": 0},
    )
    stored = await app.bot_data.services.dossiers.repo.by_key("0000037H372508040012")
    assert stored is not None
    assert stored.status == 4


@pytest.mark.parametrize("bad", [{"trang_thai": "²"}, {"ngay_tiep_nhan": [2025, 8, 4]}, {"ma_xa": None}])
async def test_odd_values_are_400_not_500(served: tuple[App, str], bad: dict[str, Any]) -> None:
    app, url = served
    status, answer = await post(url, [ITEM | bad])
    assert status == 400
    assert answer["problems"][0]["index"] == 0
    assert await count(app) == 0


async def test_a_batch_while_another_writer_holds_the_database_is_a_503_to_retry(
    served: tuple[App, str], settings: Settings
) -> None:
    """An import holding the database longer than the busy timeout: the batch gets a 503 with Retry-After and
    nothing written (issue 14's soak: it was a 500 with a traceback); sent again, it is applied."""
    sqlite_only(settings, "a writer holding SQLite's file lock (PostgreSQL's writers do not wait on each other)")
    import sqlite3

    app, url = served
    await app.bot_data.services.db.conn.execute("PRAGMA busy_timeout=50")
    locker = sqlite3.connect(settings.db_path, isolation_level=None)
    try:
        locker.execute("BEGIN IMMEDIATE")
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{url}/api/v1/dossiers", json=[ITEM], headers={"Authorization": f"Bearer {TOKEN}"}) as r,
        ):
            assert r.status == 503 and r.headers["Retry-After"] == "5"
            assert "try again" in (await r.json())["error"]
        locker.execute("COMMIT")
    finally:
        locker.close()
    assert await count(app) == 0
    status, _ = await post(url, [ITEM])
    assert status == 200 and await count(app) == 1


async def test_the_optional_note_fee_and_new_date_are_taken_and_checked(served: tuple[App, str]) -> None:
    app, url = served
    extra = {"ghi_chu": "Bổ sung tờ khai", "le_phi": "50.000", "ngay_hen_tra_moi": "12/08/2025 17:00"}
    status, counts = await post(url, [ITEM | extra])
    assert status == 200 and counts["inserted"] == 1
    stored = await app.bot_data.services.dossiers.repo.by_key("0000037H372508040012")
    assert stored is not None and (stored.note, stored.fee, stored.new_due_at) == (
        "Bổ sung tờ khai",
        50000,
        "2025-08-12 10:00:00",
    )
    status, answer = await post(url, [ITEM | {"le_phi": "năm chục"}])
    assert status == 400 and "le_phi: «năm chục» không phải số tiền (đồng)" in str(answer)
    status, answer = await post(url, [ITEM | {"ngay_hen_tra_moi": "sắp tới"}])
    assert status == 400 and "ngay_hen_tra_moi" in str(answer)
