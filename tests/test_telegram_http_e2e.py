"""End to end: PTB's calls as JSON bodies (bot.telegram_http.JsonRequest), with PTB's errors for every failure."""

from datetime import timedelta

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, RetryAfter

from bot.telegram_http import JsonRequest
from tests.fakebotapi import TOKEN, FakeBotAPI

TEXT = "Hồ sơ 000.00.37.H37-250804-0012 — «Đã tiếp nhận» & <b>đúng hạn</b>"


async def test_text_markup_and_errors_as_telegram_has_them(api: FakeBotAPI) -> None:
    async with Bot(TOKEN, base_url=api.base_url, request=JsonRequest()) as bot:
        sent = await bot.send_message(
            42, TEXT, reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("⭐ Theo dõi", callback_data="d:f:X")]])
        )
        assert sent.text == TEXT
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


async def test_failed_connect_keeps_its_httpx_cause() -> None:
    bot = Bot(TOKEN, base_url="http://127.0.0.1:9/bot", request=JsonRequest(connect_timeout=1))
    await bot.request.initialize()
    try:
        with pytest.raises(NetworkError) as failed:
            await bot.send_message(42, "x")
        assert isinstance(failed.value.__cause__, httpx.ConnectError)  # the outbox sends it again (never left)
    finally:
        await bot.request.shutdown()
