"""Zalo Notification Service (ZNS): template messages to applicants' phones, a notification-only channel of the
outbox. Its "people" are dossiers (`('zns', dossier id)`): the phone stays in the dossier, is read when a message
goes, and is erased with it (`bot.dossiers.PHONE_DAYS`).

The API, as Zalo documents it (checked in issue 16):
- `POST {ZALO_ZNS_API_BASE_URL}/message/template`, header `access_token`, JSON `phone` (`84…`), `template_id`,
  `template_data` (the template's parameters, strings), `tracking_id` (ours: the outbox id) and, in development
  mode, `mode: "development"` (sent only to the app's admins). The answer is `{"error": 0, "message": "Success",
  "data": {"msg_id": …, "quota": {"dailyQuota": …, "remainingQuota": …}}}`, or a negative `error` code.
- `POST {ZALO_OAUTH_BASE_URL}/v4/oa/access_token`, header `secret_key`, form `app_id`, `grant_type=refresh_token`,
  `refresh_token`: a new access token (`expires_in` seconds, 25 hours) and a new refresh token; the one used is
  spent. The current pair is kept in the database (`storage.zns`), so a restart or another process goes on from it.

Outcomes (`classify`): a phone that cannot receive (invalid, no Zalo account, the person declined) fails for good,
with the reason; a daily limit, the night ban or the rate limit holds the channel until it lifts; an expired
access token is refreshed and the message sent with the new one; what only an admin can fix (the refresh token,
templates, the account's balance or rights) holds the channel and tells the admins; a request that may have
arrived is never sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from bot.config import Settings
from bot.dossiers import from_sql_time, to_sql_time
from bot.i18n import translator
from bot.metrics import HEALTH
from bot.outbox import Delivery, Outcome, OutgoingMessage
from handlers.outbox import render_template
from storage.dossiers import DossiersRepo
from storage.zns import ZnsTokens, ZnsTokensRepo

log = logging.getLogger(__name__)

CHANNEL = "zns"
SEND_PATH = "/message/template"
REFRESH_PATH = "/v4/oa/access_token"
TIMEOUT = httpx.Timeout(15.0, connect=5.0)
EARLY_REFRESH = timedelta(minutes=10)  # an access token this close to its end is refreshed before a send
NEVER_LEFT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

# Zalo's error codes (https://zalo.cloud/zns/guidelines/handle-error-code), by what the outbox does with them.
FINAL = {
    -108: "invalid phone number",
    -118: "no Zalo account for this phone",
    -119: "this Zalo account cannot receive ZNS",
    -114: "the person is inactive, declined the message or uses an old Zalo",
    -134: "the person has not answered Zalo's consent prompt for ZNS",
    -139: "the person declined this kind of ZNS",
    -141: "the person declined ZNS from this Official Account",
    -127: "development mode: only the app's admins receive messages",
    -111: "template data empty",
    -112: "template data invalid",
    -1121: "a template parameter is too long",
    -1122: "a template parameter is missing",
    -1124: "a template parameter has the wrong format",
    -130: "the message is longer than the template allows",
}
ADMIN = {  # only an admin can fix these: the channel is held and the admins are told
    -109: "template id invalid (ZALO_ZNS_TEMPLATES)",
    -117: "the Official Account or app may not use this template",
    -131: "template not approved",
    -146: "template disabled by Zalo for low quality",
    -135: "the Official Account may not send ZNS",
    -115: "the ZNS account has no balance left",
    -137: "the Zalo Cloud Account payment failed",
    -126: "development mode: the test balance is used up",
    -1241: "appsecret_proof invalid",
}
DAILY = {-144: "the Official Account's daily ZNS limit is reached", -147: "the template's daily limit is reached"}
NIGHT = -133  # this template may not be sent between 22:00 and 06:00
RATE = -32
TOKEN = -124
NIGHT_ENDS = time(6, 5)
RATE_PAUSE = 60.0
MAX_WAIT = 86400.0  # no answer makes anything wait longer than a day (a Retry-After of 1e12 is not one)
REFRESH_LEASE = timedelta(seconds=30)
REFRESH_WAITS = 20  # seconds a process waits for another's refresh
STORE_PAUSES = (0.5, 1.0, 2.0, 4.0, 8.0)
_LONG_NUMBER = re.compile(r"\d{9,}")


def scrubbed(text: str) -> str:
    """Zalo's words, without any long number (a phone it may quote), for the logs and `last_error`."""
    return _LONG_NUMBER.sub("…", text)[:200]


