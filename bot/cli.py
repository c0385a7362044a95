"""The `phucvu` command: run the bot, the console, and the admin tools."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import ConfigError, Settings

log = logging.getLogger("phucvu")


class RedactToken(logging.Filter):
    """Removes the bot token from every log record (httpx logs request URLs, which contain it)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if self.token:
            message = record.getMessage()
            if self.token in message:
                record.msg, record.args = message.replace(self.token, "<token>"), None
        return True


def setup_logging(settings: Settings, level: int = logging.INFO) -> None:
    """Log to stderr with the token masked; quiet the HTTP client's per-request lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactToken(settings.telegram_token.value))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="phucvu", description="Phục Vụ — trợ lý hành chính công tỉnh Lạng Sơn")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="chạy bot (không có TELEGRAM_BOT_TOKEN: chat console)")
    console = sub.add_parser("console", help="chat trong terminal qua cùng handlers và services")
    console.add_argument("--as", dest="role", choices=["citizen"], default="citizen", help="vai trò khi chat")
    centres = sub.add_parser("import-centres", help="nạp địa chỉ, điện thoại, giờ làm việc của trung tâm từ CSV")
    centres.add_argument("path", type=Path)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `phucvu` and `python -m bot`."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"Cấu hình sai: {exc}", file=sys.stderr)
        return 2
    if args.command == "import-centres":
        setup_logging(settings, logging.WARNING)
        if not args.path.is_file():
            print(f"Không có tệp {args.path}", file=sys.stderr)
            return 2
        return asyncio.run(_import_centres(settings, args.path))
    if args.command == "console" or not settings.telegram_token:
        setup_logging(settings, logging.WARNING)
        from bot.console import run_console

        asyncio.run(run_console(settings))
        return 0
    setup_logging(settings)
    from telegram import Update

    from bot.app import build_application

    log.info("Phục Vụ: long polling against %s", settings.telegram_api_base_url)
    build_application(settings).run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


async def _import_centres(settings: Settings, path: Path) -> int:
    from bot.app import open_services

    services = await open_services(settings, "cli")
    try:
        report = await services.centres.import_csv(path, by="import-centres", now=services.clock().isoformat())
    except (ValueError, UnicodeDecodeError) as exc:
        print(f"Không đọc được {path}: {exc}", file=sys.stderr)
        return 2
    finally:
        await services.db.close()
    for line, reason in report.rejected:
        print(f"dòng {line}: bỏ qua — {reason}", file=sys.stderr)
    print(f"Đã cập nhật {report.updated} trung tâm; bỏ qua {len(report.rejected)} dòng.")
    return 0 if not report.rejected else 1
