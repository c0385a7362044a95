"""Finding a commune's public administrative service centre: by name, by pre-2025 address, by location.

The directory is built once from the registry (65 names and ~200 old ones for Lạng Sơn) and answers name
queries in memory; centre details and positions are read from storage when an answer is shown.
"""

from __future__ import annotations

import csv
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz, process

from bot.text import clean, fold, name_key, normalize, strip_unit_prefix
from storage.centres import DETAIL_FIELDS, CentreDetails, CentresRepo, Commune, OldUnit, Province

MAX_QUERY = 120
MAX_CHOICES = 3
NEAREST = 3
# Fuzzy scores (0–100, word order ignored): from which a name is a candidate, and from which one clear
# winner (ahead of the next by ACCEPT_GAP) is taken as meant. Partial matches (`son`) only ever offer choices.
CANDIDATE_SCORE = 75.0
ACCEPT_SCORE = 85.0
ACCEPT_GAP = 8.0
# How long centre details read from the database are reused, in seconds.
DETAILS_TTL = 60.0
# A point this far from every centre is outside the province, even inside its bounding box.
OUTSIDE_KM = 25.0


@dataclass(frozen=True)
class Found:
    """One centre answers the query; `via_old` is the pre-2025 unit the person named, if any."""

    commune: Commune
    via_old: OldUnit | None = None


@dataclass(frozen=True)
class Split:
    """The pre-2025 unit named went to several 2025 units (default first)."""

    old: OldUnit
    communes: tuple[Commune, ...]


@dataclass(frozen=True)
class Choice:
    """One button of a choice: a 2025 commune, or a pre-2025 unit (then `old` is set)."""

    commune: Commune | None = None
    old: OldUnit | None = None


@dataclass(frozen=True)
class Choices:
    """Several good matches: the person picks one (`more` when there were more than could be shown)."""

    options: tuple[Choice, ...]
    more: bool = False


@dataclass(frozen=True)
class District:
    """An old district (or city) was named: the 2025 units that its communes went to."""

    name: str
    communes: tuple[Commune, ...]


@dataclass(frozen=True)
class NotFound:
    """Nothing close; `empty` when the text had nothing to search for (emoji, punctuation)."""

    empty: bool = False


SearchOutcome = Found | Split | Choices | District | NotFound


@dataclass(frozen=True)
class CentreCard:
    """Everything shown about one centre; while the commune has given neither its centre's address nor its
    phone, what to turn to instead (`fallback`)."""

    commune: Commune
    details: CentreDetails
    lat: float | None
    lon: float | None
    approximate: bool
    fallback: Fallback | None = None


@dataclass(frozen=True)
class Fallback:
    """Whom a citizen can reach while their commune's centre details are empty: the province (its name, `Lạng
    Sơn`), its own centre (details all None until imported) and its hotline ('' when not set)."""

    province: str
    centre: CentreDetails
    hotline: str

    @property
    def empty(self) -> bool:
        """Nothing to say."""
        return not (self.hotline or self.centre.address or self.centre.phone)


@dataclass(frozen=True)
class Nearby:
    """A centre and its distance from the person, in km."""

    commune: Commune
    km: float
    approximate: bool


@dataclass(frozen=True)
class NearestResult:
    """The nearest centres, and whether the point shared lies outside the province."""

    items: tuple[Nearby, ...]
    outside: bool
    province: str


@dataclass(frozen=True)
class ImportReport:
    """What `import-centres` did: rows applied, and rejected rows with their line and reason."""

    updated: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, a)))


_UNIT_KINDS = (
    ("thi tran", "thi tran"),
    ("tt", "thi tran"),
    ("phuong", "phuong"),
    ("p", "phuong"),
    ("xa", "xa"),
    ("x", "xa"),
)
_DISTRICT_WORDS = ("thanh pho", "thi xa", "huyen", "tp", "tx")
_DISTRICT_INLINE = re.compile(r"\s(?:huyen|thanh pho|tp|thi xa|tx)\s")
_EXACT_PREFIX = re.compile(r"^(?:thị trấn|phường|xã|tt|x|p)[.\s]+", re.IGNORECASE)


