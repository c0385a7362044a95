"""Citizens rate the service a returned dossier got (Decision 766/QĐ-TTg): very satisfied, satisfied, or not — and
then what went wrong and a comment. One rating per person and dossier, which they may change for 7 days."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.dossiers import LookupLimiter, from_sql_time, to_sql_time
from bot.i18n import N_
from bot.people import Person
from bot.report_export import safe_cell
from storage.dossiers import DossiersRepo, StoredDossier
from storage.people import PeopleRepo
from storage.ratings import RatingsRepo, StoredRating

RETURNED = 10
CHANGEABLE = timedelta(days=7)
MAX_COMMENT = 1000
# Scores as the national satisfaction survey names them, best first.
SCORES = {3: N_("Rất hài lòng"), 2: N_("Hài lòng"), 1: N_("Không hài lòng")}
SCORE_KEYS = {3: "rat_hai_long", 2: "hai_long", 1: "khong_hai_long"}
REASONS = {
    "time": N_("Thời gian giải quyết"),
    "attitude": N_("Thái độ phục vụ"),
    "trips": N_("Số lần đi lại"),
    "procedure": N_("Thủ tục, giấy tờ"),
    "other": N_("Lý do khác"),
}


@dataclass(frozen=True)
class Rated:
    """What became of a rating: `saved`, `changed`, `closed` (rated more than 7 days ago), or `missing` (no returned
    dossier of that code); and the dossier rated."""

    outcome: str
    dossier: StoredDossier | None = None


class RatingService:
    """Ratings, kept with the commune and the procedure."""

    def __init__(self, repo: RatingsRepo, dossiers: DossiersRepo, people: PeopleRepo, limiter: LookupLimiter) -> None:
        self.repo = repo
        self.dossiers = dossiers
        self.people = people
        self.limiter = limiter  # the lookups' own: a rating's code is looked up too

    async def returned(self, person: Person, key: str, now: datetime) -> StoredDossier | None:
        """The dossier of a code key, if its result was returned (only those are rated). Whoever holds the code,
        printed on the applicant's receipt, may rate it, once; every try counts as a lookup, so that codes cannot
        be guessed through ratings either (`LookupLimiter`)."""
        if self.limiter.blocked_until(person, now) is not None:
            return None
        dossier = await self.dossiers.by_key(key) if key.isascii() and key.isalnum() else None
        self.limiter.record(person, now, found=dossier is not None)
        return dossier if dossier is not None and dossier.status == RETURNED else None

    async def rate(self, person: Person, key: str, score: int, now: datetime) -> Rated:
        """Rate a returned dossier, or change one's rating within 7 days."""
        dossier = await self.returned(person, key, now)
        if dossier is None or score not in SCORES:
            return Rated("missing")
        person_id = await self.people.ensure(person.channel, person.external_id, now.isoformat())
        before = await self.repo.get(person_id, dossier.id)
        if before is not None and now - from_sql_time(before.rated_at) > CHANGEABLE:
            return Rated("closed", dossier)
        await self.repo.save(
            person_id, dossier.id, dossier.commune_code, dossier.procedure_name, score, to_sql_time(now)
        )
        return Rated("saved" if before is None else "changed", dossier)

    async def explain(
        self, person: Person, key: str, now: datetime, *, reason: str | None = None, comment: str | None = None
    ) -> bool:
        """Add what went wrong, or a comment, to the person's rating of a dossier; whether it had one to add to."""
        dossier = await self.returned(person, key, now)
        person_id = await self.people.id_of(person.channel, person.external_id)
        if dossier is None or person_id is None or (reason is not None and reason not in REASONS):
            return False
        before = await self.repo.get(person_id, dossier.id)
        if before is None or now - from_sql_time(before.rated_at) > CHANGEABLE:
            return False
        reasons = None
        if reason is not None:
            reasons = ",".join(sorted({*filter(None, before.reasons.split(",")), reason}))
        text = comment.strip()[:MAX_COMMENT] if comment is not None else None
        return await self.repo.explain(person_id, dossier.id, reasons, text, to_sql_time(now))

    async def export(self) -> list[StoredRating]:
        """Every rating, without who gave it."""
        return await self.repo.export()


COLUMNS = ("ma_xa", "ten_xa", "thu_tuc", "muc_do", "ly_do", "gop_y", "ngay_danh_gia", "ngay_cap_nhat")


def write_csv(ratings: Iterable[StoredRating], commune_name: Callable[[str], str], tz: ZoneInfo, out: Any) -> int:
    """Ratings as CSV with Vietnamese columns, no rater's name or id; times in the province's zone. How many."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    for rating in ratings:
        local = [from_sql_time(moment).astimezone(tz).isoformat() for moment in (rating.rated_at, rating.changed_at)]
        writer.writerow(
            [
                rating.commune_code,
                safe_cell(commune_name(rating.commune_code)),
                safe_cell(rating.procedure_name),
                SCORE_KEYS[rating.score],
                rating.reasons,
                safe_cell(rating.comment),
                *local,
            ]
        )
        count += 1
    return count
