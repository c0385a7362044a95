"""The one list of chat commands: registered with Telegram, routed by the handlers, documented in the README."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import N_


@dataclass(frozen=True)
class Command:
    """A chat command: its Vietnamese name, its English alias and what it does (a message to translate)."""

    name: str
    alias: str
    description: str

    @property
    def names(self) -> tuple[str, ...]:
        """Both spellings, for routing."""
        return (self.name, self.alias) if self.alias != self.name else (self.name,)


START = Command("start", "start", N_("Bắt đầu và xem menu"))
HELP = Command("help", "help", N_("Hướng dẫn sử dụng"))
LANG = Command("lang", "lang", N_("Đổi ngôn ngữ Tiếng Việt / English"))
CENTRE = Command("trungtam", "centre", N_("Tìm trung tâm phục vụ hành chính công của xã, phường"))

DOSSIER = Command("hoso", "dossier", N_("Tra cứu hồ sơ theo mã"))
FOLLOW = Command("theodoi", "follow", N_("Các hồ sơ bạn đang theo dõi"))

COMMANDS: tuple[Command, ...] = (START, DOSSIER, FOLLOW, CENTRE, LANG, HELP)

# For officials only (their own centre), answered as an unknown command for anyone else.
UPDATE_CENTRE = Command("capnhat", "update", N_("Cập nhật địa chỉ, điện thoại, giờ làm việc, số cán bộ của trung tâm"))

REPORT = Command("baocao", "report", N_("Báo cáo khó khăn về cơ sở vật chất của trung tâm"))
CANCEL = Command("huy", "cancel", N_("Thôi việc đang làm dở"))
REPORTS = Command("xembaocao", "reports", N_("Danh sách báo cáo: của xã (cán bộ), đang mở (lãnh đạo)"))

# For admins only: not in Telegram's public command menu; anyone else is answered as for an unknown command.
INVITE = Command("moi", "invite", N_("Tạo mã mời: /moi canbo TÊN_XÃ hoặc /moi lanhdao"))
ROLES = Command("vaitro", "roles", N_("Những người đang giữ vai trò, và thu hồi"))
ADMIN_COMMANDS: tuple[Command, ...] = (INVITE, ROLES)
