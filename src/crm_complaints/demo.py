"""``make demo``: the whole job on the bundled samples, with no credentials and no network.

Plans the sample complaints, starts the reference webhook receiver on loopback with a fresh
secret, syncs into it twice (the second run costs zero remote calls), and shows what the
receiver now holds.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .adapters.webhook import WebhookAdapter, WebhookConfig
from .config import Settings
from .labels import label
from .policy import Policy
from .readers import QuarantineEntry, read_complaints
from .receiver import running_receiver
from .retry import RetryPolicy
from .schema import Department
from .state import open_store
from .sync import sync
from .webhook import generate_secret

__all__ = ["run_demo"]

SECRET_ENV = "CRM_COMPLAINTS_DEMO_WEBHOOK_SECRET"


def run_demo(source: Path, settings: Settings, console: Console) -> int:
    policy = Policy(settings)
    results = list(read_complaints(source, settings.csv))
    complaints = [r for r in results if not isinstance(r, QuarantineEntry)]
    quarantined = len(results) - len(complaints)
    console.rule("1. plan")
    plans = Table(title=f"{len(complaints)} complaints from {source.name}")
    for column in ("complaint", "severity", "coordinator", "first response due", "escalated"):
        plans.add_column(column)
    for complaint in complaints:
        plan = policy.plan(complaint)
        response = plan.tasks[2]
        plans.add_row(
            complaint.id,
            f"{plan.severity.value} / {plan.priority}",
            label(plan.coordinator, plan.language),
            f"{response.due_at:%Y-%m-%d %H:%M %z}" + (" ✓" if response.completed else ""),
            "yes" if plan.escalated else "",
        )
    console.print(plans)
    secret = generate_secret()
    os.environ[SECRET_ENV] = secret
    with (
        tempfile.TemporaryDirectory(prefix="crm-complaints-demo-") as tmp,
        running_receiver(secret) as receiver,
    ):
        console.rule(f"2. sync → signed webhook at {receiver.url}")
        config = WebhookConfig(
            url=receiver.url, secret_env=SECRET_ENV, state_url=receiver.state_url
        )
        store = open_store(Path(tmp) / "state.db")
        with WebhookAdapter(config, allowed_fields=settings.allowed_fields) as adapter:
            retry = RetryPolicy.from_config(settings.sync)
            first = sync(complaints, adapter=adapter, store=store, policy=policy, retry=retry)
            console.print(f"first run:  {first.line()}")
            again = sync(complaints, adapter=adapter, store=store, policy=policy, retry=retry)
            console.print(f"second run: {again.line()}")
        store.close()
        console.rule("3. what the receiver holds")
        held = Table(title=f"{len(receiver.state.complaints)} complaints at the receiver")
        for column in ("complaint", "event", "priority", "coordinator", "tasks (open)"):
            held.add_column(column)
        for cid, entry in sorted(receiver.state.complaints.items()):
            plan = entry["plan"]
            open_tasks = sum(1 for t in plan["tasks"] if not t["completed"])
            held.add_row(
                cid,
                entry["type"],
                plan["priority"],
                label(Department(plan["coordinator"]), plan["language"]),
                f"{len(plan['tasks'])} ({open_tasks})",
            )
        console.print(held)
        console.print(
            f"receiver: {receiver.state.requests} requests, "
            f"{len(receiver.state.accepted)} unique events, {receiver.state.duplicates} duplicates"
        )
    if quarantined:
        console.print(f"[yellow]{quarantined} sample record(s) quarantined[/yellow]")
    return 0 if first.exit_code == 0 and again.remote_calls == 0 else 1
