"""`phucvu run` with a token: the real entry point long-polls TELEGRAM_API_BASE_URL and stops cleanly."""

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.fakebotapi import TOKEN, FakeBotAPI
from tests.fakezaloapi import TOKEN as ZALO_TOKEN
from tests.fakezaloapi import FakeZaloAPI

ROOT = Path(__file__).resolve().parent.parent


async def test_phucvu_run_serves_the_fake_bot_api_and_stops_on_sigint(api: FakeBotAPI, tmp_path: Path) -> None:
    env = os.environ | {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "PHUCVU_DB": str(tmp_path / "run.db"),
        "PTB_TIMEDELTA": "true",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        [reply] = await api.say(8001, "xã Đồng Tân, huyện Hữu Lũng", timeout=60)
        assert reply.text is not None and "nay thuộc xã Hữu Lũng" in reply.text
        assert api.called("setMyCommands")
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert TOKEN not in log
    assert "long polling" in log


async def test_phucvu_run_with_only_zalo_serves_zalo_and_stops_on_sigterm(tmp_path: Path) -> None:
    async with FakeZaloAPI() as zalo:
        env = os.environ | {
            "ZALO_BOT_TOKEN": ZALO_TOKEN,
            "ZALO_API_BASE_URL": zalo.base_url,
            "PHUCVU_DB": str(tmp_path / "run.db"),
            "PTB_TIMEDELTA": "true",
        }
        env.pop("TELEGRAM_BOT_TOKEN", None)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
        )
        try:
            since = zalo.mark()
            zalo.push_text("zalo-user-1", "xã Đồng Tân, huyện Hữu Lũng")
            [reply] = await zalo.wait_sent("zalo-user-1", since=since, timeout=60)
            assert "nay thuộc xã Hữu Lũng" in reply.text
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert ZALO_TOKEN not in log
    assert "Zalo against" in log and "long polling" in log
