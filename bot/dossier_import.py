"""Reading dossiers from the one-stop system: CSV and XLSX files, and the ingest endpoint's JSON.

Columns (DESIGN.md): Vietnamese names with English aliases. Dates in ISO 8601, `yyyyMMddHHmmss` or
`dd/MM/yyyy[ HH:mm]`; naive times are in the province's time zone. A bad row is rejected with its reason and the
good rows are imported; importing the same file twice changes nothing.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.dossiers import DossierService, code_key, to_sql_time
from bot.text import clean, fold
from storage.dossiers import DossierRow

ALIASES = {
    "ma ho so": "code",
    "code": "code",
    "dossier code": "code",
    "ma thu tuc": "procedure_code",
    "procedure code": "procedure_code",
    "ten thu tuc": "procedure_name",
    "procedure": "procedure_name",
    "procedure name": "procedure_name",
    "ma xa": "commune_code",
    "commune": "commune_code",
    "commune code": "commune_code",
    "ward code": "commune_code",
    "ngay tiep nhan": "received_at",
    "received": "received_at",
    "received at": "received_at",
    "ngay hen tra": "due_at",
    "due": "due_at",
    "due at": "due_at",
    "trang thai": "status",
    "status": "status",
    "ngay ket thuc": "finished_at",
    "finished": "finished_at",
    "finished at": "finished_at",
    "ngay tra ket qua": "returned_at",
    "returned": "returned_at",
    "returned at": "returned_at",
    "kenh nop": "channel",
    "channel": "channel",
    "chu ho so": "applicant",
    "applicant": "applicant",
}
REQUIRED = ("code", "procedure_name", "commune_code", "received_at", "status")
# Letters and digits of a code; the follow button carries them and Telegram allows 64 bytes of button data.
MAX_CODE = 50
BATCH = 5000

_DASHES = re.compile(r"[\u2010-\u2015\u2212\ufe58\ufe63\uff0d]")
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")


class RowError(ValueError):
    """Why a row was rejected (Vietnamese, shown to the admin with the line number)."""


@dataclass
class ImportSummary:
    """What an import did."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    status_changes: int = 0
    superseded: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def header_fields(names: Sequence[object]) -> list[str | None]:
    """Map a header row to field names (None for a column we do not use)."""
    return [ALIASES.get(fold(str(name or "")).replace("_", " ")) for name in names]


class RowParser:
    """Turns one row's raw values into a `DossierRow`, or raises `RowError`."""

    def __init__(self, communes: set[str], tz: ZoneInfo) -> None:
        self.communes = communes
        self.tz = tz
        self._times: dict[object, str] = {}
        self._offsets: dict[str, timedelta] = {}

    def time(self, value: object, name: str) -> str | None:
        """A date or time in any accepted form → stored UTC text (None when empty)."""
        if value is None or value == "":
            return None
        if not isinstance(value, str | int | float | date):
            raise RowError(f"{name}: phải là ngày giờ, không phải {type(value).__name__}")
        cached = self._times.get(value)
        if cached is not None:
            return cached
        if isinstance(value, str) and len(value) == 14 and value.isdigit():  # the national sync format
            stored = self._sync_time(value, name)
        else:
            stored = to_sql_time(self._parse_time(value, name))
        if len(self._times) < 100_000:
            self._times[value] = stored
        return stored

    def _sync_time(self, text: str, name: str) -> str:
        """`yyyyMMddHHmmss` in local time → stored UTC, with the zone's offset looked up once per local hour."""
        try:
            local = datetime(
                int(text[:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]), int(text[12:])
            )
        except ValueError:
            raise RowError(f"{name}: «{text}» không phải ngày giờ hợp lệ") from None
        hour = text[:10]
        offset = self._offsets.get(hour)
        if offset is None:
            offset = local.replace(tzinfo=self.tz).utcoffset() or timedelta(0)
            self._offsets[hour] = offset
        return (local - offset).isoformat(sep=" ", timespec="seconds")

    def _parse_time(self, value: object, name: str) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=self.tz)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=self.tz)
        text = str(value).strip()
        try:
            if text.isdigit() and len(text) in (8, 12, 14):
                padded = text.ljust(14, "0")
                moment = datetime(
                    int(padded[:4]),
                    int(padded[4:6]),
                    int(padded[6:8]),
                    int(padded[8:10]),
                    int(padded[10:12]),
                    int(padded[12:14]),
                )
            elif match := _DMY.fullmatch(text):
                day, month, year, hour, minute, second = match.groups()
                moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
            else:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise RowError(f"{name}: «{text}» không phải ngày giờ hợp lệ") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=self.tz)

    def parse(self, raw: Mapping[str, object]) -> DossierRow:
        """Validate and normalise one row (any other failure of a value is a RowError too)."""
        try:
            return self._parse(raw)
        except (ValueError, TypeError, OverflowError) as exc:
            if isinstance(exc, RowError):
                raise
            raise RowError(f"giá trị không hợp lệ: {exc}") from None

    def _parse(self, raw: Mapping[str, object]) -> DossierRow:
        for name in REQUIRED:
            if _blank(raw.get(name)):
                raise RowError("thiếu " + ", ".join(n for n in REQUIRED if _blank(raw.get(n))))
        code = str(raw["code"]).strip()
        if not (code.isascii() and code.isprintable()) or " " in code:
            code = re.sub(r"\s+", "", _DASHES.sub("-", clean(code)))
        code = code.upper()
        key = code_key(code)
        if len(key) < 6:
            raise RowError(f"mã hồ sơ «{code}» quá ngắn")
        if len(key) > MAX_CODE:
            raise RowError(f"mã hồ sơ dài quá {MAX_CODE} ký tự")
        commune = _integer_text(raw["commune_code"]).zfill(5)
        if commune not in self.communes:
            raise RowError(f"mã xã {commune} không thuộc tỉnh")
        status = _small_int(raw["status"], "trang_thai")
        if not 1 <= status <= 10:
            raise RowError(f"trạng thái {status} không nằm trong 1–10")
        channel = None if _blank(raw.get("channel")) else _small_int(raw["channel"], "kenh_nop")
        if channel is not None and channel not in (1, 2, 3):
            raise RowError(f"kênh nộp {channel} không phải 1, 2 hoặc 3")
        received = self.time(raw["received_at"], "ngay_tiep_nhan")
        due = self.time(raw.get("due_at"), "ngay_hen_tra")
        assert received is not None
        if due is not None and due < received:
            raise RowError("ngày hẹn trả trước ngày tiếp nhận")
        return DossierRow(
            code_key=key,
            code=code,
            procedure_code=_text(raw.get("procedure_code")),
            procedure_name=(_text(raw["procedure_name"]) or "")[:500],
            commune_code=commune,
            received_at=received,
            due_at=due,
            status=status,
            finished_at=self.time(raw.get("finished_at"), "ngay_ket_thuc"),
            returned_at=self.time(raw.get("returned_at"), "ngay_tra_ket_qua"),
            channel=channel,
            applicant=_text(raw.get("applicant")),
        )


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: object) -> str | None:
    """Cleaned text (None when empty); plain ASCII skips the Unicode work."""
    if value is None:
        return None
    text = str(value)
    if text.isascii() and text.isprintable():
        return text.strip() or None
    return clean(text) or None