class RefreshRefused(Exception):
    """Zalo refused the refresh token: an admin must authorise the Official Account again."""


class ZnsUnreachable(Exception):
    """Zalo could not be reached; `left` says whether the request may have arrived."""

    def __init__(self, message: str, *, left: bool) -> None:
        super().__init__(message)
        self.left = left


@dataclass(frozen=True)
class Answer:
    """Zalo's answer to one call: `error` 0 on success, or Zalo's code (the HTTP status for a non-JSON answer)."""

    error: int
    message: str
    data: dict[str, Any]
    retry_after: float = 0.0


class ZnsClient:
    """The two calls the bot makes (httpx)."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._http = http or httpx.AsyncClient(timeout=TIMEOUT)
        self._own_http = http is None

    async def close(self) -> None:
        """Close the HTTP connections (if the client opened them)."""
        if self._own_http:
            await self._http.aclose()

    async def _call(self, url: str, **kwargs: Any) -> Answer:
        try:
            response = await self._http.post(url, **kwargs)
        except NEVER_LEFT as exc:
            HEALTH.failed(CHANNEL, exc.__class__.__name__)
            raise ZnsUnreachable(f"{exc.__class__.__name__}", left=False) from exc
        except httpx.HTTPError as exc:
            HEALTH.failed(CHANNEL, exc.__class__.__name__)
            raise ZnsUnreachable(f"{exc.__class__.__name__}: {exc}", left=True) from exc
        if response.status_code >= 500:
            HEALTH.failed(CHANNEL, f"HTTP {response.status_code}")
        else:
            HEALTH.ok(CHANNEL)
        try:
            body = response.json()
        except ValueError:
            body = None
        retry_after = _seconds(response.headers.get("Retry-After"))
        if not isinstance(body, dict) or (response.status_code != 200 and not body.get("error")):
            return Answer(response.status_code, response.reason_phrase or "not JSON", {}, retry_after)
        try:
            error = int(body.get("error") or 0)
        except (TypeError, ValueError):
            error = -1
        message = str(body.get("message") or body.get("error_description") or body.get("error_name") or "")
        return Answer(error, message[:300], body, retry_after)

    async def send(
        self, access_token: str, phone: str, template_id: str, data: dict[str, str], tracking: str
    ) -> Answer:
        """Send one template message."""
        body: dict[str, Any] = {"phone": phone, "template_id": template_id, "template_data": data}
        body["tracking_id"] = tracking
        if self.settings.zns_development:
            body["mode"] = "development"
        url = self.settings.zns_api_base_url.rstrip("/") + SEND_PATH
        return await self._call(url, json=body, headers={"access_token": access_token})

    async def refresh(self, refresh_token: str) -> Answer:
        """Trade the refresh token for a new access token and a new refresh token."""
        url = self.settings.oauth_base_url.rstrip("/") + REFRESH_PATH
        form = {"app_id": self.settings.zns_app_id, "grant_type": "refresh_token", "refresh_token": refresh_token}
        return await self._call(url, data=form, headers={"secret_key": self.settings.zns_secret_key.value})


def _seconds(value: str | None) -> float:
    """A number of seconds from a header or a field, within 0 and a day (anything else is 0)."""
    try:
        seconds = float(value or 0)
    except ValueError:
        return 0.0
    return min(max(0.0, seconds), MAX_WAIT) if math.isfinite(seconds) else 0.0


def seed_hash(refresh_token: str) -> str:
    """What identifies the configured refresh token in the database (never the token itself)."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()


@dataclass(frozen=True)
class _Rotation:
    """Tokens a refresh gave, to be stored in place of the refresh token `used`."""

    used: str
    refresh_token: str
    access_token: str
    expires_at: datetime


