"""The `phucvu` command: run the bot, the console, and the admin tools."""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import re
import sqlite3
import sys
import urllib.parse
import zipfile
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

from bot.config import ConfigError, Settings, database_password, parse_database
from bot.metrics import UPDATE

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger("phucvu")


# A Vietnamese mobile number in any usual form (`0912345678`, `84912345678`, `+84 912 345 678`).
_PHONE = re.compile(r"(?<![\d])(?:\+?84|0)[ .]?[35789]\d{1,2}(?:[ .]?\d){6,7}(?![\d])")


class RedactingFormatter(logging.Formatter):
    """One line per event (a traceback folded into it, its line breaks written `\\n`), with the update being
    answered (`[telegram:1234]`), the bot's tokens and secrets replaced (tracebacks included: httpx logs request
    URLs, and PTB's InvalidToken message quotes the token) and phone numbers masked."""

    def __init__(self, *secrets: str) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(update)s]: %(message)s")
        self.secrets = [secret for secret in secrets if secret]

    def format(self, record: logging.LogRecord) -> str:
        record.update = UPDATE.get()
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "<token>")
        return _PHONE.sub("<phone>", text).replace("\r", "").replace("\n", "\\n")


def setup_logging(settings: Settings, level: int = logging.INFO) -> None:
    """Log to stderr, one line per event, with the secrets masked; quiet the HTTP client's per-request lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter(
            settings.telegram_token.value,
            settings.zalo_token.value,
            settings.zalo_webhook_secret.value,
            settings.ingest_token.value,
            settings.zns_secret_key.value,
            settings.zns_refresh_token.value,
            settings.telegram_webhook_secret.value,
            database_password(settings.database_url),
        )
    )
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per job run, every few seconds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="phucvu", description="Phục Vụ — trợ lý hành chính công tỉnh Lạng Sơn")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="chạy bot (Telegram và/hoặc Zalo; không có token nào: chat console)")
    console = sub.add_parser("console", help="chat trong terminal qua cùng handlers và services")
    console.add_argument(
        "--as",
        dest="role",
        choices=["citizen", "official", "leader", "admin"],
        default="citizen",
        help="vai trò khi chat",
    )
    console.add_argument("--commune", help="xã, phường của cán bộ (với --as official)")
    centres = sub.add_parser("import-centres", help="nạp địa chỉ, điện thoại, giờ làm việc của trung tâm từ CSV")
    centres.add_argument("path", type=Path)
    dossiers = sub.add_parser("import-dossiers", help="nạp hồ sơ từ CSV hoặc XLSX (nạp lại không đổi gì)")
    dossiers.add_argument("path", type=Path)
    procedures = sub.add_parser(
        "import-procedures", help="nạp danh mục thủ tục hành chính của tỉnh từ CSV hoặc XLSX (nạp lại không đổi gì)"
    )
    procedures.add_argument("path", type=Path)
    invite = sub.add_parser("invite", help="tạo mã mời dùng một lần cho cán bộ xã hoặc lãnh đạo tỉnh")
    invite.add_argument("role", choices=["official", "leader"], help="official: cán bộ xã; leader: lãnh đạo tỉnh")
    invite.add_argument("--commune", help="tên hoặc mã xã, phường của cán bộ (bắt buộc với official)")
    invite.add_argument("--days", type=int, default=7, help="số ngày mã còn hiệu lực (mặc định 7)")
    revoke = sub.add_parser("revoke-invite", help="thu hồi một mã mời chưa dùng")
    revoke.add_argument("code")
    roles = sub.add_parser("roles", help="những người giữ quyền: liệt kê, thu hồi")
    roles_sub = roles.add_subparsers(dest="roles_command", required=True)
    listing = roles_sub.add_parser("list", help="liệt kê những người giữ quyền")
    listing.add_argument("--commune", help="chỉ cán bộ của xã, phường này (tên hoặc mã)")
    listing.add_argument("--role", choices=["official", "leader"], help="chỉ vai trò này")
    taking = roles_sub.add_parser("revoke", help="thu hồi quyền của một người (ghi vào nhật ký, báo cho người đó)")
    taking.add_argument("person", help="KÊNH:ID như `roles list` in, ví dụ telegram:123456 hoặc zalo:abc")
    export = sub.add_parser("export-reports", help="xuất báo cáo khó khăn: CSV, hoặc JSON theo Open311 GeoReport v2")
    export.add_argument("--format", choices=["csv", "open311"], default="csv", help="csv (mặc định) hoặc open311")
    export.add_argument("--output", "-o", type=Path, help="ghi vào tệp này (mặc định: ra màn hình)")
    export.add_argument("--open-only", action="store_true", help="chỉ các báo cáo còn mở")
    ratings = sub.add_parser(
        "export-ratings", help="xuất đánh giá mức độ hài lòng (CSV, không có danh tính người đánh giá)"
    )
    ratings.add_argument("--format", choices=["csv"], default="csv", help="csv")
    ratings.add_argument("--output", "-o", type=Path, help="ghi vào tệp này (mặc định: ra màn hình)")
    digest = sub.add_parser("digest", help="in bản tóm tắt mà lãnh đạo tỉnh nhận cho một ngày")
    digest.add_argument("--date", type=date.fromisoformat, help="ngày YYYY-MM-DD (mặc định: hôm nay)")
    digest.add_argument("--weekly", action="store_true", help="bản tóm tắt tuần (gửi thứ Hai)")
    digest.add_argument("--commune", help="tên hoặc mã của một xã, phường")
    digest.add_argument("--chart", type=Path, help="ghi biểu đồ PNG vào tệp này")
    digest.add_argument("--lang", choices=["vi", "en"], default="vi", help="ngôn ngữ (mặc định vi)")
    digest.add_argument("--json", action="store_true", help="in các số liệu dạng JSON (như văn bản tóm tắt)")
    demo = sub.add_parser("demo-data", help="tạo hồ sơ mẫu cho mọi xã, phường theo số liệu của tỉnh")
    demo.add_argument("--seed", type=int, default=2025, help="hạt giống ngẫu nhiên (mặc định 2025)")
    demo.add_argument("--days", type=int, default=60, help="số ngày gần nhất (mặc định 60)")
    copy = sub.add_parser(
        "copy-data", help="chép toàn bộ dữ liệu từ SQLite sang PostgreSQL, kiểm tra từng bảng (chạy lại an toàn)"
    )
    copy.add_argument("--from", dest="source", required=True, help="sqlite:///phucvu.db hoặc đường dẫn tệp")
    copy.add_argument("--to", dest="target", required=True, help="postgresql://người_dùng@máy:5432/cơ_sở_dữ_liệu")
    copy.add_argument("--replace", action="store_true", help="xóa dữ liệu khác nguồn đã có trên PostgreSQL rồi chép")
    sub.add_parser("migrate", help="chỉ nâng cấp cấu trúc cơ sở dữ liệu (bước triển khai), rồi thoát")
    backup = sub.add_parser("backup", help="sao lưu nhất quán cơ sở dữ liệu SQLite đang chạy vào một tệp mới")
    backup.add_argument("path", type=Path, help="tệp sao lưu (chưa có)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `phucvu` and `python -m bot`."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"Cấu hình sai: {exc}", file=sys.stderr)
        return 2
    if args.command in ("import-centres", "import-dossiers", "import-procedures"):
        setup_logging(settings, logging.WARNING)
        if not args.path.is_file():
            print(f"Không có tệp {args.path}", file=sys.stderr)
            return 2
        importers = {
            "import-centres": _import_centres,
            "import-dossiers": _import_dossiers,
            "import-procedures": _import_procedures,
        }
        return asyncio.run(importers[args.command](settings, args.path))
    if args.command in ("invite", "revoke-invite"):
        setup_logging(settings, logging.WARNING)
        if args.command == "revoke-invite":
            return asyncio.run(_revoke_invite(settings, args.code))
        return asyncio.run(_invite(settings, args.role, args.commune, args.days))
    if args.command == "roles":
        setup_logging(settings, logging.WARNING)
        if args.roles_command == "list":
            return asyncio.run(_roles_list(settings, args.commune, args.role))
        return asyncio.run(_roles_revoke(settings, args.person))
    if args.command == "export-reports":
        setup_logging(settings, logging.WARNING)
        return asyncio.run(_export_reports(settings, args.format, args.output, args.open_only))
    if args.command == "export-ratings":
        setup_logging(settings, logging.WARNING)
        return asyncio.run(_export_ratings(settings, args.output))
    if args.command == "digest":
        setup_logging(settings, logging.WARNING)
        return asyncio.run(_digest(settings, args.date, args.weekly, args.commune, args.chart, args.lang, args.json))
    if args.command == "copy-data":
        setup_logging(settings, logging.WARNING)
        return asyncio.run(_copy_data(args.source, args.target, args.replace))
    if args.command == "migrate":
        setup_logging(settings, logging.WARNING)
        return asyncio.run(_migrate(settings))
    if args.command == "backup":
        setup_logging(settings, logging.WARNING)
        return _backup(settings, args.path)
    if args.command == "demo-data":
        setup_logging(settings, logging.WARNING)
        return asyncio.run(_demo_data(settings, args.seed, args.days))
    if args.command == "console" or not (settings.telegram_token or settings.zalo_token):
        setup_logging(settings, logging.WARNING)
        from bot.app import run_console

        role = getattr(args, "role", "citizen")
        ok = asyncio.run(run_console(settings, role=role, commune=getattr(args, "commune", None)))
        return 0 if ok else 2
    try:
        settings.serving()
    except ConfigError as exc:
        print(f"Cấu hình sai: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings)
    from telegram import Update

    from bot.app import build_application, serve

    if settings.zalo_token:
        log.info("Phục Vụ: Zalo against %s", settings.zalo_api_base_url)
    try:
        if not settings.telegram_token:
            asyncio.run(serve(build_application(settings, telegram=False)))
            return 0
        if settings.telegram_webhook_url:  # Telegram calls; any number of processes behind the proxy answer
            log.info("Phục Vụ: Telegram webhook at %s", settings.telegram_webhook_url)
            asyncio.run(serve(build_application(settings)))
            return 0
        log.info("Phục Vụ: long polling against %s", settings.telegram_api_base_url)
        build_application(settings).run_polling(allowed_updates=Update.ALL_TYPES)
    except Exception:
        log.exception("the bot stopped")  # through the redacting formatter, unlike an uncaught traceback
        return 1
    return 0


def where(settings: Settings) -> str:
    """The database as a person reads it: the SQLite file, or PostgreSQL's address without its password."""
    if not settings.database_url:
        return str(settings.db_path)
    parts = urllib.parse.urlsplit(settings.database_url)
    host = parts.hostname or "?"
    return f"PostgreSQL {host}{f':{parts.port}' if parts.port else ''}{parts.path}"


