"""``make demo``: the whole job on the bundled samples, with no credentials and no network.

Plans the sample complaints; starts the local HubSpot emulator, runs setup and a sync, and
shows what HubSpot now holds, read back through the API; then syncs the same complaints to the
reference signed-webhook receiver. Each sync runs twice: the second costs zero remote calls.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .adapters.base import Adapter
from .adapters.hubspot import HubSpotAdapter, HubSpotConfig
from .adapters.webhook import WebhookAdapter, WebhookConfig
from .config import Settings
from .emulator import DEMO_TOKEN, running_emulator
from .labels import label
from .policy import Policy
from .readers import QuarantineEntry, read_complaints
from .receiver import running_receiver
from .retry import RetryPolicy
from .schema import Complaint, Department
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
    with tempfile.TemporaryDirectory(prefix="crm-complaints-demo-") as tmp:
        hubspot_ok = _hubspot(complaints, settings, policy, Path(tmp), console)
    secret = generate_secret()
    os.environ[SECRET_ENV] = secret
    with (
        tempfile.TemporaryDirectory(prefix="crm-complaints-demo-") as tmp,
        running_receiver(secret) as receiver,
    ):
        console.rule(f"3. sync → signed webhook at {receiver.url}")
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
        console.rule("what the receiver holds")
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
    webhook_ok = first.exit_code == 0 and again.remote_calls == 0
    return 0 if hubspot_ok and webhook_ok else 1


def _twice(
    complaints: list[Complaint],
    adapter: Adapter,
    store_path: Path,
    settings: Settings,
    policy: Policy,
    console: Console,
) -> bool:
    store = open_store(store_path)
    retry = RetryPolicy.from_config(settings.sync)
    try:
        first = sync(complaints, adapter=adapter, store=store, policy=policy, retry=retry)
        console.print(f"first run:  {first.line()}")
        again = sync(complaints, adapter=adapter, store=store, policy=policy, retry=retry)
        console.print(f"second run: {again.line()}")
    finally:
        store.close()
    return first.exit_code == 0 and again.remote_calls == 0


def _hubspot(
    complaints: list[Complaint], settings: Settings, policy: Policy, tmp: Path, console: Console
) -> bool:
    raw = settings.adapter_settings("hubspot")
    raw.pop("fields", None)
    os.environ.setdefault("HUBSPOT_ACCESS_TOKEN", DEMO_TOKEN)
    with running_emulator() as emulator:
        console.rule(f"2. sync → HubSpot (local emulator at {emulator.base_url})")
        config = HubSpotConfig.model_validate({**raw, "host": emulator.base_url})
        os.environ[config.token_env] = DEMO_TOKEN
        with HubSpotAdapter(config, allowed_fields=settings.allowed_fields) as adapter:
            report = adapter.setup()
            console.print(f"setup: created {len(report.created)}, existing {len(report.existing)}")
            ok = _twice(complaints, adapter, tmp / "hubspot.db", settings, policy, console)
            store = open_store(tmp / "hubspot.db")
            refs = {r.complaint_id: r.refs for r in store.all_records("hubspot")}
            store.close()
            held = adapter.read(refs)
            department_of = {v: k for k, v in adapter.portal().owner_ids.items()}
        zones = {c.id: policy.calendar_for(c.clinic).zone for c in complaints}
        table = Table(title=f"what HubSpot holds: {len(held)} tickets, read back through the API")
        for column in ("ticket", "priority", "stage", "owner", "tasks (due, clinic time)"):
            table.add_column(column, overflow="fold")
        for cid, record in sorted(held.items()):
            fields = record.fields
            owner = department_of.get(str(fields.get("hubspot_owner_id")))
            lines = []
            for kind, task in sorted(record.tasks.items(), key=lambda kv: kv[1]["hs_timestamp"]):
                due = datetime.fromisoformat(task["hs_timestamp"].replace("Z", "+00:00"))
                done = "✓" if task.get("hs_task_status") == "COMPLETED" else "·"
                lines.append(f"{done} {due.astimezone(zones[cid]):%m-%d %H:%M} {kind}")
            table.add_row(
                f"{cid}\n#{record.refs['ticket']}",
                str(fields.get("hs_ticket_priority")),
                str(fields.get("stage_label")),
                owner.value if owner else "-",
                "\n".join(lines),
                end_section=True,
            )
        console.print(table)
        if emulator.violations:
            console.print(f"[red]{len(emulator.violations)} OpenAPI contract violations[/red]")
            ok = False
        console.print(
            f"emulator: {emulator.stats.requests} requests, "
            f"{emulator.stats.rate_limited} rate-limited, "
            f"{len(emulator.violations)} contract violations"
        )
    return ok
