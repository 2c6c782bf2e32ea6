"""Hostile review of issue 16, part 6: the webhook's ``data.changed_fields`` against a real
loopback receiver: exactly what changed between revisions, and every field on a first delivery."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crm_complaints.adapters.webhook import WebhookAdapter, WebhookConfig
from crm_complaints.config import DEFAULT_ALLOWED_FIELDS
from crm_complaints.receiver import WebhookReceiver, running_receiver
from crm_complaints.retry import RetryPolicy
from crm_complaints.schema import Complaint
from crm_complaints.state import SqlStateStore
from crm_complaints.sync import sync
from tests.conftest import edited, realistic_complaints


@pytest.fixture
def receiver(webhook_secret: str) -> Iterator[WebhookReceiver]:
    with running_receiver(webhook_secret) as server:
        yield server


def deliver(
    receiver: WebhookReceiver,
    store: SqlStateStore,
    revisions: list[Complaint],
    allowed: tuple[str, ...] = DEFAULT_ALLOWED_FIELDS,
) -> list[dict[str, Any]]:
    """Sync each revision in turn; the events the receiver accepted for the complaint."""
    config = WebhookConfig.model_validate({"url": receiver.url})
    with WebhookAdapter(config, allowed_fields=allowed) as adapter:
        for revision in revisions:
            summary = sync([revision], adapter=adapter, store=store, retry=RetryPolicy.no_wait())
            assert summary.exit_code == 0
    ids = receiver.state.events_per_complaint[revisions[0].id]
    return [receiver.state.accepted[i]["data"] for i in ids]


def test_review16_webhook_first_delivery_lists_every_field_as_changed(
    receiver: WebhookReceiver, store: SqlStateStore
) -> None:
    """complaint.created: expected data.changed_fields to name every field it carries (each
    complaint field and plan.<field>: all are new to the receiver); actual: no changed_fields
    at all. (tests/e2e/test_webhook_changed_fields.py asserts the absence: the lead decides.)"""
    (complaint,) = realistic_complaints(1, "WHF")

    (created,) = deliver(receiver, store, [complaint])

    carried = set(created["complaint"]) | {f"plan.{name}" for name in created["plan"]}
    assert sorted(created.get("changed_fields") or []) == sorted(carried)


def test_review16_webhook_changed_fields_name_only_what_the_receiver_can_see(
    receiver: WebhookReceiver, store: SqlStateStore
) -> None:
    """An allowlisted description removed is named; a change to a field outside the allowlist
    (the customer's phone) is never named, so the event does not hint at hidden data."""
    (complaint,) = realistic_complaints(1, "WHV")
    assert complaint.customer is not None
    allowed = (*DEFAULT_ALLOWED_FIELDS, "description")
    customer = {**complaint.customer.model_dump(mode="json"), "phone": "+81-90-0000-0000"}
    removed = edited(complaint, description=None, customer=customer)

    created, updated = deliver(receiver, store, [complaint, removed], allowed)

    assert "description" in created["complaint"] and "description" not in updated["complaint"]
    assert updated["changed_fields"] == ["description"]
