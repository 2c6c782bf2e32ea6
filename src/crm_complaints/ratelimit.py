"""A client-side rate limiter: keep requests under a CRM's rolling-window limit.

HubSpot counts requests per private app in a rolling 10-second window. Staying under it on our
side means a healthy run sees no 429 at all, which is cheaper than backing off after one.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["SlidingWindowLimiter"]


class SlidingWindowLimiter:
    """At most ``requests`` calls to :meth:`acquire` in any ``window_seconds``.

    ``margin_seconds`` widens the window on our side: the server counts arrival times, which
    can bunch up a little compared with our send times.
    """

    def __init__(
        self,
        requests: int,
        window_seconds: float,
        *,
        margin_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests < 1 or window_seconds <= 0:
            raise ValueError("a rate limit needs at least one request per positive window")
        self.requests = requests
        self.window = window_seconds + (
            margin_seconds if margin_seconds is not None else max(0.05, 0.02 * window_seconds)
        )
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def acquire(self) -> None:
        """Block until one more request fits in the window, then count it."""
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and now - self._sent[0] >= self.window:
                    self._sent.popleft()
                if len(self._sent) < self.requests:
                    self._sent.append(now)
                    return
                wait = self.window - (now - self._sent[0])
            self.waited_seconds += wait
            self._sleep(wait)