@dataclass(frozen=True)
class Query:
    """What a search text says: a unit's name (folded, without its kind), the kind typed, the name with its
    diacritics (to tell `Tân Thanh` from `Tân Thành`), and an old district's name if one was given."""

    name: str
    kind: str | None = None
    exact: str | None = None
    district: str | None = None


def _kind_of(folded: str) -> tuple[str | None, str]:
    """(kind, rest) of a folded part that starts with a unit kind (`xa dong tan` → ('xa', 'dong tan'))."""
    for prefix, kind in _UNIT_KINDS:
        if folded.startswith(prefix + " ") and len(folded) > len(prefix) + 1:
            return kind, folded[len(prefix) + 1 :]
    return None, folded


def _district_of(folded: str) -> str | None:
    """The district name of a folded part that starts with a district kind (`huyen huu lung` → 'huu lung')."""
    for word in _DISTRICT_WORDS:
        if folded.startswith(word + " ") and len(folded) > len(word) + 1:
            return folded[len(word) + 1 :]
    return None


# Words around a place name in a question (folded word runs), taken off its start and its end:
# `UBND xã Hữu Lũng ở đâu`, `trung tâm hành chính công Cai Kinh`, `tôi ở xã Đồng Tân cũ`.
_LEADING = tuple(
    phrase.split()
    for phrase in (
        "cho toi hoi",
        "cho hoi",
        "xin hoi",
        "hoi",
        "toi o",
        "nha toi o",
        "toi song o",
        "em o",
        "minh o",
        "o",
        "tai",
        "dia chi",
        "so dien thoai",
        "dien thoai",
        "sdt",
        "gio lam viec",
        "lich lam viec",
        "thoi gian lam viec",
        "uy ban nhan dan",
        "ubnd",
        "trung tam phuc vu hanh chinh cong",
        "trung tam hanh chinh cong",
        "trung tam phuc vu",
        "trung tam hcc",
        "trung tam",
        "bo phan mot cua",
        "mot cua",
        "cua",
        "where is the",
        "where is",
        "centre of",
        "center of",
        "centre",
        "center",
    )
)
_TRAILING = tuple(
    phrase.split()
    for phrase in (
        "o dau",
        "nam o dau",
        "la o dau",
        "o cho nao",
        "the nao",
        "cu",
        "a",
        "vay",
        "nhi",
        "where",
        "centre",
        "center",
        "trung tam",
    )
)
# Words of everyday requests that a commune's name is never a misspelling of (procedures, greetings): a search
# takes them only as they are, never as a close match of another word (`khai sinh` is no `Minh Khai`).
COMMON_WORDS = frozenset(
    [
        "khai",
        "sinh",
        "tu",
        "ket",
        "hon",
        "can",
        "cuoc",
        "cccd",
        "cmnd",
        "ho",
        "khau",
        "so",
        "giay",
        "to",
        "le",
        "phi",
        "tuc",
        "dang",
        "ky",
        "chung",
        "thuc",
        "xac",
        "nhan",
        "dat",
        "nha",
        "cap",
        "doi",
        "lam",
        "the",
        "bao",
        "hiem",
        "xe",
        "cam",
        "on",
        "chao",
        "xin",
        "hi",
        "hello",
        "alo",
        "ok",
        "oke",
        "da",
        "vang",
        "cong",
        "dan",
        "thue",
    ]
)


def _trim(words: list[str], phrases: tuple[list[str], ...], at_start: bool) -> list[str]:
    """Take filler phrases off one end of a question, as long as a word is left."""
    folded = [fold(word) for word in words]
    changed = True
    while changed:
        changed = False
        for phrase in phrases:
            n = len(phrase)
            part = folded[:n] if at_start else folded[-n:]
            if len(folded) > n and part == phrase:
                words, folded = (words[n:], folded[n:]) if at_start else (words[:-n], folded[:-n])
                changed = True
    return words


def without_question(text: str) -> str:
    """The place a question is about: `UBND xã Hữu Lũng ở đâu?` → `xã Hữu Lũng` (commas kept between the rest)."""
    words = clean(text).replace("?", " ").split()
    words = _trim(_trim(words, _LEADING, at_start=True), _TRAILING, at_start=False)
    return " ".join(words)