async def _migrate(settings: Settings) -> int:
    """Apply the pending migrations and say where the database stands (a deploy step before the new version
    starts; the bot also migrates at start)."""
    from bot.services import open_database
    from storage.db import discover_migrations

    try:
        db = await open_database(settings, migrate=False)
    except (OSError, sqlite3.Error, asyncpg.PostgresError) as exc:
        print(f"Không mở được cơ sở dữ liệu {where(settings)}: {exc}", file=sys.stderr)
        return 2
    try:
        applied = await db.migrate()
        latest = max((m.number for m in discover_migrations()), default=0)
    finally:
        await db.close()
    if applied:
        steps = ", ".join(f"{number:04d}" for number in applied)
        print(f"Đã nâng cấp {len(applied)} bước ({steps}); cơ sở dữ liệu ở bước {latest:04d}.")
    else:
        print(f"Cơ sở dữ liệu đã ở bước mới nhất ({latest:04d}); không có gì để nâng cấp.")
    return 0


async def _copy_data(source: str, target: str, replace: bool) -> int:
    """Copy a SQLite database into PostgreSQL, verified per table; say what each table held."""
    from storage.copy_data import CopyRefused, copy_data

    try:
        path, not_sqlite = parse_database("--from", source)
        _, url = parse_database("--to", target)
    except ConfigError as exc:
        print(f"Sai tham số: {exc}", file=sys.stderr)
        return 2
    if not_sqlite or not url:
        print("copy-data chép từ SQLite (--from sqlite:///…) sang PostgreSQL (--to postgresql://…).", file=sys.stderr)
        return 2
    if not path.is_file():
        print(f"Không có cơ sở dữ liệu nguồn {path}.", file=sys.stderr)
        return 2
    there = where(Settings(database_url=url))
    try:
        tables = await copy_data(path, url, replace=replace)
    except CopyRefused as exc:
        print(f"Không chép: {exc}.", file=sys.stderr)
        return 1
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"Không chép được sang {there}: {exc}", file=sys.stderr)
        return 1
    for table in tables:
        print(f"{table.name}\t{table.rows} dòng\ttổng kiểm {table.checksum}")
    total = sum(table.rows for table in tables)
    if any(table.copied for table in tables):
        print(
            f"Đã chép {total} dòng của {len(tables)} bảng từ {path} sang {there}; số dòng và tổng kiểm khớp từng bảng."
        )
    else:
        print(f"{there} đã giống hệt {path} ({total} dòng, {len(tables)} bảng): không chép lại gì.")
    return 0


