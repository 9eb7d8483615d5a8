"""Counting limits (requests per minute, failed checks per hour) over the `limits` library.

The storage comes from a URI: `memory://` keeps the counters in this process (the embedded default:
each replica enforces its own share, so N replicas let through up to N times the rate), while
`redis://host:6379` shares them between replicas. Counters expire on their own, and large limits use
sliding-window counters (two integers per name), so a flood of distinct addresses costs little memory.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter, RateLimiter, SlidingWindowCounterRateLimiter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rate:
    """At most `count` events in any `seconds`-long window.

    `exact` keeps one timestamp per event (limits' moving window): exact at every instant, so right
    for small counts such as a burst cap. Otherwise a sliding-window counter (two integers per name)
    approximates it, which is what large counts such as 1200 per minute per address can afford.
    """

    count: int
    seconds: int
    exact: bool = False

    @property
    def item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.count, self.seconds)


def per_minute_with_burst(per_minute: int, *, burst_seconds: int) -> tuple[Rate, Rate]:
    """The rate over a minute plus a cap on how much of it may come at once (`burst_seconds` worth,
    never below a handful): a visitor's typing bursts pass, a scraper's flood does not."""
    burst = max(5, -(-per_minute * burst_seconds // 60))
    return Rate(burst, burst_seconds, exact=True), Rate(per_minute, 60)


class RateLimits:
    """Named counters; `hit` counts, `allowed` only looks."""

    def __init__(self, storage_uri: str = "memory://") -> None:
        self.storage_uri = storage_uri
        self._storage = storage_from_string(storage_uri)
        self._sliding = SlidingWindowCounterRateLimiter(self._storage)
        self._moving = MovingWindowRateLimiter(self._storage)

    def _strategy(self, rate: Rate) -> RateLimiter:
        return self._moving if rate.exact else self._sliding

    def hit(self, name: str, *rates: Rate) -> float:
        """Counts one event against every rate; 0 when all allow it, else the seconds to wait."""
        try:
            for rate in rates:
                strategy = self._strategy(rate)
                if not strategy.hit(rate.item, name):
                    reset_at = strategy.get_window_stats(rate.item, name).reset_time
                    return max(1.0, reset_at - time.time())
        except StorageError:
            # A shared store that is down must not take the service with it: the limit is lifted
            # (and logged) rather than every request refused.
            log.warning("rate-limit storage %s unavailable; request not counted", self._safe_uri())
        return 0.0

    def allowed(self, name: str, *rates: Rate) -> bool:
        """Whether one more event would pass every rate, without counting it."""
        try:
            return all(self._strategy(rate).test(rate.item, name) for rate in rates)
        except StorageError:
            log.warning("rate-limit storage %s unavailable; check not counted", self._safe_uri())
            return True

    def clear(self, name: str, *rates: Rate) -> None:
        for rate in rates:
            self._strategy(rate).clear(rate.item, name)

    def reset(self) -> None:
        """Forgets every counter (tests, and an operator lifting every limit at once)."""
        self._storage.reset()

    def _safe_uri(self) -> str:
        return self.storage_uri.split("@")[-1]  # never log a password in the URI
