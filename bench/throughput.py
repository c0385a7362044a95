"""Update throughput over the fake Bot API: the bot answering centre queries vs a bare PTB echo bot.

Goal (issue 2): the bot reaches at least 80% of the echo bot's updates/second, measured in the same run on the
same fake server. Run: `.venv/bin/python -m bench.throughput [N] [--in-process] [--same-http]`. The fake Bot API
runs in a child process (`bench.remote`), as Telegram runs elsewhere; `--in-process` runs it in the bots' process
instead. The echo bot is PTB as it comes (httpx); `--same-http` gives it our aiohttp request instead, which
compares the bot's own work with PTB's least on the same HTTP library.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bench.remote import remote_fake
from bot.app import build_application
from bot.config import Secret, Settings
from bot.telegram_http import AiohttpRequest
from tests.fakebotapi import TOKEN, FakeBotAPI, measure_throughput

# What citizens type: exact names, old addresses, typos, ambiguous and unknown text (each answered by one message).
QUERIES = [
    "Hữu Lũng",
    "xã Đồng Tân, huyện Hữu Lũng",
    "Quý Hoà",
    "phường Vĩnh Trại",
    "Huu Lungg",
    "Sơn",
    "xin chào",
    "Đông Kinh",
]


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The bare echo bot's only handler."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(update.effective_message.text or "")


class Fake(Protocol):
    """Where the bots poll: the fake Bot API in a child process (`bench.remote`, the default) or in this one."""

    base_url: str

    async def measure(self, app: Any, texts: list[str]) -> tuple[float, float]:
        """Poll with `app` while one update per text is pushed: updates per second, and per CPU second."""
        ...


class LocalFake:
    """The fake Bot API in this process (`--in-process`): its work shares the bots' CPU, as before 2026-11-30."""

    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api
        self.base_url = api.base_url

    async def measure(self, app: Any, texts: list[str]) -> tuple[float, float]:
        """See :func:`tests.fakebotapi.measure_throughput`; the CPU time includes starting and stopping the bot."""
        self.api.forget()
        gc.collect()
        started = time.process_time()
        per_s = await measure_throughput(self.api, app, len(texts), texts.__getitem__)
        return per_s, len(texts) / (time.process_time() - started)


@contextlib.asynccontextmanager
async def fake_bot_api(in_process: bool) -> AsyncIterator[Fake]:
    """The fake the bots are measured on."""
    if in_process:
        async with FakeBotAPI() as api:
            yield LocalFake(api)
    else:
        async with remote_fake() as remote:
            yield remote


def echo_bot(base_url: str, same_http: bool = False) -> Any:
    """The bare echo bot: PTB as it comes, or (`same_http`) with the bot's aiohttp request."""
    builder = Application.builder().token(TOKEN).base_url(base_url)
    if same_http:
        builder = builder.request(AiohttpRequest(256)).get_updates_request(AiohttpRequest(1))
    app = builder.build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    return app


async def compare(
    fake: Fake,
    make_ours: Callable[[], Any],
    n: int,
    text: Callable[[int], str],
    rounds: int = 6,
    *,
    same_http: bool = False,
) -> dict[str, float]:
    """Run a bare echo bot and ours back to back `rounds` times on one fake server, alternating which goes first.

    This machine's speed drifts by ±20% and more over minutes (it is a shared virtual machine), so each round's
    ratio compares two runs made seconds apart, and the result is the median of those ratios. Beside the
    wall-clock rates it reports updates per CPU second of this process (the bot and its database thread; with
    `--in-process`, the fake server too), which steal time from neighbours does not move. The fake's recordings
    are dropped and garbage collected before every run, so that no run pays for the ones before it.
    """
    texts = [text(i) for i in range(n)]
    wall: dict[str, list[float]] = {"echo": [], "phucvu": []}
    cpu: dict[str, list[float]] = {"echo": [], "phucvu": []}
    for round_ in range(rounds):
        for name in ["echo", "phucvu"] if round_ % 2 == 0 else ["phucvu", "echo"]:
            app = echo_bot(fake.base_url, same_http) if name == "echo" else make_ours()
            gc.collect()
            per_s, per_cpu_s = await fake.measure(app, texts)
            wall[name].append(per_s)
            cpu[name].append(per_cpu_s)
    wall_ratios = [ours / bare for ours, bare in zip(wall["phucvu"], wall["echo"], strict=True)]
    cpu_ratios = [ours / bare for ours, bare in zip(cpu["phucvu"], cpu["echo"], strict=True)]
    return {
        "echo_median_per_s": statistics.median(wall["echo"]),
        "phucvu_median_per_s": statistics.median(wall["phucvu"]),
        "ratio_median": statistics.median(wall_ratios),
        "ratio_min": min(wall_ratios),
        "ratio_max": max(wall_ratios),
        "cpu_ratio_median": statistics.median(cpu_ratios),
    }


async def measure(n: int, rounds: int = 6, *, in_process: bool = False, same_http: bool = False) -> dict[str, float]:
    """Centre queries (a mix of what citizens type) vs the echo bot."""
    with tempfile.TemporaryDirectory() as folder:
        async with fake_bot_api(in_process) as fake:
            settings = Settings(
                telegram_token=Secret(TOKEN), telegram_api_base_url=fake.base_url, db_path=Path(folder) / "bench.db"
            )
            result = await compare(
                fake,
                lambda: build_application(settings),
                n,
                lambda i: QUERIES[i % len(QUERIES)],
                rounds,
                same_http=same_http,
            )
    return {"updates_per_run": float(n), "rounds": float(rounds), **result}


def main() -> None:
    """Print the result as one line."""
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    n = int(args[0]) if args else 1000
    result = asyncio.run(measure(n, in_process="--in-process" in sys.argv, same_http="--same-http" in sys.argv))
    print("throughput: " + ", ".join(f"{k}={v:.2f}" for k, v in result.items()))


if __name__ == "__main__":
    main()
