"""Webhook events carry the whole complaint and name what changed since the last delivery."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crm_complaints.adapters.webhook import WebhookAdapter, WebhookConfig
from crm_complaints.receiver import WebhookReceiver, running_receiver
from crm_complaints.retry import RetryPolicy
from crm_complaints.state import SqlStateStore
from crm_complaints.sync import sync
from tests.conftest import edited, realistic_complaints

NO_WAIT = RetryPolicy.no_wait()


@pytest.fixture
def receiver(webhook_secret: str) -> Iterator[WebhookReceiver]:
    with running_receiver(webhook_secret) as server:
        yield server


def events_of(receiver: WebhookReceiver, complaint_id: str) -> list[dict[str, object]]:
    ids = receiver.state.events_per_complaint[complaint_id]
    return [receiver.state.accepted[i] for i in ids]


def test_update_events_list_the_changed_fields(
    receiver: WebhookReceiver, store: SqlStateStore
) -> None:
    (complaint,) = realistic_complaints(1)
    config = WebhookConfig.model_validate({"url": receiver.url})
    with WebhookAdapter(config) as adapter:
        sync([complaint], adapter=adapter, store=store, retry=NO_WAIT)
        sync([edited(complaint, category="product")], adapter=adapter, store=store, retry=NO_WAIT)
        sync(
            [edited(complaint, category="product", status="investigating")],
            adapter=adapter,
            store=store,
            retry=NO_WAIT,
        )
    created, first, second = events_of(receiver, complaint.id)
    assert "category" in created["data"]["changed_fields"]  # type: ignore[index]  # all new
    changed = first["data"]["changed_fields"]  # type: ignore[index]
    assert "category" in changed and "status" not in changed
    assert set(changed) <= {"category"} | {n for n in changed if n.startswith("plan.")}
    assert "plan.primary_department" in changed or "plan.tasks" in changed  # the plan follows
    assert "status" in second["data"]["changed_fields"]  # type: ignore[index]
    assert "category" not in second["data"]["changed_fields"]  # type: ignore[index]
    # The whole complaint is still there.
    assert second["data"]["complaint"]["category"] == "product"  # type: ignore[index]
