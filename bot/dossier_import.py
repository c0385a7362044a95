"""Reading dossiers from the one-stop system: CSV and XLSX files, and the ingest endpoint's JSON.

Columns (DESIGN.md): Vietnamese names with English aliases. Dates in ISO 8601, `yyyyMMddHHmmss` or
`dd/MM/yyyy[ HH:mm]`; naive times are in the province's time zone. A bad row is rejected with its reason and the
good rows are imported; importing the same file twice changes nothing.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import multiprocessing
import os
import queue
import re
import threading
import unicodedata
from collections.abc import AsyncGenerator, Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from itertools import islice, zip_longest
from multiprocessing.connection import Connection
from operator import add, itemgetter
from pathlib import Path
from typing import TypeVar, cast
from zoneinfo import ZoneInfo

from bot.dossiers import DossierService, code_key, to_sql_time
from bot.text import clean, fold
from storage.dossiers import FIELDS, DossierRow, DossierValues

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
    "ghi chu": "note",
    "note": "note",
    "le phi": "fee",
    "fee": "fee",
    "ngay hen tra moi": "new_due_at",
    "new due": "new_due_at",
    "new due at": "new_due_at",
    "so dien thoai": "phone",
    "dien thoai": "phone",
    "phone": "phone",
    "phone number": "phone",
}
# The columns' Vietnamese names, for messages (the fields are those of `storage.dossiers.FIELDS`).
COLUMN_NAMES = {
    "code": "ma_ho_so",
    "procedure_code": "ma_thu_tuc",
    "procedure_name": "ten_thu_tuc",
    "commune_code": "ma_xa",
    "received_at": "ngay_tiep_nhan",
    "due_at": "ngay_hen_tra",
    "status": "trang_thai",
    "finished_at": "ngay_ket_thuc",
    "returned_at": "ngay_tra_ket_qua",
    "channel": "kenh_nop",
    "applicant": "chu_ho_so",
    "note": "ghi_chu",
    "fee": "le_phi",
    "new_due_at": "ngay_hen_tra_moi",
    "phone": "so_dien_thoai",
}
REQUIRED = ("code", "procedure_name", "commune_code", "received_at", "status")
_REQUIRED_AT = tuple(FIELDS.index(name) for name in REQUIRED)
# Letters and digits of a code; the follow button carries them and Telegram allows 64 bytes of button data.
MAX_CODE = 50
# The longest text each field takes (characters, as given); longer is refused.
MAX_PROCEDURE_CODE = 50
MAX_PROCEDURE = 500  # a longer name is cut there (an official name can be long); one over 10 times that is refused
MAX_APPLICANT = 200
MAX_NOTE = 1000
MAX_FEE = 10**12  # đồng: more is no fee
MAX_SHORT = 40  # a commune's code, a status, a channel, a date: anything longer is not one
# Rows per transaction: big enough that SQLite rewrites few index pages twice, small enough that the bot's own
# writes wait well under a second for an import running beside it.
BATCH = 20_000
# Characters the CSV dialect is told from; bytes the first pass reads at a time.
SAMPLE = 4096
FIRST_PASS_BLOCK = 8 * 2**20
# Above this share of lines with a quote in a file's first block, the first pass parses the file with the CSV
# reader: cutting lines up costs less only when most need no parsing (bench/README.md).
FIRST_PASS_QUOTED = 0.125
# Files from this size on are read in a child process (below it, starting one costs more than it saves).
CHILD_FROM = 4_000_000
_STR_OR_NONE = frozenset((str, type(None)))
_HOUR, _MINUTE_SECOND = itemgetter(slice(0, 10)), itemgetter(slice(10, 14))
# `mmss` → `mm:ss` for every valid minute and second: one look-up converts and checks them.
_MM_SS = {f"{m:02d}{s:02d}": f"{m:02d}:{s:02d}" for m in range(60) for s in range(60)}
# Parsed values kept per column; a column with more distinct values (an applicant's name) stops adding.
_CACHE_LIMIT = 50_000

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
    phones_ignored: int = 0  # so_dien_thoai values that are not mobile numbers (their dossiers are imported)


def header_fields(names: Sequence[object]) -> list[str | None]:
    """Map a header row to field names (None for a column we do not use)."""
    return [ALIASES.get(fold(str(name or "")).replace("_", " ")) for name in names]


class RowParser:
    """Turns one row's raw values into a `DossierRow`, or raises `RowError`.

    A file repeats most values (communes, statuses, procedures, dates); each column remembers what its values
    parsed to, so that a big import spends its time on what is new in a row."""

    def __init__(self, communes: set[str], tz: ZoneInfo) -> None:
        self.communes = communes
        self.tz = tz
        # What a value parsed to, per column: only values that parse (and only strings, whose equality is exact).
        self._times: dict[str, str] = {}
        self._hours: dict[str, str | None] = {}
        self._communes: dict[object, str] = {}
        self._statuses: dict[object, int] = {}
        self._channels: dict[object, int | None] = {None: None, "": None}
        self._texts: dict[object, str | None] = {None: None, "": None}
        self._procedures: dict[object, str] = {}
        self._fees: dict[object, int | None] = {None: None, "": None}
        self.phones_ignored = 0  # phones given that are not mobile numbers (their dossiers are imported)

    def time(self, value: object, name: str) -> str | None:
        """A date or time in any accepted form → stored UTC text (None when empty)."""
        if value is None or value == "":
            return None
        if type(value) is not str:
            if not isinstance(value, str | int | float | date):
                raise RowError(f"{name}: phải là ngày giờ, không phải {type(value).__name__}")
            return to_sql_time(self._parse_time(value, name))
        cached = self._times.get(value)
        if cached is not None:
            return cached
        if len(value) == 14 and value.isascii() and value.isdigit():  # the national sync format
            stored = self._sync_time(value, name)
        else:
            stored = to_sql_time(self._parse_time(value, name))
        if len(self._times) < _CACHE_LIMIT:
            self._times[value] = stored
        return stored

    def _sync_time(self, text: str, name: str) -> str:
        """`yyyyMMddHHmmss` in local time → stored UTC; the hour is converted once, the minutes are copied."""
        hour = self._hours[text[:10]] if text[:10] in self._hours else self._hour(text[:10], name)
        minute, second = text[10:12], text[12:]
        if hour and minute < "60" and second < "60":
            return f"{hour}{minute}:{second}"
        return to_sql_time(self._parse_time(text, name))

    def _hour(self, text: str, name: str) -> str | None:
        """A local `yyyyMMddHH` → the stored UTC text up to its minutes (`YYYY-MM-DD HH:`), or None when the
        zone's offset then is not whole hours."""
        try:
            local = datetime(int(text[:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), tzinfo=self.tz)
            offset = local.utcoffset() or timedelta(0)
            whole = offset.total_seconds() % 3600 == 0
            stored = to_sql_time(local)[:14] if whole else None
        except (ValueError, OverflowError):  # no such date, or none in UTC (year 9999 east of it)
            raise RowError(f"{name}: «{text}» không phải ngày giờ hợp lệ") from None
        if len(self._hours) < _CACHE_LIMIT:
            self._hours[text] = stored
        return stored

    def _parse_time(self, value: object, name: str) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=self.tz)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=self.tz)
        text = str(value).strip()
        try:
            if text.isdigit() and text.isascii() and len(text) in (8, 12, 14):
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
            raise RowError(f"{name}: «{text[:MAX_SHORT]}» không phải ngày giờ hợp lệ") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=self.tz)

    def parse_columns(self, columns: Sequence[Sequence[object]]) -> tuple[list[DossierValues | None], dict[int, str]]:
        """`parse_values` for many rows given as columns in `FIELDS` order: each row's values, or None and the
        reason in the errors by row index.

        Column by column, a value is looked up in what that column's values parsed to before, and times in the
        national sync format are converted by their hour (the bulk of a big file). A row with anything else goes
        through `parse_values`, which also teaches the columns its values; so both give the same answer."""
        if not columns or not columns[0]:
            return [], {}
        (
            codes,
            procedure_codes,
            procedures,
            communes,
            received,
            due,
            statuses,
            finished,
            returned,
            channels,
            who,
            notes,
            fees,
            new_dues,
            phones,
        ) = columns
        miss = _MISS
        keys, plain = _plain_codes(codes)
        known = self._known
        parsed_columns: list[list[object]] = [
            keys,
            plain,
            known(procedure_codes, self._texts, self._text),
            known(procedures, self._procedures, self._procedure),
            known(communes, self._communes, self._commune),
            known(received, None, self._learn_time),
            known(due, None, self._learn_time),
            known(statuses, self._statuses, self._status),
            known(finished, None, self._learn_time),
            known(returned, None, self._learn_time),
            known(channels, self._channels, self._channel),
            _plain_texts(who, MAX_APPLICANT) or [_or_miss(_applicant, value) for value in who],
            _plain_texts(notes, MAX_NOTE) or [_or_miss(_note, value) for value in notes],
            known(fees, self._fees, self._fee),
            known(new_dues, None, self._learn_time),
            list(map(_phone_or_none, phones)),  # never refused: no cache (each applicant has their own)
        ]
        slow = {i for column in parsed_columns if miss in column for i, value in enumerate(column) if value is miss}
        slow.update(
            i
            for i, (at, by) in enumerate(zip(parsed_columns[5], parsed_columns[6], strict=True))
            if type(at) is not str or (type(by) is str and by < at)  # no received time, or due before it
        )
        # Every value left in the rows not taken slowly came from a column's cache or converter: of its field's type.
        parsed = cast(list[DossierValues | None], list(zip(*parsed_columns, strict=True)))
        self.phones_ignored += sum(
            1 for i, (raw, got) in enumerate(zip(phones, parsed_columns[-1], strict=True))
            if got is None and i not in slow and not blank(raw)
        )  # fmt: skip
        errors: dict[int, str] = {}
        for i in sorted(slow):
            try:
                parsed[i] = self.parse_values([column[i] for column in columns])
            except RowError as exc:
                parsed[i] = None
                errors[i] = str(exc)
        return parsed, errors

    def _known(
        self, values: Sequence[object], known: Mapping[object, object] | None, learn: Callable[[object], object]
    ) -> list[object]:
        """A column's values as parsed before (`_plain_time` when `known` is None), _MISS where a value does not
        parse; each new distinct value is parsed once first, which teaches the column its result."""

        if known is None:
            look = self._plain_time
            column = self._sync_times(values) or [look(value) for value in values]
        else:
            look = partial(_lookup, known)
            try:
                column = [known.get(value, _MISS) for value in values]  # the same, without a call per value
            except TypeError:  # a list or an object (from JSON): no cell holds one; it never parses
                column = [known.get(value, _MISS) if isinstance(value, Hashable) else _MISS for value in values]
        if _MISS in column:
            missed = [i for i, got in enumerate(column) if got is _MISS]
            for value in {values[i] for i in missed if isinstance(values[i], Hashable)}:
                # A value that does not parse stays _MISS: its row goes through `parse_values`, which says why.
                with suppress(ValueError, TypeError, OverflowError):
                    learn(value)
            for i in missed:
                column[i] = look(values[i])
        return column

    def _sync_times(self, values: Sequence[object]) -> list[object] | None:
        """A column of times all in the sync format or empty, each the `_plain_time` of its value, converted in
        one go; None when the column holds anything else or an hour not seen yet."""
        if not set(map(type, values)) <= _STR_OR_NONE:
            return None
        texts = cast(Sequence[str | None], values)
        present = [text for text in texts if text]
        joined = "".join(present)
        if set(map(len, present)) - {14} or not (joined.isdigit() and joined.isascii()):
            return None
        local = list(map(_HOUR, present))
        for hour in set(local) - self._hours.keys():
            with suppress(RowError):
                self._hour(hour, "")
        try:
            utc = list(map(self._hours.__getitem__, local))
            minutes_seconds = list(map(_MM_SS.__getitem__, map(_MINUTE_SECOND, present)))
        except KeyError:  # an hour that is no date, or a minute or second past 59
            return None
        if None in utc:  # an hour whose offset is not whole hours
            return None
        # "YYYY-MM-DD HH:" + "mm:ss", string by string but without a Python step for each.
        converted = list(map(add, cast(list[str], utc), minutes_seconds))
        if len(converted) == len(texts):
            return cast(list[object], converted)
        them = iter(converted)
        return [next(them) if text else None for text in texts]

    def _learn_time(self, value: object) -> None:
        """Teach the time columns a value: a sync-format time by its hour (when the zone's offset then is whole
        hours), any other by itself."""
        if type(value) is str and len(value) == 14 and value.isascii() and value.isdigit():
            hour = self._hours[value[:10]] if value[:10] in self._hours else self._hour(value[:10], "")
            if hour is not None:
                return
        self.time(value, "")

    def _plain_time(self, value: object) -> object:
        """A time as stored if it is in the sync format of an hour seen, or the column has seen it; else _MISS."""
        if type(value) is not str:
            return None if value is None else _MISS
        if len(value) == 14 and value.isdigit() and value.isascii():
            hour = self._hours.get(value[:10])
            if hour and value[10:12] < "60" and value[12:] < "60":
                return hour + value[10:12] + ":" + value[12:]
        return self._times.get(value, _MISS) if value else None

    def parse(self, raw: Mapping[str, object]) -> DossierRow:
        """Validate and normalise one row given by field name (as `ALIASES` names them)."""
        return self.parse_values([raw.get(name) for name in FIELDS])

    def parse_values(self, values: Sequence[object]) -> DossierRow:
        """Validate and normalise one row given as values in `FIELDS` order (any failure of a value is a
        RowError)."""
        try:
            return self._parse(values)
        except (ValueError, TypeError, OverflowError) as exc:
            if isinstance(exc, RowError):
                raise
            raise RowError(f"giá trị không hợp lệ: {exc}") from None

    def _parse(self, values: Sequence[object]) -> DossierRow:
        (
            code,
            procedure_code,
            procedure,
            commune,
            received,
            due,
            status,
            finished,
            returned,
            channel,
            applicant,
            note,
            fee,
            new_due,
            phone,
        ) = values
        for at in _REQUIRED_AT:
            if blank(values[at]):
                missing = (COLUMN_NAMES[FIELDS[i]] for i in _REQUIRED_AT if blank(values[i]))
                raise RowError("thiếu " + ", ".join(missing))
        code, key = self._code(code)
        received_at = self.time(received, "ngay_tiep_nhan")
        due_at = self.time(due, "ngay_hen_tra")
        assert received_at is not None
        if due_at is not None and due_at < received_at:
            raise RowError("ngày hẹn trả trước ngày tiếp nhận")
        return DossierRow(
            key,
            code,
            self._text(procedure_code),
            self._procedure(procedure),
            self._commune(commune),
            received_at,
            due_at,
            self._status(status),
            self.time(finished, "ngay_ket_thuc"),
            self.time(returned, "ngay_tra_ket_qua"),
            None if blank(channel) else self._channel(channel),
            _applicant(applicant),
            _note(note),
            None if blank(fee) else self._fee(fee),
            self.time(new_due, "ngay_hen_tra_moi"),
            self._phone(phone),
        )

    @staticmethod
    def _code(value: object) -> tuple[str, str]:
        code = str(scalar(value, "ma_ho_so", 4 * MAX_CODE)).strip()
        if not (code.isascii() and code.isprintable()) or " " in code:
            code = re.sub(r"\s+", "", _DASHES.sub("-", clean(code)))
        code = code.upper()
        key = code_key(code)
        if len(key) < 6:
            raise RowError(f"mã hồ sơ «{code}» quá ngắn")
        if len(key) > MAX_CODE:
            raise RowError(f"mã hồ sơ dài quá {MAX_CODE} ký tự")
        return code, key

    def _commune(self, value: object) -> str:
        return _remembered(self._communes, value, self._parse_commune)

    def _parse_commune(self, value: object) -> str:
        commune = _integer_text(scalar(value, "ma_xa")).zfill(5)
        if commune not in self.communes:
            raise RowError(f"mã xã {commune} không thuộc tỉnh")
        return commune

    def _status(self, value: object) -> int:
        return _remembered(self._statuses, value, _parse_status)

    def _channel(self, value: object) -> int | None:
        return _remembered(self._channels, value, _parse_channel)

    def _fee(self, value: object) -> int | None:
        return _remembered(self._fees, value, _parse_fee)

    def _phone(self, value: object) -> str | None:
        """The applicant's phone in the `84…` form; None (counted in `phones_ignored`) for one that is not a
        Vietnamese mobile number: the dossier counts all the same, only no ZNS message can reach its applicant."""
        phone = applicant_phone(value)
        if phone is None and not blank(value):
            self.phones_ignored += 1
        return phone

    def _procedure(self, value: object) -> str:
        return _remembered(self._procedures, value, _parse_procedure)

    def _text(self, value: object) -> str | None:
        """`_text` of a value that repeats (a procedure's code)."""
        return _remembered(self._texts, value, _procedure_code)


