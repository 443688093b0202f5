"""A small in-memory rate limiter (token buckets), one per application."""

from __future__ import annotations

import time
from collections import OrderedDict


class RateLimiter:
    """Token buckets per session id, bounded in memory (least recently used dropped)."""

    def __init__(self, burst: int, per_second: float, max_sessions: int = 50_000) -> None:
        self.burst, self.per_second, self.max_sessions = burst, per_second, max_sessions
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.per_second)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.max_sessions:
            self._buckets.popitem(last=False)
        return allowed
