"""Admins in chat: `/moi` makes an invite, `/vaitro` lists who holds a role with a choice to revoke each."""

from __future__ import annotations

from bot.roles import Holder, Role, actor, deep_link
from bot.text import fold
from handlers.chat import Option, Replies, Reply, Turn, stale
from handlers.people import role_name

# How the role may be written after /moi (folded: no diacritics, lower case).
ROLE_WORDS = ((Role.LEADER, ("lanhdao", "lanh dao", "leader")), (Role.OFFICIAL, ("canbo", "can bo", "official")))


def parse_invite(args: str) -> tuple[Role | None, str]:
    """`canbo Hữu Lũng` → (official, `Hữu Lũng`); `lãnh đạo` → (leader, ``); anything else → (None, ``)."""
    folded = fold(args)
    for role, words in ROLE_WORDS:
        for word in words:
            if folded == word or folded.startswith(word + " "):
                return role, " ".join(args.split(" ")[word.count(" ") + 1 :])
    return None, ""


async def invite(turn: Turn, value: str) -> Replies:
    """`/moi canbo Hữu Lũng`, `/moi lanhdao`: a one-time code and its link."""
    t, services = turn.t, turn.services
    role, name = parse_invite(value)
    commune: str | None = None
    if role is None:
        return [turn.say("Tạo mã mời: /moi canbo TÊN_XÃ (cán bộ xã) hoặc /moi lanhdao (lãnh đạo tỉnh).")]
    if role is Role.OFFICIAL:
        commune, problem = services.centres.commune_code(name) if name else (None, "")
        if commune is None:
            text = t.gettext("Cán bộ của xã, phường nào? Ví dụ: /moi canbo Hữu Lũng (hoặc mã xã: /moi canbo 06385).")
            return [Reply(f"{problem}\n{text}".strip())]
    made = await services.roles.invite(role, commune, actor(turn.person), turn.now)
    expires = t.moment(made.expires_at.astimezone(services.settings.timezone))
    lines = [
        t.gettext("Mã mời {whom}, dùng một lần, hết hạn {expires}:").format(
            whom=role_name(turn, role, commune), expires=expires
        ),
        made.code,
    ]
    if turn.effects.username:
        lines.append(deep_link(turn.effects.username, made.code))
    lines.append(t.gettext("Trên Zalo, người nhận nhắn mã này cho Phục Vụ."))
    lines.append(t.gettext("Gửi mã này riêng cho đúng người; ai dùng nó trước sẽ nhận quyền."))
    return [Reply("\n".join(lines))]


def roles_view(holders: list[Holder], turn: Turn) -> Reply:
    """The list of role holders, with a choice to revoke each."""
    t = turn.t
    if not holders:
        return turn.say("Chưa ai nhận quyền nào. Tạo mã mời bằng /moi.")
    lines = [t.gettext("Những người đang giữ quyền:")]
    options = []
    for number, holder in enumerate(holders, start=1):
        granted = t.day(holder.granted_at.astimezone(turn.services.settings.timezone))
        lines.append(
            t.gettext("#{number} {role} — {channel} {id}, từ {date}").format(
                number=number,
                role=role_name(turn, holder.role, holder.commune_code),
                channel=holder.person.channel,
                id=holder.person.external_id,
                date=granted,
            )
        )
        label = t.gettext("Thu hồi #{number}").format(number=number)
        options.append(Option(label, "revoke", f"{holder.person_id}:{holder.grant}"))
    return Reply("\n".join(lines), tuple(options), columns=3)


async def listed(turn: Turn, value: str) -> Replies:
    """`/vaitro`: who holds which role."""
    return [roles_view(await turn.services.roles.holders(), turn)]


async def revoke(turn: Turn, value: str) -> Replies:
    """Take away the role an invite gave (`PERSON_ID:INVITE_ID`), then show the list again."""
    numbers = value.split(":")
    if not (len(numbers) == 2 and all(n.isascii() and n.isdigit() and len(n) <= 12 for n in numbers)):
        return stale(turn)
    services = turn.services
    person_id, grant = (int(n) for n in numbers)
    taken = await services.roles.revoke(person_id, actor(turn.person), turn.now, grant)
    if taken is None:
        return [turn.say("Người này không còn giữ quyền nào."), roles_view(await services.roles.holders(), turn)]
    if turn.effects.role_changed is not None:
        await turn.effects.role_changed(taken.person, Role.CITIZEN)
    turn.effects.wake()  # the person is told now
    done = turn.say("Đã thu hồi quyền {role}.", role=role_name(turn, taken.role, taken.commune_code))
    return [done, roles_view(await services.roles.holders(), turn)]