_T = TypeVar("_T")


def _remembered(known: dict[object, _T], value: object, parse: Callable[[object], _T]) -> _T:
    """`parse(value)`, remembered when the value is a string and parses (a file repeats most values)."""
    if type(value) is not str:
        return parse(value)
    if value in known:
        return known[value]
    parsed = parse(value)
    if len(known) < _CACHE_LIMIT:
        known[value] = parsed
    return parsed


def _parse_status(value: object) -> int:
    status = _small_int(value, "trang_thai")
    if not 1 <= status <= 11:
        raise RowError(f"trạng thái {status} không nằm trong 1–11")
    return status


def _parse_channel(value: object) -> int:
    channel = _small_int(value, "kenh_nop")
    if channel not in (1, 2, 3):
        raise RowError(f"kênh nộp {channel} không phải 1, 2 hoặc 3")
    return channel


def _parse_procedure(value: object) -> str:
    procedure = (_text(scalar(value, "ten_thu_tuc", 10 * MAX_PROCEDURE)) or "")[:MAX_PROCEDURE]
    if not procedure:
        raise RowError("thiếu ten_thu_tuc")
    return procedure


_MISS = object()


def _lookup(known: Mapping[object, object], value: object) -> object:
    return known.get(value, _MISS) if isinstance(value, Hashable) else _MISS


