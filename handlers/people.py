"""Greeting, help, language, invites, and a polite answer to small talk."""

from __future__ import annotations

import re

from bot.commands import commands_for
from bot.dossiers import CODE_IN_TEXT, loose_code
from bot.i18n import N_, Translator, translator
from bot.roles import INVITE_CODE, Role
from bot.text import fold
from handlers.chat import Option, Replies, Reply, Turn, place
from handlers.menu import key, typed

EXAMPLE = "000.00.37.H37-250804-0012"
ROLE_NAMES = {Role.OFFICIAL: N_("cán bộ {commune}"), Role.LEADER: N_("lãnh đạo tỉnh")}
REFUSALS = {
    "used": N_("Mã mời này đã được dùng. Mỗi mã chỉ dùng được một lần; đề nghị quản trị viên cấp mã mới."),
    "expired": N_("Mã mời này đã hết hạn. Đề nghị quản trị viên cấp mã mới."),
    "revoked": N_("Mã mời này đã bị thu hồi. Đề nghị quản trị viên cấp mã mới."),
    "unknown": N_("Mã mời không đúng. Vui lòng kiểm tra từng ký tự của mã quản trị viên gửi, hoặc đề nghị cấp mã mới."),
    "yours": N_("Đồng chí đã nhận quyền của mã mời này."),
}
# What people write to open a chat or close one (folded). Answered politely, never taken for a place.
GREETINGS = frozenset(
    {"xin chao", "chao", "chao em", "chao ban", "chao bot", "alo", "a lo", "hi", "hello", "hey", "chao buoi sang"}
)
THANKS = frozenset(
    {"cam on", "cam on em", "cam on ban", "cam on nhieu", "xin cam on", "thanks", "thank you", "thank", "tks"}
)
ENGLISH_WORDS = frozenset({"hi", "hello", "hey", "thanks", "thank you", "good morning", "ok thanks"})
ACKS = frozenset({"da", "vang", "ok", "oke", "okay", "uh", "u", "um", "duoc", "dc", "roi", "da vang", "vang a", "da a"})
_POLITE = re.compile(r"(\s+(a|nhe|nha|voi|ban|em|nhieu))+$")
_LEADING = re.compile(r"^((da|vang|ok|oke|u|em|chau)\s+)+")  # "dạ em cảm ơn", "ok rồi", "em chào anh chị"


def role_name(turn: Turn, role: Role, commune_code: str | None) -> str:
    """`cán bộ xã Cai Kinh`, `lãnh đạo tỉnh`."""
    commune = turn.services.centres.commune(commune_code or "")
    return turn.t.gettext(ROLE_NAMES[role]).format(commune=place(commune.name, turn.t) if commune else "")


def greeting(turn: Turn, role: Role) -> str:
    """The greeting, addressing a citizen as Ông/Bà and anyone with a role as đồng chí."""
    province = turn.services.centres.directory.province.name
    if role is Role.CITIZEN:
        text = turn.t.gettext(
            "Kính chào Ông/Bà! Phục Vụ là trợ lý tự động của các Trung tâm Phục vụ hành chính công tỉnh {province}."
        )
    else:
        text = turn.t.gettext(
            "Kính chào đồng chí! Phục Vụ là trợ lý tự động của các Trung tâm Phục vụ hành chính công tỉnh {province}."
        )
    return text.format(province=province)


def help_text(t: Translator, role: Role = Role.CITIZEN) -> str:
    """What the bot does and the commands of the person's role, in their language."""
    lines = [
        t.gettext("Phục Vụ giúp:"),
        t.gettext(
            "• Tra cứu hồ sơ: nhắn mã hồ sơ in trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả, ví dụ {example}, "
            "hoặc gửi ảnh chụp mã QR trên giấy đó."
        ).format(example=EXAMPLE),
        t.gettext("• Theo dõi hồ sơ: sau khi tra cứu, chọn «Theo dõi» để được báo khi hồ sơ thay đổi."),
        t.gettext(
            "• Tìm Trung tâm Phục vụ hành chính công: nhắn tên xã, phường (ví dụ: Hữu Lũng) "
            "hoặc địa chỉ cũ trước năm 2025 (ví dụ: xã Đồng Tân, huyện Hữu Lũng)."
        ),
        t.gettext("• Thủ tục hành chính: hỏi như «làm căn cước cần giấy tờ gì», «lệ phí kết hôn», hoặc /thutuc."),
        "",
        t.gettext("Các lệnh:"),
    ]
    for command in commands_for(role):
        name = command.alias if t.language == "en" else command.name
        lines.append(f"/{name} — {t.gettext(command.description)}")
    return "\n".join(lines)


async def start(turn: Turn, value: str) -> Replies:
    """The greeting with the menu; `/start CODE` (an invite's deep link) uses the invite."""
    await turn.services.people.reachable_again(turn.person)  # a Start button pressed after unblocking the bot
    code = value.split(" ")[0] if value else ""
    if code and INVITE_CODE.fullmatch(code):
        return await redeem(turn, code)
    role = await turn.role()
    if role is not Role.CITIZEN and turn.effects.role_changed is not None:
        await turn.effects.role_changed(turn.person, role)  # the command menu of this version
    return [Reply(greeting(turn, role) + "\n\n" + help_text(turn.t, role), menu=role)]


