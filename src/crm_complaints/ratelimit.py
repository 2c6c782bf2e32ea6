"""A client-side rate limiter: keep requests under a CRM's rolling-window limit.

HubSpot counts requests per private app in a rolling 10-second window, by the time each one
arrives. Staying under it on our side means a healthy run sees no 429 at all, which is cheaper
than backing off after one. A request's arrival lies somewhere between our send and the answer,
so a request occupies its slot from before it is sent until its answer is in, and for a full
window after that: whatever the network or the scheduler does in between, the server can never
count more than the limit.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["SlidingWindowLimiter"]


class SlidingWindowLimiter:
    """At most ``requests`` requests counted in any ``window_seconds``.

    Use ``with limiter.slot(): send()``. ``margin_seconds`` widens the window a little for
    clock differences between us and the server.
    """

    def __init__(
        self,
        requests: int,
        window_seconds: float,
        *,
        margin_seconds: float = 0.01,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests < 1 or window_seconds <= 0:
            raise ValueError("a rate limit needs at least one request per positive window")
        self.requests = requests
        self.window = window_seconds + margin_seconds
        self._clock = clock
        self._sleep = sleep
        self._done: deque[float] = deque()  # answer times of finished requests, in order
        self._in_flight = 0
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def _reserve(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                while self._done and now - self._done[0] >= self.window:
                    self._done.popleft()
                if len(self._done) + self._in_flight < self.requests:
                    self._in_flight += 1
                    return
                # Full: wait for the oldest finished one to age out (or for any answer).
                wait = self.window - (now - self._done[0]) if self._done else 0.005
            wait = max(wait, 0.001)
            self.waited_seconds += wait
            self._sleep(wait)

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1
            now = self._clock()
            # Keep the deque ordered even if answers come back out of order.
            self._done.append(max(now, self._done[-1]) if self._done else now)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one request's place in the window while it is sent and answered."""
        self._reserve()
        try:
            yield
        finally:
            self._release()