class Tokens:
    """The Official Account's access token, refreshed with the stored refresh token when it ends or is refused.

    A refresh token is spent at its first use, so one process at a time refreshes (a lease in the database; the
    others wait for its result), and what Zalo gives back is stored at once: written again with pauses while the
    database refuses, and kept in memory meanwhile, so the new refresh token is never dropped."""

    def __init__(
        self,
        repo: ZnsTokensRepo,
        client: ZnsClient,
        clock: Callable[[], datetime],
        pauses: tuple[float, ...] = STORE_PAUSES,
    ) -> None:
        self.repo = repo
        self.client = client
        self.clock = clock
        self.pauses = pauses
        self._lock = asyncio.Lock()
        self._unstored: _Rotation | None = None

    async def seed(self, refresh_token: str) -> None:
        """Start from the configured refresh token, unless the stored chain already started from it."""
        if await self.repo.seed(seed_hash(refresh_token), refresh_token, to_sql_time(self.clock())):
            log.info("zns: the refresh token from ZALO_ZNS_REFRESH_TOKEN starts the chain")

    def _fresh(self, stored: ZnsTokens | None, refused: str | None = None) -> str | None:
        """The stored access token when it is not the refused one and lasts a while yet."""
        if stored is None or not stored.access_token or stored.access_token == refused or not stored.expires_at:
            return None
        return stored.access_token if from_sql_time(stored.expires_at) > self.clock() + EARLY_REFRESH else None

    async def access(self) -> str:
        """A current access token (refreshed when there is none or it ends soon)."""
        if self._unstored is not None:
            await self._store()
            if self._unstored is not None and self._unstored.expires_at > self.clock() + EARLY_REFRESH:
                return self._unstored.access_token
        stored = await self.repo.get()
        if stored is None:
            raise RefreshRefused("no refresh token stored")
        return self._fresh(stored) or await self.refresh(stored.access_token)

    async def refresh(self, refused: str | None) -> str:
        """A new access token, unless another send or process got one since `refused` was read."""
        async with self._lock:
            for _ in range(REFRESH_WAITS):
                stored = await self.repo.get()
                if stored is None:
                    raise RefreshRefused("no refresh token stored")
                if fresh := self._fresh(stored, refused):
                    return fresh
                now = self.clock()
                if await self.repo.claim_refresh(to_sql_time(now), to_sql_time(now + REFRESH_LEASE)):
                    break
                await asyncio.sleep(1.0)  # another process is refreshing: its result is stored in a moment
            else:
                raise ZnsUnreachable("another process holds the refresh for too long", left=False)
            try:
                return await self._refresh(stored)
            finally:
                with contextlib.suppress(Exception):  # the lease lapses by itself otherwise
                    await self.repo.release_refresh()

    async def _refresh(self, stored: ZnsTokens) -> str:
        answer = await self.client.refresh(stored.refresh_token)
        access, renewed = answer.data.get("access_token"), answer.data.get("refresh_token")
        if answer.error or not access or not renewed:
            if answer.error >= 500 or answer.error == 429:
                raise ZnsUnreachable(f"refresh: {answer.error} {scrubbed(answer.message)}", left=False)
            raise RefreshRefused(f"{answer.error} {scrubbed(answer.message)}".strip())
        now = self.clock()
        lasts = min(_seconds(str(answer.data.get("expires_in") or 0)) or 3600.0, MAX_WAIT)
        self._unstored = _Rotation(stored.refresh_token, str(renewed), str(access), now + timedelta(seconds=lasts))
        await self._store()
        log.info("zns: access token refreshed for %.0f hours", lasts / 3600)
        return str(access)

    async def _store(self) -> None:
        """Write the tokens of the last refresh, trying again while the database refuses; kept in memory (and
        written at the next send) if it still does."""
        rotation = self._unstored
        if rotation is None:
            return
        for pause in (*self.pauses, None):
            try:
                stored = await self.repo.rotate(
                    rotation.used,
                    rotation.refresh_token,
                    rotation.access_token,
                    to_sql_time(rotation.expires_at),
                    to_sql_time(self.clock()),
                )
            except Exception as exc:  # the database's error (busy), whichever database it is
                if pause is None:
                    log.error("zns: the new refresh token could not be stored yet (%s); kept in memory", exc)
                    return
                await asyncio.sleep(pause)
                continue
            if not stored:
                log.error("zns: the refresh token was replaced meanwhile (a new ZALO_ZNS_REFRESH_TOKEN?)")
            self._unstored = None
            return

    async def refused(self, access_token: str) -> None:
        """Zalo refused this access token."""
        await self.repo.forget_access(access_token, to_sql_time(self.clock()))


def until_next(moment: datetime, at: time, tz: ZoneInfo) -> float:
    """Seconds from `moment` to the next `at` in the province."""
    local = moment.astimezone(tz)
    target = datetime.combine(local.date(), at, tz)
    if target <= local:
        target = datetime.combine(local.date() + timedelta(days=1), at, tz)
    return (target - local).total_seconds()