async def show_menu(turn: Turn, value: str) -> Replies:
    """The main menu alone (`0`, `menu`)."""
    return [Reply(turn.t.gettext("Vui lòng chọn một mục dưới đây."), menu=await turn.role())]


async def show_help(turn: Turn, value: str) -> Replies:
    """What the bot does, with the menu."""
    role = await turn.role()
    return [Reply(help_text(turn.t, role), menu=role)]


async def language(turn: Turn, value: str) -> Replies:
    """Switch to the language named (`vi`, `en`), or to the other one, and remember it."""
    people = turn.services.people
    named = typed(value)  # `/lang tiếng Việt`, `/lang English`
    wanted = named[1] if named is not None and named[0] == "language" else value.strip().lower()[:2]
    if wanted in ("vi", "en"):
        chosen = await people.set_language(turn.person, wanted, turn.now)
    else:
        chosen = await people.toggle_language(turn.person, turn.now)
    turn.t = translator(chosen)
    role = await turn.role()
    if role is not Role.CITIZEN and turn.effects.role_changed is not None:
        await turn.effects.role_changed(turn.person, role)
    return [Reply(turn.t.gettext("Đã chuyển sang tiếng Việt."), menu=role)]


def invite_code(text: str) -> str | None:
    """An invite code typed alone (also as `/start CODE`, as `phucvu invite` prints it), or None. A code has a
    letter and is no dossier code: a long number is not one."""
    word = text.strip().removeprefix("/start").strip().strip(".,;:!?\"'«»")
    dossier = CODE_IN_TEXT.search(word) or loose_code(word)
    if INVITE_CODE.fullmatch(word) and any(char.isalpha() for char in word) and not dossier:
        return word
    return None


async def redeem(turn: Turn, code: str) -> Replies:
    """Use an invite code and say what it gave, or why it gave nothing; an invite that would replace a different
    role the person holds is asked about first (nothing is taken away silently)."""
    roles = turn.services.roles
    replacing = await roles.would_replace(turn.person, code, turn.now)
    if replacing is not None:
        held, role, commune = replacing
        t = turn.t
        text = t.gettext(
            "Đồng chí đang giữ quyền {held}. Mã mời này cấp quyền {new} và sẽ thay quyền hiện tại. Đồng chí có muốn "
            "đổi không?"
        ).format(held=role_name(turn, held.role, held.commune_code), new=role_name(turn, role, commune))
        options = (Option(t.gettext("Đổi quyền"), "invite_use", code), Option(t.gettext("Giữ quyền hiện tại"), "menu"))
        return [Reply(text, options)]
    return await use_invite(turn, code)


async def use_invite(turn: Turn, code: str) -> Replies:
    """Use an invite code (confirmed, or replacing nothing) and say what it gave, or why it gave nothing."""
    roles = turn.services.roles
    result = await roles.redeem(turn.person, code, turn.now)
    if result.outcome == "unknown" and code[0].isalpha():  # a phone's keyboard capitalised the first letter
        result = await roles.redeem(turn.person, code[0].swapcase() + code[1:], turn.now)
    t = turn.t
    if result.role is None:
        return [turn.say(REFUSALS.get(result.outcome, REFUSALS["unknown"]))]
    turn.forget_access()
    lines = [
        t.gettext("Đồng chí đã được cấp quyền {role}.").format(role=role_name(turn, result.role, result.commune_code))
    ]
    if result.role is Role.LEADER:
        lines.append(t.gettext("Đồng chí sẽ nhận tóm tắt mỗi sáng và các cảnh báo khẩn tại đây."))
    if turn.effects.role_changed is not None:
        await turn.effects.role_changed(turn.person, result.role)
    return [Reply("\n".join(lines) + "\n\n" + help_text(t, result.role), menu=result.role)]


def small_talk(text: str) -> str | None:
    """`greeting`, `thanks` or `ack` for what people write to open or close a chat (or an emoji alone)."""
    words = _POLITE.sub("", key(text)).strip()
    words = _LEADING.sub("", words) or words
    if not any(char.isalnum() for char in fold(text)):
        return "ack"
    if words in GREETINGS or any(words.startswith(g + " ") and len(words) <= len(g) + 12 for g in GREETINGS):
        return "greeting"
    if words in THANKS or any(words.startswith(t + " ") and len(words) <= len(t) + 12 for t in THANKS):
        return "thanks"
    if words in ACKS:
        return "ack"
    return None


async def chat(turn: Turn, kind: str) -> Replies:
    """A short polite answer to a greeting, thanks or a word of agreement, with the menu."""
    role = await turn.role()
    if kind == "greeting":
        text = greeting(turn, role)
    elif kind == "thanks":
        text = turn.t.gettext("Phục Vụ rất vui được giúp.")
    else:
        text = turn.t.gettext("Phục Vụ sẵn sàng giúp. Vui lòng chọn một mục dưới đây, hoặc nhắn mã hồ sơ, tên xã.")
    if turn.t.language != "en" and key(turn.incoming.text) in ENGLISH_WORDS:  # someone who may read English
        text += "\n" + turn.t.gettext("For English, send «English».")
    return [Reply(text, menu=role)]
