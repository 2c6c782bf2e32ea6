"""Reconciliation through the generic webhook adapter (reads the receiver's state URL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm_complaints.adapters.webhook import WebhookAdapter, WebhookConfig
from crm_complaints.receiver import running_receiver
from crm_complaints.reconcile import FindingKind, reconcile
from crm_complaints.retry import RetryPolicy
from crm_complaints.state import SqlStateStore
from crm_complaints.sync import sync
from tests.conftest import edited, realistic_complaints


def test_webhook_reconcile_finds_missing_orphaned_drifted_and_overdue(
    webhook_secret: str, store: SqlStateStore
) -> None:
    now = datetime.now(UTC)
    complaints = [
        edited(c, received_at=(now - timedelta(hours=3 if i == 0 else 0, minutes=5)).isoformat())
        for i, c in enumerate(realistic_complaints(8, prefix="WHR"))
    ]
    with running_receiver(webhook_secret) as receiver:
        config = WebhookConfig(url=receiver.url, state_url=receiver.state_url)
        with WebhookAdapter(config) as adapter:
            sync(complaints, adapter=adapter, store=store, retry=RetryPolicy.no_wait())
            held = receiver.state.complaints
            held.pop("WHR-0003")  # lost by the receiver
            held["WHR-0005"]["plan"] = {**held["WHR-0005"]["plan"], "priority": "LOW"}
            held["GHOST"] = {**held["WHR-0006"], "complaint_id": "GHOST"}
            report = reconcile(complaints, adapter=adapter, store=store, now=now)
            # A receiver only loses records (no one deletes them on purpose): missing, and
            # repair sends it again (HubSpot's deletions are left alone instead).
            assert {f.complaint_id for f in report.of(FindingKind.MISSING)} == {"WHR-0003"}
            assert report.of(FindingKind.DELETED_IN_CRM) == []
            assert {f.complaint_id for f in report.of(FindingKind.ORPHANED)} == {"GHOST"}
            drift = report.of(FindingKind.DRIFTED)
            assert [(f.complaint_id, f.field, f.theirs) for f in drift] == [
                ("WHR-0005", "priority", "LOW")
            ]
            overdue = report.of(FindingKind.OVERDUE)
            assert {f.complaint_id for f in overdue} == {"WHR-0000"}
            assert overdue[0].field == "initial_response"  # first responses first

            repaired = reconcile(complaints, adapter=adapter, store=store, now=now, repair=True)
            assert repaired.repair is not None and repaired.repair.failed == 0
            assert "WHR-0003" in receiver.state.complaints  # delivered again
            after = reconcile(complaints, adapter=adapter, store=store, now=now)
            assert after.counts()["missing"] == 0 and after.counts()["drifted"] == 0
