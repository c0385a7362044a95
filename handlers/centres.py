"""The centre finder: `/trungtam`, the menu button, free text naming a commune, a shared location, `ct:` buttons."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.app import Ctx
from bot.centres import (
    EDITABLE,
    CentreCard,
    Choice,
    Choices,
    District,
    Found,
    NearestResult,
    NotFound,
    SearchOutcome,
    Split,
    detail_value,
)
from bot.commands import CENTRE, UPDATE_CENTRE
from bot.i18n import N_, Translator
from bot.roles import Role, actor
from bot.text import fold
from handlers import menu
from handlers.context import PRIVATE, Incoming, command_args, incoming
from handlers.errors import unrecognised

PREFIX = "ct:"


def _unknown(t: Translator) -> str:
    return t.gettext("chưa cập nhật")


def render_card(card: CentreCard, t: Translator, via: str | None = None) -> str:
    """The text about one centre: name, how the old address leads here, address, phone, hours, staff."""
    d = card.details
    lines = [t.gettext("🏢 Trung tâm phục vụ hành chính công {name}").format(name=card.commune.name)]
    if via:
        lines.append(via)
    lines.append(t.gettext("📍 Địa chỉ: {value}").format(value=d.address or _unknown(t)))
    lines.append(t.gettext("☎️ Điện thoại: {value}").format(value=d.phone or _unknown(t)))
    lines.append(t.gettext("🕗 Giờ làm việc: {value}").format(value=d.opening_hours or _unknown(t)))
    if d.desk_staff is not None:
        lines.append(t.gettext("👥 Cán bộ tại bộ phận một cửa: {count}").format(count=t.number(d.desk_staff)))
    if d.note:
        lines.append(t.gettext("📝 {note}").format(note=d.note))
    if card.lat is None or card.lon is None:
        lines.append(t.gettext("Chưa có vị trí trên bản đồ cho trung tâm này."))
    elif card.approximate:
        lines.append(t.gettext("⚠️ Ghim bản đồ chỉ là vị trí gần đúng (trung tâm của xã), không phải địa chỉ trụ sở."))
    return "\n".join(lines)


def old_label(choice: Choice, t: Translator) -> str:
    """A button label for a 2025 unit, or for a pre-2025 unit with its old district."""
    if choice.commune is not None:
        return choice.commune.name
    assert choice.old is not None
    return t.gettext("{name} ({district} cũ)").format(name=choice.old.name, district=choice.old.district_name)


def choice_data(choice: Choice) -> str:
    """Callback data for a choice: `ct:c:<code>` or `ct:o:<old unit id>` (well under 64 bytes)."""
    if choice.commune is not None:
        return f"{PREFIX}c:{choice.commune.code}"
    assert choice.old is not None
    return f"{PREFIX}o:{choice.old.id}"


def choices_markup(options: tuple[Choice, ...], t: Translator) -> InlineKeyboardMarkup:
    """One button per option."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(old_label(o, t), callback_data=choice_data(o))] for o in options]
    )


def maps_url(lat: float, lon: float) -> str:
    """A link that opens the point in the phone's map app."""
    return f"https://www.google.com/maps/search/?api=1&query={lat:.6f},{lon:.6f}"


async def send_card(message: Message, came: Incoming, code: str, via: str | None = None) -> None:
    """Send one centre's card in one message, with a map link and a button for the map pin."""
    card = await came.services.centres.card(code)
    if card is None:
        await message.reply_text(came.t.gettext("Không tìm thấy trung tâm này. Hãy tìm lại bằng tên xã, phường."))
        return
    markup = None
    if card.lat is not None and card.lon is not None:
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(came.t.gettext("🗺️ Mở bản đồ"), url=maps_url(card.lat, card.lon)),
                    InlineKeyboardButton(came.t.gettext("📍 Ghim vị trí"), callback_data=f"{PREFIX}v:{code}"),
                ]
            ]
        )
    await message.reply_text(render_card(card, came.t, via), reply_markup=markup)


async def send_pin(message: Message, came: Incoming, code: str) -> bool:
    """Send the centre's map pin: its venue with address, or the commune's approximate centre."""
    card = await came.services.centres.card(code)
    if card is None or card.lat is None or card.lon is None:
        return False
    address = card.details.address if not card.approximate else None
    await message.reply_venue(
        latitude=card.lat,
        longitude=card.lon,
        title=card.commune.name,
        address=address or came.t.gettext("Vị trí gần đúng (trung tâm của xã)"),
    )
    return True


