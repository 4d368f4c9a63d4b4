"""HubSpot's request limits: a ten-second rolling window, a per-second burst cap and a daily cap.

A sync engine's backoff is only proven against a limiter that behaves like HubSpot's, so this
is a real sliding window over the timestamps of admitted calls (not a fixed bucket that resets
on the tick), the headers report what is left after the call, and a refused call costs
nothing, as in HubSpot. The clock is injectable so tests can walk time forward instead of
sleeping.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

WINDOW_S = 10.0
SECOND_S = 1.0
DAY_S = 86_400.0


@dataclass(frozen=True)
class Verdict:
    """The outcome of one call: admitted or refused by ``policy``, plus the headers to send."""

    allowed: bool
    headers: dict[str, str]
    policy: str | None = None         # TEN_SECONDLY_ROLLING, SECONDLY or DAILY when refused
    retry_after_s: int | None = None  # seconds until the refusing window frees a slot


class RateLimiter:
    """Rolling-window limiter; not thread-safe on its own (the caller holds the app lock)."""

    def __init__(self, per_10s: int = 190, per_second: int = 19, daily: int = 500_000,
                 *, retry_after: bool = False, clock: Callable[[], float] = time.time) -> None:
        self.per_10s = per_10s
        self.per_second = per_second
        self.daily = daily
        self.retry_after = retry_after  # HubSpot rarely sends Retry-After; opt in to exercise it
        self.clock = clock
        self._window: deque[float] = deque()   # admitted calls in the last 10 s
        self._second: deque[float] = deque()   # admitted calls in the last second
        self._day = -1
        self._day_used = 0

    def configure(self, per_10s: int | None = None, per_second: int | None = None,
                  daily: int | None = None, retry_after: bool | None = None) -> None:
        if per_10s is not None:
            self.per_10s = int(per_10s)
        if per_second is not None:
            self.per_second = int(per_second)
        if daily is not None:
            self.daily = int(daily)
        if retry_after is not None:
            self.retry_after = bool(retry_after)

    def settings(self) -> dict[str, int | bool]:
        return {"per_10s": self.per_10s, "per_second": self.per_second, "daily": self.daily,
                "retry_after": self.retry_after}

    def clear(self) -> None:
        self._window.clear()
        self._second.clear()
        self._day_used = 0

    def check(self) -> Verdict:
        """Admit or refuse one call now; only admitted calls use up the windows."""
        now = self.clock()
        self._expire(now)
        policy, wait = None, 0.0
        if self._day_used >= self.daily:
            policy, wait = "DAILY", (self._day + 1) * DAY_S - now
        elif len(self._window) >= self.per_10s:
            policy, wait = "TEN_SECONDLY_ROLLING", self._window[0] + WINDOW_S - now
        elif len(self._second) >= self.per_second:
            policy, wait = "SECONDLY", self._second[0] + SECOND_S - now
        if policy is None:
            self._window.append(now)
            self._second.append(now)
            self._day_used += 1
        headers = self._headers()
        retry = max(1, math.ceil(wait)) if policy else None
        if policy and self.retry_after:
            headers["Retry-After"] = str(retry)
        return Verdict(policy is None, headers, policy, retry)

    def _expire(self, now: float) -> None:
        while self._window and self._window[0] <= now - WINDOW_S:
            self._window.popleft()
        while self._second and self._second[0] <= now - SECOND_S:
            self._second.popleft()
        day = int(now // DAY_S)  # HubSpot's daily allowance resets at midnight (UTC here)
        if day != self._day:
            self._day, self._day_used = day, 0

    def _headers(self) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(WINDOW_S * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.per_10s),
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.per_10s - len(self._window))),
            "X-HubSpot-RateLimit-Secondly": str(self.per_second),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, self.per_second - len(self._second))),
            "X-HubSpot-RateLimit-Daily": str(self.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily - self._day_used)),
        }