def _backup(settings: Settings, target: Path) -> int:
    """A consistent copy of the live database (SQLite's online backup API: the bot may keep writing), checked
    before it takes its name."""
    from storage.db import backup

    if settings.database_url:
        print(
            "PHUCVU_DB là PostgreSQL: sao lưu bằng pg_dump của PostgreSQL, ví dụ"
            f" `pg_dump --format=custom --file={target} <tên cơ sở dữ liệu>`; khôi phục bằng pg_restore"
            " (xem README, mục Running in production).",
            file=sys.stderr,
        )
        return 2
    if not settings.db_path.is_file():
        print(f"Không có cơ sở dữ liệu {settings.db_path} (PHUCVU_DB).", file=sys.stderr)
        return 2
    if target.exists():
        print(f"{target} đã có: chọn tên tệp khác (bản sao lưu không ghi đè tệp nào).", file=sys.stderr)
        return 2
    try:
        pages = backup(settings.db_path, target)
    except (OSError, RuntimeError, sqlite3.Error) as exc:
        print(f"Không sao lưu được: {exc}", file=sys.stderr)
        return 1
    print(
        f"Đã sao lưu {settings.db_path} vào {target} ({pages} trang, đã kiểm tra toàn vẹn).\n"
        f"Khôi phục: dừng bot, chép {target} thành {settings.db_path} (xóa {settings.db_path.name}-wal và "
        f"{settings.db_path.name}-shm nếu có), rồi chạy lại bot."
    )
    return 0