def via_text(found: Found, t: Translator) -> str | None:
    """How an old unit leads to the centre found (None when it was found by its own name)."""
    if found.via_old is None:
        return None
    return t.gettext("ℹ️ {old} ({district} cũ) nay thuộc {new}.").format(
        old=found.via_old.name, district=found.via_old.district_name, new=found.commune.name
    )


async def answer_outcome(message: Message, came: Incoming, outcome: SearchOutcome) -> None:
    """Reply to a search: one card, a split old unit, up to three choices, or a helpful miss."""
    t = came.t
    if isinstance(outcome, Found):
        await send_card(message, came, outcome.commune.code, via_text(outcome, t))
    elif isinstance(outcome, Split):
        names = ", ".join(c.name for c in outcome.communes)
        text = t.gettext("ℹ️ {old} ({district} cũ) nay được chia cho: {names}. Chọn nơi bạn ở:").format(
            old=outcome.old.name, district=outcome.old.district_name, names=names
        )
        await message.reply_text(
            text, reply_markup=choices_markup(tuple(Choice(commune=c) for c in outcome.communes), t)
        )
    elif isinstance(outcome, Choices):
        text = t.gettext("Bạn muốn tìm nơi nào?")
        if outcome.more:
            text += "\n" + t.gettext(
                "Có nhiều nơi trùng tên. Nếu không thấy nơi của bạn, hãy thêm tên huyện cũ, ví dụ: «{example}»."
            ).format(example="Hòa Bình, Văn Quan")
        await message.reply_text(text, reply_markup=choices_markup(outcome.options, t))
    elif isinstance(outcome, District):
        text = t.gettext(
            "ℹ️ {district} cũ nay thuộc các xã, phường: {names}. Hãy gõ tên xã, phường cũ của bạn "
            "(ví dụ: «{example}») hoặc chọn dưới đây:"
        ).format(
            district=outcome.name,
            names=", ".join(c.name for c in outcome.communes),
            example="xã Đồng Tân, huyện Hữu Lũng",
        )
        options = tuple(Choice(commune=c) for c in outcome.communes)
        await message.reply_text(text, reply_markup=choices_markup(options, t))
    elif isinstance(outcome, NotFound) and outcome.empty:
        await message.reply_text(ask_text(t))
    else:
        await message.reply_text(
            t.gettext(
                "Không tìm thấy xã, phường nào như vậy ở tỉnh {province}. Hãy gõ tên xã, phường, ví dụ: "
                "«Hữu Lũng», hoặc địa chỉ cũ, ví dụ: «xã Đồng Tân, huyện Hữu Lũng». Gõ /help để xem hướng dẫn."
            ).format(province=came.services.centres.directory.province.name)
        )


def ask_text(t: Translator) -> str:
    """The prompt for a centre search."""
    return t.gettext(
        "Gõ tên xã, phường (ví dụ: Hữu Lũng) hoặc địa chỉ cũ (ví dụ: xã Đồng Tân, huyện Hữu Lũng), "
        "hoặc bấm «{button}» để tìm trung tâm gần bạn."
    ).format(button=t.gettext(menu.LOCATION))


def render_nearest(result: NearestResult, t: Translator) -> str:
    """The nearest centres with distances."""
    lines = []
    if result.outside:
        lines.append(t.gettext("Vị trí bạn gửi nằm ngoài tỉnh {province}.").format(province=result.province))
    lines.append(t.gettext("Các trung tâm gần bạn nhất:"))
    for index, item in enumerate(result.items, start=1):
        mark = " *" if item.approximate else ""
        lines.append(f"{index}. {item.commune.name} — {t.number(item.km, 1)} km{mark}")
    if any(item.approximate for item in result.items):
        lines.append(t.gettext("* khoảng cách tính đến trung tâm gần đúng của xã."))
    return "\n".join(lines)


async def centre_command(update: Update, context: Ctx) -> None:
    """`/trungtam [text]`: search, or ask what to search for."""
    came = await incoming(update, context)
    if came is None or update.effective_message is None:
        return
    query = command_args(context)
    if not query:
        await update.effective_message.reply_text(ask_text(came.t))
        return
    await answer_outcome(update.effective_message, came, came.services.centres.search(query))


async def centre_text(update: Update, context: Ctx) -> None:
    """Free text: treat it as a commune name or an old address."""
    came = await incoming(update, context)
    if came is None or update.effective_message is None:
        return
    await answer_outcome(update.effective_message, came, came.services.centres.search(came.text))


