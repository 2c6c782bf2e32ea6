"""Hostile review 5 of the audit trail's row per remote write (issue 15): what a clinic's
inspector reads with ``history`` after a write whose answer was lost and retried within the
run, a webhook delivery retried, ``audit prune`` over rows that name their object, and that no
row carries personal data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import responses
import sqlalchemy as sa

from crm_complaints.adapters.hubspot import HubSpotAdapter
from crm_complaints.adapters.webhook import WebhookAdapter, WebhookConfig
from crm_complaints.audit import AuditEntry, append, audit_log, history, prune, verify
from crm_complaints.emulator import HubSpotEmulator
from crm_complaints.policy import Policy
from crm_complaints.retry import RetryPolicy
from crm_complaints.state import SqlStateStore
from crm_complaints.sync import sync
from tests.conftest import edited
from tests.staff_support import answer_lost_on, opened_adapter, recent, run, tasks, ticket

URL = "https://crm.example.org/hooks/complaints"


@pytest.fixture
def adapter(emulator: HubSpotEmulator) -> Iterator[HubSpotAdapter]:
    yield from opened_adapter(emulator, contacts=True)


def _dump(store: SqlStateStore) -> str:
    with store.engine.connect() as conn:
        rows = [list(r) for r in conn.execute(sa.select(audit_log))]
    return json.dumps(rows, default=str, ensure_ascii=False)


def test_review5_audit_a_lost_task_create_retried_in_the_run_leaves_one_row_per_write(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """The tasks' create reaches HubSpot but its answer is lost; the retry in the same run
    finds them by key. HubSpot holds one task per kind (no duplicate), the complaint ends
    synced, and the trail has no two synced rows for one object: one row per write."""
    complaint = recent()
    applied = answer_lost_on(adapter, "create tasks", times=1)
    summary = run(adapter, store, [complaint])
    assert applied == [1] and summary.counts()["created"] == 1
    assert len(emulator.portal.live("tasks")) == len(tasks(emulator)) == 6
    rows = history(store.engine, complaint.id)
    synced = [(r.operation, r.object, tuple(sorted(r.remote_ids.items()))) for r in rows
              if r.outcome == "synced"]  # fmt: skip
    assert len(synced) == len(set(synced))
    for kind, task in tasks(emulator).items():
        named = [r for r in rows if r.object == f"task:{kind}" and r.outcome == "synced"]
        assert [r.remote_ids[f"task:{kind}"] for r in named] == [task.id]
    assert [r.outcome for r in rows if r.object == "complaint"] == ["retry"]
    assert all(r.ok for r in verify(store.engine))


@responses.activate
def test_review5_audit_a_webhook_delivery_retried_then_updated(
    webhook_secret: str, store: SqlStateStore
) -> None:
    """A webhook complaint: the first delivery answers 503 (a ``complaint`` row, retry), the
    retry is delivered (one ``create event`` row, synced); a new revision is one ``update
    event`` row with its own delivery id. Nothing personal in any row."""
    responses.post(URL, status=503)
    responses.post(URL, status=204)
    responses.post(URL, status=204)
    hook = WebhookAdapter(WebhookConfig(url=URL))
    complaint = recent("HOOK-1")
    retry = RetryPolicy.no_wait(max_attempts=3)
    sync([complaint], adapter=hook, store=store, policy=Policy(), retry=retry)
    sync([edited(complaint, summary="折り返し済み")], adapter=hook, store=store,
         policy=Policy(), retry=retry)  # fmt: skip
    rows = history(store.engine, "HOOK-1")
    assert [(r.revision, r.operation, r.object, r.outcome) for r in rows] == [
        (1, "create", "complaint", "retry"),
        (1, "create", "event", "synced"),
        (2, "update", "event", "synced"),
    ]
    sent = [c.request.headers["webhook-id"] for c in responses.calls]
    assert rows[1].remote_ids == {"delivery": sent[1]}
    assert rows[2].remote_ids == {"delivery": sent[2]} and sent[2] != sent[1]
    dump = _dump(store)
    assert complaint.customer is not None
    for value in (complaint.summary, complaint.description, complaint.customer.email,
                  complaint.customer.name, complaint.customer.phone, "折り返し済み"):  # fmt: skip
        assert value and value not in dump
    assert all(r.ok for r in verify(store.engine))


def test_review5_audit_rows_carry_no_personal_data_through_create_update_delete_recreate(
    emulator: HubSpotEmulator, adapter: HubSpotAdapter, store: SqlStateStore
) -> None:
    """Contacts on, a complaint created, edited (new summary and description), its ticket
    deleted by staff and recreated by repair: no row anywhere holds the customer's e-mail,
    phone (or its digits), name, the reporter's name, a summary or a description."""
    from crm_complaints.reconcile import reconcile

    complaint = recent()
    run(adapter, store, [complaint])
    second = edited(complaint, summary="再度の連絡", description="再来院の予約。電話 03-5555-0101")
    run(adapter, store, [second])
    emulator.portal.archive("tickets", ticket(emulator).id)
    reconcile([second], adapter=adapter, store=store, repair=True, recreate_deleted=True)
    dump = _dump(store)
    customer = complaint.customer
    assert customer is not None and customer.phone and complaint.reporter is not None
    digits = "".join(ch for ch in customer.phone if ch.isdigit())
    for value in (customer.email, customer.name, customer.phone, digits, complaint.reporter.name,
                  complaint.summary, complaint.description, second.summary, second.description,
                  "03-5555-0101"):  # fmt: skip
        assert value and value not in dump, value
    assert {r.trigger for r in history(store.engine, complaint.id)} == {"sync", "repair"}


def test_review5_audit_prune_over_rows_naming_objects_still_verifies_and_catches_edits(
    store: SqlStateStore,
) -> None:
    """Rows naming their objects (a complaint row, then ticket, task and link rows);
    ``audit prune`` cuts inside them: what remains verifies, and a remaining row whose
    object is changed is still caught."""
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    old = [AuditEntry("C-1", 1, "create", "retry", {}, 1, "sync", "complaint")]
    append(store.engine, "default", "hubspot", old, now=now - timedelta(days=500))
    named = [
        AuditEntry("C-1", 2, "update", "synced", {"ticket": "1"}, 2, "sync", "ticket"),
        AuditEntry(
            "C-1",
            2,
            "create",
            "synced",
            {"task:follow_up": "9", "ticket": "1"},
            2,
            "sync",
            "task:follow_up",
        ),
    ]
    append(store.engine, "default", "hubspot", named, now=now - timedelta(days=400))
    recent_rows = [
        AuditEntry(
            "C-1", 3, "update", "synced", {"task:follow_up": "9"}, 3, "sync", "task:follow_up"
        ),
        AuditEntry(
            "C-1", 3, "link", "synced", {"contact": "5", "ticket": "1"}, 3, "sync", "association"
        ),
    ]
    append(store.engine, "default", "hubspot", recent_rows, now=now - timedelta(days=10))
    assert prune(store.engine, 365, now=now) == 3
    (report,) = verify(store.engine)
    assert report.ok and report.rows == 2
    kept = history(store.engine, "C-1")
    assert [r.object for r in kept] == ["task:follow_up", "association"]
    with store.engine.begin() as conn:
        conn.execute(audit_log.update().where(audit_log.c.id == kept[1].id)
                     .values(object="ticket"))  # fmt: skip
    (broken,) = verify(store.engine)
    assert not broken.ok
