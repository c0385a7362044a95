"""The one list of chat commands: registered with Telegram, routed by the handlers, documented in the README."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import N_
from bot.roles import Role


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
LANG = Command("lang", "lang", N_("Đổi ngôn ngữ: tiếng Việt / English"))
CENTRE = Command("trungtam", "centre", N_("Tìm Trung tâm Phục vụ hành chính công của xã, phường"))

DOSSIER = Command("hoso", "dossier", N_("Tra cứu hồ sơ theo mã"))
FOLLOW = Command("theodoi", "follow", N_("Các hồ sơ đang theo dõi"))
PROCEDURE = Command("thutuc", "procedure", N_("Thủ tục hành chính: giấy tờ, thời hạn, lệ phí, nơi nộp"))
CANCEL = Command("huy", "cancel", N_("Hủy thao tác đang làm dở"))

COMMANDS: tuple[Command, ...] = (START, DOSSIER, FOLLOW, CENTRE, PROCEDURE, LANG, HELP, CANCEL)

# The commands below are for one role each: anyone else is answered as for an unknown command, and only the
# holders see them in their command menu (`commands_for`, set per chat when the role is given or taken).
UPDATE_CENTRE = Command("capnhat", "update", N_("Cập nhật địa chỉ, điện thoại, giờ làm việc, số cán bộ của trung tâm"))

COMMUNE_DOSSIERS = Command(
    "hosoxa", "commune_dossiers", N_("Hồ sơ của xã: quá hạn, sắp đến hạn; /hosoxa bat hoặc tat: tin buổi sáng")
)
REPORT = Command("baocao", "report", N_("Báo cáo khó khăn về cơ sở vật chất của trung tâm"))
REPORTS = Command("xembaocao", "reports", N_("Danh sách báo cáo: của xã (cán bộ), đang mở (lãnh đạo)"))

DIGEST = Command("tomtat", "digest", N_("Tóm tắt hôm nay; /tomtat TÊN_XÃ cho một xã; tamdung, tieptuc, gio 06:30"))
INVITE = Command("moi", "invite", N_("Tạo mã mời: /moi canbo TÊN_XÃ hoặc /moi lanhdao"))
ROLES = Command("vaitro", "roles", N_("Những người đang giữ quyền, và thu hồi"))

ROLE_COMMANDS: dict[Role, tuple[Command, ...]] = {
    Role.OFFICIAL: (COMMUNE_DOSSIERS, REPORT, REPORTS, UPDATE_CENTRE),
    Role.LEADER: (DIGEST, REPORTS),
    Role.ADMIN: (DIGEST, REPORTS, INVITE, ROLES),
}


def commands_for(role: Role) -> tuple[Command, ...]:
    """Everyone's commands, then the role's own."""
    return COMMANDS + ROLE_COMMANDS.get(role, ())
