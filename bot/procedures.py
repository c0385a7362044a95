"""The province's catalogue of administrative procedures (thủ tục hành chính): loaded from its published list
(`phucvu import-procedures`, CSV or XLSX), searched by what a citizen asks ("làm căn cước cần giấy tờ gì",
"đăng ký khai sinh", "lệ phí kết hôn"), insensitive to diacritics and small typos as the centre search is.

The catalogue is small (a province publishes some two thousand procedures), so it is held in memory, folded once.
"""

from __future__ import annotations

import asyncio
import csv
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz, process

from bot.dossier_import import blank, read_table, scalar
from bot.text import clean, fold
from storage.procedures import ProceduresRepo, StoredProcedure

COLUMNS = {  # folded header → field (Vietnamese names, English aliases)
    "ma thu tuc": "code",
    "code": "code",
    "procedure code": "code",
    "ten thu tuc": "name",
    "name": "name",
    "procedure": "name",
    "linh vuc": "field",
    "field": "field",
    "thanh phan ho so": "papers",
    "papers": "papers",
    "documents": "papers",
    "thoi han giai quyet": "time_limit",
    "time limit": "time_limit",
    "le phi": "fee",
    "phi le phi": "fee",
    "fee": "fee",
    "fees": "fee",
    "co quan thuc hien": "agency",
    "agency": "agency",
    "url": "url",
    "link": "url",
}
LIMITS = {"code": 50, "name": 500, "field": 200, "papers": 5000, "time_limit": 300, "fee": 1000, "agency": 500}
URL = re.compile(r"https?://[^\s<>\"']{3,500}")

# What people call a procedure, besides its published name (folded): the words a name is then searched with.
ALIASES = {
    "ki": "ky",
    "cccd": "can cuoc",
    "can cuoc cong dan": "can cuoc",
    "cmnd": "can cuoc",
    "chung minh nhan dan": "can cuoc",
    "chung minh thu": "can cuoc",
    "so do": "cap giay chung nhan quyen su dung dat",
    "so hong": "cap giay chung nhan quyen su dung dat",
    "bia do": "cap giay chung nhan quyen su dung dat",
    "cong chung": "chung thuc",
    "sao y": "chung thuc ban sao",
    "photo cong chung": "chung thuc ban sao",
    "lay vo": "ket hon",
    "lay chong": "ket hon",
    "dam cuoi": "ket hon",
    "giay bao tu": "khai tu",
    "chung tu": "khai tu",
    "doc than": "xac nhan tinh trang hon nhan",
    "mo cua hang": "ho kinh doanh",
    "giay phep kinh doanh": "ho kinh doanh",
    "xay nha": "giay phep xay dung",
    "ban sao khai sinh": "trich luc",
    "tam tru": "dang ky tam tru",
    "thuong tru": "dang ky thuong tru",
    "nhap khau": "dang ky thuong tru",
}
# Words of a question about a procedure, not part of any procedure's name (folded, longest first).
FILLER = sorted(
    {
        "cho toi hoi",
        "cho hoi",
        "xin hoi",
        "toi muon",
        "muon",
        "can nhung giay to gi",
        "can giay to gi",
        "giay to gi",
        "can nhung gi",
        "can gi",
        "can nhung",
        "nhung gi",
        "nhu the nao",
        "the nao",
        "bao lau",
        "mat bao lau",
        "bao nhieu tien",
        "bao nhieu",
        "het bao nhieu",
        "o dau",
        "nop o dau",
        "thu tuc",
        "ho so",
        "giay to",
        "le phi",
        "phi",
        "lam",
        "xin",
        "gi",
        "sao roi",
        "tai sao",
        "khong sao",
        "roi",
        "the nao roi",
        "a",
        "vay",
        "nhe",
        "khong",
        "cach",
        "muon lam",
        "di lam",
        "thi",
        "cho con",
        "cho be",
        "cho",
        "cua toi",
        "toi",
        "em",
        "oi",
    },
    key=lambda phrase: -len(phrase),
)
# Words that say a question is about a procedure (folded).
ASKING = ("thu tuc", "giay to", "le phi", "ho so gom", "can gi", "can nhung", "bao lau", "mat bao nhieu", "lam the nao")
REFRESH = 60.0  # seconds between checks that the catalogue changed in the database
CANDIDATE = 80.0  # a procedure whose name scores this against the question is a candidate
CLEAR_GAP = 6.0  # the best is the answer when it is this far ahead of the next
MAX_SHOWN = 5


