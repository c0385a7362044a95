"""Facility reports out of the bot (`phucvu export-reports`): CSV for a spreadsheet, or JSON in the shape of an
Open311 GeoReport v2 service request list, for the province's other systems.

Photos are Telegram file ids, which mean nothing outside the bot and whose download URL carries the bot's token.
So a photo is linked as `PHUCVU_PUBLIC_URL/media/reports/<id>/<n>/<signature>`: the bot's HTTP server (the one
with the ingest endpoint) serves it, and the signature (an HMAC under the ingest token) makes the links
impossible to guess. A photo that arrived as a URL (Zalo) is linked as it is. Without a public URL, no link.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

from bot.dossiers import from_sql_time
from bot.i18n import translator
from bot.reports import CATEGORIES, SEVERITIES, STATE_NAMES, State, report_number
from storage.reports import OPEN_STATES, ExportedReport

FORMATS = ("csv", "open311")
MEDIA_PATH = "/media/reports"

CSV_COLUMNS = (
    "so_bao_cao",
    "ma_xa",
    "ten_xa",
    "loai",
    "ten_loai",
    "muc_do",
    "ten_muc_do",
    "trang_thai",
    "ten_trang_thai",
    "mo_ta",
    "ghi_chu_cuoi",
    "cac_ghi_chu",
    "vi_do",
    "kinh_do",
    "ngay_bao_cao",
    "ngay_cap_nhat",
    "han_khac_phuc",
    "ngay_dong",
    "so_anh",
    "anh",
)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): such text gets a `'`.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    """Text a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def sign(key: str, path: str) -> str:
    """What makes a link the bot serves unguessable: 20 hex digits of an HMAC-SHA256 of its path under `key`."""
    return hmac.new(key.encode(), path.encode(), hashlib.sha256).hexdigest()[:20]


def signature(key: str, report_id: int, number: int) -> str:
    """The signature of the link to photo `number` of a report."""
    return sign(key, f"{report_id}/{number}")


def signed(key: str, report_id: int, number: int, given: str) -> bool:
    """Whether `given` is the signature of photo `number` of the report (in constant time)."""
    return bool(key) and hmac.compare_digest(signature(key, report_id, number), given)


FILE_IDS = "telegram"  # the channel whose photos are kept as its file ids (only it can send a photo by one)


def photo_link(ref: str, report_id: int, number: int, public_url: str, key: str, channel: str = "") -> str | None:
    """What shows photo `number` (from 1) of a report to someone on `channel` (none: anyone, as an export): a photo
    that arrived as a URL, as it is; a Telegram file id on Telegram, as it is, elsewhere as the bot's signed media
    link (None without a public URL and a key)."""
    if ref.startswith(("https://", "http://")) or channel == FILE_IDS:
        return ref
    if not (public_url and key):
        return None
    return f"{public_url.rstrip('/')}{MEDIA_PATH}/{report_id}/{number}/{signature(key, report_id, number)}"