def looks_like_place(text: str) -> bool:
    """Whether text that named no place could still be meant as one (a few words, none of an everyday request):
    `Hà Nội` is a place not in the province; `làm căn cước cần giấy tờ gì` is a question of another kind."""
    words = fold(without_question(text)).split()
    return 0 < len(words) <= 5 and not any(word in COMMON_WORDS for word in words)


def exact_key(name: str) -> str:
    """A name with its diacritics, lower case, without its kind: `Xã Tân Thanh` → `tân thanh`."""
    return _EXACT_PREFIX.sub("", normalize(name).lower()).strip()


def parse_query(text: str, province_key: str = "") -> Query:
    """Read free text such as `Quý Hoà`, `xã Đồng Tân, huyện Hữu Lũng` or a whole address
    (`thôn Bản Đon, xã Mai Pha, TP Lạng Sơn, tỉnh Lạng Sơn`)."""
    raw_parts = [part.strip() for part in re.split(r"[,;]", clean(text)[:MAX_QUERY])]
    parts = [(raw, fold(raw)) for raw in raw_parts if fold(raw)]
    if province_key:
        parts = [(raw, folded.removesuffix(" tinh " + province_key)) for raw, folded in parts]
        parts = [p for i, p in enumerate(parts) if i == 0 or p[1] not in (province_key, "tinh " + province_key)]
    if not parts:
        return Query("")
    districts = [(i, d) for i, (_, folded) in enumerate(parts) if (d := _district_of(folded)) is not None]
    kinded = [i for i, (_, folded) in enumerate(parts) if _kind_of(folded)[0] is not None]
    name_at = kinded[0] if kinded else next((i for i in range(len(parts)) if i not in dict(districts)), None)
    if name_at is None:  # only a district: `huyện Văn Quan`
        return Query("", district=districts[0][1])
    raw, folded = parts[name_at]
    kind, name = _kind_of(folded)
    district = next((d for i, d in districts if i > name_at), None)
    if district is None and name_at + 1 < len(parts) and name_at + 1 not in dict(districts):
        district = strip_unit_prefix(parts[name_at + 1][1])
    exact: str | None = exact_key(raw)
    inline = _DISTRICT_INLINE.search(" " + name + " ")
    if district is None and inline:  # `xã Đồng Tân huyện Hữu Lũng`
        cut = inline.start()
        name, district, exact = name[:cut].strip(), _district_of(name[cut:].strip()), None
    return Query(name, kind, exact, district)


