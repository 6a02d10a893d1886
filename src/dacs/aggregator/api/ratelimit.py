"""A token bucket per client address: enrollment codes must not be guessable."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import time


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Allow ``burst`` requests at once and ``per_minute`` sustained, per key."""

    def __init__(
        self,
        *,
        per_minute: float = 10,
        burst: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Configure the bucket."""
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, key: str) -> float:
        """0 when allowed (a token is taken), else the seconds to wait."""
        now = self._clock()
        bucket = self._buckets.setdefault(key, _Bucket(self._burst, now))
        bucket.tokens = min(
            self._burst, bucket.tokens + (now - bucket.updated) * self._rate
        )
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        if len(self._buckets) > 10_000:  # forget idle clients
            self._buckets = {
                k: b for k, b in self._buckets.items() if b.tokens < self._burst
            }
        return (1 - bucket.tokens) / self._rate
