"""PTB's HTTP layer, sending each Bot API call as one UTF-8 JSON body instead of a form.

PTB's `HTTPXRequest` posts the parameters form-encoded: a Vietnamese answer of 400 characters becomes about 2,400
bytes of `%E1%BB%87…`, percent-encoded byte by byte in Python on every send. The Bot API takes
`application/json` as well (https://core.telegram.org/bots/api#making-requests), where the same text is its
~600 UTF-8 bytes and `json.dumps` does the work in C. Calls that upload a file still go as multipart, through
PTB's own code.
"""

from __future__ import annotations

import json

import httpx
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

__all__ = ["JsonRequest"]

_HEADERS = {"User-Agent": HTTPXRequest.USER_AGENT, "Content-Type": "application/json"}


class JsonRequest(HTTPXRequest):
    """`HTTPXRequest` with JSON bodies for calls without files (same timeouts and the same errors as PTB's)."""

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
        if request_data is None or request_data.contains_files or self._client.is_closed:
            return await super().do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
            )
        defaults = self._client.timeout
        timeout = httpx.Timeout(
            connect=defaults.connect if isinstance(connect_timeout, DefaultValue) else connect_timeout,
            read=defaults.read if isinstance(read_timeout, DefaultValue) else read_timeout,
            write=defaults.write if isinstance(write_timeout, DefaultValue) else write_timeout,
            pool=defaults.pool if isinstance(pool_timeout, DefaultValue) else pool_timeout,
        )
        body = json.dumps(request_data.parameters, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            response = await self._client.request(
                method=method, url=url, headers=_HEADERS, timeout=timeout, content=body
            )
        except httpx.TimeoutException as err:
            if isinstance(err, httpx.PoolTimeout):
                raise TimedOut(
                    "Pool timeout: all connections in the pool are busy; the request was not sent to Telegram."
                ) from err
            raise TimedOut from err
        except httpx.HTTPError as err:
            raise NetworkError(f"httpx.{err.__class__.__name__}: {err}") from err
        return response.status_code, response.content


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
