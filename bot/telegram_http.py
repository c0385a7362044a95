"""PTB's HTTP layer on aiohttp: each Bot API call as one UTF-8 JSON body (an upload as multipart).

PTB's own `HTTPXRequest` sends through httpx, whose HTTP/1.1 stack (httpcore, h11, anyio) is pure Python: on the
development machine it spent about 0.6 ms of CPU on every call, more than everything else the bot does to answer
a dossier lookup (bench/README.md). aiohttp, already our dependency for the ingest server, parses HTTP in C, and
PTB's `BaseRequest` exists so that a bot can choose its HTTP library. `HTTPXRequest` also posts the parameters
form-encoded: a Vietnamese answer of 400 characters becomes about 2,400 bytes of `%E1%BB%87…`, percent-encoded
byte by byte in Python, where the Bot API takes `application/json` as well
(https://core.telegram.org/bots/api#making-requests) and `json.dumps` writes the same text as its ~600 UTF-8
bytes in C.

Behaviour kept from `HTTPXRequest`: the same default timeouts (connect 5 s, read 5 s, write 5 s, 20 s for an
upload, 1 s to wait for a free connection), proxies and certificates from the environment as httpx takes them
(`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`…, read once per URL; certifi's CA bundle unless `SSL_CERT_FILE` or
`SSL_CERT_DIR` name others), and every failure raised as PTB's `TimedOut` or `NetworkError` with the aiohttp
error as its cause. `NEVER_LEFT` names the causes after which the request certainly did not reach Telegram (no
connection could be had), so the outbox may send it again; after any other failure the message may have
arrived. aiohttp never repeats a POST by itself.
"""

from __future__ import annotations

import io
import json
import os
import ssl
import urllib.parse
import urllib.request
from contextlib import suppress

import aiohttp
import certifi
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL

from bot.metrics import HEALTH

CHANNEL = "telegram"

__all__ = ["NEVER_LEFT", "AiohttpRequest", "InProcessRequest", "NoTelegram"]

# Failures after which the request certainly did not reach Telegram: no connection was made, none was free in
# time, or the proxy refused to open one.
NEVER_LEFT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.ClientHttpProxyError)
_JSON = {"Content-Type": "application/json"}
# Bodies up to this size fit the socket's buffers at once; a bigger one has the whole exchange's timeout.
_SMALL_BODY = 64 * 1024


