"""Citizens rate a returned dossier: asked once in the follow-up that says the result was returned, or chosen from
the lookup of a returned dossier; «Không hài lòng» then asks what went wrong and for an optional comment."""

from __future__ import annotations

from bot.dossiers import code_key
from bot.i18n import N_, Translator, match
from bot.ratings import REASONS, SCORES
from bot.text import fold
from handlers.chat import Option, Replies, Reply, Turn, stale

AWAITING = "comment:"  # the next message is a comment on the rating of a dossier
REASON = "reason:"  # the next message says what went wrong (a reason's name, or in the person's own words)
NO_COMMENT = frozenset({"khong", "khong co", "khong a", "bo qua", "thoi", "skip", "no", "none"})
THANKS = N_("Phục Vụ cảm ơn Ông/Bà đã đánh giá. Ý kiến được gửi tới Trung tâm để phục vụ tốt hơn.")
QUESTION = N_("Ông/Bà có hài lòng với việc giải quyết hồ sơ {code} không?")


def score_options(key: str, t: Translator) -> tuple[Option, ...]:
    """The three answers, best first."""
    return tuple(Option(t.gettext(name), "rate", f"{key}:{score}") for score, name in SCORES.items())


def question(code: str, t: Translator) -> Reply:
    """The question, with its answers."""
    return Reply(t.gettext(QUESTION).format(code=code), score_options(code_key(code), t))


def rate_option(code: str, t: Translator) -> Option:
    """A choice that asks the question (under the lookup of a returned dossier)."""
    return Option(t.gettext("📝 Đánh giá"), "rate", code_key(code))


async def rate(turn: Turn, value: str) -> Replies:
    """`KEY`: ask the question; `KEY:SCORE`: keep the answer (and, for «Không hài lòng», ask what went wrong)."""
    key, _, score = value.partition(":")
    ratings, t = turn.services.ratings, turn.t
    if not score:
        dossier = await ratings.returned(turn.person, key, turn.now)
        return [question(dossier.code, t)] if dossier else stale(turn)
    rated = await ratings.rate(turn.person, key, int(score) if score.isascii() and score.isdigit() else 0, turn.now)
    if rated.outcome == "missing" or rated.dossier is None:
        return stale(turn)
    if rated.outcome == "closed":
        return [turn.say("Đánh giá chỉ thay đổi được trong 7 ngày kể từ khi Ông/Bà đánh giá.")]
    if score != "1":
        return [turn.say(THANKS)]
    # The reason by its place in the list: a choice's data stays within Telegram's 64 bytes with the longest keys.
    options = tuple(Option(t.gettext(name), "rate_why", f"{key}:{n}") for n, name in enumerate(REASONS.values()))
    await turn.services.chat.expect(turn.person, REASON + key, turn.now)
    return [Reply(t.gettext("Ông/Bà chưa hài lòng về điều gì?"), options)]


async def why(turn: Turn, value: str) -> Replies:
    """What went wrong (`KEY:N`, the Nth reason); then an optional comment as the next message."""
    key, _, number = value.partition(":")
    reasons = list(REASONS)
    reason = reasons[int(number)] if number.isascii() and number.isdigit() and int(number) < len(reasons) else ""
    if not reason or not await turn.services.ratings.explain(turn.person, key, turn.now, reason=reason):
        return stale(turn)
    await turn.services.chat.expect(turn.person, AWAITING + key, turn.now)
    skip = Option(turn.t.gettext("⏭️ Bỏ qua"), "cancel")
    text = turn.t.gettext("Ông/Bà có góp ý thêm không? Vui lòng nhắn góp ý trong một tin nhắn, hoặc chọn «Bỏ qua».")
    return [Reply(text, (skip,))]


async def comment(turn: Turn, key: str, text: str) -> Replies | None:
    """The comment after «Không hài lòng» («không», «bỏ qua»: none); None when the rating takes none any more."""
    await turn.services.chat.expect(turn.person, "", turn.now)
    if fold(text) in NO_COMMENT:
        return [turn.say(THANKS)]
    if not await turn.services.ratings.explain(turn.person, key, turn.now, comment=text):
        return None
    return [turn.say("Phục Vụ cảm ơn Ông/Bà đã góp ý. Ý kiến được gửi tới Trung tâm để phục vụ tốt hơn.")]


async def reason(turn: Turn, key: str, text: str) -> Replies | None:
    """What went wrong, typed: a reason's name, or the person's own words (another reason, with them as the
    comment)."""
    chosen = match(text, REASONS)
    if chosen is not None:
        return await why(turn, f"{key}:{list(REASONS).index(chosen)}")
    if not await turn.services.ratings.explain(turn.person, key, turn.now, reason="other"):
        return None
    return await comment(turn, key, text)


def awaited(awaiting: str) -> tuple[str, str] | None:
    """What the next message is about a rating (`comment` or `reason`), and of which dossier."""
    for prefix, kind in ((AWAITING, "comment"), (REASON, "reason")):
        if awaiting.startswith(prefix):
            return kind, awaiting.removeprefix(prefix)
    return None
