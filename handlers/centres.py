"""The centre finder (by name, by an old pre-2025 address, by a shared location), a centre's card with its map, and
officials keeping their own centre's details current."""

from __future__ import annotations

from bot.centres import (
    EDITABLE,
    CentreCard,
    Choice,
    Choices,
    District,
    Fallback,
    Found,
    NearestResult,
    NotFound,
    SearchOutcome,
    Split,
    coordinates,
    detail_value,
    looks_like_place,
)
from bot.i18n import N_, Translator
from bot.roles import actor
from bot.text import fold
from handlers.chat import Option, Point, Replies, Reply, Turn, place, stale
from storage.centres import CentreDetails

ASK = N_(
    "Vui lòng nhắn tên xã, phường (ví dụ: Hữu Lũng) hoặc địa chỉ cũ trước năm 2025 "
    "(ví dụ: xã Đồng Tân, huyện Hữu Lũng), hoặc gửi vị trí để tìm trung tâm gần nhất."
)
ASK_BY_NAME = N_(
    "Vui lòng nhắn tên xã, phường (ví dụ: Hữu Lũng) hoặc địa chỉ cũ trước năm 2025 "
    "(ví dụ: xã Đồng Tân, huyện Hữu Lũng)."
)


# Until a centre's venue is recorded, its pin is the commune's (or the ward's) approximate centre.
APPROXIMATE_NOTE = (
    N_("Vị trí trên bản đồ là vị trí gần đúng (trung tâm của xã), chưa phải địa chỉ trụ sở."),
    N_("Vị trí trên bản đồ là vị trí gần đúng (trung tâm của phường), chưa phải địa chỉ trụ sở."),
)
APPROXIMATE_PIN = (N_("Vị trí gần đúng (trung tâm của xã)"), N_("Vị trí gần đúng (trung tâm của phường)"))


def _unknown(t: Translator) -> str:
    return t.gettext("chưa cập nhật")


def render_card(card: CentreCard, t: Translator, via: str | None = None) -> str:
    """The text about one centre: name, how the old address leads here, address, phone, hours, staff."""
    d = card.details
    lines = [t.gettext("🏢 Trung tâm Phục vụ hành chính công {name}").format(name=place(card.commune.name, t))]
    if via:
        lines.append(via)
    lines.append(t.gettext("Địa chỉ: {value}").format(value=d.address or _unknown(t)))
    lines.append(t.gettext("Điện thoại: {value}").format(value=d.phone or _unknown(t)))
    lines.append(t.gettext("Giờ làm việc: {value}").format(value=d.opening_hours or _unknown(t)))
    if d.desk_staff is not None:
        lines.append(t.gettext("Cán bộ tại bộ phận một cửa: {count}").format(count=t.number(d.desk_staff)))
    if d.note:
        lines.append(t.gettext("Ghi chú: {note}").format(note=d.note))
    if card.fallback is not None and not card.fallback.empty:
        text = t.gettext("Trong khi xã, phường chưa cập nhật địa chỉ, điện thoại, Ông/Bà có thể liên hệ {others}.")
        lines.append(text.format(others=fallback_text(card.fallback, t)))
    if card.lat is None or card.lon is None:
        lines.append(t.gettext("Chưa có vị trí trên bản đồ cho trung tâm này."))
    elif card.approximate:
        lines.append(t.gettext(APPROXIMATE_NOTE[card.commune.kind == "phuong"]))
    return "\n".join(lines)


def contact_parts(details: CentreDetails, t: Translator, separator: str = "; ") -> str:
    """`địa chỉ …; điện thoại …; giờ làm việc …`, of what is known."""
    known = [
        t.gettext("địa chỉ {address}").format(address=details.address) if details.address else "",
        t.gettext("điện thoại {phone}").format(phone=details.phone) if details.phone else "",
        t.gettext("giờ làm việc {hours}").format(hours=details.opening_hours) if details.opening_hours else "",
    ]
    return separator.join(filter(None, known))