async def centre_location(update: Update, context: Ctx) -> None:
    """A shared location: the nearest centres, with a button for each."""
    came = await incoming(update, context)
    message = update.effective_message
    if came is None or message is None or message.location is None:
        return
    result = await came.services.centres.nearest(message.location.latitude, message.location.longitude)
    options = tuple(Choice(commune=item.commune) for item in result.items)
    await message.reply_text(render_nearest(result, came.t), reply_markup=choices_markup(options, came.t))


async def centre_choice(update: Update, context: Ctx) -> None:
    """A `ct:` button: a chosen centre or its map pin (forged or stale data gets a polite note)."""
    query = update.callback_query
    came = await incoming(update, context)
    if query is None or came is None:
        return
    kind, _, value = (query.data or "").removeprefix(PREFIX).partition(":")
    centres = came.services.centres
    if kind == "v" and isinstance(query.message, Message) and await send_pin(query.message, came, value):
        await query.answer()
        return
    outcome: SearchOutcome | None = None
    if kind == "c" and centres.commune(value) is not None:
        outcome = Found(centres.commune(value))  # type: ignore[arg-type]
    elif kind == "o" and value.isascii() and value.isdigit():
        outcome = centres.old_unit(int(value))
    if outcome is None or not isinstance(query.message, Message):
        await query.answer(came.t.gettext("Nút này không còn dùng được. Hãy tìm lại."), show_alert=False)
        return
    await query.answer()
    await answer_outcome(query.message, came, outcome)


FIELD_NAMES = {
    "address": N_("địa chỉ"),
    "phone": N_("điện thoại"),
    "opening_hours": N_("giờ làm việc"),
    "desk_staff": N_("số cán bộ một cửa"),
}


def update_usage(t: Translator) -> str:
    """How an official changes their centre's details."""
    return "\n".join(
        [
            t.gettext("Cập nhật thông tin trung tâm của xã, phường bạn:"),
            t.gettext("/capnhat diachi Số 1 đường Trần Hưng Đạo, thôn Phố Mới"),
            t.gettext("/capnhat dienthoai 0205 3825 001"),
            t.gettext("/capnhat gio Thứ Hai – Thứ Sáu, 7:30–11:30, 13:30–17:00"),
            t.gettext("/capnhat canbo 3 (số cán bộ tại bộ phận một cửa)"),
        ]
    )


async def update_centre(update: Update, context: Ctx) -> None:
    """`/capnhat FIELD VALUE`: an official changes one detail of their own commune's centre (anyone else is
    answered as for an unknown command)."""
    came = await incoming(update, context)
    message = update.effective_message
    if came is None or message is None:
        return
    access = await came.services.roles.access(came.person)
    if access.role is not Role.OFFICIAL or access.commune_code is None:
        await unrecognised(update, context)
        return
    await message.reply_text(await apply_update(came, access.commune_code, command_args(context)))


async def apply_update(came: Incoming, commune_code: str, text: str) -> str:
    """`FIELD VALUE` from an official of `commune_code` (Telegram's `/capnhat`, and Zalo's): the change made, or
    the centre as it is with how to change it."""
    t, centres = came.t, came.services.centres
    word, _, rest = text.partition(" ")
    field = EDITABLE.get(fold(word).replace(" ", ""))
    if field is None:
        card = await centres.card(commune_code)
        return (render_card(card, t) + "\n\n" if card else "") + update_usage(t)
    value = detail_value(field, rest)
    if value is None:
        name = t.gettext(FIELD_NAMES[field])
        return t.gettext("Giá trị {field} chưa đúng.").format(field=name) + "\n" + update_usage(t)
    now = came.services.clock().isoformat()
    await centres.update_details(commune_code, {field: value}, actor(came.person), now)
    card = await centres.card(commune_code)
    done = t.gettext("Đã cập nhật {field}.").format(field=t.gettext(FIELD_NAMES[field]))
    return done + ("\n\n" + render_card(card, t) if card else "")


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    """This feature's handlers, in order (free text last)."""
    return [
        CommandHandler(CENTRE.names, centre_command, filters=PRIVATE),
        CommandHandler(UPDATE_CENTRE.names, update_centre, filters=PRIVATE),
        MessageHandler(menu.pressed(menu.CENTRE), menu.asks(ask_text)),
        MessageHandler(PRIVATE & filters.LOCATION, centre_location),
        CallbackQueryHandler(centre_choice, pattern=f"^{PREFIX}"),
        MessageHandler(PRIVATE & filters.TEXT & ~filters.COMMAND, centre_text),
    ]
