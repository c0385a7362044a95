"""A fake of Zalo's ZNS API and its OAuth token endpoint (aiohttp, one server for both), for tests: nothing reaches
Zalo.

As Zalo documents them (bot/zns.py): `POST /message/template` with the `access_token` header and a JSON body
(`phone`, `template_id`, `template_data`, `tracking_id`, `mode`), answering `{"error": 0, "data": {"msg_id", "quota"}}`
or a negative code; `POST /v4/oa/access_token` with the `secret_key` header and a form (`app_id`,
`grant_type=refresh_token`, `refresh_token`), answering a new access token and a new refresh token, the one used
being spent from then on. The fake keeps:

- the current refresh token (`refresh_token`; a spent or unknown one is refused) and the access tokens it gave
  (`expire_access` makes them all refused with -124);
- the templates it knows (`templates`: id → the parameters it requires, refused with -1122 when one is missing);
- phones without a Zalo account (-118), and invalid ones (-108, anything not `84` and 9 digits);
- development mode: only the app's admins (`admins`) receive, others get -127;
- a daily quota (-144 once it is used up);
- injected answers (`fail_next`), and a send it answers only when told (`hold_next`), to kill the bot meanwhile.
Every send that Zalo would have delivered is in `delivered`.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

from tests.fakebotapi import serve_locally

APP_ID = "4321987654321"
SECRET_KEY = "fake-zns-secret-key"
FIRST_REFRESH = "fake-refresh-token-0"
TEMPLATES = {
    "1001": ("ma_ho_so", "ten_thu_tuc", "ngay_hen_tra", "noi_nop"),
    "1002": ("ma_ho_so", "ten_thu_tuc", "trang_thai", "viec_can_lam", "noi_nop"),
    "1003": ("ma_ho_so", "ten_thu_tuc", "noi_nop"),
    "1004": ("ma_ho_so", "ten_thu_tuc", "ngay_hen_tra", "noi_nop"),
}
SETTING = "received=1001,supplement=1002,ready=1003,overdue=1004"


@dataclass(frozen=True)
class ZnsSend:
    """One send that reached the fake, and its answer's code."""

    phone: str
    template_id: str
    data: dict[str, str]
    tracking_id: str
    mode: str
    error: int


@dataclass
class FakeZns:
    """The fake server on 127.0.0.1."""

    templates: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(TEMPLATES))
    no_zalo: set[str] = field(default_factory=set)
    admins: set[str] = field(default_factory=set)
    quota: int = 500
    refresh_token: str = FIRST_REFRESH
    expires_in: int = 90000
    sends: list[ZnsSend] = field(default_factory=list)
    refreshes: list[str] = field(default_factory=list)  # the refresh tokens presented, in order
    port: int = 0

    def __post_init__(self) -> None:
        self.access_tokens: set[str] = set()
        self._failures: deque[int] = deque()
        self._held = 0
        self.release = asyncio.Event()
        self.arrived = asyncio.Event()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.on_refresh: Callable[[], object] | None = None  # called as a refresh arrives

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/message/template", self._send)
        app.router.add_post("/v4/oa/access_token", self._refresh)
        self._runner, self.port = await serve_locally(app)
        return self

    async def __aexit__(self, *_: object) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """What ZALO_ZNS_API_BASE_URL and ZALO_OAUTH_BASE_URL point at."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def delivered(self) -> list[ZnsSend]:
        """The sends Zalo would have delivered."""
        return [send for send in self.sends if send.error == 0]

    def fail_next(self, *codes: int) -> None:
        """Answer the next sends with these codes (negative: Zalo's; 500 or 429: that HTTP status)."""
        self._failures.extend(codes)

    def expire_access(self) -> None:
        """Every access token given so far is refused from now on (-124)."""
        self.access_tokens.clear()

    def hold_next(self) -> None:
        """Take the next send (it counts as delivered) and answer it only after `release` is set."""
        self._held += 1

    async def wait_for(self, count: int, seconds: float = 15.0) -> list[ZnsSend]:
        """Wait until `count` sends were delivered."""
        async with asyncio.timeout(seconds):
            while len(self.delivered) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.delivered

    async def _refresh(self, request: web.Request) -> web.Response:
        form = await request.post()
        presented = str(form.get("refresh_token", ""))
        self.refreshes.append(presented)
        if self.on_refresh is not None:
            self.on_refresh()
        if request.headers.get("secret_key") != SECRET_KEY or form.get("app_id") != APP_ID:
            return web.json_response({"error": -14002, "error_name": "Invalid appId or secret key"})
        if form.get("grant_type") != "refresh_token" or presented != self.refresh_token:
            return web.json_response(
                {"error": -14014, "error_name": "Invalid refresh token", "error_description": "refresh token invalid"}
            )
        access = "access-" + secrets.token_hex(8)
        self.access_tokens.add(access)
        self.refresh_token = f"fake-refresh-token-{len(self.refreshes)}"  # the one presented is spent
        body = {"access_token": access, "refresh_token": self.refresh_token, "expires_in": str(self.expires_in)}
        return web.json_response(body)

    def _answer(self, error: int, message: str, data: dict[str, Any] | None = None) -> web.Response:
        body: dict[str, Any] = {"error": error, "message": message}
        if data is not None:
            body["data"] = data
        return web.json_response(body)

    async def _send(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return self._answer(-100, "Invalid request body")
        phone, template_id = str(body.get("phone", "")), str(body.get("template_id", ""))
        data = body.get("template_data") if isinstance(body.get("template_data"), dict) else {}
        tracking, mode = str(body.get("tracking_id", "")), str(body.get("mode", ""))

        def record(error: int) -> None:
            self.sends.append(ZnsSend(phone, template_id, dict(data), tracking, mode, error))
            self.arrived.set()

        if self._failures:
            code = self._failures.popleft()
            record(code)
            if code >= 400:
                return web.Response(status=code, text="<html>error</html>", headers={"Retry-After": "2"})
            return self._answer(code, "injected")
        if request.headers.get("access_token") not in self.access_tokens:
            record(-124)
            return self._answer(-124, "Access token invalid")
        checks = (
            (not (phone.startswith("84") and len(phone) == 11 and phone.isdigit()), -108, "Phone number invalid"),
            (template_id not in self.templates, -109, "Template ID invalid"),
            (any(name not in data for name in self.templates.get(template_id, ())), -1122, "Missing parameter"),
            (any(len(str(value)) > 100 for value in data.values()), -1121, "Parameter too long"),
            (phone in self.no_zalo, -118, "Zalo account not existed"),
            (mode == "development" and phone not in self.admins, -127, "Only app admins in development mode"),
            (self.quota <= 0, -144, "Daily quota exceeded"),
        )
        for failed, code, message in checks:
            if failed:
                record(code)
                return self._answer(code, message)
        self.quota -= 1
        record(0)
        if self._held:
            self._held -= 1
            await self.release.wait()
        data_out = {
            "msg_id": f"msg{next(self._ids)}",
            "sent_time": "1754280000000",
            "quota": {"dailyQuota": "500", "remainingQuota": str(self.quota)},
        }
        return self._answer(0, "Success", data_out)
