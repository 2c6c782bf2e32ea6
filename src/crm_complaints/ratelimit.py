"""A client-side rate limiter: keep requests under a CRM's rolling-window limit.

HubSpot counts requests per private app in a rolling 10-second window, by the time each one
arrives. Staying under it on our side means a healthy run sees no 429 at all, which is cheaper
than backing off after one. A request's arrival lies somewhere between our send and the answer,
so a request occupies its slot from before it is sent until its answer is in, and for a full
window after that: whatever the network or the scheduler does in between, the server can never
count more than the limit.

Our own count is not the whole story: other apps on the same account can spend the same
budget, so HubSpot's answers say what is left (``X-HubSpot-RateLimit-Remaining``).
:meth:`SlidingWindowLimiter.observe` takes that figure: when less is left than we have in
flight plus a small headroom, everyone waits until that many places should have come free
again (at the window's average pace). It only ever slows us down; the configured limit stays
the ceiling.
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
    clock differences between us and the server; ``headroom`` is how many places the server
    must have left beyond our requests in flight before we send another (see :meth:`observe`).
    """

    def __init__(
        self,
        requests: int,
        window_seconds: float,
        *,
        margin_seconds: float = 0.01,
        headroom: int = 2,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests < 1 or window_seconds <= 0:
            raise ValueError("a rate limit needs at least one request per positive window")
        if headroom < 0:
            raise ValueError("headroom cannot be negative")
        self.requests = requests
        self.window = window_seconds + margin_seconds
        self.headroom = headroom
        self._clock = clock
        self._sleep = sleep
        self._done: deque[float] = deque()  # answer times of finished requests, in order
        self._in_flight = 0
        self._paused_until = 0.0  # the server said its budget is (nearly) spent: wait till then
        self._lock = threading.Lock()
        self.waited_seconds = 0.0
        self.pauses = 0  # how often the server's figures made us wait

    def _reserve(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                while self._done and now - self._done[0] >= self.window:
                    self._done.popleft()
                if now < self._paused_until:
                    wait = self._paused_until - now
                elif len(self._done) + self._in_flight < self.requests:
                    self._in_flight += 1
                    return
                else:
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

    def observe(
        self,
        remaining: int,
        *,
        limit: int | None = None,
        interval_seconds: float | None = None,
        in_flight_own: int = 1,
    ) -> None:
        """The server's count after one of our answers: ``remaining`` places left of ``limit``
        per ``interval_seconds`` (defaults: our own figures).

        Call it while the answered request still holds its slot (``in_flight_own`` of our
        in-flight requests are already counted in ``remaining``). If fewer places are left than
        our other requests in flight need plus ``headroom``, nobody sends until the missing
        places should have come free, at the window's average pace: the rest of the budget is
        being spent by someone else, and the next request would only earn a 429.
        """
        per_place = (interval_seconds or self.window) / max(limit or self.requests, 1)
        with self._lock:
            others_in_flight = max(self._in_flight - in_flight_own, 0)
            missing = others_in_flight + self.headroom - remaining
            if missing <= 0:
                return
            until = self._clock() + missing * per_place
            if until > self._paused_until:
                self._paused_until = until
                self.pauses += 1