def _plain_codes(values: Sequence[object]) -> tuple[list[object], list[object]]:
    """(keys, codes) of a column of codes: `_plain_code` of each, checked and converted at once when every code
    is written plainly (the usual case), one by one otherwise."""
    joined = _joined(values)
    if joined is not None and joined.isascii() and joined.isprintable() and " " not in joined:
        codes = joined.upper().split("|")
        keys = joined.upper().replace(".", "").replace("-", "").split("|")
        if "".join(keys).isalnum() and min(map(len, keys)) >= 6 and max(map(len, keys)) <= MAX_CODE:
            return cast(list[object], keys), cast(list[object], codes)
    pairs = [_plain_code(value) for value in values]
    return [key for key, _ in pairs], [code for _, code in pairs]


def _or_miss(parse: Callable[[object], object], value: object) -> object:
    """`parse(value)`, or _MISS when it does not parse (its row then goes through `parse_values`, which says why)."""
    try:
        return parse(value)
    except RowError:
        return _MISS


def _plain_texts(values: Sequence[object], limit: int) -> list[object] | None:
    """`_text` of each value of a column whose texts need no cleaning (the usual case) and are at most `limit`
    characters, or None."""
    if not set(map(type, values)) <= _STR_OR_NONE:
        return None
    texts = cast(Sequence[str | None], values)
    if max((len(text) for text in texts if text), default=0) > limit:
        return None
    joined = "\n".join(text or "" for text in texts)
    if joined.count("\n") != len(texts) - 1:  # a value holds a line break
        return None
    clean_already = (
        joined.replace("\n", "").isprintable()
        and "  " not in joined
        and " \n" not in joined
        and "\n " not in joined
        and joined[:1] != " " != joined[-1:]
        and unicodedata.is_normalized("NFC", joined)  # no composition crosses the line breaks
    )
    if not clean_already:
        return None
    return [text or None for text in texts]