class CentreDirectory:
    """An in-memory index of a province's 2025 and pre-2025 unit names."""

    def __init__(self, province: Province, communes: Sequence[Commune], old_units: Sequence[OldUnit]) -> None:
        self.province = province
        self.communes = {c.code: c for c in communes}
        self.old_units = {u.id: u for u in old_units}
        self._new_list = list(communes)
        self._old_list = list(old_units)
        # One list of every name for fuzzy matching: words sorted (so word order does not count), 2025 first.
        self._choices = [Choice(commune=c) for c in communes] + [Choice(old=u) for u in old_units]
        self._sorted_keys = [_sorted_words(choice_name_key(c)) for c in self._choices]
        # Every prefix (2+ letters) of every word of every name → the names having it, for `son` → `… Sơn`.
        self._prefixes: dict[str, set[int]] = {}
        for index, key in enumerate(self._sorted_keys):
            for word in key.split():
                for end in range(2, len(word) + 1):
                    self._prefixes.setdefault(word[:end], set()).add(index)
        # Names typed without spaces (`dongdang`, `huulung`): 2025 names first.
        self._run_together: dict[str, Choice] = {}
        for choice in reversed(self._choices):
            self._run_together[choice_name_key(choice).replace(" ", "")] = choice
        self._district_keys = sorted({u.district_key for u in old_units})
        self._old_kinds = {u.id: _kind_of(fold(u.name))[0] for u in old_units}
        self._province_key = fold(province.name)

    def search(self, text: str) -> SearchOutcome:
        """Match free text as typed, else without the words of a question around it (`UBND xã … ở đâu`; as typed
        first, since such words are also names' words: `Hội Hoan`, `Hòa Cư`)."""
        outcome = self._search(text)
        if isinstance(outcome, NotFound) and not outcome.empty:
            trimmed = without_question(text)
            if trimmed != clean(text):
                again = self._search(trimmed)
                return outcome if isinstance(again, NotFound) else again
        return outcome

    def _search(self, text: str) -> SearchOutcome:
        """Match free text: an old unit within the district given, else a 2025 name (the kind typed and the
        diacritics deciding between namesakes), else pre-2025 names, an old district, and close names."""
        query = parse_query(text, self._province_key)
        district = self._district(query.district) if query.district else None
        if not query.name:
            return self._district_outcome(district) if district else NotFound(empty=query.district is None)
        if district is not None:
            outcome = self._search_old(query, district)
            if outcome is not None:
                return outcome
        new = [c for c in self._new_list if c.name_key == query.name and query.kind in (None, c.kind)]
        old = [u for u in self._old_list if u.name_key == query.name and query.kind in (None, self._old_kinds[u.id])]
        if query.exact and any(
            exact_key(name) == query.exact for name in [*(c.name for c in new), *(u.name for u in old)]
        ):
            new = [c for c in new if exact_key(c.name) == query.exact]
            old = [u for u in old if exact_key(u.name) == query.exact]
        if len(new) == 1:
            namesakes = [u for u in old if new[0].code not in u.successors]
            if not namesakes:
                return Found(new[0])
            options = (Choice(commune=new[0]), *(Choice(old=u) for u in namesakes))
            return Choices(options[:MAX_CHOICES], more=len(options) > MAX_CHOICES)
        if old:
            return self._old_outcome(old)
        if query.kind is None and query.name in self._district_keys:
            return self._district_outcome(query.name)
        together = self._run_together.get(query.name) if " " not in query.name else None
        if together is not None:
            return Found(together.commune) if together.commune else self.resolve_old(together.old)  # type: ignore[arg-type]
        outcome = self._search_run_on(query.name)
        if outcome is None and query.name.endswith(" " + self._province_key):  # `Văn Quan Lạng Sơn`
            outcome = self.search(query.name.removesuffix(" " + self._province_key))
            outcome = None if isinstance(outcome, NotFound) else outcome
        return outcome or self._fuzzy(query.name)

    def _old_outcome(self, units: Sequence[OldUnit]) -> SearchOutcome:
        if len(units) == 1:
            return self.resolve_old(units[0])
        return Choices(tuple(Choice(old=u) for u in units[:MAX_CHOICES]), more=len(units) > MAX_CHOICES)

    def _district_outcome(self, district: str) -> District:
        units = [u for u in self._old_list if u.district_key == district]
        codes = {code for u in units for code in u.successors}
        communes = tuple(sorted((self.communes[c] for c in codes), key=lambda c: c.name_key))
        return District(units[0].district_name, communes)

    def _search_run_on(self, name: str) -> SearchOutcome | None:
        """`dong tan huu lung`: an old unit's name followed by its district's, with nothing between."""
        words = name.split()
        for cut in range(1, len(words)):
            district = " ".join(words[cut:])
            if district in self._district_keys:
                outcome = self._search_old(Query(" ".join(words[:cut])), district, fuzzy=False)
                if outcome is not None:
                    return outcome
        return None

    def _district(self, district: str) -> str | None:
        match = process.extractOne(district, self._district_keys, scorer=fuzz.ratio, score_cutoff=80)
        return str(match[0]) if match else None

    def _search_old(self, query: Query, district: str, *, fuzzy: bool = True) -> SearchOutcome | None:
        pool = [u for u in self._old_list if u.district_key == district]
        exact = [u for u in pool if u.name_key == query.name and query.kind in (None, self._old_kinds[u.id])]
        if not exact and fuzzy and pool:
            scored = process.extract(
                query.name, [u.name_key for u in pool], scorer=fuzz.ratio, score_cutoff=ACCEPT_SCORE, limit=2
            )
            exact = [pool[index] for _, _, index in scored]
        return self._old_outcome(exact) if exact else None

    def resolve_old(self, unit: OldUnit) -> Found | Split:
        """What a pre-2025 unit became."""
        successors = tuple(self.communes[code] for code in unit.successors if code in self.communes)
        if len(successors) == 1:
            return Found(successors[0], via_old=unit)
        return Split(unit, successors)

    def _fuzzy(self, name: str) -> SearchOutcome:
        scored = self._scored(name)
        partial = not scored
        if partial:
            scored = self._containing(name)
        options: list[Choice] = []
        seen: set[str] = set()
        for _, choice in scored:
            key = self._choice_key(choice)
            if key not in seen:
                seen.add(key)
                options.append(choice)
        if not options:
            return NotFound()
        best = scored[0][0]
        runner_up = next((score for score, c in scored if self._choice_key(c) != self._choice_key(options[0])), 0.0)
        top = options[0]
        if not partial and best >= ACCEPT_SCORE and best - runner_up >= ACCEPT_GAP:
            if top.commune is not None:
                return Found(top.commune)
            if top.old is not None:
                return self.resolve_old(top.old)
        return Choices(tuple(options[:MAX_CHOICES]))

    def _scored(self, name: str) -> list[tuple[float, Choice]]:
        """Close names, best first, scored 0–100 ignoring word order; a 2025 name wins a tie."""
        new_count = len(self._new_list)
        found = process.extract(
            _sorted_words(name),
            self._sorted_keys,
            scorer=fuzz.ratio,
            score_cutoff=CANDIDATE_SCORE,
            limit=MAX_CHOICES * 3,
        )
        typed = name.split()
        scored = [
            (float(score) + (0.5 if index < new_count else 0.0), self._choices[index])
            for _, score, index in found
            if _plausible(typed, self._sorted_keys[index].split())
        ]
        scored.sort(key=lambda pair: -pair[0])
        return scored

    def _containing(self, name: str) -> list[tuple[float, Choice]]:
        """Names with a word starting with each word typed (`son` → every `… Sơn`), 2025 names first."""
        typed = [word for word in name.split() if len(word) >= 2]
        if not typed or any(word in COMMON_WORDS or len(word) < 3 for word in typed):
            return []  # `hi` begins `Hiệp`, and means hello
        matching = set.intersection(*(self._prefixes.get(word, set()) for word in typed))
        return [(0.0, self._choices[index]) for index in sorted(matching)]

    @staticmethod
    def _choice_key(choice: Choice) -> str:
        """Choices that lead to the same single 2025 unit are one choice."""
        if choice.commune is not None:
            return choice.commune.code
        assert choice.old is not None
        successors = choice.old.successors
        return successors[0] if len(successors) == 1 else f"old:{choice.old.id}"