def _print_rejected(rejected: list[tuple[int, str]]) -> None:
    for line, reason in rejected:
        print(f"dòng {line}: bỏ qua — {reason}", file=sys.stderr)


async def _import_centres(settings: Settings, path: Path) -> int:
    from bot.services import open_services

    services = await open_services(settings)
    try:
        report = await services.centres.import_csv(path, by="import-centres", now=services.clock().isoformat())
    except (ValueError, UnicodeDecodeError) as exc:
        print(f"Không đọc được {path}: {exc}", file=sys.stderr)
        return 2
    finally:
        await services.db.close()
    _print_rejected(report.rejected)
    print(f"Đã cập nhật {report.updated} trung tâm; bỏ qua {len(report.rejected)} dòng.")
    return 0 if not report.rejected else 1


async def _import_dossiers(settings: Settings, path: Path) -> int:
    from xml.etree.ElementTree import ParseError as XMLSyntaxError

    from defusedxml import DefusedXmlException
    from openpyxl.utils.exceptions import InvalidFileException
    from tqdm import tqdm

    from bot.dossier_import import RowError, RowParser, import_file
    from bot.services import open_services

    services = await open_services(settings)
    parser = RowParser(set(services.centres.directory.communes), settings.timezone)
    try:
        with tqdm(unit=" dòng", desc=path.name, file=sys.stderr, disable=None) as bar:
            summary = await import_file(path, services.dossiers, parser, services.clock(), bar.update)
    except (RowError, UnicodeDecodeError, OSError) as exc:
        print(f"Không nạp được {path}: {exc}", file=sys.stderr)
        return 2
    except csv.Error as exc:  # the CSV's delimiter cannot be told, or a field is broken
        print(f"Không nạp được {path}: không đọc được tệp CSV ({exc}); cần dòng tiêu đề và dấu phẩy.", file=sys.stderr)
        return 2
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, XMLSyntaxError, DefusedXmlException):
        if path.suffix.lower() not in (".xlsx", ".xlsm"):
            raise  # not a workbook's failure: a fault of ours, with its traceback
        print(f"Không nạp được {path}: tệp .xlsx hỏng, rỗng hoặc không phải bảng tính Excel.", file=sys.stderr)
        return 2
    finally:
        await services.db.close()
    _print_rejected(summary.rejected)
    print(
        f"Thêm mới {summary.inserted}, cập nhật {summary.updated} ({summary.status_changes} đổi trạng thái), "
        f"không đổi {summary.unchanged}, bỏ qua {len(summary.rejected)}"
        + (f"; {summary.superseded} dòng trùng mã, đã dùng dòng sau cùng." if summary.superseded else ".")
    )
    if summary.phones_ignored:
        print(
            f"{summary.phones_ignored} số điện thoại (so_dien_thoai) không phải số di động Việt Nam: hồ sơ vẫn được "
            "nạp, chỉ không gửi được tin Zalo (ZNS) cho người nộp."
        )
    return 0 if not summary.rejected else 1


