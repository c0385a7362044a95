"""End to end: PTB's calls through aiohttp (bot.telegram_http.AiohttpRequest) as JSON bodies or multipart uploads,
with PTB's errors for every failure, and the outbox's reading of them: sent again only when nothing left."""

import asyncio
import base64
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.outbox import Outcome, OutgoingMessage
from bot.people import Person
from bot.telegram_channel import TelegramNotifier
from bot.telegram_http import NEVER_LEFT, AiohttpRequest
from tests.fakebotapi import TOKEN, FakeBotAPI, UploadedFile

TEXT = "Hồ sơ 000.00.37.H37-250804-0012 — «Đã tiếp nhận» & <b>đúng hạn</b>"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
STATUS = OutgoingMessage(1, Person("telegram", "42"), "vi", "dossier_status", {"code": "X-250804-0001", "status": 4})


@contextlib.asynccontextmanager
async def raw_server(
    answer: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 whose every connection `answer` handles: its port. Every connection is closed
    on the way out, however its handler ended."""
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        try:
            await answer(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in writers:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """A server that takes connections and requests and never answers: a Bot API base URL on it."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            pass

    async with raw_server(hold) as port:
        yield f"http://127.0.0.1:{port}/bot"


@contextlib.asynccontextmanager
async def bot_on(base_url: str, request: AiohttpRequest) -> AsyncIterator[Bot]:
    """A bot whose every call (getUpdates too) goes through `request`, opened without a first getMe."""
    async with request:
        yield Bot(TOKEN, base_url=base_url, request=request, get_updates_request=request)


def free_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_text_markup_and_errors_as_telegram_has_them(api: FakeBotAPI) -> None:
    async with Bot(TOKEN, base_url=api.base_url, request=AiohttpRequest()) as bot:
        sent = await bot.send_message(
            42, TEXT, reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("⭐ Theo dõi", callback_data="d:f:X")]])
        )
        assert sent.text == TEXT
        assert sent.reply_markup is not None and sent.reply_markup.inline_keyboard[0][0].text == "⭐ Theo dõi"
        [call] = api.called("sendMessage")
        assert call.content_type == "application/json"
        assert call.params["chat_id"] == 42 and call.params["text"] == TEXT
        assert call.buttons[0][0]["text"] == "⭐ Theo dõi"
        api.fail_next("sendMessage", 429, retry_after=3)
        with pytest.raises(RetryAfter) as limited:
            await bot.send_message(42, "x")
        assert limited.value.retry_after == timedelta(seconds=3)
        with pytest.raises(BadRequest):
            await bot.send_message(42, "")  # Telegram: message text is empty


async def test_an_upload_goes_as_multipart_with_its_fields(api: FakeBotAPI) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    async with Bot(TOKEN, base_url=api.base_url, request=AiohttpRequest()) as bot:
        await bot.send_photo(42, png, caption="Biểu đồ tháng 8 — 95,6%")
    [call] = api.called("sendPhoto")
    assert call.content_type == "multipart/form-data"
    assert call.params["chat_id"] == 42 and call.params["caption"] == "Biểu đồ tháng 8 — 95,6%"
    photo = call.params["photo"]
    assert isinstance(photo, UploadedFile) and photo.data == png


async def test_long_polling_waits_longer_than_the_read_timeout(api: FakeBotAPI) -> None:
    async with bot_on(api.base_url, AiohttpRequest(read_timeout=0.3)) as bot:
        started = asyncio.get_running_loop().time()
        assert await bot.get_updates(timeout=1) == ()  # PTB adds the polling time to the read timeout
        assert asyncio.get_running_loop().time() - started >= 0.9


async def test_no_connection_is_sent_again_by_the_outbox() -> None:
    async with bot_on(f"http://127.0.0.1:{free_port()}/bot", AiohttpRequest(connect_timeout=1)) as bot:
        with pytest.raises(NetworkError) as failed:
            await bot.send_message(42, "x")
        assert isinstance(failed.value.__cause__, NEVER_LEFT)
        delivery = await TelegramNotifier(bot, TZ).deliver(STATUS)
    assert delivery.outcome is Outcome.RETRY


async def test_no_free_connection_in_time_is_sent_again() -> None:
    async with silent_server() as base_url, bot_on(base_url, AiohttpRequest(1)) as bot:
        first = asyncio.create_task(bot.send_message(42, "x", read_timeout=5))  # holds the only connection
        await asyncio.sleep(0.2)
        with pytest.raises(TimedOut) as waited:
            await bot.send_message(42, "y", pool_timeout=0.2, connect_timeout=0.1)
        assert isinstance(waited.value.__cause__, NEVER_LEFT)
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first


