"""End to end: the Zalo channel against a fake Zalo Bot API — numbered menus (what a number means, kept across a
restart and a notification), the kinds of message Zalo sends, 429, 5xx and 2,000-character parts, tokens, the
outbox on Zalo, the webhook over real HTTP, and Telegram and Zalo in one process. The conversations themselves run
on every channel in tests/test_*_scenarios.py."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.app import App, build_application, started
from bot.config import Secret, Settings
from bot.outbox import Outcome
from bot.people import Person
from bot.roles import Role
from bot.services import open_services
from bot.zalo import ZaloClient
from bot.zalo_channel import ZaloNotifier, ZaloTokenRefused
from tests.conftest import bot_settings
from tests.factories import CODE, KEY, dossier_row
from tests.fakebotapi import FakeBotAPI, running
from tests.fakezaloapi import TOKEN, FakeZaloAPI
from tests.receipts import blank_photo
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


def zalo_client(app: App) -> ZaloClient:
    """The client of the application's Zalo channel."""
    [notifier] = [n for n in app.bot_data.notifiers if isinstance(n, ZaloNotifier)]
    return notifier.client


async def test_menu_by_number_and_by_word(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    [menu] = await zalo.say(CITIZEN, "menu")
    text = menu.text
    assert text.startswith("Vui lòng chọn một mục dưới đây.\n\n1. Tra cứu hồ sơ")
    assert (
        "\n\n1. Tra cứu hồ sơ\n2. Hồ sơ theo dõi\n3. Tìm trung tâm\n4. Thủ tục hành chính\n5. Hướng dẫn\n6. English\n"
        in text
    )
    assert "Gửi vị trí" not in text  # Zalo's bots receive no locations: no line for it
    [asked] = await zalo.say(CITIZEN, "1")
    assert asked.text.startswith("Vui lòng nhắn mã hồ sơ in trên Giấy tiếp nhận")
    [again] = await zalo.say(CITIZEN, "0")
    assert again.text == text
    [centre] = await zalo.say(CITIZEN, "3")
    [by_word] = await zalo.say(CITIZEN, "Trung tâm")  # the word reaches the same place as the number
    assert by_word.text == centre.text and centre.text.startswith("Vui lòng nhắn tên xã, phường")


async def test_a_number_out_of_context_and_other_kinds_of_message(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    [out] = await zalo.say(CITIZEN, "7")
    assert out.text == "Số 7 không có trong danh sách. Nhắn 0 để xem menu."
    since = zalo.mark()
    zalo.push_sticker(CITIZEN)
    zalo.push_image(CITIZEN, zalo.host_image(blank_photo()))  # a photo without a receipt's code
    zalo.push_unsupported(CITIZEN)
    sticker, image, unsupported = await zalo.wait_sent(CITIZEN, 3, since=since)
    assert sticker.text.startswith("Phục Vụ sẵn sàng giúp.") and "\n1. Tra cứu hồ sơ\n" in sticker.text
    assert image.text.startswith("Phục Vụ chưa thấy mã QR hay mã vạch nào trên ảnh.")
    assert unsupported.text == sticker.text


async def test_the_numbered_menu_survives_a_restart(settings: Settings, zalo: FakeZaloAPI) -> None:
    app = build_application(zalo_settings(settings, zalo), telegram=False, clock=lambda: NOW)
    async with started(app):
        [choices] = await zalo.say(CITIZEN, "Tân")
        assert choices.text.startswith("Ông/Bà muốn tìm nơi nào?\n\n1. ") and choices.text.endswith("Nhắn số để chọn.")
        first = choices.text.split("\n1. ", 1)[1].splitlines()[0]
    app = build_application(zalo_settings(settings, zalo), telegram=False, clock=lambda: NOW)
    async with started(app):
        [card] = await zalo.say(CITIZEN, "1")
        assert card.text.startswith("🏢 Trung tâm Phục vụ hành chính công")
        assert first.split(" (")[0].lower() in card.text.splitlines()[0].lower() or "nay thuộc" in card.text
        assert "\n1. Gửi ghim vị trí\n" in card.text  # the card's own choice now
        [pin] = await zalo.say(CITIZEN, "1")  # a place on a map is its link on Zalo
    title, link = pin.text.splitlines()
    assert title.startswith("📍 ") and link.startswith("https://www.google.com/maps/search/?api=1&query=")
    assert f"Mở bản đồ: {link}" in card.text  # the same place as the card's link


async def test_language_switch_by_word_and_number(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    [english] = await zalo.say(CITIZEN, "English")
    assert "\n\n1. Look up a dossier\n2. Followed dossiers\n3. Find a centre\n" in english.text
    assert "\n6. Tiếng Việt\n" in english.text
    [vietnamese] = await zalo.say(CITIZEN, "6")
    assert vietnamese.text.startswith("Đã chuyển sang tiếng Việt.") and "\n1. Tra cứu hồ sơ\n" in vietnamese.text
    [other] = await zalo.say(OTHER, "menu")
    assert other.text.startswith("Vui lòng chọn một mục dưới đây.")


async def test_429_and_5xx_are_waited_out_for_a_reply(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    zalo.fail_next("sendMessage", 429, retry_after=0)
    zalo.fail_next("sendMessage", 502)
    [menu] = await zalo.say(CITIZEN, "menu")
    assert menu.text.startswith("Vui lòng chọn một mục dưới đây.")
    assert [c.status for c in zalo.calls if c.method == "sendMessage"][-3:] == [429, 502, 200]


async def test_polling_goes_on_after_the_api_fails(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    zalo.fail_next("getUpdates", 502)
    [menu] = await zalo.say(CITIZEN, "menu")
    assert menu.text.startswith("Vui lòng chọn một mục dưới đây.")


async def test_a_long_answer_is_split_at_2000_characters(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    sent = await zalo_client(zalo_bot).send_text(CITIZEN, ("Một câu về hồ sơ. " * 300).strip())
    parts = zalo.sent(CITIZEN)
    assert sent == len(parts) == 3
    assert all(len(p.text) <= 2000 and p.text.endswith(".") for p in parts)


WEBHOOK = "https://phucvu.example.vn/zalo/hook"
SECRET = "a-webhook-secret-1234"


async def settled(count: Callable[[], int], expected: int, seconds: float = 5.0) -> None:
    """Wait until `count()` reaches `expected` (the inbox answers a stored call in the background), then a moment
    more to see that nothing else comes."""
    for _ in range(int(seconds / 0.02)):
        if count() >= expected:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    assert count() == expected


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
        await settled(lambda: len(zalo.sent(CITIZEN)), 1)
        menus = [c.text.startswith("Vui lòng chọn một mục dưới đây.") for c in zalo.sent(CITIZEN)]
        assert menus == [True]  # the same message, once
        other = zalo.update(CITIZEN, "message.text.received", text="0")
        wrapped = await client.post(url, json={"ok": True, "result": other}, headers={"X-Bot-Api-Secret-Token": SECRET})
        assert wrapped.status_code == 200
        await settled(lambda: len(zalo.sent(CITIZEN)), 2)
        for junk in ([1, 2], "text", {"message": "x"}, {"result": None}):
            answered = await client.post(url, json=junk, headers={"X-Bot-Api-Secret-Token": SECRET})
            assert answered.status_code == 200  # nothing to answer, and nothing breaks
        broken = await client.post(url, content=b"{not json", headers={"X-Bot-Api-Secret-Token": SECRET})
        assert broken.status_code == 400
        await settled(lambda: len(zalo.sent(CITIZEN)), 2)
        # What an attack sent (issue 14): a 400 or 403 that says what, nothing answered, never a 500.
        hostile = [
            b"[" * 100_000 + b"]" * 100_000,
            b'{"message": {"text": "\\ud800", "from": {"id": "1"}}}',
            b'{"message": {"date": ' + b"9" * 5000 + b"}}",
        ]
        for body in hostile:
            answered = await client.post(url, content=body, headers={"X-Bot-Api-Secret-Token": SECRET})
            assert answered.status_code == 400 and answered.json()["ok"] is False, body[:40]
        latin = await client.post(url, json=update, headers={"X-Bot-Api-Secret-Token": "s\xe9cret".encode("latin-1")})
        assert latin.status_code == 403 and len(zalo.sent(CITIZEN)) == 2
        assert not [c for c in zalo.calls if c.method == "getUpdates"]  # no polling beside a webhook


async def test_telegram_and_zalo_in_one_process(settings: Settings, zalo: FakeZaloAPI, api: FakeBotAPI) -> None:
    both = zalo_settings(bot_settings(settings, api), zalo)
    async with running(build_application(both, clock=lambda: NOW, outbox_interval=0.2)) as app:
        services = app.bot_data.services
        await services.dossiers.apply([dossier_row(status=4)], "import:test.csv", NOW)
        await api.say(42, f"/hoso {CODE}")
        await api.click(42, f"follow:{KEY}")
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


async def grant(app: App, user: str, role: Role) -> None:
    """Give a person on Zalo a role, as an invite redeemed does."""
    services = app.bot_data.services
    invite = await services.roles.invite(role, COMMUNE if role is Role.OFFICIAL else None, "admin", NOW)
    await services.roles.redeem(Person("zalo", user), invite.code, NOW)


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
        await grant(app, LEADER, Role.LEADER)
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


async def test_without_a_public_address_a_digest_is_its_text(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    await grant(zalo_bot, LEADER, Role.LEADER)
    [menu] = await zalo.say(LEADER, "0")
    assert "\n\n1. Tóm tắt hôm nay\n" in menu.text
    [now] = await zalo.say(LEADER, "1")  # the chart made here has no address Zalo could fetch it from
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
    greeting = [text for text in texts if text.startswith("Vui lòng chọn một mục dưới đây.")]
    held = [
        text
        for text in texts
        if text.startswith(f"🔔 Hồ sơ {CODE} (Đăng ký khai sinh) chuyển sang: Đã có kết quả — mời Ông/Bà đến nhận.")
    ]
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
    assert answer.text.startswith("Vui lòng chọn một mục dưới đây.")  # read without its date
    [later] = await zalo.say(OTHER, "menu")
    assert later.text.startswith("Vui lòng chọn một mục dưới đây.")


async def test_an_old_menu_number_does_not_act_on_the_next_answer(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    await zalo.say(CITIZEN, CODE)  # "1" would follow it …
    await zalo.say(CITIZEN, "000.00.37.H37-250804-9999")  # … but this answer is about another code
    [one] = await zalo.say(CITIZEN, "1")
    assert one.text == "Số 1 không có trong danh sách. Nhắn 0 để xem menu."
    assert await zalo_bot.bot_data.services.db.fetchall("SELECT * FROM follows") == []
    await zalo.say(CITIZEN, "menu")
    await zalo.say(CITIZEN, "9")  # a number not in the menu keeps the menu
    [asked] = await zalo.say(CITIZEN, "1")
    assert asked.text.startswith("Vui lòng nhắn mã hồ sơ")


async def test_a_notification_does_not_change_what_numbers_mean(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    await zalo.say(CITIZEN, CODE)
    await zalo.say(CITIZEN, "1")  # follows
    [choices] = await zalo.say(CITIZEN, "Tân")
    first = choices.text.split("\n1. ", 1)[1].splitlines()[0]
    since = zalo.mark()
    await zalo_bot.bot_data.services.dossiers.apply([dossier_row(status=9)], "ingest", NOW + timedelta(hours=1))
    [note] = await zalo.wait_sent(CITIZEN, since=since)  # while the person is about to type a number
    assert note.text.startswith(f"🔔 Hồ sơ {CODE} (Đăng ký khai sinh) chuyển sang:") and "\n1. " not in note.text
    [card] = await zalo.say(CITIZEN, "1")  # still the first of the places they were shown
    assert card.text.startswith("🏢 Trung tâm Phục vụ hành chính công")
    assert first.split(" (")[0].lower() in card.text.splitlines()[0].lower() or "nay thuộc" in card.text


async def test_a_notification_with_a_menu_says_what_numbers_mean(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    services = zalo_bot.bot_data.services
    await grant(zalo_bot, OTHER, Role.OFFICIAL)
    [menu] = await zalo.say(OTHER, "0")
    assert "\n\n1. Báo cáo khó khăn\n" in menu.text
    person_id = await services.people.repo.id_of("zalo", OTHER)
    assert person_id is not None
    since = zalo.mark()
    await services.roles.revoke(person_id, "admin", NOW)  # an admin takes the role back: told, with a new menu
    [revoked] = await zalo.wait_sent(OTHER, since=since)
    assert revoked.text.startswith("Quyền cán bộ xã Hữu Lũng của đồng chí đã được thu hồi.")
    assert "\n\n1. Tra cứu hồ sơ\n" in revoked.text
    [asked] = await zalo.say(OTHER, "1")  # the number of the menu they were sent last, not of the official's
    assert asked.text.startswith("Vui lòng nhắn mã hồ sơ")


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
    delivery = await ZaloNotifier(client, zalo_bot.bot_data.services).deliver(message)
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


async def test_english_words_reach_the_same_places(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    await zalo.say(CITIZEN, "English")
    for word, command in (("follow", "/theodoi"), ("search", "/trungtam"), ("look up", "/hoso")):
        [typed] = await zalo.say(CITIZEN, word)
        [commanded] = await zalo.say(CITIZEN, command)
        assert typed.text == commanded.text, word


async def test_a_failure_before_the_answer_does_not_stop_polling(zalo_bot: App, zalo: FakeZaloAPI) -> None:
    people = zalo_bot.bot_data.services.people
    original = people.reachable_again

    async def locked(person: Person) -> None:
        raise sqlite3.OperationalError("database is locked")

    people.reachable_again = locked  # type: ignore[method-assign]
    [sorry] = await zalo.say(CITIZEN, "menu")
    assert sorry.text == "Xin lỗi, đã có lỗi khi xử lý yêu cầu. Vui lòng thử lại sau ít phút."
    people.reachable_again = original  # type: ignore[method-assign]
    [menu] = await zalo.say(OTHER, "menu")
    assert menu.text.startswith("Vui lòng chọn một mục dưới đây.")


async def test_the_console_never_touches_the_real_zalo(settings: Settings, zalo: FakeZaloAPI) -> None:
    from bot.app import run_console

    configured = zalo_settings(settings, zalo)
    lines = iter(["0", "Hữu Lũng", ":quit"])
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
    services, at = await open_services(both, lambda: NOW), NOW.isoformat()
    async with services.db.transaction() as conn:
        for i in range(60):
            [(person,)] = await conn.execute_fetchall(
                "INSERT INTO people (channel, external_id, created_at, updated_at) VALUES ('telegram', ?, ?, ?)"
                " RETURNING id",
                (str(5000 + i), at, at),
            )
            await conn.execute(
                "INSERT INTO outbox (person_id, kind, dedupe_key, payload, created_at) VALUES (?, 'digest_text', ?, ?, ?)",
                (person, f"t{i}", '{"text": "tin"}', at),
            )
        [(leader,)] = await conn.execute_fetchall(
            "INSERT INTO people (channel, external_id, created_at, updated_at) VALUES ('zalo', ?, ?, ?) RETURNING id",
            (LEADER, at, at),
        )
        await conn.execute(
            "INSERT INTO outbox (person_id, kind, dedupe_key, payload, urgent, created_at)"
            " VALUES (?, 'digest_text', 'urgent', ?, 1, ?)",
            (leader, '{"text": "KHẨN"}', at),
        )
    await services.db.close()
    async with running(build_application(both, clock=lambda: NOW, outbox_interval=0.2)) as app:
        await zalo.wait_sent(LEADER, timeout=30)
        row = await app.bot_data.services.db.fetchone(
            "SELECT COUNT(*) FROM outbox o JOIN people p ON p.id = o.person_id"
            " WHERE p.channel = 'telegram' AND o.sent_at IS NOT NULL"
        )
        assert row is not None and row[0] < 60  # the alert went before the Telegram backlog was through


async def test_two_processes_behind_the_zalo_webhook_answer_each_message_once_and_in_order(
    settings: Settings, zalo: FakeZaloAPI
) -> None:
    """Two applications on one database behind ZALO_WEBHOOK_URL, each call to one or the other (and some calls
    repeated, as Zalo does after a slow answer): each message answered once, each person's in order."""
    ports = [free_port(), free_port()]
    apps = [
        build_application(
            replace(
                zalo_settings(settings, zalo),
                zalo_webhook_url=WEBHOOK,
                zalo_webhook_secret=Secret(SECRET),
                http_port=port,
                ingest_token=Secret("x" * 32),
            ),
            telegram=False,
        )
        for port in ports
    ]
    people = [f"zp{n}" for n in range(6)]
    codes = {person: [f"000.00.37.H37-250804-{9100 + 10 * n + k}" for k in range(4)] for n, person in enumerate(people)}
    async with started(apps[0]), started(apps[1]), httpx.AsyncClient() as client:
        headers = {"X-Bot-Api-Secret-Token": SECRET}

        async def person_writes(n: int, person: str) -> None:
            for k, code in enumerate(codes[person]):
                update = zalo.update(person, "message.text.received", text=code)
                target = f"http://127.0.0.1:{ports[(n + k) % 2]}/zalo/hook"
                assert (await client.post(target, json=update, headers=headers)).status_code == 200
                if k == 1:  # repeated to the other process
                    other = f"http://127.0.0.1:{ports[(n + k + 1) % 2]}/zalo/hook"
                    assert (await client.post(other, json=update, headers=headers)).status_code == 200

        await asyncio.gather(*(person_writes(n, person) for n, person in enumerate(people)))

        def answered(person: str) -> list[str]:
            return [c for text in (m.text for m in zalo.sent(person)) for c in codes[person] if c in text]

        await settled(lambda: sum(len(answered(p)) for p in people), 24, seconds=15)
    for person in people:
        assert answered(person) == codes[person]
