"""The fake Bot API in a process of its own, as Telegram is: the throughput benchmarks measure the bot, not the fake.

In one process, the fake server's work (parsing each sendMessage, building and serialising the Message it answers
with) shares the bot's CPU, and a bot that sends a longer answer pays for the fake's work on it too. Run here, the
fake takes the machine's second core and the bot's process does only the bot's work.

`python -m bench.remote` serves the fake on a free port and prints `<api port> <control port>` on one line. The
control server has one route, `POST /run` with `{"texts": [...], "users": N}`: it pushes one text update per entry
(from user `10_000 + i % users`), waits for as many sendMessage calls, and answers `{"elapsed": seconds}`. The
bot under test must be polling before it is called.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from aiohttp import web

from tests.fakebotapi import Call, FakeBotAPI, running

__all__ = ["RemoteFake", "remote_fake"]


async def _run(api: FakeBotAPI, request: web.Request) -> web.Response:
    body = await request.json()
    texts: list[str] = body["texts"]
    users: int = body.get("users", 100)
    api.forget()
    gc.collect()
    since = api.mark()
    count = 0

    def counted(call: Call) -> bool:
        nonlocal count
        if call.ok and call.method == "sendMessage":
            count += 1
        return count >= len(texts)

    start = time.perf_counter()
    for i, text in enumerate(texts):
        api.push_text(10_000 + i % users, text)
    await api.wait_for(counted, 300.0, since=since, what=f"{len(texts)} sendMessage calls")
    return web.json_response({"elapsed": time.perf_counter() - start})


async def _serve() -> None:
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})  # the last core: the bot has the others
    async with FakeBotAPI() as api:
        control = web.Application()

        async def run(request: web.Request) -> web.Response:
            return await _run(api, request)

        control.router.add_post("/run", run)
        runner = web.AppRunner(control, access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        print(api.port, sock.getsockname()[1], flush=True)
        try:
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
        finally:
            await runner.cleanup()


class RemoteFake:
    """The parent's handle on a fake Bot API running in a child process."""

    def __init__(self, api_port: int, control_port: int) -> None:
        self.base_url = f"http://127.0.0.1:{api_port}/bot"
        self._control = f"http://127.0.0.1:{control_port}"

    async def measure(self, app: Any, texts: list[str], users: int = 100) -> tuple[float, float]:
        """Poll with `app` (built, not initialized) while the child pushes `texts`: updates per second, and per
        CPU second of this process from the first push to the last answer (starting and stopping the bot, which
        the echo bot does faster, are not counted)."""
        async with running(app), httpx.AsyncClient(timeout=600) as client:
            started = time.process_time()
            response = await client.post(f"{self._control}/run", json={"texts": texts, "users": users})
            cpu = time.process_time() - started
            response.raise_for_status()
            return len(texts) / float(response.json()["elapsed"]), len(texts) / cpu


@contextlib.asynccontextmanager
async def remote_fake() -> AsyncIterator[RemoteFake]:
    """Start `python -m bench.remote` and stop it on exit."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.remote", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if len(cores) > 1:
        os.sched_setaffinity(0, cores - {max(cores)})  # two processes that do not migrate measure steadier
    try:
        assert child.stdout is not None
        line = await child.stdout.readline()
        api_port, control_port = (int(part) for part in line.split())
        yield RemoteFake(api_port, control_port)
    finally:
        if len(cores) > 1:
            os.sched_setaffinity(0, cores)
        assert child.stdin is not None
        child.stdin.close()
        await asyncio.wait_for(child.wait(), 10)


if __name__ == "__main__":
    asyncio.run(_serve())