def classify(answer: Answer, now: datetime, tz: ZoneInfo) -> Delivery:
    """The outbox's outcome for Zalo's answer to a send (after the token was refreshed, for -124)."""
    code, said = answer.error, f"{answer.error} {scrubbed(answer.message)}".strip()
    if code == 0:
        return Delivery(Outcome.SENT)
    if code in FINAL:
        return Delivery(Outcome.GONE, error=f"zns {said}: {FINAL[code]}")
    if code in DAILY:
        wait = until_next(now, time(0, 5), tz)
        return Delivery(Outcome.RETRY, wait, f"zns {said}: {DAILY[code]}", hold=wait)
    if code == NIGHT:
        wait = until_next(now, NIGHT_ENDS, tz)
        return Delivery(Outcome.RETRY, wait, f"zns {said}: not sent between 22:00 and 06:00", hold=wait)
    if code == RATE or code == 429:
        wait = max(answer.retry_after, RATE_PAUSE)
        return Delivery(Outcome.RETRY, wait, f"zns {said}: rate limited", hold=wait)
    if code == 504:  # a gateway gave up waiting: Zalo may have taken the message
        return Delivery(Outcome.UNCERTAIN, error=f"zns {said}")
    if code >= 500:
        return Delivery(Outcome.RETRY, answer.retry_after, f"zns {said}")
    if code in ADMIN or code == TOKEN or code in (401, 403, 404):
        return Delivery(Outcome.RETRY, error=f"zns {said}: {ADMIN.get(code, 'refused')}", halt=True)
    return Delivery(Outcome.GONE, error=f"zns {said}: not a documented outcome; not sent again")


class ZnsNotifier:
    """Sends the outbox's ZNS messages: the template the message names, to the phone its dossier holds now."""

    channel = CHANNEL
    audience = None

    def __init__(self, settings: Settings, dossiers: DossiersRepo, tokens: Tokens, client: ZnsClient) -> None:
        self.settings = settings
        self.dossiers = dossiers
        self.tokens = tokens
        self.client = client
        self.tz = settings.timezone

    async def start(self) -> None:
        """Seed the token chain from the settings."""
        await self.tokens.seed(self.settings.zns_refresh_token.value)

    async def _token(self, refused: str | None) -> str | Delivery:
        """A current access token (a new one instead of `refused`), or the outcome when there is none: nothing was
        sent yet, so the message waits; a refused refresh token holds ZNS and tells the admins."""
        try:
            if refused is None:
                return await self.tokens.access()
            await self.tokens.refused(refused)
            return await self.tokens.refresh(refused)
        except RefreshRefused as exc:
            error = f"zns: Zalo refused the refresh token ({exc}); set ZALO_ZNS_REFRESH_TOKEN anew"
            return Delivery(Outcome.RETRY, error=error, halt=True)
        except Exception as exc:  # Zalo unreachable, or the database busy: nothing was sent
            log.warning("zns: no access token now (%s); the message waits", exc)
            return Delivery(Outcome.RETRY, error=f"zns: no access token now ({exc.__class__.__name__}: {exc})")

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        """Send one template message (one try: the outbox decides when to try again)."""
        template = render_template(message.payload, translator("vi"), self.tz)
        template_id = self.settings.zns_templates.get(template.name)
        if template_id is None:
            return Delivery(Outcome.GONE, error=f"zns: no template configured for {template.name!r}")
        phone = await self.dossiers.phone(int(message.payload["dossier_id"]))
        if phone is None:
            return Delivery(Outcome.GONE, error="zns: the dossier has no phone any more (erased or removed)")
        tracking = f"phucvu{message.id}"
        access = await self._token(None)
        if isinstance(access, Delivery):
            return access
        await message.depart()
        try:
            answer = await self.client.send(access, phone, template_id, template.data, tracking)
        except ZnsUnreachable as exc:
            return Delivery(Outcome.UNCERTAIN if exc.left else Outcome.RETRY, error=f"zns network {exc}")
        if answer.error == TOKEN:  # refused before anything was sent: refreshed, and sent once more
            log.warning("zns: access token refused; refreshing")
            access = await self._token(access)
            if isinstance(access, Delivery):
                return access
            try:
                answer = await self.client.send(access, phone, template_id, template.data, tracking)
            except ZnsUnreachable as exc:
                return Delivery(Outcome.UNCERTAIN if exc.left else Outcome.RETRY, error=f"zns network {exc}")
        delivery = classify(answer, self.tokens.clock(), self.tz)
        if delivery.outcome is Outcome.SENT:
            quota = answer.data.get("data", {}).get("quota") if isinstance(answer.data.get("data"), dict) else None
            if isinstance(quota, dict):
                log.info("zns: sent; quota left today %s of %s", quota.get("remainingQuota"), quota.get("dailyQuota"))
        return delivery
