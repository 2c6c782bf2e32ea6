"""Every new revision reaches a de-duplicating receiver, even one equal to an earlier content;
a refused record is tried again once the adapter's settings change, or on request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from crm_complaints.adapters.webhook import WebhookAdapter, WebhookConfig
from crm_complaints.receiver import WebhookReceiver, running_receiver
from crm_complaints.retry import RetryPolicy
from crm_complaints.state import RecordState, SqlStateStore
from crm_complaints.sync import sync
from tests.conftest import edited, realistic_complaints

NO_WAIT = RetryPolicy.no_wait()


@pytest.fixture
def receiver(webhook_secret: str) -> Iterator[WebhookReceiver]:
    with running_receiver(webhook_secret) as server:
        yield server


def adapter_for(receiver: WebhookReceiver, **options: object) -> WebhookAdapter:
    config = WebhookConfig.model_validate({"url": receiver.url, **options})
    return WebhookAdapter(config)


def test_a_complaint_changed_back_is_delivered_again(
    receiver: WebhookReceiver, store: SqlStateStore
) -> None:
    original = realistic_complaints(30)
    changed = [edited(c, status="investigating") for c in original]
    with adapter_for(receiver) as adapter:
        for round_ in (original, changed, original):  # A → B → A
            summary = sync(round_, adapter=adapter, store=store, retry=NO_WAIT)
            assert summary.exit_code == 0
    held = receiver.state.complaints
    stale = [c.id for c in original if held[c.id]["complaint"]["status"] != "received"]
    assert stale == [], f"{len(stale)} of 30 complaints left at the reverted-from content"
    assert receiver.state.duplicates == 0
    records = store.get_many("webhook", [c.id for c in original])
    assert {r.revision for r in records.values()} == {3}


def test_a_retry_of_one_revision_keeps_its_event_id(store: SqlStateStore) -> None:
    assert store.mark_pending("webhook", {"C-1": "v1"}) == {"C-1": 1}
    assert store.mark_pending("webhook", {"C-1": "v1"}) == {"C-1": 1}  # rerun after a crash
    assert store.mark_pending("webhook", {"C-1": "v2"}) == {"C-1": 2}
    assert store.mark_pending("webhook", {"C-1": "v1"}) == {"C-1": 3}


def test_events_carry_a_timestamp(receiver: WebhookReceiver, store: SqlStateStore) -> None:
    with adapter_for(receiver) as adapter:
        sync(realistic_complaints(1), adapter=adapter, store=store, retry=NO_WAIT)
    (event,) = receiver.state.accepted.values()
    assert datetime.fromisoformat(event["timestamp"]).tzinfo is not None


def test_a_refused_record_is_retried_when_settings_change_or_on_request(
    receiver: WebhookReceiver, store: SqlStateStore
) -> None:
    complaints = realistic_complaints(4)
    victim = complaints[2].id
    receiver.script[victim] = [422]
    with adapter_for(receiver) as adapter:
        first = sync(complaints, adapter=adapter, store=store, retry=NO_WAIT)
        again = sync(complaints, adapter=adapter, store=store, retry=NO_WAIT)
    assert (first.created, first.quarantined) == (3, 1)
    assert (again.quarantined, again.remote_calls) == (1, 0)  # the same refusal: no hammering
    receiver.script[victim] = [422]
    with adapter_for(receiver) as adapter:
        asked = sync(
            complaints, adapter=adapter, store=store, retry=NO_WAIT, retry_quarantined=True
        )
    assert (asked.quarantined, asked.remote_calls) == (1, 1)  # tried again, refused again
    with adapter_for(receiver, timeout_seconds=20) as fixed:  # the admin changed the settings
        after_fix = sync(complaints, adapter=fixed, store=store, retry=NO_WAIT)
    assert (after_fix.created, after_fix.remote_calls, after_fix.exit_code) == (1, 1, 0)
    assert store.get_many("webhook", [victim])[victim].state is RecordState.SYNCED
