"""A client-side rate limiter: keep requests under a CRM's rolling-window limit.

HubSpot counts requests per private app in a rolling 10-second window, by the time each one
arrives. Staying under it on our side means a healthy run sees no 429 at all, which is cheaper
than backing off after one. A request's arrival lies somewhere between our send and the answer,
so a request occupies its slot from before it is sent until its answer is in, and for a full
window after that: whatever the network or the scheduler does in between, the server can never
count more than the limit.

Our own count is not the whole story: other apps on the same account spend the same budget,
so HubSpot's answers say what is left (``X-HubSpot-RateLimit-Remaining`` of ``-Max``).
:meth:`SlidingWindowLimiter.observe` takes those figures: what the server counts beyond the
requests we hold is someone else's, and our own share of the window shrinks to what they leave
(less a small headroom). Our own requests are counted as conservatively as ever, so the
estimate of the others' use errs low only by the few requests in flight or just aged out, which
is what the headroom is for. It only ever slows us down: the configured limit stays the ceiling.
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
        headroom: int = 4,
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
        self._share = requests  # our share of the window: less when others spend it too
        self._lock = threading.Lock()
        self.waited_seconds = 0.0
        self.lowest_share = requests  # the smallest share the server's figures left us

    def _reserve(self) -> float:
        while True:
            with self._lock:
                now = self._clock()
                # Answers stay two windows: observe() looks back from an earlier send time.
                while self._done and now - self._done[0] >= 2 * self.window:
                    self._done.popleft()
                in_window = self._answered_since(now - self.window)
                if in_window + self._in_flight < self._share:
                    self._in_flight += 1
                    return now
                # Full: wait for the oldest one in the window to age out (or for any answer).
                oldest = self._done[len(self._done) - in_window] if in_window else None
                wait = self.window - (now - oldest) if oldest is not None else 0.005
            wait = max(wait, 0.001)
            self.waited_seconds += wait
            self._sleep(wait)

    def _answered_since(self, moment: float) -> int:
        """How many finished requests were answered after ``moment`` (lock held)."""
        count = 0
        for answered in reversed(self._done):
            if answered <= moment:
                break
            count += 1
        return count

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1
            now = self._clock()
            # Keep the deque ordered even if answers come back out of order.
            self._done.append(max(now, self._done[-1]) if self._done else now)

    @contextmanager
    def slot(self) -> Iterator[float]:
        """Hold one request's place in the window while it is sent and answered; gives the
        moment the place was taken (for :meth:`observe`)."""
        taken = self._reserve()
        try:
            yield taken
        finally:
            self._release()

    @property
    def share(self) -> int:
        """How many requests we may have in any window now (``requests`` unless others spend)."""
        return self._share

    def now(self) -> float:
        """The limiter's clock, for :meth:`observe`'s ``answered_at``."""
        return self._clock()

    def observe(
        self, remaining: int, *, limit: int | None = None, answered_at: float | None = None
    ) -> None:
        """The server's count as one of our answers left it: ``remaining`` places left of
        ``limit`` (default: ours) in its window, counting everyone's requests.

        Call it while the answered request still holds its slot, with ``answered_at`` the
        moment its answer came in (default: now). The server counted at about that moment, so
        ours in its count are those in flight and those answered within a window before it
        (kept even if another thread has moved on since); the rest of its used places are
        someone else's. Our share becomes what they leave, less ``headroom`` (only when someone
        else spends: alone, the count is exact enough), never more than our own limit and never
        below one request per window. Errors err safe: reading an answer late counts fewer of
        ours and so leaves us less; only our requests in flight not yet counted by the server
        make the others look smaller than they are, which is what ``headroom`` covers.
        """
        server_limit = limit or self.requests
        with self._lock:
            since = (self._clock() if answered_at is None else answered_at) - self.window
            ours = self._answered_since(since) + self._in_flight
            others = max(0, server_limit - remaining - ours)
            room = server_limit - others - self.headroom if others else server_limit
            self._share = max(1, min(self.requests, room))
            self.lowest_share = min(self.lowest_share, self._share)
