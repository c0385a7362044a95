"""The bot's HTTP server (ingest, the Zalo webhook, media, health) guarded against what the open internet sends.

aiohttp reads headers and bodies for as long as a client takes, and keeps any number of connections; 1,100 idle or
half-sent connections once took every file the process could open, and the chat side with them. So:

- a connection has `READ_TIMEOUT` seconds to send a request's headers (from its opening, or from the end of its
  previous answer); a slow one is closed;
- a handler reads a body with `read_body`, which takes at most `BODY_TIMEOUT` seconds (408 after);
- above `MAX_CONNECTIONS` open connections a new one is answered `503` at once and closed (load shed, not fail);
- what was shed or closed is logged once a minute, as a count, never one line per connection.

Headers are read as bytes (`header_bytes`): one that is not UTF-8 compares as wrong instead of failing. JSON bodies
are read by `read_json`, which refuses what Python's parser would choke on or store wrongly (nesting, numbers of
thousands of digits, NaN, lone surrogates) with a 400 that says what.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 256
READ_TIMEOUT = 10.0
BODY_TIMEOUT = 30.0
LOG_EVERY = 60.0
LINGER = 1.0
MAX_DEPTH = 16
MAX_DIGITS = 18
SHED = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 5\r\n"
    b'Connection: close\r\nContent-Length: 36\r\n\r\n{"error": "too many connections..."}'
)


class BadBody(Exception):
    """A body that cannot be taken; `status` and the message are the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Limits:
    """What one server allows (tests shrink them)."""

    max_connections: int = MAX_CONNECTIONS
    read_timeout: float = READ_TIMEOUT
    body_timeout: float = BODY_TIMEOUT
    log_every: float = LOG_EVERY


@dataclass
class _Counts:
    shed: int = 0
    slow: int = 0
    since: float = field(default=-math.inf)


class Guard:
    """Counts the open connections, sheds those over the cap, closes those that send too slowly, and logs it."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.open: dict[asyncio.BaseTransport, _Guarded] = {}
        self._counts = _Counts()

    def protocol(self, factory: Callable[[], RequestHandler]) -> asyncio.Protocol:
        """The protocol for a new connection: aiohttp's own, watched; or a refusal when too many are open."""
        if len(self.open) >= self.limits.max_connections:
            self._note("shed")
            return _Shed()
        return _Guarded(self, factory())

    def _note(self, what: str) -> None:
        counts = self._counts
        if what == "shed":
            counts.shed += 1
        else:
            counts.slow += 1
        now = asyncio.get_running_loop().time()
        if now - counts.since >= self.limits.log_every:
            log.warning(
                "http: %s connection(s) refused with 503 (over %s open) and %s closed for sending too slowly since"
                " the last report; %s open",
                counts.shed,
                self.limits.max_connections,
                counts.slow,
                len(self.open),
            )
            self._counts = _Counts(since=now)

    def request_started(self, request: web.BaseRequest) -> None:
        """A request's headers have arrived: its handler now owns the time (bodies are bounded by `read_body`)."""
        guarded = self.open.get(cast(asyncio.BaseTransport, request.transport))
        if guarded is not None:
            guarded.busy += 1
            guarded.stop_clock()

    def request_finished(self, request: web.BaseRequest) -> None:
        """The answer is given: the next request on this connection has `read_timeout` to arrive."""
        guarded = self.open.get(cast(asyncio.BaseTransport, request.transport))
        if guarded is not None:
            guarded.busy -= 1
            if guarded.busy == 0:
                guarded.start_clock()

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Stops the connection's clock while a handler works on a request, restarts it after."""
        self.request_started(request)
        try:
            return await handler(request)
        finally:
            self.request_finished(request)


