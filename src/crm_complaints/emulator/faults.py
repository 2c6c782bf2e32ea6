"""Fault injection: a HubSpot that is slow, fails, is busy or hangs up, so clients prove they cope.

Seeded faults are probabilities per request, repeatable from the seed. Scripted answers let a
test aim a failure at one request: the next request whose body contains the text gets the status.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from .traffic import Stats, Traffic
from .wire import HubSpotError, error_response, json_response

__all__ = ["ConnectionDropped", "FaultInjector", "Faults"]

# The 5xx answers HubSpot's edge gives when something upstream fails.
SERVER_ERRORS = (502, 503, 504, 521, 522, 523, 524)


@dataclass
class Faults:
    """Seeded fault injection, each a probability per request."""

    server_error_rate: float = 0.0
    locked_rate: float = 0.0
    drop_rate: float = 0.0
    latency_seconds: float = 0.0
    seed: int = 0


class ConnectionDropped(Exception):
    """The fault with no answer: the socket is shut and the request gets nothing back."""


class FaultInjector:
    """Seeded faults first, then scripted answers; every fault it injects is counted."""

    def __init__(self, faults: Faults, traffic: Traffic, stats: Stats) -> None:
        self._traffic = traffic  # a scripted 429 carries the rate-limit headers
        self._stats = stats
        self._lock = threading.Lock()
        self.faults = faults
        # Scripted answers for tests: (status, text) — the next request whose body contains
        # the text gets that status instead of being processed.
        self.script: list[tuple[int, str]] = []

    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        """Switching faults on (or off) reseeds them, so a run is repeatable from that point."""
        self._faults = faults
        self._random = random.Random(faults.seed)

    def check(self, request: Request, environ: dict[str, Any]) -> Response | None:
        """A fault's answer, or None to let the request on; raises ConnectionDropped to hang up."""
        seeded = self._seeded(environ)
        return seeded if seeded is not None else self._scripted(request)

    def _seeded(self, environ: dict[str, Any]) -> Response | None:
        with self._lock:
            roll = self._random.random()
        faults = self.faults
        if faults.latency_seconds:
            time.sleep(faults.latency_seconds)
        if roll < faults.drop_rate:
            self._stats.count("injected")
            sock = environ.get("werkzeug.socket")
            if isinstance(sock, socket.socket):
                sock.shutdown(socket.SHUT_RDWR)
            raise ConnectionDropped
        roll -= faults.drop_rate
        if roll < faults.server_error_rate:
            self._stats.count("injected")
            status = SERVER_ERRORS[int(roll * 1e6) % len(SERVER_ERRORS)]
            return json_response(
                status, {"status": "error", "message": "upstream error", "category": "UNKNOWN"}
            )
        roll -= faults.server_error_rate
        if roll < faults.locked_rate:
            self._stats.count("injected")
            return error_response(HubSpotError(423, "Locked: resource is busy", category="LOCKED"))
        return None

    def _scripted(self, request: Request) -> Response | None:
        if not self.script:
            return None
        body = request.get_data(as_text=True)
        with self._lock:
            found = next((i for i, (_, text) in enumerate(self.script) if text in body), None)
            if found is None:
                return None
            status, _ = self.script.pop(found)
        self._stats.count("injected")
        if status == 429:
            return self._traffic.refuse(
                self._traffic.limit.policy_name, "You have reached your limit."
            )
        category = "LOCKED" if status == 423 else "UNKNOWN"
        return error_response(HubSpotError(status, f"scripted {status}", category=category))