def _joined(values: Sequence[object]) -> str | None:
    """The values joined by `|` when they are all strings without one, else None."""
    if not set(map(type, values)) <= {str}:
        return None
    joined = "|".join(cast(Sequence[str], values))
    return joined if joined.count("|") == len(values) - 1 else None


def _plain_code(value: object) -> tuple[object, object]:
    """(key, code) of a code written plainly (ASCII, no spaces, of a valid length), else _MISS twice."""
    if type(value) is str and value.isascii() and value.isprintable() and " " not in value:
        code = value.upper()
        key = code_key(code)
        if 6 <= len(key) <= MAX_CODE:
            return key, code
    return _MISS, _MISS


def scalar(value: object, column: str, limit: int = MAX_SHORT) -> object:
    """The value when it is text of at most `limit` characters or a number (what a cell or a JSON field holds);
    RowError naming the column otherwise (a list, an object, true/false: never stored as Python's repr of it)."""
    if type(value) is str:
        if len(value) > limit:
            raise RowError(f"{column}: dài quá {limit} ký tự ({len(value)})")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        kind = {list: "danh sách", dict: "đối tượng", bool: "true/false"}.get(type(value), type(value).__name__)
        raise RowError(f"{column}: phải là chữ hoặc số, không phải {kind}")
    return value


