"""What the bot measures of itself, for `/metrics` (Prometheus, `prometheus-client`) and `/healthz`.

Per process (each process of a deployment is scraped on its own): updates answered by channel and kind, how long
an answer took, outbox sends by outcome, sends refused for now with a wait (Telegram's and Zalo's 429, ZNS's
limits), the outbox backlog and the age of its oldest message, the time of the last digest of each kind, and
whether each channel answered its last request (`Health`). Nothing here holds a person's id, a token or a phone.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# The update being answered (`telegram:<update_id>`, `zalo:<message_id>`), for every log line written meanwhile.
UPDATE: ContextVar[str] = ContextVar("update", default="-")
REGISTRY = CollectorRegistry(auto_describe=True)
UPDATES = Counter(
    "phucvu_updates", "Updates answered, by channel and kind (text, action, photo, location)",
    ["channel", "kind"], registry=REGISTRY,
)  # fmt: skip
ANSWER_SECONDS = Histogram(
    "phucvu_answer_seconds", "Time to answer an update, from its arrival to the replies written",
    ["channel"], registry=REGISTRY, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)  # fmt: skip
ANSWER_FAILURES = Counter(
    "phucvu_answer_failures", "Updates answered with the apology because answering failed", ["channel"],
    registry=REGISTRY,
)  # fmt: skip
SENDS = Counter(
    "phucvu_outbox_sends", "Outbox deliveries by channel and outcome (sent, retry, gone, uncertain)",
    ["channel", "outcome"], registry=REGISTRY,
)  # fmt: skip
WAITS_ASKED = Counter(
    "phucvu_outbox_rate_limited", "Sends refused for now with a time to wait (429, or ZNS's limits)", ["channel"],
    registry=REGISTRY,
)  # fmt: skip
BACKLOG = Gauge("phucvu_outbox_backlog", "Outbox messages not settled yet", ["channel"], registry=REGISTRY)
OLDEST = Gauge(
    "phucvu_outbox_oldest_age_seconds", "Age of the oldest outbox message not settled yet", ["channel"],
    registry=REGISTRY,
)  # fmt: skip
LAST_DIGEST = Gauge(
    "phucvu_last_digest_timestamp_seconds", "When the last digest of each kind was queued (Unix time)", ["kind"],
    registry=REGISTRY,
)  # fmt: skip
INBOX_WAITING = Gauge(
    "phucvu_inbox_waiting", "Webhook updates stored and not answered yet (all processes)", registry=REGISTRY
)
SCHEDULER = Gauge("phucvu_scheduler_held", "1 while this process runs the scheduled work", registry=REGISTRY)
CHANNEL_UP = Gauge(
    "phucvu_channel_up", "1 when the channel answered the bot's last request, 0 when it failed", ["channel"],
    registry=REGISTRY,
)  # fmt: skip


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus's text format, and its content type."""
    return generate_latest(REGISTRY), "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class ChannelState:
    """How a channel answered the bot lately."""

    reachable: bool | None  # None: no request yet
    last_ok: datetime | None
    last_failure: datetime | None
    error: str


class Health:
    """Whether each channel answered the bot's last request: recorded by the channels' HTTP clients."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # PTB's requests and the jobs may record from several threads
        self._states: dict[str, ChannelState] = {}

    def ok(self, channel: str) -> None:
        """The channel answered (whatever it said: it is reachable)."""
        with self._lock:
            before = self._states.get(channel)
            self._states[channel] = ChannelState(True, datetime.now(UTC), before.last_failure if before else None, "")
        CHANNEL_UP.labels(channel).set(1)

    def failed(self, channel: str, error: str) -> None:
        """The channel could not be reached, or answered with a server error."""
        with self._lock:
            before = self._states.get(channel)
            self._states[channel] = ChannelState(
                False, before.last_ok if before else None, datetime.now(UTC), error[:200]
            )
        CHANNEL_UP.labels(channel).set(0)

    def state(self, channel: str) -> ChannelState:
        """The channel's state (unknown before its first request)."""
        with self._lock:
            return self._states.get(channel, ChannelState(None, None, None, ""))


HEALTH = Health()
