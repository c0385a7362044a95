"""Settings: one frozen object read from the environment and `.env`, failing fast with the variable's name."""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_ZALO_API_BASE_URL = "https://bot-api.zaloplatforms.com/bot"
DEFAULT_TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
DEFAULT_ZNS_API_BASE_URL = "https://business.openapi.zalo.me"
DEFAULT_OAUTH_BASE_URL = "https://oauth.zaloapp.com"
# The template messages the bot sends to applicants' phones (`bot.zns`), as ZALO_ZNS_TEMPLATES names them.
ZNS_TEMPLATES = ("received", "supplement", "ready", "overdue")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Secret:
    """A value that never shows itself in a repr, a str or a log line."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return "**********" if self.value else ""

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __bool__(self) -> bool:
        return bool(self.value)


@dataclass(frozen=True)
class Settings:
    """Everything the bot is configured with."""

    telegram_token: Secret = Secret("")
    telegram_api_base_url: str = DEFAULT_API_BASE_URL
    db_path: Path = Path("phucvu.db")
    database_url: str = field(default="", repr=False)  # PostgreSQL (PHUCVU_DB=postgresql://…), when set
    admins: frozenset[tuple[str, str]] = frozenset()  # (channel, external id)
    timezone: ZoneInfo = DEFAULT_TIMEZONE
    digest_time: time = time(7, 0)
    province_code: int = 20
    ingest_token: Secret = Secret("")
    http_port: int | None = None
    http_host: str = "127.0.0.1"  # behind the TLS proxy the webhooks need anyway
    bot_username: str = ""
    public_url: str = ""
    zalo_token: Secret = Secret("")
    zalo_api_base_url: str = DEFAULT_ZALO_API_BASE_URL
    zalo_webhook_url: str = ""
    zalo_webhook_secret: Secret = Secret("")
    telegram_webhook_url: str = ""  # Telegram calls it (several processes behind a proxy); "" for long polling
    telegram_webhook_secret: Secret = Secret("")
    hotline: str = ""  # the province's public service hotline, said where a centre's phone is not known yet
    outbox_lease: int = 120  # seconds a claimed outbox message may stay unsettled before the sweep settles it
    inbox_lease: int = 30  # seconds a webhook update claimed by a process that died waits before another takes it
    zns_app_id: str = ""
    zns_secret_key: Secret = Secret("")
    zns_refresh_token: Secret = Secret("")  # the first of the chain; the current one is kept in the database
    zns_templates: Mapping[str, str] = field(default_factory=dict)  # template name → Zalo's template id
    zns_api_base_url: str = DEFAULT_ZNS_API_BASE_URL
    oauth_base_url: str = DEFAULT_OAUTH_BASE_URL
    zns_development: bool = False  # ZALO_ZNS_MODE=development: Zalo sends only to the app's admins, for free

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Settings:
        """Read settings from `env` (default: the process environment) over the values in `dotenv`."""
        values: dict[str, str] = {}
        if dotenv is not None and dotenv.is_file():
            values.update(read_dotenv(dotenv.read_text(encoding="utf-8")))
        values.update(os.environ if env is None else env)
        return cls(
            telegram_token=Secret(values.get("TELEGRAM_BOT_TOKEN", "").strip()),
            telegram_api_base_url=values.get("TELEGRAM_API_BASE_URL", "").strip() or DEFAULT_API_BASE_URL,
            db_path=_parse_db(values.get("PHUCVU_DB", "").strip() or "phucvu.db"),
            database_url=_parse_postgres(values.get("PHUCVU_DB", "").strip()),
            admins=_parse_admins(values.get("PHUCVU_ADMINS", "")),
            timezone=_parse_timezone(values.get("PHUCVU_TIMEZONE", "").strip() or "Asia/Ho_Chi_Minh"),
            digest_time=_parse_time(values.get("PHUCVU_DIGEST_TIME", "").strip() or "07:00"),
            province_code=_parse_int("PHUCVU_PROVINCE", values.get("PHUCVU_PROVINCE", "").strip() or "20"),
            ingest_token=Secret(values.get("PHUCVU_INGEST_TOKEN", "").strip()),
            http_port=_parse_port(values.get("PHUCVU_HTTP_PORT", "").strip()),
            http_host=values.get("PHUCVU_HTTP_HOST", "").strip() or "127.0.0.1",
            bot_username=values.get("PHUCVU_BOT_USERNAME", "").strip().removeprefix("@"),
            public_url=_parse_url("PHUCVU_PUBLIC_URL", values.get("PHUCVU_PUBLIC_URL", "").strip()),
            hotline=_parse_hotline(values.get("PHUCVU_HOTLINE", "").strip()),
            outbox_lease=_parse_lease(values.get("PHUCVU_OUTBOX_LEASE", "").strip() or "120"),
            inbox_lease=_parse_lease(values.get("PHUCVU_INBOX_LEASE", "").strip() or "30", "PHUCVU_INBOX_LEASE"),
            zalo_token=Secret(values.get("ZALO_BOT_TOKEN", "").strip()),
            zalo_api_base_url=values.get("ZALO_API_BASE_URL", "").strip() or DEFAULT_ZALO_API_BASE_URL,
            zalo_webhook_url=_parse_url("ZALO_WEBHOOK_URL", values.get("ZALO_WEBHOOK_URL", "").strip()),
            zalo_webhook_secret=Secret(values.get("ZALO_WEBHOOK_SECRET", "").strip()),
            telegram_webhook_url=_parse_url("TELEGRAM_WEBHOOK_URL", values.get("TELEGRAM_WEBHOOK_URL", "").strip()),
            telegram_webhook_secret=Secret(values.get("TELEGRAM_WEBHOOK_SECRET", "").strip()),
            zns_app_id=values.get("ZALO_ZNS_APP_ID", "").strip(),
            zns_secret_key=Secret(values.get("ZALO_ZNS_SECRET_KEY", "").strip()),
            zns_refresh_token=Secret(values.get("ZALO_ZNS_REFRESH_TOKEN", "").strip()),
            zns_templates=_parse_templates(values.get("ZALO_ZNS_TEMPLATES", "").strip()),
            zns_api_base_url=_parse_url("ZALO_ZNS_API_BASE_URL", values.get("ZALO_ZNS_API_BASE_URL", "").strip())
            or DEFAULT_ZNS_API_BASE_URL,
            oauth_base_url=_parse_url("ZALO_OAUTH_BASE_URL", values.get("ZALO_OAUTH_BASE_URL", "").strip())
            or DEFAULT_OAUTH_BASE_URL,
            zns_development=_parse_zns_mode(values.get("ZALO_ZNS_MODE", "").strip()),
        ).checked()

    @property
    def media_key(self) -> str:
        """What signs the links to report photos that the bot's HTTP server serves: the ingest token, while that
        server runs ('' otherwise: no links)."""
        return self.ingest_token.value if self.http_port is not None else ""

    @property
    def zns(self) -> bool:
        """Whether template messages go to applicants' phones (ZNS is configured)."""
        return bool(self.zns_templates)

    def checked(self) -> Settings:
        """Fail on settings that only make sense together."""
        zns = {
            "ZALO_ZNS_APP_ID": self.zns_app_id,
            "ZALO_ZNS_SECRET_KEY": self.zns_secret_key.value,
            "ZALO_ZNS_REFRESH_TOKEN": self.zns_refresh_token.value,
            "ZALO_ZNS_TEMPLATES": ",".join(self.zns_templates),
        }
        if any(zns.values()) and not all(zns.values()):
            missing = ", ".join(name for name, value in zns.items() if not value)
            raise ConfigError(f"{missing}: ZNS needs all of {', '.join(zns)} (or none of them)")
        if self.http_port is not None and len(self.ingest_token.value) < 16:
            raise ConfigError("PHUCVU_INGEST_TOKEN: needs at least 16 characters when PHUCVU_HTTP_PORT is set")
        if self.zalo_webhook_url:
            if not self.zalo_webhook_url.startswith("https://"):
                raise ConfigError("ZALO_WEBHOOK_URL: Zalo calls only https:// addresses")
            if not 8 <= len(self.zalo_webhook_secret.value) <= 256:
                raise ConfigError("ZALO_WEBHOOK_SECRET: needs 8 to 256 characters when ZALO_WEBHOOK_URL is set")
            path = urllib.parse.urlsplit(self.zalo_webhook_url).path or "/"
            if path in ("/", "/healthz") or path.startswith(("/api/", "/media/")):
                raise ConfigError(f"ZALO_WEBHOOK_URL: the path {path!r} is the bot's own; use one like /zalo/webhook")
        if self.telegram_webhook_url:
            if not self.telegram_webhook_url.startswith("https://"):
                raise ConfigError("TELEGRAM_WEBHOOK_URL: Telegram calls only https:// addresses")
            if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", self.telegram_webhook_secret.value):
                raise ConfigError(
                    "TELEGRAM_WEBHOOK_SECRET: needs 16 to 256 letters, digits, _ or - when TELEGRAM_WEBHOOK_URL is set"
                )
            path = self.telegram_webhook_path
            if path in ("/", "/healthz", "/metrics") or path.startswith(("/api/", "/media/")):
                raise ConfigError(
                    f"TELEGRAM_WEBHOOK_URL: the path {path!r} is the bot's own; use one like /telegram/webhook"
                )
            if self.zalo_webhook_url and path == (urllib.parse.urlsplit(self.zalo_webhook_url).path or "/"):
                raise ConfigError("TELEGRAM_WEBHOOK_URL: the same path as ZALO_WEBHOOK_URL; give each its own")
        return self

    def serving(self) -> Settings:
        """Fail on what only running the bot needs (the admin commands run without it: with several processes
        PHUCVU_HTTP_PORT is set per process, not in the shared environment file)."""
        for variable, url in (
            ("TELEGRAM_WEBHOOK_URL", self.telegram_webhook_url),
            ("ZALO_WEBHOOK_URL", self.zalo_webhook_url),
        ):
            if url and self.http_port is None:
                raise ConfigError(f"PHUCVU_HTTP_PORT: the port the webhook calls reach, needed with {variable}")
        return self

    @property
    def telegram_webhook_path(self) -> str:
        """The path of TELEGRAM_WEBHOOK_URL, where the bot's HTTP server takes Telegram's calls."""
        return urllib.parse.urlsplit(self.telegram_webhook_url).path or "/"