def _applicant(value: object) -> str | None:
    return None if value is None else _text(scalar(value, "chu_ho_so", MAX_APPLICANT))


def _note(value: object) -> str | None:
    return None if value is None else _text(scalar(value, "ghi_chu", MAX_NOTE))


def _parse_fee(value: object) -> int | None:
    """An amount in đồng: `50000`, `50.000`, `50,000`, `50 000 đ`; RowError for anything else."""
    if blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(scalar(value, "le_phi")).strip().lower().removesuffix("đồng").removesuffix("đ").removesuffix("vnd")
    digits = text.replace(".", "").replace(",", "").replace(" ", "")
    if not (digits.isascii() and digits.isdigit()) or int(digits) > MAX_FEE:
        raise RowError(f"le_phi: «{text[:MAX_SHORT]}» không phải số tiền (đồng), ví dụ 50000")
    return int(digits)


_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
MOBILE_FIRST_DIGITS = "35789"  # Vietnamese mobile numbers since 2018: 03x, 05x, 07x, 08x, 09x


def _phone_or_none(value: object) -> str | None:
    """`applicant_phone` with the two usual values (none given, already in the `84…` form) taken at once."""
    if value is None or value == "":
        return None
    if type(value) is str and len(value) == 11 and value[:2] == "84" and value.isdigit() and value.isascii():
        return value if value[2] in MOBILE_FIRST_DIGITS else None
    return applicant_phone(value)


def applicant_phone(value: object) -> str | None:
    """A Vietnamese mobile number as ZNS takes it (`84` and 9 digits) from `0912 345 678`, `+84 912.345.678`,
    `84912345678` or a spreadsheet's number that lost its 0 (912345678); None for anything else (a landline, a
    foreign number, text: no Zalo message can use it)."""
    if value is None or isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    digits = _PHONE_SEPARATORS.sub("", str(value)[:40]).removeprefix("+")
    if len(digits) == 11 and digits.startswith("84"):
        national = digits[2:]
    elif len(digits) == 10 and digits.startswith("0"):
        national = digits[1:]
    elif len(digits) == 9:
        national = digits
    else:
        return None
    if not (national.isascii() and national.isdigit() and national[0] in MOBILE_FIRST_DIGITS):
        return None
    return "84" + national


def _procedure_code(value: object) -> str | None:
    return None if value is None else _text(scalar(value, "ma_thu_tuc", MAX_PROCEDURE_CODE))


def blank(value: object) -> bool:
    """Whether a cell holds nothing (None, or only white space)."""
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
    text = _integer_text(scalar(value, name))
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        raise RowError(f"{name}: «{text}» không phải số")
    return int(text)


