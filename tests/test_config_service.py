"""Settings from the environment and `.env`: defaults, parsing, errors naming the variable, masking."""

from datetime import time
from pathlib import Path

import pytest

from bot.config import DEFAULT_API_BASE_URL, ConfigError, Secret, Settings, read_dotenv


def test_defaults_match_the_design() -> None:
    s = Settings.from_env({}, dotenv=None)
    assert not s.telegram_token
    assert s.telegram_api_base_url == DEFAULT_API_BASE_URL
    assert s.db_path == Path("phucvu.db")
    assert s.timezone.key == "Asia/Ho_Chi_Minh"
    assert s.digest_time == time(7, 0)
    assert s.province_code == 20
    assert s.admins == frozenset()
    assert s.public_url == ""
    assert Settings.from_env({"PHUCVU_PUBLIC_URL": "https://a.vn/bot/"}, dotenv=None).public_url == "https://a.vn/bot"


def test_environment_overrides_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        '# comment\nexport PHUCVU_DB="from-dotenv.db"\nPHUCVU_ADMINS=1, 2, zalo:6ede9a1b\n', encoding="utf-8"
    )
    s = Settings.from_env({"PHUCVU_DB": "from-env.db"}, dotenv=dotenv)
    assert s.db_path == Path("from-env.db")
    assert s.admins == frozenset({("telegram", "1"), ("telegram", "2"), ("zalo", "6ede9a1b")})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PHUCVU_ADMINS", "12,abc"),
        ("PHUCVU_ADMINS", "zalo:"),
        ("PHUCVU_TIMEZONE", "Mars/Olympus"),
        ("PHUCVU_DIGEST_TIME", "25:00"),
        ("PHUCVU_PROVINCE", "twenty"),
        ("PHUCVU_PUBLIC_URL", "phucvu.example.vn"),
        ("PHUCVU_PUBLIC_URL", "https://phucvu.example.vn/?x=1"),
        ("PHUCVU_DB", "postgresql://postgres@127.0.0.1:5432"),  # no database named
        ("PHUCVU_DB", "postgres:///phucvu"),  # no server named
        ("PHUCVU_DB", "sqlite://phucvu.db"),
        ("ZALO_ZNS_TEMPLATES", "ready=1003,done=1005"),
        ("ZALO_ZNS_APP_ID", "4321"),  # without the rest of ZNS's settings
        ("ZALO_ZNS_MODE", "testing"),
    ],
)
def test_bad_values_fail_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value}, dotenv=None)


def test_a_sqlite_url_is_its_file() -> None:
    assert Settings.from_env({"PHUCVU_DB": "sqlite:///data/phucvu.db"}, dotenv=None).db_path == Path("data/phucvu.db")
    assert Settings.from_env({"PHUCVU_DB": "sqlite:////srv/phucvu.db"}, dotenv=None).db_path == Path("/srv/phucvu.db")


def test_a_postgresql_url_is_the_database_and_its_password_never_shows() -> None:
    url = "postgresql://phucvu:pa55word@db.example.vn:5432/phucvu"
    s = Settings.from_env({"PHUCVU_DB": url}, dotenv=None)
    assert s.database_url == url and "pa55word" not in repr(s)
    assert Settings.from_env({"PHUCVU_DB": "postgres:///phucvu?host=/run/postgresql"}, dotenv=None).database_url
    assert Settings.from_env({"PHUCVU_DB": "sqlite:///x.db"}, dotenv=None).database_url == ""


def test_token_never_shows_in_repr_or_str() -> None:
    s = Settings.from_env({"TELEGRAM_BOT_TOKEN": "123:SECRET"}, dotenv=None)
    assert s.telegram_token.value == "123:SECRET"
    assert "SECRET" not in repr(s)
    assert "SECRET" not in str(s.telegram_token)
    assert not Secret("")


def test_dotenv_parser_handles_quotes_and_comments() -> None:
    assert read_dotenv("A='x y'\n#B=1\n\nC = 3\nnot a line\n") == {"A": "x y", "C": "3"}


