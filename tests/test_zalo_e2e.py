"""End to end: the Zalo channel against a fake Zalo Bot API — numbered menus, lookups, following, the centre
finder, language, invites, the outbox on Zalo, the webhook over real HTTP, and Telegram and Zalo in one process."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.app import App, build_application, open_services, started
from bot.config import Secret, Settings
from bot.outbox import Outcome
from bot.people import Person
from bot.reports import State
from bot.roles import Role
from handlers.zalo import ZaloTokenRefused
from tests.conftest import bot_settings
from tests.factories import CODE, KEY, dossier_row
from tests.fakebotapi import FakeBotAPI, running
from tests.fakezaloapi import TOKEN, FakeZaloAPI
from tests.test_ingest_e2e import free_port

NOW = datetime(2025, 8, 5, 3, 0, tzinfo=UTC)  # 10:00 in Lạng Sơn
CITIZEN = "6ede9a1b2c3d4e5f"  # Zalo ids are strings
OTHER = "0a0b0c0d0e0f1a1b"
COMMUNE = "06385"  # Xã Hữu Lũng


def zalo_settings(settings: Settings, zalo: FakeZaloAPI) -> Settings:
    return replace(settings, zalo_token=Secret(TOKEN), zalo_api_base_url=zalo.base_url)


@pytest.fixture
async def zalo() -> AsyncIterator[FakeZaloAPI]:
    async with FakeZaloAPI() as fake:
        yield fake


@pytest.fixture
async def zalo_bot(settings: Settings, zalo: FakeZaloAPI) -> AsyncIterator[App]:
    """Only Zalo configured: the application serves it by long polling."""
    app = build_application(zalo_settings(settings, zalo), telegram=False, clock=lambda: NOW, outbox_interval=0.2)
    async with started(app):
        await app.bot_data.services.dossiers.apply([dossier_row(status=4)], "import:test.csv", NOW)
        yield app


async def test_menu_by_number_and_by_word(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    [menu] = await zalo.say(CITIZEN, "menu")
    text = menu.text
    assert text.startswith("Xin chào! Mình là Phục Vụ")
    assert "1. Tra cứu hồ sơ" in text and "3. Tìm trung tâm phục vụ hành chính công" in text
    [asked] = await zalo.say(CITIZEN, "1")
    assert asked.text.startswith("Nhắn mã hồ sơ in trên Giấy tiếp nhận")
    [again] = await zalo.say(CITIZEN, "0")
    assert again.text == text
    [centre] = await zalo.say(CITIZEN, "Trung tâm")  # the word reaches the same place as the number
    assert centre.text.startswith("Nhắn tên xã, phường")


async def test_a_number_out_of_context_and_other_kinds_of_message(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    [out] = await zalo.say(CITIZEN, "7")
    assert out.text == "Số 7 không có trong danh sách. Nhắn 0 để xem menu."
    since = zalo.mark()
    zalo.push_sticker(CITIZEN)
    zalo.push_image(CITIZEN, "https://photo.zalo.example/a.jpg")
    zalo.push_unsupported(CITIZEN)
    sticker, image, unsupported = await zalo.wait_sent(CITIZEN, 3, since=since)
    assert "Nhắn 0" in sticker.text
    assert image.text.startswith("Mình chưa đọc được ảnh")
    assert unsupported.text.startswith("Mình chưa đọc được tin nhắn này")


async def test_lookup_follow_and_the_status_change_on_zalo(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    [found] = await zalo.say(CITIZEN, f"cho tôi hỏi hồ sơ {CODE.lower()} ạ")
    assert f"📄 Hồ sơ {CODE}" in found.text and "Trạng thái: Đang xử lý" in found.text
    assert found.text.endswith("Nhắn 1 để theo dõi và được báo khi hồ sơ thay đổi.")
    [followed] = await zalo.say(CITIZEN, "1")
    assert followed.text.startswith("⭐ Đã theo dõi")
    [listed] = await zalo.say(CITIZEN, "theo dõi")
    assert f"• {CODE} — Đang xử lý" in listed.text and f"1. Bỏ theo dõi {CODE}" in listed.text
    services = zalo_bot.bot_data.services
    since = zalo.mark()
    await services.dossiers.apply([dossier_row(status=9)], "ingest", NOW + timedelta(hours=1))
    [note] = await zalo.wait_sent(CITIZEN, since=since)
    assert note.text.startswith(f"🔔 Hồ sơ {CODE} chuyển sang: Đã xử lý xong.")
    [stopped] = await zalo.say(CITIZEN, "1")  # the number in the list shown last: stop following
    assert stopped.text == "🔕 Đã bỏ theo dõi."
    [unknown] = await zalo.say(CITIZEN, "000.00.37.H37-250804-9999")
    assert unknown.text.startswith("Không tìm thấy hồ sơ 000.00.37.H37-250804-9999.")


async def test_the_numbered_menu_survives_a_restart(settings: Settings, zalo: FakeZaloAPI) -> None:
    app = build_application(zalo_settings(settings, zalo), telegram=False, clock=lambda: NOW)
    async with started(app):
        [choices] = await zalo.say(CITIZEN, "Tân")
        assert "Nhắn số để chọn" in choices.text and "1. " in choices.text
        first = choices.text.split("1. ", 1)[1].splitlines()[0]
    app = build_application(zalo_settings(settings, zalo), telegram=False, clock=lambda: NOW)
    async with started(app):
        [card] = await zalo.say(CITIZEN, "1")
    assert card.text.startswith("🏢 Trung tâm phục vụ hành chính công")
    assert first.split(" (")[0] in card.text.splitlines()[0] or "nay thuộc" in card.text


async def test_centre_by_old_address_with_a_map_link(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    [card] = await zalo.say(CITIZEN, "xã Đồng Tân, huyện Hữu Lũng")
    assert card.text.startswith("🏢 Trung tâm phục vụ hành chính công")
    assert "ℹ️ Xã Đồng Tân (Huyện Hữu Lũng cũ) nay thuộc Xã Hữu Lũng." in card.text
    assert "🗺️ Bản đồ: https://www.google.com/maps/search/?api=1&query=" in card.text


async def test_language_switch_by_word_and_number(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    [english] = await zalo.say(CITIZEN, "English")
    assert english.text.startswith("Switched to English.") and "1. Look up a dossier" in english.text
    [vietnamese] = await zalo.say(CITIZEN, "5")
    assert vietnamese.text.startswith("Đã chuyển sang Tiếng Việt.")
    [other] = await zalo.say(OTHER, "menu")
    assert other.text.startswith("Xin chào!")


async def test_an_official_redeems_an_invite_by_typing_it(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    services = zalo_bot.bot_data.services
    invite = await services.roles.invite(Role.OFFICIAL, COMMUNE, "admin", NOW)
    [granted] = await zalo.say(CITIZEN, invite.code)
    assert granted.text.startswith("Bạn đã nhận vai trò cán bộ Xã Hữu Lũng. Chào mừng!")
    [again] = await zalo.say(OTHER, invite.code)
    assert again.text.startswith("Mã mời này đã được dùng.")


async def test_429_and_5xx_are_waited_out_for_a_reply(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    zalo.fail_next("sendMessage", 429, retry_after=0)
    zalo.fail_next("sendMessage", 502)
    [menu] = await zalo.say(CITIZEN, "menu")
    assert menu.text.startswith("Xin chào!")
    assert [c.status for c in zalo.calls if c.method == "sendMessage"][-3:] == [429, 502, 200]


async def test_polling_goes_on_after_the_api_fails(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    zalo.fail_next("getUpdates", 502)
    [menu] = await zalo.say(CITIZEN, "menu")
    assert menu.text.startswith("Xin chào!")


async def test_a_long_answer_is_split_at_2000_characters(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    sent = await zalo_bot.bot_data.zalo.client.send_text(CITIZEN, ("Một câu về hồ sơ. " * 300).strip())  # type: ignore[union-attr]
    parts = zalo.sent(CITIZEN)
    assert sent == len(parts) == 3
    assert all(len(p.text) <= 2000 and p.text.endswith(".") for p in parts)


WEBHOOK = "https://phucvu.example.vn/zalo/hook"
SECRET = "a-webhook-secret-1234"


async def test_webhook_checks_the_secret_and_takes_both_body_shapes(settings: Settings, zalo: FakeZaloAPI) -> None:
    port = free_port()
    configured = replace(
        zalo_settings(settings, zalo),
        zalo_webhook_url=WEBHOOK,
        zalo_webhook_secret=Secret(SECRET),
        http_port=port,
        http_host="127.0.0.1",
        ingest_token=Secret("x" * 32),
    )
    app = build_application(configured, telegram=False, clock=lambda: NOW)
    async with started(app), httpx.AsyncClient() as client:
        for _ in range(100):  # registered in the background (tried again while Zalo is down)
            if zalo.webhook:
                break
            await asyncio.sleep(0.02)
        assert zalo.webhook == {"url": WEBHOOK, "secret_token": SECRET}
        url = f"http://127.0.0.1:{port}/zalo/hook"
        update = zalo.update(CITIZEN, "message.text.received", text="menu")
        wrong = await client.post(url, json=update, headers={"X-Bot-Api-Secret-Token": "not-the-secret"})
        missing = await client.post(url, json=update)
        assert (wrong.status_code, missing.status_code) == (403, 403)
        assert zalo.sent(CITIZEN) == []
        plain = await client.post(url, json=update, headers={"X-Bot-Api-Secret-Token": SECRET})
        repeated = await client.post(
            url, json={"ok": True, "result": update}, headers={"X-Bot-Api-Secret-Token": SECRET}
        )
        assert (plain.status_code, repeated.status_code) == (200, 200)
        assert [c.text.startswith("Xin chào!") for c in zalo.sent(CITIZEN)] == [True]  # the same message, once
        other = zalo.update(CITIZEN, "message.text.received", text="0")
        wrapped = await client.post(url, json={"ok": True, "result": other}, headers={"X-Bot-Api-Secret-Token": SECRET})
        assert wrapped.status_code == 200 and len(zalo.sent(CITIZEN)) == 2
        for junk in ([1, 2], "text", {"message": "x"}, {"result": None}):
            answered = await client.post(url, json=junk, headers={"X-Bot-Api-Secret-Token": SECRET})
            assert answered.status_code == 200  # nothing to answer, and nothing breaks
        broken = await client.post(url, content=b"{not json", headers={"X-Bot-Api-Secret-Token": SECRET})
        assert broken.status_code == 400 and len(zalo.sent(CITIZEN)) == 2
        assert not [c for c in zalo.calls if c.method == "getUpdates"]  # no polling beside a webhook


async def test_telegram_and_zalo_in_one_process(settings: Settings, zalo: FakeZaloAPI, api: FakeBotAPI) -> None:
    both = zalo_settings(bot_settings(settings, api), zalo)
    async with running(build_application(both, clock=lambda: NOW, outbox_interval=0.2)) as app:
        services = app.bot_data.services
        await services.dossiers.apply([dossier_row(status=4)], "import:test.csv", NOW)
        await api.say(42, f"/hoso {CODE}")
        await api.click(42, f"ds:f:{KEY}", expect=0)
        await zalo.say(CITIZEN, CODE)
        await zalo.say(CITIZEN, "1")
        since_t, since_z = api.mark(), zalo.mark()
        await services.dossiers.apply([dossier_row(status=9)], "ingest", NOW + timedelta(hours=1))
        [on_zalo] = await zalo.wait_sent(CITIZEN, since=since_z)
        [on_telegram] = await api.wait_sent(42, since=since_t)
        assert on_zalo.text == on_telegram.text
        counted = await services.db.fetchone("SELECT COUNT(*) FROM people WHERE channel = 'zalo'")
        assert counted is not None and counted[0] == 1


LEADER = "leader-on-zalo-01"
PHOTOS = ("https://photo.zalo.example/mat-dien-1.jpg", "https://photo.zalo.example/mat-dien-2.jpg")


async def grant(app: App, zalo: FakeZaloAPI, user: str, role: Role) -> None:
    services = app.bot_data.services
    invite = await services.roles.invite(role, COMMUNE if role is Role.OFFICIAL else None, "admin", NOW)
    [granted] = await zalo.say(user, invite.code)
    assert granted.text.startswith("Bạn đã nhận vai trò")


async def test_an_official_files_a_report_with_photo_urls_across_a_restart(
    settings: Settings, zalo: FakeZaloAPI
) -> None:
    configured = zalo_settings(settings, zalo)
    app = build_application(configured, telegram=False, clock=lambda: NOW, outbox_interval=0.2)
    async with started(app):
        await grant(app, zalo, LEADER, Role.LEADER)
        await grant(app, zalo, CITIZEN, Role.OFFICIAL)
        [menu] = await zalo.say(CITIZEN, "0")
        assert "1. Báo cáo khó khăn" in menu.text and "2. Báo cáo của xã" in menu.text
        [kinds] = await zalo.say(CITIZEN, "1")
        assert "3. Điện, nước, nhà vệ sinh" in kinds.text and "Nhắn «hủy» để thôi." in kinds.text
        [severity] = await zalo.say(CITIZEN, "3")
        assert "1. Dừng phục vụ người dân" in severity.text
        [describe] = await zalo.say(CITIZEN, "1")
        assert describe.text.startswith("Mô tả vấn đề")
        [photos] = await zalo.say(CITIZEN, "Mất điện toàn bộ trung tâm từ sáng.")
        assert photos.text.startswith("Gửi tối đa 5 ảnh")
        since = zalo.mark()
        zalo.push_image(CITIZEN, PHOTOS[0])
        [first] = await zalo.wait_sent(CITIZEN, since=since)
        assert first.text.startswith("Đã nhận 1/5 ảnh.")
    app = build_application(configured, telegram=False, clock=lambda: NOW, outbox_interval=0.2)
    async with started(app):  # the draft was saved at every step
        since = zalo.mark()
        zalo.push_image(CITIZEN, PHOTOS[1], caption="cầu dao")
        [second] = await zalo.wait_sent(CITIZEN, since=since)
        assert second.text.startswith("Đã nhận 2/5 ảnh.")
        [where] = await zalo.say(CITIZEN, "xong")
        assert where.text.startswith("Nhắn tọa độ")
        [check] = await zalo.say(CITIZEN, "21,8537; 106,7615")
        assert "Ảnh: 2" in check.text and "Vị trí: 21.85370, 106.76150" in check.text
        since = zalo.mark()
        [sent] = await zalo.say(CITIZEN, "gửi")
        assert sent.text.startswith("Đã gửi báo cáo BC-000001.")
        [alert] = await zalo.wait_sent(LEADER, since=since)
        assert alert.text.startswith("🚨 BC-000001 — Xã Hữu Lũng: dừng phục vụ người dân")
        services = app.bot_data.services
        assert [await services.reports.photo_ref(1, n) for n in (1, 2)] == list(PHOTOS)  # the URLs are kept
        leader = Person("zalo", LEADER)
        since = zalo.mark()
        await services.reports.move(leader, 1, State.FIXED, "Đã thay cầu dao.", NOW)
        await services.outbox.drain(app.bot_data.zalo.notifier)  # type: ignore[union-attr]
        [moved] = await zalo.wait_sent(CITIZEN, since=since)
        assert moved.text == "📋 Báo cáo BC-000001 chuyển sang: đã khắc phục.\nGhi chú: Đã thay cầu dao."
        [listed] = await zalo.say(CITIZEN, "báo cáo của xã")
        assert "BC-000001 · Xã Hữu Lũng" in listed.text and "1. ↩️ BC-000001 chưa khắc phục" in listed.text
        [asked] = await zalo.say(CITIZEN, "1")
        assert asked.text.startswith("Gửi một ảnh cho thấy BC-000001 chưa được khắc phục")
        since = zalo.mark()
        zalo.push_image(CITIZEN, "https://photo.zalo.example/van-mat-dien.jpg", caption="Vẫn mất điện chiều nay.")
        [reopened] = await zalo.wait_sent(CITIZEN, since=since)
        assert reopened.text.startswith("Đã mở lại BC-000001.")


async def test_a_citizen_cannot_report_and_hủy_stops_a_report(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    [refused] = await zalo.say(CITIZEN, "báo cáo")
    assert refused.text.startswith("Báo cáo khó khăn do cán bộ xã, phường gửi")
    await grant(zalo_bot, zalo, OTHER, Role.OFFICIAL)
    await zalo.say(OTHER, "/baocao")
    [again] = await zalo.say(OTHER, "9")  # not a kind: the question again
    assert again.text.startswith("Báo cáo khó khăn của trung tâm.")
    [stopped] = await zalo.say(OTHER, "Hủy")
    assert stopped.text == "Đã hủy báo cáo đang viết."
    [menu] = await zalo.say(OTHER, "0")
    assert menu.text.startswith("Xin chào!")


async def test_a_leader_on_zalo_gets_the_digest_with_its_chart_by_url(settings: Settings, zalo: FakeZaloAPI) -> None:
    port = free_port()
    configured = replace(
        zalo_settings(settings, zalo),
        http_port=port,
        http_host="127.0.0.1",
        ingest_token=Secret("k" * 32),
        public_url=f"http://127.0.0.1:{port}",
    )
    app = build_application(configured, telegram=False, clock=lambda: NOW, outbox_interval=0.2)
    async with started(app), httpx.AsyncClient() as client:
        await grant(app, zalo, LEADER, Role.LEADER)
        since = zalo.mark()
        await app.bot_data.services.digest.queue_due(NOW)
        text, chart = await zalo.wait_sent(LEADER, 2, since=since, timeout=15)
        assert text.text.startswith("📊 TÓM TẮT NGÀY") and chart.method == "sendPhoto"
        url = str(chart.params["photo"])
        assert url.startswith(f"http://127.0.0.1:{port}/media/charts/daily/2025-08-05/vi/")
        image = await client.get(url)
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert image.content.startswith(b"\x89PNG")
        forged = await client.get(url[:-4] + "0000")
        assert forged.status_code == 404


async def test_without_a_public_address_the_digest_is_its_text(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    [refused] = await zalo.say(CITIZEN, "tóm tắt")
    assert refused.text.startswith("Tóm tắt dành cho lãnh đạo tỉnh.")
    await grant(zalo_bot, zalo, LEADER, Role.LEADER)
    [menu] = await zalo.say(LEADER, "0")
    assert "1. Tóm tắt hôm nay" in menu.text
    [now] = await zalo.say(LEADER, "1")
    assert now.text.startswith("📊 TÓM TẮT NGÀY")
    since = zalo.mark()
    await zalo_bot.bot_data.services.digest.queue_due(NOW)
    [text] = await zalo.wait_sent(LEADER, since=since, timeout=15)
    assert text.text.startswith("📊 TÓM TẮT NGÀY")
    assert [c.method for c in zalo.calls[since:] if c.method == "sendPhoto"] == []


async def test_a_person_who_blocked_the_bot_is_held_until_they_write(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    services = zalo_bot.bot_data.services
    await zalo.say(CITIZEN, CODE)
    await zalo.say(CITIZEN, "1")  # follows
    zalo.fail_next("sendMessage", 403)
    await services.dossiers.apply([dossier_row(status=5)], "ingest", NOW + timedelta(hours=1))
    await until_unreachable(services, True)
    since = zalo.mark()
    await services.dossiers.apply([dossier_row(status=9)], "ingest", NOW + timedelta(hours=2))
    await asyncio.sleep(0.5)
    assert zalo.sent(CITIZEN, since=since) == []  # held while they block the bot
    zalo.push_text(CITIZEN, "0")  # they write again: reachable, and what was held goes out
    texts = [c.text for c in await zalo.wait_sent(CITIZEN, 2, since=since)]
    greeting = [text for text in texts if text.startswith("Xin chào!")]
    held = [text for text in texts if text.startswith(f"🔔 Hồ sơ {CODE} chuyển sang: Đã xử lý xong.")]
    assert len(greeting) == len(held) == 1  # in either order: the reply and the outbox run side by side
    await until_unreachable(services, False)


async def until_unreachable(services: object, marked: bool) -> None:
    db = services.db  # type: ignore[attr-defined]
    for _ in range(100):
        row = await db.fetchone(
            "SELECT unreachable_at FROM people WHERE channel = 'zalo' AND external_id = ?", (CITIZEN,)
        )
        if row is not None and (row[0] is not None) == marked:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"unreachable should be {marked}")


# --- regressions from the review of the Zalo channel -------------------------------------------------------------


async def test_an_update_with_a_date_out_of_range_does_not_stop_polling(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    bad = zalo.update(CITIZEN, "message.text.received", text="menu")
    bad["message"]["date"] = 10**20
    zalo.push(bad)
    [answer] = await zalo.wait_sent(CITIZEN)
    assert answer.text.startswith("Xin chào!")  # read without its date
    [later] = await zalo.say(OTHER, "menu")
    assert later.text.startswith("Xin chào!")


async def test_an_old_menu_number_does_not_act_on_the_next_answer(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    await zalo.say(CITIZEN, CODE)  # "1" would follow it …
    await zalo.say(CITIZEN, "000.00.37.H37-250804-9999")  # … but this answer is about another code
    [one] = await zalo.say(CITIZEN, "1")
    assert one.text == "Số 1 không có trong danh sách. Nhắn 0 để xem menu."
    assert await zalo_bot.bot_data.services.db.fetchall("SELECT * FROM follows") == []
    await zalo.say(CITIZEN, "menu")
    await zalo.say(CITIZEN, "9")  # a number not in the menu keeps the menu
    [asked] = await zalo.say(CITIZEN, "1")
    assert asked.text.startswith("Nhắn mã hồ sơ")


async def test_during_a_report_the_menu_and_a_sticker_ask_the_step_again(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    await grant(zalo_bot, zalo, OTHER, Role.OFFICIAL)
    await zalo.say(OTHER, "báo cáo")
    since = zalo.mark()
    zalo.push_sticker(OTHER)
    note, question = await zalo.wait_sent(OTHER, 2, since=since)
    assert note.text.startswith("Bạn đang viết một báo cáo") and question.text.startswith("Báo cáo khó khăn của")
    note, question = await zalo.say(OTHER, "0", expect=2)
    assert "nhắn «hủy» để thôi" in note.text and "1. Thiếu phòng làm việc" in question.text
    [stopped] = await zalo.say(OTHER, "hủy")
    assert stopped.text == "Đã hủy báo cáo đang viết."


async def test_an_invite_typed_as_start_code_or_capitalised(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    roles = zalo_bot.bot_data.services.roles
    first = await roles.invite(Role.OFFICIAL, COMMUNE, "admin", NOW)
    [granted] = await zalo.say(CITIZEN, f"/start {first.code}")
    assert granted.text.startswith("Bạn đã nhận vai trò cán bộ Xã Hữu Lũng.")
    second = await roles.invite(Role.LEADER, None, "admin", NOW)
    typed = second.code[0].swapcase() + second.code[1:] if second.code[0].isalpha() else second.code
    [leader] = await zalo.say(OTHER, typed + ".")
    assert leader.text.startswith("Bạn đã nhận vai trò lãnh đạo tỉnh.")
    [wrong] = await zalo.say("someone-else", "Zz" + second.code[2:])
    assert wrong.text.startswith("Mã mời không đúng. Hãy nhắn lại đúng từng ký tự")
    [number] = await zalo.say("someone-else", "1234567890123456789")  # a long number is no invite
    assert not number.text.startswith("Mã mời")


async def test_a_refused_token_keeps_notifications_and_stops_a_start(
    zalo_bot: App, zalo: FakeZaloAPI, settings: Settings
) -> None:
    await zalo.say(CITIZEN, CODE)
    await zalo.say(CITIZEN, "1")
    zalo.fail_next("sendMessage", 401)
    services = zalo_bot.bot_data.services
    await services.dossiers.apply([dossier_row(status=9)], "ingest", NOW + timedelta(hours=1))
    for _ in range(100):
        row = await services.db.fetchone("SELECT failed_at, last_error FROM outbox")
        if row is not None and row["last_error"]:
            break
        await asyncio.sleep(0.05)
    assert row is not None and row["failed_at"] is None and row["last_error"].startswith("401")  # kept, for later
    bad = replace(zalo_settings(settings, zalo), zalo_token=Secret("999:wrong"))
    with pytest.raises(ZaloTokenRefused, match="ZALO_BOT_TOKEN"):
        async with started(build_application(bad, telegram=False, clock=lambda: NOW)):
            pass


async def test_stopping_finishes_the_update_being_answered(settings: Settings, zalo: FakeZaloAPI) -> None:
    app = build_application(zalo_settings(settings, zalo), telegram=False, clock=lambda: NOW)
    async with started(app):
        zalo.fail_next("sendMessage", 502)  # the reply waits a second before its second try
        zalo.push_text(CITIZEN, "menu")
        for _ in range(100):
            if any(c.method == "sendMessage" for c in zalo.calls):
                break
            await asyncio.sleep(0.02)
    assert [c.status for c in zalo.calls if c.method == "sendMessage"] == [502, 200]  # answered before the stop


async def test_a_text_partly_sent_is_not_sent_again(zalo_bot: App, zalo: FakeZaloAPI, settings: Settings) -> None:
    from bot.outbox import OutgoingMessage
    from bot.zalo import ZaloClient
    from handlers.zalo import ZaloNotifier

    async def no_pause(_: float) -> None:
        return None

    client = ZaloClient(TOKEN, zalo.base_url, sleep=no_pause)
    text = "Dòng một của tóm tắt.\n" * 150  # about 3,300 characters: two parts
    message = OutgoingMessage(1, Person("zalo", OTHER), "vi", "digest_text", {"text": text, "language": "vi"})
    send = zalo._send_message

    def first_then_failing(params: dict[str, object]) -> dict[str, object]:
        zalo.fail_next("sendMessage", 502, count=4)  # the second part fails, and its three retries
        zalo._send_message = send  # type: ignore[method-assign]
        return send(params)

    zalo._send_message = first_then_failing  # type: ignore[method-assign]
    delivery = await ZaloNotifier(client, settings).deliver(message)
    await client.close()
    assert delivery.outcome is Outcome.UNCERTAIN and "1 of 2 parts sent" in delivery.error
    statuses = [c.status for c in zalo.calls if c.method == "sendMessage" and c.chat_id == OTHER]
    assert statuses == [200, 502, 502, 502, 502]


async def test_odd_error_envelopes_are_read_without_failing(settings: Settings) -> None:
    from bot.zalo import ZaloClient, ZaloError

    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, json={"ok": False}),
            httpx.Response(200, json={"ok": False, "error_code": "QUOTA", "parameters": {"retry_after": "soon"}}),
            httpx.Response(502, content=b"<html>bad gateway</html>"),
        ]
    )
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: next(answers)))
    client = ZaloClient("t", "http://zalo.invalid/bot", http=http)
    seen = []
    for _ in range(3):
        with pytest.raises(ZaloError) as failed:
            await client.call("sendMessage", {"chat_id": "x", "text": "y"})
        seen.append((failed.value.status, failed.value.retry_after))
    await http.aclose()
    assert seen == [(429, None), (500, None), (502, None)]


# --- regressions from the second review ---------------------------------------------------------------------------


async def test_a_revoked_official_is_answered_as_anyone(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    await grant(zalo_bot, zalo, OTHER, Role.OFFICIAL)
    await zalo.say(OTHER, "báo cáo")
    services = zalo_bot.bot_data.services
    person_id = await services.people.repo.id_of("zalo", OTHER)
    assert person_id is not None
    await services.roles.revoke(person_id, "admin", NOW)  # an admin takes the role back
    answers = await zalo.say(OTHER, CODE, expect=2)  # the lookup, and (from the outbox) that the role ended
    assert any(f"📄 Hồ sơ {CODE}" in answer.text for answer in answers)


async def test_english_words_reach_the_same_places(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    await zalo.say(CITIZEN, "English")
    [following] = await zalo.say(CITIZEN, "follow")
    assert following.text.startswith("You are not following any dossier.")
    [search] = await zalo.say(CITIZEN, "search")
    assert search.text.startswith("Send the name of a commune or ward")
    [lookup] = await zalo.say(CITIZEN, "look up")
    assert lookup.text.startswith("Send the dossier code")


async def test_a_failure_before_the_answer_does_not_stop_polling(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    people = zalo_bot.bot_data.services.people
    original = people.reachable_again

    async def locked(person: Person) -> None:
        raise sqlite3.OperationalError("database is locked")

    people.reachable_again = locked  # type: ignore[method-assign]
    [sorry] = await zalo.say(CITIZEN, "menu")
    assert sorry.text.startswith("Xin lỗi, đã có lỗi")
    people.reachable_again = original  # type: ignore[method-assign]
    [menu] = await zalo.say(OTHER, "menu")
    assert menu.text.startswith("Xin chào!")


async def test_the_console_never_touches_the_real_zalo(settings: Settings, zalo: FakeZaloAPI) -> None:
    from bot.console import run_console

    configured = zalo_settings(settings, zalo)
    lines = iter(["0", ":quit"])
    assert await run_console(configured, lines=lambda: next(lines), write=lambda _: None, demo_days=1, channel="zalo")
    lines = iter([":quit"])
    assert await run_console(configured, lines=lambda: next(lines), write=lambda _: None, demo_days=1)
    assert zalo.calls == []


async def test_the_webhook_is_registered_once_zalo_answers(settings: Settings, zalo: FakeZaloAPI) -> None:
    configured = replace(
        zalo_settings(settings, zalo),
        zalo_webhook_url=WEBHOOK,
        zalo_webhook_secret=Secret(SECRET),
        http_port=free_port(),
        http_host="127.0.0.1",
        ingest_token=Secret("x" * 32),
    )
    zalo.fail_next("setWebhook", 502)
    async with started(build_application(configured, telegram=False, clock=lambda: NOW)):
        for _ in range(150):
            if zalo.webhook:
                break
            await asyncio.sleep(0.02)
    assert [c.status for c in zalo.calls if c.method == "setWebhook"] == [502, 200]


async def test_an_urgent_zalo_alert_does_not_wait_for_the_telegram_backlog(
    settings: Settings, zalo: FakeZaloAPI, api: FakeBotAPI
) -> None:
    both = zalo_settings(bot_settings(settings, api), zalo)
    # The backlog and the alert are in the outbox before the bot starts, so its first drain finds them together.
    services, at = await open_services(both, "telegram", lambda: NOW), NOW.isoformat()
    async with services.db.transaction() as conn:
        for i in range(60):
            cursor = await conn.execute(
                "INSERT INTO people (channel, external_id, created_at, updated_at) VALUES ('telegram', ?, ?, ?)",
                (str(5000 + i), at, at),
            )
            await conn.execute(
                "INSERT INTO outbox (person_id, kind, dedupe_key, payload, created_at) VALUES (?, 'digest_text', ?, ?, ?)",
                (cursor.lastrowid, f"t{i}", '{"text": "tin"}', at),
            )
        cursor = await conn.execute(
            "INSERT INTO people (channel, external_id, created_at, updated_at) VALUES ('zalo', ?, ?, ?)",
            (LEADER, at, at),
        )
        await conn.execute(
            "INSERT INTO outbox (person_id, kind, dedupe_key, payload, urgent, created_at)"
            " VALUES (?, 'digest_text', 'urgent', ?, 1, ?)",
            (cursor.lastrowid, '{"text": "KHẨN"}', at),
        )
    await services.db.close()
    async with running(build_application(both, clock=lambda: NOW, outbox_interval=0.2)) as app:
        await zalo.wait_sent(LEADER, timeout=30)
        row = await app.bot_data.services.db.fetchone(
            "SELECT COUNT(*) FROM outbox o JOIN people p ON p.id = o.person_id"
            " WHERE p.channel = 'telegram' AND o.sent_at IS NOT NULL"
        )
        assert row is not None and row[0] < 60  # the alert went before the Telegram backlog was through


async def test_report_steps_say_why_a_message_did_not_fit(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    await grant(zalo_bot, zalo, OTHER, Role.OFFICIAL)
    for word in ("báo cáo", "2", "3"):
        await zalo.say(OTHER, word)
    since = zalo.mark()
    zalo.push_image(OTHER, "https://photo.zalo.example/may-in.jpg", caption="Máy in hỏng từ tuần trước.")
    [taken] = await zalo.wait_sent(OTHER, since=since)
    assert taken.text.startswith("Gửi tối đa 5 ảnh")  # the caption is the description, the image the first photo
    await zalo.say(OTHER, "xong")
    why, again = await zalo.say(OTHER, "21,85", expect=2)  # a latitude alone: no point in Viet Nam
    assert why.text.startswith("Tọa độ chưa đúng") and again.text.startswith("Nhắn tọa độ")
    [check] = await zalo.say(OTHER, "21.85, 106.76")
    assert "Ảnh: 1" in check.text and "Mô tả: Máy in hỏng từ tuần trước." in check.text


async def test_an_official_keeps_the_centre_current_from_zalo(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    [refused] = await zalo.say(CITIZEN, "/capnhat canbo 3")
    assert refused.text.startswith("Cập nhật trung tâm dành cho cán bộ xã, phường.")
    await grant(zalo_bot, zalo, OTHER, Role.OFFICIAL)
    [done] = await zalo.say(OTHER, "/capnhat canbo 3")
    assert done.text.startswith("Đã cập nhật số cán bộ một cửa.") and "👥 Cán bộ tại bộ phận một cửa: 3" in done.text
    [usage] = await zalo.say(OTHER, "/capnhat canbo nhiều")
    assert usage.text.startswith("Giá trị số cán bộ một cửa chưa đúng.") and "/capnhat canbo 3" in usage.text
    [card] = await zalo.say(CITIZEN, "Hữu Lũng")
    assert "👥 Cán bộ tại bộ phận một cửa: 3" in card.text


async def test_an_invite_typed_during_a_report_is_redeemed(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    await grant(zalo_bot, zalo, OTHER, Role.OFFICIAL)
    for word in ("báo cáo", "2", "3"):
        await zalo.say(OTHER, word)
    invite = await zalo_bot.bot_data.services.roles.invite(Role.LEADER, None, "admin", NOW)
    answers = await zalo.say(OTHER, invite.code, expect=2)  # the new role, and (from the outbox) the old one ended
    assert any(answer.text.startswith("Bạn đã nhận vai trò lãnh đạo tỉnh.") for answer in answers)
    assert not zalo_bot.bot_data.services.reports.is_writing(Person("zalo", OTHER)) or (
        await zalo_bot.bot_data.services.reports.writing(Person("zalo", OTHER)) is None
    )