def fallback_text(fallback: Fallback, t: Translator) -> str:
    """Whom to contact instead: `Trung tâm Phục vụ hành chính công tỉnh Lạng Sơn, địa chỉ …, điện thoại …; đường
    dây nóng của tỉnh …`, of what is known ('' for nothing)."""
    parts = []
    centre = fallback.centre
    if centre.address or centre.phone:
        name = t.gettext("Trung tâm Phục vụ hành chính công tỉnh {province}").format(province=fallback.province)
        parts.append(f"{name}, {contact_parts(centre, t, ', ')}")
    if fallback.hotline:
        parts.append(t.gettext("đường dây nóng của tỉnh {hotline}").format(hotline=fallback.hotline))
    return "; ".join(parts)


def choice_label(choice: Choice, t: Translator) -> str:
    """A 2025 unit's name, or a pre-2025 unit's with its old district."""
    if choice.commune is not None:
        return choice.commune.name
    assert choice.old is not None
    district = place(choice.old.district_name, t)
    return t.gettext("{name} ({district} cũ)").format(name=choice.old.name, district=district)


def choice_option(choice: Choice, t: Translator) -> Option:
    """A choice of a 2025 unit (by its code) or of a pre-2025 unit (by its id)."""
    if choice.commune is not None:
        return Option(choice_label(choice, t), "commune", choice.commune.code)
    assert choice.old is not None
    return Option(choice_label(choice, t), "old", str(choice.old.id))


def maps_url(lat: float, lon: float) -> str:
    """A link that opens the point in the phone's map app."""
    return f"https://www.google.com/maps/search/?api=1&query={lat:.6f},{lon:.6f}"


def via_text(found: Found, t: Translator) -> str | None:
    """How an old unit leads to the centre found (None when it was found by its own name)."""
    if found.via_old is None:
        return None
    return t.gettext("{old}, {district} cũ, nay thuộc {new}.").format(
        old=found.via_old.name, district=place(found.via_old.district_name, t), new=place(found.commune.name, t)
    )


async def card_replies(turn: Turn, code: str, via: str | None = None) -> Replies:
    """One centre's card, with a link that opens the map and a choice that sends the map pin."""
    card = await turn.services.centres.card(code)
    t = turn.t
    if card is None:
        return [turn.say("Không tìm thấy trung tâm này. Vui lòng tìm lại bằng tên xã, phường.")]
    options: tuple[Option, ...] = ()
    if card.lat is not None and card.lon is not None:
        options = (
            Option(t.gettext("🗺️ Mở bản đồ"), "", url=maps_url(card.lat, card.lon)),
            Option(t.gettext("📍 Gửi ghim vị trí"), "pin", code),
        )
    return [Reply(render_card(card, t, via), options, columns=2)]


async def search_replies(turn: Turn, outcome: SearchOutcome) -> Replies:
    """The answer to a search: one card, a split old unit, choices, or a helpful miss."""
    t = turn.t
    if isinstance(outcome, Found):
        return await card_replies(turn, outcome.commune.code, via_text(outcome, t))
    if isinstance(outcome, Split):
        text = t.gettext("{old}, {district} cũ, nay được chia cho: {names}. Vui lòng chọn nơi Ông/Bà ở:").format(
            old=outcome.old.name,
            district=place(outcome.old.district_name, t),
            names=", ".join(place(c.name, t) for c in outcome.communes),
        )
        return [Reply(text, tuple(choice_option(Choice(commune=c), t) for c in outcome.communes))]
    if isinstance(outcome, Choices):
        text = t.gettext("Ông/Bà muốn tìm nơi nào?")
        if outcome.more:
            text += "\n" + t.gettext(
                "Có nhiều nơi trùng tên. Nếu chưa thấy nơi cần tìm, vui lòng thêm tên huyện cũ, ví dụ: «{example}»."
            ).format(example="Hòa Bình, Văn Quan")
        return [Reply(text, tuple(choice_option(c, t) for c in outcome.options))]
    if isinstance(outcome, District):
        text = t.gettext(
            "{district} cũ nay thuộc các xã, phường dưới đây. Vui lòng nhắn tên xã, phường cũ (ví dụ: «{example}») "
            "hoặc chọn:"
        ).format(district=outcome.name, example="xã Đồng Tân, huyện Hữu Lũng")
        return [Reply(text, tuple(choice_option(Choice(commune=c), t) for c in outcome.communes))]
    if isinstance(outcome, NotFound) and outcome.empty:
        return [turn.say(ASK if turn.locations else ASK_BY_NAME)]
    province = turn.services.centres.directory.province.name
    return [
        turn.say(
            "Không tìm thấy xã, phường nào như vậy ở tỉnh {province}. Vui lòng nhắn tên xã, phường, ví dụ: «Hữu Lũng», "
            "hoặc địa chỉ cũ, ví dụ: «xã Đồng Tân, huyện Hữu Lũng».",
            province=province,
        )
    ]