Chunk = tuple[list[int], list[Sequence[object]]]


def read_table(path: Path, size: int = BATCH) -> Iterator[Chunk]:
    """The rows of a CSV or XLSX file in chunks of `size`: the line each row starts on, and its cells. The header
    comes alone, first."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            rows = workbook.worksheets[0].iter_rows(values_only=True)
            line = 1
            for size_now in _sizes(size):
                records: list[Sequence[object]] = list(islice(rows, size_now))
                if not records:
                    return
                yield list(range(line, line + len(records))), records
                line += len(records)
        finally:
            workbook.close()
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        sample = handle.read(SAMPLE)
        handle.seek(0)
        reader = csv.reader(handle, _dialect(sample))
        line = 1
        for size_now in _sizes(size):
            records = list(islice(reader, size_now))
            if not records:
                return
            if reader.line_num - line + 1 == len(records):  # one line each
                yield list(range(line, reader.line_num + 1)), records
            else:  # a quoted field spans lines
                yield _record_lines(records, line), records
            line = reader.line_num + 1


def _dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    """The CSV dialect of a file, from its first SAMPLE characters (both passes over a file read it alike)."""
    return csv.Sniffer().sniff(sample, delimiters=",;\t") if sample else csv.excel


def _sizes(size: int) -> Iterator[int]:
    """The header alone, then chunks of `size`."""
    yield 1
    while True:
        yield size


def _record_lines(records: list[Sequence[object]], line: int) -> list[int]:
    """The line each record starts on, counting the line breaks inside its fields as the CSV reader does."""
    lines = []
    for record in records:
        lines.append(line)
        line += 1 + sum(_breaks(str(cell)) for cell in record)
    return lines


def _breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


@dataclass
class ParsedBatch:
    """Good rows with the line each came from, and the rejected lines."""

    rows: list[DossierValues] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    phones_ignored: int = 0  # phones that are not mobile numbers (the rows are good)


def parse_file(path: Path, parser: RowParser, batch_size: int = BATCH) -> Iterator[ParsedBatch]:
    """Read and check a whole file, in batches of `batch_size` lines."""
    chunks = read_table(path, batch_size)
    names = _header(chunks)
    absent = [COLUMN_NAMES[name] for name in REQUIRED if name not in names]
    if absent:
        raise RowError("thiếu cột: " + ", ".join(absent))
    at = [names.index(name) if name in names else -1 for name in FIELDS]
    for numbers, records in chunks:
        cells = list(zip_longest(*records))  # short rows padded with None
        nothing = (None,) * len(records)
        ignored = parser.phones_ignored
        parsed, errors = parser.parse_columns([cells[i] if 0 <= i < len(cells) else nothing for i in at])
        ignored = parser.phones_ignored - ignored
        if not errors:  # every row is good (the usual case): as they are
            yield ParsedBatch(cast(list[DossierValues], parsed), numbers, phones_ignored=ignored)
            continue
        batch = ParsedBatch(phones_ignored=ignored)
        for i, (number, row) in enumerate(zip(numbers, parsed, strict=True)):
            if row is not None:
                batch.rows.append(row)
                batch.lines.append(number)
            elif any(str(cell or "").strip() for cell in records[i]):  # an empty line is no row at all
                batch.rejected.append((number, errors[i]))
        yield batch


def _header(chunks: Iterator[Chunk]) -> list[str | None]:
    first = next(chunks, None)
    if first is None:
        raise RowError("tệp trống")
    return header_fields(first[1][0])


def _key_or_blank(value: object) -> str:
    """The key the parser gives this code ("" for none): both passes must agree on it."""
    try:
        return RowParser._code(value)[1]
    except (ValueError, TypeError):
        return ""


def last_lines(path: Path) -> dict[str, int]:
    """The last line of each code in the file (a first pass that reads only the code column; {} without one)."""
    by_line = _line_last_lines(path)
    return by_line if by_line is not None else _parsed_last_lines(path)


def _parsed_last_lines(path: Path) -> dict[str, int]:
    """`last_lines` through the CSV or XLSX reader: every field of every row is parsed."""
    chunks = read_table(path)
    try:
        names = _header(chunks)
    except RowError:
        return {}
    if "code" not in names:
        return {}
    at = names.index("code")
    pick = itemgetter(at)
    last: dict[str, int] = {}
    for numbers, records in chunks:
        try:
            codes: Sequence[object] = list(map(pick, records))
        except IndexError:  # a short row somewhere in the chunk
            codes = [record[at] if len(record) > at else None for record in records]
        _learn_last(last, codes, numbers)
    return last


def _learn_last(last: dict[str, int], codes: Sequence[object], numbers: Sequence[int]) -> None:
    """Record the line of each code, keyed as the parser keys it."""
    keys, _ = _plain_codes(codes)
    if _MISS in keys:
        keys = [_key_or_blank(code) for code in codes]
    last.update(zip(cast(list[str], keys), numbers, strict=True))


def _line_last_lines(path: Path) -> dict[str, int] | None:
    """`last_lines` of a CSV file whose records are one line each and mostly without quotes, or None for any other
    file (an XLSX file, a quoted field that spans lines, an escape character, many quoted fields).

    A line is then a record, and a line without a quote character splits at its delimiters: the code column is
    cut out of the bytes a block at a time, and only the lines with a quote are parsed by the CSV reader (which
    also tells whether one ends inside a quoted field). The first pass is on the way of the first batch to the
    database, and parsing every field of every row made it a quarter of a big import's time (bench/README.md)."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return None
    with path.open("rb") as handle:
        head = handle.read(4 * SAMPLE)
        bom = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
        sample = codecs.getincrementaldecoder("utf-8")().decode(head[bom:])[:SAMPLE]
        if not sample:
            return {}
        dialect = _dialect(sample)
        if dialect.escapechar or len(dialect.delimiter) != 1 or not dialect.delimiter.isascii():
            return None
        delimiter, quote = dialect.delimiter.encode(), (dialect.quotechar or "").encode()
        closed = _closed_line(dialect)
        handle.seek(bom)
        last: dict[str, int] = {}
        at, number, pending, first = -1, 1, b"", True
        while True:
            block = handle.read(FIRST_PASS_BLOCK)
            data = pending + block
            # A line that may go on in the next block waits for it (and so does a \r that a \n may follow).
            cut = data.rfind(b"\n") + 1 if block else len(data)
            chunk, pending = data[:cut], data[cut:]
            if not chunk.isascii():
                chunk.decode()  # nothing is written from a file that is not UTF-8: it fails here as in the CSV reader
            lines = chunk.splitlines()
            if lines and max(map(len, lines)) > csv.field_size_limit():
                return None  # a field may be longer than the CSV reader takes: it refuses the file, before anything
            if at < 0 and lines:
                header = _records(lines[:1], dialect)
                if header is None:
                    return None
                names = header_fields(header[0])
                if "code" not in names:
                    return {}
                at, lines, number = names.index("code"), lines[1:], 2
            quoted = [i for i, line in enumerate(lines) if quote in line] if quote and quote in chunk else []
            if closed is not None:  # lines with a quote: each must end outside a quoted field
                if not all(map(closed.fullmatch, [lines[i] for i in quoted])):
                    return None  # a quoted field goes on in the next line: the CSV reader knows where records end
                # Only a quote before the code's end moves where the code is.
                quoted = [i for i in quoted if quote in b"".join(lines[i].split(delimiter, at + 1)[: at + 1])]
            elif first and len(quoted) > FIRST_PASS_QUOTED * len(lines):
                return None
            first = False
            records = _records([lines[i] for i in quoted], dialect)
            if records is None:
                return None  # a quoted field goes on in the next line: the CSV reader knows where records end
            if lines:
                codes = _code_column(lines, at, delimiter)
                for i, record in zip(quoted, records, strict=True):  # a quoted field may hold the delimiter
                    codes[i] = record[at] if len(record) > at else ""
                _learn_last(last, codes, range(number, number + len(lines)))
                number += len(lines)
            if not block:
                return last