def _plausible(typed: list[str], name: list[str]) -> bool:
    """Whether a name is a plausible reading of the words typed: each is one of its words, or a misspelling of one
    (three letters at least, and not an everyday word that means something else)."""
    for word in typed:
        if word in name:
            continue
        if word in COMMON_WORDS or len(word) < 3 or max(fuzz.ratio(word, other) for other in name) < 60:
            return False
    return True


def _sorted_words(key: str) -> str:
    return " ".join(sorted(key.split()))


def choice_name_key(choice: Choice) -> str:
    """The folded name of what a choice points to."""
    if choice.commune is not None:
        return choice.commune.name_key
    assert choice.old is not None
    return choice.old.name_key


# What an official may set from chat, by the word typed after the command (folded, without spaces).
EDITABLE = {
    "diachi": "address",
    "address": "address",
    "dienthoai": "phone",
    "phone": "phone",
    "giolamviec": "opening_hours",
    "gio": "opening_hours",
    "hours": "opening_hours",
    "canbo": "desk_staff",
    "staff": "desk_staff",
    "vitri": "location",
    "location": "location",
}
PIN_RADIUS_KM = 40  # a centre's pin this far from its commune's own centre point is a mistake
_COORDINATES = re.compile(r"(-?\d{1,2}(?:[.,]\d+)?)\s*[,;\s]\s*(-?\d{1,3}(?:[.,]\d+)?)")


