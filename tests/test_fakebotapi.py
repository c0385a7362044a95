"""The fake Bot API against a bare python-telegram-bot application."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, Message, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakebotapi import (
    BOT_ID,
    BOT_USERNAME,
    TOKEN,
    FakeBotAPI,
    UploadedFile,
    app_builder,
    initialize,
    measure_throughput,
    running,
)

App = Application[Any, Any, Any, Any, Any, Any]


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(update.effective_message.text or "")


def echo_app(api: FakeBotAPI) -> App:
    app = app_builder(api).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    return app


async def test_echo_bot_round_trip(api: FakeBotAPI) -> None:
    async with running(echo_app(api)) as app:
        assert app.bot.username == BOT_USERNAME
        assert app.bot.id == BOT_ID
        api.push_text(101, "Xin chào")
        api.push_text(202, "123")
        api.push_text(101, "Tôi muốn làm căn cước")
        to_101 = await api.wait_sent(101, count=2)
        to_202 = await api.wait_sent(202)

    assert [c.text for c in to_101] == ["Xin chào", "Tôi muốn làm căn cước"]
    assert to_202[0].text == "123"  # free text is never JSON-decoded
    assert to_202[0].chat_id == 202  # ids are
    assert all(c.method == "sendMessage" for c in api.sent())
    # User (1, 2) and bot messages share the chat's message id sequence.
    assert [c.result["message_id"] for c in to_101] == [3, 4]
    assert api.called("getMe")
    assert api.called("deleteWebhook")
    assert api.pending_updates == 0  # the final getUpdates confirmed everything


async def test_converse_returns_only_new_replies(api: FakeBotAPI) -> None:
    async with running(echo_app(api)):
        first = await api.say(7, "một")
        second = await api.say(7, "hai")
        contact = {"message": api.make_message(7, contact={"phone_number": "0912", "first_name": "B"})}
        nothing = await api.converse(contact, expect=0, settle=0.1)
    assert [c.text for c in first] == ["một"]
    assert [c.text for c in second] == ["hai"]
    assert nothing == []


async def test_command_entity_reaches_command_handler(api: FakeBotAPI) -> None:
    seen: list[list[str]] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(list(context.args or []))
        assert update.effective_message is not None
        await update.effective_message.reply_text("Chào mừng!")

    app = app_builder(api).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with running(app):
        update = api.make_text(5, "/start ref_42")
        entity = update["message"]["entities"][0]
        assert entity == {"type": "bot_command", "offset": 0, "length": 6}
        assert [c.text for c in await api.converse(update)] == ["Chào mừng!"]
        assert [c.text for c in await api.say(5, f"/start@{BOT_USERNAME}")] == ["Chào mừng!"]
        assert [c.text for c in await api.say(5, "start")] == ["start"]
    assert seen == [["ref_42"], []]


async def test_callback_query_answered_and_message_edited(api: FakeBotAPI) -> None:
    async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = [[InlineKeyboardButton("Có", callback_data="yes")]]
        await update.effective_message.reply_text("Bạn chắc chứ?", reply_markup=InlineKeyboardMarkup(keyboard))

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        assert isinstance(query.message, Message)  # not an InaccessibleMessage (date 0)
        assert query.message.reply_markup is not None  # the message carries its keyboard
        await query.answer("OK")
        await query.edit_message_text(f"Đã chọn: {query.data}")

    app = app_builder(api).build()
    app.add_handler(CommandHandler("menu", menu))
    app.add_handler(CallbackQueryHandler(pressed))
    async with running(app):
        [shown] = await api.say(9, "/menu")
        assert shown.buttons == [[{"text": "Có", "callback_data": "yes"}]]
        since = api.mark()
        [edited] = await api.click(9, "yes")
        answer = await api.wait_for(lambda c: c.method == "answerCallbackQuery", since=since)

    assert edited.method == "editMessageText"
    assert edited.params["message_id"] == shown.result["message_id"]
    assert edited.text == "Đã chọn: yes"
    assert edited.result["edit_date"] >= shown.result["date"]
    assert "reply_markup" not in edited.result  # editing without markup removes it
    assert answer.params["text"] == "OK"
    assert isinstance(answer.params["callback_query_id"], str)
    assert api.last_bot_message(9) == edited.result


async def test_other_update_kinds_parse(api: FakeBotAPI) -> None:
    async def describe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg = update.effective_message
        assert msg is not None
        if update.edited_message is not None:
            kind = f"edited:{msg.text}"
        elif msg.location is not None:
            kind = f"location:{msg.location.latitude},{msg.location.longitude}"
        elif msg.sticker is not None:
            kind = f"sticker:{msg.sticker.emoji}"
        else:
            kind = "other"
        await context.bot.send_message(msg.chat_id, kind)

    app = app_builder(api).build()
    app.add_handler(MessageHandler(filters.ALL, describe))
    async with running(app):
        assert [c.text for c in await api.converse({"message": api.make_message(3)})] == ["other"]
        api.push_location(3, 21.8537, 106.7615)
        api.push_sticker(3)
        api.push_edited_text(3, "sửa rồi")
        replies = await api.wait_sent(3, count=4)
    assert [c.text for c in replies[1:]] == [
        "location:21.8537,106.7615",
        "sticker:👍",
        "edited:sửa rồi",
    ]


async def test_retry_after(api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without PTB_TIMEDELTA, merely constructing RetryAfter emits a PTBDeprecationWarning.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    api.fail_next("sendMessage", 429, retry_after=1)
    async with echo_app(api) as app:
        with pytest.raises(RetryAfter) as caught:
            await app.bot.send_message(1, "quá nhanh")
        assert caught.value.retry_after == dtm.timedelta(seconds=1)
        message = await app.bot.send_message(1, "lần nữa")
    assert message.text == "lần nữa"
    failed, ok = api.called("sendMessage")
    assert (failed.status, failed.ok, ok.ok) == (429, False, True)
    assert failed.result["parameters"] == {"retry_after": 1}
    assert [c.text for c in api.sent(1)] == ["lần nữa"]  # failed sends are not "sent"


async def test_forbidden_and_block(api: FakeBotAPI) -> None:
    api.fail_next("sendMessage", 403)
    async with echo_app(api) as app:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await app.bot.send_message(2, "a")
        await app.bot.send_message(2, "b")
        api.block(2)
        with pytest.raises(Forbidden):
            await app.bot.send_photo(2, "AgACfileid")
        await app.bot.send_message(3, "others still work")
        api.unblock(2)
        await app.bot.send_message(2, "c")
    assert [c.text for c in api.sent()] == ["b", "others still work", "c"]


async def test_strict_telegram_errors(api: FakeBotAPI) -> None:
    async with echo_app(api) as app:
        msg = await app.bot.send_message(4, "<b>Đậm</b> &amp; thường", parse_mode="HTML")
        assert msg.text == "Đậm & thường"
        # PTB strips the "Bad Request: " prefix and capitalizes the rest.
        with pytest.raises(BadRequest, match=r"^Can't parse entities"):
            await app.bot.send_message(4, "1 < 2", parse_mode="HTML")
        with pytest.raises(BadRequest, match='unsupported start tag "div"'):
            await app.bot.send_message(4, "<div>x</div>", parse_mode="HTML")
        with pytest.raises(BadRequest, match="Message is too long"):
            await app.bot.send_message(4, "a" * 4097)
        with pytest.raises(BadRequest, match="Message is not modified"):
            await app.bot.edit_message_text("Đậm & thường", chat_id=4, message_id=msg.message_id)
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await app.bot.edit_message_text("x", chat_id=4, message_id=999)
        assert await app.bot.delete_message(4, msg.message_id)
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await app.bot.delete_message(4, msg.message_id)


async def test_other_methods_and_multipart(api: FakeBotAPI) -> None:
    from telegram import BotCommand, MenuButtonCommands

    async with echo_app(api) as app:
        bot = app.bot
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Bản đồ", url="https://example.org")]])
        photo = await bot.send_photo(8, b"\x89PNG fake bytes", caption="Ảnh", reply_markup=markup)
        doc = await bot.send_document(8, b"%PDF-1.4", filename="giay_to.pdf")
        loc = await bot.send_location(8, latitude=21.85, longitude=106.76)
        venue = await bot.send_venue(8, 21.85, 106.76, "UBND", "Lạng Sơn")
        await bot.send_chat_action(8, "typing")
        plain = await bot.send_message(8, "bàn phím", reply_markup=markup)
        edited = await bot.edit_message_reply_markup(8, plain.message_id, reply_markup=None)
        reply = await bot.send_message(8, "trả lời", reply_to_message_id=plain.message_id)
        commands = [BotCommand("start", "Bắt đầu"), BotCommand("help", "Trợ giúp")]
        assert await bot.set_my_commands(commands, language_code="vi")
        assert await bot.get_my_commands(language_code="vi") == tuple(commands)
        assert await bot.get_my_commands() == ()
        assert await bot.delete_my_commands(language_code="vi")
        assert await bot.set_chat_menu_button(8, MenuButtonCommands())
        assert await bot.do_api_request("someFutureMethod", {"x": 1}) is True
        contact = await bot.send_contact(8, phone_number="0912345678", first_name="Lan")
        album = await bot.send_media_group(8, [InputMediaPhoto("AgAC1"), InputMediaPhoto(b"png")])

    assert photo.caption == "Ảnh"
    assert photo.photo[-1].file_size == len(b"\x89PNG fake bytes")
    assert photo.reply_markup == markup
    assert doc.document is not None
    assert doc.document.file_name == "giay_to.pdf"
    assert loc.location is not None
    assert loc.location.latitude == 21.85
    assert venue.venue is not None
    assert venue.venue.address == "Lạng Sơn"
    assert edited is not True
    assert edited.reply_markup is None
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.text == "bàn phím"
    [photo_call] = api.called("sendPhoto")
    upload = photo_call.params["photo"]
    assert isinstance(upload, UploadedFile)
    assert upload.data == b"\x89PNG fake bytes"
    assert photo_call.params["reply_markup"] == markup.to_dict()  # decoded from JSON
    assert photo_call.params["chat_id"] == 8
    assert api.called("setChatMenuButton")[0].params["menu_button"] == {"type": "commands"}
    assert api.called("someFutureMethod")[0].params == {"x": 1}
    assert [c.method for c in api.unhandled()] == ["someFutureMethod", "sendContact"]
    assert contact.contact is not None
    assert contact.contact.first_name == "Lan"
    assert [len(m.photo) for m in album] == [1, 1]
    upload = api.called("sendMediaGroup")[0].params
    attached = upload["media"][1]["media"]
    assert attached.startswith("attach://")
    assert isinstance(upload[attached.removeprefix("attach://")], UploadedFile)
    # sendChatAction is recorded but is not a message.
    assert len(api.called("sendChatAction")) == 1
    assert "sendChatAction" not in [c.method for c in api.sent(8)]
    assert [m["message_id"] for m in api.messages(8)] == list(range(1, 10))


async def test_get_updates_long_polling(api: FakeBotAPI) -> None:
    url = f"{api.base_url}{TOKEN}/getUpdates"
    async with aiohttp.ClientSession() as http:

        async def get_updates(**params: Any) -> list[dict[str, Any]]:
            async with http.post(url, json=params) as resp:
                body = await resp.json()
            assert body["ok"] is True
            result: list[dict[str, Any]] = body["result"]
            return result

        started = time.monotonic()
        assert await get_updates(timeout=0) == []
        assert await get_updates(timeout=0.3) == []
        assert 0.25 <= time.monotonic() - started < 2

        waiting = asyncio.create_task(get_updates(timeout=5))
        await asyncio.sleep(0.05)
        pushed = api.push_text(1, "đến rồi")
        started = time.monotonic()
        assert await waiting == [pushed]
        assert time.monotonic() - started < 1

        for i in range(3):
            api.push_text(1, str(i))
        ids = [u["update_id"] for u in await get_updates(offset=pushed["update_id"], limit=2)]
        assert ids == [pushed["update_id"], pushed["update_id"] + 1]
        rest = await get_updates(offset=ids[-1] + 1)
        assert [u["message"]["text"] for u in rest] == ["1", "2"]
        assert await get_updates(offset=rest[-1]["update_id"] + 1) == []
        assert api.pending_updates == 0

        async with http.get(f"{api.base_url}{TOKEN}/getMe") as resp:
            assert (await resp.json())["result"]["username"] == BOT_USERNAME


async def test_wait_timeout_lists_calls(api: FakeBotAPI) -> None:
    async with echo_app(api) as app:
        await app.bot.send_message(1, "chỉ một")
        with pytest.raises(AssertionError, match=r"2 message\(s\) to chat 1[\s\S]*chỉ một"):
            await api.wait_sent(1, count=2, timeout=0.1)


async def test_measure_throughput(api: FakeBotAPI) -> None:
    rate = await measure_throughput(api, echo_app(api), 300, lambda i: f"số {i}")
    assert rate > 20
    assert len(api.called("sendMessage")) == 300


async def test_fail_next_count_wildcard_and_double_answer(api: FakeBotAPI) -> None:
    api.fail_next("*", 502, count=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await initialize(echo_app(api))  # getMe fails
    async with echo_app(api) as app:
        await app.bot.send_message(1, "ok")
        query = api.make_callback(1, "x")["callback_query"]
        assert await app.bot.answer_callback_query(query["id"])
        with pytest.raises(BadRequest, match="Query is too old"):
            await app.bot.answer_callback_query(query["id"])
    assert [c.status for c in api.called("getMe")] == [502, 502, 200]
