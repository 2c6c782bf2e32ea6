"""The traffic side of HubSpot: what the emulator has served, and how much it lets through.

A private app gets ``requests`` per rolling window and, optionally, a daily quota; past either
it answers 429 with ``policyName`` and the ``X-HubSpot-RateLimit-*`` headers that clients pace
themselves by. ``Stats`` counts what came in, for tests and for benchmarks in another process.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from .wire import HubSpotError, error_response

__all__ = ["RateLimit", "Stats", "Traffic"]


@dataclass
class RateLimit:
    """A private app's limits: ``requests`` per rolling ``window_seconds``, and a daily quota."""

    requests: int = 100
    window_seconds: float = 10.0
    daily: int | None = None
    policy_name: str = "TEN_SECONDLY_ROLLING"


@dataclass
class Stats:
    """Counters of what the emulator served; safe to bump from the server's threads."""

    requests: int = 0
    writes: int = 0
    reads: int = 0
    rate_limited: int = 0
    injected: int = 0
    by_route: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Not a field: asdict() in snapshot() must not try to copy a lock.
        self._lock = threading.Lock()

    def count(self, counter: str) -> None:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)

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


class Traffic:
    """The rate limiter: a rolling window of recent requests and today's count."""

    def __init__(self, limit: RateLimit, stats: Stats) -> None:
        self.limit = limit
        self._stats = stats
        self._window: deque[float] = deque()
        self._daily_count = 0
        self._lock = threading.Lock()

    def check(self, request: Request, environ: dict[str, Any]) -> Response | None:
        """Let the request through (and count it against the limits), or answer HubSpot's 429."""
        limit = self.limit
        now = time.monotonic()
        with self._lock:
            while self._window and now - self._window[0] >= limit.window_seconds:
                self._window.popleft()
            if limit.daily is not None and self._daily_count >= limit.daily:
                policy, message = "DAILY", "You have reached your daily limit."
            elif len(self._window) >= limit.requests:
                policy = limit.policy_name
                message = f"You have reached your {limit.policy_name.lower()} limit."
            else:
                self._window.append(now)
                self._daily_count += 1
                return None
        self._stats.count("rate_limited")
        return self.refuse(policy, message)

    def refuse(self, policy: str, message: str) -> Response:
        """HubSpot's 429 for ``policy``, with the rate-limit headers."""
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
        self.add_headers(response)
        return response

    def add_headers(self, response: Response) -> None:
        limit = self.limit
        with self._lock:
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