def coordinates(text: str) -> tuple[float, float] | None:
    """`21.8537, 106.7615` (or with spaces, or decimal commas and a semicolon) → (lat, lon); None for anything
    else, or a point outside Vietnam."""
    match = _COORDINATES.fullmatch(clean(text))
    if match is None:
        return None
    lat, lon = (float(part.replace(",", ".")) for part in match.groups())
    return (lat, lon) if 8 <= lat <= 24 and 102 <= lon <= 110 else None


MAX_DESK_STAFF = 200
_PHONE = re.compile(r"\+?[0-9][0-9 .()\-]{5,22}[0-9]")


def detail_value(field: str, text: str) -> str | int | None:
    """A centre detail typed in chat, checked: the value to store, or None when it is no valid value of `field`
    (a phone has 8 to 15 digits, a staff count is a whole number up to MAX_DESK_STAFF, texts 3 to 300 letters)."""
    text = clean(text)
    if field == "desk_staff":
        plain = text.isascii() and text.isdigit() and len(text) <= 3
        return int(text) if plain and int(text) <= MAX_DESK_STAFF else None
    if field == "phone":
        digits = sum(char.isdigit() for char in text)
        return text if _PHONE.fullmatch(text) and 8 <= digits <= 15 else None
    if field in ("address", "opening_hours"):
        return text if 3 <= len(text) <= 300 else None
    raise ValueError(f"not editable from chat: {field}")


PROVINCE_ROW = "tinh"  # the province's own centre, where a commune's code would be (import, the details cache)