async def _import_procedures(settings: Settings, path: Path) -> int:
    from bot.services import open_services

    services = await open_services(settings)
    try:
        result = await services.procedures.import_file(path, services.clock().isoformat())
    except (ValueError, UnicodeDecodeError, OSError, csv.Error, zipfile.BadZipFile) as exc:
        print(f"Không nạp được {path}: {exc}", file=sys.stderr)
        return 2
    finally:
        await services.db.close()
    _print_rejected(result.rejected)
    print(
        f"Thủ tục: thêm mới {result.inserted}, cập nhật {result.updated}, không đổi {result.unchanged},"
        f" bỏ qua {len(result.rejected)}."
    )
    return 0 if not result.rejected else 1


def _commune(services: Services, commune: str | None) -> tuple[bool, str | None]:
    """The code of the commune an option names (None when it names none); False, after saying why on stderr, when
    the name is not one commune of the province."""
    if not commune:
        return True, None
    code, problem = services.centres.commune_code(commune)
    if code is None:
        print(problem, file=sys.stderr)
        return False, None
    return True, code


async def _invite(settings: Settings, role: str, commune: str | None, days: int) -> int:
    from bot.roles import Role, deep_link
    from bot.services import open_services

    if (role == "official") != bool(commune):
        print("Mã mời cán bộ xã cần --commune TÊN_HOẶC_MÃ; mã mời lãnh đạo tỉnh thì không.", file=sys.stderr)
        return 2
    if not 1 <= days <= 90:
        print("--days phải từ 1 đến 90.", file=sys.stderr)
        return 2
    services = await open_services(settings)
    try:
        known, code = _commune(services, commune)
        if not known:
            return 2
        invite = await services.roles.invite(Role(role), code, "cli", services.clock(), days)
        username = settings.bot_username or await _bot_username(settings)
    finally:
        await services.db.close()
    whom = "lãnh đạo tỉnh" if role == "leader" else f"cán bộ {services.centres.directory.communes[code or ''].name}"
    expires = invite.expires_at.astimezone(settings.timezone).strftime("%d/%m/%Y %H:%M")
    print(f"Mã mời {whom}, dùng một lần, hết hạn {expires}:")
    print(invite.code)
    if username:
        print(deep_link(username, invite.code))
    else:
        print(f"Người được mời gửi cho bot: /start {invite.code}")
        print("(Đặt PHUCVU_BOT_USERNAME hoặc TELEGRAM_BOT_TOKEN để in đường dẫn t.me.)")
    print(f"Trên Zalo: người được mời nhắn mã {invite.code} cho bot.")
    return 0