def _integer_text(value: object) -> str:
    text = str(value).strip()
    return text[:-2] if text.endswith(".0") else text


def _small_int(value: object, name: str) -> int:
    text = _integer_text(value)
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        raise RowError(f"{name}: «{text}» không phải số")
    return int(text)


def read_table(path: Path) -> Iterator[tuple[int, list[object]]]:
    """(line number, cells) for every row of a CSV or XLSX file, the header first."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, list(row)
        finally:
            workbook.close()
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample else csv.excel
        reader = csv.reader(handle, dialect)
        start = 1
        for cells in reader:
            yield start, list(cells)  # the line a record starts on (a quoted field may span lines)
            start = reader.line_num + 1


async def import_file(
    path: Path,
    service: DossierService,
    parser: RowParser,
    now: datetime,
    progress: Callable[[int], object] | None = None,
) -> ImportSummary:
    """Import a CSV or XLSX file in batches; returns the counts and the rejected lines."""
    summary = ImportSummary()
    rows = read_table(path)
    first = next(rows, None)
    if first is None:
        raise RowError("tệp trống")
    names = header_fields(first[1])
    absent = [name for name in REQUIRED if name not in names]
    if absent:
        raise RowError("thiếu cột: " + ", ".join(absent))
    source = f"import:{path.name}"
    batch: list[DossierRow] = []
    columns = [(i, name) for i, name in enumerate(names) if name is not None]
    code_at = names.index("code")
    last = last_lines(path, code_at)
    for number, cells in rows:
        if not any(str(cell or "").strip() for cell in cells):
            continue
        key = _cell_key(cells, code_at)
        if key and last.get(key, number) != number:
            summary.superseded += 1  # a later line has the same code: importing twice must not replay the steps
            continue
        raw = {name: cells[i] for i, name in columns if i < len(cells)}
        try:
            batch.append(parser.parse(raw))
        except RowError as exc:
            summary.rejected.append((number, str(exc)))
        if len(batch) >= BATCH:
            await _write(service, batch, source, now, summary, progress)
            batch = []
    await _write(service, batch, source, now, summary, progress)
    return summary


def _cell_key(cells: Sequence[object], index: int) -> str:
    return code_key(str(cells[index])) if index < len(cells) and cells[index] is not None else ""


def last_lines(path: Path, code_index: int) -> dict[str, int]:
    """The last line of each code in the file (a first pass that reads only the code column)."""
    rows = read_table(path)
    next(rows, None)
    return {_cell_key(cells, code_index): number for number, cells in rows}


def last_of_each(rows: Sequence[DossierRow]) -> tuple[list[DossierRow], int]:
    """Keep the last row of each code (a list may carry a dossier's steps in order); and how many were dropped."""
    last = {row.code_key: row for row in rows}
    return list(last.values()), len(rows) - len(last)


async def _write(
    service: DossierService,
    batch: list[DossierRow],
    source: str,
    now: datetime,
    summary: ImportSummary,
    progress: Callable[[int], object] | None,
) -> None:
    if not batch:
        return
    result = await service.apply(batch, source, now)
    summary.inserted += result.inserted
    summary.updated += result.updated
    summary.unchanged += result.unchanged
    summary.status_changes += result.status_changes
    if progress is not None:
        progress(len(batch))
