"""One limiter for every worker: Thermostat allows 200 calls a minute per token.

A moving window in Redis (the `limits` library), keyed by a hash of the token, so all
workers and the web app together stay under the limit and never see a 429. The default
keeps a margin of 4 calls for clock skew between us and Thermostat.
"""

from __future__ import annotations

import hashlib
import logging
import time

from flask import current_app
from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from .client import Throttled

log = logging.getLogger(__name__)


def _limiter() -> MovingWindowRateLimiter:
    limiter = current_app.extensions.get("helpdesk_limiter")
    if limiter is None:
        storage = storage_from_string(current_app.config["REDIS_URL"])
        limiter = MovingWindowRateLimiter(storage)
        current_app.extensions["helpdesk_limiter"] = limiter
    return limiter


def _item() -> RateLimitItemPerSecond:
    return RateLimitItemPerSecond(current_app.config["THERMOSTAT_RATE_LIMIT"],
                                  int(current_app.config["THERMOSTAT_RATE_WINDOW"]))


def token_key(token: str) -> str:
    """The limiter's key for a token (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()[:24]


def make_gate(token: str, max_wait: float | None = None):
    """A callable the client runs before each call: waits for a slot, or raises Throttled."""
    limiter = _limiter()
    item = _item()
    key = token_key(token)
    budget = current_app.config["THERMOSTAT_THROTTLE_MAX_WAIT"] if max_wait is None else max_wait

    def gate() -> None:
        deadline = time.monotonic() + budget
        try:
            _wait(deadline)
        except Throttled:
            raise
        except Exception as exc:  # Redis unreachable: one call is safer than none
            log.warning("rate limiter unavailable, calling without it: %s", exc)

    def _wait(deadline: float) -> None:
        while not limiter.hit(item, "thermostat", key):
            reset_at = limiter.get_window_stats(item, "thermostat", key).reset_time
            wait = max(0.05, reset_at - time.time())
            if time.monotonic() + wait > deadline:
                raise Throttled("Waiting for the shared Thermostat rate limit "
                                f"({item.amount} calls per {item.get_expiry()} s)", wait)
            time.sleep(min(wait, 1.0))

    return gate
