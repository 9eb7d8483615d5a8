"""Counting limits (requests per minute, failed checks per hour) over the `limits` library.

The storage comes from a URI: `memory://` keeps the counters in this process (the embedded default:
each replica enforces its own share, so N replicas let through up to N times the rate), while
`redis://host:6379` shares them between replicas. Sliding-window counters cost two integers per
name and window, so a flood of distinct addresses costs little memory, and they expire on their own.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rate:
    """At most `count` events in any `seconds`-long window."""

    count: int
    seconds: int

    @property
    def item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.count, self.seconds)


def per_minute_with_burst(per_minute: int, *, burst_seconds: int) -> tuple[Rate, Rate]:
    """The rate over a minute plus a cap on how much of it may come at once (`burst_seconds` worth,
    never below a handful): a visitor's typing bursts pass, a scraper's flood does not."""
    burst = max(5, -(-per_minute * burst_seconds // 60))
    return Rate(burst, burst_seconds), Rate(per_minute, 60)


class RateLimits:
    """Named counters; `hit` counts, `allowed` only looks."""

    def __init__(self, storage_uri: str = "memory://") -> None:
        self.storage_uri = storage_uri
        self._storage = storage_from_string(storage_uri)
        self._strategy = SlidingWindowCounterRateLimiter(self._storage)

    def hit(self, name: str, *rates: Rate) -> float:
        """Counts one event against every rate; 0 when all allow it, else the seconds to wait."""
        try:
            for rate in rates:
                if not self._strategy.hit(rate.item, name):
                    reset_at = self._strategy.get_window_stats(rate.item, name).reset_time
                    return max(1.0, reset_at - time.time())
        except StorageError:
            # A shared store that is down must not take the service with it: the limit is lifted
            # (and logged) rather than every request refused.
            log.warning("rate-limit storage %s unavailable; request not counted", self._safe_uri())
        return 0.0

    def allowed(self, name: str, *rates: Rate) -> bool:
        """Whether one more event would pass every rate, without counting it."""
        try:
            return all(self._strategy.test(rate.item, name) for rate in rates)
        except StorageError:
            log.warning("rate-limit storage %s unavailable; check not counted", self._safe_uri())
            return True

    def clear(self, name: str, *rates: Rate) -> None:
        for rate in rates:
            self._strategy.clear(rate.item, name)

    def reset(self) -> None:
        """Forgets every counter (tests, and an operator lifting every limit at once)."""
        self._storage.reset()

    def _safe_uri(self) -> str:
        return self.storage_uri.split("@")[-1]  # never log a password in the URI