def read_dotenv(text: str) -> dict[str, str]:
    """Parse `KEY=value` lines; `#` comments, blank lines, `export ` and surrounding quotes are allowed."""
    result: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        result[key.strip()] = value
    return result


def _parse_admins(raw: str) -> frozenset[tuple[str, str]]:
    """Telegram user ids, and Zalo user ids written `zalo:ID`."""
    admins = set()
    for part in (part.strip() for part in raw.split(",")):
        if re.fullmatch(r"-?\d+", part):
            admins.add(("telegram", str(int(part))))
        elif re.fullmatch(r"zalo:[0-9A-Za-z_-]{1,64}", part):
            admins.add(("zalo", part.removeprefix("zalo:")))
        elif part:
            raise ConfigError(f"PHUCVU_ADMINS: {part!r} is neither a Telegram user id nor zalo:ID (comma-separated)")
    return frozenset(admins)


def _parse_timezone(raw: str) -> ZoneInfo:
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"PHUCVU_TIMEZONE: {raw!r} is not an IANA time zone") from exc


def parse_time_of_day(text: str) -> time:
    """`07:00` or `7:00` → 07:00; ValueError for anything else (the digest time, in the settings and in chat)."""
    match = re.fullmatch(r"([01]?[0-9]|2[0-3]):([0-5][0-9])", text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time of day like 07:00")
    return time(int(match[1]), int(match[2]))


def _parse_time(raw: str) -> time:
    try:
        return parse_time_of_day(raw)
    except ValueError:
        raise ConfigError(f"PHUCVU_DIGEST_TIME: {raw!r} is not a time of day like 07:00") from None


def _parse_port(raw: str) -> int | None:
    if not raw:
        return None
    port = _parse_int("PHUCVU_HTTP_PORT", raw)
    if not 1 <= port <= 65535:
        raise ConfigError(f"PHUCVU_HTTP_PORT: {raw!r} is not a TCP port")
    return port


def _parse_templates(raw: str) -> dict[str, str]:
    """`received=ID,supplement=ID,ready=ID,overdue=ID` (any of them) → {name: template id}."""
    templates: dict[str, str] = {}
    for part in (part.strip() for part in raw.split(",")):
        if not part:
            continue
        name, _, template_id = (side.strip() for side in part.partition("="))
        if name not in ZNS_TEMPLATES or not re.fullmatch(r"[0-9A-Za-z_-]{1,32}", template_id):
            raise ConfigError(
                f"ZALO_ZNS_TEMPLATES: {part!r} is not NAME=TEMPLATE_ID with NAME one of {', '.join(ZNS_TEMPLATES)}"
            )
        templates[name] = template_id
    return templates


def _parse_zns_mode(raw: str) -> bool:
    if raw not in ("", "production", "development"):
        raise ConfigError(f"ZALO_ZNS_MODE: {raw!r} is neither production nor development")
    return raw == "development"


def _parse_db(raw: str) -> Path:
    """A SQLite file: a path, or `sqlite:///path` (a PostgreSQL URL leaves the default path, unused)."""
    if raw.startswith(POSTGRES_SCHEMES):
        return Path("phucvu.db")
    if raw.startswith("sqlite:"):
        if not raw.startswith("sqlite:///") or raw == "sqlite:///":
            raise ConfigError(
                f"PHUCVU_DB: {raw!r} is not sqlite:///PATH (sqlite:///phucvu.db, sqlite:////srv/phucvu.db)"
            )
        return Path(raw.removeprefix("sqlite:///"))
    return Path(raw)


def _parse_postgres(raw: str) -> str:
    """A PostgreSQL URL (`postgresql://user@host:5432/phucvu`), or "" for SQLite."""
    if not raw.startswith(POSTGRES_SCHEMES):
        return ""
    parts = urllib.parse.urlsplit(raw)
    if (not parts.hostname and "host=" not in parts.query) or not parts.path.strip("/"):
        raise ConfigError(
            "PHUCVU_DB: a PostgreSQL URL names the server and the database, such as"
            " postgresql://phucvu@127.0.0.1:5432/phucvu"
        )
    return raw


def parse_database(name: str, raw: str) -> tuple[Path, str]:
    """A database named as PHUCVU_DB names it: (the SQLite file, "") or (unused, the PostgreSQL URL); `name` is
    the option or variable a ConfigError names."""
    try:
        return _parse_db(raw), _parse_postgres(raw)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("PHUCVU_DB", name, 1)) from None


def database_password(url: str) -> str:
    """The password in a PostgreSQL URL, if any (masked in the logs)."""
    return urllib.parse.unquote(urllib.parse.urlsplit(url).password or "") if url else ""


def _parse_hotline(raw: str) -> str:
    if raw and not re.fullmatch(r"\+?[0-9][0-9 .]{2,18}[0-9]", raw):
        raise ConfigError(f"PHUCVU_HOTLINE: {raw!r} is not a telephone number such as 0205 3812 345 or 1022")
    return raw


def _parse_lease(raw: str, name: str = "PHUCVU_OUTBOX_LEASE") -> int:
    seconds = _parse_int(name, raw)
    if not 2 <= seconds <= 3600:
        raise ConfigError(f"{name}: {raw!r} is not between 2 and 3600 seconds")
    return seconds


def _parse_url(name: str, raw: str) -> str:
    if raw and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", raw):
        raise ConfigError(f"{name}: {raw!r} is not an http(s) address such as https://phucvu.example.vn")
    return raw.rstrip("/")


def _parse_int(name: str, raw: str) -> int:
    if not raw.isdigit():
        raise ConfigError(f"{name}: {raw!r} is not a number")
    return int(raw)