async def test_no_answer_in_time_is_uncertain() -> None:
    async with silent_server() as base_url, bot_on(base_url, AiohttpRequest(read_timeout=0.3)) as bot:
        with pytest.raises(TimedOut) as waited:
            await bot.send_message(42, "x")
        assert not isinstance(waited.value.__cause__, NEVER_LEFT)  # Telegram may have it
        delivery = await TelegramNotifier(bot, TZ).deliver(STATUS)
    assert delivery.outcome is Outcome.UNCERTAIN


async def test_a_connection_lost_after_the_request_is_uncertain(api: FakeBotAPI) -> None:
    async with Bot(TOKEN, base_url=api.base_url, request=AiohttpRequest()) as bot:
        api.drop_next("sendMessage")
        delivery = await TelegramNotifier(bot, TZ).deliver(STATUS)
        assert delivery.outcome is Outcome.UNCERTAIN
        assert (await TelegramNotifier(bot, TZ).deliver(STATUS)).outcome is Outcome.SENT
    assert [call.status for call in api.called("sendMessage")] == [0, 200]  # never sent twice by itself


async def test_a_5xx_is_sent_again(api: FakeBotAPI) -> None:
    async with Bot(TOKEN, base_url=api.base_url, request=AiohttpRequest()) as bot:
        api.fail_next("sendMessage", 502)
        assert (await TelegramNotifier(bot, TZ).deliver(STATUS)).outcome is Outcome.RETRY


async def test_a_5xx_with_an_html_page_is_sent_again_too(api: FakeBotAPI, caplog: pytest.LogCaptureFixture) -> None:
    """A proxy in front of Telegram answers 502 with an HTML page: refused, as with Telegram's JSON, never "may
    have arrived", and no traceback logged for the page (issue 14; the soak logged one per page)."""
    async with Bot(TOKEN, base_url=api.base_url, request=AiohttpRequest()) as bot:
        api.fail_next("sendMessage", 502, html=True)
        assert (await TelegramNotifier(bot, TZ).deliver(STATUS)).outcome is Outcome.RETRY
        api.fail_next("sendMessage", 503, html=True)
        delivery = await TelegramNotifier(bot, TZ).deliver(STATUS)
        assert delivery.outcome is Outcome.RETRY and "503" in delivery.error
        api.fail_next("sendMessage", 401, html=True)
        assert (await TelegramNotifier(bot, TZ).deliver(STATUS)).halt  # the status decides, whatever the body
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


@pytest.mark.parametrize("status", [401, 404])
async def test_a_refused_token_holds_the_channel_instead_of_losing_the_message(api: FakeBotAPI, status: int) -> None:
    """401 or 404 is the bot's token, not the message: kept for later and the channel held (issue 14)."""
    async with Bot(TOKEN, base_url=api.base_url, request=AiohttpRequest()) as bot:
        api.fail_next("sendMessage", status)
        delivery = await TelegramNotifier(bot, TZ).deliver(STATUS)
        assert delivery.outcome is Outcome.RETRY and delivery.halt
        assert (await TelegramNotifier(bot, TZ).deliver(STATUS)).outcome is Outcome.SENT  # the token works again


async def test_a_request_before_initialize_or_after_shutdown_says_so(api: FakeBotAPI) -> None:
    request = AiohttpRequest()
    bot = Bot(TOKEN, base_url=api.base_url, request=request)
    with pytest.raises(NetworkError, match="not initialized"):
        await bot.get_me()
    async with bot:
        assert (await bot.get_me()).id == int(TOKEN.split(":")[0])
    async with bot:  # opened again after a shutdown
        assert (await bot.get_me()).id == int(TOKEN.split(":")[0])


async def test_an_error_never_shows_the_token() -> None:
    async with bot_on("http://[::1/bot", AiohttpRequest()) as bot:  # not a URL
        with pytest.raises(NetworkError) as failed:
            await bot.send_message(42, "x")
    assert "InvalidUrl" in failed.value.message and TOKEN.split(":")[1] not in failed.value.message


