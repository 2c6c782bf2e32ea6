"""The demo's alert: a first response missed by 31 minutes, escalated through apprise's
``json://`` to a loopback receiver (no network, no credentials)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel

from ..policy import Policy, TaskKind
from ..schema import Complaint
from ..state import open_store
from .engine import combine, run_alerts
from .notify import AppriseNotifier
from .settings import AlertsConfig, Level

__all__ = ["show_alert"]

CHANNEL = "CRM_COMPLAINTS_DEMO_ALERTS"


@contextmanager
def _loopback() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A JSON webhook on 127.0.0.1 keeping what apprise posts."""
    posts: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"json://127.0.0.1:{server.server_address[1]}/alerts", posts
    finally:
        server.shutdown()
        server.server_close()


def show_alert(complaints: list[Complaint], policy: Policy, tmp: Path, console: Console) -> bool:
    """Run alerts at the moment the first open first response is 31 minutes late; print the
    escalation management receives. False when none could be shown."""
    chosen = None
    for complaint in complaints:
        task = policy.plan(complaint).task(TaskKind.INITIAL_RESPONSE)
        if task is not None and not task.completed:
            chosen, due = complaint, task.due_at
            break
    if chosen is None:
        console.print("no open first response among the samples: no alert to show")
        return True
    now = due + timedelta(minutes=31)
    config = AlertsConfig(
        channels={"management": [CHANNEL], "escalation": [CHANNEL]},
        clinics={chosen.clinic: {d: [CHANNEL] for d in ("front_desk", "care_staff", "physician")}},
        quiet_outside_hours=False,
    )
    store = open_store(tmp / "alerts.db")
    try:
        with _loopback() as (url, posts):
            notifier = AppriseNotifier([CHANNEL], {CHANNEL: url})
            report = run_alerts(
                [chosen], policy=policy, config=config, store=store, notifier=notifier, now=now
            )
            again = run_alerts(
                [chosen], policy=policy, config=config, store=store, notifier=notifier, now=now
            )
    finally:
        store.close()
    wanted = combine([a for a in report.alerts if a.level is Level.ESCALATION]).title
    escalation = next((p for p in posts if p["title"] == wanted), None)
    if escalation is None:
        console.print("[red]no escalation arrived[/red]")
        return False
    console.print(f"alerts at {now:%Y-%m-%d %H:%M %z} (--now): {_counts(report.counts())}")
    console.print(Panel(escalation["message"], title=escalation["title"], expand=False))
    console.print(f"second run: {_counts(again.counts())} (each task and level once)")
    return report.exit_code == 0 and again.counts()["sent"] == 0


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items() if v) or "nothing"
