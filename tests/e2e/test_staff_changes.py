"""Staff work in HubSpot (the emulator): ``pull`` reports it, ``ack`` quiets a status move until
the stage changes again, and a task completed there is done for alerts."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_complaints.acks import acknowledge, list_acks
from crm_complaints.adapters.hubspot.properties import hubspot_time
from crm_complaints.adapters.webhook import WebhookAdapter, WebhookConfig
from crm_complaints.alerts.engine import Outcome, run_alerts
from crm_complaints.alerts.settings import AlertsConfig
from crm_complaints.crm_changes import completed_in_crm
from crm_complaints.emulator import HubSpotEmulator
from crm_complaints.policy import Policy
from crm_complaints.pull import pull
from crm_complaints.receiver import running_receiver
from crm_complaints.reconcile import FindingKind, reconcile
from crm_complaints.report import render_json
from crm_complaints.retry import RetryPolicy
from crm_complaints.schema import Complaint
from crm_complaints.state import SqlStateStore
from crm_complaints.sync import sync
from tests.conftest import edited, realistic_complaints
from tests.hubspot_support import make_adapter

KEYS = ["complaint_id", "clinic", "changed_at", "stage", "owner", "tasks"]


def _complaints(count: int, prefix: str, received: datetime, **changes: Any) -> list[Complaint]:
    return [
        edited(c, received_at=received.isoformat(), **changes)
        for c in realistic_complaints(count, prefix=prefix)
    ]


def _ticket(emulator: HubSpotEmulator, cid: str) -> Any:
    return next(
        t for t in emulator.portal.live("tickets") if t.properties["crm_complaint_id"] == cid
    )


def _task(emulator: HubSpotEmulator, cid: str, kind: str) -> Any:
    return next(
        t for t in emulator.portal.live("tasks") if t.properties["crm_task_key"] == f"{cid}:{kind}"
    )


def test_pull_reports_a_close_a_reassignment_a_completed_task_and_a_moved_due_date(
    emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    policy = Policy()
    complaints = _complaints(8, "PUL", datetime.now(UTC) - timedelta(minutes=10))
    adapter = make_adapter(emulator)
    adapter.setup()
    sync(complaints, adapter=adapter, store=store, policy=policy, retry=RetryPolicy.no_wait())
    time.sleep(0.01)  # HubSpot's modification times are in milliseconds
    since = datetime.now(UTC)
    time.sleep(0.01)
    closed, reassigned, completed, moved = (c.id for c in complaints[:4])
    portal = emulator.portal
    portal.update("tickets", _ticket(emulator, closed).id, {"hs_pipeline_stage": "4"})
    before_owner = _ticket(emulator, reassigned).properties.get("hubspot_owner_id")
    new_owner = "102" if before_owner != "102" else "101"
    portal.update("tickets", _ticket(emulator, reassigned).id, {"hubspot_owner_id": new_owner})
    portal.update(
        "tasks",
        _task(emulator, completed, "initial_response").id,
        {"hs_task_status": "COMPLETED"},
    )
    planned_due = policy.plan(complaints[3]).task(policy.plan(complaints[3]).tasks[0].kind)
    assert planned_due is not None
    kind = planned_due.kind.value
    new_due = planned_due.due_at + timedelta(days=1)
    portal.update("tasks", _task(emulator, moved, kind).id, {"hs_timestamp": hubspot_time(new_due)})

    report = pull(complaints, adapter=adapter, store=store, policy=policy, since=since)

    lines = {line["complaint_id"]: line for line in report.lines}
    assert list(lines) == sorted([closed, reassigned, completed, moved])
    assert all(list(line) == KEYS for line in report.lines)  # stable key order
    assert lines[closed]["stage"] == {
        "ours": "New",
        "theirs": "Closed",
        "closed": True,
        "moved": "closed",
    }
    assert lines[closed]["owner"] is None and lines[closed]["tasks"] == {}
    emails = {"101": "frontdesk@clinic.example", "102": "care@clinic.example"}
    assert lines[reassigned]["owner"]["theirs"] == emails[new_owner]
    assert lines[reassigned]["stage"] is None
    done = lines[completed]["tasks"]["initial_response"]
    assert done["completed"] is True and done["due"] is None
    zone = policy.calendar_for(complaints[2].clinic).zone
    assert (
        datetime.fromisoformat(done["completed_at"]).utcoffset() == datetime.now(zone).utcoffset()
    )
    due = lines[moved]["tasks"][kind]["due"]
    assert abs(datetime.fromisoformat(due["theirs"]) - new_due) < timedelta(milliseconds=1)
    assert datetime.fromisoformat(due["ours"]) == planned_due.due_at
    assert lines[moved]["tasks"][kind]["completed"] is None
    # Two searches (tickets, tasks), whatever the number of complaints; the owner directory
    # was read by the sync's discovery.
    assert report.requests == 2
    # No patient data: the lines carry ids, stages, staff e-mails and times only.
    text = json.dumps(report.lines, ensure_ascii=False)
    for complaint in complaints:
        assert complaint.customer is not None
        assert complaint.customer.name not in text
        assert str(complaint.customer.email) not in text
        assert complaint.description not in text
    # The completed task is stored for alerts and the plan view.
    assert set(completed_in_crm(store.engine, store.namespace)) == {(completed, "initial_response")}

    # Reconcile's JSON carries the same lines (changes since the last sync).
    reconciled = reconcile(complaints, adapter=adapter, store=store)
    assert reconciled.crm_changes == report.lines
    assert json.loads(render_json(reconciled))["crm_changes"] == report.lines

    # Without --since the next pull starts where this one did (less the search lag).
    again = pull(complaints, adapter=adapter, store=store, policy=policy)
    assert again.since == report.started_at - timedelta(minutes=1)
    assert [line["complaint_id"] for line in again.lines] == list(lines)


def test_ack_quiets_a_status_move_until_the_crm_stage_changes_again(
    emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    now = datetime.now(UTC)
    complaints = _complaints(4, "ACK", now - timedelta(days=20), status="closed")
    adapter = make_adapter(emulator)
    adapter.setup()
    sync(complaints, adapter=adapter, store=store, policy=Policy(), retry=RetryPolicy.no_wait())
    reopened = complaints[1].id
    ticket = _ticket(emulator, reopened)
    emulator.portal.update("tickets", ticket.id, {"hs_pipeline_stage": "3"})  # Waiting on us

    def moves() -> list[tuple[str, str | None]]:
        report = reconcile(complaints, adapter=adapter, store=store, now=now)
        return [(f.complaint_id, f.theirs) for f in report.of(FindingKind.STATUS_MOVED)]

    assert moves() == [(reopened, "Waiting on us")]
    acked = acknowledge([reopened, "ACK-NOPE"], adapter=adapter, store=store)
    assert [(a.complaint_id, a.stage, a.closed) for a in acked.acked] == [
        (reopened, "Waiting on us", False)
    ]
    assert acked.unknown == ["ACK-NOPE"]
    assert acked.requests <= 2  # one batch read of tickets, one of their tasks
    assert moves() == []
    assert [a.complaint_id for a in list_acks(store.engine, store.namespace, "hubspot")] == [
        reopened
    ]

    emulator.portal.update("tickets", ticket.id, {"hs_pipeline_stage": "1"})  # New
    assert moves() == [(reopened, "New")]


def test_alerts_skip_a_task_completed_in_the_crm(
    emulator: HubSpotEmulator, store: SqlStateStore
) -> None:
    received = datetime.fromisoformat("2026-11-18T10:00:00+09:00")  # a Wednesday morning
    complaints = [
        c for c in _complaints(8, "ALR", received) if c.clinic == "tokyo-ginza"
    ]  # two complaints, same clinic and plan
    policy = Policy()
    adapter = make_adapter(emulator)
    adapter.setup()
    sync(complaints, adapter=adapter, store=store, policy=policy, retry=RetryPolicy.no_wait())
    done, still_open = complaints[0].id, complaints[1].id
    since = datetime.now(UTC) - timedelta(seconds=1)
    emulator.portal.update(
        "tasks", _task(emulator, done, "initial_response").id, {"hs_task_status": "COMPLETED"}
    )
    pull(complaints, adapter=adapter, store=store, policy=policy, since=since)

    late = received + timedelta(hours=5)  # the first response is overdue for both
    report = run_alerts(
        complaints,
        policy=policy,
        config=AlertsConfig(),
        store=store,
        notifier=None,
        now=late,
        dry_run=True,
    )
    outcomes = {
        (a.complaint_id, a.level.value): a.outcome
        for a in report.alerts
        if a.task == "initial_response"
    }
    assert outcomes[(done, "overdue")] is Outcome.DONE_IN_CRM
    assert outcomes[(still_open, "overdue")] is not Outcome.DONE_IN_CRM
    assert report.remote_reads == 0  # no CRM call: the completion was stored by the pull


def test_pull_through_the_webhook_adapter_compares_everything_it_holds(
    webhook_secret: str, store: SqlStateStore
) -> None:
    """A receiver that does not say when it changed something: every record counts as changed
    (the base adapter's default), and only real differences make lines."""
    policy = Policy()
    complaints = _complaints(5, "WHP", datetime.now(UTC) - timedelta(minutes=10))
    with running_receiver(webhook_secret) as receiver:
        config = WebhookConfig(url=receiver.url, state_url=receiver.state_url)
        with WebhookAdapter(config) as adapter:
            sync(complaints, adapter=adapter, store=store, retry=RetryPolicy.no_wait())
            held = receiver.state.complaints
            closed, done = complaints[0].id, complaints[3].id
            held[closed]["complaint"] = {**held[closed]["complaint"], "status": "closed"}
            tasks = [dict(t) for t in held[done]["plan"]["tasks"]]
            tasks[0]["completed"] = True
            held[done]["plan"] = {**held[done]["plan"], "tasks": tasks}
            since = datetime.now(UTC) - timedelta(hours=1)
            report = pull(complaints, adapter=adapter, store=store, policy=policy, since=since)
    lines = {line["complaint_id"]: line for line in report.lines}
    assert sorted(lines) == [closed, done]
    assert lines[closed]["stage"] == {
        "ours": "received",
        "theirs": "closed",
        "closed": True,
        "moved": "closed",
    }
    assert lines[done]["tasks"] == {
        tasks[0]["kind"]: {"completed": True, "completed_at": None, "due": None}
    }
    assert set(completed_in_crm(store.engine, store.namespace, adapter="webhook")) == {
        (done, tasks[0]["kind"])
    }