def _bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether `NO_PROXY` exempts this host, as httpx reads it: any entry `*`, or the host (or host:port) itself
    or a domain of it."""
    if not host:
        return False
    if "*" in (entry.strip() for entry in no_proxy.split(",")):
        return True
    return bool(urllib.request.proxy_bypass(host) or (port and urllib.request.proxy_bypass(f"{host}:{port}")))


def _given(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


def _without(url: str, err: Exception) -> str:
    """An error's text without the request's URL, whose path holds the bot's token (the text is stored with a
    failed outbox message); the path is taken out too, however the URL around it is written."""
    text = str(err).replace(url, "<Bot API>").replace(url.rpartition("/")[0], "<Bot API>")
    with suppress(ValueError):
        secret = urllib.parse.urlsplit(url).path.rpartition("/")[0]
        if len(secret) > 1:
            text = text.replace(secret, "/<token>")
    return text


class AiohttpRequest(BaseRequest):
    """PTB's `BaseRequest` on one aiohttp session (opened by `initialize`, closed by `shutdown`): JSON bodies,
    multipart for uploads, PTB's timeouts and errors."""

    def __init__(
        self,
        connection_pool_size: int = 1,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, tuple[URL | None, dict[str, str] | None]] = {}

    def _proxy(self, url: str) -> tuple[URL | None, dict[str, str] | None]:
        """The proxy the environment names for this URL (its scheme's, else `ALL_PROXY`; `http://` when it names
        none) with its credentials apart, so that no error text shows them; read once per URL (a bot calls a few
        dozen methods), where aiohttp's `trust_env` reads the environment and ~/.netrc in a thread on every
        request."""
        if url in self._proxies:
            return self._proxies[url]
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError:  # aiohttp says what is wrong with it
            return None, None
        host = parts.hostname or ""
        proxies = urllib.request.getproxies()
        named = None if _bypassed(host, port, proxies.get("no", "")) else proxies.get(parts.scheme, proxies.get("all"))
        proxy: tuple[URL | None, dict[str, str] | None] = (None, None)
        if named:
            address = URL(named if "://" in named else f"http://{named}")
            auth = aiohttp.BasicAuth.from_url(address, encoding="utf-8")  # as httpx sends them
            proxy = address.with_user(None), {"Proxy-Authorization": auth.encode()} if auth else None
        if len(self._proxies) >= 512:  # file downloads have URLs of their own: the cache stays small
            self._proxies.clear()
        self._proxies[url] = proxy
        return proxy

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (PTB adds the long-polling time to it for getUpdates)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (again, after a shutdown)."""
        if self._session is None or self._session.closed:
            certificates = ssl.create_default_context(
                cafile=os.environ.get("SSL_CERT_FILE") or certifi.where(), capath=os.environ.get("SSL_CERT_DIR")
            )
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size, ssl=certificates),
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": self.USER_AGENT},
            )
            self._proxies = {}

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See `BaseRequest.do_request`."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("this AiohttpRequest is not initialized")
        files = request_data is not None and request_data.contains_files
        read = _given(read_timeout, self._read_timeout)
        write = _given(write_timeout, self._media_write_timeout if files else self._write_timeout)
        connect = _given(connect_timeout, self._connect_timeout)
        pool = _given(pool_timeout, self._pool_timeout)
        body: bytes | io.BytesIO | aiohttp.FormData | None = None
        headers = None
        if request_data is not None and files:
            body = aiohttp.FormData()
            for name, value in request_data.json_parameters.items():
                body.add_field(name, value)
            for name, (filename, content, mimetype) in request_data.multipart_data.items():
                body.add_field(name, content, filename=filename, content_type=mimetype)
        elif request_data is not None:
            body = json.dumps(request_data.parameters, ensure_ascii=False, separators=(",", ":")).encode()
            headers = _JSON
        phases = (pool, connect, write, read)
        # aiohttp has no write timeout, and starts reading only once the body is written: an upload or a big body
        # may take as long as its phases together. Anything else is bounded by the waits for a connection and for
        # each read, as PTB's timeouts are (a slow answer that keeps coming is read to its end).
        big = files or (isinstance(body, bytes) and len(body) > _SMALL_BODY)
        if isinstance(body, bytes) and len(body) > 2**20:
            body = io.BytesIO(body)  # streamed, as aiohttp asks of a body this big
        timeout = aiohttp.ClientTimeout(
            total=sum(p for p in phases if p is not None) if big and None not in phases else None,
            connect=None if pool is None or connect is None else pool + connect,  # a free connection, or a new one
            sock_connect=connect,
            sock_read=read,
        )
        try:
            proxy, proxy_headers = self._proxy(url)
        except (ValueError, UnicodeError):  # its text may hold the proxy's password
            raise NetworkError("The proxy the environment names cannot be used; the request was not sent.") from None
        if proxy_headers and url.startswith("http:"):  # the request itself goes to the proxy (no tunnel)
            headers = {**(headers or {}), **proxy_headers}
        try:
            async with session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                proxy=proxy,
                proxy_headers=proxy_headers,
                allow_redirects=False,
            ) as response:
                answer = await response.read()
        except aiohttp.ConnectionTimeoutError as err:
            HEALTH.failed(CHANNEL, "no connection in time")
            raise TimedOut("No connection to Telegram in time; the request was not sent.") from err
        except TimeoutError as err:  # aiohttp's read timeout, or the whole exchange's
            if not url.endswith("/getUpdates"):  # a long poll that timed out is no failure of Telegram's
                HEALTH.failed(CHANNEL, "timed out")
            raise TimedOut from err
        except aiohttp.ClientError as err:
            HEALTH.failed(CHANNEL, f"aiohttp.{type(err).__name__}")
            raise NetworkError(f"aiohttp.{type(err).__name__}: {_without(url, err)}") from err
        if response.status >= 500 or response.status == 401:  # Telegram down, or the bot's token refused
            HEALTH.failed(CHANNEL, f"HTTP {response.status}")
        else:
            HEALTH.ok(CHANNEL)
        return response.status, _as_bot_api(response.status, response.reason, answer)


def _as_bot_api(status: int, reason: str | None, body: bytes) -> bytes:
    """An error answered with something other than JSON (an HTML page from a proxy before Telegram, nginx's 502) as
    the Bot API's error JSON, so that PTB raises the error the status means instead of logging a traceback for the
    page; the request was refused, not delivered."""
    if status < 400:
        return body
    try:
        json.loads(body)
    except ValueError:
        description = f"{status} {reason or 'error'} (an answer that is not the Bot API's: a proxy's page)"
        return json.dumps({"ok": False, "error_code": status, "description": description}).encode()
    return body


class InProcessRequest(BaseRequest):
    """A Bot API answered inside the process (the console, or no Telegram at all): nothing to open or close."""

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    @property
    def read_timeout(self) -> float | None:
        """No network, no timeout."""
        return None


class NoTelegram(InProcessRequest):
    """Where Telegram would be when only Zalo is configured: PTB's application still hosts the services and the
    jobs, its bot knows who it is and sends nothing (nobody is on Telegram when there is no token)."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """getMe answers; anything else is refused as Telegram refuses a bad token."""
        if url.endswith("/getMe"):
            me = {"id": 1, "is_bot": True, "first_name": "Phục Vụ", "username": "phucvu_without_telegram"}
            return 200, json.dumps({"ok": True, "result": me}).encode()
        return 401, json.dumps({"ok": False, "error_code": 401, "description": "Unauthorized: no Telegram"}).encode()
