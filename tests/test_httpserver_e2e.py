"""The bot's HTTP server under what the open internet sends (issue 14): idle and half-sent connections are closed,
connections over the cap get a 503 at once, a slow body gets a 408, the flood is logged once, and the chat side
keeps answering whatever the HTTP side suffers. Bad bodies and headers: tests/test_ingest_e2e.py."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest

from bot.app import App, build_application
from bot.config import Secret, Settings
from bot.httpserver import Limits
from tests.conftest import bot_settings
from tests.fakebotapi import FakeBotAPI, running
from tests.test_ingest_e2e import NOW, TOKEN, free_port

LIMITS = Limits(max_connections=20, read_timeout=0.5, body_timeout=0.5, log_every=60.0)
USER = 5150


@pytest.fixture
async def served(settings: Settings, api: FakeBotAPI) -> AsyncIterator[tuple[App, int]]:
    port = free_port()
    configured = replace(bot_settings(settings, api), ingest_token=Secret(TOKEN), http_port=port, http_host="127.0.0.1")
    app = build_application(configured, clock=lambda: NOW, outbox_interval=60, http_limits=LIMITS)
    async with running(app) as app:
        yield app, port


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


async def half_sent(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection that sends the start of a request's headers and then nothing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /api/v1/dossiers HTTP/1.1\r\nHost: bot\r\nX-Slow: ")
    await writer.drain()
    return reader, writer


async def health(port: int) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/healthz") as response:
        return response.status


async def test_a_flood_of_slow_connections_is_shed_closed_and_logged_once(
    served: tuple[App, int], api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    _, port = served
    before = open_files()
    with caplog.at_level(logging.WARNING, logger="bot.httpserver"):
        flood = [await half_sent(port) for _ in range(60)]  # three times the cap
        answers = await asyncio.gather(*(reader.read(200) for reader, _ in flood))  # each ends, one way or another
        shed = [answer for answer in answers if answer.startswith(b"HTTP/1.1 503")]
        assert len(shed) >= 40 - 1  # over the cap: a 503 at once (one slot may have freed meanwhile)
        assert all(answer in (b"",) or answer.startswith(b"HTTP/1.1 503") for answer in answers)  # slow: closed
        [reply] = await api.say(USER, "/start")  # the chat side answered throughout
        assert reply.text
        for _, writer in flood:
            writer.close()
            await writer.wait_closed()
    assert await health(port) == 200
    reports = [record for record in caplog.records if record.name == "bot.httpserver"]
    assert len(reports) == 1 and "refused with 503" in reports[0].getMessage()  # once, however many
    await asyncio.sleep(0.1)
    assert open_files() <= before + 5  # nothing held after the flood


async def test_an_idle_connection_is_closed_after_the_read_timeout(served: tuple[App, int]) -> None:
    _, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        async with asyncio.timeout(5):
            assert await reader.read(100) == b""  # closed by the server, not by us
    finally:
        writer.close()
        await writer.wait_closed()


async def test_a_connection_answered_once_then_idle_is_closed_too(served: tuple[App, int]) -> None:
    _, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n")
        async with asyncio.timeout(5):
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            writer.write(b"GET /healthz HTTP/1.1\r\nHo")  # a second request that never ends
            rest = await reader.read()  # the answer's body, then the end: the server closed it
        assert rest.endswith(b"}")
    finally:
        writer.close()
        await writer.wait_closed()


async def test_a_body_that_trickles_gets_a_408_and_writes_nothing(served: tuple[App, int]) -> None:
    app, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"POST /api/v1/dossiers HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {TOKEN}\r\nContent-Length: 1000\r\n\r\n[".encode()
        )
        async with asyncio.timeout(5):
            head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408")
    finally:
        writer.close()
        await writer.wait_closed()
    assert await app.bot_data.services.dossiers.count() == 0
