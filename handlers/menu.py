"""The main menu of each role, and the words people type for the same places (menu labels in every language,
and the usual Vietnamese and English words), read once for every channel."""

from __future__ import annotations

import functools
import re

from bot.i18n import LANGUAGES, N_, Translator, translator
from bot.roles import Role
from bot.text import fold
from handlers.chat import Option

DOSSIER = N_("📄 Tra cứu hồ sơ")
FOLLOWING = N_("⭐ Hồ sơ theo dõi")
CENTRE = N_("🏢 Tìm trung tâm")
PROCEDURE = N_("📑 Thủ tục hành chính")
LOCATION = N_("📍 Gửi vị trí của tôi")
HELP = N_("❓ Hướng dẫn")
LANGUAGE = N_("🌐 English")
REPORT = N_("📝 Báo cáo khó khăn")
COMMUNE_REPORTS = N_("📋 Báo cáo của xã")
OPEN_REPORTS = N_("📋 Báo cáo đang mở")
DIGEST = N_("📊 Tóm tắt hôm nay")
COMMUNE_DOSSIERS = N_("🗂️ Hồ sơ của xã")

# (label, action, value, request): what each item does.
_CITIZEN = (
    (DOSSIER, "dossier", "", ""),
    (FOLLOWING, "following", "", ""),
    (CENTRE, "centre", "", ""),
    (LOCATION, "", "", "location"),
    (PROCEDURE, "procedure", "", ""),
    (HELP, "help", "", ""),
    (LANGUAGE, "language", "", ""),
)
_OFFICIAL = (
    (REPORT, "report", "", ""),
    (COMMUNE_REPORTS, "reports", "", ""),
    (COMMUNE_DOSSIERS, "commune_dossiers", "", ""),
)
_LEADER = ((DIGEST, "digest", "", ""), (OPEN_REPORTS, "reports", "", ""))
_ROWS = {Role.OFFICIAL: _OFFICIAL, Role.LEADER: _LEADER, Role.ADMIN: _LEADER}


def main_menu(t: Translator, role: Role = Role.CITIZEN) -> tuple[Option, ...]:
    """The role's main menu in the person's language: their own items first, then everyone's."""
    items = (*_ROWS.get(role, ()), *_CITIZEN)
    return tuple(Option(t.gettext(label), action, value, request=request) for label, action, value, request in items)


# Words typed for the same places (folded: no diacritics, lower case, no punctuation at the ends).
WORDS = {
    "menu": "menu",
    "0": "menu",
    "menu chinh": "menu",
    "bat dau": "start",
    "start": "start",
    "huong dan": "help",
    "tro giup": "help",
    "help": "help",
    "tra cuu": "dossier",
    "thu tuc": "procedure",
    "tra cuu ho so": "dossier",
    "ho so": "dossier",
    "look up": "dossier",
    "lookup": "dossier",
    "dossier": "dossier",
    "theo doi": "following",
    "ho so theo doi": "following",
    "ho so dang theo doi": "following",
    "follow": "following",
    "following": "following",
    "followed": "following",
    "trung tam": "centre",
    "tim trung tam": "centre",
    "search": "centre",
    "centre": "centre",
    "center": "centre",
    "english": "language:en",
    "tieng anh": "language:en",
    "tieng viet": "language:vi",
    "vietnamese": "language:vi",
    "bao cao": "report",
    "baocao": "report",
    "bao cao kho khan": "report",
    "report": "report",
    "huy": "cancel",
    "huy thao tac": "cancel",
    "thoat": "cancel",
    "thoi": "cancel",
    "dung lai": "cancel",
    "khong bao cao nua": "cancel",
    "cancel": "cancel",
    "bao cao cua xa": "reports",
    "bao cao dang mo": "reports",
    "xem bao cao": "reports",
    "xembaocao": "reports",
    "reports": "reports",
    "tom tat": "digest",
    "tomtat": "digest",
    "tom tat hom nay": "digest",
    "digest": "digest",
}
_EDGES = re.compile(r"^[^0-9a-z]+|[^0-9a-z]+$")


def key(text: str) -> str:
    """How a typed word is compared: folded, without emoji or punctuation at its ends."""
    return _EDGES.sub("", fold(text))


@functools.cache
def _labels() -> dict[str, str]:
    """Every main-menu label, in every language and as typed without its emoji, to its action."""
    found: dict[str, str] = {}
    for language in LANGUAGES:
        t = translator(language)
        for role in Role:
            for option in main_menu(t, role):
                if option.action:
                    found[key(option.label)] = option.action
    found[key(translator("en").gettext(LANGUAGE))] = "language:vi"  # the English menu names Vietnamese
    found[key(translator("vi").gettext(LANGUAGE))] = "language:en"
    return found


def typed(text: str) -> tuple[str, str] | None:
    """The action (and value) a typed word or menu label stands for, or None."""
    word = key(text)
    found = WORDS.get(word) or _labels().get(word)
    if found is None:
        return None
    action, _, value = found.partition(":")
    return action, value
