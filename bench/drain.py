"""Draining a backlog of notifications at Telegram's limits (issue 17): 10,000 queued messages, sent by the
outbox's drain through the Telegram notifier to a fake Bot API that enforces the limits (30 messages in any second
overall, one a second to a chat: a 429 otherwise).

Goal: at least 90% of the allowed rate, zero 429s, no message twice. Run:
`.venv/bin/python -m bench.drain [MESSAGES [PER_CHAT]]` (default 10,000 messages, 5 to each chat, queued chat by
chat as one import changing 5 followed dossiers of each person would queue them). The allowed rate is 30 a second,
or the chats' own limit when there are fewer than 30 chats.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram.ext import ExtBot

from bot.config import Secret, Settings
from bot.dossiers import to_sql_time
from bot.services import open_services
from bot.telegram_channel import TelegramNotifier
from bot.telegram_http import AiohttpRequest
from tests.fakebotapi import LIMIT_OVERALL, LIMIT_PER_CHAT, TOKEN, FakeBotAPI


async def measure(messages: int, per_chat: int, folder: Path) -> dict[str, float]:
    chats = max(1, messages // per_chat)
    async with FakeBotAPI(enforce_limits=True) as api:
        settings = Settings(
            db_path=folder / "drain.db", telegram_token=Secret(TOKEN), telegram_api_base_url=api.base_url
        )
        services = await open_services(settings)
        now = to_sql_time(services.clock())
        async with services.db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO people (channel, external_id, created_at, updated_at) VALUES ('telegram', ?, ?, ?)",
                [(str(100_000 + chat), now, now) for chat in range(chats)],
            )
            rows = await conn.execute_fetchall("SELECT id FROM people WHERE channel = 'telegram' ORDER BY id")
            people = [row[0] for row in rows]
            queued = [
                (
                    person,
                    f"bench:{person}:{n}",
                    json.dumps({"commune": "Xã Hữu Lũng", "overdue": n + 1, "soon": person}),
                    now,
                )
                for person in people
                for n in range(per_chat)
            ][:messages]
            await conn.executemany(
                "INSERT INTO outbox (person_id, kind, dedupe_key, payload, created_at)"
                " VALUES (?, 'commune_morning', ?, ?, ?)",
                queued,
            )
        bot = ExtBot(TOKEN, base_url=api.base_url, request=AiohttpRequest(256))
        await bot.initialize()
        notifier = TelegramNotifier(bot, settings.timezone)
        api.forget()
        start = time.perf_counter()
        sent = 0
        try:
            while sent < len(queued):
                report = await services.outbox.drain(notifier, batch=500)
                sent += report.sent
                if not (report.sent or report.retried):
                    await asyncio.sleep(0.05)
        finally:
            elapsed = time.perf_counter() - start
            await bot.shutdown()
            await services.db.close()
        texts = [(call.chat_id, call.text) for call in api.sent() if call.method == "sendMessage" and call.ok]
        twice = sum(count - 1 for count in collections.Counter(texts).values() if count > 1)
        allowed = min(float(LIMIT_OVERALL), chats / LIMIT_PER_CHAT)
        return {
            "messages": len(queued),
            "chats": chats,
            "seconds": elapsed,
            "rate": len(texts) / elapsed,
            "share": len(texts) / elapsed / allowed,
            "limited": api.limited,
            "twice": twice,
        }


def main() -> None:
    messages = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    per_chat = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with tempfile.TemporaryDirectory() as name:
        result = asyncio.run(measure(messages, per_chat, Path(name)))
    print(
        f"drain: messages={result['messages']}, chats={result['chats']}, seconds={result['seconds']:.1f},"
        f" rate_per_s={result['rate']:.2f}, share_of_allowed={result['share']:.1%},"
        f" answered_429={result['limited']}, sent_twice={result['twice']}"
    )


if __name__ == "__main__":
    main()
