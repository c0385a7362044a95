"""Admins in chat: `/moi` makes an invite, `/vaitro` lists who holds a role, a page at a time and filtered by role
or commune, with a choice to revoke each."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import N_
from bot.roles import Holder, Role, actor, deep_link
from bot.text import fold
from handlers.chat import Option, Replies, Reply, Turn, echo, place, stale
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


HEADINGS = {Role.LEADER: N_("Lãnh đạo tỉnh đang giữ quyền:"), Role.OFFICIAL: N_("Cán bộ xã đang giữ quyền:")}
PAGE = 10  # holders a page of /vaitro lists: one official per commune and five leaders made 4,160 characters


@dataclass(frozen=True)
class Listing:
    """Which holders an admin is looking at: a role, a commune, a page (1-based)."""

    role: Role | None = None
    commune: str | None = None
    page: int = 1

    def value(self, page: int | None = None) -> str:
        """The option value that shows this listing (at `page`): `=ROLE:COMMUNE:PAGE`, never a typed text."""
        return f"={self.role.value if self.role else ''}:{self.commune or ''}:{page or self.page}"

    @staticmethod
    def read(value: str) -> Listing | None:
        """The listing an option value names; None for a value that is not one (a forged or old button)."""
        parts = value[1:].split(":")
        if len(parts) != 3 or not (parts[2].isascii() and parts[2].isdigit() and len(parts[2]) <= 4):
            return None
        role = {"": None, Role.LEADER.value: Role.LEADER, Role.OFFICIAL.value: Role.OFFICIAL}.get(parts[0], Role.ADMIN)
        if role is Role.ADMIN or not (parts[1] == "" or (parts[1].isascii() and parts[1].isdigit())):
            return None
        return Listing(role, parts[1] or None, max(1, int(parts[2])))


def roles_view(holders: list[Holder], turn: Turn, listing: Listing = Listing()) -> Reply:
    """One page of the role holders the listing selects, with a choice to revoke each, pages and filters."""
    t = turn.t
    chosen = [
        holder
        for holder in holders
        if (listing.role is None or holder.role is listing.role)
        and (listing.commune is None or holder.commune_code == listing.commune)
    ]
    if not holders:
        return turn.say("Chưa ai nhận quyền nào. Tạo mã mời bằng /moi.")
    pages = max(1, -(-len(chosen) // PAGE))
    page = min(listing.page, pages)
    shown = chosen[(page - 1) * PAGE : page * PAGE]
    if listing.commune is not None:
        heading = t.gettext("Những người giữ quyền ở {commune}:").format(commune=role_place(turn, listing.commune))
    elif listing.role is not None:
        heading = t.gettext(HEADINGS[listing.role])
    else:
        heading = t.gettext("Những người đang giữ quyền:")
    lines = [heading]
    if pages > 1:
        lines[0] += " " + t.gettext("trang {page}/{pages} ({count} người)").format(
            page=page, pages=pages, count=len(chosen)
        )
    if not shown:
        lines.append(t.gettext("Không có ai."))
    options = []
    for number, holder in enumerate(shown, start=(page - 1) * PAGE + 1):
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
    if page > 1:
        options.append(Option(t.gettext("‹ Trang trước"), "roles", listing.value(page - 1)))
    if page < pages:
        options.append(Option(t.gettext("Trang sau ›"), "roles", listing.value(page + 1)))
    if len(holders) > PAGE:  # more than a page: filters
        if listing.role is not Role.LEADER and listing.commune is None:
            options.append(Option(t.gettext("Chỉ lãnh đạo tỉnh"), "roles", Listing(Role.LEADER).value()))
        if listing.role is not Role.OFFICIAL and listing.commune is None:
            options.append(Option(t.gettext("Chỉ cán bộ xã"), "roles", Listing(Role.OFFICIAL).value()))
        lines.append(t.gettext("Lọc theo xã, phường: /vaitro TÊN_XÃ (ví dụ /vaitro Hữu Lũng)."))
    if listing != Listing(page=listing.page):
        options.append(Option(t.gettext("Tất cả"), "roles", Listing().value()))
    return Reply("\n".join(lines), tuple(options), columns=3)


def role_place(turn: Turn, commune_code: str) -> str:
    """`xã Hữu Lũng`: the commune a listing is filtered by."""
    commune = turn.services.centres.commune(commune_code)
    return place(commune.name, turn.t) if commune else commune_code


async def listed(turn: Turn, value: str) -> Replies:
    """`/vaitro`: who holds which role, a page at a time; `/vaitro lãnh đạo`, `/vaitro cán bộ`, `/vaitro Hữu Lũng`
    (typed) or a page or filter chosen from the list."""
    holders = await turn.services.roles.holders()
    text = value.strip()
    if text.startswith("="):
        listing = Listing.read(text)
        return [roles_view(holders, turn, listing)] if listing else stale(turn)
    if not text:
        return [roles_view(holders, turn)]
    role, rest = parse_invite(text)
    if role is not None and not rest:
        return [roles_view(holders, turn, Listing(role))]
    code, _ = turn.services.centres.commune_code(text)
    if code is None:
        reply = turn.say(
            "Không xác định được xã, phường «{text}». Ví dụ: /vaitro Hữu Lũng, /vaitro lãnh đạo.", text=echo(text)
        )
        return [reply, roles_view(holders, turn)]
    return [roles_view(holders, turn, Listing(commune=code))]


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
