"""`phucvu run` with a token: the real entry point long-polls TELEGRAM_API_BASE_URL and stops cleanly."""

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.fakebotapi import TOKEN, FakeBotAPI

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
        assert reply.text is not None and "nay thuộc Xã Hữu Lũng" in reply.text
        assert api.called("setMyCommands")
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert TOKEN not in log
    assert "long polling" in log
