"""A small reference webhook receiver: verifies signatures and de-duplicates on ``webhook-id``.

Used by the demo and the tests, and a starting point for a real receiver. It keeps the latest
version of each complaint in memory and answers ``GET /complaints`` for reconciliation. Fault
injection (``fail_rate``) answers 503 before processing, and ``lose_ack_rate`` processes the
event and then answers 500, the case that only de-duplication makes safe.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .webhook import WebhookVerificationError, verify

__all__ = ["ReceiverState", "WebhookReceiver", "running_receiver"]


@dataclass
class ReceiverState:
    """What the receiver has seen. Guarded by ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)  # event id → payload
    complaints: dict[str, dict[str, Any]] = field(default_factory=dict)  # complaint id → latest
    events_per_complaint: dict[str, list[str]] = field(default_factory=dict)
    requests: int = 0
    duplicates: int = 0
    rejected_signatures: int = 0
    injected_failures: int = 0


class WebhookReceiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        secret: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        fail_rate: float = 0.0,
        lose_ack_rate: float = 0.0,
        latency_seconds: float = 0.0,
        seed: int = 0,
        path: str = "/hooks/complaints",
    ) -> None:
        super().__init__((host, port), _Handler)
        self.secret = secret
        self.fail_rate = fail_rate
        self.lose_ack_rate = lose_ack_rate
        self.latency_seconds = latency_seconds
        self.random = random.Random(seed)
        self.path = path
        self.state = ReceiverState()
        # Scripted answers for tests: complaint id → statuses to answer, one per delivery.
        self.script: dict[str, list[int]] = {}

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        return self.base_url + self.path

    @property
    def state_url(self) -> str:
        return self.base_url + "/complaints"

    def scripted_status(self, body: bytes) -> int | None:
        if not self.script:
            return None
        try:
            complaint_id = json.loads(body)["data"]["complaint_id"]
        except (ValueError, KeyError, TypeError):
            return None
        with self.state.lock:
            queued = self.script.get(complaint_id)
            return queued.pop(0) if queued else None

    def roll(self, rate: float) -> bool:
        with self.state.lock:
            return rate > 0 and self.random.random() < rate


class _Handler(BaseHTTPRequestHandler):
    server: WebhookReceiver
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines would only be noise in test output."""

    def _reply(
        self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body or {}, ensure_ascii=False).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        server = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        with server.state.lock:
            server.state.requests += 1
        if server.latency_seconds:
            time.sleep(server.latency_seconds)
        if urlsplit(self.path).path != server.path:
            self._reply(404, {"error": "not found"})
            return
        scripted = server.scripted_status(body)
        if scripted is not None:
            headers = {"Retry-After": "1"} if scripted in (429, 503) else {}
            self._reply(scripted, {"error": "scripted"}, headers)
            return
        if server.roll(server.fail_rate):
            with server.state.lock:
                server.state.injected_failures += 1
            self._reply(503, {"error": "injected failure"})
            return
        try:
            payload = verify(server.secret, dict(self.headers.items()), body)
        except WebhookVerificationError as exc:
            with server.state.lock:
                server.state.rejected_signatures += 1
            self._reply(401, {"error": str(exc)})
            return
        event_id = self.headers["webhook-id"]
        with server.state.lock:
            state = server.state
            if event_id in state.accepted:
                state.duplicates += 1
            else:
                state.accepted[event_id] = payload
                data = payload["data"]
                cid = data["complaint_id"]
                state.events_per_complaint.setdefault(cid, []).append(event_id)
                state.complaints[cid] = {
                    "complaint_id": cid,
                    "event_id": event_id,
                    "type": payload["type"],
                    "version": data["version"],
                    "complaint": data["complaint"],
                    "plan": data["plan"],
                }
        if server.roll(server.lose_ack_rate):
            with server.state.lock:
                server.state.injected_failures += 1
            self._reply(500, {"error": "injected failure after processing"})
            return
        self._reply(200, {"ok": True})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/complaints":
            self._reply(404, {"error": "not found"})
            return
        query = parse_qs(parts.query)
        with self.server.state.lock:
            held = dict(self.server.state.complaints)
        if "id" in query:
            results = [held[cid] for cid in query["id"] if cid in held]
            self._reply(200, {"results": results})
            return
        limit = min(int(query.get("limit", ["100"])[0]), 1000)
        after = query.get("after", [""])[0]
        ids = sorted(cid for cid in held if cid > after)
        page = ids[:limit]
        next_after = page[-1] if len(ids) > limit else None
        self._reply(200, {"results": [held[cid] for cid in page], "next": next_after})


@contextmanager
def running_receiver(secret: str, **kw: Any) -> Iterator[WebhookReceiver]:
    """Start a receiver on a loopback port in a background thread; stop it on exit."""
    server = WebhookReceiver(secret, **kw)
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