async def _bot_username(settings: Settings) -> str:
    """The bot's username from Telegram (getMe), or "" without a token or a connection."""
    if not settings.telegram_token:
        return ""
    from telegram import Bot
    from telegram.error import TelegramError

    from bot.telegram_http import AiohttpRequest

    token, base_url = settings.telegram_token.value, settings.telegram_api_base_url
    try:
        async with Bot(token, base_url=base_url, request=AiohttpRequest(), get_updates_request=AiohttpRequest()) as bot:
            return bot.username
    except (TelegramError, OSError):
        log.warning("could not ask Telegram for the bot's username")
        return ""


async def _revoke_invite(settings: Settings, code: str) -> int:
    from bot.services import open_services

    services = await open_services(settings)
    try:
        revoked = await services.roles.revoke_invite(code.strip(), "cli", services.clock())
    finally:
        await services.db.close()
    if not revoked:
        print("Không có mã mời nào như vậy còn chưa dùng.", file=sys.stderr)
        return 1
    print("Đã thu hồi mã mời.")
    return 0


async def _roles_list(settings: Settings, commune: str | None, role: str | None) -> int:
    from bot.services import open_services

    services = await open_services(settings)
    try:
        known, code = _commune(services, commune)
        if not known:
            return 2
        holders = [
            holder
            for holder in await services.roles.holders()
            if (role is None or holder.role.value == role) and (code is None or holder.commune_code == code)
        ]
    finally:
        await services.db.close()
    names = services.centres.directory.communes
    for holder in holders:
        whom = "lãnh đạo tỉnh" if holder.commune_code is None else f"cán bộ {names[holder.commune_code].name}"
        since = holder.granted_at.astimezone(settings.timezone).strftime("%d/%m/%Y")
        print(f"{holder.person.channel}:{holder.person.external_id}\t{whom}\ttừ {since}")
    print(f"{len(holders)} người.", file=sys.stderr)
    return 0


async def _roles_revoke(settings: Settings, person: str) -> int:
    from bot.services import open_services

    channel, _, external_id = person.strip().partition(":")
    if channel not in ("telegram", "zalo", "console") or not external_id:
        print("PERSON là KÊNH:ID như `phucvu roles list` in, ví dụ telegram:123456.", file=sys.stderr)
        return 2
    services = await open_services(settings)
    try:
        person_id = await services.people.repo.id_of(channel, external_id)
        taken = await services.roles.revoke(person_id, "cli", services.clock()) if person_id is not None else None
    finally:
        await services.db.close()
    if taken is None:
        print(f"{person} không giữ quyền nào.", file=sys.stderr)
        return 1
    names = services.centres.directory.communes
    whom = "lãnh đạo tỉnh" if taken.commune_code is None else f"cán bộ {names[taken.commune_code].name}"
    print(f"Đã thu hồi quyền {whom} của {person}; người đó được báo khi bot chạy.")
    return 0


async def _demo_data(settings: Settings, seed: int, days: int) -> int:
    from bot.demo import demo_units, fill_demo
    from bot.procedures import load_sample
    from bot.services import open_services

    services = await open_services(settings)
    try:
        communes, towns = demo_units(services.centres.directory)
        result, _ = await fill_demo(services.dossiers.repo, communes, services.clock(), seed, days, towns)
        await load_sample(services.procedures, services.clock().isoformat())
    except ValueError as exc:
        print(f"Không tạo hồ sơ mẫu: {exc}", file=sys.stderr)
        return 2
    finally:
        await services.db.close()
    print(f"Hồ sơ mẫu: thêm mới {result.inserted}, cập nhật {result.updated}, không đổi {result.unchanged}.")
    return 0


def _commune_names(services: Services) -> Callable[[str], str]:
    """A commune's name by its code (the code itself for one not in the province)."""

    def name(code: str) -> str:
        commune = services.centres.commune(code)
        return commune.name if commune else code

    return name


async def _export_ratings(settings: Settings, output: Path | None) -> int:
    from bot.ratings import write_csv
    from bot.services import open_services

    services = await open_services(settings)
    try:
        items = await services.ratings.export()
    finally:
        await services.db.close()

    name = _commune_names(services)

    try:
        if output is None:
            count = write_csv(items, name, settings.timezone, sys.stdout)
        else:  # with a byte order mark, so that Excel reads the Vietnamese right
            with output.open("w", encoding="utf-8-sig", newline="") as out:
                count = write_csv(items, name, settings.timezone, out)
    except OSError as exc:
        print(f"Không ghi được {output}: {exc}", file=sys.stderr)
        return 2
    print(f"Đã xuất {count} đánh giá.", file=sys.stderr)
    return 0


