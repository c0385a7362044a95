"""The deploy files say what the README's production guide says, and what the bot serves: a non-root service
that restarts and migrates first, a nightly backup by `phucvu backup`, and a proxy that forwards the public paths
only (never /metrics)."""

import configparser
import re
from pathlib import Path

from bot.report_export import MEDIA_PATH

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / name, encoding="utf-8")
    return parser


def test_the_service_runs_unprivileged_restarts_and_migrates_first() -> None:
    service = unit("phucvu.service")["Service"]
    assert service["User"] == "phucvu" != "root"
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "/etc/phucvu/phucvu.env"
    assert service["ExecStartPre"].endswith("phucvu migrate")
    assert service["ExecStart"].endswith("phucvu run")
    assert service["KillSignal"] == "SIGINT"  # the bot stops cleanly on it (tests/test_run_e2e.py)


def test_the_backup_uses_phucvu_backup_every_night() -> None:
    backup = unit("phucvu-backup.service")["Service"]
    assert "phucvu backup" in backup["ExecStart"] and backup["User"] == "phucvu"
    assert unit("phucvu-backup.timer")["Timer"]["OnCalendar"].endswith("02:30:00")


def test_the_proxy_forwards_the_public_paths_and_not_the_metrics() -> None:
    caddy = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    [matcher] = re.findall(r"@public path (.+)", caddy)
    paths = matcher.split()
    assert {"/api/v1/dossiers", "/healthz", MEDIA_PATH.rsplit("/", 1)[0] + "/*"} <= set(paths)
    assert not any(path.startswith("/metrics") for path in paths)
    assert "respond 404" in caddy


def test_the_example_settings_name_only_known_variables() -> None:
    readme = (DEPLOY.parent / "README.md").read_text(encoding="utf-8")
    example = (DEPLOY / "phucvu.env.example").read_text(encoding="utf-8")
    for name in re.findall(r"^([A-Z_]+)=", example, flags=re.MULTILINE):
        assert f"`{name}`" in readme, name


def test_several_processes_each_get_their_port_and_the_proxy_balances_them() -> None:
    """`phucvu@N` listens on 808N and migrates first (under the advisory lock); Caddyfile.several sends each public
    path, the Telegram webhook's included, to a live one (health-checked on /healthz), never /metrics."""
    service = unit("phucvu@.service")["Service"]
    assert service["User"] == "phucvu" and service["Restart"] == "on-failure"
    assert service["ExecStartPre"].endswith("phucvu migrate") and service["ExecStart"].endswith("phucvu run")
    assert service["KillSignal"] == "SIGINT" and service["EnvironmentFile"] == "/etc/phucvu/phucvu.env"
    environment = (DEPLOY / "phucvu@.service").read_text(encoding="utf-8")
    assert "Environment=PHUCVU_HTTP_PORT=808%i" in environment
    caddy = (DEPLOY / "Caddyfile.several").read_text(encoding="utf-8")
    [matcher] = re.findall(r"@public path (.+)", caddy)
    assert {"/telegram/webhook", "/zalo/webhook", "/healthz"} <= set(matcher.split())
    assert not any(path.startswith("/metrics") for path in matcher.split())
    assert "reverse_proxy 127.0.0.1:8081 127.0.0.1:8082" in caddy and "health_uri /healthz" in caddy


def test_the_webhook_paths_of_the_example_pass_the_settings_checks() -> None:
    """The example's webhook addresses are ones the bot accepts, and the proxies forward exactly those paths."""
    from bot.config import Settings

    example = (DEPLOY / "phucvu.env.example").read_text(encoding="utf-8")
    telegram = re.search(r"TELEGRAM_WEBHOOK_URL=(\S+)", example)
    zalo = re.search(r"ZALO_WEBHOOK_URL=(\S+)", example)
    assert telegram and zalo
    settings = Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": "1:x",
            "TELEGRAM_WEBHOOK_URL": telegram[1],
            "TELEGRAM_WEBHOOK_SECRET": "s" * 32,
            "ZALO_WEBHOOK_URL": zalo[1].rstrip(","),
            "ZALO_WEBHOOK_SECRET": "z" * 16,
            "PHUCVU_HTTP_PORT": "8081",
            "PHUCVU_INGEST_TOKEN": "i" * 32,
            "PHUCVU_DB": "postgresql:///phucvu?host=/run/postgresql",
        },
        dotenv=None,
    )
    for proxy in ("Caddyfile", "Caddyfile.several"):
        caddy = (DEPLOY / proxy).read_text(encoding="utf-8")
        assert settings.telegram_webhook_path in caddy and "/zalo/webhook" in caddy


def test_the_postgresql_setup_makes_the_role_and_database_the_example_names() -> None:
    sql = (DEPLOY / "postgresql.sql").read_text(encoding="utf-8")
    assert "CREATE ROLE phucvu LOGIN" in sql and "CREATE DATABASE phucvu OWNER phucvu" in sql
    assert "PHUCVU_DB=postgresql:///phucvu?host=/run/postgresql" in (DEPLOY / "phucvu.env.example").read_text()