class Exporter:
    """Turns stored reports into rows or Open311 requests, in Vietnamese and in the province's time zone.

    `commune_name` names a commune by its code; `public_url` and `key` make the links to photos kept as Telegram
    file ids (either empty: no links to them)."""

    def __init__(self, tz: ZoneInfo, commune_name: Callable[[str], str], public_url: str = "", key: str = "") -> None:
        self.tz = tz
        self.commune_name = commune_name
        self.public_url = public_url.rstrip("/")
        self.key = key
        self.t = translator("vi")

    def _time(self, stored: str | None) -> str | None:
        return from_sql_time(stored).astimezone(self.tz).isoformat() if stored else None

    def photo_urls(self, item: ExportedReport) -> list[str]:
        """The links to the report's photos (those the bot can link)."""
        links = (
            photo_link(ref, item.report.id, position + 1, self.public_url, self.key) for position, ref in item.photos
        )
        return [link for link in links if link is not None]

    def notes(self, item: ExportedReport) -> list[dict[str, str]]:
        """Every note on the report, oldest first: when, from whom (`tinh` the province, `xa` the commune), what."""
        return [
            {"thoi_gian": self._time(at) or "", "nguon": "tinh" if kind == "moved" else "xa", "ghi_chu": note}
            for at, kind, note in item.notes
        ]

    def _status_notes(self, item: ExportedReport) -> str:
        state = self.t.gettext(STATE_NAMES[State(item.report.state)])
        return f"{state}: {item.last_note}" if item.last_note else state

    def row(self, item: ExportedReport) -> dict[str, Any]:
        """One CSV row."""
        r, t = item.report, self.t
        return {
            "so_bao_cao": report_number(r.id),
            "ma_xa": r.commune_code,
            "ten_xa": safe_cell(self.commune_name(r.commune_code)),
            "loai": r.category,
            "ten_loai": t.gettext(CATEGORIES[r.category].name),
            "muc_do": r.severity,
            "ten_muc_do": t.gettext(SEVERITIES[r.severity]),
            "trang_thai": r.state,
            "ten_trang_thai": t.gettext(STATE_NAMES[State(r.state)]),
            "mo_ta": safe_cell(r.description),
            "ghi_chu_cuoi": safe_cell(item.last_note or ""),
            "cac_ghi_chu": safe_cell(
                "\n".join(f"{n['thoi_gian']} ({n['nguon']}) {n['ghi_chu']}" for n in self.notes(item))
            ),
            "vi_do": "" if r.lat is None else r.lat,
            "kinh_do": "" if r.lon is None else r.lon,
            "ngay_bao_cao": self._time(r.created_at),
            "ngay_cap_nhat": self._time(r.updated_at),
            "han_khac_phuc": self._time(r.target_at),
            "ngay_dong": self._time(r.closed_at) or "",
            "so_anh": r.photos,
            "anh": " ".join(self.photo_urls(item)),
        }

    def open311(self, item: ExportedReport) -> dict[str, Any]:
        """One Open311 GeoReport v2 service request (what `GET requests.json` returns for it), with the fields
        Open311 has no name for under `extended_attributes`."""
        r, t = item.report, self.t
        urls = self.photo_urls(item)
        commune = self.commune_name(r.commune_code)
        return {
            "service_request_id": report_number(r.id),
            "status": "open" if r.state in OPEN_STATES else "closed",
            "status_notes": self._status_notes(item),
            "service_name": t.gettext(CATEGORIES[r.category].name),
            "service_code": r.category,
            "description": r.description,
            "agency_responsible": f"Trung tâm phục vụ hành chính công {commune}",
            "service_notice": "",
            "requested_datetime": self._time(r.created_at),
            "updated_datetime": self._time(r.updated_at),
            "expected_datetime": self._time(r.target_at),
            "address": commune,
            "address_id": r.commune_code,
            "zipcode": None,
            "lat": r.lat,
            "long": r.lon,
            "media_url": urls[0] if urls else None,
            "extended_attributes": {
                "severity": r.severity,
                "severity_name": t.gettext(SEVERITIES[r.severity]),
                "state": r.state,
                "state_name": t.gettext(STATE_NAMES[State(r.state)]),
                "closed_datetime": self._time(r.closed_at),
                "media_urls": urls,
                "notes": self.notes(item),
            },
        }

    def write(self, items: Iterable[ExportedReport], form: str, out: io.TextIOBase | Any) -> int:
        """Write every report to `out` in `form` (csv or open311); how many."""
        if form == "csv":
            writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
            writer.writeheader()
            count = 0
            for item in items:
                writer.writerow(self.row(item))
                count += 1
            return count
        if form == "open311":
            requests = [self.open311(item) for item in items]
            json.dump(requests, out, ensure_ascii=False, indent=2)
            out.write("\n")
            return len(requests)
        raise ValueError(f"unknown format {form!r}; one of {', '.join(FORMATS)}")