class _Shed(asyncio.Protocol):
    """Answers 503 and closes: one write, and what the client still sends is read and dropped for at most
    `LINGER` seconds, so that it reads the 503 instead of a reset connection."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(SHED)
        self._timer = asyncio.get_running_loop().call_later(LINGER, self.transport.close)

    def data_received(self, data: bytes) -> None:
        return None

    def eof_received(self) -> bool | None:
        self._timer.cancel()
        self.transport.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._timer.cancel()


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, closed when headers do not arrive within the read timeout."""

    def __init__(self, guard: Guard, inner: RequestHandler) -> None:
        self.guard = guard
        self.inner = inner
        self.transport: asyncio.BaseTransport | None = None
        self.busy = 0
        self._timer: asyncio.TimerHandle | None = None

    def start_clock(self) -> None:
        self.stop_clock()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.guard.limits.read_timeout, self._too_slow)

    def stop_clock(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self) -> None:
        self._timer = None
        if self.transport is not None and not self.busy:
            self.guard._note("slow")
            cast(asyncio.Transport, self.transport).abort()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.guard.open[transport] = self
        self.start_clock()
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_clock()
        if self.transport is not None:
            self.guard.open.pop(self.transport, None)
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        self.inner.eof_received()
        return None

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


GUARD = web.AppKey("guard", Guard)


class GuardedSite(web.TCPSite):
    """A TCP site whose connections go through a `Guard`."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, guard: Guard) -> None:
        super().__init__(runner, host, port)
        self.guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        factory = cast(Callable[[], RequestHandler], server)
        self._server = await asyncio.get_running_loop().create_server(
            lambda: self.guard.protocol(factory), self._host, self._port, reuse_address=True
        )


async def serve(app: web.Application, host: str, port: int, guard: Guard | None = None) -> web.AppRunner:
    """Serve `app` on host:port behind a guard; the runner's `cleanup` stops it."""
    guard = guard or Guard()
    app[GUARD] = guard
    app.middlewares.insert(0, guard.middleware)
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=guard.limits.read_timeout)
    await runner.setup()
    await GuardedSite(runner, host, port, guard).start()
    return runner


def header_bytes(request: web.BaseRequest, name: str) -> bytes:
    """A header's value as the bytes that came (aiohttp decodes them leniently); empty when absent."""
    value = request.headers.get(name, "")
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace")


async def read_body(request: web.Request) -> bytes:
    """The whole body, within the guard's body timeout and the app's size limit; BadBody (408, 413) otherwise."""
    guard = request.config_dict.get(GUARD)
    timeout = guard.limits.body_timeout if guard is not None else BODY_TIMEOUT
    try:
        async with asyncio.timeout(timeout):
            return await request.read()
    except TimeoutError:
        raise BadBody(408, f"the body did not arrive within {timeout:.0f} s") from None
    except web.HTTPRequestEntityTooLarge:
        raise BadBody(413, f"the body is larger than {request.client_max_size} bytes") from None


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise BadBody(400, f"a number of {len(text)} digits: at most {MAX_DIGITS}")
    return int(text)


def _constant(name: str) -> Any:
    raise BadBody(400, f"{name} is not a JSON number")


def _real(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise BadBody(400, f"the number {text[:20]}… is too large")
    return number


def _check(value: Any, depth: int, where: str) -> None:
    """Refuse nesting deeper than `MAX_DEPTH` and strings with lone surrogates (they cannot be stored)."""
    if depth > MAX_DEPTH:
        raise BadBody(400, f"{where}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadBody(400, f"{where}: a text with a lone surrogate (\\ud800–\\udfff) is not Unicode") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, depth + 1, f"{where}.{str(key)[:40]!a}")
            _check(item, depth + 1, f"{where}.{str(key)[:40]!a}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, depth + 1, f"{where}[{index}]")


def parse_json(body: bytes) -> Any:
    """A JSON document from bytes, refused (BadBody 400) where it is not UTF-8, not JSON, nested deeper than
    `MAX_DEPTH`, holds a number of more than `MAX_DIGITS` digits, NaN or Infinity, or a lone surrogate."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody(400, f"the body is not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_real, parse_constant=_constant)
    except RecursionError:
        raise BadBody(400, f"body: nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise BadBody(400, f"the body is not JSON: {exc}") from None
    _check(value, 0, "body")
    return value


async def read_json(request: web.Request) -> Any:
    """`parse_json` of the body read by `read_body`."""
    return parse_json(await read_body(request))
