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