def _closed_line(dialect: type[csv.Dialect] | csv.Dialect) -> re.Pattern[bytes] | None:
    """For a dialect quoting with `"` and no escape character or skipped spaces (what `csv.Sniffer` finds in the
    usual export): a pattern that a line matches whole exactly when it ends outside a quoted field, as the CSV
    reader reads it. A quote opens a field only at its start; inside, a doubled quote is one quote when the
    dialect says so, and any other quote ends the quoted part; the rest of the field is plain text up to the
    delimiter. None for any other dialect."""
    plain = dialect.quotechar == '"' and dialect.quoting != csv.QUOTE_NONE and not dialect.escapechar
    if not plain or dialect.skipinitialspace or getattr(dialect, "strict", False):
        return None
    d = re.escape(dialect.delimiter.encode())
    rest = b"[^" + d + b"]*"
    quoted = b'"(?:[^"]|"")*"(?:[^"' + d + b"]" + rest + b")?" if dialect.doublequote else b'"[^"]*"' + rest
    field = b"(?:" + quoted + b'|[^"' + d + b"]" + rest + b"|)"
    return re.compile(field + b"(?:" + d + field + b")*")


def _records(lines: list[bytes], dialect: type[csv.Dialect] | csv.Dialect) -> list[list[str]] | None:
    """The fields of each of these lines as the CSV reader reads them, or None when a line ends inside a quoted
    field (the reader then takes the next line into the same record; a last line is followed by a stand-in)."""
    if not lines:
        return []
    texts = b"\n".join(lines).decode().split("\n")
    try:
        records = list(csv.reader([*texts, "-"], dialect))
    except csv.Error:
        return None
    return records[:-1] if len(records) == len(texts) + 1 else None