async def centre(turn: Turn, value: str) -> Replies:
    """`/trungtam [text]` or «Tìm trung tâm»: search, or ask what to search for."""
    if not value.strip():
        return [turn.say(ASK if turn.locations else ASK_BY_NAME)]
    return await search_replies(turn, turn.services.centres.search(value))


async def search(turn: Turn, text: str) -> Replies:
    """Free text taken as a commune's name or an old address; a question of another kind is told what Phục Vụ can
    do, with the menu."""
    outcome = turn.services.centres.search(text)
    if isinstance(outcome, NotFound) and not outcome.empty and not looks_like_place(text):
        note = turn.t.gettext(
            "Phục Vụ chưa trả lời được câu hỏi này. Phục Vụ giúp tra cứu hồ sơ theo mã, tìm Trung tâm Phục vụ "
            "hành chính công, và xem giấy tờ, lệ phí của một thủ tục (/thutuc)."
        )
        return [Reply(note, menu=await turn.role())]
    return await search_replies(turn, outcome)


async def commune(turn: Turn, code: str) -> Replies:
    """A commune chosen from a list."""
    if turn.services.centres.commune(code) is None:
        return stale(turn)
    return await card_replies(turn, code)


async def old_unit(turn: Turn, value: str) -> Replies:
    """A pre-2025 unit chosen from a list."""
    outcome = turn.services.centres.old_unit(int(value)) if value.isascii() and value.isdigit() else None
    if outcome is None:
        return stale(turn)
    return await search_replies(turn, outcome)


async def pin(turn: Turn, code: str) -> Replies:
    """The centre's map pin: its venue with address, or the commune's approximate centre."""
    card = await turn.services.centres.card(code) if turn.services.centres.commune(code) else None
    if card is None or card.lat is None or card.lon is None:
        return stale(turn)
    address = card.details.address if not card.approximate else None
    where = address or turn.t.gettext(APPROXIMATE_PIN[card.commune.kind == "phuong"])
    point = Point(card.lat, card.lon, card.commune.name, where, maps_url(card.lat, card.lon))
    return [Reply(point=point)]


def render_nearest(result: NearestResult, t: Translator) -> str:
    """The nearest centres with distances."""
    lines = []
    if result.outside:
        lines.append(t.gettext("Vị trí Ông/Bà gửi nằm ngoài tỉnh {province}.").format(province=result.province))
    lines.append(t.gettext("Các trung tâm gần nhất:"))
    for item in result.items:  # bullets: the choices below carry the numbers, where a channel numbers them
        mark = " *" if item.approximate else ""
        lines.append(f"• {item.commune.name} — {t.number(item.km, 1)} km{mark}")
    if any(item.approximate for item in result.items):
        lines.append(t.gettext("* khoảng cách tính đến trung tâm gần đúng của xã, phường."))
    return "\n".join(lines)


async def nearest(turn: Turn, lat: float, lon: float) -> Replies:
    """A shared location: the nearest centres, with a choice of each."""
    result = await turn.services.centres.nearest(lat, lon)
    options = tuple(choice_option(Choice(commune=item.commune), turn.t) for item in result.items)
    return [Reply(render_nearest(result, turn.t), options)]


FIELD_NAMES = {
    "address": N_("địa chỉ"),
    "phone": N_("điện thoại"),
    "opening_hours": N_("giờ làm việc"),
    "desk_staff": N_("số cán bộ một cửa"),
    "location": N_("vị trí trên bản đồ"),
}


