"""The traffic side of HubSpot: what the emulator has served, and how much it lets through.

A private app gets ``requests`` per rolling window and, optionally, a daily quota; past either
it answers 429 with ``policyName`` and the ``X-HubSpot-RateLimit-*`` headers that clients pace
themselves by. Every app on an account spends the same budgets, so ``neighbour_share`` plays
another app spending that share of the window at a steady pace: the headers and the 429s show
it. CRM search has its own per-second limit (429 ``SECONDLY``), and search answers carry no
rate-limit headers (https://developers.hubspot.com/docs/api/usage-details, "Other limits";
https://developers.hubspot.com/docs/api/crm/search, "Limitations"). ``Stats`` counts what came
in, for tests and for benchmarks in another process.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from .wire import HubSpotError, error_response

__all__ = ["RateLimit", "Stats", "Traffic", "is_search"]


@dataclass
class RateLimit:
    """A private app's limits: ``requests`` per rolling ``window_seconds``, a daily quota, and
    search's own ``search_requests`` per ``search_window_seconds``. ``neighbour_share`` (0–1)
    of the window budget is spent by another app on the same account, evenly spread."""

    requests: int = 100
    window_seconds: float = 10.0
    daily: int | None = None
    policy_name: str = "TEN_SECONDLY_ROLLING"
    search_requests: int | None = 5
    search_window_seconds: float = 1.0
    neighbour_share: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.neighbour_share < 1.0:
            raise ValueError("neighbour_share is a share of the window budget, 0 ≤ share < 1")


@dataclass
class Stats:
    """Counters of what the emulator served; safe to bump from the server's threads."""

    requests: int = 0
    writes: int = 0
    reads: int = 0
    rate_limited: int = 0
    search_rate_limited: int = 0  # of rate_limited: search's own per-second limit
    injected: int = 0
    neighbour: int = 0  # requests the neighbouring app got through
    by_route: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Not a field: asdict() in snapshot() must not try to copy a lock.
        self._lock = threading.Lock()

    def count(self, counter: str, by: int = 1) -> None:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + by)

    def count_served(self, request: Request) -> None:
        """One request a handler answered, as a read or a write and under its route."""
        kind = (
            "writes"
            if request.method in ("POST", "PATCH", "PUT", "DELETE")
            and not request.path.endswith(("/batch/read", "/search"))
            else "reads"
        )
        route = f"{request.method} {request.path}"
        with self._lock:
            setattr(self, kind, getattr(self, kind) + 1)
            self.by_route[route] = self.by_route.get(route, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return asdict(self)


def is_search(request: Request) -> bool:
    """A CRM search (``POST /crm/v3/objects/{type}/search``): limited and answered apart."""
    return request.method == "POST" and request.path.rstrip("/").endswith("/search")


class Traffic:
    """The rate limiter: a rolling window of recent requests, search's window, today's count,
    and the neighbouring app's share of the window."""

    def __init__(self, limit: RateLimit, stats: Stats) -> None:
        self.limit = limit
        self._stats = stats
        self._window: deque[float] = deque()
        self._search_window: deque[float] = deque()
        self._daily_count = 0
        self._neighbour_next: float | None = None  # when the neighbour sends next
        self._lock = threading.Lock()

    def check(self, request: Request, environ: dict[str, Any]) -> Response | None:
        """Let the request through (and count it against the limits), or answer HubSpot's 429."""
        limit = self.limit
        search = is_search(request)
        now = time.monotonic()
        with self._lock:
            self._neighbour_spends(now)
            self._expire(now)
            if limit.daily is not None and self._daily_count >= limit.daily:
                policy, message = "DAILY", "You have reached your daily limit."
            elif len(self._window) >= limit.requests:
                policy = limit.policy_name
                message = f"You have reached your {limit.policy_name.lower()} limit."
            elif (
                search
                and limit.search_requests is not None
                and (len(self._search_window) >= limit.search_requests)
            ):
                policy, message = "SECONDLY", "You have reached your secondly limit."
            else:
                self._window.append(now)
                if search:
                    self._search_window.append(now)
                self._daily_count += 1
                return None
        self._stats.count("rate_limited")
        if policy == "SECONDLY":
            self._stats.count("search_rate_limited")
        return self.refuse(policy, message, headers=not search)

    def _expire(self, now: float) -> None:
        while self._window and now - self._window[0] >= self.limit.window_seconds:
            self._window.popleft()
        while self._search_window and now - self._search_window[0] >= (
            self.limit.search_window_seconds
        ):
            self._search_window.popleft()

    def _neighbour_spends(self, now: float) -> None:
        """The neighbour's requests due by ``now``, each counted if the window had room then
        (a refused neighbour request is simply lost to it). Called with the lock held."""
        limit = self.limit
        rate = limit.neighbour_share * limit.requests / limit.window_seconds  # per second
        if rate <= 0:
            self._neighbour_next = None
            return
        gap = 1.0 / rate
        if self._neighbour_next is None:
            self._neighbour_next = now
        spent = 0
        while self._neighbour_next <= now:
            moment = self._neighbour_next
            self._expire(moment)
            daily_left = limit.daily is None or self._daily_count < limit.daily
            if len(self._window) < limit.requests and daily_left:
                self._window.append(moment)
                self._daily_count += 1
                spent += 1
            self._neighbour_next = moment + gap
        if spent:
            self._stats.count("neighbour", spent)

    def refuse(self, policy: str, message: str, *, headers: bool = True) -> Response:
        """HubSpot's 429 for ``policy``, with the rate-limit headers (not on search)."""
        error = HubSpotError(
            429,
            message,
            category="RATE_LIMITS",
            extra={
                "errorType": "RATE_LIMIT",
                "policyName": policy,
                "groupName": "api-calls:emulator",
            },
        )
        response = error_response(error)
        if headers:
            self.add_headers(response)
        return response

    def add_headers(self, response: Response, request: Request | None = None) -> None:
        """The ``X-HubSpot-RateLimit-*`` headers as of now; none on a search answer."""
        if request is not None and is_search(request):
            return
        limit = self.limit
        with self._lock:
            now = time.monotonic()
            self._neighbour_spends(now)
            self._expire(now)
            used = len(self._window)
            daily = self._daily_count
        response.headers["X-HubSpot-RateLimit-Max"] = str(limit.requests)
        response.headers["X-HubSpot-RateLimit-Remaining"] = str(max(0, limit.requests - used))
        response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(
            int(limit.window_seconds * 1000)
        )
        if limit.daily is not None:
            response.headers["X-HubSpot-RateLimit-Daily"] = str(limit.daily)
            response.headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                max(0, limit.daily - daily)
            )