def _code_column(lines: list[bytes], at: int, delimiter: bytes) -> list[str]:
    """Field `at` of each line cut at the delimiters ("" where a line is shorter)."""
    fields = [line.split(delimiter, at + 1) for line in lines]
    return b"\n".join([field[at] if len(field) > at else b"" for field in fields]).decode().split("\n")


async def import_file(
    path: Path,
    service: DossierService,
    parser: RowParser,
    now: datetime,
    progress: Callable[[int], object] | None = None,
    *,
    child_from: int = CHILD_FROM,
) -> ImportSummary:
    """Import a CSV or XLSX file in batches; returns the counts and the rejected lines.

    When a code appears on several lines, the last one wins and the others are counted as superseded: importing
    the file twice must not replay a dossier's steps. A first pass over the file finds each code's last line.

    A file of `child_from` bytes or more is parsed in a child process, a few batches ahead, while this process
    makes the first pass and then writes (the halves take about as long as each other: bench/README.md)."""
    summary = ImportSummary()
    source = f"import:{path.name}"
    big = await asyncio.to_thread(os.path.getsize, path) >= child_from
    batches = _parsed_in_child(path, parser) if big else _parsed_here(path, parser)
    first_pass = asyncio.ensure_future(asyncio.to_thread(last_lines, path))
    try:
        async for batch in batches:
            summary.rejected += batch.rejected
            summary.phones_ignored += batch.phones_ignored
            last = await first_pass
            rows = [row for row, line in zip(batch.rows, batch.lines, strict=True) if last.get(row[0], line) == line]
            summary.superseded += len(batch.rows) - len(rows)
            if rows:
                result = await service.apply(rows, source, now)
                summary.inserted += result.inserted
                summary.updated += result.updated
                summary.unchanged += result.unchanged
                summary.status_changes += result.status_changes
            if progress is not None:
                progress(len(batch.rows) + len(batch.rejected))
    finally:
        await batches.aclose()  # stops the child now, not when the generator is collected
        first_pass.cancel()  # when the import stopped early (its thread reads on and its result is dropped)
        with suppress(BaseException):
            await first_pass
    return summary


async def _parsed_here(path: Path, parser: RowParser) -> AsyncGenerator[ParsedBatch, None]:
    for batch in parse_file(path, parser):
        yield batch


async def _parsed_in_child(path: Path, parser: RowParser) -> AsyncGenerator[ParsedBatch, None]:
    """`parse_file` run in a child process; its errors are raised here as RowError.

    The batches come through a one-way pipe whose sending end this process closes at once: if the child dies,
    even halfway through a batch, reading ends with EOFError instead of waiting for ever. A thread reads the pipe
    into a short queue, so that the child can work a few batches ahead of the database."""
    context = multiprocessing.get_context("spawn")  # not fork: this process has the database's thread
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_parse_for, args=(path, parser, sender), name="phucvu-import", daemon=True)
    child.start()
    sender.close()
    ahead: queue.Queue[ParsedBatch | str | None] = queue.Queue(maxsize=3)
    stop = threading.Event()
    pump = threading.Thread(target=_pump, args=(receiver, child, ahead, stop), name="phucvu-import-pipe", daemon=True)
    pump.start()
    try:
        while True:
            item = await asyncio.to_thread(ahead.get)
            if item is None:
                return
            if isinstance(item, str):
                raise RowError(item)
            yield item
    finally:
        stop.set()
        if child.is_alive():
            child.terminate()
        await asyncio.to_thread(child.join)
        await asyncio.to_thread(pump.join)
        receiver.close()


def _parse_for(path: Path, parser: RowParser, sender: Connection) -> None:
    """The child process: every batch, then None; or the reason it stopped."""
    try:
        for batch in parse_file(path, parser):
            sender.send(batch)
    except Exception as exc:  # the parent reports it
        sender.send(str(exc) if isinstance(exc, RowError) else f"{type(exc).__name__}: {exc}")
        return
    sender.send(None)


def _pump(
    receiver: Connection,
    child: multiprocessing.process.BaseProcess,
    ahead: queue.Queue[ParsedBatch | str | None],
    stop: threading.Event,
) -> None:
    """Move what the child sends into `ahead` until its last batch, its error, or its end (an error too)."""
    while not stop.is_set():
        try:
            item: ParsedBatch | str | None = receiver.recv()
        except (EOFError, OSError):
            child.join(5)
            item = f"tiến trình đọc tệp dừng bất thường (mã {child.exitcode})"
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.2)
                break
            except queue.Full:
                continue
        if not isinstance(item, ParsedBatch):
            return


def last_of_each(rows: Sequence[DossierRow]) -> tuple[list[DossierRow], int]:
    """Keep the last row of each code (a list may carry a dossier's steps in order); and how many were dropped."""
    last = {row.code_key: row for row in rows}
    return list(last.values()), len(rows) - len(last)
