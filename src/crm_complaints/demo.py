"""``make demo``: the whole job on the bundled samples, with no credentials and no network.

Plans the sample complaints; starts the local HubSpot emulator, runs setup and a sync, and
shows what HubSpot now holds, read back through the API; then syncs the same complaints to the
reference signed-webhook receiver. Each sync runs twice: the second costs zero remote calls.
Last, one alert: a first response missed by 31 minutes, escalated to management.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .adapters.hubspot import HubSpotAdapter
from .alerts.demo import show_alert
from .config import Settings, StateConfig
from .emulator import DEMO_TOKEN, running_emulator
from .errors import RecordError
from .job import Job
from .labels import label
from .policy import Policy, TaskKind
from .readers import QuarantineEntry, read_complaints
from .receiver import running_receiver
from .schema import Complaint, Department
from .webhook import generate_secret

__all__ = ["run_demo"]

SECRET_ENV = "CRM_COMPLAINTS_DEMO_WEBHOOK_SECRET"


def run_demo(source: Path, settings: Settings, console: Console) -> int:
    policy = Policy.from_settings(settings)
    results = list(read_complaints(source, settings=settings))
    complaints = [r for r in results if not isinstance(r, QuarantineEntry)]
    quarantined = len(results) - len(complaints)
    console.rule("1. plan")
    plans = Table(title=f"{len(complaints)} complaints from {source.name}")
    for column in ("complaint", "severity", "coordinator", "first response due", "escalated"):
        plans.add_column(column)
    for complaint in complaints:
        try:
            plan = policy.plan(complaint)
        except RecordError as exc:
            plans.add_row(complaint.id, f"[yellow]not planned: {exc.field}[/yellow]", "", "", "")
            continue
        response = plan.task(TaskKind.INITIAL_RESPONSE)
        plans.add_row(
            complaint.id,
            f"{plan.severity.value} / {plan.priority}",
            label(plan.coordinator, plan.language),
            f"{response.due_at:%Y-%m-%d %H:%M %z}" + (" ✓" if response.completed else "")
            if response
            else "-",
            "yes" if plan.escalated else "",
        )
    console.print(plans)
    with tempfile.TemporaryDirectory(prefix="crm-complaints-demo-") as tmp:
        hubspot_ok = _hubspot(complaints, settings, policy, Path(tmp), console)
    with tempfile.TemporaryDirectory(prefix="crm-complaints-demo-") as tmp:
        webhook_ok = _webhook(complaints, settings, Path(tmp), console)
    console.rule("4. alerts → management (apprise json:// to a loopback receiver)")
    with tempfile.TemporaryDirectory(prefix="crm-complaints-demo-") as tmp:
        alerts_ok = show_alert(_plannable(complaints, policy), policy, Path(tmp), console)
    if quarantined:
        console.print(f"[yellow]{quarantined} sample record(s) quarantined[/yellow]")
    return 0 if hubspot_ok and webhook_ok and alerts_ok else 1


def _plannable(complaints: list[Complaint], policy: Policy) -> list[Complaint]:
    """The complaints a plan can be made of (the others are quarantined by sync too)."""
    kept = []
    for complaint in complaints:
        try:
            policy.plan(complaint)
        except RecordError:
            continue
        kept.append(complaint)
    return kept


def _local(settings: Settings, adapter: str, options: dict[str, Any], state: Path) -> Settings:
    """The user's settings, with one adapter pointed at a local double and a scratch state."""
    adapters = {**settings.adapters, adapter: {**settings.adapter_settings(adapter), **options}}
    return settings.model_copy(update={"adapters": adapters, "state": StateConfig(path=state)})


def _twice(complaints: list[Complaint], job: Job, adapter: str, console: Console) -> bool:
    """Sync, then sync again: the second run must cost nothing."""
    first = job.sync(complaints, adapter=adapter)
    console.print(f"first run:  {first.line()}")
    again = job.sync(complaints, adapter=adapter)
    console.print(f"second run: {again.line()}")
    return first.exit_code == 0 and again.remote_calls == 0


def _hubspot(
    complaints: list[Complaint], settings: Settings, policy: Policy, tmp: Path, console: Console
) -> bool:
    with running_emulator() as emulator:
        console.rule(f"2. sync → HubSpot (local emulator at {emulator.base_url})")
        local = _local(settings, "hubspot", {"host": emulator.base_url}, tmp / "hubspot.db")
        token_env = str(local.adapter_settings("hubspot").get("token_env", "HUBSPOT_ACCESS_TOKEN"))
        job = Job(local, environ={**os.environ, token_env: DEMO_TOKEN})
        report = job.setup("hubspot")
        console.print(f"setup: created {len(report.created)}, existing {len(report.existing)}")
        ok = _twice(complaints, job, "hubspot", console)
        with job.session("hubspot") as (adapter, store):
            held = adapter.read({r.complaint_id: r.refs for r in store.all_records("hubspot")})
            owners = adapter.portal().owner_ids if isinstance(adapter, HubSpotAdapter) else {}
        department_of = {owner: department for department, owner in owners.items()}
        zones = {c.id: policy.calendar_for(c.clinic).zone for c in complaints}
        table = Table(title=f"what HubSpot holds: {len(held)} tickets, read back through the API")
        for column in ("ticket", "priority", "stage", "owner", "tasks (due, clinic time)"):
            table.add_column(column, overflow="fold")
        for cid, record in sorted(held.items()):
            owner = department_of.get(record.owner or "")
            lines = [
                f"{'✓' if task.completed else '·'} "
                f"{task.due_at.astimezone(zones[cid]):%m-%d %H:%M} {task.kind}"
                for task in sorted(record.tasks.values(), key=lambda t: str(t.due_at))
                if task.due_at is not None
            ]
            table.add_row(
                f"{cid}\n#{record.refs['ticket']}",
                str(record.value("priority")),
                str(record.stage),
                owner.value if owner else "-",
                "\n".join(lines),
                end_section=True,
            )
        console.print(table)
        if emulator.violations:
            console.print(f"[red]{len(emulator.violations)} OpenAPI contract violations[/red]")
            for violation in emulator.violations[:10]:  # route and rule, never a value
                console.print(f"  {violation}", markup=False)
            ok = False
        console.print(
            f"emulator: {emulator.stats.requests} requests, "
            f"{emulator.stats.rate_limited} rate-limited, "
            f"{len(emulator.violations)} contract violations"
        )
    return ok


def _webhook(complaints: list[Complaint], settings: Settings, tmp: Path, console: Console) -> bool:
    secret = generate_secret()
    with running_receiver(secret) as receiver:
        console.rule(f"3. sync → signed webhook at {receiver.url}")
        options = {"url": receiver.url, "secret_env": SECRET_ENV, "state_url": receiver.state_url}
        local = _local(settings, "webhook", options, tmp / "webhook.db")
        ok = _twice(complaints, Job(local, environ={SECRET_ENV: secret}), "webhook", console)
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
    return ok