@dataclass(frozen=True)
class ImportResult:
    """What an import did: counts, and the rejected lines with why."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def question_words(text: str) -> str:
    """What a question about a procedure is about: folded, aliases replaced, question words taken out."""
    words = f" {fold(text)} "
    for alias, meant in sorted(ALIASES.items(), key=lambda item: -len(item[0])):
        words = words.replace(f" {alias} ", f" {meant} ")
    for phrase in FILLER:
        words = words.replace(f" {phrase} ", " ")
    return " ".join(words.split())


def asks_procedure(text: str) -> bool:
    """Whether a message asks about a procedure (papers, fees, time, how), whatever else it names."""
    folded = f" {fold(text)} "
    return any(f" {word} " in folded for word in ASKING)


class ProcedureService:
    """The catalogue: imported, held in memory, searched."""

    def __init__(self, repo: ProceduresRepo, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.repo = repo
        self._monotonic = monotonic
        self._checked = monotonic()
        self._version: tuple[int, str] = (0, "")
        self._all: dict[str, StoredProcedure] = {}
        self._folded: list[tuple[str, StoredProcedure]] = []
        self._names: list[str] = []
        self._by_word: dict[str, list[int]] = {}  # a folded word → the names it is in

    async def fresh(self) -> None:
        """Read the catalogue again when another process (`phucvu import-procedures` while the bot runs) changed
        it: checked at most once every REFRESH seconds, with one small query."""
        now = self._monotonic()
        if now - self._checked < REFRESH:
            return
        self._checked = now
        if await self.repo.version() != self._version:
            await self.load()

    async def load(self) -> None:
        """Read the catalogue (at start, and after an import)."""
        self._version = await self.repo.version()
        self._checked = self._monotonic()
        procedures = await self.repo.all()
        self._all = {p.code: p for p in procedures}
        self._folded = [(fold(p.name), p) for p in procedures]
        self._names = [folded for folded, _ in self._folded]
        self._by_word = {}
        for index, folded in enumerate(self._names):
            for word in set(folded.split()):
                self._by_word.setdefault(word, []).append(index)

    @property
    def empty(self) -> bool:
        """No catalogue imported (not even the sample one)."""
        return not self._all

    def get(self, code: str) -> StoredProcedure | None:
        """A procedure by its code."""
        return self._all.get(code)

    def named(self, name: str) -> StoredProcedure | None:
        """The procedure with exactly this name (diacritics and case aside), if one."""
        key = fold(name)
        found = [p for folded, p in self._folded if folded == key]
        return found[0] if len(found) == 1 else None

    def search(self, text: str) -> list[StoredProcedure]:
        """The procedures a question is about, best first: one when it is clear, up to MAX_SHOWN when several
        fit, none when nothing does."""
        query = question_words(text)
        if len(query) < 3 or not self._folded or (" " not in query and len(query) < 4 and not asks_procedure(text)):
            return []  # one short word (`sao`, `ok`) is chat, not a procedure's name
        # Only names sharing a word with the question are scored (most messages are no procedure question and
        # share none), in rapidfuzz's own loop.
        shared = sorted({index for word in query.split() for index in self._by_word.get(word, ())})
        names = {index: self._names[index] for index in shared}
        best: dict[int, float] = {}
        for _, score, index in process.extract(query, names, scorer=fuzz.token_set_ratio, score_cutoff=CANDIDATE):
            best[index] = score
        if len(query) >= 5 and (len(query.split()) > 1 or asks_procedure(text)):  # one word: whole words only
            partial = process.extract(query, names, scorer=fuzz.partial_ratio, score_cutoff=CANDIDATE + 5)
            for _, score, index in partial:
                best[index] = max(best.get(index, 0.0), score - 5)
        scored = [
            (score, fuzz.token_sort_ratio(query, names[index]), self._folded[index][1]) for index, score in best.items()
        ]
        scored.sort(key=lambda item: (-item[0], -item[1], len(item[2].name)))  # then the closest in whole
        if len(scored) > 1 and scored[0][0] - scored[1][0] >= CLEAR_GAP:
            return [scored[0][2]]
        return [procedure for _, _, procedure in scored[:MAX_SHOWN]]

    async def import_file(self, path: Path, now: str, *, sample: bool = False) -> ImportResult:
        """Load a CSV or XLSX procedure list (`ma_thu_tuc`, `ten_thu_tuc`, and any of `linh_vuc`,
        `thanh_phan_ho_so`, `thoi_han_giai_quyet`, `le_phi`, `co_quan_thuc_hien`, `url`): new and changed rows
        are written, equal ones left alone; a bad row is reported with its line and why. ValueError for a file
        without the two required columns."""
        procedures, rejected = await asyncio.to_thread(read_procedures, path, sample)
        inserted, updated, unchanged = await self.repo.save(procedures, now)
        await self.load()
        return ImportResult(inserted, updated, unchanged, rejected)


def read_procedures(path: Path, sample: bool = False) -> tuple[list[StoredProcedure], list[tuple[int, str]]]:
    """The procedures of a file and its rejected lines (a code met twice: the later row wins)."""
    try:
        return _read_procedures(path, sample)
    except csv.Error as exc:
        raise ValueError(f"không đọc được tệp CSV ({exc}); cần dòng tiêu đề và dấu phẩy") from exc


def _read_procedures(path: Path, sample: bool) -> tuple[list[StoredProcedure], list[tuple[int, str]]]:
    chunks = read_table(path)
    header_chunk = next(chunks, None)
    if header_chunk is None or not header_chunk[1]:
        raise ValueError("tệp trống")
    header = [COLUMNS.get(fold(str(name or "")).replace("_", " ")) for name in header_chunk[1][0]]
    if "code" not in header or "name" not in header:
        raise ValueError("cần các cột ma_thu_tuc và ten_thu_tuc")
    found: dict[str, StoredProcedure] = {}
    rejected = []
    for lines, records in chunks:
        for line, record in zip(lines, records, strict=True):
            values = {name: cell for name, cell in zip(header, record, strict=False) if name}
            if all(blank(value) for value in values.values()):
                continue
            try:
                procedure = _procedure(values, sample)
            except ValueError as exc:
                rejected.append((line, str(exc)))
                continue
            found[procedure.code] = procedure
    return list(found.values()), rejected


def _procedure(values: dict[str, object], sample: bool) -> StoredProcedure:
    texts: dict[str, str | None] = {}
    for name, value in values.items():
        texts[name] = None if blank(value) else clean(str(scalar(value, name, LIMITS.get(name, 500))))
    code, title = texts.get("code"), texts.get("name")
    if not code:
        raise ValueError("thiếu mã thủ tục")
    if not title:
        raise ValueError("thiếu tên thủ tục")
    url = texts.get("url")
    if url and not URL.fullmatch(url):
        raise ValueError(f"đường dẫn không hợp lệ: {url[:60]}")
    return StoredProcedure(
        code,
        title,
        texts.get("field"),
        texts.get("papers"),
        texts.get("time_limit"),
        texts.get("fee"),
        texts.get("agency"),
        url,
        sample,
    )


async def load_sample(service: ProcedureService, now: str) -> bool:
    """Give an empty catalogue the sample one (the console's demo data): a few procedures of the demo dossiers
    in outline, every one marked as sample data. Whether it was given."""
    if not service.empty:
        return False
    await service.repo.save(SAMPLE, now)
    await service.load()
    return True


_PORTAL = "https://dichvucong.gov.vn"
SAMPLE: tuple[StoredProcedure, ...] = tuple(
    StoredProcedure(code, name, field_, papers, time_limit, fee, agency, _PORTAL, sample=True)
    for code, name, field_, papers, time_limit, fee, agency in (
        (
            "MAU-01",
            "Đăng ký khai sinh",
            "Hộ tịch",
            "Tờ khai đăng ký khai sinh; giấy chứng sinh (hoặc văn bản của người làm chứng); giấy tờ tùy thân của "
            "người đi đăng ký.",
            "Ngay trong ngày tiếp nhận.",
            "Miễn lệ phí khi đăng ký đúng hạn.",
            "Ủy ban nhân dân cấp xã",
        ),
        (
            "MAU-02",
            "Đăng ký kết hôn",
            "Hộ tịch",
            "Tờ khai đăng ký kết hôn; giấy tờ tùy thân của hai bên; xác nhận tình trạng hôn nhân khi cư trú nơi khác.",
            "Ngay trong ngày; cần xác minh thì không quá 05 ngày làm việc.",
            "Miễn lệ phí.",
            "Ủy ban nhân dân cấp xã",
        ),
        (
            "MAU-03",
            "Đăng ký khai tử",
            "Hộ tịch",
            "Tờ khai đăng ký khai tử; giấy báo tử hoặc giấy tờ thay thế; giấy tờ tùy thân của người đi đăng ký.",
            "Ngay trong ngày tiếp nhận.",
            "Miễn lệ phí khi đăng ký đúng hạn.",
            "Ủy ban nhân dân cấp xã",
        ),
        (
            "MAU-04",
            "Xác nhận tình trạng hôn nhân",
            "Hộ tịch",
            "Tờ khai cấp Giấy xác nhận tình trạng hôn nhân; giấy tờ tùy thân.",
            "03 ngày làm việc.",
            "Theo quy định của Hội đồng nhân dân tỉnh.",
            "Ủy ban nhân dân cấp xã",
        ),
        (
            "MAU-05",
            "Cấp bản sao trích lục hộ tịch",
            "Hộ tịch",
            "Tờ khai cấp bản sao trích lục hộ tịch; giấy tờ tùy thân.",
            "Ngay trong ngày tiếp nhận.",
            "Theo quy định của Bộ Tài chính.",
            "Ủy ban nhân dân cấp xã",
        ),
        (
            "MAU-06",
            "Chứng thực bản sao từ bản chính giấy tờ, văn bản",
            "Chứng thực",
            "Bản chính giấy tờ, văn bản cần chứng thực và bản sao cần chứng thực.",
            "Trong ngày tiếp nhận (nhận sau 15 giờ thì trả trong ngày làm việc tiếp theo).",
            "2.000 đồng/trang cho hai trang đầu, từ trang thứ ba 1.000 đồng/trang, tối đa 200.000 đồng/bản.",
            "Ủy ban nhân dân cấp xã",
        ),
        (
            "MAU-07",
            "Đăng ký thành lập hộ kinh doanh",
            "Thành lập và hoạt động của hộ kinh doanh",
            "Giấy đề nghị đăng ký hộ kinh doanh; giấy tờ pháp lý của chủ hộ và các thành viên.",
            "03 ngày làm việc.",
            "Theo quy định của Hội đồng nhân dân tỉnh.",
            "Ủy ban nhân dân cấp xã",
        ),
        (
            "MAU-08",
            "Cấp Giấy chứng nhận quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất lần đầu",
            "Đất đai",
            "Đơn đăng ký đất đai, tài sản gắn liền với đất; giấy tờ về quyền sử dụng đất (nếu có); giấy tờ khác "
            "theo quy định.",
            "Theo quy định của Luật Đất đai.",
            "Theo quy định của Hội đồng nhân dân tỉnh.",
            "Ủy ban nhân dân cấp xã; Văn phòng đăng ký đất đai",
        ),
        (
            "MAU-09",
            "Cấp thẻ căn cước",
            "Căn cước",
            "Không cần giấy tờ khi thông tin đã có trong Cơ sở dữ liệu quốc gia về dân cư; người đến làm thu nhận "
            "ảnh khuôn mặt, vân tay, mống mắt.",
            "07 ngày làm việc.",
            "Theo quy định của Bộ Tài chính (cấp lần đầu: miễn).",
            "Công an cấp xã",
        ),
    )
)