async def _export_reports(settings: Settings, form: str, output: Path | None, open_only: bool) -> int:
    from bot.report_export import Exporter
    from bot.services import open_services

    services = await open_services(settings)
    try:
        items = await services.reports.export(open_only=open_only)
    finally:
        await services.db.close()

    name = _commune_names(services)

    exporter = Exporter(settings.timezone, name, settings.public_url, settings.media_key)
    try:
        if output is None:
            count = exporter.write(items, form, sys.stdout)
        else:  # with a byte order mark for CSV, so that Excel reads the Vietnamese right
            with output.open("w", encoding="utf-8-sig" if form == "csv" else "utf-8", newline="") as out:
                count = exporter.write(items, form, out)
    except OSError as exc:
        print(f"Không ghi được {output}: {exc}", file=sys.stderr)
        return 2
    unlinked = any(not ref.startswith(("https://", "http://")) for item in items for _, ref in item.photos)
    if unlinked and not (settings.public_url and settings.media_key):
        print(
            "Ảnh chưa có đường dẫn: đặt PHUCVU_PUBLIC_URL (địa chỉ công khai của máy chủ HTTP của bot), "
            "PHUCVU_HTTP_PORT và PHUCVU_INGEST_TOKEN.",
            file=sys.stderr,
        )
    print(f"Đã xuất {count} báo cáo.", file=sys.stderr)
    return 0


PAST_DAY_NOTE = "(Chưa có bản đã gửi cho ngày này: số quá hạn tính theo sáng hôm đó; báo cáo và số cán bộ là hiện tại.)"


async def _digest(
    settings: Settings,
    day: date | None,
    weekly: bool,
    commune: str | None,
    chart: Path | None,
    language: str,
    as_json: bool = False,
) -> int:
    """What leaders got (or get) for a day: the digest as it was queued, if it was; else built now (for a past
    day with the overdue count of that morning). On Mondays the weekly digest follows the daily one. `as_json`:
    the figures its text shows, as JSON (always built from the data)."""
    import json

    from bot.digest import DAILY, WEEKLY
    from bot.i18n import translator
    from bot.services import open_services

    t = translator(language)
    services = await open_services(settings)
    try:
        known, code = _commune(services, commune)
        if not known:
            return 2
        today = services.clock().astimezone(settings.timezone).date()
        day = day or today
        if as_json:
            built = await services.digest.build(day, WEEKLY if weekly else DAILY, code, as_of_day=day < today)
            print(json.dumps(built.json(), ensure_ascii=False, indent=2))
            return 0
        kinds = [WEEKLY] if weekly else [DAILY, WEEKLY] if day.weekday() == 0 and code is None else [DAILY]
        texts, charts, built_past = [], [], False
        for kind in kinds:
            sent = None if code else await services.digest.queued_texts(kind, day, t.language)
            png = await services.digest.chart_png(kind, day.isoformat(), t.language) if sent else None
            if sent is None or png is None:  # never sent (or its chart is gone): built from the data
                built = await services.digest.build(day, kind, code, as_of_day=day < today)
                sent = sent or services.digest.render(built, t)
                png = png or await services.digest.chart(built, t)
                built_past = built_past or day < today
            texts.append("\n\n".join(sent))
            charts.append(png)
        if built_past:
            print(PAST_DAY_NOTE, file=sys.stderr)
    finally:
        await services.db.close()
    print(("\n\n" + "─" * 40 + "\n\n").join(texts))
    if chart is not None:
        for kind, png in zip(kinds, charts, strict=True):
            target = chart if kind == kinds[0] else chart.with_name(f"{chart.stem}-{kind}{chart.suffix}")
            try:
                await asyncio.to_thread(target.write_bytes, png)
            except OSError as exc:
                print(f"Không ghi được {target}: {exc}", file=sys.stderr)
                return 2
            print(f"[{target}]", file=sys.stderr)
    return 0