async def test_a_proxy_named_by_the_environment_is_used(api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{api.port}")  # the fake answers the proxied request
    monkeypatch.setenv("NO_PROXY", "bypassed.invalid")
    async with bot_on("http://api.telegram.invalid/bot", AiohttpRequest()) as bot:
        assert (await bot.get_me()).id == int(TOKEN.split(":")[0])
    async with bot_on("http://bypassed.invalid/bot", AiohttpRequest(connect_timeout=1)) as bot:
        with pytest.raises(NetworkError) as failed:  # no proxy for it: the name does not resolve
            await bot.get_me()
        assert isinstance(failed.value.__cause__, NEVER_LEFT)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY"])
async def test_a_proxy_without_a_scheme_or_for_all_schemes_is_used(
    api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv(variable, f"127.0.0.1:{api.port}")  # as httpx takes it: http:// understood
    async with bot_on("http://api.telegram.invalid/bot", AiohttpRequest()) as bot:
        assert (await bot.get_me()).id == int(TOKEN.split(":")[0])


async def test_a_proxy_that_refuses_is_sent_again_and_its_password_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # CONNECT api.telegram.invalid:443
        writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    async with raw_server(refuse) as port:
        monkeypatch.setenv("HTTPS_PROXY", f"http://phucvu:s3cretpw@127.0.0.1:{port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        async with bot_on("https://api.telegram.invalid/bot", AiohttpRequest()) as bot:
            with pytest.raises(NetworkError) as failed:
                await bot.send_message(42, "x")
            assert isinstance(failed.value.__cause__, NEVER_LEFT)  # the proxy never opened the way to Telegram
            assert "s3cretpw" not in failed.value.message and "407" in failed.value.message
            delivery = await TelegramNotifier(bot, TZ).deliver(STATUS)
    assert delivery.outcome is Outcome.RETRY and "s3cretpw" not in delivery.error


async def test_a_slow_answer_that_keeps_coming_is_read_to_its_end() -> None:
    body = json.dumps({"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "Phục Vụ", "username": "x"}})
    payload = body.encode()

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(f"Content-Length: {len(payload)}\r\n\r\n".encode())
        for i in range(0, len(payload), 12):  # every part within the read timeout, the whole well beyond the sum
            writer.write(payload[i : i + 12])
            await writer.drain()
            await asyncio.sleep(0.15)

    timeouts = {"read_timeout": 0.4, "write_timeout": 0.1, "connect_timeout": 0.1, "pool_timeout": 0.1}
    async with raw_server(trickle) as port, bot_on(f"http://127.0.0.1:{port}/bot", AiohttpRequest(**timeouts)) as bot:
        started = asyncio.get_running_loop().time()
        assert (await bot.get_me()).first_name == "Phục Vụ"
        assert asyncio.get_running_loop().time() - started > 1.0


async def test_a_proxy_password_reaches_the_proxy_of_a_plain_http_bot_api(monkeypatch: pytest.MonkeyPatch) -> None:
    heard: list[bytes] = []
    me = json.dumps({"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "Phục Vụ", "username": "x"}})

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heard.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(me)}\r\n\r\n".encode())
        writer.write(me.encode())
        await writer.drain()

    async with raw_server(proxy) as port:
        monkeypatch.setenv("HTTP_PROXY", f"http://phucvu:m%E1%BA%ADtkh%E1%BA%A9u@127.0.0.1:{port}")  # mậtkhẩu
        monkeypatch.delenv("NO_PROXY", raising=False)
        async with bot_on("http://api.telegram.invalid/bot", AiohttpRequest()) as bot:
            assert (await bot.get_me()).first_name == "Phục Vụ"
    [head] = heard
    assert head.startswith(b"POST http://api.telegram.invalid/bot")  # to the proxy, in absolute form
    expected = "Basic " + base64.b64encode("phucvu:mậtkhẩu".encode()).decode()  # UTF-8, as httpx sends it
    assert f"Proxy-Authorization: {expected}".encode() in head


@pytest.mark.parametrize("no_proxy", ["localhost, *", "127.0.0.1:{port}"])
async def test_no_proxy_as_httpx_reads_it(api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch, no_proxy: str) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing there: used, it would fail
    monkeypatch.setenv("NO_PROXY", no_proxy.format(port=api.port))
    async with bot_on(api.base_url, AiohttpRequest(connect_timeout=1)) as bot:
        assert (await bot.get_me()).id == int(TOKEN.split(":")[0])


async def test_a_big_body_the_server_never_reads_times_out() -> None:
    stop = asyncio.Event()

    async def never_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await stop.wait()

    timeouts = {"read_timeout": 0.3, "write_timeout": 0.3, "connect_timeout": 0.3, "pool_timeout": 0.3}
    async with (
        raw_server(never_read) as port,
        bot_on(f"http://127.0.0.1:{port}/bot", AiohttpRequest(**timeouts)) as bot,
    ):
        try:
            with pytest.raises(TimedOut):
                await asyncio.wait_for(bot.send_message(42, "x" * 16 * 2**20), 10)
        finally:
            stop.set()
