"""The `phucvu` command line: import-centres, configuration errors, and `python -m bot`."""

import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import RedactToken, main

ROOT = Path(__file__).resolve().parent.parent


def test_import_centres_reports_counts_and_bad_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHUCVU_DB", str(tmp_path / "cli.db"))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    csv = tmp_path / "centres.csv"
    csv.write_text("ma_xa,dien_thoai\n06385,0205 3825 001\n12345,0\n", encoding="utf-8")
    assert main(["import-centres", str(csv)]) == 1
    out, err = capsys.readouterr()
    assert "Đã cập nhật 1 trung tâm; bỏ qua 1 dòng." in out
    assert "dòng 3" in err
    assert main(["import-centres", str(tmp_path / "missing.csv")]) == 2


def test_a_bad_setting_is_named(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PHUCVU_DIGEST_TIME", "7h")
    assert main(["import-centres", "x.csv"]) == 2
    assert "PHUCVU_DIGEST_TIME" in capsys.readouterr().err


def test_python_m_bot_prints_usage() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0
    for command in ("run", "console", "import-centres"):
        assert command in result.stdout


def test_the_token_is_masked_in_log_lines() -> None:
    import logging

    record = logging.LogRecord("httpx", logging.INFO, "", 0, "POST %s", ("https://x/bot123:SECRET/getMe",), None)
    assert RedactToken("123:SECRET").filter(record)
    assert record.getMessage() == "POST https://x/bot<token>/getMe"