# What a wrong value gets: what is wrong, and an example to copy.
BAD_VALUES = {
    "address": N_("Địa chỉ chưa đúng (từ 3 đến 300 ký tự), ví dụ: /capnhat diachi Số 1 đường Trần Hưng Đạo."),
    "phone": N_("Số điện thoại chưa đúng, ví dụ: /capnhat dienthoai 0205 3825 001."),
    "opening_hours": N_("Giờ làm việc chưa đúng, ví dụ: /capnhat gio Thứ Hai – Thứ Sáu, 7:30–11:30, 13:30–17:00."),
    "desk_staff": N_("Số cán bộ chưa đúng: một số từ 0 đến 200, ví dụ: /capnhat canbo 3."),
}


def update_usage(t: Translator) -> str:
    """How an official changes their centre's details."""
    return "\n".join(
        [
            t.gettext("Cập nhật thông tin trung tâm của xã, phường:"),
            t.gettext("/capnhat diachi Số 1 đường Trần Hưng Đạo, thôn Phố Mới"),
            t.gettext("/capnhat dienthoai 0205 3825 001"),
            t.gettext("/capnhat gio Thứ Hai – Thứ Sáu, 7:30–11:30, 13:30–17:00"),
            t.gettext("/capnhat canbo 3 (số cán bộ tại bộ phận một cửa)"),
            t.gettext("/capnhat vitri 21.8537, 106.7615 (hoặc /capnhat vitri rồi gửi vị trí)"),
        ]
    )


PIN_AWAITING = "pin"
ASK_PIN = N_(
    "Vui lòng gửi vị trí của trung tâm (trên Telegram: bấm 📎 rồi chọn Vị trí), hoặc nhắn tọa độ, ví dụ: "
    "/capnhat vitri 21.8537, 106.7615."
)
BAD_PIN = N_("Tọa độ chưa đúng, ví dụ: /capnhat vitri 21.8537, 106.7615 (vĩ độ, kinh độ; trong lãnh thổ Việt Nam).")
FAR_PIN = N_(
    "Vị trí này cách {commune} {km} km, chưa được lưu. Vui lòng kiểm tra lại, ví dụ: /capnhat vitri 21.8537, 106.7615."
)


async def set_pin(turn: Turn, point: tuple[float, float] | None) -> Replies:
    """An official sets their centre's map pin: typed coordinates (any channel) or a shared location."""
    await turn.services.chat.expect(turn.person, "", turn.now)
    if point is None:
        return [turn.say(BAD_PIN)]
    commune_code = (await turn.access()).commune_code or ""
    centres, t = turn.services.centres, turn.t
    far = centres.pin_problem(commune_code, *point)
    if far is not None:
        commune = centres.commune(commune_code)
        return [turn.say(FAR_PIN, commune=place(commune.name, t) if commune else commune_code, km=t.number(round(far)))]
    lat, lon = point
    await centres.update_details(commune_code, {"lat": lat, "lon": lon}, actor(turn.person), turn.now.isoformat())
    card = await centres.card(commune_code)
    done = t.gettext("Đã cập nhật {field}.").format(field=t.gettext(FIELD_NAMES["location"]))
    return [Reply(done + ("\n\n" + render_card(card, t) if card else ""))]


async def update_centre(turn: Turn, text: str) -> Replies:
    """`/capnhat FIELD VALUE`: an official changes one detail of their own centre; without one, the centre as it
    is and how to change it."""
    commune_code = (await turn.access()).commune_code or ""
    t, centres = turn.t, turn.services.centres
    word, _, rest = text.strip().partition(" ")
    field = EDITABLE.get(fold(word).replace(" ", ""))
    if field is None:
        card = await centres.card(commune_code)
        return [Reply((render_card(card, t) + "\n\n" if card else "") + update_usage(t))]
    if field == "location":
        point = coordinates(rest)
        if point is None and not rest.strip():  # the next location shared is the pin (Telegram, the console)
            await turn.services.chat.expect(turn.person, PIN_AWAITING, turn.now)
            return [turn.say(ASK_PIN)]
        return await set_pin(turn, point)
    value = detail_value(field, rest)
    if value is None:
        return [turn.say(BAD_VALUES[field])]
    await centres.update_details(commune_code, {field: value}, actor(turn.person), turn.now.isoformat())
    card = await centres.card(commune_code)
    done = t.gettext("Đã cập nhật {field}.").format(field=t.gettext(FIELD_NAMES[field]))
    return [Reply(done + ("\n\n" + render_card(card, t) if card else ""))]
