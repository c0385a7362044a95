"""The ingest endpoint for the one-stop system, inside the bot's process (aiohttp).

`POST /api/v1/dossiers` with `Authorization: Bearer <PHUCVU_INGEST_TOKEN>` and a JSON list of dossiers with the
import's fields (Vietnamese names or English aliases). The list is applied whole or not at all: a wrong or missing
token → 401, a malformed body or any invalid item → 400 saying what is wrong; nothing is written. Sending the same
list again changes nothing; where a code appears more than once, its last item is the one applied (`superseded`
counts the others). `GET /healthz` says whether the database and each channel answer; `GET /metrics` is
Prometheus's text format (`bot.metrics`).

`GET /media/reports/<id>/<n>/<signature>` serves photo n of a report, for the links of `phucvu export-reports`
(see `bot.report_export`), and `GET /media/charts/<kind>/<day>/<language>/<signature>` a queued digest's chart,
for Zalo, which sends images by URL (see `bot.digest.chart_url`): a wrong signature is a 404 like a missing file.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from bot.digest import CHART_PATH, chart_path
from bot.dossier_import import ALIASES, RowError, RowParser, last_of_each
from bot.dossiers import DossierService
from bot.httpserver import BadBody, header_bytes, read_json
from bot.metrics import HEALTH, exposition
from bot.report_export import MEDIA_PATH, sign, signed
from bot.text import fold
from storage.db import Busy
from storage.dossiers import BatchResult

log = logging.getLogger(__name__)

MAX_ITEMS = 10_000
MAX_BODY = 20 * 1024 * 1024


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def create_ingest_app(
    token: str,
    dossiers: DossierService,
    parser: RowParser,
    clock: Callable[[], Any],
    changed: Callable[[BatchResult], Awaitable[None]],
    healthy: Callable[[], Awaitable[bool]],
    photo: Callable[[int, int], Awaitable[bytes | str | None]] | None = None,
    chart: Callable[[str, str, str], Awaitable[bytes | None]] | None = None,
    channels: Sequence[str] = (),
) -> web.Application:
    """The aiohttp application; `changed` is called after a batch that changed any status; `photo` gives photo
    n of a report (its bytes, or the URL it is kept at), or None; `chart` a queued digest's chart PNG;
    `channels` the channels this process serves, whose state `/healthz` reports."""
    expected = f"Bearer {token}".encode()

    async def ingest(request: web.Request) -> web.Response:
        if not token or not hmac.compare_digest(header_bytes(request, "Authorization"), expected):
            return _error(401, "missing or wrong bearer token")
        try:
            items = await read_json(request)
        except BadBody as exc:
            return _error(exc.status, str(exc))
        if not isinstance(items, list):
            return _error(400, "body must be a JSON list of dossiers")
        if len(items) > MAX_ITEMS:
            return _error(400, f"at most {MAX_ITEMS} dossiers per request")
        rows, problems = [], []
        ignored = parser.phones_ignored
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                problems.append({"index": index, "error": "each dossier must be a JSON object"})
                continue
            fields = {ALIASES.get(fold(str(key)).replace("_", " ")): value for key, value in item.items()}
            fields.pop(None, None)
            try:
                rows.append(parser.parse({str(k): v for k, v in fields.items()}))
            except RowError as exc:
                problems.append({"index": index, "error": str(exc)})
        if problems:
            return _error(400, "invalid dossiers; nothing was written", problems=problems[:100])
        rows, superseded = last_of_each(rows)
        try:
            result = await dossiers.apply(rows, "api", clock())
        except Busy:  # another writer (an import) holds the database: nothing written, the sender tries again
            log.warning("ingest: the database is busy; %s dossier(s) refused with 503", len(rows))
            response = _error(503, "the database is busy; nothing was written, try again shortly")
            response.headers["Retry-After"] = "5"
            return response
        if result.status_changes:
            await changed(result)
        counts = {
            "inserted": result.inserted,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "status_changes": result.status_changes,
            "superseded": superseded,
            "phones_ignored": parser.phones_ignored - ignored,
        }
        return web.json_response(counts)

    async def health(request: web.Request) -> web.Response:
        """200 while the database answers (a load balancer keeps the process), with each channel's state: `ok`,
        `unknown` before its first request, or `failing` with what failed; "degraded" when one is failing. 503
        when the database does not answer."""
        database = await healthy()
        states = {channel: HEALTH.state(channel) for channel in channels}
        report: dict[str, Any] = {
            channel: {"state": "unknown" if s.reachable is None else "ok" if s.reachable else "failing"}
            | ({"error": s.error, "since": s.last_failure.isoformat(timespec="seconds")} if s.last_failure and
               not s.reachable else {})
            for channel, s in states.items()
        }  # fmt: skip
        failing = any(state.reachable is False for state in states.values())
        status = "ok" if database and not failing else "degraded" if database else "down"
        body = {"status": status, "database": "ok" if database else "unavailable", "channels": report}
        return web.json_response(body, status=200 if database else 503)

    async def metrics(request: web.Request) -> web.Response:
        body, content_type = exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def media(request: web.Request) -> web.StreamResponse:
        report_id, number, sig = (request.match_info[key] for key in ("report", "number", "sig"))
        if photo is None or not signed(token, int(report_id), int(number), sig):
            return _error(404, "no such photo")
        found = await photo(int(report_id), int(number))
        if found is None:
            return _error(404, "no such photo")
        if isinstance(found, str):
            raise web.HTTPFound(found)
        headers = {"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"}
        return web.Response(body=found, content_type="image/jpeg", headers=headers)

    async def chart_image(request: web.Request) -> web.StreamResponse:
        kind, day, language, sig = (request.match_info[key] for key in ("kind", "day", "language", "sig"))
        path = chart_path(kind, day, language)
        if chart is None or not token or not hmac.compare_digest(sign(token, path), sig):
            return _error(404, "no such chart")
        png = await chart(kind, day, language)
        if png is None:
            return _error(404, "no such chart")
        headers = {"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"}
        return web.Response(body=png, content_type="image/png", headers=headers)

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post("/api/v1/dossiers", ingest)
    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics)
    app.router.add_get(MEDIA_PATH + r"/{report:\d{1,12}}/{number:\d{1,3}}/{sig:[0-9a-f]{20}}", media)
    app.router.add_get(
        CHART_PATH + r"/{kind:[a-z]{1,12}}/{day:\d{4}-\d{2}-\d{2}}/{language:[a-z]{2}}/{sig:[0-9a-f]{20}}", chart_image
    )
    return app