def test_the_ingest_endpoint_needs_a_long_token() -> None:
    with pytest.raises(ConfigError, match="PHUCVU_INGEST_TOKEN"):
        Settings.from_env({"PHUCVU_HTTP_PORT": "8080"}, dotenv=None)
    with pytest.raises(ConfigError, match="PHUCVU_HTTP_PORT"):
        Settings.from_env({"PHUCVU_HTTP_PORT": "99999", "PHUCVU_INGEST_TOKEN": "x" * 20}, dotenv=None)
    s = Settings.from_env({"PHUCVU_HTTP_PORT": "8080", "PHUCVU_INGEST_TOKEN": "x" * 20}, dotenv=None)
    assert s.http_port == 8080
    assert "x" * 20 not in repr(s)


def test_zalo_settings_and_what_the_webhook_needs() -> None:
    env = {"ZALO_BOT_TOKEN": "1:abc", "ZALO_API_BASE_URL": "https://bot-api.zapps.me/bot"}
    settings = Settings.from_env(env, dotenv=None)
    assert settings.zalo_token.value == "1:abc" and "abc" not in repr(settings)
    assert settings.zalo_api_base_url == "https://bot-api.zapps.me/bot"
    assert Settings.from_env({}, dotenv=None).zalo_api_base_url == "https://bot-api.zaloplatforms.com/bot"
    hook = {**env, "ZALO_WEBHOOK_URL": "https://phucvu.example.vn/zalo", "ZALO_WEBHOOK_SECRET": "s3cret-value"}
    served = {**hook, "PHUCVU_HTTP_PORT": "8080", "PHUCVU_INGEST_TOKEN": "t" * 16}
    assert Settings.from_env(served, dotenv=None).zalo_webhook_url == "https://phucvu.example.vn/zalo"
    unserved = Settings.from_env(hook, dotenv=None)  # an admin command needs no port
    with pytest.raises(ConfigError, match="PHUCVU_HTTP_PORT"):
        unserved.serving()  # running the bot does
    telegram = {"TELEGRAM_WEBHOOK_URL": "https://phucvu.example.vn/telegram", "TELEGRAM_WEBHOOK_SECRET": "t" * 16}
    with pytest.raises(ConfigError, match=r"PHUCVU_HTTP_PORT.*TELEGRAM_WEBHOOK_URL"):
        Settings.from_env(telegram, dotenv=None).serving()
    assert Settings.from_env({**telegram, **served}, dotenv=None).serving().telegram_webhook_path == "/telegram"
    for bad in ({"TELEGRAM_WEBHOOK_SECRET": "short"}, {"TELEGRAM_WEBHOOK_SECRET": "has spaces in it 123"},
                {"TELEGRAM_WEBHOOK_URL": "http://phucvu.example.vn/telegram"},
                {"TELEGRAM_WEBHOOK_URL": "https://phucvu.example.vn/metrics"},
                {"TELEGRAM_WEBHOOK_URL": "https://phucvu.example.vn/zalo"}):  # fmt: skip
        with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK"):
            Settings.from_env({**served, **telegram, **bad}, dotenv=None)
    with pytest.raises(ConfigError, match="ZALO_WEBHOOK_SECRET"):
        Settings.from_env({**served, "ZALO_WEBHOOK_SECRET": "short"}, dotenv=None)
    with pytest.raises(ConfigError, match="ZALO_WEBHOOK_URL"):
        Settings.from_env({**served, "ZALO_WEBHOOK_URL": "http://phucvu.example.vn/zalo"}, dotenv=None)
    for taken in ("https://phucvu.example.vn/healthz", "https://phucvu.example.vn/api/v1/dossiers", "https://x.vn"):
        with pytest.raises(ConfigError, match="ZALO_WEBHOOK_URL"):
            Settings.from_env({**served, "ZALO_WEBHOOK_URL": taken}, dotenv=None)