class CentreService:
    """The citizen-facing centre finder: search, cards, nearest centres, and the centres CSV import.

    Centre details are read through a cache: changes made through this service show at once, changes made
    by another process (`phucvu import-centres` while the bot runs) within `DETAILS_TTL` seconds.
    """

    def __init__(
        self,
        repo: CentresRepo,
        directory: CentreDirectory,
        monotonic: Callable[[], float] = time.monotonic,
        hotline: str = "",
    ) -> None:
        self.repo = repo
        self.directory = directory
        self._monotonic = monotonic
        self.hotline = hotline
        self._details: dict[str, tuple[float, CentreDetails]] = {}

    @classmethod
    async def create(cls, repo: CentresRepo, province_code: int, hotline: str = "") -> CentreService:
        """Build the in-memory directory from the stored registry (`hotline`: the province's, PHUCVU_HOTLINE)."""
        province = await repo.province(province_code)
        if province is None:
            raise RuntimeError(f"the registry of province {province_code} is not loaded")
        communes = await repo.communes(province_code)
        old_units = await repo.old_units(province_code)
        return cls(repo, CentreDirectory(province, communes, old_units), hotline=hotline)

    def search(self, text: str) -> SearchOutcome:
        """Find the centre(s) meant by free text."""
        return self.directory.search(text)

    def commune(self, code: str) -> Commune | None:
        """A commune of this province by code (None for anything else, such as forged button data)."""
        return self.directory.communes.get(code)

    def commune_code(self, name_or_code: str) -> tuple[str | None, str]:
        """The code of the one commune of this province that `name_or_code` names (a 5-digit code, or a name the
        finder resolves to exactly one 2025 unit); else None and why (Vietnamese, for an admin)."""
        text = name_or_code.strip()
        if text.isdigit():
            code = text.zfill(5)
            return (code, "") if code in self.directory.communes else (None, f"Không có xã, phường mã {code}.")
        outcome = self.directory.search(text)
        if isinstance(outcome, Found) and outcome.via_old is None:
            return outcome.commune.code, ""
        communes: list[Commune] = []
        if isinstance(outcome, Split | District):
            communes = list(outcome.communes)
        elif isinstance(outcome, Choices):
            communes = [choice.commune for choice in outcome.options if choice.commune]
        elif isinstance(outcome, Found):  # found through a pre-2025 name: ask for the 2025 one
            communes = [outcome.commune]
        named = {c.code for c in communes if name_key(c.name) == name_key(text)}  # `Chi Lăng`, also an old district
        if len(named) == 1:
            return named.pop(), ""
        listed = ", ".join(f"{c.name} ({c.code})" for c in communes)
        hint = f" Có thể là: {listed}. Vui lòng ghi đúng tên hoặc mã." if communes else ""
        shown = text if len(text) <= 40 else text[:39] + "…"  # never a 4,000-character echo
        return None, f"Không xác định được một xã, phường từ «{shown}».{hint}"

    def old_unit(self, unit_id: int) -> Found | Split | None:
        """What the pre-2025 unit with this id became (None if there is no such unit)."""
        unit = self.directory.old_units.get(unit_id)
        return self.directory.resolve_old(unit) if unit else None

    async def card(self, code: str) -> CentreCard | None:
        """Everything known about one centre, or None for a code outside the province."""
        commune = self.commune(code)
        if commune is None:
            return None
        details = await self.details(code)
        fallback = None if details.address or details.phone else await self.fallback()
        if details.lat is not None and details.lon is not None:
            return CentreCard(commune, details, details.lat, details.lon, approximate=False, fallback=fallback)
        return CentreCard(commune, details, commune.lat, commune.lon, approximate=True, fallback=fallback)

    async def fallback(self) -> Fallback:
        """The province's centre and hotline, for communes whose centre details are empty."""
        province = self.directory.province
        return Fallback(province.name, await self.details(PROVINCE_ROW), self.hotline)

    async def details(self, code: str) -> CentreDetails:
        """A centre's own details, or the province's centre's for PROVINCE_ROW (cached for `DETAILS_TTL`
        seconds)."""
        now = self._monotonic()
        cached = self._details.get(code)
        if cached is not None and now - cached[0] < DETAILS_TTL:
            return cached[1]
        if code == PROVINCE_ROW:
            details = await self.repo.province_centre(self.directory.province.code)
        else:
            details = await self.repo.details(code)
        self._details[code] = (now, details)
        return details

    def pin_problem(self, code: str, lat: float, lon: float) -> float | None:
        """How many km a pin is from the commune's own centre point when that is more than `PIN_RADIUS_KM` (a
        typing mistake, or another commune's place); None when it is near, or the point is unknown."""
        commune = self.directory.communes.get(code)
        if commune is None or commune.lat is None or commune.lon is None:
            return None
        km = haversine_km(lat, lon, commune.lat, commune.lon)
        return km if km > PIN_RADIUS_KM else None

    async def update_details(self, code: str, values: dict[str, object], by: str, now: str) -> None:
        """Change some of a centre's details (PROVINCE_ROW: the province's own centre's)."""
        if code == PROVINCE_ROW:
            await self.repo.update_province_centre(self.directory.province.code, values, by, now)
        else:
            await self.repo.update_details(code, values, by, now)
        self._details.pop(code, None)

    async def nearest(self, lat: float, lon: float, count: int = NEAREST) -> NearestResult:
        """The `count` centres nearest to a point, and whether the point is outside the province."""
        positions = await self.repo.positions(self.directory.province.code)
        ranked = sorted(
            (haversine_km(lat, lon, p.lat, p.lon), p) for p in positions if p.code in self.directory.communes
        )
        items = tuple(Nearby(self.directory.communes[p.code], km, not p.is_venue) for km, p in ranked[:count])
        bounds = self.directory.province.bounds
        inside_box = bounds is None or (bounds[0] <= lat <= bounds[2] and bounds[1] <= lon <= bounds[3])
        outside = not inside_box or not items or items[0].km > OUTSIDE_KM
        return NearestResult(items, outside, self.directory.province.name)

    async def import_csv(self, path: Path, by: str, now: str) -> ImportReport:
        """Load centre details from CSV (`ma_xa` or `ten_xa`, then any of the detail columns)."""
        report = ImportReport()
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            columns = {_CSV_ALIASES.get(fold(name), "") for name in reader.fieldnames or []}
            if not columns & {"code", "name"}:
                raise ValueError("CSV needs a `ma_xa` (or `ten_xa`) column")
            for line, row in enumerate(reader, start=2):
                fields = {_CSV_ALIASES.get(fold(k or ""), ""): (v or "").strip() for k, v in row.items()}
                try:
                    code, values = self._parse_centre_row(fields)
                except ValueError as exc:
                    report.rejected.append((line, str(exc)))
                    continue
                if values:
                    await self.update_details(code, values, by, now)
                    report = ImportReport(report.updated + 1, report.rejected)
        return report

    def _parse_centre_row(self, fields: dict[str, str]) -> tuple[str, dict[str, object]]:
        code = fields.get("code", "")
        if self._is_province(code, fields.get("name", "")):
            if fields.get("desk_staff"):
                raise ValueError("số cán bộ một cửa chỉ ghi cho xã, phường, không cho trung tâm của tỉnh")
            code = PROVINCE_ROW
        elif code:
            code = code.zfill(5)
            if code not in self.directory.communes:
                raise ValueError(f"mã xã {code} không thuộc tỉnh {self.directory.province.name}")
        else:
            code = self._exact_commune(fields.get("name", ""))
        values: dict[str, object] = {}
        for name in ("address", "phone", "opening_hours", "note"):
            if fields.get(name):
                values[name] = clean(fields[name])
        if fields.get("desk_staff"):
            if not fields["desk_staff"].isdigit():
                raise ValueError(f"số cán bộ {fields['desk_staff']!r} không phải số nguyên")
            values["desk_staff"] = int(fields["desk_staff"])
        if fields.get("lat") or fields.get("lon"):
            try:
                lat, lon = float(fields["lat"].replace(",", ".")), float(fields["lon"].replace(",", "."))
            except (KeyError, ValueError) as exc:
                raise ValueError("vĩ độ/kinh độ phải là số, và cần cả hai") from exc
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError("vĩ độ/kinh độ ngoài phạm vi")
            values["lat"], values["lon"] = lat, lon
        assert set(values) <= set(DETAIL_FIELDS)
        return code, values

    def _is_province(self, code: str, name: str) -> bool:
        """Whether an import row is the province's own centre: `ma_xa` the province's code or `tinh`, or
        `ten_xa` the province's name (`Tỉnh Lạng Sơn`, `tỉnh`)."""
        province = self.directory.province
        if code:
            return fold(code) in (PROVINCE_ROW, str(province.code), f"{province.code:02d}")
        return fold(name) in (PROVINCE_ROW, fold(province.name), f"{PROVINCE_ROW} {fold(province.name)}")

    def _exact_commune(self, name: str) -> str:
        """The code of the 2025 unit with exactly this name (diacritics and kind, where given, must agree):
        a centre's phone is never written on a namesake's or a near match's."""
        query = parse_query(name)
        matches = [
            c
            for c in self.directory.communes.values()
            if c.name_key == query.name and query.kind in (None, c.kind) and exact_key(c.name) == query.exact
        ]
        if len(matches) != 1:
            near = self.directory.search(name)
            hint = ""
            if isinstance(near, Found):
                hint = f" (gần giống: {near.commune.name}; hãy dùng cột ma_xa)"
            raise ValueError(f"không có xã, phường nào tên đúng là «{name}»{hint}")
        return matches[0].code


_CSV_ALIASES = {
    "ma xa": "code",
    "code": "code",
    "commune code": "code",
    "ten xa": "name",
    "name": "name",
    "commune": "name",
    "dia chi": "address",
    "address": "address",
    "dien thoai": "phone",
    "so dien thoai": "phone",
    "phone": "phone",
    "gio lam viec": "opening_hours",
    "opening hours": "opening_hours",
    "hours": "opening_hours",
    "so can bo": "desk_staff",
    "can bo mot cua": "desk_staff",
    "desk staff": "desk_staff",
    "staff": "desk_staff",
    "ghi chu": "note",
    "note": "note",
    "vi do": "lat",
    "lat": "lat",
    "latitude": "lat",
    "kinh do": "lon",
    "lon": "lon",
    "long": "lon",
    "longitude": "lon",
}
